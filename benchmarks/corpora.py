"""Benchmark corpora from ../shared/data: law paragraphs as distractors around the seed, CMRC 2018 as an outside check.

The shared data exists only in this workplace, so each benchmark says what it skips when a file is absent
instead of failing. Corpora and their indexes live in benchmarks/.work so that reruns reuse the embeddings.
"""

from __future__ import annotations

import gzip
import itertools
import json
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# beside the main checkout, or two levels up from a worktree under /work/wt/<name>
SHARED = next(
    (p for p in (ROOT.parent / "shared" / "data", ROOT.parent.parent / "shared" / "data") if p.is_dir()),
    ROOT.parent / "shared" / "data",
)
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


MULTI = ROOT / "tests" / "data" / "multi"


MULTI_HELDOUT = MULTI / "heldout" / "qa_heldout.jsonl"  # written blind after the weights were fixed: only reported


def multi_questions() -> list[Path]:
    """The many-places dev questions (tests/data/multi/qa_*.jsonl)."""
    return sorted(MULTI.glob("qa_*.jsonl"))


def multi_corpus() -> Path:
    """The seed among 314 articles from 50 places that report the same practices: the real deployment's shape."""
    corpus = WORK / "multi" / "corpus"
    if corpus.exists():
        shutil.rmtree(corpus)
    shutil.copytree(MULTI / "corpus", corpus)
    for path in seed_corpus().iterdir():
        shutil.copy(path, corpus / path.name)
    return corpus


def law_articles(passages: int) -> list[dict]:
    """Whole statutes in file order: the same distractors on every run, and each one a real statute's wording."""
    chosen, total = [], 0
    # passage building joins short paragraphs, so it takes more paragraphs than the passages wanted;
    # beyond the whole file (≈ 220k passages) the statutes repeat, each round's titles numbered
    for round_ in itertools.count(1):
        with gzip.open(LAWS, "rt", encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                if round_ > 1:
                    row["title"] = f"{row['title']}（{round_}）"
                chosen.append(row)
                total += len([p for p in row["text"].split("\n\n") if p.strip()])
                if total >= passages * 1.6:
                    return chosen
    return chosen


def distractor_corpus(passages: int = 10_000, prefix: str = "seed_laws") -> Path:
    """The seed among law paragraphs: the seed's questions must still find their passage in a crowd."""
    size = f"{passages // 1000}k" if passages % 1000 == 0 else str(passages)
    corpus = WORK / f"{prefix}{size}" / "corpus"
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
    """Each CMRC passage an article, each question a QA line, so that the bot's own evaluation can score it."""
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
    """The answer's sentence, clipped around the answer when long.

    The bare span (often a name or a number) would also match unrelated passages; a clip of its sentence
    stays unique, yet short enough to lie inside one passage and one answer sentence.
    """
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
