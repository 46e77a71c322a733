"""Wiring in one place: settings → encoder → index → searcher, shared by the CLI, console and Telegram."""

from __future__ import annotations

from pathlib import Path

from bot.ingest.corpus_files import clean_uploads
from bot.model.encoder import Encoder, load_encoder
from bot.retrieval.indexer import BuildReport, Progress, build_index, clean_leftovers
from bot.retrieval.search import Searcher, SearchIndex
from bot.settings import Settings


def open_encoder(settings: Settings, variant: str | None = None) -> Encoder | None:
    """The settings' encoder; ``variant`` overrides EMBED_VARIANT to match the index being served."""
    return load_encoder(
        settings.embed_model,
        settings.models_dir,
        settings.embed_batch_size,
        variant or settings.embed_variant,
        settings.encode_workers,
        settings.embed_device,
    )


def open_searcher(settings: Settings, index_dir: Path | None = None, encoder: Encoder | None = None) -> Searcher:
    """Also the moment to sweep what a killed build or upload left behind: this runs at every start."""
    index_dir = index_dir or settings.index_dir
    clean_leftovers(index_dir)
    clean_uploads(settings.corpus_dir)
    index = SearchIndex.load(index_dir)
    if encoder is None and index.vectors is not None:
        # questions must be encoded as the served build's passages were, until a rebuild changes variant
        encoder = open_encoder(settings, (index.manifest.get("encoder") or {}).get("variant"))
    return Searcher(index, encoder)


def rebuild(
    settings: Settings, searcher: Searcher | None = None, progress: bool = True, on_progress: Progress = None
) -> BuildReport:
    """Incremental build, then hot-swap the searcher's index; it keeps serving the old one until then."""
    served = searcher.encoder if searcher else None
    encoder = served if served and served.variant == settings.embed_variant else open_encoder(settings)
    report = build_index(
        settings.corpus_dir, settings.index_dir, encoder, progress, on_progress, settings.ann_threshold
    )
    if searcher is not None:
        searcher.index = SearchIndex.load(settings.index_dir)
        searcher.encoder = encoder if searcher.index.vectors is not None else None
    return report


def reload_index(settings: Settings, searcher: Searcher) -> bool:
    """Serve the index folder's current build if it is not the one being served (another process built
    it); True when it swapped. The encoder is loaded only if this process had none and the build has vectors."""
    index = SearchIndex.load(settings.index_dir)
    if index.path == searcher.index.path:
        return False
    encoder = searcher.encoder or (open_encoder(settings) if index.vectors is not None else None)
    searcher.index = index
    searcher.encoder = encoder if index.vectors is not None else None
    return True
