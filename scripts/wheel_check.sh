#!/usr/bin/env bash
# The wheel works anywhere: build it, install it (not editable) outside the checkout, and from an empty
# folder run the CLI (generate, bench, layout from a shipped example) and the test suite against it.
# Usage: scripts/wheel_check.sh [PYTHON]  (default .venv/bin/python, whose dependencies are used; the
# wheel is installed with --no-deps into its own folder, put first on PYTHONPATH). CI runs it after the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
python=${1:-$repo/.venv/bin/python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$python" -m pip wheel -q --no-deps . -w "$work/dist"
wheel=$(ls "$work"/dist/compose-*.whl)
size=$(stat -c %s "$wheel")
echo "wheel: $(basename "$wheel"), $((size / 1024 / 1024)) MB"
if [ "$size" -gt $((50 * 1024 * 1024)) ]; then
  echo "the wheel is over 50 MB (the bundled model's limit is 24 MB)"; exit 1
fi
"$python" -m pip install -q --no-deps --target "$work/site" "$wheel"
mkdir "$work/empty" && cd "$work/empty"
export PYTHONPATH="$work/site"
installed=$("$python" -c "import compose, os; print(os.path.dirname(compose.__file__))")
if [ "$installed" != "$work/site/compose" ]; then
  echo "compose imports from $installed, not from the installed wheel"; exit 1
fi
compose_cli() { OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} "$python" -m compose.cli "$@"; }
compose_cli generate "a red circle to the left of two blue squares" -o picture.png --seed 0 --quiet
compose_cli layout --from example:shapes_boxes.json -o layout.json
compose_cli generate --layout layout.json -o from_layout.png --quiet
compose_cli bench counting --limit 2 --seeds 1 --steps 8 --out bench --quiet
test -s picture.png && test -s from_layout.png && test -s bench/summary.json && test -s bench/report.html
echo "CLI from the wheel: generate, layout --from example:, bench — all wrote their files"
# The tests, importing the installed package (the checkout's tests folder, run from this empty folder;
# the checkout comes after the wheel on the path only for the benchmark helpers a few tests import).
export PYTHONPATH="$work/site:$repo"
"$python" -c "import compose, sys; assert compose.__file__.startswith('$work/site/'), compose.__file__"
set +e
"$python" -m pytest -q -p no:cacheprovider --rootdir "$repo" "$repo/tests"
status=$?
set -e
[ "$status" -eq 5 ] && { echo "pytest collected no tests"; exit 0; }
exit "$status"
