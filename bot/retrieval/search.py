"""Hybrid retrieval over one built index: keyword (bm25s) and dense (FAISS) legs fused, with a refusal rule."""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import bm25s
import faiss
import numpy as np
from threadpoolctl import threadpool_limits

from bot.ingest.places import short_form, to_simplified
from bot.model.encoder import Encoder
from bot.retrieval import vector_index
from bot.retrieval.coverage import Coverage
from bot.retrieval.index_files import (
    BM25,
    CURRENT,
    MANIFEST,
    PASSAGES,
    PLACES,
    SENTENCE_OFFSETS,
    SENTENCES,
    USERDICT,
    VECTORS,
    IndexMissing,
    builds_newest_first,
    current_path,
    index_text,
)
from bot.retrieval.names import question_names, quoted_names
from bot.retrieval.passages import Passage
from bot.retrieval.question_types import answer_pattern
from bot.retrieval.segment import Segmenter, content_chars
from bot.retrieval.sentences import opens_with_remark, squash
from bot.retrieval.tuning import FITTED, Tuning

logging.getLogger("bm25s").setLevel(logging.WARNING)
log = logging.getLogger(__name__)

_RECENT = re.compile(r"最近|最新|近期|今年|目前|现在|眼下|新近")
CANDIDATES = 100
CHAR_DEPTH = 30
BACKGROUND_SAMPLE = 2048
TYPE_DEPTH = 5
NAMED_ARTICLES = 50  # a quoted name carried by more articles than this is common parlance, not a practice's
MODES = ("bm25", "dense", "hybrid")


@dataclass
class Hit:
    passage: Passage
    score: float
    bm25: float = 0.0
    dense: float = 0.0
    sentences: list[float] = field(default_factory=list)  # cosine of each sentence unit, in text order

    def to_dict(self) -> dict:
        p = self.passage
        return {
            "passage_id": p.passage_id,
            "article_id": p.article_id,
            "title": p.title,
            "place": p.place,
            "date": p.date,
            "source": p.source,
            "text": p.text,
            "score": round(float(self.score), 6),
        }


@dataclass
class DenseView:
    """One question's cosines: exact for candidates, the background mean for the rest."""

    scores: np.ndarray
    query: np.ndarray
    mean: float
    std: float


@dataclass
class Evidence:
    """Why the searcher believes (or not) that the corpus answers the question."""

    coverage: float = 0.0  # IDF-weighted share of the question's words in the judged passage
    char_coverage: float = 0.0  # share of the question's content characters in it
    dense_z: float = 0.0  # best passage cosine, in background standard deviations
    sentence_cos: float = 0.0  # best sentence-unit cosine among the hits
    type_found: bool = True  # a count, size or year of the asked kind is stated in the top hits


@dataclass
class SearchResult:
    question: str
    abstained: bool
    hits: list[Hit] = field(default_factory=list)
    evidence: Evidence = field(default_factory=Evidence)
    absent: list[str] = field(default_factory=list)  # places the question names that no article is about
    named: set[str] = field(default_factory=set)  # covered places the question names
    unanswered: list[str] = field(default_factory=list)  # named covered places whose articles do not answer it
    unknown: list[str] = field(default_factory=list)  # quoted names no article carries

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
    idf: dict[str, float] = field(default_factory=dict)
    background: np.ndarray | None = None
    max_idf: float = 1.0
    sentences: np.ndarray | None = None
    sentence_offsets: np.ndarray | None = None
    fallback: str = ""  # why an older build is served instead of index/current, or ""
    coverage: Coverage = field(default_factory=lambda: Coverage(frozenset(), frozenset()))
    articles: dict[str, list[int]] = field(default_factory=dict)  # article id → its passages, in order
    haystack: str = ""  # every passage's indexed text, simplified and unspaced, one after another
    starts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # each passage's offset in it
    remarks: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # opens with someone's words

    @classmethod
    def load(cls, index_dir: Path) -> SearchIndex:
        """The current build, or else the newest older build that loads whole (a disk error or a bad copy
        must not take the bot down when yesterday's index is still there)."""
        current = current_path(index_dir)
        candidates = list(dict.fromkeys([*([current] if current else []), *builds_newest_first(index_dir)]))
        if not candidates:
            raise IndexMissing(f"索引不存在：{index_dir}（请先运行 python build_index.py）")
        problems = []
        for path in candidates:
            try:
                index = cls._load_build(path)
            except Exception as exc:  # any unreadable file means this build cannot serve
                problems.append(f"{path.name}：{type(exc).__name__}: {exc}")
                log.warning("索引 %s 无法加载：%s", path, exc)
                continue
            if path != current:
                why = problems[0] if problems else f"{index_dir / CURRENT} 不存在"
                index.fallback = f"当前索引无法加载（{why}），改用较早的索引 {path.name}"
                log.warning(index.fallback)
            return index
        raise IndexMissing("索引无法加载，请重新运行 python build_index.py：\n" + "\n".join(problems))

    @classmethod
    def _load_build(cls, path: Path) -> SearchIndex:
        with (path / PASSAGES).open(encoding="utf-8") as handle:
            passages = [Passage(**json.loads(line)) for line in handle]
        bm25 = bm25s.BM25.load(str(path / BM25)) if (path / BM25).exists() else None
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        vectors = vector_index.read(path / VECTORS, manifest.get("vectors")) if (path / VECTORS).exists() else None
        index = cls(path, passages, Segmenter.load(path / USERDICT), bm25, vectors, manifest)
        index.idf = _idf(bm25, len(passages)) if bm25 is not None else {}
        index.max_idf = max(index.idf.values(), default=1.0)
        index.background = _background(vectors) if vectors is not None else None
        if (path / SENTENCES).exists():
            index.sentences = np.load(path / SENTENCES, mmap_mode="r")
            index.sentence_offsets = np.load(path / SENTENCE_OFFSETS)
        index._check()
        mentioned = json.loads((path / PLACES).read_text(encoding="utf-8")) if (path / PLACES).exists() else []
        index.coverage = Coverage.of(passages, mentioned)
        texts = [to_simplified(squash(index_text(p))) for p in passages]
        index.starts = np.cumsum([0, *(len(t) + 1 for t in texts[:-1])], dtype=np.int64) if texts else index.starts
        index.haystack = "\0".join(texts)
        index.remarks = np.array([opens_with_remark(p.text) for p in passages], dtype=bool)
        for i, passage in enumerate(passages):
            index.articles.setdefault(passage.article_id, []).append(i)
        return index

    def _check(self) -> None:
        """Files of one build must agree on the passage count, or a truncated file would misattribute hits."""
        n = len(self.passages)
        expected = self.manifest.get("counts", {}).get("passages", n)
        if expected != n:
            raise ValueError(f"{PASSAGES} 有 {n} 段，清单记录 {expected} 段")
        if self.vectors is not None and self.vectors.ntotal != n:
            raise ValueError(f"{VECTORS} 有 {self.vectors.ntotal} 个向量，应为 {n}")
        if self.sentence_offsets is not None and self.sentences is not None:
            if len(self.sentence_offsets) != n + 1 or int(self.sentence_offsets[-1]) != len(self.sentences):
                raise ValueError(f"{SENTENCES} 与 {SENTENCE_OFFSETS} 不一致")

    def about(self, passage: Passage, named: set[str]) -> bool:
        """Whether the passage's article is about a place the question names: its own place fields, or the
        article's text naming it (a town no article is filed under, 搬经镇; 北京 in 莒县's piece on its
        station in 北京), in full or short form."""
        if named & {passage.province, passage.city, passage.county, passage.town, passage.place}:
            return True
        forms = {form for name in named for form in (name, short_form(name)) if form}
        return any(self.carries(passage.article_id, form) for form in forms)

    def carries(self, article_id: str, name: str) -> bool:
        """Whether a passage of the article has the name in its indexed text (simplified, unspaced)."""
        ids = self.articles.get(article_id, [])
        if ids and ids[-1] - ids[0] + 1 == len(ids):  # one stretch of the haystack: no name spans the separators
            return self.holds(ids[0], ids[-1], name)
        return any(self.holds(i, i, name) for i in ids)

    def holds(self, first: int, last: int, name: str) -> bool:
        """Whether passages first..last (one stretch of the haystack) carry the name."""
        return self.haystack.find(name, int(self.starts[first]), self._end(last)) >= 0

    def _end(self, i: int) -> int:
        return int(self.starts[i + 1]) - 1 if i + 1 < len(self.starts) else len(self.haystack)

    def naming(self, name: str, limit: int = NAMED_ARTICLES) -> set[str]:
        """Articles whose passages carry a name verbatim (simplified, unspaced), at most `limit` + 1 of them.

        The keyword index's postings of the name's words say which passages to look in, so an article where
        jieba cut the name differently may be missed; the whole haystack is read when those hold none, so a
        name the corpus carries is never reported absent.
        """
        found: set[str] = set()
        for i in self._holding(name):
            if len(found) > limit:
                break
            if self.holds(i, i, name):
                found.add(self.passages[i].article_id)
        if found:
            return found
        at = self.haystack.find(name)
        while at >= 0 and len(found) <= limit:
            i = int(np.searchsorted(self.starts, at, side="right")) - 1
            found.add(self.passages[i].article_id)
            at = self.haystack.find(name, self._end(i))
        return found

    def _holding(self, name: str) -> np.ndarray:
        """The passages whose keyword tokens include every word of the name (none known: no passages)."""
        if self.bm25 is None:
            return np.zeros(0, dtype=np.int64)
        columns = [self.bm25.vocab_dict.get(t) for t in set(self.segmenter.tokens(name))]
        if not columns or None in columns:
            return np.zeros(0, dtype=np.int64)
        indptr, indices = self.bm25.scores["indptr"], self.bm25.scores["indices"]
        postings = sorted((np.asarray(indices[indptr[c] : indptr[c + 1]]) for c in columns), key=len)
        held = postings[0]
        for more in postings[1:]:
            held = np.intersect1d(held, more, assume_unique=True)
        return np.sort(held)

    def sentence_cosines(self, ids: np.ndarray, query: np.ndarray) -> list[np.ndarray]:
        """Per passage, the cosine of each of its sentence units with the question."""
        if self.sentences is None or self.sentence_offsets is None or not len(ids):
            return [np.zeros(0, dtype=np.float32) for _ in ids]
        starts, ends = self.sentence_offsets[ids], self.sentence_offsets[ids + 1]
        rows = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)])
        cosines = np.asarray(self.sentences[rows], dtype=np.float32) @ query
        return np.split(cosines, np.cumsum(ends - starts)[:-1])


def _idf(bm25: bm25s.BM25, n_docs: int) -> dict[str, float]:
    indptr = np.asarray(bm25.scores["indptr"])
    df = np.diff(indptr)
    return {
        token: math.log(1 + (n_docs - df[i] + 0.5) / (df[i] + 0.5))
        for token, i in bm25.vocab_dict.items()
        if i < len(df)
    }


def char_share(wanted: set[str], text: str) -> float:
    """Share of the question's content characters that the text contains: paraphrases keep most of them."""
    return len(wanted & content_chars(text)) / len(wanted) if wanted else 0.0


def _above_background(scores: np.ndarray, mean: float) -> np.ndarray:
    """Cosines rescaled so the corpus background is 0 and this question's best candidate is 1."""
    return (scores - mean) / max(float(scores.max(initial=mean)) - mean, 1e-6)


def _background(vectors: faiss.Index) -> np.ndarray:
    """A fixed sample of passage vectors: the cosine a question gets from unrelated text, per question."""
    n = vectors.ntotal
    ids = np.random.default_rng(0).choice(n, size=min(n, BACKGROUND_SAMPLE), replace=False)
    return vectors.reconstruct_batch(np.sort(ids)) if n else np.zeros((0, vectors.d), "float32")


class Searcher:
    """Holds the index it serves; `index` may be replaced by a fresh SearchIndex at any time (hot swap)."""

    def __init__(self, index: SearchIndex, encoder: Encoder | None, tuning: Tuning = FITTED) -> None:
        # one question's matrix-vector products are tiny; BLAS threads spinning beside torch's doubled latency
        threadpool_limits(1, user_api="blas")
        self.index = index
        self.encoder = vector_index.query_encoder(index.manifest, encoder) if index.vectors is not None else None
        self.tuning = tuning

    def search(self, question: str, k: int = 5, mode: str = "hybrid") -> SearchResult:
        question = to_simplified(question)  # both legs read simplified; the reply quotes the article as written
        index = self.index
        tokens = index.segmenter.tokens(question)
        if not index.passages or not question.strip():
            return SearchResult(question, True)
        places = index.coverage.read(question, lambda name: bool(index.naming(name, limit=0)))
        if places.absent:
            return SearchResult(question, True, absent=places.absent, named=places.named)
        carriers: dict[str, set[str]] = {}
        for name in quoted_names(question):
            carriers[name] = index.naming(name)
            if not carriers[name]:  # one is reason enough; each further absent name would cost a full scan
                return SearchResult(question, True, named=places.named, unknown=[name])
        practice = [name for name, articles in carriers.items() if len(articles) <= NAMED_ARTICLES]
        bm25 = self._bm25(tokens, index)
        dense = self._dense(question, index)
        candidates = self._candidates(bm25, dense)
        sentences = [np.zeros(0, dtype=np.float32)] * len(candidates)
        hybrid = mode == "hybrid"  # the place check holds also when the keyword leg serves alone
        if dense is None or index.vectors is None:
            mode = "bm25"
        else:
            dense.scores[candidates] = index.vectors.reconstruct_batch(candidates) @ dense.query
            sentences = index.sentence_cosines(candidates, dense.query)
        scores = self._fuse(candidates, bm25, dense, sentences, mode)
        if mode == "hybrid" and practice and self.tuning.quote:
            # before refusal looks: the passage that carries the quoted name is the one to judge
            self._add_practice(practice, candidates, scores, index)
        # refusal judges the legs' best match: character overlap must not grade the passage it promoted itself
        best = index.passages[candidates[int(np.argmax(scores))]]
        pattern = answer_pattern(question)
        own, stating = None, None
        if hybrid and places.named:
            own, stating = self._own_best(places.named, candidates, scores, index, pattern)
        if mode == "hybrid" and dense is not None and self.tuning.chars:
            names = question_names(question, places.surfaces)
            self._add_char_coverage(question, candidates, scores, index, names)
        if mode == "hybrid" and self.tuning.remark:
            scores -= self.tuning.remark * index.remarks[candidates]
        if mode == "hybrid" and self.tuning.place and places.named:
            self._add_place(places.named, candidates, scores, index)
        if mode == "hybrid" and self.tuning.recency and _RECENT.search(question):
            self._add_recency(candidates, scores, index)
        ranked = np.argsort(-scores, kind="stable")
        head = ranked[:TYPE_DEPTH]
        states = self._states(pattern, candidates[head], index) if pattern is not None else None
        if mode == "hybrid" and states is not None:
            ranked[:TYPE_DEPTH] = head[np.argsort(-states, kind="stable")]
        hits = [
            Hit(
                index.passages[candidates[r]],
                float(scores[r]),
                float(bm25[candidates[r]]),
                float(dense.scores[candidates[r]]) if dense else 0.0,
                sentences[r].tolist(),
            )
            for r in ranked[:k]
        ]
        type_found = states is None or bool(states.any())
        evidence = self._evidence(question, tokens, own if own is not None else best, hits, dense, index, type_found)
        abstained = self._refuse(evidence, dense is not None)
        if abstained and stating is not None:
            # the named place's best match by words states no figure of the asked kind; its passage that does
            # may vouch (宁安's 积分超市 “每月10日、25日” under a lead that only names the 积分超市)
            vouched = self._evidence(question, tokens, stating, hits, dense, index, type_found)
            if not self._refuse(vouched, dense is not None):
                evidence, abstained = vouched, False
        if not abstained and hits and hybrid and places.named and not index.about(hits[0].passage, places.named):
            # the place bonus could not lift one of the named place's passages to the top: its articles do
            # not answer this, and another place's figure must not pass for its own
            return SearchResult(question, True, hits, evidence, named=places.named, unanswered=sorted(places.named))
        if abstained and own is not None and own is not best:
            mine = {id(h) for h in hits if index.about(h.passage, places.named)}
            elsewhere = self._evidence(question, tokens, best, hits, dense, index, type_found)
            if len(mine) < len(hits) and not self._refuse(elsewhere, dense is not None):
                # the words match another place's article, not the named place's: offered as that place's, first;
                # the named place's hits stay behind for “那临夏县呢？”
                hits = sorted(hits, key=lambda h: id(h) in mine)
                return SearchResult(question, True, hits, evidence, named=places.named, unanswered=sorted(places.named))
        return SearchResult(question, abstained, [] if abstained else hits, evidence, named=places.named)

    @staticmethod
    def _own_best(
        named: set[str], cand: np.ndarray, scores: np.ndarray, index: SearchIndex, pattern: re.Pattern | None
    ) -> tuple[Passage | None, Passage | None]:
        """The named place's best match by the legs alone: refusal judges it, not another place's passage that
        matched the words better, or 临夏县's 乡贤理事会 would be answered on the strength of 寿宁县's.

        Second, when that passage states no figure of the kind `pattern` asks for, the place's best one that does.
        """
        ranked = (index.passages[cand[r]] for r in np.argsort(-scores, kind="stable")[:CHAR_DEPTH])
        mine = (passage for passage in ranked if index.about(passage, named))
        own = next(mine, None)
        if own is None or pattern is None or pattern.search(own.text):
            return own, None
        return own, next((passage for passage in mine if pattern.search(passage.text)), None)

    def _bm25(self, tokens: list[str], index: SearchIndex) -> np.ndarray:
        if index.bm25 is None or not tokens:
            return np.zeros(len(index.passages), dtype=np.float32)
        return np.asarray(index.bm25.get_scores(tokens), dtype=np.float32)

    def _dense(self, question: str, index: SearchIndex) -> DenseView | None:
        if self.encoder is None or index.vectors is None:
            return None
        query = self.encoder.encode_query(question)
        sample = index.background @ query
        mean = float(sample.mean())
        scores, ids = index.vectors.search(query.reshape(1, -1), min(CANDIDATES, len(index.passages)))
        dense = np.full(len(index.passages), mean, dtype=np.float32)
        keep = ids[0] >= 0
        dense[ids[0][keep]] = scores[0][keep]
        return DenseView(dense, query, mean, float(sample.std()) + 1e-6)

    def _candidates(self, bm25: np.ndarray, dense: DenseView | None) -> np.ndarray:
        """BM25 top ∪ dense top: the only passages worth exact scores."""
        n = len(bm25)
        top = min(CANDIDATES, n)
        pool = set(np.argpartition(-bm25, top - 1)[:top].tolist())
        if dense is not None:
            pool |= set(np.argpartition(-dense.scores, top - 1)[:top].tolist())
        return np.array(sorted(pool), dtype=np.int64)

    def _fuse(
        self, cand: np.ndarray, bm25: np.ndarray, dense: DenseView | None, sentences: list[np.ndarray], mode: str
    ) -> np.ndarray:
        b = bm25[cand] / max(float(bm25.max(initial=0.0)), 1e-9)
        if mode == "bm25" or dense is None:
            return b
        d_raw = dense.scores[cand]
        if mode == "dense":
            return d_raw
        t = self.tuning
        combined = t.bm25 * b + t.dense * _above_background(d_raw, dense.mean)
        if t.sentence:
            best = np.array([s.max(initial=dense.mean) for s in sentences], dtype=np.float32)
            combined = combined + t.sentence * _above_background(best, dense.mean)
        return combined

    def _add_char_coverage(
        self, question: str, cand: np.ndarray, scores: np.ndarray, index: SearchIndex, names: set[str]
    ) -> None:
        """“展示自己村变化” meets “展现村庄变化” in characters where jieba's words and e5 both miss it.

        The names the question carries count for every paragraph of an article that carries them (names.py).
        Only the head of the fused ranking is rescored, so the cost per question stays at a few ms.
        """
        wanted = content_chars(question)
        for r in np.argsort(-scores, kind="stable")[:CHAR_DEPTH]:
            passage = index.passages[cand[r]]
            carried = [name for name in names if index.carries(passage.article_id, name)]
            scores[r] += self.tuning.chars * char_share(wanted, "\n".join([index_text(passage), *carried]))

    def _add_place(self, named: set[str], cand: np.ndarray, scores: np.ndarray, index: SearchIndex) -> None:
        """“金乡县第一书记怎么考勤” wants 金乡县's article even where 阜平县's says 考勤 more often: every
        paragraph of an article about a named place gains, the answer paragraph that names no place included."""
        for r in np.argsort(-scores, kind="stable")[:CHAR_DEPTH]:
            if index.about(index.passages[cand[r]], named):
                scores[r] += self.tuning.place

    def _add_practice(self, names: list[str], cand: np.ndarray, scores: np.ndarray, index: SearchIndex) -> None:
        """“书记讲给书记听”是在什么活动里提出的？ is about the articles that carry the quoted name, every paragraph."""
        carried: dict[str, bool] = {}
        for r, i in enumerate(cand):
            article = index.passages[i].article_id
            if article not in carried:
                carried[article] = any(index.carries(article, name) for name in names)
            if carried[article]:
                scores[r] += self.tuning.quote

    def _add_recency(self, cand: np.ndarray, scores: np.ndarray, index: SearchIndex) -> None:
        """最近/最新/今年: among the head of the ranking, newer articles gain up to Tuning.recency (ISO dates
        sort as text; undated ones gain nothing)."""
        head = np.argsort(-scores, kind="stable")[:CHAR_DEPTH]
        dates = sorted({d for r in head if (d := index.passages[cand[r]].date)})
        if len(dates) < 2:
            return
        for r in head:
            date = index.passages[cand[r]].date
            if date:
                scores[r] += self.tuning.recency * dates.index(date) / (len(dates) - 1)

    @staticmethod
    def _states(pattern: re.Pattern, cand: np.ndarray, index: SearchIndex) -> np.ndarray:
        """Which passages state a count, size or year of the kind “几台/多少盏/多长/哪一年” asks for.

        Within the top TYPE_DEPTH those go first: a passage that states no figure of the kind cannot answer.
        """
        return np.array([bool(pattern.search(index.passages[i].text)) for i in cand], dtype=np.float32)

    def _evidence(
        self,
        question: str,
        tokens: list[str],
        best: Passage,
        hits: list[Hit],
        dense: DenseView | None,
        index: SearchIndex,
        type_found: bool = True,
    ) -> Evidence:
        if not hits:
            return Evidence(type_found=type_found)
        text = index_text(best)
        found = set(index.segmenter.tokens(text))
        weights = {t: index.idf.get(t, index.max_idf) for t in set(tokens)}
        total = sum(weights.values())
        coverage = sum(w for t, w in weights.items() if t in found) / total if total else 0.0
        chars = char_share(content_chars(question), text)
        if dense is None:
            return Evidence(coverage, chars, type_found=type_found)
        best_sentence = max((max(h.sentences, default=h.dense) for h in hits), default=dense.mean)
        z = (max(h.dense for h in hits) - dense.mean) / dense.std
        return Evidence(coverage, chars, z, best_sentence, type_found)

    def _refuse(self, evidence: Evidence, has_dense: bool) -> bool:
        """“嘉祥县有多少人口？” with no count of 人 in any hit is not answered, however close the topic."""
        t = self.tuning
        if not evidence.type_found:
            return True
        if not has_dense:
            return evidence.char_coverage < t.keyword_only_min_chars
        margin = sum(w * getattr(evidence, f) for f, w in zip(t.refusal_features, t.refusal_weights))
        return margin + t.bias < 0
