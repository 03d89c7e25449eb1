"""The `compose` method: multi-stage, region-guided generation from a prompt or a layout.

One pipeline class in the manner of diffusers' pipelines: the models come in the constructor, and one
`__call__` runs numbered steps. The idea, from the field (regional prompting: masked cross-attention;
MultiDiffusion and LMD: per-region generation composed into one latent):

- Stage 1, coarse: the whole picture is denoised once, with region-masked cross-attention
  (compose.regions): each object instance's own phrase is seen only inside its region, the
  background's tokens everywhere. Attribute leakage through the text encoder cannot happen either,
  since each phrase is encoded on its own.
- Stage 2, per object: each object's region is noised part of the way back (`refine_strength`) and
  denoised again with only its own phrase in its region; after every step everything outside the
  (slightly dilated) region is reset to the stage-1 picture at the same noise level, so the rest of
  the picture is kept (the blending of Avrahami et al.'s Blended Diffusion, used by LMD). All objects of
  all pictures run as one batch. The refined regions are pasted back by their masks.
Negations in the prompt ("no stars") become the negative conditioning of classifier-free guidance.
Optionally (`ComposeConfig.bounded_self_attention`), self-attention is bounded between objects in the
early steps of stage 1 (Bounded Attention), so that neighbours do not share features either.
Every knob lives in one frozen `ComposeConfig`, its defaults the measured ones; no module globals.
"""

from __future__ import annotations

import dataclasses
import logging
import numbers
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from diffusers import DiffusionPipeline
from diffusers.utils import BaseOutput

from compose.checking import Check, Checker
from compose.config import ComposeConfig
from compose.model.bundle import ModelBundle, PixelFoldCodec, VaeCodec, XLUNet
from compose.regions.attention import AttentionRecorder, RegionControl
from compose.regions.conditioning import (
    encode_regions,
    negative_tokens,
    region_token_ids,
)
from compose.regions.explain import AttentionMaps, explain_regions
from compose.regions.guidance import AttentionGuidance, slot_groups
from compose.regions.masks import box_coverage, dilate, region_maps
from compose.sampling import (
    KeepOutside,
    PasteObjects,
    check_size,
    denoise,
    guided_control,
    initial_noise,
    to_uint8,
)
from compose.prepare import prepare
from compose.scene import Layout, Scene

logger = logging.getLogger(__name__)


@dataclass
class PipelineOutput(BaseOutput):
    """What one call drew: a picture per prompt or layout, with everything needed to check it.

    `images` are (H, W, 3) uint8 RGB arrays from `ComposePipeline.draw`, and what `output_type` asks for
    (PIL images by default) from a diffusers-style call."""

    images: list
    scenes: list[Scene | None]
    layouts: list[Layout]
    seeds: list[int]
    object_seeds: list[list[int]]  # the seed of each object's stage-2 noise, per picture
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds for the whole call
    attention: list[AttentionMaps] | None = None  # per picture, when the call was asked to record them
    repairs: list[list[RepairRound]] | None = None  # per picture, each check-and-repair round, when asked
    latents: torch.Tensor | None = None  # the samples that were decoded (before any repair)


@dataclass(frozen=True)
class RepairRound:
    """One round of check and repair: what the checker found, and the picture after redrawing it
    (`image` None for the last check, which passed or ended the rounds)."""

    check: Check
    image: np.ndarray | None = None

    def to_dict(self) -> dict:
        return {**self.check.to_dict(), "repaired": self.image is not None}


def negative_text(scene: Scene | None, negative: str | None) -> str:
    """The negative prompt: the user's, plus every negated thing of the scene ("no stars" -> "stars")."""
    parts = [negative] if negative else []
    if scene is not None:
        for item in scene.negations:
            parts.append(" ".join(word for word in (item.size, item.color, item.noun or "shapes") if word))
    return ", ".join(parts)


class ComposePipeline(DiffusionPipeline):
    """Parse -> plan -> stage 1 (region-masked attention) -> stage 2 (per-object refinement) -> decode.

    A diffusers `DiffusionPipeline`: its components are registered (`unet`, `vae`: a Stable Diffusion
    AutoencoderKL or the bundled model's PixelFoldCodec, `text_encoder`, `tokenizer`, `scheduler`: the
    sampler every call copies), so `.to()`, `.components`, `set_progress_bar_config`, `save_pretrained`
    and `enable_model_cpu_offload` (on a GPU) behave as diffusers users expect. Two ways to call it:
    `pipe(prompt, num_inference_steps=, guidance_scale=, generator=, ...)` with diffusers' argument
    names and PIL images back, and `pipe.draw(prompt, seed=, steps=, guidance=, ...)`, compose's own,
    with uint8 arrays back (what the CLI and the benchmark use). The same seed draws the same picture
    either way."""

    model_cpu_offload_seq = "text_encoder->text_encoder_2->unet->vae"
    _optional_components = ["text_encoder_2", "tokenizer_2"]  # SDXL-class models have both
    _callback_tensor_inputs = ["latents"]

    def __init__(self, unet, vae, text_encoder, tokenizer, scheduler, text_encoder_2=None, tokenizer_2=None,
                 native_size: int | None = None, text_length: int | None = None, phrase_length: int | None = None,
                 region_prefix: str = "", world: dict | None = None, force_zeros_for_empty_prompt: bool = False):
        from compose.model.bundle import SD_PHRASE_LENGTH, caption_length

        super().__init__()
        if (text_encoder_2 is None) != (tokenizer_2 is None):
            raise ValueError("ComposePipeline: give text_encoder_2 and tokenizer_2 together (an SDXL model), or neither")
        self.register_modules(unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=scheduler,
                              text_encoder_2=text_encoder_2, tokenizer_2=tokenizer_2)
        downscale = self._codec().downscale
        text_length = text_length or caption_length(tokenizer)
        self.register_to_config(native_size=int(native_size or unet.config.sample_size * downscale),
                                text_length=int(text_length),
                                phrase_length=int(phrase_length or min(text_length, SD_PHRASE_LENGTH)),
                                region_prefix=region_prefix, world=world,
                                force_zeros_for_empty_prompt=bool(force_zeros_for_empty_prompt))
        self.model_name = ""
        self.model_info: dict = {}

    def _codec(self):
        return self.vae if isinstance(self.vae, PixelFoldCodec) else VaeCodec(self.vae)

    @property
    def bundle(self) -> ModelBundle:
        """The model as compose's drawing code reads it (the registered components, not copies)."""
        config = self.config
        codec = self._codec()
        unet = self.unet
        if self.text_encoder_2 is not None:  # SDXL: the pooled embedding and time ids added per call
            unet = XLUNet(unet, int(self.text_encoder_2.config.projection_dim), codec.downscale)
        return ModelBundle(unet=unet, text_encoder=self.text_encoder, tokenizer=self.tokenizer,
                           scheduler_config=dict(self.scheduler.config), codec=codec, name=self.model_name,
                           native_size=config.native_size, text_length=config.text_length,
                           phrase_length=config.phrase_length, info=self.model_info,
                           region_prefix=config.region_prefix, world=config.world,
                           text_encoder_2=self.text_encoder_2, tokenizer_2=self.tokenizer_2,
                           zero_empty_negative=config.force_zeros_for_empty_prompt)

    @classmethod
    def from_bundle(cls, bundle: ModelBundle, sampler: str = "ddim") -> ComposePipeline:
        """The pipeline around a loaded ModelBundle's parts (shared), sampling with `sampler`
        ("ddim", "dpm" or "euler", built from the model's noise schedule)."""
        vae = bundle.codec.vae if isinstance(bundle.codec, VaeCodec) else bundle.codec
        unet = bundle.unet.unet if isinstance(bundle.unet, XLUNet) else bundle.unet
        pipeline = cls(unet=unet, vae=vae, text_encoder=bundle.text_encoder, tokenizer=bundle.tokenizer,
                       scheduler=bundle.make_scheduler(sampler), text_encoder_2=bundle.text_encoder_2,
                       tokenizer_2=bundle.tokenizer_2, native_size=bundle.native_size,
                       text_length=bundle.text_length, phrase_length=bundle.phrase_length,
                       region_prefix=bundle.region_prefix, world=bundle.world,
                       force_zeros_for_empty_prompt=bundle.zero_empty_negative)
        pipeline.model_name, pipeline.model_info = bundle.name, bundle.info
        return pipeline

    # What diffusers' from_pretrained takes that changes nothing here: compose always loads offline,
    # from safetensors, and has no safety checker.
    _IGNORED_LOAD_ARGUMENTS = frozenset({"local_files_only", "use_safetensors", "safety_checker",
                                         "feature_extractor", "requires_safety_checker", "low_cpu_mem_usage"})

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path=None, torch_dtype: torch.dtype | None = None,
                        device: str = "cpu", sampler: str = "ddim", **kwargs) -> ComposePipeline:
        """The pipeline of a model folder: "bundled" (or None) for the bundled model, or any Stable
        Diffusion 1.x/2.x folder in diffusers format (compose.model.bundle.load_model), offline."""
        from compose.model.bundle import load_model

        unknown = sorted(set(kwargs) - cls._IGNORED_LOAD_ARGUMENTS)
        if unknown:
            raise TypeError(f"ComposePipeline.from_pretrained: unsupported argument(s) {', '.join(unknown)}; it takes "
                            "the model path, torch_dtype=, device= and sampler= (ddim, dpm, euler)")
        bundle = load_model(pretrained_model_name_or_path, device=device, dtype=torch_dtype or torch.float32)
        return cls.from_bundle(bundle, sampler=sampler)

    @classmethod
    def from_pipe(cls, pipe, sampler: str = "ddim") -> ComposePipeline:
        """The compose pipeline of a diffusers StableDiffusionPipeline (or StableDiffusionXLPipeline) a user
        already has: its UNet, VAE, text encoder(s), tokenizer(s) and scheduler config, shared (no weights
        are copied)."""
        from compose.model.bundle import stable_diffusion_bundle

        missing = [part for part in ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
                   if getattr(pipe, part, None) is None]
        if missing:
            raise ValueError(f"from_pipe: the pipeline has no {', '.join(missing)}; give a Stable Diffusion pipeline")
        second = {}
        if getattr(pipe, "text_encoder_2", None) is not None:  # SDXL-class
            second = {"text_encoder_2": pipe.text_encoder_2, "tokenizer_2": pipe.tokenizer_2,
                      "zero_empty_negative": bool(pipe.config.get("force_zeros_for_empty_prompt", True))}
        bundle = stable_diffusion_bundle(pipe.unet, pipe.vae, pipe.text_encoder, pipe.tokenizer,
                                         dict(pipe.scheduler.config), name=type(pipe).__name__, **second)
        return cls.from_bundle(bundle, sampler=sampler)

    def save_pretrained(self, save_directory, safe_serialization: bool = True, **kwargs) -> None:
        """Write the model: a Stable Diffusion model in diffusers' folder layout (model_index.json and one
        folder per component), the bundled kind in its own format (compose_model.json); both load back
        with `from_pretrained`. Weights are written in the dtype they have."""
        if not safe_serialization:
            raise ValueError("save_pretrained: compose writes safetensors only (safe_serialization=True)")
        if isinstance(self.vae, PixelFoldCodec):
            from compose.model.bundle import save_bundle

            save_bundle(self.bundle, save_directory, dtype=self.unet.dtype)
        else:
            super().save_pretrained(save_directory, safe_serialization=True, **kwargs)

    def _progress(self, total: int):
        """A progress bar over a call's steps, with whatever `set_progress_bar_config` asked for."""
        from tqdm.auto import tqdm

        return tqdm(total=total, **{"desc": "compose", "unit": "step", "leave": False,
                                    **getattr(self, "_progress_bar_config", {})})

    def _fresh_scheduler(self):
        """A copy of the pipeline's scheduler (each stage steps its own: multistep samplers keep state)."""
        return type(self.scheduler).from_config(self.scheduler.config)

    def check_inputs(self, prompts, layouts, seeds, steps, config, size, checker=None):
        if prompts is None and layouts is None:
            raise ValueError("give prompt= (text, or a list of texts) or layout= (a Layout, or a list of them)")
        count = len(prompts) if prompts is not None else len(layouts)
        if count == 0:
            raise ValueError("prompt= / layout= is an empty list; give at least one picture to draw")
        if prompts is not None and layouts is not None and len(prompts) != len(layouts):
            raise ValueError(f"{len(prompts)} prompts but {len(layouts)} layouts; give one layout per prompt")
        if len(seeds) != count:
            raise ValueError(f"{count} pictures but {len(seeds)} seeds; give one seed per picture")
        if not 1 <= steps <= 1000:
            raise ValueError(f"steps {steps}: give between 1 and 1000 denoising steps")
        config.check()
        check_size(size, self.bundle.codec.downscale)
        if config.repair_rounds and checker is None:
            raise ValueError(f"repair_rounds {config.repair_rounds}: give checker= (compose.checking: ShapesChecker, "
                             "DetectorChecker) to read the pictures back, or set repair_rounds to 0")
        return count

    def __call__(self, prompt: str | list[str] | None = None, layout: Layout | list[Layout] | None = None,
                 negative_prompt: str | None = None, num_inference_steps: int | None = None,
                 guidance_scale: float | None = None,
                 generator: torch.Generator | list[torch.Generator] | None = None, height: int | None = None,
                 width: int | None = None, num_images_per_prompt: int = 1, output_type: str = "pil",
                 return_dict: bool = True, callback_on_step_end: Callable | None = None,
                 callback_on_step_end_tensor_inputs: list[str] | tuple[str, ...] = ("latents",),
                 config: ComposeConfig | None = None, **compose_options):
        """Draw with diffusers' argument names; returns a PipelineOutput whose `.images` are PIL images
        (output_type "pil"), a float array in [0, 1] of shape (B, H, W, 3) ("np"), a tensor (B, 3, H, W)
        in [0, 1] ("pt") or the latents ("latent"), with scenes, layouts, seeds and timings beside them.

        Each picture's noise comes from its generator's seed (`generator.initial_seed()`, so a picture is
        redrawn from the seed its output records, and equals `draw(seed=...)`); without a generator, the
        seeds are drawn from torch's global generator. `callback_on_step_end(pipe, step, timestep,
        {"latents": ...})` runs after every stage-1 step and may return {"latents": ...} to replace them.
        compose's own options (`config`, and `background`, `plan_seed`, `attention`, `checker` as `draw`
        takes them) pass through. The progress bar follows `set_progress_bar_config`."""
        if output_type not in ("pil", "np", "pt", "latent"):
            raise ValueError(f"output_type {output_type!r}: choose pil, np, pt or latent")
        if height is not None and width is not None and height != width:
            raise ValueError(f"height {height} and width {width}: compose draws square pictures; give them equal")
        unknown = sorted(set(callback_on_step_end_tensor_inputs) - set(self._callback_tensor_inputs))
        if unknown:
            raise ValueError(f"callback_on_step_end_tensor_inputs {unknown}: the step callback can see only "
                             f"{self._callback_tensor_inputs}")
        not_options = sorted(set(compose_options) - {"background", "plan_seed", "attention", "checker"})
        if not_options:
            hint = (" (seed=, steps=, guidance= are draw()'s names: call pipe.draw(...), or give generator=, "
                    "num_inference_steps=, guidance_scale=)" if {"seed", "steps", "guidance"} & set(not_options) else "")
            raise TypeError(f"ComposePipeline: unknown argument(s) {', '.join(not_options)}{hint}")
        if num_images_per_prompt < 1:
            raise ValueError(f"num_images_per_prompt {num_images_per_prompt}: give 1 or more")
        prompts = [prompt] if isinstance(prompt, str) else prompt
        layouts = [layout] if isinstance(layout, Layout) else layout
        count = len(prompts if prompts is not None else layouts or [])
        if num_images_per_prompt > 1:
            prompts = None if prompts is None else [text for text in prompts for _ in range(num_images_per_prompt)]
            layouts = None if layouts is None else [item for item in layouts for _ in range(num_images_per_prompt)]
            count *= num_images_per_prompt
        if generator is None:
            seeds = torch.randint(0, 2**31 - 1, (max(count, 1),)).tolist()
        else:
            generators = generator if isinstance(generator, list) else [generator] * max(count, 1)
            if len(generators) != count:
                raise ValueError(f"{len(generators)} generators for {count} pictures; give one per picture, or one")
            seeds = [int(item.initial_seed()) for item in generators]

        def step_end(index, timestep, tensors):
            return callback_on_step_end(self, index, timestep, dict(tensors))

        output = self.draw(prompt=prompts, layout=layouts, seed=seeds[:count] if count else seeds,
                           steps=num_inference_steps, guidance=guidance_scale, size=height or width, config=config,
                           negative=negative_prompt, progress=True,
                           step_end=step_end if callback_on_step_end is not None else None, **compose_options)
        if output_type == "pil":
            from PIL import Image

            images = [Image.fromarray(image) for image in output.images]
        elif output_type == "np":
            images = np.stack(output.images).astype(np.float32) / 255.0
        elif output_type == "pt":
            images = torch.from_numpy(np.stack(output.images)).permute(0, 3, 1, 2).float() / 255.0
        else:
            images = output.latents
        if not return_dict:
            return (images,)
        return dataclasses.replace(output, images=images)

    def draw(self, prompt: str | list[str] | None = None, layout: Layout | list[Layout] | None = None,
             seed: int | list[int] = 0, steps: int | None = None, guidance: float | None = None,
             size: int | None = None, config: ComposeConfig | None = None, background: str | None = None,
             negative: str | None = None, plan_seed: int | None = None,
             callback: Callable[[str, int, torch.Tensor], None] | None = None, progress: bool = False,
             attention: bool = False, checker: Checker | None = None,
             step_end: Callable[[int, object, dict], dict | None] | None = None) -> PipelineOutput:
        """Draw one picture per prompt or layout: compose's own call (uint8 arrays back). `callback(stage,
        step, latents)` sees every step of every stage; `step_end(step, timestep, {"latents": ...})`
        may replace stage 1's latents (diffusers' callback_on_step_end, as `__call__` passes it).
        `attention=True` records stage 1's cross-attention per object and per word (output.attention;
        compose.regions.explain), at a small cost in time. With `config.repair_rounds` and a `checker`
        (compose.checking), every picture is checked and repaired (output.repairs)."""
        config = config or ComposeConfig()
        steps, guidance = self.bundle.steps_or_default(steps), self.bundle.guidance_or_default(guidance)
        timings: dict[str, float] = {}
        clock = time.perf_counter()

        def lap(stage: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[stage] = timings.get(stage, 0.0) + now - clock
            clock = now

        # 1. Check inputs; parse the prompts and plan layouts for those that have none.
        prompts = [prompt] if isinstance(prompt, str) else prompt
        layouts = [layout] if isinstance(layout, Layout) else layout
        seeds = [int(seed)] if isinstance(seed, numbers.Integral) else [int(value) for value in seed]
        bundle = self.bundle
        size = size or bundle.native_size
        count = self.check_inputs(prompts, layouts, seeds, steps, config, size, checker)
        # compose.prepare's rule: layouts carry their scene (a planned one its negations; a layout file may not).
        texts = prompts if prompts is not None else [None] * count
        given = layouts if layouts is not None else [None] * count
        layouts = [prepare(text, item, plan_seed if plan_seed is not None else image_seed, timings)
                   for text, item, image_seed in zip(texts, given, seeds)]
        scenes: list[Scene | None] = [item.scene for item in layouts]
        clock = time.perf_counter()
        # A layout with no regions (a scene of only negations and/or a background: "a beach with no
        # people") is drawn as its background, its negations the negative prompt everywhere.

        # 2. Region maps on the sample grid, one per object instance.
        side = size // bundle.codec.downscale
        maps = [region_maps(item, side, config.region_inset).to(bundle.device) for item in layouts]
        slots = max(len(item.regions) for item in layouts)
        phrases = [[region.phrase for region in item.regions] for item in layouts]
        padded = torch.zeros(count, slots, side, side, device=bundle.device)
        for index, item_maps in enumerate(maps):
            padded[index, :len(item_maps)] = item_maps

        # 3. Encode text: each phrase on its own, the background, and the negative prompt.
        # The style words of a prompt ("watercolor", "4k") join the background's tokens, seen everywhere.
        backgrounds = {", ".join(part for part in (background if background is not None else item.background,
                                                   getattr(scene, "style", None)) if part)
                       for scene, item in zip(scenes, layouts)}
        if len(backgrounds) > 1:
            raise ValueError(f"the layouts of one call have different backgrounds or styles {sorted(backgrounds)}; "
                             "call once per background")
        background_text = bundle.background_text(backgrounds.pop())  # "" for a world of one background
        # The call's negative prompt, else the layout file's own (compose/specs/layout-files.md: `negative`).
        negatives = [negative_text(scene, negative if negative is not None else item.negative)
                     for scene, item in zip(scenes, layouts)]
        with torch.no_grad():
            condition, coverage = encode_regions(bundle, phrases, padded, background=background_text, slots=slots)
            uncondition, uncondition_coverage = negative_tokens(bundle, negatives, slots, padded,
                                                                [len(item.regions) for item in layouts])
        lap("encode")

        # 4. Initial noise, one generator per picture (the same seed gives the same picture).
        generators = [torch.Generator("cpu").manual_seed(int(image_seed)) for image_seed in seeds]
        scheduler = self._fresh_scheduler()
        scheduler.set_timesteps(steps)
        noise = initial_noise(bundle, generators, size)
        latents = noise * scheduler.init_noise_sigma

        # 5. Stage 1: the whole picture, every region steered to its own phrase (and, in the first steps,
        #    self-attention bounded between objects when the config asks for it).
        total = steps + (self._refine_step_count(steps, config.refine_strength) if config.refine else 0)
        bar = self._progress(total) if progress else None
        if not config.masked_cross_attention:  # every token everywhere: placement left to guidance alone
            coverage, uncondition_coverage = seen_everywhere(coverage), seen_everywhere(uncondition_coverage)
        masked = guided_control(coverage, uncondition_coverage)
        if config.separate_softmax:  # each position's attention a mix of whole captions, by the regions' maps
            weights = torch.cat([(1 - padded.sum(dim=1, keepdim=True)).clamp_min(0), padded], dim=1)
            masked = RegionControl(groups=torch.cat([weights, weights]), group_length=bundle.phrase_length)
        bounded_steps = int(round(steps * config.bounded_self_attention))
        if bounded_steps:
            bounded = guided_control(coverage, uncondition_coverage, subjects=padded)
            stage_one_control = lambda index: bounded if index < bounded_steps else masked  # noqa: E731
        else:
            stage_one_control = masked
        object_seeds = [[int(image_seed) * 1000 + 1 + k for k in range(len(item.regions))]
                        for image_seed, item in zip(seeds, layouts)]
        blend = None
        paste_steps = int(round(steps * config.per_object_composition))
        if paste_steps and slots:  # LMD: each object drawn alone first, its latents pasted into the picture early on
            blend = self._objects_alone(phrases, maps, object_seeds, background_text, negatives, steps, guidance,
                                        paste_steps, size)
            lap("objects")
        if config.canvas is not None and slots:  # only the objects drawn: the rest kept at the known canvas
            blend = self._keep_canvas(config.canvas, padded, noise, size, config.refine_dilation)
        guide = None
        if config.attention_guidance > 0 and slots:
            guide = AttentionGuidance(targets=padded, groups=slot_groups(slots, bundle.phrase_length),
                                      condition=condition.to(bundle.device, bundle.dtype), coverage=coverage,
                                      steps=int(round(steps * config.attention_guidance)),
                                      step_size=config.guidance_step_size)
        recorder = AttentionRecorder() if attention else None  # each token its own map
        stage_one_steps = scheduler.timesteps
        if config.collage and slots:  # start from the objects drawn alone and pasted in, part-way noised
            start = steps - max(1, self._refine_step_count(steps, config.collage_strength))  # one step at least
            collage = self._collage(phrases, layouts, object_seeds, background_text, negatives, steps, guidance,
                                    size, config.canvas, config.collage_alone_steps)
            stage_one_steps = scheduler.timesteps[start:]
            latents = scheduler.add_noise(collage, noise, stage_one_steps[:1].repeat(count))
            if bar is not None:
                bar.update(start)
            lap("collage")
        latents = denoise(bundle, scheduler, latents, condition, uncondition, guidance, stage_one_steps,
                          control=stage_one_control, guide=guide, blend=blend, recorder=recorder,
                          callback_on_step_end=_stage_callback(callback, "stage1", step_end), progress=bar)
        lap("stage1")

        # 6. Stage 2: every object of every picture refined in one batch, then pasted back.
        if config.refine and config.refine_strength > 0:
            latents = self.refine_objects(latents, phrases, maps, object_seeds, background_text, negatives, steps,
                                   guidance, config.refine_strength, config.refine_dilation, callback, bar)
            lap("stage2")
        if bar is not None:
            bar.close()

        # 7. Decode. A scene with no objects, on a model whose world has one background colour, is that
        #    plain canvas (the shapes world's white).
        with torch.no_grad():
            images = to_uint8(bundle.codec.decode(latents))
        for index, item in enumerate(layouts):
            canvas = bundle.empty_canvas(size) if not item.regions else None
            if canvas is not None:
                logger.info("layout %d has no objects: drawn as the model's one background", index)
                images[index] = canvas
        lap("decode")

        # 8. Check and repair, when asked: each picture on its own, until it passes or the rounds end.
        repairs = None
        if config.repair_rounds and checker is not None:
            repairs = []
            for index in range(count):
                image, rounds = self._check_and_repair(latents[index:index + 1], images[index], scenes[index],
                                                       layouts[index], seeds[index], background_text,
                                                       negatives[index], steps, guidance, size, config, checker)
                images[index] = image
                repairs.append(rounds)
            lap("repair")
        maps = None
        if recorder is not None:
            word_maps = recorder.maps(size)[count:]  # the conditional half; means over layers and steps
            maps = [explain_regions(word_maps[index], bundle.tokenizer,
                                    region_token_ids(bundle, phrases[index], background_text, slots),
                                    bundle.phrase_length, item, size) for index, item in enumerate(layouts)]
            lap("attention")
        return PipelineOutput(images=images, scenes=scenes, layouts=list(layouts), seeds=seeds,
                              object_seeds=object_seeds, timings=timings, attention=maps, repairs=repairs,
                              latents=latents)

    def _check_and_repair(self, latents, image, scene, layout, seed, background_text, negative, steps, guidance,
                          size, config, checker) -> tuple[np.ndarray, list[RepairRound]]:
        """Up to config.repair_rounds rounds: check the picture; redraw each failed region with a fresh
        seed and its own phrase (re-noised to config.repair_strength, the rest kept: stage 2's operation),
        and erase each extra thing (the model's one background pasted in, when its world has one; else
        its box redrawn with the background phrase). Returns the final picture and every round."""
        rounds: list[RepairRound] = []
        if scene is None:  # a layout file without a prompt: nothing to check against
            return image, rounds
        for round_index in range(config.repair_rounds + 1):
            try:
                check = checker.check(image, scene, layout)
            except ValueError as error:  # a scene this checker cannot judge (e.g. not of its world)
                logger.info("repair skipped: %s", error)
                return image, rounds
            if check.passed or round_index == config.repair_rounds:
                rounds.append(RepairRound(check))
                return image, rounds
            if not check.problems:  # wrong, but nothing the checker can point at: redrawing would change nothing
                rounds.append(RepairRound(check))
                return image, rounds
            redraw = [problem for problem in check.problems if problem.region is not None]
            erase = [problem for problem in check.problems if problem.region is None]
            if config.collage:  # the collage's own operation: the failed objects drawn alone again and pasted
                seeds = _repair_seeds(seed, round_index, len(redraw))
                latents = self._repair_collage(image, layout, redraw, erase, seeds, background_text, negative,
                                               steps, guidance, size, config)
            else:
                latents = self._repair_in_place(latents, layout, redraw, erase, (seed, round_index), background_text,
                                                negative, steps, guidance, size, config)
            with torch.no_grad():
                image = to_uint8(self.bundle.codec.decode(latents))[0]
            rounds.append(RepairRound(check, image))
        return image, rounds

    def _repair_in_place(self, latents, layout, redraw, erase, seed_and_round, background_text, negative, steps,
                         guidance, size, config) -> torch.Tensor:
        """One repair round on the latents: extra things erased (the canvas pasted in, when the model's world
        has one; else their boxes join the redraw with the background phrase), failed regions redrawn."""
        side = size // self.bundle.codec.downscale
        canvas = self.bundle.empty_canvas(size)
        if erase and canvas is not None:
            latents = self._paste_background(latents, canvas, [problem.box for problem in erase], side)
        else:
            redraw = redraw + erase
        if not redraw:
            return latents
        all_maps = region_maps(layout, side, config.region_inset).to(latents.device)
        maps = [all_maps[p.region] if p.region is not None
                else box_coverage(torch.tensor(p.box, dtype=torch.float32), side).to(latents.device)
                for p in redraw]
        phrases = [layout.regions[p.region].phrase if p.region is not None else "" for p in redraw]
        seeds = _repair_seeds(*seed_and_round, len(redraw))
        return self.refine_objects(latents, [phrases], [torch.stack(maps)], [seeds], background_text, [negative],
                                   steps, guidance, config.repair_strength, config.refine_dilation, None, None)

    def _collage(self, phrases, layouts, object_seeds, background_text, negatives, steps, guidance, size,
                 colour, alone_share: float = 1.0) -> torch.Tensor:
        """The collage stage 1 starts from (ComposeConfig.collage): every object of every picture drawn
        alone as a whole picture (one batch), cut out from the canvas, fitted into its region and pasted
        onto a canvas per picture; returns the collages' latents (B, C, S, S)."""
        owners = [(image, k) for image, item in enumerate(phrases) for k in range(len(item))]
        # Offset from stage 2's and LMD's seeds, so that no two stages share noise.
        alone = self._draw_alone([phrases[image][k] for image, k in owners], background_text,
                                 [negatives[image] for image, _ in owners],
                                 [object_seeds[image][k] + 700 for image, k in owners], steps, guidance, size,
                                 alone_share)
        canvas = np.asarray(colour, dtype=np.uint8)
        pictures = [np.broadcast_to(canvas, (size, size, 3)).copy() for _ in layouts]
        for (image, k), drawn in zip(owners, alone):
            paste_cut_out(pictures[image], drawn, canvas, layouts[image].regions[k].box)
        return self._encode_pictures(np.stack(pictures))

    def _draw_alone(self, phrases: list[str], background_text: str, negatives: list[str], seeds: list[int],
                    steps: int, guidance: float, size: int, alone_share: float) -> np.ndarray:
        """Each phrase drawn alone as a whole picture from the whole caption "phrase, background" (what a
        plainly trained model does best), one batch, `alone_share` of the steps; (N, H, W, 3) uint8."""
        from compose.sampling import encode_prompts

        bundle = self.bundle
        texts = [", ".join(part for part in (phrase, background_text) if part) for phrase in phrases]
        scheduler = self._fresh_scheduler()
        scheduler.set_timesteps(max(1, round(steps * alone_share)))
        generators = [torch.Generator("cpu").manual_seed(seed) for seed in seeds]
        with torch.no_grad():
            latents = initial_noise(bundle, generators, size) * scheduler.init_noise_sigma
            condition = encode_prompts(bundle, texts)
            uncondition = torch.cat([encode_prompts(bundle, [negative], negative=True) for negative in negatives])
            return to_uint8(bundle.codec.decode(denoise(bundle, scheduler, latents, condition, uncondition, guidance,
                                                        scheduler.timesteps)))

    def _repair_collage(self, image, layout, redraw, erase, seeds, background_text, negative, steps, guidance,
                        size, config) -> torch.Tensor:
        """A collage picture's repair, in pixels: each extra thing's box painted over with the canvas; each
        failed region's box cleared and its object drawn alone again (a fresh seed), cut out and pasted
        in; the picture encoded, and the repaired boxes re-noised to `collage_strength` and redrawn in
        place with their phrases (the collage's own harmonising step), the rest kept. Returns the latents."""
        canvas = np.asarray(config.canvas, dtype=np.uint8)
        picture = image.copy()
        for problem in [*erase, *redraw]:
            x0, y0, x1, y1 = _pixel_box(problem.box, size, grow=1)
            picture[y0:y1, x0:x1] = canvas
        if redraw:
            alone = self._draw_alone([layout.regions[p.region].phrase for p in redraw], background_text,
                                     [negative] * len(redraw), [value + 700 for value in seeds], steps, guidance,
                                     size, config.collage_alone_steps)
            for problem, drawn in zip(redraw, alone):
                paste_cut_out(picture, drawn, canvas, layout.regions[problem.region].box)
        latents = self._encode_pictures(picture[None])
        if not redraw:
            return latents
        side = size // self.bundle.codec.downscale
        maps = region_maps(layout, side, config.region_inset).to(latents.device)
        return self.refine_objects(latents, [[layout.regions[p.region].phrase for p in redraw]],
                                   [torch.stack([maps[p.region] for p in redraw])], [seeds], background_text,
                                   [negative], steps, guidance, config.collage_strength, config.refine_dilation)

    def _encode_pictures(self, pictures: np.ndarray) -> torch.Tensor:
        """(B, H, W, 3) uint8 pictures -> the model's samples (B, C, S, S); a fixed generator, so the same
        pictures always encode the same."""
        bundle = self.bundle
        pixels = torch.from_numpy(np.ascontiguousarray(pictures)).permute(0, 3, 1, 2).float() / 127.5 - 1
        with torch.no_grad():
            return bundle.codec.encode(pixels.to(bundle.device, bundle.dtype),
                                       generator=torch.Generator(bundle.device).manual_seed(0))

    def _keep_canvas(self, colour, padded: torch.Tensor, noise: torch.Tensor, size: int,
                     dilation: int) -> KeepOutside:
        """Stage 1's blend onto a known canvas: outside the union of each picture's regions (grown by
        `dilation` cells) the latents follow the canvas's encoding, noised with the picture's own
        starting `noise` (so the picture is still determined by its seed)."""
        canvas = np.broadcast_to(np.asarray(colour, dtype=np.uint8), (1, size, size, 3))
        encoded = self._encode_pictures(canvas).to(noise)
        inside = dilate(padded.amax(dim=1).clamp(0, 1), dilation).clamp(0, 1)[:, None].to(noise)
        return KeepOutside(mask=inside, original=encoded.expand_as(noise), noise=noise)

    def _paste_background(self, latents, canvas: np.ndarray, boxes, side: int) -> torch.Tensor:
        """The latents with the model's one background (its encoded canvas) inside each box, grown by a cell."""
        background = self._encode_pictures(canvas[None])
        cover = torch.stack([box_coverage(torch.tensor(box, dtype=torch.float32), side) for box in boxes])
        mask = dilate(cover.to(latents.device), 1).amax(dim=0).clamp(0, 1)
        return mask * background.to(latents) + (1 - mask) * latents

    def _objects_alone(self, phrases, maps, object_seeds, background_text, negatives, steps, guidance, paste_steps,
                       size) -> PasteObjects:
        """LMD's per-box generation: every object of every picture denoised alone (one batch), from its own
        seed, with only its phrase, in its region, for the first `paste_steps` steps; returns the blend
        that pastes those latents into the pictures' own denoising at the same steps."""
        bundle = self.bundle
        owners = [(image, k) for image, item in enumerate(phrases) for k in range(len(item))]
        object_maps = torch.stack([maps[image][k] for image, k in owners])  # (N, side, side)
        # Offset from stage 2's seeds (which are object_seeds themselves), so the two never share noise.
        generators = [torch.Generator("cpu").manual_seed(object_seeds[image][k] + 500) for image, k in owners]
        scheduler = self._fresh_scheduler()
        scheduler.set_timesteps(steps)
        latents = initial_noise(bundle, generators, size) * scheduler.init_noise_sigma
        with torch.no_grad():
            condition, coverage = encode_regions(bundle, [[phrases[image][k]] for image, k in owners],
                                                 object_maps[:, None], background=background_text, slots=1)
            uncondition, uncondition_coverage = negative_tokens(bundle, [negatives[image] for image, _ in owners], 1,
                                                                object_maps[:, None], [1] * len(owners))
        trajectory: list[torch.Tensor] = []

        def keep_step(index, timestep, tensors):
            trajectory.append(tensors["latents"].clone())

        denoise(bundle, scheduler, latents, condition, uncondition, guidance, scheduler.timesteps[:paste_steps],
                control=guided_control(coverage, uncondition_coverage), callback_on_step_end=keep_step)
        return PasteObjects(trajectory=trajectory, owners=[image for image, _ in owners], masks=object_maps[:, None],
                            steps=paste_steps)

    @staticmethod
    def _refine_step_count(steps: int, strength: float) -> int:
        return min(steps, int(round(steps * strength)))

    def refine_objects(self, latents, phrases, maps, object_seeds, background_text, negatives, steps, guidance,
                       strength, dilation, callback=None, bar=None) -> torch.Tensor:
        """Stage 2's operation, also the repair's: re-noise each object's region to `strength` of the
        schedule and denoise it again with its own phrase, keeping the rest of its picture; paste each
        refined region back by its mask (grown by `dilation` cells).

        latents (B, C, S, S): the pictures' samples; phrases[b] / maps[b] (R_b, S, S) / object_seeds[b]:
        picture b's object phrases, region maps and noise seeds; negatives[b]: its negative prompt."""
        bundle = self.bundle
        owners = [(image, k) for image, item in enumerate(phrases) for k in range(len(item))]
        refine_steps = self._refine_step_count(steps, strength)
        if refine_steps == 0 or not owners:
            return latents
        scheduler = self._fresh_scheduler()
        scheduler.set_timesteps(steps)
        timesteps = scheduler.timesteps[steps - refine_steps:]

        original = latents[[image for image, _ in owners]]
        object_maps = torch.stack([maps[image][k] for image, k in owners])  # (N, side, side)
        keep = dilate(object_maps, dilation).clamp(0, 1)[:, None]  # where the refinement is kept
        generators = [torch.Generator("cpu").manual_seed(object_seeds[image][k]) for image, k in owners]
        noise = torch.cat([torch.randn((1, *latents.shape[1:]), generator=g) for g in generators]).to(latents)
        start = timesteps[0:1].repeat(len(owners))
        refined = scheduler.add_noise(original, noise, start)
        with torch.no_grad():
            condition, coverage = encode_regions(bundle, [[phrases[image][k]] for image, k in owners],
                                                 object_maps[:, None], background=background_text, slots=1)
            uncondition, uncondition_coverage = negative_tokens(bundle, [negatives[image] for image, _ in owners], 1,
                                                                object_maps[:, None], [1] * len(owners))
        refined = denoise(bundle, scheduler, refined, condition, uncondition, guidance, timesteps,
                          control=guided_control(coverage, uncondition_coverage),
                          blend=KeepOutside(mask=keep, original=original, noise=noise),
                          callback_on_step_end=_stage_callback(callback, "stage2"), progress=bar)
        result = latents.clone()
        for row, (image, _) in enumerate(owners):
            paste = keep[row]
            result[image] = paste * refined[row] + (1 - paste) * result[image]
        return result


def _repair_seeds(seed: int, round_index: int, count: int) -> list[int]:
    """The noise seeds of one repair round's redrawn regions: fresh per picture, round and region."""
    return [seed * 1000 + 100 * (round_index + 1) + k for k in range(count)]


def _pixel_box(box, size: int, grow: int = 0) -> tuple[int, int, int, int]:
    """A box in fractions (x0, y0, x1, y1) as pixel bounds of a `size` picture, grown by `grow` pixels."""
    x0, y0, x1, y1 = (round(value * size) for value in box)
    return max(0, x0 - grow), max(0, y0 - grow), min(size, x1 + grow), min(size, y1 + grow)


COLLAGE_CUT = 40  # levels of 255 (largest channel difference) that tell an object's pixel from the canvas


def paste_cut_out(picture: np.ndarray, drawn: np.ndarray, canvas: np.ndarray, box) -> bool:
    """Cut what `drawn` shows on its canvas out (its largest blob of pixels more than COLLAGE_CUT from the
    canvas colour),
    scale it to fit `box` (fractions x0, y0, x1, y1 of the picture) keeping its aspect, centred, and paste
    it into `picture` in place. Returns False when `drawn` shows nothing to cut out."""
    from PIL import Image

    import cv2

    mask = np.abs(drawn.astype(np.int16) - canvas.astype(np.int16)).max(axis=-1) > COLLAGE_CUT
    if not mask.any():
        return False
    # The object is the largest connected blob; specks elsewhere would stretch its box and shrink it.
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    mask = labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    rows, columns = np.nonzero(mask)
    top, bottom, left, right = rows.min(), rows.max() + 1, columns.min(), columns.max() + 1
    side = picture.shape[0]
    x0, y0, x1, y1 = (round(value * side) for value in box)
    width, height = max(1, x1 - x0), max(1, y1 - y0)
    scale = min(width / (right - left), height / (bottom - top))
    new_width, new_height = max(1, round((right - left) * scale)), max(1, round((bottom - top) * scale))
    crop = Image.fromarray(drawn[top:bottom, left:right]).resize((new_width, new_height), Image.BILINEAR)
    crop_mask = Image.fromarray(mask[top:bottom, left:right].astype(np.uint8) * 255).resize(
        (new_width, new_height), Image.BILINEAR)
    x, y = x0 + (width - new_width) // 2, y0 + (height - new_height) // 2
    target = picture[y:y + new_height, x:x + new_width]
    keep = (np.asarray(crop_mask) >= 128)[:target.shape[0], :target.shape[1]]
    target[keep] = np.asarray(crop)[:target.shape[0], :target.shape[1]][keep]
    return True


def seen_everywhere(coverage: torch.Tensor) -> torch.Tensor:
    """Coverage without the masks: a token seen anywhere is seen everywhere, a padding token (an unused
    phrase slot, a surplus empty-prompt copy) still nowhere, so a picture draws the same in any batch."""
    return (coverage.amax(dim=(-2, -1), keepdim=True) > 0).to(coverage.dtype).expand_as(coverage).contiguous()


def _stage_callback(callback: Callable[[str, int, torch.Tensor], None] | None, stage: str, step_end=None):
    """The pipeline's callback(stage, step_index, latents), then `step_end` (diffusers' form, which may
    return {"latents": ...}), as the denoising loop's step-end callback."""
    if callback is None and step_end is None:
        return None

    def on_step_end(index: int, timestep, tensors: dict) -> dict | None:
        if callback is not None:
            callback(stage, index, tensors["latents"])
        return step_end(index, timestep, tensors) if step_end is not None else None

    return on_step_end
