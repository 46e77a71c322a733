"""The fast tokenizer and its configs, rebuilt from the image so they reproduce e5.c's tokenizer id for id.

Laid out like XLM-RoBERTa's (Precompiled map + collapse of space runs, Metaspace, Unigram over the image's
pieces and scores, ``<s> $A </s>``): that is the tokenizer e5 was trained with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.model.provision.charsmap import build_precompiled_charsmap
from bot.model.provision.e5_image import E5Image

if TYPE_CHECKING:
    from tokenizers import Tokenizer

MAX_SEQ_LENGTH = 512
METASPACE = "\u2581"


def build_tokenizer(img: E5Image) -> Tokenizer:
    """Saved as tokenizer.json, which transformers then uses verbatim (see tokenizer_configs)."""
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


def tokenizer_configs(img: E5Image) -> tuple[dict, dict]:
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
