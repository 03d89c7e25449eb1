"""An independent check of planned layouts, and a maker of random scenes that are satisfiable.

Written from the rules, not from the planner: compose/specs/shapes-world.md (spec v1) for placement, sizes,
relations and locations (through compose.shapes.world's relation_holds / location_holds), and the
open-vocabulary rules documented in compose/planning/rules.py's module docstring (proportions, depth
relations, drawing order), re-implemented here with their own constants. Nothing here imports the
planner, so a planner bug cannot hide behind shared code.

`layout_violations(scene, layout)` lists every rule a layout breaks; `random_satisfiable_scene` builds
a scene from a hidden random placement that keeps every rule, so the scene has at least one valid
layout by construction.
"""

from __future__ import annotations

import functools
import json
import math
import random
from pathlib import Path

from compose.scene import COLORS, LOCATIONS, Layout, ObjectGroup, Relation, Scene
from compose.shapes import world

SHAPE_NOUNS = {"circle", "square", "triangle", "diamond", "star", "shape"}
FLAT_PREDICATES = {"left_of", "right_of", "above", "below", "near", "between"}
DEPTH_PREDICATES = {"on", "in_front_of", "behind", "inside"}
# Shapes-world reading of depth words and unknown verbs (compose/planning/rules.py docstring).
SHAPES_READING = {"on": ("above", "near"), "in_front_of": ("below", "near"),
                  "behind": ("above", "near"), "inside": ("near",)}
MARGIN, GAP, MAX_SHAPES = 0.02, 0.05, 8
ASPECT_TOLERANCE = 0.10
TOLERANCE = 1e-9
PROPORTIONS_FILE = Path(__file__).resolve().parents[1] / "compose" / "data" / "proportions.json"


@functools.cache
def _proportions() -> dict:
    return json.loads(PROPORTIONS_FILE.read_text(encoding="utf-8"))


def expected_aspect(noun: str) -> float:
    """Width / height the rules ask for: shapes square; else the proportions file, by noun or last word."""
    noun = noun.strip().lower()
    if noun in SHAPE_NOUNS:
        return 1.0
    data = _proportions()
    ratios = data["aspect_ratios"]
    return ratios.get(noun, ratios.get(noun.split()[-1], data["default"]))


def is_shapes_scene(scene: Scene) -> bool:
    return all(group.noun.strip().lower() in SHAPE_NOUNS for group in scene.objects)


def _on(a, b) -> bool:
    """a on b: a's centre x in b's middle 80%, a's bottom 5%..30% of b's height below b's top."""
    width, height = b[2] - b[0], b[3] - b[1]
    centre = (a[0] + a[2]) / 2
    return (b[0] + 0.1 * width - TOLERANCE <= centre <= b[2] - 0.1 * width + TOLERANCE
            and b[1] + 0.05 * height - TOLERANCE <= a[3] <= b[1] + 0.30 * height + TOLERANCE)


def _in_front(a, b) -> bool:
    """a in front of b: real overlap, a's base not above b's, a quarter of b left uncovered."""
    overlap_width = min(a[2], b[2]) - max(a[0], b[0])
    overlap_height = min(a[3], b[3]) - max(a[1], b[1])
    if overlap_width <= 0 or overlap_height <= 0:
        return False
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    covered = overlap_width * overlap_height  # the part of b under a
    return (overlap_width >= 0.25 * min(a[2] - a[0], b[2] - b[0]) - TOLERANCE
            and overlap_height >= 0.25 * min(a[3] - a[1], b[3] - b[1]) - TOLERANCE
            and a[3] >= b[3] - TOLERANCE
            and area_b - covered >= 0.25 * area_b - TOLERANCE)


def _inside(a, b) -> bool:
    """a inside b: a's box within b's, 5% of b's width / height in from each edge."""
    inset_x, inset_y = 0.05 * (b[2] - b[0]), 0.05 * (b[3] - b[1])
    return (a[0] >= b[0] + inset_x - TOLERANCE and a[2] <= b[2] - inset_x + TOLERANCE
            and a[1] >= b[1] + inset_y - TOLERANCE and a[3] <= b[3] - inset_y + TOLERANCE)


def _between_any_pair(a, members) -> bool:
    return any(world.relation_holds("between", a, members[i], members[j])
               for i in range(len(members)) for j in range(i + 1, len(members)))


def flat_relation_holds(predicate: str, subject_boxes, object_boxes, object2_boxes=None) -> bool:
    """A flat relation between two groups: for every member pair (every triple for between)."""
    if predicate == "between":
        if object2_boxes is None:  # between the members of one group ("between two squares")
            return all(_between_any_pair(a, object_boxes) for a in subject_boxes)
        return all(world.relation_holds("between", a, b, c)
                   for a in subject_boxes for b in object_boxes for c in object2_boxes)
    return all(world.relation_holds(predicate, a, b) for a in subject_boxes for b in object_boxes)


def layout_violations(scene: Scene, layout: Layout) -> list[str]:
    """Every way `layout` breaks the planning rules for `scene`; empty when it keeps them all."""
    found: list[str] = []
    shapes_scene = is_shapes_scene(scene)
    if layout.prompt != scene.prompt:
        found.append(f"layout prompt {layout.prompt!r} is not the scene's {scene.prompt!r}")
    if layout.background != scene.background:
        found.append(f"layout background {layout.background!r} is not the scene's {scene.background!r}")
    if layout.scene != scene:
        found.append("layout.scene is not the scene it was planned from")
    groups = {group.id: group for group in scene.objects}
    boxes: dict[int, list] = {group_id: [] for group_id in groups}
    draw_position: dict[tuple[int, int], int] = {}
    for position, region in enumerate(layout.regions):
        if region.group not in groups:
            found.append(f"region {position} names group {region.group}, not in the scene")
            continue
        group = groups[region.group]
        if region.phrase != group.instance_phrase:
            found.append(f"region {position} phrase {region.phrase!r}, expected {group.instance_phrase!r}")
        draw_position[(region.group, region.instance)] = position
        boxes[region.group].append((region.instance, tuple(region.box)))
    for group_id, group in groups.items():
        instances = sorted(instance for instance, _ in boxes[group_id])
        if instances != list(range(group.count)):
            found.append(f"group {group_id} ({group.phrase!r}) has instances {instances}, "
                         f"expected 0..{group.count - 1}")
        boxes[group_id] = [box for _, box in sorted(boxes[group_id])]
    if found:
        return found
    if shapes_scene and len(layout.regions) > MAX_SHAPES:
        found.append(f"{len(layout.regions)} shapes, more than {MAX_SHAPES}")

    # Each box: inside the canvas, proportions, size, location.
    for group_id, group in groups.items():
        for member, (x0, y0, x1, y1) in enumerate(boxes[group_id]):
            name = f"{group.phrase!r} #{member} {(x0, y0, x1, y1)}"
            if not (x0 < x1 and y0 < y1):
                found.append(f"{name}: not a proper box")
                continue
            if min(x0, y0) < MARGIN - TOLERANCE or max(x1, y1) > 1 - MARGIN + TOLERANCE:
                found.append(f"{name}: not {MARGIN} inside the canvas")
            width, height = x1 - x0, y1 - y0
            low, high = world.size_range(group.size)
            side = math.sqrt(width * height)
            if group.noun in SHAPE_NOUNS and abs(width - height) > TOLERANCE:
                found.append(f"{name}: a shape's box must be square")
            if not low - TOLERANCE <= side <= high + TOLERANCE:
                found.append(f"{name}: size {side:.4f} outside {group.size or 'any'} range {low}-{high}")
            aspect = expected_aspect(group.noun)
            if not aspect * (1 - ASPECT_TOLERANCE) - TOLERANCE <= width / height \
                    <= aspect * (1 + ASPECT_TOLERANCE) + TOLERANCE:
                found.append(f"{name}: width / height {width / height:.3f}, expected about {aspect}")
            if group.location is not None and not world.location_holds(group.location, (x0, y0, x1, y1)):
                found.append(f"{name}: not at {group.location!r}")

    # Overlaps and gaps: only groups linked by a depth relation or an unknown verb may come closer.
    may_overlap = set()
    if not shapes_scene:
        for relation in scene.relations:
            if relation.predicate not in FLAT_PREDICATES:
                may_overlap.add(frozenset((relation.subject, relation.object)))
    everything = [(group_id, member, box) for group_id in groups for member, box in enumerate(boxes[group_id])]
    for index, (group_a, member_a, box_a) in enumerate(everything):
        for group_b, member_b, box_b in everything[index + 1:]:
            if frozenset((group_a, group_b)) in may_overlap:
                continue
            gap = world.box_gap(box_a, box_b)
            if gap < GAP - TOLERANCE:
                found.append(f"group {group_a} #{member_a} and group {group_b} #{member_b} are {gap:.4f} "
                             f"apart (overlap: {world.boxes_overlap(box_a, box_b)}), less than {GAP}")

    # Relations.
    for relation in scene.relations:
        predicate = relation.predicate
        subject_boxes, object_boxes = boxes[relation.subject], boxes[relation.object]
        text = f"relation {relation.to_dict()}"
        if predicate in FLAT_PREDICATES:
            object2 = relation.object2
            object2_boxes = None if object2 is None or object2 == relation.object else boxes[object2]
            if not flat_relation_holds(predicate, subject_boxes, object_boxes, object2_boxes):
                found.append(f"{text} does not hold")
        elif shapes_scene or predicate not in DEPTH_PREDICATES:
            readings = SHAPES_READING.get(predicate, ("near",)) if shapes_scene else ("near",)
            for reading in readings:
                if not flat_relation_holds(reading, subject_boxes, object_boxes):
                    found.append(f"{text} read as {reading} does not hold")
        else:
            front_group, back_group = relation.subject, relation.object
            rule = {"on": _on, "in_front_of": _in_front, "inside": _inside, "behind": _in_front}[predicate]
            if predicate == "behind":  # every member behind something in front of it
                for member, box in enumerate(subject_boxes):
                    if not any(rule(other, box) and draw_position[(relation.object, k)]
                               > draw_position[(relation.subject, member)]
                               for k, other in enumerate(object_boxes)):
                        found.append(f"{text}: member {member} is behind none of the objects")
                continue
            for member, box in enumerate(subject_boxes):
                if not any(rule(box, other) and draw_position[(front_group, member)]
                           > draw_position[(back_group, k)] for k, other in enumerate(object_boxes)):
                    found.append(f"{text}: member {member} is {predicate} none of the objects")
    return found


# --- Random scenes with a hidden valid placement ---------------------------------------------------

ALL_LOCATIONS = LOCATIONS


def _hidden_placement(rng: random.Random, sides: list[float]) -> list[tuple[float, float, float, float]] | None:
    boxes: list[tuple[float, float, float, float]] = []
    for side in sides:
        for _ in range(300):
            x0 = rng.uniform(MARGIN, 1 - MARGIN - side)
            y0 = rng.uniform(MARGIN, 1 - MARGIN - side)
            box = (x0, y0, x0 + side, y0 + side)
            if all(world.box_gap(box, other) >= GAP + 1e-6 for other in boxes):
                boxes.append(box)
                break
        else:
            return None
    return boxes


def random_satisfiable_scene(rng: random.Random, object_count: int) -> tuple[Scene, list]:
    """A random shapes-world scene of `object_count` objects that a hidden placement satisfies.

    Groups get random shapes, colours and counts (1-3); some get the size word or the location their
    hidden boxes agree with; relations are drawn at random and kept only when they hold in the hidden
    placement (flat relations, depth words by their shapes-world reading, an unknown verb as near).
    Returns the scene and the hidden boxes per group (a witness that it is satisfiable).
    """
    counts = []
    left = object_count
    while left:
        count = min(left, rng.choice((1, 1, 1, 2, 2, 3)))
        counts.append(count)
        left -= count
    largest = 0.40 if object_count <= 2 else 0.32 if object_count <= 4 else 0.26 if object_count <= 6 else 0.22
    while True:
        group_sides = [rng.uniform(0.16, largest) for _ in counts]
        sides = [min(max(group_sides[g] + rng.uniform(-0.02, 0.02), 0.16), largest)
                 for g, count in enumerate(counts) for _ in range(count)]
        placed = _hidden_placement(rng, sides)
        if placed is not None:
            break
    hidden, position = [], 0
    for count in counts:
        hidden.append(placed[position:position + count])
        position += count

    groups = []
    for group_id, members in enumerate(hidden):
        noun = rng.choice(("circle", "square", "triangle", "diamond", "star"))
        color = rng.choice(COLORS) if rng.random() < 0.8 else None
        size = None
        if rng.random() < 0.5:
            for word, (low, high) in world.SIZE_RANGES.items():
                if all(low <= box[2] - box[0] <= high for box in members):
                    size = word
        location = None
        if rng.random() < 0.3:
            fitting = [place for place in ALL_LOCATIONS if all(world.location_holds(place, box) for box in members)]
            location = rng.choice(fitting) if fitting else None
        count = len(members)
        words = [word for word in (size, color) if word]
        plural = {"circle": "circles", "square": "squares", "triangle": "triangles", "diamond": "diamonds",
                  "star": "stars", "shape": "shapes"}[noun]
        phrase = " ".join((["a"] if count == 1 else [str(count)]) + words + [noun if count == 1 else plural])
        groups.append(ObjectGroup(id=group_id, noun=noun, phrase=phrase, count=count, color=color,
                                  size=size, location=location))

    relations: list[Relation] = []
    predicates = ["left_of", "right_of", "above", "below", "near", "between",
                  "on", "in_front_of", "behind", "inside", "holding"]
    wanted = rng.randint(0, min(6, 2 * len(groups)))
    for _ in range(60):
        if len(relations) >= wanted or len(groups) < 2:
            break
        predicate = rng.choice(predicates)
        subject, object_ = rng.sample(range(len(groups)), 2)
        object2 = None
        if predicate == "between":
            others = [g for g in range(len(groups)) if g not in (subject, object_)]
            if others and rng.random() < 0.7:
                object2 = rng.choice(others)
            elif len(hidden[object_]) < 2:
                continue
        candidate = Relation(subject, predicate, object_, object2)
        if candidate in relations:
            continue
        readings = SHAPES_READING.get(predicate, (predicate,)) if predicate not in FLAT_PREDICATES else (predicate,)
        if predicate not in FLAT_PREDICATES and predicate not in DEPTH_PREDICATES:
            readings = ("near",)
        holds = all(flat_relation_holds(reading, hidden[subject], hidden[object_],
                                        None if object2 is None else hidden[object2])
                    for reading in readings)
        if holds:
            relations.append(candidate)
    words = []
    for group in groups:
        words.append(group.phrase + (f" at the {group.location.replace('_', ' ')}" if group.location else ""))
    prompt = ", ".join(words)
    scene = Scene(prompt=prompt, objects=tuple(groups), relations=tuple(relations),
                  background=rng.choice((None, "a white wall")))
    return scene, hidden


OPEN_NOUNS = ("cat", "dog", "table", "person", "car", "box", "lamp", "horse", "tree", "cup", "bench",
              "astronaut", "robot", "vase", "gizmo")  # "gizmo": not in the proportions file
VERBS = ("holding", "riding", "watching")


def _random_open_box(rng: random.Random, noun: str, side_range=(0.16, 0.40), around=None):
    aspect = expected_aspect(noun) * rng.uniform(0.93, 1.07)
    side = rng.uniform(*side_range)
    width, height = side * math.sqrt(aspect), side / math.sqrt(aspect)
    if around is None:
        x0, y0 = rng.uniform(MARGIN, 1 - MARGIN - width), rng.uniform(MARGIN, 1 - MARGIN - height)
    else:  # somewhere close to `around`
        cx = rng.uniform(around[0] - width / 2, around[2] + width / 2)
        cy = rng.uniform(around[1] - height / 2, around[3] + height / 2)
        x0, y0 = cx - width / 2, cy - height / 2
    return (x0, y0, x0 + width, y0 + height)


def _inside_canvas(box) -> bool:
    return min(box[0], box[1]) >= MARGIN + 1e-6 and max(box[2], box[3]) <= 1 - MARGIN - 1e-6


def random_open_scene(rng: random.Random, group_count: int) -> tuple[Scene, list]:
    """A random open-vocabulary scene of `group_count` single objects that a hidden placement satisfies.

    Each new object either stands free (a gap from everything) or is tied to an earlier, still free one
    by a depth relation or a verb, placed by rejection sampling until the documented rule holds; then
    flat relations that hold in the hidden placement are added."""
    while True:
        nouns, boxes, relations, hosts = [], [], [], set()
        linked: set[frozenset[int]] = set()
        failed = False
        for index in range(group_count):
            noun = rng.choice(OPEN_NOUNS)
            free_hosts = [other for other in range(index) if other not in hosts]
            predicate = None
            if free_hosts and rng.random() < 0.6:
                host = rng.choice(free_hosts)
                predicate = rng.choice(("on", "in_front_of", "behind", "inside") + VERBS)
            for _ in range(400):
                if predicate is None:
                    box = _random_open_box(rng, noun)
                else:
                    host_box = boxes[host]
                    host_side = math.sqrt((host_box[2] - host_box[0]) * (host_box[3] - host_box[1]))
                    side_range = (0.16, min(0.40, max(0.16, 0.8 * host_side))) if predicate == "inside" else (0.16, 0.40)
                    box = _random_open_box(rng, noun, side_range, around=host_box)
                    rule = {"on": lambda a, b: _on(a, b), "in_front_of": _in_front, "inside": _inside,
                            "behind": lambda a, b: _in_front(b, a)}.get(
                        predicate, lambda a, b: world.box_gap(a, b) <= world.NEAR_GAP)
                    if not rule(box, host_box):
                        continue
                if not _inside_canvas(box):
                    continue
                if all(world.box_gap(box, other) >= GAP + 1e-6 for position, other in enumerate(boxes)
                       if predicate is None or position != host):
                    break
            else:
                failed = True
                break
            nouns.append(noun)
            boxes.append(box)
            if predicate is not None:
                hosts.add(host)
                hosts.add(index)
                relations.append(Relation(index, predicate, host))
                linked.add(frozenset((index, host)))
        if not failed:
            break
    groups = []
    for group_id, (noun, box) in enumerate(zip(nouns, boxes)):
        side = math.sqrt((box[2] - box[0]) * (box[3] - box[1]))
        size = None
        if rng.random() < 0.4:
            size = next((word for word, (low, high) in world.SIZE_RANGES.items() if low <= side <= high), None)
        location = None
        if rng.random() < 0.2:
            fitting = [place for place in ALL_LOCATIONS if world.location_holds(place, box)]
            location = rng.choice(fitting) if fitting else None
        groups.append(ObjectGroup(id=group_id, noun=noun, phrase=f"a {noun}", size=size, location=location))
    for _ in range(20):
        if len(groups) < 2 or rng.random() < 0.3:
            break
        predicate = rng.choice(("left_of", "right_of", "above", "below", "near"))
        subject, object_ = rng.sample(range(len(groups)), 2)
        candidate = Relation(subject, predicate, object_)
        if candidate not in relations and world.relation_holds(predicate, boxes[subject], boxes[object_]):
            relations.append(candidate)
    prompt = " and ".join(group.phrase for group in groups)
    return Scene(prompt=prompt, objects=tuple(groups), relations=tuple(relations)), boxes
