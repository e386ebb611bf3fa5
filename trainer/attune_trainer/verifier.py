"""Trains the answerability verifier: a BERT cross-encoder that scores whether evidence answers a question.

The pairs come from bench/train-verifier.ts: each question of squad2-dev's training articles with the
evidence sentences Attune's answer path would show the chat model, labelled 1 when a gold answer is
in them and 0 otherwise (unanswerable questions, evidence without the answer). One logit, trained with
binary cross-entropy; inputs laid out as llama.cpp's ranking evaluation feeds them ([CLS] question
[SEP] evidence, token types 0), so the GGUF export (rank pooling) scores what was trained, and
node-llama-cpp's sigmoid of that logit is the probability the gate compares with its threshold.

    python -m attune_trainer.verifier --model DIR --pairs pairs.jsonl --out DIR [--init-gguf reranker.gguf]
        [--epochs 3] [--device cuda]

Writes model.safetensors (F32), config.json and metrics.json (held-out article's accuracy and AUC).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from attune_trainer.reranker import Encoder, adamw_with_warmup, cross_encoder_from_embedding_model, read_jsonl


def auc(scores: list[float], labels: list[int]) -> float:
    """Probability that a positive outscores a negative (ties count half)."""
    pos = [s for s, y in zip(scores, labels) if y == 1]
    neg = [s for s, y in zip(scores, labels) if y == 0]
    if not pos or not neg:
        return float("nan")
    ranked = sorted([(s, y) for s, y in zip(scores, labels)])
    rank_sum = 0.0
    i = 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        mid = (i + j + 1) / 2  # 1-based average rank of the tie block
        rank_sum += mid * sum(1 for k in range(i, j) if ranked[k][1] == 1)
        i = j
    return (rank_sum - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


# llama.cpp's BERT tensor names (src/models/bert-gguf.ts writes them) back to Hugging Face's.
_LAYER_PARTS = {
    "attn_q": "attention.self.query",
    "attn_k": "attention.self.key",
    "attn_v": "attention.self.value",
    "attn_output": "attention.output.dense",
    "attn_output_norm": "attention.output.LayerNorm",
    "ffn_up": "intermediate.dense",
    "ffn_down": "output.dense",
    "layer_output_norm": "output.LayerNorm",
}
_FIXED = {
    "token_embd.weight": "bert.embeddings.word_embeddings.weight",
    "token_types.weight": "bert.embeddings.token_type_embeddings.weight",
    "position_embd.weight": "bert.embeddings.position_embeddings.weight",
    "token_embd_norm.weight": "bert.embeddings.LayerNorm.weight",
    "token_embd_norm.bias": "bert.embeddings.LayerNorm.bias",
    "cls.weight": "bert.pooler.dense.weight",
    "cls.bias": "bert.pooler.dense.bias",
    "cls.output.weight": "classifier.weight",
    "cls.output.bias": "classifier.bias",
}


def hf_name(gguf_name: str) -> str | None:
    if gguf_name in _FIXED:
        return _FIXED[gguf_name]
    parts = gguf_name.split(".")
    if len(parts) == 4 and parts[0] == "blk" and parts[2] in _LAYER_PARTS:
        return f"bert.encoder.layer.{parts[1]}.{_LAYER_PARTS[parts[2]]}.{parts[3]}"
    return None


def state_from_gguf(path: Path, shapes: dict[str, torch.Size]) -> dict[str, torch.Tensor]:
    """A cross-encoder GGUF (e.g. Attune's reranker, Q8_0) as a BertForSequenceClassification state."""
    from gguf import GGUFReader
    from gguf.quants import dequantize

    state = {}
    for t in GGUFReader(str(path)).tensors:
        name = hf_name(t.name)
        if name is None or name not in shapes:
            continue
        values = dequantize(t.data, t.tensor_type)
        state[name] = torch.from_numpy(values.astype("float32").reshape(tuple(shapes[name]))).clone()
    return state


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, required=True, help="all-MiniLM-L6-v2 folder (safetensors, config)")
    ap.add_argument("--pairs", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--max-length", type=int, default=192)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    ap.add_argument("--init-gguf", type=Path, help="start from this cross-encoder GGUF instead of --model's weights")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    started = time.time()

    pairs = read_jsonl(args.pairs)
    articles = list(dict.fromkeys(p["article"] for p in pairs))
    # The last article's pairs are held out to check the verifier as it trains.
    held_article = articles[-1] if len(articles) > 1 else None
    held = [p for p in pairs if p["article"] == held_article]
    train = [p for p in pairs if p["article"] != held_article]
    positives = sum(p["label"] for p in train)
    print(f"{len(train)} training pairs ({positives} positive), {len(held)} held out ({held_article})", flush=True)

    config, model = cross_encoder_from_embedding_model(args.model)
    if args.init_gguf:
        # From a cross-encoder that already reads question and text together (the reranker):
        # what is left to learn is whether the text answers, not whether it is on the subject.
        shapes = {k: v.shape for k, v in model.state_dict().items()}
        missing, unexpected = model.load_state_dict(state_from_gguf(args.init_gguf, shapes), strict=False)
        assert not [m for m in missing if m != "bert.embeddings.position_ids"], missing
        assert not unexpected, unexpected
    model.to(args.device)
    enc = Encoder(args.model / "tokenizer.json", args.max_length)
    # Positives are the minority; weighting them keeps the logit's 0 near balanced accuracy.
    pos_weight = torch.tensor((len(train) - positives) / max(1, positives), device=args.device)

    def batches(items: list[dict], size: int):
        for b in range(0, len(items), size):
            chunk = items[b : b + size]
            rows_ids, rows_mask = [], []
            for p in chunk:
                ids, mask = enc.pairs(p["question"], [p["evidence"]])
                rows_ids.append(ids[0])
                rows_mask.append(mask[0])
            width = max(len(r) for r in rows_ids)
            ids = torch.stack([F.pad(r, (0, width - len(r))) for r in rows_ids]).to(args.device)
            mask = torch.stack([F.pad(r, (0, width - len(r))) for r in rows_mask]).to(args.device)
            labels = torch.tensor([float(p["label"]) for p in chunk], device=args.device)
            yield ids, mask, labels

    def logits(ids, mask):
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=args.device == "cuda"):
            out = model(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).logits
        return out.float()[:, 0]

    def evaluate() -> dict:
        if not held:
            return {}
        model.eval()
        scores: list[float] = []
        with torch.no_grad():
            for ids, mask, _ in batches(held, 64):
                scores.extend(torch.sigmoid(logits(ids, mask)).tolist())
        model.train()
        labels = [p["label"] for p in held]
        right = sum(int((s >= 0.5) == (y == 1)) for s, y in zip(scores, labels))
        return {"heldOutAccuracy": round(right / len(held), 4), "heldOutAuc": round(auc(scores, labels), 4)}

    before = evaluate()
    print(f"before training: {before}", flush=True)
    steps = args.epochs * math.ceil(len(train) / args.batch)
    optimizer, scheduler = adamw_with_warmup(model, args.lr, steps)
    model.train()
    step = 0
    losses: list[float] = []
    tokens = 0
    per_epoch = []
    for epoch in range(args.epochs):
        # Similar lengths together: less padding per batch, the order within each bucket shuffled.
        order = train[:]
        random.shuffle(order)
        buckets = [sorted(order[i : i + args.batch * 20], key=lambda p: len(p["evidence"]))
                   for i in range(0, len(order), args.batch * 20)]
        groups = [b[i : i + args.batch] for b in buckets for i in range(0, len(b), args.batch)]
        random.shuffle(groups)
        for group in groups:
            for ids, mask, labels in batches(group, len(group)):
                loss = F.binary_cross_entropy_with_logits(logits(ids, mask), labels, pos_weight=pos_weight)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                losses.append(loss.item())
                tokens += int(mask.sum().item())
                step += 1
                if step % 20 == 0 or step == steps:
                    rate = tokens / (time.time() - started)
                    print(f"step {step}/{steps} epoch {epoch + 1} loss {sum(losses[-20:]) / len(losses[-20:]):.4f}"
                          f" ({rate:.0f} tokens/s)", flush=True)
        per_epoch.append(evaluate())
        print(f"epoch {epoch + 1}: {per_epoch[-1]}", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()
             if k != "bert.embeddings.position_ids"}
    save_file(state, str(args.out / "model.safetensors"))
    config.save_pretrained(args.out)
    seconds = time.time() - started
    (args.out / "metrics.json").write_text(json.dumps({
        "startedFrom": str(args.init_gguf) if args.init_gguf else str(args.model),
        "trainPairs": len(train),
        "trainPositives": positives,
        "heldOutArticle": held_article,
        "heldOutPairs": len(held),
        "epochs": args.epochs,
        "steps": steps,
        "batch": args.batch,
        "lr": args.lr,
        "maxLength": args.max_length,
        "seed": args.seed,
        "objective": "binary cross-entropy on one logit, positives weighted by negatives/positives",
        "device": torch.cuda.get_device_name() if args.device == "cuda" else f"cpu ({torch.get_num_threads()} threads)",
        "torch": torch.__version__,
        "lossFirst20": round(sum(losses[:20]) / min(20, len(losses)), 4),
        "lossLast20": round(sum(losses[-20:]) / min(20, len(losses)), 4),
        "tokensPerSecond": round(tokens / seconds, 1),
        "before": before,
        "afterEachEpoch": per_epoch,
        "seconds": round(seconds, 1),
    }, indent=2))
    print(f"wrote {args.out} in {seconds:.0f} s", flush=True)


if __name__ == "__main__":
    main()
