"""Where the reader stands inside one clause: its state, its subjects, relations and objects.

A prompt is read sentence by sentence, left to right, as a small state machine over clauses
(compose.parsing.reader): START (nothing read yet) -> SUBJECT (the subject phrase(s)) -> RELATION_WORD
(a relation, waiting for its object) -> OBJECT (an object of the current relation); FRONTED when a
relation opens the clause ("Above the circle is a star"). A `Clause` also decides whether a phrase after
a separator continues the current list ("A, B and C"), and reads what a lead-in ("is", "are sitting")
or a location word ("on the left") says about the phrases it has read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from compose.parsing.lexicon import AND, BREAK, COLOR, COMMA, COUNT, INTENSIFIER, SIZE, WORD, Item
from compose.parsing.references import Group

# clause states
START = "start"  # nothing read yet
SUBJECT = "subject"  # read the subject phrase(s)
RELATION_WORD = "relation"  # read a relation, waiting for its object
OBJECT = "object"  # read an object of the current relation
FRONTED = "fronted"  # a relation opened the clause ("Above the circle is a star")

COMMA_AND = "COMMA_AND"  # ", and"


@dataclass
class Clause:
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

    def joins_list(self, separator: str | None) -> bool:
        """Whether a phrase after `separator` continues the current list ("A, B and C")."""
        if separator is None:
            return self.state == SUBJECT
        if separator == BREAK or self.list_closed:
            return False
        if separator == COMMA:
            self.list_comma = True
            return True
        if separator == AND or (separator == COMMA_AND and self.list_comma):
            self.list_closed = True
            return True
        return False

    def note_separator(self, kind: str) -> None:
        """Note a separator (AND, OR, COMMA, BREAK) read since the last phrase or relation."""
        if kind == BREAK:
            self.separator = BREAK
        elif kind == COMMA:
            self.separator = self.separator or COMMA
        elif self.separator == COMMA:
            self.separator = COMMA_AND
        elif self.separator != BREAK:
            self.separator = AND

    def read_leadin(self, items: list[Item], position: int, groups: list[Group]) -> int:
        """ "is", "are sitting": skipped; "the circle is red" gives the colour to the subject."""
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
        if (colors or sizes) and ends_phrase and self.state in (SUBJECT, OBJECT):
            targets = self.subjects if self.state == SUBJECT else self.last_ids
            for group_id in targets:
                group = groups[group_id]
                group.color = group.color or (colors[0] if colors else None)
                group.size = group.size or (sizes[0] if sizes else None)
            return index
        self.after_leadin = True
        return following

    def read_location(self, location: str, groups: list[Group]) -> None:
        """ "on the left": the location of the phrase just read (of the subjects, after "is"), or of the
        next phrase when the clause has none yet ("On the left, a red circle")."""
        if self.state in (START, FRONTED):
            self.pending_location = location  # "On the left, a red circle"
            return
        targets = self.subjects if self.after_leadin and self.state == SUBJECT else self.last_ids
        for group_id in targets:
            group = groups[group_id]
            group.location = group.location or location
        self.after_leadin = False
