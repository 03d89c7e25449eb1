"""SDXL-class models: the compose method on a model with two text encoders, pooled embeddings and added
time ids, loaded from a StableDiffusionXLPipeline folder.

The model is tiny and random (tests/sd_components.py, build_tiny_sdxl), so these are checks of the
mechanism: every stage runs, region masks route attention at every cross-attention layer, attention
allowed everywhere reproduces diffusers' own StableDiffusionXLPipeline, and a batch draws what its items
draw alone.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import sd_components
from compose.config import ComposeConfig
from compose.pipeline import ComposePipeline
from compose.regions.attention import RegionAttnProcessor

PROMPT = "a red circle to the left of a blue square"
SIDE = sd_components.UNET_SAMPLE_SIZE * 2 ** (len(sd_components.VAE_BLOCKS) - 1)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return sd_components.save_tiny_sdxl(tmp_path_factory.mktemp("tiny-sdxl"), seed=0)


@pytest.fixture(scope="module")
def pipe(folder):
    pipe = ComposePipeline.from_pretrained(folder)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_an_sdxl_folder_loads_with_both_encoders(folder, pipe):
    from compose.model.bundle import XLUNet

    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionXLPipeline" and index["force_zeros_for_empty_prompt"] is True
    assert pipe.text_encoder_2 is not None and pipe.tokenizer_2 is not None
    bundle = pipe.bundle
    assert isinstance(bundle.unet, XLUNet) and bundle.unet.unet is pipe.unet
    assert bundle.zero_empty_negative and bundle.native_size == SIDE and bundle.text_length == 77
    tokens = bundle.encode(["a red circle", ""], bundle.phrase_length)
    assert tokens.shape == (2, bundle.phrase_length, 2 * sd_components.XL_TEXT_HIDDEN), "both encoders side by side"
    zeroed = bundle.encode(["a red circle", ""], bundle.phrase_length, negative=True)
    assert torch.equal(zeroed[0], tokens[0]) and not zeroed[1].any(), "an empty negative is zeros (SDXL's rule)"
    pooled = bundle.with_pooled(tokens, ["a red circle", ""])
    assert pooled.shape[1] == bundle.phrase_length + 1 and pooled[:, -1, sd_components.XL_POOLED:].eq(0).all()


def test_every_stage_runs_with_region_control_at_every_cross_attention_layer(pipe):
    unet = pipe.unet
    cross = {name: module for name, module in unet.named_modules() if name.endswith("attn2")}
    assert len(cross) >= 6
    seen = []

    def record(module, args, kwargs, name):
        control = kwargs.get("regions")
        context = kwargs.get("encoder_hidden_states")
        seen.append((name, type(module.processor), None if control is None else tuple(control.coverage.shape),
                     None if context is None else context.shape[1]))

    handles = [module.register_forward_pre_hook(lambda m, a, k, name=name: record(m, a, k, name), with_kwargs=True)
               for name, module in cross.items()]
    try:
        output = pipe.draw(prompt=[PROMPT, "three green triangles"], seed=[0, 1], steps=3,
                           config=ComposeConfig(refine=True, refine_strength=0.5))
    finally:
        for handle in handles:
            handle.remove()
    assert [image.shape for image in output.images] == [(SIDE, SIDE, 3)] * 2 and {"stage1", "stage2"} <= set(output.timings)
    assert {name for name, *_ in seen} == set(cross) and all(kind is RegionAttnProcessor for _, kind, _, _ in seen)
    phrase = pipe.bundle.phrase_length
    latent = sd_components.UNET_SAMPLE_SIZE
    stage_one = (4, (1 + 3) * phrase, latent, latent)
    stage_two = (10, 2 * phrase, latent, latent)
    shapes = [shape for _, _, shape, _ in seen]
    assert shapes.count(stage_one) == 3 * len(cross) and shapes.count(stage_two) == 2 * len(cross)
    assert all(shape[1] == tokens for _, _, shape, tokens in seen), "the pooled row never reaches attention"
    assert not any(isinstance(p, RegionAttnProcessor) for p in unet.attn_processors.values())


def test_attention_allowed_everywhere_reproduces_stable_diffusion_xl_pipeline(folder, pipe):
    from diffusers import StableDiffusionXLPipeline

    from compose.sampling import denoise, encode_prompts, guided_control, initial_noise, to_uint8

    bundle = pipe.bundle
    stock = StableDiffusionXLPipeline.from_pretrained(folder, local_files_only=True, add_watermarker=False)
    stock.scheduler = bundle.make_scheduler("ddim")
    stock.set_progress_bar_config(disable=True)
    expected = stock(PROMPT, num_inference_steps=3, guidance_scale=4.0, generator=torch.Generator().manual_seed(7),
                     output_type="np", height=SIDE, width=SIDE).images[0]

    scheduler = bundle.make_scheduler("ddim")
    scheduler.set_timesteps(3)
    with torch.no_grad():
        condition = encode_prompts(bundle, [PROMPT])
        uncondition = encode_prompts(bundle, [""], negative=True)
        side = sd_components.UNET_SAMPLE_SIZE
        everywhere = guided_control(torch.ones(1, bundle.text_length, side, side))
        latents = initial_noise(bundle, [torch.Generator().manual_seed(7)], SIDE) * scheduler.init_noise_sigma
        latents = denoise(bundle, scheduler, latents, condition, uncondition, 4.0, scheduler.timesteps, control=everywhere)
        ours = to_uint8(bundle.codec.decode(latents))[0]
    difference = np.abs(ours.astype(int) - np.round(expected * 255).astype(int))
    assert difference.max() <= 1, f"compose with every token allowed everywhere differs from the stock pipeline by {difference.max()}"


def test_a_batch_draws_what_its_items_draw_alone(pipe):
    config = ComposeConfig(refine=True, refine_strength=0.5)
    prompts, seeds = [PROMPT, "three green triangles"], [3, 4]
    batch = pipe.draw(prompt=prompts, seed=seeds, steps=3, config=config).images
    for prompt, seed, image in zip(prompts, seeds, batch):
        alone = pipe.draw(prompt=prompt, seed=seed, steps=3, config=config).images[0]
        assert np.abs(alone.astype(int) - image.astype(int)).max() <= 1


def test_diffusers_calls_from_pipe_and_save_pretrained(folder, pipe, tmp_path):
    from diffusers import StableDiffusionXLPipeline

    image = pipe(PROMPT, num_inference_steps=2, generator=torch.Generator().manual_seed(1)).images[0]
    assert image.size == (SIDE, SIDE)
    stock = StableDiffusionXLPipeline.from_pretrained(folder, local_files_only=True, add_watermarker=False)
    shared = ComposePipeline.from_pipe(stock)
    assert shared.unet is stock.unet and shared.text_encoder_2 is stock.text_encoder_2
    shared.set_progress_bar_config(disable=True)
    assert np.array_equal(np.asarray(shared(PROMPT, num_inference_steps=2, generator=torch.Generator().manual_seed(1)).images[0]),
                          np.asarray(image))
    pipe.save_pretrained(tmp_path / "saved")
    again = ComposePipeline.from_pretrained(tmp_path / "saved")
    assert again.text_encoder_2 is not None
    assert np.array_equal(again.draw(prompt=PROMPT, seed=1, steps=2).images[0], pipe.draw(prompt=PROMPT, seed=1, steps=2).images[0])


@pytest.mark.parametrize("method", ["plain", "compose-guided", "compose-bounded", "compose-lmd", "compose-regional"])
def test_every_method_runs_on_sdxl(folder, method):
    from compose.generate import Generator

    result = Generator(model=str(folder))(prompt=PROMPT, method=method, seed=0, steps=2)
    assert result.image.shape == (SIDE, SIDE, 3)
