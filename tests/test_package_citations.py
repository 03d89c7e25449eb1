"""Every docstring and message of the package cites what ships with it (issue 18, section 3): a file
named as `folder/file.ext` in compose's source lies inside the package, never in the checkout only."""

from __future__ import annotations

import re
from pathlib import Path

import compose

PACKAGE = Path(compose.__file__).resolve().parent
# Paths written in prose: "compose/specs/cli.md", "docs/architecture.md", "benchmarks/speed.py".
CITED = re.compile(r"\b((?:compose|docs|benchmarks|tests|scripts|shared)/[\w./-]+\.(?:md|py|json|txt|png))")


def test_the_package_cites_only_files_it_ships():
    outside = []
    for source in PACKAGE.rglob("*.py"):
        for match in CITED.finditer(source.read_text(encoding="utf-8")):
            cited = match.group(1)
            shipped = cited.startswith("compose/") and (PACKAGE.parent / cited).is_file()
            if not shipped:
                outside.append(f"{source.relative_to(PACKAGE)}: {cited}")
    assert not outside, "cited but not shipped with the package:\n" + "\n".join(outside)


def test_the_specs_ship_with_the_package():
    assert {path.name for path in (PACKAGE / "specs").glob("*.md")} >= {
        "benchmark.md", "cli.md", "layout-files.md", "scene-format.md", "shapes-world.md"}
