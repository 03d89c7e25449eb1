"""compose.prepare: the one parse -> plan rule (which layout a picture is drawn in, which scene judges it)."""

import pytest

from compose.planner import plan
from compose.prepare import layout_for, prepare
from compose.parsing import parse


def test_a_prompt_alone_is_parsed_and_planned_with_the_seed_and_its_layout_carries_the_scene():
    timings = {}
    layout = prepare("a red circle to the left of two blue squares", None, seed=3, timings=timings)
    scene = parse("a red circle to the left of two blue squares")
    assert layout == plan(scene, seed=3), "the planner's layout for that seed"
    assert layout.scene == scene
    assert set(timings) == {"parse", "plan"}


def test_a_layout_file_is_kept_and_judged_by_the_prompt_when_there_is_one():
    own = plan(parse("a green star"), seed=0)
    with_prompt = prepare("a green star above a red circle", own, seed=9, timings={})
    assert with_prompt == own, "never re-planned"
    assert with_prompt.scene == parse("a green star above a red circle")
    assert prepare(None, own, seed=9).scene is own.scene, "without a prompt, the layout's own scene"
    assert layout_for(None, own, 5) is own


def test_nothing_to_draw_is_refused():
    with pytest.raises(ValueError, match="give a prompt or a layout file"):
        prepare(None, None, seed=0)
