"""Retrieval quality over question files with gold substrings: the numbers every ranking change is judged by."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.retrieval.answer import Answer
from bot.retrieval.search import SearchResult
from bot.retrieval.sentences import squash


@dataclass
class Question:
    id: str
    question: str
    gold: list[str]


def load_questions(path: Path) -> list[Question]:
    questions = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                questions.append(Question(str(row["id"]), row["question"], list(row.get("gold") or [])))
    return questions


def first_hit_rank(result: Answer | SearchResult, gold: list[str]) -> int | None:
    wanted = [squash(g) for g in gold]
    for rank, hit in enumerate(result.hits, start=1):
        text = squash(hit.passage.text)
        if any(g in text for g in wanted):
            return rank
    return None


def evaluate(questions: list[Question], respond: Callable[[str], Answer]) -> dict:
    answerable = [q for q in questions if q.gold]
    outside = [q for q in questions if not q.gold]
    r1 = r5 = mrr = answer1 = 0.0
    refused_wrong = refused_right = 0
    misses: list[str] = []
    for q in answerable:
        result = respond(q.question)
        refused_wrong += result.abstained
        rank = first_hit_rank(result, q.gold)
        answer1 += bool(result.sentences) and any(squash(g) in squash(result.sentences[0]) for g in q.gold)
        r1 += rank == 1
        r5 += rank is not None and rank <= 5
        mrr += 1.0 / rank if rank is not None and rank <= 10 else 0.0
        if rank != 1:
            misses.append(q.id)
    for q in outside:
        refused_right += respond(q.question).abstained
    n = max(len(answerable), 1)
    return {
        "n": len(questions),
        "answerable": len(answerable),
        "r1": round(r1 / n, 4),
        "r5": round(r5 / n, 4),
        "mrr10": round(mrr / n, 4),
        "out_of_corpus": len(outside),
        "refused_right": refused_right,
        "refused_wrong": refused_wrong,
        "answer1": round(answer1 / n, 4),
        "misses": misses,
    }


def format_report(metrics: dict) -> str:
    return (
        f"n={metrics['n']}  可回答={metrics['answerable']}  R@1={metrics['r1']:.3f}  R@5={metrics['r5']:.3f}  "
        f"MRR@10={metrics['mrr10']:.3f}  answer@1={metrics['answer1']:.3f}\n"
        f"拒答：库外问题 {metrics['refused_right']}/{metrics['out_of_corpus']} 正确拒答，"
        f"可回答问题误拒 {metrics['refused_wrong']}/{metrics['answerable']}"
    )
