"""Hostile and unlucky input end to end: floods, bombs, odd encodings, oversized fields, a full disk,
a revoked token, a cancelled rebuild. Each test is one row of docs/reliability.md's table."""

from __future__ import annotations

import asyncio
import json
import os
import random
import sqlite3
import string
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.chat.store import StoreError
from tests.conftest import ROOT
from tests.e2e.test_telegram_app import (  # noqa: F401  (fixtures)
    ADMIN,
    QUESTION,
    Bot,
    Starter,
    ask,
    emulator,
    library,
    make_settings,
    searcher,
    settle,
    start_bot,
)
from tests.unit.test_sandbox import pdf_bomb, yaml_alias_bomb

pytestmark = pytest.mark.asyncio(loop_scope="session")

ARTICLE = "今年以来，微山县推行党员积分超市，党员参加志愿服务可以积分，每月兑换一次生活用品。"
TOKEN = "987654321:AAE-SECRET-partybot-token-must-not-leak"


async def upload(bot: Bot, name: str, data: bytes, chat: int = ADMIN) -> dict:
    sent = await bot.user.send_document(chat, name, data, user_id=ADMIN)
    return await bot.user.wait_for_bot_message(chat, after=sent["message_id"], timeout=60)


@pytest.fixture
async def admin_bot(start_bot: Starter, emulator, library, searcher, tmp_path) -> Bot:
    settings = make_settings(
        emulator, library, tmp_path / "data", parse_memory_mb=400, parse_cpu_seconds=10, max_upload_articles=50
    )
    return await start_bot(settings, searcher)


async def test_a_flood_gets_one_notice_then_silence_and_other_chats_are_answered(
    start_bot: Starter, emulator, library, searcher, tmp_path, record
) -> None:
    bot = await start_bot(make_settings(emulator, library, tmp_path / "data", questions_per_minute=3), searcher)
    flooder, other = 1101, 1102
    await asyncio.gather(*(bot.user.send_text(flooder, f"{QUESTION} {i}") for i in range(60)))
    answered = await ask(bot.user, other, QUESTION)
    assert "出处：" in answered["text"]
    messages = await settle(bot.user, flooder, seconds=2.0)
    notices = [m for m in messages if "提问太频繁" in m["text"]]
    assert len(notices) == 1 and len(messages) == 3 + 1
    record(
        "一个用户瞬间发 60 条（限额 3 条/分钟），另一聊天同时提问",
        "洪水方得到 3 个回答和 1 条频率提示，之后沉默；另一聊天照常得到回答",
    )


async def test_yaml_alias_bomb_upload_is_refused_and_nothing_is_saved(admin_bot: Bot, library, record) -> None:
    before = sorted(p.name for p in library.corpus.iterdir())
    reply = await upload(admin_bot, "bomb.md", yaml_alias_bomb(Path(admin_bot.settings.data_dir) / "b.md").read_bytes())
    assert "无法解析" in reply["text"] and "别名" in reply["text"]
    assert sorted(p.name for p in library.corpus.iterdir()) == before
    record("管理员上传 YAML 别名炸弹 .md", "子进程解析，拒绝并说明“别名”；资料库不变")


async def test_pdf_bomb_upload_hits_the_memory_limit(admin_bot: Bot, tmp_path, record) -> None:
    reply = await upload(admin_bot, "bomb.pdf", pdf_bomb(tmp_path / "bomb.pdf", 600).read_bytes())
    assert "无法解析" in reply["text"] and "内存超过上限" in reply["text"]
    record("上传压缩流炸弹 PDF（解压 600 MB）", "子进程触到内存上限，拒绝并说明；机器人内存不受影响")


async def test_random_ascii_named_txt_is_not_an_article(admin_bot: Bot, record) -> None:
    noise = "".join(random.Random(5).choice(string.printable) for _ in range(1_000_000)).encode()
    reply = await upload(admin_bot, "notes.txt", noise)
    assert "不像中文文章" in reply["text"]
    record("上传 1 MB 随机可打印 ASCII，扩展名 .txt", "拒绝：不像中文文章（汉字占比）")


async def test_absurd_title_and_too_many_articles_are_refused_with_the_limit(admin_bot: Bot, record) -> None:
    long_title = json.dumps({"title": "长" * 4500, "text": ARTICLE}, ensure_ascii=False).encode()
    reply = await upload(admin_bot, "long.jsonl", long_title)
    assert "字段 title 太长（4500 字" in reply["text"] and len(reply["text"]) < 4096
    rows = [json.dumps({"title": f"积分超市第{i}期", "text": ARTICLE}, ensure_ascii=False) for i in range(60)]
    reply = await upload(admin_bot, "many.jsonl", "\n".join(rows).encode())
    assert "有 60 篇文章" in reply["text"] and "最多 50 篇" in reply["text"]
    record("上传标题 4,500 字的 .jsonl；篇数超过上限的 .jsonl", "逐行说明字段超长；超篇数的文件整体拒绝并给出上限")


async def test_utf16_and_gbk_uploads_and_a_huge_name_are_saved(admin_bot: Bot, library, record) -> None:
    text = f"# 微山县积分超市\n\n{ARTICLE}\n"
    for name, data in [
        ("utf16.md", text.encode("utf-16")),
        ("gbk.md", text.replace("微山", "鱼台").encode("gbk")),
        ("\U00020000" * 100 + ".md", text.replace("微山", "梁山").encode("utf-8")),
    ]:
        reply = await upload(admin_bot, name, data)
        assert "已收到 1 篇文章" in reply["text"], reply["text"]
        await admin_bot.user.wait_for_bot_message(
            ADMIN, lambda m: m["text"].startswith("索引已更新"), after=reply["message_id"], timeout=120
        )
    saved = [p.name for p in library.corpus.iterdir()]
    assert all(len(name.encode()) <= 255 for name in saved) and any(n.startswith("\U00020000") for n in saved)
    record("上传 UTF-16、GBK 编码的文章；文件名为 100 个 U+20000", "正确解码并入库；文件名按字节截断")


async def test_a_paragraph_without_chinese_stops_is_split_and_today_fits(admin_bot: Bot, record) -> None:
    run_on = "党员干部到村里走访群众了解诉求帮助解决困难" * 250  # 5,000 characters, no 。！？
    data = f"---\ntitle: 长段落\ndate: 2099-01-01\n---\n\n{run_on}\n".encode()
    reply = await upload(admin_bot, "runon.md", data)
    assert "已收到 1 篇文章" in reply["text"]
    await admin_bot.user.wait_for_bot_message(
        ADMIN, lambda m: m["text"].startswith("索引已更新"), after=reply["message_id"], timeout=180
    )
    today = await ask(admin_bot.user, 1103, "/today")
    assert today["text"].startswith("文章摘录\n长段落") and len(today["text"]) < 4096
    record("上传 5,000 字无句末标点的段落，随后 /today", "按逗号/长度切成段落；摘录在 Telegram 长度限制内")


async def test_answers_survive_a_full_disk(admin_bot: Bot, caplog, record) -> None:
    db = admin_bot.core.store._engine.raw_connection().driver_connection  # SQLITE_FULL on the bot's own connection
    db.execute("CREATE TABLE ballast (b BLOB)")
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count={pages}")
    with pytest.raises(sqlite3.OperationalError, match="full"):
        for _ in range(10_000):
            db.execute("INSERT INTO ballast VALUES (zeroblob(1000))")
    with pytest.raises(StoreError, match="full"):  # the free room left in the table's own pages
        for _ in range(10_000):
            admin_bot.core.store.save_query(None, QUESTION, [])
    reply = await ask(admin_bot.user, 1104, QUESTION)
    assert "出处：" in reply["text"] and "reply_markup" not in reply
    assert "database or disk is full" in caplog.text
    record("数据盘写满（SQLITE_FULL）时提问", "照常回答（不带按钮），真实错误写入日志")


async def test_reindex_can_be_cancelled_and_the_old_index_keeps_serving(admin_bot: Bot, library, record) -> None:
    async def idle() -> bool:  # a start-up reindex of changes left by another test must not be the one cancelled
        return not admin_bot.core.reindexing

    await admin_bot.user.wait_until(idle, timeout=180, what="no reindex running")
    paragraphs = "\n\n".join(
        f"第{i}个村推行积分超市，党员每月兑换一次，共有{i * 7}户参加，效果明显。" for i in range(600)
    )
    (library.corpus / "big.md").write_text(f"# 积分超市汇编\n\n{paragraphs}\n", encoding="utf-8")
    served = admin_bot.core.searcher.index.path
    started = await ask(admin_bot.user, ADMIN, "/reindex")
    assert started["text"].startswith("正在更新索引") and "/reindex cancel" in started["text"]
    cancelling = await ask(admin_bot.user, ADMIN, "/reindex cancel")
    assert "正在取消" in cancelling["text"]
    await admin_bot.user.wait_until(
        lambda: _edited_to(admin_bot, started["message_id"], "索引更新已取消"), timeout=180, what="cancelled"
    )
    assert admin_bot.core.searcher.index.path == served and not admin_bot.core.reindexing
    (library.corpus / "big.md").unlink()
    idle = await ask(admin_bot.user, ADMIN, "/reindex cancel")
    assert "没有正在进行" in idle["text"]
    record("重建索引途中 /reindex cancel", "在下一批编码后停止，旧索引继续服务，进度消息改为“已取消”")


async def _edited_to(bot: Bot, message_id: int, prefix: str) -> bool:
    return any(
        m["message_id"] == message_id and m["text"].startswith(prefix) for m in await bot.user.bot_messages(ADMIN)
    )


class _Refusing(BaseHTTPRequestHandler):
    """Telegram's answers to a revoked token (401) and to a wrong API path (404)."""

    status = 401

    def do_POST(self) -> None:
        description = "Unauthorized" if self.status == 401 else "Not Found"
        body = json.dumps({"ok": False, "error_code": self.status, "description": description}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, *args: object) -> None:
        pass


def _run_bot(base_url: str, library, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": base_url,
        "CORPUS_DIR": str(library.corpus),
        "INDEX_DIR": str(library.index),
        "DATA_DIR": str(tmp_path / "data"),
        "MODELS_DIR": str(tmp_path / "no-models"),
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "telegram"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("status", [401, 404])
async def test_a_revoked_token_or_wrong_api_url_is_a_clear_error_without_the_token(
    status, library, tmp_path, record
) -> None:
    handler = type("Refusing", (_Refusing,), {"status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        proc = await asyncio.to_thread(_run_bot, f"http://127.0.0.1:{server.server_address[1]}", library, tmp_path)
    finally:
        server.shutdown()
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "Telegram 拒绝了机器人令牌" in output and "TELEGRAM_BOT_TOKEN" in output
    assert TOKEN not in output and TOKEN.split(":")[1] not in output
    record(f"启动时 Telegram 返回 {status}（令牌被撤销或 API 地址错误）", "中英文说明、退出码 1，输出中没有令牌")


async def test_an_unreachable_api_is_a_clear_error_without_the_token(emulator, library, tmp_path, record) -> None:
    proc = await asyncio.to_thread(_run_bot, f"{emulator.base_url}/wrong-prefix", library, tmp_path)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "无法连接 Telegram" in output and TOKEN.split(":")[1] not in output
    record("启动时 API 返回 5xx/连不上", "中英文说明、退出码 1，输出中没有令牌")
