"""Region masks on a model's sample grid: pure tensor functions, unit-tested alone.

- `box_coverage`: the exact fractional coverage of boxes on a grid (a pixel half inside an edge gets 0.5);
- `region_maps`: one coverage map per object instance of a layout (boxes inset, painted masks pooled);
- `dilate`: grow soft masks by whole cells (stage 2 keeps a refined object's edges);
- `coverage_bias`: token coverage -> an additive attention bias (log coverage) at a layer's resolution;
- `subject_bias`: Bounded Attention's self-attention mask: a position inside one object never attends to
  a position inside another (Dahary et al. 2024, "Be Yourself: Bounded Attention for Multi-Subject
  Text-to-Image Generation": leakage between subjects also flows through self-attention).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


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


def region_maps(layout, side: int, inset: float) -> torch.Tensor:
    """(R, side, side) coverage of each region of `layout` on the sample grid: the box's exact coverage,
    the box first shrunk by `inset` of its width and height on each side (so that neighbours are drawn
    apart), or the painted mask area-averaged down when the region has polygons."""
    maps = []
    for region in layout.regions:
        if region.polygons:
            fine = torch.from_numpy(region.mask(side * 8, side * 8).astype(np.float32))
            maps.append(F.avg_pool2d(fine[None, None], 8)[0, 0])
        else:
            x0, y0, x1, y1 = region.box
            dx, dy = (x1 - x0) * inset, (y1 - y0) * inset
            maps.append(box_coverage(torch.tensor([x0 + dx, y0 + dy, x1 - dx, y1 - dy]), side))
    return torch.stack(maps) if maps else torch.zeros(0, side, side)


def dilate(maps: torch.Tensor, cells: int) -> torch.Tensor:
    """Grow soft masks (N, side, side) by `cells` grid cells (max-pooling)."""
    if cells <= 0:
        return maps
    return F.max_pool2d(maps[:, None], kernel_size=2 * cells + 1, stride=1, padding=cells)[:, 0]


def _square_side(query_length: int) -> int:
    side = math.isqrt(query_length)
    if side * side != query_length:
        raise ValueError(f"region attention needs square feature maps; got {query_length} positions")
    return side


def pool_to(maps: torch.Tensor, side: int) -> torch.Tensor:
    """(B, K, H, W) maps area-averaged to (B, K, side, side) (unchanged when already that size)."""
    return F.adaptive_avg_pool2d(maps.float(), side) if maps.shape[-1] != side else maps.float()


def coverage_bias(coverage: torch.Tensor, query_length: int) -> torch.Tensor:
    """Turn (B, T, H, W) token coverage in [0, 1] into an additive attention bias (B, 1, query_length, T).

    The map is area-averaged to the square resolution of the layer (query_length = side * side);
    bias = log(coverage), so zero coverage gives -inf (zero probability after the softmax)."""
    pooled = pool_to(coverage, _square_side(query_length))
    batch, tokens = pooled.shape[:2]
    bias = torch.log(pooled.clamp_min(0)).reshape(batch, tokens, query_length).transpose(1, 2)
    return bias.unsqueeze(1)


def subject_labels(subjects: torch.Tensor, side: int, threshold: float = 0.5) -> torch.Tensor:
    """(B, K, H, W) subject masks -> (B, side * side) long labels: the subject covering each position
    most (when its pooled coverage exceeds `threshold`), else -1 (background)."""
    pooled = pool_to(subjects, side).flatten(2)  # (B, K, L)
    if pooled.shape[1] == 0:
        return torch.full((pooled.shape[0], side * side), -1, dtype=torch.long, device=subjects.device)
    best, label = pooled.max(dim=1)
    return torch.where(best > threshold, label, torch.full_like(label, -1))


def subject_bias(subjects: torch.Tensor, query_length: int) -> torch.Tensor:
    """Bounded self-attention: (B, K, H, W) subject masks -> additive bias (B, 1, L, L), L = query_length.

    A query inside subject i gets -inf towards keys inside any other subject j != i; every other pair
    (same subject, or either one in the background) keeps its stock attention. Each query can always
    attend to its own position, so no row is all -inf."""
    labels = subject_labels(subjects, _square_side(query_length))
    query, key = labels[:, :, None], labels[:, None, :]
    apart = (query >= 0) & (key >= 0) & (query != key)
    bias = torch.zeros(apart.shape, device=subjects.device)
    bias.masked_fill_(apart, float("-inf"))
    return bias.unsqueeze(1)
