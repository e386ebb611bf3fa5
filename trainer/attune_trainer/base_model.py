"""Loads the base model: a Hugging Face directory, or a GGUF file dequantised to float32.

transformers reads GGUF itself (``from_pretrained(dir, gguf_file=...)``), tokenizer and chat template
included, and un-permutes llama's q/k rows on the way in. Its GGUF reader is slow (about 40 s for
SmolLM2-135M on 2 cores, parsed three times), so the dequantised model is saved once as a Hugging Face
directory under the cache, keyed by the GGUF's sha256, and loaded from there (under a second) later.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .errors import TrainerError


@dataclass
class BaseModel:
    model: Any
    tokenizer: Any
    # Where the weights came from: the GGUF file or the Hugging Face directory.
    source: str
    architecture: str


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_base_model(name: str, cache_dir: Path | None, log: Callable[[str], None]) -> BaseModel:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    # Its tqdm bars would flood the parent's stderr buffer, which keeps only the last lines for errors.
    transformers_logging.disable_progress_bar()
    path = Path(name).expanduser()
    if not path.exists():
        raise TrainerError(f"Base model {name} does not exist (expected a .gguf file or a Hugging Face directory).")
    started = time.monotonic()
    try:
        if path.is_file():
            if path.suffix.lower() != ".gguf":
                raise TrainerError(f"Base model {name} is a file but not a .gguf file.")
            directory = _dequantised_copy(path, cache_dir, log)
        else:
            if not (path / "config.json").exists():
                raise TrainerError(f"Base model directory {name} has no config.json; it is not a Hugging Face model.")
            directory = path
        tokenizer = AutoTokenizer.from_pretrained(directory)
        model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)
    except TrainerError:
        raise
    except Exception as error:  # transformers raises many kinds; all mean "cannot load this"
        raise TrainerError(f"Cannot load base model {name}: {type(error).__name__}: {error}") from error
    if not getattr(tokenizer, "chat_template", None):
        raise TrainerError(
            f"Base model {name} has no chat template; chat examples cannot be rendered the way the model expects."
        )
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    log(f"base model loaded in {time.monotonic() - started:.1f} s from {directory}")
    return BaseModel(model=model, tokenizer=tokenizer, source=str(path), architecture=model.config.model_type)


def _dequantised_copy(gguf: Path, cache_dir: Path | None, log: Callable[[str], None]) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    digest = sha256_file(gguf)
    cache = cache_dir or gguf.parent / ".attune-trainer-cache"
    target = cache / f"{gguf.stem}-{digest[:16]}"
    if (target / ".complete").exists():
        return target
    log(f"dequantising {gguf.name} once into {target} (later runs load the copy)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    except Exception as error:
        raise TrainerError(f"Cannot load base model {gguf}: {type(error).__name__}: {error}") from error
    # The weights are plain float32 now; a saved copy must not claim to be GGUF-quantised.
    model.config.quantization_config = None
    if hasattr(model.config, "quantization_config"):
        delattr(model.config, "quantization_config")
    model.hf_quantizer = None
    staging = cache / f".{target.name}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / "source.txt").write_text(f"{gguf}\nsha256 {digest}\n", encoding="utf-8")
        (staging / ".complete").write_text("", encoding="utf-8")
        try:
            os.replace(staging, target)
        except OSError:
            # Another worker finished the same copy first; theirs is as good as ours.
            if not (target / ".complete").exists():
                shutil.rmtree(target, ignore_errors=True)
                os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
