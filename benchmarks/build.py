"""Index build throughput beside raw model.encode on the same texts in the same run, then search latency.

Encoding dominates a build, so the ratio build/raw shows what the rest of the build (segmenting, BM25,
the embedding cache, FAISS) costs. Both are measured in one run to compare like with like; on a shared box,
load that changes between the two still skews the ratio, so read it beside the box's load.
The build starts from an empty embedding cache, as a first build on a new machine does. Search latency is
timed on the seed alone and among law distractors (the index benchmarks.quality builds, or built here).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from benchmarks.corpora import LAWS, ROOT, SEED_QA, WORK, distractor_corpus, missing, seed_corpus
from benchmarks.timing import time_calls
from bot.ingest import load_corpus
from bot.model.encoder import Encoder, load_encoder
from bot.retrieval.evaluate import load_questions
from bot.retrieval.indexer import build_index, index_text, is_stale, sentence_texts
from bot.retrieval.passages import build_passages
from bot.retrieval.search import Searcher, SearchIndex


def throughput(encoder: Encoder, extra_passages: int) -> dict:
    corpus = distractor_corpus(extra_passages) if extra_passages and not missing(LAWS) else seed_corpus()
    with tempfile.TemporaryDirectory(dir=WORK, prefix="build-") as tmp:
        build = time_calls(lambda c: build_index(c, Path(tmp) / "index", encoder, progress=False), [corpus])
    # the texts the build encoded, worked out after it so that the build pays for reading the corpus first
    passages = build_passages(load_corpus(corpus)[0])
    texts = list(dict.fromkeys(t for p in passages for t in (index_text(p), *sentence_texts(p))))
    raw = time_calls(encoder.encode_passages, [texts])
    build_rate, raw_rate = len(texts) / build.wall, len(texts) / raw.wall
    print(
        f"build: {len(passages)} passages ({len(texts)} passage and sentence texts) in {build.wall:.1f} s = "
        f"{len(passages) / build.wall:.1f} passages/s, {build_rate:.1f} texts/s; raw model.encode: {raw_rate:.1f} "
        f"texts/s; ratio build/raw = {build_rate / raw_rate:.2f}"
    )
    return {
        "passages": len(passages),
        "texts": len(texts),
        "passages_per_s": round(len(passages) / build.wall, 1),
        "build_texts_per_s": round(build_rate, 1),
        "raw_texts_per_s": round(raw_rate, 1),
        "ratio": round(build_rate / raw_rate, 2),
    }


def search_latency(searcher: Searcher, label: str) -> dict:
    questions = [q.question for q in load_questions(SEED_QA)]
    timing = time_calls(searcher.search, questions, rounds=3, warmup=5)
    passages = len(searcher.index.passages)
    print(f"search latency {label} ({passages} passages): p50={timing.p50_ms:.1f} ms p95={timing.p95_ms:.1f} ms")
    return {"passages": passages, **timing.summary()}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.build", description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=1000, help="law passages added to the seed for throughput")
    parser.add_argument(
        "--skip-laws10k",
        action="store_true",
        help="no search latency among 10k law paragraphs (a first build of that index encodes for a long time)",
    )
    args = parser.parse_args()
    encoder = load_encoder("multilingual-e5-small", ROOT / "models")
    results = {"throughput": throughput(encoder, args.passages)}
    seed_index = WORK / "seed" / "index"
    if is_stale(seed_corpus(), seed_index, encoder.fingerprint):
        build_index(seed_corpus(), seed_index, encoder, progress=True)
    results["seed"] = search_latency(Searcher(SearchIndex.load(seed_index), encoder), "seed")
    if not args.skip_laws10k and not missing(LAWS):
        corpus = distractor_corpus(10_000)
        index = corpus.parent / "index"
        if is_stale(corpus, index, encoder.fingerprint):
            build_index(corpus, index, encoder, progress=True)
        results["laws10k"] = search_latency(Searcher(SearchIndex.load(index), encoder), "seed+laws10k")
    (WORK / "build.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"结果已写入 {WORK / 'build.json'}")


if __name__ == "__main__":
    main()
