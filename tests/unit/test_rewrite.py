"""Follow-ups read against the thread: place swaps, continuations in the same article, and new questions that
must never be glued to the old one. Keyword-only index over the seed corpus (no model)."""

from __future__ import annotations

import shutil

import pytest

from bot.chat.followup import Conversations
from bot.retrieval import rewrite
from bot.retrieval.indexer import build_index
from bot.retrieval.rewrite import Thread, read, respond
from bot.retrieval.search import Searcher, SearchIndex
from tests.conftest import ROOT, SEED

THREAD = Thread("沂水的积分超市每个月哪天可以兑换？", "a", (1,))


@pytest.mark.parametrize(
    ("message", "swapped"),
    [
        ("那兰考呢？", "兰考的积分超市每个月哪天可以兑换？"),
        ("兰考县呢", "兰考县的积分超市每个月哪天可以兑换？"),
        ("那嘉祥县是怎么做的？", "嘉祥县的积分超市每个月哪天可以兑换？"),
        ("三江县呢？", "三江县的积分超市每个月哪天可以兑换？"),  # 三江侗族自治县, written informally
        ("換成蘭考呢", "兰考的积分超市每个月哪天可以兑换？"),  # traditional characters
        ("湖北红安呢？", "湖北红安的积分超市每个月哪天可以兑换？"),
    ],
)
def test_a_place_and_filler_swaps_the_place(message: str, swapped: str) -> None:
    follow = read(message, THREAD)
    assert (follow.kind, follow.question) == ("swap", swapped)


def test_an_informally_written_place_is_replaced_whole() -> None:
    follow = read("邳州呢？", Thread("三江县干部家访，哪几类干部必须上门？", "a", (1,)))
    assert follow.question == "邳州干部家访，哪几类干部必须上门？"


def test_a_question_without_a_place_gets_the_new_place_in_front() -> None:
    follow = read("那嘉祥县呢？", Thread("3+1帮带制是怎么运作的？", "a", (1,)))
    assert follow.question == "嘉祥县3+1帮带制是怎么运作的？"


def test_a_list_question_swaps_into_a_practice_question() -> None:
    follow = read("那兰考呢？", Thread("哪些地方在搞积分超市？", "a", (1,)))
    assert follow.question == "兰考的积分超市是怎么做的？"


def test_that_topic_keeps_the_place() -> None:
    assert read("那擂台比武呢？", THREAD).question == "沂水的擂台比武"
    assert read("那这个呢？", THREAD).kind == "new"


@pytest.mark.parametrize(
    ("message", "kind", "ordinal"),
    [
        ("第二条具体说说", "item", 2),
        ("那第三个呢？", "item", 3),
        ("第2点", "item", 2),
        ("其二呢", "item", 2),
        ("还有吗？", "more", 0),
        ("具体说说", "more", 0),
        ("能详细讲讲吗", "more", 0),
        ("然后呢", "more", 0),
    ],
)
def test_continuations(message: str, kind: str, ordinal: int) -> None:
    follow = read(message, THREAD)
    assert (follow.kind, follow.ordinal) == (kind, ordinal)


@pytest.mark.parametrize(
    "message",
    [
        "第一书记一年要在村里住多少天？",  # starts like an ordinal
        "还有哪些县在搞擂台比武？",  # starts like 还有吗
        "那兰考的积分超市哪天兑换？",  # a place and words of its own
        "嘉祥县的干部家访是怎么搞的？",
        "具体说说金乡的3+1帮带制",
        "积分超市是怎么运作的？",
        "兰考和新县呢",  # two places: not one swap
    ],
)
def test_new_questions_are_never_glued(message: str) -> None:
    follow = read(message, THREAD)
    assert (follow.kind, follow.question) == ("new", message)


def test_without_a_thread_a_place_is_a_new_question() -> None:
    assert read("那兰考呢？", None).kind == "new"
    assert read("还有吗", None).kind == "more"  # the channel says there is nothing to continue


@pytest.fixture(scope="module")
def searcher(tmp_path_factory) -> Searcher:
    root = tmp_path_factory.mktemp("rewrite")
    (root / "corpus").mkdir()
    shutil.copy(SEED, root / "corpus" / SEED.name)
    build_index(root / "corpus", root / "index", None, progress=False)
    return Searcher(SearchIndex.load(root / "index"), None)


def _article_of(searcher: Searcher, county: str) -> str:
    return next(p.article_id for p in searcher.index.passages if p.county == county)


def test_an_ordinal_opens_that_item_of_the_article(searcher: Searcher) -> None:
    """The issue's third turn: after 嘉祥's lead, 第二条 is its second headed paragraph, its title in bold."""
    thread = Thread("嘉祥县3+1帮带制是怎么运作的？", _article_of(searcher, "嘉祥县"), (0,))
    third = respond("第二条具体说说", thread, searcher)
    assert third.kind == "item" and third.understood == "《嘉祥：常态化推动干部监督全覆盖》第2条"
    assert third.answer.passage is not None and third.answer.passage.text.startswith("全面覆盖“八小时外”")
    assert third.answer.sentences[0].startswith("全面覆盖“八小时外”。")
    assert third.thread is not None and third.thread.shown == (0, 2)


def test_a_swap_answers_from_the_new_place(searcher: Searcher) -> None:
    """Keyword-only, 金乡's words beat 嘉祥's article outright; the member still asked about 嘉祥县."""
    first = respond("3+1帮带制是怎么运作的？", None, searcher)
    assert first.answer.passage is not None and first.answer.passage.county == "金乡县"
    second = respond("那嘉祥县呢？", first.thread, searcher)
    assert second.kind == "swap" and second.understood == "嘉祥县3+1帮带制是怎么运作的？"
    assert second.answer.passage is not None and second.answer.passage.county == "嘉祥县"
    assert all(h.passage.county == "嘉祥县" for h in second.answer.hits)


def test_items_skip_paragraphs_without_a_title(searcher: Searcher) -> None:
    """梁山's article has a paragraph between its first and second item."""
    second = respond("第二条", Thread("梁山", _article_of(searcher, "梁山县"), (0,)), searcher)
    assert second.answer.passage is not None and second.answer.passage.text.startswith("突出产业引领")


def test_more_walks_the_article_then_says_it_is_done(searcher: Searcher) -> None:
    step = respond("嘉祥县怎么管住“关键少数”？", None, searcher)
    assert step.thread is not None and step.thread.shown == (1,)
    seen = [step.thread.shown[-1]]
    for _ in range(10):
        step = respond("还有吗", step.thread, searcher)
        if step.answer.abstained:
            break
        assert step.thread is not None
        seen.append(step.thread.shown[-1])
    assert step.answer.reason == "article_end"
    assert sorted(seen) == list(range(5))  # every paragraph once, the lead (skipped at first) included


def test_an_item_past_the_end_is_refused_with_the_count(searcher: Searcher) -> None:
    step = respond("3+1帮带制是怎么运作的？", None, searcher)
    beyond = respond("第九条", step.thread, searcher)
    assert beyond.answer.reason == "no_item" and beyond.items == 4
    assert beyond.thread == step.thread  # a refused continuation keeps the thread


def test_a_continuation_without_a_thread_is_refused(searcher: Searcher) -> None:
    assert respond("还有吗", None, searcher).answer.reason == "no_thread"
    refused = respond("金寨县的积分超市每月兑换几次？", None, searcher)
    assert refused.answer.abstained and refused.thread is not None and not refused.thread.article_id
    assert respond("第二条", refused.thread, searcher).answer.reason == "no_thread"


def test_a_new_topic_starts_a_new_thread(searcher: Searcher) -> None:
    step = respond("3+1帮带制是怎么运作的？", None, searcher)
    fresh = respond("汶上的第一书记怎么帮群众秋收？", step.thread, searcher)
    assert fresh.kind == "new" and fresh.understood == ""
    assert fresh.thread is not None and fresh.thread.question == "汶上的第一书记怎么帮群众秋收？"


def test_threads_expire_and_are_kept_per_member() -> None:
    now = [0.0]
    talks = Conversations(600, clock=lambda: now[0])
    talks.put((1, 10), THREAD)
    talks.put((1, 11), rewrite.Thread("别的问题"))
    assert talks.get((1, 10)) == THREAD and talks.get((1, 11)) != THREAD
    now[0] = 599.0
    assert talks.get((1, 10)) == THREAD
    now[0] = 600.0
    assert talks.get((1, 10)) is None
    talks.put((2, 10), THREAD)
    assert talks.forget((2, 10)) and not talks.forget((2, 10))


def test_no_expiry_time_keeps_nothing() -> None:
    talks = Conversations(0)
    talks.put((1, 1), THREAD)
    assert talks.get((1, 1)) is None


def test_dialogue_file_is_well_formed() -> None:
    from bot.retrieval.dialogues import load_dialogues

    dialogues = load_dialogues(ROOT / "tests" / "data" / "multi" / "dialogues.jsonl")
    assert len(dialogues) >= 30 and all(len(d.turns) == 3 for d in dialogues)
    kinds = {t.follow for d in dialogues for t in d.turns}
    assert kinds == {"new", "swap", "item", "more"}
    assert all(t.gold or t.listed or t.follow == "swap" for d in dialogues for t in d.turns)
