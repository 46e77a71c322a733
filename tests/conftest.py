"""Shared fixtures: the real model, small real indexes built from real corpora, and the fault recorder.

Tiers by folder: tests/unit needs neither Node nor the model (`make test-fast`), tests/model needs the
provisioned e5 model, tests/e2e also the Telegram emulator. The folder sets the marker, and any test that
asks for the model's fixtures is marked `model` wherever it lives.

A fault test calls `record(fault, outcome)` after its assertions passed; `make reliability` writes the rows
into docs/reliability.md, so that table lists observed outcomes, not hopes.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.model.encoder import Encoder, load_encoder
from bot.model.provision import DEFAULT_MODEL_NAME, provision
from bot.retrieval.indexer import build_index
from bot.retrieval.search import Searcher, SearchIndex
from tests.postgres import PostgresCluster

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "000_20fd8c739f8a3408.txt"
MODELS = ROOT / "models"


RELIABILITY_DOC = ROOT / "docs" / "reliability.md"
BEGIN, END = "<!-- faults:begin -->", "<!-- faults:end -->"
ROWS: dict[str, tuple[str, str]] = {}  # fault → (outcome, test); a fuzz test records once per example


@pytest.fixture
def record(request: pytest.FixtureRequest):
    def add(fault: str, outcome: str) -> None:
        ROWS[fault] = (outcome, request.node.nodeid.split("::")[-1].split("[")[0])

    return add


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not os.environ.get("RELIABILITY_DOC") or not ROWS or exitstatus != 0:
        return
    lines = ["| 故障 | 观察到的结果 | 测试 |", "| --- | --- | --- |"]
    rows = sorted(ROWS.items(), key=lambda row: (row[1][1], row[0]))
    lines += [f"| {fault} | {outcome} | `{test}` |" for fault, (outcome, test) in rows]
    text = RELIABILITY_DOC.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    RELIABILITY_DOC.write_text(f"{head}{BEGIN}\n" + "\n".join(lines) + f"\n{END}{tail}", encoding="utf-8")


MODEL_FIXTURES = {"encoder", "seed_index", "seed_searcher"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(str(item.fspath)).relative_to(ROOT / "tests").parts[0]
        if tier in ("model", "e2e", "faults"):
            item.add_marker(tier)
        fixtures = set(getattr(item, "fixturenames", ()))
        if MODEL_FIXTURES & fixtures:
            item.add_marker("model")
        if "record" in fixtures:
            item.add_marker("faults")


def small_searcher(
    root: Path, encoder: Encoder | None = None, texts: dict[str, str] | None = None, copies: tuple[Path, ...] = ()
) -> Searcher:
    """A real index over a few articles, written from `texts` (file name → content) or copied, under `root`."""
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in (texts or {}).items():
        (corpus / name).write_text(text, encoding="utf-8")
    for path in copies:
        shutil.copy(path, corpus)
    build_index(corpus, root / "index", encoder, progress=False)
    return Searcher(SearchIndex.load(root / "index"), encoder)


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


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """The state store's target on each backend: an SQLite file path, or the URL of a new PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "data" / "partybot.sqlite3"
    return request.getfixturevalue("postgres").create_database()
