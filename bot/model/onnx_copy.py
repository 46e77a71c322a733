"""An ONNX copy of the encoder for questions: onnxruntime encodes one short question ≈ 3× faster than torch.

Derived from the sentence-transformers folder (same weights), written beside it as ``onnx/model.onnx`` and
left out of the model fingerprint, so cached passage vectors and built indexes stay valid.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path

log = logging.getLogger(__name__)

ONNX_FILE = Path("onnx") / "model.onnx"
SOURCE_FILE = ONNX_FILE.parent / "source_fingerprint"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def current_onnx(folder: Path, fingerprint: str) -> Path | None:
    """The export, if it was made from exactly these weights (a replaced model must not keep an old copy)."""
    source = folder / SOURCE_FILE
    if (folder / ONNX_FILE).exists() and source.exists() and source.read_text().strip() == fingerprint:
        return folder / ONNX_FILE
    return None


def export_onnx(folder: Path, fingerprint: str) -> Path:
    """Export the folder's BertModel, then let onnxruntime fuse attention and layer norms (opt_level 1).

    Eager attention exports as plain ops that the optimizer fuses; the sdpa export does not fuse and runs slower.
    The tracer's warnings (mask shortcuts, index ops) are harmless: the export matches torch to cosine 1.0, padded
    mixed-length batches included.
    The file appears only when complete.
    """
    import torch
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoModel

    target = folder / ONNX_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    model = AutoModel.from_pretrained(folder, local_files_only=True, attn_implementation="eager").eval()

    class Hidden(torch.nn.Module):  # positional inputs, the last hidden state only
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    ids = torch.tensor([[0, 1294, 12, 6, 2]])  # any short input: batch and sequence axes are dynamic
    axes = {name: {0: "batch", 1: "seq"} for name in (*INPUTS, "last_hidden_state")}
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        raw, fused = Path(work) / "raw.onnx", Path(work) / "model.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Hidden(),
                (ids, torch.ones_like(ids), torch.zeros_like(ids)),
                str(raw),
                input_names=list(INPUTS),
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        optimized = optimize_model(
            str(raw),
            model_type="bert",
            num_heads=model.config.num_attention_heads,
            hidden_size=model.config.hidden_size,
            opt_level=1,
        )
        optimized.save_model_to_file(str(fused))
        os.replace(fused, target)
    (folder / SOURCE_FILE).write_text(fingerprint)
    return target


def ensure_onnx(folder: Path, fingerprint: str) -> Path | None:
    """The ONNX file, exported first if missing or stale; None (torch encodes questions) when the export fails."""
    current = current_onnx(folder, fingerprint)
    if current is not None:
        return current
    log.info("导出问题编码用的 ONNX 副本（约一分钟）：%s", folder / ONNX_FILE)
    try:
        return export_onnx(folder, fingerprint)
    except Exception as exc:  # questions are still encoded by torch, only slower
        log.warning("ONNX 导出失败（%s），问题向量改用 torch 计算。", exc)
        return None
