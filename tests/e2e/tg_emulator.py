"""End-to-end test helper: a local Telegram Bot API emulator and a simulated user.

The emulator is ``tools/tg-emulator/server.js``, a Node wrapper around the npm package
``telegram-test-api`` (pinned by ``tools/tg-emulator/package-lock.json``; ``npm ci`` is run
automatically when ``node_modules`` is missing or older than the lock file). It speaks
the Bot API on ``http://127.0.0.1:PORT/bot<TOKEN>/<METHOD>`` and serves files on
``http://127.0.0.1:PORT/file/bot<TOKEN>/<PATH>``. It needs ``node`` and ``npm`` on PATH.

Server side (synchronous, for a session fixture)::

    with run_emulator(bot_username="PartyTestBot") as emu:   # EmulatorServer
        emu.base_url        # "http://127.0.0.1:PORT"
        emu.bot_api_url     # "http://127.0.0.1:PORT/bot"      -> ApplicationBuilder().base_url(...)
        emu.file_api_url    # "http://127.0.0.1:PORT/file/bot" -> ApplicationBuilder().base_file_url(...)
        emu.application_builder(token)   # ApplicationBuilder with token + both URLs set
        emu.client(token)                # EmulatorClient (async) for that bot
        emu.logs()                       # the emulator's stderr so far

``run_emulator`` raises :class:`EmulatorError` (with npm's / node's output) if node or
npm is missing, ``npm ci`` fails, or the server prints no ``EMULATOR READY port=N``
line within ``startup_timeout`` seconds. The server is stopped at exit.

Bot side: run the PTB application in the *same* event loop as the test, polling with
no long-poll wait, e.g.::

    app = emu.application_builder(TOKEN).build()
    await app.initialize(); await app.start()
    await app.updater.start_polling(poll_interval=0.02, timeout=0)
    ...
    await app.updater.stop(); await app.stop(); await app.shutdown()

or in webhook mode: ``await app.updater.start_webhook(listen="127.0.0.1", port=free_port(),
url_path="hook", webhook_url=f"http://127.0.0.1:{port}/hook", secret_token="s3cret")`` —
PTB then calls setWebhook and the emulator POSTs each update to that URL (with the
``X-Telegram-Bot-Api-Secret-Token`` header) *before* the user's send call returns.

User side: :class:`EmulatorClient` (an ``httpx.AsyncClient``; a blocking client would
freeze the bot's event loop). Chat ids and user ids are ints; in a private chat the user
id is the chat id. All methods are coroutines::

    send_text(chat_id, text, *, user_id=None, chat_type="private", reply_to=None,
              first_name=None, username=None, chat_title=None, entities=None) -> dict
    send_document(chat_id, filename, data, *, mime_type=None, caption=None, user_id=None,
                  chat_type="private", reply_to=None, ...) -> dict
    press_button(chat_id, message_id, data=None, *, text=None, user_id=None) -> dict
    send_inline_query(user_id, query, *, chat_type="sender") -> dict   # an inline_query update
    inline_answer(inline_query_id, *, timeout=10.0) -> dict            # the bot's answerInlineQuery
    choose_inline_result(inline_query_id, result_id, chat_id, *, chat_type="private") -> dict  # via_bot
    messages(chat_id=None) -> list[dict]               # user's and bot's, in order
    bot_messages(chat_id=None, *, include_deleted=False) -> list[dict]
    wait_for_bot_message(chat_id, predicate=None, *, after=None, timeout=10.0) -> dict
    wait_until(probe, *, timeout=10.0, what="condition") -> Any   # probe: async () -> truthy
    chat_actions(chat_id=None) -> list[dict]           # {"chat_id", "action", "date", "time"}
    callback_answers() -> list[dict]                   # answerCallbackQuery calls
    bot_commands(scope=None, language_code=None) -> list[dict]   # setMyCommands result
    api_calls(method=None) -> list[dict]               # every Bot API call the bot made
    download(file_id) -> bytes                         # bytes of any stored file
    set_chat_admins(chat_id, user_ids, *, owner_id=None) -> None  # getChatAdministrators
    set_webhook(url, *, secret_token=None) / delete_webhook() / webhook_info() -> dict
    reset() -> None                                    # forget everything about this bot

``send_text``/``send_document`` return the user's Message as the bot receives it (plus
``update_id``); the emulator computes ``bot_command`` (anywhere a word starts with
``/``, including ``/ask@botname``), ``mention`` (``@name``) and ``url`` entities like
Telegram. ``chat_type="group"`` (or ``"supergroup"``) makes a group chat with
``chat_title``; ``reply_to`` is the message_id replied to (it must exist in that chat).
``press_button`` presses the inline button with that callback ``data`` (or button
``text``) of a bot message and returns the CallbackQuery; it fails if there is no
such button.

Messages read back are Bot API Message dicts with these extra keys: ``from_bot``,
``method`` (``sendMessage``/``sendDocument``), ``parse_mode``, ``raw_text`` /
``raw_caption`` (as the bot sent them; ``text``/``caption`` are what the user sees,
HTML already parsed into ``entities``), ``edit_count``, ``history`` (earlier versions,
oldest first: ``text``, ``entities``, ``caption``, ``reply_markup``, ``raw_text``, ``date``),
``deleted``; ``reply_markup``
is the markup as sent (inline or reply keyboard, absent once an edit removed it).
``inline_buttons(message)`` lists ``(text, callback_data)`` pairs.

Errors from the emulator (HTTP 4xx/5xx, e.g. a webhook that could not be reached or a
button that does not exist) raise :class:`EmulatorError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

EMULATOR_DIR = Path(__file__).resolve().parents[2] / "tools" / "tg-emulator"
READY_RE = re.compile(r"EMULATOR READY port=(\d+)")
_STAMP_NAME = ".tg-emulator-lock.sha256"

__all__ = [
    "EMULATOR_DIR",
    "EmulatorClient",
    "EmulatorError",
    "EmulatorServer",
    "ensure_node_modules",
    "free_port",
    "inline_buttons",
    "run_emulator",
]


class EmulatorError(RuntimeError):
    """The emulator could not be installed/started, or it answered with an error."""


# --------------------------------------------------------------------------- install


def _lock_digest(emulator_dir: Path) -> str:
    h = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        h.update((emulator_dir / name).read_bytes())
    return h.hexdigest()


def _installed(emulator_dir: Path, digest: str) -> bool:
    stamp = emulator_dir / "node_modules" / _STAMP_NAME
    return (
        stamp.is_file()
        and stamp.read_text().strip() == digest
        and (emulator_dir / "node_modules" / "telegram-test-api" / "package.json").is_file()
    )


def ensure_node_modules(emulator_dir: Path = EMULATOR_DIR, *, timeout: float = 600.0) -> None:
    """Run ``npm ci`` in ``emulator_dir`` unless node_modules matches the lock file.

    Safe to call from several processes at once (an flock serialises them).
    """
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise EmulatorError(f"`{tool}` is not on PATH; the Telegram emulator needs Node.js 18+ and npm")
    digest = _lock_digest(emulator_dir)
    if _installed(emulator_dir, digest):
        return
    lock_path = Path(tempfile.gettempdir()) / (
        "tg-emulator-npm-" + hashlib.sha256(str(emulator_dir).encode()).hexdigest()[:16] + ".lock"
    )
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed(emulator_dir, digest):
            return
        try:
            proc = subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=emulator_dir,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise EmulatorError(f"`npm ci` in {emulator_dir} timed out after {timeout}s") from exc
        if proc.returncode != 0:
            raise EmulatorError(f"`npm ci` in {emulator_dir} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        (emulator_dir / "node_modules" / _STAMP_NAME).write_text(digest + "\n")


# --------------------------------------------------------------------------- server


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (e.g. for a webhook server)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class EmulatorServer:
    """A running emulator process (see :func:`run_emulator`)."""

    port: int
    process: subprocess.Popen
    stderr_path: Path
    bot_username: str
    host: str = "127.0.0.1"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def bot_api_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)`` (PTB appends the token)."""
        return f"{self.base_url}/bot"

    @property
    def file_api_url(self) -> str:
        """For ``ApplicationBuilder().base_file_url(...)`` (PTB appends the token)."""
        return f"{self.base_url}/file/bot"

    def application_builder(self, token: str):  # -> telegram.ext.ApplicationBuilder
        """An ``ApplicationBuilder`` with ``token``, ``base_url`` and ``base_file_url`` set."""
        from telegram.ext import ApplicationBuilder

        return ApplicationBuilder().token(token).base_url(self.bot_api_url).base_file_url(self.file_api_url)

    def client(self, token: str, *, timeout: float = 30.0) -> EmulatorClient:
        """A simulated user (async client) talking to the bot with this ``token``;
        close it (``async with emu.client(token) as user:`` or ``await user.aclose()``)."""
        return EmulatorClient(self.base_url, token, timeout=timeout)

    def is_running(self) -> bool:
        return self.process.poll() is None

    def logs(self) -> str:
        """What the emulator wrote to stderr so far (warnings, unsupported methods, errors)."""
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = 5.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if self.process.stdin:
            with contextlib.suppress(OSError):
                self.process.stdin.close()


@contextlib.contextmanager
def run_emulator(
    *,
    bot_username: str = "EmulatorTestBot",
    bot_first_name: str = "Emulator Test Bot",
    port: int = 0,
    startup_timeout: float = 30.0,
    install: bool = True,
    emulator_dir: Path = EMULATOR_DIR,
) -> Iterator[EmulatorServer]:
    """Start ``node server.js`` on 127.0.0.1 (``port=0``: a free port) and yield it.

    ``getMe`` answers with ``bot_username`` / ``bot_first_name`` for every token
    (the bot id is the number before ``:`` in the token).
    """
    if install:
        ensure_node_modules(emulator_dir)
    node = shutil.which("node")
    if node is None:
        raise EmulatorError("`node` is not on PATH; the Telegram emulator needs Node.js 18+")
    workdir = Path(tempfile.mkdtemp(prefix="tg-emulator-"))
    stdout_path, stderr_path = workdir / "stdout.log", workdir / "stderr.log"
    cmd = [
        node,
        str(emulator_dir / "server.js"),
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
        "--bot-username",
        bot_username,
        "--bot-first-name",
        bot_first_name,
        "--exit-with-stdin",  # the server also dies if this Python process dies
    ]
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        proc = subprocess.Popen(cmd, cwd=emulator_dir, stdin=subprocess.PIPE, stdout=out, stderr=err)
    server: EmulatorServer | None = None
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            m = READY_RE.search(stdout_path.read_text(errors="replace"))
            if m:
                server = EmulatorServer(
                    port=int(m.group(1)), process=proc, stderr_path=stderr_path, bot_username=bot_username
                )
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                why = (
                    f"exited with {proc.returncode}"
                    if proc.poll() is not None
                    else f"not ready after {startup_timeout}s"
                )
                raise EmulatorError(
                    f"Telegram emulator {why}: {' '.join(cmd)}\n--- stdout\n"
                    f"{stdout_path.read_text(errors='replace')}\n--- stderr\n{stderr_path.read_text(errors='replace')}"
                )
            time.sleep(0.05)
        yield server
    finally:
        if server is not None:
            server.stop()
        elif proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if proc.stdin:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        shutil.rmtree(workdir, ignore_errors=True)


# --------------------------------------------------------------------------- client


def inline_buttons(message: dict) -> list[tuple[str, str | None]]:
    """``(text, callback_data)`` of every inline button of a message (row by row)."""
    markup = message.get("reply_markup") or {}
    return [(b.get("text"), b.get("callback_data")) for row in markup.get("inline_keyboard", []) for b in row]


class EmulatorClient:
    """A simulated Telegram user (or several: pass ``user_id``) talking to one bot."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0, poll_interval: float = 0.02):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.poll_interval = poll_interval
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout)

    async def __aenter__(self) -> EmulatorClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------ plumbing
    async def _emu(self, action: str, *, files: dict | None = None, **params: Any) -> Any:
        data = {k: v for k, v in params.items() if v is not None}
        data["token"] = self.token
        if files:
            form = {k: str(v) for k, v in data.items()}
            resp = await self._http.post(f"/emu/{action}", data=form, files=files)
        else:
            resp = await self._http.post(f"/emu/{action}", json=data)
        if resp.headers.get("content-type", "").startswith("application/json"):
            body = resp.json()
            if not body.get("ok"):
                raise EmulatorError(f"emulator /emu/{action}: {body.get('description')} (HTTP {resp.status_code})")
            return body["result"]
        if resp.status_code != 200:
            raise EmulatorError(f"emulator /emu/{action}: HTTP {resp.status_code} {resp.text[:300]}")
        return resp.content

    async def _bot_api(self, method: str, **params: Any) -> Any:
        resp = await self._http.post(
            f"/bot{self.token}/{method}", json={k: v for k, v in params.items() if v is not None}
        )
        body = resp.json()
        if not body.get("ok"):
            raise EmulatorError(f"{method}: {body.get('description')}")
        return body["result"]

    @staticmethod
    def _sender(user_id, chat_type, first_name, username, chat_title, last_name=None, language_code=None) -> dict:
        return {
            "user_id": user_id,
            "chat_type": chat_type,
            "first_name": first_name,
            "last_name": last_name,
            "username": username,
            "chat_title": chat_title,
            "language_code": language_code,
        }

    # ------------------------------------------------------------ user actions
    async def send_text(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        reply_to: int | None = None,
        first_name: str | None = None,
        username: str | None = None,
        chat_title: str | None = None,
        entities: list[dict] | None = None,
    ) -> dict:
        """Send a text message as a user; returns the Message (+ ``update_id``) the bot gets."""
        result = await self._emu(
            "sendMessage",
            chat_id=chat_id,
            text=text,
            reply_to_message_id=reply_to,
            entities=entities,
            **self._sender(user_id, chat_type, first_name, username, chat_title),
        )
        return {**result["message"], "update_id": result["update_id"]}

    async def send_document(
        self,
        chat_id: int,
        filename: str,
        data: bytes,
        *,
        mime_type: str | None = None,
        caption: str | None = None,
        user_id: int | None = None,
        chat_type: str = "private",
        reply_to: int | None = None,
        first_name: str | None = None,
        username: str | None = None,
        chat_title: str | None = None,
    ) -> dict:
        """Upload a file as a user; the bot gets a Message with ``document`` (file_id, file_name,
        mime_type, file_size) whose bytes it can fetch with getFile + the file URL."""
        if mime_type is None:
            import mimetypes

            mime_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        result = await self._emu(
            "sendDocument",
            files={"document": (filename, data, mime_type)},
            chat_id=chat_id,
            caption=caption,
            mime_type=mime_type,
            file_name=filename,
            reply_to_message_id=reply_to,
            **self._sender(user_id, chat_type, first_name, username, chat_title),
        )
        return {**result["message"], "update_id": result["update_id"]}

    async def press_button(
        self,
        chat_id: int,
        message_id: int,
        data: str | None = None,
        *,
        text: str | None = None,
        user_id: int | None = None,
    ) -> dict:
        """Press the inline button with callback ``data`` (or with this button ``text``)."""
        if (data is None) == (text is None):
            raise ValueError("pass exactly one of data= or text=")
        result = await self._emu(
            "pressButton", chat_id=chat_id, message_id=message_id, data=data, button_text=text, user_id=user_id
        )
        return {**result["callback_query"], "update_id": result["update_id"]}

    async def answer_poll(
        self,
        message_id: int,
        option_ids: list[int],
        *,
        user_id: int | None = None,
        first_name: str | None = None,
        username: str | None = None,
    ) -> dict:
        """Answer the poll in the bot's message ``message_id`` (a user of that chat; in a private chat its
        owner). The bot gets a ``poll_answer`` update when the poll is not anonymous; returns
        ``{"poll_answer", "poll"}`` (the poll with its new counts). A quiz answer cannot be changed."""
        return await self._emu(
            "answerPoll",
            message_id=message_id,
            option_ids=list(option_ids),
            user_id=user_id,
            first_name=first_name,
            username=username,
        )

    async def send_inline_query(self, user_id: int, query: str, *, chat_type: str = "sender") -> dict:
        """Type ``@bot query`` as this user (in a chat of ``chat_type``); returns the InlineQuery."""
        result = await self._emu("sendInlineQuery", user_id=user_id, query=query, chat_type=chat_type)
        return {**result["inline_query"], "update_id": result["update_id"]}

    async def inline_answer(self, inline_query_id: str, *, timeout: float = 10.0) -> dict:
        """The bot's answerInlineQuery for that query, once it has answered."""

        async def probe() -> dict | None:
            found = await self._emu("inlineAnswers", inline_query_id=inline_query_id)
            return found[0] if found else None

        return await self.wait_until(probe, timeout=timeout, what=f"an answer to inline query {inline_query_id}")

    async def choose_inline_result(
        self, inline_query_id: str, result_id: str, chat_id: int, *, chat_type: str = "private", chat_title=None
    ) -> dict:
        """Post a chosen inline result into a chat as the querying user (a message ``via_bot``; the bot is
        not told and need not be a member of that chat)."""
        result = await self._emu(
            "chooseInlineResult",
            inline_query_id=inline_query_id,
            result_id=result_id,
            chat_id=chat_id,
            chat_type=chat_type,
            chat_title=chat_title,
        )
        return result["message"]

    # ------------------------------------------------------------ reading
    async def messages(self, chat_id: int | None = None) -> list[dict]:
        """Every message (user's and bot's) of a chat (or of all chats), oldest first."""
        return await self._emu("messages", chat_id=chat_id)

    async def bot_messages(self, chat_id: int | None = None, *, include_deleted: bool = False) -> list[dict]:
        return [m for m in await self.messages(chat_id) if m["from_bot"] and (include_deleted or not m["deleted"])]

    async def wait_until(
        self, probe: Callable[[], Awaitable[Any]], *, timeout: float = 10.0, what: str = "condition"
    ) -> Any:
        """Poll ``await probe()`` until it returns something truthy, and return that."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = await probe()
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
            await asyncio.sleep(self.poll_interval)

    async def wait_for_bot_message(
        self,
        chat_id: int,
        predicate: Callable[[dict], bool] | None = None,
        *,
        after: int | None = None,
        timeout: float = 10.0,
    ) -> dict:
        """The first (oldest) bot message in ``chat_id`` with message_id > ``after`` that matches
        ``predicate`` (edits are visible: the message dict is its current state)."""

        async def probe() -> dict | None:
            for m in await self.bot_messages(chat_id):
                if after is not None and m["message_id"] <= after:
                    continue
                if predicate is None or predicate(m):
                    return m
            return None

        try:
            return await self.wait_until(probe, timeout=timeout, what=f"a bot message in chat {chat_id}")
        except TimeoutError as exc:
            seen = [
                (m["message_id"], m.get("text") or m.get("caption") or m.get("document"))
                for m in await self.bot_messages(chat_id)
            ]
            raise TimeoutError(f"{exc}; bot messages in that chat: {seen!r}") from None

    async def chat_actions(self, chat_id: int | None = None) -> list[dict]:
        return await self._emu("chatActions", chat_id=chat_id)

    async def callback_answers(self) -> list[dict]:
        return await self._emu("callbackAnswers")

    async def bot_commands(self, scope: dict | None = None, language_code: str | None = None) -> list[dict]:
        return await self._emu("commands", scope=scope, language_code=language_code)

    async def api_calls(self, method: str | None = None) -> list[dict]:
        """Bot API calls the bot made (``method``, ``params``, ``ok``, ``error``); empty getUpdates are omitted."""
        return await self._emu("calls", method=method)

    async def download(self, file_id: str) -> bytes:
        return await self._emu("file", file_id=file_id)

    # ------------------------------------------------------------ setup
    async def set_chat_admins(self, chat_id: int, user_ids: list[int], *, owner_id: int | None = None) -> None:
        """Who getChatAdministrators / getChatMember report as creator / administrators
        (the chat must exist: a user must have written in it)."""
        await self._emu("setChatAdministrators", chat_id=chat_id, user_ids=list(user_ids), owner_id=owner_id)

    async def set_webhook(self, url: str, *, secret_token: str | None = None) -> None:
        """Make the emulator POST updates to ``url`` (PTB's start_webhook does this itself)."""
        await self._bot_api("setWebhook", url=url, secret_token=secret_token)

    async def delete_webhook(self) -> None:
        await self._bot_api("deleteWebhook")

    async def webhook_info(self) -> dict:
        return await self._emu("webhookInfo")

    async def reset(self) -> None:
        """Forget all chats, messages, files, commands and the webhook of this bot."""
        await self._emu("reset")


if __name__ == "__main__":  # manual use: python tests/tg_emulator.py  (runs until Ctrl-C)
    with run_emulator() as _emu:
        print(f"emulator on {_emu.base_url}; bot API base_url={_emu.bot_api_url}", file=sys.stderr)
        with contextlib.suppress(KeyboardInterrupt):
            _emu.process.wait()
