"""Accuracy by size word ("small", "big") and failures by kind, from audit.json files.

    python scripts/audit_size_words.py AUDIT_JSON [AUDIT_JSON ...]

Audits written since 2026-12-07 hold these as the concepts "size:small" and "size:big"; this script derives
the same figures from any audit.json's list of failed pictures, so that older audits (issue 12's runs) can be
compared on them. Each size wording is a third of an audit's single-object pictures.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from compose.bench.audit import FAILURE_KINDS, failure_kind


def size_words(audit: dict) -> dict[str, dict]:
    """size word -> {"accuracy", "pictures", "empty", "copies", "wrong"} of one audit.json's content."""
    per_wording = audit["pictures"] // 3  # no size word, "small" and "big": one third each
    result = {}
    for size in ("small", "big"):
        failed = [failure for failure in audit["failures"] if failure["prompt"].split()[1] == size]
        kinds = [failure_kind(failure["objects"]) for failure in failed]
        result[size] = {"accuracy": round(1 - len(failed) / per_wording, 4), "pictures": per_wording,
                        **{kind: kinds.count(kind) for kind in FAILURE_KINDS}}
    return result


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    for path in sys.argv[1:]:
        try:
            audit = json.loads(Path(path).read_text(encoding="utf-8"))
            figures = size_words(audit)
        except (OSError, ValueError, KeyError) as error:
            raise SystemExit(f"{path}: not a readable compose audit.json ({error})")
        print(path + ": " + "; ".join(
            f"{size} {100 * value['accuracy']:.1f}% of {value['pictures']} "
            f"(empty {value['empty']}, copies {value['copies']}, wrong {value['wrong']})"
            for size, value in figures.items()))
