"""Text-to-image models as `compose` uses them: the bundled shapes model and Stable Diffusion folders.

A `ModelBundle` holds a diffusers UNet2DConditionModel, a transformers CLIP text encoder and
tokenizer, a noise-scheduler config and an image codec that maps pictures to the UNet's sample space:
- the bundled model works on pixels folded into channels (`PixelFoldCodec`: 64 x 64 x 3 pixels ->
  16 x 16 x 48 with `pixel_unshuffle`), which keeps the UNet small and fast on a CPU;
- a Stable Diffusion 1.x/2.x folder in diffusers format uses its VAE (`VaeCodec`).
Everything is saved and loaded with safetensors and JSON configs (the save_pretrained convention);
nothing is fetched from a hub and no pickle is ever loaded.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from compose.files import write_atomically

logger = logging.getLogger(__name__)

# The model shipped in the package (compose/bundled/): shapes-v3, a Stable Diffusion-format folder (its
# own small VAE, UNet and CLIP text encoder) taught region-masked conditioning. shapes-v2, the pixel-fold
# model bundled until 2026-12-02, lives on in the repository's models/ folder.
BUNDLED_NAME = "shapes-v3"
FORMER_BUNDLED = {"shapes-v2": "models/shapes-v2"}  # names once bundled -> where the repository keeps them
# The world every model of this project is trained on (shapes world spec v1): one white canvas.
SHAPES_WORLD = {"spec": "shapes world spec v1", "backgrounds": 1, "background_rgb": [255, 255, 255],
                "about": "Every picture of this model has the one white background of the shapes world, so "
                         "the compose pipeline leaves background phrases out (ModelBundle.background_text) and "
                         "draws a scene with no objects as that canvas (ModelBundle.empty_canvas)."}
BUNDLED_DIR = Path(__file__).resolve().parent.parent / "bundled" / BUNDLED_NAME
MODEL_FORMAT = "compose.model/v1"


class ModelLoadError(ValueError):
    """A model name or folder that cannot be loaded; the message names the path and what is wrong."""


@dataclass(frozen=True)
class ShapesModelConfig:
    """Architecture of the bundled shapes-world model (see its model card for the measured trade-offs)."""

    image_size: int = 64
    fold: int = 4  # pixels folded into channels: 64 x 64 x 3 -> 16 x 16 x 48
    # Three levels (16 x 16, 8 x 8, 4 x 4), attention at each: 0.85 s per CPU training step of 32 under
    # bf16, against 1.08 s for the two-level (96, 192) UNet of shapes-v1 (measured on the project's
    # 2-core CPU, 2 threads); the 4 x 4 level sees the whole picture at once (how many objects there are).
    block_out_channels: tuple[int, ...] = (64, 128, 128)
    attention_levels: tuple[bool, ...] = (True, True, True)  # cross-attention at 16 x 16, 8 x 8 and 4 x 4
    layers_per_block: int = 1
    attention_heads: int = 4
    text_hidden: int = 128
    text_layers: int = 3
    text_heads: int = 4
    text_length: int = 64  # tokens of a whole caption
    phrase_length: int = 16  # tokens of one region phrase in region-masked conditioning
    # Written before every region phrase, so the model can tell "this object is exactly here" (a region
    # phrase) from "draw this scene, you choose where" (a whole caption); without it the two conflict.
    region_prefix: str = "region:"
    prediction_type: str = "v_prediction"
    beta_schedule: str = "squaredcos_cap_v2"
    # A Stable Diffusion-format latent model instead of folded pixels: the path of a trained VAE folder
    # (`compose train-vae --export`); the UNet then denoises that VAE's latents (see stable_diffusion_config).
    vae: str | None = None

    def __post_init__(self):
        if len(self.block_out_channels) != len(self.attention_levels):
            raise ValueError(f"model config: {len(self.block_out_channels)} block widths {self.block_out_channels} but "
                             f"{len(self.attention_levels)} attention levels {self.attention_levels}; give one per level")


class PixelFoldCodec:
    """Images in [-1, 1] <-> folded pixels: each fold x fold patch becomes 3 * fold^2 channels."""

    def __init__(self, fold: int):
        self.fold = fold
        self.channels = 3 * fold * fold
        self.downscale = fold

    def encode(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return F.pixel_unshuffle(images, self.fold)

    def decode(self, samples: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(samples, self.fold).clamp(-1, 1)


class VaeCodec:
    """Images in [-1, 1] <-> Stable Diffusion VAE latents (scaled by the VAE's scaling factor)."""

    def __init__(self, vae):
        self.vae = vae
        self.channels = vae.config.latent_channels
        self.downscale = 2 ** (len(vae.config.block_out_channels) - 1)
        self.scaling = vae.config.scaling_factor

    def encode(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        posterior = self.vae.encode(images.to(self.vae.dtype)).latent_dist
        return posterior.sample(generator) * self.scaling

    def decode(self, samples: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(samples.to(self.vae.dtype) / self.scaling).sample.clamp(-1, 1)


class XLUNet(torch.nn.Module):
    """An SDXL UNet called the way compose calls a Stable Diffusion 1.x/2.x one.

    SDXL's UNet also wants the pooled text embedding and the "added time ids" (original size, crop,
    target size) of every batch row. compose's conditioning carries the pooled embedding as one extra
    row after the tokens (ModelBundle.with_pooled); this wrapper takes it off before the UNet sees the
    context, so region control, attention recording and guidance see exactly the text tokens. The time
    ids are the picture's own size, uncropped (what SDXL's pipeline passes by default)."""

    def __init__(self, unet, pooled_dim: int, downscale: int):
        super().__init__()
        self.unet = unet
        self.pooled_dim = pooled_dim
        self.downscale = downscale

    @property
    def config(self):
        return self.unet.config

    @property
    def attn_processors(self):
        return self.unet.attn_processors

    def set_attn_processor(self, processor):
        self.unet.set_attn_processor(processor)

    def forward(self, sample, timestep, encoder_hidden_states, cross_attention_kwargs=None, **kwargs):
        pooled = encoder_hidden_states[:, -1, :self.pooled_dim]
        side = sample.shape[-1] * self.downscale
        time_ids = torch.tensor([side, side, 0, 0, side, side], dtype=pooled.dtype, device=pooled.device)
        added = {"text_embeds": pooled, "time_ids": time_ids.expand(sample.shape[0], -1)}
        return self.unet(sample, timestep, encoder_hidden_states=encoder_hidden_states[:, :-1],
                         added_cond_kwargs=added, cross_attention_kwargs=cross_attention_kwargs, **kwargs)


@dataclass
class ModelBundle:
    """The parts a text-to-image pipeline needs, loaded once and shared by every call."""

    unet: object
    text_encoder: object
    tokenizer: object
    scheduler_config: dict
    codec: object
    name: str
    native_size: int
    text_length: int
    phrase_length: int
    info: dict = field(default_factory=dict)
    region_prefix: str = ""  # text written before each region phrase (the bundled model's own marker)
    # The world the model draws, when its compose_model.json declares one: {"spec": ..., "backgrounds": 1}
    # for the shapes world (one white canvas). See `background_text`.
    world: dict | None = None
    # SDXL-class models: the second text encoder (with projection) and its tokenizer; `unet` is then an
    # XLUNet. An empty negative prompt is all zeros when the model asks for it (SDXL's
    # force_zeros_for_empty_prompt).
    text_encoder_2: object = None
    tokenizer_2: object = None
    zero_empty_negative: bool = False

    @property
    def default_steps(self) -> int:
        """Denoising steps when a call names none: the model's own (compose_model.json "sampling": {"steps": N},
        measured for it; the bundled shapes-v3: 2), else DEFAULT_STEPS."""
        return sampling_steps(self.info)

    def steps_or_default(self, steps: int | None, method: str = "compose") -> int:
        """`steps`, or the model's default for `method` (the plain method's own when the model names one)."""
        return sampling_steps(self.info, method) if steps is None else steps

    @property
    def default_guidance(self) -> float:
        """Classifier-free guidance when a call names none: the model's own ("sampling": {"guidance": G},
        measured for it; shapes-v3: 1), else DEFAULT_GUIDANCE."""
        return sampling_guidance(self.info)

    def guidance_or_default(self, guidance: float | None, method: str = "compose") -> float:
        """`guidance`, or the model's default for `method` (as steps_or_default)."""
        return sampling_guidance(self.info, method) if guidance is None else guidance

    @property
    def device(self) -> torch.device:
        return next(self.unet.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.unet.parameters()).dtype

    def to(self, device: str | torch.device, dtype: torch.dtype | None = None) -> ModelBundle:
        for module in self.modules():
            current = next(module.parameters()).dtype
            if dtype is None or dtype == current:
                module.to(device=device)  # no cast: diffusers warns about needless ones
            else:
                module.to(device=device, dtype=dtype)
        return self

    def modules(self):
        modules = [self.unet, self.text_encoder]
        if self.text_encoder_2 is not None:
            modules.append(self.text_encoder_2)
        if isinstance(self.codec, VaeCodec):
            modules.append(self.codec.vae)
        return modules

    def encode(self, texts: list[str], length: int, negative: bool = False) -> torch.Tensor:
        """Token embeddings (len(texts), length, D) of each text, padded or cut to `length` tokens. An SDXL
        model's are both encoders' penultimate hidden states side by side, as its pipeline builds them;
        an empty negative text (`negative`) is zeros when the model asks for that."""
        from compose.model.text import encode_texts

        if self.text_encoder_2 is None:
            return encode_texts(self.text_encoder, self.tokenizer, texts, length)
        parts = []
        for encoder, tokenizer in ((self.text_encoder, self.tokenizer), (self.text_encoder_2, self.tokenizer_2)):
            ids = tokenizer(texts, padding="max_length", max_length=length, truncation=True, return_tensors="pt")
            device = next(encoder.parameters()).device
            parts.append(encoder(ids.input_ids.to(device), output_hidden_states=True).hidden_states[-2])
        tokens = torch.cat(parts, dim=-1)
        return tokens * self._kept(texts, negative).to(tokens)[:, None, None]

    def with_pooled(self, tokens: torch.Tensor, texts: list[str], negative: bool = False) -> torch.Tensor:
        """`tokens` (N, T, D) with, for an SDXL model, one more row holding each text's pooled embedding
        (the second encoder's projection, zero-padded to D), which XLUNet hands to the UNet; unchanged
        for other models."""
        if self.text_encoder_2 is None:
            return tokens
        ids = self.tokenizer_2(texts, padding="max_length", max_length=self.text_length, truncation=True,
                               return_tensors="pt").input_ids
        pooled = self.text_encoder_2(ids.to(next(self.text_encoder_2.parameters()).device)).text_embeds
        pooled = pooled * self._kept(texts, negative).to(pooled)[:, None]
        if pooled.shape[-1] > tokens.shape[-1]:
            raise ValueError(f"SDXL model: pooled embedding width {pooled.shape[-1]} exceeds the context width "
                             f"{tokens.shape[-1]}")
        row = torch.zeros(tokens.shape[0], 1, tokens.shape[-1], dtype=tokens.dtype, device=tokens.device)
        row[:, 0, :pooled.shape[-1]] = pooled.to(tokens)
        return torch.cat([tokens, row], dim=1)

    def _kept(self, texts: list[str], negative: bool) -> torch.Tensor:
        """1 per text, 0 for an empty negative text of a model that zeroes those."""
        zero = negative and self.zero_empty_negative
        return torch.tensor([0.0 if zero and not text else 1.0 for text in texts])

    def background_text(self, text: str) -> str:
        """The background phrase this model is given: `text` as it is, or "" when the model declares a
        world with one background (the shapes world's white canvas, shapes world spec v1): there a phrase
        such as "a plain white background" names nothing the model can change and, never seen in
        training, only disturbs the picture (compose issue 14, section 2). Leaving one out is logged."""
        if text and self.world is not None and self.world.get("backgrounds") == 1:
            logger.info("background %r left out: the model draws %s, which has one background", text,
                        self.world.get("spec", "a world"))
            return ""
        return text

    def empty_canvas(self, size: int):
        """The picture of a scene with no objects, when the model's world declares its one background
        colour (the shapes world's white canvas): (size, size, 3) uint8; else None (the model draws it)."""
        colour = (self.world or {}).get("background_rgb")
        if colour is None:
            return None
        import numpy as np

        return np.broadcast_to(np.asarray(colour, dtype=np.uint8), (size, size, 3)).copy()

    def make_scheduler(self, kind: str = "ddim"):
        """A fresh scheduler of `kind` from the model's noise-schedule config (never a shared one)."""
        from diffusers import DDIMScheduler, DPMSolverMultistepScheduler, EulerDiscreteScheduler

        classes = {"ddim": DDIMScheduler, "dpm": DPMSolverMultistepScheduler, "euler": EulerDiscreteScheduler}
        if kind not in classes:
            raise ValueError(f"unknown sampler {kind!r}; choose one of {', '.join(classes)}")
        config = dict(self.scheduler_config)
        if kind == "ddim":  # only for a config that names no spacing: each model's own config decides
            config.setdefault("timestep_spacing", "trailing")
        return classes[kind].from_config(config)


# Stable Diffusion's noise schedule ("scaled_linear", betas 0.00085 to 0.012 over 1000 steps).
SD_BETAS = {"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012}
DEFAULT_STEPS = 25  # denoising steps for a model that names no default of its own (a Stable Diffusion folder)
DEFAULT_GUIDANCE = 4.0  # classifier-free guidance scale for a model that names none of its own
SD_TEXT_LENGTH = 77  # CLIP's context, as every Stable Diffusion text encoder has
SD_PHRASE_LENGTH = 20  # what load_model gives a Stable Diffusion folder's region phrases


def stable_diffusion_config(vae: str, **changes) -> ShapesModelConfig:
    """The architecture of a Stable Diffusion-format model of the shapes world (shapes-sd): a latent
    UNet on `vae`'s 16 x 16 x 4 latents of 128 px pictures, cross-attention at every level as SD has,
    SD's 77-token text context and noise schedule, v-prediction (as SD 2.x), and no region marker: it
    is trained on whole captions only, so it stands for a checkpoint nobody tuned for `compose`."""
    values = dict(image_size=128, fold=8, block_out_channels=(64, 128, 128), attention_levels=(True, True, True),
                  text_length=SD_TEXT_LENGTH, phrase_length=SD_PHRASE_LENGTH, region_prefix="",
                  beta_schedule="scaled_linear", vae=str(vae))
    values.update(changes)
    return ShapesModelConfig(**values)


def _codec_for(config: ShapesModelConfig):
    if config.vae is None:
        return PixelFoldCodec(config.fold)
    from diffusers import AutoencoderKL

    vae = _load_part(AutoencoderKL.from_pretrained, Path(config.vae), "VAE", torch_dtype=torch.float32)
    codec = VaeCodec(vae.eval().requires_grad_(False))
    if config.image_size % codec.downscale:
        raise ValueError(f"model config: image_size {config.image_size} is not a multiple of the VAE's downscale "
                         f"{codec.downscale}")
    return codec


def build_shapes_model(config: ShapesModelConfig, tokenizer) -> ModelBundle:
    """A freshly initialised model of `config` (random weights; a latent model's VAE loaded from its
    folder) around `tokenizer`."""
    from diffusers import DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    codec = _codec_for(config)
    down = tuple("CrossAttnDownBlock2D" if a else "DownBlock2D" for a in config.attention_levels)
    up = tuple("CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(config.attention_levels))
    unet = UNet2DConditionModel(
        sample_size=config.image_size // codec.downscale, in_channels=codec.channels, out_channels=codec.channels,
        block_out_channels=config.block_out_channels, down_block_types=down, up_block_types=up,
        layers_per_block=config.layers_per_block, cross_attention_dim=config.text_hidden,
        attention_head_dim=config.attention_heads, norm_num_groups=32,
    )
    text_config = CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=config.text_hidden, intermediate_size=4 * config.text_hidden,
        num_hidden_layers=config.text_layers, num_attention_heads=config.text_heads,
        max_position_embeddings=max(config.text_length, config.phrase_length),
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    text_encoder = CLIPTextModel(text_config)
    betas = SD_BETAS if config.beta_schedule == "scaled_linear" else {"beta_schedule": config.beta_schedule}
    scheduler = DDPMScheduler(num_train_timesteps=1000, prediction_type=config.prediction_type, clip_sample=False,
                              **betas)
    if config.vae is not None:
        tokenizer.model_max_length = config.text_length
    return ModelBundle(unet=unet, text_encoder=text_encoder, tokenizer=tokenizer,
                       scheduler_config=dict(scheduler.config), codec=codec,
                       name=BUNDLED_NAME if config.vae is None else "shapes-sd",
                       native_size=config.image_size, text_length=config.text_length,
                       phrase_length=config.phrase_length, info={"architecture": asdict(config)},
                       region_prefix=config.region_prefix,
                       # A Stable Diffusion-format model stands for a user's checkpoint: it declares no world.
                       world=dict(SHAPES_WORLD) if config.vae is None else None)


def save_bundle(bundle: ModelBundle, folder: str | Path, dtype: torch.dtype = torch.float16,
                max_shard_size: str = "15MB", info: dict | None = None) -> Path:
    """Write a bundled-format model folder: configs, safetensors weights (in `dtype`), tokenizer."""
    from diffusers import DDPMScheduler

    import copy

    if not isinstance(bundle.codec, PixelFoldCodec):
        raise ValueError("save_bundle writes pixel-fold models; save Stable Diffusion parts with diffusers")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, module in (("unet", bundle.unet), ("text_encoder", bundle.text_encoder)):
        # A converted copy: casting the caller's module down and back would round its weights.
        copy.deepcopy(module).to(dtype).save_pretrained(folder / name, safe_serialization=True,
                                                        max_shard_size=max_shard_size)
    bundle.tokenizer.save_pretrained(folder / "tokenizer")
    DDPMScheduler.from_config(bundle.scheduler_config).save_pretrained(folder / "scheduler")
    meta = {**bundle.info, **(info or {}), "format": MODEL_FORMAT,
            "codec": {"type": "pixel_fold", "fold": bundle.codec.fold}, "native_size": bundle.native_size,
            "text_length": bundle.text_length, "phrase_length": bundle.phrase_length,
            "region_prefix": bundle.region_prefix, **({"world": bundle.world} if bundle.world else {})}
    write_atomically(folder / "compose_model.json", json.dumps(meta, indent=2) + "\n")
    return folder


def caption_length(tokenizer) -> int:
    """A Stable Diffusion tokenizer's context: its model_max_length, or 77 when it names none (transformers
    writes a huge number then)."""
    length = int(getattr(tokenizer, "model_max_length", SD_TEXT_LENGTH))
    return length if length < 10_000 else SD_TEXT_LENGTH


TRAINING_RECORD = "compose_training.json"  # how a Stable Diffusion-format model of ours was made, beside its parts


def training_record(folder: Path) -> dict:
    """The record `compose export-model` writes beside a Stable Diffusion-format model of ours ({} for a plain
    SD folder): how it was trained, the region marker it learned (training.config.model.region_prefix) and,
    when given, its default sampling ("sampling": {"steps": N, "guidance": G}) and the world it draws
    ("world": SHAPES_WORLD), as a pixel-fold model's compose_model.json names them."""
    record = folder / TRAINING_RECORD
    if not record.is_file():
        return {}
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
        marker = trained_marker(data)
        check_sampling(data)
    except (OSError, json.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as error:
        raise ModelLoadError(f"{record}: not a valid training record ({type(error).__name__}: {error}); it needs "
                             "training.config.model, and sampling.steps (1 to 1000) and sampling.guidance (0 to 100) "
                             "if it names them") from error
    if not isinstance(marker, str):
        raise ModelLoadError(f"{record}: training.config.model.region_prefix must be text, not {marker!r}")
    if not isinstance(data.get("world", {}), dict):
        raise ModelLoadError(f"{record}: world must be an object such as "
                             '{"spec": "shapes world spec v1", "backgrounds": 1}, or absent')
    return data


def trained_marker(record: dict) -> str:
    """The region marker a training record names ("" for none, or for no record: a plain SD folder)."""
    return record["training"]["config"]["model"].get("region_prefix", "") if record else ""


def stable_diffusion_bundle(unet, vae, text_encoder, tokenizer, scheduler_config: dict, name: str,
                            text_encoder_2=None, tokenizer_2=None, zero_empty_negative: bool = False) -> ModelBundle:
    """A ModelBundle around a Stable Diffusion 1.x/2.x model's parts (shared, not copied): its VAE as the
    codec, the tokenizer's context as the caption length (77 when the tokenizer names none). With a
    second text encoder and tokenizer it is an SDXL-class model (its UNet wrapped in XLUNet)."""
    codec = VaeCodec(vae)
    text_length = caption_length(tokenizer)
    if text_encoder_2 is not None:
        if tokenizer_2 is None:
            raise ModelLoadError(f"{name}: an SDXL model needs tokenizer_2 beside text_encoder_2")
        unet = XLUNet(unet, int(text_encoder_2.config.projection_dim), codec.downscale)
    return ModelBundle(unet=unet, text_encoder=text_encoder, tokenizer=tokenizer, scheduler_config=dict(scheduler_config),
                       codec=codec, name=name, native_size=int(unet.config.sample_size) * codec.downscale,
                       text_length=text_length, phrase_length=min(text_length, SD_PHRASE_LENGTH), info={},
                       text_encoder_2=text_encoder_2, tokenizer_2=tokenizer_2,
                       zero_empty_negative=zero_empty_negative and text_encoder_2 is not None)


def save_stable_diffusion(bundle: ModelBundle, folder: str | Path, dtype: torch.dtype = torch.float16) -> Path:
    """Write a latent model as a Stable Diffusion folder, exactly as diffusers' `save_pretrained` lays one
    out (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/; safetensors in `dtype`), so
    that `StableDiffusionPipeline.from_pretrained(folder)` loads it with no `compose` code. The scheduler is
    DDIM with SD's settings (steps_offset 1, "leading" spacing) over the model's own noise schedule."""
    import copy

    from diffusers import DDIMScheduler, StableDiffusionPipeline

    if not isinstance(bundle.codec, VaeCodec):
        raise ValueError("save_stable_diffusion writes latent (VAE) models; pixel-fold models use save_bundle")
    parts = {name: copy.deepcopy(module).to(dtype) for name, module in
             (("unet", bundle.unet), ("text_encoder", bundle.text_encoder), ("vae", bundle.codec.vae))}
    # Keys starting with "_" (diffusers' record of defaulted values) would undo the overrides.
    settings = {key: value for key, value in bundle.scheduler_config.items() if not key.startswith("_")}
    scheduler = DDIMScheduler.from_config({**settings, "steps_offset": 1, "set_alpha_to_one": False,
                                           "timestep_spacing": "leading"})
    pipeline = StableDiffusionPipeline(vae=parts["vae"], text_encoder=parts["text_encoder"], tokenizer=bundle.tokenizer,
                                       unet=parts["unet"], scheduler=scheduler, safety_checker=None,
                                       feature_extractor=None, requires_safety_checker=False)
    folder = Path(folder)
    pipeline.save_pretrained(folder, safe_serialization=True)
    # transformers 5 loads a model in the dtype its config names ("auto"), diffusers in float32: a plain
    # from_pretrained would pair an fp16 text encoder with an fp32 UNet and fail. The weights stay fp16 on
    # disk; the config asks for float32 compute, as diffusers' parts get (torch_dtype= still overrides it).
    text_config = folder / "text_encoder" / "config.json"
    values = json.loads(text_config.read_text(encoding="utf-8"))
    values["dtype"] = "float32"
    write_atomically(text_config, json.dumps(values, indent=2) + "\n")
    return folder


def _load_part(loader, path: Path, what: str, **kwargs):
    if not path.is_dir():
        raise ModelLoadError(f"{path}: missing the {what} folder; a model folder needs unet/, text_encoder/, "
                             "tokenizer/ and scheduler/")
    try:
        return loader(path, local_files_only=True, **kwargs)
    except (OSError, ValueError, RuntimeError, KeyError, json.JSONDecodeError) as error:
        raise ModelLoadError(f"{path}: the {what} cannot be loaded ({type(error).__name__}: "
                             f"{str(error).splitlines()[0] if str(error) else 'no detail'}); "
                             "is the folder complete and its weights file intact?") from error


def load_model(name_or_path: str | Path | None = None, device: str = "cpu",
               dtype: torch.dtype = torch.float32) -> ModelBundle:
    """Load the bundled model (None, "bundled" or its name) or a model folder by path.

    A folder with compose_model.json is a bundled-format model; a folder with model_index.json and
    a vae/ is a Stable Diffusion checkpoint in diffusers format. Anything else is a ModelLoadError
    naming the path and what a model folder must contain."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ModelLoadError(f"--device {device}: this torch build sees no CUDA GPU; use --device cpu")
    with _quiet_loading(diffusers_logging, transformers_logging):
        return _load_model(name_or_path, device, dtype)


@contextlib.contextmanager
def _quiet_loading(*libraries):
    """Loading bars of diffusers and transformers off while a model loads (a 20 MB model's bars are only
    noise), and back as they were afterwards: nothing process-wide is left changed."""
    enabled = [library.is_progress_bar_enabled() for library in libraries]
    for library in libraries:
        library.disable_progress_bar()
    try:
        yield
    finally:
        for library, was_enabled in zip(libraries, enabled):
            if was_enabled:
                library.enable_progress_bar()


def _pipeline_setting(path: Path, key: str, default):
    """One setting of a diffusers folder's model_index.json (the default when the file or key is absent)."""
    try:
        return json.loads((path / "model_index.json").read_text(encoding="utf-8")).get(key, default)
    except (OSError, json.JSONDecodeError, AttributeError):
        return default


def _sampling_of(meta: dict, method: str) -> dict | object:
    """A model description's "sampling" record for `method`: for the plain method, its "plain" entry laid
    over it. A model tuned for region control may name one: shapes-v3 draws compose pictures best at 2
    steps without guidance, but whole prompts need a full schedule with guidance (plain single objects
    30% right at 2 steps, guidance 1; 94% at 25 steps, guidance 4)."""
    sampling = meta.get("sampling") or {}
    if not isinstance(sampling, dict) or "plain" not in sampling:
        return sampling
    plain = sampling["plain"]
    if not isinstance(plain, dict):
        raise ValueError(f'sampling.plain must be an object such as {{"steps": 25, "guidance": 4}}, not {plain!r}')
    return {**sampling, **plain} if method == "plain" else sampling


def sampling_steps(meta: dict, method: str = "compose") -> int:
    """The default denoising steps a model description names for `method` ("sampling": {"steps": N}, and
    "plain": {"steps": N} for the plain method), DEFAULT_STEPS when it names none; ValueError for anything
    but a whole number from 1 to 1000."""
    sampling = _sampling_of(meta, method)
    steps = sampling.get("steps", DEFAULT_STEPS) if isinstance(sampling, dict) else sampling
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= 1000:
        raise ValueError(f"sampling.steps must be a whole number of steps from 1 to 1000, not {steps!r}")
    return steps


def check_sampling(meta: dict) -> None:
    """ValueError unless a model description's default sampling is well formed for every method (compose's,
    and the plain method's own when it names one)."""
    for method in ("compose", "plain"):
        sampling_steps(meta, method)
        sampling_guidance(meta, method)


def _is_bundled(name_or_path) -> bool:
    return name_or_path in (None, "bundled", BUNDLED_NAME)


def model_folder(name_or_path: str | Path | None) -> Path:
    """The folder a model name or path stands for: the bundled model's for None, "bundled" or its name."""
    return BUNDLED_DIR if _is_bundled(name_or_path) else Path(name_or_path).expanduser()


def sampling_guidance(meta: dict, method: str = "compose") -> float:
    """The default guidance scale a model description names for `method` (as sampling_steps reads steps),
    DEFAULT_GUIDANCE when it names none; ValueError for anything but a number from 0 to 100."""
    sampling = _sampling_of(meta, method)
    guidance = sampling.get("guidance", DEFAULT_GUIDANCE) if isinstance(sampling, dict) else DEFAULT_GUIDANCE
    if isinstance(guidance, bool) or not isinstance(guidance, (int, float)) or not 0 <= guidance <= 100:
        raise ValueError(f"sampling.guidance must be a guidance scale from 0 to 100, not {guidance!r}")
    return float(guidance)


def _description_of(name_or_path: str | Path | None) -> dict:
    """A model's compose_model.json, or the training record of a Stable Diffusion folder of ours, read without
    loading the weights; {} for a plain SD folder, no model or a malformed one (loading says what is wrong)."""
    path = model_folder(name_or_path)
    try:
        if not (path / "compose_model.json").is_file():
            return training_record(path)
        return json.loads((path / "compose_model.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, ValueError):
        return {}


def default_steps_of(name_or_path: str | Path | None) -> int:
    """A model's default denoising steps (ModelBundle.default_steps) read from its description alone,
    without loading it: for settings that must be known before the weights are (the benchmark's run.json)."""
    try:
        return sampling_steps(_description_of(name_or_path))
    except (AttributeError, ValueError):
        return DEFAULT_STEPS


def default_guidance_of(name_or_path: str | Path | None) -> float:
    """A model's default guidance scale (ModelBundle.default_guidance), read as default_steps_of reads steps."""
    try:
        return sampling_guidance(_description_of(name_or_path))
    except (AttributeError, ValueError):
        return DEFAULT_GUIDANCE


def _load_model(name_or_path, device, dtype) -> ModelBundle:
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    if _is_bundled(name_or_path):
        path = BUNDLED_DIR
        if not (path / "unet").is_dir():
            raise ModelLoadError(f"the bundled model is not installed at {path}; train one with `compose train` "
                                 "and export it there, or pass --model PATH")
    else:
        path = Path(name_or_path).expanduser()
        if not path.exists():
            moved = FORMER_BUNDLED.get(str(name_or_path))
            hint = f" ({name_or_path} is no longer bundled: the repository keeps it in {moved}/)" if moved else ""
            raise ModelLoadError(f"model {str(name_or_path)!r}: no such file or folder{hint}; give 'bundled' or the "
                                 "path of a model folder in diffusers format")
        if not path.is_dir():
            raise ModelLoadError(f"model {str(path)!r} is a file; a model is a folder (unet/, text_encoder/, "
                                 "tokenizer/, scheduler/, and vae/ for Stable Diffusion)")
    unet = _load_part(UNet2DConditionModel.from_pretrained, path / "unet", "UNet", torch_dtype=dtype)
    text_encoder = _load_part(CLIPTextModel.from_pretrained, path / "text_encoder", "text encoder", torch_dtype=dtype)
    tokenizer = _load_part(CLIPTokenizer.from_pretrained, path / "tokenizer", "tokenizer")
    scheduler_file = path / "scheduler" / "scheduler_config.json"
    try:
        scheduler_config = json.loads(scheduler_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ModelLoadError(f"{scheduler_file}: cannot read the noise-scheduler config ({error})") from error

    meta_file = path / "compose_model.json"
    if meta_file.is_file():
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            if meta.get("format") != MODEL_FORMAT or meta.get("codec", {}).get("type") != "pixel_fold":
                raise ModelLoadError(f"{meta_file}: format must be {MODEL_FORMAT} with a pixel_fold codec")
            codec = PixelFoldCodec(int(meta["codec"]["fold"]))
            sizes = {key: int(meta[key]) for key in ("native_size", "text_length", "phrase_length")}
            region_prefix = str(meta.get("region_prefix", ""))  # models saved before the marker have none
            world = meta.get("world")
            try:
                check_sampling(meta)
            except ValueError as error:
                raise ModelLoadError(f"{meta_file}: {error}") from error
            if world is not None and not isinstance(world, dict):
                raise ModelLoadError(f"{meta_file}: world must be an object such as "
                                     '{"spec": "shapes world v1", "backgrounds": 1}, or absent')
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as error:
            if isinstance(error, ModelLoadError):
                raise
            raise ModelLoadError(f"{meta_file}: not a valid compose model description ({type(error).__name__}: "
                                 f"{error}); it needs format, codec.fold, native_size, text_length and "
                                 "phrase_length") from error
        bundle = ModelBundle(unet=unet, text_encoder=text_encoder, tokenizer=tokenizer,
                             scheduler_config=scheduler_config, codec=codec, name=meta.get("name", path.name),
                             info=meta, region_prefix=region_prefix, world=world, **sizes)
    elif (path / "vae").is_dir():
        from diffusers import AutoencoderKL

        vae = _load_part(AutoencoderKL.from_pretrained, path / "vae", "VAE", torch_dtype=dtype)
        extra = {}
        if (path / "text_encoder_2").is_dir():  # SDXL-class: a second text encoder, with projection
            from transformers import CLIPTextModelWithProjection

            extra = {"text_encoder_2": _load_part(CLIPTextModelWithProjection.from_pretrained, path / "text_encoder_2",
                                                  "second text encoder", torch_dtype=dtype),
                     "tokenizer_2": _load_part(CLIPTokenizer.from_pretrained, path / "tokenizer_2", "second tokenizer"),
                     "zero_empty_negative": _pipeline_setting(path, "force_zeros_for_empty_prompt", True)}
        bundle = stable_diffusion_bundle(unet, vae, text_encoder, tokenizer, scheduler_config, name=path.name, **extra)
        bundle.info = training_record(path)
        bundle.region_prefix = trained_marker(bundle.info)
        bundle.world = bundle.info.get("world")  # a model of ours trained on the shapes world says so
    else:
        raise ModelLoadError(f"{path}: neither compose_model.json (a bundled-format model) nor vae/ (a Stable "
                             "Diffusion folder in diffusers format) is there")
    for module in bundle.modules():
        module.eval().requires_grad_(False)
    return bundle.to(device, dtype)
