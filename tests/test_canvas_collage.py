"""Drawing onto a known canvas, and the collage that stage 1 can start from (ComposeConfig.canvas,
ComposeConfig.collage): the mechanisms that let a model trained on whole captions only (shapes-sd)
compose, checked on a tiny random model: what is kept, what is pasted where, determinism, errors."""

from __future__ import annotations

import numpy as np
import pytest

from compose.config import ComposeConfig
from compose.pipeline import ComposePipeline, paste_cut_out
from compose.regions.masks import dilate, region_maps

WHITE = (255, 255, 255)
PROMPT = "a red circle to the left of a blue square"


@pytest.fixture(scope="module")
def pipeline(tiny_model_folder):
    return ComposePipeline.from_pretrained(tiny_model_folder)


def test_outside_every_region_the_picture_is_the_canvas(pipeline):
    config = ComposeConfig(canvas=WHITE)
    output = pipeline.draw(prompt=PROMPT, seed=3, steps=4, config=config)
    image = output.images[0]
    fold = pipeline.bundle.codec.downscale
    side = image.shape[0] // fold
    union = region_maps(output.layouts[0], side, config.region_inset).amax(dim=0, keepdim=True).clamp(0, 1)
    inside = dilate(union, config.refine_dilation)[0].numpy() > 0
    outside_pixels = ~np.kron(inside, np.ones((fold, fold), dtype=bool))
    assert outside_pixels.any() and (image[outside_pixels] == 255).all(), "the canvas is kept exactly"
    assert not np.array_equal(image, pipeline.draw(prompt=PROMPT, seed=3, steps=4).images[0])
    assert np.array_equal(image, pipeline.draw(prompt=PROMPT, seed=3, steps=4, config=config).images[0])


def test_a_cut_out_is_fitted_into_its_box_keeping_its_aspect():
    canvas = np.array(WHITE, dtype=np.uint8)
    drawn = np.full((40, 40, 3), 255, dtype=np.uint8)
    drawn[10:30, 5:15] = (200, 0, 0)  # a red bar 10 wide, 20 tall, anywhere in the picture
    drawn[38, 38] = (0, 0, 0)  # a speck far away: not part of the object
    picture = np.full((40, 40, 3), 255, dtype=np.uint8)
    assert paste_cut_out(picture, drawn, canvas, (0.5, 0.5, 1.0, 1.0))
    red = np.all(picture == (200, 0, 0), axis=-1)
    rows, columns = np.nonzero(red)
    assert (rows.min(), rows.max() + 1) == (20, 40), "scaled to the box's height"
    assert (columns.min(), columns.max() + 1) == (25, 35), "half as wide, centred in the box"
    assert not paste_cut_out(picture, np.full((40, 40, 3), 250, dtype=np.uint8), canvas, (0, 0, 1, 1)), \
        "nothing but canvas: nothing to cut"


def test_the_collage_runs_its_stages_and_is_deterministic(pipeline):
    config = ComposeConfig(canvas=WHITE, collage=True, collage_strength=0.5)
    steps = []
    output = pipeline.draw(prompt=[PROMPT, "three green triangles"], seed=[1, 2], steps=4, config=config,
                           callback=lambda stage, index, latents: steps.append(stage))
    assert {"collage", "stage1"} <= set(output.timings)
    assert steps == ["stage1"] * 2, "stage 1 runs the last half of the schedule only"
    one_step = pipeline.draw(prompt=PROMPT, seed=1, steps=1, config=ComposeConfig(canvas=WHITE, collage=True))
    assert one_step.images[0].shape == output.images[0].shape, "a schedule too short for 10% still redraws once"
    again = pipeline.draw(prompt=PROMPT, seed=1, steps=4, config=config)
    assert np.array_equal(again.images[0], output.images[0]), "the same picture alone and in a batch"


@pytest.mark.parametrize("config, message", [
    (dict(collage=True), "give canvas"),
    (dict(canvas=(255, 255)), "RGB colour"),
    (dict(canvas=(255, 255, 300)), "RGB colour"),
    (dict(canvas=WHITE, per_object_composition=0.4), "choose one"),
    (dict(canvas=WHITE, collage=True, collage_strength=0.0), "collage_strength"),
])
def test_wrong_canvas_settings_are_named(config, message):
    with pytest.raises(ValueError, match=message):
        ComposeConfig(**config).check()
