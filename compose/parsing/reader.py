"""The grammar: reads a prompt's items (compose.parsing.matching) into a `Scene`.

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

from compose.parsing.clauses import COMMA_AND, FRONTED, OBJECT, RELATION_WORD, START, SUBJECT, Clause
from compose.parsing.lexicon import (
    AND, BACKGROUND_MARKER, BACKGROUND_WORD, BREAK, COMMA, COUNT, DEFINITE, FILLER, FRAMING, INDEFINITE, LEADIN,
    LOCATION, NEGATION, NEGATION_NOTHING, OR, PRONOUN_PERSON, PRONOUN_PLURAL, PRONOUN_SINGULAR, PUNCTUATION,
    RECIPROCAL, RELATION, RELATIVE, SENTENCE_END, STYLE, VAGUE, WORD, Item, Lexicon,
)
from compose.parsing.lookahead import Lookahead
from compose.parsing.negations import read_negation
from compose.parsing.phrases import Phrase, PhraseReader
from compose.parsing.references import Discourse
from compose.parsing.splits import read_split
from compose.parsing.text import quote
from compose.scene import KNOWN_PREDICATES, Negation, Relation, Scene


class SceneReader:
    """Reads the items of one prompt into a `Scene`; one reader per prompt.

    The reader is the clause state machine; it asks `PhraseReader` for noun phrases
    (compose.parsing.phrases), `Discourse` for the groups they mean (compose.parsing.references),
    `Lookahead` whether a relation or a setting follows, `read_split` for split groups and
    `read_negation` for negations."""

    def __init__(self, prompt: str, doc, items: list[Item], lexicon: Lexicon):
        self.prompt = prompt
        self.doc = doc
        self.items = items
        self.lexicon = lexicon
        self.phrases = PhraseReader(prompt, doc, lexicon)
        self.discourse = Discourse(lexicon)
        self.lookahead = Lookahead(self.phrases, self.discourse)
        self.relations: list[tuple[int, str, int, int | None]] = []
        self.negations: list[tuple[str | None, str | None, str | None]] = []  # noun, colour, size
        self.background_parts: list[str] = []
        self.style_parts: list[str] = []
        self.unknown_words = self.phrases.unknown_words  # bare words read as no noun ("hello"), for the error
        self.clause = Clause()

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
            objects=tuple(group.freeze() for group in self.discourse.groups),
            relations=tuple(Relation(s, p, o, o2) for s, p, o, o2 in self.relations),
            negations=tuple(Negation(noun, color, size) for noun, color, size in self.negations),
            background=background,
            style=", ".join(dict.fromkeys(self.style_parts)) or None,
        )

    def _read_sentence(self, items: list[Item]) -> None:
        if not items:
            return
        self.clause = Clause()
        position = 0
        while position < len(items):
            position = self._read_item(items, position)
        self._finish_clause()
        clause = self.clause
        if clause.state == RELATION_WORD and not clause.negated \
                and any(predicate in KNOWN_PREDICATES for predicate in clause.predicates):
            things = "a blue square and a green star" if "between" in clause.predicates else "a blue square"
            raise ValueError(f'prompt {quote(self.prompt)} ends with the relation "{clause.relation_text}" and '
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
            self.clause.note_separator(kind)
            return position + 1
        if kind in (NEGATION, NEGATION_NOTHING):
            return self._read_negation(items, position)
        if kind == LOCATION:
            clause.read_location(item.value, self.discourse.groups)
            return position + 1
        if kind == LEADIN:
            return clause.read_leadin(items, position, self.discourse.groups)
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
        if self.phrases.intensifies_relation(items, position):
            return position + 1  # "directly above", "right next to"
        after_subject = position == clause.last_end or (
            position > 0 and items[position - 1].kind == LEADIN and clause.state in (SUBJECT, OBJECT))
        if kind == WORD and after_subject and self.phrases.verb_like(items, position):
            return self._read_participle(items, position)  # "a dog fetching a stick", "he is flying it"
        phrase = self.phrases.read(items, position)
        if phrase is None:
            return position + 1  # a word that starts no noun phrase
        return self._take_phrase(items, phrase)

    def _read_participle(self, items: list[Item], position: int) -> int:
        """A verb after a phrase: a relation of its own ("fetching a stick") or a describing word."""
        following = items[position + 1].kind if position + 1 < len(items) else None
        if following in (DEFINITE, INDEFINITE, COUNT, VAGUE, PRONOUN_SINGULAR, PRONOUN_PLURAL):
            return self._read_relation(items, position, items[position].text)
        for group_id in self.clause.last_new_ids:
            self.discourse.groups[group_id].modifiers.append(items[position].text)
        self.clause.last_end = position + 1
        return position + 1

    # ------------------------------------------------------------------ placing phrases in clauses
    def _take_phrase(self, items: list[Item], phrase: Phrase) -> int:
        """Place a phrase in its clause: subject, object, another list member, or a new clause."""
        clause = self.clause
        if (clause.state == START and phrase.noun in self.lexicon.picture_nouns and phrase.count is None
                and phrase.determiner != "definite" and self.lookahead.opens_picture(items, phrase.end)):
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
        split = read_split(self.phrases, items, phrase)
        if split is not None:  # the parts are placed as a list would be: "two red and three blue"
            end, parts = split
            for number, part in enumerate(parts):
                group_id = self.discourse.new_group(part)
                if number:
                    self.clause.separator = AND if number == len(parts) - 1 else COMMA
                self.clause.last_end = part.end
                last = number == len(parts) - 1
                self._place([group_id], [group_id], last and self.lookahead.starts_relation(items, end))
            return end
        ids, new_ids = self.discourse.resolve(phrase, set(clause.last_subject_ids) if object_position else set())
        clause.last_end = phrase.head_end if phrase.location is None else phrase.end
        if not ids:
            return phrase.end
        if clause.pending_location is not None:
            for group_id in new_ids:
                group = self.discourse.groups[group_id]
                group.location = group.location or clause.pending_location
            clause.pending_location = None
        self._place(ids, new_ids, self.lookahead.starts_relation(items, phrase.end))
        return phrase.end

    def _setting_as_subject(self, items: list[Item], phrase: Phrase) -> bool:
        """Whether a phrase names the place the picture shows, as its subject: a setting noun (lexicon_nouns.json
        "settings") opening the prompt, with no number, followed by nothing but what must not appear, "with"
        or style ("an empty beach with no people", "a kitchen", "an empty room, high quality")."""
        if (self.clause.state != START or self.discourse.groups or self.background_parts or phrase.pronoun is not None
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
            self.discourse.lists.append(list(ids))
            self._add_objects(ids)
        elif clause.state == START:
            self._start_subjects(ids)
        elif clause.state == SUBJECT:
            if self.clause.joins_list(separator):
                clause.subjects += [group_id for group_id in ids if group_id not in clause.subjects]
                clause.last_subject_ids = list(ids)
                self.discourse.lists[-1].extend(ids)
            else:
                self._next_clause()
                self._start_subjects(ids)
        else:  # OBJECT
            saturated = "between" in clause.predicates and clause.between_done
            if not starts_relation and not saturated and self.clause.joins_list(separator):
                self.discourse.lists[-1].extend(ids)
                self._add_objects(ids)
            else:
                self._next_clause()
                self._start_subjects(ids)
        clause = self.clause
        clause.last_ids = list(ids)
        clause.last_new_ids = list(new_ids)

    def _start_subjects(self, ids: list[int]) -> None:
        clause = self.clause
        clause.state = SUBJECT
        clause.subjects = list(ids)
        clause.last_subject_ids = list(ids)
        clause.list_comma = clause.list_closed = False
        self.discourse.lists.append(list(ids))
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
            if self.discourse.groups[only].count > 1:
                for subject in clause.subjects:
                    self._relate(subject, "between", only, only)
            elif not clause.negated:
                phrase = self.discourse.groups[only].phrase
                raise ValueError(f'prompt {quote(self.prompt)} puts something between "{phrase}" '
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
        self.clause = Clause()

    # ------------------------------------------------------------------ relations
    def _read_relation(self, items: list[Item], position: int, predicate: str) -> int:
        clause = self.clause
        following = position + 1
        if predicate not in KNOWN_PREDICATES and following < len(items) and items[following].kind == RELATION:
            return following  # "walking on", "riding along": the spatial word carries the relation
        background_end = self.lookahead.background_at(items, position)
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
        if predicate == "with" and (clause.state == START or self.lookahead.with_opens_clause(items, following)):
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

    # ------------------------------------------------------------------ negations
    def _read_negation(self, items: list[Item], position: int) -> int:
        """ "no stars", "nothing yellow" (compose.parsing.negations); "not left of" denies the relation
        that follows."""
        self.clause.separator = None
        end, denies_relation, negated = read_negation(items, position, self.lexicon, self.discourse.last_noun())
        if denies_relation:
            self.clause.negate_next = True
        for noun, color, size in negated:
            if (noun, color, size) not in self.negations:
                self.negations.append((noun, color, size))
        return end
