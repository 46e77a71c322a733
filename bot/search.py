"""Hybrid retrieval over one built index: keyword (bm25s) and dense (FAISS) legs fused, with a refusal rule."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import bm25s
import faiss
import numpy as np

from bot.embed import Encoder
from bot.indexer import current_path
from bot.passages import Passage
from bot.segment import Segmenter

CANDIDATES = 100
RRF_K = 60


class IndexMissing(RuntimeError):
    pass


@dataclass
class Hit:
    passage: Passage
    score: float
    bm25: float = 0.0
    dense: float = 0.0

    def to_dict(self) -> dict:
        p = self.passage
        return {"passage_id": p.passage_id, "article_id": p.article_id, "title": p.title, "place": p.place,
                "date": p.date, "source": p.source, "text": p.text, "score": round(float(self.score), 6)}


@dataclass
class SearchResult:
    question: str
    abstained: bool
    hits: list[Hit] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"question": self.question, "abstained": self.abstained, "results": [h.to_dict() for h in self.hits]}


@dataclass
class SearchIndex:
    path: Path
    passages: list[Passage]
    segmenter: Segmenter
    bm25: bm25s.BM25 | None
    vectors: faiss.Index | None
    manifest: dict

    @classmethod
    def load(cls, index_dir: Path) -> "SearchIndex":
        path = current_path(index_dir)
        if path is None:
            raise IndexMissing(f"索引不存在：{index_dir}（请先运行 python build_index.py）")
        with (path / "passages.jsonl").open(encoding="utf-8") as handle:
            passages = [Passage(**json.loads(line)) for line in handle]
        bm25 = bm25s.BM25.load(str(path / "bm25")) if (path / "bm25").exists() else None
        vectors = faiss.read_index(str(path / "vectors.faiss")) if (path / "vectors.faiss").exists() else None
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        return cls(path, passages, Segmenter.load(path / "userdict.txt"), bm25, vectors, manifest)


class Searcher:
    """Holds the index it serves; `index` may be replaced by a fresh SearchIndex at any time (hot swap)."""

    def __init__(self, index: SearchIndex, encoder: Encoder | None) -> None:
        self.index = index
        self.encoder = encoder if index.vectors is not None else None

    def bm25_scores(self, question: str, index: SearchIndex) -> np.ndarray:
        tokens = index.segmenter.tokens(question)
        if index.bm25 is None or not tokens:
            return np.zeros(len(index.passages), dtype=np.float32)
        return np.asarray(index.bm25.get_scores(tokens), dtype=np.float32)

    def dense_top(self, question: str, index: SearchIndex, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self.encoder is None or index.vectors is None or not index.passages:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        query = self.encoder.encode_query(question).reshape(1, -1)
        scores, ids = index.vectors.search(query, min(k, len(index.passages)))
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def search(self, question: str, k: int = 5) -> SearchResult:
        index = self.index
        bm25 = self.bm25_scores(question, index)
        dense_scores, dense_ids = self.dense_top(question, index, CANDIDATES)
        fused: dict[int, float] = {}
        bm25_order = np.argsort(-bm25)[:CANDIDATES]
        for rank, doc in enumerate(i for i in bm25_order if bm25[i] > 0):
            fused[int(doc)] = fused.get(int(doc), 0.0) + 1.0 / (RRF_K + rank + 1)
        for rank, doc in enumerate(dense_ids):
            fused[int(doc)] = fused.get(int(doc), 0.0) + 1.0 / (RRF_K + rank + 1)
        dense_by_doc = dict(zip(dense_ids.tolist(), dense_scores.tolist()))
        ranked = sorted(fused.items(), key=lambda item: -item[1])[:k]
        hits = [Hit(index.passages[d], s, float(bm25[d]), float(dense_by_doc.get(d, 0.0))) for d, s in ranked]
        abstained = not hits or float(bm25.max(initial=0.0)) <= 0.0
        return SearchResult(question, abstained, [] if abstained else hits)
