"""Groups split into parts with their own counts: "four squares, two red and two blue"."""

from __future__ import annotations

from compose.parsing.lexicon import (
    AND, COLOR, COMMA, COUNT, INDEFINITE, INTENSIFIER, LOCATION, SENTENCE_END, SIZE, STYLE, Item,
)
from compose.parsing.phrases import Phrase, PhraseReader
from compose.parsing.text import is_count, quote


def read_split(phrases: PhraseReader, items: list[Item], head: Phrase) -> tuple[int, list[Phrase]] | None:
    """A group split into parts with their own counts: "four squares, two red and two blue", "three
    stars: one yellow and two purple", "four shapes: two red squares and two blue circles". The head
    mention is no group of its own; each part is one, with the head's noun (or its own, after a
    generic head such as "shapes") and the head's colour, size, describing words and location where
    it has none. At least two parts; their counts must add up to the head's (else ValueError).
    Returns (the item index after the parts, the parts) or None when no split follows."""
    if head.count is None or head.count < 2 or head.pronoun is not None or head.end >= len(items) \
            or items[head.end].text not in phrases.lexicon.split_marks:
        return None
    parts: list[Phrase] = []
    position = head.end + 1
    while True:
        part = _read_part(phrases, items, position, head)
        if part is None:
            break
        parts.append(part)
        position = part.end
        following = position
        if following < len(items) and items[following].kind == COMMA:
            following += 1
        if following < len(items) and items[following].kind == AND:
            following += 1
        if following == position or _read_part(phrases, items, following, head) is None:
            break
        position = following
    if len(parts) < 2:
        return None
    total = sum(part.count for part in parts)
    if total != head.count:
        sums = " + ".join(str(part.count) for part in parts)
        raise ValueError(f'prompt {quote(phrases.prompt)} splits "{head.text}" into {sums} = {total}, not '
                         f"{head.count}: the parts of a group must add up to its count; change a count")
    for part in parts:
        if not part.noun or part.one_anaphora or (part.noun == "one" and part.generic):
            part.noun = head.noun
            part.generic = head.generic
        part.color = part.color or head.color
        part.size = part.size or head.size
        part.location = part.location or head.location
        part.modifiers = list(head.modifiers) + [word for word in part.modifiers if word not in head.modifiers]
    return position, parts


def _read_part(phrases: PhraseReader, items: list[Item], position: int, head: Phrase) -> Phrase | None:
    """One part of a split group at `position`: a count or "a", then describing words, then "one(s)",
    a noun of its own after a generic head, or no noun at all ("two red"). A part that names a noun
    after a head that is not generic ("three purple squares, one green square and ...") is a group of
    its own, not a part."""
    if position >= len(items) or items[position].kind not in (COUNT, INDEFINITE):
        return None
    if items[position].kind == COUNT and not is_count(items[position].value):
        return None
    phrase = phrases.read(items, position)
    if phrase is not None and (phrase.one_anaphora or head.generic) \
            and (phrase.count is not None or phrase.determiner == "indefinite"):
        if phrase.count is None:
            phrase.count = 1  # "a white one", "a kettle"
        return phrase
    if items[position].kind != COUNT:
        return None
    part = Phrase(position, position + 1, position + 1, count=items[position].value)
    index = position + 1
    while index < len(items) and items[index].kind in (COLOR, SIZE, INTENSIFIER):
        index += 1
    if index < len(items) and items[index].kind not in (COMMA, AND, LOCATION, SENTENCE_END, STYLE):
        return None  # "two red squares" after "four circles" is no part of them
    phrases.describe(items, list(range(position + 1, index)), part)
    part.text = phrases.doc[items[position].start:items[index - 1].end].text
    part.head_end = index
    if index < len(items) and items[index].kind == LOCATION:
        part.location = items[index].value
        index += 1
    part.end = index
    return part
