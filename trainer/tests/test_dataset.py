"""Loss mask: only assistant tokens (and their end-of-turn marker) carry labels."""

import json
import os
import tempfile
import unittest
from pathlib import Path

from attune_trainer.dataset import IGNORE, read_chat_jsonl, tokenize_all, tokenize_example
from attune_trainer.errors import TrainerError

# The dequantised SmolLM2 copy the worker caches; the TypeScript test trains once before running these.
CACHE = Path(os.environ.get("ATTUNE_HOME", Path.home() / ".cache" / "attune")) / "trainer-cache"


def _tokenizer():
    from transformers import AutoTokenizer

    found = sorted(CACHE.glob("SmolLM2-135M-Instruct*/.complete")) if CACHE.exists() else []
    if not found:
        raise unittest.SkipTest(f"no dequantised SmolLM2 in {CACHE}")
    return AutoTokenizer.from_pretrained(found[0].parent)


class MaskTest(unittest.TestCase):
    def test_labels_cover_exactly_the_assistant_turns(self):
        tok = _tokenizer()
        messages = [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Capital of France?"},
            {"role": "assistant", "content": "Paris."},
            {"role": "user", "content": "And Spain?"},
            {"role": "assistant", "content": "Madrid."},
        ]
        example = tokenize_example(tok, "t:1", messages)
        learned = tok.decode([t for t, label in zip(example.input_ids, example.labels) if label != IGNORE])
        self.assertEqual(learned, "Paris.<|im_end|>\nMadrid.<|im_end|>\n")
        # Same ids as the template's own tokenisation: rendering then tokenising adds or drops nothing.
        expected = tok.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]
        self.assertEqual(example.input_ids, list(expected))

    def test_too_long_examples_are_named_by_line(self):
        tok = _tokenizer()
        rows = [("data.jsonl:3", [{"role": "user", "content": "hi " * 50}, {"role": "assistant", "content": "ok"}])]
        with self.assertRaisesRegex(TrainerError, r"maxSeqLength 16: data.jsonl:3 \(\d+ tokens\)"):
            tokenize_all(tok, rows, 16)


class ReadTest(unittest.TestCase):
    def test_malformed_lines_are_named(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "d.jsonl"
            path.write_text(json.dumps({"messages": [{"role": "user", "content": "q"}]}) + "\n")
            with self.assertRaisesRegex(TrainerError, "d.jsonl:1: no assistant message"):
                read_chat_jsonl(str(path))
            path.write_text('{"messages": [{"role": "robot", "content": "q"}]}\n')
            with self.assertRaisesRegex(TrainerError, r"d.jsonl:1: messages\[0\]"):
                read_chat_jsonl(str(path))


if __name__ == "__main__":
    unittest.main()
