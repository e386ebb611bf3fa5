"""Trains a BERT cross-encoder reranker from a sentence-embedding checkpoint on an eval set's QA pairs.

No reranker weights can be fetched here (no Hugging Face hub; none ship on PyPI), so Attune trains
its own: all-MiniLM-L6-v2 with a one-logit head, listwise (one gold paragraph against hard
negatives mined with the starting model itself), on squad2-dev articles that no benchmark or test
of Attune evaluates on. Inputs are laid out exactly as llama.cpp's ranking evaluation feeds them
([CLS] query [SEP] document, all token types 0), so the GGUF export scores what was trained.

    python -m attune_trainer.reranker --model DIR --data DIR/squad2-dev --out DIR \
        [--articles-from Packet_switching] [--epochs 2] [--device cuda]

Writes model-0000N.safetensors shards (F16, under 16 MiB each), config.json and metrics.json.
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
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer
from transformers import BertConfig, BertForSequenceClassification


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def article(doc_id: str) -> str:
    return doc_id.split("#")[0]


class Encoder:
    """[CLS] query [SEP] document, truncated from the document's end; token types all 0."""

    def __init__(self, tokenizer_path: Path, max_length: int):
        self.tok = Tokenizer.from_file(str(tokenizer_path))
        self.tok.no_truncation()
        self.tok.no_padding()
        self.cls = self.tok.token_to_id("[CLS]")
        self.sep = self.tok.token_to_id("[SEP]")
        self.max_length = max_length

    def ids(self, text: str) -> list[int]:
        return self.tok.encode(text, add_special_tokens=False).ids

    def pairs(self, query: str, docs: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        q = self.ids(query)[: self.max_length // 2]
        rows = []
        for d in docs:
            room = self.max_length - len(q) - 2
            rows.append([self.cls, *q, self.sep, *self.ids(d)[:room]])
        width = max(len(r) for r in rows)
        ids = torch.zeros(len(rows), width, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = 1
        return ids, mask


def mean_pooled(model, ids, mask):
    out = model.bert(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids))
    hidden = out.last_hidden_state * mask.unsqueeze(-1)
    return F.normalize(hidden.sum(1) / mask.sum(1, keepdim=True), dim=-1)


def cross_encoder_from_embedding_model(model_dir: Path):
    """A one-logit BertForSequenceClassification on a sentence-embedding BERT's weights (new classifier)."""
    config = BertConfig.from_pretrained(model_dir)
    config.num_labels = 1
    config.architectures = ["BertForSequenceClassification"]
    model = BertForSequenceClassification(config)
    state = {f"bert.{k}": v.float() for k, v in load_file(model_dir / "model.safetensors").items()}
    state.pop("bert.embeddings.position_ids", None)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert set(missing) == {"classifier.weight", "classifier.bias"}, missing
    assert not unexpected, unexpected
    return config, model


def adamw_with_warmup(model, lr: float, steps: int):
    """AdamW (weight decay 0.01), linear warm-up over the first tenth of the steps, then linear decay."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warmup = max(1, steps // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (steps - s) / max(1, steps - warmup))
    )
    return optimizer, scheduler


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--articles-from", default="Packet_switching", help="train on this article and those after it")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--negatives", type=int, default=7)
    ap.add_argument("--batch", type=int, default=16, help="questions per step")
    ap.add_argument("--lr", type=float, default=4e-5)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    started = time.time()

    corpus = read_jsonl(args.data / "corpus.jsonl")
    articles = list(dict.fromkeys(article(d["id"]) for d in corpus))
    train_articles = set(articles[articles.index(args.articles_from) :])
    docs = [d for d in corpus if article(d["id"]) in train_articles]
    index = {d["id"]: i for i, d in enumerate(docs)}
    questions = [
        q for q in read_jsonl(args.data / "questions.jsonl") if q["answerable"] and q["gold_doc_ids"][0] in index
    ]
    # The last training article's questions are held out to check the reranker as it trains.
    held_article = sorted(train_articles, key=articles.index)[-1]
    held = [q for q in questions if article(q["gold_doc_ids"][0]) == held_article]
    train = [q for q in questions if article(q["gold_doc_ids"][0]) != held_article]
    print(f"{len(train_articles)} articles ({args.articles_from}..), {len(docs)} paragraphs, "
          f"{len(train)} training questions, {len(held)} held out ({held_article})", flush=True)

    config, model = cross_encoder_from_embedding_model(args.model)
    model.to(args.device)
    enc = Encoder(args.model / "tokenizer.json", args.max_length)

    # Hard negatives: the starting bi-encoder's nearest paragraphs to each question, gold excluded.
    model.eval()
    with torch.no_grad():
        doc_vecs = []
        for i in range(0, len(docs), 64):
            rows = [enc.ids(f"{d['title']}\n{d['text']}")[: args.max_length - 2] for d in docs[i : i + 64]]
            width = max(len(r) for r in rows) + 2
            ids = torch.zeros(len(rows), width, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for j, r in enumerate(rows):
                ids[j, : len(r) + 2] = torch.tensor([enc.cls, *r, enc.sep])
                mask[j, : len(r) + 2] = 1
            doc_vecs.append(mean_pooled(model, ids.to(args.device), mask.to(args.device)))
        doc_vecs = torch.cat(doc_vecs)

        def nearest(texts: list[str]) -> torch.Tensor:
            out = []
            for i in range(0, len(texts), 128):
                rows = [[enc.cls, *enc.ids(t)[:64], enc.sep] for t in texts[i : i + 128]]
                width = max(len(r) for r in rows)
                ids = torch.zeros(len(rows), width, dtype=torch.long)
                mask = torch.zeros_like(ids)
                for j, r in enumerate(rows):
                    ids[j, : len(r)] = torch.tensor(r)
                    mask[j, : len(r)] = 1
                q = mean_pooled(model, ids.to(args.device), mask.to(args.device))
                out.append((q @ doc_vecs.T).topk(args.negatives + 1, dim=1).indices.cpu())
            return torch.cat(out)

        train_near = nearest([q["question"] for q in train])
        held_near = nearest([q["question"] for q in held])

    def group(q: dict, near: torch.Tensor) -> list[int]:
        gold = index[q["gold_doc_ids"][0]]
        negatives = [int(i) for i in near if int(i) != gold][: args.negatives]
        return [gold, *negatives]

    def text(i: int) -> str:
        return f"{docs[i]['title']}\n{docs[i]['text']}"

    def evaluate() -> dict:
        """Among each held-out question's gold + hard negatives: how often the gold one ranks first."""
        model.eval()
        first_reranked = first_dense = 0
        with torch.no_grad():
            for q, near in zip(held, held_near):
                g = group(q, near)
                ids, mask = enc.pairs(q["question"], [text(i) for i in g])
                logits = model(input_ids=ids.to(args.device), attention_mask=mask.to(args.device),
                               token_type_ids=torch.zeros_like(ids).to(args.device)).logits[:, 0]
                first_reranked += int(logits.argmax().item() == 0)
                first_dense += int(int(near[0]) == g[0])
        model.train()
        return {"heldOutTop1Reranked": round(first_reranked / max(1, len(held)), 3),
                "heldOutTop1Dense": round(first_dense / max(1, len(held)), 3)}

    before = evaluate()
    print(f"before training: {before}", flush=True)
    steps = args.epochs * math.ceil(len(train) / args.batch)
    optimizer, scheduler = adamw_with_warmup(model, args.lr, steps)
    model.train()
    step = 0
    losses = []
    for epoch in range(args.epochs):
        order = list(range(len(train)))
        random.shuffle(order)
        for b in range(0, len(order), args.batch):
            batch = order[b : b + args.batch]
            all_ids, all_mask = [], []
            for i in batch:
                ids, mask = enc.pairs(train[i]["question"], [text(j) for j in group(train[i], train_near[i])])
                all_ids.append(ids)
                all_mask.append(mask)
            width = max(x.shape[1] for x in all_ids)
            ids = torch.cat([F.pad(x, (0, width - x.shape[1])) for x in all_ids]).to(args.device)
            mask = torch.cat([F.pad(x, (0, width - x.shape[1])) for x in all_mask]).to(args.device)
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=args.device == "cuda"):
                logits = model(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).logits
            scores = logits.float().view(len(batch), -1)
            loss = F.cross_entropy(scores, torch.zeros(len(batch), dtype=torch.long, device=args.device))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            losses.append(loss.item())
            step += 1
            if step % 20 == 0 or step == steps:
                print(f"step {step}/{steps} epoch {epoch + 1} loss {sum(losses[-20:]) / len(losses[-20:]):.4f}",
                      flush=True)
    after = evaluate()
    print(f"after training: {after}", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in model.state_dict().items()
             if k != "bert.embeddings.position_ids"}
    # Files come back from the GPU machine in pieces of at most 16 MiB, so the word embeddings
    # (23 MiB in F16) are split by rows into `<name>.part<N>`; read_shards() joins them again.
    limit = 15 * 2**20
    split: dict[str, torch.Tensor] = {}
    for k, v in state.items():
        parts = math.ceil(v.numel() * 2 / limit)
        if parts == 1:
            split[k] = v
        else:
            for i, piece in enumerate(torch.chunk(v, parts, dim=0)):
                split[f"{k}.part{i}"] = piece.contiguous()
    state = split
    shards: list[dict] = [{}]
    size = 0
    for k, v in state.items():
        n = v.numel() * 2
        if size + n > limit and shards[-1]:
            shards.append({})
            size = 0
        shards[-1][k] = v
        size += n
    for i, shard in enumerate(shards):
        save_file(shard, str(args.out / f"model-{i + 1:05d}.safetensors"))
    config.save_pretrained(args.out)
    (args.out / "metrics.json").write_text(json.dumps({
        "startingModel": str(args.model),
        "trainArticles": sorted(train_articles, key=articles.index),
        "heldOutArticle": held_article,
        "trainQuestions": len(train),
        "heldOutQuestions": len(held),
        "negativesPerQuestion": args.negatives,
        "epochs": args.epochs,
        "steps": steps,
        "lr": args.lr,
        "maxLength": args.max_length,
        "seed": args.seed,
        "device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
        "lossFirst20": round(sum(losses[:20]) / min(20, len(losses)), 4),
        "lossLast20": round(sum(losses[-20:]) / min(20, len(losses)), 4),
        "before": before,
        "after": after,
        "seconds": round(time.time() - started, 1),
        "shards": len(shards),
    }, indent=2))
    print(f"wrote {len(shards)} shards to {args.out} in {time.time() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
