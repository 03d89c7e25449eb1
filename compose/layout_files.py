"""Read and write layout files (shared/specs/layout-files.md, spec v1).

A layout says where each object goes. `read_layout(path)` reads every kind of layout file the spec
names into a `compose.scene.Layout`, choosing the reader by the file's extension and `format` key:

- ``compose.layout/v1`` in JSON (``.json``) or YAML (``.yaml``, ``.yml``): a list of objects, each a
  phrase and one region (spec section 1).
- ``compose.sketch/v1`` in JSON or YAML: a legend naming a painted PNG/JPEG picture and the phrase of
  each paint colour (spec section 2). Every legend colour becomes one region whose polygons are the
  outlines (OpenCV contours) of every blob painted in that colour, within a colour tolerance that copes
  with anti-aliased edges and JPEG compression; one colour painted as several blobs stays one object.
- LMD-style text (``.txt``; the layout format of "LLM-grounded Diffusion", Lian et al. 2023):
  ``Objects: [('a green car', [x, y, w, h]), ...]``, ``Background prompt: ...`` and optional
  ``Negative prompt: ...`` and ``Caption: ...`` lines, boxes in pixels of a 512 x 512 canvas.

`write_layout(layout, path)` writes ``compose.layout/v1`` as JSON or YAML (by extension). Every layout
read from any source round-trips: writing it and reading it back gives the same regions.

Extension key ``polygons``: besides the spec's ``box`` and ``polygon``, an object may carry
``"polygons": [[[x, y], ...], [[x, y], ...]]``, a list of simple polygons that together form its
region. A sketch colour painted as several blobs is written this way, so nothing is lost. Each object
has exactly one of ``box``, ``polygon`` and ``polygons``; the region's box is then the bounding box of
all the polygon points.

Conventions:
- Coordinates are fractions of the canvas, origin top-left, y downwards, in [0, 1]. They are rounded to
  9 decimals when read and written, so a file written from a layout reads back exactly.
- Sketch outlines pass through the centres of a blob's edge pixels (divided by the picture's width and
  height), so `Region.mask` at the picture's size gives back the painted pixels. Holes inside a blob
  are filled: the outline is the blob's outer edge.
- Regions read from files belong to no scene group (``group=None``, ``instance=0``); the later object
  is drawn in front.

Safety: nothing in a file is ever executed or unpickled. JSON is read with `json`, YAML with a
`yaml.SafeLoader` subclass that only adds a check for duplicate keys, and the LMD ``Objects`` list with
a small tokenizer written for that literal form (never `eval` or `ast.literal_eval`).

Every malformed file raises `LayoutFileError` (a `ValueError`) whose one-line message names the file,
the field and the rule with what is allowed, e.g.
``layouts/bad.json: objects[1].box: x0 (0.7) must be less than x1 (0.4); boxes are [x0, y0, x1, y1] in [0, 1]``.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
from pathlib import Path
from typing import Any

from compose.files import write_atomically
from compose.scene import LAYOUT_FORMAT, Layout, Polygon, Region

SKETCH_FORMAT = "compose.sketch/v1"
FORMATS = (LAYOUT_FORMAT, SKETCH_FORMAT)
MAX_OBJECTS = 16
MAX_CANVAS_SIDE = 16384
COORDINATE_DECIMALS = 9  # coordinates are rounded to this many decimals when read and written
LMD_CANVAS_SIDE = 512  # LMD boxes are pixels of a 512 x 512 canvas

LAYOUT_SUFFIXES = (".json", ".yaml", ".yml")
TEXT_SUFFIXES = (".txt",)
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_FILE_BYTES = 50_000_000
MAX_PICTURE_PIXELS = 40_000_000

# Sketch reading (spec section 2). Distances are Euclidean in RGB (0..255 per channel).
DEFAULT_COLOR_TOLERANCE = 80.0  # a pixel belongs to its nearest legend colour when at most this far
MIN_COLOR_SEPARATION = 30.0  # legend colours closer than this cannot be told apart after JPEG
MIN_DISTANCE_FROM_WHITE = 60.0  # a legend colour this close to the white background is invisible
UNLISTED_AREA_FRACTION = 0.005  # unlisted paint covering more of the picture than this is an error
MIN_BLOB_FRACTION = 0.0002  # blobs smaller than this fraction of the picture are specks, not paint
BLEND_BAND_PIXELS = 3  # unassigned pixels this close to legend paint are anti-aliased / JPEG edges
OUTLINE_SIMPLIFY_PIXELS = 0.75  # outlines are simplified (Douglas-Peucker) by at most this much,
OUTLINE_SIMPLIFY_FRACTION = 0.001  # or this fraction of the picture's longer side, if more
_WHITE = (255, 255, 255)

_LAYOUT_KEYS = ("format", "prompt", "background", "negative", "canvas", "objects")
_SKETCH_KEYS = ("format", "image", "legend", "prompt", "background", "negative", "canvas")
_OBJECT_KEYS = ("phrase", "box", "polygon", "polygons")
_REGION_KEYS = ("box", "polygon", "polygons")
_BOX_RULE = "boxes are [x0, y0, x1, y1] in [0, 1]"
_POLYGON_RULE = "a polygon is a list of at least 3 [x, y] points in [0, 1] tracing a simple outline"
_COLOR_RULE = 'write colours as "#rrggbb" or "#rgb" hex (e.g. "#ff0000"; in YAML, quote them)'
_LMD_ITEM_RULE = "Objects is a list of ('phrase', [x, y, w, h]) tuples, boxes in pixels of 512 x 512"


class LayoutFileError(ValueError):
    """A layout file that breaks the spec: names the file, the field and the rule that was broken."""

    def __init__(self, path: str | os.PathLike, field: str, rule: str):
        self.path = str(path)
        self.field = _one_line(field)
        self.rule = _one_line(rule)
        message = f"{self.path}: {self.field}: {self.rule}" if self.field else f"{self.path}: {self.rule}"
        super().__init__(message)


# ---------------------------------------------------------------------------------------------------
# Public API


def read_layout(path: str | os.PathLike, *, color_tolerance: float = DEFAULT_COLOR_TOLERANCE) -> Layout:
    """Read a layout file of any kind in shared/specs/layout-files.md.

    `.json`, `.yaml` and `.yml` files are `compose.layout/v1` or `compose.sketch/v1` (their `format`
    key says which); `.txt` files are LMD-style text. `color_tolerance` is how far (RGB distance) a
    sketch pixel may be from its legend colour. Raises `LayoutFileError` for any malformed file.
    """
    path = Path(path)
    source = str(path)
    suffix = path.suffix.lower()
    if suffix in PICTURE_SUFFIXES:
        raise LayoutFileError(source, "extension", (
            f"a painted picture is read through its legend; write a {SKETCH_FORMAT} legend "
            f'(.json or .yaml) with "image": "{path.name}" and read that'))
    if suffix not in LAYOUT_SUFFIXES + TEXT_SUFFIXES:
        raise LayoutFileError(source, "extension", (
            f"unknown layout file extension {suffix or '(none)'!r}; allowed: .json, .yaml, .yml "
            f"({LAYOUT_FORMAT} or {SKETCH_FORMAT}) and .txt (LMD-style text)"))
    text = _read_text(path)
    if suffix in TEXT_SUFFIXES:
        return parse_lmd_text(text, source=source)
    data = _load_document(text, source, yaml_syntax=suffix != ".json")
    return layout_from_dict(data, source=source, base_dir=path.parent, color_tolerance=color_tolerance)


def write_layout(layout: Layout, path: str | os.PathLike) -> None:
    """Write `layout` as a `compose.layout/v1` file: JSON for `.json`, YAML for `.yaml` / `.yml`.

    The file is checked against the spec before it is written (so it always reads back) and written
    atomically: a failed write never leaves a partial file.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in LAYOUT_SUFFIXES:
        raise LayoutFileError(str(path), "extension", (
            f"cannot write a layout to {suffix or '(no extension)'!r}; use .json, .yaml or .yml"))
    if not path.parent.is_dir():
        raise LayoutFileError(str(path), "folder", (
            f"folder {str(path.parent)!r} does not exist; create it or write elsewhere"))
    text = layout_to_text(layout, syntax="json" if suffix == ".json" else "yaml")
    write_atomically(path, text)


def layout_to_text(layout: Layout, syntax: str = "json") -> str:
    """The `compose.layout/v1` text of `layout` in `syntax` "json" or "yaml" (what write_layout writes)."""
    if syntax not in ("json", "yaml"):
        raise ValueError(f"syntax {syntax!r} is not known; use 'json' or 'yaml'")
    data = layout_to_dict(layout)
    try:
        layout_from_dict(data, source="<layout being written>")
    except LayoutFileError as error:
        raise ValueError(
            f"cannot write this layout as {LAYOUT_FORMAT}: {error.field}: {error.rule}") from None
    if syntax == "json":
        return _dump_json(data)
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100)


def layout_to_dict(layout: Layout) -> dict[str, Any]:
    """The `compose.layout/v1` document of `layout` as plain Python data (JSON/YAML ready).

    A region with no polygons is written as `box`, one polygon as `polygon`, several as `polygons`.
    """
    data: dict[str, Any] = {"format": LAYOUT_FORMAT}
    for key in ("prompt", "background", "negative"):
        value = getattr(layout, key)
        if value is not None:
            data[key] = value
    if layout.canvas is not None:
        data["canvas"] = [int(layout.canvas[0]), int(layout.canvas[1])]
    data["objects"] = [_region_to_dict(region) for region in layout.regions]
    return data


def layout_from_dict(data: Any, source: str = "<dict>", base_dir: str | os.PathLike | None = None,
                     *, color_tolerance: float = DEFAULT_COLOR_TOLERANCE) -> Layout:
    """Check a loaded JSON/YAML document and turn it into a `Layout`.

    `data` is `compose.layout/v1` or `compose.sketch/v1` (by its `format`); `source` names it in
    errors; `base_dir` is where a sketch's picture path starts (the legend file's folder; default the
    current folder).
    """
    if not isinstance(data, dict):
        raise LayoutFileError(source, "document", (
            f"must be an object (a mapping of keys), got {_kind(data)}; "
            f'start from {{"format": "{LAYOUT_FORMAT}", "objects": [...]}}'))
    _check_string_keys(data, source, "document")
    if "format" not in data:
        raise LayoutFileError(source, "format", (
            f'missing; add "format": "{LAYOUT_FORMAT}" (a box layout) or "{SKETCH_FORMAT}" '
            "(a painted sketch with a legend)"))
    file_format = data["format"]
    if file_format == LAYOUT_FORMAT:
        return _layout_document(data, source)
    if file_format == SKETCH_FORMAT:
        return _sketch_document(data, source, Path(base_dir) if base_dir is not None else Path("."),
                                color_tolerance)
    raise LayoutFileError(source, "format", (
        f"{_show(file_format)} is not a known format; allowed: {LAYOUT_FORMAT!r}, {SKETCH_FORMAT!r}"))


def parse_lmd_text(text: str, source: str = "<text>") -> Layout:
    """Read LMD-style layout text (the format of LLM-grounded Diffusion's layouts).

    Lines: ``Objects: [('a green car', [x, y, w, h]), ...]`` (required; may run over several lines),
    ``Background prompt: ...``, ``Negative prompt: ...`` and ``Caption: ...`` (optional); blank lines
    are ignored. Boxes are pixels of a 512 x 512 canvas: x, y the top-left corner, w, h the size. The
    Objects list is read by a tokenizer for exactly this literal form; nothing is evaluated.
    """
    values: dict[str, str] = {}
    objects: list[tuple[str, tuple[float, ...], int]] | None = None
    objects_line = 0
    position = 0
    line_number = 0
    while position < len(text):
        line_number += 1
        line_end = text.find("\n", position)
        line_end = len(text) if line_end < 0 else line_end
        line = text[position:line_end]
        if not line.strip():
            position = line_end + 1
            continue
        match = _LMD_LINE.match(line)
        key = " ".join(match.group(1).lower().split()) if match else None
        if key not in _LMD_KEYS:
            shown = line.strip()
            raise LayoutFileError(source, f"line {line_number}", (
                f"unexpected line {_show(shown)}; allowed lines: Objects: [...], Background prompt: ..., "
                "Negative prompt: ..., Caption: ..."))
        if key in values or (key == "objects" and objects is not None):
            raise LayoutFileError(source, f"line {line_number}", (
                f"{_LMD_KEYS[key]} appears twice; give each line once"))
        if key == "objects":
            objects_line = line_number
            parser = _LmdObjectsParser(text, position + match.start(2), source)
            objects = parser.parse_list()
            rest_end = text.find("\n", parser.position)
            rest_end = len(text) if rest_end < 0 else rest_end
            rest = text[parser.position:rest_end]
            if rest.strip():
                line, column = _line_and_column(text, parser.position + len(rest) - len(rest.lstrip()))
                raise LayoutFileError(source, f"line {line}, Objects", (
                    f"unexpected text {_show(rest.strip())} after the list at column {column}; "
                    "the Objects line ends with its closing ]"))
            line_number = text.count("\n", 0, rest_end) + 1
            position = rest_end + 1
        else:
            values[key] = match.group(2).strip()
            position = line_end + 1
    if objects is None:
        raise LayoutFileError(source, "Objects", (
            f"no Objects line; add one such as Objects: [('a green car', [21, 281, 211, 159])] "
            f"({_LMD_ITEM_RULE})"))
    if not objects:
        raise LayoutFileError(source, f"line {objects_line}, Objects", (
            f"the list is empty; give 1 to {MAX_OBJECTS} ('phrase', [x, y, w, h]) tuples"))
    if len(objects) > MAX_OBJECTS:
        raise LayoutFileError(source, f"line {objects_line}, Objects", (
            f"{len(objects)} objects; at most {MAX_OBJECTS} are allowed"))
    regions = []
    for index, (phrase, numbers, line) in enumerate(objects):
        field = f"line {line}, Objects[{index}]"
        if not phrase.strip():
            raise LayoutFileError(source, field, "the phrase is empty; say what the object is")
        regions.append(Region(phrase=phrase, box=_lmd_box(numbers, source, field)))
    return Layout(
        regions=tuple(regions),
        prompt=values.get("caption") or None,
        background=values.get("background prompt") or None,
        negative=values.get("negative prompt") or None,
    )


def trace_painted_colors(picture, colors: list[tuple[int, int, int]],
                         tolerance: float = DEFAULT_COLOR_TOLERANCE):
    """Find where each colour is painted in an RGB picture, as outlines (spec section 2).

    `picture` is a (height, width, 3) uint8 RGB array, painted on white. Each pixel goes to the nearest
    of white and `colors` when it is at most `tolerance` away (RGB distance): anti-aliased edges and
    JPEG noise thus split at the middle of the blend. Each colour's mask is opened (3 x 3) to drop
    one-pixel slivers and specks, blobs under MIN_BLOB_FRACTION of the picture are dropped, and the
    outer edge of every blob left is traced (cv2.findContours) and simplified.

    Returns (outlines, unlisted): outlines[k] is a tuple of polygons (canvas fractions) for colors[k],
    empty when that colour is not painted; unlisted is None, or (rgb, fraction, box) describing the
    largest paint of no listed colour when it covers more than UNLISTED_AREA_FRACTION of the picture.
    """
    import cv2
    import numpy as np

    height, width = picture.shape[:2]
    references = np.array([_WHITE, *colors], dtype=np.int32)
    pixels = picture.astype(np.int32)
    best_distance = np.full((height, width), np.iinfo(np.int32).max, dtype=np.int64)
    best_index = np.zeros((height, width), dtype=np.int32)
    for index, reference in enumerate(references):
        distance = ((pixels - reference) ** 2).sum(axis=2, dtype=np.int64)
        closer = distance < best_distance
        best_distance[closer] = distance[closer]
        best_index[closer] = index
    assigned = best_distance <= tolerance * tolerance
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
    min_blob_pixels = max(4, int(MIN_BLOB_FRACTION * height * width))

    outlines = []
    for index in range(1, len(references)):
        mask = (assigned & (best_index == index)).astype(np.uint8)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        keep = np.zeros(count, dtype=bool)
        keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_blob_pixels
        mask = keep[labels].astype(np.uint8)
        outlines.append(_trace_mask(mask))

    # Paint of no listed colour: unassigned pixels away from listed paint (edges there are blends).
    paint = (assigned & (best_index > 0)).astype(np.uint8)
    band = 2 * BLEND_BAND_PIXELS + 1
    near_paint = cv2.dilate(paint, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (band, band))) > 0
    unlisted = ((~assigned) & (~near_paint)).astype(np.uint8)
    unlisted = cv2.morphologyEx(unlisted, cv2.MORPH_OPEN, kernel)
    fraction = float(unlisted.sum()) / (height * width)
    if fraction <= UNLISTED_AREA_FRACTION:
        return outlines, None
    colors_found = picture[unlisted > 0]
    bins = (colors_found // 16).astype(np.int32)
    bin_ids = bins[:, 0] * 256 + bins[:, 1] * 16 + bins[:, 2]
    common = np.bincount(bin_ids).argmax()
    members = bin_ids == common
    rgb = tuple(int(round(v)) for v in colors_found[members].mean(axis=0))
    # Where that colour lies: the box of its pixels that are unlisted.
    where = (unlisted > 0) & ((picture.astype(np.int32) // 16 * np.array([256, 16, 1])).sum(axis=2) == common)
    ys, xs = np.nonzero(where)
    box = (xs.min() / width, ys.min() / height, (xs.max() + 1) / width, (ys.max() + 1) / height)
    return outlines, (rgb, fraction, box)


# ---------------------------------------------------------------------------------------------------
# compose.layout/v1


def _layout_document(data: dict, source: str) -> Layout:
    _check_keys(data, _LAYOUT_KEYS, source, "")
    texts = {key: _optional_text(data, key, source) for key in ("prompt", "background", "negative")}
    canvas = _canvas(data, source)
    if "objects" not in data:
        raise LayoutFileError(source, "objects", (
            f'missing; add "objects": a list of 1 to {MAX_OBJECTS} objects such as '
            '{"phrase": "a red circle", "box": [0.1, 0.35, 0.4, 0.65]}'))
    objects = data["objects"]
    if not isinstance(objects, list):
        raise LayoutFileError(source, "objects", (
            f"must be a list of 1 to {MAX_OBJECTS} objects, got {_kind(objects)}"))
    if not objects:
        raise LayoutFileError(source, "objects", (
            f"is empty; give 1 to {MAX_OBJECTS} objects, each a phrase and a box or polygon"))
    if len(objects) > MAX_OBJECTS:
        raise LayoutFileError(source, "objects", (
            f"has {len(objects)} objects; at most {MAX_OBJECTS} are allowed"))
    regions = tuple(_object_region(item, source, f"objects[{index}]") for index, item in enumerate(objects))
    return Layout(regions=regions, canvas=canvas, **texts)


def _object_region(item: Any, source: str, field: str) -> Region:
    if not isinstance(item, dict):
        raise LayoutFileError(source, field, (
            f'must be an object such as {{"phrase": "a red circle", "box": [0.1, 0.35, 0.4, 0.65]}}, '
            f"got {_kind(item)}"))
    _check_keys(item, _OBJECT_KEYS, source, field)
    phrase = _phrase(item, source, field)
    present = [key for key in _REGION_KEYS if key in item]
    if not present:
        raise LayoutFileError(source, field, (
            f"has no region; give exactly one of box [x0, y0, x1, y1], polygon [[x, y], ...] "
            f"or polygons [[[x, y], ...], ...]"))
    if len(present) > 1:
        raise LayoutFileError(source, field, (
            f"has {' and '.join(present)}; give exactly one region: box, polygon or polygons"))
    key = present[0]
    value = item[key]
    if key == "box":
        return Region(phrase=phrase, box=_box(value, source, f"{field}.box"))
    if key == "polygon":
        polygons = (_polygon(value, source, f"{field}.polygon"),)
    else:
        if not isinstance(value, list) or not value:
            raise LayoutFileError(source, f"{field}.polygons", (
                f"must be a non-empty list of polygons ({_POLYGON_RULE}), got {_kind(value)}"))
        polygons = tuple(_polygon(polygon, source, f"{field}.polygons[{index}]")
                         for index, polygon in enumerate(value))
    return Region(phrase=phrase, box=_bounding_box(polygons), polygons=polygons)


def _box(value: Any, source: str, field: str) -> tuple[float, float, float, float]:
    if not isinstance(value, list) or len(value) != 4:
        shown = _count(len(value), "value") if isinstance(value, list) else _kind(value)
        raise LayoutFileError(source, field, f"must be a list of 4 numbers, got {shown}; {_BOX_RULE}")
    names = ("x0", "y0", "x1", "y1")
    numbers = [_fraction(v, source, field, name, _BOX_RULE) for name, v in zip(names, value)]
    x0, y0, x1, y1 = numbers
    if x0 >= x1:
        raise LayoutFileError(source, field, f"x0 ({x0:g}) must be less than x1 ({x1:g}); {_BOX_RULE}")
    if y0 >= y1:
        raise LayoutFileError(source, field, f"y0 ({y0:g}) must be less than y1 ({y1:g}); {_BOX_RULE}")
    return (x0, y0, x1, y1)


def _polygon(value: Any, source: str, field: str) -> Polygon:
    if not isinstance(value, list):
        raise LayoutFileError(source, field, f"must be a list of [x, y] points, got {_kind(value)}; {_POLYGON_RULE}")
    points = []
    for index, point in enumerate(value):
        if not isinstance(point, list) or len(point) != 2:
            shown = _count(len(point), "value") if isinstance(point, list) else _kind(point)
            raise LayoutFileError(source, f"{field}[{index}]", (
                f"a point must be [x, y], got {shown}; {_POLYGON_RULE}"))
        points.append(tuple(_fraction(v, source, f"{field}[{index}]", name, _POLYGON_RULE)
                            for name, v in zip(("x", "y"), point)))
    if len(points) > 3 and points[-1] == points[0]:
        points.pop()  # a closed ring written with its first point repeated
    if len(points) < 3:
        raise LayoutFileError(source, field, f"has {_count(len(points), 'point')}; {_POLYGON_RULE}")
    problem = _polygon_problem(points)
    if problem:
        raise LayoutFileError(source, field, f"{problem}; {_POLYGON_RULE}")
    return tuple(points)


def _polygon_problem(points: list[tuple[float, float]]) -> str | None:
    """Why `points` is not a simple polygon of non-zero area (shapely's rules), or None when it is."""
    from shapely.geometry import Polygon as ShapelyPolygon
    from shapely.validation import explain_validity, make_valid

    shape = ShapelyPolygon(points)
    if not shape.is_valid and make_valid(shape).area <= 0.0 or shape.is_valid and shape.area <= 0.0:
        return "has zero area (its points lie on one line)"
    if not shape.is_valid:
        reason = explain_validity(shape)
        where = re.search(r"\[([-\d.e]+) ([-\d.e]+)\]", reason)
        at = f" at ({float(where.group(1)):.4g}, {float(where.group(2)):.4g})" if where else ""
        if "self-intersection" in reason.lower():
            return f"crosses itself{at} (not a simple polygon)"
        return f"is not a simple polygon ({reason})"
    return None


def _fraction(value: Any, source: str, field: str, name: str, rule: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LayoutFileError(source, field, f"{name} must be a number, got {_show(value)}; {rule}")
    number = float(value)
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise LayoutFileError(source, field, (
            f"{name} ({number:g}) is outside [0, 1]; coordinates are fractions of the canvas; {rule}"))
    return round(number, COORDINATE_DECIMALS)


def _bounding_box(polygons: tuple[Polygon, ...]) -> tuple[float, float, float, float]:
    xs = [x for polygon in polygons for x, _ in polygon]
    ys = [y for polygon in polygons for _, y in polygon]
    return (min(xs), min(ys), max(xs), max(ys))


def _phrase(item: dict, source: str, field: str) -> str:
    if "phrase" not in item:
        raise LayoutFileError(source, f"{field}.phrase", 'missing; say what the object is, e.g. "a red circle"')
    phrase = item["phrase"]
    if not isinstance(phrase, str):
        raise LayoutFileError(source, f"{field}.phrase", f"must be text, got {_kind(phrase)}")
    if not phrase.strip():
        raise LayoutFileError(source, f"{field}.phrase", 'is empty; say what the object is, e.g. "a red circle"')
    return phrase


def _optional_text(data: dict, key: str, source: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise LayoutFileError(source, key, f"must be text (or left out), got {_kind(value)}")
    return value


def _canvas(data: dict, source: str) -> tuple[int, int] | None:
    value = data.get("canvas")
    if value is None:
        return None
    rule = f"canvas is [width, height]: two whole numbers of pixels from 1 to {MAX_CANVAS_SIDE}"
    if not isinstance(value, list) or len(value) != 2:
        shown = _count(len(value), "value") if isinstance(value, list) else _kind(value)
        raise LayoutFileError(source, "canvas", f"got {shown}; {rule}")
    for name, side in zip(("width", "height"), value):
        if isinstance(side, bool) or not isinstance(side, int) or not 1 <= side <= MAX_CANVAS_SIDE:
            raise LayoutFileError(source, "canvas", f"{name} {_show(side)} is not allowed; {rule}")
    return (value[0], value[1])


def _region_to_dict(region: Region) -> dict[str, Any]:
    item: dict[str, Any] = {"phrase": region.phrase}
    if not region.polygons:
        item["box"] = [_round(v) for v in region.box]
    elif len(region.polygons) == 1:
        item["polygon"] = [[_round(x), _round(y)] for x, y in region.polygons[0]]
    else:
        item["polygons"] = [[[_round(x), _round(y)] for x, y in polygon] for polygon in region.polygons]
    return item


def _round(value: float) -> float:
    return round(float(value), COORDINATE_DECIMALS)


# ---------------------------------------------------------------------------------------------------
# compose.sketch/v1


def _sketch_document(data: dict, source: str, base_dir: Path, color_tolerance: float) -> Layout:
    _check_keys(data, _SKETCH_KEYS, source, "")
    texts = {key: _optional_text(data, key, source) for key in ("prompt", "background", "negative")}
    canvas = _canvas(data, source)
    legend = _legend(data, source)
    picture_path = _picture_path(data, source, base_dir)
    picture = _read_picture(picture_path, source)
    outlines, unlisted = trace_painted_colors(picture, [rgb for rgb, _, _ in legend], tolerance=color_tolerance)
    for (rgb, written, phrase), polygons in zip(legend, outlines):
        if not polygons:
            raise LayoutFileError(source, f"legend[{json.dumps(written)}]", (
                f"colour {_hex(rgb)} ({_show(phrase)}) is not painted in {picture_path.name} "
                f"(no area within colour distance {color_tolerance:g}); paint it or remove it from the legend"))
    if unlisted is not None:
        rgb, fraction, box = unlisted
        where = ", ".join(f"{v:.2f}" for v in box)
        raise LayoutFileError(source, "legend", (
            f"{picture_path.name} has paint of colour {_hex(rgb)} covering {100 * fraction:.1f}% of the "
            f"picture (around box [{where}]) that is in no legend colour; add it to the legend or paint "
            f"it over in white (specks under {100 * UNLISTED_AREA_FRACTION:g}% are ignored)"))
    regions = tuple(
        Region(phrase=phrase, box=_bounding_box(polygons), polygons=polygons)
        for (_, _, phrase), polygons in zip(legend, outlines))
    return Layout(regions=regions, canvas=canvas, **texts)


def _legend(data: dict, source: str) -> list[tuple[tuple[int, int, int], str, str]]:
    """The legend as [(rgb, colour as written, phrase)] in file order, checked (spec section 2)."""
    if "legend" not in data:
        raise LayoutFileError(source, "legend", (
            'missing; add "legend": {"#ff0000": "a red armchair", ...} mapping each paint colour to its phrase'))
    legend = data["legend"]
    if not isinstance(legend, dict):
        raise LayoutFileError(source, "legend", (
            f'must map colours to phrases, e.g. {{"#ff0000": "a red armchair"}}, got {_kind(legend)}; '
            f"{_COLOR_RULE}"))
    if not legend:
        raise LayoutFileError(source, "legend", (
            f"is empty; map 1 to {MAX_OBJECTS} paint colours to phrases; {_COLOR_RULE}"))
    if len(legend) > MAX_OBJECTS:
        raise LayoutFileError(source, "legend", (
            f"has {len(legend)} colours; at most {MAX_OBJECTS} objects are allowed"))
    entries: list[tuple[tuple[int, int, int], str, str]] = []
    for key, phrase in legend.items():
        field = f"legend[{json.dumps(key) if isinstance(key, str) else _show(key)}]"
        color = _parse_color(key, source, field)
        if not isinstance(phrase, str) or not phrase.strip():
            shown = "is empty" if isinstance(phrase, str) else f"must be text, got {_kind(phrase)}"
            raise LayoutFileError(source, field, f"the phrase {shown}; say what the object is")
        if _distance(color, _WHITE) < MIN_DISTANCE_FROM_WHITE:
            raise LayoutFileError(source, field, (
                f"colour {key} is too close to the white background (distance {_distance(color, _WHITE):.0f} "
                f"< {MIN_DISTANCE_FROM_WHITE:g}); paint objects in stronger colours"))
        for other, other_key, _ in entries:
            if _distance(color, other) < MIN_COLOR_SEPARATION:
                raise LayoutFileError(source, field, (
                    f"colour {key} is too close to {other_key} (distance {_distance(color, other):.0f} "
                    f"< {MIN_COLOR_SEPARATION:g}) to tell apart; pick clearly different colours"))
        entries.append((color, key, phrase))
    return entries


def _parse_color(key: Any, source: str, field: str) -> tuple[int, int, int]:
    if not isinstance(key, str) or not _HEX_COLOR.match(key):
        raise LayoutFileError(source, field, f"{_show(key)} is not a colour; {_COLOR_RULE}")
    digits = key[1:]
    if len(digits) == 3:
        digits = "".join(digit * 2 for digit in digits)
    return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))


def _picture_path(data: dict, source: str, base_dir: Path) -> Path:
    if "image" not in data:
        raise LayoutFileError(source, "image", (
            'missing; add "image": "picture.png", the painted picture\'s path relative to the legend file'))
    image = data["image"]
    if not isinstance(image, str) or not image.strip():
        raise LayoutFileError(source, "image", (
            f"must be the painted picture's path (PNG or JPEG, relative to the legend file), got {_show(image)}"))
    path = base_dir / image
    if not path.is_file():
        raise LayoutFileError(source, "image", (
            f"picture file {str(path)!r} not found; image is a PNG or JPEG path relative to the legend file"))
    return path


def _read_picture(path: Path, source: str):
    """Decode a PNG or JPEG (by its content) into an RGB uint8 array, compositing alpha onto white."""
    import cv2
    import numpy as np

    raw = path.read_bytes()
    if not (raw.startswith(b"\x89PNG\r\n\x1a\n") or raw.startswith(b"\xff\xd8\xff")):
        raise LayoutFileError(source, "image", f"{path.name} is not a PNG or JPEG picture (by its content)")
    picture = cv2.imdecode(np.frombuffer(raw, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if picture is None or picture.size == 0:
        raise LayoutFileError(source, "image", f"{path.name} cannot be decoded (a damaged PNG or JPEG?)")
    if picture.shape[0] * picture.shape[1] > MAX_PICTURE_PIXELS:
        raise LayoutFileError(source, "image", (
            f"{path.name} has {picture.shape[1]} x {picture.shape[0]} pixels; at most "
            f"{MAX_PICTURE_PIXELS // 1_000_000} megapixels are read: scale it down"))
    if picture.dtype == np.uint16:
        picture = np.round(picture / 257.0).astype(np.uint8)
    elif picture.dtype != np.uint8:
        raise LayoutFileError(source, "image", f"{path.name} has {picture.dtype} pixels; use 8-bit PNG or JPEG")
    if picture.ndim == 2:
        return np.repeat(picture[:, :, None], 3, axis=2)
    if picture.shape[2] == 4:
        alpha = picture[:, :, 3:4].astype(np.float32) / 255.0
        color = picture[:, :, :3].astype(np.float32)
        picture = np.round(color * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    elif picture.shape[2] == 2:  # grey + alpha
        alpha = picture[:, :, 1:2].astype(np.float32) / 255.0
        grey = picture[:, :, 0:1].astype(np.float32)
        picture = np.repeat(np.round(grey * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8), 3, axis=2)
        return picture
    return np.ascontiguousarray(picture[:, :, 2::-1])  # BGR -> RGB


def _trace_mask(mask) -> tuple[Polygon, ...]:
    """Outer outlines of a binary mask's blobs as simple polygons in canvas fractions."""
    import cv2
    from shapely.geometry import Polygon as ShapelyPolygon
    from shapely.validation import make_valid

    height, width = mask.shape
    tolerance = max(OUTLINE_SIMPLIFY_PIXELS, OUTLINE_SIMPLIFY_FRACTION * max(height, width))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    polygons: list[tuple[float, Polygon]] = []
    for contour in contours:
        points = contour[:, 0, :].astype(float)
        if len(points) < 3:
            continue
        shape = ShapelyPolygon(points).simplify(tolerance, preserve_topology=True)
        pieces = [shape] if shape.is_valid else _polygon_pieces(make_valid(shape))
        for piece in pieces:
            if piece.is_empty or piece.area <= 0.0:
                continue
            ring = list(piece.exterior.coords)[:-1]
            fractions = [(round(x / width, 6), round(y / height, 6)) for x, y in ring]
            fractions = [point for index, point in enumerate(fractions) if point != fractions[index - 1]]
            if len(fractions) >= 3 and _polygon_problem(fractions) is None:
                polygons.append((piece.area, tuple(fractions)))
    polygons.sort(key=lambda item: -item[0])  # largest blob first
    return tuple(polygon for _, polygon in polygons)


def _polygon_pieces(geometry) -> list:
    """The polygons inside a shapely geometry (make_valid may return a collection)."""
    if geometry.geom_type == "Polygon":
        return [geometry]
    if hasattr(geometry, "geoms"):
        return [piece for part in geometry.geoms for piece in _polygon_pieces(part)]
    return []


# ---------------------------------------------------------------------------------------------------
# LMD-style text

_LMD_KEYS = {"objects": "Objects", "background prompt": "Background prompt",
             "negative prompt": "Negative prompt", "caption": "Caption"}
_LMD_LINE = re.compile(r"\s*([A-Za-z][A-Za-z ]*?)\s*:(.*)$")
_LMD_TOKEN = re.compile(r"""
    (?P<number>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<string>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
  | (?P<punct>[\[\](),])
  | (?P<word>[A-Za-z_]\w*)
  | (?P<other>\S)
""", re.VERBOSE)
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r"}


class _LmdObjectsParser:
    """Recursive-descent reader for ``[('phrase', [x, y, w, h]), ...]``: strings, numbers, brackets.

    It reads tokens one at a time from `position`, stops right after the list's closing bracket, and
    accepts nothing else (no names, calls or expressions), so no code in a file can run.
    """

    def __init__(self, text: str, position: int, source: str):
        self.text = text
        self.position = position
        self.source = source

    def parse_list(self) -> list[tuple[str, tuple[float, ...], int]]:
        self._expect("[", "Objects", "a list starting with [")
        items: list[tuple[str, tuple[float, ...], int]] = []
        if self._peek_punct("]"):
            self._next()
            return items
        while True:
            items.append(self._parse_item(len(items)))
            kind, value, start = self._next()
            if (kind, value) == ("punct", ","):
                if self._peek_punct("]"):
                    self._next()
                    return items
                continue
            if (kind, value) == ("punct", "]"):
                return items
            self._fail(start, f"Objects[{len(items) - 1}]", value, "',' or ']' after a tuple")

    def _parse_item(self, index: int) -> tuple[str, tuple[float, ...], int]:
        field = f"Objects[{index}]"
        _, _, start = self._expect("(", field, "a tuple ('phrase', [x, y, w, h]) starting with (")
        kind, phrase, phrase_start = self._next()
        if kind != "string":
            self._fail(phrase_start, field, phrase, "the phrase as a quoted string")
        self._expect(",", field, "',' after the phrase")
        self._expect("[", f"{field} box", "a box [x, y, w, h] starting with [")
        numbers = []
        for position in range(4):
            kind, value, value_start = self._next()
            if kind != "number":
                self._fail(value_start, f"{field} box", value, f"number {position + 1} of 4 in [x, y, w, h]")
            numbers.append(float(value))
            separator = "," if position < 3 else "]"
            kind, value, value_start = self._next()
            if (kind, value) == ("punct", ",") and separator == "]" and self._peek_punct("]"):
                kind, value, value_start = self._next()  # a trailing comma: [x, y, w, h,]
            if (kind, value) != ("punct", separator):
                self._fail(value_start, f"{field} box", value, (
                    f"{separator!r}; a box is exactly 4 numbers [x, y, w, h]"))
        kind, value, value_start = self._next()
        if (kind, value) == ("punct", ",") and self._peek_punct(")"):
            kind, value, value_start = self._next()
        if (kind, value) != ("punct", ")"):
            self._fail(value_start, field, value, "')' closing the tuple ('phrase', [x, y, w, h])")
        line, _ = _line_and_column(self.text, start)
        return (phrase, tuple(numbers), line)

    def _next(self) -> tuple[str, str, int]:
        """The next token as (kind, value, start offset); kind "end" at the end of the text."""
        text = self.text
        while self.position < len(text) and text[self.position].isspace():
            self.position += 1
        start = self.position
        if start >= len(text):
            return ("end", "", start)
        match = _LMD_TOKEN.match(text, start)
        if match.lastgroup == "other" and match.group() in "'\"":
            line, column = _line_and_column(text, start)
            raise LayoutFileError(self.source, f"line {line}, Objects", (
                f"string starting at column {column} is not closed on its line; {_LMD_ITEM_RULE}"))
        self.position = match.end()
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "string":
            value = _unescape(value[1:-1])
        return (kind, value, start)

    def _peek_punct(self, punct: str) -> bool:
        saved = self.position
        kind, value, _ = self._next()
        self.position = saved
        return (kind, value) == ("punct", punct)

    def _expect(self, punct: str, field: str, wanted: str) -> tuple[str, str, int]:
        token = self._next()
        if token[:2] != ("punct", punct):
            self._fail(token[2], field, token[1], wanted)
        return token

    def _fail(self, offset: int, field: str, found: str, wanted: str) -> None:
        next_key_line = offset < len(self.text) and _starts_lmd_line(self.text, offset)
        if offset >= len(self.text) or next_key_line:
            # The list ran into the end of the text or the next "Key:" line: point at where it stopped.
            offset = len(self.text[:offset].rstrip())
            shown = "the end of the text" if not next_key_line else (
                f"the end of the line (the next line starts {self.text[offset:].split(':')[0].strip()!r}:)")
            shown += " before the list was closed"
        else:
            shown = _show(found)
        line, column = _line_and_column(self.text, offset)
        raise LayoutFileError(self.source, f"line {line}, {field}", (
            f"expected {wanted} at column {column}, found {shown}; {_LMD_ITEM_RULE}"))


def _starts_lmd_line(text: str, offset: int) -> bool:
    """Whether `offset` is the first non-blank character of a line that starts with a known LMD key."""
    line_start = text.rfind("\n", 0, offset) + 1
    if text[line_start:offset].strip():
        return False
    line_end = text.find("\n", offset)
    match = _LMD_LINE.match(text[line_start:len(text) if line_end < 0 else line_end])
    return bool(match) and " ".join(match.group(1).lower().split()) in _LMD_KEYS


def _unescape(body: str) -> str:
    """Undo the backslash escapes a Python repr writes in a string (\\\\, \\', \\", \\n, \\t, \\xhh, \\uhhhh)."""
    out = []
    index = 0
    while index < len(body):
        character = body[index]
        if character != "\\" or index + 1 >= len(body):
            out.append(character)
            index += 1
            continue
        code = body[index + 1]
        hex_length = {"x": 2, "u": 4, "U": 8}.get(code)
        digits = body[index + 2:index + 2 + hex_length] if hex_length else ""
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
            index += 2
        elif hex_length and len(digits) == hex_length and all(d in "0123456789abcdefABCDEF" for d in digits):
            out.append(chr(min(int(digits, 16), 0x10FFFF)))
            index += 2 + hex_length
        else:
            out.append(character)  # an unknown escape keeps its backslash, as Python does
            index += 1
    return "".join(out)


def _lmd_box(numbers: tuple[float, ...], source: str, field: str) -> tuple[float, float, float, float]:
    x, y, w, h = numbers
    side = LMD_CANVAS_SIDE
    rule = f"LMD boxes are [x, y, w, h] in pixels of a {side} x {side} canvas (x, y: top-left corner)"
    if not all(math.isfinite(v) for v in numbers):
        raise LayoutFileError(source, field, f"box numbers must be finite; {rule}")
    if w <= 0 or h <= 0:
        raise LayoutFileError(source, field, f"width {w:g} and height {h:g} must be positive; {rule}")
    if x < 0 or y < 0 or x + w > side or y + h > side:
        raise LayoutFileError(source, field, (
            f"box [{x:g}, {y:g}, {w:g}, {h:g}] reaches outside the canvas (x + w = {x + w:g}, "
            f"y + h = {y + h:g}; both must be at most {side}, x and y at least 0); {rule}"))
    return tuple(_round(v / side) for v in (x, y, x + w, y + h))


# ---------------------------------------------------------------------------------------------------
# Shared helpers

_HEX_COLOR = re.compile(r"#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})\Z")


def _read_text(path: Path) -> str:
    source = str(path)
    if not path.exists():
        raise LayoutFileError(source, "file", "not found; check the path")
    if not path.is_file():
        raise LayoutFileError(source, "file", "is not a file (a folder?); give the path of a layout file")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise LayoutFileError(source, "file", (
            f"is {size} bytes; layout files are small text files (at most {MAX_FILE_BYTES} bytes)"))
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise LayoutFileError(source, "file", (
            f"is not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start}); "
            "layout files are UTF-8 JSON, YAML or text")) from None


class _DuplicateKey(Exception):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _load_document(text: str, source: str, yaml_syntax: bool) -> Any:
    """Parse JSON or YAML text into plain data; syntax errors name the line and column."""
    if not yaml_syntax:
        try:
            return json.loads(text, object_pairs_hook=_unique_pairs)
        except json.JSONDecodeError as error:
            raise LayoutFileError(source, f"line {error.lineno}, column {error.colno}", (
                f"not valid JSON ({error.msg}); fix the syntax (JSON needs double quotes, no trailing commas)"
            )) from None
        except _DuplicateKey as error:
            raise LayoutFileError(source, f"key {json.dumps(error.key)}", (
                "appears twice in one object; give each key once")) from None
        except RecursionError:
            raise LayoutFileError(source, "document", "is nested too deeply to be a layout") from None
    import yaml

    try:
        return yaml.load(text, Loader=_yaml_loader())  # a SafeLoader subclass: no objects, no code
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "document"
        problem = error.problem or error.context or "syntax error"
        if isinstance(error, yaml.constructor.ConstructorError):
            rule = (f"not valid YAML for a layout ({problem}); layout files hold plain data (mappings, "
                    "lists, text, numbers) with each key once, and no tags such as !!python/...")
        else:
            rule = f"not valid YAML ({problem}); fix the syntax (and quote colours such as \"#ff0000\")"
        raise LayoutFileError(source, where, rule) from None
    except yaml.YAMLError as error:
        raise LayoutFileError(source, "document", f"not valid YAML ({error})") from None
    except RecursionError:
        raise LayoutFileError(source, "document", "is nested too deeply to be a layout") from None


def _yaml_loader():
    """yaml.SafeLoader plus one check: a key given twice in one mapping is an error, not overwritten."""
    import yaml

    class UniqueKeySafeLoader(yaml.SafeLoader):
        pass

    def construct_mapping(loader, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                continue  # unhashable: SafeLoader reports it below
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice in one mapping", key_node.start_mark)
            seen.add(key)
        return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)

    UniqueKeySafeLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return UniqueKeySafeLoader


def _check_string_keys(data: dict, source: str, field: str) -> None:
    for key in data:
        if not isinstance(key, str):
            raise LayoutFileError(source, field, f"key {_show(key)} is not text; keys are names such as \"objects\"")


def _check_keys(data: dict, allowed: tuple[str, ...], source: str, field: str) -> None:
    _check_string_keys(data, source, field or "document")
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            where = f"{field}.{key}" if field else key
            raise LayoutFileError(source, where, (
                f"unknown key{hint}; allowed keys here: {', '.join(allowed)}"))


def _dump_json(data: dict[str, Any]) -> str:
    """JSON with one top-level key per line and one object per line (boxes stay on one line)."""
    lines = ["{"]
    items = list(data.items())
    for index, (key, value) in enumerate(items):
        comma = "," if index < len(items) - 1 else ""
        if key == "objects":
            lines.append('  "objects": [')
            for position, item in enumerate(value):
                item_comma = "," if position < len(value) - 1 else ""
                lines.append(f"    {json.dumps(item, ensure_ascii=False)}{item_comma}")
            lines.append(f"  ]{comma}")
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _line_and_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _distance(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    return math.dist(a, b)


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _kind(value: Any) -> str:
    """A short description of a value's type for error messages ("a list", "text 'abc'", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, str):
        return f"text {_show(value)}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _show(value: Any, limit: int = 60) -> str:
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


__all__ = [
    "FORMATS", "LAYOUT_FORMAT", "MAX_OBJECTS", "SKETCH_FORMAT", "LayoutFileError", "layout_from_dict",
    "layout_to_dict", "layout_to_text", "parse_lmd_text", "read_layout", "trace_painted_colors",
    "write_layout",
]
