"""Background phrases never wreck a bundled-model picture (compose issue 14, section 2).

The bundled model's world (the shapes world, spec v1) has one background, white, and its
compose_model.json says so ("world": {"backgrounds": 1}); the compose pipeline then leaves every
background phrase out (from the prompt, `background=`, a layout file, LMD's "Background prompt:"), with
a logged note, so the picture is the one drawn without it. A Stable Diffusion checkpoint declares no
world and is given the background as before.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sd_components sits beside this file

import sd_components  # noqa: E402
from compose.layout_files import parse_lmd_text  # noqa: E402
from compose.model.bundle import ModelBundle, load_model  # noqa: E402
from compose.pipeline import ComposePipeline  # noqa: E402

STEPS = 3  # enough to show whether the background text reaches the model; the pictures are compared exactly
LMD_LAYOUT = ("Objects: [('a red circle', [64, 192, 128, 128]), ('a blue square', [320, 192, 128, 128])]\n"
              "Background prompt: {background}\n")


def a_bundle(world):
    return ModelBundle(unet=None, text_encoder=None, tokenizer=None, scheduler_config={}, codec=None, name="test",
                       native_size=64, text_length=8, phrase_length=8, world=world)


def test_a_model_of_a_one_background_world_is_given_no_background_phrase(caplog):
    with caplog.at_level(logging.INFO, logger="compose.model.bundle"):
        assert a_bundle({"spec": "shapes world spec v1", "backgrounds": 1}).background_text("on a beach") == ""
    assert "background 'on a beach' left out" in caplog.text and "shapes world spec v1" in caplog.text
    assert a_bundle(None).background_text("on a beach") == "on a beach"
    assert a_bundle({"backgrounds": 3}).background_text("on a beach") == "on a beach"
    assert a_bundle({"backgrounds": 1}).background_text("") == ""


@pytest.fixture(scope="module")
def bundled_pipeline():
    bundle = load_model("bundled")
    assert bundle.world is not None and bundle.world["backgrounds"] == 1
    return ComposePipeline.from_bundle(bundle)


@pytest.mark.parametrize("plain, with_background", [
    ("a red circle to the left of a blue square", "a red circle to the left of a blue square on a beach"),
    ("two yellow stars", "two yellow stars in a futuristic office"),
])
def test_the_bundled_model_draws_the_same_picture_with_a_background_phrase_in_the_prompt(
        bundled_pipeline, plain, with_background):
    without = bundled_pipeline.draw(prompt=plain, seed=5, steps=STEPS)
    with_phrase = bundled_pipeline.draw(prompt=with_background, seed=5, steps=STEPS)
    assert with_phrase.scenes[0].background is not None
    assert np.array_equal(without.images[0], with_phrase.images[0])


def test_the_bundled_model_draws_the_same_picture_with_a_background_argument_or_lmd_background_line(
        bundled_pipeline):
    lmd = parse_lmd_text(LMD_LAYOUT.format(background="a plain white background"), source="lmd.txt")
    assert lmd.background == "a plain white background"
    bare = parse_lmd_text(LMD_LAYOUT.format(background=""), source="bare.txt")
    reference = bundled_pipeline.draw(layout=bare, seed=2, steps=STEPS, background="").images[0]
    assert np.array_equal(bundled_pipeline.draw(layout=lmd, seed=2, steps=STEPS).images[0], reference)
    assert np.array_equal(bundled_pipeline.draw(layout=bare, seed=2, steps=STEPS,
                                           background="a sunny meadow").images[0], reference)


@pytest.mark.parametrize("prompt, background", [
    ("a red circle on a beach", "on a beach"),
    ("a watercolor painting of a red circle on a beach", "on a beach, watercolor"),  # the style joins it
])
def test_a_stable_diffusion_checkpoint_is_given_the_background_and_style(tmp_path, monkeypatch, prompt, background):
    import compose.pipeline

    bundle = load_model(sd_components.save_tiny_stable_diffusion(tmp_path / "tiny-sd", seed=0))
    assert bundle.world is None
    seen = []
    original = compose.pipeline.encode_regions

    def recording(*args, **kwargs):
        seen.append(kwargs.get("background"))
        return original(*args, **kwargs)

    monkeypatch.setattr(compose.pipeline, "encode_regions", recording)
    ComposePipeline.from_bundle(bundle).draw(prompt=prompt, seed=0, steps=2)
    assert seen and set(seen) == {background}
