"""The benchmark runner (compose.bench.run_bench): results, summary, report, resume, several processes.

Every run here uses a tiny random model (built and saved the way the bundled model is, untrained), two
prompts per suite, one seed and two denoising steps, so the pictures are noise and the scores are
whatever the detector reads in noise: what is checked is the bookkeeping, not the model.
Torch runs on one thread in these tests: results are compared bit for bit between runs, and the
pictures of a CPU model can differ in their last bits with the number of threads.
"""

import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from compose.bench import CATEGORIES, run_bench
from compose.bench.results import read_results, result_key

REPOSITORY = Path(__file__).resolve().parent.parent
SMOKE = dict(suites=None, methods=["plain"], seeds=1, steps=2, limit=2, progress=False)
TIMING_FIELDS = ("timings",)


def deterministic(record: dict) -> dict:
    """A results line without what differs between runs of the same inputs (the wall times)."""
    return {key: value for key, value in record.items() if key not in TIMING_FIELDS}


def read_lines(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A tiny untrained model in the bundled format, saved to a folder as `compose train` exports one."""
    from compose.model.bundle import ShapesModelConfig, build_shapes_model, save_bundle
    from compose.model.text import train_tokenizer

    config = ShapesModelConfig(block_out_channels=(32, 64), attention_levels=(True, True), attention_heads=2,
                               text_hidden=32, text_layers=1, text_heads=2, text_length=32, phrase_length=8)
    tokenizer = train_tokenizer(["a red circle", "two blue squares left of a green star", "no yellow triangles",
                                 "an orange diamond above a purple circle"])
    torch.manual_seed(0)
    return save_bundle(build_shapes_model(config, tokenizer), tmp_path_factory.mktemp("model") / "tiny")


@pytest.fixture(scope="module")
def smoke_run(tiny_model, one_thread, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "smoke"
    summary = run_bench(out_dir=out, model=tiny_model, **SMOKE)
    return out, summary


def test_smoke_run_writes_results_summary_and_report(smoke_run):
    out, summary = smoke_run
    lines = read_lines(out)
    assert [result_key(record) for record in lines] == [
        (suite, index, "plain", 0) for suite in CATEGORIES for index in range(2)]
    for record in lines:
        assert record["error"] is None
        assert (out / record["image"]).is_file()
        assert isinstance(record["correct_strict"], bool) and isinstance(record["correct_lenient"], bool)
        assert record["correct_strict"] <= record["correct_lenient"]
        assert record["correct_strict"] == (not record["reasons"])
        assert set(record["failure_kinds"]) == {reason.split(":")[0] for reason in record["reasons"]}
        assert {"generate", "total", "score"} <= set(record["timings"])
        assert (record["layout_file"] is not None) == (record["suite"] == "layout")
        if record["suite"] == "layout":
            assert len(record["region_ious"]) >= 2
    written = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert written == json.loads(json.dumps(summary.to_dict()))
    assert written["detector_self_check"]["images"] == written["detector_self_check"]["correct"] == 18
    assert written["counts"] == {"prompts": 18, "images": 18, "errors": 0, "jobs": 18}
    for category in CATEGORIES:
        cell = written["scores"][category]["plain"]
        mine = [record for record in lines if record["suite"] == category]
        assert cell["images"] == 2
        assert cell["strict"] == sum(record["correct_strict"] for record in mine) / 2
        assert cell["lenient"] == sum(record["correct_lenient"] for record in mine) / 2
    stricts = [written["scores"][category]["plain"]["strict"] for category in CATEGORIES]
    assert written["overall"]["plain"]["strict"] == pytest.approx(sum(stricts) / len(stricts))
    assert written["time_per_image"]["plain"]["images"] == 18
    assert written["time_ratio_compose_over_plain"] is None
    assert written["peak_memory"]["max_rss_mib"] > 0
    assert written["steps"] == 2 and written["seeds"] == [0] and written["sampler"] == "ddim"

    report = (out / "report.html").read_text(encoding="utf-8")
    sources = re.findall(r"src='([^']+)'", report)
    assert sum(source.startswith("images/") for source in sources) == 18
    assert {"plots/scores.png", "plots/time_per_image.png", "plots/stage_times.png"} <= set(sources)
    for source in sources:
        assert (out / source).is_file(), source
    assert "18 of 18 ground-truth renders correct" in report
    failed = next(record for record in lines if record["reasons"])
    assert html.escape(failed["reasons"][0], quote=True) in report, "each failure reason is shown"


def test_a_method_that_raises_is_recorded_and_the_run_goes_on(tiny_model, one_thread, tmp_path, monkeypatch):
    from compose.generate import Generator

    original = Generator.__call__

    def compose_not_ready(self, *args, **kwargs):
        if kwargs.get("method") == "compose":
            raise ValueError("compose is not ready in this test")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Generator, "__call__", compose_not_ready)
    summary = run_bench(["single", "layout"], ["compose", "plain"], seeds=1, out_dir=tmp_path, model=tiny_model,
                        steps=2, limit=1, progress=False)
    lines = read_lines(tmp_path)
    assert [(record["suite"], record["method"]) for record in lines] == [
        ("single", "compose"), ("single", "plain"), ("layout", "compose"), ("layout", "plain")]
    for record in lines:
        if record["method"] == "compose":
            assert record["error"] == "compose is not ready in this test" and record["image"] is None
            assert record["correct_strict"] is False and record["failure_kinds"] == ["error"]
        else:
            assert record["error"] is None and (tmp_path / record["image"]).is_file()
    assert summary.scores["single"]["compose"].strict is None
    assert summary.scores["single"]["compose"].errors == 1
    assert summary.scores["single"]["plain"].strict is not None
    assert summary.errors == {"compose": "compose is not ready in this test"}
    assert "compose is not ready in this test" in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_resume_redraws_only_what_is_missing(smoke_run, tmp_path):
    out, _ = smoke_run
    original = read_lines(out)
    resumed = tmp_path / "resumed"
    shutil.copytree(out, resumed)
    lines = (resumed / "results.jsonl").read_text(encoding="utf-8").splitlines()
    dropped = {3, 7}
    for number in dropped:
        (resumed / json.loads(lines[number])["image"]).unlink()
    kept = [line for number, line in enumerate(lines) if number not in dropped]
    truncated = kept[-1][: len(kept[-1]) // 2]  # a run killed while writing its last line
    (resumed / "results.jsonl").write_text("\n".join(kept[:-1] + [truncated]), encoding="utf-8")

    run_bench(out_dir=resumed, model=smoke_run[1].settings["model"], resume=True, **SMOKE)
    again = read_lines(resumed)
    assert len(again) == len(original) == len({result_key(record) for record in again})
    assert [deterministic(record) for record in again] == [deterministic(record) for record in original]
    redrawn = {number for number, (old, new) in enumerate(zip(original, again)) if old["timings"] != new["timings"]}
    assert redrawn == dropped | {len(lines) - 1}, "only the deleted and the truncated lines are drawn again"
    for record in original:
        assert (resumed / record["image"]).read_bytes() == (out / record["image"]).read_bytes()

    run_bench(out_dir=resumed, model=smoke_run[1].settings["model"], resume=True, **SMOKE)
    assert read_lines(resumed) == again, "resuming a finished run changes nothing"


def test_resume_merges_the_part_files_of_a_killed_distributed_run(smoke_run, tmp_path):
    """Processes killed before the merge leave parts/rank-K.jsonl: a resumed run takes their lines."""
    out, summary = smoke_run
    original = read_lines(out)
    resumed = tmp_path / "killed"
    shutil.copytree(out, resumed)
    lines = (resumed / "results.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (resumed / "parts").mkdir()
    (resumed / "results.jsonl").write_text("".join(lines[:5]), encoding="utf-8")
    (resumed / "parts" / "rank-0.jsonl").write_text("".join(lines[5:10]), encoding="utf-8")
    (resumed / "parts" / "rank-1.jsonl").write_text("".join(lines[10:] + lines[:2]), encoding="utf-8")
    run_bench(out_dir=resumed, model=summary.settings["model"], resume=True, **SMOKE)
    assert read_lines(resumed) == original, "nothing drawn again, nothing counted twice"
    assert not (resumed / "parts").exists()


def test_out_dir_of_another_run_is_refused(smoke_run):
    out, summary = smoke_run
    model = summary.settings["model"]
    with pytest.raises(ValueError, match="already holds a benchmark run"):
        run_bench(out_dir=out, model=model, **SMOKE)
    with pytest.raises(ValueError, match=r"other settings \(steps 2 -> 3\)"):
        run_bench(out_dir=out, model=model, resume=True, **{**SMOKE, "steps": 3})


def test_methods_at_several_step_counts_draw_side_by_side_and_plot_a_steps_curve(tiny_model, one_thread, tmp_path,
                                                                                   monkeypatch):
    from compose.generate import Generator

    asked = []
    original = Generator.__call__

    def counting(self, *args, **kwargs):
        asked.append((kwargs.get("method"), kwargs.get("steps")))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Generator, "__call__", counting)
    summary = run_bench(["single"], "plain@1,plain,plain@3", seeds=1, out_dir=tmp_path, model=tiny_model, steps=2,
                        limit=1, progress=False)
    assert asked[-3:] == [("plain", 1), ("plain", 2), ("plain", 3)]  # after the warm-up picture
    assert [record["method"] for record in read_lines(tmp_path)] == ["plain@1", "plain", "plain@3"]
    assert set(summary.overall) == {"plain@1", "plain", "plain@3"}
    assert (tmp_path / "plots" / "steps_curve.png").is_file()
    assert "plots/steps_curve.png" in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_bad_inputs_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="method 'fancy'"):
        run_bench(["single"], ["fancy"], out_dir=tmp_path)
    with pytest.raises(ValueError, match="method 'plain@0'.*step count from 1 to 1000"):
        run_bench(["single"], ["plain@0"], out_dir=tmp_path)
    with pytest.raises(ValueError, match="method 'fancy@4'"):
        run_bench(["single"], ["fancy@4"], out_dir=tmp_path)
    with pytest.raises(ValueError, match="name each method once"):
        run_bench(["single"], "plain,plain", out_dir=tmp_path)
    with pytest.raises(ValueError, match="seeds 0"):
        run_bench(["single"], ["plain"], seeds=0, out_dir=tmp_path)
    with pytest.raises(ValueError, match="not a category"):
        run_bench(["singel"], ["plain"], out_dir=tmp_path)
    assert not (tmp_path / "results.jsonl").exists()


def test_a_truncated_last_line_is_dropped_and_a_duplicate_kept_once(tmp_path):
    path = tmp_path / "results.jsonl"
    first = {"suite": "single", "index": 0, "method": "plain", "seed": 0, "correct_strict": True}
    duplicate = {**first, "correct_strict": False}
    second = {"suite": "single", "index": 1, "method": "plain", "seed": 0}
    path.write_text("\n".join([json.dumps(first), json.dumps(duplicate), json.dumps(second)[:-9]]), encoding="utf-8")
    records = read_results(path)
    assert list(records) == [("single", 0, "plain", 0)]
    assert records[("single", 0, "plain", 0)]["correct_strict"] is True


@pytest.mark.slow  # two processes under torchrun: about 11 s
def test_two_processes_under_torchrun_match_one_process(smoke_run, tmp_path):
    out, summary = smoke_run
    script = tmp_path / "bench_script.py"
    script.write_text(
        "import logging, sys\nfrom compose.bench import run_bench\nlogging.basicConfig(level=logging.INFO)\n"
        "run_bench(out_dir=sys.argv[1], model=sys.argv[2], suites=None, methods=['plain'], seeds=1, steps=2, "
        "limit=2, progress=False)\n", encoding="utf-8")
    distributed = tmp_path / "two"
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               str(script), str(distributed), summary.settings["model"]]
    finished = subprocess.run(command, cwd=REPOSITORY, env=environment, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert finished.stderr.count("18 of 18 images to draw (0 already done); this process draws 9") == 2, \
        "each of the two processes draws half of the pictures"
    two = read_lines(distributed)
    one = read_lines(out)
    assert [deterministic(record) for record in two] == [deterministic(record) for record in one]
    for record in one:
        assert (distributed / record["image"]).read_bytes() == (out / record["image"]).read_bytes()
    written = json.loads((distributed / "summary.json").read_text(encoding="utf-8"))
    assert written["machine"]["processes"] == 2
    assert len(written["peak_memory"]["per_process"]) == 2
    assert written["scores"] == json.loads(json.dumps(summary.to_dict()))["scores"]
    assert not (distributed / "parts").exists(), "the part files are merged and removed"


# --- the runner's pieces on their own ---------------------------------------------------------------

def test_results_sort_by_suite_and_method_in_run_order_then_prompt_and_seed():
    from compose.bench.results import sort_key_factory

    key = sort_key_factory(["position", "single"], ["plain", "compose"])
    records = [{"suite": suite, "index": index, "seed": seed, "method": method}
               for suite in ("single", "extra", "position") for index in (1, 0)
               for seed in (1, 0) for method in ("compose", "plain")]
    ordered = [(r["suite"], r["index"], r["seed"], r["method"]) for r in sorted(records, key=key)]
    assert ordered[:4] == [("position", 0, 0, "plain"), ("position", 0, 0, "compose"),
                           ("position", 0, 1, "plain"), ("position", 0, 1, "compose")]
    assert [suite for suite, *_ in ordered] == ["position"] * 8 + ["single"] * 8 + ["extra"] * 8


def test_a_single_process_is_rank_zero_and_keeps_every_job(monkeypatch):
    from compose.bench.processes import Processes, is_main_process

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    processes = Processes("cpu")
    assert (processes.rank, processes.count, processes.is_main, processes.device) == (0, 1, True, None)
    jobs = ["a", "b", "c"]
    assert processes.share(jobs) is jobs
    assert is_main_process()
    monkeypatch.setenv("RANK", "1")
    assert not is_main_process()


def test_summary_scores_count_errors_as_wrong_and_a_method_that_never_ran_as_not_run():
    from compose.bench.suites import Suite
    from compose.bench.summary import SelfCheck, Summary, summarise

    def record(suite, index, method, correct, error=None, total=1.0):
        return {"suite": suite, "index": index, "method": method, "seed": 0, "correct_strict": correct,
                "correct_lenient": correct, "error": error, "timings": {} if error else {"total": total, "plan": 0.1}}

    records = [record("single", 0, "compose", True, total=3.0), record("single", 1, "compose", False, total=5.0),
               record("single", 0, "plain", True, total=1.0), record("single", 1, "plain", False, error="boom"),
               record("counting", 0, "compose", True, total=4.0), record("counting", 0, "plain", False, error="boom")]
    suites = [Suite("single", (), "single.txt"), Suite("counting", (), "counting.txt")]
    memory = {"max_rss_mib": 10.0, "cuda_max_allocated_mib": None}
    summary = summarise(records, suites, ["compose", "plain"], [0], {"model": "m"}, SelfCheck(3, 3, 0.1),
                        [memory], "cpu", 1, "out")
    assert summary.scores["single"]["compose"].strict == 0.5
    assert summary.scores["single"]["plain"].strict == 0.5  # the error counts as not correct
    assert summary.scores["counting"]["plain"].strict is None  # every image an error: not run
    assert summary.overall["compose"]["strict"] == pytest.approx(0.75)
    assert summary.overall["plain"]["strict"] == 0.5  # the mean over the categories that ran
    assert summary.time_per_image["compose"]["median"] == 4.0
    assert summary.time_ratio == pytest.approx(4.0)
    assert summary.errors == {"plain": "boom"}
    again = Summary.from_dict(json.loads(json.dumps(summary.to_dict())), "out")
    assert again.scores == summary.scores and again.overall == summary.overall
