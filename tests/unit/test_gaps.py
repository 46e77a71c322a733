"""/gaps: refused and voted-down questions grouped by topic, and their eval-format export.

The grouping alone, then the console end to end over a keyword-only index of a small real corpus (no model):
questions the corpus cannot answer are recorded when refused, a 👎 marks an answer, /gaps groups them and
writes a .jsonl that the evaluator reads.
"""

from __future__ import annotations

import io
import json

import pytest

from bot.chat.console import CONSOLE_CHAT, ConsoleSession
from bot.chat.core import Core
from bot.chat.gaps import Gap, Why, to_jsonl, topics
from bot.chat.replies import PLAIN
from bot.chat.store import Store
from bot.retrieval.evaluate import load_questions
from bot.retrieval.indexer import build_index
from bot.retrieval.search import Searcher, SearchIndex
from bot.settings import Settings
from tests.unit.test_coverage import ARTICLES

ASKED = [
    "金寨县的积分超市怎么兑换？",
    "党费怎么交",
    "金寨积分超市一分顶多少钱",
    "党员每月交多少党费？",
    "金寨县积分超市在哪里",
    "沂南县第一书记是谁",
    "金乡县的积分超市怎么兑换？",
]


def test_similar_questions_share_a_topic_newest_topic_first() -> None:
    gaps = [Gap(q, 1000 + i, 1, Why.REFUSED) for i, q in enumerate(ASKED)]
    found = topics(gaps)
    assert [[g.question for g in t.gaps] for t in found] == [
        ["金乡县的积分超市怎么兑换？"],  # alike but for the place: another article to add
        ["沂南县第一书记是谁"],
        ["金寨县积分超市在哪里", "金寨积分超市一分顶多少钱", "金寨县的积分超市怎么兑换？"],
        ["党员每月交多少党费？", "党费怎么交"],
    ]
    assert found[0].label == ""  # one question: its wording says it all
    assert set(found[2].label.split("、")) == {"金寨县", "积分", "超市"}
    assert "党费" in found[3].label


def test_the_export_is_in_the_eval_format(tmp_path) -> None:
    gaps = [
        Gap("金寨县的积分超市怎么兑换？", 1000, 1, Why.REFUSED),
        Gap("积分超市兑换规则", 1001, 2, Why.VOTED_DOWN, shown="积分超市每月10日集中兑换一次。"),
    ]
    path = tmp_path / "gaps.jsonl"
    path.write_text(to_jsonl(topics(gaps), "2026-12-01"), encoding="utf-8")
    questions = load_questions(path)
    assert [(q.question, q.gold, q.kind) for q in questions] == [
        ("积分超市兑换规则", [], "review"),
        ("金寨县的积分超市怎么兑换？", [], "outside"),
    ]
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len({r["id"] for r in rows}) == 2 and rows[0]["shown"].startswith("积分超市")
    assert rows[0]["topic"] == rows[1]["topic"]


@pytest.fixture
def session(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in ARTICLES.items():
        (corpus / name).write_text(text, encoding="utf-8")
    build_index(corpus, tmp_path / "index", None, progress=False)
    settings = Settings(_env_file=None, corpus_dir=corpus, index_dir=tmp_path / "index", data_dir=tmp_path / "data")
    store = Store(settings.db_path)
    out = io.StringIO()
    yield ConsoleSession(Core(settings, Searcher(SearchIndex.load(tmp_path / "index"), None), store), out), out
    store.close()


def test_console_gaps_end_to_end(session) -> None:
    console, out = session
    assert "最近 7 天没有" in console.core.gaps("", PLAIN).reply.texts[0]
    for question in ["金寨县的积分超市每月兑换几次？", "金寨的积分超市一分顶几元？", "", "How do I reset my password?"]:
        console.handle(question)
    answered = console.core.ask("沂水县设了哪些岗？", PLAIN, CONSOLE_CHAT)
    assert answered.ok and {b.action for b in answered.buttons} >= {"up", "down"}
    assert "👍" not in out.getvalue()  # votes are Telegram's: the console shows no vote hint
    assert answered.query_id is not None
    console.core.vote(answered.query_id, 42, up=False)
    console.handle("/gaps")
    text = out.getvalue()
    assert "最近 7 天的资料缺口" in text and "共 4 个问题" in text
    assert "拒答 2" in text and "金寨县的积分超市每月兑换几次？" in text and "沂水县设了哪些岗？" in text
    assert text.index("沂水县设了哪些岗？") < text.index("金寨县的积分超市每月兑换几次？")  # newest topic first
    assert "（👎 1）" in text
    assert "请直接输入问题" in text  # the empty line was refused as a bad question, and not recorded
    saved = console.core.settings.data_dir / console.core.gaps("", PLAIN).filename
    questions = load_questions(saved)
    assert {q.question for q in questions} == {
        "金寨县的积分超市每月兑换几次？",
        "金寨的积分超市一分顶几元？",
        "How do I reset my password?",
        "沂水县设了哪些岗？",
    }
    assert "用法" in console.core.gaps("abc", PLAIN).reply.texts[0]
    assert "用法" in console.core.gaps("365", PLAIN).reply.texts[0]
