import json
import subprocess
import sys
from dataclasses import replace

from bot.retrieval.search import Searcher
from bot.retrieval.sentences import sentence_units
from tests.conftest import ROOT


def test_3plus1_question_returns_the_mentor_passage_first(seed_searcher):
    result = seed_searcher.search("3+1帮带制是怎么运作的？", k=5)
    assert not result.abstained
    assert "1名原第一书记指导" in result.hits[0].passage.text


def test_results_carry_metadata(seed_searcher):
    hit = seed_searcher.search("金乡的第一书记安装了多少盏路灯？").hits[0]
    assert "1687盏" in hit.passage.text
    assert hit.passage.place == "金乡"
    assert hit.passage.title == "金乡实行“四制”工作法 打造高素质第一书记队伍"
    assert hit.passage.source == "000_20fd8c739f8a3408.txt"


def test_a_passage_stating_the_asked_count_goes_first(seed_searcher):
    hit = seed_searcher.search("白石镇服务队给村民上了几次农技课？", k=5).hits[0]
    assert "开展培训课堂13次" in hit.passage.text


def test_shared_characters_lift_a_paraphrase_that_words_and_vectors_miss(seed_searcher):
    """“展示自己村变化” ↔ “展现村庄变化”: jieba's words differ and e5 prefers the article's opening."""
    question = "邹城擂台赛上村支书是怎么展示自己村变化的？"
    ranking = replace(seed_searcher.tuning, bias=99.0)  # ranking only: the refusal rule is tested apart

    def first(tuning):
        return Searcher(seed_searcher.index, seed_searcher.encoder, tuning).search(question, k=5).hits[0].passage.text

    assert "自我述职+汇报课件" not in first(replace(ranking, chars=0.0))
    assert "自我述职+汇报课件" in first(ranking)


def test_hits_carry_a_cosine_per_sentence_unit(seed_searcher):
    hits = seed_searcher.search("金乡如何对第一书记进行考核？", k=5).hits
    assert any(len(h.sentences) > 1 for h in hits)
    for hit in hits:
        assert len(hit.sentences) == len(sentence_units(hit.passage.text))
        assert all(0.5 < c <= 1.0 for c in hit.sentences)


def test_out_of_corpus_question_abstains(seed_searcher):
    result = seed_searcher.search("How do I reset the root password on a Linux server?")
    assert result.abstained and result.hits == []


def test_empty_question_abstains(seed_searcher):
    assert seed_searcher.search("   ").abstained


def test_search_cli_json_shape(seed_index):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "search",
            "3+1帮带制是怎么运作的？",
            "--index",
            str(seed_index),
            "-k",
            "3",
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    data = json.loads(out)
    assert data["question"] == "3+1帮带制是怎么运作的？" and data["abstained"] is False
    assert len(data["results"]) == 3
    assert set(data["results"][0]) >= {"passage_id", "article_id", "title", "place", "date", "source", "text", "score"}
