"""The parser's spaCy pipeline: a blank English tokenizer and the lexicon's matchers, turning text into `Item`s.

`Pipeline` is a blank English spaCy tokenizer (`spacy.blank("en")`: no statistical model is needed,
none is used) with two matchers over it, following spaCy's rule-based matching
(https://spacy.io/usage/rule-based-matching):
- a `PhraseMatcher` on lower-cased tokens for every fixed phrase of the lexicon (colours, sizes,
  numbers, relations, fillers, negations, ...), each labelled "KIND|value";
- a token-pattern `Matcher` for absolute locations, which are built from parts
  ([preposition] [the] CORE [suffix] [of the FRAME]: "in the top left corner of the image").
`Pipeline.items(doc)` turns a tokenised prompt into a list of `Item`s: the longest match wins where
matches overlap (spaCy's `filter_spans` rule), and every other token becomes a plain word, a count
(digits), or punctuation. Three passes over the items then read what needs more than one phrase of the
lexicon: cardinal numbers said in words ("twenty-one", "two dozen", "one hundred"), the framing that
opens a prompt ("a realistic photo of a scene with", lexicon.json "framing"), and style fragments
("in the style of van gogh", ", cartoon style"). The grammar in compose.parsing.reader reads the items.

The pipeline is built once, on first use (`get_pipeline`), never at import.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import sys
import time
from typing import Any

from compose.parsing.lexicon import (
    AND,
    BREAK,
    COLOR,
    COMMA,
    COUNT,
    DEFINITE,
    FILLER,
    FRAMING,
    INDEFINITE,
    INTENSIFIER,
    Item,
    LOCATION,
    Lexicon,
    NEGATION,
    NEGATION_NOTHING,
    OR,
    PRONOUN_PLURAL,
    PRONOUN_SINGULAR,
    PUNCTUATION,
    RELATION,
    RELATION_TO_ITS,
    SENTENCE_END,
    SIZE,
    STYLE,
    STYLE_OF,
    WORD,
    load_lexicon,
)

logger = logging.getLogger(__name__)
_SIGNED_OR_DECIMAL = re.compile(r"[-+]?\d*\.?\d+")


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
        items = _merge_hyphenated_words(doc, items)
        items = self._merge_numbers(doc, items)
        items = self._split_relations_to_its(items)
        items = self._read_style(doc, items)
        return self._read_framing(doc, items)

    # ------------------------------------------------------------------ cardinal numbers
    def _number_role(self, item: Item) -> str | None:
        """How a count said in words combines with its neighbours: "unit" (1-19), "tens" (20, ..., 90),
        "scale" (dozen, hundred, thousand: they multiply what comes before), or None (digits, and fixed
        phrases such as "a pair of", which stand alone)."""
        if item.kind != COUNT or not item.text[:1].isalpha():
            return None
        last_word = item.text.split()[-1]
        if last_word in self.lexicon.number_scales and item.text in (last_word, "a " + last_word):
            return "scale"
        if " " in item.text:
            return None
        if item.value in self.lexicon.number_tens:
            return "tens"
        return "unit" if 1 <= item.value <= 19 else None

    def _merge_numbers(self, doc, items: list[Item]) -> list[Item]:
        """Join the words of one cardinal number into one count item (lexicon.json "number_words_about"):
        "twenty-one" and "twenty one" (21), "two dozen" (24), "one hundred" (100), "a hundred and five"
        (105). Words that do not combine ("two, one") stay apart."""
        merged: list[Item] = []
        index = 0
        while index < len(items):
            role = self._number_role(items[index])
            if role is None:
                merged.append(items[index])
                index += 1
                continue
            total, current, last_role = 0, items[index].value, role
            end = index + 1
            while end < len(items):
                step = end
                if (items[step].text == "-" and step + 1 < len(items) and not doc[items[step - 1].end - 1].whitespace_
                        and not doc[items[step].start].whitespace_):
                    step += 1  # "twenty-one"
                elif items[step].kind == AND and last_role == "scale" and step + 1 < len(items):
                    step += 1  # "a hundred and five"
                following = items[step]
                next_role = self._number_role(following)
                if next_role == "unit" and (last_role == "tens" and following.value <= 9 or last_role == "scale"):
                    current += following.value
                elif next_role == "tens" and last_role == "scale":
                    current += following.value
                elif next_role == "scale" and last_role in ("unit", "tens") and following.text.split()[0] != "a":
                    scale = following.value
                    if scale >= 1000:
                        total, current = total + current * scale, 0
                    else:
                        current *= scale
                else:
                    break
                last_role = next_role
                end = step + 1
            if end == index + 1:
                merged.append(items[index])
            else:
                start, stop = items[index].start, items[end - 1].end
                merged.append(Item(COUNT, total + current, start, stop, doc[start:stop].text.lower()))
            index = end
        return merged

    # ------------------------------------------------------------------ relations to "its" side
    @staticmethod
    def _split_relations_to_its(items: list[Item]) -> list[Item]:
        """ "a square to its right": the relation, then the pronoun it names (its: singular, their: plural)."""
        if not any(item.kind == RELATION_TO_ITS for item in items):
            return items
        split: list[Item] = []
        for item in items:
            if item.kind != RELATION_TO_ITS:
                split.append(item)
                continue
            predicate, number = item.value
            split.append(Item(RELATION, predicate, item.start, item.end, item.text))
            kind = PRONOUN_SINGULAR if number == "singular" else PRONOUN_PLURAL
            split.append(Item(kind, None, item.end, item.end, "it" if number == "singular" else "them"))
        return split

    # ------------------------------------------------------------------ style and framing
    def _read_style(self, doc, items: list[Item]) -> list[Item]:
        """Style fragments as one STYLE item each (lexicon.json "style"): "in the style of" with the words
        after it up to a comma, a clause break or a new phrase ("in the style of van gogh"); a fragment
        after a comma that ends in a style suffix ("cartoon style")."""
        if not any(item.kind == STYLE_OF or item.text in self.lexicon.style_suffixes for item in items):
            return items
        read: list[Item] = []
        index = 0
        stops = (COMMA, SENTENCE_END, BREAK, NEGATION, NEGATION_NOTHING)
        while index < len(items):
            item = items[index]
            if item.kind == STYLE_OF:
                end = index + 1
                while end < len(items) and items[end].kind not in stops and not (
                        items[end].kind in (AND, OR) and end + 1 < len(items)
                        and items[end + 1].kind in (INDEFINITE, DEFINITE, COUNT)):
                    end += 1
                read.append(self._style_item(doc, items[index].start, items[end - 1].end))
                index = end
                continue
            if item.kind == WORD and item.text in self.lexicon.style_suffixes and read:
                first = len(read)
                while first > 0 and read[first - 1].kind in (WORD, STYLE, COLOR) \
                        and read[first - 1].text not in self.lexicon.boundary_words:
                    first -= 1
                after = items[index + 1].kind if index + 1 < len(items) else None
                if first < len(read) and first > 0 and read[first - 1].kind == COMMA and after in (None, COMMA, SENTENCE_END):
                    start = read[first].start
                    del read[first:]
                    read.append(self._style_item(doc, start, item.end))
                    index += 1
                    continue
            read.append(item)
            index += 1
        return read

    @staticmethod
    def _style_item(doc, start: int, end: int) -> Item:
        text = doc[start:end].text.lower()
        return Item(STYLE, " ".join(text.split()), start, end, text)

    def _medium_at(self, items: list[Item], index: int) -> int:
        """How many items from `index` name a picture medium ("photo", "3D render"): 2, 1 or 0."""
        for size in (2, 1):
            if index + size <= len(items) and \
                    " ".join(item.text for item in items[index:index + size]) in self.lexicon.framing_media:
                return size
        return 0

    def _link_at(self, items: list[Item], index: int) -> int:
        """How many items from `index` link a medium to what it shows ("of", "in which"): 2, 1 or 0."""
        for size in (2, 1):
            if index + size <= len(items) and \
                    " ".join(item.text for item in items[index:index + size]) in self.lexicon.framing_links:
                return size
        return 0

    def _framing_at(self, items: list[Item], index: int) -> tuple[int, str | None] | None:
        """A framing phrase starting at `index`: [a|an] [style words] MEDIUM (LINK | before a negation,
        a comma, a style word or the end). Returns (the item index after it, its style words) or None."""
        position = index
        if items[position].kind == INDEFINITE and items[position].text in ("a", "an"):
            position += 1
        style_start = position
        for medium_start in range(position, min(position + 6, len(items))):
            size = self._medium_at(items, medium_start)
            if size:
                after = medium_start + size
                link = self._link_at(items, after)
                follows = items[after].kind if after < len(items) else None
                if link or follows in (None, NEGATION, NEGATION_NOTHING, COMMA, SENTENCE_END, STYLE):
                    if link == 0 and position == index:
                        return None  # a bare "photo" with nothing after it is a word, not framing
                    style = None
                    if medium_start > style_start:
                        style = " ".join(item.text for item in items[style_start:medium_start])
                    return after + link, style
            item = items[medium_start]
            if item.kind not in (WORD, COLOR, STYLE, INTENSIFIER, SIZE, COUNT) or item.text in self.lexicon.boundary_words:
                return None
        return None

    def _read_framing(self, doc, items: list[Item]) -> list[Item]:
        """The framing at the start of each sentence ("a realistic photo of a scene with") as FRAMING items,
        after any filler ("can you draw"); a medium later in a sentence is an ordinary word ("a cat and a
        painting of a dog")."""
        read: list[Item] = []
        opening = True
        index = 0
        while index < len(items):
            item = items[index]
            if opening:
                found = self._framing_at(items, index)
                if found is not None:
                    end, style = found
                    start, stop = item.start, items[end - 1].end
                    read.append(Item(FRAMING, style, start, stop, doc[start:stop].text.lower()))
                    index = end
                    continue
            if item.kind == SENTENCE_END:
                opening = True
            elif item.kind not in (FILLER, PUNCTUATION, COMMA, STYLE):
                opening = False
            read.append(item)
            index += 1
        return read

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
        if _SIGNED_OR_DECIMAL.fullmatch(text):
            return Item(COUNT, float(text), index, index + 1, text)  # "-3", "2.5": no count (the reader says so)
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
