"""What every provisioning step shares: the one error they raise and the progress line they print."""

from __future__ import annotations

import sys


class ProvisionError(RuntimeError):
    """The model cannot be fetched, verified or converted: the CLI reports it instead of a traceback."""


def progress(msg: str) -> None:
    """Progress goes to stderr so stdout stays usable (the CLI prints the path)."""
    print(f"[model] {msg}", file=sys.stderr, flush=True)
