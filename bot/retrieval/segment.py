"""Word segmentation for the keyword leg: jieba plus the corpus's own terms, so “3+1”帮带制 stays one word."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path

import jieba

from bot.ingest.places import to_simplified

jieba.setLogLevel(logging.WARNING)

STOPWORDS = frozenset(
    """的 了 和 与 及 或 是 在 有 为 对 把 被 将 就 也 都 而 并 等 着 之 其 这 那 个 中 上 下 里 以 于 从 由 向 到 给
    吗 呢 吧 啊 呀 么 哪 哪些 哪个 哪里 什么 怎么 怎样 怎么样 如何 为什么 为何 多少 几 几个 是否 是不是 有没有 请问
    请 介绍 一下 谈谈 说说 讲讲 具体 主要 情况 我 你 他 她 它 我们 你们 他们 吗 可以 能 会 要 该 这个 那个 哪一 一个
    怎么办 做 做了 做法 有何 有什么 啥 咋 运作 措施 方面 举措 采取 采用 通过 开展 进行 实现""".split()
)

STOP_CHARS = frozenset(
    "的了和与及或是在有为对把被将就也都而并等着之其这那个中上下里以于从由向到给吗呢吧啊呀么哪些什怎样如何为多少几否请问"
    "一我你他她它们能会要该做啥咋"
)
_QUOTED = re.compile(r"[“\"「『]([^”\"」』]{2,12})[”\"」』]")
_WORDLIKE = re.compile(r"\w", re.U)
_ASKING = re.compile(r"(?:几|哪|多少)[\u4e00-\u9fff]?|什么样")  # 几次, 哪家, 多少钱: the question, not its topic


_QUOTES = str.maketrans("", "", "“”‘’「」『』\"'")


def normalize(text: str) -> str:
    """NFKC folds full-width digits and letters, so “３＋１” and “3+1” meet; quotes go so “3+1”帮带制 is one word;
    traditional characters fold to simplified, so 金鄉縣第一書記 meets 金乡县第一书记."""
    return to_simplified(unicodedata.normalize("NFKC", text)).translate(_QUOTES).lower()


_A_NOT_A = re.compile(r"(\w)[不没]\1")


def content_chars(text: str) -> set[str]:
    """Characters that carry meaning: paraphrases keep more of them than of whole words (“会不会” asks, says nothing)."""
    return {c for c in _A_NOT_A.sub("", normalize(text)) if c.isalnum() and c not in STOP_CHARS}


class Segmenter:
    def __init__(self, user_words: Iterable[str] = ()) -> None:
        self._jieba = jieba.Tokenizer()
        self.user_words = sorted({normalize(w) for w in user_words if w.strip()})
        for word in self.user_words:
            self._jieba.add_word(word, freq=2000)

    def tokens(self, text: str) -> list[str]:
        words = self._jieba.cut_for_search(normalize(text))
        return [
            w
            for w in (w.strip() for w in words)
            if w and _WORDLIKE.search(w) and w not in STOPWORDS and not _ASKING.fullmatch(w)
        ]

    def save(self, path: Path) -> None:
        path.write_text("\n".join(self.user_words) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Segmenter:
        words = path.read_text(encoding="utf-8").split("\n") if path.exists() else []
        return cls(words)


def learn_terms(texts: Iterable[str], extra: Iterable[str] = ()) -> set[str]:
    """Quoted phrases name the practices people ask about (“四不两直”, “3+1”帮带制); keep them whole."""
    terms = set(extra)
    for text in texts:
        for match in _QUOTED.finditer(text):
            term = match.group(1).strip()
            if not re.search(r"[，。；、！？,]", term):
                terms.add(term)
                suffix = re.match(r"[\u4e00-\u9fff]{1,2}制|[\u4e00-\u9fff]{2}法", text[match.end() :])
                if suffix:
                    terms.add(term + suffix.group(0))
    return {t for t in terms if len(t) >= 2}
