"""Paint the sketch layouts of the benchmark's layout suite (compose/specs/layout-files.md, section 2).

Run from the repository root:  .venv/bin/python benchmarks/suites/make_sketches.py
It (re)writes the two pictures that sketch13_*.json and sketch14_*.yaml name, in the layout suite
shipped with the package (compose/bench/suites_data/layout/). Each object is painted
the way a person roughs one in with a brush: a flat blob of one paint colour with a wobbly outline,
roughly the shape it stands for and roughly square, sized like a shapes-world object (sides 0.25-0.30
of the picture), on white, with anti-aliased edges. The paint colours are only legend keys: the legend
says what each blob is ("an orange star"), so two stars of one group are painted in two colours.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import cv2
import numpy as np

FOLDER = Path(__file__).resolve().parents[2] / "compose" / "bench" / "suites_data" / "layout"
SIDE = 256  # picture side in pixels
SUBPIXEL_BITS = 4


def _wobbly(points: list[tuple[float, float]], rng: random.Random, wobble: float) -> list[tuple[float, float]]:
    """Resample an outline densely and push each point out or in a little, as a hand-held brush does."""
    dense = []
    for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1]):
        steps = max(int(math.hypot(x1 - x0, y1 - y0) / 0.02), 1)
        dense += [(x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps) for k in range(steps)]
    return [(x + rng.uniform(-wobble, wobble), y + rng.uniform(-wobble, wobble)) for x, y in dense]


def _outline(shape: str, cx: float, cy: float, half: float) -> list[tuple[float, float]]:
    """The rough outline of a shape centred at (cx, cy) with half-side `half`, in picture fractions."""
    if shape == "circle":
        return [(cx + half * math.cos(2 * math.pi * k / 40), cy + half * math.sin(2 * math.pi * k / 40))
                for k in range(40)]
    if shape == "square":
        return [(cx - half, cy - half), (cx + half, cy - half), (cx + half, cy + half), (cx - half, cy + half)]
    if shape == "triangle":
        return [(cx, cy - half), (cx + half, cy + half), (cx - half, cy + half)]
    if shape == "diamond":
        return [(cx, cy - half), (cx + half, cy), (cx, cy + half), (cx - half, cy)]
    if shape == "star":
        return [(cx + (half if k % 2 == 0 else 0.45 * half) * math.cos(-math.pi / 2 + k * math.pi / 5),
                 cy + (half if k % 2 == 0 else 0.45 * half) * math.sin(-math.pi / 2 + k * math.pi / 5))
                for k in range(10)]
    raise ValueError(f"no outline for {shape!r}")


def paint(blobs: list[tuple[str, float, float, float, str]], seed: int) -> np.ndarray:
    """A white RGB picture with one wobbly blob per (shape, cx, cy, half, "#rrggbb" paint colour)."""
    rng = random.Random(seed)
    picture = np.full((SIDE, SIDE, 3), 255, dtype=np.uint8)
    for shape, cx, cy, half, paint_color in blobs:
        rgb = tuple(int(paint_color[i:i + 2], 16) for i in (1, 3, 5))
        outline = _wobbly(_outline(shape, cx, cy, half), rng, wobble=0.006)
        points = np.round(np.array(outline) * SIDE * (1 << SUBPIXEL_BITS)).astype(np.int32)
        cv2.fillPoly(picture, [points], rgb, lineType=cv2.LINE_AA, shift=SUBPIXEL_BITS)
    return picture


SKETCHES = {
    # a red circle to the left of a green triangle, and a blue square below the triangle
    "sketch13_circle_triangle_square.png": [
        ("circle", 0.22, 0.30, 0.13, "#e03030"),
        ("triangle", 0.70, 0.30, 0.14, "#30a050"),
        ("square", 0.70, 0.74, 0.13, "#3050e0"),
    ],
    # two orange stars and a purple diamond (each star has its own paint colour in the legend)
    "sketch14_stars_and_diamond.png": [
        ("star", 0.25, 0.25, 0.15, "#ff8c00"),
        ("star", 0.75, 0.27, 0.15, "#8b4513"),
        ("diamond", 0.50, 0.72, 0.15, "#8c32be"),
    ],
}


def main() -> None:
    for index, (name, blobs) in enumerate(SKETCHES.items()):
        picture = paint(blobs, seed=index)
        cv2.imwrite(str(FOLDER / name), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main()
