import json
import subprocess
import sys

from bot.retrieval.evaluate import evaluate, load_questions
from tests.conftest import ROOT

QA = ROOT / "tests" / "data" / "qa.jsonl"


def test_eval_json_keys_and_floor(seed_index):
    out = subprocess.run(
        [sys.executable, "-m", "bot", "eval", str(QA), "--index", str(seed_index), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    metrics = json.loads(out)
    assert {"n", "answerable", "r1", "r5", "mrr10", "out_of_corpus", "refused_right", "refused_wrong"} <= set(metrics)
    assert metrics["answerable"] >= 60 and metrics["out_of_corpus"] >= 8
    assert metrics["r5"] >= 0.9, metrics


def test_question_file_is_well_formed():
    questions = load_questions(QA)
    rows = [json.loads(line) for line in QA.read_text(encoding="utf-8").splitlines()]
    answerable = [r for r in rows if r["gold"]]
    assert sum(r["style"] == "para" for r in answerable) * 2 >= len(answerable)
    assert len(questions) == len(rows) and len({q.id for q in questions}) == len(questions)


def test_metrics_count_hits_and_refusals():
    from bot.retrieval.answer import Answer
    from bot.retrieval.evaluate import Question
    from bot.retrieval.passages import Passage
    from bot.retrieval.search import Hit

    passage = Passage("p1", "a1", "t", "金乡", "", "", "s", 0, "安装路灯 1687 盏")
    answers = {
        "q1": Answer("q1", False, "", ["安装路灯 1687 盏"], [Hit(passage, 1.0)]),
        "q2": Answer("q2", True, "no_match"),
        "q3": Answer("q3", True, "no_match"),
    }
    metrics = evaluate(
        [Question("1", "q1", ["路灯1687盏"]), Question("2", "q2", ["x"]), Question("3", "q3", [])], lambda q: answers[q]
    )
    assert metrics["r1"] == 0.5 and metrics["answer1"] == 0.5
    assert metrics["refused_wrong"] == 1 and metrics["refused_right"] == 1
