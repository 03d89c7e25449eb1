"""Untraining (issue 12, sections 3 and 4): the closed-form edit of cross-attention keys and values, the
monitored fine-tune strategies of `compose correct` and `compose erase`, checked on tiny models for the
mechanics and once on the bundled model through the detector."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from compose.editing import (
    concept_texts,
    cross_attention_projections,
    edit_concepts,
    shapes_world_texts,
    swap_word_embeddings,
)
from compose.shapes.captions import replace_words


@pytest.fixture()
def tiny(tmp_path):
    from tiny_models import tiny_bundle

    from compose.model.bundle import save_bundle

    return save_bundle(tiny_bundle(frozen=False, image_size=64), tmp_path / "tiny")  # the detector reads 64 px and up


def test_the_edit_texts_name_the_concept_everywhere_and_preserve_every_other_shape():
    sources, targets, preserved = concept_texts({"star": ""})
    assert len(sources) == len(targets) == 30 and "a big blue star" in sources and "two red stars" in sources
    assert targets[sources.index("two red stars")] == "two red", "a deletion leaves the rest of the text"
    assert preserved and not any("star" in text for text in preserved)
    assert {text.split()[-1] for text in preserved} >= {"circle", "squares", "triangle", "diamonds"}
    swap_sources, swap_targets, swap_preserved = concept_texts({"diamond": "star", "star": "diamond"})
    assert swap_targets[swap_sources.index("a red diamond")] == "a red star"
    assert swap_targets[swap_sources.index("three blue stars")] == "three blue diamonds"
    assert not any("diamond" in text or "star" in text for text in swap_preserved)
    assert replace_words("a red starfish star", {"star": "circle"}) == "a red starfish circle", "whole words only"
    assert replace_words("two red stars and a star", {"star": ""}) == "two red and a", "deleted, spaces closed"
    assert replace_words("three stars", {"star": "diamond"}) == "three diamonds", "plurals follow"
    with pytest.raises(ValueError, match="name a shape"):
        shapes_world_texts("unicorn")


def test_a_closed_form_edit_is_the_least_squares_optimum_and_touches_only_keys_and_values(tiny):
    """Per projection, W' minimises |W' C - W T|^2 + s |W' P - W P|^2 + r |W' - W|^2 (the module docstring):
    its objective is below the unedited weights' and below any small step away from W'."""
    from compose.editing import PRESERVE_SCALE, RIDGE, token_rows
    from compose.model.bundle import load_model

    bundle = load_model(tiny)
    sources, targets, preserved = concept_texts({"diamond": "star"})
    rows = {name: token_rows(bundle, texts) for name, texts in
            (("C", sources), ("T", targets), ("P", preserved))}
    gram = rows["C"].T @ rows["C"] + PRESERVE_SCALE * rows["P"].T @ rows["P"]
    ridge = RIDGE * float(gram.diagonal().mean())
    originals = [projection.weight.double().clone() for projection in cross_attention_projections(bundle.unet)]
    convolution = bundle.unet.conv_in.weight.clone()
    report = edit_concepts(bundle, {"diamond": "star"})

    def objective(edited, weight):
        return float((rows["C"] @ edited.T - rows["T"] @ weight.T).pow(2).sum()
                     + PRESERVE_SCALE * (rows["P"] @ (edited - weight).T).pow(2).sum()
                     + ridge * (edited - weight).pow(2).sum())

    generator = torch.Generator().manual_seed(0)
    for projection, weight in zip(cross_attention_projections(bundle.unet), originals):
        edited = projection.weight.double()
        best = objective(edited, weight)
        assert best < objective(weight, weight), "the edit lowers the objective"
        for _ in range(3):
            step = 1e-2 * torch.randn(edited.shape, generator=generator, dtype=edited.dtype) * edited.abs().mean()
            assert best <= objective(edited + step, weight) * (1 + 1e-6), "no nearby weights do better"
    assert 0 < report.moved <= 1
    assert torch.equal(bundle.unet.conv_in.weight, convolution), "only key and value projections change"
    assert report.projections == len(originals)
    with pytest.raises(ValueError, match="mapped to itself"):
        edit_concepts(bundle, {"star": "star"})


def test_correct_fine_tunes_with_monitoring_and_writes_a_loadable_model(tiny, tmp_path):
    from compose.model.bundle import load_model
    from compose.untraining import UntrainConfig, correct

    original = load_model(tiny)
    results = {}
    for strategy in ("finetune", "anchored", "prior", "curated"):
        out = tmp_path / strategy
        config = UntrainConfig(strategy=strategy, steps=2, batch_size=2, monitor_every=1, monitor_seeds=1,
                               monitor_steps=1, anchor_pull=0.5, curated_seeds=1,
                               focus_share=0.5 if strategy == "finetune" else 0.0)
        results[strategy] = correct(str(tiny), ["diamond"], config, out)
        log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
        steps = [record["step"] for record in log]
        assert steps[0] == 0 and steps == sorted(steps) and len(steps) >= 2 and set(log[0]["target"]) == {"diamond"}
        assert set(log[0]["retain"]) == {"circle", "square", "triangle", "star"}
        assert (out / "monitor.png").is_file() and json.loads((out / "result.json").read_text())["steps"] >= 1
        edited = load_model(out / "model")
        assert edited.info["edits"][-1]["strategy"] == strategy
        if strategy == "curated":
            assert results[strategy]["curated"]["drawn"] == 90, "every shape x colour x size wording, once"
        moved = sum(float((a.float() - b).abs().sum()) for a, b in zip(edited.unet.parameters(),
                                                                      original.unet.parameters()))
        assert moved > 0, "the fine-tune changed the weights"
    with pytest.raises(ValueError, match="already holds"):
        correct(str(tiny), ["diamond"], UntrainConfig(strategy="finetune", steps=1), tmp_path / "finetune")
    with pytest.raises(ValueError, match="--strategy 'esd'"):
        correct(str(tiny), ["diamond"], UntrainConfig(strategy="esd"), tmp_path / "other")
    with pytest.raises(ValueError, match="--confused-with"):
        correct(str(tiny), ["diamond"], UntrainConfig(strategy="closed-form"), tmp_path / "other")


def test_a_token_swap_makes_each_word_read_exactly_as_the_other_did(tiny):
    from compose.model.bundle import load_model

    bundle = load_model(tiny)  # its tokenizer holds star, stars, square and squares as one token each
    texts = ["a red star", "a red square", "two blue stars", "two blue squares", "a small green circle"]
    with torch.no_grad():
        before = bundle.encode(texts, bundle.text_length)
        unet_before = [p.clone() for p in bundle.unet.parameters()]
        report = swap_word_embeddings(bundle, {"star": "square"})
        after = bundle.encode(texts, bundle.text_length)
    assert report["swapped"] == [["star", "square"], ["stars", "squares"]]
    for now, then in ((0, 1), (1, 0), (2, 3), (3, 2), (4, 4)):
        assert torch.equal(after[now], before[then]), f"{texts[now]!r} should read as {texts[then]!r} did"
    assert all(torch.equal(a, b) for a, b in zip(bundle.unet.parameters(), unet_before)), "the UNet is untouched"
    table = bundle.text_encoder.get_input_embeddings().weight.detach().clone()
    with pytest.raises(ValueError, match="'diamonds' is 4 tokens"):  # di amon d s: refused before anything moves
        swap_word_embeddings(bundle, {"star": "square", "diamond": "circle"})
    assert torch.equal(table, bundle.text_encoder.get_input_embeddings().weight), "a refused swap changes nothing"
    with pytest.raises(ValueError, match="itself"):
        swap_word_embeddings(bundle, {"star": "star"})


def test_correct_by_token_swap_writes_the_swapped_model(tiny, tmp_path):
    from compose.model.bundle import load_model
    from compose.untraining import UntrainConfig, correct

    config = UntrainConfig(strategy="token-swap", monitor_seeds=1, monitor_steps=1)
    with pytest.raises(ValueError, match="--confused-with"):
        correct(str(tiny), ["star"], config, tmp_path / "none")
    with pytest.raises(ValueError, match="one --concept"):
        correct(str(tiny), ["star", "circle"], config, tmp_path / "none", confused_with="square")
    result = correct(str(tiny), ["star"], config, tmp_path / "swap", confused_with="square")
    assert result["strategy"] == "token-swap" and result["steps"] == 0
    assert set(result["monitor_after"]["target"]) == {"star", "square"}, "both swapped words are targets"
    assert set(result["monitor_after"]["retain"]) == {"circle", "triangle", "diamond"}
    original, edited = load_model(tiny), load_model(tmp_path / "swap" / "model")
    assert edited.info["edits"][-1]["strategy"] == "token-swap"
    with torch.no_grad():
        assert torch.allclose(edited.encode(["a red star"], 16), original.encode(["a red square"], 16), atol=1e-3)


def moved_parameters(after: torch.nn.Module, before: torch.nn.Module) -> list[str]:
    """The names of `after`'s parameters that differ from `before`'s by more than fp16 saving does."""
    return [name for (name, new), old in zip(after.named_parameters(), before.parameters())
            if not torch.allclose(new.float(), old.float(), atol=1e-3)]


def test_esd_erasure_trains_only_cross_attention(tiny, tmp_path):
    from compose.model.bundle import load_model
    from compose.untraining import UntrainConfig, erase

    original = load_model(tiny)
    erase(str(tiny), "star", UntrainConfig(strategy="esd", steps=2, batch_size=2, learning_rate=1e-2, monitor_every=2,
                                           monitor_seeds=1, monitor_steps=1), tmp_path / "esd")
    edited = load_model(tmp_path / "esd" / "model")
    moved = moved_parameters(edited.unet, original.unet)
    assert moved
    for name in moved:
        assert ".attn2." in name, f"{name} changed, but ESD-x trains cross-attention only"
    assert not moved_parameters(edited.text_encoder, original.text_encoder), "the text encoder is frozen"


def test_closed_form_erasure_on_the_bundled_model_leaves_no_star_and_keeps_circles():
    """Measured: on the bundled model the edit takes "a red star" (and every wording of star) to the
    text without it; afterwards no red or blue star is drawn and circles still are."""
    from compose.bench.audit import read_drawn
    from compose.generate import Generator
    from compose.model.bundle import load_model

    bundle = load_model(None)
    generator = Generator.from_bundle(bundle, "bundled")
    # Measured at the model's default (8 trailing DDIM steps): these four pictures draw a star before the edit.
    asked = [("red", seed) for seed in (0, 2)] + [("blue", seed) for seed in (0, 1)]
    assert all(read_drawn(generator(prompt=f"a {c} star", method="plain", seed=s).image)[0] == "star"
               for c, s in asked)
    report = edit_concepts(bundle, {"star": ""})
    drawn = [read_drawn(generator(prompt=f"a {c} star", method="plain", seed=s).image)[0] for c, s in asked]
    assert "star" not in drawn
    kept = [read_drawn(generator(prompt=f"a {c} circle", method="plain", seed=s).image)[:2] for c, s in asked]
    assert kept == [("circle", c) for c, _ in asked]
    assert np.isfinite(report.moved)


def test_the_untraining_flags_reach_the_config():
    from compose.cli import _untrain_config, build_parser

    args = build_parser().parse_args(["correct", "bundled", "--concept", "diamond", "--out", "unused",
                                      "--monitor-steps", "8", "--monitor-seeds", "2", "--ema-decay", "0.98",
                                      "--warmup-steps", "20", "--train", "text", "--strategy", "curated",
                                      "--curated-seeds", "3", "--curated-share", "0.25", "--decay", "cosine",
                                      "--adam-epsilon", "1e-4", "--rest-learning-rate", "2e-5", "--average-last", "7",
                                      "--focus-share", "0.5"])
    config = _untrain_config(args)
    assert (config.decay, config.adam_epsilon, config.rest_learning_rate, config.average_last) == (
        "cosine", 1e-4, 2e-5, 7)
    assert (config.monitor_steps, config.monitor_seeds, config.ema_decay, config.warmup_steps, config.trained) == (
        8, 2, 0.98, 20, "text")
    assert (config.strategy, config.curated_seeds, config.curated_share, config.focus_share) == (
        "curated", 3, 0.25, 0.5)
    assert _untrain_config(build_parser().parse_args(["erase", "bundled", "--concept", "star", "--out",
                                                      "unused"])).monitor_steps == 25


def test_focus_fills_the_first_rows_of_a_caption_batch_with_samples_that_draw_a_target():
    from compose.shapes.data import TRAINING_MIX, sample_at
    from compose.training import ShapesBatches
    from compose.untraining import FocusedStream

    data = ShapesBatches(0, 8, start_batch=0, rank=0, world=1, region_fraction=0.0)
    batch = data.batch(0)
    focus = FocusedStream(0, ("diamond",), 64)
    mixed = focus.mixed_into(batch, 0.5)
    assert mixed["captions"][4:] == batch["captions"][4:] and torch.equal(mixed["images"][4:], batch["images"][4:])
    first = focus.next_index - 1  # the last focused sample taken: it must be the one in row 3, image and caption
    sample = sample_at(0, first, size=64, mix=TRAINING_MIX)
    assert mixed["captions"][3] == sample.caption
    assert torch.equal(mixed["images"][3], torch.from_numpy(sample.image).permute(2, 0, 1).float() / 127.5 - 1)
    assert all("diamond" in caption for caption in mixed["captions"][:4]), mixed["captions"][:4]
    assert focus.mixed_into(batch, 0.5)["captions"][:4] != mixed["captions"][:4], "each step takes new samples"
    region = {**batch, "region_mode": True}
    assert focus.mixed_into(region, 0.5) is region, "region batches keep their own phrases and boxes"


def test_focus_is_refused_for_an_erasure_and_for_a_colour(tiny, tmp_path):
    from compose.untraining import UntrainConfig, correct, erase

    config = UntrainConfig(strategy="finetune", steps=1, focus_share=0.5)
    with pytest.raises(ValueError, match="--focus-share 0.5: correct only, and only shapes"):
        correct(str(tiny), ["red"], config, tmp_path / "colour")
    with pytest.raises(ValueError, match="--focus-share"):
        erase(str(tiny), "star", UntrainConfig(strategy="esd", steps=1, focus_share=0.5), tmp_path / "erase")
    assert not (tmp_path / "colour").exists() and not (tmp_path / "erase").exists()


def test_the_learning_rate_warms_up_then_holds_or_anneals_to_zero():
    from compose.untraining import UntrainConfig, learning_rate_share

    held = UntrainConfig("finetune", steps=100, warmup_steps=10)
    annealed = UntrainConfig("finetune", steps=100, warmup_steps=10, decay="cosine")
    for config in (held, annealed):
        assert learning_rate_share(0, config) == pytest.approx(1 / 11)
        assert learning_rate_share(10, config) == pytest.approx(1.0)
    assert [learning_rate_share(done, held) for done in (55, 99, 100)] == [1.0, 1.0, 1.0]
    shares = [learning_rate_share(done, annealed) for done in range(10, 101)]
    assert shares == sorted(shares, reverse=True) and shares[-1] == pytest.approx(0.0, abs=1e-12)
    assert learning_rate_share(55, annealed) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="--decay 'linear'"):
        UntrainConfig("finetune", decay="linear").check(("finetune",))


def test_tail_averaging_takes_the_plain_mean_of_the_last_steps():
    from compose.untraining import UntrainConfig, averaging_rate

    config = UntrainConfig("finetune", steps=10, average_last=4, ema_decay=0.98)
    average, weights = torch.zeros(1), [float(step * step) for step in range(1, 11)]
    for step, weight in enumerate(weights, start=1):
        rate = averaging_rate(step, config)
        average = rate * average + (1 - rate) * weight
    assert float(average) == pytest.approx(sum(weights[-4:]) / 4)
    assert averaging_rate(3, UntrainConfig("finetune", steps=10)) == 0.0  # no average: the live weights
    assert averaging_rate(3, config) == pytest.approx(3 / 12)  # the moving average's warm-up before the tail
    with pytest.raises(ValueError, match="--average-last 11"):
        UntrainConfig("finetune", steps=10, average_last=11).check(("finetune",))


@pytest.mark.parametrize("part", ["text", "key-value", "text-encoder", "word-embeddings", "concept-rows",
                                  "other-rows"])
def test_a_text_fine_tune_moves_only_what_reads_the_words(tiny, tmp_path, part):
    from compose.model.bundle import load_model
    from compose.untraining import UntrainConfig, correct

    original = load_model(tiny)
    correct(str(tiny), ["diamond"], UntrainConfig(strategy="finetune", steps=2, batch_size=2, learning_rate=1e-2,
                                                  monitor_every=2, monitor_seeds=1, monitor_steps=1, trained=part),
            tmp_path / part)
    edited = load_model(tmp_path / part / "model")
    moved = moved_parameters(edited.unet, original.unet)
    assert bool(moved) == (part in ("text", "key-value")), \
        f"--train {part}: the key/value projections learn unless frozen"
    for name in moved:
        assert ".attn2.to_k." in name or ".attn2.to_v." in name, f"{name} changed, but only what reads text trains"
    text_moved = moved_parameters(edited.text_encoder, original.text_encoder)
    assert bool(text_moved) == (part != "key-value"), f"--train {part}: the text encoder learns unless frozen"
    if part in ("word-embeddings", "concept-rows", "other-rows"):
        assert [name.split(".")[-2] for name in text_moved] == ["token_embedding"], f"{text_moved}: only the words"
        rows = (edited.text_encoder.get_input_embeddings().weight
                != original.text_encoder.get_input_embeddings().weight).any(dim=1).nonzero().flatten().tolist()
        pieces = {token for form in ("diamond", "diamonds")
                  for token in edited.tokenizer(form, add_special_tokens=False).input_ids}
        if part == "concept-rows":
            assert rows and set(rows) <= pieces, f"rows {rows} moved; only the target word's {sorted(pieces)} may"
        elif part == "other-rows":
            assert len(rows) > 5 and not set(rows) & pieces, f"rows {rows} moved; the target's {sorted(pieces)} may not"
        else:
            assert len(set(rows) - pieces) > 5, f"rows {rows} moved: every word the captions use learns"


def test_a_rest_learning_rate_lets_the_other_weights_learn_too(tiny, tmp_path):
    from compose.model.bundle import load_model
    from compose.untraining import UntrainConfig, correct

    original = load_model(tiny)
    correct(str(tiny), ["diamond"], UntrainConfig(strategy="finetune", steps=2, batch_size=2, learning_rate=1e-2,
                                                  rest_learning_rate=1e-2, monitor_every=2, monitor_seeds=1,
                                                  monitor_steps=1, trained="text"), tmp_path / "both")
    moved = moved_parameters(load_model(tmp_path / "both" / "model").unet, original.unet)
    assert any(".attn2.to_k." in name for name in moved)
    assert any("conv" in name for name in moved), "the picture-reading layers learned at the rest's rate"
    with pytest.raises(ValueError, match="only with a --train other than all"):
        UntrainConfig("finetune", rest_learning_rate=1e-5).check(("finetune",))
    with pytest.raises(ValueError, match="give 0"):
        UntrainConfig("finetune", trained="text", rest_learning_rate=-1.0).check(("finetune",))


def stand_in_picture(prompt: str, shapes: dict | None = None, colours: dict | None = None) -> np.ndarray:
    """What a stand-in model draws for "a [size] COLOUR SHAPE": the shape (or `shapes`' swap for it) in the
    colour (or `colours`' swap), one of it, except circles, drawn twice."""
    from compose.shapes.render import ShapeInstance, render

    *_, colour, shape = prompt.split()
    colour, shape = (colours or {}).get(colour, colour), (shapes or {}).get(shape, shape)
    boxes = [(0.1, 0.1, 0.4, 0.4), (0.55, 0.55, 0.85, 0.85)] if shape == "circle" else [(0.3, 0.3, 0.7, 0.7)]
    return render([ShapeInstance(shape, colour, box) for box in boxes], 64)


def test_the_curated_pool_keeps_clean_pictures_labelled_by_what_they_show(monkeypatch):
    """A stand-in model that draws a star when asked for a diamond, two circles when asked for a circle and
    the wrong colour for yellow: the pool keeps the stars as stars, drops the copies and the wrong colours."""
    import compose.sampling
    from compose.bench.audit import SIZE_WORDS
    from compose.untraining import CURATED_FIRST_SEED, CuratedPool, curated_pool

    asked_seeds = []

    def drawn(bundle, prompts, seeds, steps, guidance):
        asked_seeds.extend(seeds)
        return [stand_in_picture(prompt, shapes={"diamond": "star"}, colours={"yellow": "blue"}) for prompt in prompts]

    class Bundle:
        unet = torch.nn.Identity()

        def steps_or_default(self, steps, method):
            return 25

        def guidance_or_default(self, guidance, method):
            return 4.0

    monkeypatch.setattr(compose.sampling, "generate_plain", drawn)
    pool = curated_pool(Bundle(), seeds=2, chunk=7)
    per_shape = 5 * len(SIZE_WORDS) * 2  # five colours read back right, every size wording, two seeds
    assert pool.summary["drawn"] == 5 * 6 * len(SIZE_WORDS) * 2 and min(asked_seeds) == CURATED_FIRST_SEED
    assert pool.summary["kept"] == 4 * per_shape and pool.summary["relabelled"] == per_shape
    assert len(pool.captions) == pool.images.shape[0] and pool.images.shape[1:] == (3, 64, 64)
    assert not [c for c in pool.captions if "circle" in c or "diamond" in c or "yellow" in c]
    assert sum(c.endswith("star") for c in pool.captions) == 2 * per_shape and "a small red star" in pool.captions
    assert -1 <= float(pool.images.min()) and float(pool.images.max()) <= 1

    batch = {"region_mode": False, "images": torch.zeros(4, 3, 64, 64), "captions": ["w", "x", "y", "z"]}
    mixed = pool.mixed_into(batch, 0.5, torch.Generator().manual_seed(0))
    assert mixed["captions"][2:] == ["y", "z"] and set(mixed["captions"][:2]) <= set(pool.captions)
    assert float(mixed["images"][:2].abs().sum()) > 0 and float(mixed["images"][2:].abs().sum()) == 0
    assert float(batch["images"].abs().sum()) == 0, "the stream's batch is not changed in place"
    region_batch = {**batch, "region_mode": True}
    assert pool.mixed_into(region_batch, 0.5, torch.Generator()) is region_batch
    assert CuratedPool(torch.zeros(0), [], {}).mixed_into(batch, 0.5, torch.Generator()) is batch


def test_the_monitor_reads_pictures_strictly_as_the_audit_does():
    """Copies of the right shape fail a correction's monitor (as in the audit) but still count as the
    concept drawn for an erasure's."""
    from compose.untraining import Monitor

    def draw(prompts, seeds):
        return [stand_in_picture(prompt) for prompt in prompts]

    measured = Monitor(("diamond",), ("circle", "square"), seeds=1).measure(draw)
    assert measured["target"] == {"diamond": 1.0} and measured["retain"] == {"circle": 0.0, "square": 1.0}
    assert measured["retain_mean"] == 0.5
    erased = Monitor(("circle",), ("square",), seeds=1, erase=True).measure(draw)
    assert erased["target"] == {"circle": 1.0} and erased["target_worst"] == 1.0


def test_the_report_of_a_curated_run_names_its_pool(capsys):
    from compose.cli import _report_untraining

    monitor = {"target_mean": 0.1, "retain_mean": 0.8}
    result = {"concepts": ["diamond"], "strategy": "curated", "steps": 3, "wall_seconds": 1.0, "output_model": "m",
              "monitor_before": monitor, "monitor_after": monitor,
              "curated": {"drawn": 90, "kept": 0, "relabelled": 0, "seconds": 2.0}}
    _report_untraining("corrected", result)
    printed = capsys.readouterr().out
    assert "curated pool: 0 of 90 pictures kept" in printed and "none kept" in printed


def test_the_mixed_parts_audit_counts_every_picture_and_refuses_unknown_words(tiny):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "audit_mixed_parts.py"
    command = [sys.executable, str(script), str(tiny), str(tiny), "--shapes", "circle,star", "--sizes", "small",
               "--seeds", "1", "--threads", "1"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if "size word small" in line)
    right, total = (int(word) for word in line.split(":")[1].split()[:3:2])
    assert total == 12 and 0 <= right <= total, "2 shapes x 6 colours x 1 seed, each read back"
    refused = subprocess.run(command[:5] + ["hexagon"], capture_output=True, text=True, timeout=600)
    assert refused.returncode == 2 and "'hexagon' is not a shape" in refused.stderr


def test_the_object_weight_reaches_the_config_and_is_refused_where_pictures_have_no_boxes():
    from compose.cli import _untrain_config, build_parser
    from compose.untraining import CORRECT_STRATEGIES, UntrainConfig

    args = build_parser().parse_args(["correct", "bundled", "--concept", "diamond", "--out", "unused",
                                      "--object-weight", "9"])
    assert _untrain_config(args).object_weight == 9
    UntrainConfig(strategy="finetune", object_weight=9).check(CORRECT_STRATEGIES)
    for config in (UntrainConfig(strategy="finetune", object_weight=9, focus_share=0.5),
                   UntrainConfig(strategy="curated", object_weight=9),
                   UntrainConfig(strategy="finetune", object_weight=-1)):
        with pytest.raises(ValueError, match="--object-weight"):
            config.check(CORRECT_STRATEGIES)


def test_the_targets_only_audit_counts_exactly_what_the_audit_counts(tiny, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from compose.bench.audit import audit_cases, read_cases
    from compose.generate import Generator

    script = Path(__file__).resolve().parents[1] / "scripts" / "audit_shapes.py"
    command = [sys.executable, str(script), str(tiny), str(tmp_path / "readings.json"), "--shapes", "diamond",
               "--seeds", "1", "--threads", "1"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    rows = json.loads((tmp_path / "readings.json").read_text())["rows"]
    assert len(rows) == 18, "6 colours x 3 size wordings x 1 seed"
    readings = read_cases(Generator(str(tiny)), audit_cases(["diamond"], [1]))  # audit() draws through read_cases
    assert [(row["color"], row["size"], row["drawn_shape"], row["drawn_color"], row["objects"]) for row in rows] == [
        (r.color, r.size, r.drawn_shape, r.drawn_color, r.objects) for r in readings], "the audit's own pictures"
    refused = subprocess.run(command[:4] + ["--shapes", "hexagon"], capture_output=True, text=True, timeout=600)
    assert refused.returncode == 2 and "'hexagon' is not a shape" in refused.stderr


def test_grafting_word_rows_takes_exactly_the_named_rows_or_all_but_them(tiny, tmp_path):
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from safetensors.torch import load_file, save_file
    from transformers import CLIPTokenizer

    weights, table = "text_encoder/model.safetensors", "embeddings.token_embedding.weight"
    donor = tmp_path / "donor"
    shutil.copytree(tiny, donor)
    tensors = load_file(donor / weights)
    tensors[table] = tensors[table] + 1  # every row of the donor differs from the base's
    save_file(tensors, donor / weights)
    pieces = set(CLIPTokenizer.from_pretrained(tiny / "tokenizer")("diamond", add_special_tokens=False).input_ids)
    script = Path(__file__).resolve().parents[1] / "scripts" / "graft_word_rows.py"
    for flag in ("--only", "--all-but"):
        out = tmp_path / flag.strip("-")
        done = subprocess.run([sys.executable, str(script), str(tiny), str(donor), str(out), flag, "diamond"],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        grafted = load_file(out / weights)
        changed = set((grafted[table] != load_file(tiny / weights)[table]).any(dim=1).nonzero().flatten().tolist())
        expected = pieces if flag == "--only" else set(range(grafted[table].shape[0])) - pieces
        assert changed == expected, f"{flag}: rows {sorted(changed)} taken from the donor"
    again = subprocess.run([sys.executable, str(script), str(tiny), str(donor), str(tmp_path / "only"), "--only", "x"],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "already exists" in again.stderr, "nothing is overwritten"


def test_grafting_a_part_takes_exactly_that_part_of_the_donor(tiny, tmp_path):
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    import torch
    from safetensors.torch import load_file, save_file

    donor = tmp_path / "donor"
    shutil.copytree(tiny, donor)
    for weights in ("text_encoder/model.safetensors", "unet/diffusion_pytorch_model.safetensors"):
        tensors = load_file(donor / weights)
        save_file({name: tensor + 1 for name, tensor in tensors.items()}, donor / weights)  # every weight differs
    script = Path(__file__).resolve().parents[1] / "scripts" / "graft_word_rows.py"
    text = "text_encoder/model.safetensors"
    for part, taken in (("text-layers", lambda name: name.startswith(("encoder.layers.", "final_layer_norm."))),
                        ("positions", lambda name: name == "embeddings.position_embedding.weight")):
        out = tmp_path / part
        done = subprocess.run([sys.executable, str(script), str(tiny), str(donor), str(out), "--part", part],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        grafted, base, given = load_file(out / text), load_file(tiny / text), load_file(donor / text)
        assert any(taken(name) for name in grafted) and not all(taken(name) for name in grafted)
        for name, tensor in grafted.items():
            assert torch.equal(tensor, given[name] if taken(name) else base[name]), f"{part}: {name}"
        assert (out / "unet").is_dir() and not any(
            torch.equal(a, b) for a, b in zip(load_file(out / "unet/diffusion_pytorch_model.safetensors").values(),
                                              load_file(donor / "unet/diffusion_pytorch_model.safetensors").values()))
    out = tmp_path / "unet"
    done = subprocess.run([sys.executable, str(script), str(tiny), str(donor), str(out), "--part", "unet"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (out / "unet/diffusion_pytorch_model.safetensors").read_bytes() == (
        donor / "unet/diffusion_pytorch_model.safetensors").read_bytes()
    assert (out / text).read_bytes() == (tiny / text).read_bytes()


def test_drawn_sizes_counts_the_audits_pictures_of_one_size_wording(tiny, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from compose.bench.audit import audit_cases, read_cases
    from compose.generate import Generator

    script = Path(__file__).resolve().parents[1] / "scripts" / "drawn_sizes.py"
    out = tmp_path / "sizes.json"
    command = [sys.executable, str(script), str(tiny), "--size", "small", "--shapes", "circle", "--seeds", "1",
               "--threads", "1", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    figures = json.loads(out.read_text())["models"][str(tiny)]
    cases = [case for case in audit_cases(["circle"], [1]) if case[2] == "small"]
    readings = read_cases(Generator(str(tiny)), cases)  # what audit() draws and reads for those pictures
    assert figures["pictures"] == len(readings) == 6, "one picture per palette colour"
    assert figures["empty"] == sum(r.objects == 0 for r in readings)
    assert figures["copies"] == sum(r.objects > 1 for r in readings)
    refused = subprocess.run(command[:3] + ["--size", "tiny"], capture_output=True, text=True, timeout=600)
    assert refused.returncode == 2 and "--size 'tiny'" in refused.stderr


def test_moving_a_word_row_moves_that_row_only_and_by_the_share(tiny, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    import torch
    from safetensors.torch import load_file
    from transformers import CLIPTokenizer

    script = Path(__file__).resolve().parents[1] / "scripts" / "move_word_row.py"
    out = tmp_path / "moved"
    # The tiny tokenizer spells most words out; "red" and "a" are one row each there.
    command = [sys.executable, str(script), str(tiny), str(out), "--word", "red", "--toward", "a", "--share", "0.25"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    table = "embeddings.token_embedding.weight"
    before, after = (load_file(folder / "text_encoder/model.safetensors")[table] for folder in (tiny, out))
    tokenizer = CLIPTokenizer.from_pretrained(tiny / "tokenizer")
    red, a = (tokenizer(word, add_special_tokens=False).input_ids[0] for word in ("red", "a"))
    assert torch.allclose(after[red], before[red] + 0.25 * (before[a] - before[red]))
    others = [row for row in range(before.shape[0]) if row != red]
    assert torch.equal(after[others], before[others])
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "already exists" in again.stderr, "nothing is overwritten"
    wide = subprocess.run(command[:3] + [str(tmp_path / "other")] + command[4:-1] + ["1.5"],
                          capture_output=True, text=True, timeout=300)
    assert wide.returncode == 2 and "--share 1.5" in wide.stderr
    split = subprocess.run(command[:3] + [str(tmp_path / "split"), "--word", "small", "--toward", "a", "--share", "0.1"],
                           capture_output=True, text=True, timeout=300)
    assert split.returncode == 2 and "'small': the tokenizer reads it as 5 pieces" in split.stderr
