"""What a benchmark run measured: the files of a run, the self-check, the scores and the summary.

`summarise` turns a run's records (one per job, results.jsonl) into a `Summary` (summary.json): the
share of correct images per category and method by the strict and the lenient rules of
compose/specs/benchmark.md, their mean over the categories, times per image and per stage, and peak memory.
This module is what the runner and the report share (compose.bench.runner, compose.bench.report).
"""

from __future__ import annotations

import datetime
import os
import platform
import resource
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compose.bench.suites import Suite

# The files and folders of a run's out_dir.
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
    # category ("overall" too) -> method -> median fidelity figures (docs: compose.shapes.fidelity), the
    # mean attention in-region share (runs with attention) and the mean repair rounds (repairing methods)
    quality: dict[str, dict[str, dict[str, float | None]]] = field(default_factory=dict)

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
            "quality": self.quality,
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
            counts=data["counts"], date=data["date"], machine=data["machine"], errors=data.get("errors", {}),
            quality=data.get("quality", {}))


# -- the summary ------------------------------------------------------------------------------------


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
        machine=_machine(device, processes), errors=errors, quality=_quality(records, suites, methods))


def _quality(records: list[dict[str, Any]], suites: list[Suite], methods: list[str]) -> dict:
    """Per category and overall, per method: median render difference and background error (levels of
    255), the mean attention in-region share and the mean number of repair rounds, where recorded."""
    def figures(cell: list[dict[str, Any]]) -> dict[str, float | None]:
        drawn = [record for record in cell if record.get("fidelity")]
        shares = [record["attention_in_region"] for record in cell if record.get("attention_in_region") is not None]
        rounds = [record["repair_round_count"] for record in cell if "repair_round_count" in record]
        return {
            "median_render_difference": statistics.median(r["fidelity"]["render_difference"] for r in drawn) if drawn else None,
            "median_background_error": statistics.median(r["fidelity"]["background_error"] for r in drawn) if drawn else None,
            "mean_attention_in_region": statistics.fmean(shares) if shares else None,
            "mean_repair_rounds": statistics.fmean(rounds) if rounds else None,
        }

    quality = {suite.name: {method: figures([r for r in records if r["suite"] == suite.name and r["method"] == method])
                            for method in methods} for suite in suites}
    quality["overall"] = {method: figures([r for r in records if r["method"] == method]) for method in methods}
    return quality


def _quantile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    position = share * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def peak_memory(device: str) -> dict[str, Any]:
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
