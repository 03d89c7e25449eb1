"""Draw shapes-world scenes exactly as compose/specs/shapes-world.md (spec v1) says.

Each shape is filled flat in its palette colour over a white canvas; edges are anti-aliased by
rendering the shape's pixel neighbourhood at `SUPERSAMPLE` times the resolution and averaging
(coverage), so an edge pixel is a tint between white and the colour, which is what the detector
expects. Rendering is deterministic and works at any canvas size (64 to 512 and beyond).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from compose.shapes import world

SUPERSAMPLE = 4
# A circle is drawn as a 96-gon: at 4x supersampling its edge is within 0.1% of the true radius.
_CIRCLE_ANGLES = np.linspace(0, 2 * math.pi, 96, endpoint=False)
_CIRCLE_UNIT = np.stack([np.cos(_CIRCLE_ANGLES), np.sin(_CIRCLE_ANGLES)], axis=1)
_CIRCLE_UNIT.setflags(write=False)


@dataclass(frozen=True)
class ShapeInstance:
    """One drawn (or detected) object: a shape name, a palette colour name, its box in canvas fractions."""

    shape: str
    color: str
    box: world.Box

    def to_dict(self) -> dict:
        return {"shape": self.shape, "color": self.color, "box": [round(v, 4) for v in self.box]}


def shape_outline(shape: str, box: world.Box) -> np.ndarray:
    """The shape's outline as an (N, 2) array of (x, y) points in the same units as `box`.

    The shape is inscribed in the square box (shapes world spec v1, "Shapes" table)."""
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half = min(x1 - x0, y1 - y0) / 2
    if shape == "square":
        points = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    elif shape == "triangle":
        points = [(cx, y0), (x1, y1), (x0, y1)]
    elif shape == "diamond":
        points = [(cx, y0), (x1, cy), (cx, y1), (x0, cy)]
    elif shape == "circle":
        return _CIRCLE_UNIT * half + (cx, cy)
    elif shape == "star":
        points = []
        for k in range(10):
            radius = half if k % 2 == 0 else half * world.STAR_INNER_RATIO
            angle = -math.pi / 2 + k * math.pi / 5  # first point straight up (y grows downwards)
            points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    else:
        raise ValueError(f"unknown shape {shape!r}; the shapes world has {', '.join(world.SHAPES)}")
    return np.asarray(points, dtype=np.float64)


def coverage_mask(shape: str, box: world.Box, size: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Anti-aliased coverage (0..1 floats) of a shape on a `size` x `size` canvas, cropped to its box.

    Returns the coverage crop and its top-left pixel (column, row); only the crop is supersampled."""
    x0, y0, x1, y1 = box
    left, top = max(int(math.floor(x0 * size)) - 1, 0), max(int(math.floor(y0 * size)) - 1, 0)
    right, bottom = min(int(math.ceil(x1 * size)) + 1, size), min(int(math.ceil(y1 * size)) + 1, size)
    width, height = right - left, bottom - top
    if width <= 0 or height <= 0:
        return np.zeros((0, 0), dtype=np.float32), (left, top)
    fine = SUPERSAMPLE
    outline = shape_outline(shape, box) * size
    outline = (outline - (left, top)) * fine
    canvas = np.zeros((height * fine, width * fine), dtype=np.uint8)
    # fillPoly with 8 fractional bits: sub-pixel accurate vertices; pixel centres sit at +0.5.
    fixed = np.round((outline - 0.5) * 256).astype(np.int32)
    cv2.fillPoly(canvas, [fixed], 255, lineType=cv2.LINE_8, shift=8)
    coverage = cv2.resize(canvas, (width, height), interpolation=cv2.INTER_AREA)
    return coverage.astype(np.float32) / 255.0, (left, top)


def render(objects: list[ShapeInstance] | tuple[ShapeInstance, ...], size: int = 64) -> np.ndarray:
    """Render objects (later ones in front) to a (size, size, 3) uint8 RGB image on white."""
    if not 8 <= size <= 4096:
        raise ValueError(f"canvas size {size} is outside 8..4096 pixels")
    image = np.full((size, size, 3), world.BACKGROUND_RGB, dtype=np.float32)
    for item in objects:
        if item.color not in world.PALETTE:
            raise ValueError(f"unknown colour {item.color!r}; the palette has {', '.join(world.PALETTE)}")
        alpha, (left, top) = coverage_mask(item.shape, item.box, size)
        if alpha.size == 0:
            continue
        height, width = alpha.shape
        patch = image[top:top + height, left:left + width]
        colour = np.asarray(world.PALETTE[item.color], dtype=np.float32)
        patch += alpha[..., None] * (colour - patch)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def layout_instances(scene, layout) -> list[ShapeInstance]:
    """The ShapeInstances a shapes-world layout places: each region drawn as its group's shape and colour."""
    instances = []
    for region in layout.regions:
        if region.group is None:
            raise ValueError(f"region {region.phrase!r} names no scene group; cannot tell which shape to draw")
        group = scene.group(region.group)
        if group.noun not in world.SHAPES or group.color is None:
            raise ValueError(f"group {group.phrase!r} is not a coloured shapes-world shape")
        instances.append(ShapeInstance(group.noun, group.color, region.box))
    return instances


def render_layout(scene, layout, size: int = 64) -> np.ndarray:
    """Scene + layout -> RGB image: the renderer's entry point for planned shapes-world layouts."""
    return render(layout_instances(scene, layout), size)
