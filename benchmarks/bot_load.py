"""Load test of the real Telegram bot against the local Bot API emulator.

20 simulated private chats ask 200 questions concurrently (each chat waits for its answer before asking
the next, like a person); prints p50/p95/max end-to-end latency (user's send → bot's reply visible in the
emulator) and throughput. Two runs: with PTB's AIORateLimiter (Telegram's 30 messages/s ceiling, as in
production) and without it (the bot's own capacity). Numbers only, no assertions on time.

    .venv/bin/python benchmarks/bot_load.py [--chats 20] [--questions 200] [--only limited|unlimited]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from tg_emulator import EmulatorClient, EmulatorServer, run_emulator  # noqa: E402

from bot.chat.telegram_app import build_application  # noqa: E402
from bot.engine import open_encoder  # noqa: E402
from bot.retrieval.indexer import build_index  # noqa: E402
from bot.retrieval.search import Searcher, SearchIndex  # noqa: E402
from bot.settings import Settings  # noqa: E402

_tokens = itertools.count(930001)


def questions() -> list[str]:
    with (ROOT / "tests" / "data" / "qa.jsonl").open(encoding="utf-8") as handle:
        found = [json.loads(line)["question"] for line in handle if line.strip()]
    return found + ["How do I reset the root password on a Linux server?"]


def prepare_index(workdir: Path) -> tuple[Settings, Searcher]:
    """A private copy of corpus/ and a fresh index (the repo's embedding cache, if any, makes it quick)."""
    corpus, index = workdir / "corpus", workdir / "index"
    shutil.copytree(ROOT / "corpus", corpus)
    if (ROOT / "index" / "cache").is_dir():
        shutil.copytree(ROOT / "index" / "cache", index / "cache")
    settings = Settings(_env_file=None, corpus_dir=corpus, index_dir=index, data_dir=workdir / "data")
    encoder = open_encoder(settings)
    report = build_index(corpus, index, encoder, progress=False)
    print(f"index: {report.articles} articles, {report.passages} passages ({report.seconds} s)", flush=True)
    return settings, Searcher(SearchIndex.load(index), encoder)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def chat_session(
    user: EmulatorClient, chat_id: int, asks: list[str], latencies: list[float], answered: list[bool]
) -> None:
    for question in asks:
        started = time.perf_counter()
        sent = await user.send_text(chat_id, question)
        reply = await user.wait_for_bot_message(chat_id, after=sent["message_id"], timeout=120)
        latencies.append(time.perf_counter() - started)
        answered.append("出处：" in reply["text"])


async def run(emu: EmulatorServer, base: Settings, searcher: Searcher, chats: int, total: int, limited: bool) -> None:
    token = f"{next(_tokens)}:BENCH"
    settings = base.model_copy(
        update={
            "telegram_bot_token": token,
            "telegram_api_base_url": emu.base_url,
            "questions_per_minute": 0,
            "data_dir": base.data_dir / token.split(":")[0],
        }
    )
    app = build_application(settings, searcher, telegram_limits=limited)
    errors: list[BaseException] = []

    async def record(update: object, context) -> None:
        errors.append(context.error)

    app.add_error_handler(record)
    await app.initialize()
    await app.post_init(app)
    await app.start()
    await app.updater.start_polling(poll_interval=0.02, timeout=0)
    pool = questions()
    user = EmulatorClient(emu.base_url, token, timeout=60, poll_interval=0.05)
    latencies: list[float] = []
    answered: list[bool] = []
    per_chat = [[pool[(c * 7 + i) % len(pool)] for i in range(c, total, chats)] for c in range(chats)]
    try:
        started = time.perf_counter()
        await asyncio.gather(
            *(chat_session(user, 20000 + c, asks, latencies, answered) for c, asks in enumerate(per_chat))
        )
        wall = time.perf_counter() - started
    finally:
        await user.aclose()
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        await app.post_shutdown(app)
    label = "with AIORateLimiter (Telegram limits)" if limited else "without rate limiter (bot capacity)"
    print(
        f"\n{label}: {len(latencies)}/{total} questions answered from {chats} chats "
        f"({sum(answered)} with a citation, {len(answered) - sum(answered)} refusals), handler errors: {len(errors)}"
    )
    print(
        f"  latency  p50 {percentile(latencies, 0.50) * 1000:7.0f} ms   p95 {percentile(latencies, 0.95) * 1000:7.0f} ms"
        f"   max {max(latencies) * 1000:7.0f} ms   mean {statistics.mean(latencies) * 1000:7.0f} ms"
    )
    print(f"  throughput {len(latencies) / wall:6.1f} questions/s   wall {wall:.1f} s", flush=True)


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="partybot-bench-") as folder:
        settings, searcher = prepare_index(Path(folder))
        with run_emulator(bot_username="PartyLoadBot") as emu:
            modes = {"limited": [True], "unlimited": [False]}.get(args.only, [True, False])
            for limited in modes:
                await run(emu, settings, searcher, args.chats, args.questions, limited)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=20)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--only", choices=["limited", "unlimited"])
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
