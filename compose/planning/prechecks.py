"""Contradictions found before any search (step 1 of the planner, `compose.planning`).

Each check raises `UnsatisfiableSceneError` with a message that names the relations (or the count) at
fault and what to change: more objects than the world holds or than fit at their smallest sizes, a
cycle in the left-right, top-bottom or drawing order, "inside" between size words that forbid it,
relations that push a group out of its location, and a "between" that no axis allows.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Iterable, Mapping, Sequence

from compose.planning.graphs import find_cycle
from compose.planning.problem import Problem
from compose.planning.rules import (
    ASPECT_JITTER, INSIDE_INSET, OPEN_VOCABULARY_MAX_OBJECTS, Instance, Rules, UnsatisfiableSceneError, group_names)
from compose.scene import Scene
from compose.shapes import world


def join_labels(labels: Iterable[str]) -> str:
    unique = list(dict.fromkeys(labels))
    if len(unique) == 1:
        return unique[0]
    return ", ".join(unique[:-1]) + " and " + unique[-1]


def _smallest_extents(instance: Instance) -> tuple[float, float]:
    """Lower bounds of the width and of the height any allowed box of this instance has."""
    side = instance.size_range[0]
    if instance.is_shape:
        return side, side
    return (side * math.sqrt(instance.aspect * (1 - ASPECT_JITTER)),
            side / math.sqrt(instance.aspect * (1 + ASPECT_JITTER)))


def check_world_limit(scene: Scene, shapes_scene: bool) -> None:
    """More objects than the world holds: 8 in a shapes-world scene (compose/specs/shapes-world.md, "Placement"),
    16 in any layout (compose/specs/layout-files.md, section 1). Checked on the counts, before any instance is made, so that
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


def check_object_count(scene: Scene, shapes_scene: bool, instances: Sequence[Instance], rules: Rules) -> None:
    """Too many objects: more than can fit at their smallest sizes (the world's limit is checked before,
    by `check_world_limit`).

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
        which = join_labels(f"{count} of {scene.group(group).phrase!r}" if count < scene.group(group).count
                             else repr(scene.group(group).phrase) for group, count in groups.items())
        where = "on the canvas" if place is None else f"at {place!r}"
        raise UnsatisfiableSceneError(
            f"{len(subset)} objects ({which}); at most {capacity} fit {where}: boxes at least "
            f"{width:.2f} wide and {height:.2f} tall, with the {world.MIN_GAP} gap between them, "
            "leave no room for more: ask for fewer or smaller objects"
            + ("" if place is None else ", or another location"))


def check_inside_sizes(scene: Scene, rules: Rules, names: Mapping[int, str]) -> None:
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


def check_orders(scene: Scene, rules: Rules) -> None:
    """Cycles in either axis's order or in the drawing order contradict."""
    group_ids = [group.id for group in scene.objects]
    for axis, axis_name in enumerate(("left-right", "top-bottom")):
        edges = [(order.before, order.after, order.label) for order in rules.orders if order.axis == axis]
        cycle = find_cycle(group_ids, edges)
        if cycle is not None:
            raise UnsatisfiableSceneError(
                f"{join_labels(cycle)} contradict (a cycle in the {axis_name} order); "
                "drop or change one of them")
    hard_edges = [(earlier, later, label) for earlier, later, label, hard in rules.draw_edges if hard]
    cycle = find_cycle(group_ids, hard_edges)
    if cycle is not None:
        raise UnsatisfiableSceneError(
            f"{join_labels(cycle)} contradict (each would have to be drawn in front of the other); "
            "drop or change one of them")


def check_locations(scene: Scene, rules: Rules, instances: Sequence[Instance]) -> None:
    """Relations that push a group out of the part of the canvas its location word allows."""
    smallest_half = {}
    for instance in instances:
        half_width = instance.size_range[0] * math.sqrt(instance.aspect * (1 - ASPECT_JITTER)) / 2
        half_height = instance.size_range[0] / math.sqrt(instance.aspect * (1 + ASPECT_JITTER)) / 2
        if instance.is_shape:
            half_width = half_height = instance.size_range[0] / 2
        smallest_half[instance.group] = (half_width, half_height)
    names = group_names(scene)
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
                f"{join_labels(reversed(chain))} {verb} the locations "
                f"({join_labels(where) if where else 'the canvas edges'}) along {axis_name}: "
                f"{names[group.id]} would need its centre at {axis_name} >= {earliest[group.id]:.2f} "
                f"but may be at most {high[group.id]:.2f}; change a location or a relation")


def check_betweens(problem: Problem) -> None:
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
                cycle = find_cycle(range(len(problem.instances)), edges)
                if cycle is None:
                    options_left += 1
                else:
                    blocking += [label for label in cycle if label != check.label]
        if options_left == 0:
            raise UnsatisfiableSceneError(
                f"{check.label} contradicts {join_labels(blocking)}: on both axes they put "
                f"{group_names(problem.scene)[check.subject]} on the same side of both; drop one of them")
