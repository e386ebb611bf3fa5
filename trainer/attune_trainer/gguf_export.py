"""PEFT LoRA → llama.cpp LoRA GGUF, written with the ``gguf`` package.

What llama.cpp expects (src/llama-adapter.cpp; the layout convert_lora_to_gguf.py produces):
- metadata ``general.type=adapter``, ``general.architecture`` equal to the base model's,
  ``adapter.type=lora`` and ``adapter.lora.alpha`` (llama.cpp scales by alpha / rank, as PEFT does);
- per wrapped projection, ``blk.N.<name>.weight.lora_a`` and ``.lora_b``, where PEFT's A is
  (rank, in_features) and B is (out_features, rank). numpy shapes are written reversed as ggml ``ne``,
  so A arrives as ne=[in, rank] and B as ne=[rank, out], matching the base tensor's ne=[in, out].

The llama permutation: llama.cpp's converter reorders the rows of q_proj and k_proj
(``permute(w, n_head, n_head_kv)``, interleaved → split-half rotary layout), and transformers undoes
that when it loads a GGUF. The adapter was trained against the un-permuted weights, so its delta
``B @ A`` must be permuted the same way as the base rows it is added to. Row order lives entirely in B
(the output side), so B is permuted and A is left as is, exactly as convert_lora_to_gguf.py does
through its LoraTorchTensor.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from .errors import TrainerError
from .job_config import LLAMA_CPP_NAMES

# Architectures whose export has been checked end to end against llama.cpp.
SUPPORTED_ARCHITECTURES = {"llama": "llama"}

_KEY = re.compile(r"layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)\.lora_([AB])\.weight$")


def llama_permute(weights: np.ndarray, n_head: int, n_head_kv: int | None = None) -> np.ndarray:
    """convert_hf_to_gguf.py's LlamaModel.permute, applied to the rows (output dimension)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    rows = weights.shape[0]
    return (
        weights.reshape(n_head, 2, rows // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def check_exportable(architecture: str, target_modules: list[str]) -> None:
    if architecture not in SUPPORTED_ARCHITECTURES:
        raise TrainerError(
            f"GGUF adapter export supports the llama architecture; the base model is {architecture}. "
            "Train on a llama-architecture base (e.g. smollm2-135m-instruct)."
        )
    unknown = [m for m in target_modules if m not in LLAMA_CPP_NAMES]
    if unknown:
        raise TrainerError(
            f"targetModules {', '.join(unknown)} cannot be exported to a llama.cpp adapter; "
            f"use some of {', '.join(LLAMA_CPP_NAMES)}."
        )


def lora_tensors(
    state: dict[str, Any], n_head: int, n_head_kv: int
) -> list[tuple[str, np.ndarray]]:
    """(llama.cpp name, float32 array) for every LoRA factor in a PEFT state dict."""
    pairs: dict[tuple[int, str], dict[str, np.ndarray]] = {}
    for key, tensor in state.items():
        match = _KEY.search(key)
        if not match:
            raise TrainerError(f"Unexpected tensor {key} in the adapter; only LoRA A/B factors can be exported.")
        layer, module, which = int(match.group(1)), match.group(2), match.group(3)
        if module not in LLAMA_CPP_NAMES:
            raise TrainerError(f"Adapter tensor {key} wraps {module}, which llama.cpp adapters cannot hold.")
        array = tensor.detach().to("cpu").float().numpy() if hasattr(tensor, "detach") else np.asarray(tensor)
        pairs.setdefault((layer, module), {})[which] = np.ascontiguousarray(array, dtype=np.float32)
    out: list[tuple[str, np.ndarray]] = []
    for (layer, module), factors in sorted(pairs.items()):
        a, b = factors.get("A"), factors.get("B")
        if a is None or b is None:
            raise TrainerError(f"Adapter for layer {layer} {module} lacks its lora_{'A' if a is None else 'B'}.")
        if a.shape[0] != b.shape[1]:
            raise TrainerError(f"Adapter layer {layer} {module}: A {a.shape} and B {b.shape} disagree on rank.")
        if module == "q_proj":
            b = llama_permute(b, n_head, n_head)
        elif module == "k_proj":
            b = llama_permute(b, n_head, n_head_kv)
        name = f"blk.{layer}.{LLAMA_CPP_NAMES[module]}.weight"
        out.append((f"{name}.lora_a", np.ascontiguousarray(a)))
        out.append((f"{name}.lora_b", np.ascontiguousarray(b)))
    return out


def write_lora_gguf(
    path: Path,
    state: dict[str, Any],
    *,
    architecture: str,
    alpha: float,
    n_head: int,
    n_head_kv: int,
    name: str,
) -> None:
    import gguf

    arch = SUPPORTED_ARCHITECTURES.get(architecture)
    if arch is None:
        raise TrainerError(f"GGUF adapter export does not support the {architecture} architecture.")
    tensors = lora_tensors(state, n_head, n_head_kv)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        writer = gguf.GGUFWriter(str(staging), arch)
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_name(name)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
        for tensor_name, array in tensors:
            writer.add_tensor(tensor_name, array)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(staging, path)
    finally:
        if staging.exists():
            staging.unlink()
