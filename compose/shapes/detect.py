"""Read a shapes-world picture back into objects (compose/specs/shapes-world.md, spec v1, "Detection").

The scorer judges every image only through this read-back, so it must be exact on clean renders and
hold up on softer, noisier pictures. It works in four steps:

1. Pixel classes. Every pixel is read as a tint of one palette colour: of the six segments from white
   to a palette colour, the one that passes nearest the pixel. The pixel is foreground when it lies past
   the middle of that segment (projection t > 0.5), which is where an anti-aliased edge pixel is more
   than half covered.
2. Components. The foreground of each colour is split into 8-connected components; a component counts
   as an object when it is at least as large as the smallest shape (a star, 0.33 s^2) of side
   `world.MIN_DETECTABLE_SIDE`. Smaller specks are noise.
3. Mass and centre. Around each object (its component grown by a fringe of 3 px at 64 px, scaled
   with the canvas, less the pixels next to other objects) the tint along the object's own segment
   is summed: that sum is the shape's area in pixels and its weighted mean is the shape's centroid,
   both to sub-pixel accuracy, because anti-aliasing and blur move tint around without creating or
   destroying it, and noise averages out.
4. Shape and box. For each of the five shapes, the area and centroid fix the one box the renderer
   would have drawn that shape in (area = k s^2 plus the renderer's sub-pixel growth along the
   perimeter, centroid = box centre + offset * s, with k, the perimeter and the offset measured on the
   renderer's own outlines). The shape is the one whose anti-aliased drawing in its box best matches
   the observed tints (least L1 difference, the drawing also taken blurred by a few sigmas so that
   soft pictures are judged fairly): the outline, its fill of the box, its convexity and where it is
   widest are all judged at once by this comparison. Pictures over 255 px are compared on a grid
   reduced by an integer factor (block averages), which tells shapes apart as well and costs less.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from compose.shapes import world
from compose.shapes.render import SUPERSAMPLE, ShapeInstance, coverage_mask, shape_outline

COLOR_NAMES: tuple[str, ...] = tuple(world.PALETTE)
MIN_IMAGE_SIZE = 64
MAX_IMAGE_SIZE = 512
FOREGROUND_TINT = 0.5  # shapes world spec v1: foreground when the pixel lies past the middle of its segment
NATIVE_SIZE = 64  # the bundled model's canvas; lengths in pixels below are at this size, scaled with it
FRINGE_PIXELS = 3.0  # how far around a component its anti-aliased / blurred edge tint is gathered
# Softness the shape comparison allows for, as Gaussian blur sigmas in pixels at NATIVE_SIZE: clean
# renders match the sharp drawing, softer pictures (blurred, generated) a blurred one.
BLUR_SIGMAS = (0.0, 0.35, 0.7, 1.0, 1.3, 1.6, 2.0)
SHARP_FIT = 0.05  # a sharp drawing fitting this well (fit error) is not compared blurred
COMPARISON_MIN_SIZE = 128  # larger pictures are compared on a grid reduced to at least this size
_TINT_LIMITS = (-1.0, 2.0)  # tints outside this are wild pixels, not evidence of coverage
# The renderer's polygon fill covers every supersampled pixel whose centre touches the outline, so a
# drawn shape reaches about half a supersampled pixel beyond its outline all round (measured: area in
# excess of k s^2 is 0.10-0.125 px times the perimeter for every shape at 64 and 512 px).
RENDER_GROWTH_PIXELS = 0.5 / SUPERSAMPLE


@dataclass(frozen=True)
class PixelClasses:
    """The per-pixel reading of an image, for detection and for debugging.

    `color_index[y, x]` is -1 for background, else the index into COLOR_NAMES of the palette colour
    whose white-to-colour segment passes nearest the pixel (the pixel lies past that segment's
    middle). `projections[y, x, c]` is the pixel's unclamped position along colour c's segment:
    (X - white).(P - white) / |P - white|^2, 0 at white and 1 at the full colour.
    """

    color_index: np.ndarray  # (H, W) int8
    projections: np.ndarray  # (H, W, len(COLOR_NAMES)) float32

    @property
    def foreground(self) -> np.ndarray:
        """(H, W) bool: pixels past the middle of their nearest segment."""
        return self.color_index >= 0


@dataclass(frozen=True)
class Detection:
    """Everything `detect_detailed` found: the objects, how well each fits its shape, the pixel reading.

    `fit_errors[i]` is the L1 difference between object i's observed tint and the renderer's drawing of
    its shape in its box, divided by its area: 0 for a perfect fit, about 0.00-0.03 on clean renders and
    0.05-0.15 on blurred, noisy ones; a blob that fits no shape scores 0.3 and more. `areas[i]` is its
    area in pixels; `softness[i]` the blur sigma (pixels at 64 px) of the best-matching drawing."""

    objects: tuple[ShapeInstance, ...]
    fit_errors: tuple[float, ...]
    areas: tuple[float, ...]
    softness: tuple[float, ...]
    pixels: PixelClasses


@dataclass(frozen=True)
class ShapeGeometry:
    """How a shape's area, outline length and centroid scale with its box side s (s = 1 here).

    A shape drawn in a box of side s has area `area_factor` * s**2, perimeter `perimeter_factor` * s,
    and its centroid at the box centre plus (`centroid_dx`, `centroid_dy`) * s."""

    area_factor: float
    perimeter_factor: float
    centroid_dx: float
    centroid_dy: float

    def side_for_area(self, area: float, growth: float = 0.0) -> float:
        """The box side whose shape, grown by `growth` all round, has `area`.

        Solves area = k s^2 + p s growth for s (the grown shape adds a strip of its perimeter)."""
        k, p = self.area_factor, self.perimeter_factor
        return (-p * growth + math.sqrt((p * growth) ** 2 + 4 * k * max(area, 0.0))) / (2 * k)


@functools.lru_cache(maxsize=None)
def shape_geometry(shape: str) -> ShapeGeometry:
    """The area, perimeter and centroid factors of a shape as the renderer outlines it.

    Measured with the shoelace formula on render.shape_outline, so the detector's geometry cannot
    drift from the renderer's."""
    outline = shape_outline(shape, (-0.5, -0.5, 0.5, 0.5))
    x, y = outline[:, 0], outline[:, 1]
    x_next, y_next = np.roll(x, -1), np.roll(y, -1)
    cross = x * y_next - x_next * y
    signed_area = cross.sum() / 2
    centroid_x = ((x + x_next) * cross).sum() / (6 * signed_area)
    centroid_y = ((y + y_next) * cross).sum() / (6 * signed_area)
    perimeter = np.hypot(x_next - x, y_next - y).sum()
    return ShapeGeometry(area_factor=abs(float(signed_area)), perimeter_factor=float(perimeter),
                         centroid_dx=float(centroid_x), centroid_dy=float(centroid_y))


def min_object_area(size: int) -> float:
    """The fewest foreground pixels an object may have on a `size` px canvas.

    The smallest shape of the world at a given side is the star (about 0.33 s^2, far less than its box),
    so a component is an object when it holds at least a star of side world.MIN_DETECTABLE_SIDE."""
    smallest_factor = min(shape_geometry(shape).area_factor for shape in world.SHAPES)
    return smallest_factor * (world.MIN_DETECTABLE_SIDE * size) ** 2


def check_image(image: np.ndarray) -> None:
    """Raise ValueError unless `image` is a square RGB uint8 array of a size the detector reads."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image must be a numpy array, got {type(image).__name__}; "
                         "convert a PIL image with np.asarray(picture.convert('RGB'))")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must have shape (size, size, 3) RGB, got {image.shape}; "
                         "drop an alpha channel or stack a grey image into 3 channels first")
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8 (0..255), got {image.dtype}; "
                         "scale floats in 0..1 by 255, round and cast with .astype(np.uint8)")
    height, width = image.shape[:2]
    if height != width:
        raise ValueError(f"image must be square, got {width} x {height} px; "
                         "shapes-world pictures are square, crop or pad it first")
    if not MIN_IMAGE_SIZE <= height <= MAX_IMAGE_SIZE:
        raise ValueError(f"image side {height} px is outside {MIN_IMAGE_SIZE}..{MAX_IMAGE_SIZE}; "
                         "resize it into that range (cv2.resize with INTER_AREA) first")


def classify_pixels(image: np.ndarray) -> PixelClasses:
    """Read every pixel as a tint of its nearest palette colour (shapes world spec v1, "Detection").

    For each colour P the pixel X is projected onto the segment from white W to P:
    t = (X - W).(P - W) / |P - W|^2, clamped to [0, 1] to measure the distance from the segment;
    the nearest segment wins, and the pixel is foreground when its t there is past 0.5. A pixel whose
    projections are all at most 0.5 is background whichever segment is nearest, so distances are
    measured only for the others (on a typical picture most pixels are background)."""
    check_image(image)
    height, width = image.shape[:2]
    white = np.asarray(world.BACKGROUND_RGB, dtype=np.float32)
    directions = np.asarray([world.PALETTE[name] for name in COLOR_NAMES], dtype=np.float32) - white
    lengths_squared = (directions ** 2).sum(axis=1)  # (C,)
    offsets = image.astype(np.float32) - white  # (H, W, 3)
    # cv2.transform: one small matrix product per pixel, without BLAS threads or (N, C) temporaries.
    projections = cv2.transform(offsets, directions / lengths_squared[:, None]).reshape(-1, len(COLOR_NAMES))
    offsets = offsets.reshape(-1, 3)

    largest = projections[:, 0].copy()
    for column in range(1, len(COLOR_NAMES)):  # column by column: numpy's max over a short axis is slow
        np.maximum(largest, projections[:, column], out=largest)
    color_index = np.full(height * width, -1, dtype=np.int8)
    candidates = np.flatnonzero(largest > FOREGROUND_TINT)
    if candidates.size:
        candidate_offsets = offsets[candidates]
        positions = projections[candidates]
        clamped = np.clip(positions, 0.0, 1.0)
        # |X - W - t (P - W)|^2 = |X - W|^2 - 2 t (X - W).(P - W) + t^2 |P - W|^2
        distance_squared = ((candidate_offsets ** 2).sum(axis=1, keepdims=True)
                            + clamped * lengths_squared * (clamped - 2 * positions))
        nearest = distance_squared.argmin(axis=1)
        is_foreground = positions[np.arange(candidates.size), nearest] > FOREGROUND_TINT
        color_index[candidates] = np.where(is_foreground, nearest, -1)
    return PixelClasses(color_index=color_index.reshape(height, width),
                        projections=projections.reshape(height, width, len(COLOR_NAMES)))


def detect(image: np.ndarray) -> list[ShapeInstance]:
    """Read a shapes-world picture into objects (shape, colour, box in canvas fractions).

    `image`: a square (size, size, 3) RGB uint8 array, size 64..512. Objects come in reading order:
    top-to-bottom by box centre, and left-to-right within a row (centres less than
    world.RELATION_MARGIN apart in height)."""
    return list(detect_detailed(image).objects)


# Palette colours next to each other in hue: a generated object of one is often shaded with the other
# on a flank (a yellow star with an orange edge). A person sees one object of the main colour there.
NEIGHBOUR_HUES = (frozenset({"yellow", "orange"}), frozenset({"orange", "red"}), frozenset({"blue", "purple"}))
MERGE_MINORITY = 0.35  # merged only while the other colour holds less than this share of the blob


MERGE_INSIDE = 0.7  # ... and while this share of it lies inside the main colour's box: shading, not a neighbour


def merge_shaded_objects(pixels: PixelClasses) -> PixelClasses:
    """The pixel reading with every connected foreground blob that mixes two neighbouring hues read as one
    object of its main colour, when the lesser colour holds under MERGE_MINORITY of its pixels and lies
    mostly (MERGE_INSIDE) within the main colour's bounding box, grown by a pixel: shading on an object's
    flank. A separate object that touches it (a layout file may let regions touch) sticks out of that box
    and stays an object of its own. Objects of a planned render never touch, so they read as before."""
    foreground = pixels.foreground.astype(np.uint8)
    count, blobs = cv2.connectedComponents(foreground, connectivity=8)
    color_index = pixels.color_index.copy()
    for blob in range(1, count):
        inside = blobs == blob
        colours, shares = np.unique(color_index[inside], return_counts=True)
        if len(colours) != 2:
            continue
        names = frozenset(COLOR_NAMES[number] for number in colours)
        if names not in NEIGHBOUR_HUES or shares.min() / shares.sum() >= MERGE_MINORITY:
            continue
        main, lesser = colours[shares.argmax()], colours[shares.argmin()]
        rows, columns = np.nonzero(inside & (color_index == main))
        top, bottom, left, right = rows.min() - 1, rows.max() + 1, columns.min() - 1, columns.max() + 1
        lesser_rows, lesser_columns = np.nonzero(inside & (color_index == lesser))
        within = ((lesser_rows >= top) & (lesser_rows <= bottom) & (lesser_columns >= left) & (lesser_columns <= right))
        if within.mean() >= MERGE_INSIDE:
            color_index[inside] = main
    return PixelClasses(color_index=color_index, projections=pixels.projections)


def detect_detailed(image: np.ndarray) -> Detection:
    """`detect`, plus each object's fit, area and softness and the per-pixel reading (for debugging)."""
    pixels = merge_shaded_objects(classify_pixels(image))
    size = image.shape[0]
    scale = size / NATIVE_SIZE
    fringe = max(int(round(FRINGE_PIXELS * scale)), 2)
    components = _object_components(pixels, size)

    # Every object's pixels, so that one object's tint gathering leaves out its neighbours' edges.
    all_objects = np.zeros((size, size), dtype=np.uint8)
    for _, labels, label, (left, top, width, height) in components:
        window = (slice(top, top + height), slice(left, left + width))
        all_objects[window] |= (labels[window] == label).astype(np.uint8)
    grow_kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * fringe + 1, 2 * fringe + 1))
    near = max(int(round(scale)), 1)
    near_kernel = np.ones((2 * near + 1, 2 * near + 1), dtype=np.uint8)

    found: list[tuple[ShapeInstance, float, float, float]] = []
    for color_number, labels, label, (left, top, width, height) in components:
        x0, y0 = max(left - fringe - 1, 0), max(top - fringe - 1, 0)
        x1, y1 = min(left + width + fringe + 1, size), min(top + height + fringe + 1, size)
        own = (labels[y0:y1, x0:x1] == label).astype(np.uint8)
        others = all_objects[y0:y1, x0:x1] & (1 - own)
        region = cv2.dilate(own, grow_kernel).astype(bool)
        if others.any():
            region &= ~cv2.dilate(others, near_kernel).astype(bool)
        observed = np.clip(pixels.projections[y0:y1, x0:x1, color_number], *_TINT_LIMITS)
        observed = np.where(region, observed, 0.0).astype(np.float64)
        fitted = _fit_shape(observed, (x0, y0), size, COLOR_NAMES[color_number])
        if fitted is not None:
            found.append(fitted)

    found = _reading_order(found)
    return Detection(objects=tuple(item[0] for item in found),
                     fit_errors=tuple(item[1] for item in found),
                     areas=tuple(item[2] for item in found),
                     softness=tuple(item[3] for item in found),
                     pixels=pixels)


def _reading_order(found: list) -> list:
    """Sort (instance, ...) items top-to-bottom, then left-to-right, by box centres.

    Objects whose centres are within world.RELATION_MARGIN in height of the first object of a row (so
    that neither is "above" the other by the world's rules) share that row and go left to right."""
    by_height = sorted(found, key=lambda item: world.box_center(item[0].box)[1])
    ordered: list = []
    row: list = []
    for item in by_height:
        height_below_row = world.box_center(item[0].box)[1] - world.box_center(row[0][0].box)[1] if row else 0
        if row and height_below_row >= world.RELATION_MARGIN:
            ordered.extend(sorted(row, key=lambda member: world.box_center(member[0].box)[0]))
            row = []
        row.append(item)
    ordered.extend(sorted(row, key=lambda member: world.box_center(member[0].box)[0]))
    return ordered


def _object_components(pixels: PixelClasses, size: int):
    """The connected foreground components of each colour that are large enough to be objects.

    Yields (colour number, label image of that colour, label, (left, top, width, height))."""
    min_area = min_object_area(size)
    components = []
    for color_number in range(len(COLOR_NAMES)):
        mask = (pixels.color_index == color_number).astype(np.uint8)
        if not mask.any():
            continue
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        for label in range(1, count):
            left, top, width, height, area = (int(value) for value in stats[label])
            if area >= min_area:
                components.append((color_number, labels, label, (left, top, width, height)))
    return components


def _fit_shape(observed: np.ndarray, origin: tuple[int, int], size: int,
               color: str) -> tuple[ShapeInstance, float, float, float] | None:
    """Choose the shape (and its box) whose drawing best matches the observed tint crop.

    `observed` is the tint along the object's segment in a crop whose top-left pixel is `origin`, zero
    outside the object's region. Returns (instance, fit error, area in pixels, softness) or None for
    a crop with no tint."""
    area = float(observed.sum())
    if area <= 0:
        return None
    rows, columns = np.indices(observed.shape)
    centroid_x = float((observed * (columns + 0.5)).sum() / area) + origin[0]
    centroid_y = float((observed * (rows + 0.5)).sum() / area) + origin[1]

    # Compare on a grid reduced by an integer factor for large pictures: shapes are told apart as
    # well at 128 px, and the comparison costs a sixteenth at 512 px.
    factor = max(size // COMPARISON_MIN_SIZE, 1)
    work_size = -(-size // factor)
    work_observed, work_origin = _reduce(observed, origin, factor)
    sigmas = [sigma * work_size / NATIVE_SIZE for sigma in BLUR_SIGMAS]
    work_area = area / factor ** 2

    pad = int(math.ceil(3 * max(sigmas))) + 1
    candidates = []  # (shape, box, observed frame, drawing frame), and the sharp drawing's error
    best: tuple[float, str, world.Box, float] | None = None
    for shape in world.SHAPES:
        geometry = shape_geometry(shape)
        side = geometry.side_for_area(area, RENDER_GROWTH_PIXELS)
        center_x = centroid_x - geometry.centroid_dx * side
        center_y = centroid_y - geometry.centroid_dy * side
        box = (center_x - side / 2, center_y - side / 2, center_x + side / 2, center_y + side / 2)
        box = tuple(value / size for value in box)
        work_box = tuple(value * size / (factor * work_size) for value in box)
        coverage, coverage_origin = coverage_mask(shape, work_box, work_size)
        seen, drawn = _common_frame(work_observed, work_origin, coverage, coverage_origin, pad)
        candidates.append((shape, box, seen, drawn))
        error = float(np.abs(seen - drawn).sum()) / work_area
        if best is None or error < best[0]:
            best = (error, shape, box, 0.0)
    assert best is not None
    # A sharp drawing that already fits this well (a clean render) is taken as it is: saves the blurs.
    if best[0] > SHARP_FIT:
        for shape, box, seen, drawn in candidates:
            for sigma_native, sigma in zip(BLUR_SIGMAS[1:], sigmas[1:]):
                error = float(np.abs(seen - cv2.GaussianBlur(drawn, (0, 0), sigma)).sum()) / work_area
                if error < best[0]:
                    best = (error, shape, box, sigma_native)
    error, shape, box, sigma = best
    return ShapeInstance(shape, color, box), error, area, sigma


def _reduce(observed: np.ndarray, origin: tuple[int, int],
            factor: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Average a crop over factor x factor blocks of the full picture's grid (exact, area-preserving)."""
    if factor == 1:
        return observed, origin
    left, top = origin[0] // factor * factor, origin[1] // factor * factor
    height, width = observed.shape
    padded_height = -(-(origin[1] - top + height) // factor) * factor
    padded_width = -(-(origin[0] - left + width) // factor) * factor
    padded = np.zeros((padded_height, padded_width), dtype=observed.dtype)
    padded[origin[1] - top:origin[1] - top + height, origin[0] - left:origin[0] - left + width] = observed
    blocks = padded.reshape(padded_height // factor, factor, padded_width // factor, factor)
    return blocks.mean(axis=(1, 3)), (left // factor, top // factor)


def _common_frame(observed: np.ndarray, origin: tuple[int, int], coverage: np.ndarray,
                  coverage_origin: tuple[int, int], pad: int) -> tuple[np.ndarray, np.ndarray]:
    """The observed crop and the drawing placed in one frame that holds both, `pad` pixels to spare."""
    x0 = min(origin[0], coverage_origin[0]) - pad
    y0 = min(origin[1], coverage_origin[1]) - pad
    x1 = max(origin[0] + observed.shape[1], coverage_origin[0] + coverage.shape[1]) + pad
    y1 = max(origin[1] + observed.shape[0], coverage_origin[1] + coverage.shape[0]) + pad
    seen = np.zeros((y1 - y0, x1 - x0), dtype=np.float32)
    seen[origin[1] - y0:origin[1] - y0 + observed.shape[0],
         origin[0] - x0:origin[0] - x0 + observed.shape[1]] = observed
    drawn = np.zeros_like(seen)
    drawn[coverage_origin[1] - y0:coverage_origin[1] - y0 + coverage.shape[0],
          coverage_origin[0] - x0:coverage_origin[0] - x0 + coverage.shape[1]] = coverage
    return seen, drawn
