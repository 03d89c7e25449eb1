"""Speed of each generation method on this machine: seconds per image by batch size and step count.

For every method (plain, compose = stage 1, compose-stages12) and every (batch size, steps) pair it
draws `--repeats` batches after a warm-up and reports the median seconds per image, images per
second, and the ratio to plain measured in the same run. Each method runs in its own subprocess so
that its peak resident memory (ru_maxrss) is its own.

Usage: python benchmarks/speed.py [--model bundled] [--batch-sizes 1,4] [--steps 10,25] [--repeats 3]
       [--threads N] [--out speed.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time

PROMPT = "a red circle to the left of two blue squares"


def measure(method: str, model: str | None, batch_sizes: list[int], steps_list: list[int], repeats: int,
            threads: int | None) -> dict:
    """Run one method in this process and return its timings (called in a subprocess)."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    from compose.model.bundle import load_model
    from compose.config import ComposeConfig
    from compose.pipeline import ComposePipeline
    from compose.sampling import generate_plain

    bundle = load_model(model)
    pipeline = ComposePipeline.from_bundle(bundle)

    def draw(batch: int, steps: int) -> None:
        seeds = list(range(batch))
        if method == "plain":
            generate_plain(bundle, [PROMPT] * batch, seeds, steps=steps)
        else:
            pipeline.draw([PROMPT] * batch, seed=seeds, steps=steps, config=ComposeConfig(refine=method == "compose-stages12"))

    rows = []
    for batch in batch_sizes:
        for steps in steps_list:
            draw(batch, steps)  # warm-up
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                draw(batch, steps)
                times.append((time.perf_counter() - started) / batch)
            rows.append({"batch": batch, "steps": steps, "seconds_per_image": statistics.median(times),
                         "images_per_second": 1 / statistics.median(times)})
    return {"method": method, "rows": rows, "threads": torch.get_num_threads(),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--methods", default="plain,compose,compose-stages12")
    parser.add_argument("--batch-sizes", default="1,4")
    parser.add_argument("--steps", default="10,25")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default=None)
    parser.add_argument("--one-method", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    batch_sizes = [int(v) for v in args.batch_sizes.split(",")]
    steps_list = [int(v) for v in args.steps.split(",")]
    if args.one_method:
        print(json.dumps(measure(args.one_method, args.model, batch_sizes, steps_list, args.repeats, args.threads)))
        return

    results = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {platform.processor() or '?'}",
               "prompt": PROMPT, "methods": {}}
    for method in args.methods.split(","):
        command = [sys.executable, __file__, "--one-method", method, "--batch-sizes", args.batch_sizes,
                   "--steps", args.steps, "--repeats", str(args.repeats)]
        command += ["--model", args.model] if args.model else []
        command += ["--threads", str(args.threads)] if args.threads else []
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        results["methods"][method] = json.loads(output.strip().splitlines()[-1])
    plain = {(row["batch"], row["steps"]): row["seconds_per_image"] for row in results["methods"]["plain"]["rows"]} \
        if "plain" in results["methods"] else {}
    print(f"{'method':18s} {'batch':>5s} {'steps':>5s} {'s/image':>8s} {'images/s':>9s} {'x plain':>8s} {'peak MiB':>9s}")
    for method, entry in results["methods"].items():
        for row in entry["rows"]:
            ratio = row["seconds_per_image"] / plain[(row["batch"], row["steps"])] if plain else float("nan")
            row["ratio_to_plain"] = ratio
            print(f"{method:18s} {row['batch']:5d} {row['steps']:5d} {row['seconds_per_image']:8.3f} "
                  f"{row['images_per_second']:9.2f} {ratio:8.2f} {entry['peak_rss_mib']:9.0f}")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as stream:
            json.dump(results, stream, indent=2)


if __name__ == "__main__":
    main()
