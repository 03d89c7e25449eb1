"""The parser on the prompts people really write (compose issue 14, section 1): benchmark framing, style
words, GenEval / LMD / T2I-CompBench phrasing, scenes with no object, cardinal numbers, split groups,
negations with their words, pronouns and relative clauses; and every input of that list that must fail.

tests/gold_field.jsonl and tests/gold_field_errors.jsonl were written from the issue alone and frozen
before the parser work (tests/gold_field_README.md); they are run here whole, against an exact list of
known failures. The other tests use prompts of their own, so that the rules are checked beyond the
gold set's wording. These tests import neither torch nor diffusers.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gold import load, mismatched_prompts, unrejected_prompts

from compose.parsing import parse

ROOT = Path(__file__).resolve().parents[1]
FIELD = ROOT / "tests" / "gold_field.jsonl"
FIELD_ERRORS = ROOT / "tests" / "gold_field_errors.jsonl"
FIELD_B = ROOT / "tests" / "gold_field_b.jsonl"
FIELD_B_ERRORS = ROOT / "tests" / "gold_field_b_errors.jsonl"
# Gold prompts the parser does not yet read exactly, and must-fail prompts it does not yet reject. A
# change that fixes one must take it off; one that breaks another fails here.
KNOWN_FIELD_FAILURES: list[str] = []
KNOWN_UNREJECTED_ERRORS: list[str] = []


def groups(prompt: str) -> list[tuple]:
    """(noun, count, color, size, location) of each group, in id order."""
    return [(g.noun, g.count, g.color, g.size, g.location) for g in parse(prompt).objects]


def relations(prompt: str) -> list[tuple]:
    return [(r.subject, r.predicate, r.object, r.object2) for r in parse(prompt).relations]


def negations(prompt: str) -> list[tuple]:
    return [(n.noun, n.color, n.size) for n in parse(prompt).negations]


# ---------------------------------------------------------------- the held-out sets, whole
def test_field_gold_set_parses_exactly_but_for_the_known_failures():
    entries = load(FIELD)
    assert len(entries) >= 200
    assert mismatched_prompts(entries) == KNOWN_FIELD_FAILURES


def test_field_error_set_is_rejected_with_a_value_error_but_for_the_known_misses():
    entries = load(FIELD_ERRORS)
    assert len(entries) >= 30
    assert unrejected_prompts(entries) == KNOWN_UNREJECTED_ERRORS


def test_second_field_set_written_after_the_parser_work_parses_but_for_its_known_failure():
    """tests/gold_field_b*.jsonl: written by a helper who never read the parser nor the first set's
    prompts, after the parser work (tests/gold_field_README.md). Its one miss, as measured when it was
    written, is kept here so that a change that fixes it or breaks another shows."""
    entries = load(FIELD_B)
    assert len(entries) >= 120
    assert mismatched_prompts(entries) == ["a vintage photo of a red square, highly detailed"]
    assert unrejected_prompts(load(FIELD_B_ERRORS)) == []


# ---------------------------------------------------------------- framing and style
@pytest.mark.parametrize("opening", [
    "a photo of", "a realistic photo of a scene with", "an image of", "a picture showing", "a painting of",
    "a 3D render of", "there is", "I want", "can you draw", "could you please draw", "a photograph depicting",
    "an image containing", "generate an image of", "show me a picture of", "an illustration featuring",
])
def test_openers_are_framing_never_objects(opening):
    assert groups(f"{opening} a green cow and two bicycles") == [
        ("cow", 1, "green", None, None), ("bicycle", 2, None, None, None)]


@pytest.mark.parametrize("prompt, style", [
    ("a realistic photo of a giraffe", "realistic"),
    ("a stunning photo of a giraffe", "stunning"),
    ("a giraffe, high quality, 4k", "high quality, 4k"),
    ("a hyperrealistic giraffe", "hyperrealistic"),
    ("a giraffe in the style of hokusai", "in the style of hokusai"),
    ("a giraffe, anime style", "anime style"),
    ("an oil painting of a giraffe", None),  # the medium itself is framing
    ("a giraffe", None),
])
def test_style_words_go_to_the_style_field(prompt, style):
    scene = parse(prompt)
    assert scene.style == style
    assert [(g.noun, g.phrase) for g in scene.objects] == [("giraffe", "a giraffe")]


def test_a_medium_later_in_the_prompt_is_an_ordinary_object():
    scene = parse("a cat and a painting of a dog")
    assert [g.noun for g in scene.objects] == ["cat", "painting"]
    assert parse("a painting on a wall").objects[0].noun == "painting"


# ---------------------------------------------------------------- relation and location phrasing
@pytest.mark.parametrize("words, predicate", [
    ("right of", "right_of"), ("left of", "left_of"), ("on the top of", "above"), ("on side of", "near"),
    ("on the bottom of", "below"), ("near", "near"), ("on the right of", "right_of"),
])
def test_benchmark_relation_phrasing(words, predicate):
    assert relations(f"a kettle {words} a lamp") == [(0, predicate, 1, None)]


def test_lmd_locations():
    assert groups("a kettle on the left and two lamps on the right") == [
        ("kettle", 1, None, None, "left"), ("lamp", 2, None, None, "right")]
    assert groups("a kettle on the top and a lamp on the bottom") == [
        ("kettle", 1, None, None, "top"), ("lamp", 1, None, None, "bottom")]


# ---------------------------------------------------------------- scenes with no object
@pytest.mark.parametrize("prompt, background, expected", [
    ("a scene without umbrellas", None, [("umbrella", None, None)]),
    ("an empty beach with no people", "an empty beach", [("person", None, None)]),
    ("a quiet park without any dogs", "a quiet park", [("dog", None, None)]),
    ("no tiny red stars", None, [("star", "red", "small")]),
    ("nothing green", None, [(None, "green", None)]),
    ("an empty street", "an empty street", []),
])
def test_scenes_with_only_negations_or_a_background_are_valid(prompt, background, expected):
    scene = parse(prompt)
    assert scene.objects == ()
    assert scene.background == background
    assert negations(prompt) == expected


# ---------------------------------------------------------------- numbers
@pytest.mark.parametrize("words, count", [
    ("forty", 40), ("twenty-one", 21), ("twenty one", 21), ("ninety-nine", 99), ("a dozen", 12),
    ("two dozen", 24), ("half a dozen", 6), ("a hundred", 100), ("one hundred", 100),
    ("two hundred and twelve", 212), ("100", 100), ("1000", 1000), ("thirteen", 13), ("a pair of", 2),
])
def test_cardinal_numbers(words, count):
    assert groups(f"{words} red kites") == [("kite", count, "red", None, None)]
    assert parse(f"{words} red kites").objects[0].phrase == f"{words} red kites"


def test_numbers_that_do_not_combine_stay_apart():
    assert groups("two kites, one lamp") == [("kite", 2, None, None, None), ("lamp", 1, None, None, None)]


# ---------------------------------------------------------------- split groups
def test_split_group_gives_one_group_per_part():
    scene = parse("five kites: two red ones on the left and three blue ones on the right")
    assert [(g.noun, g.phrase, g.count, g.color, g.location) for g in scene.objects] == [
        ("kite", "two red ones", 2, "red", "left"), ("kite", "three blue ones", 3, "blue", "right")]


def test_split_group_parts_take_the_head_attributes_and_their_own_nouns_after_a_generic_head():
    assert groups("four big kites - three yellow and one green") == [
        ("kite", 3, "yellow", "large", None), ("kite", 1, "green", "large", None)]
    assert groups("three things: two lamps and a kettle") == [
        ("lamp", 2, None, None, None), ("kettle", 1, None, None, None)]


def test_relations_after_a_split_refer_to_its_parts():
    assert relations("five circles: two red ones on top and three blue ones below them") == [(1, "below", 0, None)]
    assert relations("four kites, two red and two blue, the red ones above the blue ones") == [(0, "above", 1, None)]


def test_parts_that_name_another_noun_are_groups_of_their_own():
    assert groups("three purple squares, one green square and one yellow square") == [
        ("square", 3, "purple", None, None), ("square", 1, "green", None, None),
        ("square", 1, "yellow", None, None)]


# ---------------------------------------------------------------- negations with their words
@pytest.mark.parametrize("prompt, expected", [
    ("three blue kites, but no red ones", [("kite", "red", None)]),
    ("two big lamps and no small ones", [("lamp", None, "small")]),
    ("a lamp and no huge green kites", [("kite", "green", "large")]),
    ("a lamp, no kites and no kettles", [("kite", None, None), ("kettle", None, None)]),
    ("a lamp with no red or blue things", [(None, "red", None), (None, "blue", None)]),
])
def test_negations_keep_their_words(prompt, expected):
    assert negations(prompt) == expected


# ---------------------------------------------------------------- pronouns and relative clauses
@pytest.mark.parametrize("prompt, expected", [
    ("a girl and a pony; she is riding it", [(0, "riding", 1, None)]),
    ("a pony and a boy who is riding it", [(1, "riding", 0, None)]),
    ("a boy and a kite, he is flying it", [(0, "flying", 1, None)]),
    ("a kettle, which is to the right of a lamp", [(0, "right_of", 1, None)]),
    ("a kettle and a lamp to its left", [(1, "left_of", 0, None)]),
    ("a red kite, and above it a blue kite", [(1, "above", 0, None)]),
    ("a kite and a lamp, and a kettle below both of them", [(2, "below", 0, None), (2, "below", 1, None)]),
])
def test_pronouns_and_relative_clauses(prompt, expected):
    assert relations(prompt) == expected


# ---------------------------------------------------------------- nouns and non-nouns
def test_a_bare_word_is_a_thing_only_when_the_lexicon_knows_the_noun():
    assert groups("kites and lamps") == [("kite", 2, None, None, None), ("lamp", 2, None, None, None)]
    assert groups("a zorblax next to a lamp")[0] == ("zorblax", 1, None, None, None)  # open vocabulary
    with pytest.raises(ValueError, match='"zorblaxes": no noun the parser knows'):
        parse("zorblaxes")


def test_placeholders_are_no_things_even_after_an_article():
    assert groups("an image of something and a lamp") == [("lamp", 1, None, None, None)]


# ---------------------------------------------------------------- what must fail
@pytest.mark.parametrize("prompt", [
    "hello there", "the and of", "please", "!!!", "thank you", "what?", "draw something nice",
    "a photo of", "a realistic photo of a scene with", "can you draw", "I want", "there is",
    "high quality, 4k", "in the style of van gogh", "an image of something", "no", "a scene without",
    "nothing", "good morning",
])
def test_a_prompt_that_names_nothing_is_an_error(prompt):
    with pytest.raises(ValueError, match=r'names nothing to draw.*: a prompt must name a thing, something to '
                                         r'leave out \("no stars"\) or a setting'):
        parse(prompt)


@pytest.mark.parametrize("prompt, shown", [
    ("-3 stars", "-3"), ("2.5 squares", "2.5"), ("0 kites", "0"), ("a lamp and 0 kites", "0"),
])
def test_a_count_that_is_not_a_whole_number_of_at_least_one_is_an_error(prompt, shown):
    with pytest.raises(ValueError, match=rf'asks for "{shown}" of something: a count must be a whole number of '
                                         r"at least 1"):
        parse(prompt)


@pytest.mark.parametrize("prompt, sums", [
    ("five kites: two red and two blue", '"five kites" into 2 \\+ 2 = 4, not 5'),
    ("two lamps, one red, one blue and one green", '"two lamps" into 1 \\+ 1 \\+ 1 = 3, not 2'),
    ("a dozen eggs, six brown and five white", '"a dozen eggs" into 6 \\+ 5 = 11, not 12'),
    ("a photo of twenty-one kites: one yellow and twenty-one purple, 4k",
     '"twenty-one kites" into 1 \\+ 21 = 22, not 21'),
])
def test_split_parts_that_do_not_add_up_are_an_error(prompt, sums):
    with pytest.raises(ValueError, match=rf"splits {sums}: the parts of a group must add up to its count"):
        parse(prompt)


@pytest.mark.parametrize("prompt, relation", [
    ("a kettle to the left of", "to the left of"), ("three blue kites above", "above"),
    ("a lamp near", "near"), ("a kite on the top of", "on the top of"),
])
def test_a_relation_with_nothing_after_it_is_an_error(prompt, relation):
    with pytest.raises(ValueError, match=rf'ends with the relation "{relation}" and nothing after it'):
        parse(prompt)


def test_between_with_one_thing_is_an_error():
    with pytest.raises(ValueError, match='between "a kite" and nothing else: "between" needs two things'):
        parse("a lamp between a kite and")


def test_counts_past_any_world_limit_are_accepted_by_the_parser():
    assert groups("a thousand stars") == [("star", 1000, None, None, None)]


def test_parsing_the_field_set_imports_no_torch():
    code = (
        "import json, sys\n"
        "from compose.parsing import parse\n"
        f"lines = open({str(FIELD)!r}, encoding='utf-8').read().splitlines()\n"
        "for line in lines:\n"
        "    parse(json.loads(line)['prompt'])\n"
        "heavy = [name for name in ('torch', 'diffusers', 'transformers') if name in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
