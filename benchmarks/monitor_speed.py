"""Seconds for one check of the untraining monitor (compose.untraining.Monitor), its pictures drawn in
batches of `--chunk` against one at a time, on the same model and seeds; and how many monitor verdicts
the two agree on (batched float arithmetic can round differently).

    PYTHONPATH=. .venv/bin/python benchmarks/monitor_speed.py --model models/shapes-v2-mislabelled --threads 2
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/shapes-v2-mislabelled")
    parser.add_argument("--targets", default="diamond,star")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--chunk", type=int, default=45)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=None, help="write the JSON here too")
    args = parser.parse_args()

    from compose.model.bundle import load_model
    from compose.untraining import Monitor, plain_drawer, retained_shapes

    torch.set_num_threads(args.threads)
    bundle = load_model(args.model, dtype=torch.float32)
    targets = tuple(args.targets.split(","))
    monitor = Monitor(targets, retained_shapes(targets), args.seeds, steps=args.steps)
    result = {"model": args.model, "threads": args.threads, "steps": args.steps, "seeds": args.seeds,
              "processor": platform.processor() or platform.machine(), "torch": torch.__version__}
    for name, chunk in (("one_at_a_time", 1), (f"batches_of_{args.chunk}", args.chunk)):
        clock = time.perf_counter()
        measured = monitor.measure(plain_drawer(bundle, args.steps, chunk=chunk))
        result[name] = {"seconds": round(time.perf_counter() - clock, 2), "target": measured["target"],
                        "retain": measured["retain"]}
    print(json.dumps(result, indent=2))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as file:
            json.dump(result, file, indent=2)


if __name__ == "__main__":
    main()
