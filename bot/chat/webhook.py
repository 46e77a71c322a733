"""The webhook server of a replica: Telegram's updates in, /healthz and /metrics out, on one port.

PTB's own webhook server knows only the update path, so this one (tornado, which PTB's webhook extra
already brings) feeds the Application's update queue itself, after the check that makes replicas answer
each update once: Telegram (or the proxy in front of the replicas) resends an update it thinks went
unanswered, and `Store.first_sighting` lets only the first copy through, whichever replica receives it.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal
from typing import Any

import tornado.httpserver
import tornado.web
from telegram import Update
from telegram.ext import Application

from bot.chat import metrics
from bot.chat.store import StoreError
from bot.chat.telegram_io import core_of

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class _Handler(tornado.web.RequestHandler):
    def initialize(self, app: Application, secret: str = "") -> None:
        self.app, self.secret = app, secret


class _Updates(_Handler):
    async def post(self) -> None:
        if not hmac.compare_digest(self.request.headers.get(SECRET_HEADER, ""), self.secret):
            self.set_status(403)
            return
        try:
            data = json.loads(self.request.body)
            update_id = int(data["update_id"])
        except (ValueError, KeyError, TypeError):
            self.set_status(400)
            return
        try:
            first = await asyncio.to_thread(core_of(self.app).store.first_sighting, update_id)
        except StoreError:
            log.exception("update %s: could not check it against the store; Telegram will resend it", update_id)
            self.set_status(503)
            return
        metrics.UPDATES.labels("taken" if first else "repeat").inc()
        if first:
            await self.app.update_queue.put(Update.de_json(data, self.app.bot))


class _Health(_Handler):
    async def get(self) -> None:
        core = core_of(self.app)
        try:
            published = await asyncio.to_thread(core.store.index_version)
        except StoreError as exc:
            self.set_status(503)
            self.finish({"ok": False, "store": str(exc)[:200]})
            return
        serving = core.searcher.index.path.name
        self.finish({"ok": self.app.running, "index": serving, "published": published})


class _Metrics(_Handler):
    def get(self) -> None:
        body, content_type = metrics.exposition(core_of(self.app).searcher.index.path.name)
        self.set_header("Content-Type", content_type)
        self.finish(body)


def web_app(app: Application, url_path: str, secret: str) -> tornado.web.Application:
    routes: list[Any] = [
        (f"/{url_path.strip('/')}", _Updates, {"app": app, "secret": secret}),
        ("/healthz", _Health, {"app": app}),
        ("/metrics", _Metrics, {"app": app}),
    ]
    return tornado.web.Application(routes)


async def serve(app: Application, options: dict, stop: asyncio.Event | None = None) -> None:
    """Run the Application behind this server until SIGTERM/SIGINT (or `stop`), the way run_webhook would:
    post_init, setWebhook, updates until stopped, then post_shutdown."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with app:
        if app.post_init is not None:
            await app.post_init(app)
        server = tornado.httpserver.HTTPServer(web_app(app, options["url_path"], options["secret_token"]))
        server.listen(options["port"], address=options["listen"])
        await app.bot.set_webhook(
            options["webhook_url"], secret_token=options["secret_token"], allowed_updates=Update.ALL_TYPES
        )
        await app.start()
        log.info("webhook server on %s:%s", options["listen"], options["port"])
        try:
            await stop.wait()
        finally:
            server.stop()
            await app.stop()
    if app.post_shutdown is not None:
        await app.post_shutdown(app)
