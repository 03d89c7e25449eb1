"""The compositional benchmark: `compose bench` (compose/specs/benchmark.md, benchmark v1; compose issue 5).

    >>> from compose.bench import run_bench
    >>> summary = run_bench(["counting", "position"], methods=["compose", "plain"], seeds=4, out_dir="bench")

- compose.bench.suites: the suites (package data under compose/bench/suites_data/: one prompt file per
  category and a folder of layout files), layout binding (which scene group each layout region draws)
  and ground-truth renders;
- compose.bench.runner: `run_bench`, the steps of one run in order;
- compose.bench.selfcheck: the detector self-check; compose.bench.jobs: drawing, reading back and
  scoring one picture; compose.bench.processes: one process or several under torchrun / accelerate;
  compose.bench.results: results.jsonl and the part files;
- compose.bench.summary: what a run measured (the files of a run, `Summary`, `summarise`), shared by
  the runner and the report;
- compose.bench.report: report.html with its plots.
"""

from compose.bench.processes import is_main_process
from compose.bench.runner import run_bench
from compose.bench.selfcheck import DetectorSelfCheckError, detector_self_check
from compose.bench.suites import (CATEGORIES, LAYOUT_CATEGORY, PROMPT_CATEGORIES, Suite, SuiteItem,
                                  bind_layout, ground_truth_image, load_suite, load_suites, suites_dir)
from compose.bench.summary import CategoryScore, SelfCheck, Summary

__all__ = [
    "CATEGORIES", "LAYOUT_CATEGORY", "PROMPT_CATEGORIES", "CategoryScore", "DetectorSelfCheckError", "SelfCheck",
    "Suite", "SuiteItem", "Summary", "bind_layout", "detector_self_check", "ground_truth_image", "is_main_process",
    "load_suite", "load_suites", "run_bench", "suites_dir",
]
