"""Why a picture came out as it did: per-object and per-word cross-attention maps (DAAM's recipe).

Tang et al. 2023 ("What the DAAM: Interpreting Stable Diffusion Using Cross Attention") aggregate a
word's cross-attention over heads, layers and denoising steps, upsampled to the picture, into a heat
map of where the word acted. Here the recorder (compose.regions.attention.AttentionRecorder) sums the
attention probabilities of every token at every cross-attention layer and step of the call's
conditional branch; this module turns the sums into `AttentionMaps`: one map per object group (its
tokens' maps summed: under compose an instance's own phrase slot, under plain the group's words in the
whole prompt) and one per word, at the picture's resolution, with each group's in-region share: the
part of its attention that falls inside its region (the union of its instances' boxes).

Read the share with its mechanism in mind: under masked cross-attention a phrase's tokens get exactly
zero attention where their (pooled) region does not reach, so most of compose's share is the mask at
work; what remains outside comes from the coarse layers' cells and the upsampling. Under plain nothing
steers the words, so its share says how far the model put them where compose would. The maps are stage
1's (a method that refines or repairs afterwards redraws parts of the picture they are laid over).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from compose.regions.masks import box_coverage


@dataclass(frozen=True)
class AttentionMaps:
    """One picture's attention maps: `objects` (G, H, W) per object group, `words` (K, H, W) per token of
    the text the model read, with `phrases` and `tokens` naming them; `in_region[g]`: the share of group
    g's attention inside its region (None when the group has no region). Values are mean attention
    probabilities (0-1) over layers and steps."""

    objects: np.ndarray
    phrases: tuple[str, ...]
    words: np.ndarray
    tokens: tuple[str, ...]
    in_region: tuple[float | None, ...]
    layout: object | None = None  # the layout the shares were measured against (for plain: compose's plan)

    @property
    def mean_in_region(self) -> float | None:
        shares = [share for share in self.in_region if share is not None]
        return float(np.mean(shares)) if shares else None


def text_tokens(tokenizer, text: str) -> list[int]:
    """The token ids of `text` without its start and end tokens."""
    ids = tokenizer(text, add_special_tokens=True).input_ids
    return [token for token in ids if token not in (tokenizer.bos_token_id, tokenizer.eos_token_id)]


def find_tokens(sequence: list[int], wanted: list[int]) -> list[int]:
    """Positions of the first occurrence of `wanted` as a contiguous run in `sequence` ([] if absent)."""
    for start in range(len(sequence) - len(wanted) + 1):
        if wanted and sequence[start:start + len(wanted)] == wanted:
            return list(range(start, start + len(wanted)))
    return []


def in_region_share(attention: torch.Tensor, region: torch.Tensor) -> float | None:
    """sum(attention * region) / sum(attention) for one (H, W) map and (H, W) region coverage."""
    total = float(attention.sum())
    if total <= 0 or float(region.sum()) <= 0:
        return None
    return float((attention * region).sum()) / total


def group_regions(layout, size: int) -> dict:
    """Per object group of the layout (keyed by its group id, or "region N" for a region without one),
    the union of its instances' boxes (or painted masks) at `size` px."""
    maps: dict = {}
    for index, region in enumerate(layout.regions):
        key = region.group if region.group is not None else f"region {index}"
        if region.polygons:
            cover = torch.from_numpy(region.mask(size, size).astype(np.float32))
        else:
            cover = box_coverage(torch.tensor(region.box, dtype=torch.float32), size)
        maps[key] = cover if key not in maps else torch.maximum(maps[key], cover)
    return maps


def group_slots(layout) -> list[tuple[object, str, list[int]]]:
    """(group key, phrase, region indices) per object group of the layout, in order of first appearance."""
    groups: dict = {}
    for index, region in enumerate(layout.regions):
        key = region.group if region.group is not None else f"region {index}"
        groups.setdefault(key, (region.phrase, []))[1].append(index)
    return [(key, phrase, indices) for key, (phrase, indices) in groups.items()]


def explain_regions(word_maps: torch.Tensor, tokenizer, token_ids: list[int], phrase_length: int, layout,
                    size: int) -> AttentionMaps:
    """Maps of a compose picture: `word_maps` (T, size, size) per condition token (background slot, then
    one phrase slot per region: compose.regions.conditioning), `token_ids` the condition's ids."""
    keep = [index for index, token in enumerate(token_ids)
            if token not in (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id)]
    objects, phrases, keys = [], [], []
    for key, phrase, indices in group_slots(layout):
        slots = [position for region in indices for position in range((1 + region) * phrase_length,
                                                                      (2 + region) * phrase_length)
                 if position in keep]
        objects.append(word_maps[slots].sum(dim=0) if slots else torch.zeros(size, size))
        phrases.append(phrase)
        keys.append(key)
    regions = group_regions(layout, size)
    return _maps(objects, phrases, word_maps[keep], [tokenizer.convert_ids_to_tokens(token_ids[i]) for i in keep],
                 [regions[key] for key in keys], layout)


def explain_prompt(word_maps: torch.Tensor, tokenizer, token_ids: list[int], scene, layout, size: int) -> AttentionMaps:
    """Maps of a plain picture: `word_maps` (T, size, size) per token of the whole prompt; each object
    group's map sums its phrase's tokens where they appear in the prompt (else its noun's)."""
    keep = [index for index, token in enumerate(token_ids)
            if token not in (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id)]
    objects, phrases = [], []
    for group in scene.objects if scene is not None else ():
        positions = find_tokens(token_ids, text_tokens(tokenizer, group.phrase)) or \
            find_tokens(token_ids, text_tokens(tokenizer, group.noun))
        objects.append(word_maps[positions].sum(dim=0) if positions else torch.zeros(size, size))
        phrases.append(group.phrase)
    by_group = group_regions(layout, size) if layout is not None else {}
    regions = [by_group.get(group.id) for group in (scene.objects if scene is not None else ())]
    return _maps(objects, phrases, word_maps[keep], [tokenizer.convert_ids_to_tokens(token_ids[i]) for i in keep],
                 regions, layout)


def _maps(objects, phrases, words, tokens, regions, layout) -> AttentionMaps:
    shares = tuple(in_region_share(attention, region) if region is not None else None
                   for attention, region in zip(objects, regions))
    size = words.shape[-1]
    stacked = torch.stack(objects).float().numpy() if objects else np.zeros((0, size, size), np.float32)
    return AttentionMaps(objects=stacked, phrases=tuple(phrases), words=words.float().numpy(),
                         tokens=tuple(token.replace("</w>", "") for token in tokens), in_region=shares, layout=layout)


def draw_explanation(image: np.ndarray, layout, maps: AttentionMaps, title: str = "", layout_title: str = "layout"):
    """A figure a person reads: the picture, its layout, and each object's attention map over the picture
    with its phrase and in-region share. Returns a PIL image."""
    import io

    import matplotlib
    from matplotlib.figure import Figure
    from PIL import Image

    from compose.draw import draw_layout

    panels = 2 + len(maps.phrases)
    figure = Figure(figsize=(2.4 * panels, 2.9), dpi=100)
    axes = figure.subplots(1, panels, squeeze=False)[0]
    size = image.shape[0]
    axes[0].imshow(image, interpolation="nearest")
    axes[0].set_title("picture", fontsize=9)
    if layout is not None and layout.regions:
        axes[1].imshow(np.asarray(draw_layout(layout, size=max(256, size)).convert("RGB")))
    axes[1].set_title(layout_title, fontsize=9)
    colormap = matplotlib.colormaps["inferno"]
    for axis, attention, phrase, share in zip(axes[2:], maps.objects, maps.phrases, maps.in_region):
        peak = float(attention.max()) or 1.0
        heat = colormap(attention / peak)[..., :3]
        axis.imshow((0.45 * image / 255.0 + 0.55 * heat).clip(0, 1), interpolation="bilinear")
        label = phrase if share is None else f"{phrase}\n{100 * share:.0f}% in its region"
        axis.set_title(label, fontsize=8)
    for axis in axes:
        axis.set_xticks([])
        axis.set_yticks([])
    if title:
        figure.suptitle(title, fontsize=9)
    figure.tight_layout(rect=(0, 0, 1, 0.93 if title else 1))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
