"""An int8 copy of the ONNX export for passages and questions: onnxruntime's dynamic quantisation, made locally.

The fp32 graph is first smoothed (:mod:`bot.model.smooth`): a few activation channels carry outliers that
would otherwise set every activation's int8 step, and the answer sentence is chosen between cosines that
differ in the third decimal.

Derived from ``onnx/model.onnx`` (itself bound to the weights by ``source_fingerprint``), never downloaded.
Quantising the same file with the same recipe and onnxruntime gives the same bytes, so the file's sha256
names the vector space its encoder produces: the embedding cache and the index manifest carry it, and an
index built with it is queried with it too (see ``Encoder.fingerprint``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

from bot.model.onnx_copy import ONNX_FILE, current_onnx, transformer_folder
from bot.model.smooth import calibration_sha256, smooth

log = logging.getLogger(__name__)

INT8_FILE = ONNX_FILE.parent / "model.int8.onnx"
INT8_SOURCE = ONNX_FILE.parent / "model.int8.json"
# weights per output channel, every op onnxruntime can quantise (MatMul, Attention, the embedding table),
# after SmoothQuant on every constant-weight MatMul with the shipped calibration texts
SMOOTH_ALPHA = 0.7
RECIPE = {
    "weight_type": "QInt8",
    "per_channel": True,
    "ops": "all",
    "smooth": {"alpha": SMOOTH_ALPHA, "scales": "pow2", "calibration": calibration_sha256()[:16]},
}
VARIANTS = ("fp32", "int8")


def current_int8(folder: Path, fingerprint: str) -> tuple[Path, str] | None:
    """The int8 file and its sha256, if it was quantised from these weights with this recipe."""
    try:
        source = json.loads((folder / INT8_SOURCE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    fresh = source.get("fingerprint") == fingerprint and source.get("recipe") == RECIPE
    if fresh and (folder / INT8_FILE).exists():
        return folder / INT8_FILE, str(source.get("sha256", ""))
    return None


def quantize(folder: Path, fingerprint: str) -> tuple[Path, str]:
    """Quantise the fp32 export; the file appears only when complete, its record after it."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoTokenizer

    fp32 = current_onnx(folder, fingerprint)
    if fp32 is None:
        raise FileNotFoundError(f"no current fp32 ONNX export in {folder / ONNX_FILE} (make model writes it)")
    target = folder / INT8_FILE
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        tmp = Path(work) / "model.int8.onnx"
        smoothed = Path(work) / "model.smoothed.onnx"
        tokenizer = AutoTokenizer.from_pretrained(transformer_folder(folder), local_files_only=True)
        smooth(fp32, smoothed, tokenizer, SMOOTH_ALPHA)
        quantize_dynamic(
            smoothed,
            tmp,
            per_channel=bool(RECIPE["per_channel"]),
            weight_type=QuantType.QInt8,
            # the fused graph's contrib ops (Attention, SkipLayerNormalization) defeat shape inference
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
        os.replace(tmp, target)
        # replaced, not written through: a linked record (a read-only shared model folder) stays as it was
        record = Path(work) / "model.int8.json"
        record.write_text(json.dumps({"fingerprint": fingerprint, "recipe": RECIPE, "sha256": digest}, indent=2))
        os.replace(record, folder / INT8_SOURCE)
    return target, digest


def ensure_int8(folder: Path, fingerprint: str) -> tuple[Path, str] | None:
    """The int8 file, quantised first if missing or stale; None (passages stay fp32) when that fails."""
    current = current_int8(folder, fingerprint)
    if current is not None:
        return current
    log.info("量化段落编码用的 int8 ONNX 副本（约半分钟）：%s", folder / INT8_FILE)
    try:
        return quantize(folder, fingerprint)
    except Exception as exc:  # fp32 still encodes, only slower
        log.warning("int8 量化失败（%s），段落向量改用 fp32 计算。", exc)
        return None


def variant_fingerprint(fingerprint: str, variant: str, sha256: str = "") -> str:
    """The vector space's name: fp32 keeps the weights' fingerprint (old caches and indexes stay valid)."""
    return fingerprint if variant == "fp32" else f"{fingerprint}-{variant}-{sha256[:12]}"
