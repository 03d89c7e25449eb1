"""Negations: "no stars", "without any red or blue shapes", "nothing yellow", "not left of"."""

from __future__ import annotations

from compose.parsing.lexicon import (
    AND, COLOR, COMMA, COUNT, DEFINITE, FILLER, INDEFINITE, INTENSIFIER, LEADIN, LOCATION, NEGATION_NOTHING, OR,
    OTHER, RELATION, RELATIVE, SIZE, WORD, Item, Lexicon,
)


def read_negation(items: list[Item], position: int, lexicon: Lexicon,
                  last_noun: str | None) -> tuple[int, bool, list[tuple[str | None, str | None, str | None]]]:
    """ "no stars", "without any red or blue shapes", "nothing yellow"; "not left of" denies the
    relation that follows.

    Returns the item index after the negation, whether it denies the relation that follows, and
    the things it negates as (noun, colour, size), noun None for "no yellow shapes". `last_noun` is
    the noun of the group mentioned last, for "no red ones"."""
    length = len(items)
    negated: list[tuple[str | None, str | None, str | None]] = []
    index = position + 1
    if items[position].kind == NEGATION_NOTHING:
        if index < length and items[index].kind == COLOR:  # "nothing yellow"; a bare "nothing" denies nothing
            negated.append((None, items[index].value, None))
            index += 1
        return index, False, negated
    look = index
    while look < length and items[look].kind in (LEADIN, RELATIVE):
        look += 1
    if look < length and items[look].kind == RELATION:
        return look, True, negated  # "not left of": no relation is recorded
    while True:
        while index < length and (items[index].kind in (DEFINITE, INDEFINITE, FILLER)
                                  or (items[index].kind == COUNT and items[index].value == 1)):
            index += 1
        colors: list[str] = []
        sizes: list[str] = []
        words: list[Item] = []
        while index < length:
            kind = items[index].kind
            if kind == COLOR:
                colors.append(items[index].value)
            elif kind == SIZE:
                sizes.append(items[index].value)
            elif kind in (INTENSIFIER, OTHER):
                pass
            elif kind == WORD and items[index].text not in lexicon.boundary_words:
                words.append(items[index])
            elif kind in (AND, OR, COMMA) and colors and not words and index + 1 < length \
                    and items[index + 1].kind == COLOR:
                pass  # "no red or blue shapes"
            else:
                break
            index += 1
        if not colors and not words and not sizes:
            break
        noun = None
        if words:
            texts = [word.text.replace("-", " ") for word in words]
            last = lexicon.singular(texts[-1])
            compound = " ".join(texts[-2:-1] + [last])
            if texts[-1] in ("one", "ones"):
                noun = last_noun  # "no red ones"
            elif len(texts) >= 2 and compound in lexicon.compound_nouns:
                noun = compound
            elif texts[-1] not in lexicon.generic_nouns:
                noun = last
        elif index < length and items[index].kind == COUNT and items[index].text == "one":
            noun = last_noun  # "no small one"
            index += 1
        for color in colors or [None]:
            negated.append((noun, color, sizes[0] if sizes else None))
        if index < length and items[index].kind == LOCATION:
            index += 1
        if (index + 1 < length and items[index].kind in (AND, OR, COMMA)
                and items[index + 1].kind in (COLOR, WORD)):
            index += 1  # "no stars or squares"
            continue
        break
    return index, False, negated
