"""e5.c's normalisation map as a SentencePiece precompiled charsmap.

tokenizers can only apply such a map through ``normalizers.Precompiled``, which reads a darts-clone double
array; no Python library writes one, so this module builds it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping

import numpy as np

from bot.model.provision.common import ProvisionError


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
    """A darts-clone double array: the trie format inside SentencePiece charsmaps.

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
    """The map in charsmap form (u32 trie size, darts trie, NUL-terminated outputs).

    With it the stock ``normalizers.Precompiled`` reproduces e5.c's normalisation inside tokenizer.json.
    """
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
