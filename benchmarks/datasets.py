"""Benchmark corpora built from ../shared/data: the seed with law distractors, and CMRC 2018 as an outside check."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the benchmark scripts import bot after importing this module


SHARED = ROOT.parent / "shared" / "data"
LAWS = SHARED / "laws_corpus.jsonl.gz"
CMRC = SHARED / "cmrc2018_trial.json"
WORK = ROOT / "benchmarks" / ".work"
SEED_QA = ROOT / "tests" / "data" / "qa.jsonl"
ROUND3_QA = ROOT / "tests" / "data" / "qa_round3.jsonl"  # written after the weights were fitted: held out as a whole


def split_of(qa: Path = SEED_QA) -> dict[str, str]:
    """Question id → "dev" (used for tuning) or "heldout" (only ever reported)."""
    return {row["id"]: row.get("split", "dev") for row in map(json.loads, qa.read_text(encoding="utf-8").splitlines())}


def missing(path: Path) -> bool:
    if path.exists():
        return False
    print(f"跳过：{path} 不存在（基准数据只在工作区的 ../shared/data 中）")
    return True


def seed_corpus() -> Path:
    corpus = WORK / "seed" / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for path in (ROOT / "corpus").iterdir():
        if path.is_file() and path.name != "README.md":
            shutil.copy(path, corpus / path.name)
    return corpus


def law_articles(passages: int) -> list[dict]:
    """Whole statutes in file order until they give `passages` passages: deterministic, realistic distractors."""
    chosen, total = [], 0
    with gzip.open(LAWS, "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            chosen.append(row)
            total += len([p for p in row["text"].split("\n\n") if p.strip()])
            if total >= passages * 1.6:
                break
    return chosen


def distractor_corpus(passages: int = 10_000) -> Path:
    name = f"seed_laws{passages // 1000}k"
    corpus = WORK / name / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    seed = seed_corpus()
    for path in seed.iterdir():
        shutil.copy(path, corpus / path.name)
    laws = corpus / "laws.jsonl"
    if not laws.exists():
        with laws.open("w", encoding="utf-8") as handle:
            for row in law_articles(passages):
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return corpus


def cmrc_corpus() -> tuple[Path, Path]:
    """Each CMRC passage an article; gold = the answer's sentence clipped to ~40 chars around the answer."""
    base = WORK / "cmrc"
    corpus, qa = base / "corpus", base / "qa.jsonl"
    corpus.mkdir(parents=True, exist_ok=True)
    data = json.loads(CMRC.read_text(encoding="utf-8"))["data"]
    with (corpus / "cmrc.jsonl").open("w", encoding="utf-8") as articles, qa.open("w", encoding="utf-8") as questions:
        for item in data:
            for para in item["paragraphs"]:
                context = para["context"]
                title = item.get("title") or context[:16]
                articles.write(
                    json.dumps({"title": title, "text": context, "source": "CMRC2018", "date": ""}, ensure_ascii=False)
                    + "\n"
                )
                for qa_row in para["qas"]:
                    ans = qa_row["answers"][0]
                    gold = gold_around(context, ans["text"], ans["answer_start"])
                    questions.write(
                        json.dumps(
                            {"id": qa_row["id"], "question": qa_row["question"], "gold": [gold]}, ensure_ascii=False
                        )
                        + "\n"
                    )
    return corpus, qa


def gold_around(context: str, answer: str, start: int, width: int = 40) -> str:
    if context[start : start + len(answer)] != answer:
        found = context.find(answer)
        start = found if found >= 0 else start
    bounds = [m.end() for m in re.finditer(r"[。！？!?]", context)]
    sent_start = max([b for b in bounds if b <= start], default=0)
    sent_end = min([b for b in bounds if b >= start + len(answer)], default=len(context))
    sentence = context[sent_start:sent_end]
    if len(sentence) <= width:
        return sentence.strip()
    rel = start - sent_start
    left = max(0, min(rel - (width - len(answer)) // 2, len(sentence) - width))
    return sentence[left : left + max(width, len(answer))].strip()
