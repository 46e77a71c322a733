"""answer() latency at scale (default 60k passages), query encoding included.

python benchmarks/latency.py [--passages 60000]
The keyword index is real (seed + law paragraphs). Dense passage and sentence vectors come from the benchmark
embedding cache where a text was encoded before (benchmarks/quality.py encodes ~22k); the rest are random unit vectors, because
encoding 50k more passages takes about an hour on this 2-core box. Exact (flat) inner-product search costs the
same whatever the values, so the timing is that of the real code path; the quality numbers are not measured here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import LAWS, ROOT, SEED_QA, WORK, law_articles, missing, seed_corpus

from bot.model.encoder import load_encoder
from bot.retrieval.answer import answer
from bot.retrieval.evaluate import load_questions
from bot.retrieval.indexer import build_index, index_text, is_stale, make_faiss_index, sentence_texts
from bot.retrieval.search import Searcher, SearchIndex, _background
from bot.retrieval.vector_cache import EmbeddingCache


def corpus_of(passages: int) -> Path:
    corpus = WORK / f"latency{passages // 1000}k" / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for path in seed_corpus().iterdir():
        (corpus / path.name).write_bytes(path.read_bytes())
    laws = corpus / "laws.jsonl"
    if not laws.exists():
        laws.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in law_articles(passages)), encoding="utf-8")
    return corpus


def attach_vectors(index: SearchIndex, encoder) -> int:
    """Passage and sentence vectors: cached ones where the 10k benchmark encoded them, random unit vectors else."""
    cache = EmbeddingCache(WORK / "seed_laws10k" / "index" / "cache" / "embeddings.sqlite3", encoder.fingerprint)
    texts = [index_text(p) for p in index.passages]
    groups = [sentence_texts(p) for p in index.passages]
    sentences = [t for group in groups for t in group]
    found = cache.get_many(list(dict.fromkeys(texts + sentences)))
    rng = np.random.default_rng(0)

    def matrix_of(rows: list[str]) -> np.ndarray:
        matrix = rng.standard_normal((len(rows), encoder.dim)).astype(np.float32)
        for row, text in enumerate(rows):
            if text in found:
                matrix[row] = found[text]
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)

    index.vectors = make_faiss_index(matrix_of(texts), encoder.dim)
    index.background = _background(index.vectors)
    index.sentences = matrix_of(sentences).astype(np.float16)
    index.sentence_offsets = np.cumsum([0, *map(len, groups)]).astype(np.int64)
    return sum(t in found for t in texts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passages", type=int, default=60_000)
    args = parser.parse_args()
    if missing(LAWS):
        return
    encoder = load_encoder("multilingual-e5-small", ROOT / "models")
    corpus = corpus_of(args.passages)
    index_dir = corpus.parent / "index"
    if is_stale(corpus, index_dir, None):
        print("构建关键词索引 …", flush=True)
        build_index(corpus, index_dir, None, progress=False)
    index = SearchIndex.load(index_dir)
    real = attach_vectors(index, encoder)
    searcher = Searcher(index, encoder)
    questions = [q.question for q in load_questions(SEED_QA)]
    for q in questions[:5]:
        answer(q, searcher)
    times = []
    for _ in range(3):
        for q in questions:
            start = time.perf_counter()
            answer(q, searcher)
            times.append((time.perf_counter() - start) * 1000)
    p50, p95 = np.percentile(times, [50, 95])
    print(
        f"answer() at {len(index.passages)} passages ({real} real vectors): p50={p50:.1f} ms p95={p95:.1f} ms "
        f"over {len(times)} calls"
    )


if __name__ == "__main__":
    main()
