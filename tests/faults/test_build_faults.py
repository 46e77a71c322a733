"""kill -9 at every step of a build, a corrupt served build, and what crashes leave behind.

Builds run keyword-only (no model folder), so this suite needs neither the model nor Node.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.engine import open_searcher
from bot.retrieval.index_files import CURRENT, PASSAGES, builds_newest_first, current_path
from bot.retrieval.search import IndexMissing, SearchIndex
from bot.settings import Settings
from tests.conftest import ROOT, SEED

POINTS = ["build.keywords", "build.manifest", "build.renamed", "build.swapped"]
NEW_ARTICLE = "---\ntitle: 积分超市\nplace: 金寨县\n---\n\n金寨县推行党员积分超市，每月兑换一次，积分可换日用品。\n"


def build(corpus: Path, index: Path, models: Path, crash_at: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "MODELS_DIR": str(models), "CRASH_AT": crash_at}
    return subprocess.run(
        [sys.executable, str(ROOT / "build_index.py"), "--corpus", str(corpus), "--index", str(index)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def library(tmp_path: Path) -> tuple[Path, Path, Path]:
    corpus, index, models = tmp_path / "corpus", tmp_path / "index", tmp_path / "no-models"
    corpus.mkdir()
    models.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    assert build(corpus, index, models).returncode == 0
    (corpus / "jinzhai.md").write_text(NEW_ARTICLE, encoding="utf-8")
    return corpus, index, models


def titles(index_dir: Path) -> set[str]:
    return {p.title for p in SearchIndex.load(index_dir).passages}


@pytest.mark.parametrize("point", POINTS)
def test_kill_9_during_a_build_keeps_a_whole_index_and_the_next_build_finishes(library, point, record):
    corpus, index, models = library
    before = titles(index)
    crashed = build(corpus, index, models, crash_at=point)
    assert crashed.returncode == -9
    served = titles(index)  # the build being served loads whole: the old one, or the new one once swapped
    assert served == (before | {"积分超市"} if point == "build.swapped" else before)
    assert build(corpus, index, models).returncode == 0
    assert "积分超市" in titles(index)
    assert not list(index.glob(f".{CURRENT}.*")) and not list((index / "builds").glob(".tmp-*"))
    record(f"构建进行到 `{point}` 时 kill -9", "仍在服务的索引完整可用；下一次构建清理残留并完成")


def test_a_truncated_current_build_falls_back_to_the_previous_one(library, record):
    corpus, index, models = library
    previous = current_path(index)
    assert build(corpus, index, models).returncode == 0
    newest = current_path(index)
    assert newest != previous
    text = (newest / PASSAGES).read_text(encoding="utf-8")
    (newest / PASSAGES).write_text(text[: len(text) // 2], encoding="utf-8")
    loaded = SearchIndex.load(index)
    assert loaded.path == previous and "改用较早的索引" in loaded.fallback
    record("`index/current` 的 passages.jsonl 被截断", "改用最新一个能完整加载的构建，并说明原因")


def test_no_loadable_build_is_a_clear_error_not_a_traceback(library, record):
    _, index, models = library
    for build_dir in builds_newest_first(index):
        (build_dir / PASSAGES).write_text("{broken\n", encoding="utf-8")
    with pytest.raises(IndexMissing, match="索引无法加载"):
        SearchIndex.load(index)
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "search", "帮带制", "--index", str(index)],
        cwd=ROOT,
        env={**os.environ, "MODELS_DIR": str(models)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1 and "索引无法加载" in proc.stderr and "Traceback" not in proc.stderr
    record("所有构建都损坏", "退出码 1，中文说明如何重建，没有堆栈")


def test_leftovers_of_killed_builds_and_uploads_are_swept_at_start(library, record):
    corpus, index, models = library
    (index / f".{CURRENT}.999999").symlink_to("builds/nowhere")
    (index / "builds" / ".tmp-killed").mkdir()
    dead = corpus / ".upload-999999-1.tmp"
    live = corpus / f".upload-{os.getpid()}-1.tmp"
    dead.write_bytes(b"half")
    live.write_bytes(b"in progress")
    open_searcher(Settings(_env_file=None, corpus_dir=corpus, index_dir=index, models_dir=models))
    assert not (index / f".{CURRENT}.999999").is_symlink() and not (index / "builds" / ".tmp-killed").exists()
    assert not dead.exists() and live.exists()
    record(
        "kill -9 留下的 `.current.<pid>` 链接、`.tmp-` 构建目录和 `.upload-*.tmp`", "启动时清理（仍在进行的上传保留）"
    )


def test_a_missing_current_link_serves_the_newest_build(library, record):
    _, index, _ = library
    newest = builds_newest_first(index)[0]
    (index / CURRENT).unlink()
    loaded = SearchIndex.load(index)
    assert loaded.path == newest and "不存在" in loaded.fallback
    record("`index/current` 链接丢失（首次构建在改名后、切换前被 kill -9）", "改用最新的完整构建，并说明原因")
