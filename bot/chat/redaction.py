"""Secrets never reach a log line: the bot token sits in every Bot API URL, so tracebacks and HTTP logs carry it.

The filter renders each record (message, arguments and traceback) to text once and replaces the secret there,
on every handler of the root logger, so records of any library are covered however they were formatted.
"""

from __future__ import annotations

import logging
import traceback

MASK = "<TOKEN>"


class RedactSecrets(logging.Filter):
    def __init__(self, *secrets: str) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
            record.exc_info, record.exc_text = None, None
        if record.stack_info:
            text += "\n" + record.stack_info
            record.stack_info = None
        record.msg, record.args = self.redact(text), ()
        return True

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text


def install(*secrets: str) -> RedactSecrets:
    """On every root handler (a filter on a logger would miss records propagated from child loggers)."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    redactor = RedactSecrets(*secrets)
    for handler in root.handlers:
        handler.addFilter(redactor)
    return redactor
