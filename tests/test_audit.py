"""compose audit (issue 12, section 1): the matrices and accuracies follow the readings exactly, the
intervals are Wilson's, and on the bundled model the audit runs end to end into JSON and HTML."""

from __future__ import annotations

import json

import numpy as np
import pytest

from compose.bench.audit import AuditReport, Reading, prompt_text, wilson_interval


def reading(shape, color, drawn_shape, drawn_color, objects=1, size=None, seed=0):
    return Reading(shape, color, size, seed, drawn_shape, drawn_color, objects, np.zeros((4, 4, 3), np.uint8))


def test_confusion_and_concepts_count_what_was_drawn():
    readings = [reading("star", "yellow", "star", "yellow"), reading("star", "yellow", "diamond", "yellow"),
                reading("star", "red", "star", "red", objects=2), reading("circle", "red", "none", "none", objects=0)]
    report = AuditReport(model="test", readings=readings, threshold=0.6)
    shapes = report.confusion("shape")
    assert shapes["star"]["star"] == 2 and shapes["star"]["diamond"] == 1 and shapes["circle"]["none"] == 1
    assert report.confusion("color")["yellow"]["yellow"] == 2
    concepts = report.concepts()
    assert concepts["shape:star"]["accuracy"] == pytest.approx(1 / 3, abs=1e-4), "an extra object makes it wrong"
    assert concepts["pair:yellow star"]["accuracy"] == 0.5 and concepts["pair:yellow star"]["flagged"]
    assert concepts["color:red"]["accuracy"] == 0 and concepts["color:red"]["pictures"] == 2
    assert concepts["shape:star"]["failures"] == {"empty": 0, "copies": 1, "wrong": 1}
    assert concepts["shape:circle"]["failures"] == {"empty": 1, "copies": 0, "wrong": 0}
    assert not any(key.startswith("size:") for key in concepts), "no picture was asked with a size word"
    data = report.to_dict()
    assert data["correct"] == 1 and len(data["failures"]) == 3 and "shape:star" in data["flagged"]


def test_size_words_are_concepts_of_their_own():
    readings = [reading("star", "red", "star", "red", size="small"),
                reading("circle", "red", "none", "none", objects=0, size="small"),
                reading("circle", "red", "circle", "red", size="big"), reading("circle", "red", "square", "red")]
    concepts = AuditReport(model="test", readings=readings, threshold=0.8).concepts()
    assert concepts["size:small"]["accuracy"] == 0.5 and concepts["size:small"]["pictures"] == 2
    assert concepts["size:small"]["failures"]["empty"] == 1 and concepts["size:small"]["flagged"]
    assert concepts["size:big"]["accuracy"] == 1 and "size:None" not in concepts


def test_wilson_interval():
    low, high = wilson_interval(0, 10)
    assert low == 0 and high == pytest.approx(0.2775, abs=1e-3)
    low, high = wilson_interval(9, 10)
    assert low == pytest.approx(0.5958, abs=1e-3) and high == pytest.approx(0.9821, abs=1e-3)
    assert prompt_text("star", "red", "small") == "a small red star" and prompt_text("star", "red", None) == "a red star"


def test_a_later_first_seed_draws_only_the_seeds_from_it():
    """--first-seed 4 --seeds 2: every wording at seeds 4 and 5 and no other (a held-out check), recorded."""
    from types import SimpleNamespace

    from compose.bench.audit import audit
    from compose.shapes import world

    drawn = []

    def blank(prompt, method, seed, steps, guidance):
        drawn.append((prompt, seed))
        return SimpleNamespace(image=np.full((64, 64, 3), 255, np.uint8))

    report = audit("test", seeds=2, first_seed=4, generator=blank)
    assert sorted({seed for _, seed in drawn}) == [4, 5]
    assert len(drawn) == len(world.SHAPES) * len(world.PALETTE) * 3 * 2
    data = report.to_dict()
    assert data["seeds"] == [4, 5] and data["correct"] == 0, "a blank picture holds no object"


@pytest.mark.slow
def test_the_audit_runs_on_the_bundled_model_into_json_and_html(tmp_path):
    """90 pictures at the bundled model's plain defaults (25 steps, guidance 4): shapes-v3 drew 85 of them
    right when measured (2026-12-02); at its compose defaults (2 steps, no guidance) only 32."""
    from compose.cli import main

    assert main(["audit", "--seeds", "1", "--out", str(tmp_path), "--quiet"]) == 0
    data = json.loads((tmp_path / "audit.json").read_text())
    assert data["pictures"] == 5 * 6 * 3 and data["format"] == "compose.audit/v1"
    assert sum(data["confusion"]["shape"]["circle"].values()) == 18
    assert data["accuracy"] > 0.8, "the bundled model draws nearly every single object right"
    page = (tmp_path / "audit.html").read_text()
    assert "data:image/png;base64," in page and "Confusion" in page
