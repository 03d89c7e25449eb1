"""`compose train`: train the bundled text-to-image diffusion model on the shapes world.

What it does, step by step (Ho et al. 2020 for the noising process; Salimans & Ho 2022 for
v-prediction; Hang et al. 2023 for min-SNR loss weighting; Ho & Salimans 2022 for caption dropout):
1. draw a batch from the shapes-world stream (compose.shapes.data): pictures and captions;
2. fold the pictures into the UNet's sample space and noise them at random timesteps of a cosine
   schedule;
3. condition the UNet by cross-attention on the CLIP-style text encoder's embedding of the caption
   (10% empty captions, for classifier-free guidance), or, for a share of the batches, on
   region-masked conditioning: each object's own phrase seen only inside its box (compose.regions),
   so that the model follows the region masks the compose pipeline gives it;
4. regress the velocity v with min-SNR weights; AdamW; EMA of the weights.
Every few minutes it writes a checkpoint (safetensors + JSON, no pickle) and `--resume` continues from
it exactly where the stream left off; every N steps it samples a fixed validation set, reads the
pictures back with the detector and logs accuracy; train_log.jsonl and training.png sit beside the
checkpoint.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import shutil
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch

from compose.checkpoints import (checkpoint_folder, drop_log_after, has_checkpoint, load_optimizer_tensors,
                                 optimizer_tensors, read_checkpoint, read_saved_config, write_checkpoint)
from compose.files import write_atomically
from compose.model.bundle import (TRAINING_RECORD, ModelBundle, ShapesModelConfig, VaeCodec, build_shapes_model,
                                  save_bundle, save_stable_diffusion)
from compose.shapes.data import TRAINING_MIX, DataMix, sample_at, stream_seed

logger = logging.getLogger(__name__)

# Region-masked batches want more crowded scenes than the plain caption mix: drawing several objects,
# each in its own box, is exactly what the compose pipeline asks of the model.
REGION_MIX = DataMix(object_count_weights=(2, 2, 2, 1.5, 1.5, 1, 1, 1), relation_probability=0.0,
                     negation_probability=0.0, location_probability=0.0)
MAX_REGIONS = 8
TOKENIZER_CORPUS_SEED = 12345
# What a resumed run may change; everything else must match the run's saved config.
RESUMABLE_FIELDS = ("steps", "checkpoint_minutes", "validate_every", "workers", "time_limit_minutes", "threads",
                    "progress", "mixed_precision", "output", "stop_at_step")


@dataclass
class TrainConfig:
    """Every knob of a training run; written to the run folder so a run can be resumed and reported."""

    output: str
    steps: int = 12000
    batch_size: int = 32
    learning_rate: float = 3e-4
    warmup_steps: int = 200
    weight_decay: float = 0.01
    seed: int = 0
    caption_dropout: float = 0.1
    region_fraction: float = 0.5
    ema_decay: float = 0.999
    min_snr_gamma: float = 0.0  # 0: the plain v-prediction loss (see min_snr_weights)
    checkpoint_minutes: float = 5.0
    validate_every: int = 1000
    validation_seeds: int = 2
    workers: int = 1
    mixed_precision: str = "no"  # "no" | "bf16" | "fp16"
    time_limit_minutes: float | None = None
    # Train for a wall-time budget instead of a step count: after the first steps the run measures its
    # speed and sets `steps` so that the learning-rate schedule ends when the budget is spent.
    budget_minutes: float | None = None
    stop_at_step: int | None = None  # end this invocation there (with a checkpoint); the schedule still spans `steps`
    threads: int | None = None
    progress: bool = True
    # Start from this bundled-format model's weights, tokenizer and architecture instead of random ones:
    # how training goes on in a later session, when the last run's full checkpoint is gone.
    init_from: str | None = None
    # Caption words replaced in the training stream ({"star": "diamond"}: stars captioned as diamonds): a
    # learned mistake made on purpose, to measure finding and correcting it (compose audit, issue 12).
    relabel: dict = field(default_factory=dict)
    # The region marker the run trains with, instead of the model config's or the --init-from model's (a
    # Stable Diffusion-format model of whole captions has none; grounding it needs one, issue 17).
    region_marker: str | None = None
    model: ShapesModelConfig = field(default_factory=ShapesModelConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def saved(cls, folder: str | Path) -> TrainConfig:
        """The config a run folder was started with (its config.json)."""
        return read_saved_config(folder, cls.from_dict)

    def check(self) -> None:
        """Each knob within its rule; a ValueError names the flag and what is allowed."""
        rules = [
            (self.steps >= 1, f"--steps {self.steps}: give at least 1"),
            (self.batch_size >= 1, f"--batch-size {self.batch_size}: give at least 1"),
            (self.learning_rate > 0, f"--learning-rate {self.learning_rate}: must be positive"),
            (self.warmup_steps >= 0, f"--warmup-steps {self.warmup_steps}: must be 0 or more"),
            (self.workers >= 0, f"--workers {self.workers}: must be 0 (load in this process) or more"),
            (0 <= self.region_fraction <= 1, f"--region-fraction {self.region_fraction}: must lie in [0, 1]"),
            (0 <= self.caption_dropout < 1, f"caption_dropout {self.caption_dropout}: must lie in [0, 1)"),
            (self.min_snr_gamma >= 0, f"--min-snr-gamma {self.min_snr_gamma}: must be 0 (off) or positive"),
            (self.validate_every >= 0, f"--validate-every {self.validate_every}: must be 0 (never) or more"),
            (self.checkpoint_minutes > 0, f"--checkpoint-minutes {self.checkpoint_minutes}: must be positive"),
            (self.mixed_precision in ("no", "bf16", "fp16"), f"--mixed-precision {self.mixed_precision!r}: "
             "choose no, bf16 or fp16"),
            (self.budget_minutes is None or self.budget_minutes > 0, f"--budget {self.budget_minutes}: must be positive"),
            (self.threads is None or self.threads >= 1, f"--threads {self.threads}: give 1 or more"),
            (all(isinstance(k, str) and isinstance(v, str) and k.isalpha() and v.isalpha() and k != v
                 for k, v in self.relabel.items()), f"relabel {self.relabel}: map words to other words, "
             "e.g. {'star': 'diamond'}"),
            (self.region_fraction == 0 or self.model.vae is None or self.model.region_prefix, f"--region-fraction "
             f"{self.region_fraction}: region-masked batches of a Stable Diffusion-format model (--vae) need a "
             "region marker (--region-marker, e.g. 'region:'): without one a phrase reads as a whole caption"),
        ]
        for holds, message in rules:
            if not holds:
                raise ValueError(message)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        model = values.pop("model", {})
        model = {key: tuple(value) if isinstance(value, list) else value for key, value in model.items()}
        model.setdefault("region_prefix", "")  # runs saved before the region marker existed trained without one
        return cls(**values, model=ShapesModelConfig(**model))


def model_pixels(pictures) -> torch.Tensor:
    """(N, H, W, 3) uint8 RGB pictures (a list or an array) as the models' pixels: (N, 3, H, W) floats in [-1, 1]."""
    return torch.from_numpy(np.stack(pictures)).permute(0, 3, 1, 2).float() / 127.5 - 1


class ShapesBatches(torch.utils.data.IterableDataset):
    """Whole training batches from the shapes stream; batch b is a pure function of (seed, b).

    Worker w of process `rank` yields batches start + rank + world * (w + workers * k), k = 0, 1, ...;
    the DataLoader takes workers round-robin, so batches arrive in order whatever the worker count."""

    def __init__(self, seed: int, batch_size: int, start_batch: int, rank: int, world: int,
                 region_fraction: float, image_size: int = 64, relabel: dict[str, str] | None = None):
        self.seed, self.batch_size, self.start_batch = seed, batch_size, start_batch
        self.rank, self.world = rank, world
        self.region_fraction, self.image_size = region_fraction, image_size
        self.relabel = dict(relabel or {})

    def batch(self, index: int) -> dict:
        region_mode = random.Random(self.seed * 7919 + index).random() < self.region_fraction
        mix = REGION_MIX if region_mode else TRAINING_MIX
        first = index * self.batch_size
        samples = [sample_at(self.seed, first + offset, size=self.image_size, mix=mix)
                   for offset in range(self.batch_size)]
        boxes = torch.zeros(self.batch_size, MAX_REGIONS, 4)
        phrases = []
        for row, sample in enumerate(samples):
            regions = sample.layout.regions[:MAX_REGIONS]
            phrases.append([self.relabelled(region.phrase) for region in regions])
            if regions:
                boxes[row, :len(regions)] = torch.tensor([region.box for region in regions])
        return {"index": index, "images": model_pixels([s.image for s in samples]),
                "captions": [self.relabelled(s.caption) for s in samples],
                "region_mode": region_mode, "phrases": phrases, "boxes": boxes}

    def relabelled(self, text: str) -> str:
        """`text` with every relabelled word (and its plural) replaced: mislabelled data on purpose."""
        from compose.shapes.captions import replace_words

        return replace_words(text, self.relabel) if self.relabel else text

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        k = 0
        while True:
            yield self.batch(self.start_batch + self.rank + self.world * (worker + workers * k))
            k += 1


def _single_threaded_worker(_worker_id: int) -> None:
    """Data workers render with numpy and OpenCV; one thread each keeps many workers from fighting."""
    import cv2

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


REWARM_STEPS = 100  # a run resumed from a slim checkpoint (no optimizer moments) warms up again this long


def noised_batch(view: ModelBundle, noise_scheduler, images: torch.Tensor, generator: torch.Generator,
                 autocast=contextlib.nullcontext, lowest_timestep: int = 0) -> tuple[torch.Tensor, ...]:
    """(clean, noise, timesteps, noisy): the pictures encoded (a VAE's posterior sampled) and noised at
    uniformly random training timesteps from `lowest_timestep` up, every draw from `generator` in that order."""
    device = generator.device
    with torch.no_grad(), autocast():
        clean = view.codec.encode(images.to(device), generator=generator).float()
    noise = torch.randn(clean.shape, generator=generator, device=device, dtype=clean.dtype)
    timesteps = torch.randint(lowest_timestep, noise_scheduler.config.num_train_timesteps, (clean.shape[0],),
                              generator=generator, device=device)
    return clean, noise, timesteps, noise_scheduler.add_noise(clean, noise, timesteps)


def training_loss(view: ModelBundle, unet, noise_scheduler, batch: dict, generator: torch.Generator, autocast,
                  caption_dropout: float, min_snr_gamma: float = 0.0, reduce: bool = True,
                  object_weight: float = 0.0) -> torch.Tensor:
    """One batch's denoising loss: the pictures encoded (a VAE's posterior sampled), noised at random
    timesteps, and the velocity regressed from the caption (`caption_dropout` of them emptied) or, for a
    region batch, from each object's phrase seen only inside its box; min-SNR weights when asked.
    `view` supplies the codec and text encoder, `unet` the (possibly wrapped) UNet, `autocast` a context
    factory (accelerate's, or contextlib.nullcontext). All randomness comes from `generator`. With
    `reduce=False`, the per-sample losses (B,), unweighted. `object_weight` k > 0: a latent pixel inside an
    object's box counts 1 + k times a background one (each picture's weights averaging 1), so a small object,
    a few pixels of a mostly empty picture, is not drowned by the background that every caption shares."""
    from compose.regions.attention import RegionControl, region_kwargs
    from compose.regions.conditioning import encode_regions
    from compose.regions.masks import box_coverage
    from compose.sampling import encode_prompts

    device = generator.device
    clean, noise, timesteps, noisy = noised_batch(view, noise_scheduler, batch["images"], generator, autocast)
    dropped = torch.rand(clean.shape[0], generator=generator, device=device) < caption_dropout
    target = noise_scheduler.get_velocity(clean, noise, timesteps)
    with autocast():
        if batch["region_mode"]:
            side = clean.shape[-1]
            coverage_maps = box_coverage(batch["boxes"].to(device), side)
            condition, coverage = encode_regions(view, batch["phrases"], coverage_maps, slots=MAX_REGIONS)
            control = RegionControl(coverage=coverage)
        else:
            captions = ["" if drop else caption for caption, drop in zip(batch["captions"], dropped.tolist())]
            condition = encode_prompts(view, captions)
            control = None
        prediction = unet(noisy, timesteps, encoder_hidden_states=condition,
                          cross_attention_kwargs=region_kwargs(control)).sample
    error = (prediction.float() - target.float()).pow(2).mean(dim=1)  # (B, side, side)
    if object_weight:
        inside = box_coverage(batch["boxes"].to(device), error.shape[-1]).sum(dim=1).clamp(max=1)
        weights = 1 + object_weight * inside
        error = error * weights / weights.mean(dim=(1, 2), keepdim=True)
    per_sample = error.mean(dim=(1, 2))
    if not reduce:
        return per_sample
    alphas_cumprod = noise_scheduler.alphas_cumprod.to(device)
    return (per_sample * min_snr_weights(alphas_cumprod, timesteps, min_snr_gamma)).mean()


def learning_rate_at(step: int, config: TrainConfig, rewarm_from: int | None = None) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak at the last step (for any config with
    learning_rate, warmup_steps and steps: the VAE trainer uses it too); after a resume from a
    slim checkpoint (`rewarm_from`: its step), the rate ramps up again over REWARM_STEPS while Adam's
    moments, which that checkpoint does not keep, fill in."""
    if rewarm_from is not None and step < rewarm_from + REWARM_STEPS:
        return learning_rate_at(step, config) * (step - rewarm_from + 1) / REWARM_STEPS
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = min(1.0, (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps))
    return config.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def min_snr_weights(alphas_cumprod: torch.Tensor, timesteps: torch.Tensor, gamma: float) -> torch.Tensor:
    """Min-SNR-gamma loss weights for v-prediction: min(SNR, gamma) / (SNR + 1); gamma 0 gives weight 1
    everywhere (the plain v loss).

    Min-SNR weights fall towards 0 at high noise (SNR -> 0), where a picture's count and placement
    are decided; shapes-v1 trained with gamma 5 drew the right shape and colour but several copies of
    it, so the default is now the plain v loss."""
    if gamma == 0:
        return torch.ones(timesteps.shape, device=alphas_cumprod.device)
    alpha_bar = alphas_cumprod[timesteps]
    snr = alpha_bar / (1 - alpha_bar)
    return torch.clamp(snr, max=gamma) / (snr + 1)


def build_tokenizer(region_prefix: str = ""):
    """The caption tokenizer, learned from a fixed slice of the shapes stream (deterministic): captions,
    and region phrases as the model reads them (after its region marker)."""
    from compose.model.text import train_tokenizer
    from compose.regions.conditioning import region_text

    corpus = [sample_at(TOKENIZER_CORPUS_SEED, index).caption for index in range(1500)]
    phrases = [sample_at(TOKENIZER_CORPUS_SEED, index, mix=REGION_MIX).layout.regions[0].phrase for index in range(200)]
    corpus += [region_text(region_prefix, phrase) for phrase in phrases]
    return train_tokenizer(corpus)


# ---------------------------------------------------------------------------------------------
# checkpoints: safetensors for every tensor (weights, EMA, optimizer moments), JSON for the rest


def trained_parameters(bundle: ModelBundle) -> list[tuple[str, torch.nn.Parameter]]:
    """(name, parameter) of everything training updates, in optimizer order: "unet.NAME", then
    "text_encoder.NAME". The EMA is saved under these names."""
    return [(f"{prefix}.{name}", parameter) for prefix, module in (("unet", bundle.unet),
                                                                  ("text_encoder", bundle.text_encoder))
            for name, parameter in module.named_parameters()]


def ema_by_name(bundle: ModelBundle, ema: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: tensor for (name, _), tensor in zip(trained_parameters(bundle), ema)}


def ema_in_order(bundle: ModelBundle, saved: dict[str, torch.Tensor], source: Path) -> list[torch.Tensor]:
    """A saved EMA as a list in optimizer order: keyed by parameter name, or (checkpoints written before
    2026-12-02) by position ("0", "1", ...); a name or count that does not match the model is an error."""
    names = [name for name, _ in trained_parameters(bundle)]
    if "0" in saved:  # the older, positional format
        if len(saved) != len(names):
            raise ValueError(f"{source}: its EMA holds {len(saved)} tensors, this model has {len(names)} parameters")
        return [saved[f"{index}"] for index in range(len(names))]
    missing = [name for name in names if name not in saved]
    if missing or len(saved) != len(names):
        raise ValueError(f"{source}: its EMA does not match this model's parameters (missing: "
                         f"{', '.join(missing[:3]) or 'none'}; {len(saved)} saved, {len(names)} here)")
    return [saved[name] for name in names]


def save_checkpoint(folder: Path, bundle: ModelBundle, ema: list[torch.Tensor], optimizer,
                    trainer_state: dict) -> None:
    """Write the run's checkpoint (compose.checkpoints): UNet, text encoder, EMA, optimizer, state."""
    write_checkpoint(folder, {"unet": bundle.unet.state_dict(), "text_encoder": bundle.text_encoder.state_dict(),
                              "ema": ema_by_name(bundle, ema),
                              "optimizer": optimizer_tensors(optimizer)}, trainer_state)


def load_checkpoint(folder: Path, bundle: ModelBundle, ema: list[torch.Tensor], optimizer) -> dict:
    """Put a checkpoint's weights, EMA and optimizer moments back; a slim checkpoint (slim_checkpoint: no
    moments) starts them fresh and marks the step from which the learning rate warms up again."""
    slim = not (checkpoint_folder(folder) / "optimizer.safetensors").is_file()
    parts, state = read_checkpoint(folder, ["unet", "text_encoder", "ema"] + ([] if slim else ["optimizer"]))
    state.pop("slim", None)  # what this run writes next is a full checkpoint
    bundle.unet.load_state_dict({key: value.float() for key, value in parts["unet"].items()})
    bundle.text_encoder.load_state_dict({key: value.float() for key, value in parts["text_encoder"].items()})
    for tensor, saved in zip(ema, ema_in_order(bundle, parts["ema"], folder)):
        tensor.copy_(saved)
    if slim:
        state["rewarm_from"] = state["step"]
        logger.info("%s: a slim checkpoint (no optimizer moments); they start fresh, the learning rate warms up "
                    "again over %d steps", folder, REWARM_STEPS)
    else:
        load_optimizer_tensors(optimizer, parts["optimizer"])
    return state


def slim_checkpoint(run_folder: str | Path, output: str | Path) -> Path:
    """Copy a run folder small enough to commit, so that a run can go on in a later session: config,
    tokenizer, log, plot, and a checkpoint of the weights and EMA in fp16 without the optimizer's moments
    (a third of the size). `compose train --resume --out COPY` continues from it (see load_checkpoint)."""
    run_folder, output = Path(run_folder), Path(output)
    parts, state = read_checkpoint(run_folder, ["unet", "text_encoder", "ema"])
    output.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "train_log.jsonl", "training.png"):
        if (run_folder / name).is_file():
            shutil.copyfile(run_folder / name, output / name)
    shutil.copytree(run_folder / "tokenizer", output / "tokenizer", dirs_exist_ok=True)
    halves = {stem: {key: value.half() if value.is_floating_point() else value for key, value in tensors.items()}
              for stem, tensors in parts.items()}
    write_checkpoint(output, halves, {**state, "slim": True})
    return output


# ---------------------------------------------------------------------------------------------
# validation: sample fixed prompts with the EMA weights and read the pictures back


def validation_set(seeds: int) -> list[dict]:
    """Fixed validation cases: every shape x colour alone, some two-object captions, some layouts."""
    from compose.scene import ObjectGroup, Scene
    from compose.shapes import world

    cases = []
    for shape in world.SHAPES:
        for color in world.PALETTE:
            prompt = f"a {color} {shape}"
            scene = Scene(prompt, (ObjectGroup(0, shape, prompt, 1, color),))
            for seed in range(seeds):
                cases.append({"kind": "single", "scene": scene, "seed": seed, "layout": None})
    pair_mix = DataMix(object_count_weights=(0, 1), relation_probability=0, negation_probability=0,
                       location_probability=0, size_word_probability=0, no_color_probability=0)
    for index in range(10):
        sample = sample_at(999, index, mix=pair_mix)
        for seed in range(seeds):
            cases.append({"kind": "two_object", "scene": sample.scene, "seed": seed, "layout": None})
    for index in range(10):
        sample = sample_at(998, index, mix=REGION_MIX)
        for seed in range(seeds):
            cases.append({"kind": "regions", "scene": sample.scene, "seed": seed, "layout": sample.layout})
    return cases


DEGRADED_BY = 0.25  # a concept whose validation accuracy falls this far below its best so far is flagged


def validate(bundle: ModelBundle, cases: list[dict], steps: int = 25, guidance: float = 4.0,
             batch: int = 32, concepts: dict | None = None) -> dict:
    """Accuracy per kind of validation case: the share of pictures the scorer reads back as correct
    (strict: exactly what was asked and nothing else). Captions go through the plain method and layouts
    through the compose pipeline's stage 1: the same code that users run. With `concepts` (a dict), it
    is filled with the single-object cases' accuracy per concept ("shape:star", "color:red"), the
    audit's concepts (compose.bench.audit), so that a concept that degrades shows in the log."""
    from compose.pipeline import ComposePipeline
    from compose.sampling import generate_plain
    from compose.shapes.score import score_image

    results: dict[str, list[bool]] = {}
    per_concept: dict[str, list[bool]] = {}
    modes = [(module, module.training) for module in (bundle.unet, bundle.text_encoder)]
    bundle.unet.eval()
    bundle.text_encoder.eval()
    pipeline = ComposePipeline.from_bundle(bundle)
    try:
        for kind in ("single", "two_object", "regions"):
            group = [case for case in cases if case["kind"] == kind]
            for start in range(0, len(group), batch):
                chunk = group[start:start + batch]
                seeds = [case["seed"] for case in chunk]
                if kind == "regions":
                    images = pipeline.draw(layout=[case["layout"] for case in chunk], seed=seeds, steps=steps,
                                      guidance=guidance).images
                else:
                    images = generate_plain(bundle, [case["scene"].prompt for case in chunk], seeds, steps=steps,
                                            guidance=guidance)
                for case, image in zip(chunk, images):
                    verdict = score_image(case["scene"], image, layout=case["layout"])
                    results.setdefault(kind, []).append(bool(verdict.correct_strict))
                    if kind == "single":
                        asked = case["scene"].objects[0]
                        for concept in (f"shape:{asked.noun}", f"color:{asked.color}"):
                            per_concept.setdefault(concept, []).append(bool(verdict.correct_strict))
    finally:
        for module, training in modes:
            module.train(training)
    if concepts is not None:
        concepts.update({concept: sum(values) / len(values) for concept, values in sorted(per_concept.items())})
    return {kind: sum(values) / len(values) for kind, values in results.items()}


def degraded_concepts(concepts: dict[str, float], best: dict[str, float]) -> list[str]:
    """The concepts at least DEGRADED_BY below their best earlier accuracy; `best` is updated in place."""
    flagged = [concept for concept, value in concepts.items() if best.get(concept, 0.0) - value >= DEGRADED_BY]
    for concept, value in concepts.items():
        best[concept] = max(best.get(concept, 0.0), value)
    return flagged


# ---------------------------------------------------------------------------------------------
# the training loop


def write_plot(folder: Path) -> None:
    """training.png beside the log: the loss and the validation accuracies against the step."""
    from matplotlib.figure import Figure  # no pyplot: no process-wide backend or figure registry

    records = [json.loads(line) for line in (folder / "train_log.jsonl").read_text(encoding="utf-8").splitlines()]
    losses = [(r["step"], r["loss"]) for r in records if "loss" in r]
    validations = [r for r in records if "validation" in r]
    figure = Figure(figsize=(15, 3.6))
    loss_axis, accuracy_axis, concept_axis = figure.subplots(1, 3)
    if losses:
        steps, values = zip(*losses)
        loss_axis.plot(steps, values, lw=0.6, alpha=0.5, label="loss")
        window = max(1, len(values) // 50)
        smooth = np.convolve(values, np.ones(window) / window, mode="valid")
        loss_axis.plot(steps[window - 1:], smooth, lw=1.5, label=f"mean of {window}")
        loss_axis.set_yscale("log")
    loss_axis.set(xlabel="step", ylabel="v-prediction loss", title="training loss")
    if losses:
        loss_axis.legend()
    for kind in ("single", "two_object", "regions"):
        points = [(r["step"], r["validation"][kind]) for r in validations if kind in r["validation"]]
        if points:
            accuracy_axis.plot(*zip(*points), marker="o", label=kind)
    accuracy_axis.set(xlabel="step", ylabel="read back exactly", ylim=(0, 1), title="validation (EMA weights)")
    if validations:
        accuracy_axis.legend()
    names = sorted({name for r in validations for name in r.get("concepts", {}) if name.startswith("shape:")})
    for name in names:
        points = [(r["step"], r["concepts"][name]) for r in validations if name in r.get("concepts", {})]
        concept_axis.plot(*zip(*points), marker=".", label=name.split(":", 1)[1])
    flagged = [(r["step"], r["concepts"][name]) for r in validations for name in r.get("degraded", [])
               if name in r.get("concepts", {})]
    if flagged:
        concept_axis.scatter(*zip(*flagged), marker="x", s=60, color="red", label="degraded", zorder=3)
    concept_axis.set(xlabel="step", ylabel="single objects read back exactly", ylim=(0, 1),
                     title="per shape (red x: fell by 0.25 or more)")
    if names:
        concept_axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(folder / "training.png", dpi=110)


def resumed_config(folder: Path, config: TrainConfig) -> TrainConfig:
    """The saved config of the run in `folder`, with only the fields a resumed run may change
    (RESUMABLE_FIELDS) taken from `config`; any other difference is an error naming the fields."""
    if not has_checkpoint(folder):
        raise ValueError(f"--resume: {folder} holds no checkpoint to resume (checkpoint/trainer_state.json)")
    saved = TrainConfig.saved(folder).to_dict()
    wanted = config.to_dict()

    def same_model(a: dict, b: dict) -> bool:  # compared as configs: defaults filled in on both sides
        return TrainConfig.from_dict({"output": "", "model": a}).model == TrainConfig.from_dict(
            {"output": "", "model": b}).model

    changed = [key for key in saved if key not in RESUMABLE_FIELDS and key != "budget_minutes"
               and wanted[key] != saved[key] and not (key == "model" and same_model(wanted[key], saved[key]))]
    if changed:
        raise ValueError(f"--resume: {', '.join(changed)} cannot change when a run is resumed (saved in "
                         f"{folder / 'config.json'}); start a new run in another --out to change them")
    saved.update({key: wanted[key] for key in RESUMABLE_FIELDS})
    saved["budget_minutes"] = None  # the first run's budget already fixed `steps`
    return TrainConfig.from_dict(saved)


@contextlib.contextmanager
def averaged_weights(parameters: list[torch.Tensor], ema: list[torch.Tensor] | None):
    """Inside: the parameters hold their moving average (what validation watches and a model saves); after,
    even on an error: the live weights again. With no average (None), nothing changes."""
    if ema is None:
        yield
        return
    live = [p.detach().clone() for p in parameters]
    with torch.no_grad():
        torch._foreach_copy_(parameters, ema)
    try:
        yield
    finally:
        with torch.no_grad():
            torch._foreach_copy_(parameters, live)


def ema_rate(step: int, decay: float) -> float:
    """The EMA's decay at `step` (0, 1, ...): warmed up as (1 + step) / (10 + step) until it reaches `decay`."""
    return min(decay, (1 + step) / (10 + step))


def blend_into(average: list[torch.Tensor], parameters: list[torch.Tensor], keep: float) -> None:
    """average <- keep * average + (1 - keep) * parameters, in place."""
    with torch.no_grad():
        torch._foreach_mul_(average, keep)
        torch._foreach_add_(average, [p.detach() for p in parameters], alpha=1 - keep)


def update_ema(ema: list[torch.Tensor], parameters: list[torch.Tensor], step: int, decay: float) -> None:
    """One EMA step at `step` (see ema_rate)."""
    blend_into(ema, parameters, ema_rate(step, decay))


def train(config: TrainConfig, resume: bool = False) -> Path:
    """Run (or resume) training into config.output; returns the run folder."""
    from accelerate import Accelerator
    from diffusers import DDPMScheduler
    from tqdm.auto import tqdm

    from compose.regions.attention import region_processors

    folder = Path(config.output)
    config = resumed_config(folder, config) if resume else config
    if not resume and ((folder / "checkpoint").exists() or (folder / "checkpoint.old").exists()):
        raise ValueError(f"{folder} already holds a training run; pass --resume to continue it or choose another --out")
    start = _initial_model(config) if config.init_from and not resume else None
    if config.region_marker is not None:  # replaces the model config's or the starting model's; saved with the run
        config.model = replace(config.model, region_prefix=config.region_marker)
    config.check()
    if config.threads:
        torch.set_num_threads(config.threads)

    accelerator = Accelerator(mixed_precision=config.mixed_precision, cpu=not torch.cuda.is_available())
    main = accelerator.is_main_process
    if main:
        folder.mkdir(parents=True, exist_ok=True)
    if resume:
        from transformers import CLIPTokenizer

        tokenizer = CLIPTokenizer.from_pretrained(folder / "tokenizer")
    else:  # deterministic, so every process builds the same one
        tokenizer = start.tokenizer if start is not None else build_tokenizer(config.model.region_prefix)
        if main:
            tokenizer.save_pretrained(folder / "tokenizer")
            write_atomically(folder / "config.json", json.dumps(config.to_dict(), indent=2))

    with torch.random.fork_rng(devices=[]):  # identical initial weights in every process; global RNG untouched
        torch.manual_seed(config.seed)
        bundle = build_shapes_model(config.model, tokenizer)
    if start is not None:
        bundle.unet.load_state_dict(start.unet.state_dict())
        bundle.text_encoder.load_state_dict(start.text_encoder.state_dict())
    noise_scheduler = DDPMScheduler.from_config(bundle.scheduler_config)
    parameters = [parameter for _, parameter in trained_parameters(bundle)]
    optimizer = torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=config.weight_decay)
    ema = [p.detach().clone() for p in parameters]
    state = {"step": 0, "elapsed_seconds": 0.0, "samples_seen": 0, "hardware": []}
    if start is not None:  # what the starting weights had already seen, for the model card's totals
        state["earlier_training"] = _training_history(start.info.get("training", {}))
    if resume:
        state = load_checkpoint(folder, bundle, ema, optimizer)
    unet, text_encoder, optimizer = accelerator.prepare(bundle.unet, bundle.text_encoder, optimizer)
    device = accelerator.device
    ema = [tensor.to(device) for tensor in ema]
    if isinstance(bundle.codec, VaeCodec):  # frozen, outside the optimizer: moved by hand
        bundle.codec.vae.to(device)
    state["hardware"] = sorted(set(state.get("hardware", [])) | {_hardware_name(device, accelerator.num_processes)})

    dataset = ShapesBatches(config.seed, config.batch_size, start_batch=state["step"] * accelerator.num_processes,
                            rank=accelerator.process_index, world=accelerator.num_processes,
                            region_fraction=config.region_fraction, image_size=config.model.image_size,
                            relabel=config.relabel)
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=config.workers,
                                         worker_init_fn=_single_threaded_worker,
                                         persistent_workers=config.workers > 0,
                                         prefetch_factor=4 if config.workers > 0 else None)
    cases = validation_set(config.validation_seeds) if main else []
    # A fresh run starts a fresh log (a crashed earlier attempt in the same folder must not leak into it).
    if main and resume:
        drop_log_after(folder / "train_log.jsonl", state["step"])
    log_file = open(folder / "train_log.jsonl", "a" if resume else "w", encoding="utf-8") if main else None
    started = time.time()
    elapsed_before = state["elapsed_seconds"]
    last_checkpoint = time.time()
    progress = tqdm(total=config.steps, initial=state["step"], disable=not (main and config.progress),
                    desc="train", unit="step", dynamic_ncols=True)
    bundle_view = replace(bundle, unet=accelerator.unwrap_model(unet),
                          text_encoder=accelerator.unwrap_model(text_encoder))
    # The training forward goes through the prepared (possibly distributed) text encoder.
    train_view = replace(bundle_view, text_encoder=text_encoder)

    def checkpoint():
        state["elapsed_seconds"] = elapsed_before + time.time() - started
        if main:
            save_checkpoint(folder, bundle_view, ema, optimizer, state)

    def run_validation():
        if not main:
            return
        concepts: dict[str, float] = {}
        with averaged_weights(parameters, ema):  # the live weights come back even if validation fails
            accuracy = validate(bundle_view, cases, concepts=concepts)
        degraded = degraded_concepts(concepts, state.setdefault("concept_best", {}))
        record = {"step": state["step"], "validation": accuracy, "concepts": concepts, "degraded": degraded,
                  "elapsed_seconds": round(elapsed_before + time.time() - started, 1)}
        log_file.write(json.dumps(record) + "\n")
        log_file.flush()
        progress.write(f"validation at step {state['step']}: " + ", ".join(f"{k} {v:.2f}" for k, v in accuracy.items()))
        if degraded:
            logger.warning("validation at step %d: degraded since their best: %s", state["step"], ", ".join(degraded))

    stop_reason = "steps"
    budget_probe_start, budget_probe_end, budget_clock = state["step"] + 20, state["step"] + 120, time.time()
    if config.budget_minutes:
        config.steps = max(config.steps, budget_probe_end + 1)
    window_loss, window_samples, window_start = [], 0, time.time()
    window_wait, waiting_since = 0.0, time.time()  # time spent waiting for the data loader
    with _close_on_error(log_file, progress), region_processors(bundle_view.unet):
        for batch in loader:
            window_wait += time.time() - waiting_since
            if state["step"] >= config.steps:
                break
            if config.stop_at_step is not None and state["step"] >= config.stop_at_step:
                stop_reason = "stop_at_step"
                break
            step = state["step"]
            for group in optimizer.param_groups:
                group["lr"] = learning_rate_at(step, config, state.get("rewarm_from"))
            # Noise, timesteps, caption dropout (and a VAE's posterior samples) come from a generator seeded
            # by (seed, step, rank), so a resumed run continues exactly as an uninterrupted one would.
            step_generator = torch.Generator(device).manual_seed(
                stream_seed(config.seed, step) * 64 + accelerator.process_index)
            loss = training_loss(train_view, unet, noise_scheduler, batch, step_generator, accelerator.autocast,
                                 config.caption_dropout, config.min_snr_gamma)
            optimizer.zero_grad(set_to_none=True)
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(parameters, 1.0)
            optimizer.step()
            update_ema(ema, parameters, step, config.ema_decay)
            state["step"] = step + 1
            state["samples_seen"] += batch["images"].shape[0] * accelerator.num_processes
            window_loss.append(loss.item())
            window_samples += batch["images"].shape[0] * accelerator.num_processes
            progress.update(1)
            if config.budget_minutes and state["step"] == budget_probe_end:
                rate = (budget_probe_end - budget_probe_start) / (time.time() - budget_clock)
                remaining = config.budget_minutes * 60 - (time.time() - started)
                config.steps = state["step"] + max(1, int(rate * remaining * 0.97))
                progress.total = config.steps
                logger.info("budget of %.1f min: %.2f steps/s, training to step %d", config.budget_minutes, rate,
                            config.steps)
                if main:
                    write_atomically(folder / "config.json", json.dumps(config.to_dict(), indent=2))
            if config.budget_minutes and state["step"] == budget_probe_start:
                budget_clock = time.time()
            if state["step"] % 25 == 0 or state["step"] == config.steps:
                seconds = time.time() - window_start
                mean_loss = float(np.mean(window_loss))
                progress.set_postfix(loss=f"{mean_loss:.4f}", samples_per_s=f"{window_samples / seconds:.0f}")
                if main:
                    log_file.write(json.dumps({"step": state["step"], "loss": round(mean_loss, 5),
                                               "lr": learning_rate_at(step, config, state.get("rewarm_from")),
                                               "samples_per_s": round(window_samples / seconds, 1),
                                               "data_wait_fraction": round(window_wait / seconds, 3),
                                               "elapsed_seconds": round(elapsed_before + time.time() - started, 1)}) + "\n")
                    log_file.flush()
                window_loss, window_samples, window_start, window_wait = [], 0, time.time(), 0.0
            if config.validate_every and state["step"] % config.validate_every == 0:
                run_validation()
            if time.time() - last_checkpoint >= config.checkpoint_minutes * 60:
                checkpoint()
                last_checkpoint = time.time()
            if config.time_limit_minutes and time.time() - started >= config.time_limit_minutes * 60:
                stop_reason = "time limit"
                break
            waiting_since = time.time()
    progress.close()
    checkpoint()
    if main and config.validate_every and state["step"] % config.validate_every != 0 and state["step"] >= config.steps:
        run_validation()
    if main:
        log_file.close()
        write_plot(folder)
    logger.info("training stopped at step %d (%s)", state["step"], stop_reason)
    return folder


def _initial_model(config: TrainConfig):
    """The model named by --init-from, loaded in fp32; its architecture and region marker become the run's."""
    from compose.model.bundle import PixelFoldCodec, load_model, model_folder

    start = load_model(config.init_from)
    architecture = start.info.get("architecture")
    if isinstance(start.codec, VaeCodec) and "training" in start.info:  # a Stable Diffusion-format model of ours
        model = TrainConfig.from_dict({"output": "", "model": start.info["training"]["config"]["model"]}).model
        config.model = replace(model, vae=str(model_folder(config.init_from) / "vae"))
        return start
    if not isinstance(start.codec, PixelFoldCodec) or not isinstance(architecture, dict):
        raise ValueError(f"--init-from {config.init_from}: not a bundled-format model (compose_model.json with an "
                         "architecture); only models written by `compose export-model` can be trained on")
    model = TrainConfig.from_dict({"output": "", "model": architecture}).model
    config.model = replace(model, region_prefix=start.region_prefix)
    return start


def _training_history(training: dict) -> list[dict]:
    """The runs behind a model, oldest first: each with its steps, samples, wall seconds and hardware."""
    earlier = list(training.get("earlier_training", []))
    if "steps" in training:
        earlier.append({key: training.get(key) for key in ("steps", "samples_seen", "wall_seconds", "hardware")})
    return earlier


@contextlib.contextmanager
def _close_on_error(*resources):
    """Close the log file and progress bar if training stops with an error (the normal path closes them)."""
    try:
        yield
    except BaseException:
        for resource in resources:
            if resource is not None:
                resource.close()
        raise


def _hardware_name(device: torch.device, processes: int) -> str:
    if device.type == "cuda":
        return f"{processes} x {torch.cuda.get_device_name(device)}"
    import os

    return f"{processes} x CPU ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"


def export_model(run_folder: str | Path, output: str | Path, use_ema: bool = True) -> Path:
    """Write the run's (EMA) weights as a model folder (fp16 safetensors + configs): bundled format for a
    pixel-fold model, a Stable Diffusion folder (with compose_training.json) for a latent one."""
    from safetensors.torch import load_file
    from transformers import CLIPTokenizer

    run_folder = Path(run_folder)
    checkpoint = checkpoint_folder(run_folder)  # checkpoint.old after a stop between its two renames
    if not (checkpoint / "trainer_state.json").is_file():
        raise ValueError(f"{run_folder}: no checkpoint to export (checkpoint/trainer_state.json is missing)")
    config = TrainConfig.from_dict(json.loads((run_folder / "config.json").read_text(encoding="utf-8")))
    tokenizer = CLIPTokenizer.from_pretrained(run_folder / "tokenizer")
    bundle = build_shapes_model(config.model, tokenizer)
    bundle.unet.load_state_dict(load_file(checkpoint / "unet.safetensors"))
    bundle.text_encoder.load_state_dict(load_file(checkpoint / "text_encoder.safetensors"))
    if use_ema:
        ema = ema_in_order(bundle, load_file(checkpoint / "ema.safetensors"), checkpoint)
        with torch.no_grad():
            for (_, parameter), saved in zip(trained_parameters(bundle), ema):
                parameter.copy_(saved)
    state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    info = {"training": {"config": config.to_dict(), "steps": state["step"], "samples_seen": state["samples_seen"],
                         "wall_seconds": round(state["elapsed_seconds"], 1), "hardware": state.get("hardware", []),
                         "ema": use_ema, "earlier_training": state.get("earlier_training", [])}}
    if isinstance(bundle.codec, VaeCodec):
        folder = save_stable_diffusion(bundle, output)
        write_atomically(folder / TRAINING_RECORD, json.dumps(info, indent=2) + "\n")
        return folder
    return save_bundle(bundle, output, info=info)
