"""The PyTorch reference for bench/ingest.ts: the same chunk texts through the same weights.

all-MiniLM-L6-v2 from the safetensors Attune's GGUF was converted from, in transformers' BertModel,
mean-pooled over the attention mask and L2-normalised (what sentence-transformers does), in
batches of 32 texts sorted by length (so padding stays small), under torch.inference_mode with one
thread per core. Inputs are cut to 256 model tokens with [CLS]/[SEP], as Attune's embedder cuts
them. Prints one JSON line: seconds, tokens (without [CLS]/[SEP]), texts, threads, peak RSS.

    python bench/embed_pytorch.py <model dir> <texts.json> [threads]
"""

import json
import os
import resource
import sys
import time

import torch
from transformers import BertModel, PreTrainedTokenizerFast

model_dir, texts_path = sys.argv[1], sys.argv[2]
threads = int(sys.argv[3]) if len(sys.argv) > 3 and int(sys.argv[3]) > 0 else (os.cpu_count() or 1)
torch.set_num_threads(threads)
with open(texts_path, encoding="utf-8") as f:
    texts = json.load(f)

tokenizer = PreTrainedTokenizerFast(
    tokenizer_file=os.path.join(model_dir, "tokenizer.json"),
    cls_token="[CLS]",
    sep_token="[SEP]",
    pad_token="[PAD]",
    unk_token="[UNK]",
)
model = BertModel.from_pretrained(model_dir, add_pooling_layer=False).eval()
BATCH = 32
MAX_TOKENS = 256


def embed(batch):
    encoded = tokenizer(batch, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
    hidden = model(**encoded).last_hidden_state
    mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1), int(encoded["attention_mask"].sum()) - 2 * len(batch)


with torch.inference_mode():
    embed(["A warm-up sentence so the first timed call pays no setup."])
    lengths = [len(tokenizer(t, truncation=True, max_length=MAX_TOKENS)["input_ids"]) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    tokens = 0
    started = time.perf_counter()
    for start in range(0, len(order), BATCH):
        _, n = embed([texts[i] for i in order[start : start + BATCH]])
        tokens += n
    seconds = time.perf_counter() - started

print(
    json.dumps(
        {
            "seconds": seconds,
            "tokens": tokens,
            "texts": len(texts),
            "threads": threads,
            "maxRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "torch": torch.__version__,
        }
    )
)
