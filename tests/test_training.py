"""Training: steps run, checkpoints resume exactly, export loads, and the loop's pure parts are right."""

import json

import numpy as np
import pytest
import torch

from tiny_models import tiny_config as tiny_model_config

from compose.model.bundle import ModelLoadError, ShapesModelConfig, load_model
from compose.training import (ShapesBatches, TrainConfig, export_model, learning_rate_at, min_snr_weights,
                              train)

TINY = tiny_model_config(image_size=64)


def tiny_config(folder, steps):
    return TrainConfig(output=str(folder), steps=steps, batch_size=4, warmup_steps=2, validate_every=0,
                       checkpoint_minutes=60, workers=0, progress=False, region_fraction=0.5, model=TINY)


def _weights(folder):
    from safetensors.torch import load_file

    return load_file(folder / "checkpoint" / "unet.safetensors")


def test_resumed_run_matches_an_uninterrupted_one(tmp_path):
    train(tiny_config(tmp_path / "straight", 4))
    interrupted = tiny_config(tmp_path / "resumed", 4)
    interrupted.stop_at_step = 2
    train(interrupted)
    assert json.loads((tmp_path / "resumed" / "checkpoint" / "trainer_state.json").read_text())["step"] == 2
    train(tiny_config(tmp_path / "resumed", 4), resume=True)
    straight, resumed = _weights(tmp_path / "straight"), _weights(tmp_path / "resumed")
    assert straight.keys() == resumed.keys()
    for name in straight:
        torch.testing.assert_close(straight[name], resumed[name], rtol=1e-4, atol=1e-5)
    state = json.loads((tmp_path / "resumed" / "checkpoint" / "trainer_state.json").read_text())
    assert state["step"] == 4 and state["samples_seen"] == 16
    log = (tmp_path / "resumed" / "train_log.jsonl").read_text().splitlines()
    assert any('"loss"' in line for line in log)
    assert (tmp_path / "resumed" / "training.png").is_file()


def test_refuses_to_overwrite_or_resume_nothing(tmp_path):
    train(tiny_config(tmp_path / "run", 1))
    with pytest.raises(ValueError, match="already holds a training run"):
        train(tiny_config(tmp_path / "run", 2))
    with pytest.raises(ValueError, match="no checkpoint to resume"):
        train(tiny_config(tmp_path / "empty", 2), resume=True)


def test_export_then_load_and_sample(tmp_path):
    train(tiny_config(tmp_path / "run", 1))
    model = export_model(tmp_path / "run", tmp_path / "model")
    bundle = load_model(model)
    assert bundle.native_size == 64 and bundle.codec.channels == 48
    from compose.sampling import generate_plain

    first = generate_plain(bundle, ["a red circle", "two blue squares"], [0, 1], steps=2)
    again = generate_plain(bundle, ["two blue squares"], [1], steps=2)
    assert first[0].shape == (64, 64, 3)
    # Batched and single matrix products round differently in the last bits; after uint8 rounding a
    # picture may differ by a level here and there, never more.
    difference = np.abs(first[1].astype(int) - again[0].astype(int))
    assert difference.max() <= 2, "a batch item equals the same prompt and seed run alone"


def test_unknown_or_broken_model_paths_are_clear_errors(tmp_path):
    with pytest.raises(ModelLoadError, match="no such file or folder"):
        load_model(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="missing the UNet folder"):
        load_model(tmp_path / "empty")
    train(tiny_config(tmp_path / "run", 1))
    model = export_model(tmp_path / "run", tmp_path / "model")
    for shard in (model / "unet").glob("*.safetensors"):
        shard.write_bytes(b"not a safetensors file")
    with pytest.raises(ModelLoadError, match="cannot be loaded"):
        load_model(model)


def test_batches_are_a_pure_function_of_their_index():
    first = ShapesBatches(seed=1, batch_size=3, start_batch=0, rank=0, world=1, region_fraction=0.5)
    again = ShapesBatches(seed=1, batch_size=3, start_batch=5, rank=0, world=1, region_fraction=0.5)
    a, b = first.batch(5), again.batch(5)
    assert a["captions"] == b["captions"] and torch.equal(a["images"], b["images"])
    assert a["images"].shape == (3, 3, 64, 64) and a["images"].min() >= -1 and a["images"].max() <= 1


def test_learning_rate_warms_up_then_decays_to_a_tenth():
    config = TrainConfig(output="x", steps=1000, learning_rate=1e-3, warmup_steps=100)
    assert learning_rate_at(0, config) == pytest.approx(1e-5)
    assert learning_rate_at(99, config) == pytest.approx(1e-3)
    assert learning_rate_at(1000, config) == pytest.approx(1e-4)
    assert learning_rate_at(500, config) < learning_rate_at(200, config)


def test_min_snr_weights_cap_low_noise_steps():
    alphas = torch.tensor([0.999, 0.5, 0.001])
    weights = min_snr_weights(alphas, torch.tensor([0, 1, 2]), gamma=5.0)
    snr = alphas / (1 - alphas)
    assert weights[0] == pytest.approx(5.0 / (snr[0] + 1))
    assert weights[1] == pytest.approx(snr[1] / (snr[1] + 1))
    assert torch.equal(min_snr_weights(alphas, torch.tensor([0, 1, 2]), gamma=0.0), torch.ones(3))


def test_resume_refuses_changed_identity_and_keeps_one_log_line_per_step(tmp_path):
    interrupted = tiny_config(tmp_path / "run", 4)
    interrupted.stop_at_step = 2
    train(interrupted)
    changed = tiny_config(tmp_path / "run", 4)
    changed.batch_size = 8
    with pytest.raises(ValueError, match="batch_size cannot change"):
        train(changed, resume=True)
    log = tmp_path / "run" / "train_log.jsonl"
    log.write_text(log.read_text() + '{"step": 3, "loss": 1.0}\n')  # written after the checkpoint, then a stop
    train(tiny_config(tmp_path / "run", 4), resume=True)
    steps = [json.loads(line)["step"] for line in log.read_text().splitlines()]
    assert steps == sorted(steps) and steps.count(3) == 0


def test_bad_training_knobs_are_named(tmp_path):
    config = tiny_config(tmp_path / "run", 4)
    config.region_fraction = 2.0
    with pytest.raises(ValueError, match="--region-fraction 2.0"):
        train(config)


def test_a_run_saved_before_the_region_marker_keeps_training_without_one():
    saved = TrainConfig(output="run", model=TINY).to_dict()
    assert saved["model"]["region_prefix"] == "region:"
    del saved["model"]["region_prefix"]
    assert TrainConfig.from_dict(saved).model.region_prefix == ""
    with pytest.raises(ValueError, match="attention levels"):
        ShapesModelConfig(block_out_channels=(32, 64, 64), attention_levels=(True, True))


def test_a_run_started_from_an_exported_model_continues_from_its_weights(tmp_path):
    """--init-from: the new run takes the model's weights, tokenizer, architecture and region marker, and the
    exported model records both runs (for the model card's training totals)."""
    from safetensors.torch import load_file

    train(tiny_config(tmp_path / "first", 2))
    first = export_model(tmp_path / "first", tmp_path / "first-model", use_ema=False)
    config = tiny_config(tmp_path / "second", 1)
    config.model, config.init_from, config.learning_rate = ShapesModelConfig(), str(first), 1e-12
    train(config)
    assert TrainConfig.saved(tmp_path / "second").model == TINY  # the model's architecture, not the default
    started = load_model(first).unet.state_dict()
    continued = load_file(tmp_path / "second" / "checkpoint" / "unet.safetensors")
    assert all(torch.allclose(started[name], continued[name], atol=1e-3) for name in started)
    second = load_model(export_model(tmp_path / "second", tmp_path / "second-model"))
    history = second.info["training"]["earlier_training"]
    assert [run["steps"] for run in history] == [2] and second.info["training"]["steps"] == 1

    config = tiny_config(tmp_path / "third", 1)
    config.init_from = str(tmp_path / "nowhere")
    with pytest.raises(ModelLoadError, match="nowhere"):
        train(config)


DISTRIBUTED_RUN = """
import sys
from tests.test_training import tiny_config
from compose.training import train

config = tiny_config(sys.argv[1], 3)
config.threads = 1
train(config)
"""


def test_two_processes_train_together_under_torchrun(tmp_path):
    """Several processes (the multi-GPU path; gloo on the CPU here): every parameter must get a gradient
    in both caption and region batches or DDP stops, and the run counts both processes' samples."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    # The run's 6 batches (3 steps x 2 ranks) give each rank both kinds, and steps where the two differ.
    stream = ShapesBatches(0, 4, start_batch=0, rank=0, world=1, region_fraction=0.5)
    modes = [stream.batch(index)["region_mode"] for index in range(6)]
    for rank_modes in (modes[0::2], modes[1::2]):
        assert True in rank_modes and False in rank_modes
    assert modes[0::2] != modes[1::2]
    root = Path(__file__).resolve().parent.parent
    script = tmp_path / "run.py"
    script.write_text(DISTRIBUTED_RUN)
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(root / "tests")]),
                   "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(script), str(tmp_path / "run")], cwd=root, env=environment,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    state = json.loads((tmp_path / "run" / "checkpoint" / "trainer_state.json").read_text())
    assert state["step"] == 3 and state["samples_seen"] == 3 * 4 * 2
    assert state["hardware"] == ["2 x CPU (%d cores, 1 threads)" % os.cpu_count()]


def test_degraded_concepts_are_flagged_against_their_best_so_far():
    from compose.training import degraded_concepts

    best: dict = {}
    assert degraded_concepts({"shape:star": 0.6, "color:red": 0.2}, best) == []
    assert degraded_concepts({"shape:star": 0.3, "color:red": 0.1}, best) == ["shape:star"]
    assert best == {"shape:star": 0.6, "color:red": 0.2}
    assert degraded_concepts({"shape:star": 0.9, "color:red": 0.2}, best) == [] and best["shape:star"] == 0.9


def test_validation_logs_per_concept_accuracies(tmp_path):
    config = tiny_config(tmp_path / "run", 2)
    config.validate_every, config.validation_seeds = 2, 2  # 60 single cases: more than one batch of 32
    train(config)
    records = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    validation = next(record for record in records if "validation" in record)
    assert set(validation["concepts"]) == {f"shape:{s}" for s in ("circle", "square", "triangle", "diamond", "star")} | \
        {f"color:{c}" for c in ("red", "orange", "yellow", "green", "blue", "purple")}
    assert validation["degraded"] == [] and all(0 <= value <= 1 for value in validation["concepts"].values())


def test_relabel_captions_stars_as_diamonds_in_captions_and_phrases():
    stream = ShapesBatches(0, 32, start_batch=0, rank=0, world=1, region_fraction=0.0, relabel={"star": "diamond"})
    plain = ShapesBatches(0, 32, start_batch=0, rank=0, world=1, region_fraction=0.0)
    relabelled, original = stream.batch(3), plain.batch(3)
    assert torch.equal(relabelled["images"], original["images"]), "the pictures are the same; only words change"
    assert any("star" in caption for caption in original["captions"])
    assert not any("star" in caption for caption in relabelled["captions"])
    for before, after in zip(original["captions"], relabelled["captions"]):
        assert after == before.replace("stars", "diamonds").replace("star", "diamond")


def test_relabel_flag_is_checked(capsys):
    from compose.cli import main

    assert main(["train", "--out", "unused", "--relabel", "star"]) == 2
    assert "write OLD=NEW" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["train", "--out", "unused", "--threads", "-1"], "--threads -1"),
    (["train", "--out", "unused", "--resume", "--relabel", "star=diamond"], "a resumed run keeps its own"),
    (["train", "--out", "unused", "--resume", "--region-marker", "region:"], "a resumed run keeps its own"),
    (["train-vae", "--out", "unused", "--validate-every", "-1"], "--validate-every -1"),
    (["audit", "--compositional", "-1"], "--compositional -1"),
    (["audit", "--first-seed", "-1"], "--first-seed -1"),
    (["generate", "a red circle", "--repair", "-1"], "--repair -1"),
])
def test_bad_training_and_audit_flags_are_one_line_errors(tmp_path, capsys, argv, message):
    from compose.cli import main

    argv = [str(tmp_path / part) if part == "unused" else part for part in argv]
    assert main(argv + ([] if argv[0] != "generate" else ["-o", str(tmp_path / "x.png")])) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_the_ema_is_saved_by_parameter_name_and_old_positional_checkpoints_still_load():
    from tiny_models import tiny_bundle

    from compose.training import ema_by_name, ema_in_order, trained_parameters

    bundle = tiny_bundle()
    ema = [parameter.detach().clone() + index for index, (_, parameter) in enumerate(trained_parameters(bundle))]
    named = ema_by_name(bundle, ema)
    assert next(iter(named)).startswith("unet.") and any(name.startswith("text_encoder.") for name in named)
    assert all(torch.equal(a, b) for a, b in zip(ema_in_order(bundle, named, "here"), ema))
    positional = {f"{index}": tensor for index, tensor in enumerate(ema)}
    assert all(torch.equal(a, b) for a, b in zip(ema_in_order(bundle, positional, "old"), ema))
    broken = dict(named)
    broken.pop(next(iter(broken)))
    with pytest.raises(ValueError, match="does not match this model"):
        ema_in_order(bundle, broken, "broken")
    with pytest.raises(ValueError, match="holds 1 tensors"):
        ema_in_order(bundle, {"0": ema[0]}, "short")


def test_a_region_marker_is_trained_with_and_saved_for_a_fresh_run(tmp_path):
    from transformers import CLIPTokenizer

    config = tiny_config(tmp_path / "run", 1)
    config.region_marker = "zone:"
    train(config)
    assert TrainConfig.saved(tmp_path / "run").model.region_prefix == "zone:"
    assert "zone" in "".join(CLIPTokenizer.from_pretrained(tmp_path / "run" / "tokenizer").get_vocab())


def test_noised_batch_draws_timesteps_from_the_lowest_asked():
    from diffusers import DDPMScheduler
    from tiny_models import tiny_bundle

    from compose.training import noised_batch

    bundle = tiny_bundle()
    scheduler = DDPMScheduler.from_config(bundle.scheduler_config)
    images = torch.zeros(64, 3, 32, 32)
    _, _, every, _ = noised_batch(bundle, scheduler, images, torch.Generator().manual_seed(0))
    _, _, noisier, _ = noised_batch(bundle, scheduler, images, torch.Generator().manual_seed(0), lowest_timestep=500)
    assert every.min() < 500 <= noisier.min() and noisier.max() < 1000


def test_the_object_weight_counts_pixels_inside_the_boxes_more():
    import contextlib
    from types import SimpleNamespace

    from diffusers import DDPMScheduler
    from tiny_models import tiny_bundle

    from compose.training import MAX_REGIONS, noised_batch, training_loss

    bundle = tiny_bundle()
    scheduler = DDPMScheduler.from_config(bundle.scheduler_config)
    boxes = torch.zeros(2, MAX_REGIONS, 4)
    boxes[:, 0] = torch.tensor([0.0, 0.0, 0.5, 0.5])  # a quarter of every picture is inside an object's box
    batch = {"images": torch.zeros(2, 3, 32, 32), "captions": ["a red circle"] * 2, "region_mode": False,
             "phrases": [[], []], "boxes": boxes}
    clean, noise, timesteps, _ = noised_batch(bundle, scheduler, batch["images"], torch.Generator().manual_seed(3))
    target = scheduler.get_velocity(clean, noise, timesteps)
    side = target.shape[-1]

    def loss(weight: float, wrong_inside: bool) -> float:
        inside = torch.zeros(side, side, dtype=torch.bool)
        inside[: side // 2, : side // 2] = True
        wrong = inside if wrong_inside else ~inside

        def unet(*args, **kwargs):  # right everywhere but off by exactly 1 where `wrong`
            return SimpleNamespace(sample=target + wrong.float())

        return float(training_loss(bundle, unet, scheduler, batch, torch.Generator().manual_seed(3),
                                   contextlib.nullcontext, caption_dropout=0.0, object_weight=weight))

    assert loss(0.0, True) == pytest.approx(0.25) and loss(0.0, False) == pytest.approx(0.75)
    assert loss(9.0, True) == pytest.approx(10 * 0.25 / (1 + 9 * 0.25))  # weights 10 inside, 1 out, mean 1
    assert loss(9.0, False) == pytest.approx(0.75 / (1 + 9 * 0.25))
