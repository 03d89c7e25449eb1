"""The compose method's knobs in one frozen dataclass; no behaviour lives in module globals.

Importing this module is cheap (no torch), so the CLI can list the methods without loading a model.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ComposeConfig:
    """Every knob of the compose method; the defaults are the measured ones (README "Results").

    - `region_inset`: a box region steers attention inside the box shrunk by this fraction of its width
      and height on each side, so that neighbouring objects (a counted group's boxes are only
      world.MIN_GAP apart) are drawn apart instead of touching and merging. On the counting suite with
      shapes-v2 (seeds 0-3, stage 1) it took strict accuracy from 65.5% (none) to 86.2% (0.08); 0.15
      gave 75.0% (chosen on that suite: its counting figure is not held out).
    - `refine`: run stage 2. On shapes-v2 stage 1 alone scored 92.1% strict overall at 1.00x plain's time,
      stages 1 + 2 also 92.1% at 1.61x (`compose bench --methods plain,compose,compose-stages12 --seeds
      4`, 2026-11-26), so it is off by default. `refine_strength`: the share of the schedule stage 2
      re-noises to; `refine_dilation`: grid cells the kept region grows by, so edges are refined too.
    - `bounded_self_attention`: the share of stage 1's first steps in which self-attention is bounded
      between objects (0: never).
    - `attention_guidance`: the share of stage 1's first steps that begin with attention guidance
      (compose.regions.guidance; 0: never), each moving the latents by `guidance_step_size` (decaying).
    - `masked_cross_attention`: route each phrase to its region by masking (on); off, every token is
      seen everywhere and only attention guidance places the objects (the layout-guidance baseline).
    - `separate_softmax`: cross-attention as one softmax per caption (the background's, each region's)
      mixed by the regions' maps (regional prompting's attention mode), instead of masks on one softmax
      over all tokens: each position attends to whole captions as a plainly trained model saw them.
    - `per_object_composition`: LMD's per-box generation: each object is first drawn alone (its phrase,
      its region), and for this share of stage 1's first steps its latents replace the picture's inside
      its region (0: off).
    - `repair_rounds`: after drawing, a checker (compose.checking) reads the picture back; every region
      whose object is not there as asked is re-noised to `repair_strength` of the schedule and drawn
      again with a fresh seed and its own phrase, every extra or negated thing erased, the rest kept;
      up to this many rounds, stopping when the check passes (0: no checking). With `collage` the repair
      is the collage's own operation, in pixels: each failed region's box is cleared to the canvas, its
      object drawn alone again (a fresh seed) and pasted in, each extra thing's box painted with the
      canvas, and the repaired regions re-noised to `collage_strength` only (a model trained on whole
      captions cannot redraw a region from a region-masked phrase: issue 11). On a crowded tuning set
      kept apart from the suites (the repository's crowded tuning prompts, 8 prompts x 2 seeds,
      shapes-sd) it took compose-collage from 5 to 15 of 16 strict.
    - `canvas`: draw on a known background, an RGB colour (inpainting into a given canvas): after every
      stage-1 step, outside every object's region (grown by `refine_dilation` cells) the latents are
      reset to the canvas's encoding noised to the next step's level, so only the objects are drawn.
      A model trained on whole captions has no phrase for "nothing here": outside the regions it draws
      its unconditional prior, random objects (shapes-sd, issue 11). None: the model draws everything.
    - `collage`: stage 1 starts from a collage instead of noise (per-object generation composed into one
      picture, as LMD composes per-box generations, here in pixels): each object is drawn alone as a
      whole picture from its own phrase (what a plainly trained model does best), cut out from the
      canvas (pixels more than `COLLAGE_CUT` from the canvas colour), fitted into its region keeping its
      aspect, and pasted onto the canvas; the collage is then noised to `collage_strength` of the schedule
      and denoised with region-masked attention, so the objects are redrawn in place, in one picture.
      Needs `canvas` (the cut-out reads the canvas colour). `collage_strength` 0.1 was chosen on a tuning
      set kept apart from the benchmark suites (20 prompts x 2 seeds, shapes-sd at step 5,500 of 7,000):
      strict 92.5% at 0.04, 95% at 0.1, 77.5% at 0.2; a stronger redraw loses what the objects drawn alone
      got right (their colours first). `collage_alone_steps`: the share of the steps the objects drawn
      alone get; on the same tuning set 1.0: 95% at 3.8 s per picture, 0.4: 92.5% at 0.84 s, 0.2: 85% at
      0.54 s (plain: 0.8-0.9 s; one CPU thread, a training run on the other core)."""

    region_inset: float = 0.08
    refine: bool = False
    refine_strength: float = 0.3
    refine_dilation: int = 1
    bounded_self_attention: float = 0.0
    attention_guidance: float = 0.0
    guidance_step_size: float = 0.3
    masked_cross_attention: bool = True
    separate_softmax: bool = False
    per_object_composition: float = 0.0
    repair_rounds: int = 0
    repair_strength: float = 0.6
    canvas: tuple[int, int, int] | None = None
    collage: bool = False
    collage_strength: float = 0.1
    collage_alone_steps: float = 0.4

    def check(self) -> None:
        rules = [
            (0.0 <= self.region_inset < 0.5, f"region_inset {self.region_inset}: give a fraction in [0, 0.5)"),
            (0.0 <= self.refine_strength <= 1.0,
             f"refine_strength {self.refine_strength}: give a fraction of the schedule in [0, 1]"),
            (self.refine_dilation >= 0, f"refine_dilation {self.refine_dilation}: give 0 or more grid cells"),
            (0.0 <= self.bounded_self_attention <= 1.0,
             f"bounded_self_attention {self.bounded_self_attention}: give a share of the steps in [0, 1]"),
            (0.0 <= self.attention_guidance <= 1.0,
             f"attention_guidance {self.attention_guidance}: give a share of the steps in [0, 1]"),
            (self.guidance_step_size >= 0, f"guidance_step_size {self.guidance_step_size}: give 0 or more"),
            (0 <= self.repair_rounds <= 10, f"repair_rounds {self.repair_rounds}: give 0 to 10 rounds"),
            (0.0 < self.repair_strength <= 1.0, f"repair_strength {self.repair_strength}: give a share in (0, 1]"),
            (self.masked_cross_attention or not self.separate_softmax, "separate_softmax replaces the masks' "
             "routing with its own; leave masked_cross_attention on"),
            (self.canvas is None or (len(self.canvas) == 3 and all(0 <= int(c) <= 255 for c in self.canvas)),
             f"canvas {self.canvas}: give an RGB colour, three values 0-255"),
            (self.canvas is None or not self.per_object_composition,
             "canvas and per_object_composition both blend stage 1's latents; choose one"),
            (not self.collage or self.canvas is not None, "collage cuts objects out of a known canvas: give canvas"),
            (0.0 < self.collage_alone_steps <= 1.0,
             f"collage_alone_steps {self.collage_alone_steps}: give a share of the steps in (0, 1]"),
            (0.0 < self.collage_strength <= 1.0,
             f"collage_strength {self.collage_strength}: give a share of the schedule in (0, 1]"),
            (0.0 <= self.per_object_composition <= 1.0,
             f"per_object_composition {self.per_object_composition}: give a share of the steps in [0, 1]"),
        ]
        for holds, message in rules:
            if not holds:
                raise ValueError(message)
