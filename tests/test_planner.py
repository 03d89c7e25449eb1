"""Tests of the layout planner (compose.planning), judged by the independent checker in layout_rules.py."""

from __future__ import annotations

import collections
import json
import math
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # layout_rules sits beside this file

import layout_rules  # noqa: E402
from compose.planning import UnsatisfiableSceneError, aspect_ratio, plan  # noqa: E402
from compose.scene import Layout, Negation, ObjectGroup, Region, Relation, Scene  # noqa: E402
from compose.shapes import world  # noqa: E402

GOLD_PROMPTS = Path(__file__).resolve().parent / "gold_prompts.jsonl"


def group(group_id: int, noun: str, count: int = 1, **fields) -> ObjectGroup:
    phrase = fields.pop("phrase", None) or " ".join(
        (["a"] if count == 1 else [str(count)]) + [w for w in (fields.get("size"), fields.get("color")) if w]
        + [noun if count == 1 else noun + "s"])
    return ObjectGroup(id=group_id, noun=noun, phrase=phrase, count=count, **fields)


def scene_of(prompt: str, groups, relations=(), background=None) -> Scene:
    return Scene(prompt=prompt, objects=tuple(groups), relations=tuple(relations), background=background)


def boxes_of(layout: Layout, group_id: int) -> list:
    return [region.box for region in sorted(layout.regions, key=lambda r: r.instance) if region.group == group_id]


def draw_position(layout: Layout, group_id: int, instance: int = 0) -> int:
    return next(index for index, region in enumerate(layout.regions)
                if region.group == group_id and region.instance == instance)


CIRCLE_LEFT_OF_SQUARES = scene_of(
    "a small red circle to the left of two blue squares, in a white room",
    [group(0, "circle", size="small", color="red", phrase="a small red circle"),
     group(1, "square", 2, color="blue", phrase="two blue squares")],
    [Relation(0, "left_of", 1)], background="a white room")


# --- The checker itself must catch broken layouts (else every test below could not fail) ----------

def test_checker_accepts_a_planned_layout_and_catches_each_kind_of_break():
    layout = plan(CIRCLE_LEFT_OF_SQUARES, seed=3)
    assert layout_rules.layout_violations(CIRCLE_LEFT_OF_SQUARES, layout) == []
    circle = next(r for r in layout.regions if r.group == 0)
    squares = [r for r in layout.regions if r.group == 1]

    def with_regions(regions) -> Layout:
        return Layout(regions=tuple(regions), prompt=layout.prompt, background=layout.background,
                      scene=layout.scene)

    x0, y0, x1, y1 = squares[0].box
    moved_left = Region(squares[0].phrase, (0.02, y0, 0.02 + x1 - x0, y1), group=1, instance=0)
    overlapping = Region(squares[1].phrase, squares[0].box, group=1, instance=1)
    shrunk = Region(circle.phrase, (circle.box[0], circle.box[1], circle.box[0] + 0.1, circle.box[1] + 0.1), group=0)
    oblong = Region(circle.phrase, (circle.box[0], circle.box[1], circle.box[2], circle.box[3] + 0.03), group=0)
    cases = {
        "left_of": [circle, moved_left, squares[1]],
        "apart": [circle, squares[0], overlapping],
        "size": [shrunk, *squares],
        "square": [oblong, *squares],
        "instances": [circle, squares[0]],
        "phrase": [Region("two blue squares", circle.box, group=0), *squares],
    }
    for name, regions in cases.items():
        assert layout_rules.layout_violations(CIRCLE_LEFT_OF_SQUARES, with_regions(regions)), name
    wrong_prompt = Layout(regions=layout.regions, prompt="something else", background=layout.background,
                          scene=layout.scene)
    assert layout_rules.layout_violations(CIRCLE_LEFT_OF_SQUARES, wrong_prompt)


def test_random_scene_maker_builds_scenes_its_hidden_placement_satisfies():
    rng = random.Random(5)
    for count in range(1, 9):
        scene, hidden = layout_rules.random_satisfiable_scene(rng, count)
        assert scene.instance_count == count
        regions = [Region(g.instance_phrase, box, group=g.id, instance=k)
                   for g, boxes in zip(scene.objects, hidden) for k, box in enumerate(boxes)]
        witness = Layout(regions=tuple(regions), prompt=scene.prompt, background=scene.background, scene=scene)
        assert layout_rules.layout_violations(scene, witness) == []


# --- The main property: random satisfiable scenes are always planned validly ------------------------

def planning_failure(scene: Scene, index: int) -> str | None:
    """Why random scene `index` was not planned validly (planner error or broken rule), or None."""
    try:
        layout = plan(scene, seed=index)
    except UnsatisfiableSceneError as error:
        return f"scene {index}: {error}\n{scene.to_json()}"
    problems = layout_rules.layout_violations(scene, layout)
    return f"scene {index}: {problems[:3]}\n{scene.to_json()}" if problems else None


def test_one_thousand_random_satisfiable_shapes_scenes_are_all_planned_validly():
    rng = random.Random(20261126)
    failures = []
    sizes = collections.Counter()
    relation_kinds = collections.Counter()
    for index in range(1000):
        object_count = rng.randint(1, 8)
        scene, _ = layout_rules.random_satisfiable_scene(rng, object_count)
        sizes[object_count] += 1
        relation_kinds.update(relation.predicate for relation in scene.relations)
        failure = planning_failure(scene, index)
        if failure is not None:
            failures.append(failure)
    assert not failures, f"{len(failures)} of 1000 scenes failed:\n" + "\n".join(failures[:5])
    assert min(sizes.values()) > 80, sizes  # every object count from 1 to 8 was exercised
    assert {"left_of", "right_of", "above", "below", "near", "between", "on", "holding"} <= set(relation_kinds)


def test_random_open_vocabulary_scenes_are_planned_validly():
    rng = random.Random(77)
    failures = []
    depth_relations = 0
    for index in range(300):
        scene, _ = layout_rules.random_open_scene(rng, rng.randint(1, 6))
        depth_relations += sum(r.predicate in ("on", "in_front_of", "behind", "inside") for r in scene.relations)
        failure = planning_failure(scene, index)
        if failure is not None:
            failures.append(failure)
    assert not failures, "\n".join(failures[:5])
    assert depth_relations > 100


# --- Regions, determinism, seeds --------------------------------------------------------------------

def test_one_region_per_instance_with_its_group_instance_and_phrase():
    layout = plan(CIRCLE_LEFT_OF_SQUARES, seed=0)
    assert [(r.group, r.instance, r.phrase) for r in layout.regions] == [
        (0, 0, "a small red circle"), (1, 0, "a blue square"), (1, 1, "a blue square")]
    assert layout.prompt == CIRCLE_LEFT_OF_SQUARES.prompt
    assert layout.background == "a white room"
    assert layout.scene is CIRCLE_LEFT_OF_SQUARES
    for region in layout.regions:
        x0, y0, x1, y1 = region.box
        assert 0.02 - 1e-9 <= x0 < x1 <= 0.98 + 1e-9 and 0.02 - 1e-9 <= y0 < y1 <= 0.98 + 1e-9
        assert all(isinstance(value, float) for value in region.box)
    circle, = boxes_of(layout, 0)
    assert all(world.relation_holds("left_of", circle, square) for square in boxes_of(layout, 1))


def test_same_scene_and_seed_give_the_identical_layout():
    rng = random.Random(1)
    scenes = [layout_rules.random_satisfiable_scene(rng, count)[0] for count in (1, 4, 8)]
    scenes += [layout_rules.random_open_scene(rng, 4)[0]]
    for scene in scenes:
        for seed in (0, 7, 123456789):
            first, second = plan(scene, seed=seed), plan(scene, seed=seed)
            assert first == second
            assert [r.box for r in first.regions] == [r.box for r in second.regions]


def test_the_global_random_generator_is_neither_used_nor_needed():
    random.seed(99)
    state = random.getstate()
    layout = plan(CIRCLE_LEFT_OF_SQUARES, seed=4)
    assert random.getstate() == state
    random.seed(12345)
    assert plan(CIRCLE_LEFT_OF_SQUARES, seed=4) == layout


def test_different_seeds_give_visibly_different_layouts():
    scene = scene_of("a circle, a square and a star",
                     [group(0, "circle"), group(1, "square"), group(2, "star")], [Relation(0, "left_of", 1)])
    layouts = [plan(scene, seed=seed) for seed in range(10)]
    moves = []
    for a in range(len(layouts)):
        for b in range(a + 1, len(layouts)):
            moves.append(max(math.dist(ra.center, rb.center)
                             for ra, rb in zip(layouts[a].regions, layouts[b].regions)))
    # every two seeds differ, and by a visible amount on average (a tenth of the canvas or more)
    assert min(moves) > 0.01
    assert sum(moves) / len(moves) > 0.1


# --- Shapes-world rules -------------------------------------------------------------------------------

@pytest.mark.parametrize("size", ["small", "medium", "large", None])
def test_shape_boxes_are_square_within_their_size_range(size):
    scene = scene_of("shapes", [group(0, "diamond", 2, size=size), group(1, "star", size=size)])
    low, high = world.size_range(size)
    for seed in range(5):
        for region in plan(scene, seed=seed).regions:
            assert region.width == pytest.approx(region.height, abs=1e-12)
            assert low - 1e-9 <= region.width <= high + 1e-9


def test_relations_hold_for_every_pair_of_members():
    scene = scene_of("three circles above two squares, a star between them",
                     [group(0, "circle", 3), group(1, "square", 2), group(2, "star")],
                     [Relation(0, "above", 1), Relation(2, "near", 1), Relation(1, "between", 0, 2)])
    for seed in range(5):
        layout = plan(scene, seed=seed)
        assert layout_rules.layout_violations(scene, layout) == []
        circles, squares, star = boxes_of(layout, 0), boxes_of(layout, 1), boxes_of(layout, 2)[0]
        assert all(world.relation_holds("above", c, s) for c in circles for s in squares)
        assert all(world.relation_holds("near", star, s) for s in squares)
        assert all(world.relation_holds("between", s, c, star) for s in squares for c in circles)


def test_between_the_members_of_one_group():
    scene = scene_of("a circle between two squares", [group(0, "circle"), group(1, "square", 2)],
                     [Relation(0, "between", 1, None)])
    for seed in range(5):
        layout = plan(scene, seed=seed)
        circle, (first, second) = boxes_of(layout, 0)[0], boxes_of(layout, 1)
        assert world.relation_holds("between", circle, first, second)


def test_locations_hold_for_every_member():
    scene = scene_of("two stars at the top left and a circle at the bottom",
                     [group(0, "star", 2, location="top_left"), group(1, "circle", location="bottom")])
    for seed in range(5):
        layout = plan(scene, seed=seed)
        assert all(world.location_holds("top_left", box) for box in boxes_of(layout, 0))
        assert world.location_holds("bottom", boxes_of(layout, 1)[0])


def test_depth_words_on_shapes_read_as_flat_relations_without_overlap():
    scene = scene_of("a circle on a square, a star in front of the square, a diamond inside a triangle",
                     [group(0, "circle"), group(1, "square"), group(2, "star"), group(3, "diamond"),
                      group(4, "triangle")],
                     [Relation(0, "on", 1), Relation(2, "in_front_of", 1), Relation(3, "inside", 4),
                      Relation(4, "holding", 0)])
    for seed in range(5):
        layout = plan(scene, seed=seed)
        circle, square, star, diamond, triangle = (boxes_of(layout, g)[0] for g in range(5))
        assert world.relation_holds("above", circle, square) and world.relation_holds("near", circle, square)
        assert world.relation_holds("below", star, square) and world.relation_holds("near", star, square)
        assert world.relation_holds("near", diamond, triangle)
        assert world.relation_holds("near", triangle, circle)
        assert world.placement_problems([r.box for r in layout.regions]) == []


# --- Open vocabulary ------------------------------------------------------------------------------------

def test_open_vocabulary_boxes_have_plausible_proportions():
    assert aspect_ratio("table") > 1.3 and aspect_ratio("person") < 0.7
    assert aspect_ratio("dining table") == aspect_ratio("table")
    assert aspect_ratio("flibbertigibbet") == pytest.approx(1.0)
    assert aspect_ratio("circle") == 1.0
    scene = scene_of("a table, a person, a car and a flibbertigibbet",
                     [group(0, "table"), group(1, "person"), group(2, "car"), group(3, "flibbertigibbet")])
    for seed in range(5):
        layout = plan(scene, seed=seed)
        table, person, car, thing = (boxes_of(layout, g)[0] for g in range(4))
        assert table[2] - table[0] > 1.3 * (table[3] - table[1])  # wider than tall
        assert person[3] - person[1] > 1.5 * (person[2] - person[0])  # taller than wide
        assert car[2] - car[0] > car[3] - car[1]
        assert 0.85 < (thing[2] - thing[0]) / (thing[3] - thing[1]) < 1.15  # near-square
        assert layout_rules.layout_violations(scene, layout) == []


def test_a_cat_on_a_table_sits_on_its_top_part_and_overlaps_it():
    scene = scene_of("a cat on a table", [group(0, "cat"), group(1, "table")], [Relation(0, "on", 1)])
    for seed in range(10):
        layout = plan(scene, seed=seed)
        cat, table = boxes_of(layout, 0)[0], boxes_of(layout, 1)[0]
        assert world.boxes_overlap(cat, table)
        assert table[0] <= (cat[0] + cat[2]) / 2 <= table[2]
        assert table[1] < cat[3] <= table[1] + 0.3 * (table[3] - table[1]) + 1e-9  # bottom on the top part
        assert cat[1] < table[1]  # the cat rises above the table top
        assert draw_position(layout, 0) > draw_position(layout, 1)  # drawn in front
        assert layout_rules.layout_violations(scene, layout) == []


def test_in_front_of_behind_and_inside_overlap_as_documented():
    scene = scene_of("a person in front of a car, a dog behind a fence, a cat inside a box",
                     [group(0, "person"), group(1, "car"), group(2, "dog"), group(3, "fence"),
                      group(4, "cat"), group(5, "box")],
                     [Relation(0, "in_front_of", 1), Relation(2, "behind", 3), Relation(4, "inside", 5)])
    for seed in range(5):
        layout = plan(scene, seed=seed)
        person, car, dog, fence, cat, box = (boxes_of(layout, g)[0] for g in range(6))
        assert world.boxes_overlap(person, car) and person[3] >= car[3] - 1e-9
        assert draw_position(layout, 0) > draw_position(layout, 1)
        assert world.boxes_overlap(dog, fence) and fence[3] >= dog[3] - 1e-9
        assert draw_position(layout, 2) < draw_position(layout, 3)
        assert box[0] <= cat[0] and cat[2] <= box[2] and box[1] <= cat[1] and cat[3] <= box[3]
        assert draw_position(layout, 4) > draw_position(layout, 5)
        # nothing overlaps across the three pairs
        for a, b in [(person, dog), (person, fence), (car, cat), (fence, box), (dog, cat), (car, box)]:
            assert world.box_gap(a, b) >= world.MIN_GAP - 1e-9
        assert layout_rules.layout_violations(scene, layout) == []


def test_unknown_verbs_mean_near_and_allow_overlap_while_flat_relations_keep_the_gap():
    scene = scene_of("an astronaut riding a horse next to a dog, a person holding a cup",
                     [group(0, "astronaut"), group(1, "horse"), group(2, "dog"), group(3, "person"), group(4, "cup")],
                     [Relation(0, "riding", 1), Relation(1, "near", 2), Relation(3, "holding", 4)])
    overlaps = 0
    for seed in range(10):
        layout = plan(scene, seed=seed)
        astronaut, horse, dog, person, cup = (boxes_of(layout, g)[0] for g in range(5))
        assert world.relation_holds("near", astronaut, horse) and world.relation_holds("near", person, cup)
        assert world.box_gap(horse, dog) >= world.MIN_GAP - 1e-9  # "near" alone never overlaps
        overlaps += world.boxes_overlap(astronaut, horse) + world.boxes_overlap(person, cup)
        assert layout_rules.layout_violations(scene, layout) == []
    assert overlaps > 0  # overlap is allowed, and does happen for some seeds


def test_two_cats_on_one_table_and_three_cups_on_two_tables():
    scene = scene_of("two cats on a table", [group(0, "cat", 2), group(1, "table")], [Relation(0, "on", 1)])
    cups = scene_of("three cups on two tables", [group(0, "cup", 3), group(1, "table", 2)], [Relation(0, "on", 1)])
    for seed in range(5):
        for each in (scene, cups):
            layout = plan(each, seed=seed)
            assert layout_rules.layout_violations(each, layout) == []
        first, second = boxes_of(plan(scene, seed=seed), 0)
        assert world.box_gap(first, second) >= world.MIN_GAP - 1e-9


# --- Unsatisfiable scenes -----------------------------------------------------------------------------

CIRCLE, SQUARE, STAR = group(0, "circle"), group(1, "square"), group(2, "star")


@pytest.mark.parametrize("groups, relations, expected", [
    ([CIRCLE, SQUARE], [Relation(0, "left_of", 1), Relation(1, "left_of", 0)],
     ["circle left_of square", "square left_of circle", "contradict"]),
    ([CIRCLE, SQUARE], [Relation(0, "left_of", 1), Relation(0, "right_of", 1)],
     ["circle left_of square", "circle right_of square", "contradict"]),
    ([CIRCLE, SQUARE, STAR], [Relation(0, "above", 1), Relation(1, "above", 2), Relation(2, "above", 0)],
     ["circle above square", "square above star", "star above circle", "contradict"]),
    ([CIRCLE, SQUARE], [Relation(0, "on", 1), Relation(0, "below", 1)],
     ["circle on square", "circle below square", "contradict"]),
    ([CIRCLE, SQUARE], [Relation(0, "near", 0)], ["circle near circle", "itself"]),
    ([group(0, "circle", location="right"), group(1, "square", location="left")], [Relation(0, "left_of", 1)],
     ["circle left_of square", "'right'", "'left'"]),
    ([group(0, "circle", location="top"), SQUARE, group(2, "star", location="bottom")],
     [Relation(0, "below", 1), Relation(1, "below", 2)],
     ["circle below square", "square below star", "'top'", "'bottom'"]),
    ([CIRCLE, SQUARE, STAR], [Relation(0, "left_of", 1), Relation(0, "left_of", 2), Relation(0, "above", 1),
                              Relation(0, "above", 2), Relation(0, "between", 1, 2)],
     ["circle between square and star", "circle left_of square", "circle above star"]),
    ([group(0, "circle", 9)], [], ["9 circles: the shapes world holds at most 8 objects"]),
    ([group(0, "circle", 5), group(1, "star", 4)], [],
     ["5 circles and 4 stars (9 objects): the shapes world holds at most 8 objects"]),
    ([group(0, "circle", 10 ** 12)], [], ["1000000000000 circles: the shapes world holds at most 8 objects"]),
    ([group(0, "balloon", 100)], [], ['"100 balloons" (100 objects): a layout holds at most 16 objects']),
    ([group(0, "square", 8, size="large")], [], ["8 objects", "smallest allowed sizes"]),
    ([group(0, "square", 7, size="large")], [], ["7 objects", "at most 4 fit on the canvas"]),
    ([group(0, "triangle", 4, size="large", location="bottom_right")], [],
     ["4 objects", "at most 1 fit at 'bottom_right'"]),
    ([group(0, "star", 2, size="large", location="center")], [], ["2 objects", "at most 1 fit at 'center'"]),
    ([group(0, "cat"), group(1, "dog")], [Relation(0, "in_front_of", 1), Relation(1, "in_front_of", 0)],
     ["cat in_front_of dog", "dog in_front_of cat", "contradict"]),
    ([group(0, "cat", size="large"), group(1, "box", size="small")], [Relation(0, "inside", 1)],
     ["cat inside box", "large", "small"]),
])
def test_unsatisfiable_scenes_name_what_contradicts(groups, relations, expected):
    scene = scene_of("an impossible scene", groups, relations)
    with pytest.raises(UnsatisfiableSceneError) as caught:
        plan(scene)
    for text in expected:
        assert text in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_a_scene_that_passes_the_early_checks_but_cannot_be_placed_reports_the_failed_search():
    # Four large squares fit only as a 2 x 2 block, which leaves no room left of them for the circle.
    scene = scene_of("four large squares right of a medium circle",
                     [group(0, "square", 4, size="large"), group(1, "circle", size="medium")],
                     [Relation(0, "right_of", 1)])
    with pytest.raises(UnsatisfiableSceneError, match="no layout found for 5 objects in 50 attempts"):
        plan(scene, max_attempts=50)


@pytest.mark.parametrize("groups, relations, expected", [
    ([CIRCLE], [Relation(0, "left_of", 5)], "object 5 is not the id"),
    ([group(0, "circle", size="huge")], [], "size 'huge'"),
    ([group(0, "circle", location="middle")], [], "location 'middle'"),
    ([group(0, "circle", 0)], [], "count 0"),
    ([CIRCLE, SQUARE], [Relation(0, "between", 1)], "'between' needs two things"),
    ([CIRCLE, SQUARE], [Relation(0, "left_of", 1, 1)], "only 'between' takes an object2"),
    ([CIRCLE, group(0, "square")], [], "used twice"),
])
def test_malformed_scenes_raise_value_errors_that_name_the_field(groups, relations, expected):
    with pytest.raises(ValueError, match=expected) as caught:
        plan(scene_of("bad", groups, relations))
    assert not isinstance(caught.value, UnsatisfiableSceneError)


def test_a_scene_with_no_objects_gives_a_layout_with_no_regions():
    """compose/specs/scene-format.md, "Scenes without objects": "a scene without backpacks" is the background alone."""
    scene = Scene(prompt="a beach without people", objects=(), negations=(Negation("person"),),
                  background="a beach")
    layout = plan(scene, seed=3)
    assert layout.regions == () and layout.background == "a beach" and layout.scene == scene


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="seed"):
        plan(CIRCLE_LEFT_OF_SQUARES, seed="one")
    with pytest.raises(ValueError, match="max_attempts"):
        plan(CIRCLE_LEFT_OF_SQUARES, max_attempts=0)


# --- Prompts from the parser's gold file ---------------------------------------------------------------

# Gold prompts the rules leave no layout for, though the planner's early checks cannot prove it: none
# of these was placed in 60,000 search attempts (3 seeds x 20,000), and each has a short reason.
BELIEVED_UNSATISFIABLE = {
    # Four large boxes fill the canvas as a 2 x 2 block (at most 4 fit at all), leaving less than
    # the 0.24 + 0.05 a medium square needs on any side, and it must be left of all four.
    "4 large green triangles on the right of one medium-sized orange square without any red shapes",
    # Each of four medium diamonds must be within 0.15 of both stars and the square, which must keep
    # 0.05 from them and from each other: the diamonds ring one star and then cannot all reach the rest.
    "an image of 4 medium yellow diamonds beside a pair of yellow stars and a square. the stars are near "
    "the square. the stars are beside the four yellow diamonds.",
    # Four circles right of x = 0.6, each near a centred star, leave no room for two squares right of
    # all four, and the orange circle must lie between the star and each circle on that pair's own axis.
    "four green circles on the right are next to a star in the center. an orange circle between the "
    "four green circles and the star. a pair of green squares to the right of the four green circles.",
}


@pytest.mark.skipif(not GOLD_PROMPTS.exists(), reason="needs tests/gold_prompts.jsonl (the parser's gold file)")
def test_every_satisfiable_gold_prompt_is_planned_validly():
    """Each gold prompt's expected scene (as the parser should read it) is planned and checked, so
    that a parser mistake cannot hide a planner one; a record without a scene is parsed."""
    planned, failures = 0, []
    for line_number, line in enumerate(GOLD_PROMPTS.read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        record = json.loads(line)
        prompt = record["prompt"]
        if isinstance(record.get("scene"), dict):
            scene = Scene.from_dict({**record["scene"], "prompt": prompt})
        else:
            from compose import parse

            scene = parse(prompt)
        try:
            layout = plan(scene, seed=line_number)
        except UnsatisfiableSceneError as error:
            # The planner's early checks name real contradictions (a prompt may hold one on purpose);
            # a failed search on a prompt that passed them is the planner's failure.
            if str(error).startswith("no layout found") and prompt not in BELIEVED_UNSATISFIABLE:
                failures.append(f"line {line_number} {prompt!r}: {error}")
            continue
        planned += 1
        problems = layout_rules.layout_violations(scene, layout)
        if problems:
            failures.append(f"line {line_number} {prompt!r}: {problems[:3]}")
    assert not failures, "\n".join(failures[:10])
    assert planned > 0


def test_every_satisfiable_prompt_of_the_field_gold_set_gets_a_valid_layout():
    """compose issue 14, section 3: each prompt of tests/gold_field.jsonl is planned (seeds 0 and 1) into a
    layout the independent checker accepts, one region per instance; a prompt past the world's limit
    (8 shapes, 16 objects) is refused with the limit named."""
    from compose.parsing import parse

    path = Path(__file__).resolve().parent / "gold_field.jsonl"
    entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    too_big_for_their_place = {  # fewer than the limit, but more than fit at their size and location
        "five large stars, three orange and two blue": "at most 4 fit on the canvas",
        "there are 3 large stars on the top and nothing green": "at most 2 fit at 'top'",
        "I want a dozen teddy bears on the left and a huge dog on the right, 8k": "at most 8 fit at 'left'",
    }
    planned = refused = 0
    for entry in entries:
        scene = parse(entry["prompt"])
        limit = world.MAX_OBJECTS if layout_rules.is_shapes_scene(scene) else 16
        if scene.instance_count > limit or entry["prompt"] in too_big_for_their_place:
            reason = too_big_for_their_place.get(entry["prompt"], f"holds at most {limit} objects")
            with pytest.raises(UnsatisfiableSceneError, match=reason):
                plan(scene)
            refused += 1
            continue
        for seed in (0, 1):
            layout = plan(scene, seed=seed)
            assert len(layout.regions) == scene.instance_count, entry["prompt"]
            assert layout_rules.layout_violations(scene, layout) == [], entry["prompt"]
        planned += 1
    assert planned >= 200 and refused == 25


# --- The planner's pieces on their own (compose.planning's modules) ----------------------------------

def test_the_old_import_path_names_the_same_objects():
    import compose.planner
    import compose.planning

    for name in compose.planning.__all__:
        assert getattr(compose.planner, name) is getattr(compose.planning, name), name


def test_a_network_finds_implied_bounds_and_traces_a_contradiction_to_its_choices():
    from compose.planning.network import Network

    network = Network(3)
    network.at_least(0, 1, 0.2)  # x1 - x0 >= 0.2
    network.at_least(1, 2, 0.3, tag=("choice", 1))  # x2 - x1 >= 0.3
    closed = network.closure()
    assert closed is not None
    assert -closed[3, 1] == pytest.approx(0.5)  # implied: x2 - x0 >= 0.5
    assert network.conflict_tags() == []
    network.at_most(0, 2, 0.4, tag=("choice", 2))  # x2 - x0 <= 0.4 contradicts
    assert network.closure() is None
    assert sorted(network.conflict_tags()) == [("choice", 1), ("choice", 2)]


def test_a_closed_network_takes_checked_bounds_and_assigns_values_inside_them():
    from compose.planning.network import ClosedNetwork, Network

    network = Network(2)
    for node in (0, 1):
        network.at_least(-1, node, 0.1)  # 0.1 <= x <= 0.9
        network.at_most(-1, node, 0.9)
    closed = ClosedNetwork(network.closure())
    assert (closed.low(0, 1), closed.high(0, 1)) == pytest.approx((-0.8, 0.8))
    closed.limit(0, 1, low=0.5)  # x1 - x0 >= 0.5
    assert closed.low(-1, 1) == pytest.approx(0.6) and closed.high(-1, 0) == pytest.approx(0.4)
    for seed in range(20):
        x0, x1 = closed.assign([0.9, 0.1], random.Random(seed))
        assert 0.1 - 1e-9 <= x0 <= 0.4 + 1e-9 and 0.6 - 1e-9 <= x1 <= 0.9 + 1e-9
        assert x1 - x0 >= 0.5 - 1e-9


def test_find_cycle_names_the_edges_of_one_cycle_in_order():
    from compose.planning.graphs import find_cycle

    assert find_cycle([0, 1, 2], [(0, 1, "a"), (1, 2, "b")]) is None
    assert find_cycle([0, 1, 2], [(0, 1, "a"), (1, 2, "b"), (2, 1, "c")]) == ["b", "c"]


def test_dealt_targets_keep_their_values_and_follow_every_order():
    from compose.planning.placement import AttemptFailed, deal_targets

    targets = [0.9, 0.5, 0.1, 0.7]
    deal_targets(4, [(0, 1), (1, 2)], targets)  # instance 0 before 1 before 2
    assert sorted(targets) == [0.1, 0.5, 0.7, 0.9]
    assert targets[0] < targets[1] < targets[2]
    with pytest.raises(AttemptFailed, match="cycle"):
        deal_targets(2, [(0, 1), (1, 0)], [0.2, 0.4])


def _two_square_problem():
    from compose.planning.problem import build_problem
    from compose.planning.rules import group_names, make_instances, read_relations

    scene = scene_of("two squares", [group(0, "square", 2, size="large")])
    rules = read_relations(scene, True, group_names(scene))
    return build_problem(scene, True, make_instances(scene), rules)


def test_separation_keeps_two_boxes_apart_on_a_network_of_canvas_bounds_only():
    from compose.planning.network import ClosedNetwork, Network
    from compose.planning.separation import Separation

    problem = _two_square_problem()
    side = 0.35
    extents = ([side, side], [side, side])
    networks = [Network(2), Network(2)]
    for network in networks:
        for node in (0, 1):
            network.at_least(-1, node, 0.02 + side / 2)
            network.at_most(-1, node, 0.98 - side / 2)
    for seed in range(10):
        rng = random.Random(seed)
        closed = [ClosedNetwork(network.closure()) for network in networks]
        assert Separation(problem, extents, [], rng).run(closed, [[0.5, 0.5], [0.5, 0.5]])
        centres = [closed[axis].assign([0.5, 0.5], rng) for axis in (0, 1)]
        apart = max(abs(centres[axis][1] - centres[axis][0]) for axis in (0, 1))
        assert apart >= side + world.MIN_GAP - 1e-9


def test_verification_names_each_broken_rule_of_a_finished_layout():
    from compose.planning.verify import layout_problems

    problem = _two_square_problem()
    assert layout_problems(problem, [(0.05, 0.05, 0.40, 0.40), (0.50, 0.50, 0.85, 0.85)]) == []
    found = layout_problems(problem, [(0.05, 0.05, 0.40, 0.40), (0.42, 0.05, 0.77, 0.40)])
    assert found == ["instances 0 and 1 are 0.020 apart, closer than 0.05"]
    found = layout_problems(problem, [(0.00, 0.05, 0.35, 0.40), (0.50, 0.50, 0.70, 0.70)])
    assert found == ["instance 0 leaves the canvas margin", "instance 1 has size 0.200 outside 0.32-0.4"]
