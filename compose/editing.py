"""Closed-form edits of a model's cross-attention: change what a word means in seconds, with no data.

The idea is UCE's (Gandikota et al., "Unified Concept Editing in Diffusion Models", 2024): a text
token reaches the picture only through each cross-attention layer's key and value projections
(`to_k`, `to_v`: matrices W of shape (out, d) applied to the token's embedding c). To make a source
text read as a target text, ask every projection for W' c_source = W c_target on the source's tokens
while W' c = W c on the tokens of every text to preserve; least squares gives, per projection,

    W' = (W T^T C + s W P^T P + r W) (C^T C + s P^T P + r I)^-1

with C (n, d) the source tokens' embeddings, T (n, d) the target's at the same positions, P (m, d)
the preserved ones, s the preservation weight and r a small ridge that keeps W where nothing asks
for a change. The text encoder is not touched; the edit is exact linear algebra on the UNet.

Texts are paired position by position: "a red diamond" with "a red star" (a replacement), or "a red
star" with "a red" (a deletion: the word's own position then reads the end of the shorter text).
Every text is taken in both forms compose feeds a model: a whole caption (`text_length` tokens) and a
region phrase (the model's region marker first, `phrase_length` tokens), all positions, padding
included (a causal text encoder writes the whole text into the positions after it).

`edit_concepts` builds the texts for the shapes world's words (every colour and size word, singular
and counted plural) and applies the edit in place; `concept_texts` and `edit_cross_attention` are the
two halves for other vocabularies.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import torch

from compose.regions.conditioning import region_text

PRESERVE_SCALE = 1.0  # s: how strongly the preserved texts keep their keys and values
RIDGE = 1e-3  # r, as a share of the mean diagonal of C^T C + s P^T P


@dataclass(frozen=True)
class EditReport:
    """What a closed-form edit changed: the texts on each side, the projections edited, the seconds,
    and how far the source texts' keys and values moved towards the target's (1: all the way)."""

    mapping: dict
    source_texts: int
    preserved_texts: int
    projections: int
    seconds: float
    moved: float

    def to_dict(self) -> dict:
        return {"strategy": "closed-form", "mapping": dict(self.mapping), "source_texts": self.source_texts,
                "preserved_texts": self.preserved_texts, "projections": self.projections,
                "seconds": round(self.seconds, 3), "moved": round(self.moved, 4)}


def cross_attention_modules(unet) -> list[torch.nn.Module]:
    """Every attention module of the cross-attention kind (diffusers' Attention with is_cross_attention),
    found by kind, not name; a UNet without any is an error."""
    modules = [module for module in unet.modules()
               if getattr(module, "is_cross_attention", False) and hasattr(module, "to_k")]
    if not modules:
        raise ValueError("this UNet has no cross-attention layers: there is nothing that reads text to change")
    return modules


def cross_attention_projections(unet) -> list[torch.nn.Linear]:
    """Every key and value projection that reads text: the `to_k` and `to_v` of each cross-attention module."""
    return [projection for module in cross_attention_modules(unet) for projection in (module.to_k, module.to_v)]


def shapes_world_texts(word: str) -> list[str]:
    """Texts that name `word` (a shape or a colour of the shapes world) in every wording the audit and the
    suites use: with no size word, "small" and "big", singular and counted plural."""
    from compose.shapes import world
    from compose.shapes.captions import plural

    sizes = ("", "small ", "big ")
    if word in world.SHAPES:
        colours = list(world.PALETTE)
        return ([f"a {size}{colour} {word}" for colour in colours for size in sizes]
                + [f"{count} {colour} {plural(word)}" for colour in colours for count in ("two", "three")])
    if word in world.PALETTE:
        return ([f"a {size}{word} {shape}" for shape in world.SHAPES for size in sizes]
                + [f"two {word} {plural(shape)}" for shape in world.SHAPES])
    raise ValueError(f"--concept {word!r}: name a shape ({', '.join(world.SHAPES)}) or a colour "
                     f"({', '.join(world.PALETTE)}) of the shapes world")


def concept_texts(mapping: dict[str, str]) -> tuple[list[str], list[str], list[str]]:
    """(sources, targets, preserved) for shapes-world words: every text naming a mapped word, the same
    text with the word replaced (or deleted), and every shape x colour text that names no mapped word."""
    from compose.shapes import world
    from compose.shapes.captions import replace_words

    sources, targets = [], []
    for old, new in mapping.items():
        for text in shapes_world_texts(old):
            sources.append(text)
            targets.append(replace_words(text, {old: new}))
    # A swap (diamond -> star and star -> diamond) edits all at once: each target is read with the old weights.
    named = [re.compile(rf"\b{re.escape(word)}(s|es)?\b") for word in mapping]
    preserved = [text for shape in world.SHAPES for text in shapes_world_texts(shape)
                 if not any(pattern.search(text) for pattern in named)]
    return sources, targets, preserved


def token_rows(bundle, texts: list[str]) -> torch.Tensor:
    """Every position's embedding of each text in both of compose's forms: (rows, d)."""
    with torch.no_grad():
        captions = bundle.encode(texts, bundle.text_length)
        phrases = bundle.encode([region_text(bundle.region_prefix, text) for text in texts], bundle.phrase_length)
    return torch.cat([captions.reshape(-1, captions.shape[-1]), phrases.reshape(-1, phrases.shape[-1])]).double()


def edit_cross_attention(bundle, sources: list[str], targets: list[str], preserved: list[str],
                         preserve_scale: float = PRESERVE_SCALE, mapping: dict | None = None) -> EditReport:
    """Edit `bundle`'s UNet in place so each source text's keys and values become its target's (see the
    module docstring); returns what changed."""
    if not sources or len(sources) != len(targets):
        raise ValueError(f"{len(sources)} source texts and {len(targets)} targets: give one target per source")
    if preserve_scale < 0:
        raise ValueError(f"preserve scale {preserve_scale}: give 0 or more")
    clock = time.perf_counter()
    source_rows, target_rows = token_rows(bundle, sources), token_rows(bundle, targets)
    preserved_rows = token_rows(bundle, preserved) if preserved else source_rows[:0]
    gram = source_rows.T @ source_rows + preserve_scale * preserved_rows.T @ preserved_rows
    ridge = RIDGE * float(gram.diagonal().mean())
    gram = gram + ridge * torch.eye(gram.shape[0], dtype=gram.dtype)
    # W' = W M with M = (T^T C + s P^T P + r I) G^-1, the same for every projection: one solve.
    right = target_rows.T @ source_rows + preserve_scale * preserved_rows.T @ preserved_rows
    right = right + ridge * torch.eye(gram.shape[0], dtype=gram.dtype)
    change = torch.linalg.solve(gram, right.T).T  # G symmetric: M = right G^-1
    projections = cross_attention_projections(bundle.unet)
    before = after = 0.0
    with torch.no_grad():
        for projection in projections:
            weight = projection.weight.double().cpu()
            edited = weight @ change
            wanted = target_rows @ weight.T
            before += float((source_rows @ weight.T - wanted).norm())
            after += float((source_rows @ edited.T - wanted).norm())
            projection.weight.copy_(edited.to(projection.weight))
    seconds = time.perf_counter() - clock
    return EditReport(mapping=dict(mapping or {}), source_texts=len(sources), preserved_texts=len(preserved),
                      projections=len(projections), seconds=seconds, moved=1 - after / before if before else 1.0)


def edit_concepts(bundle, mapping: dict[str, str], preserve_scale: float = PRESERVE_SCALE) -> EditReport:
    """Make each shapes-world word of `mapping` read as its value ("" erases it: the word reads as if it
    were not written), preserving every other shape x colour; in place, in seconds."""
    if not mapping:
        raise ValueError("give at least one word to edit, e.g. {'diamond': 'star'}")
    for old, new in mapping.items():
        if old == new:
            raise ValueError(f"{old!r} -> {new!r}: a word mapped to itself changes nothing")
    sources, targets, preserved = concept_texts(mapping)
    return edit_cross_attention(bundle, sources, targets, preserved, preserve_scale, mapping=mapping)


def _single_token(tokenizer, word: str) -> int:
    """The one token id of `word` in `tokenizer`; a word split into several tokens is an error."""
    ids = tokenizer(word, add_special_tokens=False).input_ids
    if len(ids) != 1:
        raise ValueError(f"{word!r} is {len(ids)} tokens in this model's tokenizer: a token swap needs words "
                         "that are one token each (use --strategy closed-form)")
    return ids[0]


def swap_word_embeddings(bundle, pairs: dict[str, str]) -> dict:
    """Exchange, in every text encoder of `bundle`, the input embeddings of each pair's two words (and of
    their plurals); in place, in milliseconds. Returns what was swapped and the seconds.

    A model trained on captions in which two words were swapped is, token for token, a model of the true
    captions with those two rows of its embedding table exchanged: the text encoder sees a word only
    through its row. Exchanging them back is the exact inverse of the mislabelling, as far as training
    learned it (whatever else the mislabelled training moved stays moved). It fixes a swap only: a one-way
    mistake ("star" pictures captioned "diamond", "diamond" ones kept) leaves one word naming two shapes,
    which no exchange of rows undoes."""
    from compose.shapes.captions import plural

    if not pairs:
        raise ValueError("give at least one pair of words to swap, e.g. {'diamond': 'star'}")
    words = [(a, b) for first, second in pairs.items() for a, b in ((first, second), (plural(first), plural(second)))]
    for first, second in words:
        if first == second:
            raise ValueError(f"{first!r} <-> {second!r}: a word swapped with itself changes nothing")
    clock = time.perf_counter()
    encoders = [(bundle.text_encoder, bundle.tokenizer)]
    if getattr(bundle, "text_encoder_2", None) is not None:
        encoders.append((bundle.text_encoder_2, bundle.tokenizer_2))
    rows = [[(_single_token(tokenizer, a), _single_token(tokenizer, b)) for a, b in words] for _, tokenizer in encoders]
    with torch.no_grad():
        for (encoder, _), encoder_rows in zip(encoders, rows):
            table = encoder.get_input_embeddings().weight
            for a, b in encoder_rows:
                table[[a, b]] = table[[b, a]].clone()
    return {"strategy": "token-swap", "swapped": [list(pair) for pair in words], "encoders": len(encoders),
            "seconds": round(time.perf_counter() - clock, 4)}
