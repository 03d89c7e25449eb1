"""The parser's vocabulary (kept as data in compose/data/lexicon*.json) and its spaCy pipeline.

`Lexicon` is the data, checked once when it is loaded. `Pipeline` is a blank English spaCy tokenizer
(`spacy.blank("en")`: no statistical model is needed, none is used) with two matchers over it, following
spaCy's rule-based matching (https://spacy.io/usage/rule-based-matching):
- a `PhraseMatcher` on lower-cased tokens for every fixed phrase of the lexicon (colours, sizes,
  numbers, relations, fillers, negations, ...), each labelled "KIND|value";
- a token-pattern `Matcher` for absolute locations, which are built from parts
  ([preposition] [the] CORE [suffix] [of the FRAME]: "in the top left corner of the image").
`Pipeline.items(doc)` turns a tokenised prompt into a list of `Item`s: the longest match wins where
matches overlap (spaCy's `filter_spans` rule), and every other token becomes a plain word, a count
(digits), or punctuation. The grammar in compose.parsing.reader reads the items.

The pipeline is built once, on first use (`get_pipeline`), never at import.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import sys
import time
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
RECIPROCAL = "RECIPROCAL"  # "each other"
BACKGROUND_MARKER = "BACKGROUND_MARKER"  # "in the background": the phrase before it is the setting
BACKGROUND_WORD = "BACKGROUND_WORD"  # "underwater": a setting by itself
INTENSIFIER = "INTENSIFIER"  # "very" (dropped before a colour or size word)
OTHER = "OTHER"  # "other" in "the other circle"
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
    digit_count_range: tuple[int, int]
    plural_default_count: int
    sentence_breaks: frozenset[str]
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
    conjunctions = grammar["conjunctions"]
    add_each(conjunctions["and"], AND)
    add_each(conjunctions["or"], OR)
    add_each(conjunctions["clause_break"], BREAK)
    pronouns = grammar["pronouns"]
    add_each(pronouns["singular"], PRONOUN_SINGULAR)
    add_each(pronouns["plural"], PRONOUN_PLURAL)
    add_each(pronouns["reciprocal"], RECIPROCAL)
    add_each(grammar["background_markers"], BACKGROUND_MARKER)
    for word in nouns["background_words"]:
        add(word, BACKGROUND_WORD, word)
    add_each(grammar["intensifiers"], INTENSIFIER)
    add_each(grammar["other_words"], OTHER)

    locations = grammar["locations"]
    compounds = frozenset(" ".join(noun.split()) for noun in nouns["compound_nouns"])
    low, high = grammar["digit_count_range"]
    return Lexicon(
        phrases=phrases,
        location_cores={name: tuple(words) for name, words in locations["cores"].items()},
        location_prepositions=tuple(locations["prepositions"]),
        location_suffixes=tuple(locations["suffixes"]),
        location_frames=tuple(locations["frames"]),
        digit_count_range=(int(low), int(high)),
        plural_default_count=int(grammar["plural_default_count"]),
        sentence_breaks=frozenset(conjunctions["sentence_break"]),
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
    )


@contextlib.contextmanager
def _torch_kept_out():
    """Import spaCy without letting it import torch.

    thinc, spaCy's machine-learning library, runs `import torch` when it is first imported whenever
    torch is installed: seconds of start-up and hundreds of MB the rule-based parser never uses (and the
    project's rule is that parsing never imports torch). While spaCy is first imported, "torch" is
    marked missing in `sys.modules`, so thinc records that torch is unavailable; the mark is removed
    afterwards, so a later `import torch` (by the generation code) works as usual. Nothing is changed
    when spaCy or torch is already loaded. The cost: thinc's own PyTorch layers stay off in this
    process, which compose never uses.
    """
    if "spacy" in sys.modules or "torch" in sys.modules:
        yield
        return
    sys.modules["torch"] = None  # type: ignore[assignment]  # makes `import torch` raise ImportError
    try:
        yield
    finally:
        if "torch" in sys.modules and sys.modules["torch"] is None:
            del sys.modules["torch"]


class Pipeline:
    """A blank spaCy English tokenizer plus the lexicon's matchers; turns text into `Item`s."""

    def __init__(self, lexicon: Lexicon):
        with _torch_kept_out():
            import spacy
            from spacy.matcher import Matcher, PhraseMatcher

            self.nlp = spacy.blank("en")
        self.lexicon = lexicon
        strings = self.nlp.vocab.strings
        self._labels: dict[int, tuple[str, Any]] = {}

        self._location_labels: dict[str, int] = {}
        for location in lexicon.location_cores:
            label = strings.add(f"{LOCATION}|{location}")
            self._labels[label] = (LOCATION, location)
            self._location_labels[location] = label

        self.phrase_matcher = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        by_label: dict[str, list[str]] = {}
        for phrase, (kind, value) in lexicon.phrases.items():
            by_label.setdefault(f"{kind}|{value}", []).append(phrase)
            self._labels[strings.add(f"{kind}|{value}")] = (kind, value)
        for label, phrases in by_label.items():
            self.phrase_matcher.add(label, list(self.nlp.tokenizer.pipe(phrases)))

        # Locations: two token patterns, [preposition] [the] CORE-WORD+ [suffix] [of [the] FRAME]; the core
        # words a match covers name the location ("top", "left" -> top_left), or the match is dropped.
        self._location_cores: dict[tuple[str, ...], str] = {}
        for location, cores in lexicon.location_cores.items():
            for core in cores:
                self._location_cores[tuple(token.lower_ for token in self.nlp.make_doc(core))] = location
        self._location_core_words = frozenset(word for core in self._location_cores for word in core)
        self._location_suffixes = frozenset(lexicon.location_suffixes)
        preposition = {"LOWER": {"IN": list(lexicon.location_prepositions)}}
        article = {"LOWER": "the", "OP": "?"}
        core_words = {"LOWER": {"IN": sorted(self._location_core_words)}, "OP": "+"}
        suffix = {"LOWER": {"IN": list(lexicon.location_suffixes)}, "OP": "?"}
        frame = [{"LOWER": "of"}, {"LOWER": "the", "OP": "?"}, {"LOWER": {"IN": list(lexicon.location_frames)}}]
        self.location_matcher = Matcher(self.nlp.vocab)
        self.location_matcher.add(LOCATION, [[preposition, article, core_words, suffix],
                                             [preposition, article, core_words, suffix, *frame]])

    def _locations(self, doc) -> list[tuple[int, int, int]]:
        """Location matches as (label id, start, end), each naming a known location."""
        found = []
        for _match_id, start, end in self.location_matcher(doc):
            index = start + 1
            if doc[index].lower_ == "the":
                index += 1
            core_start = index
            while index < end and doc[index].lower_ in self._location_core_words:
                index += 1
            rest = [token.lower_ for token in doc[index:end]]
            if rest and rest[0] in self._location_suffixes:
                rest = rest[1:]
            if rest and rest[0] != "of":
                continue  # the pattern's parts matched in another order
            location = self._location_cores.get(tuple(token.lower_ for token in doc[core_start:index]))
            if location is not None:
                found.append((self._location_labels[location], start, end))
        return found

    def _drop_overhung_locations(self, phrase_matches, location_matches):
        """Drop a location that a relation phrase sticks out of to the right: in "a circle at the top
        left of a star" the words are the location "at the top" and the relation "left of", not the
        location "at the top left" and a stray "of"."""
        relations = [(start, end) for match_id, start, end in phrase_matches
                     if self._labels[match_id][0] == RELATION]
        return [(match_id, start, end) for match_id, start, end in location_matches
                if not any(start < rel_start < end < rel_end for rel_start, rel_end in relations)]

    def make_doc(self, text: str):
        return self.nlp.make_doc(text)

    def items(self, doc) -> list[Item]:
        """The prompt as items: longest lexicon matches first, then single tokens."""
        phrase_matches = self.phrase_matcher(doc)
        location_matches = self._locations(doc)
        if location_matches:
            location_matches = self._drop_overhung_locations(phrase_matches, location_matches)
        matches = [*phrase_matches, *location_matches]
        # longest first, then leftmost (spaCy's filter_spans rule)
        matches.sort(key=lambda match: (match[1] - match[2], match[1]))
        owner: list[tuple[int, int, int] | None] = [None] * len(doc)
        for match_id, start, end in matches:
            if all(owner[index] is None for index in range(start, end)):
                for index in range(start, end):
                    owner[index] = (match_id, start, end)

        items: list[Item] = []
        index = 0
        length = len(doc)
        while index < length:
            taken = owner[index]
            if taken is not None:
                match_id, start, end = taken
                kind, value = self._labels[match_id]
                items.append(Item(kind, value, start, end, doc[start:end].text.lower()))
                index = end
                continue
            items.append(self._token_item(doc, index))
            index += 1
        return _merge_hyphenated_words(doc, items)

    def _token_item(self, doc, index: int) -> Item:
        token = doc[index]
        text = token.lower_
        if token.is_space:
            kind = SENTENCE_END if "\n" in text else PUNCTUATION
            return Item(kind, None, index, index + 1, text)
        if text in self.lexicon.sentence_breaks:
            return Item(SENTENCE_END, None, index, index + 1, text)
        if text == ",":
            return Item(COMMA, None, index, index + 1, text)
        if text.isdigit():
            return Item(COUNT, int(text), index, index + 1, text)
        if token.is_punct or text in ("'s", "’s", "'", "’"):
            return Item(PUNCTUATION, None, index, index + 1, text)
        return Item(WORD, text, index, index + 1, text)


def _merge_hyphenated_words(doc, items: list[Item]) -> list[Item]:
    """Join "teddy - bear" (written "teddy-bear") into one word, as it was typed."""
    merged: list[Item] = []
    index = 0
    while index < len(items):
        item = items[index]
        if (item.kind == WORD and index + 2 < len(items) and items[index + 1].text == "-"
                and items[index + 2].kind == WORD and not doc[item.end - 1].whitespace_
                and not doc[items[index + 1].start].whitespace_):
            last = items[index + 2]
            text = f"{item.text}-{last.text}"
            merged.append(Item(WORD, text, item.start, last.end, text))
            index += 3
            continue
        merged.append(item)
        index += 1
    return merged


@functools.lru_cache(maxsize=1)
def get_pipeline() -> Pipeline:
    """The parser's pipeline, built on first use and kept for the life of the process."""
    start = time.perf_counter()
    pipeline = Pipeline(load_lexicon())
    logger.debug("built the prompt parser's spaCy pipeline in %.2f s", time.perf_counter() - start)
    return pipeline
