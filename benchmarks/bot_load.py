"""Load test of the real Telegram bot against the local Bot API emulator.

Simulated private chats ask concurrently, each waiting for its answer before asking the next, as a person
does; latency runs from the user's send to the bot's reply being visible in the emulator, so it includes
polling, the rate limiter and the send. Two runs: with PTB's AIORateLimiter (Telegram's per-second ceiling,
as in production) and without it (the bot's own capacity). Numbers only, no assertions on time: the box is
shared, and the figures go to docs/measurements.md with their date.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import shutil
import tempfile
from pathlib import Path

from benchmarks.corpora import ROOT, SEED_QA, WORK
from benchmarks.timing import time_lanes
from bot.chat.telegram_app import build_application
from bot.engine import open_encoder
from bot.retrieval.indexer import build_index
from bot.retrieval.search import Searcher, SearchIndex
from bot.settings import Settings
from tests.e2e.tg_emulator import EmulatorClient, EmulatorServer, run_emulator

_tokens = itertools.count(930001)


def questions() -> list[str]:
    with SEED_QA.open(encoding="utf-8") as handle:
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
    answered: list[bool] = []

    async def ask(chat_question: tuple[int, str]) -> None:
        chat_id, question = chat_question
        sent = await user.send_text(chat_id, question)
        reply = await user.wait_for_bot_message(chat_id, after=sent["message_id"], timeout=120)
        answered.append("出处：" in reply["text"])

    lanes = [[(20000 + c, pool[(c * 7 + i) % len(pool)]) for i in range(c, total, chats)] for c in range(chats)]
    try:
        timing = await time_lanes(ask, lanes)
    finally:
        await user.aclose()
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        await app.post_shutdown(app)
    label = "with AIORateLimiter (Telegram limits)" if limited else "without rate limiter (bot capacity)"
    print(
        f"\n{label}: {timing.calls}/{total} questions answered from {chats} chats "
        f"({sum(answered)} with a citation, {len(answered) - sum(answered)} refusals), handler errors: {len(errors)}"
    )
    print(
        f"  latency  p50 {timing.p50_ms:7.0f} ms   p95 {timing.p95_ms:7.0f} ms"
        f"   max {timing.max_ms:7.0f} ms   mean {timing.mean_ms:7.0f} ms"
    )
    print(f"  throughput {timing.rate:6.1f} questions/s   wall {timing.wall:.1f} s", flush=True)


async def main_async(args: argparse.Namespace) -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WORK, prefix="bot-load-") as folder:
        settings, searcher = prepare_index(Path(folder))
        with run_emulator(bot_username="PartyLoadBot") as emu:
            modes = {"limited": [True], "unlimited": [False]}.get(args.only, [True, False])
            for limited in modes:
                await run(emu, settings, searcher, args.chats, args.questions, limited)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bot_load", description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=20)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--only", choices=["limited", "unlimited"])
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
