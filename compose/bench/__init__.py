"""The compositional benchmark: `compose bench` (shared/specs/benchmark.md, v1; compose issue 5).

    >>> from compose.bench import run_bench
    >>> summary = run_bench(["counting", "position"], methods=["compose", "plain"], seeds=4, out_dir="bench")

- compose.bench.suites: the suites (benchmarks/suites/: one prompt file per category and a folder of
  layout files), layout binding (which scene group each layout region draws) and ground-truth renders;
- compose.bench.runner: `run_bench` (detector self-check, jobs, resume, several processes, summary);
- compose.bench.report: report.html with its plots.
"""

from compose.bench.runner import (CategoryScore, DetectorSelfCheckError, SelfCheck, Summary,
                                  detector_self_check, is_main_process, run_bench)
from compose.bench.suites import (CATEGORIES, LAYOUT_CATEGORY, PROMPT_CATEGORIES, Suite, SuiteItem,
                                  bind_layout, ground_truth_image, load_suite, load_suites, suites_dir)

__all__ = [
    "CATEGORIES", "LAYOUT_CATEGORY", "PROMPT_CATEGORIES", "CategoryScore", "DetectorSelfCheckError", "SelfCheck",
    "Suite", "SuiteItem", "Summary", "bind_layout", "detector_self_check", "ground_truth_image", "is_main_process",
    "load_suite", "load_suites", "run_bench", "suites_dir",
]
