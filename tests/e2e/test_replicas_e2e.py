"""Two bot processes in webhook mode behind HAProxy, sharing a throwaway PostgreSQL, against the emulator.

The emulator posts each update to the proxy, which spreads them over the replicas (round robin, health
checks on /healthz); both replicas run the daily job. Replicas run keyword-only on an index of the seed
article (no model), on one shared corpus and index folder. HAProxy's admin socket takes a replica out of
rotation, so a test can tell which replica served what.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from bot.chat.daily import local_day
from bot.chat.store import Store
from tests.e2e.test_telegram_app import QUESTION, WEISHAN_MD
from tests.e2e.tg_emulator import EmulatorClient, EmulatorServer, free_port, run_emulator
from tests.faults.test_delivery_faults import BotProcess, library  # noqa: F401  (fixture: the shared corpus and index folders)
from tests.postgres import PostgresCluster

pytestmark = pytest.mark.asyncio(loop_scope="session")

ZONE = "Asia/Shanghai"
ADMIN = 4343
SECRET = "replica-s3cret"
PER_MINUTE = 10
START_TIMEOUT = 90.0
_tokens = itertools.count(880001)


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with run_emulator(bot_username="PartyReplicaBot") as emu:
        yield emu


class Proxy:
    """HAProxy in the foreground with an admin socket; `haproxy` must be on PATH (Debian: apt-get install haproxy)."""

    def __init__(self, folder: Path, port: int, backends: dict[str, int]) -> None:
        binary = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")
        assert binary, "haproxy is not installed (apt-get install haproxy); the replicas test needs it"
        self.socket = folder / "haproxy.sock"
        servers = "\n".join(
            f"    server {name} 127.0.0.1:{p} check inter 500 fall 3 rise 1" for name, p in backends.items()
        )
        config = folder / "haproxy.cfg"
        config.write_text(
            f"""global
    stats socket {self.socket} mode 600 level admin
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout check 5s
    retries 3
    option redispatch
    retry-on conn-failure empty-response
frontend hook
    bind 127.0.0.1:{port}
    default_backend replicas
backend replicas
    balance roundrobin
    option httpchk GET /healthz
{servers}
""",
            encoding="utf-8",
        )
        self.log = (folder / "haproxy.log").open("wb")
        self.proc = subprocess.Popen([binary, "-db", "-f", str(config)], stdout=self.log, stderr=self.log)

    def command(self, line: str) -> str:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(self.socket))
            s.sendall(line.encode() + b"\n")
            return s.makefile().read()

    def status(self, name: str) -> str:
        """UP, DOWN, MAINT… as HAProxy's health checks see replica `name`."""
        lines = self.command("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        for line in lines[1:]:
            row = dict(zip(header, line.split(",")))
            if row.get("pxname") == "replicas" and row.get("svname") == name:
                return row["status"]
        return ""

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()


@dataclass
class Replicas:
    token: str
    database: str
    ports: dict[str, int]
    bots: dict[str, BotProcess]
    proxy: Proxy
    proxy_port: int
    user: EmulatorClient

    async def health(self, name: str) -> dict:
        async with httpx.AsyncClient(timeout=5) as client:
            return (await client.get(f"http://127.0.0.1:{self.ports[name]}/healthz")).json()

    async def metrics(self, name: str) -> str:
        async with httpx.AsyncClient(timeout=5) as client:
            return (await client.get(f"http://127.0.0.1:{self.ports[name]}/metrics")).text

    async def wait_healthy(self, name: str) -> None:
        async def probe() -> bool:
            try:
                return bool((await self.health(name)).get("ok"))
            except (httpx.HTTPError, ValueError):
                return False

        await self.user.wait_until(probe, timeout=START_TIMEOUT, what=f"replica {name} to serve /healthz")

        await self.route(*self.bots)

    async def route(self, *names: str) -> None:
        """Send requests only to these replicas (the others go into maintenance), once HAProxy sees them up."""
        for other in self.bots:
            self.proxy.command(f"set server replicas/{other} state {'ready' if other in names else 'maint'}")

        async def up() -> bool:
            return all(self.proxy.status(name) == "UP" for name in names)

        await self.user.wait_until(up, timeout=10, what=f"HAProxy to route to {names}")

    def output(self) -> str:
        return "\n".join(f"--- replica {name}\n{bot.output()}" for name, bot in self.bots.items())


def replica_env(library: tuple[Path, Path, Path], token: str, database: str, port: int, proxy_port: int, data: Path):
    corpus, index, models = library
    return {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": token,
        "DATABASE_URL": database,
        "CORPUS_DIR": str(corpus),
        "INDEX_DIR": str(index),
        "MODELS_DIR": str(models),
        "DATA_DIR": str(data),
        "TIMEZONE": ZONE,
        "ADMIN_IDS": str(ADMIN),
        "QUESTIONS_PER_MINUTE": str(PER_MINUTE),
        "WEBHOOK_URL": f"http://127.0.0.1:{proxy_port}/hook",
        "WEBHOOK_LISTEN": "127.0.0.1",
        "WEBHOOK_PORT": str(port),
        "WEBHOOK_SECRET": SECRET,
        "DAILY_SWEEP_SECONDS": "1",
        "INDEX_POLL_SECONDS": "1",
    }


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def replicas(
    emulator: EmulatorServer, postgres: PostgresCluster, library, tmp_path_factory
) -> AsyncIterator[Replicas]:
    root = tmp_path_factory.mktemp("replicas")
    token, database = f"{next(_tokens)}:TEST-replicas", postgres.create_database()
    ports = {"a": free_port(), "b": free_port()}
    proxy_port = free_port()
    proxy = Proxy(root, proxy_port, ports)
    bots = {}
    for name, port in ports.items():
        env = replica_env(library, token, database, port, proxy_port, root / f"data-{name}")
        env["TELEGRAM_API_BASE_URL"] = emulator.base_url
        bots[name] = BotProcess(env, root / f"replica-{name}.log")
    async with emulator.client(token) as user:
        group = Replicas(token, database, ports, bots, proxy, proxy_port, user)
        try:
            for bot in bots.values():
                await bot.start()
            for name in bots:
                await group.wait_healthy(name)
            yield group
        finally:
            for bot in bots.values():
                await bot.stop()
            proxy.stop()


async def settle_counts(user: EmulatorClient, chats: list[int], want: int, what: str, predicate=None) -> dict:
    """Wait until every chat has `want` matching bot messages, then a moment more for any extra to land."""

    async def counts() -> dict[int, int]:
        return {c: sum(1 for m in await user.bot_messages(c) if predicate is None or predicate(m)) for c in chats}

    async def probe() -> bool:
        return all(n >= want for n in (await counts()).values())

    await user.wait_until(probe, timeout=120, what=what)
    await asyncio.sleep(2.0)
    return await counts()


def is_excerpt(message: dict) -> bool:
    return message["text"].startswith("每日摘录")


async def excerpt_counts(user: EmulatorClient, chats: list[int]) -> dict[int, int]:
    return {chat: sum(1 for m in await user.bot_messages(chat) if is_excerpt(m)) for chat in chats}


# --------------------------------------------------------------------------- questions


async def test_200_questions_from_20_chats_are_each_answered_once(replicas: Replicas) -> None:
    user = replicas.user
    chats = list(range(6001, 6021))

    async def one_chat(chat: int) -> None:
        for _ in range(PER_MINUTE):
            await user.send_text(chat, QUESTION)

    await asyncio.gather(*(one_chat(chat) for chat in chats))
    counts = await settle_counts(user, chats, PER_MINUTE, "every question to be answered")
    assert set(counts.values()) == {PER_MINUTE}, f"{counts}\n{replicas.output()}"
    answered = [m for m in await user.bot_messages(chats[0])]
    assert all("出处：" in m["text"] for m in answered)
    for name in replicas.ports:  # both replicas took a share of the updates
        taken = [
            line for line in (await replicas.metrics(name)).splitlines() if line.startswith("partybot_webhook_updates")
        ]
        assert any('result="taken"' in line and not line.endswith(" 0.0") for line in taken), (name, taken)


async def test_a_resent_update_is_answered_once(replicas: Replicas) -> None:
    """Telegram resends an update it thinks went unanswered; whichever replica gets the copy drops it."""
    user, chat = replicas.user, 6101
    message = await user.send_text(chat, QUESTION)
    await user.wait_for_bot_message(chat, after=message["message_id"], timeout=30)
    update = {"update_id": message.pop("update_id"), "message": message}
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with httpx.AsyncClient(timeout=10) as client:
        for _ in range(4):  # round robin: both replicas get copies
            response = await client.post(f"http://127.0.0.1:{replicas.proxy_port}/hook", json=update, headers=headers)
            assert response.status_code == 200
    await asyncio.sleep(2.0)
    assert len(await user.bot_messages(chat)) == 1


async def test_the_question_limit_is_shared_by_the_replicas(replicas: Replicas) -> None:
    user, chat = replicas.user, 6201
    for _ in range(PER_MINUTE + 3):
        await user.send_text(chat, QUESTION)
    counts = await settle_counts(user, [chat], PER_MINUTE + 1, "answers and one notice")
    messages = await user.bot_messages(chat)
    notices = [m for m in messages if m["text"].startswith("提问太频繁")]
    assert counts[chat] == PER_MINUTE + 1 and len(notices) == 1, [m["text"][:20] for m in messages]


# --------------------------------------------------------------------------- daily excerpts


async def subscribe(replicas: Replicas, chats: list[int]) -> None:
    """Chats that wrote first (a bot may only write to those), then subscribed, due since midnight."""
    for chat in chats:
        await replicas.user.send_text(chat, "/start")
    store = Store(replicas.database)
    for chat in chats:
        store.subscribe(chat, "00:00", ZONE, last_day="2000-01-01")
    store.close()


def settled_days(replicas: Replicas, chats: list[int]) -> set[str | None]:
    store = Store(replicas.database)
    try:
        days = {store.subscription(chat).last_day for chat in chats}  # type: ignore[union-attr]
        assert all(store.delivery(chat) is None for chat in chats)
        return days
    finally:
        store.close()


async def test_50_chats_get_one_excerpt_each_while_both_replicas_run_the_daily_job(replicas: Replicas) -> None:
    chats = list(range(7101, 7151))
    await subscribe(replicas, chats)
    counts = await settle_counts(replicas.user, chats, 1, "each chat's excerpt", is_excerpt)
    await asyncio.sleep(3.0)  # several more sweeps by both replicas
    counts = await excerpt_counts(replicas.user, chats)
    assert set(counts.values()) == {1}, f"{counts}\n{replicas.output()}"
    assert settled_days(replicas, chats) == {local_day(ZONE)}


@pytest.mark.parametrize("point", ["daily.claimed", "daily.sent"])
async def test_kill_9_of_a_replica_mid_delivery_loses_and_repeats_nothing(
    replicas: Replicas, point: str, record
) -> None:
    """Replica a kills itself at `point` of its first delivery; b, paused until then (SIGSTOP, so that a
    surely delivers first), finishes a's chat and the rest: a's hold died with it, its outbox row did not."""
    a, b = replicas.bots["a"], replicas.bots["b"]
    chats = list(range(7201, 7251)) if point == "daily.claimed" else list(range(7301, 7351))
    await a.stop()
    await a.start(crash_at=point)
    await replicas.wait_healthy("a")
    await replicas.route("a")
    assert b.proc is not None
    b.proc.send_signal(signal.SIGSTOP)
    try:
        await subscribe(replicas, chats)
        code = await a.wait(START_TIMEOUT)
        assert code == -signal.SIGKILL, f"replica a did not kill itself at {point}:\n{replicas.output()}"
        before = sum((await excerpt_counts(replicas.user, chats)).values())
        assert before == (1 if point == "daily.sent" else 0)
    finally:
        b.proc.send_signal(signal.SIGCONT)
    await replicas.route("b")
    counts = await settle_counts(replicas.user, chats, 1, "each chat's excerpt after the kill", is_excerpt)
    assert set(counts.values()) == {1}, f"{counts}\n{replicas.output()}"
    assert settled_days(replicas, chats) == {local_day(ZONE)}
    await a.start()
    await replicas.wait_healthy("a")
    record(
        f"两个副本、50 个聊天的每日摘录进行中，副本 A 在 `{point}` 处 kill -9",
        "副本 B 接手（A 的锁随进程消失，发件箱记录还在）：每个聊天恰好一条，不丢不重",
    )


# --------------------------------------------------------------------------- reindex


async def test_a_reindex_on_replica_a_is_served_by_replica_b(replicas: Replicas, library) -> None:
    corpus = library[0]
    user = replicas.user
    await replicas.route("a")
    (corpus / "weishan.md").write_text(WEISHAN_MD, encoding="utf-8")
    command = await user.send_text(ADMIN, "/reindex")
    await user.wait_for_bot_message(
        ADMIN, lambda m: m["text"].startswith("索引已更新"), after=command["message_id"], timeout=180
    )
    published = (await replicas.health("a"))["index"]
    started = asyncio.get_running_loop().time()

    async def b_serves() -> bool:
        return (await replicas.health("b"))["index"] == published

    await user.wait_until(b_serves, timeout=30, what="replica b to swap in the published index")
    swapped_in = asyncio.get_running_loop().time() - started
    await replicas.route("b")
    question = await user.send_text(6301, "微山县的湖上党课是怎么开展的？")
    reply = await user.wait_for_bot_message(6301, after=question["message_id"], timeout=30)
    await replicas.route("a", "b")
    assert "湖上党课" in reply["text"] and "出处：" in reply["text"], reply["text"]
    health = await replicas.health("b")
    assert health["index"] == health["published"] == published
    assert swapped_in < 10.0  # polled every second; loading the small index takes well under the rest
