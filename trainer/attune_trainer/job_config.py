"""The job file the parent writes: TrainOptions (src/finetune/trainer-spec.ts) plus local settings."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import TrainerError

# llama.cpp tensor names for the projections LoRA may wrap; others cannot be exported to GGUF.
LLAMA_CPP_NAMES = {
    "q_proj": "attn_q",
    "k_proj": "attn_k",
    "v_proj": "attn_v",
    "o_proj": "attn_output",
    "gate_proj": "ffn_gate",
    "up_proj": "ffn_up",
    "down_proj": "ffn_down",
}


@dataclass(frozen=True)
class Hyperparameters:
    rank: int
    alpha: float
    dropout: float
    target_modules: list[str]
    learning_rate: float
    epochs: int
    batch_size: int
    gradient_accumulation: int
    max_seq_length: int
    seed: int
    checkpoint_every: int
    eval_every: int
    # Several short examples per row of maxSeqLength tokens, each attending only to itself.
    packing: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "alpha": self.alpha,
            "dropout": self.dropout,
            "targetModules": list(self.target_modules),
            "learningRate": self.learning_rate,
            "epochs": self.epochs,
            "batchSize": self.batch_size,
            "gradientAccumulation": self.gradient_accumulation,
            "maxSeqLength": self.max_seq_length,
            "seed": self.seed,
            # Only when on, so checkpoints of jobs from before packing existed still resume.
            **({"packing": True} if self.packing else {}),
        }


@dataclass(frozen=True)
class JobConfig:
    base_model: str
    train_file: str
    validation_file: str | None
    hyperparameters: Hyperparameters
    output_dir: Path
    resume: bool = False
    # Dequantised copies of GGUF bases live here, so the slow GGUF parse happens once per model.
    cache_dir: Path | None = None
    threads: int = 0
    # Without a validation file, this share of the training examples is held out (at least one).
    validation_split: float = 0.1
    min_examples: int = 4
    export_gguf: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def load_job_config(path: str, resume_flag: bool) -> JobConfig:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TrainerError(f"Job config {path} does not exist.") from None
    except json.JSONDecodeError as error:
        raise TrainerError(f"Job config {path} is not valid JSON: {error}") from None
    if not isinstance(raw, dict):
        raise TrainerError(f"Job config {path} must hold a JSON object.")
    hp = raw.get("hyperparameters")
    if not isinstance(hp, dict):
        raise TrainerError(f"Job config {path}: `hyperparameters` is missing.")

    def need(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
        value = obj.get(key)
        if isinstance(value, bool) or not isinstance(value, kind):
            raise TrainerError(f"Job config {path}: `{where}{key}` must be {_kind_name(kind)}, got {value!r}.")
        return value

    hyper = Hyperparameters(
        rank=need(hp, "rank", int, "hyperparameters."),
        alpha=float(need(hp, "alpha", (int, float), "hyperparameters.")),
        dropout=float(need(hp, "dropout", (int, float), "hyperparameters.")),
        target_modules=list(need(hp, "targetModules", list, "hyperparameters.")),
        learning_rate=float(need(hp, "learningRate", (int, float), "hyperparameters.")),
        epochs=need(hp, "epochs", int, "hyperparameters."),
        batch_size=need(hp, "batchSize", int, "hyperparameters."),
        gradient_accumulation=need(hp, "gradientAccumulation", int, "hyperparameters."),
        max_seq_length=need(hp, "maxSeqLength", int, "hyperparameters."),
        seed=need(hp, "seed", int, "hyperparameters."),
        checkpoint_every=need(hp, "checkpointEvery", int, "hyperparameters."),
        eval_every=need(hp, "evalEvery", int, "hyperparameters."),
        packing=bool(hp.get("packing", False)),
    )
    checks = [
        (hyper.rank >= 1, "rank must be at least 1"),
        (hyper.alpha > 0, "alpha must be positive"),
        (0 <= hyper.dropout < 1, "dropout must be in [0, 1)"),
        (hyper.learning_rate > 0, "learningRate must be positive"),
        (hyper.epochs >= 1, "epochs must be at least 1"),
        (hyper.batch_size >= 1, "batchSize must be at least 1"),
        (hyper.gradient_accumulation >= 1, "gradientAccumulation must be at least 1"),
        (hyper.max_seq_length >= 8, "maxSeqLength must be at least 8"),
        (hyper.checkpoint_every >= 0, "checkpointEvery must be 0 or more"),
        (hyper.eval_every >= 0, "evalEvery must be 0 or more"),
        (len(hyper.target_modules) > 0, "targetModules must name at least one module"),
    ]
    for ok, message in checks:
        if not ok:
            raise TrainerError(f"Job config {path}: hyperparameters.{message}.")
    validation = raw.get("validationFile")
    cache_dir = raw.get("cacheDir")
    return JobConfig(
        base_model=need(raw, "baseModel", str, ""),
        train_file=need(raw, "trainFile", str, ""),
        validation_file=validation if isinstance(validation, str) and validation else None,
        hyperparameters=hyper,
        output_dir=Path(need(raw, "outputDir", str, "")),
        resume=resume_flag or bool(raw.get("resume", False)),
        cache_dir=Path(cache_dir) if isinstance(cache_dir, str) and cache_dir else None,
        threads=int(raw.get("threads") or 0),
        validation_split=float(raw.get("validationSplit", 0.1)),
        min_examples=int(raw.get("minExamples", 4)),
        export_gguf=bool(raw.get("exportGguf", True)),
    )


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {int: "an integer", float: "a number", str: "a string", list: "a list", dict: "an object"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)
