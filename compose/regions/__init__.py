"""Region control: everything that makes each object appear in its own region.

- `masks`: region maps on the sample grid, dilation, and the attention biases they become;
- `conditioning`: the region-masked token sequence (each phrase on its own, seen only in its region) and
  the matching unconditional tokens with the negative prompt;
- `attention`: the one attention processor, steered per UNet call by a `RegionControl` (masked
  cross-attention; bounded self-attention between objects; recording attention maps);
- `guidance`: attention guidance, a loss on the recorded maps that moves the latents early on;
- `explain`: the recorded maps per object and word, and the figure of `compose explain`.
The compose pipeline (compose.pipeline) combines them into stages; training uses the same pieces.
"""

from compose.regions.attention import RegionAttnProcessor, RegionControl, region_kwargs, region_processors
from compose.regions.masks import box_coverage, coverage_bias, dilate, region_maps, subject_bias

__all__ = ["RegionAttnProcessor", "RegionControl", "box_coverage", "coverage_bias", "dilate", "region_kwargs",
           "region_maps", "region_processors", "subject_bias"]
