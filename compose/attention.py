"""Region-masked cross-attention: each region's phrase tokens are seen only inside that region.

This is the mechanism of regional prompting (masked cross-attention): the text condition is a
sequence of token groups (the background's tokens, then each region's phrase tokens), and a
coverage map says, for every token and every image position, how much of that position belongs to
the token's region (1 everywhere for background tokens). At each cross-attention layer the map is
averaged down to the layer's resolution and added to the attention scores as log(coverage): a token
gets exactly zero attention where its region does not reach, and partial weight in cells its region
only partly covers (so the layer still learns where, inside a coarse cell, a box edge lies).

The processor is installed with `region_attention(unet, coverage)`, a context manager that restores
the UNet's original processors on exit, also after an exception. Self-attention layers keep the
stock computation.
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F


def coverage_bias(coverage: torch.Tensor, query_length: int) -> torch.Tensor:
    """Turn (B, T, H, W) coverage in [0, 1] into an additive attention bias (B, 1, query_length, T).

    The map is area-averaged to the square resolution of the layer (query_length = side * side);
    bias = log(coverage), so zero coverage gives -inf (zero probability after the softmax)."""
    side = math.isqrt(query_length)
    if side * side != query_length:
        raise ValueError(f"region attention needs square feature maps; got {query_length} positions")
    pooled = F.adaptive_avg_pool2d(coverage.float(), side) if coverage.shape[-1] != side else coverage.float()
    batch, tokens = pooled.shape[:2]
    bias = torch.log(pooled.clamp_min(0)).reshape(batch, tokens, query_length).transpose(1, 2)
    return bias.unsqueeze(1)


class RegionAttnProcessor:
    """Cross-attention with a per-position, per-token mask; the stock attention elsewhere.

    `self.coverage` is (B, T, H, W) token coverage at any resolution, or None for plain attention.
    Classifier-free guidance batches (unconditional + conditional) are handled by giving a coverage
    for the full batch."""

    def __init__(self):
        self._coverage: torch.Tensor | None = None
        self._bias_cache: dict[tuple, torch.Tensor] = {}

    @property
    def coverage(self) -> torch.Tensor | None:
        return self._coverage

    @coverage.setter
    def coverage(self, value: torch.Tensor | None) -> None:
        # The bias depends only on the coverage and the layer's resolution: computed once per
        # resolution for as long as this coverage stays set (every denoising step of a stage).
        self._coverage = value
        self._bias_cache = {}

    def region_bias(self, query_length: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        key = (query_length, device, dtype)
        if key not in self._bias_cache:
            self._bias_cache[key] = coverage_bias(self._coverage.to(device), query_length).to(dtype)
        return self._bias_cache[key]

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None,
                 **kwargs):
        if attn.spatial_norm is not None or attn.group_norm is not None or attn.residual_connection:
            raise ValueError("RegionAttnProcessor supports the transformer-block attention of UNet2DConditionModel only")
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            batch, channels, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch, channels, height * width).transpose(1, 2)
        batch, query_length, _ = hidden_states.shape
        is_cross = encoder_hidden_states is not None
        context = encoder_hidden_states if is_cross else hidden_states
        if is_cross and attn.norm_cross:
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
        if is_cross and self.coverage is not None:
            if self.coverage.shape[0] != batch or self.coverage.shape[1] != key.shape[2]:
                raise ValueError(
                    f"region coverage has shape {tuple(self.coverage.shape)} but this layer sees batch {batch} "
                    f"and {key.shape[2]} text tokens")
            region_bias = self.region_bias(query_length, query.device, query.dtype)
            bias = region_bias if bias is None else bias + region_bias
        out = F.scaled_dot_product_attention(query, key, value, attn_mask=bias, dropout_p=0.0, is_causal=False)
        out = out.transpose(1, 2).reshape(batch, -1, heads * head_dim).to(query.dtype)
        out = attn.to_out[0](out)
        out = attn.to_out[1](out)
        if input_ndim == 4:
            out = out.transpose(-1, -2).reshape(batch, channels, height, width)
        return out / attn.rescale_output_factor


@contextlib.contextmanager
def region_attention(unet, coverage: torch.Tensor | None):
    """Install RegionAttnProcessor on every cross-attention layer of `unet` for the block's duration.

    Yields the processor (one object shared by all layers), whose `coverage` may be changed inside
    the block (e.g. per stage). The original processors come back on exit, even after an error."""
    original = dict(unet.attn_processors)
    processor = RegionAttnProcessor()
    processor.coverage = coverage
    installed = {name: (processor if ".attn2." in name else stock) for name, stock in original.items()}
    unet.set_attn_processor(installed)
    try:
        yield processor
    finally:
        unet.set_attn_processor(original)


def box_coverage(boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Exact fractional pixel coverage of boxes on a size x size grid.

    boxes: (..., 4) as x0, y0, x1, y1 in canvas fractions -> (..., size, size) in [0, 1]; a pixel half
    inside a box edge gets 0.5. Pure tensor arithmetic (differentiable, no loops)."""
    edges = torch.arange(size + 1, dtype=torch.float32, device=boxes.device) / size
    low, high = edges[:-1], edges[1:]

    def overlap(start, stop):  # (..., 1) box interval vs (size,) pixel intervals -> fraction covered
        covered = torch.minimum(high, stop[..., None]) - torch.maximum(low, start[..., None])
        return covered.clamp_min(0) * size

    x_cover = overlap(boxes[..., 0], boxes[..., 2])
    y_cover = overlap(boxes[..., 1], boxes[..., 3])
    return y_cover[..., :, None] * x_cover[..., None, :]
