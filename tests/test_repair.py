"""Check and repair (compose.checking; ComposeConfig.repair_rounds; issue 13, section 2): the checkers name
exactly the regions and extras at fault, an open-vocabulary detector plugs in through transformers'
pipeline, a repair redraws only what failed, and on the bundled model it fixes a crowded picture."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from compose.checking import Check, DetectorChecker, Problem, ShapesChecker
from compose.config import ComposeConfig
from compose.scene import Layout, Region

SIZE, GRID = 32, 8


def planned(prompt: str, seed: int = 0):
    from compose import parse, plan

    scene = parse(prompt)
    return scene, plan(scene, seed=seed)


def test_the_shapes_checker_passes_a_true_render_and_names_a_missing_and_an_extra_object():
    from compose.shapes.render import ShapeInstance, layout_instances, render

    scene, layout = planned("a red circle to the left of a blue square and a green star")
    instances = layout_instances(scene, layout)
    assert ShapesChecker().check(render(instances, 128), scene, layout).passed

    missing = ShapesChecker().check(render(instances[:1] + instances[2:], 128), scene, layout)
    assert not missing.passed and [problem.region for problem in missing.problems] == [1]

    free = (0.02, 0.02, 0.14, 0.14)  # a corner no planned box uses here
    assert all(max(r.box[0], free[0]) >= min(r.box[2], free[2]) or max(r.box[1], free[1]) >= min(r.box[3], free[3])
               for r in layout.regions)
    extra = ShapesChecker().check(render(list(instances) + [ShapeInstance("square", "purple", free)], 128), scene, layout)
    assert not extra.passed and [problem.region for problem in extra.problems] == [None]
    assert np.allclose(extra.problems[0].box, free, atol=0.02)


def test_the_detector_checker_matches_each_phrase_in_its_region_and_flags_negated_things():
    layout = Layout(regions=(Region("a red circle", (0.1, 0.1, 0.4, 0.4), group=0),
                             Region("a blue square", (0.6, 0.6, 0.9, 0.9), group=1)))
    from compose import parse

    scene = parse("a red circle and a blue square, with no stars")
    asked = []

    def detector(image, candidate_labels):
        asked.append(list(candidate_labels))
        width = image.width
        return [{"label": "a red circle", "score": 0.9, "box": {"xmin": 0.1 * width, "ymin": 0.1 * width,
                                                                 "xmax": 0.4 * width, "ymax": 0.4 * width}},
                {"label": "star", "score": 0.8, "box": {"xmin": 0.5 * width, "ymin": 0.0, "xmax": 0.7 * width,
                                                        "ymax": 0.2 * width}},
                {"label": "a blue square", "score": 0.05, "box": {"xmin": 0.6 * width, "ymin": 0.6 * width,
                                                                  "xmax": 0.9 * width, "ymax": 0.9 * width}}]

    check = DetectorChecker(detector, threshold=0.1).check(np.zeros((64, 64, 3), np.uint8), scene, layout)
    assert asked == [["a blue square", "a red circle", "star"]]
    assert not check.passed
    assert [(problem.region, problem.reason.split(":")[0]) for problem in check.problems][0] == (1, "region 1 ('a blue square')")
    assert check.problems[1].region is None and np.allclose(check.problems[1].box, (0.5, 0.0, 0.7, 0.2))


def test_an_open_vocabulary_detector_plugs_in_through_the_transformers_pipeline():
    """OWL-ViT built from a tiny config with random weights (none can be downloaded), the way diffusers
    tests pipelines: the adapter runs the real pipeline end to end and reads its output."""
    from transformers import OwlViTConfig, OwlViTForObjectDetection, OwlViTImageProcessor, pipeline

    from compose.model.text import train_tokenizer

    tokenizer = train_tokenizer(["a red circle", "a blue square", "stars"], reserve_id_zero=True)
    tokenizer.model_max_length = 16
    config = OwlViTConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=37, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=16, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id),
        vision_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=1, num_attention_heads=2,
                           image_size=32, patch_size=8), projection_dim=32)
    torch.manual_seed(0)
    model = OwlViTForObjectDetection(config).eval()
    processor = OwlViTImageProcessor(size={"height": 32, "width": 32}, do_center_crop=False)
    detector = pipeline("zero-shot-object-detection", model=model, tokenizer=tokenizer, image_processor=processor,
                        device="cpu")
    scene, layout = planned("a red circle and a blue square, with no stars")
    image = np.full((64, 64, 3), 255, np.uint8)
    raw = detector(__import__("PIL.Image").Image.fromarray(image), candidate_labels=["a red circle"], threshold=0.0)
    assert raw and {"label", "score", "box"} <= set(raw[0])
    for threshold in (0.0, 1.0):  # everything a detection, or nothing
        check = DetectorChecker(detector, threshold=threshold).check(image, scene, layout)
        assert isinstance(check, Check) and all(isinstance(problem, Problem) for problem in check.problems)
    nothing = DetectorChecker(detector, threshold=1.0).check(image, scene, layout)
    assert not nothing.passed and [problem.region for problem in nothing.problems] == [0, 1]


class ScriptedChecker:
    """Reports the given checks in turn (then passes), so the repair loop's mechanics can be tested alone."""

    def __init__(self, checks):
        self.checks = list(checks)
        self.seen = []

    def check(self, image, scene, layout):
        self.seen.append(image.copy())
        return self.checks.pop(0) if self.checks else Check(passed=True)


@pytest.fixture(scope="module")
def pipeline():
    from tiny_models import tiny_bundle

    from compose.pipeline import ComposePipeline

    bundle = tiny_bundle(image_size=SIZE)
    return ComposePipeline.from_bundle(bundle)


def cells(box) -> np.ndarray:
    """Pixels of the grid cells a box touches, grown by one cell (the repair's dilation)."""
    x0, y0, x1, y1 = box
    edges = np.arange(GRID + 1) / GRID
    columns = (np.minimum(x1, edges[1:]) - np.maximum(x0, edges[:-1])) > 1e-9
    rows = (np.minimum(y1, edges[1:]) - np.maximum(y0, edges[:-1])) > 1e-9
    touched = rows[:, None] & columns[None, :]
    grown = touched.copy()
    for row, column in zip(*np.nonzero(touched)):
        grown[max(0, row - 1):row + 2, max(0, column - 1):column + 2] = True
    return np.kron(grown, np.ones((SIZE // GRID, SIZE // GRID), dtype=bool))


def test_a_repair_redraws_only_the_failed_region_and_records_each_round(pipeline):
    prompt = "a red circle to the left of a blue square"
    first = pipeline.draw(prompt=prompt, seed=4, steps=4)
    layout = first.layouts[0]
    failed = Check(passed=False, problems=(Problem(1, layout.regions[1].box, "region 1: not there"),))
    checker = ScriptedChecker([failed])
    repaired = pipeline.draw(prompt=prompt, seed=4, steps=4, config=ComposeConfig(repair_rounds=3), checker=checker)
    rounds = repaired.repairs[0]
    assert [item.check.passed for item in rounds] == [False, True] and rounds[0].image is not None
    assert rounds[1].image is None and len(checker.seen) == 2
    assert np.array_equal(checker.seen[0], first.images[0]), "the first check reads the drawn picture"
    inside = cells(layout.regions[1].box)
    after = repaired.images[0]
    assert np.array_equal(after[~inside], first.images[0][~inside]), "outside the failed region nothing moves"
    assert np.abs(after[inside].astype(int) - first.images[0][inside].astype(int)).max() > 2
    again = pipeline.draw(prompt=prompt, seed=4, steps=4, config=ComposeConfig(repair_rounds=3),
                     checker=ScriptedChecker([failed]))
    assert np.array_equal(again.images[0], after), "a repair is deterministic"
    untouched = pipeline.draw(prompt=prompt, seed=4, steps=4, config=ComposeConfig(repair_rounds=3),
                         checker=ScriptedChecker([]))
    assert np.array_equal(untouched.images[0], first.images[0]) and len(untouched.repairs[0]) == 1


def test_an_extra_thing_is_erased_to_the_worlds_background_and_rounds_are_bounded(pipeline):
    prompt = "a red circle to the left of a blue square"
    first = pipeline.draw(prompt=prompt, seed=5, steps=4)
    stray = (0.0, 0.75, 0.2, 1.0)
    extra = Check(passed=False, problems=(Problem(None, stray, "an extra thing"),))
    repaired = pipeline.draw(prompt=prompt, seed=5, steps=4, config=ComposeConfig(repair_rounds=2),
                        checker=ScriptedChecker([extra, extra, extra]))
    assert [item.check.passed for item in repaired.repairs[0]] == [False, False, False], "two repairs, a last check"
    x0, y0, x1, y1 = (int(round(v * SIZE)) for v in stray)
    assert (repaired.images[0][y0:y1, x0:x1] == 255).all(), "the shapes world's white canvas pasted in"
    outside = ~cells(stray)
    assert np.array_equal(repaired.images[0][outside], first.images[0][outside])
    other_world = type(pipeline).from_bundle(dataclasses.replace(pipeline.bundle, world=None))
    redrawn = other_world.draw(prompt=prompt, seed=5, steps=4, config=ComposeConfig(repair_rounds=1),
                          checker=ScriptedChecker([extra]))
    assert not (redrawn.images[0][y0:y1, x0:x1] == 255).all(), "without a known background the box is redrawn"


def test_repair_fixes_a_crowded_picture_of_the_bundled_model():
    """Measured on the bundled shapes-v3 (2026-12-02): seed 2 of this prompt fails with compose alone and passes
    after one round of repair (two checks); seeds 0, 1 and 3 pass alone. (On shapes-v2 seed 0 failed.)"""
    from compose.generate import Generator
    from compose.shapes.detect import detect
    from compose.shapes.score import score

    generator = Generator()
    prompt = "five small yellow stars above three small green triangles"
    alone = generator(prompt=prompt, seed=2)
    repaired = generator(prompt=prompt, seed=2, method="compose+repair")
    assert not score(alone.scene, detect(alone.image)).correct_strict
    assert score(repaired.scene, detect(repaired.image)).correct_strict
    assert repaired.repairs[-1].check.passed and 2 <= len(repaired.repairs) <= 4
    assert repaired.to_dict()["repair_rounds"][0]["problems"], "the record says what was wrong"


def test_a_failed_check_that_names_nothing_ends_the_rounds_and_repair_needs_a_checker(pipeline):
    prompt = "a red circle to the left of a blue square"
    vague = Check(passed=False, problems=(), details=("relation_failed: ...",))
    output = pipeline.draw(prompt=prompt, seed=4, steps=4, config=ComposeConfig(repair_rounds=3),
                      checker=ScriptedChecker([vague, vague]))
    assert [item.check.passed for item in output.repairs[0]] == [False] and output.repairs[0][0].image is None
    with pytest.raises(ValueError, match="give checker="):
        pipeline.draw(prompt=prompt, seed=4, steps=4, config=ComposeConfig(repair_rounds=1))


def test_the_shapes_checker_names_a_member_in_a_negated_colour():
    from compose.shapes.render import ShapeInstance, render

    scene, layout = planned("three circles and no red circles")
    instances = [ShapeInstance("circle", "blue", region.box) for region in layout.regions]
    assert ShapesChecker().check(render(instances, 128), scene, layout).passed
    instances[1] = ShapeInstance("circle", "red", instances[1].box)  # one member in a forbidden colour
    check = ShapesChecker().check(render(instances, 128), scene, layout)
    assert not check.passed and 1 in [problem.region for problem in check.problems]



def test_a_failed_relation_with_every_object_there_redraws_the_loosest_placed_ones():
    from compose.checking import loosely_placed

    layout = Layout(regions=(Region("a red circle", (0.1, 0.1, 0.4, 0.4), group=0),
                             Region("a blue square", (0.6, 0.6, 0.9, 0.9), group=1)))
    boxes = [(0.6, 0.62, 0.9, 0.92), (0.22, 0.1, 0.52, 0.4)]  # detection 0 = the square, 1 = the circle, shifted
    problems = loosely_placed(layout, boxes, {0: 1, 1: 0})
    assert [problem.region for problem in problems] == [0] and "IoU 0.43" in problems[0].reason
    snug = loosely_placed(layout, [(0.6, 0.6, 0.9, 0.9), (0.12, 0.1, 0.42, 0.4)], {0: 1, 1: 0})
    assert [problem.region for problem in snug] == [0], "none loose: the lowest overlap is redrawn"


def test_a_collage_repair_redraws_the_failed_object_alone_and_paints_extras_over(pipeline):
    """With ComposeConfig.collage the repair is the collage's own operation: the failed region's object is
    drawn alone again and pasted in, an extra thing's box painted with the canvas; the rest is kept."""
    prompt = "a red circle to the left of a blue square"
    config = ComposeConfig(canvas=(255, 255, 255), collage=True, collage_strength=0.5)
    first = pipeline.draw(prompt=prompt, seed=6, steps=4, config=config)
    layout = first.layouts[0]
    stray = (0.0, 0.8, 0.15, 1.0)
    checks = [Check(passed=False, problems=(Problem(None, stray, "an extra thing"),)),
              Check(passed=False, problems=(Problem(1, layout.regions[1].box, "region 1: not there"),))]
    repaired = pipeline.draw(prompt=prompt, seed=6, steps=4, config=dataclasses.replace(config, repair_rounds=3),
                             checker=ScriptedChecker(checks))
    rounds = repaired.repairs[0]
    assert [item.check.passed for item in rounds] == [False, False, True]
    x0, y0, x1, y1 = (int(round(v * SIZE)) for v in stray)
    assert (rounds[0].image[y0:y1, x0:x1] == 255).all(), "the extra thing painted over with the canvas"
    outside = ~cells(stray)
    assert np.array_equal(rounds[0].image[outside], first.images[0][outside]), "and nothing else changed"
    inside = cells(layout.regions[1].box)
    after = repaired.images[0]
    assert np.array_equal(after[~inside], rounds[0].image[~inside]), "outside the failed region nothing moves"
    assert not np.array_equal(after[inside], rounds[0].image[inside]), "the failed region is redrawn"
    again = pipeline.draw(prompt=prompt, seed=6, steps=4, config=dataclasses.replace(config, repair_rounds=3),
                          checker=ScriptedChecker(list(checks)))
    assert np.array_equal(again.images[0], after), "a collage repair is deterministic"
