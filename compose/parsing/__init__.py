"""Prompt parsing: read a text prompt into a typed `Scene` (compose/specs/scene-format.md, the scene JSON).

    >>> from compose.parsing import parse
    >>> parse("a small red circle to the left of two blue squares, with no stars").to_json()

Rule-based on spaCy (https://spacy.io/usage/rule-based-matching): a blank English tokenizer, a
`PhraseMatcher` and a `Matcher` over a lexicon kept as data (compose/data/lexicon*.json), and a small
grammar (compose.parsing.reader). No statistical spaCy model is needed, and none is used even when one
is installed, so a prompt parses the same everywhere. The spaCy pipeline is built on the first call.

Modules: `lexicon` (the vocabulary and the spaCy pipeline that turns a prompt into items), `reader` (the
clause state machine over those items), `clauses` (its per-clause state), `phrases` (noun phrases),
`references` (the groups read so far and what a later mention means), `lookahead` (does a relation or
a setting follow?), `splits` ("four squares, two red and two blue"), `negations`, `text` (how errors
quote a prompt, what counts as a count).
"""

from __future__ import annotations

from compose.scene import Scene

MAX_PROMPT_CHARACTERS = 10_000
MAX_PROMPT_WORDS = 2_000
EXAMPLE_PROMPT = "a red circle to the left of two blue squares"

__all__ = ["MAX_PROMPT_CHARACTERS", "MAX_PROMPT_WORDS", "check_prompt", "parse"]


def check_prompt(prompt: str) -> None:
    """Raise ValueError (naming the prompt, the rule and the fix) unless `prompt` can be parsed:
    a string that is not blank, at most MAX_PROMPT_CHARACTERS characters and MAX_PROMPT_WORDS words."""
    from compose.parsing.text import quote

    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a string, not {type(prompt).__name__}: pass the text to draw, "
                        f'e.g. "{EXAMPLE_PROMPT}"')
    if not prompt.strip():
        raise ValueError(f"prompt {prompt!r} is empty: a prompt must name at least one thing to draw, "
                         f'e.g. "{EXAMPLE_PROMPT}"')
    if len(prompt) > MAX_PROMPT_CHARACTERS:
        raise ValueError(f"prompt {quote(prompt)} has {len(prompt):,} characters: a prompt may have at most "
                         f"{MAX_PROMPT_CHARACTERS:,}; shorten it")
    words = len(prompt.split())
    if words > MAX_PROMPT_WORDS:
        raise ValueError(f"prompt {quote(prompt)} has {words:,} words: a prompt may have at most "
                         f"{MAX_PROMPT_WORDS:,}; shorten it")


def parse(prompt: str) -> Scene:
    """Read a prompt into the scene it describes: object groups (noun, count, colour, size, location,
    describing words), relations between them, negations and the background.

    A scene may have no object when it names what must not appear or a setting ("a scene without
    backpacks", "an empty beach"; compose/specs/scene-format.md, scene format v1.1). Raises ValueError for an
    empty or over-long prompt, a count that is not a whole number >= 1, a group split into parts that
    do not add up to it ("five circles: two red and two blue"), a relation with nothing after it ("a
    circle left of"), or a prompt that names nothing at all ("hello there", "a photo of", "high quality").
    """
    from compose.parsing.matching import get_pipeline
    from compose.parsing.reader import SceneReader
    from compose.parsing.text import quote

    check_prompt(prompt)
    pipeline = get_pipeline()
    doc = pipeline.make_doc(prompt)
    reader = SceneReader(prompt, doc, pipeline.items(doc), pipeline.lexicon)
    scene = reader.read()
    if not scene.objects and not scene.negations and not scene.background:
        unknown = list(dict.fromkeys(reader.unknown_words))
        hint = ""
        if unknown:
            words = ", ".join(f'"{word}"' for word in unknown[:3])
            hint = f" ({words}: no noun the parser knows; put \"a\" or a number before a thing's name)"
        raise ValueError(f"prompt {quote(prompt)} names nothing to draw{hint}: a prompt must name a thing, "
                         f'something to leave out ("no stars") or a setting, e.g. "{EXAMPLE_PROMPT}"')
    return scene
