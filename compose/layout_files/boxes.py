"""Box layouts: the `compose.layout/v1` document in JSON or YAML (compose/specs/layout-files.md, section 1).

A list of objects, each a phrase and exactly one region: `box`, `polygon`, or the extension key
`polygons` (several simple polygons that together form the region; a sketch colour painted as several
blobs is written this way, so nothing is lost). `layout_to_dict` and `dump_json` write the document.
"""

from __future__ import annotations

import json
import math
from typing import Any

from compose.layout_files.common import (
    COORDINATE_DECIMALS, MAX_OBJECTS, LayoutFileError, bounding_box, check_keys, counted, kind_of, optional_text,
    polygon_problem, read_canvas, round_coordinate, show_value,
)
from compose.scene import LAYOUT_FORMAT, Layout, Polygon, Region

_LAYOUT_KEYS = ("format", "prompt", "background", "negative", "canvas", "objects")
_OBJECT_KEYS = ("phrase", "box", "polygon", "polygons")
_REGION_KEYS = ("box", "polygon", "polygons")
_BOX_RULE = "boxes are [x0, y0, x1, y1] in [0, 1]"
_POLYGON_RULE = "a polygon is a list of at least 3 [x, y] points in [0, 1] tracing a simple outline"


def read_box_document(data: dict, source: str) -> Layout:
    check_keys(data, _LAYOUT_KEYS, source, "")
    texts = {key: optional_text(data, key, source) for key in ("prompt", "background", "negative")}
    canvas = read_canvas(data, source)
    if "objects" not in data:
        raise LayoutFileError(source, "objects", (
            f'missing; add "objects": a list of 1 to {MAX_OBJECTS} objects such as '
            '{"phrase": "a red circle", "box": [0.1, 0.35, 0.4, 0.65]}'))
    objects = data["objects"]
    if not isinstance(objects, list):
        raise LayoutFileError(source, "objects", (
            f"must be a list of 1 to {MAX_OBJECTS} objects, got {kind_of(objects)}"))
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
            f"got {kind_of(item)}"))
    check_keys(item, _OBJECT_KEYS, source, field)
    phrase = _phrase(item, source, field)
    present = [key for key in _REGION_KEYS if key in item]
    if not present:
        raise LayoutFileError(source, field, (
            "has no region; give exactly one of box [x0, y0, x1, y1], polygon [[x, y], ...] "
            "or polygons [[[x, y], ...], ...]"))
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
                f"must be a non-empty list of polygons ({_POLYGON_RULE}), got {kind_of(value)}"))
        polygons = tuple(_polygon(polygon, source, f"{field}.polygons[{index}]")
                         for index, polygon in enumerate(value))
    return Region(phrase=phrase, box=bounding_box(polygons), polygons=polygons)


def _box(value: Any, source: str, field: str) -> tuple[float, float, float, float]:
    if not isinstance(value, list) or len(value) != 4:
        shown = counted(len(value), "value") if isinstance(value, list) else kind_of(value)
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
        raise LayoutFileError(source, field, f"must be a list of [x, y] points, got {kind_of(value)}; {_POLYGON_RULE}")
    points = []
    for index, point in enumerate(value):
        if not isinstance(point, list) or len(point) != 2:
            shown = counted(len(point), "value") if isinstance(point, list) else kind_of(point)
            raise LayoutFileError(source, f"{field}[{index}]", (
                f"a point must be [x, y], got {shown}; {_POLYGON_RULE}"))
        points.append(tuple(_fraction(v, source, f"{field}[{index}]", name, _POLYGON_RULE)
                            for name, v in zip(("x", "y"), point)))
    if len(points) > 3 and points[-1] == points[0]:
        points.pop()  # a closed ring written with its first point repeated
    if len(points) < 3:
        raise LayoutFileError(source, field, f"has {counted(len(points), 'point')}; {_POLYGON_RULE}")
    problem = polygon_problem(points)
    if problem:
        raise LayoutFileError(source, field, f"{problem}; {_POLYGON_RULE}")
    return tuple(points)


def _fraction(value: Any, source: str, field: str, name: str, rule: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LayoutFileError(source, field, f"{name} must be a number, got {show_value(value)}; {rule}")
    number = float(value)
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise LayoutFileError(source, field, (
            f"{name} ({number:g}) is outside [0, 1]; coordinates are fractions of the canvas; {rule}"))
    return round(number, COORDINATE_DECIMALS)


def _phrase(item: dict, source: str, field: str) -> str:
    if "phrase" not in item:
        raise LayoutFileError(source, f"{field}.phrase", 'missing; say what the object is, e.g. "a red circle"')
    phrase = item["phrase"]
    if not isinstance(phrase, str):
        raise LayoutFileError(source, f"{field}.phrase", f"must be text, got {kind_of(phrase)}")
    if not phrase.strip():
        raise LayoutFileError(source, f"{field}.phrase", 'is empty; say what the object is, e.g. "a red circle"')
    return phrase


# ---------------------------------------------------------------------------------------------------
# Writing


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


def _region_to_dict(region: Region) -> dict[str, Any]:
    item: dict[str, Any] = {"phrase": region.phrase}
    if not region.polygons:
        item["box"] = [round_coordinate(v) for v in region.box]
    elif len(region.polygons) == 1:
        item["polygon"] = [[round_coordinate(x), round_coordinate(y)] for x, y in region.polygons[0]]
    else:
        item["polygons"] = [[[round_coordinate(x), round_coordinate(y)] for x, y in polygon]
                            for polygon in region.polygons]
    return item


def dump_json(data: dict[str, Any]) -> str:
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
