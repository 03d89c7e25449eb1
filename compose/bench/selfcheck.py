"""The detector self-check (compose/specs/benchmark.md, "Running"): before any picture is drawn, a perfect
picture of every scene must be scored correct, else the benchmark's judge is wrong and the run stops.
"""

from __future__ import annotations

import time

from compose.bench.suites import Suite, ground_truth_image
from compose.bench.summary import SelfCheck


class DetectorSelfCheckError(ValueError):
    """The detector does not score every ground-truth render of the suites as correct; the run stops."""


def detector_self_check(suites: list[Suite], seeds: list[int]) -> SelfCheck:
    """Score ground-truth renders of every scene: planned with each seed, or drawn in its own layout.

    Returns how many were correct (strict) and a line per failure; a scene that cannot be planned or
    rendered is a failure too (named with its suite, index and prompt)."""
    from compose.prepare import layout_for
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
                    drawn = layout_for(item.scene, layout, layout_seed)
                    verdict = score_image(item.scene, ground_truth_image(item.scene, drawn), item.layout)
                except ValueError as error:
                    failures.append(f"{where}: {error}")
                    continue
                if verdict.correct_strict:
                    correct += 1
                else:
                    failures.append(f"{where}: {'; '.join(verdict.reasons)}")
    return SelfCheck(images=images, correct=correct, seconds=time.perf_counter() - clock, failures=tuple(failures))
