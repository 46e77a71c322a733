"""The same practice in several places: a question naming none is answered from the best and shows 另见 for
the others; a list question lists every place; a question naming one place gets that place alone."""

from __future__ import annotations

import shutil

import pytest

from bot.chat.replies import PLAIN, answer_text
from bot.retrieval.answer import answer, place_key
from bot.retrieval.indexer import build_index
from bot.retrieval.search import Searcher, SearchIndex
from tests.conftest import ROOT, small_searcher

PLACES = ROOT / "tests" / "data" / "places"
JIFEN = {"沂水县", "兰考县", "武隆区", "集安市"}


@pytest.fixture(scope="module")
def places_index(tmp_path_factory, encoder):
    root = tmp_path_factory.mktemp("places")
    shutil.copytree(PLACES, root / "corpus")
    build_index(root / "corpus", root / "index", encoder, progress=False)
    return root / "index"


@pytest.fixture(scope="module")
def searcher(places_index, encoder) -> Searcher:
    return Searcher(SearchIndex.load(places_index), encoder)


def test_a_question_naming_no_place_shows_the_others(searcher: Searcher) -> None:
    result = answer("积分超市的积分能换什么？", searcher)
    shown = {place_key(result.passage)} | {place_key(s.passage) for s in result.also}
    assert not result.listing and result.also and shown <= JIFEN and len(shown) == 1 + len(result.also)
    text = answer_text(result, PLAIN)
    assert "另见（其他地方的同类做法）" in text and all(place_key(s.passage) in text for s in result.also)


def test_a_list_question_lists_every_place(searcher: Searcher) -> None:
    result = answer("哪些地方在搞积分超市？", searcher)
    listed = {place_key(result.passage)} | {place_key(s.passage) for s in result.also}
    assert result.listing and listed == JIFEN
    text = answer_text(result, PLAIN)
    assert text.startswith("资料库里有 4 个地方的相关报道") and all(place in text for place in JIFEN)


def test_a_named_place_is_answered_alone(searcher: Searcher) -> None:
    result = answer("沂水的积分超市每个月几号兑换？", searcher)
    assert result.passage is not None and result.passage.county == "沂水县"
    assert not result.also and "另见" not in answer_text(result, PLAIN)


def test_recent_questions_prefer_the_newest_report(searcher: Searcher) -> None:
    newest = max(p.date for p in searcher.index.passages if "积分超市" in p.title)
    result = answer("最近哪里的积分超市有新变化？", searcher)
    assert result.passage is not None and result.passage.date == newest


def test_the_answers_own_article_is_quoted_when_its_other_paragraph_scores_close(tmp_path, encoder) -> None:
    searcher = small_searcher(
        tmp_path, encoder, copies=(ROOT / "tests" / "data" / "multi" / "corpus" / "B" / "news-1.jsonl",)
    )
    result = answer("兰考县村支书打擂台，上台以后具体要干啥？", searcher)
    beside = result.beside
    assert beside is not None and result.passage is not None
    assert beside.passage.article_id == result.passage.article_id and beside.passage != result.passage
    assert result.hits[0].score - beside.hit.score <= searcher.tuning.also_margin
    text = answer_text(result, PLAIN)
    assert "同一篇报道还写道" in text and "“亮成绩”“答难题”“看现场”三个环节" in text
    assert answer("兰考擂台比武前10名有什么奖励？", searcher).beside is None  # one paragraph answers it alone
