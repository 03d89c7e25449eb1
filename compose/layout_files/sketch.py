"""Sketch layouts: a painted picture plus a legend, `compose.sketch/v1` (compose/specs/layout-files.md, section 2).

Every legend colour becomes one region whose polygons are the outlines (OpenCV contours) of every blob
painted in that colour, within a colour tolerance that copes with anti-aliased edges and JPEG
compression; one colour painted as several blobs stays one object. Outlines pass through the centres of
a blob's edge pixels (divided by the picture's width and height), so `Region.mask` at the picture's size
gives back the painted pixels; holes inside a blob are filled.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from compose.layout_files.common import (
    DEFAULT_COLOR_TOLERANCE, MAX_OBJECTS, LayoutFileError, bounding_box, check_keys, kind_of, optional_text,
    polygon_problem, read_canvas, show_value,
)
from compose.scene import Layout, Polygon, Region

MAX_PICTURE_PIXELS = 40_000_000

# Distances are Euclidean in RGB (0..255 per channel).
MIN_COLOR_SEPARATION = 30.0  # legend colours closer than this cannot be told apart after JPEG
MIN_DISTANCE_FROM_WHITE = 60.0  # a legend colour this close to the white background is invisible
UNLISTED_AREA_FRACTION = 0.005  # unlisted paint covering more of the picture than this is an error
MIN_BLOB_FRACTION = 0.0002  # blobs smaller than this fraction of the picture are specks, not paint
BLEND_BAND_PIXELS = 3  # unassigned pixels this close to legend paint are anti-aliased / JPEG edges
OUTLINE_SIMPLIFY_PIXELS = 0.75  # outlines are simplified (Douglas-Peucker) by at most this much,
OUTLINE_SIMPLIFY_FRACTION = 0.001  # or this fraction of the picture's longer side, if more
_WHITE = (255, 255, 255)

_SKETCH_KEYS = ("format", "image", "legend", "prompt", "background", "negative", "canvas")
_COLOR_RULE = 'write colours as "#rrggbb" or "#rgb" hex (e.g. "#ff0000"; in YAML, quote them)'
_HEX_COLOR = re.compile(r"#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})\Z")


def read_sketch_document(data: dict, source: str, base_dir: Path, color_tolerance: float) -> Layout:
    check_keys(data, _SKETCH_KEYS, source, "")
    texts = {key: optional_text(data, key, source) for key in ("prompt", "background", "negative")}
    canvas = read_canvas(data, source)
    legend = _legend(data, source)
    picture_path = _picture_path(data, source, base_dir)
    picture = _read_picture(picture_path, source)
    outlines, unlisted = trace_painted_colors(picture, [rgb for rgb, _, _ in legend], tolerance=color_tolerance)
    for (rgb, written, phrase), polygons in zip(legend, outlines):
        if not polygons:
            raise LayoutFileError(source, f"legend[{json.dumps(written)}]", (
                f"colour {_hex(rgb)} ({show_value(phrase)}) is not painted in {picture_path.name} "
                f"(no area within colour distance {color_tolerance:g}); paint it or remove it from the legend"))
    if unlisted is not None:
        rgb, fraction, box = unlisted
        where = ", ".join(f"{v:.2f}" for v in box)
        raise LayoutFileError(source, "legend", (
            f"{picture_path.name} has paint of colour {_hex(rgb)} covering {100 * fraction:.1f}% of the "
            f"picture (around box [{where}]) that is in no legend colour; add it to the legend or paint "
            f"it over in white (specks under {100 * UNLISTED_AREA_FRACTION:g}% are ignored)"))
    regions = tuple(
        Region(phrase=phrase, box=bounding_box(polygons), polygons=polygons)
        for (_, _, phrase), polygons in zip(legend, outlines))
    return Layout(regions=regions, canvas=canvas, **texts)


def _legend(data: dict, source: str) -> list[tuple[tuple[int, int, int], str, str]]:
    """The legend as [(rgb, colour as written, phrase)] in file order, checked (compose/specs/layout-files.md, section 2)."""
    if "legend" not in data:
        raise LayoutFileError(source, "legend", (
            'missing; add "legend": {"#ff0000": "a red armchair", ...} mapping each paint colour to its phrase'))
    legend = data["legend"]
    if not isinstance(legend, dict):
        raise LayoutFileError(source, "legend", (
            f'must map colours to phrases, e.g. {{"#ff0000": "a red armchair"}}, got {kind_of(legend)}; '
            f"{_COLOR_RULE}"))
    if not legend:
        raise LayoutFileError(source, "legend", (
            f"is empty; map 1 to {MAX_OBJECTS} paint colours to phrases; {_COLOR_RULE}"))
    if len(legend) > MAX_OBJECTS:
        raise LayoutFileError(source, "legend", (
            f"has {len(legend)} colours; at most {MAX_OBJECTS} objects are allowed"))
    entries: list[tuple[tuple[int, int, int], str, str]] = []
    for key, phrase in legend.items():
        field = f"legend[{json.dumps(key) if isinstance(key, str) else show_value(key)}]"
        color = _parse_color(key, source, field)
        if not isinstance(phrase, str) or not phrase.strip():
            shown = "is empty" if isinstance(phrase, str) else f"must be text, got {kind_of(phrase)}"
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
        raise LayoutFileError(source, field, f"{show_value(key)} is not a colour; {_COLOR_RULE}")
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
            f"must be the painted picture's path (PNG or JPEG, relative to the legend file), got {show_value(image)}"))
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


# ---------------------------------------------------------------------------------------------------
# Tracing painted colours


def trace_painted_colors(picture, colors: list[tuple[int, int, int]],
                         tolerance: float = DEFAULT_COLOR_TOLERANCE):
    """Find where each colour is painted in an RGB picture, as outlines (compose/specs/layout-files.md, section 2).

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
            if len(fractions) >= 3 and polygon_problem(fractions) is None:
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


def _distance(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    return math.dist(a, b)


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)
