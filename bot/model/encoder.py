"""Dense encoder: a local sentence-transformers folder, never a hub download at run time."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from bot.model.onnx_copy import ONNX_FILE, current_onnx

log = logging.getLogger(__name__)

QUERY_PROMPT = "query: "
PASSAGE_PROMPT = "passage: "


class OnnxQueries:
    """One question through onnxruntime: ≈ 10 ms where torch takes ≈ 30 ms, most of answer()'s time."""

    def __init__(self, path: Path, tokenizer, max_length: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.inter_op_num_threads = 1
        # spinning threads cost 3 ms when the box is idle but double the latency when a rebuild runs beside it
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.tokenizer = tokenizer
        self.max_length = max_length

    def encode(self, text: str) -> np.ndarray:
        """Mean of the token states, L2-normalised: what the folder's Pooling + Normalize modules compute."""
        batch = self.tokenizer([text], truncation=True, max_length=self.max_length, return_tensors="np")
        ids = np.asarray(batch["input_ids"], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        vector = self.session.run(None, feed)[0][0].mean(axis=0)
        return (vector / np.linalg.norm(vector)).astype(np.float32)


class Encoder:
    def __init__(
        self, model, model_id: str, fingerprint: str, batch_size: int = 32, queries: OnnxQueries | None = None
    ) -> None:
        self.model = model
        self.model_id = model_id
        self.fingerprint = fingerprint
        self.batch_size = batch_size
        self.queries = queries
        self.dim = int(model.get_embedding_dimension())

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self._encode([PASSAGE_PROMPT + t for t in texts], progress)

    def encode_query(self, text: str) -> np.ndarray:
        if self.queries is not None:
            return self.queries.encode(QUERY_PROMPT + text)
        return self._encode([QUERY_PROMPT + text], False)[0]

    def _encode(self, texts: list[str], progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.asarray(vectors, dtype=np.float32)


def resolve_model(name: str, models_dir: Path) -> str | None:
    """A bare name means a folder under models/; anything else is a path or a hub id the user chose."""
    for candidate in (Path(name), models_dir / name):
        if (candidate / "modules.json").exists() or (candidate / "config.json").exists():
            return str(candidate)
    return None if "/" not in name else name


def load_encoder(name: str, models_dir: Path, batch_size: int = 32) -> Encoder | None:
    """None (keyword-only search) when no model can be loaded, with one warning saying why."""
    target = resolve_model(name, models_dir)
    if target is None:
        log.warning("未找到向量模型 %s（models/ 下没有），仅使用关键词检索。运行 make model 可安装。", name)
        return None
    try:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(target, device="cpu", local_files_only=Path(target).exists())
    except Exception as exc:  # any loading failure degrades to keyword-only search
        log.warning("向量模型 %s 加载失败（%s），仅使用关键词检索。", name, exc)
        return None
    fingerprint = model_fingerprint(target)
    return Encoder(model, name, fingerprint, batch_size, _onnx_queries(target, fingerprint, model))


def _onnx_queries(target: str, fingerprint: str, model) -> OnnxQueries | None:
    """Questions go through the ONNX copy when provisioning exported one from these weights; else through torch."""
    path = current_onnx(Path(target), fingerprint)
    if path is None:
        log.info("%s 没有（最新的）ONNX 版本，问题向量用 torch 计算；make model 会导出。", target)
        return None
    try:
        return OnnxQueries(path, model.tokenizer, model.max_seq_length)
    except Exception as exc:  # a broken export must not stop the bot: torch still works
        log.warning("ONNX 模型 %s 加载失败（%s），问题向量改用 torch 计算。", path, exc)
        return None


def model_fingerprint(target: str) -> str:
    """Cheap but content-based: small files whole, large ones by size and their first and last MiB."""
    folder = Path(target)
    if not folder.is_dir():
        return hashlib.sha256(target.encode()).hexdigest()[:16]
    digest = hashlib.sha256()
    derived = folder / ONNX_FILE.parent  # the ONNX copy holds the same weights: vectors stay valid
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and derived not in p.parents):
        digest.update(str(path.relative_to(folder)).encode())
        size = path.stat().st_size
        digest.update(str(size).encode())
        with path.open("rb") as handle:
            digest.update(handle.read(1 << 20))
            if size > 2 << 20:
                handle.seek(-(1 << 20), 2)
                digest.update(handle.read())
    return digest.hexdigest()[:16]
