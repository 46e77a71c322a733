"""An ONNX copy of the encoder's transformer for questions: onnxruntime encodes one short question faster than torch.

Derived from the sentence-transformers folder (same weights), written beside it as ``onnx/model.onnx`` and
left out of the model fingerprint, so cached passage vectors and built indexes stay valid. It holds the
transformer only; the encoder pools and normalises as the folder's own modules say.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

ONNX_FILE = Path("onnx") / "model.onnx"
SOURCE_FILE = ONNX_FILE.parent / "source_fingerprint"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")  # the ones the model's forward() takes are exported
BERT_LIKE = {"bert", "roberta", "xlm-roberta", "camembert", "distilbert", "electra"}  # fused by onnxruntime


def current_onnx(folder: Path, fingerprint: str) -> Path | None:
    """The export, if it was made from exactly these weights (a replaced model must not keep an old copy)."""
    source = folder / SOURCE_FILE
    if (folder / ONNX_FILE).exists() and source.exists() and source.read_text().strip() == fingerprint:
        return folder / ONNX_FILE
    return None


def transformer_folder(folder: Path) -> Path:
    """Where modules.json puts the Transformer module: the folder itself for e5, a subfolder for some models."""
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return folder
    path = next((m.get("path", "") for m in modules if str(m.get("type", "")).endswith("Transformer")), "")
    return folder / path


def export_onnx(folder: Path, fingerprint: str) -> Path:
    """Export the folder's transformer, then let onnxruntime fuse attention and layer norms (opt_level 1).

    Eager attention exports as plain ops that the optimizer fuses; the sdpa export does not fuse and runs slower.
    The tracer's warnings (mask shortcuts, index ops) are harmless. Only BERT-like models are fused, and the
    result must reproduce torch's hidden states before it replaces anything, so a model the exporter or the
    optimizer gets wrong fails here and keeps questions on torch. The file appears only when complete.
    """
    import torch
    from transformers import AutoModel

    target = folder / ONNX_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    model = AutoModel.from_pretrained(
        transformer_folder(folder), local_files_only=True, attn_implementation="eager"
    ).eval()
    names = [name for name in INPUTS if name in inspect.signature(model.forward).parameters]

    class Hidden(torch.nn.Module):  # positional inputs, the last hidden state only
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: Any) -> Any:
            return self.model(**dict(zip(names, inputs))).last_hidden_state

    ids = torch.tensor([[0, 1294, 12, 6, 2]]) % model.config.vocab_size  # batch and sequence axes are dynamic
    sample = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids)}
    args = tuple(sample[name] for name in names)
    axes = {name: {0: "batch", 1: "seq"} for name in (*names, "last_hidden_state")}
    hidden = Hidden().eval()  # a fresh Module trains, and export restores that mode onto the model too
    with torch.no_grad():
        expected = hidden(*args).numpy()[0]
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        raw, fused = Path(work) / "raw.onnx", Path(work) / "model.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                hidden,
                args,
                str(raw),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        _optimize(raw, fused, model.config)
        _check(fused, {name: sample[name].numpy() for name in names}, expected)
        os.replace(fused, target)
    (folder / SOURCE_FILE).write_text(fingerprint)
    return target


def _optimize(raw: Path, fused: Path, config: Any) -> None:
    """onnxruntime's BERT fusions for the models they were written for; any other graph is kept as exported."""
    if config.model_type not in BERT_LIKE:
        os.replace(raw, fused)
        return
    from onnxruntime.transformers.optimizer import optimize_model

    optimized = optimize_model(
        str(raw),
        model_type="bert",
        num_heads=getattr(config, "num_attention_heads", 0),
        hidden_size=getattr(config, "hidden_size", 0),
        opt_level=1,
    )
    optimized.save_model_to_file(str(fused))


def _check(path: Path, feed: dict[str, np.ndarray], expected: np.ndarray) -> None:
    """Each token's state from the file must point where torch's does, or the file is not this model."""
    import onnxruntime as ort

    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feed)[0][0]
    if got.shape != expected.shape:
        raise ValueError(f"the ONNX export gives states of shape {got.shape}, torch {expected.shape}")
    cosine = (got * expected).sum(axis=1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(expected, axis=1))
    if float(cosine.min()) < 0.9999:
        raise ValueError(f"the ONNX export does not reproduce torch (token cosine {float(cosine.min()):.5f})")


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
