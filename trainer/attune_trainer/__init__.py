"""Attune's local LoRA training worker.

Run as ``python -m attune_trainer train --config job.json [--resume]``. It speaks to its parent only
through JSON lines on stdout (one ``TrainingEvent`` each, see src/finetune/trainer-spec.ts); every
other byte, including what libraries print, goes to stderr.
"""

__version__ = "0.1.0"
