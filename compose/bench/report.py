"""The benchmark report a person reads: out_dir/report.html, with its plots as PNG files beside it.

Self-contained: one HTML file with its style inline, the pictures referenced by relative paths
(images/ for the generated pictures, reference/ for the ground-truth renders, plots/ for the
matplotlib charts), so the folder can be copied or zipped and opened anywhere. It shows the settings
and the detector self-check, a score table (category x method, strict and lenient), score and timing
plots, and for each category an image grid: one row per prompt with its ground-truth reference, then
every seed of each method side by side, each picture framed green (correct), amber (only the strict
rule failed) or red (wrong), with its failure reasons as a caption and a tooltip.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any

from compose.bench.results import write_text_atomically
from compose.bench.suites import Suite, ground_truth_image
from compose.bench.summary import REPORT_FILE, Summary

logger = logging.getLogger(__name__)

PLOTS_DIR = "plots"
REFERENCE_DIR = "reference"
THUMBNAIL_PIXELS = 96
CAPTION_CHARACTERS = 70
FAILED_MAPS_SHOWN = 40  # failed pictures whose attention maps the report shows inline
METHOD_COLORS = {"compose": "#2b6cb0", "plain": "#a0a0a0"}
OTHER_COLORS = ("#805ad5", "#dd6b20", "#38a169")

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1a202c; margin: 24px auto;
       max-width: 1500px; padding: 0 16px; background: #fafafa; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { margin-top: 36px; border-bottom: 2px solid #e2e8f0; }
.meta { color: #4a5568; } .meta b { color: #1a202c; }
table { border-collapse: collapse; background: white; }
table.scores td, table.scores th { border: 1px solid #e2e8f0; padding: 4px 10px; text-align: right; }
table.scores th { background: #edf2f7; } table.scores td:first-child { text-align: left; font-weight: 600; }
table.scores tr.overall td { border-top: 2px solid #718096; font-weight: 700; }
.check-ok { color: #276749; font-weight: 600; } .check-bad { color: #c53030; font-weight: 600; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; margin-top: 12px; }
.plots img { height: 300px; max-width: 100%; border: 1px solid #e2e8f0; background: white; }
table.grid { margin-top: 8px; } table.grid td { vertical-align: top; padding: 4px; border-bottom: 1px solid #edf2f7; }
table.grid th { position: sticky; top: 0; background: #edf2f7; padding: 4px; z-index: 1; }
td.prompt { max-width: 220px; font-size: 13px; } td.prompt .index { color: #718096; font-size: 11px; }
td.sep { border-left: 3px solid #cbd5e0; }
figure { display: inline-block; margin: 0 2px; width: 100px; vertical-align: top; text-align: center; }
figure img { width: 96px; height: 96px; image-rendering: pixelated; border: 3px solid; display: block; }
figure.pass img { border-color: #38a169; } figure.lenient img { border-color: #d69e2e; }
figure.fail img { border-color: #e53e3e; } figure.maps img { max-width: 100%; border: 0; }
.failed-maps figure { display: block; margin: 0 0 14px; } figure.reference img { border-color: #a0aec0; }
figure.error div.missing { width: 96px; height: 96px; border: 3px dashed #e53e3e; font-size: 11px;
       color: #c53030; display: flex; align-items: center; justify-content: center; }
figcaption { font-size: 10.5px; line-height: 1.25; color: #4a5568; word-wrap: break-word; }
figcaption .mark-pass { color: #276749; font-weight: 700; } figcaption .mark-fail { color: #c53030; font-weight: 700; }
figcaption .mark-lenient { color: #b7791f; font-weight: 700; }
.legend span { display: inline-block; padding: 0 8px; margin-right: 8px; border-left: 12px solid; }
"""


def write_report(summary: Summary, records: list[dict[str, Any]], out: Path, suites: list[Suite] | None = None) -> Path:
    """Write out_dir/report.html (and its plots/ and reference/ pictures); returns the report's path."""
    out = Path(out)
    plots = write_plots(summary, records, out / PLOTS_DIR)
    references = _write_references(summary, suites or [], out / REFERENCE_DIR)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>compose benchmark report</title>", f"<style>{_STYLE}</style></head><body>",
        "<h1>Compositional benchmark</h1>",
        _meta_html(summary),
        "<h2>Scores</h2>", _scores_html(summary),
        "<p class='meta'>A category's score is the share of its pictures that are correct (compose/specs/"
        "benchmark.md): <b>strict</b> also forbids anything the prompt did not ask for, <b>lenient</b> does "
        "not. A picture whose method failed counts as wrong; a method that failed on every picture shows —.</p>",
        _timing_html(summary),
        _quality_html(summary),
        "<div class='plots'>" + "".join(f"<img src='{html.escape(path)}' alt='{html.escape(Path(path).stem)}'>"
                                        for path in plots) + "</div>",
        "<h2>Pictures</h2>",
        "<p class='legend'><span style='border-color:#38a169'>correct</span>"
        "<span style='border-color:#d69e2e'>correct except for extra objects (lenient only)</span>"
        "<span style='border-color:#e53e3e'>wrong</span><span style='border-color:#a0aec0'>ground-truth "
        "reference (first seed's layout)</span> Hover a picture for every failure reason.</p>",
    ]
    for suite_name in summary.suites:
        suite_records = [record for record in records if record["suite"] == suite_name]
        parts.append(_grid_html(suite_name, suite_records, summary, references))
    parts.append(_failed_maps_html(records))
    parts.append("</body></html>\n")
    path = out / REPORT_FILE
    write_text_atomically(path, "\n".join(parts))
    return path


# -- plots -------------------------------------------------------------------------------------------


def _method_color(method: str, position: int) -> str:
    return METHOD_COLORS.get(method, OTHER_COLORS[position % len(OTHER_COLORS)])


def write_plots(summary: Summary, records: list[dict[str, Any]], folder: Path) -> list[str]:
    """Score bars, time-per-image distribution and per-stage bars as PNG; paths relative to out_dir."""
    import matplotlib
    from matplotlib.figure import Figure  # no pyplot: no process-wide backend or figure registry

    folder.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    methods = list(summary.methods)

    # 1. Scores per category: strict as solid bars, lenient as light bars behind them.
    figure = Figure(figsize=(10, 3.6), dpi=110)
    axes = figure.subplots()
    categories = list(summary.suites) + ["overall"]
    width = 0.8 / max(len(methods), 1)
    for position, method in enumerate(methods):
        strict, lenient = [], []
        for category in categories:
            if category == "overall":
                values = summary.overall[method]
                strict.append(values["strict"] or 0.0)
                lenient.append(values["lenient"] or 0.0)
            else:
                cell = summary.scores[category][method]
                strict.append(cell.strict or 0.0)
                lenient.append(cell.lenient or 0.0)
        offsets = [index + (position - (len(methods) - 1) / 2) * width for index in range(len(categories))]
        color = _method_color(method, position)
        axes.bar(offsets, [100 * value for value in lenient], width * 0.9, color=color, alpha=0.35)
        ran = summary.overall[method]["strict"] is not None
        axes.bar(offsets, [100 * value for value in strict], width * 0.9, color=color,
                 label=f"{method} (strict)" if ran else f"{method} (did not run)")
    axes.set_xticks(range(len(categories)), [category.replace("_", " ") for category in categories], rotation=20)
    axes.set_ylabel("correct pictures (%)")
    axes.set_ylim(0, 105)
    axes.set_title("Score per category (light bar: lenient)")
    axes.legend(loc="upper right", fontsize=8)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(folder / "scores.png")
    written.append(f"{PLOTS_DIR}/scores.png")

    drawn = {method: [record for record in records if record["method"] == method and record.get("error") is None]
             for method in methods}
    timed = [method for method in methods if drawn[method]]
    if not timed:
        return written

    # 2. Time per picture: one box per method, the pictures as dots over it.
    figure = Figure(figsize=(6, 3.6), dpi=110)
    axes = figure.subplots()
    series = [[record["timings"]["total"] for record in drawn[method]] for method in timed]
    boxes = axes.boxplot(series, patch_artist=True, widths=0.5, showfliers=False)
    for position, (patch, method) in enumerate(zip(boxes["boxes"], timed)):
        patch.set_facecolor(_method_color(method, methods.index(method)))
        patch.set_alpha(0.5)
        values = series[position]
        jitter = [position + 1 + 0.18 * ((index * 0.618) % 1 - 0.5) for index in range(len(values))]
        axes.scatter(jitter, values, s=6, color="#2d3748", alpha=0.5, zorder=3)
    axes.set_xticks(range(1, len(timed) + 1), timed)
    axes.set_ylabel("seconds per picture")
    axes.set_title("Time per picture (generator call)")
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(folder / "time_per_image.png")
    written.append(f"{PLOTS_DIR}/time_per_image.png")

    # 3. Median seconds per stage, stacked per method.
    stages = sorted({stage for method in timed for stage in summary.stage_median.get(method, {})})
    figure = Figure(figsize=(6, 3.6), dpi=110)
    axes = figure.subplots()
    palette = matplotlib.colormaps["tab10"]
    left = [0.0] * len(timed)
    for index, stage in enumerate(stages):
        values = [summary.stage_median.get(method, {}).get(stage, 0.0) for method in timed]
        axes.barh(timed, values, left=left, color=palette(index % 10), label=stage)
        left = [a + b for a, b in zip(left, values)]
    axes.set_xlabel("median seconds per picture")
    axes.set_title("Time per stage")
    axes.legend(fontsize=8, loc="lower right", ncols=min(len(stages), 4))
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    figure.savefig(folder / "stage_times.png")
    written.append(f"{PLOTS_DIR}/stage_times.png")
    written.extend(_steps_curve_plot(summary, folder))
    return written


def _steps_curves(summary: Summary) -> dict[str, list[tuple[int, str]]]:
    """Method -> its (steps, label) pairs, fewest steps first, for methods the run drew at two or more
    step counts ("compose@4", "compose@8", and a bare "compose" at the run's own count)."""
    from compose.bench.jobs import method_and_steps

    curves: dict[str, list[tuple[int, str]]] = {}
    for label in summary.methods:
        method, steps = method_and_steps(label, summary.settings["steps"])
        curves.setdefault(method, []).append((steps, label))
    return {method: sorted(points) for method, points in curves.items() if len({s for s, _ in points}) > 1}


def _steps_curve_plot(summary: Summary, folder: Path) -> list[str]:
    """Strict accuracy and median difference to a clean render against the step count, per method."""
    from matplotlib.figure import Figure

    curves = _steps_curves(summary)
    if not curves:
        return []
    figure = Figure(figsize=(9, 3.6), dpi=110)
    accuracy, fidelity = figure.subplots(1, 2)
    for position, (method, points) in enumerate(curves.items()):
        color = _method_color(method, position)
        steps = [count for count, _ in points]
        strict = [summary.overall[label]["strict"] for _, label in points]
        accuracy.plot(steps, [100 * (value or 0.0) for value in strict], marker="o", color=color, label=method)
        overall = summary.quality.get("overall", {})
        render = [overall.get(label, {}).get("median_render_difference") for _, label in points]
        fidelity.plot(steps, [value if value is not None else float("nan") for value in render], marker="o",
                      color=color, label=method)
    counts = sorted({count for points in curves.values() for count, _ in points})
    for axes, label in ((accuracy, "correct pictures, strict (%)"), (fidelity, "median difference to a clean render")):
        axes.set_xscale("log", base=2)
        axes.set_xticks(counts, [str(count) for count in counts])
        axes.set_xlabel(f"denoising steps ({summary.settings.get('sampler', 'ddim')})")
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    accuracy.set_ylim(0, 105)
    fidelity.set_ylim(bottom=0)
    figure.suptitle("Accuracy and picture quality against steps")
    figure.tight_layout()
    figure.savefig(folder / "steps_curve.png")
    return [f"{PLOTS_DIR}/steps_curve.png"]


def _write_references(summary: Summary, suites: list[Suite], folder: Path) -> dict[tuple[str, int], str]:
    """Ground-truth renders (the first seed's planned layout, or the item's own) for the grids."""
    from PIL import Image

    from compose.prepare import layout_for

    references: dict[tuple[str, int], str] = {}
    if not suites:
        return references
    folder.mkdir(parents=True, exist_ok=True)
    for suite in suites:
        for item in suite.items:
            try:
                layout = layout_for(item.scene, item.layout, summary.seeds[0])
                image = ground_truth_image(item.scene, layout)
            except ValueError as error:  # the self-check has already passed, so this is unexpected
                logger.warning("no reference picture for %s[%d]: %s", suite.name, item.index, error)
                continue
            name = f"{REFERENCE_DIR}/{suite.name}-{item.index:03d}.png"
            Image.fromarray(image).save(folder.parent / name)
            references[(suite.name, item.index)] = name
    return references


# -- html pieces -----------------------------------------------------------------------------------


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _meta_html(summary: Summary) -> str:
    settings = summary.settings
    machine = summary.machine
    check = summary.self_check
    check_class = "check-ok" if check.correct == check.images else "check-bad"
    rows = [
        f"<b>date</b> {html.escape(summary.date)} &nbsp; <b>model</b> {html.escape(str(settings['model']))} &nbsp; "
        f"<b>sampler</b> {html.escape(str(settings['sampler']))} &nbsp; <b>steps</b> {settings['steps']} &nbsp; "
        f"<b>guidance</b> {settings['guidance']} &nbsp; <b>seeds</b> {', '.join(map(str, summary.seeds))}",
        f"<b>machine</b> {html.escape(str(machine.get('cpu')))} ({machine.get('cpu_count')} CPUs), device "
        f"{html.escape(str(machine.get('device')))}"
        + (f" ({html.escape(str(machine['gpu']))})" if machine.get("gpu") else "")
        + f", {machine.get('processes')} process(es), torch {html.escape(str(machine.get('torch')))}",
        f"<b>pictures</b> {summary.counts['images']} of {summary.counts['jobs']} "
        f"({summary.counts['prompts']} prompts; {summary.counts['errors']} failed to draw)",
        f"<b>detector self-check</b> <span class='{check_class}'>{check.correct} of {check.images} ground-truth "
        f"renders correct</span> ({check.seconds:.1f} s)",
    ]
    for method, message in summary.errors.items():
        rows.append(f"<b>{html.escape(method)}</b> failed: {html.escape(message)}")
    return "".join(f"<div class='meta'>{row}</div>" for row in rows)


def _score_cell(value: float | None) -> str:
    if value is None:
        return "<td>—</td>"
    hue = round(120 * value)  # red (0) to green (120)
    return f"<td style='background: hsl({hue}, 60%, 90%)'>{_percent(value)}</td>"


def _scores_html(summary: Summary) -> str:
    methods = list(summary.methods)
    head = "<tr><th rowspan='2'>category</th>" + "".join(f"<th colspan='3'>{html.escape(method)}</th>"
                                                         for method in methods) + "</tr>"
    head += "<tr>" + "<th>strict</th><th>lenient</th><th>pictures</th>" * len(methods) + "</tr>"
    rows = []
    for category in summary.suites:
        cells = []
        for method in methods:
            cell = summary.scores[category][method]
            count = f"{cell.images}" + (f" ({cell.errors} failed)" if cell.errors else "")
            cells.append(_score_cell(cell.strict) + _score_cell(cell.lenient) + f"<td>{count}</td>")
        rows.append(f"<tr><td>{html.escape(category)}</td>{''.join(cells)}</tr>")
    overall = "".join(_score_cell(summary.overall[method]["strict"]) + _score_cell(summary.overall[method]["lenient"])
                      + "<td></td>" for method in methods)
    rows.append(f"<tr class='overall'><td>overall (mean of categories)</td>{overall}</tr>")
    return f"<table class='scores'>{head}{''.join(rows)}</table>"


def _timing_html(summary: Summary) -> str:
    if not summary.time_per_image:
        return "<p class='meta'>No picture was drawn, so there are no timings.</p>"
    rows = []
    for method, values in summary.time_per_image.items():
        stages = ", ".join(f"{stage} {seconds:.3f}" for stage, seconds in summary.stage_median.get(method, {}).items())
        rows.append(f"<tr><td>{html.escape(method)}</td><td>{values['median']:.3f}</td><td>{values['mean']:.3f}</td>"
                    f"<td>{values['p90']:.3f}</td><td>{values['images']}</td>"
                    f"<td style='text-align:left'>{html.escape(stages)}</td></tr>")
    ratio = (f"<p class='meta'><b>compose / plain</b> median time per picture: {summary.time_ratio:.2f}x</p>"
             if summary.time_ratio is not None else "")
    memory = summary.peak_memory
    memory_line = f"<b>peak memory</b> {memory['max_rss_mib']:.0f} MiB resident"
    if memory.get("cuda_max_allocated_mib") is not None:
        memory_line += f", {memory['cuda_max_allocated_mib']:.0f} MiB allocated on the GPU"
    return ("<h2>Cost</h2><table class='scores'><tr><th>method</th><th>median s</th><th>mean s</th><th>p90 s</th>"
            "<th>pictures</th><th>median s per stage</th></tr>" + "".join(rows) + "</table>" + ratio
            + f"<p class='meta'>{memory_line}</p>")


def _quality_html(summary: Summary) -> str:
    """Picture quality (fidelity), attention in-region share and repair rounds per category and method."""
    if not summary.quality:
        return ""
    columns = (("median_render_difference", "vs clean render", "{:.2f}"),
               ("median_background_error", "background off white", "{:.2f}"),
               ("mean_attention_in_region", "attention in region", "{:.0%}"),
               ("mean_repair_rounds", "repair rounds", "{:.2f}"))
    shown = [column for column in columns if any(cell.get(column[0]) is not None for cells in summary.quality.values()
                                                 for cell in cells.values())]
    header = "".join(f"<th>{html.escape(method)}: {html.escape(title)}</th>" for method in summary.methods
                     for _, title, _ in shown)
    rows = []
    for category, cells in summary.quality.items():
        values = "".join(f"<td>{html.escape(form.format(cells[method][key])) if cells[method].get(key) is not None else '—'}</td>"
                         for method in summary.methods for key, _, form in shown)
        rows.append(f"<tr><td>{html.escape(category)}</td>{values}</tr>")
    return ("<h2>Picture quality</h2><table class='scores'><tr><th>category</th>" + header + "</tr>" + "".join(rows)
            + "</table><p class='meta'>Medians per picture, in levels of 255: the mean difference to a clean render of "
              "exactly the objects read back, and the background's mean distance from white (compose.shapes.fidelity). "
              "Attention in region: the mean share of each object's cross-attention inside its region (runs with "
              "--attention; plain against the layout compose plans; under compose's masks most of it is the mask at work).</p>")


def _figure(record: dict[str, Any] | None, seed: int) -> str:
    if record is None:
        return f"<figure class='error'><div class='missing'>not drawn</div><figcaption>s{seed}</figcaption></figure>"
    reasons = record.get("reasons") or []
    tooltip = html.escape("\n".join(reasons) if reasons else "correct", quote=True)
    if record.get("error") is not None:
        return (f"<figure class='error' title='{tooltip}'><div class='missing'>method failed</div>"
                f"<figcaption>s{seed} <span class='mark-fail'>error</span></figcaption></figure>")
    if record["correct_strict"]:
        state, mark = "pass", "<span class='mark-pass'>&#10003;</span>"
    elif record["correct_lenient"]:
        state, mark = "lenient", "<span class='mark-lenient'>~</span>"
    else:
        state, mark = "fail", "<span class='mark-fail'>&#10007;</span>"
    caption = ""
    if reasons:
        first = reasons[0]
        short = first if len(first) <= CAPTION_CHARACTERS else first[:CAPTION_CHARACTERS - 1] + "…"
        caption = " " + html.escape(short)
        if len(reasons) > 1:
            caption += f" (+{len(reasons) - 1})"
    picture = f"<img src='{html.escape(record['image'])}' loading='lazy' alt='{tooltip}'>"
    maps = record.get("attention_image")
    if maps:  # a failed picture of a run with --attention: its objects' maps one click away
        picture = f"<a href='{html.escape(maps)}'>{picture}</a>"
        caption += f" <a href='{html.escape(maps)}'>maps</a>"
    return f"<figure class='{state}' title='{tooltip}'>{picture}<figcaption>s{seed} {mark}{caption}</figcaption></figure>"


def _failed_maps_html(records: list[dict[str, Any]], limit: int = FAILED_MAPS_SHOWN) -> str:
    """The attention maps of failed pictures (runs with --attention), the first `limit` in report order:
    where each object's tokens looked, beside the reasons the picture failed."""
    failed = [record for record in records if record.get("attention_image")]
    if not failed:
        return ""
    items = "".join(
        f"<figure class='maps'><img src='{html.escape(record['attention_image'])}' loading='lazy' alt='attention maps'>"
        f"<figcaption><b>{html.escape(record['method'])}</b> s{record['seed']}: {html.escape(record['prompt'])}<br>"
        f"{html.escape('; '.join(record.get('reasons') or []))}</figcaption></figure>" for record in failed[:limit])
    more = f" (the first {limit} of {len(failed)}; every failed picture links to its maps)" if len(failed) > limit else ""
    return (f"<h2 id='failed-maps'>Attention maps of failed pictures</h2><p class='meta'>Each object's cross-attention "
            f"(mean over layers, heads and steps, upsampled to the picture) and the share of it inside the object's "
            f"region{more}.</p><div class='failed-maps'>{items}</div>")


def _grid_html(suite_name: str, records: list[dict[str, Any]], summary: Summary,
               references: dict[tuple[str, int], str]) -> str:
    methods = list(summary.methods)
    by_key = {(record["index"], record["method"], record["seed"]): record for record in records}
    indices = sorted({record["index"] for record in records})
    head = "<tr><th>prompt</th><th>reference</th>" + "".join(
        f"<th class='sep'>{html.escape(method)}</th>" for method in methods) + "</tr>"
    rows = []
    for index in indices:
        sample = next(record for record in records if record["index"] == index)
        label = html.escape(sample["prompt"])
        if sample.get("layout_file"):
            label += f"<br><span class='index'>{html.escape(sample['layout_file'])}</span>"
        reference = references.get((suite_name, index))
        reference_html = (f"<figure class='reference'><img src='{html.escape(reference)}' alt='reference' "
                          "loading='lazy'><figcaption>asked</figcaption></figure>") if reference else ""
        cells = "".join("<td class='sep'>" + "".join(_figure(by_key.get((index, method, seed)), seed)
                                                      for seed in summary.seeds) + "</td>" for method in methods)
        rows.append(f"<tr><td class='prompt'><span class='index'>#{index}</span> {label}</td>"
                    f"<td>{reference_html}</td>{cells}</tr>")
    scores = " &nbsp; ".join(
        f"{html.escape(method)}: strict {_percent(summary.scores[suite_name][method].strict)}, lenient "
        f"{_percent(summary.scores[suite_name][method].lenient)}" for method in methods)
    return (f"<h3 id='{html.escape(suite_name)}'>{html.escape(suite_name.replace('_', ' '))}</h3>"
            f"<p class='meta'>{scores}</p><table class='grid'>{head}{''.join(rows)}</table>")
