"""Reading the parser's gold sets for tests: the entries of a JSONL set, and the prompts a parse gets wrong
or fails to reject (no torch, no diffusers: parser tests stay light)."""

from __future__ import annotations

import json
from pathlib import Path

from compose.parsing import parse
from compose.scene import scene_dict_v1_1

TESTS = Path(__file__).resolve().parent


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def mismatched_prompts(entries: list[dict]) -> list[str]:
    """The prompts whose scene is not exactly their gold scene (compared as spec v1.1 writes it); a prompt
    the parser rejects counts as a mismatch."""
    wrong = []
    for entry in entries:
        try:
            got = parse(entry["prompt"]).to_dict()
        except ValueError as error:
            got = str(error)
        if got != scene_dict_v1_1(entry["scene"]):
            wrong.append(entry["prompt"])
    return wrong


def unrejected_prompts(entries: list[dict]) -> list[str]:
    """The must-fail prompts the parser does not reject with a one-line ValueError."""
    missed = []
    for entry in entries:
        try:
            parse(entry["prompt"])
        except ValueError as error:
            if "\n" not in str(error):
                continue
        missed.append(entry["prompt"])
    return missed
