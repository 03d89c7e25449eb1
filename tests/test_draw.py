"""Tests for compose.draw: regions are filled, outlined and labelled in distinct colours, polygons keep
their shape, the background text sits in a corner, and pictures are saved whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from compose.draw import COLOR_WORDS, REGION_COLORS, draw_layout, region_colors, save_layout_image
from compose.layout_files import read_layout
from compose.scene import Layout, Region

LAYOUTS = Path(__file__).resolve().parent.parent / "compose" / "layout_files" / "examples"
WHITE = np.array([255, 255, 255])


def pixels(picture: Image.Image) -> np.ndarray:
    return np.asarray(picture.convert("RGB")).astype(int)


def tint_direction(rgb, color) -> float:
    """How far `rgb` has moved from white towards `color` (0 = white, 1 = the colour itself)."""
    towards = WHITE - np.array(color)
    return float(np.dot(WHITE - np.array(rgb), towards) / np.dot(towards, towards))


def distance(a, b) -> float:
    return float(np.linalg.norm(np.array(a, dtype=float) - np.array(b, dtype=float)))


def two_boxes() -> Layout:
    return Layout(regions=(Region("a red circle", (0.1, 0.3, 0.4, 0.7)),
                           Region("a blue square", (0.55, 0.25, 0.95, 0.75))))


def test_size_follows_argument_and_canvas_aspect():
    assert draw_layout(two_boxes()).size == (512, 512)
    assert draw_layout(two_boxes(), size=256).size == (256, 256)
    wide = Layout(regions=two_boxes().regions, canvas=(640, 480))
    assert draw_layout(wide, size=512).size == (512, 384)
    assert draw_layout(wide, size=(300, 200)).size == (300, 200)
    assert draw_layout(two_boxes()).mode == "RGB"


@pytest.mark.parametrize("size", [0, 10, 100000, 512.0, (512,), (512, "512"), True])
def test_bad_size_is_a_clear_value_error(size):
    with pytest.raises(ValueError, match="size"):
        draw_layout(two_boxes(), size=size)


def test_box_region_is_filled_translucently_and_outlined_in_its_colour():
    layout = two_boxes()
    red, blue = region_colors(layout)
    image = pixels(draw_layout(layout, size=400))
    # Inside each box, away from its label (top-left): a light tint of the region's colour.
    inside_red = image[round(0.65 * 400), round(0.35 * 400)]
    inside_blue = image[round(0.7 * 400), round(0.9 * 400)]
    assert 0.1 < tint_direction(inside_red, red) < 0.5
    assert 0.1 < tint_direction(inside_blue, blue) < 0.5
    assert distance(inside_red, inside_blue) > 30
    # On the box's edge: the colour itself, nearly opaque.
    left_edge = image[round(0.6 * 400), round(0.1 * 400)]
    assert distance(left_edge, red) < 60
    # Outside every region: white (or the faint grid).
    assert distance(image[20, 150], WHITE) < 30


def test_phrase_colour_word_is_used_and_colours_stay_distinct():
    layout = Layout(regions=(Region("a red circle", (0.1, 0.1, 0.2, 0.2)),
                             Region("a blue square", (0.3, 0.3, 0.4, 0.4)),
                             Region("another red circle", (0.5, 0.5, 0.6, 0.6)),
                             Region("a lamp", (0.7, 0.7, 0.8, 0.8))))
    colors = region_colors(layout)
    assert colors[0] == COLOR_WORDS["red"] and colors[1] == COLOR_WORDS["blue"]
    assert len(set(colors)) == 4  # the second red circle gets another colour


def test_sixteen_regions_get_sixteen_distinct_colours():
    layout = Layout(regions=tuple(Region(f"thing {index}", (0.01 * index, 0.0, 0.5, 0.5)) for index in range(16)))
    colors = region_colors(layout)
    assert len(set(colors)) == 16
    assert set(colors) == set(REGION_COLORS)


def test_polygon_region_keeps_its_shape():
    triangle = ((0.5, 0.1), (0.9, 0.9), (0.1, 0.9))
    layout = Layout(regions=(Region("a green triangle", (0.1, 0.1, 0.9, 0.9), polygons=(triangle,)),))
    color = region_colors(layout)[0]
    image = pixels(draw_layout(layout, size=400))
    inside = image[round(0.75 * 400), round(0.5 * 400)]
    outside_but_in_box = image[round(0.45 * 400), round(0.85 * 400)]  # right of the triangle's slope
    assert tint_direction(inside, color) > 0.1
    assert tint_direction(outside_but_in_box, color) < 0.05


def test_sketch_region_of_two_blobs_fills_both_and_not_the_gap():
    layout = read_layout(LAYOUTS / "office_sketch.json")
    plant_color = region_colors(layout)[2]
    image = pixels(draw_layout(layout, size=640))  # canvas 640 x 480: one drawn pixel per painted pixel
    leaves, pot, gap = image[215, 520], image[350, 520], image[285, 520]
    assert tint_direction(leaves, plant_color) > 0.1
    assert tint_direction(pot, plant_color) > 0.1
    assert tint_direction(gap, plant_color) < 0.05


def test_labels_are_written_near_the_top_left_of_their_region():
    layout = two_boxes()
    image = pixels(draw_layout(layout, size=400))
    red, blue = region_colors(layout)
    # The tag of region 1 sits inside the top-left corner of its box, in its colour, with light text.
    tag = image[round(0.3 * 400) + 3:round(0.3 * 400) + 20, round(0.1 * 400) + 3:round(0.1 * 400) + 80]
    near_tag_color = (np.linalg.norm(tag - np.array(red), axis=2) < 60).mean()
    light_text = (tag.min(axis=2) > 200).mean()
    assert near_tag_color > 0.4 and light_text > 0.05
    # Changing only the phrase changes the tag's pixels and nothing far from it.
    other = Layout(regions=(Region("a red cube", layout.regions[0].box), layout.regions[1]))
    changed = np.abs(pixels(draw_layout(other, size=400)) - image).sum(axis=2) > 0
    rows, columns = np.nonzero(changed)
    assert changed.any()
    assert rows.min() >= round(0.3 * 400) - 3 and rows.max() <= round(0.3 * 400) + 30
    assert columns.min() >= round(0.1 * 400) - 3 and columns.max() <= round(0.4 * 400)


def test_labels_of_regions_at_the_same_corner_do_not_cover_each_other():
    box = (0.3, 0.3, 0.7, 0.7)
    layout = Layout(regions=(Region("a red ball", box), Region("a blue ball", box)))
    red, blue = region_colors(layout)
    image = pixels(draw_layout(layout, size=400))
    band = image[round(0.3 * 400) - 30:round(0.3 * 400) + 30, round(0.3 * 400):round(0.7 * 400)]
    for color in (red, blue):
        assert (np.linalg.norm(band - np.array(color), axis=2) < 40).sum() > 200


def test_long_phrase_is_shortened_to_fit():
    def drawing(phrase: str) -> np.ndarray:
        return pixels(draw_layout(Layout(regions=(Region(phrase, (0.0, 0.0, 1.0, 1.0)),)), size=256))

    long_phrase = "a " + "very " * 60 + "long phrase"
    color = region_colors(Layout(regions=(Region(long_phrase, (0.0, 0.0, 1.0, 1.0)),)))[0]
    image = drawing(long_phrase)
    # The tag spans the picture's width (inside its margins) ...
    assert (np.linalg.norm(image[4] - np.array(color), axis=1) < 40).sum() > 230
    # ... and what lies past the cut does not show, while a change at the start does.
    assert np.array_equal(image, drawing(long_phrase.replace("phrase", "phrasing")))
    assert not np.array_equal(image, drawing(long_phrase.replace("a very", "one very", 1)))


def test_background_text_goes_in_the_bottom_left_corner():
    plain = two_boxes()
    with_background = Layout(regions=plain.regions, background="a futuristic office", negative="blurry")
    first = pixels(draw_layout(plain, size=400))
    second = pixels(draw_layout(with_background, size=400))
    changed = np.abs(first - second).sum(axis=2) > 0
    rows, columns = np.nonzero(changed)
    assert changed.any()
    assert rows.min() > 400 * 0.8 and columns.max() < 400 * 0.7  # only the bottom-left corner changed
    corner = second[rows.min():rows.max() + 1, columns.min():columns.max() + 1]
    assert (corner.max(axis=2) < 100).sum() > 50  # dark text


def test_background_text_moves_to_an_empty_corner():
    bottom_left = Layout(regions=(Region("a yellow duck", (0.0, 0.6, 0.4, 1.0)),))
    noted = Layout(regions=bottom_left.regions, background="a pond at dusk")
    changed = np.abs(pixels(draw_layout(bottom_left, size=400)) - pixels(draw_layout(noted, size=400))).sum(axis=2)
    rows, columns = np.nonzero(changed)
    assert rows.min() > 400 * 0.8 and columns.min() > 400 * 0.4  # bottom-right: it leaves the duck alone


def test_small_region_gets_its_label_outside():
    bee = Layout(regions=(Region("a tiny bee", (0.5, 0.5, 0.53, 0.53)),))
    color = region_colors(bee)[0]
    image = pixels(draw_layout(bee, size=400))
    above = image[round(0.5 * 400) - 20:round(0.5 * 400) - 2, 200:260]
    assert (np.linalg.norm(above - np.array(color), axis=2) < 40).mean() > 0.4
    inside = image[round(0.5 * 400) + 3:round(0.53 * 400) - 3, 203:209]
    assert np.median([tint_direction(rgb, color) for rgb in inside.reshape(-1, 3)]) < 0.5  # translucent fill


def test_save_layout_image_writes_a_readable_picture(tmp_path):
    layout = read_layout(LAYOUTS / "spec_polygon.json")
    path = tmp_path / "layout.png"
    save_layout_image(layout, path, size=300)
    with Image.open(path) as saved:
        assert saved.size == (300, 300)
        assert np.array_equal(pixels(saved), pixels(draw_layout(layout, size=300)))
    save_layout_image(layout, tmp_path / "layout.jpg")
    with Image.open(tmp_path / "layout.jpg") as saved:
        assert saved.format == "JPEG" and saved.size == (512, 512)
    assert sorted(child.name for child in tmp_path.iterdir()) == ["layout.jpg", "layout.png"]


def test_save_layout_image_refuses_bad_paths(tmp_path):
    with pytest.raises(ValueError, match="cannot save a layout picture as '.gif'"):
        save_layout_image(two_boxes(), tmp_path / "layout.gif")
    with pytest.raises(ValueError, match="does not exist"):
        save_layout_image(two_boxes(), tmp_path / "missing" / "layout.png")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["shapes_boxes.json", "shapes_boxes.yaml", "spec_polygon.json",
                                  "office_sketch.json", "shapes_sketch.yaml", "lmd_car_truck.txt"])
def test_every_example_draws_each_region_in_its_colour(name):
    layout = read_layout(LAYOUTS / name)
    image = pixels(draw_layout(layout, size=256))
    for region, color in zip(layout.regions, region_colors(layout)):
        mask = region.mask(image.shape[1], image.shape[0])
        assert (np.linalg.norm(image[mask] - np.array(color), axis=1) < 60).any(), region.phrase
        tinted = np.array([tint_direction(rgb, color) for rgb in image[mask][::7]])
        assert np.median(tinted) > 0.08, region.phrase
