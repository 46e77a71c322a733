"""Retrieval quality over question files with gold substrings: the numbers every ranking change is judged by."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.retrieval.answer import ALSO_PLACES, LIST_PLACES, Answer, place_key
from bot.retrieval.search import SearchResult
from bot.retrieval.sentences import squash


@dataclass
class Question:
    id: str
    question: str
    gold: list[str]
    kind: str = ""  # fact / practice / list / ambiguous / outside; "" in older files
    absent_place: bool = False  # an outside question naming a place no article is about
    places: list[str] = field(default_factory=list)  # list/ambiguous: every county that reports the practice


def load_questions(path: Path) -> list[Question]:
    questions = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                gold = list(row.get("gold") or [])
                kind = row.get("kind") or ("outside" if not gold else "")
                absent, places = bool(row.get("absent_place")), list(row.get("places") or [])
                questions.append(Question(str(row["id"]), row["question"], gold, kind, absent, places))
    return questions


def first_hit_rank(result: Answer | SearchResult, gold: list[str]) -> int | None:
    wanted = [squash(g) for g in gold]
    for rank, hit in enumerate(result.hits, start=1):
        text = squash(hit.passage.text)
        if any(g in text for g in wanted):
            return rank
    return None


@dataclass
class Outcome:
    question: Question
    abstained: bool
    rank: int | None = None
    answered: bool = False  # the first answer sentence holds a gold substring
    shown: bool = False  # the answer sentences or the quote from the same article's other paragraph hold it
    place_recall: float | None = None  # share of the practice's places the answer shows (list: all; else 另见)


def judge(question: Question, result: Answer) -> Outcome:
    if not question.gold:
        return Outcome(question, result.abstained)
    if result.abstained:  # another place's passage offered beside a refusal is not this question's answer
        return Outcome(question, True, place_recall=0.0 if question.places else None)
    wanted = [squash(g) for g in question.gold]
    answered = bool(result.sentences) and any(g in squash(result.sentences[0]) for g in wanted)
    quoted = [*result.sentences, *([result.beside.sentence] if result.beside else [])]
    shown = any(g in squash(text) for g in wanted for text in quoted)
    outcome = Outcome(question, False, first_hit_rank(result, question.gold), answered, shown)
    if question.places:
        places = {place_key(s.passage) for s in result.also}
        if result.passage is not None:
            places.add(place_key(result.passage))
        room = LIST_PLACES if question.kind == "list" else 1 + ALSO_PLACES
        outcome.place_recall = len(places & set(question.places)) / min(len(question.places), room)
    return outcome


def evaluate(questions: list[Question], respond: Callable[[str], Answer], by_kind: bool = False) -> dict:
    """Each question is asked once; the overall figures and, with `by_kind`, each kind's come from the same
    answers (absent-place questions are a kind of their own there, as well as outside)."""
    outcomes = [judge(q, respond(q.question)) for q in questions]
    metrics = summarize(outcomes)
    if by_kind:
        groups: dict[str, list[Outcome]] = {}
        for outcome in outcomes:
            groups.setdefault(outcome.question.kind or "unlabelled", []).append(outcome)
            if outcome.question.absent_place:
                groups.setdefault("absent_place", []).append(outcome)
        metrics["by_kind"] = {kind: summarize(group) for kind, group in sorted(groups.items())}
    return metrics


def summarize(outcomes: list[Outcome]) -> dict:
    answerable = [o for o in outcomes if o.question.gold]
    outside = [o for o in outcomes if not o.question.gold]
    n = max(len(answerable), 1)
    ranks = [o.rank for o in answerable]
    return {
        "n": len(outcomes),
        "answerable": len(answerable),
        "r1": round(sum(r == 1 for r in ranks) / n, 4),
        "r5": round(sum(r is not None and r <= 5 for r in ranks) / n, 4),
        "mrr10": round(sum(1.0 / r for r in ranks if r is not None and r <= 10) / n, 4),
        "out_of_corpus": len(outside),
        "refused_right": sum(o.abstained for o in outside),
        "refused_wrong": sum(o.abstained for o in answerable),
        "answer1": round(sum(o.answered for o in answerable) / n, 4),
        "shown": round(sum(o.shown for o in answerable) / n, 4),
        "misses": [o.question.id for o in answerable if o.rank != 1],
        **({"place_recall": round(sum(recalls) / len(recalls), 4)} if (recalls := _recalls(outcomes)) else {}),
    }


def _recalls(outcomes: list[Outcome]) -> list[float]:
    return [o.place_recall for o in outcomes if o.place_recall is not None]


def format_report(metrics: dict) -> str:
    lines = [
        f"n={metrics['n']}  可回答={metrics['answerable']}  R@1={metrics['r1']:.3f}  R@5={metrics['r5']:.3f}  "
        f"MRR@10={metrics['mrr10']:.3f}  answer@1={metrics['answer1']:.3f}  答复含答案={metrics['shown']:.3f}",
        f"拒答：库外问题 {metrics['refused_right']}/{metrics['out_of_corpus']} 正确拒答，"
        f"可回答问题误拒 {metrics['refused_wrong']}/{metrics['answerable']}",
    ]
    for kind, part in metrics.get("by_kind", {}).items():
        if part["answerable"]:
            recall = f"  地点召回={part['place_recall']:.3f}" if "place_recall" in part else ""
            lines.append(
                f"  {kind:<12} n={part['answerable']:<4} R@1={part['r1']:.3f}  R@5={part['r5']:.3f}  "
                f"answer@1={part['answer1']:.3f}  误拒 {part['refused_wrong']}/{part['answerable']}{recall}"
            )
        else:
            lines.append(f"  {kind:<12} n={part['n']:<4} 正确拒答 {part['refused_right']}/{part['out_of_corpus']}")
    return "\n".join(lines)
