"""What Telegram admins do: rebuild the index behind one progress message, and add articles by upload.

A rebuild runs for minutes, so the handler only starts it and returns; answers keep flowing from the old
index meanwhile. Uploads are parsed before anything touches the corpus, so a bad file changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from pathlib import Path

from telegram import Message
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application

from bot.chat import replies
from bot.chat.core import Core
from bot.chat.replies import HTML
from bot.chat.store import StoreError
from bot.chat.telegram_io import Context, Turn, core_of, typing
from bot.ingest.corpus_files import safe_filename
from bot.retrieval.indexer import BuildCancelled

log = logging.getLogger(__name__)

PROGRESS_EVERY = 1.0  # seconds between edits of the /reindex progress message


CANCEL_WORDS = {"cancel", "stop", "取消", "停止"}


async def on_reindex(turn: Turn, context: Context) -> None:
    if turn.argument.lower() in CANCEL_WORDS:
        cancelling = core_of(context).cancel_reindex()
        text = replies.reindex_cancelling() if cancelling else replies.reindex_not_running()
        await context.bot.send_message(turn.chat.id, text)
        return
    await launch_reindex(context, turn.chat.id)


async def launch_reindex(context: Context, chat_id: int, busy_text: str | None = None) -> bool:
    """A second build while one runs is told to wait rather than queued: the first will pick up its files."""
    core = core_of(context)
    if not core.try_begin_reindex():
        await context.bot.send_message(chat_id, busy_text or replies.reindex_busy())
        return False
    try:
        status = await context.bot.send_message(chat_id, replies.reindex_started(cancellable=True))
    except BaseException:
        core.end_reindex()
        raise
    context.application.create_task(reindex_with_progress(core, status), name=f"reindex-{chat_id}")
    return True


async def resume_reindex(app: Application) -> bool:
    """At start-up: a rebuild whose process died (kill -9 mid-encode) starts again in the message that showed
    its progress; corpus changes that were never indexed (a saved upload whose rebuild never ran) are
    indexed too, and the admins are told. Vectors encoded before the crash come from the cache."""
    core = core_of(app)
    unfinished = await asyncio.to_thread(core.store.unfinished_reindex)
    if unfinished is None and not await asyncio.to_thread(core.index_is_stale):
        return False
    if not core.try_begin_reindex():
        return False
    status: Message | None = None
    try:
        if unfinished is not None:
            status = await _resume_message(app, *unfinished)
        for admin in core.settings.admin_ids if status is None else ():
            with contextlib.suppress(TelegramError):
                told = await app.bot.send_message(admin, replies.reindex_pending())
                status = status or told  # every admin is told; the first message shows the progress
    except BaseException:
        core.end_reindex()
        raise
    log.warning("resuming an unfinished reindex" if unfinished else "the corpus has unindexed changes; reindexing")
    app.create_task(reindex_with_progress(core, status), name="reindex-resumed")
    return True


async def _resume_message(app: Application, chat_id: int, message_id: int) -> Message | None:
    text = replies.reindex_resumed()
    try:
        edited = await app.bot.edit_message_text(text, chat_id=chat_id, message_id=message_id)
        return edited if isinstance(edited, Message) else None
    except TelegramError:
        with contextlib.suppress(TelegramError):
            return await app.bot.send_message(chat_id, text)
    return None


async def reindex_with_progress(core: Core, status: Message | None) -> None:
    """The progress message becomes the result, so the chat is left with one message per build; its id is
    kept in the store while the build runs, so a restart can find it."""
    progress = {"done": 0, "total": 0}

    def on_progress(done: int, total: int) -> None:  # called from the build thread
        progress.update(done=done, total=total)

    if status is not None:
        with contextlib.suppress(StoreError):
            await asyncio.to_thread(core.store.begin_reindex, status.chat_id, status.message_id)
    watcher = asyncio.create_task(_show_progress(status, progress)) if status is not None else None
    try:
        report = await asyncio.to_thread(core.rebuild, on_progress)
        text = core.reindex_text(report, HTML)
        log.info("reindex done: +%d −%d passages in %.1f s", report.added, report.removed, report.seconds)
    except BuildCancelled:
        log.info("reindex cancelled")
        text = replies.reindex_cancelled()
    except Exception as exc:
        log.exception("reindex failed")
        text = replies.reindex_failed(exc, HTML)
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        with contextlib.suppress(StoreError):
            await asyncio.to_thread(core.store.end_reindex)
        core.end_reindex()
    if status is not None:
        await _edit(status, text)


async def _show_progress(status: Message, progress: dict[str, int]) -> None:
    """Edit one message at most every PROGRESS_EVERY seconds (Telegram frowns on edit storms)."""
    shown = status.text
    while True:
        await asyncio.sleep(PROGRESS_EVERY)
        if progress["total"]:
            text = replies.reindex_progress(progress["done"], progress["total"])
            if text != shown:
                await _edit(status, text)
                shown = text


async def _edit(message: Message, text: str) -> None:
    try:
        await message.edit_text(text)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            log.warning("could not edit progress message: %s", exc)
    except TelegramError as exc:
        log.warning("could not edit progress message: %s", exc)


async def on_document(turn: Turn, context: Context) -> None:
    core = core_of(context)
    message, user = turn.message, turn.user
    document = message.document
    if document is None:
        return
    if not core.is_admin(turn.user_id):
        log.warning(
            "refused upload %r from user %s (@%s)", document.file_name, user and user.id, user and user.username
        )
        await message.reply_text(replies.admin_only("上传资料"))
        return
    problem = core.check_upload(document.file_name or "", document.file_size, HTML)
    if problem:
        await message.reply_text(problem)
        return
    async with typing(context, turn.chat.id):
        with tempfile.TemporaryDirectory(prefix="partybot-upload-") as folder:
            path = Path(folder) / safe_filename(document.file_name or "upload")
            await (await document.get_file()).download_to_drive(path)
            outcome = await asyncio.to_thread(core.accept_upload, path, document.file_name or path.name, HTML)
    await message.reply_text(outcome.text)
    if outcome.saved is not None:
        await launch_reindex(context, turn.chat.id, busy_text=replies.upload_saved_busy())
