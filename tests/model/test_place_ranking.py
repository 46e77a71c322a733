"""A named place decides the article: “金乡县第一书记怎么考勤” must not be answered from 阜平县's article, which
says 考勤 more often. The seed page plus one article of the many-places dev set, real model."""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest

from bot.retrieval.indexer import build_index
from bot.retrieval.search import Searcher, SearchIndex
from tests.conftest import ROOT, SEED

FUPING = ROOT / "tests" / "data" / "multi" / "corpus" / "B" / "fuping-20190821-1.md"
QUESTION = "金乡县第一书记怎么考勤？"


@pytest.fixture(scope="module")
def searcher(tmp_path_factory, encoder) -> Searcher:
    root = tmp_path_factory.mktemp("places")
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus)
    shutil.copy(FUPING, corpus)
    build_index(corpus, root / "index", encoder, progress=False)
    return Searcher(SearchIndex.load(root / "index"), encoder)


def test_the_named_places_article_comes_first(searcher: Searcher) -> None:
    searcher.tuning = replace(searcher.tuning, bias=1e9)  # ranking only
    assert searcher.search(QUESTION).hits[0].passage.county == "金乡县"


def test_without_the_place_feature_another_places_article_wins(searcher: Searcher) -> None:
    searcher.tuning = replace(searcher.tuning, bias=1e9, place=0.0)
    assert searcher.search(QUESTION).hits[0].passage.county == "阜平县"
