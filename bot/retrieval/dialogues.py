"""Follow-up quality over scripted conversations: R@1 of each turn, and new topics wrongly glued to old ones.

A dialogue file holds one conversation per line: `{"id", "turns": [{"question", "gold", "follow", "place"}]}`,
`gold` as in the question files (substrings of the expected passage; empty: the bot must refuse), `follow`
the reading the turn must get (new / swap / item / more). A turn `{"listed": N}` expects the N-th place of the
list answer just before it, whatever order that list came in.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.retrieval.evaluate import first_hit_rank
from bot.retrieval.passages import Passage
from bot.retrieval.rewrite import Step, Thread


@dataclass
class Turn:
    question: str
    gold: list[str]
    follow: str
    place: str = ""
    listed: int = 0


@dataclass
class Dialogue:
    id: str
    turns: list[Turn] = field(default_factory=list)


def load_dialogues(path: Path) -> list[Dialogue]:
    dialogues = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            turns = [
                Turn(t["question"], list(t.get("gold") or []), t["follow"], t.get("place", ""), int(t.get("listed", 0)))
                for t in row["turns"]
            ]
            dialogues.append(Dialogue(str(row["id"]), turns))
    return dialogues


@dataclass
class TurnOutcome:
    dialogue: str
    turn: int  # from 1
    expected: str  # the reading the turn should get
    read: str  # the reading it got
    right: bool  # R@1 (or, for a gold-less turn, a refusal)


Respond = Callable[[str, Thread | None], Step]


def run(dialogues: list[Dialogue], respond: Respond) -> list[TurnOutcome]:
    """Each dialogue from a fresh conversation; every turn answered in the thread the one before left."""
    outcomes = []
    for dialogue in dialogues:
        thread: Thread | None = None
        before: Step | None = None
        for number, turn in enumerate(dialogue.turns, start=1):
            step = respond(turn.question, thread)
            thread = step.thread if step.thread is not None else thread
            outcomes.append(TurnOutcome(dialogue.id, number, turn.follow, step.kind, _right(turn, step, before)))
            before = step
    return outcomes


def _right(turn: Turn, step: Step, before: Step | None) -> bool:
    result = step.answer
    if turn.listed:
        wanted = _listed(before, turn.listed)
        return wanted is not None and result.passage is not None and result.passage.passage_id == wanted.passage_id
    if not turn.gold:
        return result.abstained
    return not result.abstained and first_hit_rank(result, turn.gold) == 1


def _listed(before: Step | None, n: int) -> Passage | None:
    if before is None or before.answer.passage is None or not before.answer.listing:
        return None
    rows = [before.answer.passage, *(s.passage for s in before.answer.also)]
    return rows[n - 1] if n <= len(rows) else None


def summarize(outcomes: list[TurnOutcome]) -> dict:
    """R@1 per turn position and per expected reading; glued = new topics read as follow-ups, misread =
    follow-ups taken as new questions (or as another kind of follow-up)."""

    def r1(group: list[TurnOutcome]) -> dict:
        return {"n": len(group), "r1": round(sum(o.right for o in group) / max(len(group), 1), 4)}

    turns = sorted({o.turn for o in outcomes})
    kinds = sorted({o.expected for o in outcomes})
    new = [o for o in outcomes if o.expected == "new"]
    return {
        "dialogues": len({o.dialogue for o in outcomes}),
        "all": r1(outcomes),
        "by_turn": {str(t): r1([o for o in outcomes if o.turn == t]) for t in turns},
        "by_follow": {k: r1([o for o in outcomes if o.expected == k]) for k in kinds},
        "new_topics": len(new),
        "glued": sum(o.read != "new" for o in new),
        "misread": sum(o.read != o.expected for o in outcomes if o.expected != "new"),
        "misses": [f"{o.dialogue}#{o.turn}" for o in outcomes if not o.right],
    }


def format_report(metrics: dict) -> str:
    lines = [f"{metrics['dialogues']} 段对话  全部 n={metrics['all']['n']}  R@1={metrics['all']['r1']:.3f}"]
    lines += [f"  第{t}轮  n={m['n']:<3} R@1={m['r1']:.3f}" for t, m in metrics["by_turn"].items()]
    lines += [f"  {k:<5} n={m['n']:<3} R@1={m['r1']:.3f}" for k, m in metrics["by_follow"].items()]
    lines.append(
        f"新话题 {metrics['new_topics']} 个，被误接到上一个问题 {metrics['glued']} 个；追问被误读 {metrics['misread']} 个"
    )
    if metrics["misses"]:
        lines.append("未命中：" + " ".join(metrics["misses"]))
    return "\n".join(lines)
