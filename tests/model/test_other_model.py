"""Another sentence-transformers model is a setting (EMBED_MODEL), not a code change.

The tests build their own tiny random models in tmp_path (nothing is downloaded): a BERT with CLS pooling, no
Normalize module and prompts of its own, and a DistilBERT (no token_type_ids) with mean pooling and no prompts.
Their vectors carry no meaning; what is checked is that every model-specific step follows the folder.
"""

from __future__ import annotations

import shutil
import string
from pathlib import Path

import numpy as np
import pytest

from bot.engine import open_encoder, open_searcher
from bot.model.encoder import Encoder, load_encoder, model_fingerprint
from bot.model.onnx_copy import ensure_onnx
from bot.retrieval.index_files import read_manifest
from bot.retrieval.indexer import build_index
from bot.settings import Settings
from tests.conftest import SEED

DIM = 32
PROMPTS = {"query": "问：", "passage": "文："}
QUESTIONS = ["金乡的第一书记安装了多少盏路灯？", "3+1帮带制是怎么运作的？", "How do party members pay dues?"]


def tiny_model(folder: Path, kind: str, pooling: str, prompts: dict[str, str], normalize: bool) -> Path:
    """A random two-layer model with a character-level WordPiece vocabulary, saved as sentence-transformers does."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, DistilBertConfig, DistilBertModel, PreTrainedTokenizerFast

    text = SEED.read_text(encoding="utf-8") + "".join(QUESTIONS) + "".join(PROMPTS.values())
    chars = sorted(set(text) - set(string.whitespace))
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = {token: i for i, token in enumerate([*specials, *chars, *(f"##{c}" for c in chars)])}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
    )
    torch.manual_seed(0)
    if kind == "bert":
        config = BertConfig(
            vocab_size=len(vocab),
            hidden_size=DIM,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=128,
        )
        transformer: torch.nn.Module = BertModel(config)
    else:
        transformer = DistilBertModel(
            DistilBertConfig(
                vocab_size=len(vocab), dim=DIM, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=128
            )
        )
    raw = folder.with_name(folder.name + "-hf")
    transformer.save_pretrained(raw)
    fast.save_pretrained(raw)
    modules = [Transformer(str(raw), max_seq_length=128), Pooling(DIM, pooling_mode=pooling)]
    SentenceTransformer(modules=[*modules, *([Normalize()] if normalize else [])], prompts=prompts).save(str(folder))
    shutil.rmtree(raw)
    return folder


def reference(folder: Path, text: str, pooling: str) -> np.ndarray:
    """The model's vector computed with transformers alone: the folder's pooling by hand, then L2."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    batch = tokenizer([text], return_tensors="pt", truncation=True, max_length=128)
    with torch.no_grad():
        states = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state[0]
    states = states.numpy()
    vector = states[0] if pooling == "cls" else states.mean(axis=0)
    return vector / np.linalg.norm(vector)


@pytest.fixture(scope="module")
def bert_folder(tmp_path_factory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("other") / "tiny-bert", "bert", "cls", PROMPTS, normalize=False)


@pytest.fixture(scope="module")
def distil_folder(tmp_path_factory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("other") / "tiny-distil", "distilbert", "mean", {}, normalize=True)


def test_embed_model_setting_switches_the_whole_pipeline(tmp_path, bert_folder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    settings = Settings(
        embed_model=str(bert_folder),
        models_dir=tmp_path / "models",
        corpus_dir=corpus,
        index_dir=tmp_path / "index",
        data_dir=tmp_path / "data",
    )
    encoder = open_encoder(settings)
    assert encoder is not None and encoder.dim == DIM
    report = build_index(settings.corpus_dir, settings.index_dir, encoder, progress=False)
    assert report.dense and report.passages > 0

    manifest = read_manifest(settings.index_dir)
    assert manifest is not None
    assert manifest["model"] == {"id": str(bert_folder), "fingerprint": model_fingerprint(str(bert_folder))}

    searcher = open_searcher(settings)
    assert searcher.encoder is not None and searcher.encoder is not encoder, "loaded from the setting again"
    assert searcher.index.vectors is not None and searcher.index.vectors.d == DIM
    assert searcher.index.vectors.ntotal == report.passages
    for mode in ("hybrid", "dense"):
        hits = searcher.search(QUESTIONS[0], k=5, mode=mode).hits
        assert hits, mode
    assert any(h.dense != 0.0 for h in searcher.search(QUESTIONS[0], k=5).hits), "the dense leg took part"


def test_encoder_follows_the_folders_prompts_and_pooling(bert_folder):
    encoder = load_encoder(str(bert_folder), bert_folder.parent)
    assert encoder is not None
    recipe = encoder.recipe
    assert (recipe.query_prompt, recipe.passage_prompt) == (PROMPTS["query"], PROMPTS["passage"])
    assert recipe.pooling == ("cls",) and not recipe.normalize
    assert encoder.queries is None, "no ONNX copy was exported for this folder"
    for question in QUESTIONS:
        vector = encoder.encode_query(question)
        assert vector.shape == (DIM,) and abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
        assert float(vector @ reference(bert_folder, PROMPTS["query"] + question, "cls")) > 0.9999
    passages = [QUESTIONS[0], SEED.read_text(encoding="utf-8")[:80]]
    for text, vector in zip(passages, encoder.encode_passages(passages)):
        assert float(vector @ reference(bert_folder, PROMPTS["passage"] + text, "cls")) > 0.9999


def onnx_and_torch(source: Path, tmp_path: Path) -> tuple[Encoder, Encoder]:
    """A copy of the folder with its own ONNX copy exported: its encoder, and the same model on torch alone."""
    folder = shutil.copytree(source, tmp_path / source.name)
    assert ensure_onnx(folder, model_fingerprint(str(folder))) is not None
    encoder = load_encoder(str(folder), folder.parent)
    torch_only = load_encoder(str(folder), folder.parent)
    assert encoder is not None and torch_only is not None
    torch_only.queries = None
    return encoder, torch_only


def test_onnx_copy_of_another_model_pools_like_the_folder(tmp_path, bert_folder):
    encoder, torch_only = onnx_and_torch(bert_folder, tmp_path)
    assert encoder.queries is not None
    assert encoder.queries.inputs == ["input_ids", "attention_mask", "token_type_ids"]
    for question in QUESTIONS:
        assert float(encoder.encode_query(question) @ torch_only.encode_query(question)) > 0.9999, question


def test_model_without_token_types_or_prompts(tmp_path, distil_folder):
    encoder, torch_only = onnx_and_torch(distil_folder, tmp_path)
    recipe = encoder.recipe
    assert (recipe.query_prompt, recipe.passage_prompt) == ("", "")
    assert recipe.pooling == ("mean",) and recipe.normalize
    assert encoder.queries is not None and encoder.queries.inputs == ["input_ids", "attention_mask"]
    for question in QUESTIONS:
        vector = encoder.encode_query(question)
        assert float(vector @ reference(distil_folder, question, "mean")) > 0.9999, question
        assert float(vector @ torch_only.encode_query(question)) > 0.9999, question
