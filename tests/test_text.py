from bot.text import counts, measure_words, sentence_units, split_sentences


def test_sentences_keep_closing_punctuation_and_quotes():
    assert split_sentences("他说：“好。”然后走了！最后；") == ["他说：“好。”", "然后走了！", "最后；"]


def test_short_lead_in_travels_with_next_sentence():
    units = sentence_units("实行“3+1”帮带制。为每名新任第一书记确定1名原第一书记指导。其余内容在这里展开说明一下，并且给出更多的细节。")
    assert units[0] == "实行“3+1”帮带制。为每名新任第一书记确定1名原第一书记指导。"
    assert len(units) == 2


def test_trailing_short_sentence_joins_the_last_unit():
    assert sentence_units("这是一个足够长的句子，用来说明具体的做法和成效。好。") == ["这是一个足够长的句子，用来说明具体的做法和成效。好。"]


def test_count_pattern_follows_the_measure_word_of_the_question():
    pattern = counts(measure_words("安装了多少盏路灯？"))
    assert pattern.search("安装路灯1687盏")
    assert not pattern.search("新修道路60.9公里")
    assert counts(measure_words("怎么开展的？")) is None
