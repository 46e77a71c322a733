import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from bot.retrieval.indexer import build_index, current_path, index_text, is_stale, read_manifest, sentence_texts
from bot.retrieval.search import Searcher, SearchIndex
from tests.conftest import ROOT, SEED

NEW_ARTICLE = """---
title: 微山县推行“湖上党课”
date: 2022-11-02
place: 微山
source: 济宁日报
author: 通讯员 张三
---

微山县在渔船上开设“湖上党课”，组织渔民党员每月集中学习一次，累计开展湖上党课86场。

湖上党课由镇党委书记轮流主讲，内容包括政策解读、渔业技术和安全生产，每次课后组织渔民党员交流心得。
"""


def _fresh_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    return corpus


def test_build_writes_manifest_and_swaps_current(tmp_path, encoder):
    corpus, index = _fresh_corpus(tmp_path), tmp_path / "index"
    report = build_index(corpus, index, encoder, progress=False)
    assert (report.articles, report.captions) == (6, 2) and report.passages > 30 and report.dense
    manifest = read_manifest(index)
    assert manifest["model"]["fingerprint"] == encoder.fingerprint
    assert SEED.name in manifest["corpus"]
    assert manifest["counts"]["passages"] == report.passages
    assert (current_path(index) / "vectors.faiss").exists()
    assert not is_stale(corpus, index, encoder.fingerprint)
    assert is_stale(corpus, index, "another-model")


def test_incremental_rebuild_encodes_only_new_passages(tmp_path, encoder):
    corpus, index = _fresh_corpus(tmp_path), tmp_path / "index"
    first = build_index(corpus, index, encoder, progress=False)
    (corpus / "weishan.md").write_text(NEW_ARTICLE, encoding="utf-8")
    assert is_stale(corpus, index, encoder.fingerprint)
    second = build_index(corpus, index, encoder, progress=False)
    assert second.added == 2 and second.removed == 0
    new = [p for p in SearchIndex.load(index).passages if "微山" in p.title + p.text]
    assert len(new) == 2
    assert second.encoded == len({t for p in new for t in (index_text(p), *sentence_texts(p))})
    assert second.cached == first.encoded + first.cached
    hits = Searcher(SearchIndex.load(index), encoder).search("微山县湖上党课开展了多少场？").hits
    assert "86场" in hits[0].passage.text


def test_broken_file_is_reported_and_rest_builds(tmp_path, encoder):
    corpus, index = _fresh_corpus(tmp_path), tmp_path / "index"
    (corpus / "broken.jsonl").write_text("{not json\n", encoding="utf-8")
    (corpus / "empty.txt").write_text("", encoding="utf-8")
    report = build_index(corpus, index, encoder, progress=False)
    assert (report.articles, report.captions) == (6, 2)
    named = " ".join(str(e) for e in report.errors)
    assert "broken.jsonl" in named and "empty.txt" in named


def test_keyword_only_build_without_model(tmp_path):
    corpus, index = _fresh_corpus(tmp_path), tmp_path / "index"
    report = build_index(corpus, index, None, progress=False)
    assert not report.dense
    searcher = Searcher(SearchIndex.load(index), None)
    assert "1687盏" in searcher.search("金乡安装路灯多少盏").hits[0].passage.text


def test_killed_build_leaves_old_index_serving(tmp_path, encoder):
    corpus, index = _fresh_corpus(tmp_path), tmp_path / "index"
    build_index(corpus, index, encoder, progress=False)
    before = current_path(index)
    lines = [
        json.dumps(
            {
                "title": f"测试文章{i}",
                "source": "测试",
                "date": "2022-01-01",
                "text": "\n\n".join(
                    f"第{i}篇第{j}段，内容关于乡村振兴和基层治理的第{j}项具体做法。" * 4 for j in range(20)
                ),
            },
            ensure_ascii=False,
        )
        for i in range(40)
    ]
    (corpus / "bulk.jsonl").write_text("\n".join(lines), encoding="utf-8")
    env = {**os.environ, "EMBED_BATCH_SIZE": "8"}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "build_index.py"), "--corpus", str(corpus), "--index", str(index)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not list((index / "builds").glob(".tmp-*/passages.jsonl")):
        time.sleep(0.1)
    time.sleep(1.0)
    assert proc.poll() is None, "the build finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert current_path(index) == before
    searcher = Searcher(SearchIndex.load(index), encoder)
    assert "1名原第一书记指导" in searcher.search("3+1帮带制是怎么运作的？").hits[0].passage.text
    report = build_index(corpus, index, encoder, progress=False)
    assert report.cached > 0 and current_path(index) != before
    assert not list((index / "builds").glob(".tmp-*"))
