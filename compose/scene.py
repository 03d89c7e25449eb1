"""The typed scene a prompt describes, and the layout that places it.

A `Scene` is what the parser reads out of a prompt (object groups, relations, negations, background,
style);
a `Layout` is where each object instance goes. Both are frozen dataclasses that serialise to exactly the
JSON of compose/specs/scene-format.md ("compose parse --json") and compose/specs/layout-files.md
("compose.layout/v1"). This module imports nothing heavy: the parser and the CLI start fast.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

COLORS = ("red", "orange", "yellow", "green", "blue", "purple")
SIZES = ("small", "medium", "large")
LOCATIONS = (
    "left", "right", "top", "bottom", "center",
    "top_left", "top_right", "bottom_left", "bottom_right",
)
SPATIAL_PREDICATES = ("left_of", "right_of", "above", "below", "near", "between")
DEPTH_PREDICATES = ("in_front_of", "behind", "on", "inside")
KNOWN_PREDICATES = SPATIAL_PREDICATES + DEPTH_PREDICATES
LAYOUT_FORMAT = "compose.layout/v1"


@dataclass(frozen=True)
class ObjectGroup:
    """One distinct thing the prompt names, possibly several of it ("two blue squares")."""

    id: int
    noun: str  # singular head noun: "mice" -> "mouse"
    phrase: str  # the words that describe this group: "two blue squares"
    count: int = 1
    color: str | None = None
    size: str | None = None  # "small" | "medium" | "large" | None
    location: str | None = None  # one of LOCATIONS, or None
    modifiers: tuple[str, ...] = ()  # other describing words: ("wooden",)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "noun": self.noun, "phrase": self.phrase, "count": self.count,
            "color": self.color, "size": self.size, "location": self.location,
            "modifiers": list(self.modifiers),
        }

    @property
    def instance_phrase(self) -> str:
        """The phrase for one member of the group, as a region is prompted: "a small blue square"."""
        words = [word for word in (self.size, self.color) if word] + list(self.modifiers) + [self.noun]
        article = "an" if words[0][0] in "aeiou" else "a"
        return " ".join([article] + words)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ObjectGroup:
        return cls(
            id=int(data["id"]), noun=data["noun"], phrase=data["phrase"],
            count=int(data.get("count", 1)), color=data.get("color"), size=data.get("size"),
            location=data.get("location"), modifiers=tuple(data.get("modifiers", ())),
        )


@dataclass(frozen=True)
class Relation:
    """`subject predicate object` between two groups, by their ids; "between" also names object2."""

    subject: int
    predicate: str
    object: int
    object2: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "predicate": self.predicate,
                "object": self.object, "object2": self.object2}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Relation:
        object2 = data.get("object2")
        return cls(subject=int(data["subject"]), predicate=data["predicate"],
                   object=int(data["object"]), object2=None if object2 is None else int(object2))


@dataclass(frozen=True)
class Negation:
    """Something that must not appear: "no stars" (noun), "no yellow shapes" (colour only), "no small
    ones" (size kept: only small ones are denied)."""

    noun: str | None = None
    color: str | None = None
    size: str | None = None  # "small" | "medium" | "large" | None

    def to_dict(self) -> dict[str, Any]:
        return {"noun": self.noun, "color": self.color, "size": self.size}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Negation:
        return cls(noun=data.get("noun"), color=data.get("color"), size=data.get("size"))


@dataclass(frozen=True)
class Scene:
    """Everything a prompt asks for; serialises to the scene JSON of compose/specs/scene-format.md (v1.1).

    `objects` may be empty when the scene has negations or a background ("a scene without backpacks":
    the picture is the background, the negations its negative conditioning). `style` holds the words
    about how the picture looks ("realistic", "in the style of van gogh"), not what is in it."""

    prompt: str
    objects: tuple[ObjectGroup, ...]
    relations: tuple[Relation, ...] = ()
    negations: tuple[Negation, ...] = ()
    background: str | None = None
    style: str | None = None

    def group(self, group_id: int) -> ObjectGroup:
        for group in self.objects:
            if group.id == group_id:
                return group
        raise KeyError(f"scene has no object group with id {group_id}")

    @property
    def instance_count(self) -> int:
        return sum(group.count for group in self.objects)

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "objects": [group.to_dict() for group in self.objects],
            "relations": [relation.to_dict() for relation in self.relations],
            "negations": [negation.to_dict() for negation in self.negations],
            "background": self.background,
            "style": self.style,
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scene:
        return cls(
            prompt=data.get("prompt", ""),
            objects=tuple(ObjectGroup.from_dict(item) for item in data["objects"]),
            relations=tuple(Relation.from_dict(item) for item in data.get("relations", ())),
            negations=tuple(Negation.from_dict(item) for item in data.get("negations", ())),
            background=data.get("background"),
            style=data.get("style"),
        )

    @classmethod
    def from_json(cls, text: str) -> Scene:
        return cls.from_dict(json.loads(text))


def scene_dict_v1_1(data: dict[str, Any]) -> dict[str, Any]:
    """A scene JSON object written to version 1.0 as version 1.1 writes it (compose/specs/scene-format.md): v1.1 adds
    `style` and a negation's `size`, null when absent. Other keys are copied as they are, so that
    comparing two upgraded dicts is as strict as comparing the originals."""
    upgraded = dict(data)
    upgraded.setdefault("style", None)
    if isinstance(upgraded.get("negations"), list):
        upgraded["negations"] = [{**item, "size": item.get("size")} if isinstance(item, dict) else item
                                 for item in upgraded["negations"]]
    return upgraded


Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in canvas fractions, y downwards
Polygon = tuple[tuple[float, float], ...]  # points in canvas fractions


@dataclass(frozen=True)
class Region:
    """Where one object instance goes: a box, and optionally the painted shape inside it.

    `polygons` holds the exact shape when the region is not its whole box (a polygon from a layout
    file, or the outlines of a painted sketch; a colour painted as several blobs gives several).
    `group` and `instance` tie the region back to the scene: instance k of object group `group`.
    """

    phrase: str
    box: Box
    polygons: tuple[Polygon, ...] = ()
    group: int | None = None
    instance: int = 0

    @property
    def center(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        return ((x0 + x1) / 2, (y0 + y1) / 2)

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    def mask(self, width: int, height: int):
        """The region as a boolean numpy array of shape (height, width): its polygons, else its box."""
        import numpy as np

        if not self.polygons:
            mask = np.zeros((height, width), dtype=bool)
            x0, y0, x1, y1 = self.box
            mask[round(y0 * height):round(y1 * height), round(x0 * width):round(x1 * width)] = True
            return mask
        import cv2

        canvas = np.zeros((height, width), dtype=np.uint8)
        for polygon in self.polygons:
            points = np.array([[x * width, y * height] for x, y in polygon], dtype=np.float64)
            cv2.fillPoly(canvas, [np.round(points).astype(np.int32)], 1)
        return canvas.astype(bool)


@dataclass(frozen=True)
class Layout:
    """Regions for every object instance, plus what fills the rest; "compose.layout/v1" on disk."""

    regions: tuple[Region, ...]
    prompt: str | None = None
    background: str | None = None
    negative: str | None = None
    canvas: tuple[int, int] | None = None  # (width, height) in pixels, when a file says so
    scene: Scene | None = field(default=None, compare=False)  # the scene it was planned from, if any
