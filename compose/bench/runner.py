"""Run the compositional benchmark: `run_bench` (shared/specs/benchmark.md, v1; compose issue 5).

What one run does, in order:
1. Check the inputs and read the suites (compose.bench.suites).
2. Detector self-check: every scene is planned with every seed of the run (layout suites use their own
   layout), rendered as ground truth, read back by the detector and scored. Anything short of 100%
   stops the run with `DetectorSelfCheckError` naming the prompts: a benchmark whose judge is wrong
   measures nothing.
3. Jobs: one per (suite, prompt, method, seed), methods side by side on the same prompts, seeds
   (seed .. seed + N - 1), model, sampler and steps. With `resume`, jobs already in results.jsonl are
   skipped; a truncated last line (a killed run) is dropped and its job redone, so nothing is counted
   twice and nothing is lost.
4. Each job draws its picture (PNG under images/), reads it back, scores it and appends one line to
   results.jsonl, flushed at once. A method that raises ValueError (e.g. one not built yet) gets a
   line with its "error" and the run goes on.
5. Under torchrun / accelerate with several processes, the pending jobs are split between the
   processes (accelerate.PartialState.split_between_processes); each process appends to its own part
   file (parts/rank-K.jsonl) and, after a barrier, the main process merges them into results.jsonl.
6. results.jsonl is rewritten sorted (suite order, prompt, seed, method order), so a resumed or
   distributed run gives the same file as one straight single-process run, apart from the times.
   summary.json and report.html (compose.bench.report) are written from it.

Time per image is the wall time of the generator call (parse, plan and draw; not the scoring); peak
memory is the largest resident set (resource.getrusage) of any process and, on GPU, the largest
torch.cuda.max_memory_allocated.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import platform
import resource
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from compose.bench.suites import Suite, SuiteItem, ground_truth_image, load_suites
from compose.files import write_atomically

logger = logging.getLogger(__name__)

RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.html"
RUN_FILE = "run.json"
IMAGES_DIR = "images"
PARTS_DIR = "parts"
SUMMARY_FORMAT = "compose.bench.summary/v1"
RUN_FORMAT = "compose.bench.run/v1"
# What must stay the same when a run is resumed: changing any of these would mix incomparable images.
RUN_SETTINGS = ("model", "steps", "guidance", "sampler", "size")
SELF_CHECK_SHOWN = 8  # failures named in a self-check error
WARM_UP_PROMPT = "a red circle"


class DetectorSelfCheckError(ValueError):
    """The detector does not score every ground-truth render of the suites as correct; the run stops."""


@dataclass(frozen=True)
class Job:
    """One picture to draw and score: a suite item, a method and a seed."""

    item: SuiteItem
    method: str
    seed: int

    @property
    def key(self) -> tuple[str, int, str, int]:
        return (self.item.suite, self.item.index, self.method, self.seed)

    @property
    def image_name(self) -> str:
        return f"{IMAGES_DIR}/{self.item.suite}-{self.item.index:03d}-{self.method}-s{self.seed}.png"


@dataclass(frozen=True)
class SelfCheck:
    """The detector self-check: ground-truth renders scored, how many were correct, and which were not."""

    images: int
    correct: int
    seconds: float
    failures: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"images": self.images, "correct": self.correct, "seconds": round(self.seconds, 3),
                "failures": list(self.failures)}


@dataclass(frozen=True)
class CategoryScore:
    """One category x method cell: the share of correct images by the strict and the lenient rules.

    An image whose method raised (an "error" line) counts as not correct; when every image of the cell
    is an error, the scores are None (the method did not run) rather than 0."""

    images: int
    correct_strict: int
    correct_lenient: int
    errors: int

    @property
    def strict(self) -> float | None:
        return self.correct_strict / self.images if self.images > self.errors else None

    @property
    def lenient(self) -> float | None:
        return self.correct_lenient / self.images if self.images > self.errors else None

    def to_dict(self) -> dict[str, Any]:
        return {"strict": self.strict, "lenient": self.lenient, "images": self.images,
                "correct_strict": self.correct_strict, "correct_lenient": self.correct_lenient,
                "errors": self.errors}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CategoryScore:
        return cls(images=data["images"], correct_strict=data["correct_strict"],
                   correct_lenient=data["correct_lenient"], errors=data["errors"])


@dataclass(frozen=True)
class Summary:
    """What a benchmark run measured (out_dir/summary.json): scores, times, memory and the settings.

    `scores[category][method]` is a CategoryScore; `overall[method]` the mean over the categories that
    ran of (strict, lenient); `time_per_image[method]` the median, mean and 90th percentile seconds of
    one generator call; `stage_median[method][stage]` the median seconds of each stage;
    `time_ratio` the median time of compose over that of plain, when both ran."""

    out_dir: str
    suites: tuple[str, ...]
    methods: tuple[str, ...]
    seeds: tuple[int, ...]
    settings: dict[str, Any]
    scores: dict[str, dict[str, CategoryScore]]
    overall: dict[str, dict[str, float | None]]
    time_per_image: dict[str, dict[str, float]]
    stage_median: dict[str, dict[str, float]]
    time_ratio: float | None
    peak_memory: dict[str, Any]
    self_check: SelfCheck
    counts: dict[str, int]
    date: str
    machine: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)  # method -> first error message, if any

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": SUMMARY_FORMAT, "date": self.date, "machine": self.machine, **self.settings,
            "suites": list(self.suites), "methods": list(self.methods), "seeds": list(self.seeds),
            "counts": self.counts,
            "detector_self_check": self.self_check.to_dict(),
            "scores": {category: {method: cell.to_dict() for method, cell in cells.items()}
                       for category, cells in self.scores.items()},
            "overall": self.overall,
            "time_per_image": self.time_per_image,
            "stage_median": self.stage_median,
            "time_ratio_compose_over_plain": self.time_ratio,
            "peak_memory": self.peak_memory,
            "errors": self.errors,
        }

    def as_text(self) -> str:
        """The scores and times as a small table a person reads in a terminal."""
        width = max(len(name) for name in (*self.suites, "overall")) + 2
        header = "".join(f"{method + ' strict/lenient':>28}" for method in self.methods)
        lines = [f"{'category':<{width}}{header}"]

        def pair(strict: float | None, lenient: float | None) -> str:
            if strict is None:
                return f"{'not run':>28}"
            return f"{100 * strict:5.1f}% / {100 * lenient:5.1f}%".rjust(28)

        for category in self.suites:
            lines.append(f"{category:<{width}}" + "".join(
                pair(self.scores[category][method].strict, self.scores[category][method].lenient)
                for method in self.methods))
        lines.append(f"{'overall':<{width}}" + "".join(
            pair(self.overall[method]["strict"], self.overall[method]["lenient"]) for method in self.methods))
        for method, times in self.time_per_image.items():
            lines.append(f"{method}: median {times['median']:.3f} s per picture ({times['images']} pictures)")
        if self.time_ratio is not None:
            lines.append(f"compose / plain median time: {self.time_ratio:.2f}x")
        for method, message in self.errors.items():
            lines.append(f"{method} failed on some pictures, e.g.: {message}")
        lines.append(f"detector self-check: {self.self_check.correct} of {self.self_check.images}; "
                     f"peak memory {self.peak_memory['max_rss_mib']:.0f} MiB; report: "
                     f"{Path(self.out_dir) / REPORT_FILE}")
        return "\n".join(lines)

    @classmethod
    def from_dict(cls, data: dict[str, Any], out_dir: str = "") -> Summary:
        check = data["detector_self_check"]
        return cls(
            out_dir=out_dir, suites=tuple(data["suites"]), methods=tuple(data["methods"]),
            seeds=tuple(data["seeds"]), settings={key: data.get(key) for key in RUN_SETTINGS},
            scores={category: {method: CategoryScore.from_dict(cell) for method, cell in cells.items()}
                    for category, cells in data["scores"].items()},
            overall=data["overall"], time_per_image=data["time_per_image"], stage_median=data["stage_median"],
            time_ratio=data["time_ratio_compose_over_plain"], peak_memory=data["peak_memory"],
            self_check=SelfCheck(images=check["images"], correct=check["correct"], seconds=check["seconds"],
                                 failures=tuple(check["failures"])),
            counts=data["counts"], date=data["date"], machine=data["machine"], errors=data.get("errors", {}))


def is_main_process() -> bool:
    """True in a single process and in the main process of a torchrun / accelerate launch (RANK 0):
    the one that should print what a run found."""
    return int(os.environ.get("RANK", "0")) == 0


# -- processes ----------------------------------------------------------------------------------------


class _Processes:
    """This process's place among the benchmark's processes: one, or several under torchrun/accelerate.

    Several processes are recognised by WORLD_SIZE > 1 (set by torchrun and accelerate launch); then
    accelerate.PartialState gives the rank, the barrier and the split (with cpu=True on a CPU run:
    without it each process saw itself as rank 0 of 1; shared/FACTS.md, "Distributed on CPU")."""

    def __init__(self, device: str):
        self.state = None
        self.rank, self.count = 0, 1
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            from accelerate import PartialState

            self.state = PartialState(cpu=device == "cpu")
            self.rank, self.count = self.state.process_index, self.state.num_processes

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def device(self) -> str | None:
        """The device this process should draw on, when accelerate chose one (a GPU per process)."""
        if self.state is not None and self.state.device.type == "cuda":
            return str(self.state.device)
        return None

    def barrier(self) -> None:
        if self.state is not None:
            self.state.wait_for_everyone()

    def share(self, jobs: list[Job]) -> list[Job]:
        """This process's share of the jobs (contiguous slices, the first processes one more)."""
        if self.state is None:
            return jobs
        with self.state.split_between_processes(jobs) as mine:
            return list(mine)


# -- the run -------------------------------------------------------------------------------------------


def run_bench(suites: Iterable[str] | None = None, methods: Iterable[str] = ("compose", "plain"), seeds: int = 4,
              out_dir: str | os.PathLike = "bench", model: str | os.PathLike | None = None, steps: int = 25,
              guidance: float = 4.0, sampler: str = "ddim", seed: int = 0, resume: bool = False,
              limit: int | None = None, progress: bool = True, device: str | None = None,
              size: int | None = None) -> Summary:
    """Run the benchmark suites with each method side by side and write results, summary and report.

    `suites`: category names or paths (None: all eight categories); `methods`: "compose" and/or
    "plain"; `seeds`: pictures per prompt and method (seeds `seed` .. `seed + seeds - 1`);
    `out_dir`: where results.jsonl, summary.json, report.html and images/ go; `model`, `steps`,
    `guidance`, `sampler`, `size`: as for compose.generate.Generator; `resume`: continue a run in
    out_dir, skipping the images it already has; `limit`: prompts per suite (smoke runs); `progress`:
    a progress bar with the time left; `device`: torch device (default: cuda when available, else cpu).

    Raises ValueError for bad inputs, an out_dir that already holds a run (without `resume`) or one
    run with other settings, and DetectorSelfCheckError when the detector misjudges a ground truth."""
    method_list = _check_methods(methods)
    for name, value, low in (("seeds", seeds, 1), ("seed", seed, 0), ("steps", steps, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} {value!r}: give a whole number >= {low}")
    if not 0 <= float(guidance) <= 100:
        raise ValueError(f"guidance {guidance!r}: give a classifier-free guidance scale between 0 and 100")
    device = device or _default_device()
    out = Path(out_dir)
    seed_list = list(range(seed, seed + seeds))
    settings = {"model": str(model) if model is not None else "bundled", "steps": steps,
                "guidance": float(guidance), "sampler": sampler, "size": size}

    # 1. Suites, and the processes that share the work.
    suite_list = load_suites(list(suites) if suites is not None else None, limit=limit)
    processes = _Processes(device)
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
    order = _sort_key_factory([suite.name for suite in suite_list], method_list)
    if processes.is_main:
        (out / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
        _write_json(out / RUN_FILE, {"format": RUN_FORMAT, **settings})
        _write_lines(out / RESULTS_FILE, sorted(_collect_results(out).values(), key=order))
        _remove_parts(out)
    processes.barrier()
    done = _read_results(out / RESULTS_FILE)
    pending = [job for job in jobs if job.key not in done]
    mine = processes.share(pending)
    logger.info("%d of %d images to draw (%d already done)%s", len(pending), len(jobs), len(jobs) - len(pending),
                f"; this process draws {len(mine)}" if processes.count > 1 else "")

    # 4. Draw, read back and score, one line per image.
    target = out / RESULTS_FILE if processes.count == 1 else out / PARTS_DIR / f"rank-{processes.rank}.jsonl"
    if mine:
        _run_jobs(mine, out, target, settings, device, progress=progress and processes.is_main)
    memory = _peak_memory(device)
    if processes.count > 1:
        _write_json(out / PARTS_DIR / f"rank-{processes.rank}.memory.json", memory)

    # 5. Merge, summarise, report.
    processes.barrier()
    if processes.is_main:
        memories = [memory]
        if processes.count > 1:
            memories = [json.loads(path.read_text(encoding="utf-8"))
                        for path in sorted((out / PARTS_DIR).glob("rank-*.memory.json"))]
        _write_lines(out / RESULTS_FILE, sorted(_collect_results(out).values(), key=order))
        _remove_parts(out)
        lines = _read_results(out / RESULTS_FILE)
        summary = summarise([lines[job.key] for job in jobs if job.key in lines], suite_list, method_list,
                            seed_list, settings, self_check, memories, device, processes.count, str(out))
        _write_json(out / SUMMARY_FILE, summary.to_dict())
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
    for method in method_list:
        if method not in METHODS:
            raise ValueError(f"method {method!r}: choose among {', '.join(METHODS)} (comma-separated)")
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


def detector_self_check(suites: list[Suite], seeds: list[int]) -> SelfCheck:
    """Score ground-truth renders of every scene: planned with each seed, or drawn in its own layout.

    Returns how many were correct (strict) and a line per failure; a scene that cannot be planned or
    rendered is a failure too (named with its suite, index and prompt)."""
    from compose.planner import plan
    from compose.shapes.score import score_image

    clock = time.perf_counter()
    images = correct = 0
    failures: list[str] = []
    for suite in suites:
        for item in suite.items:
            layouts = [(None, item.layout)] if item.layout is not None else [(seed, None) for seed in seeds]
            for layout_seed, layout in layouts:
                images += 1
                where = f"{item.suite}[{item.index}] {item.prompt!r}" + (
                    f" seed {layout_seed}" if layout_seed is not None else "")
                try:
                    drawn = layout if layout is not None else plan(item.scene, seed=layout_seed)
                    verdict = score_image(item.scene, ground_truth_image(item.scene, drawn), item.layout)
                except ValueError as error:
                    failures.append(f"{where}: {error}")
                    continue
                if verdict.correct_strict:
                    correct += 1
                else:
                    failures.append(f"{where}: {'; '.join(verdict.reasons)}")
    return SelfCheck(images=images, correct=correct, seconds=time.perf_counter() - clock, failures=tuple(failures))


def _run_jobs(jobs: list[Job], out: Path, target: Path, settings: dict[str, Any], device: str,
              progress: bool) -> None:
    from tqdm.auto import tqdm

    from compose.generate import Generator

    generator = Generator(settings["model"] if settings["model"] != "bundled" else None, device=device,
                          sampler=settings["sampler"])
    generator.bundle.make_scheduler(settings["sampler"])  # an unknown sampler fails here, not per image
    _warm_up(generator, sorted({job.method for job in jobs}), settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a", encoding="utf-8") as stream, \
            tqdm(total=len(jobs), desc="bench", unit="image", disable=not progress, dynamic_ncols=True) as bar:
        for job in jobs:
            bar.set_postfix_str(f"{job.item.suite} {job.method}", refresh=False)
            record = run_job(generator, job, out, settings)
            stream.write(json.dumps(record) + "\n")
            stream.flush()
            bar.update(1)


def _warm_up(generator, methods: list[str], settings: dict[str, Any]) -> None:
    """Draw one untimed picture per method first, so one-off costs (kernel selection, caches, lazy
    imports) do not land on the first timed picture. A method that raises is left to its jobs."""
    for method in methods:
        try:
            generator(prompt=WARM_UP_PROMPT, method=method, seed=0, steps=1, guidance=settings["guidance"],
                      size=settings["size"])
        except ValueError:
            pass


def run_job(generator, job: Job, out: Path, settings: dict[str, Any]) -> dict[str, Any]:
    """Draw one picture, save it, read it back and score it: the results.jsonl record of the job."""
    from PIL import Image

    from compose.shapes.detect import detect
    from compose.shapes.score import score

    item = job.item
    record: dict[str, Any] = {
        "suite": item.suite, "index": item.index, "prompt": item.prompt, "method": job.method, "seed": job.seed,
        "layout_file": Path(item.source).name if item.layout is not None else None,
    }
    clock = time.perf_counter()
    try:
        result = generator(prompt=item.prompt, layout=item.layout, method=job.method, seed=job.seed,
                           steps=settings["steps"], guidance=settings["guidance"], size=settings["size"])
    except ValueError as error:
        logger.debug("%s %s seed %d failed: %s", item.suite, job.method, job.seed, error)
        return {**record, "correct_strict": False, "correct_lenient": False, "failure_kinds": ["error"],
                "reasons": [f"error: {error}"], "region_ious": [], "detected": [], "image": None,
                "timings": {}, "error": str(error)}
    total = time.perf_counter() - clock
    Image.fromarray(result.image).save(out / job.image_name)
    clock = time.perf_counter()
    detections = detect(result.image)
    verdict = score(item.scene, detections, item.layout)
    scoring = time.perf_counter() - clock
    timings = {stage: round(seconds, 5) for stage, seconds in result.timings.items()}
    timings.update(total=round(total, 5), score=round(scoring, 5))
    return {**record, "correct_strict": verdict.correct_strict, "correct_lenient": verdict.correct_lenient,
            "failure_kinds": list(verdict.kinds), "reasons": list(verdict.reasons),
            "region_ious": [round(value, 4) for value in verdict.region_ious],
            "detected": [item.to_dict() for item in detections], "image": job.image_name,
            "timings": timings, "error": None}


# -- results files ----------------------------------------------------------------------------------


def result_key(record: dict[str, Any]) -> tuple[str, int, str, int]:
    return (record["suite"], int(record["index"]), record["method"], int(record["seed"]))


def _read_results(path: Path) -> dict[tuple[str, int, str, int], dict[str, Any]]:
    """The records of a results file by key, the first of any duplicate kept.

    A last line cut short (a run killed while writing) is dropped, so its job is done again; a broken
    line elsewhere is dropped with a warning."""
    records: dict[tuple[str, int, str, int], dict[str, Any]] = {}
    if not path.is_file():
        return records
    lines = path.read_text(encoding="utf-8").split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            key = result_key(record)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            last = all(not rest.strip() for rest in lines[number:])
            if not last:
                logger.warning("%s:%d: dropping a broken line; its image will be drawn again", path, number)
            continue
        records.setdefault(key, record)
    return records


def _collect_results(out: Path) -> dict[tuple[str, int, str, int], dict[str, Any]]:
    """Every record of results.jsonl and of any part files a distributed run left behind."""
    records = _read_results(out / RESULTS_FILE)
    for part in sorted((out / PARTS_DIR).glob("rank-*.jsonl")):
        for key, record in _read_results(part).items():
            records.setdefault(key, record)
    return records


def _remove_parts(out: Path) -> None:
    parts = out / PARTS_DIR
    if parts.is_dir():
        for path in parts.glob("rank-*"):
            path.unlink()
        parts.rmdir()


def _sort_key_factory(suites: list[str], methods: list[str]):
    """Sort records by suite (in run order), prompt, seed and method (in run order); unknown ones last."""
    suite_rank = {name: position for position, name in enumerate(suites)}
    method_rank = {name: position for position, name in enumerate(methods)}

    def key(record: dict[str, Any]):
        return (suite_rank.get(record["suite"], len(suites)), record["suite"], int(record["index"]),
                int(record["seed"]), method_rank.get(record["method"], len(methods)), record["method"])

    return key


def _write_lines(path: Path, records: list[dict[str, Any]]) -> None:
    text = "".join(json.dumps(record) + "\n" for record in records)
    write_text_atomically(path, text)


def _write_json(path: Path, data: Any) -> None:
    write_text_atomically(path, json.dumps(data, indent=2) + "\n")


def write_text_atomically(path: Path, text: str) -> None:
    write_atomically(path, text, make_parents=True)


# -- the summary ------------------------------------------------------------------------------------


def _peak_memory(device: str) -> dict[str, Any]:
    """This process's peak resident memory (MiB; ru_maxrss is KiB on Linux) and, on GPU, peak allocated."""
    memory: dict[str, Any] = {"max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                              "cuda_max_allocated_mib": None}
    if device.startswith("cuda"):
        import torch

        memory["cuda_max_allocated_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return memory


def _machine(device: str, processes: int) -> dict[str, Any]:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    machine = {"platform": platform.platform(), "python": platform.python_version(), "cpu": cpu,
               "cpu_count": os.cpu_count(), "torch": torch.__version__, "device": device, "processes": processes,
               "gpu": None}
    if device.startswith("cuda"):
        machine["gpu"] = torch.cuda.get_device_name(device)
    return machine


def _quantile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    position = share * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarise(records: list[dict[str, Any]], suites: list[Suite], methods: list[str], seeds: list[int],
              settings: dict[str, Any], self_check: SelfCheck, memories: list[dict[str, Any]], device: str,
              processes: int, out_dir: str) -> Summary:
    """The Summary of a run's records (one per job): scores per category and method, times, memory."""
    scores: dict[str, dict[str, CategoryScore]] = {}
    for suite in suites:
        scores[suite.name] = {}
        for method in methods:
            cell = [record for record in records if record["suite"] == suite.name and record["method"] == method]
            scores[suite.name][method] = CategoryScore(
                images=len(cell), correct_strict=sum(bool(record["correct_strict"]) for record in cell),
                correct_lenient=sum(bool(record["correct_lenient"]) for record in cell),
                errors=sum(record.get("error") is not None for record in cell))
    overall: dict[str, dict[str, float | None]] = {}
    for method in methods:
        overall[method] = {}
        for rule in ("strict", "lenient"):
            values = [getattr(scores[suite.name][method], rule) for suite in suites]
            values = [value for value in values if value is not None]
            overall[method][rule] = sum(values) / len(values) if values else None
    time_per_image: dict[str, dict[str, float]] = {}
    stage_median: dict[str, dict[str, float]] = {}
    errors: dict[str, str] = {}
    for method in methods:
        drawn = [record for record in records if record["method"] == method and record.get("error") is None]
        failed = [record for record in records if record["method"] == method and record.get("error") is not None]
        if failed:
            errors[method] = failed[0]["error"]
        if not drawn:
            continue
        totals = [record["timings"]["total"] for record in drawn]
        time_per_image[method] = {"median": statistics.median(totals), "mean": statistics.fmean(totals),
                                  "p90": _quantile(totals, 0.9), "images": len(totals)}
        stages = sorted({stage for record in drawn for stage in record["timings"]} - {"total"})
        stage_median[method] = {stage: statistics.median(record["timings"].get(stage, 0.0) for record in drawn)
                                for stage in stages}
    ratio = None
    if "compose" in time_per_image and "plain" in time_per_image and time_per_image["plain"]["median"] > 0:
        ratio = time_per_image["compose"]["median"] / time_per_image["plain"]["median"]
    rss = [memory["max_rss_mib"] for memory in memories]
    cuda = [memory["cuda_max_allocated_mib"] for memory in memories if memory["cuda_max_allocated_mib"] is not None]
    peak_memory = {"max_rss_mib": max(rss), "cuda_max_allocated_mib": max(cuda) if cuda else None,
                   "per_process": memories}
    counts = {"prompts": sum(len(suite.items) for suite in suites), "images": len(records),
              "errors": sum(record.get("error") is not None for record in records),
              "jobs": sum(len(suite.items) for suite in suites) * len(seeds) * len(methods)}
    return Summary(
        out_dir=out_dir, suites=tuple(suite.name for suite in suites), methods=tuple(methods), seeds=tuple(seeds),
        settings=dict(settings), scores=scores, overall=overall, time_per_image=time_per_image,
        stage_median=stage_median, time_ratio=ratio, peak_memory=peak_memory, self_check=self_check,
        counts=counts, date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        machine=_machine(device, processes), errors=errors)
