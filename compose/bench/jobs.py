"""The jobs of a run: one picture per (suite item, method, seed), drawn, saved, read back and scored."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compose.bench.suites import SuiteItem
from compose.bench.summary import IMAGES_DIR

logger = logging.getLogger(__name__)

WARM_UP_PROMPT = "a red circle"
STEPS_MARK = "@"  # "compose@4": the compose method at 4 denoising steps, beside others in one run


def method_and_steps(label: str, default: int) -> tuple[str, int]:
    """A run's method label split into (method, steps): "compose@4" -> ("compose", 4); a bare name keeps the
    run's step count. Labels with step counts put several counts side by side: the report's steps curve."""
    method, mark, count = label.partition(STEPS_MARK)
    if not mark:
        return label, default
    if not count.isdigit() or not 1 <= int(count) <= 1000:
        raise ValueError(f"method {label!r}: after {STEPS_MARK!r} give a step count from 1 to 1000, e.g. compose@8")
    return method, int(count)


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


def run_jobs(jobs: list[Job], out: Path, target: Path, settings: dict[str, Any], device: str,
              progress: bool) -> None:
    from tqdm.auto import tqdm

    from compose.generate import Generator

    generator = Generator(settings["model"] if settings["model"] != "bundled" else None, device=device,
                          sampler=settings["sampler"])
    generator.bundle.make_scheduler(settings["sampler"])  # an unknown sampler fails here, not per image
    _warm_up(generator, sorted({method_and_steps(job.method, 1)[0] for job in jobs}), settings)
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
    from compose.shapes.fidelity import fidelity
    from compose.shapes.score import score

    item = job.item
    record: dict[str, Any] = {
        "suite": item.suite, "index": item.index, "prompt": item.prompt, "method": job.method, "seed": job.seed,
        "layout_file": Path(item.source).name if item.layout is not None else None,
    }
    method, steps = method_and_steps(job.method, settings["steps"])
    clock = time.perf_counter()
    try:
        result = generator(prompt=item.prompt, layout=item.layout, method=method, seed=job.seed,
                           steps=steps, guidance=settings["guidance"], size=settings["size"],
                           attention=bool(settings.get("attention")))
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
    if result.attention is not None:
        record["attention_in_region"] = result.attention.mean_in_region
        if not verdict.correct_strict:  # why did it fail? the report shows each object's map beside the picture
            record["attention_image"] = _write_attention_figure(result, out / job.image_name)
    if result.repairs:
        record["repair_round_count"] = len(result.repairs) - 1
    return {**record, "correct_strict": verdict.correct_strict, "correct_lenient": verdict.correct_lenient,
            "fidelity": fidelity(result.image, detections).to_dict(),
            "failure_kinds": list(verdict.kinds), "reasons": list(verdict.reasons),
            "region_ious": [round(value, 4) for value in verdict.region_ious],
            "detected": [item.to_dict() for item in detections], "image": job.image_name,
            "timings": timings, "error": None}


def _write_attention_figure(result, picture: Path) -> str:
    """A failed picture's explanation (the picture, its layout, each object's cross-attention map with
    its in-region share) saved beside it as NAME-attention.png; returns that file's name."""
    from compose.regions.explain import draw_explanation

    path = picture.with_name(picture.stem + "-attention.png")
    title = f"{result.method}: {result.prompt or ''}"
    draw_explanation(result.image, result.attention.layout, result.attention, title=title[:90],
                     layout_title="layout" if result.method != "plain" else "layout (planned, not used)").save(path)
    return f"{path.parent.name}/{path.name}"
