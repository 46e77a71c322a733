"""A build above the (here tiny) ANN threshold writes an IVF index that the searcher reads and ranks with."""

from bot.retrieval.indexer import build_index, read_manifest
from bot.retrieval.search import Searcher, SearchIndex


def test_an_ivf_build_answers_like_the_exact_one(tmp_path, seed_corpus, encoder, seed_searcher):
    index = tmp_path / "index"
    build_index(seed_corpus, index, encoder, progress=False, ann_threshold=10)
    assert read_manifest(index)["vectors"]["kind"] == "ivf"
    searcher = Searcher(SearchIndex.load(index), encoder)
    assert type(searcher.index.vectors).__name__ == "IndexIVFFlat"
    for question in ["3+1帮带制是怎么运作的？", "金乡的第一书记安装了多少盏路灯？"]:
        got, want = searcher.search(question).hits, seed_searcher.search(question).hits
        assert [h.passage.passage_id for h in got[:3]] == [h.passage.passage_id for h in want[:3]]
