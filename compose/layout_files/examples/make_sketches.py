"""Paint the example sketch pictures in this folder (compose/specs/layout-files.md, section 2).

Run from the repository root:  .venv/bin/python compose/layout_files/examples/make_sketches.py
It (re)writes office_sketch.png and shapes_sketch.jpg in this folder, the pictures that
office_sketch.json and shapes_sketch.yaml name. They imitate what a person paints: flat colours on a
white picture with anti-aliased edges; the office plant is one colour in two separate blobs (leaves and
pot), and the shapes picture is saved as a fairly compressed JPEG to exercise the colour tolerance.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

FOLDER = Path(__file__).resolve().parent
RED = (255, 0, 0)
BLUE = (0, 0, 255)
ORANGE = (255, 140, 0)
# shapes-world palette (compose/specs/shapes-world.md)
SHAPE_RED = (220, 30, 30)
SHAPE_BLUE = (30, 70, 220)
SHAPE_GREEN = (30, 160, 60)


def _bgr(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    return (rgb[2], rgb[1], rgb[0])


def _fill(picture: np.ndarray, points: list[tuple[float, float]], rgb: tuple[int, int, int]) -> None:
    """Fill a polygon with anti-aliased edges (4 bits of sub-pixel precision)."""
    shift = 4
    scaled = np.round(np.array(points) * (1 << shift)).astype(np.int32)
    cv2.fillPoly(picture, [scaled], _bgr(rgb), lineType=cv2.LINE_AA, shift=shift)


def paint_office(width: int = 640, height: int = 480) -> np.ndarray:
    """A red armchair (one blob of seat, back and arms), a blue plant (leaves and pot: two blobs) and an
    orange desk, as a BGR picture."""
    picture = np.full((height, width, 3), 255, dtype=np.uint8)
    # Armchair: back, seat and two arms overlap, so they paint one blob.
    cv2.ellipse(picture, (190, 250), (95, 70), 0, 180, 360, _bgr(RED), -1, cv2.LINE_AA)
    _fill(picture, [(95, 250), (285, 250), (285, 330), (95, 330)], RED)
    _fill(picture, [(80, 240), (115, 235), (118, 360), (84, 362)], RED)
    _fill(picture, [(265, 235), (300, 240), (296, 362), (262, 360)], RED)
    _fill(picture, [(100, 330), (110, 330), (112, 395), (98, 395)], RED)
    _fill(picture, [(270, 330), (280, 330), (282, 395), (268, 395)], RED)
    # Plant: a cluster of leaves, and below it, apart, the pot.
    for angle in range(-60, 61, 30):
        radians = math.radians(angle - 90)
        cx = 520 + 55 * math.cos(radians)
        cy = 185 + 75 * math.sin(radians)
        cv2.ellipse(picture, (round(cx), round(cy)), (22, 60), angle, 0, 360, _bgr(BLUE), -1, cv2.LINE_AA)
    cv2.ellipse(picture, (520, 215), (40, 60), 0, 0, 360, _bgr(BLUE), -1, cv2.LINE_AA)
    _fill(picture, [(478, 300), (562, 300), (550, 400), (490, 400)], BLUE)
    # Desk: a top and two legs, behind on the right.
    _fill(picture, [(330, 300), (450, 300), (450, 318), (330, 318)], ORANGE)
    _fill(picture, [(338, 318), (350, 318), (350, 420), (338, 420)], ORANGE)
    _fill(picture, [(430, 318), (442, 318), (442, 420), (430, 420)], ORANGE)
    return picture


def paint_shapes(side: int = 256) -> np.ndarray:
    """A red circle left of a blue square, a green star above both, as a BGR picture."""
    picture = np.full((side, side, 3), 255, dtype=np.uint8)
    s = side / 256
    cv2.circle(picture, (round(60 * s), round(170 * s)), round(38 * s), _bgr(SHAPE_RED), -1, cv2.LINE_AA)
    _fill(picture, [(150 * s, 132 * s), (226 * s, 132 * s), (226 * s, 208 * s), (150 * s, 208 * s)], SHAPE_BLUE)
    cx, cy, outer = 128 * s, 58 * s, 40 * s
    star = []
    for index in range(10):
        radius = outer if index % 2 == 0 else 0.45 * outer
        angle = -math.pi / 2 + index * math.pi / 5
        star.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    _fill(picture, star, SHAPE_GREEN)
    return picture


def main() -> None:
    cv2.imwrite(str(FOLDER / "office_sketch.png"), paint_office())
    cv2.imwrite(str(FOLDER / "shapes_sketch.jpg"), paint_shapes(), [cv2.IMWRITE_JPEG_QUALITY, 60])


if __name__ == "__main__":
    main()
