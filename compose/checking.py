"""Check a drawn picture against its scene and layout, object by object: what a repair must fix.

A checker reads a picture back and says, for a picture drawn from a layout: whether it passes, which
layout regions do not hold their object (missing, wrong shape or colour, moved, merged with a
neighbour), and which things are there that no region asked for (extra or negated objects), with
their boxes. The repair loop (compose.pipeline, `ComposeConfig.repair_rounds`) redraws exactly those.

- `ShapesChecker`: the shapes world's exact detector and scorer (compose.shapes): a region holds its
  object when a detection of its group's shape (and colour, when the group names one) overlaps the
  region's box with IoU >= `match_iou` (0.3), each detection serving one region; the picture passes when the
  scorer's strict rule holds.
- `DetectorChecker`: any open-vocabulary detector behind the transformers "zero-shot-object-detection"
  pipeline (OWL-ViT, OWLv2, Grounding DINO): each region's phrase is a query; a region holds its object
  when a detection for its phrase overlaps its box; each negated thing is a query too, and its
  detections are extras. It cannot see unasked-for extras, and passes when nothing failed.
The repair loop only needs the `Checker` protocol, so other detectors plug in the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

Box = tuple[float, float, float, float]
MATCH_IOU = 0.3  # a detection this close to a region's box is that region's object (boxes fractions of the canvas)
LOOSE_IOU = 0.6  # when a relation fails, a matched object overlapping its box less than this is redrawn
PLACEMENT_KINDS = {"relation_failed", "location_failed", "layout_iou"}


@dataclass(frozen=True)
class Problem:
    """One thing to repair: layout region `region` (its object is not there as asked), or, when region
    is None, something extra inside `box` that must go. `reason` is a sentence a person reads."""

    region: int | None
    box: Box
    reason: str

    def to_dict(self) -> dict:
        return {"region": self.region, "box": [round(value, 4) for value in self.box], "reason": self.reason}


@dataclass(frozen=True)
class Check:
    """A checker's reading of one picture."""

    passed: bool
    problems: tuple[Problem, ...] = ()
    details: tuple[str, ...] = field(default=())  # the checker's own reasons (e.g. the scorer's), for the record

    def to_dict(self) -> dict:
        return {"passed": self.passed, "problems": [problem.to_dict() for problem in self.problems],
                "details": list(self.details)}


class Checker(Protocol):
    def check(self, image: np.ndarray, scene, layout) -> Check: ...


def box_iou(a: Box, b: Box) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match_regions(layout, detections: list[tuple[Box, object]], fits,
                  match_iou: float = MATCH_IOU) -> tuple[dict[int, int], list[int]]:
    """Give each layout region at most one detection that `fits(region_index, label)` and overlaps its box
    with IoU >= match_iou, best overlaps first; returns (region -> detection, unmatched detections)."""
    pairs = sorted(((box_iou(region.box, box), r, d) for r, region in enumerate(layout.regions)
                    for d, (box, label) in enumerate(detections) if fits(r, label)), reverse=True)
    matched: dict[int, int] = {}
    used: set[int] = set()
    for iou, region, detection in pairs:
        if iou < match_iou or region in matched or detection in used:
            continue
        matched[region] = detection
        used.add(detection)
    return matched, [d for d in range(len(detections)) if d not in used]


def region_problems(layout, matched: dict[int, int]) -> list[Problem]:
    return [Problem(index, region.box, f"region {index} ({region.phrase!r}): its object is not there as asked")
            for index, region in enumerate(layout.regions) if index not in matched]


def loosely_placed(layout, boxes: list[Box], matched: dict[int, int], loose_iou: float = LOOSE_IOU) -> list[Problem]:
    """Every object is there, yet a relation or location fails: some drawn box strays from its region.
    The regions whose object (boxes[matched[region]]) overlaps its box least (IoU under `loose_iou`, else
    the single lowest) are the ones to redraw in place."""
    overlaps = {region: box_iou(layout.regions[region].box, boxes[detection]) for region, detection in matched.items()}
    loose = [region for region, iou in overlaps.items() if iou < loose_iou] or \
        ([min(overlaps, key=overlaps.get)] if overlaps else [])
    return [Problem(region, layout.regions[region].box, f"region {region} ({layout.regions[region].phrase!r}): drawn "
                    f"off its box (IoU {overlaps[region]:.2f}), so a relation or location fails") for region in sorted(loose)]


class ShapesChecker:
    """The shapes world's detector and scorer as a checker (see the module docstring). `match_iou`: how
    much a detection must overlap a region's box to be its object; `loose_iou`: below this overlap a
    matched object is redrawn when a relation or location fails."""

    def __init__(self, match_iou: float = MATCH_IOU, loose_iou: float = LOOSE_IOU):
        if not 0 < match_iou <= loose_iou <= 1:
            raise ValueError(f"ShapesChecker(match_iou={match_iou}, loose_iou={loose_iou}): give 0 < match_iou <= "
                             "loose_iou <= 1")
        self.match_iou, self.loose_iou = match_iou, loose_iou

    def check(self, image: np.ndarray, scene, layout) -> Check:
        from compose.shapes.detect import detect
        from compose.shapes.score import negation_matches, score

        found = detect(image)
        verdict = score(scene, found, None)
        groups = {group.id: group for group in scene.objects}

        def negated(item) -> bool:
            return any(negation_matches(negation, item) for negation in scene.negations)

        def fits(region_index: int, item) -> bool:
            group = groups.get(layout.regions[region_index].group)
            if group is None or negated(item):  # "three circles and no red circles": a red one is not one of them
                return False
            return item.shape == group.noun and (group.color is None or item.color == group.color)

        matched, unmatched = match_regions(layout, [(item.box, item) for item in found], fits, self.match_iou)
        problems = region_problems(layout, matched)
        problems += [Problem(None, found[d].box, f"{found[d].color} {found[d].shape} at "
                             f"{tuple(round(v, 2) for v in found[d].box)} is not asked for there") for d in unmatched]
        if not verdict.correct_strict and not problems and set(verdict.kinds) & PLACEMENT_KINDS:
            problems = loosely_placed(layout, [item.box for item in found], matched, self.loose_iou)
        passed = verdict.correct_strict and not problems
        return Check(passed=passed, problems=tuple(problems) if not passed else (), details=verdict.reasons)


class DetectorChecker:
    """A transformers zero-shot object detector as a checker: `detector` is a "zero-shot-object-detection"
    pipeline (or anything called as detector(image, candidate_labels=[...]) that returns dicts with
    "label", "score" and "box" {xmin, ymin, xmax, ymax} in pixels)."""

    def __init__(self, detector, threshold: float = 0.1):
        self.detector = detector
        self.threshold = threshold

    def check(self, image: np.ndarray, scene, layout) -> Check:
        from PIL import Image

        phrases = sorted({region.phrase for region in layout.regions})
        negated = [" ".join(word for word in (item.color, item.noun or "object") if word)
                   for item in (scene.negations if scene is not None else ())]
        labels = phrases + [text for text in negated if text not in phrases]
        height, width = image.shape[:2]
        raw = self.detector(Image.fromarray(image), candidate_labels=labels) if labels else []
        found = []
        for item in raw:
            if item["score"] < self.threshold:
                continue
            b = item["box"]
            found.append(((b["xmin"] / width, b["ymin"] / height, b["xmax"] / width, b["ymax"] / height), item["label"]))
        matched, unmatched = match_regions(layout, found,
                                           lambda r, label: label == layout.regions[r].phrase)
        problems = region_problems(layout, matched)
        problems += [Problem(None, found[d][0], f"{found[d][1]!r} found where no region asks for it")
                     for d in unmatched if found[d][1] in negated]
        return Check(passed=not problems, problems=tuple(problems))
