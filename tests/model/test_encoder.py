"""The encoder: questions through the ONNX copy give the vectors torch gives; without a usable copy, torch."""

import logging
import os

import numpy as np

from bot.model.encoder import load_encoder, model_fingerprint
from bot.model.onnx_copy import ONNX_FILE, SOURCE_FILE, current_onnx, ensure_onnx
from bot.model.provision import DEFAULT_MODEL_NAME
from tests.conftest import MODELS

QUESTIONS = ["3+1帮带制是怎么运作的？", "金乡的第一书记安装了多少盏路灯？", "天气", "How do I reset my password?"]


def torch_vector(encoder, question: str) -> np.ndarray:
    """sentence-transformers' own reading of the folder's query prompt, independent of the encoder's."""
    return encoder.model.encode([question], prompt_name="query", normalize_embeddings=True, convert_to_numpy=True)[0]


def test_e5_recipe_comes_from_the_folder(encoder):
    recipe = encoder.recipe
    assert (recipe.query_prompt, recipe.passage_prompt) == ("query: ", "passage: ")
    assert recipe.pooling == ("mean",) and recipe.include_prompt and recipe.normalize and recipe.onnx_ready


def test_questions_go_through_onnx_and_match_torch(encoder):
    assert encoder.queries is not None, "provisioning exports the ONNX copy and the encoder uses it"
    for question in QUESTIONS:
        vector = encoder.encode_query(question)
        assert vector.dtype == np.float32 and vector.shape == (encoder.dim,)
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
        assert float(vector @ torch_vector(encoder, question)) > 0.9999, question


def model_copy(tmp_path):
    """The real model folder linked file by file, without its ONNX copy."""
    source = MODELS / DEFAULT_MODEL_NAME
    copy = tmp_path / "models" / DEFAULT_MODEL_NAME
    for path in source.rglob("*"):
        relative = path.relative_to(source)
        if path.is_file() and relative.parts[0] != ONNX_FILE.parent.name:
            (copy / relative).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(path, copy / relative)
    return copy


def test_without_an_onnx_copy_torch_encodes_questions(tmp_path, encoder):
    copy = model_copy(tmp_path)
    plain = load_encoder(DEFAULT_MODEL_NAME, copy.parent)
    assert plain.queries is None and plain.fingerprint == encoder.fingerprint
    assert float(plain.encode_query(QUESTIONS[0]) @ encoder.encode_query(QUESTIONS[0])) > 0.9999


def test_a_broken_onnx_copy_falls_back_to_torch(tmp_path, caplog):
    copy = model_copy(tmp_path)
    (copy / ONNX_FILE).parent.mkdir()
    (copy / ONNX_FILE).write_bytes(b"not an onnx model")
    (copy / SOURCE_FILE).write_text(model_fingerprint(str(copy)))
    with caplog.at_level(logging.WARNING):
        loaded = load_encoder(DEFAULT_MODEL_NAME, copy.parent)
    assert loaded.queries is None and "ONNX" in caplog.text
    assert loaded.encode_query(QUESTIONS[1]).shape == (loaded.dim,)


def test_onnx_copy_is_left_out_of_the_fingerprint_but_tied_to_it(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    before = model_fingerprint(str(folder))
    (folder / ONNX_FILE).parent.mkdir()
    (folder / ONNX_FILE).write_bytes(b"onnx")
    (folder / SOURCE_FILE).write_text(before)
    assert model_fingerprint(str(folder)) == before, "cached vectors and built indexes stay valid"
    assert current_onnx(folder, before) == folder / ONNX_FILE
    (folder / "config.json").write_text('{"changed": true}')
    assert current_onnx(folder, model_fingerprint(str(folder))) is None, "new weights need a new export"


def test_failed_export_leaves_nothing_behind(tmp_path, caplog):
    folder = tmp_path / "model"
    folder.mkdir()
    with caplog.at_level(logging.WARNING):
        assert ensure_onnx(folder, "abc") is None
    assert not (folder / ONNX_FILE).exists() and "ONNX" in caplog.text
