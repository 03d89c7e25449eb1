"""The denoising loop shared by every method: text encoding, initial noise, guided denoising, decoding.

Pure functions over a `ModelBundle`; randomness comes only from the `torch.Generator`s passed in (one
per image, so a batch gives exactly the images its items give one by one). Classifier-free guidance
runs the unconditional and conditional halves in one UNet call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch

from compose.regions.attention import AttentionRecorder, RegionControl, region_kwargs, region_processors
from compose.regions.guidance import AttentionGuidance


def check_size(size: int, downscale: int) -> None:
    """A picture side the model can draw: positive and a multiple of its sample grid's cell."""
    if size <= 0 or size % downscale:
        raise ValueError(f"size {size}: give a positive multiple of {downscale} pixels for this model")


def encode_prompts(bundle, prompts: list[str], length: int | None = None, negative: bool = False) -> torch.Tensor:
    """(B, L, D) text embeddings of whole prompts (L = the model's caption length unless given; an SDXL
    model adds its pooled row, ModelBundle.with_pooled); `negative` for the unconditional branch.

    Gradients flow when called outside torch.no_grad (training encodes its captions this way)."""
    return bundle.with_pooled(bundle.encode(prompts, length or bundle.text_length, negative=negative), prompts,
                              negative=negative)


def initial_noise(bundle, generators: list[torch.Generator], size: int) -> torch.Tensor:
    """Unit Gaussian starting samples, one per generator, in the UNet's sample space."""
    side = size // bundle.codec.downscale
    shape = (1, bundle.codec.channels, side, side)
    noise = [torch.randn(shape, generator=generator, dtype=torch.float32) for generator in generators]
    return torch.cat(noise).to(bundle.device, bundle.dtype)


@dataclass(frozen=True)
class KeepOutside:
    """Stage 2's blend (Blended Diffusion, as LMD uses it): after every step, outside `mask` the latents
    are reset to `original` (the stage-1 picture) noised with `noise` to the level of the next step, and
    to `original` itself after the last; inside the mask the refinement goes on. (B, 1, H, W) mask."""

    mask: torch.Tensor
    original: torch.Tensor
    noise: torch.Tensor

    def apply(self, scheduler, latents: torch.Tensor, index: int, timesteps: list) -> torch.Tensor:
        if index + 1 >= len(timesteps):
            outside = self.original
        else:
            outside = scheduler.add_noise(self.original, self.noise, timesteps[index + 1].repeat(latents.shape[0]))
        return self.mask * latents + (1 - self.mask) * outside


@dataclass(frozen=True)
class PasteObjects:
    """LMD's latent composition (Lian et al. 2023): for the first `steps` steps, inside each object's mask
    the picture's latents are replaced by that object's own latents at the same step (each object drawn
    alone beforehand, `trajectory[step]` (N, C, H, W) for N objects); `owners[n]` is object n's picture
    and `masks` (N, 1, H, W) its mask."""

    trajectory: list[torch.Tensor]
    owners: list[int]
    masks: torch.Tensor
    steps: int

    def apply(self, scheduler, latents: torch.Tensor, index: int, timesteps: list) -> torch.Tensor:
        if index >= self.steps:
            return latents
        result = latents.clone()
        for row, image in enumerate(self.owners):
            mask = self.masks[row]
            result[image] = mask * self.trajectory[index][row] + (1 - mask) * result[image]
        return result


def denoise(bundle, scheduler, latents: torch.Tensor, condition: torch.Tensor, uncondition: torch.Tensor,
            guidance: float, timesteps: torch.Tensor | list,
            control: RegionControl | Callable[[int], RegionControl | None] | None = None,
            blend: KeepOutside | PasteObjects | None = None, guide: AttentionGuidance | None = None,
            recorder: AttentionRecorder | None = None,
            callback_on_step_end: Callable[[int, object, dict], dict | None] | None = None,
            progress=None) -> torch.Tensor:
    """Run `scheduler` over `timesteps` from `latents` with classifier-free guidance.

    `control` steers region control at every step (compose.regions; or a function of the step index,
    for a mechanism that acts in early steps only); its tensors cover the guidance-doubled batch,
    unconditional half first. `blend` mixes each step's result with other latents (stage 2's
    KeepOutside, LMD's PasteObjects);
    `guide` moves the latents by attention guidance before each of its steps (compose.regions.guidance);
    `recorder`, if given, sums every cross-attention layer's probabilities over the steps (nothing is
    recorded, and nothing costs, without one).
    `callback_on_step_end(step_index, timestep, {"latents": latents})` in diffusers' form may return
    {"latents": ...} to replace them. At guidance 1 (no guidance) only the conditional half is computed,
    unless attention is recorded. Returns the final samples."""
    batch = latents.shape[0]
    condition = condition.to(bundle.device, bundle.dtype)
    uncondition = uncondition.to(bundle.device, bundle.dtype)
    if uncondition.shape[0] == 1 and batch > 1:
        uncondition = uncondition.expand(batch, -1, -1)
    context = torch.cat([uncondition, condition])
    timesteps = list(timesteps)
    with torch.no_grad(), region_processors(bundle.unet):
        for index, timestep in enumerate(timesteps):
            # 0. Attention guidance, in its first steps: the latents moved towards the layout.
            if guide is not None and guide.applies(index):
                latents = guide.apply(bundle.unet, scheduler, latents, timestep, index)
            # 1. The guided prediction: both halves in one UNet call, region control as its kwargs.
            step_control = control(index) if callable(control) else control
            if recorder is not None:
                step_control = replace(step_control or RegionControl(), recorder=recorder)
            if guidance == 1 and recorder is None:  # no guidance: the conditional prediction alone, half the work
                half = step_control.conditional_half() if step_control is not None else None
                guided = bundle.unet(scheduler.scale_model_input(latents, timestep), timestep,
                                     encoder_hidden_states=condition, cross_attention_kwargs=region_kwargs(half)).sample
            else:
                model_input = scheduler.scale_model_input(torch.cat([latents, latents]), timestep)
                prediction = bundle.unet(model_input, timestep, encoder_hidden_states=context,
                                         cross_attention_kwargs=region_kwargs(step_control)).sample
                unconditional, conditional = prediction.chunk(2)
                guided = unconditional + guidance * (conditional - unconditional)
            # 2. The scheduler's step.
            latents = scheduler.step(guided, timestep, latents).prev_sample
            # 3. The blend: stage 2 keeps the rest of the picture as stage 1 left it; LMD pastes objects in.
            if blend is not None:
                latents = blend.apply(scheduler, latents, index, timesteps)
            # 4. The caller's look (or change) at the step's result.
            if callback_on_step_end is not None:
                changed = callback_on_step_end(index, timestep, {"latents": latents})
                if changed and "latents" in changed:
                    latents = changed["latents"]
            if progress is not None:
                progress.update(1)
    return latents


def guided_control(coverage: torch.Tensor | None, uncondition_coverage: torch.Tensor | None = None,
                   subjects: torch.Tensor | None = None) -> RegionControl | None:
    """A RegionControl for a guidance-doubled batch from the conditional half's coverage (and the
    unconditional half's; attending everywhere when not given) and subject masks (both halves bounded)."""
    if coverage is None and subjects is None:
        return None
    full_coverage = None
    if coverage is not None:
        if uncondition_coverage is None:
            uncondition_coverage = torch.ones_like(coverage)
        full_coverage = torch.cat([uncondition_coverage.to(coverage), coverage])
    full_subjects = None if subjects is None else torch.cat([subjects, subjects])
    return RegionControl(coverage=full_coverage, subjects=full_subjects)


def to_uint8(images: torch.Tensor) -> list[np.ndarray]:
    """(B, 3, H, W) images in [-1, 1] -> list of (H, W, 3) uint8 RGB arrays."""
    pixels = ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return [array for array in pixels.permute(0, 2, 3, 1).cpu().numpy()]


def generate_plain(bundle, prompts: list[str], seeds: list[int], steps: int = 25, guidance: float = 4.0,
                   size: int | None = None, sampler: str = "ddim", negative: str = "",
                   progress=None, recorder: AttentionRecorder | None = None) -> list[np.ndarray]:
    """The plain method: each prompt fed whole to the model, one image per (prompt, seed) pair; with a
    `recorder`, its cross-attention per token is summed there (both guidance halves, unconditional first)."""
    if len(prompts) != len(seeds):
        raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seeds; give one seed per prompt")
    size = size or bundle.native_size
    check_size(size, bundle.codec.downscale)
    scheduler = bundle.make_scheduler(sampler)
    scheduler.set_timesteps(steps)
    generators = [torch.Generator("cpu").manual_seed(int(seed)) for seed in seeds]
    with torch.no_grad():
        latents = initial_noise(bundle, generators, size) * scheduler.init_noise_sigma
        condition = encode_prompts(bundle, prompts)
        uncondition = encode_prompts(bundle, [negative], negative=True)
        latents = denoise(bundle, scheduler, latents, condition, uncondition, guidance, scheduler.timesteps,
                          progress=progress, recorder=recorder)
        return to_uint8(bundle.codec.decode(latents))
