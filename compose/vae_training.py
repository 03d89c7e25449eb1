"""`compose train-vae`: train the image autoencoder of a Stable Diffusion-format model of the shapes world.

A latent diffusion model (Rombach et al. 2022) draws in the latent space of an autoencoder. This trains
that autoencoder, a diffusers `AutoencoderKL` with Stable Diffusion's geometry (downscale 8, 4 latent
channels: a 128 x 128 picture becomes 16 x 16 x 4), on shapes-world renders:
1. each batch is rendered from the shapes stream (compose.shapes.data) at 128 px and cut to random crops
   (the model is convolutional, so crops teach it at a quarter of the cost of whole pictures);
2. the loss is pixel L1 + L2 plus a small KL term towards the unit Gaussian (SD's VAE used a KL weight of
   1e-6 with perceptual and adversarial terms; flat shapes need neither);
3. every N steps whole 128 px validation renders go through encode -> decode and the detector: the share
   read back exactly (same shapes, colours, boxes within IoU 0.8) and the mean pixel error are logged.
Checkpoints every few minutes (compose.checkpoints) and `--resume` continue exactly where a run stopped.
`export_vae` writes the model folder (`save_pretrained`, safetensors) with its `scaling_factor` measured
the way SD's was chosen: one over the standard deviation of the latents of real pictures, so the
diffusion model sees latents of unit variance.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from compose.checkpoints import (drop_log_after, has_checkpoint, load_optimizer_tensors, optimizer_tensors,
                                 read_checkpoint, read_saved_config, write_checkpoint)
from compose.files import write_atomically
from compose.shapes.data import DataMix, sample_at, stream_seed
from compose.training import learning_rate_at, model_pixels

logger = logging.getLogger(__name__)

# Every object count equally often: the round trip must hold for crowded scenes as for single objects.
VAE_MIX = DataMix(relation_probability=0.0, negation_probability=0.0, location_probability=0.0)
VALIDATION_STREAM = 7_007  # a stream no training run uses (training streams are the run's seed)
SCALING_STREAM = 7_008
RESUMABLE_FIELDS = ("steps", "checkpoint_minutes", "validate_every", "time_limit_minutes", "threads", "progress",
                    "output", "stop_at_step")


@dataclass(frozen=True)
class VaeArchitecture:
    """The autoencoder: four levels (downscale 2 ** 3 = 8), as Stable Diffusion's VAE has.

    Narrow first levels keep encoding cheap (the diffusion model's training encodes every batch):
    (16, 32, 64, 128) encodes 32 pictures of 128 px in 0.23 s on one CPU thread under bf16, against
    1.10 s for (32, 64, 128, 128) (measured 2026-12-01, this machine)."""

    image_size: int = 128
    block_out_channels: tuple[int, ...] = (16, 32, 64, 128)
    layers_per_block: int = 1
    latent_channels: int = 4
    norm_num_groups: int = 8

    def build(self):
        from diffusers import AutoencoderKL

        levels = len(self.block_out_channels)
        return AutoencoderKL(
            in_channels=3, out_channels=3, latent_channels=self.latent_channels,
            block_out_channels=self.block_out_channels, down_block_types=("DownEncoderBlock2D",) * levels,
            up_block_types=("UpDecoderBlock2D",) * levels, layers_per_block=self.layers_per_block,
            norm_num_groups=self.norm_num_groups, sample_size=self.image_size, scaling_factor=1.0,
        )


@dataclass
class VaeTrainConfig:
    """Every knob of a VAE training run; written to the run folder so that it can be resumed."""

    output: str
    steps: int = 6000
    batch_size: int = 16
    crop: int = 64
    learning_rate: float = 5e-4
    warmup_steps: int = 200
    weight_decay: float = 0.0
    kl_weight: float = 1e-6
    seed: int = 0
    checkpoint_minutes: float = 5.0
    validate_every: int = 1000
    validation_scenes: int = 200
    mixed_precision: str = "bf16"  # "no" | "bf16"
    time_limit_minutes: float | None = None
    stop_at_step: int | None = None
    threads: int | None = None
    progress: bool = True
    architecture: VaeArchitecture = field(default_factory=VaeArchitecture)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def saved(cls, folder: str | Path) -> VaeTrainConfig:
        """The config a run folder was started with (its config.json)."""
        return read_saved_config(folder, cls.from_dict)

    @classmethod
    def from_dict(cls, data: dict) -> VaeTrainConfig:
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        architecture = {key: tuple(value) if isinstance(value, list) else value
                        for key, value in values.pop("architecture", {}).items()}
        return cls(**values, architecture=VaeArchitecture(**architecture))

    def check(self) -> None:
        size = self.architecture.image_size
        downscale = 2 ** (len(self.architecture.block_out_channels) - 1)
        rules = [
            (self.steps >= 1, f"--steps {self.steps}: give at least 1"),
            (self.batch_size >= 1, f"--batch-size {self.batch_size}: give at least 1"),
            (self.learning_rate > 0, f"--learning-rate {self.learning_rate}: must be positive"),
            (0 < self.crop <= size and self.crop % downscale == 0,
             f"--crop {self.crop}: give a multiple of {downscale} px up to the picture size {size}"),
            (self.kl_weight >= 0, f"--kl-weight {self.kl_weight}: must be 0 or more"),
            (self.mixed_precision in ("no", "bf16"), f"--mixed-precision {self.mixed_precision!r}: choose no or bf16"),
            (self.validation_scenes >= 1, f"validation_scenes {self.validation_scenes}: give at least 1"),
            (self.checkpoint_minutes > 0, f"--checkpoint-minutes {self.checkpoint_minutes}: must be positive"),
            (self.validate_every >= 0, f"--validate-every {self.validate_every}: must be 0 (never) or more"),
            (self.threads is None or self.threads >= 1, f"--threads {self.threads}: give 1 or more"),
        ]
        for holds, message in rules:
            if not holds:
                raise ValueError(message)


def training_batch(config: VaeTrainConfig, step: int) -> torch.Tensor:
    """Batch `step` of the run: (B, 3, crop, crop) in [-1, 1], a pure function of (seed, step)."""
    size, crop = config.architecture.image_size, config.crop
    rng = np.random.default_rng(stream_seed(config.seed, step))
    first = step * config.batch_size
    pictures = []
    for offset in range(config.batch_size):
        image = sample_at(config.seed, first + offset, size=size, mix=VAE_MIX).image
        top, left = rng.integers(0, size - crop + 1, size=2)
        pictures.append(image[top:top + crop, left:left + crop])
    return model_pixels(pictures)


def round_trip(vae, images: np.ndarray, batch: int = 32) -> np.ndarray:
    """(N, H, W, 3) uint8 pictures -> encode (the posterior's mode) -> decode -> uint8 pictures."""
    outputs = []
    with torch.no_grad():
        for start in range(0, len(images), batch):
            chunk = torch.from_numpy(images[start:start + batch]).permute(0, 3, 1, 2).float() / 127.5 - 1
            chunk = chunk.to(vae.device, vae.dtype)
            decoded = vae.decode(vae.encode(chunk).latent_dist.mode()).sample
            pixels = ((decoded.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
            outputs.append(pixels.permute(0, 2, 3, 1).cpu().numpy())
    return np.concatenate(outputs)


def round_trip_report(vae, scenes: int, size: int = 128, seed: int = VALIDATION_STREAM) -> dict:
    """How well `vae` keeps what matters: the share of `scenes` random renders (1-8 objects) read back
    exactly after encode and decode, the mean absolute pixel error (0-255 levels), and the background's
    mean distance from white."""
    from compose.shapes.detect import detect
    from compose.shapes.score import read_back_exactly

    samples = [sample_at(seed, index, size=size, mix=VAE_MIX) for index in range(scenes)]
    originals = np.stack([sample.image for sample in samples])
    decoded = round_trip(vae, originals)
    exact = [read_back_exactly(list(sample.instances), detect(image))[0] for sample, image in zip(samples, decoded)]
    difference = np.abs(decoded.astype(np.int16) - originals.astype(np.int16))
    background = (originals == 255).all(axis=-1)
    return {"scenes": scenes, "exact": int(sum(exact)), "exact_share": float(np.mean(exact)),
            "mean_abs_error": float(difference.mean()),
            "background_error": float((255 - decoded.astype(np.int16))[background].mean()),
            "failures": [index for index, ok in enumerate(exact) if not ok][:20]}


def measure_scaling_factor(vae, pictures: int = 512, size: int = 128) -> float:
    """1 / std of the latents (posterior samples) of `pictures` random renders: SD's choice of scale."""
    generator = torch.Generator("cpu").manual_seed(0)
    latents = []
    with torch.no_grad():
        for start in range(0, pictures, 32):
            images = np.stack([sample_at(SCALING_STREAM, index, size=size, mix=VAE_MIX).image
                               for index in range(start, min(pictures, start + 32))])
            chunk = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
            latents.append(vae.encode(chunk.to(vae.device, vae.dtype)).latent_dist.sample(generator).float())
    return float(1.0 / torch.cat(latents).std())


def train_vae(config: VaeTrainConfig, resume: bool = False) -> Path:
    """Run (or resume) VAE training into config.output; returns the run folder."""
    from tqdm.auto import tqdm

    folder = Path(config.output)
    if resume:
        if not has_checkpoint(folder):
            raise ValueError(f"--resume: {folder} holds no checkpoint to resume (checkpoint/trainer_state.json)")
        saved = VaeTrainConfig.saved(folder)
        changed = [name for name in saved.to_dict() if name not in RESUMABLE_FIELDS
                   and getattr(saved, name) != getattr(config, name)]
        if changed:
            raise ValueError(f"--resume: {', '.join(changed)} cannot change when a run is resumed (saved in "
                             f"{folder / 'config.json'})")
        for name in RESUMABLE_FIELDS:
            setattr(saved, name, getattr(config, name))
        config = saved
    elif has_checkpoint(folder):
        raise ValueError(f"{folder} already holds a VAE training run; pass --resume to continue it or choose another --out")
    config.check()
    if config.threads:
        torch.set_num_threads(config.threads)
    folder.mkdir(parents=True, exist_ok=True)
    write_atomically(folder / "config.json", json.dumps(config.to_dict(), indent=2))

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        vae = config.architecture.build()
    optimizer = torch.optim.AdamW(vae.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    state = {"step": 0, "elapsed_seconds": 0.0, "samples_seen": 0}
    if resume:
        parts, state = read_checkpoint(folder, ["vae", "optimizer"])
        vae.load_state_dict(parts["vae"])
        load_optimizer_tensors(optimizer, parts["optimizer"])
        drop_log_after(folder / "train_log.jsonl", state["step"])
    vae.train()
    log_file = open(folder / "train_log.jsonl", "a" if resume else "w", encoding="utf-8")
    started, elapsed_before, last_checkpoint = time.time(), state["elapsed_seconds"], time.time()
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.mixed_precision == "bf16")

    def checkpoint():
        state["elapsed_seconds"] = elapsed_before + time.time() - started
        write_checkpoint(folder, {"vae": vae.state_dict(), "optimizer": optimizer_tensors(optimizer)}, state)

    def log(record: dict) -> None:
        record["elapsed_seconds"] = round(elapsed_before + time.time() - started, 1)
        log_file.write(json.dumps(record) + "\n")
        log_file.flush()

    def validate():
        vae.eval()
        try:
            report = round_trip_report(vae, config.validation_scenes, size=config.architecture.image_size)
        finally:
            vae.train()
        log({"step": state["step"], "validation": {key: value for key, value in report.items() if key != "failures"}})
        progress.write(f"validation at step {state['step']}: {report['exact']}/{report['scenes']} read back exactly, "
                       f"mean error {report['mean_abs_error']:.2f} levels")

    progress = tqdm(total=config.steps, initial=state["step"], disable=not config.progress, desc="train-vae",
                    unit="step", dynamic_ncols=True)
    window = []
    try:
        while state["step"] < config.steps:
            if config.stop_at_step is not None and state["step"] >= config.stop_at_step:
                break
            step = state["step"]
            for group in optimizer.param_groups:
                group["lr"] = learning_rate_at(step, config)
            images = training_batch(config, step)
            with autocast:
                posterior = vae.encode(images).latent_dist
                generator = torch.Generator("cpu").manual_seed(stream_seed(config.seed, step))
                decoded = vae.decode(posterior.sample(generator)).sample
            decoded = decoded.float()
            reconstruction = (decoded - images).abs().mean() + (decoded - images).pow(2).mean()
            # KL summed over a picture's latents, weighed against the per-pixel loss as SD's VAE weighs it
            # against its per-picture sum of pixel losses.
            kl = posterior.kl().float().mean()
            loss = reconstruction + config.kl_weight * kl / images[0].numel()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
            optimizer.step()
            state["step"] = step + 1
            state["samples_seen"] += images.shape[0]
            window.append((reconstruction.item(), kl.item() / posterior.mean[0].numel()))
            progress.update(1)
            if state["step"] % 25 == 0 or state["step"] == config.steps:
                rec, kls = np.mean(window, axis=0)
                progress.set_postfix(reconstruction=f"{rec:.4f}")
                log({"step": state["step"], "loss": round(float(rec), 5), "kl_per_value": round(float(kls), 4),
                     "lr": learning_rate_at(step, config)})
                window = []
            if config.validate_every and state["step"] % config.validate_every == 0:
                validate()
            if time.time() - last_checkpoint >= config.checkpoint_minutes * 60:
                checkpoint()
                last_checkpoint = time.time()
            if config.time_limit_minutes and time.time() - started >= config.time_limit_minutes * 60:
                break
        checkpoint()
        if state["step"] >= config.steps and config.validate_every and state["step"] % config.validate_every:
            validate()
    finally:
        progress.close()
        log_file.close()
    write_vae_plot(folder)
    return folder


def write_vae_plot(folder: Path) -> None:
    """training.png beside the log: reconstruction loss and round-trip exactness against the step."""
    from matplotlib.figure import Figure  # no pyplot: no process-wide backend or figure registry

    records = [json.loads(line) for line in (folder / "train_log.jsonl").read_text(encoding="utf-8").splitlines()]
    losses = [(r["step"], r["loss"]) for r in records if "loss" in r]
    checks = [(r["step"], r["validation"]["exact_share"], r["validation"]["mean_abs_error"],
               r["validation"]["background_error"]) for r in records if "validation" in r]
    figure = Figure(figsize=(10, 3.6))
    loss_axis, exact_axis = figure.subplots(1, 2)
    if losses:
        loss_axis.plot(*zip(*losses), lw=0.8)
        loss_axis.set_yscale("log")
    loss_axis.set(xlabel="step", ylabel="L1 + L2 pixel loss", title="VAE reconstruction")
    exact_axis.set(xlabel="step", ylabel="read back exactly", ylim=(0, 1.05), title="round trip of validation renders")
    if checks:
        steps, exact, error, background = zip(*checks)
        exact_axis.plot(steps, exact, marker="o", color="tab:blue", label="read back exactly")
        levels = exact_axis.twinx()
        levels.plot(steps, error, marker="s", color="tab:orange", label="mean error (levels)")
        levels.plot(steps, background, marker="^", color="tab:green", label="background off white (levels)")
        levels.set(ylabel="levels of 255", ylim=(0, max(max(error), 1.0) * 1.1))
        handles = exact_axis.get_legend_handles_labels()[0] + levels.get_legend_handles_labels()[0]
        exact_axis.legend(handles, [h.get_label() for h in handles], fontsize=8, loc="center right")
    figure.tight_layout()
    figure.savefig(folder / "training.png", dpi=110)


def load_trained_vae(run_folder: str | Path):
    """The run's latest weights as an AutoencoderKL in eval mode (fp32)."""
    run_folder = Path(run_folder)
    if not has_checkpoint(run_folder):
        raise ValueError(f"{run_folder}: no VAE checkpoint (checkpoint/trainer_state.json is missing)")
    config = VaeTrainConfig.from_dict(json.loads((run_folder / "config.json").read_text(encoding="utf-8")))
    vae = config.architecture.build()
    parts, state = read_checkpoint(run_folder, ["vae"])
    vae.load_state_dict(parts["vae"])
    return vae.eval().requires_grad_(False), config, state


def export_vae(run_folder: str | Path, output: str | Path, dtype: torch.dtype = torch.float16,
               pictures: int = 512) -> Path:
    """Write the run's VAE as a diffusers model folder, its scaling factor measured on `pictures` renders
    (see the module doc)."""
    vae, config, state = load_trained_vae(run_folder)
    scaling = measure_scaling_factor(vae, pictures=pictures, size=config.architecture.image_size)
    vae.register_to_config(scaling_factor=round(scaling, 5))
    output = Path(output)
    vae.to(dtype).save_pretrained(output, safe_serialization=True)
    info = {"training": {"config": config.to_dict(), "steps": state["step"], "samples_seen": state["samples_seen"],
                         "wall_seconds": round(state["elapsed_seconds"], 1)},
            "scaling_factor": {"value": round(scaling, 5), "measured_on": f"{pictures} random renders (1-8 "
                               "objects), 1 / std of posterior samples"}}
    write_atomically(output / "compose_vae.json", json.dumps(info, indent=2) + "\n")
    return output
