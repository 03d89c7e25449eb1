"""Phase 2 of a search attempt: the gaps between boxes and the spreads of "between".

On the closed networks of phase 1 (`compose.planning.network.ClosedNetwork`), each pair of boxes that
may not overlap gets an axis and an order that keep it apart, and each "between" pair (b, c) a spread,
one item at a time, the most constrained first, each checked against all bounds so far, so that no
contradiction is ever built.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from compose.planning.network import ClosedNetwork
from compose.planning.problem import Problem
from compose.planning.tuning import BETWEEN_STEP, EPSILON, NEAR_MAX_ANGLE, NEAR_RADIUS, SHOWN_BONUS
from compose.shapes import world


class Separation:
    """Phase 2 of one attempt, on the closed networks that phase 1 left (see the module docstring).

    `spread_pairs` are the (axis, first, last) pairs of the attempt's "between" units: b and c of a
    triple, in the order the unit lays them out along its axis."""

    def __init__(self, problem: Problem, extents: tuple[Sequence[float], Sequence[float]],
                 spread_pairs: Sequence[tuple[int, int, int]], rng: random.Random) -> None:
        self.problem, self.extents, self.rng = problem, extents, rng
        self.spread_pairs = list(dict.fromkeys(spread_pairs))

    def run(self, closed: list[ClosedNetwork], relaxed: Sequence[Sequence[float]]) -> bool:
        """Every gap and every spread of "between", on closed networks; False at a dead end.

        The item (a pair to keep apart, or a spread) with the fewest ways left goes first (most
        constrained first); of its ways (for a pair: along x or y, either order, and for a "near"
        pair how its gap splits between the axes; for a spread: a few values inside the range the
        bounds allow), mostly the one that leaves the most room, with a preference for the order the
        relaxed layout shows."""
        rng = self.rng
        near = set(self.problem.near_pairs)
        remaining: list[tuple] = [("gap", pair) for pair in self.problem.separated_pairs]
        remaining += [("spread", axis, first, last) for axis, first, last in self.spread_pairs]
        while remaining:
            chosen, chosen_key, chosen_options = None, None, []
            for item in remaining:
                if item[0] == "gap":
                    options = self._separation_options(closed, item[1], item[1] in near)
                else:
                    options = self._spread_options(closed, *item[1:])
                if not options:
                    return False
                key = (len(options), max(option[-1] for option in options))
                if chosen_key is None or key < chosen_key:
                    chosen, chosen_key, chosen_options = item, key, options

            def score(option: tuple) -> float:
                if chosen[0] == "spread":
                    return option[-1] * rng.uniform(0.5, 1.5)
                axis, before, after, need, *_, room = option
                shown = relaxed[axis][after] - relaxed[axis][before]
                shown_across = abs(relaxed[1 - axis][after] - relaxed[1 - axis][before])
                across_need = (self.extents[1 - axis][before] + self.extents[1 - axis][after]) / 2 + world.MIN_GAP
                apart = shown / need >= shown_across / across_need  # the relaxed layout's own choice
                return room * rng.uniform(0.7, 1.3) + SHOWN_BONUS * ((shown > 0) + apart)

            option = max(chosen_options, key=score)
            if chosen[0] == "spread":
                _, axis, first, last = chosen
                spread = option[0]
                closed[axis].limit(first, last, low=spread + BETWEEN_STEP)
                closed[1 - axis].limit(first, last, low=-spread, high=spread)
            else:
                axis, before, after, need, reach, across_reach, _ = option
                closed[axis].limit(before, after, low=need, high=reach)
                if across_reach < math.inf:
                    closed[1 - axis].limit(before, after, low=-across_reach, high=across_reach)
            remaining.remove(chosen)
        return True

    def _spread_options(self, closed: Sequence[ClosedNetwork], axis: int, first: int, last: int) -> list[tuple]:
        """Spreads for a "between" pair (b, c) that the bounds so far allow: (spread, room left).
        |across difference| <= spread < along difference."""
        along, across = closed[axis], closed[1 - axis]
        lowest = max(0.0, across.low(first, last), -across.high(first, last))
        highest = along.high(first, last) - BETWEEN_STEP
        if lowest > highest:
            return []
        if highest - lowest < 1e-3:
            return [(lowest, 0.0)]
        options = []
        for share in (0.15, 0.5, 0.85):
            spread = lowest + (highest - lowest) * min(max(share + self.rng.uniform(-0.1, 0.1), 0.0), 1.0)
            options.append((spread, min(spread - lowest, highest - spread)))
        return options

    def _separation_options(self, closed: Sequence[ClosedNetwork], pair: tuple[int, int], near: bool) -> list[tuple]:
        """Ways to keep a pair apart that the bounds so far allow:
        (axis, before, after, gap needed, reach along, reach across, room left)."""
        i, j = pair
        extents = self.extents
        options = []
        angles = [0.0]
        if near:  # a near pair's gap: mostly along the axis that separates them, some across
            angles = [self.rng.uniform(0.0, NEAR_MAX_ANGLE) for _ in range(2)]
        for axis in (0, 1):
            along, across = closed[axis], closed[1 - axis]
            half_along = (extents[axis][i] + extents[axis][j]) / 2
            half_across = (extents[1 - axis][i] + extents[1 - axis][j]) / 2
            need = half_along + world.MIN_GAP + EPSILON
            for before, after in ((i, j), (j, i)):
                room = along.high(before, after) - need
                if room < 0:
                    continue
                if not near:
                    options.append((axis, before, after, need, math.inf, math.inf, room))
                    continue
                for angle in angles:
                    reach = half_along + NEAR_RADIUS * math.cos(angle)
                    across_reach = half_across + NEAR_RADIUS * math.sin(angle)
                    if (along.low(before, after) <= reach and across.low(i, j) <= across_reach
                            and across.low(j, i) <= across_reach):
                        options.append((axis, before, after, need, reach, across_reach,
                                        min(room, reach - need)))
        return options
