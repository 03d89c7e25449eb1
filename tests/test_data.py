"""The shapes-world data stream: reproducible, valid placements, captions true of their pictures."""

import json
import random

import numpy as np
import pytest

from compose.scene import Negation
from compose.shapes import world
from compose.shapes.captions import CaptionPlan, GroupSpec, write_caption
from compose.shapes.data import TRAINING_MIX, DataMix, export_samples, sample_at, stream


def test_same_seed_and_index_give_the_same_sample():
    a, b = sample_at(3, 17), sample_at(3, 17)
    assert a.caption == b.caption and (a.image == b.image).all() and a.scene == b.scene
    assert sample_at(3, 18).caption != a.caption or not (sample_at(3, 18).image == a.image).all()


def test_stream_shards_cover_the_same_samples():
    whole = [s.caption for _, s in zip(range(6), stream(seed=5))]
    even = [s.caption for _, s in zip(range(3), stream(seed=5, start=0, step=2))]
    odd = [s.caption for _, s in zip(range(3), stream(seed=5, start=1, step=2))]
    assert whole[0::2] == even and whole[1::2] == odd


def _instances_by_group(sample):
    boxes = {}
    for region in sample.layout.regions:
        boxes.setdefault(region.group, []).append(region.box)
    return boxes


def test_every_sample_obeys_placement_and_its_caption_is_true():
    for index in range(400):
        sample = sample_at(11, index)
        scene = sample.scene
        boxes = [item.box for item in sample.instances]
        assert not world.placement_problems(boxes), (index, sample.caption)
        assert 1 <= len(boxes) <= world.MAX_OBJECTS
        by_group = _instances_by_group(sample)
        assert sorted(by_group) == [group.id for group in scene.objects]
        for group in scene.objects:
            assert len(by_group[group.id]) == group.count, sample.caption
            low, high = world.size_range(group.size)
            for box in by_group[group.id]:
                assert low - 1e-9 <= box[2] - box[0] <= high + 1e-9
                if group.location:
                    assert world.location_holds(group.location, box), sample.caption
        for relation in scene.relations:
            for a in by_group[relation.subject]:
                for b in by_group[relation.object]:
                    c = by_group[relation.object2][0] if relation.object2 is not None else None
                    assert world.relation_holds(relation.predicate, a, b, c), (sample.caption, relation)
        for negation in scene.negations:
            for item in sample.instances:
                assert not ((negation.noun in (None, item.shape)) and (negation.color in (None, item.color))), \
                    sample.caption


def test_sample_pixels_show_each_object_in_its_colour():
    sample = sample_at(2, 4)
    size = sample.image.shape[0]
    for item in sample.instances:
        x0, y0, x1, y1 = (int(round(v * size)) for v in item.box)
        centre = sample.image[(y0 + y1) // 2, (x0 + x1) // 2]
        if item.shape in ("square", "circle", "diamond"):
            assert tuple(centre) == world.PALETTE[item.color]


def test_group_phrases_are_the_words_of_the_first_mention():
    for index in range(200):
        scene = sample_at(4, index, mix=TRAINING_MIX).scene
        lowered = scene.prompt.lower()
        for group in scene.objects:
            assert group.phrase.lower() in lowered, (group.phrase, scene.prompt)
        assert [group.id for group in scene.objects] == list(range(len(scene.objects)))


def test_caption_writer_back_references_and_negations():
    rng = random.Random(0)
    groups = [GroupSpec("circle", "red", None, 1), GroupSpec("circle", "blue", "large", 2)]
    from compose.scene import Relation

    texts = set()
    for _ in range(40):
        caption = write_caption(CaptionPlan(groups, [Relation(0, "left_of", 1)], [Negation("star", None)]), rng)
        texts.add(caption.text)
        assert "star" in caption.text.lower()
        assert caption.scene.negations == (Negation("star", None),)
        assert caption.scene.relations[0].predicate == "left_of"
    # both groups share the noun "circle", so any back reference names the colour
    assert any("the blue circles" in text.lower() or "the red circle" in text.lower() for text in texts)
    assert len(texts) > 10, "the writer varies its phrasing"


def test_export_writes_pictures_and_records(tmp_path):
    folder = export_samples(tmp_path / "samples", 5, seed=1, size=96)
    records = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
    assert len(records) == 5
    from PIL import Image

    picture = np.asarray(Image.open(folder / records[0]["image"]))
    assert picture.shape == (96, 96, 3)
    assert records[0]["caption"] == sample_at(1, 0, size=96).caption


def test_mix_controls_object_counts():
    singles = DataMix(object_count_weights=(1,))
    assert all(len(sample_at(0, i, mix=singles).instances) == 1 for i in range(50))


def test_captions_parse_back_to_their_scenes():
    """Issue 3 asks >= 99% on 10,000 captions (benchmarks/parse_accuracy.py); a slice of it here."""
    from compose.parsing import parse

    samples = [sample_at(21, index) for index in range(600)]
    exact = sum(parse(sample.caption).to_dict() == sample.scene.to_dict() for sample in samples)
    assert exact / len(samples) >= 0.99


def test_streams_of_different_seeds_never_share_an_item():
    from compose.shapes.data import stream_seed

    assert stream_seed(0, 1_000_003) != stream_seed(1, 0)  # the old seed * 1_000_003 + index collided here
    seeds = {stream_seed(seed, index) for seed in range(4) for index in (0, 1, 2**20, 2**40 - 1)}
    assert len(seeds) == 16
    with pytest.raises(ValueError, match="index"):
        stream_seed(0, 2**40)
