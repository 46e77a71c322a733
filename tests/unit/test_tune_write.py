"""`benchmarks.tune --write` must give back the same Tuning when the bot imports the file, and touch nothing else."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from benchmarks.tune import BEGIN, END, TUNING_FILE, render_fitted, splice_fitted, write_fitted
from bot.retrieval.tuning import FITTED, Tuning

# values that a careless renderer would get wrong: a one-element tuple, negatives, ints, many digits
REFIT = replace(
    FITTED,
    bm25_k1=1.5,
    bm25_b=0.75,
    dense=1,
    sentence=0.0,
    refusal_features=("char_coverage",),
    refusal_weights=(-0.125,),
    bias=-1234.567891,
    sentence_dense=1e-05,
)


def load_module(path: Path, monkeypatch: pytest.MonkeyPatch):
    spec = importlib.util.spec_from_file_location("tuning_under_test", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def outside_block(text: str) -> tuple[str, str]:
    return text[: text.index(BEGIN)], text[text.index(END) :]


def test_written_block_imports_back_equal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = TUNING_FILE.read_text(encoding="utf-8")
    copy = tmp_path / "tuning.py"
    copy.write_text(original, encoding="utf-8")
    write_fitted(copy, render_fitted(REFIT))
    module = load_module(copy, monkeypatch)
    assert asdict(module.FITTED) == asdict(REFIT)
    assert module.FITTED == module.Tuning(**asdict(REFIT))
    assert outside_block(copy.read_text(encoding="utf-8")) == outside_block(original)
    assert TUNING_FILE.read_text(encoding="utf-8") == original


def test_block_is_one_field_per_line_and_stable() -> None:
    block = render_fitted(REFIT)
    lines = block.splitlines()
    assert lines[0] == "FITTED = Tuning(" and lines[-1] == ")"
    assert len(lines) == len(asdict(REFIT)) + 2
    text = TUNING_FILE.read_text(encoding="utf-8")
    # rendering what the file holds changes nothing, so a refit's diff is only the values that moved
    assert splice_fitted(text, render_fitted(FITTED)) == text
    assert splice_fitted(splice_fitted(text, block), block) == splice_fitted(text, block)


def test_missing_markers_refuse_to_write() -> None:
    with pytest.raises(ValueError):
        splice_fitted("FITTED = None\n", render_fitted(Tuning(**asdict(FITTED))))
