"""Quantisation recipes for the int8 copy, side by side: fidelity to fp32, speed, and answer() quality.

Each recipe quantises the local fp32 ONNX export into benchmarks/.work/int8b_recipes/<name>.onnx. Fidelity is
the cosine between a recipe's and fp32's vectors on a fixed sample of corpus texts; speed alternates fp32
and the recipe on the same texts in the same process (the box is shared, so only the ratio means anything);
quality builds an index of a benchmark corpus with the recipe (benchmarks/.work/int8b_<recipe>_<corpus>) and
asks each question set through answer(), as benchmarks.int8 does for the adopted recipe.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpora import ROOT, WORK, distractor_corpus
from benchmarks.int8 import MODEL, question_sets, texts_of
from bot.model.encoder import Encoder, OnnxEncoder, load_encoder
from bot.model.quantize import variant_fingerprint
from bot.retrieval.answer import answer
from bot.retrieval.evaluate import evaluate, load_questions
from bot.retrieval.indexer import build_index, is_stale
from bot.retrieval.search import Searcher, SearchIndex

OUT = WORK / "int8b_recipes"
LAYERS = 12


def layer_nodes(layers: list[int]) -> list[str]:
    """Every quantisable node of these encoder layers in the fused graph (Attention_<i> and the layer's MatMuls)."""
    names = []
    for i in layers:
        names.append(f"Attention_{i}")
        names += [
            f"/model/encoder/layer.{i}/{part}/dense/MatMul" for part in ("attention/output", "intermediate", "output")
        ]
    return names


def part_nodes(part: str) -> list[str]:
    """One kind of node in every layer: attention (QKV), attention/output, intermediate (FFN in), output (FFN out)."""
    if part == "attention":
        return [f"Attention_{i}" for i in range(LAYERS)]
    return [f"/model/encoder/layer.{i}/{part}/dense/MatMul" for i in range(LAYERS)]


def dynamic(weight_type: str = "QInt8", per_channel: bool = True, reduce_range: bool = False, exclude=(), ops=None):
    def make(src: Path, dst: Path) -> None:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(
            src,
            dst,
            per_channel=per_channel,
            reduce_range=reduce_range,
            weight_type=getattr(QuantType, weight_type),
            nodes_to_exclude=list(exclude),
            op_types_to_quantize=ops,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )

    return make


def calibration_texts(count: int = 64) -> list[str]:
    """Texts of the many-places corpus (benchmarks.quality writes it; disjoint from the fidelity sample's laws)."""
    pool = texts_of(WORK / "multi" / "corpus")
    return random.Random(1).sample(pool, min(count, len(pool)))


def channel_maxima(src: Path, inputs: list[str], texts: list[str]) -> dict[str, np.ndarray]:
    """max |x| per input channel of each named tensor, over every real token of the texts."""
    import onnx
    import onnxruntime as ort
    from transformers import AutoTokenizer

    model = onnx.load(str(src))
    for name in inputs:
        model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    tokenizer = AutoTokenizer.from_pretrained(ROOT / "models" / MODEL)
    wanted = [i.name for i in session.get_inputs()]
    maxima: dict[str, np.ndarray] = {}
    for start in range(0, len(texts), 8):
        batch = tokenizer(texts[start : start + 8], padding=True, truncation=True, max_length=512, return_tensors="np")
        ids = batch["input_ids"].astype(np.int64)
        feed = {"input_ids": ids, "attention_mask": batch["attention_mask"].astype(np.int64)}
        feed["token_type_ids"] = np.zeros_like(ids)
        outs = session.run(inputs, {k: v for k, v in feed.items() if k in wanted})
        mask = batch["attention_mask"].astype(bool)
        for name, out in zip(inputs, outs):
            peak = np.abs(out[mask]).max(axis=0)
            maxima[name] = np.maximum(maxima.get(name, peak), peak)
    return maxima


def smooth(alpha: float, parts: tuple[str, ...] = ("intermediate", "output"), then=None):
    """SmoothQuant: divide each MatMul's input channels by s and multiply the weight's rows by s (same product),
    s = max|x|^alpha / max|w|^(1-alpha), so an outlier channel no longer sets the whole tensor's int8 step."""

    def make(src: Path, dst: Path) -> None:
        import onnx
        from onnx import numpy_helper

        model = onnx.load(str(src))
        weights = {init.name: init for init in model.graph.initializer}
        chosen = {name for part in parts for name in part_nodes(part)}
        nodes = [n for n in model.graph.node if n.name in chosen]
        maxima = channel_maxima(src, [n.input[0] for n in nodes], calibration_texts())
        for node in nodes:
            w = numpy_helper.to_array(weights[node.input[1]])
            x = np.maximum(maxima[node.input[0]], 1e-5)
            s = (x**alpha / np.maximum(np.abs(w).max(axis=1), 1e-5) ** (1 - alpha)).astype(np.float32)
            s = np.clip(s, 1e-2, 1e3)
            weights[node.input[1]].CopyFrom(numpy_helper.from_array((w * s[:, None]).astype(np.float32), node.input[1]))
            inv = f"{node.name}_smooth_inv"
            model.graph.initializer.append(numpy_helper.from_array((1.0 / s).astype(np.float32), inv))
            scaled = f"{node.input[0]}_smoothed_{node.name}"
            model.graph.node.append(
                onnx.helper.make_node("Mul", [node.input[0], inv], [scaled], name=f"{node.name}_smooth")
            )
            node.input[0] = scaled
        # a topological order again: each Mul just before its MatMul
        order = []
        muls = {n.output[0]: n for n in model.graph.node if n.name.endswith("_smooth")}
        for n in model.graph.node:
            if n.name.endswith("_smooth"):
                continue
            if n.input and n.input[0] in muls:
                order.append(muls[n.input[0]])
            order.append(n)
        del model.graph.node[:]
        model.graph.node.extend(order)
        smoothed = dst.with_suffix(".fp32.onnx")
        onnx.save(model, str(smoothed))
        (then or dynamic())(smoothed, dst)
        smoothed.unlink()

    return make


def smooth_pow2(alpha: float, then=None):
    """bot.model.smooth: every constant-weight MatMul, power-of-two scales, the shipped calibration texts."""

    def make(src: Path, dst: Path) -> None:
        from transformers import AutoTokenizer

        from bot.model.smooth import smooth as smooth_graph

        smoothed = dst.with_suffix(".fp32.onnx")
        smooth_graph(src, smoothed, AutoTokenizer.from_pretrained(ROOT / "models" / MODEL), alpha)
        (then or dynamic())(smoothed, dst)
        smoothed.unlink()

    return make


RECIPES: dict[str, Any] = {
    "s8_pc": dynamic(),  # the adopted recipe
    "s8_pc_rr": dynamic(reduce_range=True),
    "u8_pc": dynamic("QUInt8"),
    "s8_pc_keep_ffnout": dynamic(exclude=part_nodes("output")),
    "s8_pc_keep_attnout": dynamic(exclude=part_nodes("attention/output")),
    "s8_pc_keep_ffnin": dynamic(exclude=part_nodes("intermediate")),
    "s8_pc_keep_qkv": dynamic(exclude=part_nodes("attention")),
    "s8_pc_keep_ends": dynamic(exclude=layer_nodes([0, LAYERS - 1])),
    "s8_pc_keep_last2": dynamic(exclude=layer_nodes([LAYERS - 2, LAYERS - 1])),
    "smooth50": smooth(0.5),
    "smooth70": smooth(0.7),
    "smooth85": smooth(0.85),
    "smooth50_ffnin": smooth(0.5, ("intermediate",)),
    "smooth60": smooth(0.6),
    "smooth75": smooth(0.75),
    "smooth80": smooth(0.8),
    "smooth70_all": smooth(0.7, ("attention", "attention/output", "intermediate", "output")),
    "smooth70_rr": smooth(0.7, then=dynamic(reduce_range=True)),
    "p2smooth60": smooth_pow2(0.6),
    "p2smooth70": smooth_pow2(0.7),
}


def recipe_file(name: str, source: Path) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.onnx"
    if not path.exists():
        started = time.perf_counter()
        tmp = OUT / f".{name}.tmp.onnx"
        RECIPES[name](source, tmp)
        tmp.rename(path)
        print(f"  quantised {name} in {time.perf_counter() - started:.0f} s", flush=True)
    return path


def with_onnx(base: Encoder, path: Path, name: str) -> Encoder:
    """A copy of the fp32 encoder whose passages and questions go through this ONNX file."""
    onnx = OnnxEncoder(path, base.model.tokenizer, base.model.max_seq_length, base.recipe)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    encoder = Encoder(base.model, base.model_id, base.fingerprint, base.batch_size, onnx, base.recipe)
    encoder.passages = onnx
    encoder.variant, encoder.variant_sha256 = f"int8:{name}", digest
    encoder.fingerprint = variant_fingerprint(encoder.fingerprint, "int8", digest)
    return encoder


def sample_texts(count: int) -> list[str]:
    pool = texts_of(distractor_corpus(10_000))
    return random.Random(0).sample(pool, min(count, len(pool)))


def fidelity(fp32: OnnxEncoder, other: OnnxEncoder, texts: list[str], prompt: str, rounds: int) -> dict:
    texts = [prompt + t for t in texts]
    reference = fp32.encode_batch(texts)
    vectors = other.encode_batch(texts)
    cos = np.sum(reference * vectors, axis=1)
    seconds = {"fp32": 0.0, "int8": 0.0}
    for turn in range(rounds):
        for name in ("fp32", "int8") if turn % 2 == 0 else ("int8", "fp32"):
            started = time.perf_counter()
            (fp32 if name == "fp32" else other).encode_batch(texts)
            seconds[name] += time.perf_counter() - started
    return {
        "cos_mean": round(float(cos.mean()), 5),
        "cos_min": round(float(cos.min()), 5),
        "fp32_texts_per_s": round(len(texts) * rounds / seconds["fp32"], 1),
        "int8_texts_per_s": round(len(texts) * rounds / seconds["int8"], 1),
        "ratio": round(seconds["fp32"] / seconds["int8"], 2),
        "mb": 0,
    }


def quality(encoder: Encoder, name: str, sets: list[str]) -> dict:
    results: dict = {}
    searchers: dict[str, Searcher] = {}
    for label in sets:
        corpus, files = question_sets()[label]
        if corpus not in searchers:
            index = WORK / f"int8b_{name}_{corpus}" / "index"
            if is_stale(WORK / corpus / "corpus", index, encoder.fingerprint):
                started = time.perf_counter()
                build_index(WORK / corpus / "corpus", index, encoder, progress=False)
                print(f"  built {index} in {time.perf_counter() - started:.0f} s", flush=True)
            searchers[corpus] = Searcher(SearchIndex.load(index), encoder)
        questions = [q for path in files if path.exists() for q in load_questions(path)]
        metrics = evaluate(questions, lambda q, s=searchers[corpus]: answer(q, s, k=10))
        results[label] = {key: metrics[key] for key in ("r1", "answer1")} | {"n": len(questions)}
        print(f"  {name:22s} {label:22s} R@1 {metrics['r1']:.3f} answer@1 {metrics['answer1']:.3f}", flush=True)
    return results


def fp32_quality(encoder: Encoder, sets: list[str]) -> dict:
    results: dict = {}
    for label in sets:
        corpus, files = question_sets()[label]
        index = WORK / corpus / "index"
        searcher = Searcher(SearchIndex.load(index), encoder)
        questions = [q for path in files if path.exists() for q in load_questions(path)]
        metrics = evaluate(questions, lambda q, s=searcher: answer(q, s, k=10))
        results[label] = {key: metrics[key] for key in ("r1", "answer1")} | {"n": len(questions)}
        print(f"  {'fp32':22s} {label:22s} R@1 {metrics['r1']:.3f} answer@1 {metrics['answer1']:.3f}", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.int8_recipes", description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="*", default=list(RECIPES))
    parser.add_argument("--sample", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sets", default="", help="comma-separated question sets for quality; empty: none")
    parser.add_argument("--fp32", action="store_true", help="also the fp32 indexes' quality on those sets")
    args = parser.parse_args()
    base = load_encoder(MODEL, ROOT / "models")
    assert base is not None and base.queries is not None
    source = ROOT / "models" / MODEL / "onnx" / "model.onnx"
    out = OUT / "results.json"
    results = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    sets = [s for s in args.sets.split(",") if s]
    if args.fp32 and sets:
        results.setdefault("fp32", {}).update(fp32_quality(base, sets))
    texts = sample_texts(args.sample) if args.sample else []
    for name in args.recipes:
        path = recipe_file(name, source)
        encoder = with_onnx(base, path, name)
        row = results.setdefault(name, {})
        if texts:
            row.update(fidelity(base.queries, encoder.passages, texts, base.recipe.passage_prompt, args.rounds))
            row["mb"] = round(path.stat().st_size / 2**20, 1)
            print(f"{name}: {row}", flush=True)
        if sets:
            row.setdefault("quality", {}).update(quality(encoder, name, sets))
        out.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
