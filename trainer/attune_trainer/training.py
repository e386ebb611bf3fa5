"""The training run: data → base model → LoRA → steps with events → checkpoints → export.

A plain PyTorch loop rather than transformers' Trainer: every event, checkpoint and stop point is
ours to place, and bench/peft_baseline.py measures what the loop costs against a bare PEFT loop.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import signal
import time
import traceback
from pathlib import Path
from typing import Any

from .checkpoint import capture_rng, list_checkpoints, load_checkpoint, save_checkpoint
from .dataset import Example, collate, collate_packed, pack, read_chat_jsonl, split_validation, tokenize_all
from .errors import Cancelled, TrainerError
from .events import EventStream
from .job_config import JobConfig


class StopRequest:
    """Set by SIGTERM/SIGINT; the loop checks it between micro-batches, the only safe points."""

    def __init__(self) -> None:
        self.requested = False

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, _frame: Any) -> None:
        self.requested = True

    def request(self) -> None:
        self.requested = True

    def check(self) -> None:
        if self.requested:
            raise Cancelled()


def run_training(config: JobConfig, events: EventStream, stop: StopRequest) -> int:
    out = config.output_dir
    created_output = not out.exists()
    run = _Run(config, events, stop)
    try:
        out.mkdir(parents=True, exist_ok=True)
        run.execute()
        return 0
    except Cancelled:
        checkpoint = run.save_on_cancel()
        events.emit("cancelled", step=run.step, checkpoint=str(checkpoint) if checkpoint else None)
        _remove_partial(out, created_output)
        return 0
    except TrainerError as error:
        events.emit("failed", message=str(error))
        _remove_partial(out, created_output)
        return 1
    except Exception as error:  # an unexpected crash still ends in exactly one `failed`
        traceback.print_exc()
        events.emit("failed", message=f"Trainer crashed: {type(error).__name__}: {error}")
        _remove_partial(out, created_output)
        return 1


def _remove_partial(out: Path, created_output: bool) -> None:
    """Staged files never outlive a failure; neither does an output directory that holds nothing
    resumable. Checkpoints stay: they are what `resume` continues from."""
    if not out.exists():
        return
    for path in out.glob(".*.tmp"):
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    for path in (out / "checkpoints").glob(".*.tmp") if (out / "checkpoints").exists() else []:
        shutil.rmtree(path, ignore_errors=True)
    if not list_checkpoints(out):
        shutil.rmtree(out / "checkpoints", ignore_errors=True)
        if created_output and not any(out.iterdir()):
            out.rmdir()


def _file_hash(path: str | None) -> str | None:
    if not path:
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class _Run:
    def __init__(self, config: JobConfig, events: EventStream, stop: StopRequest) -> None:
        self.config = config
        self.events = events
        self.stop = stop
        self.step = 0
        self.model: Any = None
        self.optimizer: Any = None
        self.scheduler: Any = None
        self.rng_at_step: dict[str, Any] | None = None
        self.last_checkpoint_step = -1
        self.last_checkpoint: Path | None = None
        self.state_extra: dict[str, Any] = {}

    # -- the run ---------------------------------------------------------------------------------

    def execute(self) -> None:
        cfg, hp = self.config, self.config.hyperparameters
        wall_started = time.monotonic()
        train_rows = read_chat_jsonl(cfg.train_file)
        validation_rows = read_chat_jsonl(cfg.validation_file) if cfg.validation_file else []
        if len(train_rows) < cfg.min_examples:
            raise TrainerError(
                f"{Path(cfg.train_file).name} holds {len(train_rows)} example(s); at least {cfg.min_examples} are "
                "needed to train anything (a few hundred give a useful adapter)."
            )
        self.stop.check()

        import torch

        torch.set_num_threads(cfg.threads or os.cpu_count() or 1)
        torch.manual_seed(hp.seed)
        from .base_model import load_base_model
        from .gguf_export import check_exportable

        load_started = time.monotonic()
        base = load_base_model(cfg.base_model, cfg.cache_dir, self.events.log)
        load_seconds = time.monotonic() - load_started
        self.stop.check()
        if cfg.export_gguf:
            check_exportable(base.architecture, hp.target_modules)
        available = _linear_module_names(base.model)
        missing = [m for m in hp.target_modules if m not in available]
        if missing:
            raise TrainerError(
                f"targetModules {', '.join(missing)} do not exist in this {base.architecture} model; "
                f"its linear modules are {', '.join(sorted(available))}."
            )

        tokenizer = base.tokenizer
        train = tokenize_all(tokenizer, train_rows, hp.max_seq_length)
        validation = tokenize_all(tokenizer, validation_rows, hp.max_seq_length)
        if not validation_rows:
            train, validation = split_validation(train, cfg.validation_split, hp.seed)
        if len(train) < cfg.min_examples:
            raise TrainerError(
                f"Only {len(train)} training example(s) remain after holding out a validation split; "
                f"at least {cfg.min_examples} are needed. Add examples or pass a validation file."
            )

        from peft import LoraConfig, get_peft_model

        base.model.config.use_cache = False
        self.model = get_peft_model(
            base.model,
            LoraConfig(
                r=hp.rank,
                lora_alpha=hp.alpha,
                lora_dropout=hp.dropout,
                target_modules=hp.target_modules,
                bias="none",
                task_type="CAUSAL_LM",
            ),
        )
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(trainable, lr=hp.learning_rate, weight_decay=0.0)
        # Packed: one row of maxSeqLength tokens per micro-batch (short examples fill it); the rows
        # are packed once, so every epoch has the same steps and a resumed run the same rows.
        packed = pack(train, hp.max_seq_length) if hp.packing else []
        units = len(packed) if hp.packing else len(train)
        per_micro = 1 if hp.packing else hp.batch_size
        if hp.packing:
            self.events.log(f"packed {len(train)} examples into {len(packed)} row(s) of at most {hp.max_seq_length} tokens")
        batches_per_epoch = math.ceil(units / per_micro)
        steps_per_epoch = math.ceil(batches_per_epoch / hp.gradient_accumulation)
        total_steps = steps_per_epoch * hp.epochs
        warmup = max(1, math.ceil(0.05 * total_steps))

        def schedule(s: int) -> float:
            # Linear warm-up, then linear decay that still moves on the last step.
            if s < warmup:
                return (s + 1) / warmup
            return max(0.0, (total_steps - s) / max(1, total_steps - warmup))

        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, schedule)
        fingerprint = hashlib.sha256(
            json.dumps(
                {
                    "hp": hp.as_dict(),
                    "train": _file_hash(cfg.train_file),
                    "validation": _file_hash(cfg.validation_file),
                    "base": cfg.base_model,
                },
                sort_keys=True,
            ).encode()
        ).hexdigest()

        resumed_from: int | None = None
        eval_before: float | None = None
        if cfg.resume:
            found = list_checkpoints(cfg.output_dir)
            if found:
                state = load_checkpoint(found[-1], self.model, self.optimizer, self.scheduler)
                if state.get("fingerprint") != fingerprint:
                    raise TrainerError(
                        f"The checkpoint {found[-1]} was made with other data, base model or hyperparameters; "
                        "resume with the same settings, or start a new job."
                    )
                self.step = resumed_from = int(state["step"])
                eval_before = state.get("evalLossBefore")
                self.last_checkpoint_step, self.last_checkpoint = self.step, found[-1]
            else:
                self.events.log("no checkpoint to resume from; starting at step 0")
        self.rng_at_step = capture_rng()
        self.state_extra = {"fingerprint": fingerprint, "totalSteps": total_steps}

        self.events.emit(
            "started",
            totalSteps=total_steps,
            trainExamples=len(train),
            validationExamples=len(validation),
            resumedFromStep=resumed_from,
        )
        pad_id = tokenizer.pad_token_id

        if validation and resumed_from is None:
            eval_before = self._evaluate(validation, pad_id, hp.batch_size)
            self.events.emit("eval", step=0, evalLoss=eval_before)
        self.state_extra["evalLossBefore"] = eval_before

        train_seconds = 0.0
        tokens_seen = 0
        steps_this_run = 0
        last_loss = math.nan
        last_eval: tuple[int, float] | None = None
        start_epoch, start_group = divmod(self.step, steps_per_epoch)
        for epoch in range(start_epoch, hp.epochs):
            generator = torch.Generator().manual_seed(hp.seed * 1000 + epoch)
            order = torch.randperm(units, generator=generator).tolist()
            source: list[Any] = packed if hp.packing else train
            batches = [[source[i] for i in order[b : b + per_micro]] for b in range(0, len(order), per_micro)]
            groups = [
                batches[g : g + hp.gradient_accumulation]
                for g in range(0, len(batches), hp.gradient_accumulation)
            ]
            for group in groups[start_group if epoch == start_epoch else 0 :]:
                step_started = time.monotonic()
                self.model.train()
                losses: list[float] = []
                for micro in group:
                    self.stop.check()
                    if hp.packing:
                        batch = collate_packed(micro, pad_id)
                        real = batch.pop("real_tokens")
                    else:
                        batch = collate(micro, pad_id)
                        real = int(batch["attention_mask"].sum())
                    loss = self.model(**batch).loss
                    (loss / len(group)).backward()
                    losses.append(float(loss.detach()))
                    tokens_seen += real
                torch.nn.utils.clip_grad_norm_(trainable, 1.0)
                learning_rate = self.scheduler.get_last_lr()[0]
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                self.step += 1
                self.rng_at_step = capture_rng()
                steps_this_run += 1
                train_seconds += time.monotonic() - step_started
                last_loss = sum(losses) / len(losses)
                if not math.isfinite(last_loss):
                    raise TrainerError(
                        f"The training loss became {last_loss} at step {self.step}; lower learningRate "
                        f"(now {hp.learning_rate})."
                    )
                self.events.emit(
                    "step",
                    step=self.step,
                    totalSteps=total_steps,
                    epoch=epoch + 1,
                    loss=last_loss,
                    learningRate=learning_rate,
                    tokensPerSecond=tokens_seen / max(train_seconds, 1e-9),
                    etaSeconds=(total_steps - self.step) * train_seconds / steps_this_run,
                )
                if self.step == total_steps:
                    break
                if validation and hp.eval_every and self.step % hp.eval_every == 0:
                    last_eval = (self.step, self._evaluate(validation, pad_id, hp.batch_size))
                    self.events.emit("eval", step=self.step, evalLoss=last_eval[1])
                if hp.checkpoint_every and self.step % hp.checkpoint_every == 0:
                    self._checkpoint()
            if validation and not hp.eval_every and epoch + 1 < hp.epochs and self.step < total_steps:
                last_eval = (self.step, self._evaluate(validation, pad_id, hp.batch_size))
                self.events.emit("eval", step=self.step, evalLoss=last_eval[1])

        eval_after: float | None = None
        if validation:
            eval_after = (
                last_eval[1]
                if last_eval and last_eval[0] == self.step
                else self._evaluate(validation, pad_id, hp.batch_size)
            )
            self.events.emit("eval", step=self.step, evalLoss=eval_after)
        self.stop.check()
        output = self._export(base.architecture)
        metrics = {
            "trainLoss": last_loss,
            "evalLossBefore": eval_before,
            "evalLossAfter": eval_after,
            "steps": self.step,
            "trainExamples": len(train),
            "validationExamples": len(validation),
            "trainTokens": tokens_seen,
            "trainSeconds": train_seconds,
            "tokensPerSecond": tokens_seen / max(train_seconds, 1e-9),
            "baseLoadSeconds": load_seconds,
            "wallSeconds": time.monotonic() - wall_started,
        }
        self.events.emit(
            "succeeded",
            output=output,
            metrics={k: v for k, v in metrics.items() if v is not None and math.isfinite(v)},
        )

    # -- parts -----------------------------------------------------------------------------------

    def _evaluate(self, examples: list[Example], pad_id: int, batch_size: int) -> float:
        import torch

        self.model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for b in range(0, len(examples), batch_size):
                self.stop.check()
                batch = collate(examples[b : b + batch_size], pad_id)
                n = int((batch["labels"][:, 1:] != -100).sum())
                total += float(self.model(**batch).loss) * n
                count += n
        return total / max(count, 1)

    def _checkpoint(self) -> Path:
        assert self.rng_at_step is not None
        path = save_checkpoint(
            self.config.output_dir,
            self.step,
            self.model,
            self.optimizer,
            self.scheduler,
            self.rng_at_step,
            self.state_extra,
        )
        self.last_checkpoint_step, self.last_checkpoint = self.step, path
        self.events.emit("checkpoint", step=self.step, path=str(path))
        return path

    def save_on_cancel(self) -> Path | None:
        """On a stop request: keep what the completed steps learned. Gradients of a half-done
        accumulation are discarded; resume redoes that step from the same data and RNG."""
        if self.model is None or self.optimizer is None or self.step == 0:
            return None
        if self.last_checkpoint_step == self.step:
            return self.last_checkpoint
        self.optimizer.zero_grad(set_to_none=True)
        return self._checkpoint()

    def _export(self, architecture: str) -> dict[str, str]:
        from peft import get_peft_model_state_dict

        from .gguf_export import write_lora_gguf

        out = self.config.output_dir
        hp = self.config.hyperparameters
        staging = out / f".adapter.{os.getpid()}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        self.model.save_pretrained(staging)
        shutil.rmtree(out / "adapter", ignore_errors=True)
        os.replace(staging, out / "adapter")
        gguf_path = out / "adapter.gguf"
        if self.config.export_gguf:
            cfg = self.model.base_model.model.config
            write_lora_gguf(
                gguf_path,
                get_peft_model_state_dict(self.model),
                architecture=architecture,
                alpha=hp.alpha,
                n_head=cfg.num_attention_heads,
                n_head_kv=getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads,
                name=f"attune LoRA r{hp.rank} on {Path(self.config.base_model).name}",
            )
        return {
            "kind": "adapter",
            "gguf": str(gguf_path) if self.config.export_gguf else "",
            "safetensors": str(out / "adapter" / "adapter_model.safetensors"),
        }


def _linear_module_names(model: Any) -> set[str]:
    import torch

    return {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)}
