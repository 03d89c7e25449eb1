"""Sizes and target centres of one search attempt, and the failure an attempt raises.

`sample_sizes` draws each box's width and height (then fixes up things on / inside others so they
fit), `centre_bounds` says where each centre may go, and `deal_targets` re-deals random targets into an
order every relation allows.
"""

from __future__ import annotations

import collections
import heapq
import math
import random
from collections.abc import Iterable, Sequence

from compose.planning.problem import Problem
from compose.planning.tuning import EPSILON, INSIDE_MAX_SCALE, ON_WIDTH_SHARE, PLANNED_ASPECT_JITTER
from compose.planning.rules import ON_CENTRE_INSET
from compose.shapes import world


class AttemptFailed(Exception):
    """One search attempt found no layout; the message says why (kept for the final error)."""


def sample_sizes(problem: Problem, rng: random.Random, fraction: float) -> tuple[list[float], list[float]]:
    """Widths and heights for one attempt: each size drawn from the lowest `fraction` of its range,
    each aspect ratio within the planned jitter, then fixed up so that things fit in / on others."""
    widths, heights, sides = [], [], []
    # Mostly, what holds others is drawn large and what stands on something narrower than it (a cat
    # on a table); some attempts go without, for scenes whose other rules forbid those proportions.
    plausible = rng.random() < 0.75
    hosts = {object_ for kind, _, object_, _ in problem.depth_pairs if kind in ("inside", "on") and plausible}
    for instance in problem.instances:
        low, high = instance.size_range
        if instance.index in hosts:  # what holds others is drawn large, so they fit on / in it
            side = low + (high - low) * rng.uniform(0.5, 1.0)
        else:
            side = low + (high - low) * fraction * rng.random()
        aspect = 1.0 if instance.is_shape else instance.aspect * rng.uniform(
            1 - PLANNED_ASPECT_JITTER, 1 + PLANNED_ASPECT_JITTER)
        sides.append(side)
        widths.append(side * math.sqrt(aspect))
        heights.append(side / math.sqrt(aspect))
    # Things inside others must be smaller (always), by a share that varies, so that they have room
    # to move inside; things on others preferably narrower.
    inside_scale = rng.uniform(0.5, INSIDE_MAX_SCALE)

    def scale(index: int, factor: float) -> None:
        sides[index] *= factor
        widths[index] *= factor
        heights[index] *= factor

    sharing = collections.Counter(object_ for kind, _, object_, _ in problem.depth_pairs if kind == "on")

    def excess(kind: str, subject: int, object_: int) -> float:
        if kind == "on":
            # Several things on one host stand side by side on its top part, their centres within
            # its middle: each gets a share of its width.
            limit = ON_WIDTH_SHARE * widths[object_] if plausible else math.inf
            if sharing[object_] > 1:
                side_by_side = (2 * (0.5 - ON_CENTRE_INSET) * 0.95 * widths[object_] / (sharing[object_] - 1)
                                - world.MIN_GAP)
                limit = min(limit, max(side_by_side, 1e-3))
            return widths[subject] / limit
        return max(widths[subject] / widths[object_], heights[subject] / heights[object_]) / inside_scale

    for _ in range(3):
        misfit = None
        for kind, subject, object_, label in problem.depth_pairs:
            if kind not in ("inside", "on") or excess(kind, subject, object_) <= 1.0:
                continue
            smallest = problem.instances[subject].size_range[0]
            scale(subject, max(sides[subject] / excess(kind, subject, object_), smallest) / sides[subject])
            ratio = excess(kind, subject, object_)
            if ratio > 1.0:
                largest = problem.instances[object_].size_range[1]
                scale(object_, min(sides[object_] * ratio, largest) / sides[object_])
            if kind == "inside" and excess(kind, subject, object_) > 1.0 + 1e-12:
                misfit = label
        if misfit is None:
            break
    else:
        raise AttemptFailed(f"{misfit}: the inner object does not fit at the allowed sizes")
    return widths, heights


def centre_bounds(problem: Problem, extents: Sequence[float], axis: int) -> list[tuple[float, float]]:
    """Where each centre may go along one axis: inside the canvas margin and the location's bounds."""
    bounds = []
    for instance, extent in zip(problem.instances, extents):
        low = world.CANVAS_MARGIN + extent / 2 + EPSILON
        high = 1 - world.CANVAS_MARGIN - extent / 2 - EPSILON
        if instance.location is not None:
            location_low, location_high = world.LOCATION_BOUNDS[instance.location][axis]
            low, high = max(low, location_low + EPSILON), min(high, location_high - EPSILON)
        if low > high:
            raise AttemptFailed(f"the {problem.scene.group(instance.group).noun} does not fit its "
                                 "location at the drawn size")
        bounds.append((low, high))
    return bounds


def deal_targets(count: int, edges: Sequence[tuple[int, int]], targets: list[float]) -> None:
    """Re-deal `targets` (in place) so that their order follows `edges` (a random linear extension
    that keeps each target where the edges allow)."""
    order = _linear_extension(count, edges, targets)
    for node, value in zip(order, sorted(targets)):
        targets[node] = value


def _linear_extension(count: int, edges: Iterable[tuple[int, int]], priority: Sequence[float]) -> list[int]:
    """A topological order of instances that follows `priority` (lowest first) wherever edges allow."""
    successors: dict[int, list[int]] = collections.defaultdict(list)
    indegree = [0] * count
    for before, after in edges:
        successors[before].append(after)
        indegree[after] += 1
    ready = [(priority[i], i) for i in range(count) if indegree[i] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, node = heapq.heappop(ready)
        order.append(node)
        for successor in successors[node]:
            indegree[successor] -= 1
            if indegree[successor] == 0:
                heapq.heappush(ready, (priority[successor], successor))
    if len(order) != count:
        raise AttemptFailed("the orders along one axis form a cycle")
    return order
