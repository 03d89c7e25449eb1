"""Tests for compose.layout_files: every reader, the writer's round trip, and one test per error rule
of compose/specs/layout-files.md. Pictures here are small (<= 256 px) so the file runs in seconds."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from compose.layout_files import (
    LAYOUT_FORMAT,
    MAX_OBJECTS,
    SKETCH_FORMAT,
    LayoutFileError,
    layout_from_dict,
    layout_to_dict,
    layout_to_text,
    parse_lmd_text,
    read_layout,
    trace_painted_colors,
    write_layout,
)
from compose.scene import Layout, Region

LAYOUTS = Path(__file__).resolve().parent.parent / "compose" / "layout_files" / "examples"
EXAMPLES = ["shapes_boxes.json", "shapes_boxes.yaml", "spec_polygon.json", "office_sketch.json",
            "shapes_sketch.yaml", "lmd_car_truck.txt"]


# ---------------------------------------------------------------------------------------------------
# helpers


def write_text(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def write_json(folder: Path, name: str, data) -> Path:
    return write_text(folder, name, json.dumps(data))


def box_layout(**changes) -> dict:
    data = {"format": LAYOUT_FORMAT, "objects": [
        {"phrase": "a red circle", "box": [0.1, 0.35, 0.4, 0.65]},
        {"phrase": "a blue square", "box": [0.55, 0.3, 0.95, 0.7]},
    ]}
    data.update(changes)
    return data


def expect_error(path: Path, field: str, *rule_words: str) -> LayoutFileError:  # noqa: D401
    """Read `path`, expect a LayoutFileError naming the file and `field`, with `rule_words` in the rule."""
    with pytest.raises(LayoutFileError) as caught:
        read_layout(path)
    error = caught.value
    message = str(error)
    assert isinstance(error, ValueError)
    assert "\n" not in message, message
    assert message.startswith(str(path) + ": "), message
    assert field in error.field, message
    for word in rule_words:
        assert word in error.rule, message
    return error


def paint(side: int, blobs: list[tuple[str, tuple[int, int, int], tuple]], background=(255, 255, 255)):
    """An RGB picture with anti-aliased blobs: ("circle", rgb, (cx, cy, r)) or ("rect", rgb, (x0, y0, x1, y1))."""
    picture = np.zeros((side, side, 3), dtype=np.uint8)
    picture[:] = background
    for kind, rgb, geometry in blobs:
        if kind == "circle":
            cx, cy, radius = geometry
            cv2.circle(picture, (cx, cy), radius, rgb, -1, cv2.LINE_AA)
        else:
            x0, y0, x1, y1 = geometry
            points = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.int32)
            cv2.fillPoly(picture, [points], rgb, lineType=cv2.LINE_AA)
    return picture


def save_picture(path: Path, rgb_picture: np.ndarray, jpeg_quality: int | None = None) -> Path:
    bgr = np.ascontiguousarray(rgb_picture[:, :, ::-1])
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if jpeg_quality is not None else []
    assert cv2.imwrite(str(path), bgr, params)
    return path


def sketch(folder: Path, rgb: np.ndarray, legend: dict, picture_name: str = "sketch.png",
           jpeg_quality: int | None = None, **extra) -> Path:
    save_picture(folder / picture_name, rgb, jpeg_quality)
    data = {"format": SKETCH_FORMAT, "image": picture_name, "legend": legend, **extra}
    return write_json(folder, "sketch.json", data)


def assert_same_layout(first: Layout, second: Layout, tolerance: float = 1e-9) -> None:
    assert (first.prompt, first.background, first.negative, first.canvas) == (
        second.prompt, second.background, second.negative, second.canvas)
    assert len(first.regions) == len(second.regions)
    for a, b in zip(first.regions, second.regions):
        assert a.phrase == b.phrase
        assert a.box == pytest.approx(b.box, abs=tolerance)
        assert len(a.polygons) == len(b.polygons)
        for pa, pb in zip(a.polygons, b.polygons):
            assert np.allclose(np.array(pa), np.array(pb), atol=tolerance, rtol=0)


# ---------------------------------------------------------------------------------------------------
# the example files


def test_example_box_layout_json():
    layout = read_layout(LAYOUTS / "shapes_boxes.json")
    assert [region.phrase for region in layout.regions] == ["a red circle", "a blue square"]
    assert layout.regions[0].box == (0.10, 0.35, 0.40, 0.65)
    assert layout.regions[1].box == (0.55, 0.33, 0.89, 0.67)
    assert layout.prompt == "a red circle to the left of a blue square"
    assert all(region.polygons == () and region.group is None and region.instance == 0
               for region in layout.regions)


def test_example_box_layout_yaml():
    layout = read_layout(LAYOUTS / "shapes_boxes.yaml")
    assert layout.canvas == (64, 64)
    assert [region.phrase for region in layout.regions] == [
        "a small yellow triangle", "a large green star", "a purple diamond"]
    assert layout.regions[2].box == (0.62, 0.36, 0.90, 0.64)


def test_example_polygon_layout_is_the_spec_example():
    layout = read_layout(LAYOUTS / "spec_polygon.json")
    star = layout.regions[2]
    assert star.polygons == (((0.5, 0.05), (0.6, 0.25), (0.4, 0.25)),)
    assert star.box == (0.4, 0.05, 0.6, 0.25)  # the polygon's bounding box
    assert (layout.background, layout.negative, layout.canvas) == ("a futuristic office", "blurry", (512, 512))


def test_example_lmd_text():
    layout = read_layout(LAYOUTS / "lmd_car_truck.txt")
    assert [region.phrase for region in layout.regions] == [
        "a green car", "a blue truck", "a red air balloon", "a bird"]
    x, y, w, h = 21, 281, 211, 159
    assert layout.regions[0].box == pytest.approx((x / 512, y / 512, (x + w) / 512, (y + h) / 512), abs=1e-12)
    assert layout.background == "A realistic landscape scene"
    assert layout.negative is None  # "Negative prompt: " with nothing after it
    assert layout.prompt.startswith("A realistic image of landscape scene")


def test_example_office_sketch_keeps_painted_shapes_and_joins_blobs_of_one_colour():
    layout = read_layout(LAYOUTS / "office_sketch.json")
    assert [region.phrase for region in layout.regions] == [
        "a red armchair", "a small wooden desk", "a tall plant in a pot"]
    armchair, desk, plant = layout.regions
    assert len(plant.polygons) == 2  # leaves and pot: two blobs, one object
    assert len(armchair.polygons) == 1 and len(desk.polygons) == 1
    # The plant's box spans both blobs: the leaves (top ~ y 50 px) to the pot (bottom ~ y 400 px) of 480.
    assert plant.box[1] < 60 / 480 and plant.box[3] > 395 / 480
    # Each region's mask matches the painted pixels of its colour.
    bgr = cv2.imread(str(LAYOUTS / "office_sketch.png"))
    picture = bgr[:, :, ::-1].astype(int)
    height, width = picture.shape[:2]
    for region, rgb in zip(layout.regions, [(255, 0, 0), (255, 140, 0), (0, 0, 255)]):
        painted = np.sqrt(((picture - np.array(rgb)) ** 2).sum(axis=2)) < 100
        mask = region.mask(width, height)
        iou = (painted & mask).sum() / (painted | mask).sum()
        assert iou > 0.95, (region.phrase, iou)


def test_example_jpeg_sketch_copes_with_compression():
    layout = read_layout(LAYOUTS / "shapes_sketch.yaml")
    assert [region.phrase for region in layout.regions] == ["a red circle", "a blue square", "a green star"]
    circle, square, star = layout.regions
    pixel = 1 / 256
    # Painted by compose/layout_files/examples/make_sketches.py: circle centre (60, 170) radius 38, square (150, 132)-(226, 208).
    assert circle.box == pytest.approx(((60 - 38) / 256, (170 - 38) / 256, (60 + 38) / 256, (170 + 38) / 256),
                                       abs=2.5 * pixel)
    assert square.box == pytest.approx((150 / 256, 132 / 256, 226 / 256, 208 / 256), abs=2.5 * pixel)
    assert all(len(region.polygons) == 1 for region in layout.regions)
    assert star.center == pytest.approx((128 / 256, 58 / 256), abs=6 * pixel)


@pytest.mark.parametrize("name", EXAMPLES)
@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_every_example_round_trips_exactly(name, suffix, tmp_path):
    layout = read_layout(LAYOUTS / name)
    written = tmp_path / f"copy{suffix}"
    write_layout(layout, written)
    again = read_layout(written)
    assert again.regions == layout.regions
    assert_same_layout(layout, again, tolerance=0.0)


def test_make_sketches_script_paints_what_the_examples_hold():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_sketches", LAYOUTS / "make_sketches.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    painted = module.paint_office()
    stored = cv2.imread(str(LAYOUTS / "office_sketch.png"))
    assert painted.shape == stored.shape and np.array_equal(painted, stored)


# ---------------------------------------------------------------------------------------------------
# compose.layout/v1 reading and writing


def test_yaml_and_json_of_the_same_layout_agree(tmp_path):
    data = box_layout(background="a park", canvas=[640, 480])
    from_json = read_layout(write_json(tmp_path, "a.json", data))
    import yaml

    from_yaml = read_layout(write_text(tmp_path, "a.yml", yaml.safe_dump(data)))
    assert from_json == from_yaml
    assert from_json.canvas == (640, 480)


def test_polygons_extension_key_reads_and_writes(tmp_path):
    first = [[0.1, 0.1], [0.3, 0.1], [0.2, 0.3]]
    second = [[0.6, 0.6], [0.9, 0.6], [0.9, 0.9], [0.6, 0.9]]
    data = {"format": LAYOUT_FORMAT, "objects": [{"phrase": "a tall plant", "polygons": [first, second]}]}
    layout = read_layout(write_json(tmp_path, "p.json", data))
    region = layout.regions[0]
    assert len(region.polygons) == 2
    assert region.box == (0.1, 0.1, 0.9, 0.9)
    written = tmp_path / "out.json"
    write_layout(layout, written)
    stored = json.loads(written.read_text())
    assert list(stored["objects"][0]) == ["phrase", "polygons"]
    assert read_layout(written) == layout


def test_written_json_uses_one_region_key_and_spec_order(tmp_path):
    layout = Layout(
        regions=(Region("a red circle", (0.1, 0.2, 0.3, 0.4), group=0, instance=0),
                 Region("a star", (0.4, 0.05, 0.6, 0.25), polygons=(((0.5, 0.05), (0.6, 0.25), (0.4, 0.25)),))),
        prompt="p", background="b", negative="n", canvas=(512, 256))
    data = layout_to_dict(layout)
    assert list(data) == ["format", "prompt", "background", "negative", "canvas", "objects"]
    assert data["objects"][0] == {"phrase": "a red circle", "box": [0.1, 0.2, 0.3, 0.4]}
    assert data["objects"][1] == {"phrase": "a star", "polygon": [[0.5, 0.05], [0.6, 0.25], [0.4, 0.25]]}
    text = layout_to_text(layout, "json")
    assert json.loads(text) == data
    with pytest.raises(ValueError, match="'json' or 'yaml'"):
        layout_to_text(layout, "xml")
    assert len(text.splitlines()) == 11  # {, 5 keys, objects [, 2 objects, ], }


def test_planned_layout_round_trips_within_float_precision(tmp_path):
    noisy = 0.1 + 0.2  # 0.30000000000000004
    layout = Layout(regions=(Region("a red circle", (noisy, 0.1, 0.7, 0.9), group=2, instance=1),))
    for name in ("planned.json", "planned.yaml"):
        write_layout(layout, tmp_path / name)
        again = read_layout(tmp_path / name)
        assert again.regions[0].box == pytest.approx(layout.regions[0].box, abs=1e-9)
        assert again.regions[0].group is None and again.regions[0].instance == 0
    assert "0.30000000000000004" not in (tmp_path / "planned.json").read_text()


def test_writing_a_layout_that_breaks_the_spec_fails_and_leaves_no_file(tmp_path):
    bad_box = Layout(regions=(Region("a red circle", (0.7, 0.1, 0.4, 0.9)),))
    with pytest.raises(ValueError, match=r"objects\[0\]\.box: x0 \(0\.7\) must be less than x1"):
        write_layout(bad_box, tmp_path / "bad.json")
    too_many = Layout(regions=tuple(Region(f"thing {i}", (0.1, 0.1, 0.2, 0.2)) for i in range(MAX_OBJECTS + 1)))
    with pytest.raises(ValueError, match="at most 16"):
        write_layout(too_many, tmp_path / "many.yaml")
    assert list(tmp_path.iterdir()) == []


def test_write_refuses_unknown_extension_and_missing_folder(tmp_path):
    layout = read_layout(LAYOUTS / "shapes_boxes.json")
    with pytest.raises(LayoutFileError, match="use .json, .yaml or .yml"):
        write_layout(layout, tmp_path / "layout.txt")
    with pytest.raises(LayoutFileError, match="does not exist"):
        write_layout(layout, tmp_path / "nowhere" / "layout.json")
    assert list(tmp_path.iterdir()) == []


def test_write_replaces_an_existing_file_whole(tmp_path):
    path = tmp_path / "layout.json"
    path.write_text("x" * 10000)
    write_layout(read_layout(LAYOUTS / "shapes_boxes.json"), path)
    assert json.loads(path.read_text())["format"] == LAYOUT_FORMAT
    assert [child.name for child in tmp_path.iterdir()] == ["layout.json"]


def test_layout_from_dict_reads_a_sketch_relative_to_base_dir(tmp_path):
    picture = paint(64, [("rect", (255, 0, 0), (10, 10, 40, 40))])
    save_picture(tmp_path / "p.png", picture)
    data = {"format": SKETCH_FORMAT, "image": "p.png", "legend": {"#f00": "a red box"}}
    layout = layout_from_dict(data, source="memory", base_dir=tmp_path)
    assert layout.regions[0].phrase == "a red box"
    assert layout.regions[0].box == pytest.approx((10 / 64, 10 / 64, 40 / 64, 40 / 64), abs=1.01 / 64)


def test_closed_ring_with_repeated_first_point_is_accepted(tmp_path):
    ring = [[0.1, 0.1], [0.5, 0.1], [0.3, 0.5], [0.1, 0.1]]
    data = {"format": LAYOUT_FORMAT, "objects": [{"phrase": "a triangle", "polygon": ring}]}
    layout = read_layout(write_json(tmp_path, "ring.json", data))
    assert len(layout.regions[0].polygons[0]) == 3


# ---------------------------------------------------------------------------------------------------
# compose.sketch/v1 reading


def test_sketch_colour_in_several_blobs_is_one_object(tmp_path):
    picture = paint(128, [("circle", (0, 0, 255), (30, 30, 15)), ("circle", (0, 0, 255), (95, 90, 20)),
                          ("rect", (255, 0, 0), (70, 10, 110, 40))])
    layout = read_layout(sketch(tmp_path, picture, {"#0000ff": "a tall plant", "#ff0000": "a red armchair"}))
    plant, armchair = layout.regions
    assert len(plant.polygons) == 2 and len(armchair.polygons) == 1
    assert plant.box == pytest.approx((15 / 128, 15 / 128, 115 / 128, 110 / 128), abs=1.5 / 128)
    # The largest blob comes first.
    first, second = (np.array(polygon) for polygon in plant.polygons)
    assert first[:, 0].mean() > 0.5 and second[:, 0].mean() < 0.5


@pytest.mark.parametrize("quality", [30, 60, 90])
def test_sketch_tolerates_anti_aliasing_and_jpeg(tmp_path, quality):
    picture = paint(200, [("circle", (220, 30, 30), (50, 60, 30)), ("rect", (30, 70, 220), (110, 100, 180, 170)),
                          ("circle", (30, 160, 60), (150, 40, 22))])
    legend = {"#dc1e1e": "a red circle", "#1e46dc": "a blue square", "#1ea03c": "a green circle"}
    layout = read_layout(sketch(tmp_path, picture, legend, "s.jpg", jpeg_quality=quality))
    circle, square, green = layout.regions
    pixel = 1 / 200
    assert circle.box == pytest.approx((20 / 200, 30 / 200, 80 / 200, 90 / 200), abs=2.5 * pixel)
    assert square.box == pytest.approx((110 / 200, 100 / 200, 180 / 200, 170 / 200), abs=2.5 * pixel)
    assert green.center == pytest.approx((150 / 200, 40 / 200), abs=2 * pixel)
    assert all(len(region.polygons) == 1 for region in layout.regions)  # no speckle blobs
    # The circle's traced area matches a disc of radius 30.
    area = circle.mask(200, 200).sum()
    assert area == pytest.approx(math.pi * 30 ** 2, rel=0.08)


def test_sketch_polygons_are_simple_with_real_area(tmp_path):
    from shapely.geometry import Polygon as ShapelyPolygon

    # A ring-like blob pinched at one pixel and a thin bar: shapes whose raw contours touch themselves.
    picture = np.full((96, 96, 3), 255, dtype=np.uint8)
    picture[10:30, 10:30] = (255, 0, 0)
    picture[30:50, 30:50] = (255, 0, 0)  # touches the first square only at a corner
    picture[60:64, 5:90] = (255, 0, 0)
    layout = read_layout(sketch(tmp_path, picture, {"#ff0000": "a red thing"}))
    for polygon in layout.regions[0].polygons:
        shape = ShapelyPolygon(polygon)
        assert len(polygon) >= 3 and shape.is_valid and shape.area > 0
    mask = layout.regions[0].mask(96, 96)
    painted = (picture == (255, 0, 0)).all(axis=2)
    assert (mask & painted).sum() / (mask | painted).sum() > 0.9


def test_sketch_with_transparent_background_reads_as_white(tmp_path):
    picture = np.zeros((64, 64, 4), dtype=np.uint8)  # fully transparent black
    picture[20:44, 8:30] = (0, 0, 255, 255)  # BGRA: opaque red
    cv2.imwrite(str(tmp_path / "alpha.png"), picture)
    data = {"format": SKETCH_FORMAT, "image": "alpha.png", "legend": {"#ff0000": "a red box"}}
    layout = read_layout(write_json(tmp_path, "alpha.json", data))
    assert layout.regions[0].box == pytest.approx((8 / 64, 20 / 64, 29 / 64, 43 / 64), abs=1e-6)


def test_colour_tolerance_decides_how_far_paint_may_stray(tmp_path):
    picture = paint(100, [("rect", (200, 0, 0), (10, 10, 60, 60))])  # 55 from pure red
    path = sketch(tmp_path, picture, {"#ff0000": "a red box"})
    assert read_layout(path).regions[0].box == pytest.approx((0.1, 0.1, 0.6, 0.6), abs=0.011)
    with pytest.raises(LayoutFileError, match="not painted in sketch.png .no area within colour distance 40"):
        read_layout(path, color_tolerance=40)


def test_small_specks_of_unlisted_paint_are_ignored(tmp_path):
    picture = paint(200, [("rect", (255, 0, 0), (20, 20, 100, 100)), ("rect", (0, 160, 0), (150, 150, 159, 159))])
    layout = read_layout(sketch(tmp_path, picture, {"#ff0000": "a red box"}))  # green: 81 px = 0.2%
    assert len(layout.regions) == 1


def test_trace_painted_colors_reports_the_unlisted_colour():
    picture = paint(100, [("rect", (255, 0, 0), (5, 5, 40, 40)), ("rect", (0, 160, 0), (60, 60, 90, 95))])
    outlines, unlisted = trace_painted_colors(picture, [(255, 0, 0)])
    assert len(outlines) == 1 and len(outlines[0]) == 1
    rgb, fraction, box = unlisted
    assert math.dist(rgb, (0, 160, 0)) < 10
    assert fraction == pytest.approx(31 * 36 / 100 ** 2, rel=0.2)
    assert box == pytest.approx((0.6, 0.6, 0.91, 0.96), abs=0.02)


# ---------------------------------------------------------------------------------------------------
# LMD-style text


def test_lmd_text_with_escapes_quotes_floats_and_several_lines():
    text = (
        "Caption: two things\n"
        "Objects: [(\"a man's hat\", [0, 0, 256, 256.0]),\n"
        "          ('a \\'quoted\\' word', [256, 256, 128, 1.28e2],),\n"
        "]\n"
        "\n"
        "Background prompt: a plain wall\n"
    )
    layout = parse_lmd_text(text, source="t.txt")
    assert [region.phrase for region in layout.regions] == ["a man's hat", "a 'quoted' word"]
    assert layout.regions[0].box == (0.0, 0.0, 0.5, 0.5)
    assert layout.regions[1].box == (0.5, 0.5, 0.75, 0.75)
    assert layout.background == "a plain wall" and layout.prompt == "two things"


def test_lmd_text_never_runs_code(tmp_path):
    marker = tmp_path / "ran"
    text = f"Objects: [(__import__('pathlib').Path({str(marker)!r}).touch(), [0, 0, 10, 10])]\n"
    path = write_text(tmp_path, "evil.txt", text)
    expect_error(path, "line 1, Objects[0]", "the phrase as a quoted string", "found '__import__'")
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------------
# errors: one test per rule


def test_error_missing_file(tmp_path):
    expect_error(tmp_path / "absent.json", "file", "not found")


def test_error_unknown_extension(tmp_path):
    expect_error(write_text(tmp_path, "layout.xml", "<x/>"), "extension", "unknown", ".json", ".txt")


def test_error_picture_given_instead_of_legend(tmp_path):
    expect_error(tmp_path / "office.png", "extension", "legend", SKETCH_FORMAT)


def test_error_folder_instead_of_file(tmp_path):
    (tmp_path / "dir.json").mkdir()
    expect_error(tmp_path / "dir.json", "file", "not a file")


def test_error_not_utf8(tmp_path):
    path = tmp_path / "binary.json"
    path.write_bytes(b'{"format": "\xff\xfe"}')
    expect_error(path, "file", "not UTF-8")


def test_error_bad_json_names_the_line(tmp_path):
    text = '{\n  "format": "compose.layout/v1",\n  "objects": [\n    {"phrase": "a", "box": [0, 0, 1, 1]},\n  ]\n}\n'
    expect_error(write_text(tmp_path, "bad.json", text), "line 5", "not valid JSON")


def test_error_bad_yaml_names_the_line(tmp_path):
    text = "format: compose.layout/v1\nobjects:\n  - phrase: a red circle\n    box: [0.1, 0.2, 0.3, 0.4\n"
    error = expect_error(write_text(tmp_path, "bad.yaml", text), "line", "not valid YAML")
    assert error.field.startswith("line 4") or error.field.startswith("line 5")


def test_error_duplicate_keys_json_and_yaml(tmp_path):
    text = '{"format": "compose.layout/v1", "objects": [{"phrase": "a", "box": [0, 0, 1, 1], "box": [0, 0, 1, 1]}]}'
    expect_error(write_text(tmp_path, "dup.json", text), '"box"', "twice")
    text = "format: compose.layout/v1\nobjects: []\nobjects:\n  - {phrase: a, box: [0, 0, 1, 1]}\n"
    expect_error(write_text(tmp_path, "dup.yaml", text), "line 3", "'objects' appears twice")


def test_error_yaml_python_tags_are_refused_and_never_run(tmp_path):
    marker = tmp_path / "ran"
    text = f"format: compose.layout/v1\nobjects: !!python/object/apply:os.mkdir [{str(marker)!r}]\n"
    expect_error(write_text(tmp_path, "evil.yaml", text), "line 2", "python/object/apply", "no tags")
    assert not marker.exists()


def test_error_document_not_an_object(tmp_path):
    expect_error(write_json(tmp_path, "list.json", [1, 2]), "document", "must be an object", "a list")
    expect_error(write_text(tmp_path, "empty.yaml", "# nothing\n"), "document", "must be an object", "null")


def test_error_missing_format(tmp_path):
    data = box_layout()
    del data["format"]
    expect_error(write_json(tmp_path, "f.json", data), "format", "missing", LAYOUT_FORMAT, SKETCH_FORMAT)


def test_error_wrong_format(tmp_path):
    expect_error(write_json(tmp_path, "f.json", box_layout(format="compose.layout/v2")), "format",
                 "'compose.layout/v2' is not a known format", LAYOUT_FORMAT)


def test_error_missing_objects(tmp_path):
    data = box_layout()
    del data["objects"]
    expect_error(write_json(tmp_path, "o.json", data), "objects", "missing")


def test_error_empty_objects_and_not_a_list(tmp_path):
    expect_error(write_json(tmp_path, "o.json", box_layout(objects=[])), "objects", "is empty", "1 to 16")
    expect_error(write_json(tmp_path, "p.json", box_layout(objects={"phrase": "a"})), "objects", "must be a list")


def test_error_too_many_objects(tmp_path):
    objects = [{"phrase": f"thing {i}", "box": [0.0, 0.0, 0.5, 0.5]} for i in range(17)]
    expect_error(write_json(tmp_path, "many.json", box_layout(objects=objects)), "objects", "17", "at most 16")


def test_error_unknown_top_level_key_suggests_the_right_one(tmp_path):
    expect_error(write_json(tmp_path, "k.json", box_layout(backgound="a park")), "backgound",
                 "unknown key", "did you mean 'background'", "objects")


def test_error_unknown_object_key(tmp_path):
    data = box_layout()
    data["objects"][1]["colour"] = "blue"
    expect_error(write_json(tmp_path, "k.json", data), "objects[1].colour", "unknown key", "phrase, box, polygon")


def test_error_object_not_a_mapping(tmp_path):
    expect_error(write_json(tmp_path, "o.json", box_layout(objects=["a red circle"])), "objects[0]",
                 "must be an object")


def test_error_missing_phrase(tmp_path):
    data = box_layout()
    del data["objects"][0]["phrase"]
    expect_error(write_json(tmp_path, "p.json", data), "objects[0].phrase", "missing")


def test_error_empty_phrase(tmp_path):
    data = box_layout()
    data["objects"][1]["phrase"] = "   "
    expect_error(write_json(tmp_path, "p.json", data), "objects[1].phrase", "is empty")


def test_error_no_region(tmp_path):
    data = box_layout()
    del data["objects"][0]["box"]
    expect_error(write_json(tmp_path, "r.json", data), "objects[0]", "has no region", "exactly one")


def test_error_two_regions(tmp_path):
    data = box_layout()
    data["objects"][0]["polygon"] = [[0.1, 0.1], [0.2, 0.1], [0.2, 0.2]]
    expect_error(write_json(tmp_path, "r.json", data), "objects[0]", "box and polygon", "exactly one region")


def test_error_box_of_wrong_length(tmp_path):
    data = box_layout()
    data["objects"][1]["box"] = [0.1, 0.2, 0.3]
    expect_error(write_json(tmp_path, "b.json", data), "objects[1].box", "4 numbers", "3 values")


def test_error_box_of_non_numbers(tmp_path):
    data = box_layout()
    data["objects"][0]["box"] = [0.1, "0.2", 0.3, 0.4]
    expect_error(write_json(tmp_path, "b.json", data), "objects[0].box", "y0 must be a number", "'0.2'")
    data["objects"][0]["box"] = [0.1, True, 0.3, 0.4]
    expect_error(write_json(tmp_path, "c.json", data), "objects[0].box", "y0 must be a number")


def test_error_box_outside_the_canvas(tmp_path):
    data = box_layout()
    data["objects"][0]["box"] = [0.1, 0.2, 1.3, 0.4]
    expect_error(write_json(tmp_path, "b.json", data), "objects[0].box", "x1 (1.3) is outside [0, 1]")
    text = '{"format": "compose.layout/v1", "objects": [{"phrase": "a", "box": [0, 0, NaN, 1]}]}'
    expect_error(write_text(tmp_path, "nan.json", text), "objects[0].box", "x1 (nan) is outside [0, 1]")


def test_error_box_x0_not_less_than_x1_matches_the_brief_example(tmp_path):
    layouts = tmp_path / "layouts"
    layouts.mkdir()
    data = box_layout()
    data["objects"][1]["box"] = [0.7, 0.2, 0.4, 0.5]
    path = write_json(layouts, "bad.json", data)
    with pytest.raises(LayoutFileError) as caught:
        read_layout(path)
    assert str(caught.value) == (
        f"{path}: objects[1].box: x0 (0.7) must be less than x1 (0.4); boxes are [x0, y0, x1, y1] in [0, 1]")


def test_error_box_y0_not_less_than_y1(tmp_path):
    data = box_layout()
    data["objects"][0]["box"] = [0.1, 0.5, 0.3, 0.5]
    expect_error(write_json(tmp_path, "b.json", data), "objects[0].box", "y0 (0.5) must be less than y1 (0.5)")


def test_error_polygon_with_too_few_points(tmp_path):
    data = box_layout(objects=[{"phrase": "a star", "polygon": [[0.1, 0.1], [0.2, 0.2]]}])
    expect_error(write_json(tmp_path, "p.json", data), "objects[0].polygon", "2 points", "at least 3")


def test_error_polygon_with_zero_area(tmp_path):
    data = box_layout(objects=[{"phrase": "a line", "polygon": [[0.1, 0.1], [0.2, 0.2], [0.3, 0.3]]}])
    expect_error(write_json(tmp_path, "p.json", data), "objects[0].polygon", "zero area")


def test_error_self_intersecting_polygon(tmp_path):
    bowtie = [[0.1, 0.1], [0.5, 0.5], [0.5, 0.1], [0.1, 0.5]]
    data = box_layout(objects=[{"phrase": "a bow tie", "polygon": bowtie}])
    expect_error(write_json(tmp_path, "p.json", data), "objects[0].polygon", "crosses itself at (0.3, 0.3)",
                 "simple outline")


def test_error_polygon_point_malformed_or_outside(tmp_path):
    data = box_layout(objects=[{"phrase": "a", "polygon": [[0.1, 0.1], [0.2], [0.3, 0.3]]}])
    expect_error(write_json(tmp_path, "p.json", data), "objects[0].polygon[1]", "a point must be [x, y]")
    data = box_layout(objects=[{"phrase": "a", "polygon": [[0.1, 0.1], [0.2, -0.1], [0.3, 0.3]]}])
    expect_error(write_json(tmp_path, "q.json", data), "objects[0].polygon[1]", "y (-0.1) is outside [0, 1]")


def test_error_polygons_extension_malformed(tmp_path):
    data = box_layout(objects=[{"phrase": "a", "polygons": []}])
    expect_error(write_json(tmp_path, "p.json", data), "objects[0].polygons", "non-empty list")
    good = [[0.1, 0.1], [0.3, 0.1], [0.2, 0.3]]
    data = box_layout(objects=[{"phrase": "a", "polygons": [good, [[0.5, 0.5], [0.6, 0.6]]]}])
    expect_error(write_json(tmp_path, "q.json", data), "objects[0].polygons[1]", "2 points")


@pytest.mark.parametrize("canvas, words", [
    ([512], "got 1 value;"), ([0, 512], "width 0"), ([512.5, 512], "width 512.5"), ("512x512", "text"),
    ([512, 99999], "height 99999"),
])
def test_error_bad_canvas(tmp_path, canvas, words):
    expect_error(write_json(tmp_path, "c.json", box_layout(canvas=canvas)), "canvas", words, "[width, height]")


def test_error_text_field_not_text(tmp_path):
    expect_error(write_json(tmp_path, "t.json", box_layout(background=["a", "park"])), "background",
                 "must be text")


# sketch errors


def red_blue_picture():
    return paint(100, [("rect", (255, 0, 0), (10, 10, 40, 40)), ("rect", (0, 0, 255), (60, 60, 90, 90))])


def test_error_sketch_missing_picture_file(tmp_path):
    data = {"format": SKETCH_FORMAT, "image": "absent.png", "legend": {"#ff0000": "a red box"}}
    expect_error(write_json(tmp_path, "s.json", data), "image", "not found", "relative to the legend file")


def test_error_sketch_missing_image_key(tmp_path):
    data = {"format": SKETCH_FORMAT, "legend": {"#ff0000": "a red box"}}
    expect_error(write_json(tmp_path, "s.json", data), "image", "missing")


def test_error_sketch_picture_not_png_or_jpeg(tmp_path):
    (tmp_path / "noise.png").write_bytes(b"this is not a picture at all")
    data = {"format": SKETCH_FORMAT, "image": "noise.png", "legend": {"#ff0000": "a red box"}}
    expect_error(write_json(tmp_path, "s.json", data), "image", "not a PNG or JPEG")


def test_error_sketch_picture_damaged(tmp_path):
    save_picture(tmp_path / "ok.png", red_blue_picture())
    raw = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "damaged.png").write_bytes(raw[:40])  # a PNG header, then nothing
    data = {"format": SKETCH_FORMAT, "image": "damaged.png", "legend": {"#ff0000": "a red box"}}
    expect_error(write_json(tmp_path, "s.json", data), "image", "cannot be decoded")


def test_error_sketch_legend_colour_not_painted(tmp_path):
    legend = {"#ff0000": "a red box", "#0000ff": "a blue box", "#00a000": "a green lamp"}
    expect_error(sketch(tmp_path, red_blue_picture(), legend), 'legend["#00a000"]',
                 "#00a000", "'a green lamp'", "not painted")


def test_error_sketch_painted_colour_not_in_legend(tmp_path):
    error = expect_error(sketch(tmp_path, red_blue_picture(), {"#ff0000": "a red box"}), "legend",
                         "#0000ff", "in no legend colour")
    assert "sketch.png" in error.rule
    percent = float(error.rule.split("covering ")[1].split("%")[0])
    assert 9.0 <= percent <= 11.0  # the 31 x 31 px blue square of 100 x 100, edges anti-aliased


@pytest.mark.parametrize("color", ["red", "#ff00", "ff0000", "#gg0000", "#ff0000 "])
def test_error_sketch_bad_legend_colour_syntax(tmp_path, color):
    expect_error(sketch(tmp_path, red_blue_picture(), {color: "a red box"}), "legend[", "is not a colour",
                 "#rrggbb")


def test_error_sketch_unquoted_yaml_colour_gives_a_hint(tmp_path):
    save_picture(tmp_path / "s.png", red_blue_picture())
    text = f"format: {SKETCH_FORMAT}\nimage: s.png\nlegend:\n  #ff0000: a red box\n"
    expect_error(write_text(tmp_path, "s.yaml", text), "legend", "must map colours", "quote them")


def test_error_sketch_legend_empty_or_phrase_empty(tmp_path):
    expect_error(sketch(tmp_path, red_blue_picture(), {}), "legend", "is empty")
    expect_error(sketch(tmp_path, red_blue_picture(), {"#ff0000": ""}), 'legend["#ff0000"]', "phrase is empty")


def test_error_sketch_legend_colours_too_close_or_white(tmp_path):
    expect_error(sketch(tmp_path, red_blue_picture(), {"#ff0000": "a", "#fa0505": "b"}), 'legend["#fa0505"]',
                 "too close to #ff0000")
    expect_error(sketch(tmp_path, red_blue_picture(), {"#fafafa": "a"}), 'legend["#fafafa"]',
                 "white background")


def test_error_sketch_unknown_key(tmp_path):
    expect_error(sketch(tmp_path, red_blue_picture(), {"#ff0000": "a"}, picture="x.png"), "picture",
                 "unknown key", "image, legend")


# LMD errors


def test_error_lmd_without_objects_line(tmp_path):
    expect_error(write_text(tmp_path, "l.txt", "Background prompt: a park\n"), "Objects", "no Objects line")


@pytest.mark.parametrize("objects, field, words", [
    ("[('a car', [1, 2, 3])]", "Objects[0] box", "']'"),
    ("[('a car' [1, 2, 3, 4])]", "Objects[0]", "',' after the phrase"),
    ("[('a car', [1, 2, 'x', 4])]", "Objects[0] box", "number 3 of 4"),
    ("[('a car, [1, 2, 3, 4])]", "Objects", "not closed"),
    ("[('a car', [1, 2, 3, 4]) ('a bus', [1, 2, 3, 4])]", "Objects[0]", "',' or ']'"),
    ("[('a car', [1, 2, 3, 4])", "Objects[0]",
     "found the end of the line (the next line starts 'Background prompt':) before the list was closed"),
    ("[(a_car, [1, 2, 3, 4])]", "Objects[0]", "quoted string"),
    ("[('a car', [1, 2, 3, 4])] extra", "Objects", "after the list"),
    ("[('a car', [1, 2, 3, 4]); ('b', [1, 2, 3, 4])]", "Objects[0]", "found ';'"),
])
def test_error_lmd_malformed_tuple(tmp_path, objects, field, words):
    error = expect_error(write_text(tmp_path, "l.txt", f"Objects: {objects}\nBackground prompt: x\n"),
                         field, words)
    assert error.field.startswith("line 1")


def test_error_lmd_empty_list_and_too_many(tmp_path):
    expect_error(write_text(tmp_path, "e.txt", "Objects: []\n"), "line 1, Objects", "empty")
    many = ", ".join(f"('thing {i}', [0, 0, 10, 10])" for i in range(17))
    expect_error(write_text(tmp_path, "m.txt", f"Objects: [{many}]\n"), "Objects", "at most 16")


def test_error_lmd_box_outside_canvas_or_empty(tmp_path):
    expect_error(write_text(tmp_path, "o.txt", "\nObjects: [('a car', [400, 0, 200, 10])]\n"),
                 "line 2, Objects[0]", "x + w = 600", "512")
    expect_error(write_text(tmp_path, "w.txt", "Objects: [('a car', [10, 10, 0, 10])]\n"),
                 "Objects[0]", "must be positive")
    expect_error(write_text(tmp_path, "p.txt", "Objects: [('  ', [10, 10, 5, 10])]\n"),
                 "Objects[0]", "phrase is empty")


def test_error_lmd_unknown_or_repeated_line(tmp_path):
    text = "Objects: [('a car', [0, 0, 10, 10])]\nBackgroud prompt: a park\n"
    expect_error(write_text(tmp_path, "u.txt", text), "line 2", "unexpected line", "Background prompt")
    text = "Objects: [('a car', [0, 0, 10, 10])]\nBackground prompt: a\nBackground prompt: b\n"
    expect_error(write_text(tmp_path, "r.txt", text), "line 3", "appears twice")


# ---------------------------------------------------------------------------------------------------
# example layouts shipped with the package, read by name


def test_every_example_is_read_by_its_name_and_gives_what_its_file_gives():
    from compose.layout_files import example_names

    assert set(EXAMPLES) <= set(example_names())
    for name in EXAMPLES:
        assert_same_layout(read_layout(f"example:{name}"), read_layout(LAYOUTS / name), tolerance=0.0)
    assert_same_layout(read_layout(Path("example:office_sketch")), read_layout(LAYOUTS / "office_sketch.json"),
                       tolerance=0.0)  # as the command line passes it: a Path; a stem only one file has


@pytest.mark.parametrize("name, words", [
    ("no_such_layout", ("no example layout is called 'no_such_layout'", "known examples:", "office_sketch")),
    ("shapes_boxes", ("2 examples are called 'shapes_boxes'", "shapes_boxes.json, shapes_boxes.yaml")),
    ("../../../pyproject.toml", ("no example layout is called",)),
    ("office_sketch.png", ("no example layout is called",)),
])
def test_an_unknown_or_ambiguous_example_name_lists_the_known_ones(name, words):
    with pytest.raises(LayoutFileError) as caught:
        read_layout(f"example:{name}")
    assert str(caught.value).startswith(f"example:{name}: name: ")
    for word in words:
        assert word in str(caught.value)


def test_the_examples_are_package_data_shipped_by_pyproject():
    import fnmatch
    import tomllib

    package = LAYOUTS.parent  # the checkout's package folder, whose files pyproject must name
    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["compose.layout_files"]
    files = [path.relative_to(package).as_posix() for path in LAYOUTS.iterdir() if path.is_file()]
    unshipped = [name for name in files if name != "examples/make_sketches.py"
                 and not any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)]
    assert not unshipped, f"add these to [tool.setuptools.package-data] in pyproject.toml: {unshipped}"
