"""Plan a layout: give every object instance of a scene a box on the canvas (compose issue 2, section 3).

`plan(scene, seed)` turns a `Scene` into a `Layout` with one `Region` per object instance ("two blue
squares" gives two regions, each prompted "a blue square"). Boxes are fractions of a square canvas,
origin top-left, y downwards. The rules a planned layout keeps are in `compose.planning.rules`.

Algorithm, and where each step lives
====================================
1. Check the scene at the edge (ids, words, counts; `rules.check_scene`) and find contradictions up
   front (`prechecks`): a group related to itself, cycles in the left-right, top-bottom or drawing
   order, relations that push a group out of its location, a "between" that no axis allows, more
   objects than fit. These raise `UnsatisfiableSceneError` naming the relations at fault.
2. Search, with restarts (at most `max_attempts`; `search.plan`). An attempt (`attempt.Attempt`)
   samples sizes (smaller on later attempts; what holds other things larger), random target centres
   that respect every order (`placement`), and an axis and direction for every "between". With those
   fixed, every rule is a difference constraint (x_j - x_i <= c) on the box centres of one axis, so
   each axis is a simple temporal network, which Floyd-Warshall decides exactly (`network`; Dechter,
   Meiri & Pearl 1991).
   Phase 1 solves a relaxed problem: every rule except the gaps between boxes and how far apart the two
   ends of a "between" are. When a network has no solution, one choice on a contradicting cycle is
   changed (conflict-directed repair).
   Phase 2 (`separation`) adds the rest to the closed networks one item at a time, the most
   constrained first: for each pair that may not overlap, the axis and order that keep it apart
   (preferring what the relaxed layout shows, then what leaves the most room); for each "between", its
   spread. Each is checked against all bounds so far, so no contradiction is ever built; a dead end
   retries phase 2 a few times before the attempt restarts. Centres are then drawn one by one inside
   what is left of their intervals, pulled towards the relaxed layout.
3. The finished layout is checked again with shapely (`verify`) before it is returned. Everything
   random comes from `random.Random(seed)`, so a seed fixes the layout.

Modules: `rules` (the rules and the scene read into them), `prechecks`, `problem` (the rules spread over
instances), `placement` (sizes and targets), `network`, `attempt`, `separation`, `verify`, `search`
(`plan`), `graphs` (a cycle, a path) and `tuning` (the search's own numbers, none of them a rule).
"""

from compose.planning.rules import (
    ASPECT_JITTER, FRONT_MIN_OVERLAP, FRONT_MIN_VISIBLE, INSIDE_INSET, ON_BOTTOM_BAND, ON_CENTRE_INSET,
    OPEN_VOCABULARY_MAX_OBJECTS, SHAPE_NOUNS, SHAPES_DEPTH_READING, UNKNOWN_PREDICATE_READING,
    UnsatisfiableSceneError, aspect_ratio, is_shapes_scene)
from compose.planning.search import DEFAULT_MAX_ATTEMPTS, plan

__all__ = [
    "ASPECT_JITTER", "DEFAULT_MAX_ATTEMPTS", "FRONT_MIN_OVERLAP", "FRONT_MIN_VISIBLE", "INSIDE_INSET",
    "ON_BOTTOM_BAND", "ON_CENTRE_INSET", "OPEN_VOCABULARY_MAX_OBJECTS", "SHAPE_NOUNS", "SHAPES_DEPTH_READING",
    "UNKNOWN_PREDICATE_READING", "UnsatisfiableSceneError", "aspect_ratio", "is_shapes_scene", "plan",
]
