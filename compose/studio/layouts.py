"""The layout the page edits, to and from `compose.scene.Layout`, and the scene that layout shows.

The page keeps a layout as JSON: ``{"prompt", "background", "negative", "canvas", "scene", "objects":
[{"phrase", "box", "polygons", "group", "instance"}]}``. Its boxes and polygons are checked by the
layout-file reader itself (`compose.layout_files.layout_from_dict` on the ``compose.layout/v1``
document they form), so the page gets exactly the errors a layout file gets
(compose/specs/layout-files.md, "Errors"). `group` and `instance` tie a box to the parsed scene, as a
planned `Region` does; they are not part of the file format.

Once a person drags, adds, deletes or re-labels boxes, the parsed scene no longer says what the
layout holds: `scene_for_regions` rebuilds it (the scene the layout shows), so that the relation
flags, the world's limits and the checker judge what is on the canvas.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from compose.scene import LAYOUT_FORMAT, Layout, ObjectGroup, Region, Scene

PAGE_SOURCE = "the studio's layout"  # how errors name a layout sent by the page
_DOCUMENT_KEYS = ("prompt", "background", "negative", "canvas")


def layout_from_page(data: Any) -> Layout:
    """The page's layout JSON as a `Layout` carrying the scene its boxes show (`scene_for_regions`).

    Raises `LayoutFileError` (a ValueError) for boxes or polygons that break the layout-file rules, and
    ValueError for a malformed `scene`."""
    from compose.layout_files import LayoutFileError, layout_from_dict

    if not isinstance(data, dict) or not isinstance(data.get("objects"), list):
        raise LayoutFileError(PAGE_SOURCE, "objects", "the page sent no list of objects; reload the page")
    objects = data["objects"]
    document: dict[str, Any] = {"format": LAYOUT_FORMAT}
    document.update({key: data[key] for key in _DOCUMENT_KEYS if data.get(key) is not None})
    document["objects"] = [_file_object(item) for item in objects]
    layout = layout_from_dict(document, source=PAGE_SOURCE)
    scene = _page_scene(data.get("scene"))
    regions = tuple(replace(region, group=_optional_int(item.get("group")), instance=_optional_int(item.get("instance")) or 0)
                    for region, item in zip(layout.regions, objects))
    scene, regions = scene_for_regions(scene, regions, prompt=layout.prompt, background=layout.background)
    return replace(layout, regions=regions, scene=scene)


def layout_to_page(layout: Layout, scene: Scene | None = None) -> dict[str, Any]:
    """A `Layout` as the page's JSON; regions without a group are tied to `scene` (or the layout's own)
    by their phrases first (`scene_for_regions`), so that a saved layout reopens with its relations."""
    scene = scene if scene is not None else layout.scene
    scene, regions = scene_for_regions(scene, layout.regions, prompt=layout.prompt, background=layout.background)
    return {
        "prompt": layout.prompt, "background": layout.background, "negative": layout.negative,
        "canvas": list(layout.canvas) if layout.canvas is not None else None,
        "scene": scene.to_dict() if scene is not None else None,
        "objects": [page_object(region) for region in regions],
    }


def scene_for_regions(scene: Scene | None, regions: tuple[Region, ...], prompt: str | None = None,
                      background: str | None = None) -> tuple[Scene | None, tuple[Region, ...]]:
    """The scene a set of boxes shows, and the boxes tied to its groups.

    A box keeps its group while its phrase is still that group's instance phrase; a box with no group
    (added, or read from a file) joins the scene group whose instance phrase it has; any other box
    gets a group of its own, read from its phrase by the parser (boxes with one phrase share one).
    Each group's count becomes the number of its boxes; groups left with none are dropped with their
    relations. With no scene and no box, there is nothing to show: (None, ()).
    """
    if scene is None and not regions:
        return None, regions
    groups = {group.id: group for group in (scene.objects if scene is not None else ())}
    by_phrase = {group.instance_phrase: group.id for group in groups.values()}
    new_groups: dict[str, ObjectGroup] = {}
    owners: list[int] = []
    for region in regions:
        group = groups.get(region.group) if region.group is not None else None
        if group is not None and group.instance_phrase == region.phrase:
            owners.append(group.id)
        elif region.phrase in by_phrase:
            owners.append(by_phrase[region.phrase])
        else:
            if region.phrase not in new_groups:
                next_id = max([*groups, *(g.id for g in new_groups.values()), -1]) + 1
                new_groups[region.phrase] = group_from_phrase(next_id, region.phrase)
            owners.append(new_groups[region.phrase].id)
    counts = {group_id: owners.count(group_id) for group_id in set(owners)}
    kept = [replace(group, count=counts[group.id]) for group in (*groups.values(), *new_groups.values())
            if group.id in counts]
    kept_ids = {group.id for group in kept}
    relations = tuple(relation for relation in (scene.relations if scene is not None else ())
                      if {relation.subject, relation.object, relation.object2} - {None} <= kept_ids)
    seen: dict[int, int] = {}
    tied = []
    for region, owner in zip(regions, owners):
        tied.append(replace(region, group=owner, instance=seen.get(owner, 0)))
        seen[owner] = seen.get(owner, 0) + 1
    base = scene if scene is not None else Scene(prompt=prompt or "", objects=(), background=background)
    return replace(base, objects=tuple(kept), relations=relations), tuple(tied)


def group_from_phrase(group_id: int, phrase: str) -> ObjectGroup:
    """An object group for one box's phrase ("a green star"), read by the parser; a phrase the parser
    cannot read as one thing is kept whole, its last word taken as the noun."""
    from compose.parsing import parse

    try:
        parsed = parse(phrase).objects
    except ValueError:
        parsed = ()
    if len(parsed) == 1:
        found = parsed[0]
        return ObjectGroup(id=group_id, noun=found.noun, phrase=phrase, color=found.color, size=found.size,
                           modifiers=found.modifiers)
    words = phrase.split()
    return ObjectGroup(id=group_id, noun=words[-1].lower() if words else "thing", phrase=phrase)


def _file_object(item: Any) -> Any:
    """One page object as a compose.layout/v1 object: its polygons if painted, else its box."""
    if not isinstance(item, dict):
        return item  # the reader names the problem
    polygons = item.get("polygons")
    if polygons:
        return {"phrase": item.get("phrase"), "polygons": polygons}
    return {"phrase": item.get("phrase"), "box": item.get("box")}


def page_object(region: Region) -> dict[str, Any]:
    """One region as the page keeps it: phrase, box, painted polygons (or null), group and instance."""
    return {"phrase": region.phrase, "box": [float(value) for value in region.box],
            "polygons": [[[float(x), float(y)] for x, y in polygon] for polygon in region.polygons] or None,
            "group": region.group, "instance": region.instance}


def _page_scene(data: Any) -> Scene | None:
    if data is None:
        return None
    try:
        return Scene.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(f"{PAGE_SOURCE}: scene: not a scene of compose/specs/scene-format.md ({error}); "
                         "type the prompt again") from None


def _optional_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
