"""The denoising loop shared by every method: text encoding, initial noise, guided denoising, decoding.

Pure functions over a `ModelBundle`; randomness comes only from the `torch.Generator`s passed in (one
per image, so a batch gives exactly the images its items give one by one). Classifier-free guidance
runs the unconditional and conditional halves in one UNet call.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from compose.attention import region_attention
from compose.model.text import encode_texts


def check_size(size: int, downscale: int) -> None:
    """A picture side the model can draw: positive and a multiple of its sample grid's cell."""
    if size <= 0 or size % downscale:
        raise ValueError(f"size {size}: give a positive multiple of {downscale} pixels for this model")


def encode_prompts(bundle, prompts: list[str], length: int | None = None) -> torch.Tensor:
    """(B, L, D) text embeddings of whole prompts (L = the model's caption length unless given).

    Gradients flow when called outside torch.no_grad (training encodes its captions this way)."""
    return encode_texts(bundle.text_encoder, bundle.tokenizer, prompts, length or bundle.text_length)


def initial_noise(bundle, generators: list[torch.Generator], size: int) -> torch.Tensor:
    """Unit Gaussian starting samples, one per generator, in the UNet's sample space."""
    side = size // bundle.codec.downscale
    shape = (1, bundle.codec.channels, side, side)
    noise = [torch.randn(shape, generator=generator, dtype=torch.float32) for generator in generators]
    return torch.cat(noise).to(bundle.device, bundle.dtype)


def denoise(bundle, scheduler, latents: torch.Tensor, condition: torch.Tensor, uncondition: torch.Tensor,
            guidance: float, timesteps: torch.Tensor | list, coverage: torch.Tensor | None = None,
            uncondition_coverage: torch.Tensor | None = None, step_callback: Callable[[int, torch.Tensor], None] | None = None,
            progress=None) -> torch.Tensor:
    """Run `scheduler` over `timesteps` from `latents` with classifier-free guidance.

    `coverage` (B, T, H, W), if given, routes each conditional token to its region (compose.attention);
    the unconditional half attends everywhere unless `uncondition_coverage` routes it too (a negative
    prompt kept to the background, say). Returns the final samples."""
    batch = latents.shape[0]
    condition = condition.to(bundle.device, bundle.dtype)
    uncondition = uncondition.to(bundle.device, bundle.dtype)
    if uncondition.shape[0] == 1 and batch > 1:
        uncondition = uncondition.expand(batch, -1, -1)
    context = torch.cat([uncondition, condition])
    full_coverage = None
    if coverage is not None:
        if uncondition_coverage is None:
            uncondition_coverage = torch.ones(uncondition.shape[0], uncondition.shape[1], *coverage.shape[2:],
                                              device=coverage.device)
        full_coverage = torch.cat([uncondition_coverage.to(coverage), coverage]).to(bundle.device)
    with torch.no_grad(), region_attention(bundle.unet, full_coverage):
        for index, timestep in enumerate(timesteps):
            model_input = scheduler.scale_model_input(torch.cat([latents, latents]), timestep)
            prediction = bundle.unet(model_input, timestep, encoder_hidden_states=context).sample
            unconditional, conditional = prediction.chunk(2)
            guided = unconditional + guidance * (conditional - unconditional)
            latents = scheduler.step(guided, timestep, latents).prev_sample
            if step_callback is not None:
                step_callback(index, latents)
            if progress is not None:
                progress.update(1)
    return latents


def to_uint8(images: torch.Tensor) -> list[np.ndarray]:
    """(B, 3, H, W) images in [-1, 1] -> list of (H, W, 3) uint8 RGB arrays."""
    pixels = ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return [array for array in pixels.permute(0, 2, 3, 1).cpu().numpy()]


def generate_plain(bundle, prompts: list[str], seeds: list[int], steps: int = 25, guidance: float = 4.0,
                   size: int | None = None, sampler: str = "ddim", negative: str = "",
                   progress=None) -> list[np.ndarray]:
    """The plain method: each prompt fed whole to the model, one image per (prompt, seed) pair."""
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
        uncondition = encode_prompts(bundle, [negative])
        latents = denoise(bundle, scheduler, latents, condition, uncondition, guidance, scheduler.timesteps,
                          progress=progress)
        return to_uint8(bundle.codec.decode(latents))


def encode_regions(bundle, phrases: list[list[str]], region_maps: torch.Tensor, background: str = "",
                   slots: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Region-masked conditioning for a batch: token embeddings and each token's coverage map.

    phrases[b] lists image b's region phrases; region_maps (B, R, S, S) gives each region's coverage
    (R >= every len(phrases[b])). The token sequence of an image is the background's tokens (seen
    everywhere) followed by `slots` phrase slots of `bundle.phrase_length` tokens; slot r holds
    phrase r and is seen only inside region r; unused slots are seen nowhere.
    Returns (condition (B, T, D), coverage (B, T, S, S)) with T = (1 + slots) * phrase_length."""
    batch = len(phrases)
    slots = slots if slots is not None else max(1, max(len(items) for items in phrases))
    length = bundle.phrase_length
    texts = [background]
    for items in phrases:
        if len(items) > slots:
            raise ValueError(f"{len(items)} regions but only {slots} phrase slots")
        texts.extend([region_text(bundle.region_prefix, item) for item in items] + [""] * (slots - len(items)))
    embeddings = encode_texts(bundle.text_encoder, bundle.tokenizer, texts, length)
    background_tokens = embeddings[:1].expand(batch, -1, -1)
    phrase_tokens = embeddings[1:].reshape(batch, slots * length, -1)
    condition = torch.cat([background_tokens, phrase_tokens], dim=1)

    side = region_maps.shape[-1]
    coverage = torch.zeros(batch, 1 + slots, side, side, device=region_maps.device)
    coverage[:, 0] = 1.0
    for index, items in enumerate(phrases):
        coverage[index, 1:1 + len(items)] = region_maps[index, :len(items)].float()
    coverage = coverage.repeat_interleave(length, dim=1)
    return condition, coverage


def region_text(prefix: str, phrase: str) -> str:
    """What the text encoder reads for one region phrase: the model's region marker (if it has one) first."""
    return f"{prefix} {phrase}" if prefix and phrase else phrase


def region_uncondition(bundle, slots: int, text: str = "") -> torch.Tensor:
    """The unconditional branch that matches `encode_regions`' token count: the first phrase-length
    tokens hold `text` (a negative prompt, or ""), the rest the empty prompt's tokens repeated. Repeating
    identical keys and values leaves attention's output unchanged, so with "" this is exactly "no text"."""
    tokens = encode_texts(bundle.text_encoder, bundle.tokenizer, [text, ""], bundle.phrase_length)
    return torch.cat([tokens[:1], tokens[1:].repeat(1, slots, 1)], dim=1)
