"""kill -9 while /reindex encodes: the restarted bot resumes the build in the message that showed its
progress, and the new article is indexed. The real bot process, the emulator and the real model."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest

from bot.retrieval.search import SearchIndex
from tests.conftest import MODELS
from tests.faults.test_delivery_faults import START_TIMEOUT, BotProcess, emulator  # noqa: F401  (fixture)

pytestmark = pytest.mark.asyncio(loop_scope="session")

ADMIN = 7101
ARTICLE = "\n\n".join(
    f"梁山县第{i}个村推行党员积分超市，党员参加志愿服务每次积{i % 9 + 1}分，每月10日集中兑换一次。" for i in range(300)
)


async def test_a_reindex_killed_mid_encode_is_resumed_at_start(
    emulator, seed_corpus: Path, seed_index: Path, tmp_path: Path, record
) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(seed_corpus, corpus)
    shutil.copytree(seed_index, index, symlinks=True)
    token = "880001:TEST-faults"
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": token,
        "TELEGRAM_API_BASE_URL": emulator.base_url,
        "CORPUS_DIR": str(corpus),
        "INDEX_DIR": str(index),
        "DATA_DIR": str(tmp_path / "data"),
        "MODELS_DIR": str(MODELS),
        "ADMIN_IDS": str(ADMIN),
    }
    bot = BotProcess(env, tmp_path / "bot.log")
    async with emulator.client(token) as user:
        try:
            await bot.start(crash_at="build.encoding")
            await user.send_text(ADMIN, "/start")
            await user.wait_for_bot_message(ADMIN, timeout=START_TIMEOUT)
            (corpus / "jifen.md").write_text(f"# 梁山县积分超市\n\n{ARTICLE}\n", encoding="utf-8")
            started = await user.send_text(ADMIN, "/reindex")
            status = await user.wait_for_bot_message(
                ADMIN, lambda m: m["text"].startswith("正在更新索引"), after=started["message_id"], timeout=30
            )
            assert await bot.wait(START_TIMEOUT * 3) == -signal.SIGKILL, bot.output()

            await bot.start()

            async def resumed_and_done() -> bool:
                mine = [m for m in await user.bot_messages(ADMIN) if m["message_id"] == status["message_id"]]
                return bool(mine) and mine[0]["text"].startswith("索引已更新")

            await user.wait_until(resumed_and_done, timeout=START_TIMEOUT * 4, what="the resumed reindex to finish")
            messages = await user.bot_messages(ADMIN)
        finally:
            await bot.stop()
    assert "梁山县积分超市" in {p.title for p in SearchIndex.load(index).passages}
    assert not [m for m in messages if m["text"].startswith(("正在编码", "正在更新索引"))]  # no progress left behind
    record("重建索引编码途中 kill -9", "重启后在原进度消息里重新开始并完成（已编码部分取自缓存），新文章可被检索")
