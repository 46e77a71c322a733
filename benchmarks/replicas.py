"""Throughput of 1 vs 2 bot replicas behind HAProxy, sharing a throwaway PostgreSQL, on this one box.

Each replica is a real `python -m bot telegram` process in webhook mode with the e5 model (when provisioned)
over the repository's corpus; the emulator posts every update to the proxy. Simulated private chats ask
concurrently, each waiting for its answer before asking again (as in bot_load). Latency runs from the
user's send to the reply being visible in the emulator. Replicas share the machine's cores with the
emulator, PostgreSQL and the proxy, so the ratio says what a second process buys on the same box, not on a
second one. Numbers only: they go to docs/measurements.md with their date.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import tempfile
from pathlib import Path

from benchmarks.bot_load import prepare_index, questions
from benchmarks.corpora import ROOT, WORK
from benchmarks.timing import Timing, time_lanes
from tests.e2e.test_replicas_e2e import Proxy, Replicas, replica_env
from tests.e2e.tg_emulator import EmulatorClient, EmulatorServer, free_port, run_emulator
from tests.faults.test_delivery_faults import BotProcess
from tests.postgres import PostgresCluster

_tokens = itertools.count(940001)


async def run(
    emu: EmulatorServer,
    cluster: PostgresCluster,
    shared: tuple[Path, Path, Path],
    root: Path,
    n: int,
    limited: bool,
    args,
) -> Timing:
    token, database = f"{next(_tokens)}:BENCH", cluster.create_database()
    folder = Path(tempfile.mkdtemp(dir=root, prefix=f"{n}-replicas-"))
    ports = {f"r{i}": free_port() for i in range(n)}
    proxy_port = free_port()
    proxy = Proxy(folder, proxy_port, ports)
    bots = {}
    for name, port in ports.items():
        env = replica_env(shared, token, database, port, proxy_port, folder / f"data-{name}")
        env.update(TELEGRAM_API_BASE_URL=emu.base_url, QUESTIONS_PER_MINUTE="0")
        command = ("-m", "bot", "telegram") if limited else ("-m", "benchmarks.replicas", "--serve-unlimited")
        bots[name] = BotProcess(env, folder / f"{name}.log", command)
    user = EmulatorClient(emu.base_url, token, timeout=60, poll_interval=0.05)
    group = Replicas(token, database, ports, bots, proxy, proxy_port, user)
    pool = questions()
    answered: list[bool] = []

    async def ask(chat_question: tuple[int, str]) -> None:
        chat_id, question = chat_question
        sent = await user.send_text(chat_id, question)
        reply = await user.wait_for_bot_message(chat_id, after=sent["message_id"], timeout=180)
        answered.append("出处：" in reply["text"])

    try:
        for bot in bots.values():
            await bot.start()
        for name in bots:
            await group.wait_healthy(name)
        await time_lanes(ask, [[(19000 + c, pool[c])] for c in range(args.chats)])  # warm-up, not counted
        answered.clear()
        total, chats = args.questions, args.chats
        lanes = [[(20000 + c, pool[(c * 7 + i) % len(pool)]) for i in range(c, total, chats)] for c in range(chats)]
        timing = await time_lanes(ask, lanes)
    finally:
        await user.aclose()
        for bot in bots.values():
            await bot.stop()
        proxy.stop()
    label = "with AIORateLimiter" if limited else "without rate limiter"
    print(
        f"\n{n} replica(s) {label}: {timing.calls}/{args.questions} questions from {args.chats} chats "
        f"({sum(answered)} with a citation, {len(answered) - sum(answered)} refusals)\n"
        f"  latency  p50 {timing.p50_ms:7.0f} ms   p95 {timing.p95_ms:7.0f} ms   max {timing.max_ms:7.0f} ms\n"
        f"  throughput {timing.rate:6.2f} questions/s   wall {timing.wall:.1f} s",
        flush=True,
    )
    return timing


async def main_async(args: argparse.Namespace) -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory(dir=WORK, prefix="replicas-") as folder:
        root = Path(folder)
        settings, _ = prepare_index(root)
        shared = (settings.corpus_dir, settings.index_dir, ROOT / "models")
        cluster = PostgresCluster().start()
        try:
            with run_emulator(bot_username="PartyReplicaBench") as emu:
                rates: dict[tuple[bool, int], list[float]] = {}
                for _ in range(args.rounds):  # alternating, so a change in the box's other load hits both
                    for limited in (True, False):
                        for n in (1, 2):
                            timing = await run(emu, cluster, shared, root, n, limited, args)
                            rates.setdefault((limited, n), []).append(timing.rate)
        finally:
            cluster.stop()
    for limited in (True, False):
        ratios = [two / one for one, two in zip(rates[(limited, 1)], rates[(limited, 2)]) if one]
        label = "with AIORateLimiter" if limited else "without rate limiter"
        print(f"\n{label}: throughput 2 replicas / 1 replica per round: {', '.join(f'{r:.2f}' for r in ratios)}")
    print(f"load average after: {os.getloadavg()}")


def serve_unlimited() -> None:
    """A replica as `python -m bot telegram` runs it in webhook mode, minus PTB's AIORateLimiter: what the
    bot itself can do, apart from the per-process cap on Telegram calls."""
    from bot.chat import webhook
    from bot.chat.telegram_app import build_application, webhook_options
    from bot.engine import open_searcher
    from bot.settings import get_settings

    settings = get_settings()
    app = build_application(settings, open_searcher(settings), telegram_limits=False)
    asyncio.run(webhook.serve(app, webhook_options(settings)))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.replicas", description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=20)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2, help="1-then-2 replica runs, alternating")
    parser.add_argument("--serve-unlimited", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_unlimited:
        serve_unlimited()
    else:
        asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
