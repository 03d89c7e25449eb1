"""Generate pictures from prompts or layout files: the Python face of `compose generate`.

`Generator` loads a model once and draws any number of pictures with it; each call returns a
`GenerationResult` with the picture, the scene and layout it was drawn from, the method, seed,
model and the wall time of each stage. Methods:
- "plain": the model fed the whole prompt, no layout (the baseline every benchmark compares with);
- "compose": parse -> plan -> multi-stage region-guided generation (compose.pipeline) with the measured
  default `ComposeConfig`; the other "compose-..." methods are other configs of the same pipeline, kept
  for ablations (see `COMPOSE_METHODS`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from compose.config import ComposeConfig
from compose.prepare import layout_for, prepare, scene_of
from compose.scene import Layout, Scene

logger = logging.getLogger(__name__)

# Every compose method is a configuration of one pipeline: "compose" the measured default, the others
# name a stage or mechanism explicitly (ablations): stage 1 alone, stages 1 + 2, stage 1 with
# self-attention bounded between objects in its first 40% of steps, stage 1 with attention guidance in
# its first 40% of steps, guidance alone without masks (the layout-guidance baseline), and LMD's per-box
# generation composed into the picture over its first 40% of steps; and the default with up to three rounds of
# check and repair (compose.checking).
COMPOSE_METHODS = {
    "compose": ComposeConfig(),
    "compose-stage1": ComposeConfig(refine=False),  # the same as "compose" while its default leaves stage 2 off
    "compose-stages12": ComposeConfig(refine=True),
    "compose-bounded": ComposeConfig(bounded_self_attention=0.4),
    "compose-guided": ComposeConfig(attention_guidance=0.4),
    "layout-guidance": ComposeConfig(masked_cross_attention=False, attention_guidance=0.4),
    "compose-lmd": ComposeConfig(per_object_composition=0.4),
    "compose-regional": ComposeConfig(separate_softmax=True),
    "compose+repair": ComposeConfig(repair_rounds=3),
    # On a known white canvas (the shapes world's background): only the objects drawn (inpainting).
    "compose-canvas": ComposeConfig(canvas=(255, 255, 255)),
    # Stage 1 from a collage of the objects drawn alone, fitted into their regions, on the white canvas.
    "compose-collage": ComposeConfig(canvas=(255, 255, 255), collage=True),
    # The same, checked and repaired the collage's way: failed objects drawn alone again and pasted in.
    "compose-collage+repair": ComposeConfig(canvas=(255, 255, 255), collage=True, repair_rounds=3),
}
METHODS = ("compose", "plain", *[name for name in COMPOSE_METHODS if name != "compose"])


@dataclass(frozen=True)
class GenerationResult:
    """One generated picture and everything needed to reproduce and check it."""

    image: np.ndarray  # (H, W, 3) uint8 RGB
    prompt: str | None
    scene: Scene | None
    layout: Layout | None
    method: str
    seed: int
    model: str
    steps: int
    guidance: float
    sampler: str
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    attention: object | None = None  # compose.regions.explain.AttentionMaps, when recorded
    repairs: tuple = ()  # compose.pipeline.RepairRound per check-and-repair round, when the method repairs

    def to_dict(self) -> dict:
        """The JSON written beside the picture (compose/specs/cli.md: scene, layout, method, seed, model, timings)."""
        from compose.layout_files import layout_to_dict

        return {
            "prompt": self.prompt, "method": self.method, "seed": self.seed, "model": self.model,
            "steps": self.steps, "guidance": self.guidance, "sampler": self.sampler,
            "size": [int(self.image.shape[1]), int(self.image.shape[0])],
            "scene": self.scene.to_dict() if self.scene is not None else None,
            "layout": layout_to_dict(self.layout) if self.layout is not None else None,
            "timings": {stage: round(seconds, 4) for stage, seconds in self.timings.items()},
            **({"attention_in_region": {"objects": list(self.attention.phrases),
                                        "share": [None if v is None else round(v, 4) for v in self.attention.in_region]}}
               if self.attention is not None else {}),
            **({"repair_rounds": [item.to_dict() for item in self.repairs]} if self.repairs else {}),
        }


def parse_size(text: str | None) -> int | None:
    """'64x64' -> 64. The bundled pipeline draws square pictures whose side is a multiple of 8."""
    if text is None:
        return None
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        raise ValueError(f"--size {text!r}: write WIDTHxHEIGHT in pixels, e.g. 64x64")
    width, height = int(parts[0]), int(parts[1])
    if width != height:
        raise ValueError(f"--size {text!r}: only square pictures are supported; give equal width and height")
    if not 32 <= width <= 2048 or width % 8:
        raise ValueError(f"--size {text!r}: the side must be a multiple of 8 between 32 and 2048 pixels")
    return width


class Generator:
    """A loaded model and the methods that draw with it; load once, call many times."""

    def __init__(self, model: str | Path | None = None, device: str = "cpu", sampler: str = "ddim",
                 progress: bool = False, checker=None):
        """`checker` (compose.checking) reads pictures back for the repairing methods: by default the shapes
        world's exact detector and scorer; an open-vocabulary detector plugs in as a DetectorChecker."""
        from compose.checking import ShapesChecker
        from compose.model.bundle import load_model

        self.model_name = str(model) if model is not None else "bundled"
        self.bundle = load_model(model, device=device)
        self.sampler = sampler
        self.progress = progress
        self.pipeline = None  # the compose pipeline, built on first use
        self.checker = checker if checker is not None else ShapesChecker()

    @classmethod
    def from_bundle(cls, bundle, name: str, sampler: str = "ddim", checker=None) -> Generator:
        """A generator around an already loaded ModelBundle (shared, not copied: a model being edited or
        fine-tuned in memory draws with its current weights)."""
        from compose.checking import ShapesChecker

        generator = cls.__new__(cls)
        generator.model_name, generator.bundle, generator.sampler = name, bundle, sampler
        generator.progress, generator.pipeline = False, None
        generator.checker = checker if checker is not None else ShapesChecker()
        return generator

    def __call__(self, prompt: str | None = None, layout: Layout | None = None, method: str = "compose",
                 seed: int = 0, steps: int | None = None, guidance: float | None = None, size: int | None = None,
                 negative: str | None = None, background: str | None = None,
                 attention: bool = False, repair_rounds: int | None = None) -> GenerationResult:
        """Draw one picture. `negative` adds to the prompt's own negations; `background` overrides a
        layout's (compose methods; plain feeds `negative` to classifier-free guidance's other branch).
        `attention=True` records the cross-attention maps per object and word (result.attention); for
        plain, each object's in-region share is measured against the layout compose would plan.
        `repair_rounds` (compose methods) overrides the method's rounds of check and repair."""
        if method not in METHODS:
            raise ValueError(f"--method {method!r}: choose one of {', '.join(METHODS)}")
        if prompt is None and layout is None:
            raise ValueError("give a prompt or a layout file")
        # The model's own defaults for the method (shapes-v3: 2 steps, guidance 1; plain 25 steps, guidance 4).
        steps = self.bundle.steps_or_default(steps, method)
        guidance = self.bundle.guidance_or_default(guidance, method)
        if not 1 <= steps <= 1000:
            raise ValueError(f"--steps {steps}: give between 1 and 1000 denoising steps")
        if repair_rounds is not None and not 0 <= repair_rounds <= 10:
            raise ValueError(f"--repair {repair_rounds}: give 0 to 10 rounds of check and repair")
        if repair_rounds and method == "plain":
            raise ValueError("--repair: the plain method has no layout to repair against; use a compose method")
        timings: dict[str, float] = {}
        if method == "plain":
            # Parsed only to report and score it; the model sees the raw prompt.
            scene = scene_of(prompt, timings) if prompt is not None else None
            text = prompt if prompt is not None else _layout_text(layout)
            from compose.sampling import generate_plain

            clock = time.perf_counter()
            from compose.regions.attention import AttentionRecorder

            recorder = AttentionRecorder() if attention else None  # each token its own map
            image = generate_plain(self.bundle, [text], [seed], steps=steps, guidance=guidance, size=size,
                                   sampler=self.sampler, negative=negative or "", recorder=recorder)[0]
            timings["generate"] = time.perf_counter() - clock
            maps = self._plain_maps(recorder, text, scene, layout, seed, image.shape[0]) if attention else None
            return GenerationResult(image=image, prompt=prompt, scene=scene, layout=layout, method=method,
                                    seed=seed, model=self.model_name, steps=steps, guidance=guidance,
                                    sampler=self.sampler, timings=timings, attention=maps)
        if self.pipeline is None:
            from compose.pipeline import ComposePipeline

            self.pipeline = ComposePipeline.from_bundle(self.bundle, sampler=self.sampler)
        layout = prepare(prompt, layout, seed, timings)  # parse -> plan, once, here
        output = self.pipeline.draw(layout=layout, seed=seed, steps=steps, guidance=guidance, size=size,
                                    config=_with_repairs(COMPOSE_METHODS[method], repair_rounds), negative=negative,
                                    background=background, progress=self.progress, attention=attention,
                                    checker=self.checker)
        timings.update(output.timings)
        return GenerationResult(image=output.images[0], prompt=prompt, scene=output.scenes[0],
                                layout=output.layouts[0], method=method, seed=seed, model=self.model_name,
                                steps=steps, guidance=guidance, sampler=self.sampler, timings=timings,
                                attention=output.attention[0] if output.attention else None,
                                repairs=tuple(output.repairs[0]) if output.repairs else ())

    def _plain_maps(self, recorder, text: str, scene, layout, seed: int, size: int):
        """Plain's attention maps; each object's region is the layout compose would plan for the scene."""
        from compose.regions.explain import explain_prompt

        if layout is None and scene is not None and scene.objects:
            layout = layout_for(scene, None, seed)
        tokens = self.bundle.tokenizer(text, padding="max_length", max_length=self.bundle.text_length,
                                       truncation=True).input_ids
        return explain_prompt(recorder.maps(size)[1], self.bundle.tokenizer, tokens, scene, layout, size)


def _with_repairs(config: ComposeConfig, rounds: int | None) -> ComposeConfig:
    """The method's config, its rounds of check and repair set to `rounds` when given."""
    from dataclasses import replace

    return config if rounds is None else replace(config, repair_rounds=rounds)


def _layout_text(layout: Layout) -> str:
    """A prompt for a layout given without one: its own prompt, else its phrases joined."""
    if layout.prompt:
        return layout.prompt
    return " and ".join(region.phrase for region in layout.regions)
