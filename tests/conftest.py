"""Shared fixtures: the real model, and small real indexes built from real corpora."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.embed import Encoder, load_encoder
from bot.indexer import build_index
from bot.model_provision import DEFAULT_MODEL_NAME, provision
from bot.search import SearchIndex, Searcher

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "000_20fd8c739f8a3408.txt"
MODELS = ROOT / "models"


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    provision(MODELS)
    loaded = load_encoder(DEFAULT_MODEL_NAME, MODELS)
    assert loaded is not None, "the converted e5 model must load"
    return loaded


@pytest.fixture(scope="session")
def seed_corpus(tmp_path_factory) -> Path:
    corpus = tmp_path_factory.mktemp("corpus")
    shutil.copy(SEED, corpus / SEED.name)
    return corpus


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory, seed_corpus, encoder) -> Path:
    index_dir = tmp_path_factory.mktemp("index")
    build_index(seed_corpus, index_dir, encoder, progress=False)
    return index_dir


@pytest.fixture(scope="session")
def seed_searcher(seed_index, encoder) -> Searcher:
    return Searcher(SearchIndex.load(seed_index), encoder)
