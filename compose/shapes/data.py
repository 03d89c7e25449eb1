"""Random shapes-world scenes with captions, images and layouts: the training and test data stream.

`sample_at(seed, index)` draws sample `index` of the stream `seed` from its own random generator, so
the stream is infinite, reproducible, and can be split across data-loader workers or processes
without any coordination. Placement comes first and the caption states only relations and locations
that the placement satisfies, so every caption is true of its image by construction.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compose.scene import Layout, Negation, Region, Relation, Scene
from compose.shapes import world
from compose.shapes.captions import CaptionPlan, GroupSpec, write_caption
from compose.shapes.render import ShapeInstance, render

DIRECTIONAL = ("left_of", "right_of", "above", "below")


@dataclass(frozen=True)
class DataMix:
    """How often each kind of scene and phrasing appears in the stream."""

    object_count_weights: tuple[float, ...] = (1, 1, 1, 1, 1, 1, 1, 1)  # P(1 object), P(2), ... P(8)
    max_groups: int = 5
    size_word_probability: float = 0.4
    no_color_probability: float = 0.05
    relation_probability: float = 0.6  # when there are at least two groups
    location_probability: float = 0.2  # per single-object group, in scenes without relations
    negation_probability: float = 0.15
    between_probability: float = 0.15


# The mix the bundled model is trained on: half single objects (each must be drawn exactly, and
# "a red circle" means one), then pairs and small scenes, so that whole-prompt (plain) generation
# learns composition as well as it can.
TRAINING_MIX = DataMix(object_count_weights=(9, 3, 2, 1.5, 1, 0.7, 0.5, 0.4))


@dataclass(frozen=True)
class Sample:
    """One item of the stream: the picture, its caption, the scene the caption means, and the layout."""

    image: np.ndarray  # (size, size, 3) uint8 RGB
    caption: str
    scene: Scene
    layout: Layout
    instances: tuple[ShapeInstance, ...]

    def to_record(self) -> dict:
        """A JSON-ready record (without the image) for export and inspection."""
        return {
            "caption": self.caption,
            "scene": self.scene.to_dict(),
            "regions": [{"group": r.group, "instance": r.instance, "phrase": r.phrase,
                         "box": [round(v, 4) for v in r.box]} for r in self.layout.regions],
        }


def _partition_counts(total: int, max_groups: int, rng: random.Random) -> list[int]:
    counts: list[int] = []
    remaining = total
    while remaining > 0:
        if len(counts) == max_groups - 1:
            counts.append(remaining)
            break
        count = 1 if rng.random() < 0.55 else rng.randint(1, remaining)
        counts.append(count)
        remaining -= count
    return counts


def place_boxes(sides: list[float], rng: random.Random, attempts: int = 20,
                candidates: int = 64) -> list[world.Box] | None:
    """Random boxes of the given sides obeying the placement rules (margin, gap), or None if none found.

    Larger boxes go first; each box takes the first of `candidates` random positions (drawn at once
    with numpy) that keeps the minimum gap to every box already placed."""
    low = world.CANVAS_MARGIN
    generator = np.random.default_rng(rng.getrandbits(64))
    order = sorted(range(len(sides)), key=lambda i: -sides[i])
    placed = np.zeros((len(sides), 4))
    for _ in range(attempts):
        for count, index in enumerate(order):
            side = sides[index]
            corners = generator.uniform(low, 1 - low - side, size=(candidates, 2))
            if count:
                before = placed[:count]
                dx = np.maximum(np.maximum(before[None, :, 0] - corners[:, None, 0] - side,
                                           corners[:, None, 0] - before[None, :, 2]), 0)
                dy = np.maximum(np.maximum(before[None, :, 1] - corners[:, None, 1] - side,
                                           corners[:, None, 1] - before[None, :, 3]), 0)
                fits = np.flatnonzero(np.all(dx * dx + dy * dy >= world.MIN_GAP ** 2, axis=1))
                if not len(fits):
                    break
                corners = corners[fits[:1]]
            placed[count] = (corners[0, 0], corners[0, 1], corners[0, 0] + side, corners[0, 1] + side)
        else:
            result: list[world.Box] = [None] * len(sides)  # type: ignore[list-item]
            for row, index in enumerate(order):
                result[index] = tuple(float(v) for v in placed[row])
            return result
    return None


def _holding_predicates(boxes_a: list[world.Box], boxes_b: list[world.Box]) -> list[str]:
    return [predicate for predicate in DIRECTIONAL + ("near",)
            if all(world.relation_holds(predicate, a, b) for a in boxes_a for b in boxes_b)]


def _choose_relations(group_boxes: list[list[world.Box]], mix: DataMix, rng: random.Random) -> list[Relation]:
    count = len(group_boxes)
    singles = [i for i in range(count) if len(group_boxes[i]) == 1]
    relations: list[Relation] = []
    if len(singles) >= 3 and rng.random() < mix.between_probability:
        middle, outer_a, outer_b = rng.sample(singles, 3)
        if world.relation_holds("between", group_boxes[middle][0], group_boxes[outer_a][0], group_boxes[outer_b][0]):
            relations.append(Relation(middle, "between", outer_a, outer_b))
    wanted = rng.randint(1, min(3, count - 1))
    pairs = [(a, b) for a in range(count) for b in range(count) if a != b]
    rng.shuffle(pairs)
    related: set[frozenset[int]] = {frozenset((r.subject, r.object)) for r in relations}
    for a, b in pairs:
        if len(relations) >= wanted:
            break
        if frozenset((a, b)) in related:
            continue
        predicates = _holding_predicates(group_boxes[a], group_boxes[b])
        directional = [p for p in predicates if p != "near"]
        if not predicates:
            continue
        predicate = rng.choice(directional) if directional and rng.random() < 0.8 else rng.choice(predicates)
        relations.append(Relation(a, predicate, b))
        related.add(frozenset((a, b)))
    return relations


def _choose_negations(groups: list[GroupSpec], mix: DataMix, rng: random.Random) -> list[Negation]:
    if rng.random() >= mix.negation_probability:
        return []
    present = {(g.shape, g.color) for g in groups}
    present_shapes = {g.shape for g in groups}
    present_colors = {g.color for g in groups}
    options = [Negation(shape, None) for shape in world.SHAPES if shape not in present_shapes]
    if None not in present_colors:  # an uncoloured group may take any colour: then negate only absent shapes
        options += [Negation(None, color) for color in world.PALETTE if color not in present_colors]
        options += [Negation(shape, color) for shape in world.SHAPES for color in world.PALETTE
                    if (shape, color) not in present and shape in present_shapes]
    return [rng.choice(options)] if options else []


def random_sample(rng: random.Random, size: int = 64, mix: DataMix = DataMix()) -> Sample:
    """Draw one random scene, place it, caption it and render it."""
    weights = mix.object_count_weights
    total = rng.choices(range(1, len(weights) + 1), weights=weights)[0]
    while True:
        counts = _partition_counts(total, mix.max_groups, rng)
        pairs = rng.sample([(s, c) for s in world.SHAPES for c in world.PALETTE], len(counts))
        groups = []
        shapes = [shape for shape, _ in pairs]
        for (shape, color), count in zip(pairs, counts):
            size_word = rng.choice(world.SHAPE_SIZE_WORDS) if rng.random() < mix.size_word_probability else None
            # Only a shape no other group has may go without a colour: "the square" must be unambiguous.
            uncoloured = shapes.count(shape) == 1 and rng.random() < mix.no_color_probability
            colour = None if uncoloured else color
            groups.append(GroupSpec(shape=shape, color=colour, size=size_word, count=count))
        # Draw each instance's side within its size word's range; with no size word, anywhere in the
        # allowed range, but capped in crowded scenes so that the objects still fit on the canvas.
        crowded_cap = max(0.17, min(world.ANY_SIZE_RANGE[1], (0.55 / total) ** 0.5 - world.MIN_GAP))
        sides = [rng.uniform(*world.size_range(g.size)) if g.size else rng.uniform(world.ANY_SIZE_RANGE[0], crowded_cap)
                 for g in groups for _ in range(g.count)]
        boxes = place_boxes(sides, rng)
        if boxes is not None:
            break
        total = max(1, total - 1)  # too crowded: try a smaller scene
    group_boxes, start = [], 0
    for group in groups:
        group_boxes.append(boxes[start:start + group.count])
        start += group.count
    relations: list[Relation] = []
    if len(groups) >= 2 and rng.random() < mix.relation_probability:
        relations = _choose_relations(group_boxes, mix, rng)
    if not relations:
        for group, own_boxes in zip(groups, group_boxes):
            if group.count == 1 and rng.random() < mix.location_probability:
                holding = [loc for loc in world.LOCATION_BOUNDS if world.location_holds(loc, own_boxes[0])]
                group.location = rng.choice(holding) if holding else None
    negations = _choose_negations(groups, mix, rng)
    caption = write_caption(CaptionPlan(groups, relations, negations), rng)
    scene = caption.scene

    instances, regions = [], []
    for group, group_id, own_boxes in zip(groups, caption.group_ids, group_boxes):
        colour = group.color if group.color is not None else rng.choice(list(world.PALETTE))
        phrase = scene.group(group_id).instance_phrase
        for instance, box in enumerate(own_boxes):
            instances.append(ShapeInstance(group.shape, colour, box))
            regions.append(Region(phrase=phrase, box=box, group=group_id, instance=instance))
    layout = Layout(regions=tuple(regions), prompt=scene.prompt, scene=scene)
    return Sample(image=render(instances, size), caption=scene.prompt, scene=scene, layout=layout,
                  instances=tuple(instances))


def stream_seed(seed: int, index: int) -> int:
    """The random seed of item `index` of stream `seed`: distinct for every (seed, index) pair with
    0 <= index < 2**40, so two streams never share an item (seed * 1_000_003 + index once let stream s
    run into stream s + 1 after a million samples)."""
    if not 0 <= index < 2**40 or seed < 0:
        raise ValueError(f"stream seed {seed}, index {index}: the seed must be >= 0 and the index in [0, 2**40)")
    return (seed << 40) | index


def sample_at(seed: int, index: int, size: int = 64, mix: DataMix = DataMix()) -> Sample:
    """Sample `index` of stream `seed`: the same arguments always give the same sample."""
    return random_sample(random.Random(stream_seed(seed, index)), size=size, mix=mix)


def stream(seed: int = 0, size: int = 64, mix: DataMix = DataMix(), start: int = 0, step: int = 1):
    """The infinite stream `seed` from sample `start`, taking every `step`-th sample (for sharding)."""
    index = start
    while True:
        yield sample_at(seed, index, size=size, mix=mix)
        index += step


def export_samples(folder: str | Path, count: int, seed: int = 0, size: int = 64,
                   mix: DataMix = DataMix()) -> Path:
    """Write `count` samples to `folder` as NNNNN.png plus samples.jsonl, for a person to look at."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "samples.jsonl", "w", encoding="utf-8") as lines:
        for index in range(count):
            sample = sample_at(seed, index, size=size, mix=mix)
            name = f"{index:05d}.png"
            Image.fromarray(sample.image).save(folder / name)
            lines.write(json.dumps({"image": name, **sample.to_record()}) + "\n")
    return folder
