"""The parser's vocabulary, kept as data in compose/data/lexicon*.json: the kinds of item a word or phrase
can be, `Item`, and `Lexicon` (the data, checked once when it is loaded). The spaCy pipeline that turns
text into items is compose.parsing.matching.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from importlib import resources
from typing import Any

logger = logging.getLogger(__name__)



# Item kinds: what a word or a matched phrase does in a prompt.
FILLER = "FILLER"  # "an image of", "draw", "there is": carries nothing
DEFINITE = "DEFINITE"  # "the", "these": the phrase may refer back to a group
INDEFINITE = "INDEFINITE"  # "a", "an", "another": a new group
COUNT = "COUNT"  # "two", "a pair of", "3": value is the number
VAGUE = "VAGUE"  # "several", "a few": value is the planning default count
COLOR = "COLOR"
SIZE = "SIZE"  # value is small | medium | large
RELATION = "RELATION"  # "left of", "on top of", "holding": value is the predicate
LEADIN = "LEADIN"  # "is", "are sitting", "located": between a subject and its relation
RELATIVE = "RELATIVE"  # "which is", "that": the next relation's subject is the phrase just read
LOCATION = "LOCATION"  # "on the left", "in the top right corner": value is the location
NEGATION = "NEGATION"  # "no", "without any", "there are no"
NEGATION_NOTHING = "NEGATION_NOTHING"  # "nothing" ("nothing yellow")
AND = "AND"
OR = "OR"
BREAK = "BREAK"  # "but", "while": a new clause
COMMA = "COMMA"
SENTENCE_END = "SENTENCE_END"
PRONOUN_SINGULAR = "PRONOUN_SINGULAR"  # "it"
PRONOUN_PLURAL = "PRONOUN_PLURAL"  # "them", "they"
PRONOUN_PERSON = "PRONOUN_PERSON"  # "she", "he": the nearest person
RECIPROCAL = "RECIPROCAL"  # "each other"
BACKGROUND_MARKER = "BACKGROUND_MARKER"  # "in the background": the phrase before it is the setting
BACKGROUND_WORD = "BACKGROUND_WORD"  # "underwater": a setting by itself
INTENSIFIER = "INTENSIFIER"  # "very" (dropped before a colour or size word)
OTHER = "OTHER"  # "other" in "the other circle"
STYLE = "STYLE"  # "realistic", "4k", "in the style of van gogh": value is the words as written
STYLE_OF = "STYLE_OF"  # "in the style of": takes the words after it (made into a STYLE item)
FRAMING = "FRAMING"  # "a realistic photo of": value is its style words ("realistic") or None
RELATION_TO_ITS = "RELATION_TO_ITS"  # "to its right": value is (predicate, "singular" | "plural")
WORD = "WORD"  # any other word: a noun or a describing word
PUNCTUATION = "PUNCTUATION"  # quotes, brackets, stray hyphens: ignored


@dataclass(frozen=True)
class Item:
    """One word or matched phrase of a prompt: tokens [start, end) of the doc, its kind and value."""

    kind: str
    value: Any
    start: int
    end: int
    text: str  # lower-cased words of the item


@dataclass(frozen=True)
class Lexicon:
    """Everything the parser knows about English words; loaded from compose/data/lexicon*.json."""

    phrases: dict[str, tuple[str, Any]]  # lower-cased phrase -> (item kind, value)
    location_cores: dict[str, tuple[str, ...]]
    location_prepositions: tuple[str, ...]
    location_suffixes: tuple[str, ...]
    location_frames: tuple[str, ...]
    number_tens: frozenset[int]
    number_scales: dict[str, int]
    plural_default_count: int
    sentence_breaks: frozenset[str]
    split_marks: frozenset[str]
    generic_nouns: frozenset[str]
    relation_intensifiers: frozenset[str]
    boundary_words: frozenset[str]
    background_prepositions: frozenset[str]
    background_only_prepositions: frozenset[str]
    irregular_plurals: dict[str, str]
    invariant_nouns: frozenset[str]
    singular_nouns_ending_in_s: frozenset[str]
    ing_nouns: frozenset[str]
    colour_nouns: frozenset[str]
    compound_nouns: frozenset[str]
    compound_max_words: int
    settings: frozenset[str]
    picture_nouns: frozenset[str]
    framing_media: frozenset[str]
    framing_links: frozenset[str]
    style_suffixes: frozenset[str]
    common_nouns: frozenset[str]
    not_nouns: frozenset[str]
    person_nouns: frozenset[str]
    known_nouns: frozenset[str]  # every noun the lexicon names, singular (see `is_known_noun`)

    def singular(self, word: str) -> str:
        """The singular of a lower-cased noun: "mice" -> "mouse", "boxes" -> "box", "sheep" -> "sheep".

        Irregular and look-alike nouns come from the lexicon; the rest follow English suffix rules.
        """
        if word in self.irregular_plurals:
            return self.irregular_plurals[word]
        if word in self.invariant_nouns or word in self.singular_nouns_ending_in_s or len(word) <= 3:
            return word
        if word.endswith("ies") and len(word) > 4:
            return word[:-3] + "y"
        if word.endswith(("ches", "shes", "xes", "sses", "zzes")):
            return word[:-2]
        if word.endswith(("ss", "us", "sis", "'s")):
            return word
        if word.endswith("s"):
            return word[:-1]
        return word

    def is_known_noun(self, noun: str) -> bool:
        """Whether a singular noun (or its last word) is one the lexicon knows as a thing: a common noun,
        a compound, a setting, a person, the singular of an irregular plural or a noun with a proportion
        (lexicon_nouns.json "common_nouns_about" gives the rule this serves)."""
        return noun in self.known_nouns or noun.rsplit(" ", 1)[-1] in self.known_nouns

    def is_setting(self, noun: str) -> bool:
        """Whether a noun names a place or time that fills the picture ("office", "moon", "night")."""
        return noun in self.settings or noun.rsplit(" ", 1)[-1] in self.settings


def _data(name: str) -> dict[str, Any]:
    with resources.files("compose").joinpath("data", name).open(encoding="utf-8") as handle:
        return json.load(handle)


def load_lexicon() -> Lexicon:
    """Read compose/data/lexicon.json and lexicon_nouns.json into a `Lexicon`.

    Raises ValueError when one phrase is given two meanings, so that the data cannot silently
    depend on which match spaCy reports first.
    """
    grammar = _data("lexicon.json")
    nouns = _data("lexicon_nouns.json")
    phrases: dict[str, tuple[str, Any]] = {}

    def add(phrase: str, kind: str, value: Any = None) -> None:
        key = " ".join(phrase.lower().split())
        if key in phrases and phrases[key] != (kind, value):
            raise ValueError(f"lexicon phrase {key!r} is listed as {phrases[key]} and as {(kind, value)}: "
                             "give each phrase one meaning in compose/data/lexicon.json")
        phrases[key] = (kind, value)

    def add_each(words: list[str], kind: str) -> None:
        """Add every phrase of a word list that carries no value (a determiner, a conjunction...)."""
        for word in words:
            add(word, kind)

    for color in grammar["colors"]:
        add(color, COLOR, color)
    for size, words in grammar["sizes"].items():
        for word in words:
            add(word, SIZE, size)
    for phrase, number in grammar["numbers"].items():
        add(phrase, COUNT, number)
    for phrase, number in grammar["vague_quantities"].items():
        if phrase != "about":
            add(phrase, VAGUE, number)
    add_each(grammar["indefinite_determiners"], INDEFINITE)
    add_each(grammar["definite_determiners"], DEFINITE)
    for predicate, words in grammar["relations"].items():
        for word in words:
            add(word, RELATION, predicate)
    for predicate, words in grammar["verb_relations"].items():
        if predicate != "about":
            for word in words:
                add(word, RELATION, predicate)
    for word in grammar["background_only_prepositions"]:
        if word not in phrases:
            add(word, RELATION, word)
    add_each(grammar["relation_leadins"]["words"], LEADIN)
    add_each(grammar["relation_leadins"]["relative"], RELATIVE)
    for location, words in grammar["locations"]["extra_phrases"].items():
        for word in words:
            add(word, LOCATION, location)
    add_each(grammar["negations"], NEGATION)
    add_each(grammar["negation_nothing"], NEGATION_NOTHING)
    add_each(grammar["filler"], FILLER)
    style = grammar["style"]
    for phrase in style["phrases"]:
        add(phrase, STYLE, " ".join(phrase.lower().split()))
    add_each(style["of_phrases"], STYLE_OF)
    for predicate, numbers in grammar["relations_to_its"].items():
        for number, words in numbers.items():
            for word in words:
                add(word, RELATION_TO_ITS, (predicate, number))
    conjunctions = grammar["conjunctions"]
    add_each(conjunctions["and"], AND)
    add_each(conjunctions["or"], OR)
    add_each(conjunctions["clause_break"], BREAK)
    pronouns = grammar["pronouns"]
    add_each(pronouns["singular"], PRONOUN_SINGULAR)
    add_each(pronouns["plural"], PRONOUN_PLURAL)
    add_each(pronouns["reciprocal"], RECIPROCAL)
    add_each(pronouns["person"], PRONOUN_PERSON)
    add_each(grammar["background_markers"], BACKGROUND_MARKER)
    for word in nouns["background_words"]:
        add(word, BACKGROUND_WORD, word)
    add_each(grammar["intensifiers"], INTENSIFIER)
    add_each(grammar["other_words"], OTHER)

    locations = grammar["locations"]
    compounds = frozenset(" ".join(noun.split()) for noun in nouns["compound_nouns"])
    framing = grammar["framing"]
    common = frozenset(word for words in nouns["common_nouns"].values() for word in words)
    persons = frozenset(nouns["person_nouns"])
    proportion_nouns = frozenset(_data("proportions.json")["aspect_ratios"])
    known = (common | compounds | persons | proportion_nouns | frozenset(nouns["settings"])
             | frozenset(nouns["irregular_plurals"].values()) | frozenset(nouns["invariant_nouns"])
             | frozenset(nouns["colour_nouns"])
             | frozenset(nouns["picture_nouns"]))
    return Lexicon(
        phrases=phrases,
        location_cores={name: tuple(words) for name, words in locations["cores"].items()},
        location_prepositions=tuple(locations["prepositions"]),
        location_suffixes=tuple(locations["suffixes"]),
        location_frames=tuple(locations["frames"]),
        number_tens=frozenset(int(value) for value in grammar["number_tens"]),
        number_scales={word: int(value) for word, value in grammar["number_scales"].items()},
        plural_default_count=int(grammar["plural_default_count"]),
        sentence_breaks=frozenset(conjunctions["sentence_break"]),
        split_marks=frozenset(conjunctions["split_marks"]),
        generic_nouns=frozenset(grammar["generic_nouns"]),
        relation_intensifiers=frozenset(grammar["relation_intensifiers"]),
        boundary_words=frozenset(grammar["boundary_words"]),
        background_prepositions=frozenset(grammar["background_prepositions"]),
        background_only_prepositions=frozenset(grammar["background_only_prepositions"]),
        irregular_plurals=dict(nouns["irregular_plurals"]),
        invariant_nouns=frozenset(nouns["invariant_nouns"]),
        singular_nouns_ending_in_s=frozenset(nouns["singular_nouns_ending_in_s"]),
        ing_nouns=frozenset(nouns["ing_nouns"]),
        colour_nouns=frozenset(nouns["colour_nouns"]),
        compound_nouns=compounds,
        compound_max_words=max(len(noun.split()) for noun in compounds),
        settings=frozenset(nouns["settings"]),
        picture_nouns=frozenset(nouns["picture_nouns"]),
        framing_media=frozenset(" ".join(word.lower().split()) for word in framing["media"]),
        framing_links=frozenset(" ".join(word.lower().split()) for word in framing["links"]),
        style_suffixes=frozenset(style["suffixes"]),
        common_nouns=common,
        not_nouns=frozenset(nouns["not_nouns"]),
        person_nouns=persons,
        known_nouns=known - frozenset(nouns["not_nouns"]),
    )
