"""How exactly the prompt parser reads prompts: the gold set, and a caption round trip.

1. Gold set (tests/gold_prompts.jsonl): the share of prompts whose parsed scene equals the expected
   one exactly (`Scene.to_dict()`: objects, counts, attributes, locations, relations, negations,
   background), overall and per kind.
2. Caption round trip: random shapes-world captions in the forms the caption writer produces
   (compose issue 2, section 2: object phrases, locations, lists, fillers, relations, clauses joined by
   ", and" or ". ", second sentences that refer back, negations, varying capitals and full stops),
   each built together with the scene it describes; the share parsed back exactly. The project needs
   >= 99% on 10,000 captions.

Run:  .venv/bin/python benchmarks/parse_accuracy.py [--captions 10000] [--seed 0] [--show 5]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GOLD_PATH = ROOT / "tests" / "gold_prompts.jsonl"

SHAPES = ("circle", "square", "triangle", "diamond", "star")
CAPTION_COLORS = ("red", "orange", "yellow", "green", "blue", "purple")
SIZE_WORDS = {
    "small": ("small", "tiny", "little"),
    "medium": ("medium", "medium-sized"),
    "large": ("large", "big", "huge"),
}
NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}
RELATION_WORDS = {
    "left_of": ("to the left of", "left of", "on the left of"),
    "right_of": ("to the right of", "right of", "on the right of"),
    "above": ("above", "over", "on top of"),
    "below": ("below", "under", "beneath", "underneath"),
    "near": ("near", "next to", "beside", "close to"),
}
LOCATION_WORDS = {
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
FILLERS = ("an image of", "a picture of", "draw", "a scene with")
MAX_INSTANCES = 8


def _article(next_word: str) -> str:
    return "an" if next_word[0] in "aeiou" else "a"


def _plural(shape: str) -> str:
    return shape + "s"


class _Group:
    """One object group of a random caption, with the words of its first mention."""

    def __init__(self, shape: str, color: str | None, size: str | None, count: int, location: str | None):
        self.shape, self.color, self.size, self.count, self.location = shape, color, size, count, location
        self.phrase = ""

    def first_mention(self, rng: random.Random) -> str:
        words = []
        if self.size is not None:
            words.append(rng.choice(SIZE_WORDS[self.size]))
        if self.color is not None:
            words.append(self.color)
        words.append(self.shape if self.count == 1 else _plural(self.shape))
        if self.count == 1:
            quantity = rng.choice((_article(words[0]), _article(words[0]), "one"))
        else:
            options = [NUMBER_WORDS[self.count], str(self.count)]
            if self.count == 2:
                options.append("a pair of")
            quantity = rng.choice(options)
        self.phrase = " ".join([quantity] + words)
        return self.phrase

    def back_reference(self, groups: list[_Group], rng: random.Random) -> str:
        """'the square', 'the two squares', 'the red circle': enough words to single this group out."""
        same_shape = [group for group in groups if group is not self and group.shape == self.shape]
        words = ["the"]
        if self.count > 1 and rng.random() < 0.5:
            words.append(NUMBER_WORDS[self.count])
        if same_shape and all(group.color != self.color for group in same_shape):
            words.append(self.color)
        elif same_shape:  # a same-shape group of the same colour differs in size (_random_groups)
            words += [self.size, self.color]
        elif self.color is not None and rng.random() < 0.3:
            words.append(self.color)
        words.append(self.shape if self.count == 1 else _plural(self.shape))
        return " ".join(word for word in words if word)

    def to_dict(self, group_id: int) -> dict[str, Any]:
        return {"id": group_id, "noun": self.shape, "phrase": self.phrase, "count": self.count,
                "color": self.color, "size": self.size, "location": self.location, "modifiers": []}


def _random_groups(rng: random.Random) -> list[_Group]:
    """1 to 4 groups, at most 8 objects, each told apart from the others by shape, colour or size."""
    number_of_groups = rng.choice((1, 2, 2, 3, 3, 4))
    groups: list[_Group] = []
    instances = 0
    for index in range(number_of_groups):
        left = MAX_INSTANCES - instances - (number_of_groups - index - 1)
        count = 1 if rng.random() < 0.6 or left < 2 else rng.randint(2, min(left, 5))
        for _attempt in range(50):
            shape = rng.choice(SHAPES)
            color = rng.choice(CAPTION_COLORS) if rng.random() < 0.85 else None
            size = rng.choice(tuple(SIZE_WORDS)) if rng.random() < 0.35 else None
            same_shape = [group for group in groups if group.shape == shape]
            if any(group.color is None or color is None for group in same_shape):
                continue
            if any((group.color, group.size) == (color, size) for group in same_shape):
                continue
            if any(group.color == color and (group.size is None or size is None) for group in same_shape):
                continue
            break
        else:
            break
        location = rng.choice(tuple(LOCATION_WORDS)) if rng.random() < 0.2 else None
        groups.append(_Group(shape, color, size, count, location))
        instances += count
    return groups


def _mention(group: _Group, rng: random.Random) -> str:
    text = group.first_mention(rng)
    if group.location is not None:
        text += " " + rng.choice(LOCATION_WORDS[group.location])
    return text


def random_caption(rng: random.Random) -> tuple[str, dict[str, Any]]:
    """A random shapes-world caption and the scene dict it describes (cli.md scene JSON)."""
    groups = _random_groups(rng)
    filler = rng.choice(FILLERS + ("there is",)) if rng.random() < 0.3 else ""
    if filler == "there is" and groups[0].count > 1:
        filler = "there are"
    relations: list[dict[str, Any]] = []
    clauses: list[tuple[str, str, int | None]] = []  # (joiner, text, group its first mention opens with)
    introduced = 0

    def relation(subject: int, predicate: str, obj: int, obj2: int | None = None) -> None:
        relations.append({"subject": subject, "predicate": predicate, "object": obj, "object2": obj2})

    sentence_filler = ""  # "there is" / "there are" opening a later sentence

    def copula(group: _Group) -> str:  # "X REL Y", "X is REL Y", "X are REL Y"; never "there is X is"
        if (filler and not clauses) or sentence_filler or rng.random() < 0.5:
            return ""
        return "is " if group.count == 1 else "are "

    while introduced < len(groups):
        remaining = len(groups) - introduced
        choices = ["list"]
        if remaining >= 2:
            choices += ["relation_new", "relation_new"]
        if introduced >= 1:
            choices += ["relation_back"]
        if remaining >= 3:
            choices += ["between_new", "list_subject", "list_object"]
        if introduced >= 2:
            choices += ["between_back"]
        kind = rng.choice(choices)
        subject = groups[introduced]
        opening_group = introduced
        joiner = "" if not clauses else rng.choice((", and ", ". "))
        sentence_filler = ""
        if joiner == ". " and rng.random() < 0.15:
            sentence_filler = "there is " if subject.count == 1 else "there are "
            opening_group = None
        predicate = rng.choice(tuple(RELATION_WORDS))
        words = rng.choice(RELATION_WORDS[predicate])
        if kind == "list":
            size = rng.randint(1, min(3, remaining))
            mentions = [_mention(group, rng) for group in groups[introduced:introduced + size]]
            if size == 1:
                text = mentions[0]
            elif size == 2:
                text = f"{mentions[0]} and {mentions[1]}"
            else:
                text = f"{mentions[0]}, {mentions[1]}{rng.choice((',', ''))} and {mentions[2]}"
            introduced += size
        elif kind == "relation_new":
            obj = groups[introduced + 1]
            text = f"{_mention(subject, rng)} {copula(subject)}{words} {_mention(obj, rng)}"
            relation(introduced, predicate, introduced + 1)
            introduced += 2
        elif kind == "relation_back":
            target = rng.randrange(introduced)
            text = f"{_mention(subject, rng)} {copula(subject)}{words} " \
                   f"{groups[target].back_reference(groups, rng)}"
            relation(introduced, predicate, target)
            introduced += 1
        elif kind == "list_subject":  # "A and B are left of C": both are
            first, second, obj = groups[introduced:introduced + 3]
            verb = rng.choice(("", "are "))
            text = f"{_mention(first, rng)} and {_mention(second, rng)} {verb}{words} {_mention(obj, rng)}"
            relation(introduced, predicate, introduced + 2)
            relation(introduced + 1, predicate, introduced + 2)
            introduced += 3
        elif kind == "list_object":  # "A below B and C": A is below each
            first, second = groups[introduced + 1], groups[introduced + 2]
            text = f"{_mention(subject, rng)} {copula(subject)}{words} {_mention(first, rng)} and " \
                   f"{_mention(second, rng)}"
            relation(introduced, predicate, introduced + 1)
            relation(introduced, predicate, introduced + 2)
            introduced += 3
        elif kind == "between_new":
            first, second = groups[introduced + 1], groups[introduced + 2]
            text = f"{_mention(subject, rng)} {copula(subject)}between {_mention(first, rng)} " \
                   f"and {_mention(second, rng)}"
            relation(introduced, "between", introduced + 1, introduced + 2)
            introduced += 3
        else:  # between_back
            first, second = rng.sample(range(introduced), 2)
            text = f"{_mention(subject, rng)} {copula(subject)}between " \
                   f"{groups[first].back_reference(groups, rng)} and {groups[second].back_reference(groups, rng)}"
            relation(introduced, "between", first, second)
            introduced += 1
        clauses.append((joiner, sentence_filler + text, opening_group))

    # second sentences about groups already introduced
    for _extra in range(rng.choice((0, 0, 1, 1, 2))):
        if len(groups) < 2:
            break
        subject_id, object_id = rng.sample(range(len(groups)), 2)
        predicate = rng.choice(tuple(RELATION_WORDS))
        if any(known["subject"] == subject_id and known["object"] == object_id and known["predicate"] == predicate
               for known in relations):
            continue  # a caption does not say the same thing twice
        subject = groups[subject_id]
        verb = "is" if subject.count == 1 else "are"
        text = f"{subject.back_reference(groups, rng)} {verb} {rng.choice(RELATION_WORDS[predicate])} " \
               f"{groups[object_id].back_reference(groups, rng)}"
        relation(subject_id, predicate, object_id)
        clauses.append((". ", text, None))

    negations: list[dict[str, Any]] = []
    negation_text = ""
    if rng.random() < 0.3:
        used_shapes = {group.shape for group in groups}
        used_colors = {group.color for group in groups}
        free_shapes = [shape for shape in SHAPES if shape not in used_shapes]
        free_colors = [color for color in CAPTION_COLORS if color not in used_colors]
        form = rng.choice((", with no {}", " and no {}", ". There are no {}.", " without any {}", ", and no {}",
                           ". No {}."))
        if free_colors and rng.random() < 0.25:
            color = rng.choice(free_colors)
            negations.append({"noun": None, "color": color})
            negation_text = form.format(f"{color} shapes")
        elif free_shapes:
            shape = rng.choice(free_shapes)
            color = rng.choice(CAPTION_COLORS) if rng.random() < 0.3 else None
            negations.append({"noun": shape, "color": color})
            negation_text = form.format(" ".join(word for word in (color, _plural(shape)) if word))

    capitalise = rng.random() < 0.5
    pieces = []
    for index, (joiner, text, first_group) in enumerate(clauses):
        if index == 0 and filler:
            text = f"{filler} {text}"
        if capitalise and (index == 0 or joiner == ". "):
            text = text[0].upper() + text[1:]
            if first_group is not None and not (index == 0 and filler):
                phrase = groups[first_group].phrase  # the sentence opens with this group's first mention
                groups[first_group].phrase = phrase[0].upper() + phrase[1:]
        pieces.append(joiner + text)
    caption = "".join(pieces) + negation_text
    if not caption.endswith(".") and rng.random() < 0.5:
        caption += "."
    scene = {"prompt": caption, "objects": [group.to_dict(index) for index, group in enumerate(groups)],
             "relations": relations, "negations": negations, "background": None}
    return caption, scene


def load_gold(path: Path = GOLD_PATH) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def score_gold(entries: list[dict[str, Any]]) -> tuple[float, dict[str, tuple[int, int]], list[str]]:
    """Exact-match share overall, (right, total) per kind, and the prompts parsed wrong."""
    from compose.parsing import parse

    per_kind: dict[str, list[int]] = {}
    wrong = []
    for entry in entries:
        try:
            got = parse(entry["prompt"]).to_dict()
        except ValueError:
            got = None
        right = got == entry["scene"]
        tally = per_kind.setdefault(entry["kind"], [0, 0])
        tally[0] += right
        tally[1] += 1
        if not right:
            wrong.append(entry["prompt"])
    total = sum(tally[1] for tally in per_kind.values())
    overall = sum(tally[0] for tally in per_kind.values()) / max(total, 1)
    return overall, {kind: (tally[0], tally[1]) for kind, tally in sorted(per_kind.items())}, wrong


def score_captions(number: int, seed: int) -> tuple[float, list[tuple[str, dict, dict | None]]]:
    """Round trip: the share of `number` random captions parsed back to exactly their scene."""
    from compose.parsing import parse

    rng = random.Random(seed)
    failures = []
    for _index in range(number):
        caption, scene = random_caption(rng)
        try:
            got = parse(caption).to_dict()
        except ValueError:
            got = None
        if got != scene:
            failures.append((caption, scene, got))
    return 1 - len(failures) / max(number, 1), failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captions", type=int, default=10_000, help="random captions for the round trip")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", type=int, default=5, help="how many failures to print")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))

    entries = load_gold()
    start = time.perf_counter()
    overall, per_kind, wrong = score_gold(entries)
    print(f"gold set: {len(entries)} prompts, exact match {overall:.1%} "
          f"({time.perf_counter() - start:.2f} s)")
    for kind, (right, total) in per_kind.items():
        print(f"  {kind:20s} {right:4d}/{total:<4d} {right / total:.1%}")
    for prompt in wrong[:args.show]:
        print(f"  wrong: {prompt!r}")

    start = time.perf_counter()
    share, failures = score_captions(args.captions, args.seed)
    print(f"caption round trip: {args.captions} captions (seed {args.seed}), exact {share:.2%} "
          f"({time.perf_counter() - start:.2f} s)")
    kinds = Counter("exception" if got is None else "mismatch" for _c, _s, got in failures)
    if failures:
        print(f"  failures: {dict(kinds)}")
    for caption, scene, got in failures[:args.show]:
        print(f"  caption: {caption!r}\n    want: {json.dumps(scene)}\n    got:  {json.dumps(got)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
