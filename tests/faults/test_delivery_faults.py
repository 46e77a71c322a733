"""kill -9 at each step of a daily delivery: the real bot process (`python -m bot telegram`) and the emulator.

A chat subscribed for 00:00 whose excerpt for today has not gone out gets it from the start-up catch-up,
CATCH_UP_DELAY seconds after start; CRASH_AT kills the process at the named step of that delivery. The
restarted bot (no CRASH_AT) must leave the chat with one excerpt today: never two, and never none unless
the kill fell between `sending` and the send itself (the message might have gone, so it counts as sent).
The bot runs keyword-only on an index of the seed article, so this suite needs Node but not the model.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import signal
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.chat.daily import local_day
from bot.chat.store import Store
from bot.chat.telegram_app import CATCH_UP_DELAY
from bot.retrieval.indexer import build_index
from tests.conftest import ROOT, SEED
from tests.e2e.tg_emulator import EmulatorClient, EmulatorServer, run_emulator

pytestmark = pytest.mark.asyncio(loop_scope="session")

CHAT = 7001
ZONE = "Asia/Shanghai"
START_TIMEOUT = 60.0  # seconds for a bot process to start and reach its catch-up delivery
# crash point → how many excerpts the chat may have today after the restart, and what the record says
POINTS = {
    "daily.claimed": ({1}, "重启后补发同一段摘录，当天恰好一条"),
    "daily.sending": ({0, 1}, "重启后视为已送达、不再补发：当天至多一条（已知的至多一次代价：可能漏这一条）"),
    "daily.sent": ({1}, "重启后不再补发，当天恰好一条"),
}
_tokens = itertools.count(870001)


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with run_emulator(bot_username="PartyFaultBot") as emu:
        yield emu


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("delivery-faults")
    corpus, index, models = root / "corpus", root / "index", root / "no-models"
    corpus.mkdir()
    models.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    build_index(corpus, index, None, progress=False)
    return corpus, index, models


class BotProcess:
    """`python -m bot telegram` (or `command`) with its own environment; its output goes to a log file for failures."""

    def __init__(self, env: dict[str, str], log: Path, command: tuple[str, ...] = ("-m", "bot", "telegram")) -> None:
        self.env, self.log, self.command = env, log, command
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, crash_at: str = "") -> None:
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                *self.command,
                cwd=self.log.parent,  # no .env from the working tree
                env={**self.env, "CRASH_AT": crash_at, "PYTHONPATH": str(ROOT)},  # this tree's code, not the venv's
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )

    async def wait(self, timeout: float) -> int | None:
        assert self.proc is not None
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            return None

    async def stop(self) -> None:
        """SIGTERM (run_polling shuts down cleanly), SIGKILL if that takes too long."""
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        if await self.wait(20) is None:
            self.proc.kill()
            await self.proc.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def claimed(db: Path) -> int:
    """How many passages the chat's rotation has used up."""
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM excerpts WHERE chat_id=?", (CHAT,)).fetchone()[0]


def settled(db: Path, day: str) -> bool:
    """Today's excerpt is settled and no delivery is left half-way (read from a second connection)."""
    with sqlite3.connect(db) as conn:
        (last_day,) = conn.execute("SELECT last_day FROM subscriptions WHERE chat_id=?", (CHAT,)).fetchone()
        pending = conn.execute("SELECT COUNT(*) FROM deliveries WHERE chat_id=?", (CHAT,)).fetchone()[0]
    return last_day == day and pending == 0


async def excerpts(user: EmulatorClient) -> list[dict]:
    return [m for m in await user.bot_messages(CHAT) if m["text"].startswith("每日摘录")]


@pytest.mark.parametrize("point", list(POINTS))
async def test_kill_9_during_a_daily_delivery_neither_repeats_nor_loses_it(
    emulator: EmulatorServer, library, tmp_path: Path, point: str, record
) -> None:
    corpus, index, models = library
    token = f"{next(_tokens)}:TEST-faults"
    data = tmp_path / "data"
    store = Store(data / "partybot.sqlite3")
    store.subscribe(CHAT, "00:00", ZONE, last_day="2000-01-01")  # due since midnight, never sent: caught up at start
    store.close()
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": token,
        "TELEGRAM_API_BASE_URL": emulator.base_url,
        "CORPUS_DIR": str(corpus),
        "INDEX_DIR": str(index),
        "DATA_DIR": str(data),
        "MODELS_DIR": str(models),
        "TIMEZONE": ZONE,
        "ADMIN_IDS": "",
    }
    bot = BotProcess(env, tmp_path / "bot.log")
    async with emulator.client(token) as user:
        await user.send_text(CHAT, "/start")  # a bot can only write to users who wrote first
        try:
            await bot.start(crash_at=point)
            code = await bot.wait(START_TIMEOUT + CATCH_UP_DELAY)
            assert code == -signal.SIGKILL, f"the bot did not kill itself at {point}:\n{bot.output()}"
            crashed_with = len(await excerpts(user))
            assert crashed_with == (1 if point == "daily.sent" else 0)

            await bot.start()
            day = local_day(ZONE)
            await user.wait_until(
                lambda: asyncio.to_thread(settled, data / "partybot.sqlite3", day),
                timeout=START_TIMEOUT + CATCH_UP_DELAY,
                what="today's excerpt to be settled after the restart",
            )
            await asyncio.sleep(1.0)  # a second send, if there were one, would land now
            got = len(await excerpts(user))
        finally:
            await bot.stop()
    allowed, outcome = POINTS[point]
    assert got in allowed, f"{got} excerpts today after a kill at {point}:\n{bot.output()}"
    assert claimed(data / "partybot.sqlite3") == 1  # the restart sent the passage claimed before the kill
    record(f"每日摘录发送进行到 `{point}` 时 kill -9", outcome)
