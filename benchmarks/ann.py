"""Exact vs approximate FAISS search at a large archive's size: recall@100 against exact, and latency per question.

The searcher asks FAISS for its 100 best passages (search.CANDIDATES), so recall@100 is what an approximate
index can lose. Real e5 passage vectors come from the benchmark indexes' embedding caches; the rest up to
the target count are filler, either random unit vectors or real vectors with noise ("jitter": cosine ≈ 0.9
to a real one, so the filler crowds the real neighbourhoods as a larger archive of similar text would).
Questions are the seed's, round 3's, the multi-place set's and CMRC's, encoded by the real model.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time

import faiss
import numpy as np

from benchmarks.corpora import ROOT, ROUND3_QA, SEED_QA, WORK, multi_questions
from benchmarks.timing import time_calls
from bot.model.encoder import load_encoder
from bot.retrieval.evaluate import load_questions
from bot.retrieval.vector_index import build

K = 100
CACHES = ("seed_laws10k", "cmrc", "multi", "seed")


def real_vectors() -> np.ndarray:
    """Every distinct cached vector of the benchmark indexes (fp32 e5 passages and sentence units)."""
    rows: dict[bytes, None] = {}
    for name in CACHES:
        path = WORK / name / "index" / "cache" / "embeddings.sqlite3"
        if path.exists():
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            rows.update(dict.fromkeys(blob for (blob,) in db.execute("SELECT vec FROM vectors")))
            db.close()
    return np.stack([np.frombuffer(b, dtype=np.float32) for b in rows])


def filled(real: np.ndarray, total: int, fill: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    extra = total - len(real)
    if fill == "random":
        noise = rng.standard_normal((extra, real.shape[1])).astype(np.float32)
    else:
        base = real[rng.integers(0, len(real), extra)]
        # noise of norm ≈ 0.48 around a unit vector leaves it at cosine ≈ 0.9 to where it came from
        noise = base + 0.48 / np.sqrt(real.shape[1]) * rng.standard_normal(base.shape).astype(np.float32)
    matrix = np.concatenate([real, noise])
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def queries(limit: int) -> np.ndarray:
    encoder = load_encoder("multilingual-e5-small", ROOT / "models")
    assert encoder is not None
    paths = [SEED_QA, ROUND3_QA, *multi_questions(), WORK / "cmrc" / "qa.jsonl"]
    texts = [q.question for p in paths if p.exists() for q in load_questions(p)]
    texts = [texts[i] for i in np.random.default_rng(1).permutation(len(texts))[:limit]]
    return np.stack([encoder.encode_query(t) for t in texts])


def measure(index: faiss.Index, qs: np.ndarray, truth: np.ndarray) -> dict:
    timing = time_calls(lambda q: index.search(q.reshape(1, -1), K), list(qs), warmup=10)
    found = index.search(qs, K)[1]
    recall = np.mean([len(set(f.tolist()) & set(t.tolist())) / K for f, t in zip(found, truth)])
    return {"recall100": round(float(recall), 4), **timing.summary()}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ann", description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=250_000)
    parser.add_argument("--questions", type=int, default=400)
    parser.add_argument("--fill", choices=["random", "jitter"], nargs="+", default=["random", "jitter"])
    parser.add_argument("--no-hnsw", action="store_true", help="skip HNSW (its build is long on a small box)")
    parser.add_argument(
        "--flat-sizes",
        type=int,
        nargs="*",
        default=[50_000, 100_000, 150_000, 200_000],
        help="smaller counts at which exact search is also timed, to see where it grows past its budget",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="FAISS OpenMP threads (the bot serves one question per call)"
    )
    args = parser.parse_args()
    faiss.omp_set_num_threads(args.threads)
    real = real_vectors()
    qs = queries(args.questions)
    results: dict = {"real": len(real), "passages": args.passages, "questions": len(qs)}
    print(f"{len(real)} real vectors, {len(qs)} questions, {args.passages} passages", flush=True)
    for fill in args.fill:
        matrix = filled(real, args.passages, fill)
        flat, _ = build(matrix, matrix.shape[1], ann_threshold=len(matrix) + 1)
        truth = flat.search(qs, K)[1]
        rows = {"flat": measure(flat, qs, truth)}
        started = time.perf_counter()
        ivf, entry = build(matrix, matrix.shape[1], ann_threshold=1)
        ivf_seconds = time.perf_counter() - started
        for nprobe in (8, 16, 32, 64, 128):
            ivf.nprobe = nprobe
            rows[f"ivf{entry['lists']}/nprobe{nprobe}"] = measure(ivf, qs, truth)
        rows["ivf_build_s"] = round(ivf_seconds, 1)
        if not args.no_hnsw:
            started = time.perf_counter()
            hnsw = faiss.IndexHNSWFlat(matrix.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efConstruction = 80
            hnsw.add(matrix)
            rows["hnsw_build_s"] = round(time.perf_counter() - started, 1)
            for ef in (64, 128, 256):
                hnsw.hnsw.efSearch = ef
                rows[f"hnsw32/ef{ef}"] = measure(hnsw, qs, truth)
        for name, row in rows.items():
            print(f"{fill:6s} {name:22s} {row}", flush=True)
        for size in args.flat_sizes if fill == args.fill[0] else []:  # exact search's cost ignores the values
            small, _ = build(matrix[:size], matrix.shape[1], ann_threshold=size + 1)
            rows[f"flat@{size}"] = measure(small, qs, small.search(qs, K)[1])
            print(f"{fill:6s} {'flat@' + str(size):22s} {rows[f'flat@{size}']}", flush=True)
        results[fill] = rows
    out = WORK / "int8_ann.json"
    previous = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    out.write_text(json.dumps({**previous, **results}, indent=2), encoding="utf-8")
    print(f"结果已写入 {out}")


if __name__ == "__main__":
    main()
