"""Index build throughput next to raw model.encode on the same passages (same run), and search latency.

python benchmarks/build.py [--passages 1000]
Build: a fresh index (empty embedding cache) of the seed plus N law passages; raw: encoder.encode_passages on
exactly the texts the build encoded (passages and their sentence units). Search latency: p50/p95 over tests/data/qa.jsonl on the seed and on the
seed + 10k law paragraphs (benchmarks/.work, built by benchmarks/quality.py or here).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import LAWS, ROOT, SEED_QA, WORK, distractor_corpus, law_articles, missing, seed_corpus

from bot.ingest import load_corpus
from bot.model.encoder import load_encoder
from bot.retrieval.evaluate import load_questions
from bot.retrieval.indexer import build_index, index_text, is_stale, sentence_texts
from bot.retrieval.passages import build_passages
from bot.retrieval.search import Searcher, SearchIndex


def throughput(encoder, extra_passages: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(seed_corpus(), corpus)
        if extra_passages and not missing(LAWS):
            rows = law_articles(extra_passages)
            (corpus / "laws.jsonl").write_text(
                "\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8"
            )
        start = time.perf_counter()
        report = build_index(corpus, Path(tmp) / "index", encoder, progress=False)
        build_s = time.perf_counter() - start
        passages = build_passages(load_corpus(corpus)[0])
        texts = list(dict.fromkeys(t for p in passages for t in (index_text(p), *sentence_texts(p))))
        start = time.perf_counter()
        encoder.encode_passages(texts)
        raw_s = time.perf_counter() - start
    build_rate, raw_rate = len(texts) / build_s, len(texts) / raw_s
    print(
        f"build: {report.passages} passages ({len(texts)} passage and sentence texts) in {build_s:.1f} s = "
        f"{report.passages / build_s:.1f} passages/s, {build_rate:.1f} texts/s; raw model.encode: {raw_rate:.1f} "
        f"texts/s; ratio build/raw = {build_rate / raw_rate:.2f}"
    )
    return {
        "passages": report.passages,
        "texts": len(texts),
        "passages_per_s": round(report.passages / build_s, 1),
        "build_texts_per_s": round(build_rate, 1),
        "raw_texts_per_s": round(raw_rate, 1),
        "ratio": round(build_rate / raw_rate, 2),
    }


def search_latency(searcher: Searcher, label: str) -> dict:
    questions = [q.question for q in load_questions(SEED_QA)]
    for q in questions[:5]:
        searcher.search(q)
    times = []
    for _ in range(3):
        for q in questions:
            start = time.perf_counter()
            searcher.search(q)
            times.append((time.perf_counter() - start) * 1000)
    p50, p95 = np.percentile(times, [50, 95])
    print(f"search latency {label} ({len(searcher.index.passages)} passages): p50={p50:.1f} ms p95={p95:.1f} ms")
    return {"passages": len(searcher.index.passages), "p50_ms": round(p50, 1), "p95_ms": round(p95, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passages", type=int, default=1000, help="law passages added to the seed for throughput")
    args = parser.parse_args()
    encoder = load_encoder("multilingual-e5-small", ROOT / "models")
    results = {"throughput": throughput(encoder, args.passages)}
    seed_index = WORK / "seed" / "index"
    if is_stale(seed_corpus(), seed_index, encoder.fingerprint):
        build_index(seed_corpus(), seed_index, encoder, progress=True)
    results["seed"] = search_latency(Searcher(SearchIndex.load(seed_index), encoder), "seed")
    if not missing(LAWS):
        corpus = distractor_corpus(10_000)
        index = corpus.parent / "index"
        if is_stale(corpus, index, encoder.fingerprint):
            build_index(corpus, index, encoder, progress=True)
        results["laws10k"] = search_latency(Searcher(SearchIndex.load(index), encoder), "seed+laws10k")
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "build.json").write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
