"""answer() latency at a corpus size the seed cannot show, query encoding included.

The keyword index is real (the seed among law paragraphs). Dense passage and sentence vectors come from the
embedding cache of the law-distractor index that benchmarks.quality builds, where a text was encoded there;
the rest are random unit vectors, because encoding every passage at this size takes hours on a small CPU box.
Exact (flat) inner-product search costs the same whatever the vectors hold, so the timing is that of the real
code path; answer quality is not measured here.
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.corpora import LAWS, ROOT, SEED_QA, WORK, distractor_corpus, missing
from benchmarks.timing import time_calls
from bot.model.encoder import load_encoder
from bot.retrieval import vector_index
from bot.retrieval.answer import answer
from bot.retrieval.evaluate import load_questions
from bot.retrieval.indexer import build_index, index_text, is_stale, sentence_texts
from bot.retrieval.search import Searcher, SearchIndex, _background
from bot.retrieval.vector_cache import EmbeddingCache


def attach_vectors(index: SearchIndex, encoder, ann_threshold: int = vector_index.DEFAULT_ANN_THRESHOLD) -> int:
    """Real vectors where benchmarks.quality's law index encoded the text, random unit vectors elsewhere.

    With real vectors the seed's questions meet their own passages with real scores, so answer() answers and
    refuses them as it would in use instead of working on noise.
    """
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

    index.vectors, index.manifest["vectors"] = vector_index.build(matrix_of(texts), encoder.dim, ann_threshold)
    vector_index.prepare(index.vectors, index.manifest["vectors"])
    index.background = _background(index.vectors)
    index.sentences = matrix_of(sentences).astype(np.float16)
    index.sentence_offsets = np.cumsum([0, *map(len, groups)]).astype(np.int64)
    return sum(t in found for t in texts)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.latency", description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=60_000, help="law passages around the seed")
    parser.add_argument(
        "--ann-threshold",
        type=int,
        default=vector_index.DEFAULT_ANN_THRESHOLD,
        help="passages from which the vectors go into an IVF index (as Settings.ann_threshold)",
    )
    args = parser.parse_args()
    if missing(LAWS):
        return
    encoder = load_encoder("multilingual-e5-small", ROOT / "models")
    corpus = distractor_corpus(args.passages, prefix="latency")
    index_dir = corpus.parent / "index"
    if is_stale(corpus, index_dir, None):
        print("构建关键词索引 …", flush=True)
        build_index(corpus, index_dir, None, progress=False)
    index = SearchIndex.load(index_dir)
    real = attach_vectors(index, encoder, args.ann_threshold)
    searcher = Searcher(index, encoder)
    questions = [q.question for q in load_questions(SEED_QA)]
    timing = time_calls(lambda q: answer(q, searcher), questions, rounds=3, warmup=5)
    print(
        f"answer() at {len(index.passages)} passages ({real} real vectors, {index.manifest['vectors']}): "
        f"p50={timing.p50_ms:.1f} ms "
        f"p95={timing.p95_ms:.1f} ms over {timing.calls} calls"
    )


if __name__ == "__main__":
    main()
