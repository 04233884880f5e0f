#!/usr/bin/env bash
# zkgate vs ezkl, side by side in one run (see compare.py):
#   bash bench/peers/run.sh [CASE ...]
# Creates bench/peers/.venv with the pinned ezkl (PyPI) on first use and
# builds zkgate in release mode. Nothing downloads at run time: ezkl's SRS is
# generated locally for each circuit size.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="$HERE/.venv"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
(cd "$ROOT" && cargo build --release -q)
exec "$VENV/bin/python" "$HERE/compare.py" "$@"
