"""Quizzes made from the seed corpus's daily excerpts: each has exactly one option the excerpt states."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from telegram.constants import PollLimit

from bot.chat.daily import rotation
from bot.ingest import load_corpus
from bot.retrieval import quiz
from bot.retrieval.passages import Passage, build_passages
from bot.retrieval.quiz import BLANK, Bank, Kind, Quiz, Rejection, make_quiz
from tests.conftest import SEED


@pytest.fixture(scope="module")
def seed_passages() -> list[Passage]:
    articles, errors = load_corpus(SEED.parent)
    assert not errors
    return build_passages(articles)


@pytest.fixture(scope="module")
def made(seed_passages) -> list[tuple[Passage, Quiz | Rejection]]:
    bank = Bank.of(seed_passages)
    return [(p, make_quiz(p, bank)) for p in rotation(seed_passages)]


def test_limits_are_telegrams() -> None:
    assert quiz.QUESTION_CHARS == PollLimit.MAX_QUESTION_LENGTH
    assert quiz.OPTION_CHARS == PollLimit.MAX_OPTION_LENGTH
    assert quiz.EXPLANATION_CHARS == PollLimit.MAX_EXPLANATION_LENGTH
    assert quiz.WRONG_OPTIONS + 1 <= PollLimit.MAX_OPTION_NUMBER


def test_most_seed_excerpts_get_a_quiz_of_every_kind(made) -> None:
    quizzes = [q for _, q in made if isinstance(q, Quiz)]
    assert len(quizzes) >= 0.8 * len(made)
    assert {q.kind for q in quizzes} == set(Kind)


def test_every_seed_quiz_has_exactly_one_option_the_excerpt_states(made, seed_passages) -> None:
    articles: dict[str, str] = {}
    for p in seed_passages:
        articles[p.article_id] = articles.get(p.article_id, "") + p.text
    for passage, q in made:
        if not isinstance(q, Quiz):
            continue
        assert q.passage_id == passage.passage_id
        assert q.question.count(BLANK) == 1 and q.sentence.count(BLANK) == 0
        assert len(set(q.options)) == len(q.options) and 3 <= len(q.options) <= 4
        right = q.options[q.correct]
        assert right == q.answer and right in passage.text
        assert q.sentence.strip("…") in passage.text, "the explanation quotes the excerpt"
        blanked = q.question.removeprefix(quiz.QUESTION_HEAD)
        filled = [blanked.replace(BLANK, option).strip("…") for option in q.options]
        stated = [i for i, text in enumerate(filled) if text in passage.text]
        assert stated == [q.correct] == q.stated(passage.text), (q.question, q.options)
        for i in set(range(len(q.options))) - {q.correct}:
            assert not any(filled[i] in text for text in articles.values()), "no article states a wrong option"
        assert len(q.question) <= PollLimit.MAX_QUESTION_LENGTH
        assert all(1 <= len(o) <= PollLimit.MAX_OPTION_LENGTH for o in q.options)
        assert len(q.explanation) <= PollLimit.MAX_EXPLANATION_LENGTH and q.explanation.count("\n") <= 2
        assert q.sentence in q.explanation


def test_a_quiz_is_the_same_every_time(seed_passages, made) -> None:
    bank = Bank.of(seed_passages)
    for passage, q in made[:5]:
        assert make_quiz(passage, bank) == q


def test_a_figure_blank_never_leaves_its_value_in_the_question() -> None:
    passage = Passage("p1", "a1", "标题", "某县", "2024-01-01", "", "s", 0, "本次培训分3期进行，每期3天。")
    other = Passage("p2", "a2", "标题二", "别县", "2024-01-01", "", "s", 0, "共分5期，每期2天，另有4期、6期。")
    assert make_quiz(passage, Bank.of([passage, other])) is Rejection.AMBIGUOUS


def test_no_quiz_without_anything_to_blank() -> None:
    passage = Passage("p1", "a1", "标题", "", "", "", "s", 0, "大家都说好，群众很满意，干部很有干劲。")
    assert make_quiz(passage, Bank.of([passage])) is Rejection.NO_CANDIDATE


def test_a_place_blank_needs_an_anchor_no_wrong_place_shares() -> None:
    """Counties whose articles state the sentence's figure are not wrong options; without two others, no quiz."""

    def article(aid: str, county: str, text: str) -> Passage:
        return Passage(f"p{aid}", aid, "标题", county, "2024-01-01", "", "s", 0, text, county=county, province="山东省")

    own = article("a", "金乡县", "金乡县建成积分超市18个。")
    sharing = [article("b", "嘉祥县", "嘉祥县建成积分超市18个。"), article("c", "汶上县", "汶上县也有积分超市18个。")]
    clean = [article("d", "梁山县", "梁山县组建第一书记联盟。"), article("e", "鱼台县", "鱼台县推行红色物业。")]
    made = make_quiz(own, Bank.of([own, *sharing, *clean]))
    assert isinstance(made, Quiz) and made.kind is Kind.PLACE
    assert set(made.options) == {"金乡县", "梁山县", "鱼台县"} and made.options[made.correct] == "金乡县"
    assert made.question.endswith(f"{BLANK}建成积分超市18个。")
    assert make_quiz(own, Bank.of([own, *sharing, clean[0]])) is Rejection.AMBIGUOUS


def test_the_same_quizzes_in_every_process() -> None:
    """Nothing may hang on Python's per-process string hashing: a restarted bot asks the same question."""
    script = (
        "from bot.chat.daily import rotation; from bot.ingest import load_corpus; "
        "from bot.retrieval.passages import build_passages; from bot.retrieval.quiz import Bank, make_quiz; "
        f"ps = build_passages(load_corpus(__import__('pathlib').Path({str(SEED.parent)!r}))[0]); b = Bank.of(ps); "
        "print([repr(make_quiz(p, b)) for p in rotation(ps)])"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(runs) == 1 and "Quiz(" in runs.pop()
