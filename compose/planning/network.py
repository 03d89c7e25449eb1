"""Difference constraints on one axis: a simple temporal network (Dechter, Meiri & Pearl 1991).

With sizes and choices fixed, every rule of a layout is a bound x_j - x_i <= c on the box centres of
one axis. `Network` holds the direct bounds and decides them exactly (Floyd-Warshall), and traces a
contradiction back to the choices that made it (Bellman-Ford); `ClosedNetwork` takes new bounds one at a
time on a closed network, each first checked, and draws values from what is left.
`add_depth_constraints` writes the open-vocabulary depth rules (`compose.planning.rules`) as such bounds.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import numpy as np

from compose.planning.rules import INSIDE_INSET, ON_BOTTOM_BAND, ON_CENTRE_INSET
from compose.planning.tuning import EPSILON, PLANNED_FRONT_OVERLAP, PLANNED_FRONT_VISIBLE, TARGET_PULL


class Network:
    """A simple temporal network on one axis: node 0 is the origin, node i + 1 is instance i's centre.

    `bound[i][j]` bounds value_j - value_i from above (Dechter, Meiri & Pearl 1991). Each direct bound
    remembers which choice set it (`tags`), so that a contradiction can be traced back to choices."""

    def __init__(self, count: int) -> None:
        self.bound = np.full((count + 1, count + 1), np.inf)
        np.fill_diagonal(self.bound, 0.0)
        self.tags: dict[tuple[int, int], tuple] = {}

    def at_most(self, i: int, j: int, limit: float, tag: tuple | None = None) -> None:
        """value_j - value_i <= limit (instances i, j; -1 is the origin)."""
        if limit < self.bound[i + 1, j + 1]:
            self.bound[i + 1, j + 1] = limit
            if tag is None:
                self.tags.pop((i + 1, j + 1), None)
            else:
                self.tags[(i + 1, j + 1)] = tag

    def at_least(self, i: int, j: int, limit: float, tag: tuple | None = None) -> None:
        """value_j - value_i >= limit."""
        self.at_most(j, i, -limit, tag)

    def closure(self) -> np.ndarray | None:
        """The tightest bounds the direct ones imply (Floyd-Warshall), or None if they contradict."""
        bound = self.bound.copy()
        for k in range(bound.shape[0]):
            np.minimum(bound, bound[:, k:k + 1] + bound[k:k + 1, :], out=bound)
        if (np.diagonal(bound) < -1e-12).any():
            return None
        return bound

    def conflict_tags(self) -> list[tuple]:
        """The choice tags along one negative cycle of direct bounds (Bellman-Ford), or [] if none."""
        size = self.bound.shape[0]
        rows, columns = np.nonzero(np.isfinite(self.bound))
        edges = [(int(i), int(j), float(self.bound[i, j])) for i, j in zip(rows, columns) if i != j]
        distance = [0.0] * size
        predecessor = [-1] * size
        relaxed = -1
        for _ in range(size):
            relaxed = -1
            for i, j, weight in edges:
                if distance[i] + weight < distance[j] - 1e-12:
                    distance[j] = distance[i] + weight
                    predecessor[j] = i
                    relaxed = j
            if relaxed == -1:
                return []
        node = relaxed
        for _ in range(size):  # walk back far enough to stand on the cycle
            node = predecessor[node]
        tags, current = [], node
        while True:
            previous = predecessor[current]
            tag = self.tags.get((previous, current))
            if tag is not None and tag not in tags:
                tags.append(tag)
            current = previous
            if current == node:
                return tags


class ClosedNetwork:
    """A closed network (all implied bounds) that takes new bounds one at a time, each first checked.

    Bounding one difference value_j - value_i keeps the network consistent exactly when the new range
    meets the range the network already implies for it; the update is one O(n^2) step."""

    def __init__(self, bound: np.ndarray) -> None:
        self.bound = bound
        self.rows = bound.tolist()

    def high(self, i: int, j: int) -> float:
        """The implied upper bound of value_j - value_i."""
        return self.rows[i + 1][j + 1]

    def low(self, i: int, j: int) -> float:
        """The implied lower bound of value_j - value_i."""
        return -self.rows[j + 1][i + 1]

    def limit(self, i: int, j: int, low: float = -math.inf, high: float = math.inf) -> None:
        """Add low <= value_j - value_i <= high (the caller checked it meets the implied range)."""
        bound = self.bound
        if high < self.high(i, j):
            bound = np.minimum(bound, bound[:, i + 1:i + 2] + high + bound[j + 1:j + 2, :])
        if low > self.low(i, j):
            bound = np.minimum(bound, bound[:, j + 1:j + 2] - low + bound[i + 1:i + 2, :])
        self.bound = bound
        self.rows = bound.tolist()

    def assign(self, targets: Sequence[float], rng: random.Random) -> list[float]:
        """Values for every node, one at a time in random order, each drawn inside what the values
        fixed so far leave it and pulled towards its target (in a closed network every such choice
        extends to a full solution)."""
        bound = self.bound.copy()
        count = bound.shape[0] - 1
        values = [0.0] * count
        for node in rng.sample(range(1, count + 1), count):
            low, high = -bound[node, 0], bound[0, node]
            high = max(high, low)  # equal up to rounding
            target = min(max(targets[node - 1], low), high)
            value = TARGET_PULL * target + (1 - TARGET_PULL) * rng.uniform(low, high)
            value = float(min(max(value, low), high))
            values[node - 1] = value
            through_origin = bound[:, 0:1] + value + bound[node:node + 1, :]
            through_node = bound[:, node:node + 1] - value + bound[0:1, :]
            np.minimum(bound, np.minimum(through_origin, through_node), out=bound)
        return values


def add_depth_constraints(networks: Sequence[Network], kind: str, subject: int, object_: int,
                           widths: Sequence[float], heights: Sequence[float], visible_side: str = "top",
                           tag: tuple | None = None) -> None:
    """The open-vocabulary depth rules (`compose.planning.rules`), as difference constraints.

    For "in front of", `visible_side` says which strip of the back box stays uncovered: its top (the
    usual picture: the nearer thing hides the lower part of the farther one), its left or its right."""
    along_x, along_y = networks
    w_s, h_s, w_o, h_o = widths[subject], heights[subject], widths[object_], heights[object_]
    if kind == "on":
        reach = (0.5 - ON_CENTRE_INSET) * w_o - EPSILON
        along_x.at_most(object_, subject, reach)
        along_x.at_most(subject, object_, reach)
        # bottom(s) - top(o) = (y_s - y_o) + (h_s + h_o) / 2 must lie in the band
        shift = (h_s + h_o) / 2
        along_y.at_least(object_, subject, ON_BOTTOM_BAND[0] * h_o - shift + EPSILON)
        along_y.at_most(object_, subject, ON_BOTTOM_BAND[1] * h_o - shift - EPSILON)
    elif kind == "in_front_of":  # subject in front of object
        reach_x = (w_s + w_o) / 2 - PLANNED_FRONT_OVERLAP * min(w_s, w_o)
        along_x.at_most(object_, subject, reach_x)
        along_x.at_most(subject, object_, reach_x)
        # bottom(s) >= bottom(o): the nearer thing stands lower
        along_y.at_least(object_, subject, (h_o - h_s) / 2 + EPSILON)
        along_y.at_most(object_, subject, (h_s + h_o) / 2 - PLANNED_FRONT_OVERLAP * min(h_s, h_o))
        # a strip of the back box, PLANNED_FRONT_VISIBLE of its height or width, stays uncovered
        if visible_side == "top":  # top(s) >= top(o) + strip
            along_y.at_least(object_, subject, (h_s - h_o) / 2 + PLANNED_FRONT_VISIBLE * h_o + EPSILON, tag)
        elif visible_side == "left":  # left(s) >= left(o) + strip
            along_x.at_least(object_, subject, (w_s - w_o) / 2 + PLANNED_FRONT_VISIBLE * w_o + EPSILON, tag)
        else:  # right(o) >= right(s) + strip
            along_x.at_least(subject, object_, (w_s - w_o) / 2 + PLANNED_FRONT_VISIBLE * w_o + EPSILON, tag)
    elif kind == "inside":
        for network, inner, outer in ((along_x, w_s, w_o), (along_y, h_s, h_o)):
            reach = (outer - inner) / 2 - INSIDE_INSET * outer - EPSILON
            network.at_most(object_, subject, reach)
            network.at_most(subject, object_, reach)
    else:
        raise AssertionError(f"unknown depth kind {kind!r}")
