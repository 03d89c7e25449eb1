"""Which of the scene's relations and locations the boxes on the canvas keep, and which they break.

The rules are the planner's own (`compose.planning.rules.read_relations`): a relation between two
groups holds when it holds for every pair of their members by the shapes world's relation table
(`compose.shapes.world.relation_holds`; depth words read as the flat relations of a shapes scene), an
open-vocabulary depth relation ("a cup on a table") by the planner's depth rules, and a location word
for every member (`world.location_holds`). A person dragging a box across another object's box sees at
once which relation that breaks.
"""

from __future__ import annotations

from typing import Any

from compose.scene import Layout


def relation_report(layout: Layout) -> dict[str, Any]:
    """For a layout carrying its scene: every relation and location with `holds` and the regions it
    concerns, plus placement notes (overlaps, the canvas margin) for a shapes-world scene."""
    scene = layout.scene
    if scene is None or not scene.objects:
        return {"relations": [], "notes": []}
    from compose.planning.rules import UnsatisfiableSceneError, group_names, is_shapes_scene, read_relations

    members: dict[int, list[int]] = {}
    for index, region in enumerate(layout.regions):
        members.setdefault(region.group, []).append(index)
    boxes = [region.box for region in layout.regions]
    shapes_scene = is_shapes_scene(scene)
    names = group_names(scene)
    try:
        rules = read_relations(scene, shapes_scene, names)
    except UnsatisfiableSceneError as error:
        return {"relations": [{"label": str(error), "holds": False, "regions": [], "broken": []}], "notes": []}
    found = [_check_entry(check, members, boxes) for check in rules.checks]
    found += [_depth_entry(depth, members, boxes) for depth in rules.depths]
    found += _location_entries(scene, members, boxes)
    notes = _placement_notes(boxes) if shapes_scene else []
    return {"relations": found, "notes": notes}


def _check_entry(check, members: dict[int, list[int]], boxes) -> dict[str, Any]:
    from compose.planning.problem import between_triples
    from compose.shapes import world

    if check.predicate == "between":
        tuples = between_triples(check, members)
        broken = [list(item) for item in tuples if not world.relation_holds("between", *(boxes[i] for i in item))]
    else:
        tuples = [(a, b) for a in members.get(check.subject, []) for b in members.get(check.object, [])]
        broken = [[a, b] for a, b in tuples if not world.relation_holds(check.predicate, boxes[a], boxes[b])]
    label = check.label if check.predicate in check.label.split() else f"{check.label} ({check.predicate})"
    return _entry(label, check.predicate, tuples, broken)


def _depth_entry(depth, members: dict[int, list[int]], boxes) -> dict[str, Any]:
    """An open-vocabulary depth relation: member i of the subject with member i mod n of the object,
    as the planner pairs them (compose.planning.problem)."""
    import shapely

    # The planner's own depth test (compose.planning.verify); private there, shared here on purpose.
    from compose.planning.verify import _depth_holds

    objects = members.get(depth.object, [])
    pairs = [(subject, objects[k % len(objects)]) for k, subject in enumerate(members.get(depth.subject, []))
             if objects]
    broken = [[a, b] for a, b in pairs
              if not _depth_holds(depth.kind, boxes[a], boxes[b], shapely.box(*boxes[a]), shapely.box(*boxes[b]))]
    return _entry(depth.label, depth.kind, pairs, broken)


def _location_entries(scene, members: dict[int, list[int]], boxes) -> list[dict[str, Any]]:
    from compose.shapes import world

    entries = []
    for group in scene.objects:
        if group.location is None:
            continue
        mine = members.get(group.id, [])
        broken = [[index] for index in mine if not world.location_holds(group.location, boxes[index])]
        entries.append(_entry(f"{group.noun} at the {group.location.replace('_', ' ')}", "location",
                              [(index,) for index in mine], broken))
    return entries


def _placement_notes(boxes) -> list[str]:
    """The shapes world's placement rules the boxes break (the picture may still come out right)."""
    from compose.shapes import world

    import re

    def shorter(match) -> str:
        return f"{float(match.group()):.2f}"

    return [re.sub(r"\d\.\d{3,}", shorter, note.replace("box ", "region ").replace("boxes ", "regions "))
            for note in world.placement_problems(list(boxes))]


def _entry(label: str, predicate: str, tuples, broken: list[list[int]]) -> dict[str, Any]:
    return {"label": label, "predicate": predicate, "holds": not broken,
            "regions": sorted({index for item in tuples for index in item}),
            "broken": broken}
