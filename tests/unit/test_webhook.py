"""bot.chat.webhook: a replica's HTTP front — the secret, one pass per update_id, /healthz and /metrics.

The real Application (keyword-only index of the seed article, no model) behind the real tornado server on
a free port; the update queue is read directly, so no Telegram is needed.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import tornado.httpserver

from bot.chat import telegram_app
from bot.chat.telegram_io import core_of
from bot.chat.webhook import SECRET_HEADER, web_app
from bot.retrieval.indexer import build_index
from bot.retrieval.search import Searcher, SearchIndex
from bot.settings import Settings
from tests.conftest import SEED

pytestmark = pytest.mark.asyncio(loop_scope="session")

SECRET = "hook-secret"
UPDATE = {
    "update_id": 9001,
    "message": {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}, "text": "你好"},
}


@pytest_asyncio.fixture(loop_scope="session")
async def server(tmp_path: Path) -> AsyncIterator[tuple[str, object]]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    build_index(corpus, tmp_path / "index", None, progress=False)
    settings = Settings(_env_file=None, telegram_bot_token="123:TEST", data_dir=tmp_path / "data")
    app = telegram_app.build_application(settings, Searcher(SearchIndex.load(tmp_path / "index"), None))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    http = tornado.httpserver.HTTPServer(web_app(app, "/hook", SECRET))
    http.listen(port, address="127.0.0.1")
    yield f"http://127.0.0.1:{port}", app
    http.stop()
    core_of(app).store.close()


async def test_updates_need_the_secret_and_pass_once(server) -> None:
    base, app = server
    async with httpx.AsyncClient() as client:
        assert (await client.post(f"{base}/hook", json=UPDATE)).status_code == 403
        assert (await client.post(f"{base}/hook", json=UPDATE, headers={SECRET_HEADER: "wrong"})).status_code == 403
        bad = await client.post(f"{base}/hook", content=b"{not json", headers={SECRET_HEADER: SECRET})
        assert bad.status_code == 400
        for _ in range(3):  # Telegram's retries of one update
            assert (await client.post(f"{base}/hook", json=UPDATE, headers={SECRET_HEADER: SECRET})).status_code == 200
    assert app.update_queue.qsize() == 1
    assert (await app.update_queue.get()).message.text == "你好"


async def test_health_and_metrics(server) -> None:
    base, app = server
    served = core_of(app).searcher.index.path.name
    async with httpx.AsyncClient() as client:
        health = await client.get(f"{base}/healthz")
        metrics = await client.get(f"{base}/metrics")
    assert health.status_code == 200 and health.json()["index"] == served
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    for name in ("partybot_questions_total", "partybot_refusals_total", "partybot_answer_seconds_bucket"):
        assert name in text
    assert f'partybot_index_info{{version="{served}"}} 1.0' in text
    assert "partybot_delivery_failures_total" in text
