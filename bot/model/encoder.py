"""Dense encoder: a local sentence-transformers folder, never a hub download at run time.

Everything model-specific (prompts, pooling, normalisation) is read from the folder's own sentence-transformers
config, so another model is a setting (``EMBED_MODEL``), not a code change.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.model.onnx_copy import ONNX_FILE, current_onnx

log = logging.getLogger(__name__)

PASSAGE_PROMPT_NAMES = ("passage", "document", "corpus")  # first one the folder names wins
POOLING_MODES = ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")
DEFAULT_INPUTS = {"attention_mask": np.ones_like, "token_type_ids": np.zeros_like}


@dataclass(frozen=True)
class Recipe:
    """What the folder's modules do around the transformer, since the ONNX path has to redo it by hand."""

    query_prompt: str
    passage_prompt: str
    pooling: tuple[str, ...]  # sentence-transformers pooling modes, concatenated in this order
    include_prompt: bool
    normalize: bool  # the folder ends in a Normalize module
    plain: bool  # Transformer, Pooling and at most Normalize: no module the ONNX path does not know

    @property
    def onnx_ready(self) -> bool:
        """Whether :func:`pool` on the ONNX graph's token states gives the vector torch gives."""
        known = bool(self.pooling) and set(self.pooling) <= set(POOLING_MODES)
        return self.plain and known and (self.include_prompt or not self.query_prompt)


def read_recipe(model: Any) -> Recipe:
    """The loaded SentenceTransformer's prompts and modules; a missing prompt is no prompt."""
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    prompts = {name: text for name, text in (model.prompts or {}).items() if text}
    modules = list(model)
    pooling = next((m for m in modules if isinstance(m, Pooling)), None)
    modes = pooling.pooling_mode if pooling is not None else ()
    plain = (
        len(modules) in (2, 3)
        and isinstance(modules[0], Transformer)
        and modules[1] is pooling
        and all(isinstance(m, Normalize) for m in modules[2:])
        and getattr(model, "truncate_dim", None) is None
    )
    return Recipe(
        query_prompt=prompts.get("query", ""),
        passage_prompt=next((prompts[n] for n in PASSAGE_PROMPT_NAMES if n in prompts), ""),
        pooling=(modes,) if isinstance(modes, str) else tuple(modes),
        include_prompt=pooling is None or bool(pooling.include_prompt),
        normalize=any(isinstance(m, Normalize) for m in modules),
        plain=plain,
    )


def pool(states: np.ndarray, modes: tuple[str, ...]) -> np.ndarray:
    """sentence-transformers' Pooling for one unpadded sequence of token states ([tokens, hidden])."""
    weights = np.arange(1, len(states) + 1, dtype=np.float32)[:, None]
    pooled = {
        "cls": lambda: states[0],
        "max": lambda: states.max(axis=0),
        "mean": lambda: states.mean(axis=0),
        "mean_sqrt_len_tokens": lambda: states.sum(axis=0) / np.sqrt(len(states)),
        "weightedmean": lambda: (states * weights).sum(axis=0) / weights.sum(),
        "lasttoken": lambda: states[-1],
    }
    return np.concatenate([pooled[mode]() for mode in modes])


class OnnxQueries:
    """One question at a time through onnxruntime.

    It beats torch on single short inputs, and encoding the question is most of answer()'s time.
    """

    def __init__(self, path: Path, tokenizer: Any, max_length: int, recipe: Recipe) -> None:
        import onnxruntime as ort

        if not recipe.onnx_ready:
            raise ValueError(f"the ONNX path cannot reproduce this model's modules: {recipe}")
        options = ort.SessionOptions()
        options.inter_op_num_threads = 1
        # spinning threads fight a rebuild running beside the bot for the same cores
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        unknown = set(self.inputs) - {"input_ids", *DEFAULT_INPUTS}
        if unknown:
            raise ValueError(f"the ONNX graph wants inputs the encoder cannot feed: {sorted(unknown)}")
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.pooling = recipe.pooling

    def encode(self, text: str) -> np.ndarray:
        """The folder's pooling, then L2: unit vectors whether or not the folder ends in Normalize."""
        batch = self.tokenizer([text], truncation=True, max_length=self.max_length, return_tensors="np")
        ids = np.asarray(batch["input_ids"], dtype=np.int64)
        feed = {name: ids if name == "input_ids" else DEFAULT_INPUTS[name](ids) for name in self.inputs}
        vector = pool(self.session.run(None, feed)[0][0], self.pooling)
        return (vector / np.linalg.norm(vector)).astype(np.float32)


class Encoder:
    """Unit vectors for passages and questions: the index's inner products are read as cosines."""

    def __init__(
        self,
        model: Any,
        model_id: str,
        fingerprint: str,
        batch_size: int = 32,
        queries: OnnxQueries | None = None,
        recipe: Recipe | None = None,
    ) -> None:
        self.model = model
        self.model_id = model_id
        self.fingerprint = fingerprint
        self.batch_size = batch_size
        self.queries = queries
        self.recipe = recipe or read_recipe(model)
        self.dim = int(model.get_embedding_dimension())

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self._encode(texts, self.recipe.passage_prompt, progress)

    def encode_query(self, text: str) -> np.ndarray:
        if self.queries is not None:
            return self.queries.encode(self.recipe.query_prompt + text)
        return self._encode([text], self.recipe.query_prompt, False)[0]

    def _encode(self, texts: list[str], prompt: str, progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            prompt=prompt,  # explicit, even when empty: a folder's default_prompt_name must not sneak in
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
    recipe = read_recipe(model)
    return Encoder(model, name, fingerprint, batch_size, _onnx_queries(target, fingerprint, model, recipe), recipe)


def _onnx_queries(target: str, fingerprint: str, model: Any, recipe: Recipe) -> OnnxQueries | None:
    """Questions go through the ONNX copy when provisioning exported one from these weights; else through torch."""
    if not recipe.onnx_ready:
        log.info("%s 的模块（%s）ONNX 路径无法复现，问题向量用 torch 计算。", target, recipe)
        return None
    path = current_onnx(Path(target), fingerprint)
    if path is None:
        log.info("%s 没有（最新的）ONNX 版本，问题向量用 torch 计算；make model 会导出。", target)
        return None
    try:
        return OnnxQueries(path, model.tokenizer, model.max_seq_length, recipe)
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
