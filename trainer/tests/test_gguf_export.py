"""The llama.cpp LoRA export: permutation, names, orientation and metadata.

Run: <venv>/bin/python -m unittest discover -s trainer/tests -t trainer
"""

import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch

from attune_trainer.errors import TrainerError
from attune_trainer.gguf_export import check_exportable, llama_permute, lora_tensors, write_lora_gguf


def _state(layers=2, rank=4, hidden=576, n_head=9, n_kv=3, modules=("q_proj", "k_proj", "v_proj", "o_proj")):
    head_dim = hidden // n_head
    out = {"q_proj": hidden, "k_proj": n_kv * head_dim, "v_proj": n_kv * head_dim, "o_proj": hidden}
    g = torch.Generator().manual_seed(0)
    state = {}
    for layer in range(layers):
        for m in modules:
            prefix = f"base_model.model.model.layers.{layer}.self_attn.{m}"
            state[f"{prefix}.lora_A.weight"] = torch.randn(rank, hidden, generator=g)
            state[f"{prefix}.lora_B.weight"] = torch.randn(out[m], rank, generator=g)
    return state


class PermutationTest(unittest.TestCase):
    def test_undoes_what_transformers_does_when_it_loads_a_gguf(self):
        from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

        processor = LlamaTensorProcessor(config={"num_attention_heads": 9, "num_key_value_heads": 3})
        for rows, n_head, n_kv in ((576, 9, 9), (192, 9, 3)):
            hf = np.random.default_rng(1).standard_normal((rows, 576)).astype(np.float32)
            gguf_layout = llama_permute(hf, n_head, n_kv)
            self.assertFalse(np.array_equal(gguf_layout, hf))
            back = processor._reverse_permute_weights(gguf_layout, n_head, n_kv)
            np.testing.assert_array_equal(back, hf)

    def test_permuting_b_permutes_the_whole_delta(self):
        rng = np.random.default_rng(2)
        a = rng.standard_normal((8, 576))
        b = rng.standard_normal((192, 8))
        np.testing.assert_allclose(llama_permute(b @ a, 9, 3), llama_permute(b, 9, 3) @ a, rtol=1e-12)


class ExportTest(unittest.TestCase):
    def test_names_orientation_and_which_factors_are_permuted(self):
        state = _state()
        tensors = dict(lora_tensors(state, 9, 3))
        self.assertEqual(len(tensors), 2 * 2 * 4)
        a = state["base_model.model.model.layers.1.self_attn.k_proj.lora_A.weight"].numpy()
        b = state["base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight"].numpy()
        np.testing.assert_array_equal(tensors["blk.1.attn_k.weight.lora_a"], a)
        np.testing.assert_array_equal(tensors["blk.1.attn_k.weight.lora_b"], llama_permute(b, 9, 3))
        vb = state["base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight"].numpy()
        np.testing.assert_array_equal(tensors["blk.0.attn_v.weight.lora_b"], vb)
        self.assertIn("blk.0.attn_output.weight.lora_a", tensors)

    def test_gguf_file_has_adapter_metadata_and_ggml_shapes(self):
        import gguf

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "adapter.gguf"
            write_lora_gguf(path, _state(layers=1), architecture="llama", alpha=16, n_head=9, n_head_kv=3, name="t")
            reader = gguf.GGUFReader(str(path))
            fields = {name: reader.get_field(name) for name in ("general.type", "general.architecture", "adapter.type")}
            self.assertEqual({k: v.contents() for k, v in fields.items()},
                             {"general.type": "adapter", "general.architecture": "llama", "adapter.type": "lora"})
            self.assertEqual(reader.get_field("adapter.lora.alpha").contents(), 16.0)
            shapes = {t.name: list(t.shape) for t in reader.tensors}
            # ggml ne order: lora_a [in, rank], lora_b [rank, out]; the base q tensor is [in=576, out=576].
            self.assertEqual(shapes["blk.0.attn_q.weight.lora_a"], [576, 4])
            self.assertEqual(shapes["blk.0.attn_q.weight.lora_b"], [4, 576])
            self.assertEqual(shapes["blk.0.attn_k.weight.lora_b"], [4, 192])
            self.assertEqual([p.name for p in Path(tmp).iterdir()], ["adapter.gguf"])

    def test_refuses_what_llama_cpp_cannot_hold(self):
        with self.assertRaisesRegex(TrainerError, "llama architecture"):
            check_exportable("gemma3", ["q_proj"])
        with self.assertRaisesRegex(TrainerError, "lm_head"):
            check_exportable("llama", ["q_proj", "lm_head"])


if __name__ == "__main__":
    unittest.main()
