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


class PackingTest(unittest.TestCase):
    """Packed rows must train exactly as the examples one by one: same loss, no attention across."""

    def test_packed_loss_equals_the_examples_loss_one_by_one(self):
        import torch
        from transformers import AutoModelForCausalLM

        from attune_trainer.dataset import collate, collate_packed, pack

        tok = _tokenizer()
        path = sorted(CACHE.glob("SmolLM2-135M-Instruct*/.complete"))[0].parent
        model = AutoModelForCausalLM.from_pretrained(path, torch_dtype=torch.float32)
        model.eval()
        # As the worker trains: without a KV cache, which is when transformers reads packed positions.
        model.config.use_cache = False
        rows = [
            ("t:1", [{"role": "user", "content": "Capital of France?"}, {"role": "assistant", "content": "Paris."}]),
            ("t:2", [{"role": "user", "content": "When is payday?"}, {"role": "assistant", "content": "The last working day."}]),
            ("t:3", [{"role": "user", "content": "Colour of the sky?"}, {"role": "assistant", "content": "Blue, mostly."}]),
        ]
        examples = tokenize_all(tok, rows, 512)
        packed = pack(examples, 512)
        self.assertEqual(len(packed), 1)
        self.assertEqual(sum(len(r.examples) for r in packed), 3)

        def summed(batch):
            labels = batch["labels"]
            n = int((labels[:, 1:] != IGNORE).sum())
            with torch.no_grad():
                return float(model(**batch).loss) * n, n

        separate = [summed(collate([e], tok.pad_token_id)) for e in examples]
        expected = sum(s for s, _ in separate) / sum(n for _, n in separate)
        batch = collate_packed(packed, tok.pad_token_id)
        batch.pop("real_tokens")
        total, n = summed(batch)
        self.assertAlmostEqual(total / n, expected, places=4)
        # The test can fail: without restarting positions the examples see each other.
        leaky = dict(batch)
        leaky["position_ids"] = torch.arange(batch["input_ids"].shape[1]).unsqueeze(0)
        leaked, _ = summed(leaky)
        self.assertNotAlmostEqual(leaked / n, expected, places=3)

    def test_pack_fills_rows_without_splitting_an_example(self):
        from attune_trainer.dataset import Example, pack

        examples = [Example(input_ids=[1] * n, labels=[1] * n, where=f"t:{n}") for n in (300, 250, 200, 60, 40)]
        rows = pack(examples, 512)
        self.assertTrue(all(r.length <= 512 for r in rows))
        self.assertEqual(sorted(len(e.input_ids) for r in rows for e in r.examples), [40, 60, 200, 250, 300])
        self.assertEqual(len(rows), 2)
