"""Measure how fast the layout planner places random scenes (compose issue 2, section 3).

For many random scenes that are satisfiable by construction (the seeded scene makers of
tests/layout_rules.py: random shapes, colours, sizes, counts, relations and locations read off a hidden
valid placement), the script times `compose.planner.plan` on each (time.perf_counter, after one warm-up
call), checks every layout with the independent checker of tests/layout_rules.py, and prints the median,
p95 and maximum planning time, the number of failures and of invalid layouts. The target is a median of
at most 20 ms for 8-object scenes. `--open` times open-vocabulary scenes (depth relations, verbs,
proportions) of up to 6 objects as well.

Run from the repository root:
    PYTHONPATH=. .venv/bin/python benchmarks/plan_speed.py --scenes 1000 --objects 8
    PYTHONPATH=. .venv/bin/python benchmarks/plan_speed.py --scenes 1000 --objects 1-8 --open
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the scene makers and the checker live beside the tests
try:
    from compose.planner import UnsatisfiableSceneError, plan
except ModuleNotFoundError:  # run as a plain script from the repository root
    sys.path.insert(0, str(ROOT))
    from compose.planner import UnsatisfiableSceneError, plan
import layout_rules  # noqa: E402


def object_counts(text: str) -> tuple[int, int]:
    """"8" -> (8, 8); "1-8" -> (1, 8)."""
    low, _, high = text.partition("-")
    try:
        low_count, high_count = int(low), int(high or low)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--objects {text!r}: give a count (8) or a range (1-8)") from None
    if not 1 <= low_count <= high_count <= 8:
        raise argparse.ArgumentTypeError(f"--objects {text!r}: counts must lie in 1..8, low <= high")
    return low_count, high_count


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def measure(name: str, scenes: list, seed: int) -> None:
    plan(scenes[0], seed=seed)  # warm-up: imports and caches
    times, failures, invalid = [], 0, 0
    for index, scene in enumerate(scenes):
        start = time.perf_counter()
        try:
            layout = plan(scene, seed=seed + index)
        except UnsatisfiableSceneError:
            failures += 1
            continue
        times.append(time.perf_counter() - start)
        invalid += bool(layout_rules.layout_violations(scene, layout))
    milliseconds = [1000 * value for value in times]
    print(f"{name}: {len(scenes)} scenes, planned {len(times)}, failed {failures}, invalid {invalid}")
    if milliseconds:
        print(f"  median {statistics.median(milliseconds):.2f} ms   p95 {percentile(milliseconds, 0.95):.2f} ms"
              f"   max {max(milliseconds):.2f} ms   mean {statistics.fmean(milliseconds):.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=1000, help="scenes per set (default 1000)")
    parser.add_argument("--objects", type=object_counts, default=(8, 8),
                        help="objects per shapes-world scene: a count or a range such as 1-8 (default 8)")
    parser.add_argument("--open", action="store_true", help="also time open-vocabulary scenes (1-6 objects)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the scene makers and the planner")
    arguments = parser.parse_args()
    if arguments.scenes < 1:
        parser.error(f"--scenes {arguments.scenes}: give at least 1")

    rng = random.Random(arguments.seed)
    low, high = arguments.objects
    shapes = [layout_rules.random_satisfiable_scene(rng, rng.randint(low, high))[0]
              for _ in range(arguments.scenes)]
    label = f"{low}" if low == high else f"{low}-{high}"
    measure(f"shapes world, {label} objects", shapes, arguments.seed)
    if arguments.open:
        open_scenes = [layout_rules.random_open_scene(rng, rng.randint(1, 6))[0] for _ in range(arguments.scenes)]
        measure("open vocabulary, 1-6 objects", open_scenes, arguments.seed)


if __name__ == "__main__":
    main()
