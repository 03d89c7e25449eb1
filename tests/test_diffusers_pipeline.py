"""ComposePipeline as diffusers users hold it: a DiffusionPipeline with registered components, diffusers'
argument names, PIL images by default, and the same pictures as compose's own `draw` for the same seeds.

Models are tiny and random (tests/tiny_models.py, tests/sd_components.py): these are checks of the
interface, not of picture quality.
"""

from __future__ import annotations

import numpy as np
import pytest
import sd_components
import torch
from diffusers import DiffusionPipeline, StableDiffusionPipeline
from PIL import Image

from compose.config import ComposeConfig
from compose.model.bundle import PixelFoldCodec
from compose.pipeline import ComposePipeline

PROMPT = "a red circle to the left of a blue square"


@pytest.fixture(scope="module")
def bundled(tiny_model_folder):
    return ComposePipeline.from_pretrained(tiny_model_folder)


@pytest.fixture(scope="module")
def sd_folder(tmp_path_factory):
    return sd_components.save_tiny_stable_diffusion(tmp_path_factory.mktemp("tiny-sd"), seed=0)


def test_it_is_a_diffusion_pipeline_with_registered_components(bundled, sd_folder):
    assert isinstance(bundled, DiffusionPipeline)
    assert set(bundled.components) == {"unet", "vae", "text_encoder", "tokenizer", "scheduler", "text_encoder_2",
                                       "tokenizer_2"}
    assert bundled.text_encoder_2 is None and bundled.tokenizer_2 is None, "SDXL's second encoder: not an SD model's"
    assert isinstance(bundled.vae, PixelFoldCodec)
    sd = ComposePipeline.from_pretrained(sd_folder)
    assert type(sd.vae).__name__ == "AutoencoderKL"
    assert sd.bundle.codec.vae is sd.vae and sd.bundle.unet is sd.unet, "the bundle reads the components"
    assert sd.to("cpu", torch.float32) is sd and sd.device.type == "cpu" and sd.dtype == torch.float32


@pytest.mark.parametrize("which", ["bundled", "sd"])
def test_diffusers_style_calls_draw_what_draw_draws(which, bundled, sd_folder):
    pipe = bundled if which == "bundled" else ComposePipeline.from_pretrained(sd_folder)
    pipe.set_progress_bar_config(disable=True)
    ours = pipe.draw(prompt=PROMPT, seed=5, steps=3, guidance=4.0).images[0]
    theirs = pipe(PROMPT, num_inference_steps=3, guidance_scale=4.0, generator=torch.Generator().manual_seed(5))
    assert isinstance(theirs.images[0], Image.Image)
    assert np.array_equal(np.asarray(theirs.images[0]), ours)
    assert theirs.seeds == [5] and theirs.layouts[0].regions, "scenes, layouts and seeds ride along"
    as_array = pipe(PROMPT, num_inference_steps=3, generator=torch.Generator().manual_seed(5), output_type="np").images
    assert as_array.dtype == np.float32 and as_array.shape == (1, *ours.shape)
    assert np.array_equal(np.round(as_array[0] * 255).astype(np.uint8), ours)
    as_tensor = pipe(PROMPT, num_inference_steps=3, generator=torch.Generator().manual_seed(5), output_type="pt").images
    assert tuple(as_tensor.shape) == (1, 3, *ours.shape[:2]) and 0 <= float(as_tensor.min()) <= float(as_tensor.max()) <= 1
    latents = pipe(PROMPT, num_inference_steps=3, generator=torch.Generator().manual_seed(5), output_type="latent").images
    side = ours.shape[0] // pipe.bundle.codec.downscale
    assert tuple(latents.shape) == (1, pipe.bundle.codec.channels, side, side)
    (images,) = pipe(PROMPT, num_inference_steps=3, generator=torch.Generator().manual_seed(5), return_dict=False)
    assert np.array_equal(np.asarray(images[0]), ours)


def test_negative_prompt_sizes_batches_and_generators(bundled):
    bundled.set_progress_bar_config(disable=True)
    negated = bundled.draw(prompt=PROMPT, seed=2, steps=2, negative="green stars").images[0]
    assert np.array_equal(np.asarray(bundled(PROMPT, negative_prompt="green stars", num_inference_steps=2,
                                             generator=torch.Generator().manual_seed(2)).images[0]), negated)
    two = bundled([PROMPT, "three green triangles"], num_inference_steps=2, num_images_per_prompt=2,
                  generator=[torch.Generator().manual_seed(seed) for seed in (1, 2, 3, 4)])
    assert two.seeds == [1, 2, 3, 4] and len(two.images) == 4
    assert [region.phrase for region in two.layouts[2].regions] == ["a green triangle"] * 3
    side = bundled.config.native_size
    assert bundled(PROMPT, num_inference_steps=1, height=side, width=side).images[0].size == (side, side)
    unseeded = bundled(PROMPT, num_inference_steps=1)
    assert np.array_equal(np.asarray(unseeded.images[0]),
                          bundled.draw(prompt=PROMPT, seed=unseeded.seeds[0], steps=1).images[0]), "recorded seed redraws"


def test_step_end_callback_sees_stage_one_and_may_replace_latents(bundled):
    bundled.set_progress_bar_config(disable=True)
    seen = []

    def look(pipe, step, timestep, tensors):
        assert pipe is bundled
        seen.append((step, tuple(tensors["latents"].shape)))
        return tensors

    plain = bundled(PROMPT, num_inference_steps=3, generator=torch.Generator().manual_seed(0), callback_on_step_end=look,
                    config=ComposeConfig(refine=False))
    assert [step for step, _ in seen] == [0, 1, 2]
    zeroed = bundled(PROMPT, num_inference_steps=3, generator=torch.Generator().manual_seed(0),
                     callback_on_step_end=lambda pipe, step, t, tensors: {"latents": torch.zeros_like(tensors["latents"])},
                     config=ComposeConfig(refine=False))
    assert not np.array_equal(np.asarray(zeroed.images[0]), np.asarray(plain.images[0]))
    assert np.all(np.asarray(zeroed.images[0]) == np.asarray(zeroed.images[0])[0, 0]), "zero latents: one flat colour"


def test_the_progress_bar_follows_set_progress_bar_config(bundled, capsys):
    bundled.set_progress_bar_config(disable=False)
    bundled(PROMPT, num_inference_steps=2, generator=torch.Generator().manual_seed(0))
    assert "compose" in capsys.readouterr().err
    bundled.set_progress_bar_config(disable=True)
    bundled(PROMPT, num_inference_steps=2, generator=torch.Generator().manual_seed(0))
    assert "compose" not in capsys.readouterr().err


@pytest.mark.parametrize("arguments, message", [
    ({"seed": 3, "steps": 2}, "are draw"),
    ({"height": 32, "width": 64}, "square"),
    ({"output_type": "jpeg"}, "output_type"),
    ({"callback_on_step_end_tensor_inputs": ["prompt_embeds"]}, "can see only"),
    ({"generator": [torch.Generator(), torch.Generator()]}, "one per picture"),
    ({"num_images_per_prompt": 0}, "num_images_per_prompt"),
])
def test_wrong_diffusers_arguments_are_named(bundled, arguments, message):
    with pytest.raises((ValueError, TypeError), match=message):
        bundled(PROMPT, num_inference_steps=1, **arguments)


def test_save_pretrained_round_trips_both_kinds(bundled, sd_folder, tmp_path):
    bundled.set_progress_bar_config(disable=True)
    bundled.save_pretrained(tmp_path / "bundled")
    assert (tmp_path / "bundled" / "compose_model.json").is_file()
    again = ComposePipeline.from_pretrained(tmp_path / "bundled")
    first = bundled.draw(prompt=PROMPT, seed=1, steps=2).images[0]
    assert np.array_equal(again.draw(prompt=PROMPT, seed=1, steps=2).images[0], first)

    sd = ComposePipeline.from_pretrained(sd_folder, torch_dtype=torch.float32, safety_checker=None)
    sd.save_pretrained(tmp_path / "sd")
    assert (tmp_path / "sd" / "model_index.json").is_file() and (tmp_path / "sd" / "vae").is_dir()
    reloaded = ComposePipeline.from_pretrained(tmp_path / "sd")
    assert np.array_equal(reloaded.draw(prompt=PROMPT, seed=1, steps=2).images[0],
                          sd.draw(prompt=PROMPT, seed=1, steps=2).images[0])
    with pytest.raises(TypeError, match="device_map"):
        ComposePipeline.from_pretrained(sd_folder, device_map="auto")


def test_a_swapped_scheduler_is_the_one_every_stage_uses(sd_folder):
    from diffusers import EulerDiscreteScheduler

    pipe = ComposePipeline.from_pretrained(sd_folder)
    ddim = pipe.draw(prompt=PROMPT, seed=0, steps=3).images[0]
    pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)
    euler = pipe.draw(prompt=PROMPT, seed=0, steps=3).images[0]
    assert not np.array_equal(euler, ddim)
    assert np.array_equal(euler, ComposePipeline.from_pretrained(sd_folder, sampler="euler").draw(
        prompt=PROMPT, seed=0, steps=3).images[0])


def test_from_pipe_shares_a_stable_diffusion_pipelines_weights(sd_folder):
    pipe = StableDiffusionPipeline.from_pretrained(sd_folder, local_files_only=True, safety_checker=None)
    composed = ComposePipeline.from_pipe(pipe)
    assert composed.unet is pipe.unet and composed.vae is pipe.vae and composed.text_encoder is pipe.text_encoder
    composed.set_progress_bar_config(disable=True)
    assert composed(PROMPT, num_inference_steps=2).images[0].size == (composed.config.native_size,) * 2


def test_the_readme_diffusers_example_runs_as_written():
    """The README's three-line example for diffusers users, run as it is written there."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### As a diffusers pipeline", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    assert 'ComposePipeline.from_pretrained("bundled")' in code
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # our own README, not a user's file
    assert namespace["image"].size == (128, 128), "the bundled shapes-v3 draws 128 px pictures"
