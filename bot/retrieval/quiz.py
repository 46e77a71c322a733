"""A one-question quiz made from an excerpt: one thing the excerpt states is blanked out, the wrong options
come from other articles of the corpus, and the explanation quotes the sentence.

Three kinds of blank: a figure (the digits of 1687盏; wrong options are figures of the same unit from other
articles), a named practice (a quoted term such as “3+1”; wrong options are quoted terms of the same shape
from other articles) and a place (the county the excerpt is about; wrong options are other counties of the
corpus). A quiz is only worth sending if exactly one option is right, so every wrong option must be absent
from the excerpt's article and must not fit the blank anywhere else in the corpus either; a place blank also
needs an anchor (a quoted term or a figure) that no wrong place's articles share. When a candidate fails,
the next is tried; when all fail, there is no quiz (`Rejection` says why, for the benchmark).

The text limits are those of Telegram's quiz polls (a unit test compares them with PTB's PollLimit), but
this module knows nothing of Telegram: it returns plain strings.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

from bot.ingest.places import gazetteer, short_form
from bot.retrieval.passages import Passage
from bot.retrieval.sentences import split_sentences

QUESTION_CHARS = 300
OPTION_CHARS = 100
EXPLANATION_CHARS = 200
WRONG_OPTIONS = 3  # at most; a quiz needs at least MIN_WRONG
MIN_WRONG = 2
MIN_SENTENCE_CHARS = 16  # shorter sentences (bare headings) are blanked only when nothing longer can be
CONTEXT_CHARS = 3  # characters either side of a blank that a wrong option must not fit anywhere in the corpus
WINDOW_CHARS = 120  # the longest piece of a sentence shown around a blank
BLANK = "＿＿＿"
ELLIPSIS = "……"
QUESTION_HEAD = "每日一题：据今天的摘录填空——"
EXPLANATION_HEAD = "原文："

_UNITS = sorted(
    set(
        """个 名 人 户 次 人次 户次 元 元钱 亩 公里 千米 米 平方米 立方米 盏 眼 册 件 套 份 项 条 家 所 处 座 场
        场次 期 篇 吨 斤 公斤 张 台 辆 辆次 批 支 位 节 天 小时 分钟 个月 % 倍 株 棵 头 只 本 种 类 组 间 栋 袋 箱 笔 部
        门 轮 岁 分 片 块 幅 封 首 堂 课 周 平方公里 千瓦 度 趟 单 桩""".split()
    ),
    key=lambda unit: (-len(unit), unit),  # longest first: 6分钟 is minutes, not a score of 6
)
_FIGURE = re.compile(r"(?<![\d.第])(\d+(?:\.\d+)?)(万|亿)?(余|多)?(" + "|".join(map(re.escape, _UNITS)) + ")")
_QUOTED = re.compile(r"“([^“”\n]{2,12})”")
_NUMBER_LIKE = re.compile(r"[\d一二三四五六七八九十两百千]")
_PUNCT = re.compile(r"[，。；、！？：,;:!?]")


class Kind(StrEnum):
    TERM = "term"
    FIGURE = "figure"
    PLACE = "place"


class Rejection(StrEnum):
    NO_CANDIDATE = "no_candidate"  # nothing to blank: no figure, quoted term or county in the excerpt
    AMBIGUOUS = "ambiguous"  # something to blank, but no way to blank it with exactly one right option
    FEW_OPTIONS = "few_options"  # unambiguous, but the corpus has too few wrong options of the same kind
    TOO_LONG = "too_long"  # the answer or the quoted sentence would not fit Telegram's limits


@dataclass(frozen=True)
class Quiz:
    passage_id: str
    kind: Kind
    question: str
    options: tuple[str, ...]
    correct: int  # index into options
    explanation: str
    sentence: str  # the excerpt's text the question was made from (a whole sentence or a window of it)
    answer: str

    def stated(self, text: str) -> list[int]:
        """The options that, put in the blank, make words `text` contains: for a good quiz and its excerpt,
        exactly the right one."""
        blanked = self.question.removeprefix(QUESTION_HEAD)
        return [i for i, option in enumerate(self.options) if blanked.replace(BLANK, option).strip(ELLIPSIS) in text]


@dataclass(frozen=True)
class Figure:
    value: str
    unit: str  # magnitude and measure: 万户, 盏, %
    start: int  # of the digits within their text
    end: int
    written: str  # as the text has it: 600余万元


def figures(text: str) -> list[Figure]:
    return [Figure(m[1], (m[2] or "") + m[4], m.start(1), m.end(1), m[0]) for m in _FIGURE.finditer(text)]


def quoted_terms(text: str) -> list[tuple[str, int, int]]:
    return [(m[1], m.start(1), m.end(1)) for m in _QUOTED.finditer(text) if not _PUNCT.search(m[1])]


def _counts(term: str) -> bool:
    """Terms look alike when both count something (“四个一”, “3+1”) or neither does (and their lengths are near)."""
    return bool(_NUMBER_LIKE.search(term))


@dataclass
class Bank:
    """What the wrong options are drawn from and checked against: every article of one index."""

    articles: dict[str, str]  # article id → its text (passages joined)
    county_of: dict[str, str]  # article id → county ("" when unknown)
    province_of: dict[str, str]
    figures: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # unit → [(value, article id)]
    terms: dict[str, set[str]] = field(default_factory=dict)  # quoted term → article ids
    _named: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, passages: list[Passage]) -> Bank:
        parts: dict[str, list[Passage]] = defaultdict(list)
        for passage in passages:
            parts[passage.article_id].append(passage)
        articles, county_of, province_of = {}, {}, {}
        for aid, ps in parts.items():
            ps.sort(key=lambda p: p.position)
            articles[aid] = "".join(p.text for p in ps)
            county_of[aid], province_of[aid] = ps[0].county, ps[0].province
        bank = cls(articles, county_of, province_of)
        for aid, text in articles.items():
            for figure in figures(text):
                bank.figures.setdefault(figure.unit, []).append((figure.value, aid))
            for term, _, _ in quoted_terms(text):
                bank.terms.setdefault(term, set()).add(aid)
        return bank

    @cached_property
    def corpus(self) -> str:
        return "\n".join(self.articles.values())

    @cached_property
    def counties(self) -> dict[str, set[str]]:
        """County → the articles about it."""
        found: dict[str, set[str]] = defaultdict(set)
        for aid, county in self.county_of.items():
            if county:
                found[county].add(aid)
        return dict(found)

    def counties_named(self, aid: str) -> set[str]:
        """Every county an article names, short forms included: none of them may be a wrong option for it."""
        if aid not in self._named:
            g = gazetteer()
            self._named[aid] = {p.county for m in g.find(self.articles[aid], towns=False) for p in m.places if p.county}
        return self._named[aid]


def make_quiz(passage: Passage, bank: Bank) -> Quiz | Rejection:
    """The quiz for this excerpt, or why there is none. Deterministic: the same excerpt gets the same quiz."""
    seed = int(hashlib.sha1(passage.passage_id.encode()).hexdigest()[:8], 16)
    order = [Kind.TERM, Kind.FIGURE, Kind.PLACE]
    order = order[seed % 3 :] + order[: seed % 3]  # variety from day to day
    reasons: set[Rejection] = set()
    for kind in order:
        for sentence in sorted(split_sentences(passage.text), key=lambda s: len(s) < MIN_SENTENCE_CHARS):
            for blank in _blanks(kind, sentence, passage):
                made = _quiz(kind, blank, passage, bank, random.Random(seed))
                if isinstance(made, Quiz):
                    return made
                reasons.add(made)
    for reason in (Rejection.AMBIGUOUS, Rejection.FEW_OPTIONS, Rejection.TOO_LONG):
        if reason in reasons:
            return reason
    return Rejection.NO_CANDIDATE


@dataclass(frozen=True)
class _Blank:
    sentence: str
    start: int
    end: int
    unit: str = ""  # figures: the unit; places: the county

    @property
    def answer(self) -> str:
        return self.sentence[self.start : self.end]


def _blanks(kind: Kind, sentence: str, passage: Passage) -> list[_Blank]:
    if kind is Kind.FIGURE:
        return [_Blank(sentence, f.start, f.end, f.unit) for f in figures(sentence)]
    if kind is Kind.TERM:
        return [_Blank(sentence, start, end) for _, start, end in quoted_terms(sentence)]
    if not passage.county:
        return []
    return [
        _Blank(sentence, m.start, m.end, passage.county)
        for m in gazetteer().find(sentence, towns=False)
        if any(p.county == passage.county and p.level == 3 for p in m.places)
    ]


def _quiz(kind: Kind, blank: _Blank, passage: Passage, bank: Bank, rng: random.Random) -> Quiz | Rejection:
    answer = blank.answer
    window, start = _window(blank.sentence, blank.start, blank.end)
    question_text = window[:start] + BLANK + window[start + len(answer) :]
    if _occurs(answer, question_text, kind):
        return Rejection.AMBIGUOUS  # the answer shows elsewhere in the question
    question = QUESTION_HEAD + question_text
    explanation = f"{EXPLANATION_HEAD}“{window}”"
    if len(answer) > OPTION_CHARS or len(question) > QUESTION_CHARS or len(explanation) > EXPLANATION_CHARS:
        return Rejection.TOO_LONG
    aid = passage.article_id
    article = bank.articles.get(aid, passage.text)
    left = window[max(0, start - CONTEXT_CHARS) : start]
    right = window[start + len(answer) : start + len(answer) + CONTEXT_CHARS]
    if kind is Kind.FIGURE:
        pool = [(o, True) for o in _figure_pool(blank, aid, bank)]
    elif kind is Kind.TERM:
        pool = [(o, True) for o in _term_pool(answer, aid, bank)]
    else:
        pool = _place_pool(blank, passage, question_text, bank)
    candidates = [(o, clean) for o, clean in pool if o != answer and o not in answer and answer not in o]
    wrong = [
        o
        for o, clean in candidates
        if clean and not _occurs(o, article, kind) and f"{left}{o}{right}" not in bank.corpus and len(o) <= OPTION_CHARS
    ]
    wrong = list(dict.fromkeys(wrong))[:WRONG_OPTIONS]
    if len(wrong) < MIN_WRONG:
        return Rejection.AMBIGUOUS if len({o for o, _ in candidates}) >= MIN_WRONG else Rejection.FEW_OPTIONS
    options = [answer, *wrong]
    rng.shuffle(options)
    return Quiz(passage.passage_id, kind, question, tuple(options), options.index(answer), explanation, window, answer)


def _occurs(text: str, where: str, kind: Kind) -> bool:
    """Figures must match as whole numbers: 60 is not in 160."""
    if kind is Kind.FIGURE:
        return re.search(rf"(?<![\d.]){re.escape(text)}(?![\d.])", where) is not None
    return text in where


def _window(sentence: str, start: int, end: int) -> tuple[str, int]:
    """The sentence, or the clauses around the blank when it is too long to show; and the blank's offset in it."""
    if len(sentence) <= WINDOW_CHARS:
        return sentence, start
    cuts = [0] + [m.end() for m in re.finditer(r"[，；]", sentence)] + [len(sentence)]
    lo = max(c for c in cuts if c <= start)
    hi = min(c for c in cuts if c >= end)
    while True:
        before = max((c for c in cuts if c < lo), default=None)
        after = min((c for c in cuts if c > hi), default=None)
        grown = False
        if after is not None and after - lo <= WINDOW_CHARS:
            hi, grown = after, True
        if before is not None and hi - before <= WINDOW_CHARS:
            lo, grown = before, True
        if not grown:
            break
    head = ELLIPSIS if lo > 0 else ""
    tail = ELLIPSIS if hi < len(sentence) else ""
    return head + sentence[lo:hi].rstrip("，；") + tail, start - lo + len(head)


def _figure_pool(blank: _Blank, aid: str, bank: Bank) -> list[str]:
    """Same unit, other articles; same style (decimals or not) first, then nearest in magnitude."""
    answer = float(blank.answer)
    decimal = "." in blank.answer
    values = {
        v
        for v, a in bank.figures.get(blank.unit, [])
        if a != aid and float(v) != answer and abs(math.log10(float(v) or 0.1) - math.log10(answer or 0.1)) <= 1
    }
    return sorted(values, key=lambda v: (("." in v) != decimal, abs(math.log1p(float(v)) - math.log1p(answer)), v))


def _term_pool(answer: str, aid: str, bank: Bank) -> list[str]:
    counts, length = _counts(answer), len(answer)
    terms = [t for t, aids in bank.terms.items() if aids - {aid} and _counts(t) == counts]
    return sorted(
        (t for t in terms if abs(len(t) - length) <= 2),
        key=lambda t: (abs(len(t) - length), hashlib.sha1(t.encode()).digest()),
    )


def _place_pool(blank: _Blank, passage: Passage, question_text: str, bank: Bank) -> list[tuple[str, bool]]:
    """Other counties of the corpus, written the way the excerpt writes its own (full or short), each with
    whether it is a clean wrong option: its articles share none of the sentence's anchors (quoted terms and
    figures, what tells this county's statement from another's) and the excerpt's article does not name it.
    A sentence without an anchor has no clean wrong option."""
    anchors = [t for t, _, _ in quoted_terms(question_text)]
    anchors += [f.written for f in figures(question_text)]
    named = bank.counties_named(passage.article_id)
    full = blank.answer == blank.unit
    pool = []

    def nearby_first(county: str) -> tuple[bool, bytes]:
        """Counties of the same province are the likelier confusion; within that, an order of this excerpt's own."""
        province = bank.province_of[min(bank.counties[county])]
        return province != passage.province, hashlib.sha1(f"{passage.passage_id}{county}".encode()).digest()

    for county in sorted(bank.counties, key=nearby_first):
        if county == passage.county:
            continue
        shared = any(anchor in bank.articles[a] for a in bank.counties[county] for anchor in anchors)
        clean = bool(anchors) and not shared and county not in named
        pool.append((county if full else short_form(county) or county, clean))
    return pool
