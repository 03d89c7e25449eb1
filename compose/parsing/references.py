"""What a prompt has named so far, and which earlier group a later mention means.

`Discourse` holds the object groups as they are read (mutable until the scene is built), the order of
their mentions and the coordinated lists ("a circle and a square"). A phrase refers back to an earlier
group, adding none, when it is definite ("the square", "the two squares", "the red one") or bare
("squares") and an earlier group fits its noun, colour, size and describing words; "it", "them" and
"she" / "he" refer to the nearest fitting earlier mention(s).
"""

from __future__ import annotations

from dataclasses import dataclass

from compose.parsing.lexicon import Lexicon
from compose.parsing.phrases import Phrase
from compose.scene import ObjectGroup


@dataclass
class Group:
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


class Discourse:
    """The groups, mentions and lists of one prompt, and how a phrase is resolved against them."""

    def __init__(self, lexicon: Lexicon):
        self.lexicon = lexicon
        self.groups: list[Group] = []
        self.mentions: list[int] = []  # group ids in the order they are mentioned
        self.lists: list[list[int]] = []  # coordinated mentions ("a circle and a square"), oldest first

    def last_noun(self) -> str | None:
        """The noun of the group mentioned last ("no red ones" means its noun), or None."""
        return self.groups[self.mentions[-1]].noun if self.mentions else None

    def resolve(self, phrase: Phrase, exclude: set[int]) -> tuple[list[int], list[int]]:
        """The groups a phrase means, and which of them it created; a pronoun never means a group of
        `exclude` (as an object: the phrase the relation is said of)."""
        if phrase.pronoun == "singular":
            found = self.pronoun_it(exclude)
            return ([found] if found is not None else []), []
        if phrase.pronoun == "plural":
            return self.pronoun_them(exclude), []
        if phrase.pronoun == "person":
            found = self.pronoun_person(exclude)
            return ([found] if found is not None else []), []
        if phrase.one_anaphora and phrase.determiner != "definite":
            phrase.noun = self.groups[self.mentions[-1]].noun if self.mentions else "one"
            phrase.generic = False
        refers = phrase.determiner == "definite" or (
            phrase.determiner is None and phrase.count is None and phrase.vague is None)
        if refers:
            found = self.find_referent(phrase)
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
        group = Group(id=len(self.groups), noun=phrase.noun, phrase=phrase.text, count=count,
                       color=phrase.color, size=phrase.size, location=phrase.location,
                       modifiers=list(phrase.modifiers))
        self.groups.append(group)
        self.mentions.append(group.id)
        return [group.id], [group.id]

    def new_group(self, phrase: Phrase) -> int:
        """A new object group from a phrase read in full (a part of a split group)."""
        group = Group(id=len(self.groups), noun=phrase.noun, phrase=phrase.text, count=phrase.count or 1,
                       color=phrase.color, size=phrase.size, location=phrase.location,
                       modifiers=list(phrase.modifiers))
        self.groups.append(group)
        self.mentions.append(group.id)
        return group.id

    def find_referent(self, phrase: Phrase) -> int | None:
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

        def fit(group: Group) -> tuple[int, int]:
            score = 0
            if phrase.count is not None and group.count == phrase.count:
                score += 4
            if phrase.plural == (group.count > 1):
                score += 2
            if phrase.location is not None and group.location == phrase.location:
                score += 1
            return score, recency.get(group.id, -1)

        return max(candidates, key=fit).id

    def pronoun_it(self, exclude: set[int]) -> int | None:
        """ "it": the nearest earlier mention; as an object, not the phrase the relation is said of
        ("a star and a square to its right": the star)."""
        for group_id in reversed(self.mentions):
            if group_id not in exclude:
                return group_id
        return None

    def pronoun_person(self, exclude: set[int]) -> int | None:
        """ "she", "he", "him": the nearest earlier group of people (lexicon_nouns.json "person_nouns"),
        else what "it" would be."""
        for group_id in reversed(self.mentions):
            if group_id not in exclude and self.groups[group_id].noun.rsplit(" ", 1)[-1] in self.lexicon.person_nouns:
                return group_id
        return self.pronoun_it(exclude)

    def pronoun_them(self, exclude: set[int]) -> list[int]:
        """ "them": the nearest coordinated list or plural group before it (not the subject itself),
        else the nearest singular groups."""
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
