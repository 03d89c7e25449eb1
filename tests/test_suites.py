"""The benchmark suites (compose/bench/suites_data/): every prompt means what its author meant, and can
be judged.

compose/bench/suites_data/expected.jsonl holds, for every prompt (and layout file), the scene its author meant,
written by hand as a short signature ("2 red circle; 1 blue square; rel: 0 left_of 1; not: star") and,
for layout files, which group each region draws. These tests parse every prompt and compare, check the
category's own promise (counting prompts ask for 2 to 6 of something, position prompts have a relation,
...), and check that every scene is scoreable, plannable and that a ground-truth render of its plan is
scored correct by the detector: the benchmark's detector self-check, run here on every suite.
"""

import json
from collections import Counter
from pathlib import Path

import pytest

from compose.bench import (CATEGORIES, PROMPT_CATEGORIES, bind_layout, detector_self_check, ground_truth_image,
                           load_suites, suites_dir)
from compose.bench.suites import load_suite
from compose.parsing import parse
from compose.planning import plan
from compose.scene import Layout, Region
from compose.shapes import world
from compose.shapes.score import check_scoreable, score_image

SUITES = suites_dir()
EXPECTED = [json.loads(line) for line in (SUITES / "expected.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
MIN_PROMPTS = 25
MIN_LAYOUT_FILES = 10
PLAN_SEEDS = (0, 1, 2)


def signature(scene) -> str:
    """A scene as a short line a person writes by hand: groups, then relations, then negations."""
    parts = []
    for group in scene.objects:
        words = [str(group.count)] + [word for word in (group.size, group.color) if word] + [group.noun]
        if group.location:
            words.append("@" + group.location)
        parts.append(" ".join(words))
    for relation in scene.relations:
        tail = f" {relation.object2}" if relation.object2 is not None else ""
        parts.append(f"rel: {relation.subject} {relation.predicate} {relation.object}{tail}")
    for negation in scene.negations:
        parts.append("not: " + " ".join(word for word in (negation.color, negation.noun or "shape") if word))
    return "; ".join(parts)


@pytest.fixture(scope="module")
def suites():
    return {suite.name: suite for suite in load_suites()}


def test_every_category_has_its_suite(suites):
    assert list(suites) == list(CATEGORIES)
    for name in PROMPT_CATEGORIES:
        prompts = [item.prompt for item in suites[name].items]
        assert len(prompts) >= MIN_PROMPTS, f"{name} has {len(prompts)} prompts"
        assert len(set(prompts)) == len(prompts), f"{name} repeats a prompt"
    assert len(suites["layout"].items) >= MIN_LAYOUT_FILES


def test_every_prompt_parses_to_what_its_author_meant(suites):
    expected = {(row["suite"], row["prompt"]): row["expect"] for row in EXPECTED if "prompt" in row}
    wrong = []
    for name in PROMPT_CATEGORIES:
        for item in suites[name].items:
            assert (name, item.prompt) in expected, f"{name}: {item.prompt!r} has no line in expected.jsonl"
            if signature(item.scene) != expected[(name, item.prompt)]:
                wrong.append(f"{name}: {item.prompt!r}\n  meant {expected[(name, item.prompt)]}\n"
                             f"  read  {signature(item.scene)}")
    assert not wrong, "\n".join(wrong)
    listed = Counter(row["suite"] for row in EXPECTED if "prompt" in row)
    assert listed == Counter({name: len(suites[name].items) for name in PROMPT_CATEGORIES}), \
        "expected.jsonl lists prompts that the suites do not hold"


def test_every_layout_file_is_read_and_bound_as_meant(suites):
    expected = {row["file"]: row for row in EXPECTED if row["suite"] == "layout"}
    items = suites["layout"].items
    assert sorted(expected) == sorted(Path(item.source).name for item in items)
    for item in items:
        row = expected[Path(item.source).name]
        assert signature(item.scene) == row["expect"], item.source
        assert [region.group for region in item.layout.regions] == row["region_groups"], item.source
        for group in item.scene.objects:
            instances = sorted(region.instance for region in item.layout.regions if region.group == group.id)
            assert instances == list(range(group.count)), item.source


def test_categories_keep_their_promise(suites):
    shapes = set(world.SHAPES)
    for name, suite in suites.items():
        for item in suite.items:
            scene = item.scene
            what = f"{name}: {item.prompt!r}"
            assert {group.noun for group in scene.objects} <= shapes, what
            assert all(group.color in (None, *world.PALETTE) for group in scene.objects), what
            assert scene.instance_count <= world.MAX_OBJECTS, what
            if name == "single":
                assert len(scene.objects) == 1 and scene.instance_count == 1 and scene.objects[0].color, what
            elif name == "two_object":
                assert len(scene.objects) == 2 and scene.instance_count == 2, what
                first, second = scene.objects
                assert (first.noun, first.color) != (second.noun, second.color), what
            elif name == "counting":
                assert any(2 <= group.count <= 6 for group in scene.objects), what
                assert all(group.count <= 6 for group in scene.objects), what
                assert not scene.relations and not scene.negations, what
            elif name == "colors":
                assert len(scene.objects) >= 2 and all(group.color for group in scene.objects), what
                assert len({group.color for group in scene.objects}) >= 2, what
            elif name == "position":
                assert scene.relations, what
                assert {relation.predicate for relation in scene.relations} <= set(world_relations()), what
            elif name == "negation":
                assert scene.negations, what
                assert "no " in item.prompt.lower() or "without" in item.prompt.lower(), what
            elif name == "complex":
                assert 3 <= scene.instance_count <= 6, what
                assert len(scene.relations) >= 1 and (len(scene.relations) >= 2 or scene.negations
                                                      or any(group.count > 1 for group in scene.objects)), what
            elif name == "crowded":
                assert 6 <= scene.instance_count <= 8, what
                assert any(3 <= group.count <= 6 for group in scene.objects), what
                assert all(group.count <= 6 for group in scene.objects), what
    crowded_objects = [(group.size, group.count) for item in suites["crowded"].items for group in item.scene.objects]
    small = sum(count for size, count in crowded_objects if size == "small")
    assert small > 0.8 * sum(count for _, count in crowded_objects), "crowded scenes are mostly small objects"
    predicates = Counter(relation.predicate for item in suites["position"].items for relation in item.scene.relations)
    assert set(predicates) == set(world_relations()), f"position must use every relation: {predicates}"
    counts = {group.count for item in suites["counting"].items for group in item.scene.objects}
    assert {2, 3, 4, 5, 6} <= counts


def world_relations():
    return ("left_of", "right_of", "above", "below", "near", "between")


def test_every_scene_is_scoreable_and_plannable(suites):
    for name in PROMPT_CATEGORIES:
        for item in suites[name].items:
            check_scoreable(item.scene)
            for seed in PLAN_SEEDS:
                layout = plan(item.scene, seed=seed)
                assert len(layout.regions) == item.scene.instance_count
    for item in suites["layout"].items:
        check_scoreable(item.scene, item.layout)
        assert not world.placement_problems([region.box for region in item.layout.regions]), item.source
        for region in item.layout.regions:
            side = (region.width + region.height) / 2
            assert world.ANY_SIZE_RANGE[0] - 0.02 <= side <= world.ANY_SIZE_RANGE[1], item.source
            assert 0.8 <= region.width / region.height <= 1.25, f"{item.source}: region is not roughly square"


def test_sketch_layouts_are_among_the_layout_files(suites):
    sketches = [item for item in suites["layout"].items if all(region.polygons for region in item.layout.regions)]
    assert len(sketches) >= 2


def test_ground_truth_renders_score_correct(suites):
    """The detector self-check on every suite: a perfect picture of every planned scene is correct."""
    check = detector_self_check(list(suites.values()), list(PLAN_SEEDS))
    assert check.images == sum(len(suite.items) * (1 if suite.name == "layout" else len(PLAN_SEEDS))
                               for suite in suites.values())
    assert check.correct == check.images, "\n".join(check.failures)


def test_self_check_catches_a_wrong_ground_truth(suites, monkeypatch):
    """The self-check can fail: when the 'ground truth' misses an object, it names the prompt."""
    import compose.bench.selfcheck as selfcheck

    def drop_last_object(scene, layout, size=64):
        return ground_truth_image(scene, Layout(regions=layout.regions[:-1], prompt=layout.prompt), size)

    monkeypatch.setattr(selfcheck, "ground_truth_image", drop_last_object)
    check = detector_self_check([load_suite("two_object", limit=2)], [0])
    assert check.correct == 0 and check.images == 2
    assert "two_object[0]" in check.failures[0] and "missing_group" in check.failures[0]


def test_ground_truth_colours_an_uncoloured_group_legally():
    scene = parse("three circles and no red circles")
    layout = plan(scene, seed=0)
    verdict = score_image(scene, ground_truth_image(scene, layout))
    assert verdict.correct_strict, verdict.reasons


def test_bind_layout_ties_regions_to_groups_and_names_mismatches():
    scene = parse("two blue squares and a red square")
    boxes = [(0.05, 0.05, 0.3, 0.3), (0.5, 0.05, 0.75, 0.3), (0.3, 0.6, 0.55, 0.85)]
    layout = Layout(regions=tuple(Region(phrase, box) for phrase, box in
                                  zip(("a blue square", "a red square", "a blue square"), boxes)))
    bound = bind_layout(scene, layout)
    assert [(region.group, region.instance) for region in bound.regions] == [(0, 0), (1, 0), (0, 1)]
    missing = Layout(regions=layout.regions[:2])
    with pytest.raises(ValueError, match="asks for 2 of 'two blue squares' but the layout has 1"):
        bind_layout(scene, missing)
    stranger = Layout(regions=layout.regions[:2] + (Region("a green star", boxes[2]),))
    with pytest.raises(ValueError, match="'a green star'.*matches none"):
        bind_layout(scene, stranger)


def test_unknown_suite_and_bad_limit_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="not a category"):
        load_suites(["no-such-suite"])
    with pytest.raises(ValueError, match="limit"):
        load_suites(["single"], limit=0)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match="holds no prompts"):
        load_suites([str(empty)])
    own = tmp_path / "mine.txt"
    own.write_text("a red circle\n\ntwo blue squares\n", encoding="utf-8")
    suite = load_suites([str(own)])[0]
    assert suite.name == "mine" and [item.index for item in suite.items] == [0, 1]


def test_the_suites_are_package_data_shipped_by_pyproject():
    """`compose bench` works from any folder after `pip install .`: the suites lie inside the package and
    every file there is named by a package-data pattern of pyproject.toml."""
    import fnmatch
    import tomllib

    import compose.bench

    package = Path(compose.bench.__file__).resolve().parent
    assert SUITES.resolve().is_relative_to(package)
    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["compose.bench"]
    files = [path.relative_to(package).as_posix() for path in SUITES.rglob("*") if path.is_file()]
    assert len(files) >= len(CATEGORIES) + MIN_LAYOUT_FILES
    def shipped(name: str, pattern: str) -> bool:  # a glob as setuptools reads it: "*" stays in one folder
        parts, wanted = name.split("/"), pattern.split("/")
        return len(parts) == len(wanted) and all(map(fnmatch.fnmatchcase, parts, wanted))

    unshipped = [name for name in files if not any(shipped(name, pattern) for pattern in patterns)]
    assert not unshipped, f"add these to [tool.setuptools.package-data] in pyproject.toml: {unshipped}"
