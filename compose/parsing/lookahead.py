"""Looking ahead in a sentence: does a relation start here, or a setting (the background)?

"in a futuristic office" is the background, not a relation to an object: a background preposition
before a setting noun (lexicon_nouns.json "settings") that names no object read so far.
"""

from __future__ import annotations

from compose.parsing.lexicon import (
    FILLER, INTENSIFIER, LEADIN, PRONOUN_PLURAL, PRONOUN_SINGULAR, RECIPROCAL, RELATION, RELATIVE, WORD, Item,
)
from compose.parsing.phrases import PHRASE_OPENERS, PhraseReader
from compose.parsing.references import Discourse


class Lookahead:
    """Questions about what follows a position in a sentence; reads nothing into the scene."""

    def __init__(self, phrases: PhraseReader, discourse: Discourse):
        self.phrases = phrases
        self.discourse = discourse

    def starts_relation(self, items: list[Item], position: int) -> bool:
        while position < len(items) and items[position].kind in (LEADIN, RELATIVE):
            position += 1
        return (position < len(items) and items[position].kind == RELATION
                and self.background_at(items, position) is None)

    def background_at(self, items: list[Item], position: int) -> int | None:
        """If a setting follows the relation word at `position` ("in a futuristic office"), the item
        index after the setting's noun; else None."""
        item = items[position]
        if item.text not in self.phrases.lexicon.background_prepositions or position + 1 >= len(items):
            return None
        if items[position + 1].kind not in PHRASE_OPENERS:
            return None
        phrase = self.phrases.read(items, position + 1)
        if phrase is None or phrase.pronoun is not None or not self.phrases.lexicon.is_setting(phrase.noun):
            return None
        if phrase.determiner == "definite" and any(group.noun == phrase.noun for group in self.discourse.groups):
            return None  # "the table" named earlier is an object, not the setting
        return phrase.head_end

    def opens_picture(self, items: list[Item], position: int) -> bool:
        if position >= len(items):
            return False
        item = items[position]
        if item.kind == FILLER:
            return True
        return item.kind == RELATION and (item.value == "with" or self.background_at(items, position) is not None)

    def with_opens_clause(self, items: list[Item], position: int) -> bool:
        """ "two circles with a star between them": the phrase after "with" is related back to what
        came before ("them", "it"), so it starts a clause of its own instead of being the object of
        "with" (as in "a man with a dog on a leash")."""
        if position >= len(items) or items[position].kind not in PHRASE_OPENERS:
            return False
        phrase = self.phrases.read(items, position)
        if phrase is None or not self.starts_relation(items, phrase.end):
            return False
        index = phrase.end
        while items[index].kind in (LEADIN, RELATIVE, RELATION, WORD, INTENSIFIER) and index + 1 < len(items):
            if items[index].kind == RELATION:
                return items[index + 1].kind in (PRONOUN_SINGULAR, PRONOUN_PLURAL, RECIPROCAL)
            index += 1
        return False
