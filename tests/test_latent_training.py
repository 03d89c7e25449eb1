"""Training a Stable Diffusion-format model of the shapes world (shapes-sd) with tiny parts: the VAE trainer
resumes exactly and exports a diffusers AutoencoderKL with a measured scaling factor; the latent UNet
trains on its latents and exports a folder that diffusers' own StableDiffusionPipeline loads and draws
from with no `compose` code; a slim checkpoint resumes; `--init-from` takes such a folder."""

import json

import numpy as np
import pytest
import torch

from compose.model.bundle import VaeCodec, load_model, stable_diffusion_config
from compose.training import REWARM_STEPS, TrainConfig, export_model, learning_rate_at, slim_checkpoint, train
from compose.vae_training import (VaeArchitecture, VaeTrainConfig, export_vae, round_trip, training_batch,
                                  train_vae)

TINY_VAE = VaeArchitecture(image_size=32, block_out_channels=(8, 16), latent_channels=4, norm_num_groups=4)


def vae_config(folder, steps, **changes):
    values = dict(output=str(folder), steps=steps, batch_size=2, crop=16, warmup_steps=1, validate_every=0,
                  checkpoint_minutes=60, progress=False, mixed_precision="no", architecture=TINY_VAE)
    values.update(changes)
    return VaeTrainConfig(**values)


@pytest.fixture(scope="module")
def tiny_vae(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vae")
    train_vae(vae_config(folder / "run", 2))
    return export_vae(folder / "run", folder / "vae", pictures=8)


def latent_config(folder, steps, vae):
    model = stable_diffusion_config(str(vae), image_size=32, block_out_channels=(32, 32), attention_levels=(True, True),
                                    attention_heads=2, text_hidden=32, text_layers=1, text_heads=2)
    return TrainConfig(output=str(folder), steps=steps, batch_size=2, warmup_steps=1, validate_every=0,
                       checkpoint_minutes=60, workers=0, progress=False, region_fraction=0.0, model=model)


def test_vae_batches_are_a_function_of_seed_and_step():
    config = vae_config("unused", 10)
    first, again, other = training_batch(config, 3), training_batch(config, 3), training_batch(config, 4)
    assert first.shape == (2, 3, 16, 16) and first.min() >= -1 and first.max() <= 1
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_vae_resumed_run_matches_an_uninterrupted_one(tmp_path):
    from safetensors.torch import load_file

    train_vae(vae_config(tmp_path / "straight", 4))
    train_vae(vae_config(tmp_path / "resumed", 4, stop_at_step=2))
    train_vae(vae_config(tmp_path / "resumed", 4), resume=True)
    straight = load_file(tmp_path / "straight" / "checkpoint" / "vae.safetensors")
    resumed = load_file(tmp_path / "resumed" / "checkpoint" / "vae.safetensors")
    for name in straight:
        torch.testing.assert_close(straight[name], resumed[name], rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="already holds a VAE training run"):
        train_vae(vae_config(tmp_path / "straight", 4))
    with pytest.raises(ValueError, match="cannot change"):
        train_vae(vae_config(tmp_path / "straight", 4, learning_rate=1e-2), resume=True)


def test_vae_config_rules():
    with pytest.raises(ValueError, match="--crop 13"):
        vae_config("unused", 1, crop=13).check()  # not a multiple of the downscale, 2
    with pytest.raises(ValueError, match="--crop 64"):
        vae_config("unused", 1, crop=64).check()  # larger than the 32 px pictures


def test_exported_vae_has_a_measured_scaling_factor_and_round_trips(tiny_vae):
    from diffusers import AutoencoderKL

    vae = AutoencoderKL.from_pretrained(tiny_vae, torch_dtype=torch.float32)
    record = json.loads((tiny_vae / "compose_vae.json").read_text())
    assert vae.config.scaling_factor == record["scaling_factor"]["value"] > 0
    assert vae.config.scaling_factor != 1.0  # measured, not the constructor's placeholder
    pictures = np.full((3, 32, 32, 3), 255, dtype=np.uint8)
    assert round_trip(vae, pictures).shape == pictures.shape


def test_latent_model_trains_exports_and_loads_in_plain_diffusers(tmp_path, tiny_vae):
    from diffusers import StableDiffusionPipeline

    train(latent_config(tmp_path / "run", 2, tiny_vae))
    folder = export_model(tmp_path / "run", tmp_path / "model")
    for part in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
        assert (folder / part).is_dir()
    assert json.loads((folder / "model_index.json").read_text())["_class_name"] == "StableDiffusionPipeline"
    assert not (folder / "compose_model.json").exists()  # a plain SD folder, not the bundled format
    assert not list(folder.rglob("*.bin")) and list(folder.rglob("*.safetensors"))

    pipeline = StableDiffusionPipeline.from_pretrained(folder, local_files_only=True)
    assert {p.dtype for p in pipeline.text_encoder.parameters()} == {torch.float32}
    image = pipeline("a red circle", num_inference_steps=2, generator=torch.Generator().manual_seed(0),
                     output_type="np").images[0]
    assert image.shape == (32, 32, 3)

    bundle = load_model(folder)
    assert isinstance(bundle.codec, VaeCodec) and bundle.native_size == 32 and bundle.region_prefix == ""
    assert bundle.text_length == 77


def test_latent_model_refuses_region_batches_without_a_marker(tmp_path, tiny_vae):
    config = latent_config(tmp_path / "run", 2, tiny_vae)
    config.region_fraction = 0.5
    with pytest.raises(ValueError, match="need a region marker"):
        config.check()


def test_slim_checkpoint_resumes_with_a_fresh_warm_up(tmp_path, tiny_vae):
    from safetensors.torch import load_file

    config = latent_config(tmp_path / "run", 4, tiny_vae)
    config.stop_at_step = 2
    train(config)
    copy = slim_checkpoint(tmp_path / "run", tmp_path / "slim")
    assert not (copy / "checkpoint" / "optimizer.safetensors").exists()
    assert load_file(copy / "checkpoint" / "unet.safetensors")["conv_in.weight"].dtype == torch.float16
    train(latent_config(tmp_path / "slim", 4, tiny_vae), resume=True)
    state = json.loads((copy / "checkpoint" / "trainer_state.json").read_text())
    assert state["step"] == 4 and state["rewarm_from"] == 2
    config = latent_config(tmp_path / "unused", 1000, tiny_vae)
    assert learning_rate_at(2, config, rewarm_from=2) == pytest.approx(learning_rate_at(2, config) / REWARM_STEPS)
    assert learning_rate_at(2 + REWARM_STEPS, config, rewarm_from=2) == learning_rate_at(2 + REWARM_STEPS, config)


def test_init_from_a_stable_diffusion_folder_of_ours(tmp_path, tiny_vae):
    train(latent_config(tmp_path / "run", 1, tiny_vae))
    folder = export_model(tmp_path / "run", tmp_path / "model")
    config = latent_config(tmp_path / "more", 1, tiny_vae)
    config.init_from = str(folder)
    train(config)
    saved = TrainConfig.saved(tmp_path / "more")
    assert saved.model.vae == str(folder / "vae") and saved.model.block_out_channels == (32, 32)


def test_a_whole_caption_folder_is_taught_regions_with_a_marker(tmp_path, tiny_vae):
    train(latent_config(tmp_path / "run", 1, tiny_vae))
    folder = export_model(tmp_path / "run", tmp_path / "model")
    config = latent_config(tmp_path / "more", 1, tiny_vae)
    config.init_from, config.region_fraction = str(folder), 0.5
    with pytest.raises(ValueError, match="need a region marker"):
        train(config)
    config = latent_config(tmp_path / "grounded", 2, tiny_vae)
    config.init_from, config.region_fraction, config.region_marker = str(folder), 1.0, "region:"
    train(config)
    assert TrainConfig.saved(tmp_path / "grounded").model.region_prefix == "region:"
    grounded = load_model(export_model(tmp_path / "grounded", tmp_path / "grounded-model"))
    assert isinstance(grounded.codec, VaeCodec) and grounded.region_prefix == "region:"
    assert load_model(folder).region_prefix == ""


def test_a_broken_training_record_is_named(tmp_path, tiny_vae):
    from compose.model.bundle import ModelLoadError

    train(latent_config(tmp_path / "run", 1, tiny_vae))
    folder = export_model(tmp_path / "run", tmp_path / "model")
    (folder / "compose_training.json").write_text('{"training": []}')
    with pytest.raises(ModelLoadError, match="compose_training.json: not a valid training record"):
        load_model(folder)


def test_a_stable_diffusion_folder_of_ours_names_its_default_steps(tmp_path, tiny_vae):
    from compose.model.bundle import DEFAULT_STEPS, default_steps_of

    train(latent_config(tmp_path / "run", 1, tiny_vae))
    folder = export_model(tmp_path / "run", tmp_path / "model")
    assert default_steps_of(folder) == load_model(folder).default_steps == DEFAULT_STEPS
    record = folder / "compose_training.json"
    record.write_text(json.dumps({**json.loads(record.read_text()), "sampling": {"steps": 8}}))
    assert default_steps_of(folder) == load_model(folder).default_steps == 8


def test_export_finds_the_previous_checkpoint_after_a_stop_between_renames(tmp_path, tiny_vae):
    train(latent_config(tmp_path / "run", 1, tiny_vae))
    (tmp_path / "run" / "checkpoint").rename(tmp_path / "run" / "checkpoint.old")
    assert (export_model(tmp_path / "run", tmp_path / "model") / "unet").is_dir()


def test_vae_resume_from_the_command_line_keeps_the_run_and_refuses_a_changed_recipe(tmp_path, monkeypatch):
    import compose.vae_training
    from compose.cli import main

    train_vae(vae_config(tmp_path / "run", 4, stop_at_step=2))
    seen = []
    monkeypatch.setattr(compose.vae_training, "train_vae", lambda config, resume: seen.append((config, resume)))
    assert main(["train-vae", "--out", str(tmp_path / "run"), "--resume", "--steps", "6", "--quiet"]) == 0
    config, resume = seen[0]
    assert resume and config.steps == 6 and config.architecture == TINY_VAE and config.crop == 16
    monkeypatch.undo()
    assert main(["train-vae", "--out", str(tmp_path / "run"), "--resume", "--learning-rate", "0.001", "--quiet"]) == 2
