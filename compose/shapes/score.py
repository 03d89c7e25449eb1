"""Score a shapes-world picture against the scene it was asked to show (compose/specs/benchmark.md, v1).

The picture is read back into objects by compose.shapes.detect; `score` then checks the benchmark's
rules ("Scoring one picture"):

- every object group is there with its shape, its colour and exactly its count (a group with no
  colour accepts any colour);
- every relation holds by the shapes world's rules (world.relation_holds) for every pair of members of
  the two groups, and every absolute location (world.location_holds) for every member;
- nothing the prompt negates is there;
- strict score only: nothing else is there;
- with a layout: each region's object has a detected box with IoU >= 0.5 with the region.

Which detection belongs to which group is ambiguous when groups share a shape and their colours can
overlap ("a red circle left of a circle"), and for the members of a group matched to its layout
regions. The scorer searches the assignments of detections to groups that meet the counts for one
in which everything holds (depth first, abandoning a branch at its first failure), so a picture is
correct when some reading of it satisfies the prompt; when none does, it reports the reading with the
fewest failures (among at most MAX_ASSIGNMENTS; scenes hold at most 8 objects). Sizes ("a small circle") are not scored: the benchmark's
rules do not ask for them.
"""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np

from compose.scene import Layout, Negation, ObjectGroup, Scene
from compose.shapes import world
from compose.shapes.render import ShapeInstance

logger = logging.getLogger(__name__)

FAILURE_KINDS = (
    "missing_group", "wrong_count", "wrong_color", "relation_failed", "location_failed",
    "negated_present", "extra_object", "layout_iou",
)
STRICT_ONLY_KINDS = ("extra_object",)  # what fails the strict score but not the lenient one
LAYOUT_MIN_IOU = 0.5  # compose/specs/benchmark.md: each object's detected box overlaps its region this much
SCORED_PREDICATES = ("left_of", "right_of", "above", "below", "near", "between")
GENERIC_NOUNS = ("shape", "object", "thing")  # a negation with one of these nouns forbids any shape
MAX_ASSIGNMENTS = 20000  # readings of one picture tried before settling for the best so far


@dataclass(frozen=True)
class Failure:
    """One reason a picture is not correct: a machine `kind` (one of FAILURE_KINDS) and a sentence."""

    kind: str
    detail: str

    def __post_init__(self) -> None:
        assert self.kind in FAILURE_KINDS, self.kind

    @property
    def strict_only(self) -> bool:
        """True when this failure costs the strict score only (something extra is there)."""
        return self.kind in STRICT_ONLY_KINDS

    def to_dict(self) -> dict:
        return {"kind": self.kind, "detail": self.detail}


@dataclass(frozen=True)
class Verdict:
    """Whether one picture shows its scene, by the benchmark's strict and lenient rules, and why not.

    `failures` lists every broken rule; `region_ious[k]` is the IoU of layout region k with the
    detection matched to it (0.0 when none), empty without a layout. `assignment` maps each group id
    to the indices (into the detections given) of the objects read as its members, for the reading
    kept; groups that are not there as asked map to ()."""

    correct_strict: bool
    correct_lenient: bool
    failures: tuple[Failure, ...] = ()
    region_ious: tuple[float, ...] = ()
    assignment: tuple[tuple[int, tuple[int, ...]], ...] = field(default=())

    @property
    def reasons(self) -> tuple[str, ...]:
        """The failures as sentences a person reads, "kind: detail"."""
        return tuple(f"{failure.kind}: {failure.detail}" for failure in self.failures)

    @property
    def kinds(self) -> tuple[str, ...]:
        """The distinct failure kinds, in the order they were found."""
        return tuple(dict.fromkeys(failure.kind for failure in self.failures))

    def to_dict(self) -> dict:
        """A JSON-ready dict, for one line of a results.jsonl."""
        return {
            "correct_strict": self.correct_strict,
            "correct_lenient": self.correct_lenient,
            "reasons": list(self.reasons),
            "failures": [failure.to_dict() for failure in self.failures],
            "region_ious": [round(value, 4) for value in self.region_ious],
            "assignment": {str(group): list(members) for group, members in self.assignment},
        }


def score(scene: Scene, detections: Sequence[ShapeInstance], layout: Layout | None = None) -> Verdict:
    """Judge the objects read back from a picture against the scene (and layout) it was asked to show.

    `detections`: what compose.shapes.detect.detect read from the picture. `layout`: the regions the
    picture was drawn in, for the layout category (each region names its group). Raises ValueError for
    a scene the shapes world cannot score (a noun that is not a shape, a relation with no rule)."""
    check_scoreable(scene, layout)
    detections = list(detections)
    for index, item in enumerate(detections):
        if item.shape not in world.SHAPES or item.color not in world.PALETTE:
            raise ValueError(f"detection {index} {item!r} is not a shapes-world object "
                             f"(shapes {', '.join(world.SHAPES)}; colours {', '.join(world.PALETTE)})")

    failures: list[Failure] = []
    satisfied: set[int] = set()
    explained: set[tuple[str, str]] = set()  # (shape, colour) already blamed as a wrong colour
    for shape in world.SHAPES:
        groups = [group for group in scene.objects if group.noun == shape]
        if groups:
            shape_failures, shape_satisfied, shape_explained = _check_counts(shape, groups, detections)
            failures.extend(shape_failures)
            satisfied.update(shape_satisfied)
            explained.update(shape_explained)

    reading, placement_failures, region_ious = _best_reading(scene, detections, layout, satisfied)
    failures.extend(placement_failures)
    failures.extend(_negation_failures(scene.negations, detections))
    failures.extend(_extra_failures(scene, detections, explained))

    lenient = not any(not failure.strict_only for failure in failures)
    return Verdict(
        correct_strict=lenient and not failures,
        correct_lenient=lenient,
        failures=tuple(failures),
        region_ious=tuple(region_ious),
        assignment=tuple((group.id, tuple(sorted(reading.get(group.id, ())))) for group in scene.objects),
    )


def score_image(scene: Scene, image: np.ndarray, layout: Layout | None = None) -> Verdict:
    """Read a picture with the shapes-world detector and score it (`score` on `detect(image)`)."""
    from compose.shapes.detect import detect

    return score(scene, detect(image), layout)


def check_scoreable(scene: Scene, layout: Layout | None = None) -> None:
    """Raise ValueError unless every part of the scene (and layout) has a shapes-world rule to judge it."""
    group_ids = {group.id for group in scene.objects}
    for group in scene.objects:
        if group.noun not in world.SHAPES:
            raise ValueError(
                f"object group {group.id} ({group.phrase!r}) has noun {group.noun!r}, which is not a "
                f"shapes-world shape; only scenes of {', '.join(world.SHAPES)} can be scored")
        if group.color is not None and group.color not in world.PALETTE:
            raise ValueError(f"object group {group.id} ({group.phrase!r}) has colour {group.color!r}; "
                             f"the shapes world has {', '.join(world.PALETTE)} (or no colour)")
        if group.count < 1:
            raise ValueError(f"object group {group.id} ({group.phrase!r}) has count {group.count}; "
                             "a group needs at least 1 object (say what is absent as a negation)")
        if group.location is not None and group.location not in world.LOCATION_BOUNDS:
            raise ValueError(f"object group {group.id} ({group.phrase!r}) has location {group.location!r}; "
                             f"the shapes world scores {', '.join(world.LOCATION_BOUNDS)}")
    for relation in scene.relations:
        if relation.predicate not in SCORED_PREDICATES:
            raise ValueError(f"relation {relation.predicate!r} has no rule in the shapes world; "
                             f"scored relations are {', '.join(SCORED_PREDICATES)}")
        named = [relation.subject, relation.object]
        if relation.predicate == "between":
            if relation.object2 is None:
                raise ValueError("relation 'between' needs a second object (object2); "
                                 f"got subject {relation.subject}, object {relation.object} only")
            named.append(relation.object2)
        for group_id in named:
            if group_id not in group_ids:
                raise ValueError(f"relation {relation.to_dict()} names group {group_id}, which the scene "
                                 f"does not have (groups {sorted(group_ids)})")
    for negation in scene.negations:
        if negation.noun is not None and negation.noun not in world.SHAPES + GENERIC_NOUNS:
            raise ValueError(f"negation {negation.to_dict()} names {negation.noun!r}, which is not a "
                             f"shapes-world shape ({', '.join(world.SHAPES)}) or a generic "
                             f"{' / '.join(GENERIC_NOUNS)}")
        if negation.color is not None and negation.color not in world.PALETTE:
            raise ValueError(f"negation {negation.to_dict()} names colour {negation.color!r}; the shapes "
                             f"world has {', '.join(world.PALETTE)}")
    if layout is not None:
        for index, region in enumerate(layout.regions):
            if region.group not in group_ids:
                raise ValueError(f"layout region {index} ({region.phrase!r}) names group {region.group}, "
                                 f"not one of the scene's groups {sorted(group_ids)}; a scored layout "
                                 "ties every region to a group")


# -- counts and colours ---------------------------------------------------------------------------


def _check_counts(shape: str, groups: list[ObjectGroup], detections: list[ShapeInstance]
                  ) -> tuple[list[Failure], set[int], set[tuple[str, str]]]:
    """The count and colour failures of the groups of one shape, the ids of the groups satisfied, and
    the (shape, colour) pairs blamed as wrong colours (so they are not also called extra objects).

    Coloured groups need exactly their count of that shape and colour; groups with no colour take the
    shape's remaining detections of any colour and need exactly their count of them. A detection of
    the shape in a colour no group asks for is an extra object when no uncoloured group takes it."""
    found = Counter(item.color for item in detections if item.shape == shape)
    demand: dict[str, list[ObjectGroup]] = {}
    uncoloured = [group for group in groups if group.color is None]
    for group in groups:
        if group.color is not None:
            demand.setdefault(group.color, []).append(group)
    wanted = {color: sum(group.count for group in members) for color, members in demand.items()}
    any_color_count = sum(group.count for group in uncoloured)
    over = {color: max(found[color] - wanted.get(color, 0), 0) for color in found}
    pool = sum(over.values())  # detections no coloured group needs: for the groups of any colour

    failures: list[Failure] = []
    satisfied: set[int] = set()
    explained: set[tuple[str, str]] = set()
    for color, members in demand.items():
        have, need = found[color], wanted[color]
        phrases = " and ".join(repr(group.phrase) for group in members)
        spare = {other: count for other, count in over.items() if other != color and count > 0}
        spare_total = sum(spare.values()) - any_color_count
        if have == need:
            satisfied.update(group.id for group in members)
        elif have < need and spare_total > 0:
            others = ", ".join(f"{count} {other}" for other, count in sorted(spare.items()))
            explained.update((shape, other) for other in spare)
            failures.append(Failure("wrong_color", f"asked for {need} {color} {shape}(s) ({phrases}), "
                                                   f"found {have} {color} and {shape}s of other colours: "
                                                   f"{others}"))
        elif have == 0:
            failures.append(Failure("missing_group", f"no {color} {shape} found ({phrases}; "
                                                     f"asked for {need})"))
        elif have < need or any_color_count == 0:
            failures.append(Failure("wrong_count", f"asked for {need} {color} {shape}(s) ({phrases}), "
                                                   f"found {have}"))
    if uncoloured:
        phrases = " and ".join(repr(group.phrase) for group in uncoloured)
        besides = " besides the coloured ones" if demand else ""
        if pool == 0:
            failures.append(Failure("missing_group", f"no {shape} of any colour found{besides} "
                                                     f"({phrases}; asked for {any_color_count})"))
        elif pool != any_color_count:
            failures.append(Failure("wrong_count", f"asked for {any_color_count} {shape}(s) of any "
                                                   f"colour{besides} ({phrases}), found {pool}"))
        elif all(found[color] >= need for color, need in wanted.items()):
            # Every count holds together: the coloured groups are satisfied too (their colour may
            # have more, the rest going to the groups of any colour).
            satisfied.update(group.id for group in groups)
        if pool != any_color_count:
            satisfied.difference_update(group.id for group in groups)
    return failures, satisfied, explained


def _negation_failures(negations: Sequence[Negation], detections: list[ShapeInstance]) -> list[Failure]:
    failures = []
    for negation in negations:
        matches = [item for item in detections if negation_matches(negation, item)]
        if matches:
            what = " ".join(word for word in (negation.color, negation.noun or "shape") if word)
            seen = ", ".join(f"{item.color} {item.shape}" for item in matches)
            failures.append(Failure("negated_present", f"asked for no {what}s, found {len(matches)}: {seen}"))
    return failures


def negation_matches(negation: Negation, item: ShapeInstance) -> bool:
    """Whether `item` is a thing `negation` forbids ("no red shapes" forbids a red circle)."""
    noun_matches = negation.noun is None or negation.noun in GENERIC_NOUNS or negation.noun == item.shape
    return noun_matches and (negation.color is None or negation.color == item.color)


def _extra_failures(scene: Scene, detections: list[ShapeInstance],
                    explained: set[tuple[str, str]]) -> list[Failure]:
    """Detections that no group could take, no negation forbids and no wrong colour explains."""
    failures = []
    for item in detections:
        if (item.shape, item.color) in explained:
            continue
        wanted = any(group.noun == item.shape and group.color in (None, item.color)
                     for group in scene.objects)
        negated = any(negation_matches(negation, item) for negation in scene.negations)
        if not wanted and not negated:
            center_x, center_y = world.box_center(item.box)
            failures.append(Failure("extra_object", f"a {item.color} {item.shape} at "
                                                    f"({center_x:.2f}, {center_y:.2f}) that the prompt "
                                                    "does not ask for"))
    return failures


# -- relations, locations and layout, over the possible readings --------------------------------


def _best_reading(scene: Scene, detections: list[ShapeInstance], layout: Layout | None,
                  satisfied: set[int]) -> tuple[dict[int, tuple[int, ...]], list[Failure], list[float]]:
    """The assignment of detections to satisfied groups with the fewest placement failures.

    First a depth-first search for a reading with none, pruning as soon as a relation, location or
    layout region of the groups assigned so far fails; when there is no such reading, the readings
    are enumerated (capped) for the one with the fewest failures, to report.
    Returns (group id -> detection indices, its relation / location / layout failures, region IoUs)."""
    groups = [group for group in scene.objects if group.id in satisfied]
    groups.sort(key=lambda group: (world.SHAPES.index(group.noun), group.color is None))
    perfect = _perfect_reading(scene, detections, layout, groups)
    if perfect is not None:
        failures, region_ious = _placement_failures(scene, detections, layout, perfect, satisfied)
        if not failures:
            return perfect, failures, region_ious

    per_shape = []
    for shape in world.SHAPES:
        shape_groups = [group for group in groups if group.noun == shape]
        if shape_groups:
            indices = [index for index, item in enumerate(detections) if item.shape == shape]
            per_shape.append(_shape_assignments(shape_groups, indices, detections))
    best: tuple[dict[int, tuple[int, ...]], list[Failure], list[float]] | None = None
    for parts in itertools.islice(itertools.product(*per_shape), MAX_ASSIGNMENTS):
        reading: dict[int, tuple[int, ...]] = {}
        for part in parts:
            reading.update(part)
        failures, region_ious = _placement_failures(scene, detections, layout, reading, satisfied)
        if best is None or len(failures) < len(best[1]):
            best = (reading, failures, region_ious)
    assert best is not None  # product() of no iterables yields one empty tuple
    return best


def _perfect_reading(scene: Scene, detections: list[ShapeInstance], layout: Layout | None,
                     groups: list[ObjectGroup]) -> dict[int, tuple[int, ...]] | None:
    """A reading of the picture in which every relation, location and layout region holds, or None.

    Groups are given members in order (coloured groups of a shape before those of any colour, which
    share what is left); after each, the checks whose groups are all assigned are run, and a failing
    branch is abandoned. Gives up (None) after MAX_ASSIGNMENTS member choices."""
    position_of = {group.id: position for position, group in enumerate(groups)}
    relations_at: dict[int, list] = {}
    for relation in scene.relations:
        named = _relation_groups(relation)
        if all(group_id in position_of for group_id in named):
            relations_at.setdefault(max(position_of[group_id] for group_id in named), []).append(relation)
    regions_of: dict[int, list[int]] = {}
    for index, region in enumerate(layout.regions if layout is not None else ()):
        regions_of.setdefault(region.group, []).append(index)
    remaining = {shape: [index for index, item in enumerate(detections) if item.shape == shape]
                 for shape in world.SHAPES}
    reading: dict[int, tuple[int, ...]] = {}
    budget = [MAX_ASSIGNMENTS]

    def holds(position: int) -> bool:
        group = groups[position]
        boxes = {group_id: [detections[index].box for index in members]
                 for group_id, members in reading.items()}
        for relation in relations_at.get(position, ()):
            if _relation_pairs_failed(relation.predicate, _relation_groups(relation), boxes)[0]:
                return False
        if group.location is not None and not all(world.location_holds(group.location, box)
                                                  for box in boxes[group.id]):
            return False
        if group.id in regions_of and layout is not None:
            ious = _match_regions(layout, regions_of[group.id], detections, list(reading[group.id]))
            if min(ious) < LAYOUT_MIN_IOU:
                return False
        return True

    def visit(position: int) -> bool:
        if position == len(groups):
            return True
        group = groups[position]
        available = remaining[group.noun]
        pool = [index for index in available if group.color in (None, detections[index].color)]
        for members in itertools.combinations(pool, group.count):
            budget[0] -= 1
            if budget[0] < 0:
                return False
            reading[group.id] = members
            if holds(position):
                remaining[group.noun] = [index for index in available if index not in members]
                found = visit(position + 1)
                remaining[group.noun] = available
                if found:
                    return True
            del reading[group.id]
        return False

    if visit(0):
        return dict(reading)
    if budget[0] < 0:
        logger.warning("scoring %r: gave up the search for a reading that satisfies every relation "
                       "after %d choices; reporting the best reading found by enumeration",
                       scene.prompt, MAX_ASSIGNMENTS)
    return None


def _relation_groups(relation) -> list[int]:
    """The group ids a relation names: subject, object (and object2 for "between")."""
    named = [relation.subject, relation.object]
    if relation.predicate == "between":
        named.append(relation.object2)
    return named


def _shape_assignments(groups: list[ObjectGroup], indices: list[int],
                       detections: list[ShapeInstance]) -> list[dict[int, tuple[int, ...]]]:
    """Every way to hand one shape's detections to its (count-satisfied) groups.

    Coloured groups choose among their colour's detections first; groups of any colour share what is
    left. Capped at MAX_ASSIGNMENTS ways."""
    ordered = sorted(groups, key=lambda group: group.color is None)

    def place(position: int, remaining: tuple[int, ...]) -> Iterator[dict[int, tuple[int, ...]]]:
        if position == len(ordered):
            yield {}
            return
        group = ordered[position]
        pool = [index for index in remaining if group.color in (None, detections[index].color)]
        for members in itertools.combinations(pool, group.count):
            rest = tuple(index for index in remaining if index not in members)
            for later in place(position + 1, rest):
                yield {group.id: members, **later}

    return list(itertools.islice(place(0, tuple(indices)), MAX_ASSIGNMENTS))


def _placement_failures(scene: Scene, detections: list[ShapeInstance], layout: Layout | None,
                        reading: dict[int, tuple[int, ...]],
                        satisfied: set[int]) -> tuple[list[Failure], list[float]]:
    """Relation, location and layout failures of one reading (groups not satisfied are skipped)."""
    failures: list[Failure] = []
    boxes = {group_id: [detections[index].box for index in members] for group_id, members in reading.items()}
    for relation in scene.relations:
        named = _relation_groups(relation)
        if not all(group_id in reading for group_id in named):
            continue  # a group that is not there as asked already fails the picture
        failed, total = _relation_pairs_failed(relation.predicate, named, boxes)
        if failed:
            words = [repr(scene.group(group_id).phrase) for group_id in named]
            sentence = (f"{words[0]} between {words[1]} and {words[2]}" if relation.predicate == "between"
                        else f"{words[0]} {relation.predicate} {words[1]}")
            failures.append(Failure("relation_failed", f"{sentence} does not hold for {failed} of {total} "
                                                       "member combinations"))
    for group in scene.objects:
        if group.location is None or group.id not in reading:
            continue
        outside = [box for box in boxes[group.id] if not world.location_holds(group.location, box)]
        if outside:
            centers = ", ".join(f"({x:.2f}, {y:.2f})" for x, y in map(world.box_center, outside))
            failures.append(Failure("location_failed", f"{group.phrase!r} should be at the {group.location}; "
                                                       f"{len(outside)} member(s) centred at {centers}"))
    region_ious: list[float] = []
    if layout is not None:
        region_ious = _region_ious(scene, detections, layout, reading, satisfied)
        for index, (region, iou) in enumerate(zip(layout.regions, region_ious)):
            if iou < LAYOUT_MIN_IOU:
                failures.append(Failure("layout_iou", f"region {index} ({region.phrase!r}): the best "
                                                      f"detected box has IoU {iou:.2f} < {LAYOUT_MIN_IOU}"))
    return failures, region_ious


def _relation_pairs_failed(predicate: str, named: list[int],
                           boxes: dict[int, list[world.Box]]) -> tuple[int, int]:
    """(failed, total) member combinations of a relation: every pair (or triple, for "between")."""
    failed = total = 0
    subjects = boxes[named[0]]
    if predicate == "between":
        first, second = boxes[named[1]], boxes[named[2]]
        if named[1] == named[2]:  # "between two squares": distinct pairs of the one group
            ends = [(first[i], first[j]) for i in range(len(first)) for j in range(i + 1, len(first))]
        else:
            ends = list(itertools.product(first, second))
        for subject in subjects:
            for low, high in ends:
                total += 1
                failed += not world.relation_holds("between", subject, low, high)
        return failed, total
    same_group = named[0] == named[1]
    for i, subject in enumerate(subjects):
        for j, other in enumerate(boxes[named[1]]):
            if same_group and i == j:
                continue
            total += 1
            failed += not world.relation_holds(predicate, subject, other)
    return failed, total


def _region_ious(scene: Scene, detections: list[ShapeInstance], layout: Layout,
                 reading: dict[int, tuple[int, ...]], satisfied: set[int]) -> list[float]:
    """Per layout region, the IoU of the detection matched to it among its group's members.

    Regions of one group and that group's detections are matched one to one for the largest total IoU
    (Hungarian method). A group not there as asked is matched against every detection of its shape
    (and colour), so that the IoUs still say where things went."""
    ious = [0.0] * len(layout.regions)
    by_group: dict[int, list[int]] = {}
    for index, region in enumerate(layout.regions):
        by_group.setdefault(region.group, []).append(index)
    for group_id, region_indices in by_group.items():
        group = scene.group(group_id)
        if group_id in satisfied and group_id in reading:
            candidates = list(reading[group_id])
        else:
            candidates = [index for index, item in enumerate(detections)
                          if item.shape == group.noun and group.color in (None, item.color)]
        for region_index, iou in zip(region_indices, _match_regions(layout, region_indices, detections,
                                                                    candidates)):
            ious[region_index] = iou
    return ious


def _match_regions(layout: Layout, region_indices: list[int], detections: list[ShapeInstance],
                   candidates: list[int]) -> list[float]:
    """The IoU of each region with the candidate detection it is matched to (0.0 for none)."""
    if not candidates:
        return [0.0] * len(region_indices)
    matrix = [[box_iou(layout.regions[row].box, detections[column].box) for column in candidates]
              for row in region_indices]
    return [matrix[row][column] if column is not None else 0.0
            for row, column in enumerate(best_matching(matrix))]


def box_iou(a: world.Box, b: world.Box) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    intersection = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - intersection
    return intersection / union if union > 0 else 0.0


def best_matching(weights: list[list[float]]) -> list[int | None]:
    """The one-to-one matching of rows to columns with the largest total weight (Hungarian method).

    Returns, for each row, its column, or None where there are more rows than columns."""
    rows = len(weights)
    columns = len(weights[0]) if rows else 0
    if rows == 0 or columns == 0:
        return [None] * rows
    if rows > columns:
        transposed = best_matching([list(column) for column in zip(*weights)])
        result: list[int | None] = [None] * rows
        for column, row in enumerate(transposed):
            if row is not None:
                result[row] = column
        return result
    # Shortest augmenting paths with potentials (Kuhn-Munkres), minimising the negated weights; rows
    # and columns are numbered from 1, column 0 is the virtual start.
    cost = [[0.0] * (columns + 1)] + [[0.0] + [-value for value in row] for row in weights]
    row_potential = [0.0] * (rows + 1)
    column_potential = [0.0] * (columns + 1)
    row_of_column = [0] * (columns + 1)
    way = [0] * (columns + 1)
    for row in range(1, rows + 1):
        row_of_column[0] = row
        column = 0
        slack = [float("inf")] * (columns + 1)
        used = [False] * (columns + 1)
        while True:
            used[column] = True
            current_row, delta, next_column = row_of_column[column], float("inf"), 0
            for candidate in range(1, columns + 1):
                if used[candidate]:
                    continue
                reduced = (cost[current_row][candidate] - row_potential[current_row]
                           - column_potential[candidate])
                if reduced < slack[candidate]:
                    slack[candidate], way[candidate] = reduced, column
                if slack[candidate] < delta:
                    delta, next_column = slack[candidate], candidate
            for candidate in range(columns + 1):
                if used[candidate]:
                    row_potential[row_of_column[candidate]] += delta
                    column_potential[candidate] -= delta
                else:
                    slack[candidate] -= delta
            column = next_column
            if row_of_column[column] == 0:
                break
        while column:
            previous = way[column]
            row_of_column[column] = row_of_column[previous]
            column = previous
    result = [None] * rows
    for column in range(1, columns + 1):
        if row_of_column[column]:
            result[row_of_column[column] - 1] = column - 1
    return result


EXACT_IOU = 0.8  # a read-back box this close to its true box counts as exact


def read_back_exactly(truth: Sequence[ShapeInstance], found: Sequence[ShapeInstance],
                      iou: float = EXACT_IOU) -> tuple[bool, list[float]]:
    """Whether `found` is `truth`: the same multiset of (shape, colour), and each true box matched by a
    found box of its kind with IoU >= `iou`. Also returns the matched IoUs (empty when the kinds differ).
    The measure of the detector benchmark and of a VAE's round trip."""
    if sorted((o.shape, o.color) for o in truth) != sorted((o.shape, o.color) for o in found):
        return False, []
    unused = list(found)
    ious = []
    for item in truth:
        candidates = [d for d in unused if (d.shape, d.color) == (item.shape, item.color)]
        best = max(candidates, key=lambda d: box_iou(d.box, item.box))
        unused.remove(best)
        ious.append(box_iou(best.box, item.box))
    return all(value >= iou for value in ious), ious
