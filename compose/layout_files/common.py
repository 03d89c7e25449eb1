"""What every layout file reader shares: the limits, the error, and the checks of keys and values.

Every malformed file raises `LayoutFileError` (a `ValueError`) whose one-line message names the file,
the field and the rule with what is allowed (compose/specs/layout-files.md, "Errors").
"""

from __future__ import annotations

import difflib
import os
import re
from typing import Any

from compose.scene import LAYOUT_FORMAT, Polygon

SKETCH_FORMAT = "compose.sketch/v1"
FORMATS = (LAYOUT_FORMAT, SKETCH_FORMAT)
MAX_OBJECTS = 16
MAX_CANVAS_SIDE = 16384
COORDINATE_DECIMALS = 9  # coordinates are rounded to this many decimals when read and written

LAYOUT_SUFFIXES = (".json", ".yaml", ".yml")
TEXT_SUFFIXES = (".txt",)
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg")

# Sketch reading (compose/specs/layout-files.md, section 2): RGB distance 0..255 per channel.
DEFAULT_COLOR_TOLERANCE = 80.0  # a pixel belongs to its nearest legend colour when at most this far


class LayoutFileError(ValueError):
    """A layout file that breaks the rules of compose/specs/layout-files.md: names the file, the field and the rule
    that was broken."""

    def __init__(self, path: str | os.PathLike, field: str, rule: str):
        self.path = str(path)
        self.field = _one_line(field)
        self.rule = _one_line(rule)
        message = f"{self.path}: {self.field}: {self.rule}" if self.field else f"{self.path}: {self.rule}"
        super().__init__(message)


# ---------------------------------------------------------------------------------------------------
# Checks of keys and values


def check_string_keys(data: dict, source: str, field: str) -> None:
    for key in data:
        if not isinstance(key, str):
            raise LayoutFileError(source, field, (
                f"key {show_value(key)} is not text; keys are names such as \"objects\""))


def check_keys(data: dict, allowed: tuple[str, ...], source: str, field: str) -> None:
    check_string_keys(data, source, field or "document")
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            where = f"{field}.{key}" if field else key
            raise LayoutFileError(source, where, (
                f"unknown key{hint}; allowed keys here: {', '.join(allowed)}"))


def optional_text(data: dict, key: str, source: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise LayoutFileError(source, key, f"must be text (or left out), got {kind_of(value)}")
    return value


def read_canvas(data: dict, source: str) -> tuple[int, int] | None:
    value = data.get("canvas")
    if value is None:
        return None
    rule = f"canvas is [width, height]: two whole numbers of pixels from 1 to {MAX_CANVAS_SIDE}"
    if not isinstance(value, list) or len(value) != 2:
        shown = counted(len(value), "value") if isinstance(value, list) else kind_of(value)
        raise LayoutFileError(source, "canvas", f"got {shown}; {rule}")
    for name, side in zip(("width", "height"), value):
        if isinstance(side, bool) or not isinstance(side, int) or not 1 <= side <= MAX_CANVAS_SIDE:
            raise LayoutFileError(source, "canvas", f"{name} {show_value(side)} is not allowed; {rule}")
    return (value[0], value[1])


def polygon_problem(points: list[tuple[float, float]]) -> str | None:
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


def bounding_box(polygons: tuple[Polygon, ...]) -> tuple[float, float, float, float]:
    xs = [x for polygon in polygons for x, _ in polygon]
    ys = [y for polygon in polygons for _, y in polygon]
    return (min(xs), min(ys), max(xs), max(ys))


def round_coordinate(value: float) -> float:
    return round(float(value), COORDINATE_DECIMALS)


# ---------------------------------------------------------------------------------------------------
# Pieces of error messages


def kind_of(value: Any) -> str:
    """A short description of a value's type for error messages ("a list", "text 'abc'", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, str):
        return f"text {show_value(value)}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def counted(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def show_value(value: Any, limit: int = 60) -> str:
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
