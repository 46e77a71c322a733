"""SmoothQuant for the int8 copy: move the activations' outlier channels into the weights before quantising.

BERT-like encoders carry a few hidden channels whose values are tens of times larger than the rest, and
dynamic quantisation gives each activation tensor one int8 step, so those channels set a step too coarse
for every other channel. Dividing a MatMul's input channel j by s_j and multiplying row j of its constant
weight by s_j leaves the product unchanged while flattening the channels: s_j = max|x_j|^α / max|w_j|^(1−α)
(Xiao et al., "SmoothQuant", 2023). The division is a Mul by a constant vector inserted before the MatMul,
since the tensor also feeds a residual connection or comes out of a non-linear op. Each s_j is rounded to a
power of two, so the fp32 graph stays exactly the original function: only quantisation sees a difference.

The activation maxima come from running the fp32 graph on a fixed set of texts shipped with the bot
(``calibration.txt``), so the same export and the same onnxruntime give the same file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

CALIBRATION = Path(__file__).with_name("calibration.txt")
SMOOTHED = "_smooth"  # suffix of the inserted Mul nodes and their constants


def calibration_texts() -> list[str]:
    """One text a line, already prefixed as the encoder would prefix it (passage: / query:)."""
    return [line for line in CALIBRATION.read_text(encoding="utf-8").splitlines() if line.strip()]


def calibration_sha256() -> str:
    return hashlib.sha256(CALIBRATION.read_bytes()).hexdigest()


def smoothable(model: Any) -> list[int]:
    """Positions of the nodes whose input times a constant 2-D weight is the first thing they compute: every
    block's dense layers (MatMul) and, in onnxruntime's fused graph, its query/key/value projection (Attention)."""
    constants = {init.name: init for init in model.graph.initializer}
    return [
        i
        for i, node in enumerate(model.graph.node)
        if node.op_type in ("MatMul", "Attention")
        and len(node.input) > 1
        and node.input[1] in constants
        and len(constants[node.input[1]].dims) == 2
    ]


def channel_maxima(model: Any, tensors: list[str], texts: list[str], tokenizer: Any, max_length: int) -> list:
    """max |x| per channel (last axis) of each named tensor, over the real tokens of every text."""
    import onnx
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for name in tensors:
        probe.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    inputs = [i.name for i in session.get_inputs()]
    maxima: list = [None] * len(tensors)
    for start in range(0, len(texts), 8):
        batch = tokenizer(
            texts[start : start + 8], padding=True, truncation=True, max_length=max_length, return_tensors="np"
        )
        ids = np.asarray(batch["input_ids"], dtype=np.int64)
        mask = np.asarray(batch["attention_mask"], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        outputs = session.run(tensors, {name: feed[name] for name in inputs})
        for i, out in enumerate(outputs):
            peak = np.abs(out[mask == 1]).max(axis=0)
            maxima[i] = peak if maxima[i] is None else np.maximum(maxima[i], peak)
    return maxima


def smooth(src: Path, dst: Path, tokenizer: Any, alpha: float, max_length: int = 512) -> int:
    """Write the smoothed fp32 graph of ``src`` to ``dst``; the number of MatMuls smoothed."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(src))
    positions = smoothable(model)
    nodes = [model.graph.node[i] for i in positions]
    constants = {init.name: init for init in model.graph.initializer}
    maxima = channel_maxima(model, [n.input[0] for n in nodes], calibration_texts(), tokenizer, max_length)
    muls: dict[int, Any] = {}
    for position, node, peak in zip(positions, nodes, maxima):
        weight = numpy_helper.to_array(constants[node.input[1]])
        scale = np.maximum(peak, 1e-5) ** alpha / np.maximum(np.abs(weight).max(axis=1), 1e-5) ** (1 - alpha)
        scale = np.exp2(np.round(np.log2(scale))).astype(np.float32)  # exact in fp32: x / s · (s · w) = x · w
        constants[node.input[1]].CopyFrom(numpy_helper.from_array(weight * scale[:, None], node.input[1]))
        inverse = f"{node.input[1]}{SMOOTHED}"
        model.graph.initializer.append(numpy_helper.from_array((1 / scale).astype(np.float32), inverse))
        scaled = f"{node.input[0]}{SMOOTHED}_{len(muls)}"
        muls[position] = onnx.helper.make_node("Mul", [node.input[0], inverse], [scaled], name=inverse)
        node.input[0] = scaled
    ordered = [n for i, node in enumerate(model.graph.node) for n in ([muls[i]] if i in muls else []) + [node]]
    del model.graph.node[:]
    model.graph.node.extend(ordered)  # each Mul just before its MatMul keeps the graph topologically sorted
    onnx.save(model, str(dst))
    return len(nodes)
