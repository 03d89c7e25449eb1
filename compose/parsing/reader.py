"""The grammar: reads a prompt's items (compose.parsing.lexicon) into a `Scene`.

A prompt is read sentence by sentence, left to right, as a small state machine over clauses:

    clause   = subjects [lead-in] (relation objects)*        "a red circle is left of two squares"
    subjects = phrase (("," | "and" | ", and") phrase)*     "a circle, a square and a star"
    objects  = phrase (("," | "and") phrase)*               "below a diamond and a circle"

- A relation right after an object continues a chain ("A left of B left of C": B left_of C); after
  "and" it shares the clause's subject ("a square left of a star and above a triangle"); "which is"
  makes the phrase just read the subject.
- A phrase after an object that is itself followed by a relation starts a new clause ("A left of B and
  C above D"); so does ", and" unless it closes a comma list ("A, B, and C").
- A phrase refers back to an earlier group, adding none, when it is definite ("the square", "the two
  squares", "the red one") or bare ("squares") and an earlier group fits its noun, colour, size and
  describing words; "it" and "them" refer to the nearest fitting earlier mention(s).
- "no stars", "without any triangles", "no yellow shapes" are negations; "in a futuristic office",
  "on the moon" (a relation word before a setting noun) are the background; "on the left" is a
  location of the phrase before it.

- The prompts people write (compose issue 14, section 1): framing that opens a sentence ("a realistic
  photo of a scene with") is dropped, its style words and any other ("4k", "in the style of van gogh",
  "a photorealistic car") go to the scene's style; a setting that opens the prompt with nothing but
  negations after it is the background ("an empty beach with no people"), so a scene may have no
  object; "four squares, two red and two blue" is split into one group per part, whose counts must add
  up; "no red ones" and "no small stars" keep the antecedent's noun and the size; "she" and "he" refer
  to the nearest person, "which is" / "who is" make the phrase just read the subject, "to its right"
  relates to the "it" before. A word standing bare is a thing only when the noun lexicon knows it.

Conventions (compose issue 2, section 2): groups get ids in order of first mention; `phrase` is the
words of the first mention as written (determiner or count, describing words, noun; style words left
out); a plural with no number counts `plural_default_count` (2); relations are (subject, predicate,
object[, object2]) in the order the prompt states them, each once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from compose.parsing.lexicon import (
    AND, BACKGROUND_MARKER, BACKGROUND_WORD, BREAK, COLOR, COMMA, COUNT, DEFINITE, FILLER, FRAMING, INDEFINITE,
    INTENSIFIER, LEADIN, LOCATION, NEGATION, NEGATION_NOTHING, OR, OTHER, PRONOUN_PERSON, PRONOUN_PLURAL,
    PRONOUN_SINGULAR, PUNCTUATION, RECIPROCAL, RELATION, RELATIVE, SENTENCE_END, SIZE, STYLE, VAGUE, WORD,
    Item, Lexicon,
)
from compose.scene import KNOWN_PREDICATES, Negation, ObjectGroup, Relation, Scene

# clause states
START = "start"  # nothing read yet
SUBJECT = "subject"  # read the subject phrase(s)
RELATION_WORD = "relation"  # read a relation, waiting for its object
OBJECT = "object"  # read an object of the current relation
FRONTED = "fronted"  # a relation opened the clause ("Above the circle is a star")

COMMA_AND = "COMMA_AND"  # ", and"
PHRASE_PARTS = frozenset((COLOR, SIZE, WORD, INTENSIFIER, OTHER, STYLE))
PHRASE_OPENERS = frozenset((DEFINITE, INDEFINITE, COUNT, VAGUE, COLOR, SIZE, WORD, INTENSIFIER, OTHER,
                            PRONOUN_SINGULAR, PRONOUN_PLURAL, PRONOUN_PERSON))


@dataclass
class _Group:
    """An object group while the prompt is being read (mutable until the scene is built)."""

    id: int
    noun: str
    phrase: str
    count: int
    color: str | None
    size: str | None
    location: str | None
    modifiers: list[str]

    def freeze(self) -> ObjectGroup:
        return ObjectGroup(id=self.id, noun=self.noun, phrase=self.phrase, count=self.count, color=self.color,
                           size=self.size, location=self.location, modifiers=tuple(self.modifiers))


@dataclass
class _Phrase:
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


@dataclass
class _Clause:
    """Where the reader stands inside one clause."""

    state: str = START
    subjects: list[int] = field(default_factory=list)
    last_subject_ids: list[int] = field(default_factory=list)  # the last phrase of the subject list
    predicates: list[str] = field(default_factory=list)
    objects: list[int] = field(default_factory=list)
    between: list[int] = field(default_factory=list)  # objects of "between", waiting for two
    between_done: bool = False
    front_predicates: list[str] = field(default_factory=list)
    fronted: list[tuple[list[str], list[int]]] = field(default_factory=list)
    last_ids: list[int] = field(default_factory=list)  # the groups of the phrase just read
    last_new_ids: list[int] = field(default_factory=list)  # those of them it created
    last_end: int = -1  # the item index just after the phrase just read
    separator: str | None = None  # AND | COMMA | COMMA_AND | BREAK since the last phrase or relation
    list_comma: bool = False  # the current list has a comma ("A, B and C")
    list_closed: bool = False  # the current list has had its "and"
    negate_next: bool = False  # "not" before a relation
    negated: bool = False  # the current relation is denied: no relation is recorded
    relative: bool = False  # "which is": the next relation's subject is the phrase just read
    after_leadin: bool = False  # "the circle is" ... (a location or colour follows)
    pending_location: str | None = None  # "On the left, a red circle"
    state_before_relation: str = START
    relation_text: str = ""  # the words of the relation read last, for error messages


class SceneReader:
    """Reads the items of one prompt into a `Scene`; one reader per prompt."""

    def __init__(self, prompt: str, doc, items: list[Item], lexicon: Lexicon):
        self.prompt = prompt
        self.doc = doc
        self.items = items
        self.lexicon = lexicon
        self.groups: list[_Group] = []
        self.relations: list[tuple[int, str, int, int | None]] = []
        self.negations: list[tuple[str | None, str | None, str | None]] = []  # noun, colour, size
        self.background_parts: list[str] = []
        self.style_parts: list[str] = []
        self.unknown_words: list[str] = []  # bare words read as no noun ("hello"), for the error message
        self.mentions: list[int] = []  # group ids in the order they are mentioned
        self.lists: list[list[int]] = []  # coordinated mentions ("a circle and a square"), oldest first
        self.clause = _Clause()

    # ------------------------------------------------------------------ driver
    def read(self) -> Scene:
        sentence: list[Item] = []
        for item in self.items:
            if item.kind == SENTENCE_END:
                self._read_sentence(sentence)
                sentence = []
            else:
                sentence.append(item)
        self._read_sentence(sentence)
        background = " ".join(self.background_parts) or None
        if background:
            background = background[0].lower() + background[1:]
        return Scene(
            prompt=self.prompt,
            objects=tuple(group.freeze() for group in self.groups),
            relations=tuple(Relation(s, p, o, o2) for s, p, o, o2 in self.relations),
            negations=tuple(Negation(noun, color, size) for noun, color, size in self.negations),
            background=background,
            style=", ".join(dict.fromkeys(self.style_parts)) or None,
        )

    def _read_sentence(self, items: list[Item]) -> None:
        if not items:
            return
        self.clause = _Clause()
        position = 0
        while position < len(items):
            position = self._read_item(items, position)
        self._finish_clause()
        clause = self.clause
        if clause.state == RELATION_WORD and not clause.negated \
                and any(predicate in KNOWN_PREDICATES for predicate in clause.predicates):
            things = "a blue square and a green star" if "between" in clause.predicates else "a blue square"
            raise ValueError(f'prompt {_quote(self.prompt)} ends with the relation "{clause.relation_text}" and '
                             f"nothing after it: a relation needs the thing it relates to; add it "
                             f'("{clause.relation_text} {things}") or drop the relation')

    def _read_item(self, items: list[Item], position: int) -> int:
        """Read what starts at `position`; return the position after it."""
        item = items[position]
        kind = item.kind
        clause = self.clause
        if kind in (FILLER, PUNCTUATION, BACKGROUND_MARKER):
            return position + 1
        if kind in (FRAMING, STYLE):
            if item.value:
                self.style_parts.append(item.value)  # "a realistic photo of": realistic; ", 4k": 4k
            return position + 1
        if kind in (AND, OR, COMMA, BREAK):
            self._separator(kind)
            return position + 1
        if kind in (NEGATION, NEGATION_NOTHING):
            return self._read_negation(items, position)
        if kind == LOCATION:
            self._read_location(item.value)
            return position + 1
        if kind == LEADIN:
            return self._read_leadin(items, position)
        if kind == RELATIVE:
            clause.relative = True
            return position + 1
        if kind == RELATION:
            return self._read_relation(items, position, item.value)
        if kind == RECIPROCAL:
            self._read_reciprocal()
            return position + 1
        if kind == BACKGROUND_WORD:
            self.background_parts.append(item.value)
            return position + 1
        if self._intensifies_relation(items, position):
            return position + 1  # "directly above", "right next to"
        after_subject = position == clause.last_end or (
            position > 0 and items[position - 1].kind == LEADIN and clause.state in (SUBJECT, OBJECT))
        if kind == WORD and after_subject and self._verb_like(items, position):
            return self._read_participle(items, position)  # "a dog fetching a stick", "he is flying it"
        phrase = self._read_phrase(items, position)
        if phrase is None:
            return position + 1  # a word that starts no noun phrase
        return self._take_phrase(items, phrase)

    # ------------------------------------------------------------------ noun phrases
    def _read_phrase(self, items: list[Item], position: int) -> _Phrase | None:
        """The noun phrase starting at `position`, or None if no noun phrase starts there."""
        lexicon = self.lexicon
        length = len(items)
        item = items[position]
        if item.kind == PRONOUN_SINGULAR:
            return _Phrase(position, position + 1, position + 1, pronoun="singular", text=item.text)
        if item.kind == PRONOUN_PLURAL:
            return _Phrase(position, position + 1, position + 1, pronoun="plural", text=item.text)
        if item.kind == PRONOUN_PERSON:
            return _Phrase(position, position + 1, position + 1, pronoun="person", text=item.text)
        phrase = _Phrase(position, position, position)
        index = position
        if item.kind == DEFINITE:
            phrase.determiner = "definite"
            index += 1
        elif item.kind == INDEFINITE:
            phrase.determiner = "indefinite"
            index += 1
        content: list[int] = []  # item indices of describing words and the noun
        if index < length and items[index].kind == COUNT:
            count_item = items[index]
            follows = items[index + 1].kind if index + 1 < length else None
            if count_item.text == "one" and phrase.determiner is not None and follows not in PHRASE_PARTS:
                content.append(index)  # "the one on the left"
                index += 1
            else:
                if not _is_count(count_item.value):
                    if follows in PHRASE_PARTS:
                        raise ValueError(
                            f'prompt {_quote(self.prompt)} asks for "{count_item.text}" of something: a count '
                            "must be a whole number of at least 1 (\"two\", \"3\", \"a dozen\"); to leave "
                            'something out, say "no"')
                    return None
                phrase.count = count_item.value
                index += 1
        elif index < length and items[index].kind == VAGUE:
            phrase.vague = items[index].value
            index += 1
        if not content:
            while index < length:
                kind = items[index].kind
                if self._intensifies_relation(items, index):
                    break
                if kind in PHRASE_PARTS and not (kind == WORD and items[index].text in lexicon.boundary_words):
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
        styles = [i for i in content if items[i].kind == STYLE]
        if styles:
            phrase.styles = [items[i].value for i in styles]  # "a realistic dog": style, not a describing word
            content = [i for i in content if items[i].kind != STYLE]
        if not content:
            return None
        words = [i for i in content if items[i].kind == WORD]
        if len(words) >= 2 and content[-1] == words[-1] and self._verb_like(items, content[-1], within=True):
            content.pop()  # "a dog fetching a stick": the phrase is "a dog"
            index = content[-1] + 1 if content else position
            if not content:
                return None
        head_start = self._head_start(items, content)
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
        if len(head_items) > 1 or self._compound(singular):
            phrase.noun = " ".join([word.replace("-", " ") for word in head_words[:-1]] + [singular.replace("-", " ")])
        else:
            phrase.noun = singular  # "x-ray" keeps its hyphen; "teddy-bear" is the compound "teddy bear"
        phrase.plural = singular != last_word or last_word == "ones"
        phrase.generic = phrase.generic or last_word in lexicon.generic_nouns
        self._describe(items, content[:head_start], phrase)
        if not self._names_a_thing(phrase, items[head_items[-1]], singular):
            return None
        head_end_item = head_items[-1]
        end_token = items[head_end_item].end
        index = head_end_item + 1
        # "a cup of coffee": the of-phrase belongs to the noun
        if (index + 1 < length and items[index].kind == WORD and items[index].text == "of"
                and not phrase.one_anaphora):
            tail = index + 1
            if items[tail].kind in (DEFINITE, INDEFINITE) and tail + 1 < length:
                tail += 1
            tail_words = []
            while tail < length and items[tail].kind in (WORD, COLOR) \
                    and items[tail].text not in lexicon.boundary_words:
                tail_words.append(items[tail].text)
                tail += 1
            if tail_words:
                phrase.modifiers.append(self.doc[items[index].start:items[tail - 1].end].text.lower())
                end_token = items[tail - 1].end
                index = tail
        phrase.head_end = index
        phrase.text = self.doc[items[position].start:end_token].text
        if styles:  # the words as written, without the style words among them
            kept = [item for item in items[position:index] if item.kind != STYLE and item.start < end_token]
            phrase.text = " ".join(self.doc[item.start:item.end].text for item in kept)
        if index < length and items[index].kind == LOCATION:
            phrase.location = items[index].value
            index += 1
        phrase.end = index
        return phrase

    def _names_a_thing(self, phrase: _Phrase, head: Item, singular: str) -> bool:
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

    def _intensifies_relation(self, items: list[Item], index: int) -> bool:
        """Whether the word at `index` only strengthens the relation after it ("directly above")."""
        return (items[index].kind in (WORD, INTENSIFIER) and index + 1 < len(items)
                and items[index + 1].kind == RELATION and items[index].text in self.lexicon.relation_intensifiers)

    def _head_start(self, items: list[Item], content: list[int]) -> int | None:
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

    def _compound(self, word: str) -> bool:
        """Whether a hyphenated singular word is a compound noun of the lexicon ("teddy-bear")."""
        return "-" in word and word.replace("-", " ") in self.lexicon.compound_nouns

    def _describe(self, items: list[Item], describing: list[int], phrase: _Phrase) -> None:
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

    def _verb_like(self, items: list[Item], index: int, within: bool = False) -> bool:
        """Whether a word after a noun is a verb: "fetching", or "fetches" before a determiner."""
        text = items[index].text
        if len(text) >= 5 and text.endswith("ing") and text not in self.lexicon.ing_nouns:
            return True
        following = items[index + 1].kind if index + 1 < len(items) else None
        return within and text.endswith("s") and following in (DEFINITE, INDEFINITE, COUNT)

    def _read_participle(self, items: list[Item], position: int) -> int:
        """A verb after a phrase: a relation of its own ("fetching a stick") or a describing word."""
        following = items[position + 1].kind if position + 1 < len(items) else None
        if following in (DEFINITE, INDEFINITE, COUNT, VAGUE, PRONOUN_SINGULAR, PRONOUN_PLURAL):
            return self._read_relation(items, position, items[position].text)
        for group_id in self.clause.last_new_ids:
            self.groups[group_id].modifiers.append(items[position].text)
        self.clause.last_end = position + 1
        return position + 1

    # ------------------------------------------------------------------ groups and references
    def _resolve(self, phrase: _Phrase, object_position: bool) -> tuple[list[int], list[int]]:
        """The groups a phrase means, and which of them it created."""
        if phrase.pronoun == "singular":
            found = self._pronoun_it(object_position)
            return ([found] if found is not None else []), []
        if phrase.pronoun == "plural":
            return self._pronoun_them(object_position), []
        if phrase.pronoun == "person":
            found = self._pronoun_person(object_position)
            return ([found] if found is not None else []), []
        if phrase.one_anaphora and phrase.determiner != "definite":
            phrase.noun = self.groups[self.mentions[-1]].noun if self.mentions else "one"
            phrase.generic = False
        refers = phrase.determiner == "definite" or (
            phrase.determiner is None and phrase.count is None and phrase.vague is None)
        if refers:
            found = self._find_referent(phrase)
            if found is not None:
                group = self.groups[found]
                if phrase.location is not None and group.location is None:
                    group.location = phrase.location
                self.mentions.append(found)
                return [found], []
        if phrase.one_anaphora:
            phrase.noun = self.groups[self.mentions[-1]].noun if self.mentions else "one"
        if phrase.count is not None:
            count = phrase.count
        elif phrase.vague is not None:
            count = phrase.vague
        elif phrase.plural and phrase.determiner != "indefinite":
            count = self.lexicon.plural_default_count
        else:
            count = 1
        group = _Group(id=len(self.groups), noun=phrase.noun, phrase=phrase.text, count=count,
                       color=phrase.color, size=phrase.size, location=phrase.location,
                       modifiers=list(phrase.modifiers))
        self.groups.append(group)
        self.mentions.append(group.id)
        return [group.id], [group.id]

    def _find_referent(self, phrase: _Phrase) -> int | None:
        """The earlier group a definite phrase means: same noun (or any, for "the shape"), and no
        clash of colour, size or describing words; then the best fit in count, number and location,
        then the most recently mentioned."""
        candidates = [group for group in self.groups if phrase.generic or group.noun == phrase.noun]
        if phrase.color is not None:
            candidates = [group for group in candidates if group.color == phrase.color]
        if phrase.size is not None:
            candidates = [group for group in candidates if group.size == phrase.size]
        if phrase.modifiers:
            candidates = [group for group in candidates if set(phrase.modifiers) <= set(group.modifiers)]
        if not candidates:
            return None
        recency = {group_id: index for index, group_id in enumerate(self.mentions)}
        if phrase.other and len(candidates) > 1:
            latest = max(candidates, key=lambda group: recency.get(group.id, -1))
            candidates = [group for group in candidates if group is not latest]

        def fit(group: _Group) -> tuple[int, int]:
            score = 0
            if phrase.count is not None and group.count == phrase.count:
                score += 4
            if phrase.plural == (group.count > 1):
                score += 2
            if phrase.location is not None and group.location == phrase.location:
                score += 1
            return score, recency.get(group.id, -1)

        return max(candidates, key=fit).id

    def _pronoun_it(self, object_position: bool) -> int | None:
        """ "it": the nearest earlier mention; as an object, not the phrase the relation is said of
        ("a star and a square to its right": the star)."""
        exclude = set(self.clause.last_subject_ids) if object_position else set()
        for group_id in reversed(self.mentions):
            if group_id not in exclude:
                return group_id
        return None

    def _pronoun_person(self, object_position: bool) -> int | None:
        """ "she", "he", "him": the nearest earlier group of people (lexicon_nouns.json "person_nouns"),
        else what "it" would be."""
        exclude = set(self.clause.last_subject_ids) if object_position else set()
        for group_id in reversed(self.mentions):
            if group_id not in exclude and self.groups[group_id].noun.rsplit(" ", 1)[-1] in self.lexicon.person_nouns:
                return group_id
        return self._pronoun_it(object_position)

    def _pronoun_them(self, object_position: bool) -> list[int]:
        """ "them": the nearest coordinated list or plural group before it (not the subject itself),
        else the nearest singular groups."""
        exclude = set(self.clause.last_subject_ids) if object_position else set()
        singles: list[int] = []
        for group_list in reversed(self.lists):
            members = [group_id for group_id in dict.fromkeys(group_list) if group_id not in exclude]
            if not members:
                continue
            if len(members) >= 2 or self.groups[members[0]].count > 1:
                return members
            if members[0] not in singles:
                singles.insert(0, members[0])
        return singles[-2:]

    # ------------------------------------------------------------------ clause building
    def _take_phrase(self, items: list[Item], phrase: _Phrase) -> int:
        """Place a phrase in its clause: subject, object, another list member, or a new clause."""
        clause = self.clause
        if (clause.state == START and phrase.noun in self.lexicon.picture_nouns and phrase.count is None
                and phrase.determiner != "definite" and self._opens_picture(items, phrase.end)):
            return phrase.end  # "a scene in an office with ...": the picture itself
        if phrase.end < len(items) and items[phrase.end].kind == BACKGROUND_MARKER and phrase.pronoun is None:
            self.background_parts.append(phrase.text)  # "with a forest in the background"
            if clause.state == RELATION_WORD:
                clause.state = clause.state_before_relation
            return phrase.end + 1
        if self._setting_as_subject(items, phrase):
            self.background_parts.append(phrase.text)  # "an empty beach with no people"
            self.style_parts.extend(phrase.styles)
            return phrase.end
        self.style_parts.extend(phrase.styles)
        object_position = clause.state in (RELATION_WORD, FRONTED)
        split = self._read_split(items, phrase)
        if split is not None:  # the parts are placed as a list would be: "two red and three blue"
            end, parts = split
            for number, part in enumerate(parts):
                group_id = self._new_group(part)
                if number:
                    self.clause.separator = AND if number == len(parts) - 1 else COMMA
                self.clause.last_end = part.end
                self._place([group_id], [group_id], number == len(parts) - 1 and self._starts_relation(items, end))
            return end
        ids, new_ids = self._resolve(phrase, object_position)
        clause.last_end = phrase.head_end if phrase.location is None else phrase.end
        if not ids:
            return phrase.end
        if clause.pending_location is not None:
            for group_id in new_ids:
                self.groups[group_id].location = self.groups[group_id].location or clause.pending_location
            clause.pending_location = None
        self._place(ids, new_ids, self._starts_relation(items, phrase.end))
        return phrase.end

    def _setting_as_subject(self, items: list[Item], phrase: _Phrase) -> bool:
        """Whether a phrase names the place the picture shows, as its subject: a setting noun (lexicon_nouns.json
        "settings") opening the prompt, with no number, followed by nothing but what must not appear, "with"
        or style ("an empty beach with no people", "a kitchen", "an empty room, high quality")."""
        if (self.clause.state != START or self.groups or self.background_parts or phrase.pronoun is not None
                or phrase.count is not None or phrase.vague is not None or phrase.determiner == "definite"
                or not self.lexicon.is_setting(phrase.noun)):
            return False
        index = phrase.end
        while index < len(items) and items[index].kind in (COMMA, STYLE, PUNCTUATION):
            index += 1
        if index >= len(items):
            return True
        item = items[index]
        return item.kind in (NEGATION, NEGATION_NOTHING) or (item.kind == RELATION and item.value == "with")

    # ------------------------------------------------------------------ split groups
    def _read_split(self, items: list[Item], head: _Phrase) -> tuple[int, list[_Phrase]] | None:
        """A group split into parts with their own counts: "four squares, two red and two blue", "three
        stars: one yellow and two purple", "four shapes: two red squares and two blue circles". The head
        mention is no group of its own; each part is one, with the head's noun (or its own, after a
        generic head such as "shapes") and the head's colour, size, describing words and location where
        it has none. At least two parts; their counts must add up to the head's (else ValueError).
        Returns (the item index after the parts, the parts) or None when no split follows."""
        if head.count is None or head.count < 2 or head.pronoun is not None or head.end >= len(items) \
                or items[head.end].text not in self.lexicon.split_marks:
            return None
        parts: list[_Phrase] = []
        position = head.end + 1
        while True:
            part = self._read_part(items, position, head)
            if part is None:
                break
            parts.append(part)
            position = part.end
            following = position
            if following < len(items) and items[following].kind == COMMA:
                following += 1
            if following < len(items) and items[following].kind == AND:
                following += 1
            if following == position or self._read_part(items, following, head) is None:
                break
            position = following
        if len(parts) < 2:
            return None
        total = sum(part.count for part in parts)
        if total != head.count:
            sums = " + ".join(str(part.count) for part in parts)
            raise ValueError(f'prompt {_quote(self.prompt)} splits "{head.text}" into {sums} = {total}, not '
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

    def _read_part(self, items: list[Item], position: int, head: _Phrase) -> _Phrase | None:
        """One part of a split group at `position`: a count or "a", then describing words, then "one(s)",
        a noun of its own after a generic head, or no noun at all ("two red"). A part that names a noun
        after a head that is not generic ("three purple squares, one green square and ...") is a group of
        its own, not a part."""
        if position >= len(items) or items[position].kind not in (COUNT, INDEFINITE):
            return None
        if items[position].kind == COUNT and not _is_count(items[position].value):
            return None
        phrase = self._read_phrase(items, position)
        if phrase is not None and (phrase.one_anaphora or head.generic) \
                and (phrase.count is not None or phrase.determiner == "indefinite"):
            if phrase.count is None:
                phrase.count = 1  # "a white one", "a kettle"
            return phrase
        if items[position].kind != COUNT:
            return None
        part = _Phrase(position, position + 1, position + 1, count=items[position].value)
        index = position + 1
        while index < len(items) and items[index].kind in (COLOR, SIZE, INTENSIFIER):
            index += 1
        if index < len(items) and items[index].kind not in (COMMA, AND, LOCATION, SENTENCE_END, STYLE):
            return None  # "two red squares" after "four circles" is no part of them
        self._describe(items, list(range(position + 1, index)), part)
        part.text = self.doc[items[position].start:items[index - 1].end].text
        part.head_end = index
        if index < len(items) and items[index].kind == LOCATION:
            part.location = items[index].value
            index += 1
        part.end = index
        return part

    def _new_group(self, phrase: _Phrase) -> int:
        """A new object group from a phrase read in full (a part of a split group)."""
        group = _Group(id=len(self.groups), noun=phrase.noun, phrase=phrase.text, count=phrase.count or 1,
                       color=phrase.color, size=phrase.size, location=phrase.location,
                       modifiers=list(phrase.modifiers))
        self.groups.append(group)
        self.mentions.append(group.id)
        return group.id

    def _place(self, ids: list[int], new_ids: list[int], starts_relation: bool) -> None:
        clause = self.clause
        separator, clause.separator = clause.separator, None
        clause.after_leadin = False
        if clause.state == FRONTED:
            clause.fronted.append((clause.front_predicates, ids))
            clause.front_predicates = []
            clause.state = START
        elif clause.state == RELATION_WORD:
            clause.state = OBJECT
            clause.list_comma = clause.list_closed = False
            self.lists.append(list(ids))
            self._add_objects(ids)
        elif clause.state == START:
            self._start_subjects(ids)
        elif clause.state == SUBJECT:
            if self._joins_list(separator):
                clause.subjects += [group_id for group_id in ids if group_id not in clause.subjects]
                clause.last_subject_ids = list(ids)
                self.lists[-1].extend(ids)
            else:
                self._next_clause()
                self._start_subjects(ids)
        else:  # OBJECT
            saturated = "between" in clause.predicates and clause.between_done
            if not starts_relation and not saturated and self._joins_list(separator):
                self.lists[-1].extend(ids)
                self._add_objects(ids)
            else:
                self._next_clause()
                self._start_subjects(ids)
        clause = self.clause
        clause.last_ids = list(ids)
        clause.last_new_ids = list(new_ids)

    def _joins_list(self, separator: str | None) -> bool:
        """Whether a phrase after `separator` continues the current list ("A, B and C")."""
        clause = self.clause
        if separator is None:
            return clause.state == SUBJECT
        if separator == BREAK or clause.list_closed:
            return False
        if separator == COMMA:
            clause.list_comma = True
            return True
        if separator == AND or (separator == COMMA_AND and clause.list_comma):
            clause.list_closed = True
            return True
        return False

    def _start_subjects(self, ids: list[int]) -> None:
        clause = self.clause
        clause.state = SUBJECT
        clause.subjects = list(ids)
        clause.last_subject_ids = list(ids)
        clause.list_comma = clause.list_closed = False
        self.lists.append(list(ids))
        for predicates, objects in clause.fronted:  # "Above the circle is a star"
            saved = clause.predicates, clause.between, clause.between_done
            clause.predicates, clause.between, clause.between_done = predicates, [], False
            self._add_objects(objects)
            self._finish_between()
            clause.predicates, clause.between, clause.between_done = saved
        clause.fronted = []

    def _add_objects(self, ids: list[int]) -> None:
        clause = self.clause
        clause.objects += ids
        if any(group_id in clause.subjects for group_id in ids) and clause.last_subject_ids != clause.subjects:
            clause.subjects = list(clause.last_subject_ids)  # "A, B and C between them": C is the subject
        if clause.negated:
            return
        for predicate in clause.predicates:
            if predicate == "between":
                clause.between += [group_id for group_id in ids if group_id not in clause.between]
                if len(clause.between) >= 2 and not clause.between_done:
                    for subject in clause.subjects:
                        self._relate(subject, "between", clause.between[0], clause.between[1])
                    clause.between_done = True
                continue
            for subject in clause.subjects:
                for group_id in ids:
                    self._relate(subject, predicate, group_id)

    def _finish_between(self) -> None:
        """ "between two circles": one plural group holds both sides."""
        clause = self.clause
        if "between" in clause.predicates and not clause.between_done and len(clause.between) == 1:
            only = clause.between[0]
            if self.groups[only].count > 1:
                for subject in clause.subjects:
                    self._relate(subject, "between", only, only)
            elif not clause.negated:
                raise ValueError(f'prompt {_quote(self.prompt)} puts something between "{self.groups[only].phrase}" '
                                 'and nothing else: "between" needs two things ("between a circle and a '
                                 'square", "between two circles")')
        clause.between_done = True

    def _relate(self, subject: int, predicate: str, obj: int, obj2: int | None = None) -> None:
        if subject == obj or subject == obj2:
            return
        relation = (subject, predicate, obj, obj2)
        if relation not in self.relations:
            self.relations.append(relation)

    def _finish_clause(self) -> None:
        self._finish_between()

    def _next_clause(self) -> None:
        self._finish_clause()
        self.clause = _Clause()

    def _separator(self, kind: str) -> None:
        clause = self.clause
        if kind == BREAK:
            clause.separator = BREAK
        elif kind == COMMA:
            clause.separator = clause.separator or COMMA
        elif clause.separator == COMMA:
            clause.separator = COMMA_AND
        elif clause.separator != BREAK:
            clause.separator = AND

    # ------------------------------------------------------------------ relations
    def _read_relation(self, items: list[Item], position: int, predicate: str) -> int:
        clause = self.clause
        following = position + 1
        if predicate not in KNOWN_PREDICATES and following < len(items) and items[following].kind == RELATION:
            return following  # "walking on", "riding along": the spatial word carries the relation
        background_end = self._background_at(items, position)
        if background_end is not None:
            text = self.doc[items[position].start:items[background_end - 1].end].text
            self.background_parts.append(text)
            return background_end
        separator, clause.separator = clause.separator, None
        clause.after_leadin = False
        clause.relation_text = items[position].text
        if (clause.state in (SUBJECT, OBJECT) and separator in (AND, COMMA_AND) and following + 1 < len(items)
                and items[following].kind in (PRONOUN_SINGULAR, PRONOUN_PLURAL, PRONOUN_PERSON)
                and items[following + 1].kind in (INDEFINITE, COUNT, VAGUE)):
            self._next_clause()  # "a red square, and beside it a blue circle": a fronted relation
            self.clause.front_predicates.append(predicate)
            self.clause.state = FRONTED
            self.clause.relation_text = items[position].text
            return following
        if predicate == "with" and (clause.state == START or self._with_opens_clause(items, following)):
            if clause.state != START:
                clause.separator = BREAK  # "two circles with a star between them"
            return following
        negated, clause.negate_next = clause.negate_next, False
        if clause.state in (START, FRONTED):
            clause.front_predicates.append(predicate)
            clause.state = FRONTED
            return following
        if clause.state == RELATION_WORD:
            if separator is not None:
                clause.predicates.append(predicate)  # "above and to the left of"
            else:
                clause.predicates = [predicate]
            clause.negated = clause.negated or negated
            return following
        if (clause.state == OBJECT and separator is None) or (clause.relative and clause.last_ids):
            clause.subjects = list(clause.last_ids)  # a chain "A left of B left of C"; "A and B, which is ..."
            clause.last_subject_ids = list(clause.last_ids)
        self._finish_between()
        clause.relative = False
        clause.state_before_relation = clause.state
        clause.state = RELATION_WORD
        clause.predicates = [predicate]
        clause.objects = []
        clause.between = []
        clause.between_done = False
        clause.negated = negated
        return following

    def _with_opens_clause(self, items: list[Item], position: int) -> bool:
        """ "two circles with a star between them": the phrase after "with" is related back to what
        came before ("them", "it"), so it starts a clause of its own instead of being the object of
        "with" (as in "a man with a dog on a leash")."""
        if position >= len(items) or items[position].kind not in PHRASE_OPENERS:
            return False
        phrase = self._read_phrase(items, position)
        if phrase is None or not self._starts_relation(items, phrase.end):
            return False
        index = phrase.end
        while items[index].kind in (LEADIN, RELATIVE, RELATION, WORD, INTENSIFIER) and index + 1 < len(items):
            if items[index].kind == RELATION:
                return items[index + 1].kind in (PRONOUN_SINGULAR, PRONOUN_PLURAL, RECIPROCAL)
            index += 1
        return False

    def _starts_relation(self, items: list[Item], position: int) -> bool:
        while position < len(items) and items[position].kind in (LEADIN, RELATIVE):
            position += 1
        return (position < len(items) and items[position].kind == RELATION
                and self._background_at(items, position) is None)

    def _background_at(self, items: list[Item], position: int) -> int | None:
        """If a setting follows the relation word at `position` ("in a futuristic office"), the item
        index after the setting's noun; else None."""
        item = items[position]
        if item.text not in self.lexicon.background_prepositions or position + 1 >= len(items):
            return None
        if items[position + 1].kind not in PHRASE_OPENERS:
            return None
        phrase = self._read_phrase(items, position + 1)
        if phrase is None or phrase.pronoun is not None or not self.lexicon.is_setting(phrase.noun):
            return None
        if phrase.determiner == "definite" and any(group.noun == phrase.noun for group in self.groups):
            return None  # "the table" named earlier is an object, not the setting
        return phrase.head_end

    def _opens_picture(self, items: list[Item], position: int) -> bool:
        if position >= len(items):
            return False
        item = items[position]
        if item.kind == FILLER:
            return True
        return item.kind == RELATION and (item.value == "with" or self._background_at(items, position) is not None)

    def _read_reciprocal(self) -> None:
        """ "two circles near each other": the relation holds among the subjects themselves."""
        clause = self.clause
        if clause.state != RELATION_WORD:
            return
        if not clause.negated:
            for predicate in clause.predicates:
                for first in clause.subjects:
                    for second in clause.subjects:
                        if first < second:
                            self._relate(first, predicate, second)
        clause.state = OBJECT
        clause.last_ids = list(clause.subjects)

    # ------------------------------------------------------------------ lead-ins, locations
    def _read_leadin(self, items: list[Item], position: int) -> int:
        """ "is", "are sitting": skipped; "the circle is red" gives the colour to the subject."""
        clause = self.clause
        following = position + 1
        index = following
        colors, sizes = [], []
        while index < len(items) and items[index].kind in (COLOR, SIZE, INTENSIFIER, AND, COMMA):
            if items[index].kind == COLOR:
                colors.append(items[index].value)
            elif items[index].kind == SIZE:
                sizes.append(items[index].value)
            index += 1
        ends_phrase = index >= len(items) or items[index].kind not in (WORD, COUNT)
        if (colors or sizes) and ends_phrase and clause.state in (SUBJECT, OBJECT):
            targets = clause.subjects if clause.state == SUBJECT else clause.last_ids
            for group_id in targets:
                group = self.groups[group_id]
                group.color = group.color or (colors[0] if colors else None)
                group.size = group.size or (sizes[0] if sizes else None)
            return index
        clause.after_leadin = True
        return following

    def _read_location(self, location: str) -> None:
        clause = self.clause
        if clause.state in (START, FRONTED):
            clause.pending_location = location  # "On the left, a red circle"
            return
        targets = clause.subjects if clause.after_leadin and clause.state == SUBJECT else clause.last_ids
        for group_id in targets:
            group = self.groups[group_id]
            group.location = group.location or location
        clause.after_leadin = False

    # ------------------------------------------------------------------ negations
    def _read_negation(self, items: list[Item], position: int) -> int:
        """ "no stars", "without any red or blue shapes", "nothing yellow"; "not left of" denies the
        relation that follows."""
        length = len(items)
        self.clause.separator = None
        index = position + 1
        if items[position].kind == NEGATION_NOTHING:
            if index < length and items[index].kind == COLOR:  # "nothing yellow"; a bare "nothing" denies nothing
                self._negate(None, items[index].value)
                index += 1
            return index
        look = index
        while look < length and items[look].kind in (LEADIN, RELATIVE):
            look += 1
        if look < length and items[look].kind == RELATION:
            self.clause.negate_next = True  # "not left of": no relation is recorded
            return look
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
                elif kind == WORD and items[index].text not in self.lexicon.boundary_words:
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
                last = self.lexicon.singular(texts[-1])
                compound = " ".join(texts[-2:-1] + [last])
                if texts[-1] in ("one", "ones"):
                    noun = self.groups[self.mentions[-1]].noun if self.mentions else None  # "no red ones"
                elif len(texts) >= 2 and compound in self.lexicon.compound_nouns:
                    noun = compound
                elif texts[-1] not in self.lexicon.generic_nouns:
                    noun = last
            elif index < length and items[index].kind == COUNT and items[index].text == "one":
                noun = self.groups[self.mentions[-1]].noun if self.mentions else None  # "no small one"
                index += 1
            for color in colors or [None]:
                self._negate(noun, color, sizes[0] if sizes else None)
            if index < length and items[index].kind == LOCATION:
                index += 1
            if (index + 1 < length and items[index].kind in (AND, OR, COMMA)
                    and items[index + 1].kind in (COLOR, WORD)):
                index += 1  # "no stars or squares"
                continue
            break
        return index

    def _negate(self, noun: str | None, color: str | None, size: str | None = None) -> None:
        if (noun, color, size) not in self.negations:
            self.negations.append((noun, color, size))


def _is_count(value) -> bool:
    """Whether a number said in a prompt is a count: a whole number of at least 1 (not "2.5", "-3", "0")."""
    return isinstance(value, int) and value >= 1


def _quote(prompt: str, limit: int = 60) -> str:
    """A prompt as it appears in an error message: quoted, cut to `limit` characters."""
    text = " ".join(prompt.split())
    if len(text) > limit:
        text = text[:limit - 3] + "..."
    return f'"{text}"'
