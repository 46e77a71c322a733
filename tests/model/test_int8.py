"""The int8 copy: made locally and repeatably from the fp32 export, recorded in the manifest, and never mixed
with fp32 vectors (questions are refused the dense leg rather than ranked against the other variant)."""

import json
import logging
import os

import numpy as np
import pytest

from bot.engine import open_searcher
from bot.model.encoder import OnnxEncoder, load_encoder, model_fingerprint, vector_fingerprint
from bot.model.provision import DEFAULT_MODEL_NAME
from bot.model.quantize import INT8_FILE, INT8_SOURCE, RECIPE, current_int8, quantize
from bot.retrieval.indexer import build_index, is_stale, read_manifest
from bot.retrieval.search import Searcher, SearchIndex
from bot.settings import Settings
from tests.conftest import MODELS

PASSAGES = ["第一书记带领村民修路，安装路灯120盏。", "3+1帮带制：一名老党员带三名年轻党员和一户困难户。", "天气"]


def linked_copy(target):
    """The real model folder, fp32 ONNX export included, linked file by file into real folders: the int8 copy
    is written here, never into the shared models/."""
    source = MODELS / DEFAULT_MODEL_NAME
    for path in source.rglob("*"):
        if path.is_file():
            (target / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(path, target / path.relative_to(source))
    return target


@pytest.fixture(scope="module")
def int8_models(tmp_path_factory, encoder):
    models = tmp_path_factory.mktemp("models")
    linked_copy(models / DEFAULT_MODEL_NAME)
    return models


@pytest.fixture(scope="module")
def int8_encoder(int8_models):
    loaded = load_encoder(DEFAULT_MODEL_NAME, int8_models, variant="int8")
    assert loaded is not None and loaded.variant == "int8"
    return loaded


def test_quantising_is_local_repeatable_and_recorded(tmp_path, int8_encoder, int8_models):
    folder = int8_models / DEFAULT_MODEL_NAME
    record = json.loads((folder / INT8_SOURCE).read_text())
    fingerprint = model_fingerprint(str(folder))
    assert record["recipe"] == RECIPE and record["fingerprint"] == fingerprint
    again = linked_copy(tmp_path / DEFAULT_MODEL_NAME)
    shared = MODELS / DEFAULT_MODEL_NAME / INT8_SOURCE
    before = shared.read_bytes() if shared.exists() else None
    path, sha256 = quantize(again, fingerprint)
    assert (shared.read_bytes() if shared.exists() else None) == before, "a linked record is replaced, not written"
    assert sha256 == record["sha256"], "the same export and recipe give the same bytes"
    assert path.read_bytes() == (folder / INT8_FILE).read_bytes()
    assert model_fingerprint(str(again)) == fingerprint, "the int8 copy is not part of the weights' fingerprint"
    assert current_int8(again, "other-weights") is None, "other weights need their own copy"


def test_int8_passages_stay_close_to_fp32_questions_are_fp32_and_fingerprinted(int8_encoder, int8_models, encoder):
    assert int8_encoder.passages is not None and int8_encoder.queries is not int8_encoder.passages
    assert int8_encoder.fingerprint != encoder.fingerprint and "-int8-" in int8_encoder.fingerprint
    assert vector_fingerprint(str(int8_models / DEFAULT_MODEL_NAME), "int8") == int8_encoder.fingerprint
    got, want = int8_encoder.encode_passages(PASSAGES), encoder.encode_passages(PASSAGES)
    assert got.shape == want.shape and np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert float((got * want).sum(axis=1).min()) > 0.98
    question = "3+1帮带制怎么运作？"  # questions stay fp32: the same vector either way
    assert np.allclose(int8_encoder.encode_query(question), encoder.encode_query(question), atol=1e-6)


def test_the_manifest_says_int8_and_fp32_questions_are_refused(tmp_path, seed_corpus, int8_encoder, encoder, caplog):
    index = tmp_path / "index"
    build_index(seed_corpus, index, int8_encoder, progress=False)
    manifest = read_manifest(index)
    assert manifest["model"]["fingerprint"] == int8_encoder.fingerprint
    assert manifest["encoder"] == {"variant": "int8", "recipe": RECIPE, "sha256": int8_encoder.variant_sha256}
    assert manifest["vectors"] == {"kind": "flat"}
    assert is_stale(seed_corpus, index, encoder.fingerprint), "switching variant means re-encoding"
    loaded = SearchIndex.load(index)
    with caplog.at_level(logging.WARNING):
        assert Searcher(loaded, encoder).encoder is None
    assert "不可比" in caplog.text
    searcher = Searcher(loaded, int8_encoder)
    assert searcher.encoder is int8_encoder
    assert "“3+1”帮带制" in searcher.search("3+1帮带制是怎么运作的？").hits[0].passage.text


def test_the_bot_encodes_questions_as_the_served_index_was_built(tmp_path, seed_corpus, int8_encoder, int8_models):
    index = tmp_path / "index"
    build_index(seed_corpus, index, int8_encoder, progress=False)
    settings = Settings(
        _env_file=None, corpus_dir=seed_corpus, index_dir=index, models_dir=int8_models, embed_variant="fp32"
    )
    searcher = open_searcher(settings)
    assert searcher.encoder is not None and searcher.encoder.fingerprint == int8_encoder.fingerprint


def test_sessions_side_by_side_give_the_vectors_one_session_gives(int8_encoder, int8_models):
    path = int8_models / DEFAULT_MODEL_NAME / INT8_FILE
    model = int8_encoder.model
    pair = OnnxEncoder(path, model.tokenizer, model.max_seq_length, int8_encoder.recipe, workers=2)
    texts = [f"passage: {text}" for text in PASSAGES * 5]
    alone = int8_encoder.passages.encode_batch(texts, batch_size=4)
    assert len(pair.sessions) == 2 and np.allclose(pair.encode_batch(texts, batch_size=4), alone, atol=1e-5)


def test_smoothing_moves_outliers_into_the_weights_without_changing_the_fp32_function(tmp_path, encoder):
    import onnx
    import onnxruntime as ort

    from bot.model.smooth import SMOOTHED, smooth

    source = MODELS / DEFAULT_MODEL_NAME / "onnx" / "model.onnx"
    smoothed = tmp_path / "smoothed.onnx"
    assert smooth(source, smoothed, encoder.model.tokenizer, 0.7) > 0
    graph = onnx.load(str(smoothed), load_external_data=False).graph
    muls = [node for node in graph.node if node.op_type == "Mul" and node.name.endswith(SMOOTHED)]
    assert muls, "every constant-weight MatMul gets its input divided"
    batch = encoder.model.tokenizer([f"passage: {text}" for text in PASSAGES], padding=True, return_tensors="np")
    outputs = []
    for path in (source, smoothed):
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        feed = {name: np.asarray(batch.get(name, np.zeros_like(batch["input_ids"])), np.int64) for name in names}
        outputs.append(session.run(None, feed)[0])
    assert np.allclose(outputs[0], outputs[1], atol=1e-4), "power-of-two scales keep the fp32 graph's function"
