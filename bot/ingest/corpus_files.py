"""The corpus folder as files: the one walk every caller uses, its fingerprint, and safe saving of uploads.

Building, staleness checks and duplicate detection must agree on which files are articles, or editing a
README would mark the index stale; so they all call `corpus_files`.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import unicodedata
from pathlib import Path

_SKIPPED_IN_ROOT = {"readme.md"}
_UNSAFE_NAME = re.compile(r"[^\w\-]+")
_RESERVED_NAMES = {"readme"}  # a saved upload must not become the skipped root README
# file systems limit a name to 255 bytes; leave room for "-NNN", the extension and the temp prefix
MAX_STEM_BYTES = 200


def _cut_bytes(text: str, limit: int) -> str:
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def corpus_files(corpus_dir: Path) -> list[Path]:
    """Sorted, so article order and ids do not depend on the file system; hidden files and the root README
    are not articles."""
    if not corpus_dir.is_dir():
        return []
    files = []
    for path in sorted(corpus_dir.rglob("*")):
        relative = path.relative_to(corpus_dir)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        if len(relative.parts) == 1 and path.name.lower() in _SKIPPED_IN_ROOT:
            continue
        files.append(path)
    return files


def fingerprint(corpus_dir: Path) -> dict[str, str]:
    """Relative path → content hash of every corpus file: what an index was built from."""
    return {
        path.relative_to(corpus_dir).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in corpus_files(corpus_dir)
    }


def safe_filename(name: str) -> str:
    """A plain file name from whatever a user sent: no folders, no '..', no hidden files; CJK kept."""
    name = unicodedata.normalize("NFKC", name or "").replace("\\", "/").split("/")[-1]
    stem, dot, extension = name.rpartition(".")
    if not (dot and re.fullmatch(r"[A-Za-z0-9]{1,10}", extension)):
        stem, extension = name, ""
    suffix = f".{extension.lower()}" if extension else ""
    stem = _cut_bytes(_UNSAFE_NAME.sub("_", stem).strip("._-")[:80], MAX_STEM_BYTES).strip("._-") or "upload"
    if stem.lower() in _RESERVED_NAMES:
        stem = f"upload_{stem}"
    return stem + suffix


def same_content(corpus_dir: Path, data: bytes) -> str | None:
    """Name (relative to the corpus) of a corpus file with exactly these bytes, if any."""
    digest = hashlib.sha256(data).digest()
    for path in corpus_files(corpus_dir):
        if path.stat().st_size == len(data) and hashlib.sha256(path.read_bytes()).digest() == digest:
            return path.relative_to(corpus_dir).as_posix()
    return None


def clean_uploads(corpus_dir: Path) -> list[Path]:
    """Temp files of uploads whose process died (kill -9, full disk) before the rename; live ones stay."""
    found = []
    for path in corpus_dir.glob(".upload-*.tmp") if corpus_dir.is_dir() else []:
        pid = path.name.split("-")[1]
        if not (pid.isdigit() and _alive(int(pid))):
            path.unlink(missing_ok=True)
            found.append(path)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def save_new(corpus_dir: Path, name: str, data: bytes) -> Path:
    """Write under `name`, or `name-2`, `name-3`… — never replacing a file; a half-written file is never visible."""
    corpus_dir.mkdir(parents=True, exist_ok=True)
    stem, suffix = os.path.splitext(name)
    temp = corpus_dir / f".upload-{os.getpid()}-{threading.get_ident()}.tmp"
    try:
        temp.write_bytes(data)
        os.chmod(temp, 0o644)
        for attempt in range(1, 1000):
            target = corpus_dir / (name if attempt == 1 else f"{stem}-{attempt}{suffix}")
            try:
                os.link(temp, target)  # atomic and fails if the name is taken
                return target
            except FileExistsError:
                continue
        raise FileExistsError(f"no free name for {name} in {corpus_dir}")
    finally:
        temp.unlink(missing_ok=True)
