"""Tests of the shapes-world scorer (compose.shapes.score), through the detector on rendered pictures.

Pictures drawn from a scene's own valid layout must score correct; pictures made wrong on purpose must
fail with the right kind of failure.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from compose.scene import Layout, Negation, ObjectGroup, Region, Relation, Scene
from compose.shapes import world
from compose.shapes.detect import detect
from compose.shapes.render import ShapeInstance, render
from compose.shapes.score import Failure, Verdict, best_matching, box_iou, score, score_image

COLORS = tuple(world.PALETTE)


def group(group_id: int, noun: str, color: str | None = None, count: int = 1,
          location: str | None = None) -> ObjectGroup:
    plural = "s" if count > 1 else ""
    words = [str(count) if count > 1 else "a"] + ([color] if color else []) + [noun + plural]
    return ObjectGroup(id=group_id, noun=noun, phrase=" ".join(words), count=count, color=color,
                       location=location)


def picture(*objects: tuple[str, str, tuple[float, float, float, float]], size: int = 64) -> np.ndarray:
    return render([ShapeInstance(shape, color, box) for shape, color, box in objects], size)


def square_box(center_x: float, center_y: float, side: float = 0.2) -> tuple[float, float, float, float]:
    return (center_x - side / 2, center_y - side / 2, center_x + side / 2, center_y + side / 2)


# -- random scenes drawn from their own layouts score correct ---------------------------------------


def random_boxes(rng: np.random.Generator, count: int) -> list[world.Box]:
    while True:
        boxes: list[world.Box] = []
        for _ in range(count):
            for _ in range(300):
                side = float(rng.uniform(0.16, 0.26))
                x0 = float(rng.uniform(world.CANVAS_MARGIN, 1 - world.CANVAS_MARGIN - side))
                y0 = float(rng.uniform(world.CANVAS_MARGIN, 1 - world.CANVAS_MARGIN - side))
                if not world.placement_problems(boxes + [(x0, y0, x0 + side, y0 + side)]):
                    boxes.append((x0, y0, x0 + side, y0 + side))
                    break
        if len(boxes) == count:
            return boxes


def random_scene_and_layout(rng: np.random.Generator) -> tuple[Scene, Layout, list[ShapeInstance]]:
    """A scene of 1-4 groups, with relations and locations that its own random placement makes true."""
    group_count = int(rng.integers(1, 5))
    kinds = [(shape, color) for shape in world.SHAPES for color in COLORS]
    chosen = [kinds[i] for i in rng.choice(len(kinds), size=group_count, replace=False)]
    counts = [int(rng.integers(1, 3)) for _ in chosen]
    boxes = random_boxes(rng, sum(counts))
    groups, regions, drawn, members = [], [], [], {}
    cursor = 0
    for group_id, ((shape, color), count) in enumerate(zip(chosen, counts)):
        # Sometimes leave the colour out: the group then accepts any colour, and its members get one
        # no other group of that shape asks for.
        asked_color = None if rng.random() < 0.2 else color
        members[group_id] = boxes[cursor:cursor + count]
        for instance, box in enumerate(members[group_id]):
            drawn.append(ShapeInstance(shape, color, box))
            regions.append(Region(phrase=f"a {color} {shape}", box=box, group=group_id, instance=instance))
        cursor += count
        location = next((place for place in world.LOCATION_BOUNDS
                         if all(world.location_holds(place, box) for box in members[group_id])), None)
        groups.append(group(group_id, shape, asked_color, count,
                            location if rng.random() < 0.5 else None))
    relations = []
    for subject in range(group_count):
        for other in range(group_count):
            if subject == other:
                continue
            for predicate in ("left_of", "right_of", "above", "below", "near"):
                pairs = [(a, b) for a in members[subject] for b in members[other]]
                if all(world.relation_holds(predicate, a, b) for a, b in pairs):
                    relations.append(Relation(subject, predicate, other))
                    break
    used_shapes = {shape for shape, _ in chosen}
    negations = tuple(Negation(noun=shape) for shape in world.SHAPES if shape not in used_shapes)[:1]
    scene = Scene(prompt="random", objects=tuple(groups), relations=tuple(relations), negations=negations)
    return scene, Layout(regions=tuple(regions)), drawn


def test_random_scenes_drawn_from_their_layouts_score_correct():
    rng = np.random.default_rng(3)
    checked_relations = 0
    for _ in range(150):
        scene, layout, drawn = random_scene_and_layout(rng)
        verdict = score(scene, detect(render(drawn, 64)), layout)
        assert verdict.correct_strict and verdict.correct_lenient, (scene, verdict.reasons)
        assert all(iou >= 0.8 for iou in verdict.region_ious), verdict.region_ious
        assert len(verdict.region_ious) == len(layout.regions)
        checked_relations += len(scene.relations)
    assert checked_relations > 100  # the random scenes do exercise relations


# -- hand-made scenes, right and wrong --------------------------------------------------------------


RED_CIRCLE_LEFT_OF_BLUE_SQUARE = Scene(
    prompt="a red circle to the left of a blue square",
    objects=(group(0, "circle", "red"), group(1, "square", "blue")),
    relations=(Relation(0, "left_of", 1),),
)
LEFT, RIGHT = square_box(0.25, 0.5), square_box(0.75, 0.5)


def test_the_asked_picture_is_correct():
    image = picture(("circle", "red", LEFT), ("square", "blue", RIGHT))
    verdict = score_image(RED_CIRCLE_LEFT_OF_BLUE_SQUARE, image)
    assert verdict.correct_strict and verdict.correct_lenient and verdict.failures == ()
    assert dict(verdict.assignment) == {0: (0,), 1: (1,)}


def test_missing_object_fails_missing_group():
    verdict = score_image(RED_CIRCLE_LEFT_OF_BLUE_SQUARE, picture(("circle", "red", LEFT)))
    assert not verdict.correct_lenient and not verdict.correct_strict
    assert verdict.kinds == ("missing_group",)
    assert "blue square" in verdict.reasons[0]


def test_swapped_colours_fail_wrong_color():
    verdict = score_image(RED_CIRCLE_LEFT_OF_BLUE_SQUARE,
                          picture(("circle", "blue", LEFT), ("square", "red", RIGHT)))
    assert not verdict.correct_lenient
    assert [failure.kind for failure in verdict.failures] == ["wrong_color", "wrong_color"]
    assert any("1 blue" in reason for reason in verdict.reasons)  # says which colour is there instead


def test_moved_object_fails_the_relation():
    image = picture(("circle", "red", RIGHT), ("square", "blue", LEFT))
    verdict = score_image(RED_CIRCLE_LEFT_OF_BLUE_SQUARE, image)
    assert not verdict.correct_lenient
    assert verdict.kinds == ("relation_failed",)
    assert "left_of" in verdict.reasons[0]


def test_extra_object_fails_strict_only():
    image = picture(("circle", "red", LEFT), ("square", "blue", RIGHT),
                    ("star", "green", square_box(0.5, 0.15)))
    verdict = score_image(RED_CIRCLE_LEFT_OF_BLUE_SQUARE, image)
    assert verdict.correct_lenient and not verdict.correct_strict
    assert verdict.kinds == ("extra_object",)
    assert "green star" in verdict.reasons[0]


def test_same_shape_in_another_colour_beside_the_asked_one_is_extra():
    scene = Scene(prompt="a red circle", objects=(group(0, "circle", "red"),))
    verdict = score_image(scene, picture(("circle", "red", LEFT), ("circle", "blue", RIGHT)))
    assert verdict.correct_lenient and not verdict.correct_strict
    assert verdict.kinds == ("extra_object",)


def test_negated_shape_drawn_fails():
    scene = Scene(prompt="a red circle and no stars", objects=(group(0, "circle", "red"),),
                  negations=(Negation(noun="star"),))
    assert score_image(scene, picture(("circle", "red", LEFT))).correct_strict
    verdict = score_image(scene, picture(("circle", "red", LEFT), ("star", "yellow", RIGHT)))
    assert not verdict.correct_lenient
    assert verdict.kinds == ("negated_present",)  # reported as negated, not also as extra


def test_negated_colour_of_any_shape():
    scene = Scene(prompt="a circle and no yellow shapes", objects=(group(0, "circle"),),
                  negations=(Negation(noun=None, color="yellow"),))
    assert score_image(scene, picture(("circle", "red", LEFT), ("square", "blue", RIGHT))).correct_lenient
    verdict = score_image(scene, picture(("circle", "red", LEFT), ("diamond", "yellow", RIGHT)))
    assert verdict.kinds == ("negated_present",)
    # The negation also forbids the asked shape in that colour.
    verdict = score_image(scene, picture(("circle", "yellow", LEFT)))
    assert "negated_present" in verdict.kinds


@pytest.mark.parametrize("drawn", [2, 4])
def test_wrong_count_fails(drawn):
    scene = Scene(prompt="three green triangles", objects=(group(0, "triangle", "green", 3),))
    spots = [square_box(0.2, 0.2), square_box(0.8, 0.2), square_box(0.2, 0.8), square_box(0.8, 0.8)]
    verdict = score_image(scene, picture(*[("triangle", "green", box) for box in spots[:drawn]]))
    assert not verdict.correct_lenient
    assert verdict.kinds == ("wrong_count",)
    assert f"found {drawn}" in verdict.reasons[0]
    assert score_image(scene, picture(*[("triangle", "green", box) for box in spots[:3]])).correct_strict


def test_layout_iou_below_half_fails():
    scene = Scene(prompt="a purple diamond", objects=(group(0, "diamond", "purple"),))
    region = Region(phrase="a purple diamond", box=square_box(0.3, 0.3, 0.3), group=0)
    layout = Layout(regions=(region,))
    inside = score_image(scene, picture(("diamond", "purple", region.box)), layout)
    assert inside.correct_strict and inside.region_ious[0] > 0.9
    moved = score_image(scene, picture(("diamond", "purple", square_box(0.6, 0.6, 0.3))), layout)
    assert not moved.correct_lenient
    assert moved.kinds == ("layout_iou",)
    assert moved.region_ious[0] < 0.5


def test_layout_regions_matched_to_the_members_that_fit_them_best():
    scene = Scene(prompt="two orange squares", objects=(group(0, "square", "orange", 2),))
    first, second = square_box(0.25, 0.25), square_box(0.75, 0.75)
    # Regions listed in the opposite order to the reading order of the detections.
    layout = Layout(regions=(Region("an orange square", second, group=0, instance=0),
                             Region("an orange square", first, group=0, instance=1)))
    verdict = score_image(scene, picture(("square", "orange", first), ("square", "orange", second)), layout)
    assert verdict.correct_strict, verdict.reasons
    assert min(verdict.region_ious) > 0.9


def test_location_failed():
    scene = Scene(prompt="a red star on the left", objects=(group(0, "star", "red", location="left"),))
    assert score_image(scene, picture(("star", "red", LEFT))).correct_strict
    verdict = score_image(scene, picture(("star", "red", RIGHT)))
    assert verdict.kinds == ("location_failed",)


def test_groups_of_one_shape_get_a_proper_assignment():
    # "a red circle to the left of a circle": two red circles satisfy it, with the right one as "a circle".
    scene = Scene(prompt="a red circle to the left of a circle",
                  objects=(group(0, "circle", "red"), group(1, "circle")),
                  relations=(Relation(0, "left_of", 1),))
    both_red = picture(("circle", "red", LEFT), ("circle", "red", RIGHT))
    verdict = score_image(scene, both_red)
    assert verdict.correct_strict, verdict.reasons
    assert dict(verdict.assignment) == {0: (0,), 1: (1,)}
    # Only a blue circle on the left and a red one on the right: no reading puts the red one left.
    verdict = score_image(scene, picture(("circle", "blue", LEFT), ("circle", "red", RIGHT)))
    assert verdict.kinds == ("relation_failed",)
    # Three circles are one too many for "a red circle ... a circle".
    verdict = score_image(scene, picture(("circle", "red", LEFT), ("circle", "red", RIGHT),
                                         ("circle", "green", square_box(0.5, 0.15))))
    assert verdict.kinds == ("wrong_count",)


def test_reading_search_finds_the_one_order_that_satisfies_a_chain():
    # Eight anonymous circles, each left of the next: only one of the 8! readings satisfies it, and the
    # detections come in the opposite order to the groups.
    groups = tuple(ObjectGroup(id=i, noun="circle", phrase=f"circle number {i}") for i in range(8))
    chain = tuple(Relation(i, "left_of", i + 1) for i in range(7))
    row = [ShapeInstance("circle", "red", (0.02 + 0.12 * i, 0.1, 0.1 + 0.12 * i, 0.18)) for i in range(8)]
    verdict = score(Scene(prompt="a chain", objects=groups, relations=chain), row[::-1])
    assert verdict.correct_strict, verdict.reasons
    assert dict(verdict.assignment) == {i: (7 - i,) for i in range(8)}
    column = [ShapeInstance("circle", "red", (0.1, 0.02 + 0.12 * i, 0.18, 0.1 + 0.12 * i)) for i in range(8)]
    assert score(Scene(prompt="a chain", objects=groups, relations=chain), column).kinds == ("relation_failed",)


def test_group_without_colour_accepts_any_colour_but_counts_them_all():
    scene = Scene(prompt="two circles", objects=(group(0, "circle", count=2),))
    assert score_image(scene, picture(("circle", "red", LEFT), ("circle", "blue", RIGHT))).correct_strict
    verdict = score_image(scene, picture(("circle", "red", LEFT), ("circle", "blue", RIGHT),
                                         ("circle", "red", square_box(0.5, 0.15))))
    assert verdict.kinds == ("wrong_count",)


def test_between_every_member_combination():
    scene = Scene(prompt="a yellow star between two green squares",
                  objects=(group(0, "star", "yellow"), group(1, "square", "green", 2)),
                  relations=(Relation(0, "between", 1, object2=1),))
    good = picture(("square", "green", square_box(0.2, 0.5)), ("star", "yellow", square_box(0.5, 0.5)),
                   ("square", "green", square_box(0.8, 0.5)))
    assert score_image(scene, good).correct_strict
    bad = picture(("square", "green", square_box(0.2, 0.5)), ("star", "yellow", square_box(0.8, 0.2)),
                  ("square", "green", square_box(0.5, 0.5)))
    assert score_image(scene, bad).kinds == ("relation_failed",)


def test_relation_checked_for_every_pair_of_members():
    scene = Scene(prompt="two blue diamonds above a red triangle",
                  objects=(group(0, "diamond", "blue", 2), group(1, "triangle", "red")),
                  relations=(Relation(0, "above", 1),))
    triangle = ("triangle", "red", square_box(0.5, 0.75))
    good = picture(("diamond", "blue", square_box(0.25, 0.3)), ("diamond", "blue", square_box(0.75, 0.3)),
                   triangle)
    assert score_image(scene, good).correct_strict
    one_low = picture(("diamond", "blue", square_box(0.25, 0.3)), ("diamond", "blue", square_box(0.2, 0.75)),
                      triangle)
    verdict = score_image(scene, one_low)
    assert verdict.kinds == ("relation_failed",)
    assert "1 of 2" in verdict.reasons[0]


def test_empty_picture_misses_everything():
    verdict = score(RED_CIRCLE_LEFT_OF_BLUE_SQUARE, [])
    assert [failure.kind for failure in verdict.failures] == ["missing_group", "missing_group"]


@pytest.mark.parametrize("scene, words", [
    (Scene(prompt="a cat", objects=(ObjectGroup(id=0, noun="cat", phrase="a cat"),)),
     "not a shapes-world shape"),
    (Scene(prompt="a red circle on a square", objects=(group(0, "circle", "red"), group(1, "square")),
           relations=(Relation(0, "on", 1),)), "no rule"),
    (Scene(prompt="a circle between squares", objects=(group(0, "circle"), group(1, "square", count=2)),
           relations=(Relation(0, "between", 1),)), "object2"),
    (Scene(prompt="a circle left of it", objects=(group(0, "circle"),),
           relations=(Relation(0, "left_of", 5),)),
     "group 5"),
    (Scene(prompt="a circle and no cats", objects=(group(0, "circle"),), negations=(Negation(noun="cat"),)),
     "cat"),
    (Scene(prompt="a pink circle", objects=(group(0, "circle", "pink"),)), "pink"),
])
def test_unscoreable_scenes_are_refused(scene, words):
    with pytest.raises(ValueError, match=words):
        score(scene, [])


def test_layout_region_without_group_is_refused():
    layout = Layout(regions=(Region("a red circle", LEFT, group=None),))
    with pytest.raises(ValueError, match="region 0"):
        score(RED_CIRCLE_LEFT_OF_BLUE_SQUARE, [], layout)


def test_verdict_to_dict_is_json_lines_ready():
    image = picture(("circle", "red", RIGHT), ("square", "blue", LEFT),
                    ("star", "green", square_box(0.5, 0.15)))
    layout = Layout(regions=(Region("a red circle", LEFT, group=0), Region("a blue square", RIGHT, group=1)))
    verdict = score_image(RED_CIRCLE_LEFT_OF_BLUE_SQUARE, image, layout)
    data = json.loads(json.dumps(verdict.to_dict()))
    assert data["correct_strict"] is False and data["correct_lenient"] is False
    assert {item["kind"] for item in data["failures"]} == {"relation_failed", "layout_iou", "extra_object"}
    assert len(data["reasons"]) == len(data["failures"]) and len(data["region_ious"]) == 2
    assert isinstance(verdict, Verdict) and all(isinstance(item, Failure) for item in verdict.failures)


def test_best_matching_maximises_total_weight():
    assert best_matching([[0.9, 0.8], [0.85, 0.1]]) == [1, 0]  # 0.8 + 0.85 beats 0.9 + 0.1
    assert best_matching([[0.2], [0.7]]) == [None, 0]
    assert best_matching([]) == []
    assert box_iou((0, 0, 1, 1), (0.5, 0, 1.5, 1)) == pytest.approx(1 / 3)
