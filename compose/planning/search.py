"""`plan()`: the prechecks, then attempts with restarts until one gives a layout that verifies."""

from __future__ import annotations

import collections
import logging
import random
from collections.abc import Sequence

from compose.planning.attempt import Attempt
from compose.planning.placement import AttemptFailed
from compose.planning.prechecks import (
    check_betweens, check_inside_sizes, check_locations, check_object_count, check_orders, check_world_limit)
from compose.planning.problem import Problem, build_problem
from compose.planning.rules import (
    UnsatisfiableSceneError, check_scene, group_names, is_shapes_scene, make_instances, read_relations)
from compose.planning.verify import layout_problems
from compose.scene import Layout, Region, Scene

logger = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 400


def plan(scene: Scene, seed: int = 0, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> Layout:
    """Place every object instance of `scene` in a box, by the rules of `compose.planning.rules`.

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
    check_scene(scene)
    if not scene.objects:  # "a scene without backpacks" (compose/specs/scene-format.md): the background alone
        return Layout(regions=(), prompt=scene.prompt, background=scene.background, scene=scene)
    shapes_scene = is_shapes_scene(scene)
    check_world_limit(scene, shapes_scene)
    names = group_names(scene)
    rules = read_relations(scene, shapes_scene, names)
    instances = make_instances(scene)
    check_object_count(scene, shapes_scene, instances, rules)
    check_orders(scene, rules)
    check_inside_sizes(scene, rules, names)
    check_locations(scene, rules, instances)
    problem = build_problem(scene, shapes_scene, instances, rules)
    check_betweens(problem)

    rng = random.Random(seed)
    failures: collections.Counter[str] = collections.Counter()
    for attempt in range(max_attempts):
        try:
            boxes = Attempt(problem, rng, attempt).run()
        except AttemptFailed as failure:
            failures[str(failure)] += 1
            continue
        found = layout_problems(problem, boxes)
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


def _make_layout(problem: Problem, boxes: Sequence[tuple[float, float, float, float]]) -> Layout:
    scene = problem.scene
    order = sorted(problem.instances, key=lambda instance: (
        problem.draw_rank[instance.group], instance.index))
    regions = tuple(
        Region(phrase=scene.group(instance.group).instance_phrase,
               box=tuple(float(value) for value in boxes[instance.index]),
               group=instance.group, instance=instance.member)
        for instance in order)
    return Layout(regions=regions, prompt=scene.prompt, background=scene.background, scene=scene)
