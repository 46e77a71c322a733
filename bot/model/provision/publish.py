"""Putting a finished folder in place so that readers never see a half-written one.

The folder is built in a staging folder beside the target (same filesystem) and renamed in; each rename is atomic.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.model.provision.folder import is_complete


@contextmanager
def staging_dir(models_dir: Path, name: str) -> Iterator[Path]:
    """Temp folder next to the target (same filesystem, so rename is atomic), removed whatever happens."""
    tmp = Path(tempfile.mkdtemp(dir=models_dir, prefix=f".tmp-{name}-"))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def publish(staged: Path, target: Path, replace: bool = False) -> None:
    """Swap the finished folder into place; a stale or incomplete target is discarded.

    The old folder is renamed away before the new one is renamed in; a complete target that appeared
    meanwhile means another process won the race, and it is kept unless ``replace`` asks otherwise.
    """
    for path in [staged, *staged.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)  # mkdtemp/safetensors use 0700/0600
    if target.exists():
        if is_complete(target) and not replace:
            return
        trash = target.with_name(f".trash-{target.name}-{os.getpid()}")
        os.replace(target, trash)
        shutil.rmtree(trash, ignore_errors=True)
    os.replace(staged, target)
