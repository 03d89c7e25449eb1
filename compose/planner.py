"""Plan a layout: give every object instance of a scene a box on the canvas (compose issue 2, section 3).

`plan(scene, seed)` turns a `Scene` into a `Layout` with one `Region` per object instance ("two blue
squares" gives two regions, each prompted "a blue square"). Boxes are fractions of a square canvas,
origin top-left, y downwards.

Rules a planned layout keeps
============================
Shapes-world scenes (every noun is one of circle, square, triangle, diamond, star, or "shape"):
shared/specs/shapes-world.md, spec v1, exactly: square boxes whose side lies in the size range of the
size word (`world.size_range`), every box 0.02 inside the canvas, no overlaps and a gap of at least
0.05 between every two boxes, at most 8 objects. A relation between two groups holds, by
`world.relation_holds`, for EVERY pair of their members ("a circle left of two squares": the circle is
left of both); "A between B and C" holds for every triple; a location holds for every member
(`world.location_holds`). The spec judges only flat relations, so depth words are read as the flat
picture a person would draw of them:

    A on B           -> A above B and A near B     (a thing resting on another sits just above it)
    A in front of B  -> A below B and A near B     (nearer things stand lower in a picture)
    A behind B       -> A above B and A near B     (farther things stand higher)
    A inside B       -> A near B                   (shapes may not overlap, so the closest legal reading)
    any other verb   -> A near B                   ("holding", "riding")

Open-vocabulary scenes (any other noun: cat, table, person, car ...): every box has plausible
proportions, width / height = the noun's aspect ratio from compose/data/proportions.json (the noun,
else its last word, else 1.0: near-square), varied by at most +-10% per instance, shape nouns square;
its size (the side of the square of equal area, sqrt(w * h)) lies in the size word's range. Margin,
gap, spatial relations and locations are as for shapes. Boxes overlap only where a relation asks for
it; regions later in `Layout.regions` are drawn in front (shared/specs/layout-files.md). Each member of
the subject group of a depth relation is paired with one member of the object group (member i with
member i mod count), and for that pair:

    A on B           A's centre x lies in the middle 80% of B's width, and A's bottom edge lies in the
                     band from 5% to 30% of B's height below B's top edge (A sits on B's top part,
                     overlapping it); A is drawn after B.
    A in front of B  the boxes overlap by at least 25% of the narrower width and 25% of the lower
                     height; A's bottom edge is not above B's (nearer things stand lower); at least
                     25% of B's box stays uncovered by A; A is drawn after B.
    A behind B       B in front of A.
    A inside B       A's box lies within B's box, 5% of B's width / height in from each edge; A is
                     drawn after B.
    any other verb   A near B for every member pair, and their boxes may overlap; A is drawn after B
                     where that makes no cycle.

Algorithm
=========
1. Check the scene at the edge (ids, words, counts) and find contradictions up front: a group related
   to itself, cycles in the left-right, top-bottom or drawing order, relations that push a group out of
   its location, a "between" that no axis allows, more objects than fit. These raise
   `UnsatisfiableSceneError` naming the relations at fault.
2. Search, with restarts (at most `max_attempts`). An attempt samples sizes (smaller on later attempts;
   what holds other things larger), random target centres that respect every order, and an axis and
   direction for every "between". With those fixed, every rule is a difference constraint
   (x_j - x_i <= c) on the box centres of one axis, so each axis is a simple temporal network, which
   Floyd-Warshall decides exactly (Dechter, Meiri & Pearl 1991).
   Phase 1 solves a relaxed problem: every rule except the gaps between boxes and how far apart the two
   ends of a "between" are. When a network has no solution, one choice on a contradicting cycle is
   changed (conflict-directed repair).
   Phase 2 adds the rest to the closed networks one item at a time, the most constrained first: for
   each pair that may not overlap, the axis and order that keep it apart (preferring what the relaxed
   layout shows, then what leaves the most room); for each "between", its spread. Each is checked
   against all bounds so far, so no contradiction is ever built; a dead end retries phase 2 a few times
   before the attempt restarts. Centres are then drawn one by one inside what is left of their
   intervals, pulled towards the relaxed layout.
   The finished layout is checked again (with shapely) before it is returned. Everything random comes
   from `random.Random(seed)`, so a seed fixes the layout.
"""

from __future__ import annotations

import collections
import functools
import heapq
import json
import logging
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely

from compose.scene import DEPTH_PREDICATES, LOCATIONS, SIZES, SPATIAL_PREDICATES, Layout, Region, Relation, Scene
from compose.shapes import world

logger = logging.getLogger(__name__)

SHAPE_NOUNS = frozenset(world.SHAPES) | {"shape"}
OPEN_VOCABULARY_MAX_OBJECTS = 16  # a layout file holds at most 16 regions (layout-files spec v1)
DEFAULT_MAX_ATTEMPTS = 400

# How depth words and unknown verbs are read in a shapes-world scene (see the module docstring).
SHAPES_DEPTH_READING: Mapping[str, tuple[str, ...]] = {
    "on": ("above", "near"),
    "in_front_of": ("below", "near"),
    "behind": ("above", "near"),
    "inside": ("near",),
}
UNKNOWN_PREDICATE_READING = ("near",)

# Open-vocabulary depth rules (module docstring); the planner keeps a little inside each bound.
ASPECT_JITTER = 0.10  # an instance's aspect ratio is within +-10% of its noun's
ON_CENTRE_INSET = 0.10  # A on B: A's centre x at least 10% of B's width inside B's sides
ON_BOTTOM_BAND = (0.05, 0.30)  # A on B: A's bottom edge this far below B's top, in B's heights
FRONT_MIN_OVERLAP = 0.25  # A in front of B: overlap, as a fraction of the smaller width / height
FRONT_MIN_VISIBLE = 0.25  # A in front of B: fraction of B's box that A leaves uncovered
INSIDE_INSET = 0.05  # A inside B: A keeps this fraction of B's width / height from B's edges

_EPSILON = 1e-6  # planned values keep this much inside every bound, against rounding
_NEAR_RADIUS = world.NEAR_GAP - 1e-4  # "near" pairs keep their Euclidean gap within this
_BETWEEN_STEP = 0.005  # "strictly between": centres at least this far apart along the axis
_PLANNED_ASPECT_JITTER = 0.08  # drawn inside ASPECT_JITTER, so the rule holds with room to spare
_PLANNED_FRONT_OVERLAP = 0.30  # planned inside FRONT_MIN_OVERLAP
_PLANNED_FRONT_VISIBLE = 0.30  # a strip of B (top, left or right) this deep stays uncovered
_INSIDE_MAX_SCALE = 0.85  # A inside B is sized to at most this fraction of B's width and height
_ON_WIDTH_SHARE = 0.6  # A on B is preferably sized to at most this fraction of B's width
_TARGET_FILL = 0.5  # first attempts size objects to cover about this share of the usable canvas
_TARGET_PULL = 0.7  # a drawn centre is this much the target, the rest uniform in its interval
_WHOLE_BETWEEN_ATTEMPTS = 8  # first attempts lay out each "between" along one axis ...
_WHOLE_BETWEEN_SHARE = 0.5  # ... later ones only this often, else each (b, c) pair on its own
_SEPARATION_TRIES = 4  # phase 2 runs from one relaxed layout before the attempt restarts
_NEAR_MAX_ANGLE = 0.9 * math.acos(world.MIN_GAP / _NEAR_RADIUS)  # see _Attempt._separation_options
_SHOWN_BONUS = 0.3  # phase 2 prefers the axis and order the relaxed layout shows by this much room
_TABU = 4  # a choice changed in the last this many repairs is not changed again if avoidable
_REPAIRS = 12  # phase 1 choices changed per attempt before it restarts with new sizes and targets
_AXES = ("x", "y")
_SIDES = ("top", "left", "right")


class UnsatisfiableSceneError(ValueError):
    """The scene asks for something no layout can give: contradicting relations, or too many objects.

    The message names the relations (or the count) at fault, so a person can change the prompt."""


@functools.cache
def _proportions() -> tuple[float, Mapping[str, float]]:
    path = Path(__file__).parent / "data" / "proportions.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return float(data["default"]), dict(data["aspect_ratios"])


def aspect_ratio(noun: str) -> float:
    """Typical width / height of a thing called `noun` (compose/data/proportions.json).

    Shape nouns are square (1.0). An unknown noun falls back to its last word ("dining table" ->
    "table"), then to the file's default (1.0, near-square)."""
    noun = noun.strip().lower()
    if noun in SHAPE_NOUNS:
        return 1.0
    default, ratios = _proportions()
    if noun in ratios:
        return ratios[noun]
    last_word = noun.split()[-1] if noun.split() else noun
    return ratios.get(last_word, default)


def is_shapes_scene(scene: Scene) -> bool:
    """Whether every object of the scene is a shapes-world shape, so that spec v1's rules apply."""
    return all(group.noun.strip().lower() in SHAPE_NOUNS for group in scene.objects)


# --- The scene, read into constraints -------------------------------------------------------------


@dataclass(frozen=True)
class _Order:
    """Group `before`'s centres lie before group `after`'s along an axis, by at least `margin`."""

    axis: int  # 0: x (left to right), 1: y (top to bottom)
    before: int
    after: int
    margin: float
    label: str


@dataclass(frozen=True)
class _Check:
    """A relation judged by `world.relation_holds` on every member pair (or triple, for between)."""

    predicate: str
    subject: int
    object: int
    object2: int | None  # "between" only; equal to `object` for "between two squares"
    label: str


@dataclass(frozen=True)
class _Depth:
    """An open-vocabulary depth relation: kind "on", "in_front_of" or "inside" (behind is reversed)."""

    kind: str
    subject: int  # the group on top / in front / inside
    object: int
    label: str


@dataclass
class _Rules:
    orders: list[_Order] = field(default_factory=list)
    checks: list[_Check] = field(default_factory=list)
    depths: list[_Depth] = field(default_factory=list)
    overlapping_groups: set[frozenset[int]] = field(default_factory=set)  # verb-linked pairs
    draw_edges: list[tuple[int, int, str, bool]] = field(default_factory=list)  # earlier, later, label, hard


@dataclass(frozen=True)
class _Instance:
    index: int
    group: int  # the group's id
    member: int
    is_shape: bool
    size_range: tuple[float, float]
    aspect: float
    location: str | None


def _check_scene(scene: Scene) -> None:
    """Reject malformed scenes with a ValueError that names the field, the rule and the fix."""
    if not isinstance(scene, Scene):
        raise ValueError(f"plan() needs a compose.Scene, got {type(scene).__name__}; "
                         "build one with compose.parse(prompt) or Scene.from_dict(data)")
    seen_ids: set[int] = set()
    for group in scene.objects:
        where = f"object group {group.id} ({group.phrase!r})"
        if group.id in seen_ids:
            raise ValueError(f"{where}: id {group.id} is used twice; give every object group its own id")
        seen_ids.add(group.id)
        if not isinstance(group.noun, str) or not group.noun.strip():
            raise ValueError(f"{where}: noun is empty; every object group needs its head noun")
        if not isinstance(group.count, int) or group.count < 1:
            raise ValueError(f"{where}: count {group.count!r} is not an integer >= 1")
        if group.size is not None and group.size not in SIZES:
            raise ValueError(f"{where}: size {group.size!r} is not one of {', '.join(SIZES)} (or null)")
        if group.location is not None and group.location not in LOCATIONS:
            raise ValueError(f"{where}: location {group.location!r} is not one of "
                             f"{', '.join(LOCATIONS)} (or null)")
    for index, relation in enumerate(scene.relations):
        where = f"relation {index} ({relation.subject} {relation.predicate!r} {relation.object})"
        if not isinstance(relation.predicate, str) or not relation.predicate.strip():
            raise ValueError(f"{where}: predicate is empty; name the relation, e.g. 'left_of'")
        for role in ("subject", "object", "object2"):
            value = getattr(relation, role)
            if value is not None and value not in seen_ids:
                raise ValueError(f"{where}: {role} {value} is not the id of an object group; "
                                 f"ids are {sorted(seen_ids)}")
        if relation.predicate == "between":
            other = relation.object if relation.object2 is None else relation.object2
            if other == relation.object and scene.group(relation.object).count < 2:
                raise ValueError(f"{where}: 'between' needs two things: an object2, or an object "
                                 "group of count >= 2 ('between two squares')")
        elif relation.object2 is not None:
            raise ValueError(f"{where}: only 'between' takes an object2; set object2 to null")


def _group_names(scene: Scene) -> dict[int, str]:
    """How messages name a group: its noun, or its phrase where two groups share a noun."""
    noun_counts = collections.Counter(group.noun for group in scene.objects)
    return {group.id: group.noun if noun_counts[group.noun] == 1 else repr(group.phrase)
            for group in scene.objects}


def _relation_label(relation: Relation, names: Mapping[int, str]) -> str:
    if relation.predicate == "between":
        if relation.object2 is None or relation.object2 == relation.object:
            return f"{names[relation.subject]} between the {names[relation.object]} group"
        return f"{names[relation.subject]} between {names[relation.object]} and {names[relation.object2]}"
    return f"{names[relation.subject]} {relation.predicate} {names[relation.object]}"


def _read_relations(scene: Scene, shapes_scene: bool, names: Mapping[int, str]) -> _Rules:
    """Turn the scene's relations into orders, checks, depth rules and drawing-order edges."""
    rules = _Rules()
    flat_orders = {  # predicate -> (axis, subject comes first)
        "left_of": (0, True), "right_of": (0, False), "above": (1, True), "below": (1, False),
    }
    for relation in scene.relations:
        label = _relation_label(relation, names)
        subject, object_ = relation.subject, relation.object
        predicate = relation.predicate
        others = [object_] + ([relation.object2] if relation.object2 is not None else [])
        if subject in others:
            raise UnsatisfiableSceneError(
                f"{label} relates the group to itself; a relation needs two different object groups")
        if predicate in SPATIAL_PREDICATES:
            readings: tuple[str, ...] = (predicate,)
        elif shapes_scene:
            readings = SHAPES_DEPTH_READING.get(predicate, UNKNOWN_PREDICATE_READING)
        elif predicate == "behind":
            rules.depths.append(_Depth("in_front_of", object_, subject, label))
            rules.draw_edges.append((subject, object_, label, True))
            continue
        elif predicate in DEPTH_PREDICATES:
            rules.depths.append(_Depth(predicate, subject, object_, label))
            rules.draw_edges.append((object_, subject, label, True))
            if predicate == "on":  # A on B puts A's centre above B's
                rules.orders.append(_Order(1, subject, object_, 0.0, label))
            continue
        else:  # an unknown verb in an open-vocabulary scene: near, overlap allowed
            readings = UNKNOWN_PREDICATE_READING
            rules.overlapping_groups.add(frozenset((subject, object_)))
            rules.draw_edges.append((object_, subject, label, False))
        for reading in readings:
            if reading in flat_orders:
                axis, subject_first = flat_orders[reading]
                before, after = (subject, object_) if subject_first else (object_, subject)
                rules.orders.append(_Order(axis, before, after, world.RELATION_MARGIN, label))
            object2 = None
            if reading == "between":
                object2 = object_ if relation.object2 is None else relation.object2
            rules.checks.append(_Check(reading, subject, object_, object2, label))
    return rules


def _make_instances(scene: Scene) -> list[_Instance]:
    """One instance per member of every group, numbered in scene order."""
    instances = []
    for group in scene.objects:
        is_shape = group.noun.strip().lower() in SHAPE_NOUNS
        for member in range(group.count):
            instances.append(_Instance(
                index=len(instances), group=group.id, member=member, is_shape=is_shape,
                size_range=world.size_range(group.size),
                aspect=1.0 if is_shape else aspect_ratio(group.noun), location=group.location))
    return instances


# --- Contradictions found before any search -------------------------------------------------------


def _find_cycle(nodes: Iterable[int], edges: Sequence[tuple[int, int, str]]) -> list[str] | None:
    """Labels of the edges along one directed cycle, in order, or None when the graph has none."""
    outgoing: dict[int, list[tuple[int, str]]] = collections.defaultdict(list)
    for start, end, label in edges:
        outgoing[start].append((end, label))
    state: dict[int, int] = {}  # 1: on the current path, 2: finished
    path_labels: list[str] = []
    path_nodes: list[int] = []

    def visit(node: int) -> list[str] | None:
        state[node] = 1
        path_nodes.append(node)
        for successor, label in outgoing[node]:
            if state.get(successor) == 1:
                return path_labels[path_nodes.index(successor):] + [label]
            if successor not in state:
                path_labels.append(label)
                found = visit(successor)
                if found is not None:
                    return found
                path_labels.pop()
        path_nodes.pop()
        state[node] = 2
        return None

    for node in nodes:
        if node not in state:
            found = visit(node)
            if found is not None:
                return found
    return None


def _join_labels(labels: Iterable[str]) -> str:
    unique = list(dict.fromkeys(labels))
    if len(unique) == 1:
        return unique[0]
    return ", ".join(unique[:-1]) + " and " + unique[-1]


def _smallest_extents(instance: _Instance) -> tuple[float, float]:
    """Lower bounds of the width and of the height any allowed box of this instance has."""
    side = instance.size_range[0]
    if instance.is_shape:
        return side, side
    return (side * math.sqrt(instance.aspect * (1 - ASPECT_JITTER)),
            side / math.sqrt(instance.aspect * (1 + ASPECT_JITTER)))


def _check_world_limit(scene: Scene, shapes_scene: bool) -> None:
    """More objects than the world holds: 8 in a shapes-world scene (shapes world spec v1, placement),
    16 in any layout (layout files spec v1). Checked on the counts, before any instance is made, so that
    "a thousand stars" costs nothing: "40 circles: the shapes world holds at most 8 objects"."""
    limit = world.MAX_OBJECTS if shapes_scene else OPEN_VOCABULARY_MAX_OBJECTS
    total = sum(group.count for group in scene.objects)
    if total <= limit:
        return
    if shapes_scene:  # shape nouns all take -s: "40 circles"; a colour tells groups of one noun apart
        nouns = collections.Counter(group.noun for group in scene.objects)
        named = [" ".join([str(group.count)] + ([group.color] if group.color and nouns[group.noun] > 1 else [])
                          + [group.noun + ("s" if group.count > 1 else "")]) for group in scene.objects]
    else:
        named = [f'"{group.phrase}"' for group in scene.objects]
    what = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
    if len(named) > 1 or not shapes_scene:
        what += f" ({total} objects)"
    where = ("the shapes world holds at most {limit} objects (shapes world spec v1)" if shapes_scene
             else "a layout holds at most {limit} objects (layout files spec v1)").format(limit=limit)
    raise UnsatisfiableSceneError(f"{what}: {where}; ask for {limit} or fewer")


def _check_object_count(scene: Scene, shapes_scene: bool, instances: Sequence[_Instance], rules: _Rules) -> None:
    """Too many objects: more than can fit at their smallest sizes (the world's limit is checked before,
    by `_check_world_limit`).

    Two boxes a Euclidean gap g apart are at least g / sqrt(2) apart along x or along y, so boxes
    grown by g / (2 sqrt(2)) on every side are disjoint. That bounds their total area, and it bounds
    how many box centres fit in a rectangle: two centres in one cell of a grid of cells as large as
    the grown boxes could not be apart along either axis. Both bounds are applied to the whole canvas
    and to each location word's part of it, counting only boxes that may overlap nothing."""
    linked = {group for pair in rules.overlapping_groups for group in pair}
    linked |= {depth.subject for depth in rules.depths} | {depth.object for depth in rules.depths}
    free = [instance for instance in instances if instance.group not in linked]
    grow = world.MIN_GAP / math.sqrt(2)

    span = 1 - 2 * world.CANVAS_MARGIN
    needed = sum((width + grow) * (height + grow) for width, height in map(_smallest_extents, free))
    available = (span + grow) ** 2
    if needed > available + 1e-12:
        raise UnsatisfiableSceneError(
            f"{len(free)} objects; they do not all fit: at their smallest allowed sizes, with the "
            f"{world.MIN_GAP} gap between boxes, they need {needed:.2f} of the canvas area and only "
            f"{available:.2f} is usable: ask for fewer or smaller objects")

    places: list[str | None] = [None] + sorted({instance.location for instance in free if instance.location})
    for place in places:
        members = [instance for instance in free if place is None or instance.location == place]
        members.sort(key=lambda instance: -math.prod(_smallest_extents(instance)))
        worst = None  # the largest number of them that cannot fit (to name all of them)
        for taken in range(2, len(members) + 1):
            subset = members[:taken]
            width = min(_smallest_extents(instance)[0] for instance in subset)
            height = min(_smallest_extents(instance)[1] for instance in subset)
            capacity = 1
            for axis, extent in enumerate((width, height)):
                low, high = world.CANVAS_MARGIN + extent / 2, 1 - world.CANVAS_MARGIN - extent / 2
                if place is not None:
                    bounds = world.LOCATION_BOUNDS[place][axis]
                    low, high = max(low, bounds[0]), min(high, bounds[1])
                capacity *= math.floor(max(high - low, 0.0) / (extent + grow) + 1e-9) + 1
            if taken > capacity:
                worst = (subset, capacity, width, height)
        if worst is None:
            continue
        subset, capacity, width, height = worst
        groups = collections.Counter(instance.group for instance in subset)
        which = _join_labels(f"{count} of {scene.group(group).phrase!r}" if count < scene.group(group).count
                             else repr(scene.group(group).phrase) for group, count in groups.items())
        where = "on the canvas" if place is None else f"at {place!r}"
        raise UnsatisfiableSceneError(
            f"{len(subset)} objects ({which}); at most {capacity} fit {where}: boxes at least "
            f"{width:.2f} wide and {height:.2f} tall, with the {world.MIN_GAP} gap between them, "
            "leave no room for more: ask for fewer or smaller objects"
            + ("" if place is None else ", or another location"))


def _check_inside_sizes(scene: Scene, rules: _Rules, names: Mapping[int, str]) -> None:
    """A inside B needs A's box within B's, 5% in from each edge, so A's size (sqrt(w * h)) is at
    most 90% of B's: size words that forbid this contradict."""
    for depth in rules.depths:
        if depth.kind != "inside":
            continue
        inner, outer = scene.group(depth.subject), scene.group(depth.object)
        smallest_inner, largest_outer = world.size_range(inner.size)[0], world.size_range(outer.size)[1]
        if smallest_inner > (1 - 2 * INSIDE_INSET) * largest_outer + 1e-12:
            raise UnsatisfiableSceneError(
                f"{depth.label}: a {inner.size or 'any-size'} {names[inner.id]} (size >= {smallest_inner}) "
                f"cannot fit inside a {outer.size or 'any-size'} {names[outer.id]} (size <= {largest_outer}); "
                "change a size word")


def _check_orders(scene: Scene, rules: _Rules) -> None:
    """Cycles in either axis's order or in the drawing order contradict."""
    group_ids = [group.id for group in scene.objects]
    for axis, axis_name in enumerate(("left-right", "top-bottom")):
        edges = [(order.before, order.after, order.label) for order in rules.orders if order.axis == axis]
        cycle = _find_cycle(group_ids, edges)
        if cycle is not None:
            raise UnsatisfiableSceneError(
                f"{_join_labels(cycle)} contradict (a cycle in the {axis_name} order); "
                "drop or change one of them")
    hard_edges = [(earlier, later, label) for earlier, later, label, hard in rules.draw_edges if hard]
    cycle = _find_cycle(group_ids, hard_edges)
    if cycle is not None:
        raise UnsatisfiableSceneError(
            f"{_join_labels(cycle)} contradict (each would have to be drawn in front of the other); "
            "drop or change one of them")


def _check_locations(scene: Scene, rules: _Rules, instances: Sequence[_Instance]) -> None:
    """Relations that push a group out of the part of the canvas its location word allows."""
    smallest_half = {}
    for instance in instances:
        half_width = instance.size_range[0] * math.sqrt(instance.aspect * (1 - ASPECT_JITTER)) / 2
        half_height = instance.size_range[0] / math.sqrt(instance.aspect * (1 + ASPECT_JITTER)) / 2
        if instance.is_shape:
            half_width = half_height = instance.size_range[0] / 2
        smallest_half[instance.group] = (half_width, half_height)
    names = _group_names(scene)
    for axis, axis_name in enumerate(("x", "y")):
        low, high = {}, {}
        for group in scene.objects:
            half = smallest_half[group.id][axis]
            low[group.id] = world.CANVAS_MARGIN + half
            high[group.id] = 1 - world.CANVAS_MARGIN - half
            if group.location is not None:
                bounds = world.LOCATION_BOUNDS[group.location][axis]
                low[group.id], high[group.id] = max(low[group.id], bounds[0]), min(high[group.id], bounds[1])
                if low[group.id] > high[group.id]:  # cannot happen with the spec's sizes; kept honest
                    raise UnsatisfiableSceneError(
                        f"{names[group.id]} cannot be at {group.location!r}: even its smallest box "
                        "does not fit there")
        orders = [order for order in rules.orders if order.axis == axis]
        # Earliest centre each group can have, following the orders forward (a longest path).
        earliest = dict(low)
        cause: dict[int, tuple[int, str] | None] = {group_id: None for group_id in low}
        for _ in range(len(low)):
            changed = False
            for order in orders:
                candidate = earliest[order.before] + order.margin
                if candidate > earliest[order.after] + 1e-12:
                    earliest[order.after] = candidate
                    cause[order.after] = (order.before, order.label)
                    changed = True
            if not changed:
                break
        for group in scene.objects:
            if earliest[group.id] <= high[group.id] + 1e-12:
                continue
            chain, node = [], group.id
            while cause[node] is not None and len(chain) <= len(low):
                node, label = cause[node]
                chain.append(label)
            start = scene.group(node)
            where = [f"{names[g.id]} is at {g.location!r}" for g in (start, group) if g.location]
            verb = "contradicts" if len(set(chain)) == 1 else "contradict"
            raise UnsatisfiableSceneError(
                f"{_join_labels(reversed(chain))} {verb} the locations "
                f"({_join_labels(where) if where else 'the canvas edges'}) along {axis_name}: "
                f"{names[group.id]} would need its centre at {axis_name} >= {earliest[group.id]:.2f} "
                f"but may be at most {high[group.id]:.2f}; change a location or a relation")


# --- Instance-level structure the search works on -------------------------------------------------


@dataclass
class _Problem:
    """Everything about a scene that stays fixed across search attempts."""

    scene: Scene
    shapes_scene: bool
    instances: list[_Instance]
    members: dict[int, list[int]]  # group id -> instance indices
    rules: _Rules
    orders: list[list[tuple[int, int, float, str]]]  # per axis: (before, after, margin, label)
    near_pairs: list[tuple[int, int]]
    betweens: list[tuple[_Check, list[tuple[int, int, int]]]]  # (check, [(a, b, c), ...])
    depth_pairs: list[tuple[str, int, int, str]]  # (kind, subject instance, object instance, label)
    overlap_pairs: set[tuple[int, int]]  # instance pairs (low, high) exempt from the gap
    separated_pairs: list[tuple[int, int]]
    draw_rank: dict[int, int]  # group id -> position in the drawing order
    fill_fraction: float


def _between_triples(check: _Check, members: Mapping[int, list[int]]) -> list[tuple[int, int, int]]:
    if check.object2 == check.object:  # "between two squares": between the group's first and last
        first, last = members[check.object][0], members[check.object][-1]
        return [(a, first, last) for a in members[check.subject]]
    return [(a, b, c) for a in members[check.subject] for b in members[check.object]
            for c in members[check.object2]]


def _draw_rank(scene: Scene, rules: _Rules) -> dict[int, int]:
    """Order groups so that everything a relation puts in front is drawn later (a stable topological sort)."""
    group_ids = [group.id for group in scene.objects]
    accepted = [(earlier, later, label) for earlier, later, label, hard in rules.draw_edges if hard]
    for earlier, later, label, hard in rules.draw_edges:
        if not hard and _find_cycle(group_ids, accepted + [(earlier, later, label)]) is None:
            accepted.append((earlier, later, label))
    indegree = {group_id: 0 for group_id in group_ids}
    successors: dict[int, list[int]] = collections.defaultdict(list)
    for earlier, later, _ in accepted:
        successors[earlier].append(later)
        indegree[later] += 1
    position = {group_id: index for index, group_id in enumerate(group_ids)}
    ready = [(position[g], g) for g in group_ids if indegree[g] == 0]
    heapq.heapify(ready)
    rank: dict[int, int] = {}
    while ready:
        _, group_id = heapq.heappop(ready)
        rank[group_id] = len(rank)
        for successor in successors[group_id]:
            indegree[successor] -= 1
            if indegree[successor] == 0:
                heapq.heappush(ready, (position[successor], successor))
    assert len(rank) == len(group_ids), "drawing order has a cycle that _check_orders missed"
    return rank


def _fill_fraction(instances: Sequence[_Instance], exempt_groups: set[int]) -> float:
    """Share of each size range the first attempts draw from, so that boxes fill ~_TARGET_FILL."""
    usable = (1 - 2 * world.CANVAS_MARGIN + world.MIN_GAP) ** 2 * _TARGET_FILL

    def area(fraction: float) -> float:
        total = 0.0
        for instance in instances:
            if instance.group in exempt_groups:
                continue
            low, high = instance.size_range
            side = low + (high - low) * fraction / 2
            root = math.sqrt(instance.aspect)
            total += (side * root + world.MIN_GAP) * (side / root + world.MIN_GAP)
        return total

    if area(1.0) <= usable:
        return 1.0
    low, high = 0.0, 1.0
    for _ in range(20):
        middle = (low + high) / 2
        low, high = (middle, high) if area(middle) <= usable else (low, middle)
    return low


def _build_problem(scene: Scene, shapes_scene: bool, instances: list[_Instance], rules: _Rules) -> _Problem:
    members: dict[int, list[int]] = collections.defaultdict(list)
    for instance in instances:
        members[instance.group].append(instance.index)
    orders: list[list[tuple[int, int, float, str]]] = [[], []]
    for order in rules.orders:
        for before in members[order.before]:
            for after in members[order.after]:
                orders[order.axis].append((before, after, order.margin, order.label))
    near_pairs = sorted({(min(a, b), max(a, b)) for check in rules.checks if check.predicate == "near"
                         for a in members[check.subject] for b in members[check.object]})
    betweens = [(check, _between_triples(check, members))
                for check in rules.checks if check.predicate == "between"]
    depth_pairs = []
    overlap_pairs: set[tuple[int, int]] = set()
    for depth in rules.depths:
        objects = members[depth.object]
        for position, subject in enumerate(members[depth.subject]):
            object_ = objects[position % len(objects)]
            depth_pairs.append((depth.kind, subject, object_, depth.label))
            overlap_pairs.add((min(subject, object_), max(subject, object_)))
    for pair in rules.overlapping_groups:
        first, second = sorted(pair)
        for a in members[first]:
            for b in members[second]:
                overlap_pairs.add((min(a, b), max(a, b)))
    separated = [(i, j) for i in range(len(instances)) for j in range(i + 1, len(instances))
                 if (i, j) not in overlap_pairs]
    exempt = {depth.subject for depth in rules.depths}
    return _Problem(
        scene=scene, shapes_scene=shapes_scene, instances=instances, members=dict(members),
        rules=rules, orders=orders, near_pairs=near_pairs, betweens=betweens,
        depth_pairs=depth_pairs, overlap_pairs=overlap_pairs, separated_pairs=separated,
        draw_rank=_draw_rank(scene, rules), fill_fraction=_fill_fraction(instances, exempt))


def _reaches(successors: Mapping[int, Iterable[int]], start: int, goal: int) -> bool:
    stack, seen = [start], {start}
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        for successor in successors.get(node, ()):
            if successor not in seen:
                seen.add(successor)
                stack.append(successor)
    return False


def _check_betweens(problem: _Problem) -> None:
    """A "between" contradicts when, on both axes, other orders put A on one side of B and C."""
    for check, triples in problem.betweens:
        options_left = 0
        blocking: list[str] = []
        for axis in (0, 1):
            for flip in (False, True):
                edges = [(before, after, label) for before, after, _, label in problem.orders[axis]]
                for a, b, c in triples:
                    first, last = (c, b) if flip else (b, c)
                    edges += [(first, a, check.label), (a, last, check.label)]
                cycle = _find_cycle(range(len(problem.instances)), edges)
                if cycle is None:
                    options_left += 1
                else:
                    blocking += [label for label in cycle if label != check.label]
        if options_left == 0:
            raise UnsatisfiableSceneError(
                f"{check.label} contradicts {_join_labels(blocking)}: on both axes they put "
                f"{_group_names(problem.scene)[check.subject]} on the same side of both; drop one of them")


# --- The search -----------------------------------------------------------------------------------


class _AttemptFailed(Exception):
    """One search attempt found no layout; the message says why (kept for the final error)."""


def _sample_sizes(problem: _Problem, rng: random.Random, fraction: float) -> tuple[list[float], list[float]]:
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
            1 - _PLANNED_ASPECT_JITTER, 1 + _PLANNED_ASPECT_JITTER)
        sides.append(side)
        widths.append(side * math.sqrt(aspect))
        heights.append(side / math.sqrt(aspect))
    # Things inside others must be smaller (always), by a share that varies, so that they have room
    # to move inside; things on others preferably narrower.
    inside_scale = rng.uniform(0.5, _INSIDE_MAX_SCALE)

    def scale(index: int, factor: float) -> None:
        sides[index] *= factor
        widths[index] *= factor
        heights[index] *= factor

    sharing = collections.Counter(object_ for kind, _, object_, _ in problem.depth_pairs if kind == "on")

    def excess(kind: str, subject: int, object_: int) -> float:
        if kind == "on":
            # Several things on one host stand side by side on its top part, their centres within
            # its middle: each gets a share of its width.
            limit = _ON_WIDTH_SHARE * widths[object_] if plausible else math.inf
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
        raise _AttemptFailed(f"{misfit}: the inner object does not fit at the allowed sizes")
    return widths, heights


def _centre_bounds(problem: _Problem, extents: Sequence[float], axis: int) -> list[tuple[float, float]]:
    """Where each centre may go along one axis: inside the canvas margin and the location's bounds."""
    bounds = []
    for instance, extent in zip(problem.instances, extents):
        low = world.CANVAS_MARGIN + extent / 2 + _EPSILON
        high = 1 - world.CANVAS_MARGIN - extent / 2 - _EPSILON
        if instance.location is not None:
            location_low, location_high = world.LOCATION_BOUNDS[instance.location][axis]
            low, high = max(low, location_low + _EPSILON), min(high, location_high - _EPSILON)
        if low > high:
            raise _AttemptFailed(f"the {problem.scene.group(instance.group).noun} does not fit its "
                                 "location at the drawn size")
        bounds.append((low, high))
    return bounds


@dataclass
class _BetweenUnit:
    """Triples (a, b, c) of one "between" that this attempt lays out along one axis, one direction.

    Each subject member a sits strictly between b and c along `axis`. Spec v1 judges a triple on the
    axis along which b and c are further apart, so each pair (b, c) also gets a spread: their distance
    across the axis stays within it and their distance along the axis exceeds it."""

    label: str
    triples: list[tuple[int, int, int]]
    axis: int = 0
    flip: bool = False  # False: b comes first along the axis; True: c does

    def oriented(self, flip: bool | None = None) -> list[tuple[int, int, int]]:
        """(a, first, last) triples for an orientation (this unit's own by default)."""
        flip = self.flip if flip is None else flip
        return [(a, c, b) if flip else (a, b, c) for a, b, c in self.triples]

    def edges(self, flip: bool | None = None) -> list[tuple[int, int]]:
        return [edge for a, first, last in self.oriented(flip) for edge in ((first, a), (a, last))]

    def pairs(self) -> list[tuple[int, int]]:
        return list(dict.fromkeys((first, last) for _, first, last in self.oriented()))


class _Network:
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


class _Closed:
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
            value = _TARGET_PULL * target + (1 - _TARGET_PULL) * rng.uniform(low, high)
            value = float(min(max(value, low), high))
            values[node - 1] = value
            through_origin = bound[:, 0:1] + value + bound[node:node + 1, :]
            through_node = bound[:, node:node + 1] - value + bound[0:1, :]
            np.minimum(bound, np.minimum(through_origin, through_node), out=bound)
        return values


class _Attempt:
    """One restart of the search: sizes, targets and choices, then two phases of solving.

    Phase 1 solves every rule except the gaps between boxes and the spreads of "between" (a relaxed
    layout): orders, locations, "between" along its chosen axis, depth rules, and "near" as a box
    around each box. Its choices ("between" axes, how "near" splits for pairs that may overlap, which
    side of a back box stays visible) are repaired when a network has no solution: one choice on a
    contradicting cycle of constraints is changed (conflict-directed repair). Phase 2 then adds the
    spreads and the gaps pair by pair on the closed networks (`_separate`), checking each against all
    bounds so far, so that it never builds a contradiction; it retries a few times from the relaxed
    layout before the attempt gives up."""

    def __init__(self, problem: _Problem, rng: random.Random, attempt: int) -> None:
        self.problem, self.rng, self.attempt = problem, rng, attempt
        self.recent: collections.deque[tuple] = collections.deque(maxlen=_TABU)
        count = len(problem.instances)
        fraction = problem.fill_fraction * max(0.0, 1.0 - attempt / 30)
        self.widths, self.heights = _sample_sizes(problem, rng, fraction)
        self.extents = (self.widths, self.heights)
        self.bounds = [_centre_bounds(problem, self.widths, 0), _centre_bounds(problem, self.heights, 1)]

        # Targets: random centres inside each instance's bounds, things on / inside others moved
        # onto them, then re-dealt along each axis in an order that every relation allows.
        targets = [[rng.uniform(*self.bounds[axis][i]) for i in range(count)] for axis in (0, 1)]
        offsets = {index: (rng.uniform(-0.35, 0.35), rng.uniform(-0.1, 0.1))
                   for index in range(len(problem.depth_pairs))}
        self._place_on_hosts(targets, offsets)
        self.targets = targets
        self.base_edges = [[(before, after) for before, after, _, _ in problem.orders[axis]] for axis in (0, 1)]
        for axis in (0, 1):
            _deal_targets(count, self.base_edges[axis], targets[axis])
        self._place_on_hosts(targets, offsets)
        self.units = self._initial_units()
        self.near_slack: dict[tuple[int, int], tuple[float, float]] = {}
        separated = set(problem.separated_pairs)
        for i, j in problem.near_pairs:
            if (i, j) not in separated:
                self._choose_near_slack(i, j)
        self.visible_side: dict[int, str] = {}
        for index, (kind, _, _, _) in enumerate(problem.depth_pairs):
            if kind == "in_front_of":
                self.visible_side[index] = "top" if rng.random() < 0.7 else rng.choice(_SIDES)

    def _place_on_hosts(self, targets: list[list[float]], offsets: Mapping[int, tuple[float, float]]) -> None:
        """Move the targets of things on / in front of / inside others to where their rule puts them,
        spread over the host by `offsets` (fractions of its width and height)."""
        for _ in range(2):  # twice, for chains (a cup on a book on a table)
            for index, (kind, subject, object_, _) in enumerate(self.problem.depth_pairs):
                shift_x, shift_y = offsets[index]
                width_object, height_object = self.widths[object_], self.heights[object_]
                height_subject = self.heights[subject]
                targets[0][subject] = targets[0][object_] + shift_x * width_object
                if kind == "on":
                    targets[1][subject] = (targets[1][object_] - (height_object + height_subject) / 2
                                           + 0.175 * height_object)
                elif kind == "inside":
                    targets[0][subject] = targets[0][object_] + shift_x / 4 * width_object
                    targets[1][subject] = targets[1][object_] + shift_y * height_object
                else:
                    targets[1][subject] = targets[1][object_] + (0.4 + shift_y) * height_object

    # -- phase 1 choices --

    def _initial_units(self) -> list[_BetweenUnit]:
        """Split each "between" into units (whole early on; later, often per (b, c) pair) and orient them."""
        units: list[_BetweenUnit] = []
        for check, triples in self.problem.betweens:
            if self.attempt < _WHOLE_BETWEEN_ATTEMPTS or self.rng.random() < _WHOLE_BETWEEN_SHARE:
                units.append(_BetweenUnit(check.label, triples))
                continue
            pairs: dict[tuple[int, int], list[tuple[int, int, int]]] = collections.defaultdict(list)
            for a, b, c in triples:
                pairs[(b, c)].append((a, b, c))
            units.extend(_BetweenUnit(check.label, unit) for unit in pairs.values())
        for index, unit in enumerate(units):
            options = self._unit_options(units, index, placed=index)
            if not options:
                raise _AttemptFailed(f"{unit.label}: no axis is free for it with the other relations")
            if self.rng.random() < 0.85:  # mostly what the targets already show
                options.sort(key=lambda option: self._unit_preference(unit, *option))
            unit.axis, unit.flip = options[0]
        return units

    def _unit_options(self, units: Sequence[_BetweenUnit], index: int,
                      placed: int | None = None) -> list[tuple[int, bool]]:
        """Orientations of units[index] that keep both axis orders acyclic, in random order.

        Only units before `placed` (all others, by default) count as already oriented."""
        others = [unit for position, unit in enumerate(units)
                  if position != index and (placed is None or position < index)]
        options = []
        for axis in (0, 1):
            graph: dict[int, set[int]] = collections.defaultdict(set)
            for before, after in self.base_edges[axis]:
                graph[before].add(after)
            for unit in others:
                if unit.axis == axis:
                    for before, after in unit.edges():
                        graph[before].add(after)
            for flip in (False, True):
                new_edges = units[index].edges(flip)
                trial = collections.defaultdict(set, {node: set(nexts) for node, nexts in graph.items()})
                for before, after in new_edges:
                    trial[before].add(after)
                if not any(_reaches(trial, after, before) for before, after in new_edges):
                    options.append((axis, flip))
        self.rng.shuffle(options)
        return options

    def _unit_preference(self, unit: _BetweenUnit, axis: int, flip: bool) -> tuple[bool, float]:
        along, across = self.targets[axis], self.targets[1 - axis]
        matches = all(min(along[b], along[c]) < along[a] < max(along[b], along[c])
                      and (along[c] > along[b]) != flip for a, b, c in unit.triples)
        spare = sum(abs(along[c] - along[b]) - abs(across[c] - across[b]) for _, b, c in unit.triples)
        return (not matches, -spare if matches else 0.0)

    def _choose_near_slack(self, i: int, j: int) -> None:
        """For a pair that may overlap: split the Euclidean "near" gap into per-axis gap bounds at
        a random angle (mostly; else evenly)."""
        angle = self.rng.uniform(0.0, math.pi / 2) if self.rng.random() < 0.7 else math.pi / 4
        self.near_slack[(i, j)] = (_NEAR_RADIUS * math.cos(angle), _NEAR_RADIUS * math.sin(angle))

    def _repair(self, tags: Sequence[tuple]) -> None:
        """Change one choice among `tags` (the choices on a contradicting cycle)."""
        rng = self.rng
        fresh = [tag for tag in tags if tag not in self.recent]  # do not undo a recent change at once
        kind, key = rng.choice(fresh or list(tags))
        self.recent.append((kind, key))
        if kind == "near":
            self._choose_near_slack(*key)
        elif kind == "front":
            current = self.visible_side[key]
            self.visible_side[key] = rng.choice([side for side in _SIDES if side != current])
        else:  # a between unit
            options = [option for option in self._unit_options(self.units, key)
                       if option != (self.units[key].axis, self.units[key].flip)]
            if options:
                self.units[key].axis, self.units[key].flip = options[0]

    def _networks(self) -> list[_Network]:
        """The relaxed networks of phase 1."""
        problem, extents = self.problem, self.extents
        count = len(problem.instances)
        networks = [_Network(count), _Network(count)]
        for axis, network in enumerate(networks):
            for i, (low, high) in enumerate(self.bounds[axis]):
                network.at_most(-1, i, high)
                network.at_least(-1, i, low)
            for before, after, margin, _ in problem.orders[axis]:
                network.at_least(before, after, margin + _EPSILON)
        for index, unit in enumerate(self.units):
            along = networks[unit.axis]
            for a, first, last in unit.oriented():
                along.at_least(first, a, _BETWEEN_STEP, ("between", index))
                along.at_least(a, last, _BETWEEN_STEP, ("between", index))
        for i, j in problem.near_pairs:
            # Pairs kept apart get their exact "near" bounds in phase 2; here only the box around
            # each box that any way of being near stays within.
            slack = self.near_slack.get((i, j), (_NEAR_RADIUS, _NEAR_RADIUS))
            tag = ("near", (i, j)) if (i, j) in self.near_slack else None
            for axis, network in enumerate(networks):
                reach = (extents[axis][i] + extents[axis][j]) / 2 + slack[axis]
                network.at_most(i, j, reach, tag)
                network.at_most(j, i, reach, tag)
        for index, (kind, subject, object_, _) in enumerate(problem.depth_pairs):
            _add_depth_constraints(networks, kind, subject, object_, self.widths, self.heights,
                                   self.visible_side.get(index, "top"), ("front", index))
        return networks

    def _relax(self) -> list[np.ndarray]:
        """Phase 1: closed relaxed networks, repairing choices on contradiction."""
        for _ in range(_REPAIRS + 1):
            networks = self._networks()
            closed = [network.closure() for network in networks]
            if closed[0] is not None and closed[1] is not None:
                return closed
            tags = networks[0 if closed[0] is None else 1].conflict_tags()
            if not tags:  # sizes, locations and fixed relations alone contradict: new sizes needed
                break
            self._repair(tags)
        axis = _AXES[0 if closed[0] is None else 1]
        raise _AttemptFailed(f"the relations do not fit along {axis}, even before the gaps between boxes")

    # -- phase 2 --

    def _separate(self, closed: list[_Closed], relaxed: Sequence[Sequence[float]]) -> bool:
        """Phase 2: every gap and every spread of "between", on closed networks; False at a dead end.

        The item (a pair to keep apart, or a spread) with the fewest ways left goes first (most
        constrained first); of its ways (for a pair: along x or y, either order, and for a "near"
        pair how its gap splits between the axes; for a spread: a few values inside the range the
        bounds allow), mostly the one that leaves the most room, with a preference for the order the
        relaxed layout shows."""
        rng = self.rng
        near = set(self.problem.near_pairs)
        remaining: list[tuple] = [("gap", pair) for pair in self.problem.separated_pairs]
        remaining += list(dict.fromkeys(("spread", unit.axis, first, last)
                                        for unit in self.units for first, last in unit.pairs()))
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
                return room * rng.uniform(0.7, 1.3) + _SHOWN_BONUS * ((shown > 0) + apart)

            option = max(chosen_options, key=score)
            if chosen[0] == "spread":
                _, axis, first, last = chosen
                spread = option[0]
                closed[axis].limit(first, last, low=spread + _BETWEEN_STEP)
                closed[1 - axis].limit(first, last, low=-spread, high=spread)
            else:
                axis, before, after, need, reach, across_reach, _ = option
                closed[axis].limit(before, after, low=need, high=reach)
                if across_reach < math.inf:
                    closed[1 - axis].limit(before, after, low=-across_reach, high=across_reach)
            remaining.remove(chosen)
        return True

    def _spread_options(self, closed: Sequence[_Closed], axis: int, first: int, last: int) -> list[tuple]:
        """Spreads for a "between" pair (b, c) that the bounds so far allow: (spread, room left).
        |across difference| <= spread < along difference."""
        along, across = closed[axis], closed[1 - axis]
        lowest = max(0.0, across.low(first, last), -across.high(first, last))
        highest = along.high(first, last) - _BETWEEN_STEP
        if lowest > highest:
            return []
        if highest - lowest < 1e-3:
            return [(lowest, 0.0)]
        options = []
        for share in (0.15, 0.5, 0.85):
            spread = lowest + (highest - lowest) * min(max(share + self.rng.uniform(-0.1, 0.1), 0.0), 1.0)
            options.append((spread, min(spread - lowest, highest - spread)))
        return options

    def _separation_options(self, closed: Sequence[_Closed], pair: tuple[int, int], near: bool) -> list[tuple]:
        """Ways to keep a pair apart that the bounds so far allow:
        (axis, before, after, gap needed, reach along, reach across, room left)."""
        i, j = pair
        extents = self.extents
        options = []
        angles = [0.0]
        if near:  # a near pair's gap: mostly along the axis that separates them, some across
            angles = [self.rng.uniform(0.0, _NEAR_MAX_ANGLE) for _ in range(2)]
        for axis in (0, 1):
            along, across = closed[axis], closed[1 - axis]
            half_along = (extents[axis][i] + extents[axis][j]) / 2
            half_across = (extents[1 - axis][i] + extents[1 - axis][j]) / 2
            need = half_along + world.MIN_GAP + _EPSILON
            for before, after in ((i, j), (j, i)):
                room = along.high(before, after) - need
                if room < 0:
                    continue
                if not near:
                    options.append((axis, before, after, need, math.inf, math.inf, room))
                    continue
                for angle in angles:
                    reach = half_along + _NEAR_RADIUS * math.cos(angle)
                    across_reach = half_across + _NEAR_RADIUS * math.sin(angle)
                    if (along.low(before, after) <= reach and across.low(i, j) <= across_reach
                            and across.low(j, i) <= across_reach):
                        options.append((axis, before, after, need, reach, across_reach,
                                        min(room, reach - need)))
        return options

    def run(self) -> list[tuple[float, float, float, float]]:
        """Boxes (x0, y0, x1, y1) per instance."""
        relaxed_networks = self._relax()
        relaxed = [_Closed(bound).assign(self.targets[axis], self.rng)
                   for axis, bound in enumerate(relaxed_networks)]
        for _ in range(_SEPARATION_TRIES):
            closed = [_Closed(bound) for bound in relaxed_networks]
            if self._separate(closed, relaxed):
                centres = [closed[axis].assign(relaxed[axis], self.rng) for axis in (0, 1)]
                return [(x - w / 2, y - h / 2, x + w / 2, y + h / 2)
                        for x, y, w, h in zip(centres[0], centres[1], self.widths, self.heights)]
        raise _AttemptFailed("the boxes do not fit with every gap and relation")


def _deal_targets(count: int, edges: Sequence[tuple[int, int]], targets: list[float]) -> None:
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
        raise _AttemptFailed("the orders along one axis form a cycle")
    return order


def _add_depth_constraints(networks: Sequence[_Network], kind: str, subject: int, object_: int,
                           widths: Sequence[float], heights: Sequence[float], visible_side: str = "top",
                           tag: tuple | None = None) -> None:
    """The open-vocabulary depth rules of the module docstring, as difference constraints.

    For "in front of", `visible_side` says which strip of the back box stays uncovered: its top (the
    usual picture: the nearer thing hides the lower part of the farther one), its left or its right."""
    along_x, along_y = networks
    w_s, h_s, w_o, h_o = widths[subject], heights[subject], widths[object_], heights[object_]
    if kind == "on":
        reach = (0.5 - ON_CENTRE_INSET) * w_o - _EPSILON
        along_x.at_most(object_, subject, reach)
        along_x.at_most(subject, object_, reach)
        # bottom(s) - top(o) = (y_s - y_o) + (h_s + h_o) / 2 must lie in the band
        shift = (h_s + h_o) / 2
        along_y.at_least(object_, subject, ON_BOTTOM_BAND[0] * h_o - shift + _EPSILON)
        along_y.at_most(object_, subject, ON_BOTTOM_BAND[1] * h_o - shift - _EPSILON)
    elif kind == "in_front_of":  # subject in front of object
        reach_x = (w_s + w_o) / 2 - _PLANNED_FRONT_OVERLAP * min(w_s, w_o)
        along_x.at_most(object_, subject, reach_x)
        along_x.at_most(subject, object_, reach_x)
        # bottom(s) >= bottom(o): the nearer thing stands lower
        along_y.at_least(object_, subject, (h_o - h_s) / 2 + _EPSILON)
        along_y.at_most(object_, subject, (h_s + h_o) / 2 - _PLANNED_FRONT_OVERLAP * min(h_s, h_o))
        # a strip of the back box, _PLANNED_FRONT_VISIBLE of its height or width, stays uncovered
        if visible_side == "top":  # top(s) >= top(o) + strip
            along_y.at_least(object_, subject, (h_s - h_o) / 2 + _PLANNED_FRONT_VISIBLE * h_o + _EPSILON, tag)
        elif visible_side == "left":  # left(s) >= left(o) + strip
            along_x.at_least(object_, subject, (w_s - w_o) / 2 + _PLANNED_FRONT_VISIBLE * w_o + _EPSILON, tag)
        else:  # right(o) >= right(s) + strip
            along_x.at_least(subject, object_, (w_s - w_o) / 2 + _PLANNED_FRONT_VISIBLE * w_o + _EPSILON, tag)
    elif kind == "inside":
        for network, inner, outer in ((along_x, w_s, w_o), (along_y, h_s, h_o)):
            reach = (outer - inner) / 2 - INSIDE_INSET * outer - _EPSILON
            network.at_most(object_, subject, reach)
            network.at_most(subject, object_, reach)
    else:
        raise AssertionError(f"unknown depth kind {kind!r}")


# --- Checking a finished layout -------------------------------------------------------------------


def _layout_problems(problem: _Problem, boxes: Sequence[tuple[float, float, float, float]]) -> list[str]:
    """Every rule of the module docstring that `boxes` break (empty when the layout is right)."""
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
            triples = _between_triples(check, members)
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


# --- Public entry point ---------------------------------------------------------------------------


def plan(scene: Scene, seed: int = 0, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> Layout:
    """Place every object instance of `scene` in a box, by the rules of this module's docstring.

    The same scene and seed always give the same layout; other seeds give other layouts. Regions come
    in drawing order (what a relation puts in front comes later), then scene order, then member order.
    A scene with no objects (only negations and/or a background) gives a layout with no regions.
    Raises `UnsatisfiableSceneError` (a ValueError) when no layout can satisfy the scene, naming the
    relations or the count at fault, and ValueError for a malformed scene.
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"seed {seed!r} is not an integer; pass e.g. seed=0")
    if not isinstance(max_attempts, int) or max_attempts < 1:
        raise ValueError(f"max_attempts {max_attempts!r} is not an integer >= 1")
    _check_scene(scene)
    if not scene.objects:  # "a scene without backpacks" (cli.md spec v1.1): the background alone
        return Layout(regions=(), prompt=scene.prompt, background=scene.background, scene=scene)
    shapes_scene = is_shapes_scene(scene)
    _check_world_limit(scene, shapes_scene)
    names = _group_names(scene)
    rules = _read_relations(scene, shapes_scene, names)
    instances = _make_instances(scene)
    _check_object_count(scene, shapes_scene, instances, rules)
    _check_orders(scene, rules)
    _check_inside_sizes(scene, rules, names)
    _check_locations(scene, rules, instances)
    problem = _build_problem(scene, shapes_scene, instances, rules)
    _check_betweens(problem)

    rng = random.Random(seed)
    failures: collections.Counter[str] = collections.Counter()
    for attempt in range(max_attempts):
        try:
            boxes = _Attempt(problem, rng, attempt).run()
        except _AttemptFailed as failure:
            failures[str(failure)] += 1
            continue
        found = _layout_problems(problem, boxes)
        if found:  # should not happen: the networks encode every rule; never return a wrong layout
            logger.warning("planned layout broke its own rules, retrying: %s", "; ".join(found))
            failures["; ".join(found)] += 1
            continue
        logger.debug("planned %d objects in %d attempt(s)", len(instances), attempt + 1)
        return _make_layout(problem, boxes)
    reason, times = failures.most_common(1)[0]
    raise UnsatisfiableSceneError(
        f"no layout found for {len(instances)} objects in {max_attempts} attempts (most often, "
        f"{times} times: {reason}); the scene asks for more than fits: ask for fewer or smaller "
        "objects, or fewer 'near' / 'between' / location constraints")


def _make_layout(problem: _Problem, boxes: Sequence[tuple[float, float, float, float]]) -> Layout:
    scene = problem.scene
    order = sorted(problem.instances, key=lambda instance: (
        problem.draw_rank[instance.group], instance.index))
    regions = tuple(
        Region(phrase=scene.group(instance.group).instance_phrase,
               box=tuple(float(value) for value in boxes[instance.index]),
               group=instance.group, instance=instance.member)
        for instance in order)
    return Layout(regions=regions, prompt=scene.prompt, background=scene.background, scene=scene)
