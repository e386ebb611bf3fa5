"""The reranker's training inputs have exactly the layout llama.cpp's ranking evaluation feeds."""

import os
import unittest
from pathlib import Path

from attune_trainer.reranker import Encoder

MINILM = Path(os.environ.get("ATTUNE_HOME", Path.home() / ".cache" / "attune")) / "models" / "all-minilm-l6-v2"


class EncoderTest(unittest.TestCase):
    def setUp(self):
        if not (MINILM / "tokenizer.json").exists():
            raise unittest.SkipTest(f"no MiniLM tokenizer in {MINILM}")
        self.enc = Encoder(MINILM / "tokenizer.json", max_length=16)

    def test_cls_query_sep_document_with_no_trailing_sep_and_no_padding_inside(self):
        ids, mask = self.enc.pairs("Where is Normandy?", ["Normandy is in France.", "No."])
        q = self.enc.ids("Where is Normandy?")
        first = ids[0][: int(mask[0].sum())].tolist()
        self.assertEqual(first, [self.enc.cls, *q, self.enc.sep, *self.enc.ids("Normandy is in France.")])
        self.assertNotEqual(first[-1], self.enc.sep)
        # The shorter pair is padded with zeros after its end, and the mask says so.
        second = int(mask[1].sum())
        self.assertEqual(ids[1][second:].tolist(), [0] * (ids.shape[1] - second))

    def test_long_documents_are_cut_to_the_window_and_long_queries_to_half_of_it(self):
        ids, mask = self.enc.pairs("word " * 40, ["text " * 100])
        self.assertEqual(int(mask[0].sum()), 16)
        self.assertEqual(ids[0][0].item(), self.enc.cls)
        self.assertEqual(ids[0][9].item(), self.enc.sep)  # [CLS] + 8 query tokens, then [SEP]


if __name__ == "__main__":
    unittest.main()
