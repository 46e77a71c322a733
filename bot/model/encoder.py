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
from bot.model.quantize import RECIPE, VARIANTS, current_int8, ensure_int8, variant_fingerprint

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


class OnnxEncoder:
    """Texts through onnxruntime: the fp32 export for questions, the int8 copy for passages.

    One short question runs faster here than through torch, and a batch of passages through the int8 copy
    several times faster. With more than one worker each session gets one core and batches run side by side,
    which keeps every core busy where one session's threads would wait on each other's small matrices.
    """

    def __init__(self, path: Path, tokenizer: Any, max_length: int, recipe: Recipe, workers: int = 1) -> None:
        import onnxruntime as ort

        if not recipe.onnx_ready:
            raise ValueError(f"the ONNX path cannot reproduce this model's modules: {recipe}")
        options = ort.SessionOptions()
        options.inter_op_num_threads = 1
        if workers > 1:
            options.intra_op_num_threads = 1
        # spinning threads fight a rebuild running beside the bot for the same cores
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.sessions = [
            ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]) for _ in range(workers)
        ]
        self.inputs = [i.name for i in self.sessions[0].get_inputs()]
        unknown = set(self.inputs) - {"input_ids", *DEFAULT_INPUTS}
        if unknown:
            raise ValueError(f"the ONNX graph wants inputs the encoder cannot feed: {sorted(unknown)}")
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.pooling = recipe.pooling

    def encode(self, text: str) -> np.ndarray:
        return self.encode_batch([text])[0]

    def encode_batch(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """The folder's pooling, then L2: unit vectors whether or not the folder ends in Normalize.

        Texts of similar length share a batch, so little of each batch is padding.
        """
        order = np.argsort([-len(t) for t in texts], kind="stable")
        batches = [order[start : start + batch_size] for start in range(0, len(texts), batch_size)]
        if len(self.sessions) == 1:
            results = [self._run(self.sessions[0], [texts[i] for i in rows]) for rows in batches]
        else:
            from concurrent.futures import ThreadPoolExecutor  # onnxruntime releases the GIL while it runs

            with ThreadPoolExecutor(len(self.sessions)) as pool:
                jobs = [
                    pool.submit(self._run, self.sessions[n % len(self.sessions)], [texts[i] for i in rows])
                    for n, rows in enumerate(batches)
                ]
                results = [job.result() for job in jobs]
        vectors = np.concatenate(results) if results else np.zeros((0, 0), dtype=np.float32)
        out = np.empty_like(vectors)
        out[order] = vectors  # the batches are consecutive slices of `order`
        return out

    def _run(self, session: Any, texts: list[str]) -> np.ndarray:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="np")
        ids = np.asarray(batch["input_ids"], dtype=np.int64)
        mask = np.asarray(batch["attention_mask"], dtype=np.int64)
        feed = {
            name: ids if name == "input_ids" else mask if name == "attention_mask" else DEFAULT_INPUTS[name](ids)
            for name in self.inputs
        }
        states = session.run(None, feed)[0]
        vectors = np.stack([pool(states[row][mask[row] == 1], self.pooling) for row in range(len(texts))])
        return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


class Encoder:
    """Unit vectors for passages and questions: the index's inner products are read as cosines."""

    def __init__(
        self,
        model: Any,
        model_id: str,
        fingerprint: str,
        batch_size: int = 32,
        queries: OnnxEncoder | None = None,
        recipe: Recipe | None = None,
    ) -> None:
        self.model = model
        self.model_id = model_id
        self.fingerprint = fingerprint  # names the vector space: weights, plus the variant when not fp32
        self.batch_size = batch_size
        self.queries = queries
        self.recipe = recipe or read_recipe(model)
        self.dim = int(model.get_embedding_dimension())
        self.passages: OnnxEncoder | None = None  # the int8 copy; None: sentence-transformers encodes passages
        self.variant = "fp32"
        self.variant_sha256 = ""

    def describe(self) -> dict[str, object]:
        """What the manifest records about how its vectors were made, beside the model's id and fingerprint."""
        recipe = RECIPE if self.variant == "int8" else None
        return {"variant": self.variant, "recipe": recipe, "sha256": self.variant_sha256 or None}

    def use_int8(self, folder: Path, workers: int = 1) -> bool:
        """Passages through the int8 copy, quantised from the fp32 export if needed.

        Questions stay on the fp32 export: one short text costs nothing at build time, and an exact question
        vector leaves the error of each cosine on the passage side alone. The fingerprint still changes with
        the variant: an index's passage vectors are what the question meets.
        False (still fp32) when this model has no ONNX path or quantising fails.
        """
        if not self.recipe.onnx_ready or self.queries is None:
            log.warning("%s 没有可用的 ONNX 路径，段落向量仍用 fp32 计算。", self.model_id)
            return False
        found = ensure_int8(folder, self.fingerprint)
        if found is None:
            return False
        path, sha256 = found
        try:
            onnx = OnnxEncoder(path, self.model.tokenizer, self.model.max_seq_length, self.recipe, workers)
        except Exception as exc:  # a broken file must not stop the bot: fp32 still works
            log.warning("int8 模型 %s 加载失败（%s），段落向量仍用 fp32 计算。", path, exc)
            return False
        self.passages = onnx
        self.variant, self.variant_sha256 = "int8", sha256
        self.fingerprint = variant_fingerprint(self.fingerprint, "int8", sha256)
        return True

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if self.passages is not None and texts:
            prompt = self.recipe.passage_prompt
            return self.passages.encode_batch([prompt + t for t in texts], self.batch_size)
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


def load_encoder(
    name: str, models_dir: Path, batch_size: int = 32, variant: str = "fp32", workers: int = 1, device: str = "cpu"
) -> Encoder | None:
    """None (keyword-only search) when no model can be loaded, with one warning saying why.

    ``variant`` int8 encodes through the quantised ONNX copy (CPU only); ``device`` cuda puts
    sentence-transformers on the GPU, where fp32 passages are fast enough and the int8 copy does not apply.
    """
    target = resolve_model(name, models_dir)
    if target is None:
        log.warning("未找到向量模型 %s（models/ 下没有），仅使用关键词检索。运行 make model 可安装。", name)
        return None
    try:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(target, device=device, local_files_only=Path(target).exists())
    except Exception as exc:  # any loading failure degrades to keyword-only search
        log.warning("向量模型 %s 加载失败（%s），仅使用关键词检索。", name, exc)
        return None
    fingerprint = model_fingerprint(target)
    recipe = read_recipe(model)
    encoder = Encoder(model, name, fingerprint, batch_size, _onnx_queries(target, fingerprint, model, recipe), recipe)
    if variant not in VARIANTS:
        log.warning("未知的编码变体 %s，使用 fp32。", variant)
    elif variant == "int8" and device != "cpu":
        log.info("%s 上段落按 fp32 编码：int8 副本只在 CPU 上运行。", device)
    elif variant == "int8":
        encoder.use_int8(Path(target), workers)
    return encoder


def vector_fingerprint(target: str, variant: str = "fp32") -> str:
    """The fingerprint an encoder of this variant will have, without loading the model (for staleness checks)."""
    fingerprint = model_fingerprint(target)
    if variant != "int8":
        return fingerprint
    found = current_int8(Path(target), fingerprint)
    return variant_fingerprint(fingerprint, variant, found[1] if found else "")


def _onnx_queries(target: str, fingerprint: str, model: Any, recipe: Recipe) -> OnnxEncoder | None:
    """Questions go through the ONNX copy when provisioning exported one from these weights; else through torch."""
    if not recipe.onnx_ready:
        log.info("%s 的模块（%s）ONNX 路径无法复现，问题向量用 torch 计算。", target, recipe)
        return None
    path = current_onnx(Path(target), fingerprint)
    if path is None:
        log.info("%s 没有（最新的）ONNX 版本，问题向量用 torch 计算；make model 会导出。", target)
        return None
    try:
        return OnnxEncoder(path, model.tokenizer, model.max_seq_length, recipe)
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
