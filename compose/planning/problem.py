"""The scene as the search sees it: instances, and every rule spread out over instance pairs.

A `Problem` is built once per `plan()` call and stays fixed across search attempts.
"""

from __future__ import annotations

import collections
import heapq
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from compose.planning.graphs import find_cycle
from compose.planning.rules import Check, Instance, Rules
from compose.planning.tuning import TARGET_FILL
from compose.scene import Scene
from compose.shapes import world


@dataclass
class Problem:
    """Everything about a scene that stays fixed across search attempts."""

    scene: Scene
    shapes_scene: bool
    instances: list[Instance]
    members: dict[int, list[int]]  # group id -> instance indices
    rules: Rules
    orders: list[list[tuple[int, int, float, str]]]  # per axis: (before, after, margin, label)
    near_pairs: list[tuple[int, int]]
    betweens: list[tuple[Check, list[tuple[int, int, int]]]]  # (check, [(a, b, c), ...])
    depth_pairs: list[tuple[str, int, int, str]]  # (kind, subject instance, object instance, label)
    overlap_pairs: set[tuple[int, int]]  # instance pairs (low, high) exempt from the gap
    separated_pairs: list[tuple[int, int]]
    draw_rank: dict[int, int]  # group id -> position in the drawing order
    fill_fraction: float


def between_triples(check: Check, members: Mapping[int, list[int]]) -> list[tuple[int, int, int]]:
    if check.object2 == check.object:  # "between two squares": between the group's first and last
        first, last = members[check.object][0], members[check.object][-1]
        return [(a, first, last) for a in members[check.subject]]
    return [(a, b, c) for a in members[check.subject] for b in members[check.object]
            for c in members[check.object2]]


def _draw_rank(scene: Scene, rules: Rules) -> dict[int, int]:
    """Order groups so that everything a relation puts in front is drawn later (a stable topological sort)."""
    group_ids = [group.id for group in scene.objects]
    accepted = [(earlier, later, label) for earlier, later, label, hard in rules.draw_edges if hard]
    for earlier, later, label, hard in rules.draw_edges:
        if not hard and find_cycle(group_ids, accepted + [(earlier, later, label)]) is None:
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
    assert len(rank) == len(group_ids), "drawing order has a cycle that check_orders missed"
    return rank


def _fill_fraction(instances: Sequence[Instance], exempt_groups: set[int]) -> float:
    """Share of each size range the first attempts draw from, so that boxes fill ~TARGET_FILL."""
    usable = (1 - 2 * world.CANVAS_MARGIN + world.MIN_GAP) ** 2 * TARGET_FILL

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


def build_problem(scene: Scene, shapes_scene: bool, instances: list[Instance], rules: Rules) -> Problem:
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
    betweens = [(check, between_triples(check, members))
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
    return Problem(
        scene=scene, shapes_scene=shapes_scene, instances=instances, members=dict(members),
        rules=rules, orders=orders, near_pairs=near_pairs, betweens=betweens,
        depth_pairs=depth_pairs, overlap_pairs=overlap_pairs, separated_pairs=separated,
        draw_rank=_draw_rank(scene, rules), fill_fraction=_fill_fraction(instances, exempt))
