"""Tiny random models in the bundled format for tests, built from configs the way diffusers' own tests
build dummy components (seeded, small blocks): every code path of the real shapes model runs in a
second on a CPU. The Stable Diffusion-format counterpart is tests/sd_components.py."""

from __future__ import annotations

import torch

from compose.model.bundle import ModelBundle, ShapesModelConfig, build_shapes_model

CAPTIONS = ("a red circle to the left of a blue square", "two blue squares left of a green star",
            "three green triangles and no stars", "a yellow star above a purple diamond",
            "an orange diamond above a purple circle", "no yellow triangles")


def tiny_config(image_size: int = 32, **changes) -> ShapesModelConfig:
    """A two-level UNet (32, 64) with cross-attention at both levels and a one-layer 32-wide text encoder."""
    values = dict(image_size=image_size, fold=4, block_out_channels=(32, 64), attention_levels=(True, True),
                  attention_heads=2, text_hidden=32, text_layers=1, text_heads=2, text_length=32, phrase_length=8)
    values.update(changes)
    return ShapesModelConfig(**values)


def tiny_bundle(texts=CAPTIONS, image_size: int = 32, seed: int = 0, frozen: bool = True, **changes) -> ModelBundle:
    """A seeded tiny model whose tokenizer knows the words of `texts` (and its region marker) as tokens."""
    from compose.model.text import train_tokenizer

    config = tiny_config(image_size, **changes)
    words = list(texts) + [f"{config.region_prefix} {text}" for text in texts]
    torch.manual_seed(seed)
    bundle = build_shapes_model(config, train_tokenizer(words))
    if frozen:
        for module in bundle.modules():
            module.eval().requires_grad_(False)
    return bundle
