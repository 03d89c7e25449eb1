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

import logging
import numbers
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from compose.config import ComposeConfig
from compose.regions.attention import AttentionRecorder, RegionControl
from compose.regions.conditioning import encode_regions, negative_tokens, region_token_ids
from compose.regions.explain import AttentionMaps, explain_regions
from compose.regions.guidance import AttentionGuidance, slot_groups
from compose.checking import Check, Checker
from compose.regions.masks import box_coverage, dilate, region_maps
from compose.sampling import KeepOutside, PasteObjects, check_size, denoise, guided_control, initial_noise, to_uint8
from compose.scene import Layout, Scene

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineOutput:
    """What one call drew: a picture per prompt or layout, with everything needed to check it."""

    images: list[np.ndarray]  # (H, W, 3) uint8 RGB each
    scenes: list[Scene | None]
    layouts: list[Layout]
    seeds: list[int]
    object_seeds: list[list[int]]  # the seed of each object's stage-2 noise, per picture
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds for the whole call
    attention: list[AttentionMaps] | None = None  # per picture, when the call was asked to record them
    repairs: list[list[RepairRound]] | None = None  # per picture, each check-and-repair round, when asked


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


class ComposePipeline:
    """Parse -> plan -> stage 1 (region-masked attention) -> stage 2 (per-object refinement) -> decode."""

    def __init__(self, unet, text_encoder, tokenizer, codec, scheduler_config: dict, native_size: int,
                 phrase_length: int, text_length: int, sampler: str = "ddim", region_prefix: str = "",
                 world: dict | None = None):
        from compose.model.bundle import ModelBundle

        self.bundle = ModelBundle(unet=unet, text_encoder=text_encoder, tokenizer=tokenizer,
                                  scheduler_config=scheduler_config, codec=codec, name="", native_size=native_size,
                                  text_length=text_length, phrase_length=phrase_length,
                                  region_prefix=region_prefix, world=world)
        self.sampler = sampler

    @classmethod
    def from_bundle(cls, bundle, sampler: str = "ddim") -> ComposePipeline:
        return cls(bundle.unet, bundle.text_encoder, bundle.tokenizer, bundle.codec, bundle.scheduler_config,
                   bundle.native_size, bundle.phrase_length, bundle.text_length, sampler=sampler,
                   region_prefix=bundle.region_prefix, world=bundle.world)

    @classmethod
    def from_pretrained(cls, path, torch_dtype: torch.dtype = torch.float32, device: str = "cpu",
                        sampler: str = "ddim") -> ComposePipeline:
        """The pipeline of a model folder: "bundled" (or None) for the bundled model, or any Stable
        Diffusion 1.x/2.x folder in diffusers format (compose.model.bundle.load_model), offline."""
        from compose.model.bundle import load_model

        return cls.from_bundle(load_model(path, device=device, dtype=torch_dtype), sampler=sampler)

    @classmethod
    def from_pipe(cls, pipe, sampler: str = "ddim") -> ComposePipeline:
        """The compose pipeline of a diffusers StableDiffusionPipeline a user already has: its UNet, VAE,
        text encoder, tokenizer and scheduler config, shared (no weights are copied)."""
        from compose.model.bundle import stable_diffusion_bundle

        missing = [part for part in ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
                   if getattr(pipe, part, None) is None]
        if missing:
            raise ValueError(f"from_pipe: the pipeline has no {', '.join(missing)}; give a Stable Diffusion pipeline")
        bundle = stable_diffusion_bundle(pipe.unet, pipe.vae, pipe.text_encoder, pipe.tokenizer,
                                         dict(pipe.scheduler.config), name=type(pipe).__name__)
        return cls.from_bundle(bundle, sampler=sampler)

    def to(self, device: str | torch.device, dtype: torch.dtype | None = None) -> ComposePipeline:
        """Move (and cast) every model part, as a diffusers pipeline's .to() does; returns self."""
        self.bundle.to(device, dtype)
        return self

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
                 seed: int | list[int] = 0, steps: int = 25, guidance: float = 4.0, size: int | None = None,
                 config: ComposeConfig | None = None, background: str | None = None, negative: str | None = None,
                 plan_seed: int | None = None, callback: Callable[[str, int, torch.Tensor], None] | None = None,
                 progress: bool = False, attention: bool = False, checker: Checker | None = None) -> PipelineOutput:
        """Draw one picture per prompt or layout. `attention=True` records stage 1's cross-attention per
        object and per word (output.attention; compose.regions.explain), at a small cost in time. With
        `config.repair_rounds` and a `checker` (compose.checking), every picture is checked and repaired
        (output.repairs)."""
        from tqdm.auto import tqdm

        config = config or ComposeConfig()
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
        if prompts is not None:
            from compose.parsing import parse

            scenes: list[Scene | None] = [parse(text) for text in prompts]
            lap("parse")
        else:  # a planned layout carries its scene (and so its negations); a layout file may not
            scenes = [item.scene for item in layouts]
        if layouts is None:
            from compose.planner import plan

            layouts = [plan(scene, seed=plan_seed if plan_seed is not None else image_seed)
                       for scene, image_seed in zip(scenes, seeds)]
            lap("plan")
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
        # The call's negative prompt, else the layout file's own (docs/layout-files.md: `negative`).
        negatives = [negative_text(scene, negative if negative is not None else item.negative)
                     for scene, item in zip(scenes, layouts)]
        with torch.no_grad():
            condition, coverage = encode_regions(bundle, phrases, padded, background=background_text, slots=slots)
            uncondition, uncondition_coverage = negative_tokens(bundle, negatives, slots, padded,
                                                                [len(item.regions) for item in layouts])
        lap("encode")

        # 4. Initial noise, one generator per picture (the same seed gives the same picture).
        generators = [torch.Generator("cpu").manual_seed(int(image_seed)) for image_seed in seeds]
        scheduler = bundle.make_scheduler(self.sampler)
        scheduler.set_timesteps(steps)
        latents = initial_noise(bundle, generators, size) * scheduler.init_noise_sigma

        # 5. Stage 1: the whole picture, every region steered to its own phrase (and, in the first steps,
        #    self-attention bounded between objects when the config asks for it).
        total = steps + (self._refine_step_count(steps, config.refine_strength) if config.refine else 0)
        bar = tqdm(total=total, desc="compose", unit="step", disable=not progress, leave=False)
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
        guide = None
        if config.attention_guidance > 0 and slots:
            guide = AttentionGuidance(targets=padded, groups=slot_groups(slots, bundle.phrase_length),
                                      condition=condition.to(bundle.device, bundle.dtype), coverage=coverage,
                                      steps=int(round(steps * config.attention_guidance)),
                                      step_size=config.guidance_step_size)
        recorder = AttentionRecorder() if attention else None  # each token its own map
        latents = denoise(bundle, scheduler, latents, condition, uncondition, guidance, scheduler.timesteps,
                          control=stage_one_control, guide=guide, blend=blend, recorder=recorder,
                          callback_on_step_end=_stage_callback(callback, "stage1"), progress=bar)
        lap("stage1")

        # 6. Stage 2: every object of every picture refined in one batch, then pasted back.
        if config.refine and config.refine_strength > 0:
            latents = self.refine_objects(latents, phrases, maps, object_seeds, background_text, negatives, steps,
                                   guidance, config.refine_strength, config.refine_dilation, callback, bar)
            lap("stage2")
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
                              object_seeds=object_seeds, timings=timings, attention=maps, repairs=repairs)

    def _check_and_repair(self, latents, image, scene, layout, seed, background_text, negative, steps, guidance,
                          size, config, checker) -> tuple[np.ndarray, list[RepairRound]]:
        """Up to config.repair_rounds rounds: check the picture; redraw each failed region with a fresh
        seed and its own phrase (re-noised to config.repair_strength, the rest kept: stage 2's operation),
        and erase each extra thing (the model's one background pasted in, when its world has one; else
        its box redrawn with the background phrase). Returns the final picture and every round."""
        rounds: list[RepairRound] = []
        if scene is None:  # a layout file without a prompt: nothing to check against
            return image, rounds
        side = size // self.bundle.codec.downscale
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
            canvas = self.bundle.empty_canvas(size)
            if erase and canvas is not None:
                latents = self._paste_background(latents, canvas, [problem.box for problem in erase], side)
            else:
                redraw += erase
            if redraw:
                region_maps_all = region_maps(layout, side, config.region_inset).to(latents.device)
                maps = [region_maps_all[p.region] if p.region is not None
                        else box_coverage(torch.tensor(p.box, dtype=torch.float32), side).to(latents.device)
                        for p in redraw]
                phrases = [layout.regions[p.region].phrase if p.region is not None else "" for p in redraw]
                seeds = [seed * 1000 + 100 * (round_index + 1) + k for k in range(len(redraw))]
                latents = self.refine_objects(latents, [phrases], [torch.stack(maps)], [seeds], background_text, [negative],
                                       steps, guidance, config.repair_strength, config.refine_dilation, None, None)
            with torch.no_grad():
                image = to_uint8(self.bundle.codec.decode(latents))[0]
            rounds.append(RepairRound(check, image))
        return image, rounds

    def _paste_background(self, latents, canvas: np.ndarray, boxes, side: int) -> torch.Tensor:
        """The latents with the model's one background (its encoded canvas) inside each box, grown by a cell."""
        pixels = torch.from_numpy(canvas).permute(2, 0, 1)[None].float().to(latents.device) / 127.5 - 1
        with torch.no_grad():
            background = self.bundle.codec.encode(pixels.to(self.bundle.dtype),
                                                  generator=torch.Generator(latents.device).manual_seed(0))
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
        scheduler = bundle.make_scheduler(self.sampler)
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
        scheduler = bundle.make_scheduler(self.sampler)
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


def seen_everywhere(coverage: torch.Tensor) -> torch.Tensor:
    """Coverage without the masks: a token seen anywhere is seen everywhere, a padding token (an unused
    phrase slot, a surplus empty-prompt copy) still nowhere, so a picture draws the same in any batch."""
    return (coverage.amax(dim=(-2, -1), keepdim=True) > 0).to(coverage.dtype).expand_as(coverage).contiguous()


def _stage_callback(callback: Callable[[str, int, torch.Tensor], None] | None, stage: str):
    """The pipeline's callback(stage, step_index, latents) as the denoising loop's step-end callback."""
    if callback is None:
        return None

    def on_step_end(index: int, timestep, tensors: dict) -> None:
        callback(stage, index, tensors["latents"])

    return on_step_end
