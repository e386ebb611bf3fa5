"""python -m attune_trainer train --config job.json [--resume]"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str]) -> int:
    # Before anything can print: stdout belongs to the event protocol.
    from .events import EventStream

    events = EventStream.claim_stdout()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

    parser = argparse.ArgumentParser(prog="attune_trainer")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="LoRA-train a base model on chat JSONL")
    train.add_argument("--config", required=True, help="job file (TrainOptions-shaped JSON)")
    train.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    args = parser.parse_args(argv)

    from .errors import TrainerError
    from .training import StopRequest, run_training

    stop = StopRequest()
    stop.install()
    events.on_broken_pipe = stop.request
    if args.command == "train":
        from .job_config import load_job_config

        try:
            config = load_job_config(args.config, args.resume)
        except TrainerError as error:
            events.emit("failed", message=str(error))
            return 1
        return run_training(config, events, stop)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
