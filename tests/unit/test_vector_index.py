"""The FAISS choice: exact below the threshold, IVF from it, and an IVF index read back searches and reconstructs."""

import numpy as np

from bot.retrieval.vector_index import DEFAULT_ANN_THRESHOLD, build, ivf_lists, read, write
from bot.settings import Settings


def unit_vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    """Points around a few centres, as text embeddings cluster by topic."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, dim))
    matrix = centres[rng.integers(0, 20, n)] + 0.3 * rng.standard_normal((n, dim))
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


def test_below_the_threshold_the_search_is_exact():
    matrix = unit_vectors(500)
    index, entry = build(matrix, 32, ann_threshold=501)
    assert entry == {"kind": "flat"}
    _, ids = index.search(matrix[:5], 3)
    assert ids[:, 0].tolist() == [0, 1, 2, 3, 4]


def test_from_the_threshold_an_ivf_index_is_written_read_and_searched(tmp_path):
    matrix = unit_vectors(4000)
    index, entry = build(matrix, 32, ann_threshold=4000)
    assert entry["kind"] == "ivf" and entry["lists"] == ivf_lists(4000) and entry["nprobe"] > 0
    write(index, tmp_path / "vectors.faiss")
    loaded = read(tmp_path / "vectors.faiss", entry)
    assert loaded.ntotal == 4000 and loaded.nprobe == entry["nprobe"]
    _, ids = loaded.search(matrix[:50], 10)
    assert (ids[:, 0] == np.arange(50)).mean() >= 0.95, "a stored vector finds itself"
    assert np.allclose(loaded.reconstruct_batch(np.array([7, 3999])), matrix[[7, 3999]])


def test_the_same_vectors_give_the_same_ivf_lists():
    matrix = unit_vectors(3000)
    first, second = build(matrix, 32, 1)[0], build(matrix, 32, 1)[0]
    assert np.array_equal(
        first.quantizer.reconstruct_n(0, first.nlist), second.quantizer.reconstruct_n(0, second.nlist)
    )


def test_settings_default_is_the_measured_threshold():
    assert Settings(_env_file=None).ann_threshold == DEFAULT_ANN_THRESHOLD
