"""GPU speed at Stable Diffusion 1.5 scale: diffusers' StableDiffusionPipeline vs compose's methods.

A UNet, VAE and CLIP text encoder with Stable Diffusion 1.5's architecture and random weights (speed
does not depend on the weights), fp16 on the GPU, 512 x 512, 25 steps, guidance 7.5. It times, after a
warm-up: seconds per denoising step (the UNet at batch 2, as classifier-free guidance runs it) and
seconds per image for
- diffusers' own StableDiffusionPipeline (the reference),
- compose "plain" (the same model fed the whole prompt, compose.sampling.generate_plain),
- compose stage 1 (region-masked cross-attention) and stages 1 + 2 (per-object refinement),
  on a three-object layout.
Sized to finish in well under 5 minutes on one H100/H200 (scripts/device_speed.sh runs it there).

Usage: python benchmarks/gpu_sd_speed.py [--out results.json] [--tiny] [--repeats 3]
`--tiny` swaps in tiny components (64 x 64) to check the script itself on a CPU.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

SD15_UNET = dict(sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
                 block_out_channels=(320, 640, 1280, 1280), cross_attention_dim=768, attention_head_dim=8,
                 down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                 up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3)
SD15_VAE = dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(128, 256, 512, 512),
                layers_per_block=2, down_block_types=("DownEncoderBlock2D",) * 4,
                up_block_types=("UpDecoderBlock2D",) * 4, sample_size=512, scaling_factor=0.18215)
SD15_TEXT = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                 max_position_embeddings=77)
TINY_UNET = dict(sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
                 cross_attention_dim=32, attention_head_dim=2, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                 up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"))
TINY_VAE = dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(32, 64), layers_per_block=1,
                down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                sample_size=64, scaling_factor=0.18215)
TINY_TEXT = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                 max_position_embeddings=77)
PROMPT = "a red circle to the left of a blue square and a yellow star"


def build(tiny: bool, device: str, dtype: torch.dtype):
    """Random components and both wrappers: diffusers' pipeline and compose's ModelBundle."""
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from compose.model.bundle import ModelBundle, VaeCodec
    from compose.model.text import train_tokenizer

    torch.manual_seed(0)
    tokenizer = train_tokenizer([PROMPT, "a green triangle above two purple diamonds"])
    tokenizer.model_max_length = 77
    with torch.device(device):
        unet = UNet2DConditionModel(**(TINY_UNET if tiny else SD15_UNET))
        vae = AutoencoderKL(**(TINY_VAE if tiny else SD15_VAE))
        text_encoder = CLIPTextModel(CLIPTextConfig(vocab_size=len(tokenizer), **(TINY_TEXT if tiny else SD15_TEXT),
                                                    bos_token_id=0, eos_token_id=1, pad_token_id=1))
    for module in (unet, vae, text_encoder):
        module.to(device=device, dtype=dtype).eval().requires_grad_(False)
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)
    reference = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                        scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                        requires_safety_checker=False)
    reference.set_progress_bar_config(disable=True)
    codec = VaeCodec(vae)
    bundle = ModelBundle(unet=unet, text_encoder=text_encoder, tokenizer=tokenizer,
                         scheduler_config=dict(scheduler.config), codec=codec, name="sd15-random",
                         native_size=unet.config.sample_size * codec.downscale, text_length=77, phrase_length=20)
    return reference, bundle


def layout_for_prompt():
    from compose.scene import Layout, Region

    return Layout(regions=(Region("a red circle", (0.05, 0.35, 0.35, 0.65)),
                           Region("a blue square", (0.40, 0.35, 0.70, 0.65)),
                           Region("a yellow star", (0.72, 0.05, 0.95, 0.28))), prompt=PROMPT)


def timed(function, repeats: int, synchronize) -> list[float]:
    function()  # warm-up
    synchronize()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        synchronize()
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=None, help="write the results as JSON here too")
    parser.add_argument("--tiny", action="store_true", help="tiny components on any device (checks the script)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=25)
    args = parser.parse_args()

    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.float16 if device == "cuda" else torch.float32
    synchronize = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    reference, bundle = build(args.tiny, device, dtype)
    size = bundle.native_size
    from compose.config import ComposeConfig
    from compose.pipeline import ComposePipeline
    from compose.sampling import generate_plain

    pipeline = ComposePipeline.from_bundle(bundle)
    layout = layout_for_prompt()
    steps, guidance = args.steps, 7.5

    latents = torch.randn(2, 4, size // 8, size // 8, device=device, dtype=dtype)
    context = torch.randn(2, 77, bundle.unet.config.cross_attention_dim, device=device, dtype=dtype)
    timestep = torch.tensor([500, 500], device=device)
    with torch.no_grad():
        unet_step = timed(lambda: bundle.unet(latents, timestep, encoder_hidden_states=context), args.repeats * 5,
                          synchronize)
    methods = {
        "diffusers StableDiffusionPipeline": lambda: reference(PROMPT, num_inference_steps=steps,
                                                               guidance_scale=guidance, height=size, width=size,
                                                               generator=torch.Generator(device).manual_seed(0)),
        "compose plain": lambda: generate_plain(bundle, [PROMPT], [0], steps=steps, guidance=guidance),
        "compose stage 1": lambda: pipeline.draw(layout=layout, seed=0, steps=steps, guidance=guidance, config=ComposeConfig(refine=False)),
        "compose stages 1+2": lambda: pipeline.draw(layout=layout, seed=0, steps=steps, guidance=guidance, config=ComposeConfig(refine=True)),
    }
    results = {"device": torch.cuda.get_device_name() if device == "cuda" else platform.processor() or "cpu",
               "dtype": str(dtype).replace("torch.", ""), "size": size, "steps": steps, "tiny": args.tiny,
               "torch": torch.__version__, "unet_step_batch2_seconds": statistics.median(unet_step), "methods": {}}
    print(f"{results['device']}, {results['dtype']}, {size} x {size}, {steps} steps; "
          f"UNet step (batch 2): {1000 * results['unet_step_batch2_seconds']:.1f} ms")
    for name, function in methods.items():
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        with torch.no_grad():
            times = timed(function, args.repeats, synchronize)
        seconds = statistics.median(times)
        peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None
        results["methods"][name] = {"seconds_per_image": seconds, "seconds_per_step": seconds / steps,
                                    "peak_gib": peak, "repeats": times}
        print(f"{name:36s} {seconds:7.3f} s per image  {1000 * seconds / steps:7.1f} ms per step"
              + (f"  peak {peak:.1f} GiB" if peak is not None else ""))
    base = results["methods"]["compose plain"]["seconds_per_image"]
    for name, entry in results["methods"].items():
        entry["ratio_to_compose_plain"] = entry["seconds_per_image"] / base
    if args.out:
        with open(args.out, "w", encoding="utf-8") as stream:
            json.dump(results, stream, indent=2)


if __name__ == "__main__":
    main()
