"""Builds the keyword and vector indexes into a fresh folder, then swaps a symlink: readers never see half a build."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import bm25s
import numpy as np
from tqdm import tqdm

from bot.faults import crash_point
from bot.ingest import load_corpus
from bot.ingest.corpus_files import clean_uploads
from bot.ingest.corpus_files import fingerprint as corpus_fingerprint
from bot.ingest.records import IngestError
from bot.model.encoder import Encoder
from bot.retrieval import vector_index
from bot.retrieval.coverage import mentioned_places
from bot.retrieval.index_files import (
    BM25,
    BUILDS,
    CACHE,
    CURRENT,
    FORMAT,
    LOCK,
    MANIFEST,
    PASSAGES,
    PLACES,
    SENTENCE_OFFSETS,
    SENTENCES,
    USERDICT,
    VECTORS,
    current_path,
    index_text,
    read_manifest,
    sentence_texts,
)
from bot.retrieval.passages import Passage, build_passages
from bot.retrieval.segment import Segmenter, learn_terms
from bot.retrieval.tuning import FITTED
from bot.retrieval.vector_cache import EmbeddingCache

logging.getLogger("bm25s").setLevel(logging.WARNING)
KEEP_BUILDS = 2
Progress = Callable[[int, int], None] | None


class BuildCancelled(Exception):
    """Raised by a progress callback to stop a build; the index being served stays as it was."""


@dataclass
class BuildReport:
    passages: int
    articles: int
    captions: int
    added: int
    removed: int
    encoded: int
    cached: int
    seconds: float
    dense: bool
    errors: list[IngestError] = field(default_factory=list)
    path: Path | None = None
    vectors: dict = field(default_factory=dict)  # the FAISS index's kind and parameters (vector_index.build)


def is_stale(corpus_dir: Path, index_dir: Path, model_fingerprint: str | None) -> bool:
    manifest = read_manifest(index_dir)
    if manifest is None:
        return True
    return (
        manifest.get("format") != FORMAT
        or manifest.get("corpus") != corpus_fingerprint(corpus_dir)
        or manifest.get("model", {}).get("fingerprint") != model_fingerprint
        or manifest.get("bm25") != _bm25_params()
    )


def _bm25_params() -> dict[str, float]:
    """Baked into the keyword index at build time: refitted values (tune.py --write) need a rebuild."""
    return {"k1": FITTED.bm25_k1, "b": FITTED.bm25_b}


def clean_leftovers(index_dir: Path) -> list[Path]:
    """Remove what a killed build left: half-written build folders and swap links. Skipped while a build runs."""
    if not index_dir.is_dir():
        return []
    with (index_dir / LOCK).open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return []
        return _remove_leftovers(index_dir)


def _remove_leftovers(index_dir: Path) -> list[Path]:
    found = [*index_dir.glob(f".{CURRENT}.*"), *(index_dir / BUILDS).glob(".tmp-*")]
    for path in found:
        if path.is_symlink() or path.is_file():
            path.unlink(missing_ok=True)
        else:
            shutil.rmtree(path, ignore_errors=True)
    return found


def build_index(
    corpus_dir: Path,
    index_dir: Path,
    encoder: Encoder | None,
    progress: bool = True,
    on_progress: Progress = None,
    ann_threshold: int = vector_index.DEFAULT_ANN_THRESHOLD,
) -> BuildReport:
    """on_progress(done, total) lets a chat show how far the encode has got."""
    with build_lock(index_dir):
        _remove_leftovers(index_dir)
        clean_uploads(corpus_dir)
        return _build(corpus_dir, index_dir, encoder, progress, on_progress, ann_threshold)


def _build(
    corpus_dir: Path,
    index_dir: Path,
    encoder: Encoder | None,
    progress: bool,
    on_progress: Progress,
    ann_threshold: int,
) -> BuildReport:
    started = time.perf_counter()
    fingerprint = corpus_fingerprint(corpus_dir)  # before reading: a file edited mid-build leaves the index stale
    articles, errors = load_corpus(corpus_dir)
    passages = build_passages(articles)
    previous = _previous_ids(index_dir)
    work = Path(_mkdtemp(index_dir))
    try:
        segmenter = _write_keyword_index(work, passages, articles)
        crash_point("build.keywords")
        encoded = cached = 0
        vectors: dict = {}
        if encoder is not None:
            encoded, cached, vectors = _write_vectors(
                work, passages, encoder, index_dir, progress, on_progress, ann_threshold
            )
        ids = {p.passage_id for p in passages}
        report = BuildReport(
            passages=len(passages),
            articles=sum(a.kind != "caption" for a in articles),
            captions=sum(a.kind == "caption" for a in articles),
            added=len(ids - previous),
            removed=len(previous - ids),
            encoded=encoded,
            cached=cached,
            seconds=0.0,
            dense=encoder is not None,
            errors=errors,
            vectors=vectors,
        )
        report.seconds = round(time.perf_counter() - started, 2)
        _write_manifest(work, fingerprint, encoder, report, segmenter)
        crash_point("build.manifest")
        report.path = _publish(work, index_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return report


def _mkdtemp(index_dir: Path) -> str:
    builds = index_dir / BUILDS
    builds.mkdir(exist_ok=True)
    return tempfile.mkdtemp(prefix=".tmp-", dir=builds)


@contextmanager
def build_lock(index_dir: Path):
    """One build at a time per index; a killed build's lock dies with its process."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / LOCK).open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _previous_ids(index_dir: Path) -> set[str]:
    path = current_path(index_dir)
    if path is None or not (path / PASSAGES).exists():
        return set()
    with (path / PASSAGES).open(encoding="utf-8") as handle:
        return {json.loads(line)["passage_id"] for line in handle}


def _write_keyword_index(work: Path, passages: list[Passage], articles) -> Segmenter:
    places = {a.place for a in articles if a.place}
    segmenter = Segmenter(learn_terms((p.text for p in passages), extra=places))
    segmenter.save(work / USERDICT)
    with (work / PASSAGES).open("w", encoding="utf-8") as handle:
        for passage in passages:
            handle.write(json.dumps(passage.to_dict(), ensure_ascii=False) + "\n")
    if passages:
        keyword_index(keyword_tokens(passages, segmenter)).save(str(work / BM25))
    (work / PLACES).write_text(json.dumps(mentioned_places(passages), ensure_ascii=False), encoding="utf-8")
    return segmenter


def keyword_tokens(passages: list[Passage], segmenter: Segmenter) -> list[list[str]]:
    """What BM25 sees of each passage: its context and text (an empty passage keeps its row)."""
    return [segmenter.tokens(index_text(p)) or [""] for p in passages]


def keyword_index(tokens: list[list[str]], k1: float = FITTED.bm25_k1, b: float = FITTED.bm25_b) -> bm25s.BM25:
    retriever = bm25s.BM25(k1=k1, b=b)
    retriever.index(tokens, show_progress=False)
    return retriever


def _write_vectors(
    work: Path,
    passages: list[Passage],
    encoder: Encoder,
    index_dir: Path,
    progress: bool,
    on_progress: Progress,
    ann_threshold: int,
) -> tuple[int, int, dict]:
    """Passages go to FAISS; their sentence units (sentences.npy, rows per passage in offsets) rank sentences."""
    texts = [index_text(p) for p in passages]
    units = [sentence_texts(p) for p in passages]
    wanted = list(dict.fromkeys([*texts, *(u for group in units for u in group)]))
    cache = EmbeddingCache(index_dir / CACHE, encoder.fingerprint)
    try:
        found = cache.get_many(wanted)
        missing = [t for t in wanted if t not in found]
        batch = 256
        bar = tqdm(total=len(missing), desc="编码段落和句子", unit="句", disable=not progress)
        for start in range(0, len(missing), batch):
            chunk = missing[start : start + batch]
            vectors = encoder.encode_passages(chunk)
            cache.put_many(chunk, vectors)
            found.update(zip(chunk, vectors))
            bar.update(len(chunk))
            crash_point("build.encoding")
            if on_progress:
                on_progress(start + len(chunk), len(missing))
        bar.close()
    finally:
        cache.close()
    index, entry = vector_index.build(_stack(found, texts, encoder.dim), encoder.dim, ann_threshold)
    vector_index.write(index, work / VECTORS)
    np.save(work / SENTENCES, _stack(found, [u for group in units for u in group], encoder.dim).astype(np.float16))
    np.save(work / SENTENCE_OFFSETS, np.cumsum([0, *map(len, units)]).astype(np.int64))
    return len(missing), len(wanted) - len(missing), entry


def _stack(found: dict[str, np.ndarray], texts: list[str], dim: int) -> np.ndarray:
    return np.stack([found[t] for t in texts]).astype(np.float32) if texts else np.zeros((0, dim), "float32")


def _write_manifest(
    work: Path, fingerprint: dict[str, str], encoder: Encoder | None, report: BuildReport, segmenter: Segmenter
) -> None:
    manifest = {
        "format": FORMAT,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "model": {"id": encoder.model_id if encoder else None, "fingerprint": encoder.fingerprint if encoder else None},
        "encoder": encoder.describe() if encoder else None,
        "vectors": report.vectors or None,
        "corpus": fingerprint,
        "bm25": _bm25_params(),
        "counts": {
            "articles": report.articles,
            "captions": report.captions,
            "passages": report.passages,
            "user_words": len(segmenter.user_words),
            "errors": len(report.errors),
        },
        "timings": {"seconds": report.seconds},
        "encoded": report.encoded,
        "cached": report.cached,
        "errors": [str(e) for e in report.errors],
    }
    (work / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")


def _publish(work: Path, index_dir: Path) -> Path:
    final = work.with_name(time.strftime("%Y%m%dT%H%M%S-") + work.name.removeprefix(".tmp-"))
    os.rename(work, final)
    crash_point("build.renamed")
    link = index_dir / CURRENT
    tmp_link = index_dir / f".{CURRENT}.{os.getpid()}"
    if tmp_link.is_symlink():
        tmp_link.unlink()
    os.symlink(Path(BUILDS) / final.name, tmp_link)
    os.replace(tmp_link, link)
    crash_point("build.swapped")
    _prune(index_dir, keep=final)
    return final


def _prune(index_dir: Path, keep: Path) -> None:
    """Keep the newest builds so a process still loading the previous one is not pulled from under."""
    builds = sorted((p for p in (index_dir / BUILDS).iterdir() if not p.name.startswith(".")), reverse=True)
    for old in builds[KEEP_BUILDS:]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)
