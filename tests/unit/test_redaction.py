"""The bot token never reaches a log line, whether in the message, its arguments or a traceback."""

from __future__ import annotations

import io
import logging

from bot.chat.redaction import MASK, RedactSecrets

TOKEN = "123456:AAH-very-secret"


def test_message_arguments_and_traceback_are_redacted() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets(TOKEN))
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    try:
        logger.warning("POST https://api.telegram.org/bot%s/getMe", TOKEN)
        try:
            raise RuntimeError(f"The token `{TOKEN}` was rejected by the server.")
        except RuntimeError:
            logger.exception("start-up failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert TOKEN not in text and "AAH-very-secret" not in text
    assert text.count(MASK) == 2 and "RuntimeError" in text and "start-up failed" in text
