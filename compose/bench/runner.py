"""Run the compositional benchmark: `run_bench` (compose/specs/benchmark.md, benchmark v1; compose issue 5).

What one run does, in order:
1. Check the inputs and read the suites (compose.bench.suites).
2. Detector self-check (compose.bench.selfcheck): every scene is planned with every seed of the run
   (layout suites use their own layout), rendered as ground truth, read back by the detector and
   scored. Anything short of 100% stops the run with `DetectorSelfCheckError` naming the prompts: a
   benchmark whose judge is wrong measures nothing.
3. Jobs: one per (suite, prompt, method, seed), methods side by side on the same prompts, seeds
   (seed .. seed + N - 1), model, sampler and steps. With `resume`, jobs already in results.jsonl are
   skipped; a truncated last line (a killed run) is dropped and its job redone, so nothing is counted
   twice and nothing is lost.
4. Each job (compose.bench.jobs) draws its picture (PNG under images/), reads it back, scores it and appends one line to
   results.jsonl, flushed at once. A method that raises ValueError (e.g. one not built yet) gets a
   line with its "error" and the run goes on.
5. Under torchrun / accelerate with several processes (compose.bench.processes), the pending jobs are split between the
   processes (accelerate.PartialState.split_between_processes); each process appends to its own part
   file (parts/rank-K.jsonl) and, after a barrier, the main process merges them into results.jsonl.
6. results.jsonl (compose.bench.results) is rewritten sorted (suite order, prompt, seed, method order), so a resumed or
   distributed run gives the same file as one straight single-process run, apart from the times.
   summary.json (compose.bench.summary) and report.html (compose.bench.report) are written from it.

Time per image is the wall time of the generator call (parse, plan and draw; not the scoring); peak
memory is the largest resident set (resource.getrusage) of any process and, on GPU, the largest
torch.cuda.max_memory_allocated.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Iterable

from compose.bench.jobs import Job, method_and_steps, run_jobs
from compose.bench.processes import Processes
from compose.bench.results import collect_results, read_results, remove_parts, sort_key_factory, write_json, write_lines
from compose.bench.selfcheck import DetectorSelfCheckError, detector_self_check
from compose.bench.suites import load_suites
from compose.bench.summary import (
    IMAGES_DIR, PARTS_DIR, REPORT_FILE, RESULTS_FILE, RUN_FILE, RUN_FORMAT, RUN_SETTINGS, SUMMARY_FILE, Summary,
    peak_memory, summarise,
)

logger = logging.getLogger(__name__)

SELF_CHECK_SHOWN = 8  # failures named in a self-check error


def run_bench(suites: Iterable[str] | None = None, methods: Iterable[str] = ("compose", "plain"), seeds: int = 4,
              out_dir: str | os.PathLike = "bench", model: str | os.PathLike | None = None, steps: int | None = None,
              guidance: float | None = None, sampler: str = "ddim", seed: int = 0, resume: bool = False,
              limit: int | None = None, progress: bool = True, device: str | None = None,
              size: int | None = None, attention: bool = False) -> Summary:
    """Run the benchmark suites with each method side by side and write results, summary and report.

    `suites`: category names or paths (None: all nine categories); `methods`: "compose" and/or
    "plain"; `seeds`: pictures per prompt and method (seeds `seed` .. `seed + seeds - 1`);
    `out_dir`: where results.jsonl, summary.json, report.html and images/ go; `model`, `steps`,
    `guidance`, `sampler`, `size`: as for compose.generate.Generator; `resume`: continue a run in
    out_dir, skipping the images it already has; `limit`: prompts per suite (smoke runs); `progress`:
    a progress bar with the time left; `device`: torch device (default: cuda when available, else cpu);
    `attention`: record each picture's cross-attention and report each method's mean in-region share
    (costs time: the timings of such a run include the recording).

    Raises ValueError for bad inputs, an out_dir that already holds a run (without `resume`) or one
    run with other settings, and DetectorSelfCheckError when the detector misjudges a ground truth."""
    method_list = _check_methods(methods)
    from compose.model.bundle import default_guidance_of, default_steps_of

    if steps is None:
        steps = default_steps_of(model)  # the model's own default (shapes-v3: 2), recorded in run.json
    if guidance is None:
        guidance = default_guidance_of(model)
    for name, value, low in (("seeds", seeds, 1), ("seed", seed, 0), ("steps", steps, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} {value!r}: give a whole number >= {low}")
    if not 0 <= float(guidance) <= 100:
        raise ValueError(f"guidance {guidance!r}: give a classifier-free guidance scale between 0 and 100")
    device = device or _default_device()
    out = Path(out_dir)
    seed_list = list(range(seed, seed + seeds))
    settings = {"model": str(model) if model is not None else "bundled", "steps": steps,
                "guidance": float(guidance), "sampler": sampler, "size": size, "attention": bool(attention)}

    # 1. Suites, and the processes that share the work.
    suite_list = load_suites(list(suites) if suites is not None else None, limit=limit)
    processes = Processes(device)
    device = processes.device or device
    _check_out_dir(out, settings, resume)

    # 2. The detector self-check (every process runs it: it is quick, and all stop together).
    self_check = detector_self_check(suite_list, seed_list)
    if self_check.correct < self_check.images:
        shown = "; ".join(self_check.failures[:SELF_CHECK_SHOWN])
        raise DetectorSelfCheckError(
            f"detector self-check: {self_check.images - self_check.correct} of {self_check.images} "
            f"ground-truth renders are misjudged ({shown}); fix the prompt (an unplannable or ambiguous "
            "scene) or the detector before benchmarking")
    if processes.is_main:
        logger.info("detector self-check: %d of %d ground-truth renders correct in %.1f s",
                    self_check.correct, self_check.images, self_check.seconds)
    processes.barrier()  # every process has checked out_dir before the main one writes to it

    # 3. Jobs, less what a resumed run already has.
    jobs = [Job(item, method, job_seed) for suite in suite_list for item in suite.items
            for job_seed in seed_list for method in method_list]
    order = sort_key_factory([suite.name for suite in suite_list], method_list)
    if processes.is_main:
        (out / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
        write_json(out / RUN_FILE, {"format": RUN_FORMAT, **settings})
        write_lines(out / RESULTS_FILE, sorted(collect_results(out).values(), key=order))
        remove_parts(out)
    processes.barrier()
    done = read_results(out / RESULTS_FILE)
    pending = [job for job in jobs if job.key not in done]
    mine = processes.share(pending)
    logger.info("%d of %d images to draw (%d already done)%s", len(pending), len(jobs), len(jobs) - len(pending),
                f"; this process draws {len(mine)}" if processes.count > 1 else "")

    # 4. Draw, read back and score, one line per image.
    target = out / RESULTS_FILE if processes.count == 1 else out / PARTS_DIR / f"rank-{processes.rank}.jsonl"
    if mine:
        run_jobs(mine, out, target, settings, device, progress=progress and processes.is_main)
    memory = peak_memory(device)
    if processes.count > 1:
        write_json(out / PARTS_DIR / f"rank-{processes.rank}.memory.json", memory)

    # 5. Merge, summarise, report.
    processes.barrier()
    if processes.is_main:
        memories = [memory]
        if processes.count > 1:
            memories = [json.loads(path.read_text(encoding="utf-8"))
                        for path in sorted((out / PARTS_DIR).glob("rank-*.memory.json"))]
        write_lines(out / RESULTS_FILE, sorted(collect_results(out).values(), key=order))
        remove_parts(out)
        lines = read_results(out / RESULTS_FILE)
        summary = summarise([lines[job.key] for job in jobs if job.key in lines], suite_list, method_list,
                            seed_list, settings, self_check, memories, device, processes.count, str(out))
        write_json(out / SUMMARY_FILE, summary.to_dict())
        from compose.bench.report import write_report

        write_report(summary, [lines[job.key] for job in jobs if job.key in lines], out, suite_list)
        logger.info("wrote %s, %s and %s", out / RESULTS_FILE, out / SUMMARY_FILE, out / REPORT_FILE)
    processes.barrier()
    if not processes.is_main:
        summary = Summary.from_dict(json.loads((out / SUMMARY_FILE).read_text(encoding="utf-8")), str(out))
    return summary


def _check_methods(methods: Iterable[str]) -> list[str]:
    from compose.generate import METHODS

    if isinstance(methods, str):
        methods = [part.strip() for part in methods.split(",") if part.strip()]
    method_list = list(methods)
    if not method_list:
        raise ValueError(f"methods: name at least one of {', '.join(METHODS)}")
    for label in method_list:
        method, _ = method_and_steps(label, 1)
        if method not in METHODS:
            raise ValueError(f"method {label!r}: choose among {', '.join(METHODS)} (comma-separated; "
                             f"NAME@N for N denoising steps)")
    if len(set(method_list)) != len(method_list):
        raise ValueError(f"methods {','.join(method_list)}: name each method once")
    return method_list


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _check_out_dir(out: Path, settings: dict[str, Any], resume: bool) -> None:
    """Refuse to mix runs: a fresh run needs an out_dir without results, a resumed one the same settings."""
    has_results = (out / RESULTS_FILE).exists() or any((out / PARTS_DIR).glob("rank-*.jsonl"))
    if not resume:
        if has_results:
            raise ValueError(f"out_dir {str(out)!r} already holds a benchmark run ({RESULTS_FILE}); resume it "
                             "(--resume) or give another folder")
        return
    run_file = out / RUN_FILE
    if not run_file.is_file():
        if has_results:
            raise ValueError(f"out_dir {str(out)!r} has results but no {RUN_FILE}; cannot tell its settings, "
                             "so it cannot be resumed: give another folder")
        return
    earlier = json.loads(run_file.read_text(encoding="utf-8"))
    changed = [f"{key} {earlier.get(key)!r} -> {settings[key]!r}" for key in RUN_SETTINGS
               if earlier.get(key) != settings[key]]
    if changed:
        raise ValueError(f"out_dir {str(out)!r} holds a run with other settings ({'; '.join(changed)}); resume "
                         "it with the same settings or give another folder")
