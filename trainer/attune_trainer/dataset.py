"""Chat JSONL → token ids with labels on assistant tokens only.

Each example is rendered with the base model's own chat template (the one llama.cpp will use at
inference), then tokenised once; tokens whose characters fall inside an assistant turn keep their
label, everything else (system, user, template markup) is masked to -100 so the loss teaches answers,
not questions.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import TrainerError

IGNORE = -100
ROLES = ("system", "user", "assistant")


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]
    # "file:line" for messages that point the user at the offending example.
    where: str


def read_chat_jsonl(path: str) -> list[tuple[str, list[dict[str, str]]]]:
    file = Path(path)
    if not file.exists():
        raise TrainerError(f"Training data {path} does not exist.")
    out: list[tuple[str, list[dict[str, str]]]] = []
    with file.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{file.name}:{number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise TrainerError(f"{where}: not valid JSON ({error.msg}).") from None
            messages = record.get("messages") if isinstance(record, dict) else None
            if not isinstance(messages, list) or not messages:
                raise TrainerError(f'{where}: expected {{"messages": [...]}} with at least one message.')
            for i, message in enumerate(messages):
                if (
                    not isinstance(message, dict)
                    or message.get("role") not in ROLES
                    or not isinstance(message.get("content"), str)
                ):
                    raise TrainerError(
                        f"{where}: messages[{i}] must be {{role: system|user|assistant, content: string}}."
                    )
            if not any(m["role"] == "assistant" for m in messages):
                raise TrainerError(f"{where}: no assistant message, so nothing to learn from this example.")
            out.append((where, [{"role": m["role"], "content": m["content"]} for m in messages]))
    return out


def tokenize_example(tokenizer: Any, where: str, messages: list[dict[str, str]]) -> Example:
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    spans: list[tuple[int, int]] = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = tokenizer.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True)
        through = tokenizer.apply_chat_template(messages[: i + 1], tokenize=False)
        # The template must render each prefix as a prefix of the whole; every chat template in use
        # does, and if one does not the mask would be wrong, so refuse rather than guess.
        if not text.startswith(through) or not through.startswith(before):
            raise TrainerError(
                f"{where}: the chat template does not render conversations incrementally, "
                "so assistant turns cannot be located for the loss mask."
            )
        spans.append((len(before), len(through)))
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = encoded["input_ids"]
    labels = [IGNORE] * len(ids)
    for t, (start, end) in enumerate(encoded["offset_mapping"]):
        if end > start and any(s <= start and end <= e for s, e in spans):
            labels[t] = ids[t]
    if all(label == IGNORE for label in labels):
        raise TrainerError(f"{where}: the assistant turns are empty after tokenisation.")
    return Example(input_ids=ids, labels=labels, where=where)


def tokenize_all(tokenizer: Any, rows: list[tuple[str, list[dict[str, str]]]], max_len: int) -> list[Example]:
    examples = [tokenize_example(tokenizer, where, messages) for where, messages in rows]
    too_long = [e for e in examples if len(e.input_ids) > max_len]
    if too_long:
        shown = ", ".join(f"{e.where} ({len(e.input_ids)} tokens)" for e in too_long[:5])
        more = f" and {len(too_long) - 5} more" if len(too_long) > 5 else ""
        raise TrainerError(
            f"{len(too_long)} example(s) are longer than maxSeqLength {max_len}: {shown}{more}. "
            "Shorten or split them, or raise maxSeqLength."
        )
    return examples


def split_validation(
    examples: list[Example], fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """Holds out a seeded share of the training data when no validation file was given."""
    if len(examples) < 5 or fraction <= 0:
        return examples, []
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    held = max(1, round(len(examples) * fraction))
    held_set = set(order[:held])
    train = [e for i, e in enumerate(examples) if i not in held_set]
    validation = [e for i, e in enumerate(examples) if i in held_set]
    return train, validation


def collate(batch: list[Example], pad_id: int) -> dict[str, Any]:
    import torch

    width = max(len(e.input_ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, example in enumerate(batch):
        n = len(example.input_ids)
        ids[row, :n] = torch.tensor(example.input_ids)
        labels[row, :n] = torch.tensor(example.labels)
        mask[row, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


@dataclass
class PackedRow:
    """Examples laid end to end in one row; each keeps its own positions and its own loss mask."""

    examples: list[Example]

    @property
    def length(self) -> int:
        return sum(len(e.input_ids) for e in self.examples)


def pack(examples: list[Example], max_len: int) -> list[PackedRow]:
    """First-fit decreasing into rows of at most max_len tokens: few rows, little padding.

    Deterministic for a given list (ties keep their order), so a resumed run packs the same rows.
    """
    rows: list[PackedRow] = []
    for example in sorted(examples, key=lambda e: -len(e.input_ids)):
        n = len(example.input_ids)
        for row in rows:
            if row.length + n <= max_len:
                row.examples.append(example)
                break
        else:
            rows.append(PackedRow([example]))
    return rows


def collate_packed(rows: list[PackedRow], pad_id: int) -> dict[str, Any]:
    """Concatenated ids and labels with positions restarting at 0 for every example and no 2D
    attention mask: transformers then builds a block-diagonal causal mask from the position ids, so
    no token attends across examples. The label of an example's first token is its template
    markup, already masked, so no loss crosses a boundary either. Padding forms its own segment.
    """
    import torch

    width = max(r.length for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    real = 0
    for r, row in enumerate(rows):
        at = 0
        for example in row.examples:
            n = len(example.input_ids)
            ids[r, at : at + n] = torch.tensor(example.input_ids)
            labels[r, at : at + n] = torch.tensor(example.labels)
            positions[r, at : at + n] = torch.arange(n)
            at += n
        real += at
        if at < width:
            positions[r, at:] = torch.arange(width - at)
    return {"input_ids": ids, "labels": labels, "position_ids": positions, "real_tokens": real}
