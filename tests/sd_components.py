"""Tiny random Stable Diffusion parts for tests, saved as a diffusers-format model folder.

Built from configs the way diffusers' own pipeline tests build their dummy components (seeded, small
blocks), so every code path a real Stable Diffusion 1.x checkpoint takes through `compose` runs in a
second on a CPU: a VAE codec with 4 latent channels, a CLIP text encoder with a 77-token context, a
UNet with cross-attention at two resolutions, and an SD-style scheduler config. The tokenizer is a
byte-pair encoder learned locally (compose.model.text.train_tokenizer); nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import torch

# Words every test prompt uses, so each is one token (unknown words would still encode, as letters).
CAPTIONS = (
    "a red circle to the left of a blue square",
    "three green triangles",
    "a yellow star above a purple diamond",
    "an orange hexagon below two small cyan circles and no stars",
    "a photo of a cat on a sofa in a living room",
)
UNET_SAMPLE_SIZE = 8  # latent side; the VAE doubles it: 16 x 16 pixel pictures
VAE_BLOCKS = (32, 64)  # two VAE levels: a downscale of 2 ** (2 - 1) = 2
TEXT_HIDDEN = 32
TEXT_LENGTH = 77  # Stable Diffusion's CLIP context


def build_tiny_stable_diffusion(seed: int = 0):
    """Seeded tiny (unet, vae, text_encoder, tokenizer, scheduler) with Stable Diffusion 1.x structure."""
    from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from compose.model.text import train_tokenizer

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=UNET_SAMPLE_SIZE, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(32, 64), down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=TEXT_HIDDEN,
        attention_head_dim=2, norm_num_groups=8,
    )
    torch.manual_seed(seed + 1)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=VAE_BLOCKS,
        down_block_types=("DownEncoderBlock2D",) * len(VAE_BLOCKS),
        up_block_types=("UpDecoderBlock2D",) * len(VAE_BLOCKS), layers_per_block=1, norm_num_groups=8,
        sample_size=UNET_SAMPLE_SIZE * 2 ** (len(VAE_BLOCKS) - 1), scaling_factor=0.18215,
    )
    tokenizer = train_tokenizer(CAPTIONS)
    tokenizer.model_max_length = TEXT_LENGTH
    torch.manual_seed(seed + 2)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=TEXT_HIDDEN, intermediate_size=37, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=TEXT_LENGTH, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    ))
    scheduler = PNDMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              skip_prk_steps=True, set_alpha_to_one=False, steps_offset=1)
    return unet, vae, text_encoder, tokenizer, scheduler


def save_tiny_stable_diffusion(folder: str | Path, seed: int = 0) -> Path:
    """Write the tiny model as a Stable Diffusion pipeline folder (unet/, vae/, text_encoder/, tokenizer/,
    scheduler/, model_index.json), exactly as diffusers' `save_pretrained` lays one out."""
    from diffusers import StableDiffusionPipeline

    unet, vae, text_encoder, tokenizer, scheduler = build_tiny_stable_diffusion(seed)
    pipeline = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                       scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                       requires_safety_checker=False)
    folder = Path(folder)
    pipeline.save_pretrained(folder, safe_serialization=True)
    return folder


XL_TEXT_HIDDEN = 32  # each of the two text encoders; the UNet's context is both side by side (64)
XL_POOLED = 32  # the second encoder's projection: the pooled embedding SDXL adds to the time embedding
XL_TIME_DIM = 8  # per added time id (6 of them: original size, crop corner, target size)


def build_tiny_sdxl(seed: int = 0):
    """Seeded tiny SDXL-class parts, shaped as diffusers' own SDXL pipeline tests shape theirs: a UNet
    with `addition_embed_type="text_time"` and cross-attention at both levels (as the two lower levels
    of SDXL have), two CLIP text encoders (the second with projection), two tokenizers, the tiny VAE."""
    from diffusers import EulerDiscreteScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from compose.model.text import train_tokenizer

    _, vae, _, _, _ = build_tiny_stable_diffusion(seed)
    torch.manual_seed(seed + 3)
    unet = UNet2DConditionModel(
        sample_size=UNET_SAMPLE_SIZE, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=2 * XL_TEXT_HIDDEN,
        attention_head_dim=(2, 4), use_linear_projection=True, transformer_layers_per_block=(1, 2),
        addition_embed_type="text_time", addition_time_embed_dim=XL_TIME_DIM,
        projection_class_embeddings_input_dim=6 * XL_TIME_DIM + XL_POOLED, norm_num_groups=8,
    )
    tokenizers = []
    for _ in range(2):
        tokenizer = train_tokenizer(CAPTIONS)
        tokenizer.model_max_length = TEXT_LENGTH
        tokenizers.append(tokenizer)
    settings = dict(vocab_size=len(tokenizers[0]), hidden_size=XL_TEXT_HIDDEN, intermediate_size=37,
                    num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=TEXT_LENGTH,
                    bos_token_id=tokenizers[0].bos_token_id, eos_token_id=tokenizers[0].eos_token_id,
                    pad_token_id=tokenizers[0].pad_token_id, hidden_act="gelu")
    torch.manual_seed(seed + 4)
    text_encoder = CLIPTextModel(CLIPTextConfig(**settings))
    torch.manual_seed(seed + 5)
    text_encoder_2 = CLIPTextModelWithProjection(CLIPTextConfig(**settings, projection_dim=XL_POOLED))
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       steps_offset=1, timestep_spacing="leading")
    return unet, vae, text_encoder, text_encoder_2, tokenizers[0], tokenizers[1], scheduler


def save_tiny_sdxl(folder: str | Path, seed: int = 0) -> Path:
    """Write the tiny SDXL model as a StableDiffusionXLPipeline folder (model_index.json, unet/, vae/,
    text_encoder/, text_encoder_2/, tokenizer/, tokenizer_2/, scheduler/)."""
    from diffusers import StableDiffusionXLPipeline

    unet, vae, text_encoder, text_encoder_2, tokenizer, tokenizer_2, scheduler = build_tiny_sdxl(seed)
    pipeline = StableDiffusionXLPipeline(vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2,
                                         tokenizer=tokenizer, tokenizer_2=tokenizer_2, unet=unet, scheduler=scheduler,
                                         add_watermarker=False)
    folder = Path(folder)
    pipeline.save_pretrained(folder, safe_serialization=True)
    return folder
