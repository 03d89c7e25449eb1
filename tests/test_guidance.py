"""Attention recording and attention guidance (compose.regions): the recorded maps are the attention
probabilities, the energy means what its docstring says, a guided update lowers it on a real UNet, and the
guided methods run deterministically through the pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from compose.config import ComposeConfig
from compose.regions.attention import AttentionRecorder, RegionControl, region_kwargs, region_processors
from compose.regions.guidance import AttentionGuidance, guidance_energy, slot_groups
from compose.regions.masks import box_coverage

GRID, TEXT_DIM, PHRASE = 8, 16, 4


def test_energy_is_zero_when_each_group_attends_only_and_fully_inside_its_region():
    targets = torch.zeros(1, 2, 4, 4)
    targets[0, 0, :2, :2] = 1
    targets[0, 1, 2:, 2:] = 1
    assert guidance_energy(targets.clone(), targets).item() == 0
    outside = torch.zeros(1, 2, 4, 4)
    outside[0, 0, 2:, :2] = 1  # group 0 attends fully, but only outside its region
    outside[0, 1] = targets[0, 1]
    assert guidance_energy(outside, targets).item() == pytest.approx(2.0)  # share 0 and excitation 0
    half = targets * 0.5  # inside only, at half strength: share 1, excitation 0.5 for both groups
    assert guidance_energy(half, targets).item() == pytest.approx(2 * 0.25)
    padding = torch.cat([targets, torch.zeros(1, 1, 4, 4)], dim=1)  # an empty slot counts nothing
    assert guidance_energy(torch.cat([targets, torch.rand(1, 1, 4, 4)], dim=1), padding).item() == 0


def test_slot_groups_hold_each_slots_tokens_but_its_start_token():
    groups = slot_groups(slots=2, phrase_length=PHRASE)
    assert groups.shape == (3 * PHRASE, 2)
    assert groups[:PHRASE].sum() == 0, "background tokens belong to no object"
    assert groups[PHRASE:2 * PHRASE, 0].tolist() == [0, 1, 1, 1] and groups[PHRASE:2 * PHRASE, 1].sum() == 0
    assert groups[2 * PHRASE:, 1].tolist() == [0, 1, 1, 1]


def test_recorded_maps_are_attention_probabilities_and_routing_shows_in_them(unet):
    generator = torch.Generator().manual_seed(1)
    sample = torch.randn(1, 4, GRID, GRID, generator=generator)
    context = torch.randn(1, 3 * PHRASE, TEXT_DIM, generator=generator)
    everything = torch.ones(3 * PHRASE, 1)  # one group of all tokens: probabilities sum to 1 everywhere
    box = box_coverage(torch.tensor([0.0, 0.0, 0.5, 0.5]), GRID)
    coverage = torch.ones(1, 3 * PHRASE, GRID, GRID)
    coverage[0, PHRASE:2 * PHRASE] = box
    coverage[0, 2 * PHRASE:] = 1 - box
    with torch.no_grad(), region_processors(unet):
        stock = unet(sample, 400, encoder_hidden_states=context).sample
        total = AttentionRecorder(everything)
        recorded = unet(sample, 400, encoder_hidden_states=context,
                        cross_attention_kwargs=region_kwargs(RegionControl(recorder=total))).sample
        routed = AttentionRecorder(slot_groups(2, PHRASE))
        unet(sample, 400, encoder_hidden_states=context,
             cross_attention_kwargs=region_kwargs(RegionControl(coverage=coverage, recorder=routed)))
    torch.testing.assert_close(recorded, stock, rtol=1e-4, atol=1e-5)  # recording does not change the picture
    assert set(total.sums) == {GRID, GRID // 2} and all(count > 1 for count in total.layers.values())
    torch.testing.assert_close(total.maps(GRID), torch.ones(1, 1, GRID, GRID))
    import torch.nn.functional as F

    for side, total_map in routed.sums.items():  # at each layer's own resolution, before upsampling
        own_box = F.adaptive_avg_pool2d(box[None, None], side)[0, 0]
        mean_map = total_map[0] / routed.layers[side]
        assert mean_map[0][own_box == 0].abs().max() < 1e-6 and mean_map[1][own_box == 1].abs().max() < 1e-6
        assert mean_map[0][own_box == 1].min() > 0 and mean_map[1][own_box == 0].min() > 0


def test_a_guided_update_lowers_the_energy(unet):
    from diffusers import DDIMScheduler

    generator = torch.Generator().manual_seed(2)
    latents = torch.randn(1, 4, GRID, GRID, generator=generator)
    condition = torch.randn(1, 3 * PHRASE, TEXT_DIM, generator=generator)
    targets = torch.stack([box_coverage(torch.tensor([0.0, 0.0, 0.5, 0.5]), GRID),
                           box_coverage(torch.tensor([0.5, 0.5, 1.0, 1.0]), GRID)])[None]
    groups = slot_groups(2, PHRASE)
    scheduler = DDIMScheduler()
    scheduler.set_timesteps(10)
    timestep = scheduler.timesteps[0]

    def energy(values):
        recorder = AttentionRecorder(groups)
        with torch.no_grad(), region_processors(unet):
            unet(values, timestep, encoder_hidden_states=condition,
                 cross_attention_kwargs=region_kwargs(RegionControl(recorder=recorder)))
        return guidance_energy(recorder.maps(GRID), targets).item()

    guide = AttentionGuidance(targets=targets, groups=groups, condition=condition, coverage=None, steps=5,
                              step_size=0.05, iterations=3)
    with region_processors(unet):
        moved = guide.apply(unet, scheduler, latents, timestep, index=0)
    assert not moved.requires_grad and moved.shape == latents.shape
    assert energy(moved) < energy(latents), "guidance moves the latents down the energy"
    assert guide.applies(4) and not guide.applies(5)


@pytest.mark.parametrize("config", [ComposeConfig(attention_guidance=0.5),
                                    ComposeConfig(attention_guidance=0.5, masked_cross_attention=False),
                                    ComposeConfig(bounded_self_attention=0.5),
                                    ComposeConfig(per_object_composition=0.5),
                                    ComposeConfig(separate_softmax=True)])
def test_guided_and_bounded_methods_draw_deterministic_pictures(config, tmp_path):
    from tiny_models import tiny_bundle

    from compose.pipeline import ComposePipeline

    bundle = tiny_bundle()
    pipeline = ComposePipeline.from_bundle(bundle)
    prompt = "a red circle to the left of a blue square"
    first = pipeline.draw(prompt=prompt, seed=3, steps=4, config=config).images[0]
    again = pipeline.draw(prompt=prompt, seed=3, steps=4, config=config).images[0]
    stage_one = pipeline.draw(prompt=prompt, seed=3, steps=4).images[0]
    assert np.array_equal(first, again)
    assert not np.array_equal(first, stage_one), "the mechanism changes the picture"
    batched = pipeline.draw(prompt=[prompt, "a red circle and two blue squares"], seed=[3, 4], steps=4, config=config)
    assert np.abs(batched.images[0].astype(int) - first.astype(int)).max() <= 2, "a batch item draws as alone"


def test_guidance_one_skips_the_unconditional_half_and_draws_the_same(tiny_model_folder):
    import numpy as np

    from compose.generate import Generator
    from compose.sampling import generate_plain

    generator = Generator(str(tiny_model_folder))
    calls = []
    unet = generator.bundle.unet
    hook = unet.register_forward_hook(lambda module, args, output: calls.append(args[0].shape[0]))
    try:
        for prompt, method in (("a red circle to the left of a blue square", "compose"), ("a red circle", "plain")):
            calls.clear()
            alone = generator(prompt=prompt, method=method, seed=3, steps=3, guidance=1.0).image
            assert calls == [1, 1, 1], f"{method}: one picture per call, not the doubled batch"
            doubled = generator(prompt=prompt, method=method, seed=3, steps=3, guidance=1.0 + 1e-7).image
            assert calls[3:] == [2, 2, 2]
            assert np.abs(alone.astype(int) - doubled.astype(int)).max() <= 1, method
    finally:
        hook.remove()
    assert generate_plain(generator.bundle, ["a red circle"], [0], steps=2, guidance=1.0)[0].shape[-1] == 3
