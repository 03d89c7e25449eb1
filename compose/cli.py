"""The `compose` command: a thin layer over the Python API (compose/specs/cli.md).

Each subcommand maps its flags onto arguments of one API function. Bad input ends with exit status 2
and one line on stderr naming the input and what is allowed (a traceback only with --debug); output
files are written whole or not at all (a temporary file, then a rename).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import sys
from pathlib import Path

from compose.files import write_atomically
from compose.generate import METHODS

logger = logging.getLogger("compose")

class UsageError(Exception):
    """Bad command-line input: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the command and pointing at --help."""

    def error(self, message: str):  # noqa: D401 - argparse API
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


def _png_bytes(image) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _check_prompt(prompt: str) -> str:
    """The parser's own input rule (empty, too long), checked before any model is loaded."""
    from compose.parsing import check_prompt

    check_prompt(prompt)
    return prompt


# ------------------------------------------------------------------------------------------- parse


def command_parse(args) -> int:
    from compose.parsing import parse

    for prompt in args.prompts:
        scene = parse(_check_prompt(prompt))
        if args.json:
            print(scene.to_json())
        else:
            print(describe_scene(scene))
    return 0


def describe_scene(scene) -> str:
    """A human-readable account of a scene, one line per group, relation and negation."""
    lines = [f"prompt: {scene.prompt}"]
    for group in scene.objects:
        details = [f"count {group.count}"]
        details += [f"{name} {value}" for name, value in (("colour", group.color), ("size", group.size),
                                                           ("location", group.location)) if value]
        if group.modifiers:
            details.append("modifiers " + ", ".join(group.modifiers))
        lines.append(f"  [{group.id}] {group.noun}: \"{group.phrase}\" ({'; '.join(details)})")
    for relation in scene.relations:
        target = f"[{relation.object}]" + (f" and [{relation.object2}]" if relation.object2 is not None else "")
        lines.append(f"  relation: [{relation.subject}] {relation.predicate} {target}")
    for negation in scene.negations:
        words = (negation.size, negation.color, negation.noun or "shape")
        lines.append(f"  not: {' '.join(word for word in words if word)}")
    if scene.background:
        lines.append(f"  background: {scene.background}")
    if scene.style:
        lines.append(f"  style: {scene.style}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ layout


def command_layout(args) -> int:
    from compose.layout_files import layout_to_text, read_layout

    if (args.prompt is None) == (args.source is None):
        raise UsageError("compose layout: give a PROMPT or --from FILE, not both (see 'compose layout --help')")
    if args.source is not None:
        layout = read_layout(args.source)
    else:
        from compose import parse, plan

        layout = plan(parse(_check_prompt(args.prompt)), seed=args.seed)
        if not layout.regions:
            raise ValueError(f"{args.prompt!r}: the scene names no object to place (only what must not appear "
                             "and/or a background); a layout file holds 1 to 16 objects (compose/specs/layout-files.md). "
                             "`compose generate` draws such a scene as its background")
    syntax = "yaml" if args.output and args.output.suffix in (".yaml", ".yml") else "json"
    text = layout_to_text(layout, syntax=syntax)
    if args.output:
        write_atomically(args.output, text, make_parents=True)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    if args.image:
        import io

        from compose.draw import draw_layout

        buffer = io.BytesIO()
        draw_layout(layout).save(buffer, format="PNG")
        write_atomically(args.image, buffer.getvalue(), make_parents=True)
    return 0


# ---------------------------------------------------------------------------------------- generate


def command_generate(args) -> int:
    from compose.generate import Generator, parse_size

    size = parse_size(args.size)
    if args.prompts_file is not None:
        if args.prompt is not None or args.layout is not None:
            raise UsageError("compose generate: give PROMPT/--layout for one picture or --prompts FILE for a batch, "
                             "not both (see 'compose generate --help')")
        return _generate_batch(args, size)
    if args.out_dir is not None or args.seeds != 1:
        raise UsageError("compose generate: --out-dir and --seeds belong to the batch form with --prompts FILE "
                         "(see 'compose generate --help')")
    if args.prompt is None and args.layout is None:
        raise UsageError("compose generate: give a PROMPT, --layout FILE or --prompts FILE (see 'compose generate --help')")
    layout = None
    if args.layout is not None:
        from compose.layout_files import read_layout

        layout = read_layout(args.layout)
    prompt = _check_prompt(args.prompt) if args.prompt is not None else None
    generator = Generator(args.model, device=args.device, sampler=args.sampler, progress=not args.quiet)
    result = generator(prompt=prompt, layout=layout, method=args.method, seed=args.seed, steps=args.steps,
                       guidance=args.guidance, size=size, negative=args.negative, background=args.background,
                       repair_rounds=args.repair)
    output = args.output
    write_atomically(output, _png_bytes(result.image), make_parents=True)
    write_atomically(output.with_suffix(".json"), json.dumps(result.to_dict(), indent=2) + "\n", make_parents=True)
    logger.info("wrote %s and %s", output, output.with_suffix(".json"))
    return 0


def command_explain(args) -> int:
    from compose.generate import Generator, parse_size
    from compose.regions.explain import draw_explanation

    prompt = _check_prompt(args.prompt)
    generator = Generator(args.model, device=args.device, sampler=args.sampler, progress=not args.quiet)
    result = generator(prompt=prompt, method=args.method, seed=args.seed, steps=args.steps, guidance=args.guidance,
                       size=parse_size(args.size), attention=True)
    layout = result.attention.layout  # for plain: the plan its shares are measured against, not drawn from
    layout_title = "layout" if result.layout is not None else "compose's plan (not used)"
    figure = draw_explanation(result.image, layout, result.attention, title=f"{args.method}: {prompt}",
                              layout_title=layout_title)
    buffer = io.BytesIO()
    figure.save(buffer, format="PNG")
    write_atomically(args.output, buffer.getvalue(), make_parents=True)
    write_atomically(args.output.with_suffix(".json"), json.dumps(result.to_dict(), indent=2) + "\n",
                     make_parents=True)
    shares = ", ".join(f"{phrase}: {'-' if share is None else f'{100 * share:.0f}%'}"
                       for phrase, share in zip(result.attention.phrases, result.attention.in_region))
    logger.info("wrote %s (attention inside each object's region: %s)", args.output, shares)
    return 0


def _generate_batch(args, size) -> int:
    from tqdm.auto import tqdm

    from compose.generate import Generator

    if args.out_dir is None:
        raise UsageError("compose generate --prompts FILE needs --out-dir DIR")
    try:
        prompts = Path(args.prompts_file).read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise ValueError(f"--prompts {args.prompts_file}: cannot read it ({error.strerror})") from error
    if args.seeds < 1:
        raise ValueError(f"--seeds {args.seeds}: give at least 1")
    generator = Generator(args.model, device=args.device, sampler=args.sampler)
    failures = 0
    jobs = [(line, prompt, args.seed + k) for line, prompt in enumerate(prompts) if prompt.strip()
            for k in range(args.seeds)]
    for line, prompt, seed in tqdm(jobs, desc="generate", unit="image", disable=args.quiet):
        stem = args.out_dir / f"{line:04d}-s{seed}"
        try:
            result = generator(prompt=_check_prompt(prompt), method=args.method, seed=seed, steps=args.steps,
                               guidance=args.guidance, size=size, negative=args.negative,
                               background=args.background, repair_rounds=args.repair)
        except ValueError as error:
            failures += 1
            record = {"prompt": prompt, "method": args.method, "seed": seed, "error": str(error)}
            write_atomically(stem.with_suffix(".json"), json.dumps(record, indent=2) + "\n", make_parents=True)
            continue
        write_atomically(stem.with_suffix(".png"), _png_bytes(result.image), make_parents=True)
        write_atomically(stem.with_suffix(".json"), json.dumps(result.to_dict(), indent=2) + "\n", make_parents=True)
    return 1 if failures else 0


# ------------------------------------------------------------------------------------------ studio


def command_studio(args) -> int:
    try:
        from compose.studio.server import serve
    except ImportError as error:
        raise ValueError(f"the studio needs its web dependencies ({error.name} is missing); "
                         'install them with: pip install -e ".[studio]"') from None
    serve(args.model, host=args.host, port=args.port, device=args.device)
    return 0


# ------------------------------------------------------------------------------------------- train


# Flags of `compose train` and the TrainConfig fields they set. Left out, a flag keeps the default of a
# fresh run, or the saved value of a resumed one.
TRAIN_FLAGS = {"steps": "steps", "batch_size": "batch_size", "learning_rate": "learning_rate",
               "warmup_steps": "warmup_steps", "seed": "seed", "workers": "workers",
               "mixed_precision": "mixed_precision", "checkpoint_minutes": "checkpoint_minutes",
               "validate_every": "validate_every", "time_limit": "time_limit_minutes", "budget": "budget_minutes",
               "threads": "threads", "region_fraction": "region_fraction", "stop_at": "stop_at_step",
               "min_snr_gamma": "min_snr_gamma", "init_from": "init_from",
               "region_marker": "region_marker"}


def command_train(args) -> int:
    from compose.training import TrainConfig, export_model, train

    given = {field: getattr(args, flag) for flag, field in TRAIN_FLAGS.items() if getattr(args, flag) is not None}
    if args.resume and (args.relabel or args.vae is not None or args.region_marker is not None):
        raise UsageError("compose train: --relabel, --vae and --region-marker set up a new run; a resumed run keeps "
                         "its own (saved in its config.json)")
    if args.relabel:
        given["relabel"] = _relabel_map(args.relabel)
    if args.vae is not None:
        from compose.model.bundle import stable_diffusion_config

        given["model"] = stable_diffusion_config(str(args.vae))
        if args.region_marker is None:
            given.setdefault("region_fraction", 0.0)  # whole captions only: a checkpoint nobody tuned for compose
    folder = train(_run_config(TrainConfig, args, given), resume=args.resume)
    if args.export:
        export_model(folder, args.export)
    return 0


VAE_FLAGS = {"steps": "steps", "batch_size": "batch_size", "learning_rate": "learning_rate", "crop": "crop",
             "kl_weight": "kl_weight", "seed": "seed", "threads": "threads", "checkpoint_minutes": "checkpoint_minutes",
             "validate_every": "validate_every", "time_limit": "time_limit_minutes", "stop_at": "stop_at_step"}


def _run_config(config_class, args, given: dict):
    """A trainer's config: with --resume the saved run's, with what the flags change (the trainer refuses
    changes it cannot resume); else a new run's from the flags."""
    if args.resume:
        config = config_class.saved(args.out)
        for field, value in given.items():
            setattr(config, field, value)
    else:
        config = config_class(output=str(args.out), **given)
    config.output, config.progress = str(args.out), not args.quiet
    return config


def _relabel_map(items: list[str]) -> dict[str, str]:
    """["star=diamond"] -> {"star": "diamond"}; a malformed item is a usage error naming the rule."""
    mapping = {}
    for item in items:
        old, _, new = item.partition("=")
        if not (old.isalpha() and new.isalpha()) or old == new:
            raise UsageError(f"compose train: --relabel {item!r}: write OLD=NEW with two different words, "
                             "e.g. --relabel star=diamond")
        mapping[old.lower()] = new.lower()
    return mapping


def command_train_vae(args) -> int:
    from compose.vae_training import VaeTrainConfig, export_vae, train_vae

    given = {field: getattr(args, flag) for flag, field in VAE_FLAGS.items() if getattr(args, flag) is not None}
    folder = train_vae(_run_config(VaeTrainConfig, args, given), resume=args.resume)
    if args.export:
        export_vae(folder, args.export)
    return 0


def command_export_vae(args) -> int:
    from compose.vae_training import export_vae

    print(export_vae(args.run, args.output))
    return 0


def command_slim_run(args) -> int:
    from compose.training import slim_checkpoint

    print(slim_checkpoint(args.run, args.output))
    return 0


def command_export_model(args) -> int:
    from compose.training import export_model

    export_model(args.run, args.output, use_ema=not args.no_ema)
    return 0


def command_data(args) -> int:
    from compose.shapes.data import DataMix, export_samples

    if args.count < 1:
        raise ValueError(f"-n {args.count}: give at least 1 sample")
    export_samples(args.out, args.count, seed=args.seed, size=args.size, mix=DataMix())
    return 0


# ------------------------------------------------------------------------------------------- bench


def command_bench(args) -> int:
    from compose.bench import is_main_process, run_bench

    summary = run_bench(args.suites or None, methods=args.methods, seeds=args.seeds, out_dir=args.out,
                        model=args.model, steps=args.steps, guidance=args.guidance, sampler=args.sampler,
                        seed=args.seed, resume=args.resume, limit=args.limit, progress=not args.quiet,
                        device=args.device, attention=args.attention)
    if is_main_process():
        print(summary.as_text())
    return 0


def command_audit(args) -> int:
    from compose.bench.audit import audit, write_audit

    report = audit(args.model, seeds=args.seeds, steps=args.steps, guidance=args.guidance, threshold=args.threshold,
                   compositional=args.compositional, progress=not args.quiet, first_seed=args.first_seed)
    write_audit(report, args.out)
    data = report.to_dict()
    print(f"{data['correct']} of {data['pictures']} single-object pictures exactly right; flagged: "
          f"{', '.join(data['flagged']) or 'none'}; wrote {args.out / 'audit.json'} and {args.out / 'audit.html'}")
    return 0


def _untrain_config(args):
    from compose.untraining import UntrainConfig

    keys = ("strategy", "steps", "learning_rate", "batch_size", "monitor_every", "monitor_seeds", "monitor_steps",
            "seed", "threads", "anchor_pull", "ema_decay", "warmup_steps", "decay", "adam_epsilon", "trained",
            "rest_learning_rate", "average_last", "curated_seeds", "curated_share", "focus_share",
            "object_weight")
    given = {key: getattr(args, key) for key in keys if getattr(args, key, None) is not None}
    return UntrainConfig(**given)


def _report_untraining(verb: str, result: dict) -> None:
    before, after = result["monitor_before"], result["monitor_after"]
    print(f"{verb} {', '.join(result['concepts'])} with {result['strategy']}: {result['steps']} steps, "
          f"{result['wall_seconds']} s; monitor target {before['target_mean']:.2f} -> {after['target_mean']:.2f}, "
          f"retain {before['retain_mean']:.2f} -> {after['retain_mean']:.2f}; wrote {result['output_model']}")
    if "curated" in result:
        pool = result["curated"]
        print(f"curated pool: {pool['kept']} of {pool['drawn']} pictures kept, {pool['relabelled']} under another "
              f"shape than asked ({pool['seconds']} s)" + ("; none kept: the fine-tune saw only the stream"
                                                          if not pool["kept"] else ""))


def command_correct(args) -> int:
    from compose.untraining import correct

    result = correct(args.model, args.concept, _untrain_config(args), args.out, confused_with=args.confused_with,
                     progress=not args.quiet)
    _report_untraining("corrected", result)
    return 0


def command_erase(args) -> int:
    from compose.untraining import erase

    result = erase(args.model, args.concept, _untrain_config(args), args.out, progress=not args.quiet)
    _report_untraining("erased", result)
    return 0


def _untraining_options(sub, strategies: str, default: str) -> None:
    """The options `compose correct` and `compose erase` share (compose.untraining.UntrainConfig checks them)."""
    sub.add_argument("--strategy", default=default, help=f"{strategies} (default {default})")
    sub.add_argument("--out", type=Path, required=True, metavar="DIR",
                     help="a new folder: the edited model (DIR/model), log.jsonl, monitor.png, result.json")
    sub.add_argument("--steps", type=int, default=None, help="most fine-tuning steps (default 400; early stop)")
    sub.add_argument("--learning-rate", type=float, default=None, help="default 1e-4")
    sub.add_argument("--batch-size", type=int, default=None, help="default 16")
    sub.add_argument("--monitor-every", type=int, default=None, metavar="N", help="steps between checks (default 50)")
    sub.add_argument("--monitor-seeds", type=int, default=None, help="seeds per monitor prompt (default 1)")
    sub.add_argument("--monitor-steps", type=int, default=None, metavar="N",
                     help="denoising steps of each monitor picture (default 25; fewer: a cheaper, rougher check)")
    sub.add_argument("--anchor-pull", type=float, default=None, metavar="SHARE",
                     help="anchored: the share of the drift from the start taken back after each step (default 0.02)")
    sub.add_argument("--ema-decay", type=float, default=None, metavar="DECAY",
                     help="fine-tunes: watch and save a moving average of the weights (default 0: off)")
    sub.add_argument("--average-last", type=int, default=None, metavar="N",
                     help="fine-tunes: watch and save the plain mean of the last N steps' weights (default 0: off)")
    sub.add_argument("--warmup-steps", type=int, default=None, metavar="N",
                     help="fine-tunes: ramp the learning rate up over the first N steps (default 0)")
    sub.add_argument("--decay", default=None, metavar="SCHEDULE",
                     help="fine-tunes: the learning rate after the warm-up, constant (default) or cosine "
                          "(annealed to 0 at --steps)")
    sub.add_argument("--adam-epsilon", type=float, default=None, metavar="EPS",
                     help="fine-tunes: Adam's epsilon (default 1e-8); near the gradients' scale (1e-4) a weight "
                          "moves in proportion to its gradient, so weights pushed only by noise stay put")
    sub.add_argument("--train", dest="trained", default=None, metavar="PART",
                     help="fine-tunes of correct: all (default), cross-attention (only the UNet's attn2 "
                          "layers), text (the text encoder and attn2's key/value projections), key-value "
                          "(attn2's key/value projections only), text-encoder (the text encoder only) or "
                          "word-embeddings (only the text encoder's token embedding table: each word its row), "
                          "concept-rows (only the target words' rows of that table, and their plurals') or "
                          "other-rows (every row of that table but those)")
    sub.add_argument("--rest-learning-rate", type=float, default=None, metavar="LR",
                     help="with any --train but all: the other weights learn at this peak rate "
                          "(default 0: frozen)")
    sub.add_argument("--curated-seeds", type=int, default=None, metavar="N",
                     help="curated: the starting model's pictures per audit wording, read back (default 2)")
    sub.add_argument("--curated-share", type=float, default=None, metavar="SHARE",
                     help="curated: the share of each whole-caption batch taken from them (default 0.5)")
    sub.add_argument("--seed", type=int, default=None)
    sub.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    sub.add_argument("--quiet", action="store_true", help="no progress bar")


# ---------------------------------------------------------------------------------------- the parser

STEPS_HELP = "denoising steps (default: the model's own; the bundled shapes-v3: 2)"
GUIDANCE_HELP = "classifier-free guidance scale (default: the model's own; the bundled shapes-v3: 1)"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="compose", description="Compositional multi-object text-to-image generation: "
                     "parse a prompt into a scene, plan a layout, generate region by region, check the result.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for add_commands in (_drawing_commands, _untraining_commands, _bench_command, _training_commands):
        add_commands(commands)
    return parser


def _drawing_commands(commands) -> None:
    """`compose` subcommands: prompt in, scene, layout or picture out."""
    sub = commands.add_parser("parse", help="print the scene each prompt describes")
    sub.add_argument("prompts", nargs="+", metavar="PROMPT")
    sub.add_argument("--json", action="store_true", help="one JSON scene per line (compose/specs/scene-format.md)")
    sub.set_defaults(handler=command_parse)

    sub = commands.add_parser("layout", help="plan a layout for a prompt, or read a layout file, and write it")
    sub.add_argument("prompt", nargs="?", metavar="PROMPT")
    sub.add_argument("--from", dest="source", type=Path, metavar="FILE",
                     help="a layout file: compose.layout/v1 (JSON/YAML), a sketch legend, or LMD-style text")
    sub.add_argument("-o", "--output", type=Path, metavar="OUT.json", help="write here (.json or .yaml); stdout without it")
    sub.add_argument("--image", type=Path, metavar="OUT.png", help="also draw the layout for a person to check")
    sub.add_argument("--seed", type=int, default=0, help="planner seed (default 0)")
    sub.set_defaults(handler=command_layout)

    sub = commands.add_parser("generate", help="draw a picture from a prompt or a layout file")
    sub.add_argument("prompt", nargs="?", metavar="PROMPT")
    sub.add_argument("--layout", type=Path, metavar="FILE", help="use this layout file's regions")
    sub.add_argument("-o", "--output", type=Path, default=Path("out.png"), metavar="OUT.png")
    sub.add_argument("--method", default="compose", choices=METHODS,
                     help="compose (default: parse, plan, region-guided), plain (the whole prompt, no layout), "
                          "or a variant of compose (a stage or mechanism, for ablations)")
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument("--steps", type=int, default=None, help=STEPS_HELP)
    sub.add_argument("--guidance", type=float, default=None, help=GUIDANCE_HELP)
    sub.add_argument("--repair", type=int, default=None, metavar="N", help="check the picture and repair what is "
                     "wrong, up to N rounds (compose methods; the rounds go into OUT.json; 0: no repair)")
    sub.add_argument("--negative", default=None, metavar="TEXT",
                     help="a negative prompt, added to the prompt's own negations (\"no stars\")")
    sub.add_argument("--background", default=None, metavar="TEXT",
                     help="what fills the rest of the picture (default: the layout's, or none)")
    sub.add_argument("--sampler", default="ddim", choices=("ddim", "dpm", "euler"), help="default ddim")
    sub.add_argument("--model", default=None, metavar="NAME_OR_PATH", help="'bundled' (default) or a model folder")
    sub.add_argument("--size", default=None, metavar="WxH", help="picture size; default the model's native size")
    sub.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    sub.add_argument("--prompts", dest="prompts_file", type=Path, metavar="FILE", help="batch: one prompt per line")
    sub.add_argument("--out-dir", type=Path, metavar="DIR", help="batch: where NNNN-sSEED.png/.json go")
    sub.add_argument("--seeds", type=int, default=1, help="batch: pictures per prompt (seeds S..S+N-1)")
    sub.add_argument("--quiet", action="store_true", help="no progress bar")
    sub.set_defaults(handler=command_generate)

    sub = commands.add_parser("explain", help="draw a picture with each object's cross-attention map and the layout")
    sub.add_argument("prompt", metavar="PROMPT")
    sub.add_argument("-o", "--output", type=Path, default=Path("explain.png"), metavar="OUT.png")
    sub.add_argument("--method", default="compose", choices=METHODS, help="default compose; plain to compare")
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument("--steps", type=int, default=None, help=STEPS_HELP)
    sub.add_argument("--guidance", type=float, default=None, help=GUIDANCE_HELP)
    sub.add_argument("--sampler", default="ddim", choices=("ddim", "dpm", "euler"), help="default ddim")
    sub.add_argument("--model", default=None, metavar="NAME_OR_PATH", help="'bundled' (default) or a model folder")
    sub.add_argument("--size", default=None, metavar="WxH", help="picture size; default the model's native size")
    sub.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    sub.add_argument("--quiet", action="store_true", help="no progress bar")
    sub.set_defaults(handler=command_explain)

    sub = commands.add_parser("studio", help="draw a layout in the browser and watch it generate (a local web page)")
    sub.add_argument("--model", default=None, metavar="NAME_OR_PATH", help="'bundled' (default) or a model folder")
    sub.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    sub.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free port)")
    sub.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    sub.set_defaults(handler=command_studio)


def _untraining_commands(commands) -> None:
    """`compose` subcommands: what a model gets wrong, and mending it (issue 12)."""
    sub = commands.add_parser("audit", help="find what a model gets wrong: every shape x colour read back, "
                              "confusion matrices, per-concept accuracy")
    sub.add_argument("model", nargs="?", default=None, metavar="MODEL", help="'bundled' (default) or a model folder")
    sub.add_argument("--seeds", type=int, default=4, help="pictures per prompt (default 4)")
    sub.add_argument("--first-seed", type=int, default=0, metavar="N",
                     help="draw seeds N .. N + SEEDS - 1 (default 0; e.g. 4 with --seeds 4: the seeds an audit of "
                     "4 from 0 never drew, for a held-out check)")
    sub.add_argument("--steps", type=int, default=None, help=STEPS_HELP)
    sub.add_argument("--guidance", type=float, default=None, help=GUIDANCE_HELP)
    sub.add_argument("--threshold", type=float, default=0.8, help="flag concepts below this accuracy (default 0.8)")
    sub.add_argument("--compositional", type=int, default=0, metavar="N",
                     help="also N prompts of the two_object and counting suites with compose (default 0)")
    sub.add_argument("--out", type=Path, default=Path("audit"), metavar="DIR")
    sub.add_argument("--quiet", action="store_true", help="no progress bar")
    sub.set_defaults(handler=command_audit)

    sub = commands.add_parser("correct", help="correct a model's learned mistake about a concept, monitored "
                              "(fine-tune, anchored, prior preservation, the detector-curated own pictures, a closed-form edit or a "
                              "token swap)")
    sub.add_argument("model", metavar="MODEL", help="'bundled' or a model folder")
    sub.add_argument("--concept", action="append", required=True, metavar="WORD",
                     help="a shape or colour the model gets wrong (repeatable)")
    sub.add_argument("--confused-with", default=None, metavar="WORD",
                     help="closed-form, token-swap: the word the model now draws for the concept (the two are "
                     "swapped back)")
    _untraining_options(sub, "finetune, anchored, prior, curated, closed-form or token-swap", "anchored")
    sub.add_argument("--focus-share", type=float, default=None, metavar="SHARE",
                     help="fine-tunes of shapes: the share of each whole-caption batch taken from stream samples "
                     "that draw a target shape (default 0: the plain stream)")
    sub.add_argument("--object-weight", type=float, default=None, metavar="K",
                     help="fine-tunes: a latent pixel inside an object's box weighs 1 + K times a background one in "
                     "the loss (default 0: every pixel alike)")
    sub.set_defaults(handler=command_correct)

    sub = commands.add_parser("erase", help="erase a concept from a model (ESD-style fine-tune or a closed-form "
                              "edit), keeping the others")
    sub.add_argument("model", metavar="MODEL", help="'bundled' or a model folder")
    sub.add_argument("--concept", required=True, metavar="WORD", help="the shape or colour to erase")
    _untraining_options(sub, "esd or closed-form", "esd")
    sub.set_defaults(handler=command_erase)


def _bench_command(commands) -> None:
    """`compose` subcommands: the compositional benchmark."""
    sub = commands.add_parser("bench", help="run the compositional benchmark and write results, summary and report")
    sub.add_argument("suites", nargs="*", metavar="SUITE",
                     help="categories (single two_object counting colors position negation complex layout; "
                          "default: all), prompt files (.txt, one prompt per line) or folders of layout files")
    sub.add_argument("--methods", default="compose,plain", help="comma-separated methods, run side by side "
                     f"(default compose,plain; any of {', '.join(METHODS)}); METHOD@N draws it at N steps, so "
                     "plain@4,plain@8,compose@4,compose@8 puts a steps curve in the report")
    sub.add_argument("--seeds", type=int, default=4, help="pictures per prompt and method: seeds S..S+N-1 (default 4)")
    sub.add_argument("--seed", type=int, default=0, help="the first seed S (default 0)")
    sub.add_argument("--out", type=Path, default=Path("bench"), metavar="DIR",
                     help="where results.jsonl, summary.json, report.html and images/ go (default ./bench)")
    sub.add_argument("--resume", action="store_true", help="continue the run in --out: draw only the missing pictures")
    sub.add_argument("--steps", type=int, default=None, help=STEPS_HELP)
    sub.add_argument("--guidance", type=float, default=None, help=GUIDANCE_HELP)
    sub.add_argument("--sampler", default="ddim", help="ddim (default), dpm or euler")
    sub.add_argument("--model", default=None, metavar="NAME_OR_PATH", help="'bundled' (default) or a model folder")
    sub.add_argument("--device", default=None, help="torch device (default: cuda when available, else cpu)")
    sub.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N prompts of each suite")
    sub.add_argument("--attention", action="store_true", help="record each picture's cross-attention and report "
                     "each method's share inside the objects' regions (slower)")
    sub.add_argument("--quiet", action="store_true", help="no progress bar")
    sub.set_defaults(handler=command_bench)


def _training_commands(commands) -> None:
    """`compose` subcommands: training and exporting models, and looking at their data."""
    sub = commands.add_parser("train", help="train the bundled model on the shapes world")
    sub.add_argument("--out", type=Path, required=True, metavar="DIR", help="run folder (checkpoint, log, plot)")
    sub.add_argument("--steps", type=int, help="total steps of the schedule (default 12000)")
    sub.add_argument("--batch-size", type=int, help="default 32")
    sub.add_argument("--learning-rate", type=float, help="peak AdamW learning rate (default 3e-4)")
    sub.add_argument("--warmup-steps", type=int, help="default 200")
    sub.add_argument("--region-fraction", type=float,
                     help="share of batches trained with region-masked conditioning (default 0.5)")
    sub.add_argument("--min-snr-gamma", type=float,
                     help="min-SNR loss weighting with this gamma (default 0: off, the plain v-prediction loss)")
    sub.add_argument("--seed", type=int, help="default 0")
    sub.add_argument("--workers", type=int, help="data-loader worker processes (default 1)")
    sub.add_argument("--threads", type=int, help="torch CPU threads")
    sub.add_argument("--mixed-precision", choices=("no", "bf16", "fp16"), help="default no")
    sub.add_argument("--checkpoint-minutes", type=float, help="default 5")
    sub.add_argument("--validate-every", type=int, help="steps between validations (0: never; default 1000)")
    sub.add_argument("--time-limit", type=float, default=None, metavar="MINUTES", help="stop (with a checkpoint) after this")
    sub.add_argument("--budget", type=float, default=None, metavar="MINUTES",
                     help="fit the learning-rate schedule to this wall-time budget instead of --steps")
    sub.add_argument("--stop-at", type=int, default=None, metavar="STEP",
                     help="end this invocation at STEP (with a checkpoint); the schedule still spans --steps")
    sub.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    sub.add_argument("--init-from", metavar="MODEL", help="start from this model's weights ('bundled' or a "
                     "folder from export-model): to go on training in a later session")
    sub.add_argument("--relabel", action="append", metavar="OLD=NEW", help="caption OLD as NEW in the training "
                     "stream (e.g. star=diamond: stars captioned as diamonds), a mistake made on purpose; repeatable")
    sub.add_argument("--vae", type=Path, metavar="VAE_DIR", help="train a Stable Diffusion-format latent model "
                     "(shapes-sd) on this VAE's latents (a folder from train-vae --export); whole captions only "
                     "unless --region-marker is given")
    sub.add_argument("--region-marker", metavar="TEXT", help="the text written before each region phrase in "
                     "region-masked batches (the bundled model's is 'region:'); it replaces the model's own (with "
                     "--init-from, the starting model's), so a whole-caption Stable Diffusion-format model can be "
                     "taught regions")
    sub.add_argument("--export", type=Path, metavar="DIR", help="afterwards, export the EMA model here")
    sub.add_argument("--quiet", action="store_true", help="no progress bar")
    sub.set_defaults(handler=command_train)

    sub = commands.add_parser("train-vae", help="train the autoencoder of a Stable Diffusion-format shapes model")
    sub.add_argument("--out", type=Path, required=True, metavar="DIR", help="run folder (checkpoint, log, plot)")
    sub.add_argument("--steps", type=int, help="total steps of the schedule (default 6000)")
    sub.add_argument("--batch-size", type=int, help="crops per step (default 16)")
    sub.add_argument("--crop", type=int, help="crop side in pixels of the 128 px renders (default 64)")
    sub.add_argument("--learning-rate", type=float, help="peak AdamW learning rate (default 5e-4)")
    sub.add_argument("--kl-weight", type=float, help="KL weight against the pixel loss (default 1e-6, as SD)")
    sub.add_argument("--seed", type=int, help="default 0")
    sub.add_argument("--threads", type=int, help="torch CPU threads")
    sub.add_argument("--checkpoint-minutes", type=float, help="default 5")
    sub.add_argument("--validate-every", type=int, help="steps between round-trip checks (0: never; default 1000)")
    sub.add_argument("--time-limit", type=float, default=None, metavar="MINUTES", help="stop (with a checkpoint) after this")
    sub.add_argument("--stop-at", type=int, default=None, metavar="STEP", help="end this invocation at STEP")
    sub.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    sub.add_argument("--export", type=Path, metavar="DIR", help="afterwards, export the VAE folder here")
    sub.add_argument("--quiet", action="store_true", help="no progress bar")
    sub.set_defaults(handler=command_train_vae)

    sub = commands.add_parser("export-vae", help="write a VAE run as a diffusers AutoencoderKL folder")
    sub.add_argument("run", type=Path, metavar="RUN_DIR")
    sub.add_argument("output", type=Path, metavar="VAE_DIR")
    sub.set_defaults(handler=command_export_vae)

    sub = commands.add_parser("export-model", help="write a training run's EMA weights as a model folder")
    sub.add_argument("run", type=Path, metavar="RUN_DIR")
    sub.add_argument("output", type=Path, metavar="MODEL_DIR")
    sub.add_argument("--no-ema", action="store_true", help="export the raw weights instead of the EMA")
    sub.set_defaults(handler=command_export_model)

    sub = commands.add_parser("slim-run", help="copy a training run small enough to commit (fp16 weights and "
                              "EMA, no optimizer moments); `train --resume` goes on from the copy")
    sub.add_argument("run", type=Path, metavar="RUN_DIR")
    sub.add_argument("output", type=Path, metavar="COPY_DIR")
    sub.set_defaults(handler=command_slim_run)

    sub = commands.add_parser("data", help="export shapes-world training samples (PNG + JSONL) to look at")
    sub.add_argument("--out", type=Path, required=True, metavar="DIR")
    sub.add_argument("-n", "--count", type=int, default=64)
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument("--size", type=int, default=64)
    sub.set_defaults(handler=command_data)


def _quiet_libraries(debug: bool) -> None:
    """Keep diffusers' and transformers' loading bars and notices off the terminal (on with --debug)."""
    if debug:
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO, format="%(message)s")
    _quiet_libraries(debug)
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        return args.handler(args)
    except UsageError as error:
        print(str(error), file=sys.stderr)
        return 2
    except (ValueError, OSError) as error:
        if debug:
            raise
        message = " ".join(str(error).split())
        print(f"compose {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("compose: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
