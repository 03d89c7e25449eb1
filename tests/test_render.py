"""The renderer draws the shapes world as compose/specs/shapes-world.md (spec v1) says: palette, geometry,
anti-aliasing, determinism."""

import numpy as np
import pytest

from compose.shapes import world
from compose.shapes.render import ShapeInstance, coverage_mask, render, shape_outline


def test_blank_canvas_is_white():
    image = render([], 64)
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    assert (image == 255).all()


@pytest.mark.parametrize("color", list(world.PALETTE))
def test_square_interior_is_the_exact_palette_colour(color):
    image = render([ShapeInstance("square", color, (0.25, 0.25, 0.75, 0.75))], 64)
    assert tuple(image[32, 32]) == world.PALETTE[color]
    assert tuple(image[5, 5]) == (255, 255, 255)


@pytest.mark.parametrize("shape,expected_fill", [
    ("square", 1.0), ("circle", np.pi / 4), ("triangle", 0.5), ("diamond", 0.5),
    # A five-pointed star of outer radius R and inner radius r: area = 5 R r sin(36 deg); box (2R)^2.
    ("star", 5 * 0.5 * 0.5 * world.STAR_INNER_RATIO * np.sin(np.radians(36))),
])
def test_shape_area_matches_its_geometry(shape, expected_fill):
    coverage, _ = coverage_mask(shape, (0.1, 0.1, 0.9, 0.9), 256)
    fill = coverage.sum() / (0.8 * 256) ** 2
    assert fill == pytest.approx(expected_fill, rel=0.02)


def test_triangle_apex_up_and_star_point_up():
    triangle = shape_outline("triangle", (0, 0, 1, 1))
    assert tuple(triangle[0]) == (0.5, 0)
    star = shape_outline("star", (0, 0, 1, 1))
    assert star[:, 1].argmin() == 0 and star[0, 0] == pytest.approx(0.5)


def test_edges_are_antialiased_tints_between_white_and_the_colour():
    image = render([ShapeInstance("circle", "blue", (0.2, 0.2, 0.8, 0.8))], 64).astype(int)
    blue = np.array(world.PALETTE["blue"])
    white = np.array([255, 255, 255])
    partial = [(y, x) for y in range(64) for x in range(64)
               if not ((image[y, x] == white).all() or (image[y, x] == blue).all())]
    assert partial, "an anti-aliased circle has edge pixels between white and its colour"
    for y, x in partial:  # each edge pixel lies on the segment from white to blue
        t = np.dot(image[y, x] - white, blue - white) / np.dot(blue - white, blue - white)
        assert np.abs(white + t * (blue - white) - image[y, x]).max() <= 1.0


def test_rendering_is_deterministic_and_later_objects_are_in_front():
    objects = [ShapeInstance("square", "red", (0.1, 0.1, 0.6, 0.6)),
               ShapeInstance("square", "green", (0.4, 0.4, 0.9, 0.9))]
    first, second = render(objects, 128), render(objects, 128)
    assert (first == second).all()
    assert tuple(first[64, 64]) == world.PALETTE["green"]


def test_unknown_shape_or_colour_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown shape 'hexagon'"):
        render([ShapeInstance("hexagon", "red", (0.1, 0.1, 0.5, 0.5))])
    with pytest.raises(ValueError, match="unknown colour 'pink'"):
        render([ShapeInstance("square", "pink", (0.1, 0.1, 0.5, 0.5))])
