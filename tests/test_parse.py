"""Tests of the prompt parser (compose.parsing): the gold set, each behaviour, and each error.

The gold set (tests/gold_prompts.jsonl) holds prompts with the scene a person means, written by hand
before the parser was made to meet them; benchmarks/parse_accuracy.py prints the same figures per kind.
These tests import neither torch nor diffusers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gold import mismatched_prompts

from compose.parsing import MAX_PROMPT_CHARACTERS, MAX_PROMPT_WORDS, parse
from compose.scene import Scene, scene_dict_v1_1
from compose.shapes.data import sample_at

ROOT = Path(__file__).resolve().parents[1]
GOLD_PATH = ROOT / "tests" / "gold_prompts.jsonl"
REQUIRED_KINDS = {
    "single", "counting", "plural_irregular", "compound", "colors", "relation", "chain", "shared_subject",
    "coordinated_object", "coreference", "location", "negation", "background", "filler", "open_vocab",
    "between", "caption_style",
}


def load_gold() -> list[dict]:
    with open(GOLD_PATH, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def objects(prompt: str) -> list[tuple]:
    """(noun, count, color, size, location) of each group, in id order."""
    return [(g.noun, g.count, g.color, g.size, g.location) for g in parse(prompt).objects]


def relations(prompt: str) -> list[tuple]:
    return [(r.subject, r.predicate, r.object, r.object2) for r in parse(prompt).relations]


def negations(prompt: str) -> list[tuple]:
    return [(n.noun, n.color) for n in parse(prompt).negations]


# ---------------------------------------------------------------- gold set
def test_gold_set_is_well_formed():
    entries = load_gold()
    assert len(entries) >= 150
    assert REQUIRED_KINDS <= {entry["kind"] for entry in entries}
    prompts = [entry["prompt"] for entry in entries]
    assert len(set(prompts)) == len(prompts), "a prompt appears twice in the gold set"
    for entry in entries:
        assert set(entry) == {"prompt", "kind", "scene"}
        assert entry["scene"]["prompt"] == entry["prompt"]
        # written to scene format v1.0 (compose/specs/scene-format.md): no style, no negation size; the parser writes v1.1
        assert Scene.from_dict(entry["scene"]).to_dict() == scene_dict_v1_1(entry["scene"]), entry["prompt"]
    shapes = sum(entry["kind"] == "caption_style" for entry in entries)
    assert shapes >= 30, "the gold set needs many captions in the shapes-world caption forms"


def test_gold_set_parses_exactly():
    """Every prompt of the parser's own gold set is read exactly (it was >= 95% when first written)."""
    assert mismatched_prompts(load_gold()) == []


def test_cli_spec_example_serialises_exactly():
    prompt = "a small red circle to the left of two blue squares, with no stars"
    expected = {
        "prompt": prompt,
        "objects": [
            {"id": 0, "noun": "circle", "phrase": "a small red circle", "count": 1,
             "color": "red", "size": "small", "location": None, "modifiers": []},
            {"id": 1, "noun": "square", "phrase": "two blue squares", "count": 2,
             "color": "blue", "size": None, "location": None, "modifiers": []}],
        "relations": [{"subject": 0, "predicate": "left_of", "object": 1, "object2": None}],
        "negations": [{"noun": "star", "color": None, "size": None}],
        "background": None,
        "style": None,
    }
    scene = parse(prompt)
    assert scene.to_dict() == expected
    assert json.loads(scene.to_json()) == expected


def test_random_shapes_captions_round_trip():
    """Captions from the real caption writer (the shapes-world data stream) parse back to exactly the
    scene each one means."""
    failures = []
    for index in range(400):
        sample = sample_at(12345, index)
        if parse(sample.caption).to_dict() != sample.scene.to_dict():
            failures.append(sample.caption)
    assert len(failures) <= 4, failures[:5]


# ---------------------------------------------------------------- objects, counts, attributes
@pytest.mark.parametrize("prompt, noun, count", [
    ("a cat", "cat", 1), ("an owl", "owl", 1), ("one cat", "cat", 1), ("two cats", "cat", 2),
    ("eight cats", "cat", 8), ("2 cats", "cat", 2), ("99 cats", "cat", 99), ("a pair of cats", "cat", 2),
    ("a couple of cats", "cat", 2), ("cats", "cat", 2), ("a dozen cats", "cat", 12), ("several cats", "cat", 3),
])
def test_counts(prompt, noun, count):
    assert objects(prompt) == [(noun, count, None, None, None)]


@pytest.mark.parametrize("word, size", [
    ("small", "small"), ("tiny", "small"), ("little", "small"), ("medium", "medium"),
    ("medium-sized", "medium"), ("mid-sized", "medium"), ("large", "large"), ("big", "large"), ("huge", "large"),
])
def test_size_synonyms(word, size):
    assert objects(f"a {word} green star") == [("star", 1, "green", size, None)]


@pytest.mark.parametrize("color", ["red", "orange", "yellow", "green", "blue", "purple", "black", "pink"])
def test_colours(color):
    assert objects(f"two {color} squares") == [("square", 2, color, None, None)]


@pytest.mark.parametrize("prompt, noun, count", [
    ("three mice", "mouse", 3), ("two boxes", "box", 2), ("four shelves", "shelf", 4),
    ("two people", "person", 2), ("three children", "child", 3), ("two geese", "goose", 2),
    ("five wolves", "wolf", 5), ("two buses", "bus", 2), ("three cherries", "cherry", 3),
    ("two benches", "bench", 2), ("two fish", "fish", 2), ("five cookies", "cookie", 5),
    ("two horses", "horse", 2), ("two glasses", "glass", 2), ("three cacti", "cactus", 3),
    ("two shoes", "shoe", 2), ("a cactus", "cactus", 1), ("a glass", "glass", 1), ("a bus", "bus", 1),
])
def test_plurals_are_made_singular(prompt, noun, count):
    assert objects(prompt) == [(noun, count, None, None, None)]


@pytest.mark.parametrize("prompt, noun, count", [
    ("a teddy bear", "teddy bear", 1), ("two teddy bears", "teddy bear", 2), ("a red fire truck", "fire truck", 1),
    ("a teddy-bear", "teddy bear", 1), ("three hot dogs", "hot dog", 3), ("an ice cream cone", "ice cream cone", 1),
])
def test_compound_nouns(prompt, noun, count):
    assert [(g.noun, g.count) for g in parse(prompt).objects] == [(noun, count)]


def test_phrase_is_first_mention_as_written():
    scene = parse("A pair of Small RED squares. The squares are above a medium-sized blue circle.")
    assert [g.phrase for g in scene.objects] == ["A pair of Small RED squares", "a medium-sized blue circle"]
    assert scene.objects[0].color == "red" and scene.objects[0].size == "small"


def test_open_vocabulary_nouns_and_modifiers():
    scene = parse("a fluffy white cat on a wooden table next to an astronaut")
    cat, table, astronaut = scene.objects
    assert (cat.noun, cat.color, cat.modifiers) == ("cat", "white", ("fluffy",))
    assert (table.noun, table.modifiers) == ("table", ("wooden",))
    assert astronaut.noun == "astronaut"
    assert relations(scene.prompt) == [(0, "on", 1, None), (1, "near", 2, None)]


def test_one_anaphora_takes_the_noun_before_it():
    assert objects("a small circle and a big one") == [("circle", 1, None, "small", None),
                                                        ("circle", 1, None, "large", None)]


# ---------------------------------------------------------------- relations
@pytest.mark.parametrize("words, predicate", [
    ("to the left of", "left_of"), ("left of", "left_of"), ("on the left of", "left_of"),
    ("to the right of", "right_of"), ("right of", "right_of"), ("on the right of", "right_of"),
    ("above", "above"), ("over", "above"), ("on top of", "above"),
    ("below", "below"), ("under", "below"), ("beneath", "below"), ("underneath", "below"),
    ("near", "near"), ("next to", "near"), ("beside", "near"), ("close to", "near"),
    ("in front of", "in_front_of"), ("behind", "behind"), ("on", "on"), ("in", "inside"), ("inside", "inside"),
    ("holding", "holding"), ("riding", "riding"), ("directly above", "above"), ("right next to", "near"),
])
def test_relation_words(words, predicate):
    assert relations(f"a cat {words} a box") == [(0, predicate, 1, None)]


@pytest.mark.parametrize("prompt", [
    "a red circle left of a blue square", "a red circle is left of a blue square",
    "two red circles are left of a blue square", "there is a red circle left of a blue square",
])
def test_relation_forms(prompt):
    assert relations(prompt) == [(0, "left_of", 1, None)]


def test_chain():
    assert relations("a circle left of a square left of a star") == [(0, "left_of", 1, None), (1, "left_of", 2, None)]
    assert relations("a star to the left of a circle, which is above a square") == [
        (0, "left_of", 1, None), (1, "above", 2, None)]


def test_shared_subject():
    assert relations("a square left of a star and above a triangle") == [(0, "left_of", 1, None), (0, "above", 2, None)]


def test_coordinated_object():
    assert relations("a star below a diamond and a circle") == [(0, "below", 1, None), (0, "below", 2, None)]


def test_coordinated_subjects_each_take_the_relation():
    assert relations("a red circle and a blue square are left of a green star") == [
        (0, "left_of", 2, None), (1, "left_of", 2, None)]


def test_new_clause_after_comma_and():
    assert relations("a star below a diamond, and a circle") == [(0, "below", 1, None)]
    assert len(parse("a star below a diamond, and a circle").objects) == 3


def test_between():
    assert relations("a star between a circle and a square") == [(0, "between", 1, 2)]
    assert relations("a star between two circles") == [(0, "between", 1, 1)]
    assert relations("a circle and a square, and a star between them") == [(2, "between", 0, 1)]


def test_denied_relation_is_not_recorded():
    assert relations("a circle that is not left of a square") == []
    assert relations("a red square isn't above a circle") == []


# ---------------------------------------------------------------- references
def test_later_mention_refers_back_and_adds_no_group():
    prompt = "a red circle and a blue square. The square is left of a green star"
    assert [g.noun for g in parse(prompt).objects] == ["circle", "square", "star"]
    assert relations(prompt) == [(1, "left_of", 2, None)]


def test_colour_tells_two_groups_of_one_noun_apart():
    assert relations("a red circle and a blue circle. The blue circle is near the red circle.") == [
        (1, "near", 0, None)]


def test_size_and_count_tell_groups_apart():
    assert relations("a big star and a small star. The small star is above the big star.") == [(1, "above", 0, None)]
    assert relations("two blue squares and a yellow star. The two squares are left of the star.") == [
        (0, "left_of", 1, None)]


def test_pronouns():
    assert relations("a red circle. A blue square is right of it.") == [(1, "right_of", 0, None)]
    assert relations("a red circle and a blue square. They are left of a green star.") == [
        (0, "left_of", 2, None), (1, "left_of", 2, None)]
    assert relations("two cats and a dog next to them") == [(1, "near", 0, None)]


def test_definite_first_mention_is_a_new_group():
    assert objects("two cats. The cats are on the sofa.") == [("cat", 2, None, None, None),
                                                              ("sofa", 1, None, None, None)]


# ---------------------------------------------------------------- locations
@pytest.mark.parametrize("words, location", [
    ("on the left", "left"), ("on the right", "right"), ("at the top", "top"), ("at the bottom", "bottom"),
    ("in the center", "center"), ("in the middle", "center"), ("at the top left", "top_left"),
    ("at the top right", "top_right"), ("in the bottom left corner", "bottom_left"),
    ("in the bottom right corner", "bottom_right"), ("in the top left corner", "top_left"),
    ("at the top-right of the image", "top_right"), ("in the upper left corner", "top_left"),
    ("on the left side", "left"), ("to the right", "right"), ("in the centre", "center"),
])
def test_absolute_locations(words, location):
    assert objects(f"a red circle {words}") == [("circle", 1, "red", None, location)]


def test_location_next_to_a_relation():
    scene = parse("a red circle at the top left of a blue square")
    assert scene.objects[0].location == "top"
    assert relations(scene.prompt) == [(0, "left_of", 1, None)]
    assert relations("a star in the middle between a circle and a square") == [(0, "between", 1, 2)]
    assert parse("a star on the right next to a circle").objects[0].location == "right"


def test_location_given_in_a_later_sentence():
    assert [g.location for g in parse("a circle and a square. The circle is on the left.").objects] == ["left", None]


# ---------------------------------------------------------------- negations
@pytest.mark.parametrize("prompt, expected", [
    ("a red circle and no stars", [("star", None)]),
    ("two blue squares, with no stars", [("star", None)]),
    ("a red circle. There are no stars.", [("star", None)]),
    ("a yellow star without any triangles", [("triangle", None)]),
    ("a green circle and no red shapes", [(None, "red")]),
    ("no purple diamonds, just a green circle", [("diamond", "purple")]),
    ("a circle with no stars or squares", [("star", None), ("square", None)]),
    ("a circle and no stars and no squares", [("star", None), ("square", None)]),
    ("a cat but no dogs", [("dog", None)]),
    ("a blue star and nothing yellow", [(None, "yellow")]),
])
def test_negations(prompt, expected):
    scene = parse(prompt)
    assert negations(prompt) == expected
    negated_nouns = {noun for noun, _color in expected}
    assert all(group.noun not in negated_nouns for group in scene.objects)


# ---------------------------------------------------------------- background
@pytest.mark.parametrize("prompt, background, nouns", [
    ("a robot in a futuristic office", "in a futuristic office", ["robot"]),
    ("an astronaut on the moon", "on the moon", ["astronaut"]),
    ("In a futuristic office, a robot holding a cup.", "in a futuristic office", ["robot", "cup"]),
    ("a fish underwater", "underwater", ["fish"]),
    ("a cat on a table", None, ["cat", "table"]),
    ("a cat in a box", None, ["cat", "box"]),
])
def test_background_or_relation(prompt, background, nouns):
    scene = parse(prompt)
    assert scene.background == background
    assert [g.noun for g in scene.objects] == nouns


# ---------------------------------------------------------------- fillers, capitals, full stops
@pytest.mark.parametrize("opening", ["", "an image of ", "a picture of ", "draw ", "a scene with ", "there is ",
                                     "Draw ", "There is ", "An image of "])
@pytest.mark.parametrize("ending", ["", "."])
def test_fillers_capitals_and_full_stops_change_nothing(opening, ending):
    scene = parse(f"{opening}a red circle left of a blue square{ending}")
    assert objects(scene.prompt) == [("circle", 1, "red", None, None), ("square", 1, "blue", None, None)]
    assert relations(scene.prompt) == [(0, "left_of", 1, None)]
    assert [g.phrase for g in scene.objects] == ["a red circle", "a blue square"]


def test_capitalised_prompt_keeps_its_words_and_reads_the_same():
    lower = parse("a red circle left of two blue squares, and no stars")
    upper = parse("A Red Circle Left Of Two Blue Squares, And No Stars")
    assert [g.phrase for g in upper.objects] == ["A Red Circle", "Two Blue Squares"]
    strip = [(g.noun, g.count, g.color) for g in lower.objects], lower.relations, lower.negations
    assert strip == ([(g.noun, g.count, g.color) for g in upper.objects], upper.relations, upper.negations)


def test_scene_prompt_is_the_input_and_parsing_is_deterministic():
    prompt = "  Two cats on a mat.  "
    assert parse(prompt).prompt == prompt
    assert parse(prompt) == parse(prompt)


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("prompt", ["", "   ", "\n\t"])
def test_empty_prompt_is_an_error(prompt):
    with pytest.raises(ValueError, match=r"is empty: a prompt must name at least one thing"):
        parse(prompt)


def test_too_many_characters_is_an_error():
    prompt = "a red circle " + "x" * MAX_PROMPT_CHARACTERS
    with pytest.raises(ValueError, match=r'prompt "a red circle x+\.\.\." has [\d,]+ characters: .*at most 10,000'):
        parse(prompt)


def test_too_many_words_is_an_error():
    prompt = " ".join(["a cat"] * (MAX_PROMPT_WORDS // 2 + 1))
    assert len(prompt) <= MAX_PROMPT_CHARACTERS
    with pytest.raises(ValueError, match=r"has 2,002 words: a prompt may have at most 2,000"):
        parse(prompt)


def test_longest_allowed_prompt_parses():
    prompt = " ".join(["a cat"] * (MAX_PROMPT_WORDS // 2))
    assert len(parse(prompt).objects) >= 1


@pytest.mark.parametrize("prompt", ["the and of", "left of the", "a picture of"])
def test_prompt_that_names_nothing_is_an_error(prompt):
    with pytest.raises(ValueError, match=rf'prompt "{prompt}" names nothing to draw: a prompt must name a thing'):
        parse(prompt)


@pytest.mark.parametrize("prompt", ["no stars", "there are no circles."])
def test_prompt_that_names_only_what_must_not_appear_is_a_scene_with_no_object(prompt):
    """compose/specs/scene-format.md (v1.1): objects may be empty when the prompt names what must not appear."""
    scene = parse(prompt)
    assert scene.objects == () and len(scene.negations) == 1


def test_counts_past_99_are_read_and_a_count_below_one_is_an_error():
    assert objects("150 cats") == [("cat", 150, None, None, None)]
    with pytest.raises(ValueError, match=r'prompt "0 cats" asks for "0" of something: a count must be a whole number'):
        parse("0 cats")


def test_non_string_prompt_is_a_type_error():
    with pytest.raises(TypeError, match="prompt must be a string, not int"):
        parse(3)


# ---------------------------------------------------------------- the pipeline
def test_pipeline_is_built_once_and_needs_no_statistical_model():
    from compose.parsing.matching import get_pipeline

    pipeline = get_pipeline()
    assert pipeline is get_pipeline()
    assert pipeline.nlp.pipe_names == []  # a blank tokenizer: rules only


def test_lexicon_rejects_a_phrase_with_two_meanings(monkeypatch):
    from compose.parsing import lexicon

    original = lexicon._data

    def data_with_clash(name):
        data = original(name)
        if name == "lexicon.json":
            data["filler"] = data["filler"] + ["left of"]
        return data

    monkeypatch.setattr(lexicon, "_data", data_with_clash)
    with pytest.raises(ValueError, match="lexicon phrase 'left of' is listed as"):
        lexicon.load_lexicon()


def test_singular_rules():
    from compose.parsing.lexicon import load_lexicon

    singular = load_lexicon().singular
    pairs = {"mice": "mouse", "boxes": "box", "shelves": "shelf", "people": "person", "berries": "berry",
             "dishes": "dish", "gloves": "glove", "stars": "star", "glass": "glass", "octopus": "octopus",
             "sheep": "sheep", "kiwis": "kiwi", "cookies": "cookie", "analysis": "analysis"}
    assert {plural: singular(plural) for plural in pairs} == pairs


def test_no_heavy_imports():
    """`import compose` loads no spaCy; parsing loads spaCy but never torch or diffusers."""
    code = (
        "import sys, compose\n"
        "assert 'spacy' not in sys.modules, 'import compose loaded spacy'\n"
        "import compose.parsing\n"
        "assert 'spacy' not in sys.modules, 'import compose.parsing loaded spacy'\n"
        "compose.parse('a red circle left of a blue square')\n"
        "assert 'spacy' in sys.modules\n"
        "heavy = [name for name in ('torch', 'diffusers', 'transformers') if name in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- the reader's pieces on their own
def items_of(prompt: str):
    """The spaCy doc and the lexicon items of `prompt`, as the reader receives them."""
    from compose.parsing.matching import get_pipeline

    pipeline = get_pipeline()
    doc = pipeline.make_doc(prompt)
    return doc, pipeline.items(doc), pipeline.lexicon


def test_a_noun_phrase_is_read_with_its_amount_describing_words_compound_noun_and_location():
    from compose.parsing.phrases import PhraseReader

    prompt = "the two small red teddy bears on the left"
    doc, items, lexicon = items_of(prompt)
    phrase = PhraseReader(prompt, doc, lexicon).read(items, 0)
    assert (phrase.determiner, phrase.count, phrase.size, phrase.color) == ("definite", 2, "small", "red")
    assert (phrase.noun, phrase.plural, phrase.location) == ("teddy bear", True, "left")
    assert phrase.text == "the two small red teddy bears" and phrase.end == len(items)

    prompt = "a cup of coffee"
    doc, items, lexicon = items_of(prompt)
    phrase = PhraseReader(prompt, doc, lexicon).read(items, 0)
    assert (phrase.noun, phrase.modifiers, phrase.text) == ("cup", ["of coffee"], "a cup of coffee")


def test_a_bare_unknown_word_starts_no_phrase_and_is_noted_for_the_error():
    from compose.parsing.phrases import PhraseReader

    prompt = "flibbertigibbet"
    doc, items, lexicon = items_of(prompt)
    reader = PhraseReader(prompt, doc, lexicon)
    assert reader.read(items, 0) is None
    assert reader.unknown_words == ["flibbertigibbet"]
    prompt = "a flibbertigibbet"  # after an article any word is a noun (open vocabulary)
    doc, items, lexicon = items_of(prompt)
    reader = PhraseReader(prompt, doc, lexicon)
    assert reader.read(items, 0).noun == "flibbertigibbet" and reader.unknown_words == []


def test_discourse_resolves_definite_mentions_and_pronouns_to_earlier_groups():
    from compose.parsing.phrases import PhraseReader
    from compose.parsing.references import Discourse

    prompt = "a red square and a blue circle. the square, it"
    doc, items, lexicon = items_of(prompt)
    phrases, discourse = PhraseReader(prompt, doc, lexicon), Discourse(lexicon)
    starts = [index for index, item in enumerate(items) if item.kind in ("INDEFINITE", "DEFINITE", "PRONOUN_SINGULAR")]
    square, circle, the_square, it = (phrases.read(items, index) for index in starts)
    assert discourse.resolve(square, set()) == ([0], [0])
    assert discourse.resolve(circle, set()) == ([1], [1])
    assert discourse.resolve(the_square, set()) == ([0], [])  # refers back, adds no group
    assert discourse.resolve(it, set()) == ([0], [])  # the nearest mention: the square just named
    assert discourse.resolve(it, {0}) == ([1], [])  # as an object, not what the relation is said of
    assert [group.noun for group in discourse.groups] == ["square", "circle"]
    assert discourse.last_noun() == "square"


def test_negations_are_read_with_their_colours_and_a_denied_relation_is_told_apart():
    from compose.parsing.negations import read_negation

    _, items, lexicon = items_of("no red or blue shapes")
    assert read_negation(items, 0, lexicon, None) == (len(items), False, [(None, "red", None), (None, "blue", None)])
    _, items, lexicon = items_of("no small ones")
    assert read_negation(items, 0, lexicon, "star") == (len(items), False, [("star", None, "small")])
    _, items, lexicon = items_of("not left of a square")
    end, denies, negated = read_negation(items, 0, lexicon, None)
    assert (items[end].kind, denies, negated) == ("RELATION", True, [])


def test_a_split_group_gives_its_parts_the_head_noun_and_checks_their_sum():
    from compose.parsing.phrases import PhraseReader
    from compose.parsing.splits import read_split

    prompt = "four squares, two red and two blue"
    doc, items, lexicon = items_of(prompt)
    phrases = PhraseReader(prompt, doc, lexicon)
    end, parts = read_split(phrases, items, phrases.read(items, 0))
    assert end == len(items)
    assert [(part.noun, part.count, part.color) for part in parts] == [("square", 2, "red"), ("square", 2, "blue")]

    prompt = "five squares, two red and two blue"
    doc, items, lexicon = items_of(prompt)
    phrases = PhraseReader(prompt, doc, lexicon)
    with pytest.raises(ValueError, match="into 2 \\+ 2 = 4, not 5"):
        read_split(phrases, items, phrases.read(items, 0))


def test_a_clause_list_takes_commas_until_its_and_closes_it():
    from compose.parsing.clauses import COMMA_AND, SUBJECT, Clause
    from compose.parsing.lexicon import AND, BREAK, COMMA

    clause = Clause(state=SUBJECT)
    assert clause.joins_list(None)  # right after a subject
    assert clause.joins_list(COMMA) and clause.list_comma
    assert clause.joins_list(AND) and clause.list_closed
    assert not clause.joins_list(AND)  # "A, B and C and D": the list was closed
    assert not Clause(state=SUBJECT).joins_list(COMMA_AND)  # ", and" with no comma before: a new clause
    assert not Clause(state=SUBJECT).joins_list(BREAK)
    clause = Clause()
    for kind in (COMMA, AND):
        clause.note_separator(kind)
    assert clause.separator == COMMA_AND
