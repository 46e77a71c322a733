"""The index folder's contract: what a build writes and a searcher reads, by name, in one place.

index/
    current -> builds/<stamp>        the build being served (a symlink swapped atomically)
    builds/<stamp>/                  one complete build: the files below plus manifest.json
    cache/embeddings.sqlite3         vectors kept between builds (model fingerprint + text hash)
    .build.lock                      one build at a time
"""

from __future__ import annotations

import json
from pathlib import Path

from bot.retrieval.passages import Passage
from bot.retrieval.sentences import sentence_units

FORMAT = 7  # bump when passages, tokens or index files change meaning, so old indexes count as stale

CURRENT = "current"
BUILDS = "builds"
LOCK = ".build.lock"
CACHE = Path("cache") / "embeddings.sqlite3"

MANIFEST = "manifest.json"
PASSAGES = "passages.jsonl"
USERDICT = "userdict.txt"
BM25 = "bm25"
VECTORS = "vectors.faiss"
SENTENCES = "sentences.npy"
SENTENCE_OFFSETS = "sentence_offsets.npy"
PLACES = "places.json"  # gazetteer codes of every place the articles' text names


class IndexMissing(RuntimeError):
    """No build of the index can be loaded; the message says why, in Chinese, for the operator."""


def current_path(index_dir: Path) -> Path | None:
    link = index_dir / CURRENT
    return link.resolve() if link.exists() else None


def builds_newest_first(index_dir: Path) -> list[Path]:
    """Complete builds (a build in progress is a hidden .tmp- folder); names start with their time stamp."""
    folder = index_dir / BUILDS
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), reverse=True)


def read_manifest(index_dir: Path) -> dict | None:
    """The served build's manifest; None when there is none or it is unreadable (the index is then stale)."""
    path = current_path(index_dir)
    if path is None:
        return None
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def index_text(passage: Passage) -> str:
    """What both legs index of a passage: its title, kicker and place, then its text."""
    return f"{passage.context}\n{passage.text}"


def sentence_texts(passage: Passage) -> list[str]:
    """Each answer unit with the passage's context: a one-sentence passage encodes once, as itself."""
    return [f"{passage.context}\n{unit}" for unit in sentence_units(passage.text)] or [index_text(passage)]
