"""The constants and rules of the shapes world (compose/specs/shapes-world.md, spec v1).

Every other part of `compose` that needs the world's palette, sizes, placement rules or relation
tests reads them from here, so that the renderer, the data generator, the planner, the detector and
the scorer cannot disagree. Lengths are fractions of the canvas side; y grows downwards.
"""

from __future__ import annotations

SPEC_VERSION = "shapes-world/v1"

BACKGROUND_RGB = (255, 255, 255)
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "orange": (250, 130, 20),
    "yellow": (240, 200, 20),
    "green": (30, 160, 60),
    "blue": (30, 70, 220),
    "purple": (140, 50, 190),
}
SHAPES = ("circle", "square", "triangle", "diamond", "star")
STAR_INNER_RATIO = 0.45  # inner radius / outer radius

SIZE_RANGES: dict[str, tuple[float, float]] = {
    "small": (0.16, 0.22),
    "medium": (0.24, 0.30),
    "large": (0.32, 0.40),
}
SHAPE_SIZE_WORDS = ("small", "medium", "large")
ANY_SIZE_RANGE = (0.16, 0.40)  # an object with no size word
CANVAS_MARGIN = 0.02  # every box lies at least this far inside the canvas
MIN_GAP = 0.05  # boxes do not overlap and keep at least this gap
MAX_OBJECTS = 8
RELATION_MARGIN = 0.05  # left_of / right_of / above / below need centres this far apart
NEAR_GAP = 0.15  # "near": the gap between the two boxes is at most this
MIN_DETECTABLE_SIDE = 0.12  # a detected region smaller than an object of this side is not an object

Box = tuple[float, float, float, float]

# Where "on the left", "at the top right", ... put an object's centre. The spec fixes no numbers for
# absolute locations; these thirds of the canvas are compose's own rule, used by the planner and scorer
# (compose/specs/shapes-world.md, "Locations").
LOCATION_BOUNDS: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    # location: ((cx_min, cx_max), (cy_min, cy_max))
    "left": ((0.0, 0.4), (0.0, 1.0)),
    "right": ((0.6, 1.0), (0.0, 1.0)),
    "top": ((0.0, 1.0), (0.0, 0.4)),
    "bottom": ((0.0, 1.0), (0.6, 1.0)),
    "center": ((0.35, 0.65), (0.35, 0.65)),
    "top_left": ((0.0, 0.4), (0.0, 0.4)),
    "top_right": ((0.6, 1.0), (0.0, 0.4)),
    "bottom_left": ((0.0, 0.4), (0.6, 1.0)),
    "bottom_right": ((0.6, 1.0), (0.6, 1.0)),
}


def size_range(size: str | None) -> tuple[float, float]:
    """The allowed box side for a size word (or for none)."""
    return SIZE_RANGES[size] if size is not None else ANY_SIZE_RANGE


def box_center(box: Box) -> tuple[float, float]:
    return ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)


def box_gap(a: Box, b: Box) -> float:
    """Euclidean distance between two axis-aligned boxes (0 when they touch or overlap)."""
    dx = max(b[0] - a[2], a[0] - b[2], 0.0)
    dy = max(b[1] - a[3], a[1] - b[3], 0.0)
    return (dx * dx + dy * dy) ** 0.5


def boxes_overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def relation_holds(predicate: str, a: Box, b: Box, c: Box | None = None) -> bool:
    """Whether `a predicate b` (or `a between b and c`) holds, by the spec's relations table."""
    (ax, ay), (bx, by) = box_center(a), box_center(b)
    if predicate == "left_of":
        return ax < bx - RELATION_MARGIN
    if predicate == "right_of":
        return ax > bx + RELATION_MARGIN
    if predicate == "above":
        return ay < by - RELATION_MARGIN
    if predicate == "below":
        return ay > by + RELATION_MARGIN
    if predicate == "near":
        return box_gap(a, b) <= NEAR_GAP
    if predicate == "between":
        if c is None:
            raise ValueError("relation 'between' needs a second object (object2)")
        cx, cy = box_center(c)
        if abs(bx - cx) >= abs(by - cy):
            low, high, value = min(bx, cx), max(bx, cx), ax
        else:
            low, high, value = min(by, cy), max(by, cy), ay
        return low < value < high
    raise ValueError(f"the shapes world has no rule for relation {predicate!r}")


def location_holds(location: str, box: Box) -> bool:
    """Whether a box's centre lies where an absolute location word puts it (LOCATION_BOUNDS)."""
    (x_min, x_max), (y_min, y_max) = LOCATION_BOUNDS[location]
    cx, cy = box_center(box)
    return x_min <= cx <= x_max and y_min <= cy <= y_max


def placement_problems(boxes: list[Box]) -> list[str]:
    """Every way a set of boxes breaks the placement rules (margin, overlap, gap); empty if none."""
    problems = []
    for index, (x0, y0, x1, y1) in enumerate(boxes):
        low, high = CANVAS_MARGIN - 1e-9, 1 - CANVAS_MARGIN + 1e-9
        if min(x0, y0) < low or max(x1, y1) > high:
            problems.append(f"box {index} {(x0, y0, x1, y1)} is not {CANVAS_MARGIN} inside the canvas")
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            if box_gap(boxes[i], boxes[j]) < MIN_GAP - 1e-9:
                problems.append(f"boxes {i} and {j} are closer than the minimum gap {MIN_GAP}")
    if len(boxes) > MAX_OBJECTS:
        problems.append(f"{len(boxes)} objects, more than the {MAX_OBJECTS} a scene may hold")
    return problems
