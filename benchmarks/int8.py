"""fp32 vs int8 passage encoding: build throughput measured back to back, and retrieval quality on every question set.

Throughput: on a shared 2-core box the load changes by the minute, so the two variants alternate (fp32, int8,
int8, fp32, …) on the same texts and each rate sums its own turns: whatever load there was, both saw it.
Two measures: whole builds of the seed + 1k law paragraphs from an empty embedding cache, and raw
encode_passages on a fixed sample of the seed + 10k laws corpus's passage and sentence texts.
Quality: each question set on the fp32 index benchmarks.quality built and on an int8 index of the same corpus
(built here under benchmarks/.work/int8_<name>), both through answer(), so the deltas are the encoder's alone.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from benchmarks.corpora import LAWS, ROOT, ROUND3_QA, SEED_QA, WORK, distractor_corpus, missing, multi_questions
from bot.ingest import load_corpus
from bot.model.encoder import Encoder, load_encoder
from bot.retrieval.answer import answer
from bot.retrieval.evaluate import evaluate, load_questions
from bot.retrieval.index_files import index_text, sentence_texts
from bot.retrieval.indexer import build_index, is_stale
from bot.retrieval.passages import build_passages
from bot.retrieval.search import Searcher, SearchIndex

MODEL = "multilingual-e5-small"


def question_sets() -> dict[str, tuple[str, list[Path]]]:
    """Name → (benchmark corpus under benchmarks/.work, question files)."""
    return {
        "seed/dev": ("seed", [SEED_QA]),
        "seed/round3": ("seed", [ROUND3_QA]),
        "seed+laws10k/dev": ("seed_laws10k", [SEED_QA]),
        "seed+laws10k/round3": ("seed_laws10k", [ROUND3_QA]),
        "multi/dev": ("multi", multi_questions()),
        "cmrc": ("cmrc", [WORK / "cmrc" / "qa.jsonl"]),
    }


def texts_of(corpus: Path) -> list[str]:
    passages = build_passages(load_corpus(corpus)[0])
    return list(dict.fromkeys(t for p in passages for t in (index_text(p), *sentence_texts(p))))


def alternate(encoders: dict[str, Encoder], job, rounds: int) -> dict[str, float]:
    """Seconds per variant, summed over rounds in which the order flips, so neither always goes first."""
    seconds = dict.fromkeys(encoders, 0.0)
    names = list(encoders)
    for turn in range(rounds):
        for name in names if turn % 2 == 0 else names[::-1]:
            started = time.perf_counter()
            job(encoders[name])
            seconds[name] += time.perf_counter() - started
            print(f"  round {turn + 1} {name}: {time.perf_counter() - started:.1f} s", flush=True)
    return seconds


def throughput(encoders: dict[str, Encoder], sample: int, rounds: int) -> dict:
    results: dict = {}
    corpus = distractor_corpus(1000, prefix="int8_laws")
    texts = texts_of(corpus)

    def build(encoder: Encoder) -> None:
        with tempfile.TemporaryDirectory(dir=WORK, prefix="int8-build-") as tmp:
            build_index(corpus, Path(tmp) / "index", encoder, progress=False)

    seconds = alternate(encoders, build, rounds)
    results["build_seed_laws1k"] = {
        "texts": len(texts),
        **{f"{n}_texts_per_s": round(len(texts) * rounds / s, 1) for n, s in seconds.items()},
    }
    pool = texts_of(WORK / "seed_laws10k" / "corpus")
    chosen = random.Random(0).sample(pool, min(sample, len(pool)))
    seconds = alternate(encoders, lambda e: e.encode_passages(chosen), rounds)
    results["encode_seed_laws10k_sample"] = {
        "texts": len(chosen),
        "of": len(pool),
        **{f"{n}_texts_per_s": round(len(chosen) * rounds / s, 1) for n, s in seconds.items()},
    }
    for name, row in results.items():
        ratio = row["int8_texts_per_s"] / row["fp32_texts_per_s"]
        row["ratio"] = round(ratio, 2)
        print(f"{name}: {row}", flush=True)
    return results


def quality(encoders: dict[str, Encoder]) -> dict:
    results: dict = {}
    searchers: dict[tuple[str, str], Searcher] = {}
    for label, (name, files) in question_sets().items():
        questions = [q for path in files if path.exists() for q in load_questions(path)]
        row: dict = {"n": len(questions)}
        for variant, encoder in encoders.items():
            if (name, variant) not in searchers:
                index = WORK / name / "index" if variant == "fp32" else WORK / f"int8_{name}" / "index"
                stale = is_stale(WORK / name / "corpus", index, encoder.fingerprint)
                if stale and variant == "fp32":  # shared with benchmarks.quality: read, never rebuilt here
                    print(f"注意：{index} 与当前代码或语料不一致，照常评测", flush=True)
                elif stale:
                    print(f"构建 int8 索引 {index} …", flush=True)
                    build_index(WORK / name / "corpus", index, encoder, progress=True)
                searchers[name, variant] = Searcher(SearchIndex.load(index), encoder)
            searcher = searchers[name, variant]
            assert searcher.encoder is encoder, f"{variant} questions must meet {variant} passages"
            metrics = evaluate(questions, lambda q, s=searcher: answer(q, s, k=10))
            row[variant] = {key: metrics[key] for key in ("r1", "r5", "mrr10", "answer1")}
        row["delta_r1"] = round(row["int8"]["r1"] - row["fp32"]["r1"], 4)
        row["delta_answer1"] = round(row["int8"]["answer1"] - row["fp32"]["answer1"], 4)
        results[label] = row
        print(
            f"{label:22s} n={row['n']:4d} R@1 {row['fp32']['r1']:.3f} → {row['int8']['r1']:.3f} "
            f"({row['delta_r1']:+.3f})  answer@1 {row['fp32']['answer1']:.3f} → {row['int8']['answer1']:.3f} "
            f"({row['delta_answer1']:+.3f})",
            flush=True,
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.int8", description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models", help="where the model folder is")
    parser.add_argument("--sample", type=int, default=3000, help="seed + 10k laws texts encoded per turn")
    parser.add_argument("--rounds", type=int, default=2, help="turns per variant (the order flips each round)")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()
    if missing(LAWS):
        return
    encoders = {
        "fp32": load_encoder(MODEL, args.models_dir),
        "int8": load_encoder(MODEL, args.models_dir, variant="int8"),
    }
    assert encoders["int8"] is not None and encoders["int8"].variant == "int8", "no int8 copy could be made"
    out = WORK / "int8.json"
    results = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    results["encoder"] = encoders["int8"].describe()  # type: ignore[union-attr]
    if not args.skip_throughput:
        results["throughput"] = throughput(encoders, args.sample, args.rounds)  # type: ignore[arg-type]
    if not args.skip_quality:
        results["quality"] = quality(encoders)  # type: ignore[arg-type]
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"结果已写入 {out}")


if __name__ == "__main__":
    main()
