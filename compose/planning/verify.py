"""The last check of a planned layout, with shapely: every rule of `compose.planning.rules`, judged
on the finished boxes. The search encodes every rule, so this should never find anything; it is there
so that a wrong layout is never returned.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import shapely

from compose.planning.problem import Problem, between_triples
from compose.planning.rules import FRONT_MIN_OVERLAP, FRONT_MIN_VISIBLE, INSIDE_INSET, ON_BOTTOM_BAND, ON_CENTRE_INSET
from compose.shapes import world


def layout_problems(problem: Problem, boxes: Sequence[tuple[float, float, float, float]]) -> list[str]:
    """Every rule of `compose.planning.rules` that `boxes` break (empty when the layout is right)."""
    found = []
    margin = world.CANVAS_MARGIN - 1e-9
    for instance, (x0, y0, x1, y1) in zip(problem.instances, boxes):
        if min(x0, y0) < margin or max(x1, y1) > 1 - margin:
            found.append(f"instance {instance.index} leaves the canvas margin")
        side = math.sqrt((x1 - x0) * (y1 - y0))
        low, high = instance.size_range
        if not low - 1e-9 <= side <= high + 1e-9:
            found.append(f"instance {instance.index} has size {side:.3f} outside {low}-{high}")
        if instance.location is not None and not world.location_holds(instance.location, (x0, y0, x1, y1)):
            found.append(f"instance {instance.index} is not at {instance.location}")
    geometries = shapely.box(*np.asarray(boxes, dtype=float).T)
    if problem.separated_pairs:
        first, second = np.asarray(problem.separated_pairs).T
        gaps = shapely.distance(geometries[first], geometries[second])
        for (i, j), gap in zip(problem.separated_pairs, gaps):
            if gap < world.MIN_GAP - 1e-9:
                found.append(f"instances {i} and {j} are {gap:.3f} apart, closer than {world.MIN_GAP}")
    members = problem.members
    for check in problem.rules.checks:
        if check.predicate == "between":
            triples = between_triples(check, members)
            if not all(world.relation_holds("between", boxes[a], boxes[b], boxes[c]) for a, b, c in triples):
                found.append(f"{check.label} does not hold")
            continue
        if not all(world.relation_holds(check.predicate, boxes[a], boxes[b])
                   for a in members[check.subject] for b in members[check.object]):
            found.append(f"{check.label} ({check.predicate}) does not hold")
    for kind, subject, object_, label in problem.depth_pairs:
        if not _depth_holds(kind, boxes[subject], boxes[object_], geometries[subject], geometries[object_]):
            found.append(f"{label} does not hold")
    return found


def _depth_holds(kind: str, subject_box, object_box, subject_geometry, object_geometry) -> bool:
    sx0, sy0, sx1, sy1 = subject_box
    ox0, oy0, ox1, oy1 = object_box
    object_width, object_height = ox1 - ox0, oy1 - oy0
    tolerance = 1e-9
    if kind == "on":
        centre_x = (sx0 + sx1) / 2
        inset = ON_CENTRE_INSET * object_width
        return (ox0 + inset - tolerance <= centre_x <= ox1 - inset + tolerance
                and oy0 + ON_BOTTOM_BAND[0] * object_height - tolerance <= sy1
                <= oy0 + ON_BOTTOM_BAND[1] * object_height + tolerance)
    if kind == "in_front_of":
        overlap_width = min(sx1, ox1) - max(sx0, ox0)
        overlap_height = min(sy1, oy1) - max(sy0, oy0)
        visible = shapely.difference(object_geometry, subject_geometry).area
        return (overlap_width >= FRONT_MIN_OVERLAP * min(sx1 - sx0, object_width) - tolerance
                and overlap_height >= FRONT_MIN_OVERLAP * min(sy1 - sy0, object_height) - tolerance
                and sy1 >= oy1 - tolerance
                and visible >= FRONT_MIN_VISIBLE * object_geometry.area - tolerance)
    if kind == "inside":
        inset_x, inset_y = INSIDE_INSET * object_width, INSIDE_INSET * object_height
        return (sx0 >= ox0 + inset_x - tolerance and sx1 <= ox1 - inset_x + tolerance
                and sy0 >= oy0 + inset_y - tolerance and sy1 <= oy1 - inset_y + tolerance)
    raise AssertionError(f"unknown depth kind {kind!r}")
