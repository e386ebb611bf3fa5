"""Test helper: log-probabilities of the next token at every position of a token sequence, from the
PyTorch base model with and without a PEFT adapter. local-trainer.test.ts compares them with llama.cpp
running the exported GGUF adapter, which checks the export (names, orientation, scale, q/k permutation)
number by number rather than by behaviour alone.

usage: python tests/peft_logprobs.py --base HF_DIR --adapter PEFT_DIR --ids ids.json --out PREFIX
writes PREFIX.adapted.f32 and PREFIX.base.f32 (float32, positions × vocabulary, row-major).
"""

import argparse
import json

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--adapter", required=True)
    p.add_argument("--ids", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    ids = torch.tensor([json.load(open(a.ids, encoding="utf-8"))])
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(a.base, dtype=torch.float32), a.adapter)
    model.eval()
    with torch.no_grad():
        torch.log_softmax(model(ids).logits[0], -1).numpy().tofile(f"{a.out}.adapted.f32")
        with model.disable_adapter():
            torch.log_softmax(model(ids).logits[0], -1).numpy().tofile(f"{a.out}.base.f32")


if __name__ == "__main__":
    main()
