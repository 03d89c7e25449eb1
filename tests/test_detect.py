"""Tests of the shapes-world detector (compose.shapes.detect) against the renderer's own pictures.

Scenes come from the seeded shapes-world data stream (compose.shapes.data.sample_at: 1 to 8 objects,
random shapes, colours and sides, placed by the world's rules); an image is read back exactly when the
detections have the same multiset of (shape, colour) as the scene and every box has IoU >= 0.8 with
its true box. benchmarks/detector_exactness.py runs the same checks over thousands of scenes.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from compose.shapes import world
from compose.shapes.data import DataMix, sample_at
from compose.shapes.detect import (
    COLOR_NAMES,
    check_image,
    classify_pixels,
    detect,
    detect_detailed,
    min_object_area,
    shape_geometry,
)
from compose.shapes.render import ShapeInstance, render
from compose.shapes.score import box_iou
from compose.shapes.score import read_back_exactly as exactly_read

THREE_OBJECTS = DataMix(object_count_weights=(0, 0, 1))


def read_back_exactly(truth: list[ShapeInstance], found: list[ShapeInstance]) -> bool:
    return exactly_read(truth, found)[0]


def soften(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gaussian blur sigma 0.6 px, then Gaussian noise sigma 8, clipped to 0..255."""
    blurred = cv2.GaussianBlur(image.astype(np.float32), (5, 5), 0.6)
    noisy = blurred + rng.normal(0.0, 8.0, size=image.shape)
    return np.clip(np.round(noisy), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("size, scenes", [(64, 300), (128, 200), (256, 100)])
def test_clean_renders_read_back_exactly(size, scenes):
    wrong = []
    for index in range(scenes):
        sample = sample_at(size, index, size=size)
        if not read_back_exactly(list(sample.instances), detect(sample.image)):
            wrong.append(index)
    assert wrong == [], f"{len(wrong)} of {scenes} scenes at {size} px misread: {wrong[:10]}"


def test_blurred_noisy_renders_read_back_at_least_97_percent():
    noise_rng = np.random.default_rng(7)
    scenes = 300
    exact = 0
    for index in range(scenes):
        sample = sample_at(7, index, size=64)
        exact += read_back_exactly(list(sample.instances), detect(soften(sample.image, noise_rng)))
    assert exact / scenes >= 0.97, f"only {exact} of {scenes} blurred, noisy scenes read back exactly"


@pytest.mark.parametrize("shape", world.SHAPES)
@pytest.mark.parametrize("color", COLOR_NAMES)
def test_each_shape_and_colour_alone(shape, color):
    truth = ShapeInstance(shape, color, (0.31, 0.27, 0.59, 0.55))
    found = detect(render([truth], 64))
    assert [(item.shape, item.color) for item in found] == [(shape, color)]
    assert box_iou(found[0].box, truth.box) >= 0.9


@pytest.mark.parametrize("shape", world.SHAPES)
@pytest.mark.parametrize("side", [world.ANY_SIZE_RANGE[0], world.ANY_SIZE_RANGE[1]])
@pytest.mark.parametrize("size", [64, 512])
def test_smallest_and_largest_sides_at_both_canvas_ends(shape, side, size):
    # In a corner, against the margin: the hardest place for the fringe and the box estimate.
    margin = world.CANVAS_MARGIN
    truth = ShapeInstance(shape, "orange", (1 - margin - side, margin, 1 - margin, margin + side))
    found = detect(render([truth], size))
    assert [(item.shape, item.color) for item in found] == [(shape, "orange")]
    assert box_iou(found[0].box, truth.box) >= 0.9


def test_boxes_are_accurate_on_clean_renders():
    # The area/centroid estimate is sub-pixel: at 256 px every box is within IoU 0.97 of the truth.
    for index in range(20):
        sample = sample_at(11, index, size=256, mix=THREE_OBJECTS)
        found = detect(sample.image)
        for item in sample.instances:
            best = max(box_iou(item.box, other.box) for other in found)
            assert best >= 0.97, (item, found)


def test_blank_and_speckled_images_hold_no_objects():
    blank = np.full((64, 64, 3), 255, dtype=np.uint8)
    assert detect(blank) == []
    noisy = np.clip(255 + np.random.default_rng(0).normal(0, 8, blank.shape), 0, 255).astype(np.uint8)
    assert detect(noisy) == []
    # A shape below world.MIN_DETECTABLE_SIDE is a speck, not an object.
    speck = render([ShapeInstance("square", "blue", (0.5, 0.5, 0.56, 0.56))], 64)
    assert detect(speck) == []


def test_star_just_above_the_detectable_side_is_found():
    side = world.MIN_DETECTABLE_SIDE + 0.02
    found = detect(render([ShapeInstance("star", "green", (0.4, 0.4, 0.4 + side, 0.4 + side))], 64))
    assert [(item.shape, item.color) for item in found] == [("star", "green")]


def test_min_object_area_is_a_star_of_the_smallest_detectable_side():
    star_area = shape_geometry("star").area_factor
    assert math.isclose(min_object_area(100), star_area * (world.MIN_DETECTABLE_SIDE * 100) ** 2)
    assert min_object_area(64) < shape_geometry("triangle").area_factor * (0.12 * 64) ** 2


def test_shape_geometry_matches_known_figures():
    assert math.isclose(shape_geometry("square").area_factor, 1.0)
    assert math.isclose(shape_geometry("triangle").area_factor, 0.5)
    assert math.isclose(shape_geometry("diamond").area_factor, 0.5)
    # Triangle: centroid two thirds down from the apex, i.e. s/6 below the box centre.
    assert math.isclose(shape_geometry("triangle").centroid_dy, 1 / 6)
    assert math.isclose(shape_geometry("circle").area_factor, math.pi / 4, rel_tol=1e-3)
    inner = world.STAR_INNER_RATIO * 0.5
    assert math.isclose(shape_geometry("star").area_factor, 5 * 0.5 * inner * math.sin(math.pi / 5))
    assert abs(shape_geometry("star").centroid_dy) < 1e-9  # five-fold symmetry


def test_objects_sorted_top_to_bottom_then_left_to_right():
    objects = [
        ShapeInstance("circle", "red", (0.60, 0.60, 0.80, 0.80)),
        ShapeInstance("square", "blue", (0.60, 0.10, 0.80, 0.30)),
        ShapeInstance("triangle", "green", (0.10, 0.10, 0.30, 0.30)),
        ShapeInstance("diamond", "yellow", (0.10, 0.60, 0.30, 0.80)),
    ]
    found = detect(render(objects, 128))
    assert [item.shape for item in found] == ["triangle", "square", "diamond", "circle"]


def test_pixel_classes_follow_the_spec_rule():
    colours = [world.PALETTE[name] for name in COLOR_NAMES]
    white = np.array(world.BACKGROUND_RGB, dtype=np.float64)
    rows = []
    for colour in colours:
        colour = np.array(colour, dtype=np.float64)
        # Full colour, 60% and 40% of the way from white: foreground, foreground, background.
        rows.append([colour, white + 0.6 * (colour - white), white + 0.4 * (colour - white), white])
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    image[:] = 255
    image[:len(colours), :4] = np.round(np.array(rows)).astype(np.uint8)
    pixels = classify_pixels(image)
    for number in range(len(colours)):
        assert list(pixels.color_index[number, :4]) == [number, number, -1, -1]
    assert math.isclose(float(pixels.projections[0, 1, 0]), 0.6, abs_tol=0.01)
    assert not pixels.foreground[len(colours):].any()


def test_detailed_reading_reports_fit_and_softness():
    truth = [ShapeInstance("triangle", "purple", (0.2, 0.2, 0.5, 0.5))]
    clean = detect_detailed(render(truth, 64))
    assert clean.fit_errors[0] < 0.05 and clean.softness[0] == 0.0
    assert math.isclose(clean.areas[0], 0.5 * (0.3 * 64) ** 2, rel_tol=0.05)
    blurred = cv2.GaussianBlur(render(truth, 64), (0, 0), 1.0)
    assert detect_detailed(blurred).softness[0] > 0.0
    # A blob that is no shape of the world still reads as one object, with a poor fit.
    ellipse = np.full((64, 64, 3), 255, dtype=np.uint8)
    cv2.ellipse(ellipse, (32, 32), (16, 6), 0, 0, 360, world.PALETTE["red"], -1)
    assert detect_detailed(ellipse).fit_errors[0] > 0.3


@pytest.mark.parametrize("image, words", [
    (np.zeros((64, 64, 4), dtype=np.uint8), "RGB"),
    (np.zeros((64, 64, 3), dtype=np.float32), "uint8"),
    (np.zeros((64, 80, 3), dtype=np.uint8), "square"),
    (np.zeros((32, 32, 3), dtype=np.uint8), "64..512"),
    (np.zeros((1024, 1024, 3), dtype=np.uint8), "64..512"),
    ([[0, 0, 0]], "numpy array"),
])
def test_bad_images_are_refused_with_a_clear_error(image, words):
    with pytest.raises(ValueError, match=words):
        check_image(image)
    with pytest.raises(ValueError, match=words):
        detect(image)


def test_an_object_shaded_with_a_neighbouring_hue_reads_as_one_object_of_its_main_colour():
    """Generated yellow stars often have an orange flank: a person sees one yellow star, and so must the
    checker, or repair would "fix" a right picture. Measured on 627 benchmark pictures (1 seed, all
    categories): 8 verdicts turned from wrong to right, each a picture a person reads as right."""
    star = render([ShapeInstance("star", "yellow", (0.3, 0.3, 0.7, 0.7))], 64)
    shaded = star.copy()
    inside = (shaded != 255).any(axis=-1)
    flank = np.zeros_like(inside)
    flank[:, 40:] = True
    shaded[inside & flank] = world.PALETTE["orange"]  # about a fifth of the star
    found = detect(shaded)
    assert [(item.shape, item.color) for item in found] == [("star", "yellow")]

    touching = render([ShapeInstance("star", "yellow", (0.1, 0.3, 0.5, 0.7)),
                       ShapeInstance("square", "blue", (0.5, 0.35, 0.8, 0.65))], 64)
    assert sorted((item.shape, item.color) for item in detect(touching)) == [("square", "blue"), ("star", "yellow")]
    beside = render([ShapeInstance("square", "yellow", (0.2, 0.2, 0.6, 0.6)),
                     ShapeInstance("circle", "orange", (0.6, 0.3, 0.75, 0.45))], 64)  # touching, a layout may ask it
    assert sorted((item.shape, item.color) for item in detect(beside)) == [("circle", "orange"), ("square", "yellow")]
    pair = render([ShapeInstance("square", "yellow", (0.1, 0.3, 0.45, 0.65)),
                   ShapeInstance("square", "orange", (0.45, 0.3, 0.8, 0.65))], 64)
    assert sorted(item.color for item in detect(pair)) == ["orange", "yellow"], "two halves are two objects"
