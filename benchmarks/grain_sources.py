"""Where the bundled model's grain comes from, sampler by sampler (issue 17).

Plain single-object prompts (8 shape x colour pairs, seeds 0-1) drawn with 25 steps and guidance 4 unless
a row says otherwise; per row the median render difference and background error (compose.shapes.fidelity,
levels of 255) and how many pictures read back as exactly one object. Rows: the DDIM spacings, guidance
4 / 2 / 1 (is guidance amplifying noise?), 50 steps, the stochastic samplers (DDPM's ancestral step and
Euler ancestral: fresh noise each step), and after a DDIM picture a last pass: re-noised to t with fresh
noise and denoised again in 4 DDIM steps (SDEdit), or one x0 prediction at t from the picture itself.
benchmarks/low_noise_error.py gives the model's one-shot error from clean pictures beside it.

Run from the repository root:
    PYTHONPATH=. .venv/bin/python benchmarks/grain_sources.py --out benchmarks/results/grain-sources.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PAIRS = [("red", "circle"), ("blue", "square"), ("green", "triangle"), ("purple", "star"), ("orange", "diamond"),
         ("yellow", "circle"), ("blue", "star"), ("red", "triangle")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    from diffusers import DDIMScheduler, DDPMScheduler, EulerAncestralDiscreteScheduler

    from compose.model.bundle import load_model
    from compose.sampling import denoise, encode_prompts, initial_noise, to_uint8
    from compose.shapes.detect import detect
    from compose.shapes.fidelity import fidelity

    bundle = load_model(args.model)
    shipped = dict(bundle.scheduler_config)
    prompts = [f"a {colour} {shape}" for colour, shape in PAIRS]
    with torch.no_grad():
        condition = encode_prompts(bundle, prompts)
        uncondition = encode_prompts(bundle, [""], negative=True)
    rows = []

    def scheduler(kind=DDIMScheduler, spacing="trailing"):
        return kind.from_config({**shipped, "timestep_spacing": spacing})

    def sample(seed, kind=DDIMScheduler, spacing="trailing", steps=25, guidance=4.0):
        chosen = scheduler(kind, spacing)
        chosen.set_timesteps(steps)
        noise = initial_noise(bundle, [torch.Generator().manual_seed(seed) for _ in prompts], bundle.native_size)
        return denoise(bundle, chosen, noise * chosen.init_noise_sigma, condition, uncondition, guidance,
                       chosen.timesteps)

    def record(name, latents_per_seed, seconds):
        figures, single = [], 0
        for latents in latents_per_seed:
            for image in to_uint8(bundle.codec.decode(latents)):
                found = detect(image)
                quality = fidelity(image, found)
                figures.append((quality.render_difference, quality.background_error))
                single += len(found) == 1
        values = np.asarray(figures)
        row = {"setting": name, "median_render_difference": round(float(np.median(values[:, 0])), 2),
               "median_background_error": round(float(np.median(values[:, 1])), 2), "one_object": single,
               "pictures": len(figures), "seconds": round(seconds, 1)}
        rows.append(row)
        print(f"{name:48s} render {row['median_render_difference']:6.2f}  background "
              f"{row['median_background_error']:5.2f}  one object {single}/{len(figures)}", flush=True)

    seeds = range(args.seeds)
    with torch.no_grad():
        for name, options in [("ddim trailing, guidance 4", {}), ("ddim leading, guidance 4", {"spacing": "leading"}),
                              ("ddim trailing, guidance 2", {"guidance": 2.0}),
                              ("ddim trailing, guidance 1", {"guidance": 1.0}),
                              ("ddim trailing, 50 steps", {"steps": 50}),
                              ("ddpm ancestral, trailing", {"kind": DDPMScheduler}),
                              ("euler ancestral, trailing", {"kind": EulerAncestralDiscreteScheduler})]:
            clock = time.perf_counter()
            record(name, [sample(seed, **options) for seed in seeds], time.perf_counter() - clock)
        drawn = [sample(seed) for seed in seeds]
        alphas = scheduler().alphas_cumprod
        for start in (100, 200):  # SDEdit: fresh noise to `start`, 4 DDIM steps back
            clock = time.perf_counter()
            again = []
            for seed, latents in zip(seeds, drawn):
                chosen = scheduler()
                chosen.set_timesteps(4 * 1000 // start)
                timesteps = [t for t in chosen.timesteps if t < start][:4]
                noise = torch.randn(latents.shape, generator=torch.Generator().manual_seed(1000 + seed))
                noisy = chosen.add_noise(latents, noise, torch.tensor([int(timesteps[0])]))
                again.append(denoise(bundle, chosen, noisy, condition, uncondition, 4.0, timesteps))
            record(f"then re-noised to t={start}, 4 DDIM steps", again, time.perf_counter() - clock)
        for t in (10, 40):  # one x0 prediction at t from the picture itself (no added noise)
            clock = time.perf_counter()
            keep = alphas[t].sqrt()
            predicted = []
            for latents in drawn:
                noisy = keep * latents
                velocity = bundle.unet(noisy, torch.full((latents.shape[0],), t),
                                       encoder_hidden_states=condition).sample
                predicted.append(keep * noisy - (1 - alphas[t]).sqrt() * velocity)
            record(f"then one x0 prediction at t={t}", predicted, time.perf_counter() - clock)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"model": args.model or "bundled", "prompts": prompts, "seeds": args.seeds,
                                        "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
