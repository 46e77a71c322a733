"""Shared fixtures: the real model, and small real indexes built from real corpora.

Tiers by folder: tests/unit needs neither Node nor the model (`make test-fast`), tests/model needs the
provisioned e5 model, tests/e2e also the Telegram emulator. The folder sets the marker, and any test that
asks for the model's fixtures is marked `model` wherever it lives.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.model.encoder import Encoder, load_encoder
from bot.model.provision import DEFAULT_MODEL_NAME, provision
from bot.retrieval.indexer import build_index
from bot.retrieval.search import Searcher, SearchIndex

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "000_20fd8c739f8a3408.txt"
MODELS = ROOT / "models"


MODEL_FIXTURES = {"encoder", "seed_index", "seed_searcher"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(str(item.fspath)).relative_to(ROOT / "tests").parts[0]
        if tier in ("model", "e2e", "faults"):
            item.add_marker(tier)
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker("model")


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
