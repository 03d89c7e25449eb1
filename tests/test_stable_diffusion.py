"""Stable Diffusion support: a diffusers-format SD folder loads by path and runs every method of `compose`.

The model is tiny and random (tests/sd_components.py: a 4-channel VAE latent, a 77-token CLIP text
encoder, a UNet with cross-attention at 8 x 8 and 4 x 4, an SD scheduler config), so the checks are of
plumbing, not of picture quality: shapes, the region processor at every cross-attention layer during a
call and gone after it, the CLI writing a picture and its record, and dtype handling.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sd_components sits beside this file

import sd_components  # noqa: E402
from compose.config import ComposeConfig  # noqa: E402
from compose.regions.attention import RegionAttnProcessor  # noqa: E402

LATENT_SIDE = sd_components.UNET_SAMPLE_SIZE
PICTURE_SIDE = LATENT_SIDE * 2 ** (len(sd_components.VAE_BLOCKS) - 1)


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    return sd_components.save_tiny_stable_diffusion(tmp_path_factory.mktemp("tiny-sd"), seed=0)


@pytest.fixture(scope="module")
def bundle(model_folder):
    from compose.model.bundle import load_model

    return load_model(model_folder)


def test_the_folder_has_the_diffusers_layout_and_loads_as_stable_diffusion(model_folder, bundle):
    from compose.model.bundle import VaeCodec

    for part in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
        assert (model_folder / part).is_dir(), part
    assert json.loads((model_folder / "model_index.json").read_text())["_class_name"] == "StableDiffusionPipeline"
    assert isinstance(bundle.codec, VaeCodec)
    assert bundle.codec.channels == 4 and bundle.codec.downscale == 2
    assert bundle.native_size == PICTURE_SIDE == 16
    assert bundle.text_length == sd_components.TEXT_LENGTH
    assert 1 <= bundle.phrase_length <= bundle.text_length
    assert bundle.dtype == torch.float32 and not any(p.requires_grad for p in bundle.unet.parameters())
    for kind in ("ddim", "dpm", "euler"):  # every sampler is made from the SD (PNDM) scheduler config
        scheduler = bundle.make_scheduler(kind)
        scheduler.set_timesteps(3)
        assert len(scheduler.timesteps) == 3


def test_plain_generation_gives_pictures_at_the_vae_resolution(bundle):
    from compose.sampling import generate_plain

    prompts = ["a red circle to the left of a blue square", "a photo of a cat on a sofa"]
    images = generate_plain(bundle, prompts, [0, 1], steps=2)
    assert [image.shape for image in images] == [(PICTURE_SIDE, PICTURE_SIDE, 3)] * 2
    assert all(image.dtype == np.uint8 for image in images)
    alone = generate_plain(bundle, prompts[1:], [1], steps=2)[0]
    assert np.abs(alone.astype(int) - images[1].astype(int)).max() <= 2, "a batch item equals its single run"
    assert np.array_equal(generate_plain(bundle, prompts[:1], [0], steps=2)[0], images[0])


def test_compose_runs_both_stages_with_the_region_processor_at_every_cross_attention_layer(bundle):
    from compose.pipeline import ComposePipeline
    from compose.regions.masks import region_maps

    unet = bundle.unet
    cross_attention = {name: module for name, module in unet.named_modules() if name.endswith("attn2")}
    assert len(cross_attention) >= 4  # down, mid and up blocks at two resolutions
    processors_before = dict(unet.attn_processors)
    seen = []  # (layer, processor class, coverage shape) at every cross-attention call

    def record(module, args, kwargs, name):
        control = kwargs.get("regions")
        coverage = None if control is None else control.coverage
        seen.append((name, type(module.processor), None if coverage is None else tuple(coverage.shape), coverage))

    handles = [module.register_forward_pre_hook(lambda m, a, k, name=name: record(m, a, k, name), with_kwargs=True)
               for name, module in cross_attention.items()]
    try:
        output = ComposePipeline.from_bundle(bundle).draw(
            prompt=["a red circle to the left of a blue square", "three green triangles"], seed=[0, 1], steps=3,
            config=ComposeConfig(refine=True, refine_strength=0.5))
    finally:
        for handle in handles:
            handle.remove()

    assert [image.shape for image in output.images] == [(PICTURE_SIDE, PICTURE_SIDE, 3)] * 2
    assert {"stage1", "stage2"} <= set(output.timings)
    assert {name for name, *_ in seen} == set(cross_attention), "every attn2 layer ran"
    assert all(kind is RegionAttnProcessor for _, kind, _, _ in seen), "the region processor ran at every call"
    phrase = bundle.phrase_length
    stage_one = (2 * 2, (1 + 3) * phrase, LATENT_SIDE, LATENT_SIDE)  # guidance halves x pictures; 3 slots
    stage_two = (2 * 5, (1 + 1) * phrase, LATENT_SIDE, LATENT_SIDE)  # 2 + 3 objects, one slot each
    shapes = [shape for _, _, shape, _ in seen]
    assert shapes.count(stage_one) == 3 * len(cross_attention)
    assert shapes.count(stage_two) == 2 * len(cross_attention)  # round(3 * 0.5) = 2 refinement steps
    assert len(shapes) == 5 * len(cross_attention)

    # Stage-1 masks on the latent grid: background everywhere, each phrase on its region, padding nowhere.
    coverage = next(c for _, _, shape, c in seen if shape == stage_one)[2:]  # the conditional half
    first_maps = region_maps(output.layouts[0], LATENT_SIDE, ComposeConfig().region_inset)
    assert first_maps.shape == (2, LATENT_SIDE, LATENT_SIDE)
    assert (coverage[:, :phrase] == 1).all()
    for slot in range(2):
        tokens = coverage[0, (1 + slot) * phrase:(2 + slot) * phrase]
        assert torch.equal(tokens, first_maps[slot].expand_as(tokens))
    assert (coverage[0, 3 * phrase:] == 0).all(), "picture 0 has 2 objects: its third slot is seen nowhere"

    assert all(unet.attn_processors[name] is stock for name, stock in processors_before.items()), \
        "the UNet's own processors are back after the call"
    assert not any(isinstance(p, RegionAttnProcessor) for p in unet.attn_processors.values())


def test_bundle_dtype_changes_keep_every_method_running(model_folder):
    from compose.model.bundle import load_model
    from compose.pipeline import ComposePipeline
    from compose.sampling import generate_plain

    bundle = load_model(model_folder, dtype=torch.bfloat16)
    assert all(next(module.parameters()).dtype == torch.bfloat16 for module in bundle.modules())
    assert len(bundle.modules()) == 3, "the VAE moves with the UNet and the text encoder"
    plain = generate_plain(bundle, ["a red circle"], [0], steps=2)[0]
    composed = ComposePipeline.from_bundle(bundle).draw(prompt="a red circle above a blue square", seed=0, steps=2,
                                                   config=ComposeConfig(refine=True, refine_strength=0.5)).images[0]
    for image in (plain, composed):
        assert image.shape == (PICTURE_SIDE, PICTURE_SIDE, 3) and image.dtype == np.uint8
    bundle.to("cpu", torch.float32)
    assert bundle.dtype == torch.float32 and bundle.codec.vae.dtype == torch.float32
    assert bundle.text_encoder.dtype == torch.float32
    bundle.to("cpu")  # a device move alone keeps the dtype
    assert bundle.dtype == torch.float32


@pytest.mark.parametrize("method", ["plain", "compose"])
def test_cli_generate_with_a_stable_diffusion_folder_writes_a_png_and_its_record(model_folder, tmp_path, method):
    from PIL import Image

    from compose.cli import main

    picture = tmp_path / f"{method}.png"
    status = main(["generate", "a red circle to the left of a blue square", "--model", str(model_folder),
                   "--method", method, "--steps", "2", "--seed", "3", "-o", str(picture), "--quiet"])
    assert status == 0
    with Image.open(picture) as image:
        assert image.size == (PICTURE_SIDE, PICTURE_SIDE) and image.mode == "RGB"
    record = json.loads(picture.with_suffix(".json").read_text())
    assert record["method"] == method and record["seed"] == 3 and record["model"] == str(model_folder)
    assert record["size"] == [PICTURE_SIDE, PICTURE_SIDE]
    assert [group["noun"] for group in record["scene"]["objects"]] == ["circle", "square"]
    assert (record["layout"] is not None) == (method == "compose")


def test_a_stable_diffusion_pipeline_converts_in_one_line_sharing_its_parts(model_folder):
    from diffusers import StableDiffusionPipeline

    from compose.pipeline import ComposePipeline

    pipe = StableDiffusionPipeline.from_pretrained(model_folder, local_files_only=True)
    composed = ComposePipeline.from_pipe(pipe)
    assert composed.bundle.unet is pipe.unet and composed.bundle.codec.vae is pipe.vae, "shared, not copied"
    assert composed.bundle.text_encoder is pipe.text_encoder and composed.bundle.text_length == 77
    from_folder = ComposePipeline.from_pretrained(model_folder)
    first = composed.draw(prompt="a red circle above a blue square", seed=0, steps=2).images[0]
    second = from_folder.draw(prompt="a red circle above a blue square", seed=0, steps=2).images[0]
    assert np.abs(first.astype(int) - second.astype(int)).max() <= 1, "the same model either way"
    assert from_folder.to("cpu") is from_folder
    with pytest.raises(ValueError, match="no vae"):
        ComposePipeline.from_pipe(type("Pipe", (), {"unet": pipe.unet, "vae": None, "text_encoder": 1,
                                                    "tokenizer": 1, "scheduler": 1})())
