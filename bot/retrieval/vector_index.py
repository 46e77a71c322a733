"""The passage vectors' FAISS index: exact inner product up to a passage count, an IVF index above it.

Exact search scans every vector per question, which is what answer() pays for most at large archives; an
inverted file (IVF) scans only the lists nearest the question. Which kind a build holds, and with which
parameters, goes into the manifest, so a reader never guesses. Search needs two more things than FAISS
keeps in the file: the number of lists probed (``nprobe``) and a direct map, since the searcher reconstructs
candidate vectors by id.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import faiss
import numpy as np

from bot.model.encoder import Encoder

log = logging.getLogger(__name__)

DEFAULT_ANN_THRESHOLD = 100_000  # passages; Settings.ann_threshold, measured in benchmarks.ann
NPROBE = 128
LISTS_PER_SQRT = 4  # lists ≈ 4·√n, FAISS's usual starting point
TRAIN_PER_LIST = 64  # training points per list: enough for k-means, cheap at any size


def ivf_lists(count: int) -> int:
    return max(1, min(count // TRAIN_PER_LIST, int(LISTS_PER_SQRT * math.sqrt(count))))


def build(matrix: np.ndarray, dim: int, ann_threshold: int = DEFAULT_ANN_THRESHOLD) -> tuple[faiss.Index, dict]:
    """The index over these unit vectors and its manifest entry: ``{kind, lists, nprobe}``."""
    if len(matrix) < max(ann_threshold, 1):
        flat = faiss.IndexFlatIP(dim)
        flat.add(matrix)
        return flat, {"kind": "flat"}
    lists = ivf_lists(len(matrix))
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
    sample = np.random.default_rng(0).choice(len(matrix), size=min(len(matrix), lists * TRAIN_PER_LIST), replace=False)
    ivf.cp.seed = 0  # the same vectors give the same lists
    ivf.train(matrix[np.sort(sample)])
    ivf.add(matrix)
    return ivf, {"kind": "ivf", "lists": lists, "nprobe": NPROBE}


def write(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def read(path: Path, entry: dict | None = None) -> faiss.Index:
    """The index as written, ready to search and to reconstruct candidates by id."""
    return prepare(faiss.read_index(str(path)), entry)


def prepare(index: faiss.Index, entry: dict | None = None) -> faiss.Index:
    """An IVF index probes ``nprobe`` lists and keeps a direct map (id → vector); a flat one needs nothing."""
    if isinstance(index, faiss.IndexIVF):
        index.nprobe = int((entry or {}).get("nprobe", NPROBE))
        index.make_direct_map()
    return index


def query_encoder(manifest: dict, encoder: Encoder | None) -> Encoder | None:
    """The encoder, if its questions land in the space of the build's passage vectors; else None (keywords only).

    The fingerprint names weights and variant (fp32, int8): an int8 question against fp32 passages, or
    another model's, would rank by noise. A build that recorded no fingerprint is trusted as before.
    """
    built = (manifest.get("model") or {}).get("fingerprint")
    if encoder is None or built is None or built == encoder.fingerprint:
        return encoder
    log.warning(
        "索引的向量由 %s 生成，当前编码器是 %s：两者不可比，本次仅用关键词检索。请用同一变体重建索引（python build_index.py）。",
        built,
        encoder.fingerprint,
    )
    return None
