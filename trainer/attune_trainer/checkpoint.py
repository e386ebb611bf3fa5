"""Resumable checkpoints: adapter, optimizer, scheduler, RNG and step, written atomically.

A checkpoint directory appears under its final name only when complete (staged, then renamed), so a
worker killed while saving leaves the previous checkpoint as the latest one.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

KEEP = 2
_NAME = re.compile(r"^step-(\d+)$")


def checkpoints_dir(output_dir: Path) -> Path:
    return output_dir / "checkpoints"


def capture_rng() -> dict[str, Any]:
    import torch

    return {"torch": torch.get_rng_state(), "python": random.getstate()}


def restore_rng(state: dict[str, Any]) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])


def save_checkpoint(
    output_dir: Path,
    step: int,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    rng: dict[str, Any],
    state: dict[str, Any],
) -> Path:
    import torch

    root = checkpoints_dir(output_dir)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:06d}"
    staging = root / f".step-{step:06d}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        model.save_pretrained(staging)
        torch.save(optimizer.state_dict(), staging / "optimizer.pt")
        torch.save(scheduler.state_dict(), staging / "scheduler.pt")
        torch.save(rng, staging / "rng.pt")
        (staging / "state.json").write_text(json.dumps({**state, "step": step}, indent=2), encoding="utf-8")
        shutil.rmtree(final, ignore_errors=True)
        os.replace(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for old in list_checkpoints(output_dir)[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(output_dir: Path) -> list[Path]:
    root = checkpoints_dir(output_dir)
    if not root.is_dir():
        return []
    found = [
        (int(m.group(1)), p)
        for p in root.iterdir()
        if (m := _NAME.match(p.name)) and (p / "state.json").exists()
    ]
    return [p for _, p in sorted(found)]


def load_checkpoint(path: Path, model: Any, optimizer: Any, scheduler: Any) -> dict[str, Any]:
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(model, load_file(str(path / "adapter_model.safetensors")))
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=True))
    restore_rng(torch.load(path / "rng.pt", weights_only=False))
    return json.loads((path / "state.json").read_text(encoding="utf-8"))
