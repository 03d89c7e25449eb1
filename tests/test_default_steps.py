"""A model's own default number of denoising steps (compose_model.json "sampling": {"steps": N}, issue 17)."""

import json
import shutil

import pytest

from compose.model.bundle import DEFAULT_STEPS, ModelLoadError, default_steps_of, load_model


def test_the_bundled_model_names_2_trailing_steps_and_a_call_without_steps_uses_them():
    from compose.generate import Generator

    assert default_steps_of("bundled") == 2
    generator = Generator()
    assert generator.bundle.default_steps == 2
    assert generator.bundle.scheduler_config["timestep_spacing"] == "trailing"
    assert generator(prompt="a red circle", seed=0).steps == 2
    assert generator(prompt="a red circle", seed=0, steps=3).steps == 3, "--steps still draws any count"


def test_a_model_without_a_default_takes_25_and_a_malformed_one_is_refused(tiny_model_folder, tmp_path):
    assert load_model(tiny_model_folder).default_steps == DEFAULT_STEPS == 25
    assert default_steps_of(tiny_model_folder) == 25
    assert default_steps_of(tmp_path / "no-such-model") == 25, "loading, not this, names a missing model"
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_folder, broken)
    meta_file = broken / "compose_model.json"
    meta = json.loads(meta_file.read_text())
    for bad in (0, 1001, "8", 2.5, True):
        meta_file.write_text(json.dumps({**meta, "sampling": {"steps": bad}}))
        with pytest.raises(ModelLoadError, match="sampling.steps must be a whole number of steps from 1 to 1000"):
            load_model(broken)
    meta_file.write_text(json.dumps({**meta, "sampling": {"steps": 12}}))
    assert load_model(broken).default_steps == 12 and default_steps_of(broken) == 12


def test_a_model_names_its_own_guidance_and_a_call_without_guidance_uses_it(tiny_model_folder, tmp_path):
    from compose.generate import Generator
    from compose.model.bundle import DEFAULT_GUIDANCE, default_guidance_of

    assert load_model(tiny_model_folder).default_guidance == DEFAULT_GUIDANCE == 4.0
    assert default_guidance_of(tiny_model_folder) == 4.0 and default_guidance_of("bundled") == 1.0
    folder = tmp_path / "gentle"
    shutil.copytree(tiny_model_folder, folder)
    meta_file = folder / "compose_model.json"
    meta = json.loads(meta_file.read_text())
    for bad in (-1, 101, "2", True):
        meta_file.write_text(json.dumps({**meta, "sampling": {"steps": 4, "guidance": bad}}))
        with pytest.raises(ModelLoadError, match="sampling.guidance must be a guidance scale from 0 to 100"):
            load_model(folder)
        assert default_guidance_of(folder) == 4.0, "loading, not this, names a malformed description"
    meta_file.write_text(json.dumps({**meta, "sampling": {"steps": 4, "guidance": 1.5}}))
    assert default_guidance_of(folder) == 1.5
    generator = Generator(str(folder))
    assert generator.bundle.default_guidance == 1.5
    drawn = generator(prompt="a red circle", seed=0)
    assert (drawn.steps, drawn.guidance) == (4, 1.5)
    assert generator(prompt="a red circle", seed=0, guidance=3.0).guidance == 3.0
    plain = generator(prompt="a red circle", seed=0, method="plain")
    assert plain.guidance == 1.5


def test_a_model_may_name_other_defaults_for_the_plain_method(tiny_model_folder, tmp_path):
    """shapes-v3's case: compose at 2 steps without guidance, whole prompts (plain) at 25 steps, guidance 4."""
    from compose.generate import Generator

    folder = tmp_path / "two-defaults"
    shutil.copytree(tiny_model_folder, folder)
    meta_file = folder / "compose_model.json"
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps({**meta, "sampling": {"steps": 2, "guidance": 1.0,
                                                          "plain": {"steps": 5, "guidance": 3.0}}}))
    generator = Generator(str(folder))
    composed = generator(prompt="a red circle", seed=0)
    plain = generator(prompt="a red circle", seed=0, method="plain")
    assert (composed.steps, composed.guidance, plain.steps, plain.guidance) == (2, 1.0, 5, 3.0)
    assert generator(prompt="a red circle", seed=0, method="plain", steps=3, guidance=2.0).steps == 3
    assert default_steps_of(folder) == 2, "the benchmark's run-level default is the compose method's"
    for bad in ("25", {"steps": 0}, {"guidance": -1}):
        meta_file.write_text(json.dumps({**meta, "sampling": {"steps": 2, "plain": bad}}))
        with pytest.raises(ModelLoadError, match="sampling.plain must be an object|sampling.steps|sampling.guidance"):
            load_model(folder)


def test_the_bundled_model_draws_whole_prompts_at_its_plain_defaults():
    from compose.model.bundle import load_model as load

    bundle = load("bundled")
    assert (bundle.steps_or_default(None, "plain"), bundle.guidance_or_default(None, "plain")) == (25, 4.0)
    assert (bundle.steps_or_default(None), bundle.guidance_or_default(None)) == (2, 1.0)
