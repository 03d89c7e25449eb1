"""Seconds per training step (forward + backward + AdamW, batch 32, bf16 autocast) of candidate UNet
widths for the bundled model, on random inputs: the figures behind ShapesModelConfig's default.

Usage: python benchmarks/train_step_speed.py [--threads 2] [--repeats 6]
"""

import argparse
import statistics
import time

import torch

from compose.model.bundle import ShapesModelConfig, build_shapes_model
from compose.training import build_tokenizer

CANDIDATES = ((96, 192), (64, 128), (64, 128, 128))  # shapes-v1's UNet, a narrower one, the three-level default


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=6, help="timed steps after 2 warm-up steps")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tokenizer = build_tokenizer("region:")
    for blocks in CANDIDATES:
        config = ShapesModelConfig(block_out_channels=blocks, attention_levels=(True,) * len(blocks))
        bundle = build_shapes_model(config, tokenizer)
        parameters = [p for module in (bundle.unet, bundle.text_encoder) for p in module.parameters()]
        optimizer = torch.optim.AdamW(parameters, lr=1e-4)
        side = config.image_size // config.fold
        samples, ids = torch.randn(32, bundle.codec.channels, side, side), torch.randint(0, len(tokenizer), (32, 64))
        times = []
        for repeat in range(2 + args.repeats):
            started = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                condition = bundle.text_encoder(ids).last_hidden_state
                output = bundle.unet(samples, torch.randint(0, 1000, (32,)), condition).sample
            (output.float() - samples).pow(2).mean().backward()
            optimizer.step()
            optimizer.zero_grad()
            if repeat >= 2:
                times.append(time.perf_counter() - started)
        print(f"blocks {blocks}: {sum(p.numel() for p in bundle.unet.parameters()):,} UNet parameters, "
              f"median {statistics.median(times):.3f} s per step of 32 ({args.threads} threads)")


if __name__ == "__main__":
    main()
