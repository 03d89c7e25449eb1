"""The rules a planned layout keeps, and the scene read into them (step 1 of `compose.planning`).

`read_relations` turns a scene's relations into the constraints below (orders along an axis, checks
judged by the shapes world, depth rules, drawing-order edges); `make_instances` makes one instance per
member of every object group. The constants here are the rules themselves; the search's own numbers
are in `compose.planning.tuning`.

Rules a planned layout keeps
============================
Shapes-world scenes (every noun is one of circle, square, triangle, diamond, star, or "shape"): the
shapes world's rules exactly (compose/specs/shapes-world.md, spec v1, "Placement" and "Relations"): square
boxes whose side lies in the size range of the size word (`world.size_range`), every box 0.02 inside
the canvas, no overlaps and a gap of at least 0.05 between every two boxes, at most 8 objects. A
relation between two groups holds, by `world.relation_holds`, for EVERY pair of their members ("a
circle left of two squares": the circle is left of both); "A between B and C" holds for every triple;
a location holds for every member (`world.location_holds`). The shapes world judges only flat
relations, so depth words are read as the flat picture a person would draw of them:

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
it; regions later in `Layout.regions` are drawn in front (compose/specs/layout-files.md). Each member of
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
"""

from __future__ import annotations

import collections
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from compose.scene import DEPTH_PREDICATES, LOCATIONS, SIZES, SPATIAL_PREDICATES, Relation, Scene
from compose.shapes import world

SHAPE_NOUNS = frozenset(world.SHAPES) | {"shape"}
OPEN_VOCABULARY_MAX_OBJECTS = 16  # a layout file holds at most 16 regions (compose/specs/layout-files.md)

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


class UnsatisfiableSceneError(ValueError):
    """The scene asks for something no layout can give: contradicting relations, or too many objects.

    The message names the relations (or the count) at fault, so a person can change the prompt."""


@functools.cache
def _proportions() -> tuple[float, Mapping[str, float]]:
    path = Path(__file__).parent.parent / "data" / "proportions.json"
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
    """Whether every object of the scene is a shapes-world shape, so that the shapes world's rules apply
    (compose/specs/shapes-world.md, spec v1)."""
    return all(group.noun.strip().lower() in SHAPE_NOUNS for group in scene.objects)


# --- The scene, read into constraints -------------------------------------------------------------


@dataclass(frozen=True)
class Order:
    """Group `before`'s centres lie before group `after`'s along an axis, by at least `margin`."""

    axis: int  # 0: x (left to right), 1: y (top to bottom)
    before: int
    after: int
    margin: float
    label: str


@dataclass(frozen=True)
class Check:
    """A relation judged by `world.relation_holds` on every member pair (or triple, for between)."""

    predicate: str
    subject: int
    object: int
    object2: int | None  # "between" only; equal to `object` for "between two squares"
    label: str


@dataclass(frozen=True)
class Depth:
    """An open-vocabulary depth relation: kind "on", "in_front_of" or "inside" (behind is reversed)."""

    kind: str
    subject: int  # the group on top / in front / inside
    object: int
    label: str


@dataclass
class Rules:
    orders: list[Order] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    depths: list[Depth] = field(default_factory=list)
    overlapping_groups: set[frozenset[int]] = field(default_factory=set)  # verb-linked pairs
    draw_edges: list[tuple[int, int, str, bool]] = field(default_factory=list)  # earlier, later, label, hard


@dataclass(frozen=True)
class Instance:
    index: int
    group: int  # the group's id
    member: int
    is_shape: bool
    size_range: tuple[float, float]
    aspect: float
    location: str | None


def check_scene(scene: Scene) -> None:
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


def group_names(scene: Scene) -> dict[int, str]:
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


def read_relations(scene: Scene, shapes_scene: bool, names: Mapping[int, str]) -> Rules:
    """Turn the scene's relations into orders, checks, depth rules and drawing-order edges."""
    rules = Rules()
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
            rules.depths.append(Depth("in_front_of", object_, subject, label))
            rules.draw_edges.append((subject, object_, label, True))
            continue
        elif predicate in DEPTH_PREDICATES:
            rules.depths.append(Depth(predicate, subject, object_, label))
            rules.draw_edges.append((object_, subject, label, True))
            if predicate == "on":  # A on B puts A's centre above B's
                rules.orders.append(Order(1, subject, object_, 0.0, label))
            continue
        else:  # an unknown verb in an open-vocabulary scene: near, overlap allowed
            readings = UNKNOWN_PREDICATE_READING
            rules.overlapping_groups.add(frozenset((subject, object_)))
            rules.draw_edges.append((object_, subject, label, False))
        for reading in readings:
            if reading in flat_orders:
                axis, subject_first = flat_orders[reading]
                before, after = (subject, object_) if subject_first else (object_, subject)
                rules.orders.append(Order(axis, before, after, world.RELATION_MARGIN, label))
            object2 = None
            if reading == "between":
                object2 = object_ if relation.object2 is None else relation.object2
            rules.checks.append(Check(reading, subject, object_, object2, label))
    return rules


def make_instances(scene: Scene) -> list[Instance]:
    """One instance per member of every group, numbered in scene order."""
    instances = []
    for group in scene.objects:
        is_shape = group.noun.strip().lower() in SHAPE_NOUNS
        for member in range(group.count):
            instances.append(Instance(
                index=len(instances), group=group.id, member=member, is_shape=is_shape,
                size_range=world.size_range(group.size),
                aspect=1.0 if is_shape else aspect_ratio(group.noun), location=group.location))
    return instances
