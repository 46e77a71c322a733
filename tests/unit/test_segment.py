from bot.retrieval.segment import Segmenter, content_chars, learn_terms, normalize


def test_quoted_practice_names_are_learned_whole():
    terms = learn_terms(["实行“3+1”帮带制。采取“四不两直”方式，全面覆盖“八小时外”。"], extra=["嘉祥"])
    assert {"3+1", "3+1帮带制", "四不两直", "八小时外", "嘉祥"} <= terms


def test_quoted_clauses_are_not_terms():
    assert not any("，" in t for t in learn_terms(["形成“一人在村、多方支持，共同推进”的格局"]))


def test_user_dictionary_keeps_question_and_passage_terms_aligned():
    segmenter = Segmenter(learn_terms(["实行“3+1”帮带制。"]))
    question = segmenter.tokens("３＋１帮带制是怎么运作的？")
    passage = segmenter.tokens("实行“3+1”帮带制。为每名新任第一书记确定1名县直部门领导")
    assert "3+1帮带制" in question and "3+1帮带制" in passage


def test_question_words_and_punctuation_are_dropped():
    tokens = Segmenter().tokens("金乡的第一书记安装了多少盏路灯？")
    assert "多少" not in tokens and "？" not in tokens and "路灯" in tokens


def test_question_word_compounds_are_dropped():
    tokens = Segmenter().tokens("白石镇服务队给村民上了几次农技课？曲阜是哪家企业建的？要打造什么样的队伍？")
    assert not {"几次", "哪家", "什么样"} & set(tokens)
    assert {"农技", "企业", "队伍"} <= set(tokens)


def test_a_not_a_question_words_carry_no_content():
    assert content_chars("工厂化养鱼会不会污染环境？") == set("工厂化养鱼污染环境")


def test_user_dictionary_round_trips(tmp_path):
    Segmenter(["四不两直"]).save(tmp_path / "userdict.txt")
    assert Segmenter.load(tmp_path / "userdict.txt").user_words == ["四不两直"]


def test_normalize_and_content_chars():
    assert normalize("“ＡＰＰ”３") == "app3"
    assert content_chars("怎么申报的？") == {"申", "报"}
