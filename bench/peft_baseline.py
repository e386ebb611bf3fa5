"""A plain PEFT training loop: the yardstick for Attune's worker in bench/training.ts.

Same model directory, data, LoRA settings, batch size, padding and thread count as the worker, and
nothing else: no events, no eval, no checkpoints, no loss mask bookkeeping. Prints one JSON line:
{"tokens", "seconds", "tokensPerSecond", "steps"} for the training loop alone (model load excluded,
as the worker's own tokensPerSecond excludes it).
"""

import argparse
import json
import math
import os
import sys
import time

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True, help="Hugging Face model directory")
    p.add_argument("--data", required=True, help="chat JSONL")
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--alpha", type=float, default=16)
    p.add_argument("--dropout", type=float, default=0.05)
    p.add_argument("--targets", default="q_proj,k_proj,v_proj,o_proj")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args()

    torch.set_num_threads(a.threads or os.cpu_count() or 1)
    torch.manual_seed(a.seed)
    tok = AutoTokenizer.from_pretrained(a.base)
    model = AutoModelForCausalLM.from_pretrained(a.base, dtype=torch.float32)
    model.config.use_cache = False
    model = get_peft_model(
        model,
        LoraConfig(r=a.rank, lora_alpha=a.alpha, lora_dropout=a.dropout,
                   target_modules=a.targets.split(","), task_type="CAUSAL_LM"),
    )
    with open(a.data, encoding="utf-8") as f:
        rows = [json.loads(line)["messages"] for line in f if line.strip()]
    examples = [tok(tok.apply_chat_template(m, tokenize=False), add_special_tokens=False)["input_ids"] for m in rows]
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=0.0)

    tokens, seconds, steps = 0, 0.0, 0
    model.train()
    for epoch in range(a.epochs):
        order = torch.randperm(len(examples), generator=torch.Generator().manual_seed(a.seed * 1000 + epoch)).tolist()
        for b in range(0, len(order), a.batch_size):
            t0 = time.monotonic()  # batch assembly through optimizer step, as the worker times a step
            batch = [examples[i] for i in order[b : b + a.batch_size]]
            width = max(len(e) for e in batch)
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for r, e in enumerate(batch):
                ids[r, : len(e)] = torch.tensor(e)
                mask[r, : len(e)] = 1
            labels = ids.masked_fill(mask == 0, -100)
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            seconds += time.monotonic() - t0
            tokens += int(mask.sum())
            steps += 1
            if not math.isfinite(float(loss)):
                sys.exit("loss diverged")
    print(json.dumps({"tokens": tokens, "seconds": seconds, "tokensPerSecond": tokens / seconds, "steps": steps}))


if __name__ == "__main__":
    main()
