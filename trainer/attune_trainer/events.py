"""The worker's one output channel: JSON lines on the real stdout, in TrainingEvent's shape."""

from __future__ import annotations

import json
import math
import os
import sys
from typing import Any, Callable, TextIO


class EventStream:
    """Writes events to a private copy of stdout.

    ``claim_stdout`` points file descriptor 1 at stderr, so a stray ``print`` from torch, transformers
    or a C extension can never corrupt the protocol the parent parses.
    """

    def __init__(self, out: TextIO) -> None:
        self._out = out
        # Called once if the parent goes away; the worker then stops at its next safe point rather
        # than train on, orphaned, with nobody to report to.
        self.on_broken_pipe: Callable[[], None] | None = None
        self._broken = False

    @classmethod
    def claim_stdout(cls) -> "EventStream":
        sys.stdout.flush()
        private = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        return cls(private)

    def emit(self, event_type: str, **fields: Any) -> None:
        event = {"type": event_type, **{k: _finite(v) for k, v in fields.items() if v is not None}}
        try:
            self._out.write(json.dumps(event, separators=(",", ":")) + "\n")
            self._out.flush()
        except (BrokenPipeError, ValueError):
            if not self._broken:
                self._broken = True
                if self.on_broken_pipe:
                    self.on_broken_pipe()

    def log(self, message: str) -> None:
        self.emit("log", message=message)


def _finite(value: Any) -> Any:
    # JSON has no NaN/Infinity; a diverged loss is reported as null rather than breaking the parser.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value
