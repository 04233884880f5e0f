#!/usr/bin/env bash
# Measures the cold time to green as a newcomer meets it: a fresh clone of
# this repository's HEAD and a fresh target dir, then the README's three
# commands in a row (the build, the quickstart, the test command). Prints
# one JSON object with each step's seconds. Crates, npm packages and pip
# wheels come from the local caches (the registries are not what is
# measured); system packages are installed by the test command if missing.
#
#   bash scripts/time-to-green.sh [WORKDIR]     (default: a new temp dir)
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d)}"
mkdir -p "$work"
rm -rf "$work/clone" "$work/target" "$work/pyvenv" "$work/ezkl-venv"
git clone -q "$src" "$work/clone"
cd "$work/clone"
export CARGO_TARGET_DIR="$work/target" ZKGATE_PYVENV="$work/pyvenv" ZKGATE_EZKL_VENV="$work/ezkl-venv" CARGO_INCREMENTAL=0

step() {
  local name=$1
  shift
  local t0
  t0=$(date +%s)
  "$@" >"$work/$name.log" 2>&1 || {
    echo "{\"step\": \"$name\", \"failed\": true, \"log\": \"$work/$name.log\"}"
    exit 1
  }
  echo $(($(date +%s) - t0))
}

build=$(step build cargo build --release --locked)
quickstart=$(step quickstart bash examples/quickstart.sh)
tests=$(step tests bash scripts/test.sh)
passed=$(grep -o '^test result: ok. [0-9]*' "$work/tests.log" | awk '{s += $4} END {print s}')
python=$(grep -Eo '[0-9]+ passed' "$work/tests.log" | tail -1 | awk '{print $1}')
echo "{\"commit\": \"$(git rev-parse --short HEAD)\", \"build_s\": $build, \"quickstart_s\": $quickstart, \"tests_s\": $tests, \"total_min\": $(echo "scale=1; ($build + $quickstart + $tests) / 60" | bc), \"rust_tests\": $passed, \"python_tests\": ${python:-0}, \"logs\": \"$work\"}"
