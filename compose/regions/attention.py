"""Region control inside the UNet's attention: one stateless processor, steered per call.

Two mechanisms act through attention, both chosen per UNet call by a `RegionControl` passed the way
diffusers passes per-call state to processors: `unet(..., cross_attention_kwargs={"regions": control})`.
- Masked cross-attention (regional prompting): the text condition is a sequence of token groups (the
  background's tokens, then each region's phrase tokens), and `coverage` says, for every token and every
  position, how much of that position belongs to the token's region (1 everywhere for background
  tokens). At each cross-attention layer the map is averaged to the layer's resolution and added to the
  scores as log(coverage): a token gets exactly zero attention where its region does not reach.
- Bounded self-attention (Bounded Attention): with `subjects` set, a position inside one object never
  attends to a position inside another, so features do not leak between neighbours.
- Recording: with `recorder` set, every cross-attention layer computes its attention probabilities
  explicitly and adds them, grouped by token group (an object's phrase tokens), to the recorder: the
  maps attention guidance steers by (compose.regions.guidance) and that explain a picture (DAAM's
  recipe: summed over heads and layers, upsampled to one resolution).
The biases depend only on the control and the layer's resolution; the control caches them per
resolution, so every step and layer of a stage that shares the control computes each bias once.

`region_processors(unet)` installs the processor on every attention layer of the UNet (self- and
cross-attention alike, so every layer accepts the `regions` keyword) and restores the UNet's own
processors on exit, even after an error. The processor tells the kinds apart by the module itself
(`attn.is_cross_attention`), never by layer names; with no control it computes exactly the stock
scaled-dot-product attention. Other keywords diffusers passes (a LoRA scale) are accepted and left to
diffusers, which applies them outside the processor.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from compose.regions.masks import coverage_bias, pool_to, subject_bias

REGIONS_KEYWORD = "regions"


@dataclass
class AttentionRecorder:
    """Cross-attention maps per token group, averaged over heads and summed over layers and calls at each
    resolution (`maps` turns the sums into means).

    `groups` (T, G): how much token t belongs to group g (1 for an object's phrase tokens), or None for a
    group per token (each word's own map, without multiplying by an identity matrix). `sums[side]`
    is (B, G, side, side): the attention probability of each group's tokens at each position, summed over
    the layers (and calls) of that resolution; `layers[side]` counts them. Gradients flow through the
    maps (attention guidance differentiates them)."""

    groups: torch.Tensor | None = None
    sums: dict = field(default_factory=dict)
    layers: dict = field(default_factory=dict)

    def add(self, probabilities: torch.Tensor) -> None:
        """probabilities (B, heads, L, T) of one layer call."""
        batch, _, length, _ = probabilities.shape
        side = int(round(length ** 0.5))
        grouped = probabilities.float().mean(dim=1)  # (B, L, T)
        if self.groups is not None:
            grouped = grouped @ self.groups.to(probabilities.device, torch.float32)  # (B, L, G)
        grouped = grouped.transpose(1, 2).reshape(batch, -1, side, side)
        self.sums[side] = grouped if side not in self.sums else self.sums[side] + grouped
        self.layers[side] = self.layers.get(side, 0) + 1

    def maps(self, size: int) -> torch.Tensor:
        """(B, G, size, size): each resolution's mean map upsampled to `size` (bilinear), averaged over the
        resolutions: DAAM's aggregation, normalised so that values stay attention probabilities."""
        if not self.sums:
            raise ValueError("no cross-attention was recorded (was the recorder in the UNet call's control?)")
        upsampled = [F.interpolate(total / self.layers[side], size=(size, size), mode="bilinear", align_corners=False)
                     for side, total in self.sums.items()]
        return torch.stack(upsampled).mean(dim=0)

    def clear(self) -> None:
        self.sums, self.layers = {}, {}


@dataclass
class RegionControl:
    """What region control asks of one UNet call, for the whole (guidance-doubled) batch.

    `coverage` (B, T, H, W): token coverage for masked cross-attention (None: every token everywhere).
    `subjects` (B, K, H, W): object masks for bounded self-attention (None: stock self-attention).
    `groups` (B, G, H, W) with `group_length`: a separate softmax per group of `group_length` consecutive
    tokens (a whole caption each: the background's, then each region's), the outputs mixed at each
    position by the groups' weights there (regional prompting's attention mode), instead of one softmax
    over all tokens."""

    coverage: torch.Tensor | None = None
    subjects: torch.Tensor | None = None
    recorder: AttentionRecorder | None = None
    groups: torch.Tensor | None = None
    group_length: int = 0
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def cross_bias(self, query_length: int, tokens: int, batch: int, device, dtype) -> torch.Tensor | None:
        if self.coverage is None:
            return None
        if self.coverage.shape[0] != batch or self.coverage.shape[1] != tokens:
            raise ValueError(f"region coverage has shape {tuple(self.coverage.shape)} but this layer sees batch "
                             f"{batch} and {tokens} text tokens")
        key = ("cross", query_length, device, dtype)
        if key not in self._cache:
            self._cache[key] = coverage_bias(self.coverage.to(device), query_length).to(dtype)
        return self._cache[key]

    def group_weights(self, query_length: int, batch: int, device, dtype) -> torch.Tensor:
        """(B, G, query_length) weights of each token group at the layer's positions, summing to 1."""
        if self.groups.shape[0] != batch:
            raise ValueError(f"group weights are for a batch of {self.groups.shape[0]}, this layer sees {batch}")
        key = ("groups", query_length, device, dtype)
        if key not in self._cache:
            side = math.isqrt(query_length)
            pooled = pool_to(self.groups.to(device), side).flatten(2)
            self._cache[key] = (pooled / pooled.sum(dim=1, keepdim=True).clamp_min(1e-8)).to(dtype)
        return self._cache[key]

    def conditional_half(self) -> RegionControl:
        """The same control for the conditional half of the guidance-doubled batch alone (a call without
        guidance, where the unconditional prediction is not needed)."""
        def half(tensor):
            return None if tensor is None else tensor[tensor.shape[0] // 2:]

        return RegionControl(coverage=half(self.coverage), subjects=half(self.subjects), recorder=self.recorder,
                             groups=half(self.groups), group_length=self.group_length)

    def self_bias(self, query_length: int, batch: int, device, dtype) -> torch.Tensor | None:
        if self.subjects is None:
            return None
        if self.subjects.shape[0] != batch:
            raise ValueError(f"subject masks are for a batch of {self.subjects.shape[0]}, this layer sees {batch}")
        key = ("self", query_length, device, dtype)
        if key not in self._cache:
            self._cache[key] = subject_bias(self.subjects.to(device), query_length).to(dtype)
        return self._cache[key]


class RegionAttnProcessor:
    """Attention of UNet2DConditionModel's transformer blocks with optional region biases (see module)."""

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None,
                 regions: RegionControl | None = None, **kwargs):
        if attn.spatial_norm is not None or attn.group_norm is not None or attn.residual_connection:
            raise ValueError("RegionAttnProcessor supports the transformer-block attention of UNet2DConditionModel only")
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            batch, channels, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch, channels, height * width).transpose(1, 2)
        batch, query_length, _ = hidden_states.shape
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        if encoder_hidden_states is not None and attn.norm_cross:
            context = attn.norm_encoder_hidden_states(context)

        query = attn.to_q(hidden_states)
        key = attn.to_k(context)
        value = attn.to_v(context)
        heads = attn.heads
        head_dim = key.shape[-1] // heads
        query = query.view(batch, -1, heads, head_dim).transpose(1, 2)
        key = key.view(batch, -1, heads, head_dim).transpose(1, 2)
        value = value.view(batch, -1, heads, head_dim).transpose(1, 2)
        if attn.norm_q is not None:
            query = attn.norm_q(query)
        if attn.norm_k is not None:
            key = attn.norm_k(key)

        bias = None
        if attention_mask is not None:
            bias = attn.prepare_attention_mask(attention_mask, key.shape[2], batch)
            bias = bias.view(batch, heads, -1, bias.shape[-1])
        if regions is not None:
            if attn.is_cross_attention:
                region_bias = regions.cross_bias(query_length, key.shape[2], batch, query.device, query.dtype)
            else:
                region_bias = regions.self_bias(query_length, batch, query.device, query.dtype)
            if region_bias is not None:
                bias = region_bias if bias is None else bias + region_bias
        if regions is not None and regions.groups is not None and attn.is_cross_attention:
            # One softmax per token group (each a whole caption), mixed by the groups' weights.
            length = regions.group_length
            count = key.shape[2] // length
            grouped_key = key.view(batch, heads, count, length, head_dim)
            grouped_value = value.view(batch, heads, count, length, head_dim)
            scores = torch.einsum("bhqd,bhgld->bhgql", query, grouped_key) * attn.scale
            outputs = torch.einsum("bhgql,bhgld->bhgqd", scores.softmax(dim=-1), grouped_value)
            weights = regions.group_weights(query_length, batch, query.device, query.dtype)
            out = torch.einsum("bgq,bhgqd->bhqd", weights, outputs)
        elif regions is not None and regions.recorder is not None and attn.is_cross_attention:
            # The same attention, with its probabilities kept: recorded, then applied to the values.
            scores = query @ key.transpose(-1, -2) * attn.scale
            probabilities = torch.softmax(scores if bias is None else scores + bias, dim=-1)
            regions.recorder.add(probabilities)
            out = probabilities @ value
        else:
            out = F.scaled_dot_product_attention(query, key, value, attn_mask=bias, dropout_p=0.0, is_causal=False)
        out = out.transpose(1, 2).reshape(batch, -1, heads * head_dim).to(query.dtype)
        out = attn.to_out[0](out)
        out = attn.to_out[1](out)
        if input_ndim == 4:
            out = out.transpose(-1, -2).reshape(batch, channels, height, width)
        return out / attn.rescale_output_factor


@contextlib.contextmanager
def region_processors(unet):
    """Install RegionAttnProcessor on every attention layer of `unet` for the block's duration; the UNet's
    own processors come back on exit, even after an error. Steer it per call with
    `cross_attention_kwargs=region_kwargs(control)`."""
    original = dict(unet.attn_processors)
    processor = RegionAttnProcessor()
    unet.set_attn_processor({name: processor for name in original})
    try:
        yield processor
    finally:
        unet.set_attn_processor(original)


def region_kwargs(control: RegionControl | None) -> dict | None:
    """The `cross_attention_kwargs` that carry `control` to the processors (None: no region control)."""
    return None if control is None else {REGIONS_KEYWORD: control}
