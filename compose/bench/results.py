"""The results files of a run: results.jsonl (one record per image), the part files of several
processes (parts/rank-K.jsonl), read back tolerantly and rewritten atomically in a fixed order.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from compose.bench.summary import PARTS_DIR, RESULTS_FILE
from compose.files import write_atomically

logger = logging.getLogger(__name__)


def result_key(record: dict[str, Any]) -> tuple[str, int, str, int]:
    return (record["suite"], int(record["index"]), record["method"], int(record["seed"]))


def read_results(path: Path) -> dict[tuple[str, int, str, int], dict[str, Any]]:
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


def collect_results(out: Path) -> dict[tuple[str, int, str, int], dict[str, Any]]:
    """Every record of results.jsonl and of any part files a distributed run left behind."""
    records = read_results(out / RESULTS_FILE)
    for part in sorted((out / PARTS_DIR).glob("rank-*.jsonl")):
        for key, record in read_results(part).items():
            records.setdefault(key, record)
    return records


def remove_parts(out: Path) -> None:
    parts = out / PARTS_DIR
    if parts.is_dir():
        for path in parts.glob("rank-*"):
            path.unlink()
        parts.rmdir()


def sort_key_factory(suites: list[str], methods: list[str]):
    """Sort records by suite (in run order), prompt, seed and method (in run order); unknown ones last."""
    suite_rank = {name: position for position, name in enumerate(suites)}
    method_rank = {name: position for position, name in enumerate(methods)}

    def key(record: dict[str, Any]):
        return (suite_rank.get(record["suite"], len(suites)), record["suite"], int(record["index"]),
                int(record["seed"]), method_rank.get(record["method"], len(methods)), record["method"])

    return key


def write_lines(path: Path, records: list[dict[str, Any]]) -> None:
    text = "".join(json.dumps(record) + "\n" for record in records)
    write_text_atomically(path, text)


def write_json(path: Path, data: Any) -> None:
    write_text_atomically(path, json.dumps(data, indent=2) + "\n")


def write_text_atomically(path: Path, text: str) -> None:
    write_atomically(path, text, make_parents=True)
