"""Write natural captions for shapes-world scenes, and the scene each caption means.

The writer varies its phrasing the way people do (counts in words and digits, size synonyms, relation
synonyms, "and" lists, second sentences that refer back, negations, absolute locations) but only in
forms the project's parser reads, so every caption parses back to the scene it describes. The scene's
`phrase` of each group is exactly the words of its first mention, as the parser reports it.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from compose.scene import Negation, ObjectGroup, Relation, Scene

NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}
SIZE_SYNONYMS = {
    "small": ("small", "small", "tiny", "little"),
    "medium": ("medium", "medium", "medium-sized"),
    "large": ("large", "large", "big", "huge"),
}
RELATION_PHRASES = {
    "left_of": ("left of", "to the left of", "to the left of", "on the left of"),
    "right_of": ("right of", "to the right of", "to the right of", "on the right of"),
    "above": ("above", "above", "over", "on top of"),
    "below": ("below", "below", "under", "beneath", "underneath"),
    "near": ("near", "next to", "beside", "close to"),
}
LOCATION_PHRASES = {
    "left": ("on the left",),
    "right": ("on the right",),
    "top": ("at the top",),
    "bottom": ("at the bottom",),
    "center": ("in the center", "in the middle"),
    "top_left": ("at the top left", "in the top left corner"),
    "top_right": ("at the top right", "in the top right corner"),
    "bottom_left": ("at the bottom left", "in the bottom left corner"),
    "bottom_right": ("at the bottom right", "in the bottom right corner"),
}
OPENERS = ("", "", "", "", "an image of ", "a picture of ", "draw ", "a scene with ")


@dataclass
class GroupSpec:
    """What the writer knows of one group before it writes: shape, colour, size word, count, location."""

    shape: str
    color: str | None
    size: str | None
    count: int
    location: str | None = None


@dataclass
class CaptionPlan:
    """A scene to describe: its groups, relations between group indices, negations."""

    groups: list[GroupSpec]
    relations: list[Relation] = field(default_factory=list)
    negations: list[Negation] = field(default_factory=list)


def plural(noun: str) -> str:
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")


def replace_words(text: str, mapping: dict[str, str]) -> str:
    """`text` with each whole word of `mapping` (and its plural) replaced by its value (and its plural):
    {"star": "diamond"} turns "two stars" into "two diamonds". A value "" deletes the word, and the
    spaces left are closed up. Mislabelled training data and the closed-form edit's texts are made so."""
    words = {}
    for old, new in mapping.items():
        words[old], words[plural(old)] = new, plural(new) if new else ""
    replaced = re.sub(r"\b[a-z]+\b", lambda match: words.get(match.group(0), match.group(0)), text)
    return " ".join(replaced.split()) if "" in words.values() else replaced


def _count_word(count: int, first_word: str, rng: random.Random) -> str:
    if count == 1:
        return rng.choice(("an" if first_word[0] in "aeiou" else "a",) * 3 + ("one",))
    choices = [NUMBER_WORDS[count], NUMBER_WORDS[count], str(count)]
    if count == 2:
        choices.append("a pair of")
    return rng.choice(choices)


def first_mention(group: GroupSpec, rng: random.Random) -> str:
    """The phrase that introduces a group: "two tiny red circles", "a blue star", "3 big squares"."""
    words = []
    if group.size is not None:
        words.append(rng.choice(SIZE_SYNONYMS[group.size]))
    if group.color is not None:
        words.append(group.color)
    words.append(group.shape if group.count == 1 else plural(group.shape))
    return " ".join([_count_word(group.count, words[0], rng)] + words)


def back_reference(index: int, groups: list[GroupSpec]) -> str:
    """A later mention that refers back: "the square", "the squares", or with colour when needed."""
    group = groups[index]
    shared_noun = any(other.shape == group.shape for j, other in enumerate(groups) if j != index)
    noun = group.shape if group.count == 1 else plural(group.shape)
    if shared_noun and group.color is not None:
        return f"the {group.color} {noun}"
    return f"the {noun}"


def _verb(group: GroupSpec) -> str:
    return "is" if group.count == 1 else "are"


def _relation_words(relation: Relation, rng: random.Random) -> str:
    return rng.choice(RELATION_PHRASES[relation.predicate])


def _join_list(items: list[str], rng: random.Random) -> str:
    if len(items) == 1:
        return items[0]
    last_join = rng.choice((" and ", " and ", ", and ")) if len(items) > 2 else " and "
    return ", ".join(items[:-1]) + last_join + items[-1]


def _negation_text(negation: Negation, rng: random.Random) -> str:
    if negation.noun is None:
        thing = f"{negation.color} shapes"
    else:
        thing = (f"{negation.color} " if negation.color else "") + plural(negation.noun)
    form = rng.choice(("with", "and", "sentence", "without"))
    if form == "with":
        return f", with no {thing}"
    if form == "and":
        return f" and no {thing}"
    if form == "without":
        return f", without any {thing}"
    return f". There are no {thing}"


@dataclass(frozen=True)
class Caption:
    """A written caption's meaning: the scene (whose prompt is the caption text) and, for each group of
    the plan in order, the id that group got in the scene (ids follow the order of first mention)."""

    scene: Scene
    group_ids: tuple[int, ...]

    @property
    def text(self) -> str:
        return self.scene.prompt


def write_caption(plan: CaptionPlan, rng: random.Random) -> Caption:
    """Write one caption for `plan`: its text and the Scene it means."""
    groups = plan.groups
    phrases: dict[int, str] = {}  # group index -> first-mention phrase, in mention order
    order: list[int] = []

    def mention(index: int, allow_location: bool) -> str:
        if index in phrases:
            return back_reference(index, groups)
        phrase = first_mention(groups[index], rng)
        phrases[index] = phrase
        order.append(index)
        location = groups[index].location
        if location is not None and allow_location:
            return phrase + " " + rng.choice(LOCATION_PHRASES[location])
        return phrase

    if plan.relations and any(group.location is not None for group in groups):
        # Locations are only written in list form, where no relation phrase follows the mention.
        raise ValueError("a caption plan with relations cannot also carry locations")

    if not plan.relations:
        text = rng.choice(OPENERS) + _join_list([mention(i, True) for i in range(len(groups))], rng)
    else:
        style = rng.choice(("inline", "inline", "list_then_sentences"))
        sentences = []
        if style == "list_then_sentences":
            sentences.append(rng.choice(OPENERS) + _join_list([mention(i, False) for i in range(len(groups))], rng))
        for number, relation in enumerate(plan.relations):
            subject = mention(relation.subject, False)
            if relation.predicate == "between":
                target = f"between {mention(relation.object, False)} and {mention(relation.object2, False)}"
            else:
                target = f"{_relation_words(relation, rng)} {mention(relation.object, False)}"
            opener = rng.choice(OPENERS) if number == 0 and not sentences else ""
            if subject.startswith("the "):
                clause = f"{subject} {_verb(groups[relation.subject])} {target}"
            elif opener:  # "draw a red circle left of ...": no verb after an opener
                clause = f"{opener}{subject} {target}"
            else:
                verb = rng.choice(("", "", f"{_verb(groups[relation.subject])} "))
                clause = f"{subject} {verb}{target}"
            sentences.append(clause)
        missing = [i for i in range(len(groups)) if i not in phrases]
        if missing:  # ", and" opens a new clause: "A left of B and C" would relate A to C as well
            sentences[-1] += ", and " + _join_list([mention(i, False) for i in missing], rng)
        text = ". ".join(sentence[0].upper() + sentence[1:] if k else sentence
                         for k, sentence in enumerate(sentences))
    for negation in plan.negations:
        text += _negation_text(negation, rng)
    if rng.random() < 0.5:
        text += "."
    if rng.random() < 0.5:
        text = text[0].upper() + text[1:]

    # Capitalising a sentence may have changed a first mention's first letter: a group's phrase is
    # the words exactly as written, so take each from the final text.
    lowered = text.lower()
    for index, phrase in phrases.items():
        start = lowered.find(phrase.lower())
        assert start >= 0, (phrase, text)  # every first mention is in the text by construction
        phrases[index] = text[start:start + len(phrase)]
    ids = {index: new_id for new_id, index in enumerate(order)}
    objects = tuple(
        ObjectGroup(id=ids[index], noun=groups[index].shape, phrase=phrases[index], count=groups[index].count,
                    color=groups[index].color, size=groups[index].size, location=groups[index].location)
        for index in order)
    relations = tuple(
        Relation(ids[r.subject], r.predicate, ids[r.object], None if r.object2 is None else ids[r.object2])
        for r in plan.relations)
    scene = Scene(prompt=text, objects=objects, relations=relations, negations=tuple(plan.negations))
    return Caption(scene=scene, group_ids=tuple(ids[index] for index in range(len(groups))))
