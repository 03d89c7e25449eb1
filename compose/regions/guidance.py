"""Attention guidance: steer the latents by a loss on cross-attention maps, in the first denoising steps.

The training-free mechanism of layout guidance (Chen et al. 2023, "Training-Free Layout Control with
Cross-Attention Guidance": backward guidance), BoxDiff (Xie et al. 2023) and Attend-and-Excite (Chefer
et al. 2023): at a guided step the UNet is run on the latents with gradients on, the cross-attention
maps of each object's tokens are read (compose.regions.attention.AttentionRecorder), and the latents
move down the gradient of an energy that is low when each object's tokens attend inside its region:
- share_g  = the part of group g's attention mass that lies inside its region (layout guidance's term:
  1 when no attention leaks outside; trivially 1 under masked cross-attention);
- excite_g = group g's mean attention probability inside its region (Attend-and-Excite's term: how
  strongly the region attends to its own phrase rather than to the background's tokens);
- energy   = sum over objects of (1 - share_g)^2 + (1 - excite_g)^2.
Each update is normalised to unit root-mean-square and scaled by a step size that decays linearly to
zero over the guided steps, so its size does not depend on the UNet's gradient scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from compose.regions.attention import AttentionRecorder, RegionControl, region_kwargs


def guidance_energy(maps: torch.Tensor, targets: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(B, G, S, S) attention maps and region targets in [0, 1] -> (B,) energies; groups whose target is
    empty (padding slots) count nothing."""
    area = targets.sum(dim=(-1, -2))
    inside = (maps * targets).sum(dim=(-1, -2))
    share = inside / (maps.sum(dim=(-1, -2)) + eps)
    excite = inside / (area + eps)
    terms = (1 - share) ** 2 + (1 - excite) ** 2
    return (terms * (area > 0)).sum(dim=1)


def slot_groups(slots: int, phrase_length: int) -> torch.Tensor:
    """(T, slots) token membership of a region-masked condition (compose.regions.conditioning): slot g
    holds tokens (1 + g) * phrase_length ... ; each slot's first token (the start token, which every
    text attends as a sink) is left out of its group."""
    tokens = (1 + slots) * phrase_length
    groups = torch.zeros(tokens, slots)
    for slot in range(slots):
        start = (1 + slot) * phrase_length
        groups[start + 1:start + phrase_length, slot] = 1
    return groups


@dataclass(frozen=True)
class AttentionGuidance:
    """What a guided step needs: each object's region, token groups and the conditional half's text.

    targets (B, G, S, S): each object's region on the sample grid; groups (T, G); condition (B, T, D) and
    coverage (B, T, S, S) or None: the conditional branch as stage 1 runs it; `steps`: guide steps
    0 .. steps - 1; `step_size`: the first step's update, in units of the latents' RMS."""

    targets: torch.Tensor
    groups: torch.Tensor
    condition: torch.Tensor
    coverage: torch.Tensor | None
    steps: int
    step_size: float
    iterations: int = 1

    def applies(self, index: int) -> bool:
        return index < self.steps

    def apply(self, unet, scheduler, latents: torch.Tensor, timestep, index: int) -> torch.Tensor:
        """The latents moved down the energy's gradient (`iterations` times) before step `index`."""
        size = self.step_size * (1 - index / max(1, self.steps))
        side = latents.shape[-1]
        for _ in range(self.iterations):
            recorder = AttentionRecorder(self.groups)
            control = RegionControl(coverage=self.coverage, recorder=recorder)
            with torch.enable_grad():
                current = latents.detach().requires_grad_(True)
                unet(scheduler.scale_model_input(current, timestep), timestep, encoder_hidden_states=self.condition,
                     cross_attention_kwargs=region_kwargs(control))
                energy = guidance_energy(recorder.maps(side), self.targets.to(latents.device)).sum()
                (gradient,) = torch.autograd.grad(energy, current)
            rms = gradient.flatten(1).pow(2).mean(dim=1).sqrt().clamp_min(1e-12)
            latents = latents - size * gradient / rms[:, None, None, None]
        return latents.detach()
