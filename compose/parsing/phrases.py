"""Noun phrases: where one starts, what its noun is, and the words that describe it.

A phrase is read from the items of a sentence (compose.parsing.lexicon): a determiner or a count (or a
vague amount: "several"), describing words (colour, size, other words), the head noun (a compound noun
takes several words: "teddy bear"; "a cup of coffee" keeps its of-phrase as a describing word), and a
location right after it ("the circle on the left"). "it", "them" and "she" are phrases of one pronoun.
A word standing bare is a thing only when the noun lexicon knows it (`PhraseReader.names_a_thing`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from compose.parsing.lexicon import (
    AND, COLOR, COUNT, DEFINITE, INDEFINITE, INTENSIFIER, LOCATION, OR, OTHER, PRONOUN_PERSON, PRONOUN_PLURAL,
    PRONOUN_SINGULAR, RELATION, SIZE, STYLE, VAGUE, WORD, Item, Lexicon,
)
from compose.parsing.text import is_count, quote

PHRASE_PARTS = frozenset((COLOR, SIZE, WORD, INTENSIFIER, OTHER, STYLE))
PHRASE_OPENERS = frozenset((DEFINITE, INDEFINITE, COUNT, VAGUE, COLOR, SIZE, WORD, INTENSIFIER, OTHER,
                            PRONOUN_SINGULAR, PRONOUN_PLURAL, PRONOUN_PERSON))
PRONOUNS = {PRONOUN_SINGULAR: "singular", PRONOUN_PLURAL: "plural", PRONOUN_PERSON: "person"}  # "it", "them", "she"


@dataclass
class Phrase:
    """A noun phrase as read: items [first, end) of the sentence, `head_end` just after its noun."""

    first: int
    end: int
    head_end: int
    determiner: str | None = None  # "definite" | "indefinite" | None
    count: int | None = None  # a number said in the phrase
    vague: int | None = None  # the default count of "several", "a few", ...
    color: str | None = None
    size: str | None = None
    modifiers: list[str] = field(default_factory=list)
    noun: str = ""
    plural: bool = False
    generic: bool = False  # "shape", "object", "one": fits any noun
    one_anaphora: bool = False  # "a red one": the noun is the one just mentioned
    other: bool = False  # "the other circle"
    location: str | None = None
    text: str = ""  # the words as written, determiner to noun (style words left out)
    pronoun: str | None = None  # "singular" ("it") | "plural" ("them") | "person" ("she")
    styles: list[str] = field(default_factory=list)  # style words inside the phrase ("a realistic dog")


class PhraseReader:
    """Reads noun phrases out of one prompt's items. It keeps no state of the scene; it only notes the
    bare words it read as no noun (`unknown_words`, for the error of a prompt that names nothing)."""

    def __init__(self, prompt: str, doc, lexicon: Lexicon):
        self.prompt = prompt
        self.doc = doc
        self.lexicon = lexicon
        self.unknown_words: list[str] = []  # bare words read as no noun ("hello"), for the error message

    def read(self, items: list[Item], position: int) -> Phrase | None:
        """The noun phrase starting at `position`, or None if no noun phrase starts there."""
        item = items[position]
        if item.kind in PRONOUNS:
            return Phrase(position, position + 1, position + 1, pronoun=PRONOUNS[item.kind], text=item.text)
        phrase = Phrase(position, position, position)
        index = position
        if item.kind == DEFINITE:
            phrase.determiner = "definite"
            index += 1
        elif item.kind == INDEFINITE:
            phrase.determiner = "indefinite"
            index += 1
        content: list[int] = []  # item indices of describing words and the noun
        index = self._read_amount(items, index, phrase, content)
        if index is None:
            return None
        if not content:
            index = self._read_describing_words(items, index, content)
        styles = [i for i in content if items[i].kind == STYLE]
        if styles:
            phrase.styles = [items[i].value for i in styles]  # "a realistic dog": style, not a describing word
            content = [i for i in content if items[i].kind != STYLE]
        if not content:
            return None
        words = [i for i in content if items[i].kind == WORD]
        if len(words) >= 2 and content[-1] == words[-1] and self.verb_like(items, content[-1], within=True):
            content.pop()  # "a dog fetching a stick": the phrase is "a dog"
            if not content:
                return None
        head_end_item = self._read_head(items, content, phrase)
        if head_end_item is None:
            return None
        index, end_token = self._read_of_phrase(items, head_end_item + 1, phrase, items[head_end_item].end)
        phrase.head_end = index
        phrase.text = self.doc[items[position].start:end_token].text
        if styles:  # the words as written, without the style words among them
            kept = [item for item in items[position:index] if item.kind != STYLE and item.start < end_token]
            phrase.text = " ".join(self.doc[item.start:item.end].text for item in kept)
        if index < len(items) and items[index].kind == LOCATION:
            phrase.location = items[index].value
            index += 1
        phrase.end = index
        return phrase

    def _read_amount(self, items: list[Item], index: int, phrase: Phrase, content: list[int]) -> int | None:
        """A count ("two", "3") or a vague amount ("several") at `index`, into `phrase`; "the one" is a
        noun, put in `content`. The index after it, or None when a number that is no count starts no
        phrase ("2.5 percent"); a number that is no count before describing words is an error."""
        length = len(items)
        if index < length and items[index].kind == COUNT:
            count_item = items[index]
            follows = items[index + 1].kind if index + 1 < length else None
            if count_item.text == "one" and phrase.determiner is not None and follows not in PHRASE_PARTS:
                content.append(index)  # "the one on the left"
                index += 1
            else:
                if not is_count(count_item.value):
                    if follows in PHRASE_PARTS:
                        raise ValueError(
                            f'prompt {quote(self.prompt)} asks for "{count_item.text}" of something: a count '
                            "must be a whole number of at least 1 (\"two\", \"3\", \"a dozen\"); to leave "
                            'something out, say "no"')
                    return None
                phrase.count = count_item.value
                index += 1
        elif index < length and items[index].kind == VAGUE:
            phrase.vague = items[index].value
            index += 1
        return index

    def _read_describing_words(self, items: list[Item], index: int, content: list[int]) -> int:
        """The describing words and the noun from `index` on, appended to `content`; the index after them."""
        length = len(items)
        while index < length:
            kind = items[index].kind
            if self.intensifies_relation(items, index):
                break
            if kind in PHRASE_PARTS and not (kind == WORD and items[index].text in self.lexicon.boundary_words):
                content.append(index)
                index += 1
            elif kind == COUNT and items[index].text == "one" and content:
                content.append(index)  # "a blue one"
                index += 1
                break
            elif (kind in (AND, OR) and content and items[content[-1]].kind == COLOR and index + 1 < length
                  and items[index + 1].kind == COLOR):
                index += 1  # "a black and white cat"
            else:
                break
        return index

    def _read_head(self, items: list[Item], content: list[int], phrase: Phrase) -> int | None:
        """The head noun at the end of `content` into `phrase` (noun, number, generic or "one"), and
        the describing words before it; the item index of the noun's last word, or None when the head
        names no thing."""
        lexicon = self.lexicon
        head_start = self.head_start(items, content)
        if head_start is None:
            return None
        head_items = content[head_start:]
        head_words = [items[i].text for i in head_items]
        last_word = head_words[-1]
        singular = lexicon.singular(last_word)
        if last_word in ("one", "ones"):
            phrase.one_anaphora = True
            phrase.generic = True
            singular = "one"
        if len(head_items) > 1 or self.compound(singular):
            phrase.noun = " ".join([word.replace("-", " ") for word in head_words[:-1]] + [singular.replace("-", " ")])
        else:
            phrase.noun = singular  # "x-ray" keeps its hyphen; "teddy-bear" is the compound "teddy bear"
        phrase.plural = singular != last_word or last_word == "ones"
        phrase.generic = phrase.generic or last_word in lexicon.generic_nouns
        self.describe(items, content[:head_start], phrase)
        if not self.names_a_thing(phrase, items[head_items[-1]], singular):
            return None
        return head_items[-1]

    def _read_of_phrase(self, items: list[Item], index: int, phrase: Phrase, end_token: int) -> tuple[int, int]:
        """ "a cup of coffee": an of-phrase right after the noun belongs to it, as a describing word.
        Returns the item index and the token index where the phrase now ends."""
        length = len(items)
        if (index + 1 < length and items[index].kind == WORD and items[index].text == "of"
                and not phrase.one_anaphora):
            tail = index + 1
            if items[tail].kind in (DEFINITE, INDEFINITE) and tail + 1 < length:
                tail += 1
            tail_words = []
            while tail < length and items[tail].kind in (WORD, COLOR) \
                    and items[tail].text not in self.lexicon.boundary_words:
                tail_words.append(items[tail].text)
                tail += 1
            if tail_words:
                phrase.modifiers.append(self.doc[items[index].start:items[tail - 1].end].text.lower())
                end_token = items[tail - 1].end
                index = tail
        return index, end_token

    def names_a_thing(self, phrase: Phrase, head: Item, singular: str) -> bool:
        """Whether a phrase's head word is a noun (lexicon_nouns.json "common_nouns_about"): never a word of
        "not_nouns" ("something", "hello"); a word standing bare, with no article, number, colour or size
        before it, only when the lexicon knows it as a noun; anything else after an article or a number
        (open vocabulary). A colour noun ("an orange") and "one" are read elsewhere."""
        if head.kind != WORD or phrase.one_anaphora:
            return True
        lexicon = self.lexicon
        if phrase.noun in lexicon.not_nouns or (" " not in phrase.noun and head.text in lexicon.not_nouns):
            return False  # "something", "a nice"; a compound such as "parking lot" is a noun as a whole
        bare = (phrase.determiner is None and phrase.count is None and phrase.vague is None
                and phrase.color is None and phrase.size is None)
        if not bare or lexicon.is_known_noun(phrase.noun) or lexicon.is_known_noun(singular) \
                or phrase.generic:
            return True
        self.unknown_words.append(head.text)
        return False

    def intensifies_relation(self, items: list[Item], index: int) -> bool:
        """Whether the word at `index` only strengthens the relation after it ("directly above")."""
        return (items[index].kind in (WORD, INTENSIFIER) and index + 1 < len(items)
                and items[index + 1].kind == RELATION and items[index].text in self.lexicon.relation_intensifiers)

    def head_start(self, items: list[Item], content: list[int]) -> int | None:
        """Where the noun begins inside `content`: a compound noun takes several words."""
        lexicon = self.lexicon
        last = items[content[-1]]
        if last.kind == COUNT:
            return len(content) - 1  # "one"
        if last.kind == COLOR:
            return len(content) - 1 if last.text in lexicon.colour_nouns else None  # "an orange"
        if last.kind != WORD:
            return None
        for size in range(min(lexicon.compound_max_words, len(content)), 1, -1):
            words = [items[i] for i in content[-size:]]
            if any(word.kind not in (WORD, COLOR, SIZE) for word in words):
                continue
            texts = [word.text.replace("-", " ") for word in words[:-1]] + [lexicon.singular(words[-1].text)]
            if " ".join(texts) in lexicon.compound_nouns:
                return len(content) - size
        return len(content) - 1

    def compound(self, word: str) -> bool:
        """Whether a hyphenated singular word is a compound noun of the lexicon ("teddy-bear")."""
        return "-" in word and word.replace("-", " ") in self.lexicon.compound_nouns

    def describe(self, items: list[Item], describing: list[int], phrase: Phrase) -> None:
        """Colour, size and describing words of a phrase from the words before its noun."""
        for position, index in enumerate(describing):
            item = items[index]
            if item.kind == COLOR:
                if phrase.color is None:
                    phrase.color = item.value
                else:
                    phrase.modifiers.append(item.value)
            elif item.kind == SIZE:
                if phrase.size is None:
                    phrase.size = item.value
            elif item.kind == INTENSIFIER:
                following = items[describing[position + 1]].kind if position + 1 < len(describing) else None
                if following not in (COLOR, SIZE):
                    phrase.modifiers.append(item.text)
            elif item.kind == OTHER:
                if phrase.determiner == "definite":
                    phrase.other = True
                else:
                    phrase.modifiers.append(item.text)
            else:
                phrase.modifiers.append(item.text)

    def verb_like(self, items: list[Item], index: int, within: bool = False) -> bool:
        """Whether a word after a noun is a verb: "fetching", or "fetches" before a determiner."""
        text = items[index].text
        if len(text) >= 5 and text.endswith("ing") and text not in self.lexicon.ing_nouns:
            return True
        following = items[index + 1].kind if index + 1 < len(items) else None
        return within and text.endswith("s") and following in (DEFINITE, INDEFINITE, COUNT)
