"""Console mode (a real `python -m bot console` driven through a pipe) and the channel-neutral Core under it."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.chat.console import ConsoleSession
from bot.chat.core import Core, SlidingWindow, parse_button, safe_filename, same_content, save_new
from bot.chat.replies import PLAIN
from bot.chat.store import Store
from bot.retrieval.search import Searcher, SearchIndex
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "3+1帮带制是怎么运作的？"


def run_console(lines: list[str], corpus: Path, index: Path, data: Path) -> str:
    """`python -m bot console` fed `lines` through a pipe, as a real terminal session would; its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    env.update(
        CORPUS_DIR=str(corpus),
        INDEX_DIR=str(index),
        DATA_DIR=str(data),
        MODELS_DIR=str(ROOT / "models"),
        PYTHONIOENCODING="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "console"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_console_through_a_pipe(seed_corpus, seed_index, tmp_path) -> None:
    script = [QUESTION, "/more", "/full", "/sources", "", "/quit", "这一行不会被处理"]
    out = run_console(script, seed_corpus, seed_index, tmp_path / "data")
    assert out.splitlines()[0].startswith("党建问答（终端模式）") and "/quit" in out.splitlines()[0]
    answer_at = out.index("【")
    assert "1名原第一书记指导" in out[answer_at : out.index("】")]
    assert "出处：金乡实行“四制”工作法" in out and "（/more 更多结果 · /full 阅读全文）" in out
    more_at = out.index("更多结果\n\n2. ")
    full_at = out.index("金乡实行“四制”工作法 打造高素质第一书记队伍\n金乡 · 本报金乡讯")
    sources_at = out.index("资料库概况")
    empty_at = out.index("请直接输入问题")
    assert answer_at < more_at < full_at < sources_at < empty_at
    assert "自派驻以来，全县各级第一书记累计走访群众8.6万余户" in out[full_at:sources_at]  # the whole article
    assert "<b>" not in out and "&lt;" not in out
    assert (tmp_path / "data" / "partybot.sqlite3").exists()


# --------------------------------------------------------------------------- in-process sessions


@pytest.fixture
def session(seed_searcher, seed_corpus, seed_index, tmp_path):
    settings = Settings(_env_file=None, corpus_dir=seed_corpus, index_dir=seed_index, data_dir=tmp_path)
    store = Store(settings.db_path)
    out = io.StringIO()
    yield ConsoleSession(Core(settings, seed_searcher, store), out), out
    store.close()


def run(session_and_out, *lines: str) -> str:
    session, out = session_and_out
    start = out.tell()
    for line in lines:
        session.handle(line)
    out.seek(start)
    return out.read()


def test_console_commands(session) -> None:
    assert "请先提问" in run(session, "/more")
    assert "请先提问" in run(session, "/full")
    first, second = run(session, "/today"), run(session, "/today")
    assert first.startswith("文章摘录\n嘉祥") and first != second
    assert "终端模式不支持每日推送" in run(session, "/daily 08:00")
    assert "不认识的命令 /nope" in run(session, "/nope")
    assert "请在 /ask 后面写上问题" in run(session, "/ask")
    assert "【" in run(session, f"/ask {QUESTION}")
    assert "请用文字提问" in run(session, "🙂🙂")
    refused = run(session, "How do I reset the root password on a Linux server?")
    assert "没有找到" in refused and "/sources" in refused and "/more" not in refused
    assert session[0].handle("/quit") is False and session[0].handle("/exit") is False


def test_console_full_of_another_result(session) -> None:
    console = session[0]
    run(session, "党建引领乡村振兴")
    more = run(session, "/more")
    assert more.startswith("更多结果")
    hits = console.core.store.query(console.last_query).hits
    seen, expected = {hits[0][1]}, []
    for rank, (_, article_id) in enumerate(hits[1:], start=2):
        if article_id not in seen:
            seen.add(article_id)
            expected.append((rank, article_id))
    for rank, article_id in expected:  # one /full N per further article; the answer's own is plain /full
        assert f"/full {rank} " in more
        title = console.core.view().by_article[article_id][0].title
        assert run(session, f"/full {rank}").startswith(title)
    if not expected:
        assert "/full" not in more


def test_console_reindex(tmp_path, seed_corpus, seed_index, encoder) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(seed_corpus, corpus)
    shutil.copytree(seed_index, index, symlinks=True)
    settings = Settings(_env_file=None, corpus_dir=corpus, index_dir=index, data_dir=tmp_path / "data")
    store = Store(settings.db_path)
    out = io.StringIO()
    session = ConsoleSession(Core(settings, Searcher(SearchIndex.load(index), encoder), store), out)
    session.handle("/reindex")
    store.close()
    assert "正在更新索引" in out.getvalue() and "索引已更新：共 6 篇文章" in out.getvalue()
    assert "新增 0 段，移除 0 段" in out.getvalue()


# --------------------------------------------------------------------------- Core pieces


def test_sliding_window() -> None:
    now = [1000.0]
    window = SlidingWindow(3, 60.0, clock=lambda: now[0])
    assert [window.hit(1) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert window.hit(1) == pytest.approx(60.0)
    assert window.hit(2) == 0.0  # per user
    now[0] += 30
    assert window.hit(1) == pytest.approx(30.0)  # sliding: not reset at a minute boundary
    now[0] += 30.5
    assert window.hit(1) == 0.0
    assert SlidingWindow(0).hit(1) == 0.0  # 0 disables the limit


@pytest.mark.parametrize(
    "name, expected",
    [
        ("微山“湖上党课”.md", "微山_湖上党课.md"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\evil.PDF", "evil.pdf"),
        (".hidden.md", "hidden.md"),
        ("a b/c d.jsonl", "c_d.jsonl"),
        ("README.md", "upload_README.md"),
        ("....md", "upload.md"),
        ("党建 ＡＢＣ（一）.docx", "党建_ABC_一.docx"),
        ("x" * 300 + ".txt", "x" * 80 + ".txt"),
    ],
)
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


def test_save_new_never_overwrites(tmp_path) -> None:
    corpus = tmp_path / "corpus"
    first = save_new(corpus, "a.md", b"one")
    second = save_new(corpus, "a.md", b"two")
    assert (first.name, second.name) == ("a.md", "a-2.md")
    assert first.read_bytes() == b"one" and second.read_bytes() == b"two"
    assert same_content(corpus, b"two") == "a-2.md" and same_content(corpus, b"three") is None
    assert sorted(p.name for p in corpus.iterdir()) == ["a-2.md", "a.md"]  # no temp files left


def test_parse_button() -> None:
    assert parse_button("more:AbC-_1:1") == ("more", "AbC-_1", 1)
    assert parse_button("full:abc:12") == ("full", "abc", 12)
    for bad in ("", "vote:up", "more:abc", "full:a b:1", "more:abc:1:2"):
        assert parse_button(bad) is None


def test_core_expired_buttons(session) -> None:
    core = session[0].core
    assert not core.more("missing", PLAIN).ok and not core.full("missing", 1, PLAIN).ok
    reply = core.ask(QUESTION, PLAIN, 0)
    assert reply.ok and reply.query_id
    assert not core.full(reply.query_id, 99, PLAIN).ok
    assert core.full(reply.query_id, 1, PLAIN).ok


def test_console_follows_up_through_a_pipe(seed_corpus, seed_index, tmp_path) -> None:
    script = [QUESTION, "那嘉祥县呢？", "第二条具体说说", "/new", "还有吗", "/quit"]
    out = run_console(script, seed_corpus, seed_index, tmp_path / "data")
    swapped = out.index("按“嘉祥县3+1帮带制是怎么运作的？”理解：\n")
    item = out.index("按“《嘉祥：常态化推动干部监督全覆盖》第2条”理解：\n【全面覆盖“八小时外”。")
    forgotten = out.index("好的，换个话题。")
    nothing = out.index("没有可以接着说的上一个问题")
    assert out.index("1名原第一书记指导") < swapped < item < forgotten < nothing
    assert "出处：嘉祥：常态化推动干部监督全覆盖" in out[swapped:item]
