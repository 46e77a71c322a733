"""A named place decides the article: “金乡县第一书记怎么考勤” must not be answered from 阜平县's article, which
says 考勤 more often; a town or a quoted name counts for every paragraph of the article that carries it. The seed
page plus articles of the many-places dev set, real model."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.chat.replies import PLAIN, refusal
from bot.retrieval.answer import answer
from bot.retrieval.search import Searcher
from tests.conftest import ROOT, SEED, small_searcher

FUPING = ROOT / "tests" / "data" / "multi" / "corpus" / "B" / "fuping-20190821-1.md"
NEWS = ROOT / "tests" / "data" / "multi" / "corpus" / "B" / "news-2.jsonl"  # 18 articles, no place field
WENCHUAN = ROOT / "tests" / "data" / "multi" / "corpus" / "C" / "articles-c1.jsonl"  # line 2: 渔子溪村's station
LINXIA = sorted((ROOT / "tests" / "data" / "multi" / "corpus" / "C").glob("linxia-*.md"))
WULONG = ROOT / "tests" / "data" / "multi" / "corpus" / "C" / "wulong-20231106-1.md"
SHOUNING = ROOT / "tests" / "data" / "multi" / "corpus" / "D" / "articles-d2.jsonl"  # line 13: 寿宁's 乡贤理事会
QUESTION = "金乡县第一书记怎么考勤？"


@pytest.fixture(scope="module")
def searcher(tmp_path_factory, encoder) -> Searcher:
    return small_searcher(tmp_path_factory.mktemp("places"), encoder, copies=(SEED, FUPING))


def test_the_named_places_article_comes_first(searcher: Searcher) -> None:
    searcher.tuning = replace(searcher.tuning, bias=1e9)  # ranking only
    assert searcher.search(QUESTION).hits[0].passage.county == "金乡县"


def test_without_the_place_feature_another_places_article_wins(searcher: Searcher) -> None:
    searcher.tuning = replace(searcher.tuning, bias=1e9, place=0.0)
    assert searcher.search(QUESTION).hits[0].passage.county == "阜平县"


@pytest.fixture(scope="module")
def liuyang(tmp_path_factory, encoder) -> Searcher:
    return small_searcher(tmp_path_factory.mktemp("names"), encoder, copies=(SEED, NEWS))


def test_a_paragraph_inherits_the_town_its_article_names(liuyang: Searcher) -> None:
    """淮川街道 is named in the paragraph on the hall's windows; the one on missing papers answers, and counts
    as 淮川街道's too."""
    hits = liuyang.search("浏阳淮川街道党群中心办事材料没带齐咋办？").hits
    assert "容缺受理" in hits[0].passage.text


def test_a_quoted_practice_name_decides_the_article(liuyang: Searcher) -> None:
    hits = liuyang.search("“书记讲给书记听”是在什么活动里提出的？").hits
    assert hits and "书记讲给书记听" in hits[0].passage.text


@pytest.fixture(scope="module")
def villages(tmp_path_factory, encoder) -> Searcher:
    return small_searcher(tmp_path_factory.mktemp("villages"), encoder, copies=(SEED, NEWS, WENCHUAN))


@pytest.mark.parametrize(
    ("question", "answer_text"),
    [
        ("红安祝家楼村党员一年开头有多少基础分？", "每名党员年初有50分基础分"),
        ("渔子溪村的文明实践站拉起了哪些志愿队伍？", "等5支志愿服务队伍"),
    ],
)
def test_a_village_jieba_cuts_apart_counts_for_its_whole_article(
    villages: Searcher, question: str, answer_text: str
) -> None:
    """jieba reads 祝家/楼村 and 渔子/溪村: the paragraph naming the village outranked the answer beside it."""
    hits = villages.search(question).hits
    assert answer_text in hits[0].passage.text


@pytest.fixture(scope="module")
def linxia(tmp_path_factory, encoder) -> Searcher:
    shouning = SHOUNING.read_text(encoding="utf-8").splitlines()[12]
    assert "乡贤理事会" in shouning and "寿宁县" in shouning
    root = tmp_path_factory.mktemp("own")
    return small_searcher(root, encoder, texts={"shouning.jsonl": shouning + "\n"}, copies=(SEED, *LINXIA))


def test_a_named_places_weak_passage_is_judged_not_another_places_strong_one(linxia: Searcher) -> None:
    """临夏县's articles never mention a 乡贤理事会; the place bonus still lifts one of its paragraphs to the top.
    Judged on 寿宁县's paragraph, which matches the words, that paragraph was answered as 临夏's."""
    result = answer("临夏县的乡贤理事会都办了啥事？", linxia)
    assert result.abstained and result.reason == "place_unanswered" and result.absent == ["临夏县"]
    assert result.hits[0].passage.county != "临夏县"  # the other place's paragraph is what the reply offers
    text = refusal(result, PLAIN)
    assert text.startswith("资料库里关于临夏县的报道没有讲到这个问题")
    assert "其他地方的类似做法" in text and "不是临夏县的情况" in text and "乡贤理事会" in text


def test_what_the_named_places_articles_tell_is_still_answered(linxia: Searcher) -> None:
    result = answer("临夏县第一书记每年得在村里待多少天？", linxia)
    assert not result.abstained and result.passage is not None and result.passage.county == "临夏县"
    assert "不少于200天" in "".join(result.sentences)


@pytest.fixture(scope="module")
def markets(tmp_path_factory, encoder) -> Searcher:
    d = ROOT / "tests" / "data" / "multi" / "corpus" / "D"
    copies = (SEED, d / "ningan-20210618-1.md", d / "longsheng-20191029-1.md", WULONG)
    return small_searcher(tmp_path_factory.mktemp("markets"), encoder, copies=copies)


def test_the_named_places_passage_that_states_the_days_vouches(markets: Searcher) -> None:
    """宁安's best match by words is about its 积分超市 but names no day; judged alone, it was refused."""
    result = answer("宁安那个积分超市每个月哪几天能去换东西？", markets)
    assert not result.abstained
    assert "每月10日、25日集中开放两次" in "".join(result.sentences)
