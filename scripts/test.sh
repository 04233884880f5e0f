#!/usr/bin/env bash
# The test command: installs what the tests need that Cargo does not
# (Node.js, Debian's chromium and nats-server, the pinned npm packages),
# then runs the whole suite. As root it installs with apt-get; otherwise
# through sudo when it can, else it names the packages and stops.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
# The console test drives Debian's headless Chromium (or $CHROMIUM); the
# cluster tests start Debian's nats-server (or $NATS_SERVER).
[ -n "${CHROMIUM:-}" ] || command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -n "${NATS_SERVER:-}" ] || command -v nats-server >/dev/null 2>&1 || missing+=(nats-server)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo"
  else
    echo "the tests need these Debian packages: ${missing[*]}" >&2
    echo "install them (sudo apt-get install ${missing[*]}), or set CHROMIUM / NATS_SERVER to binaries, and run this again" >&2
    exit 2
  fi
  echo "== installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

echo "== npm packages (solc-js, anvil, snarkjs, playwright-core), pinned by lockfiles"
npm ci --prefix contracts --no-audit --no-fund
npm ci --prefix gateway/tests/console --no-audit --no-fund

# ezkl, the second proof system: the pinned driver's Python in a venv of
# its own; the ezkl tests fail rather than skip when it is missing.
echo "== ezkl: a venv with ezkl/requirements.txt"
EZKL_VENV="${ZKGATE_EZKL_VENV:-$HOME/.cache/zkgate-ezkl-venv}"
[ -x "$EZKL_VENV/bin/python" ] || python3 -m venv "$EZKL_VENV"
"$EZKL_VENV/bin/pip" install -q --disable-pip-version-check -r ezkl/requirements.txt
export ZKGATE_EZKL_PYTHON="$EZKL_VENV/bin/python"
export ZKGATE_REQUIRE_EZKL=1

echo "== cargo test"
cargo test --workspace --release --locked "$@"

# The Python package: its wheel built by maturin from the workspace's
# crates, installed into a venv of its own, and its tests run against the
# gateway binary (a real gateway each test session starts on loopback),
# the example notebook included.
echo "== python: the zkgate wheel and its tests"
PYVENV="${ZKGATE_PYVENV:-$HOME/.cache/zkgate-pyvenv}"
[ -x "$PYVENV/bin/python" ] || python3 -m venv "$PYVENV"
"$PYVENV/bin/pip" install -q --disable-pip-version-check -r python/requirements-test.txt
rm -rf python/dist
"$PYVENV/bin/maturin" build --release --locked --strip -q -m python/Cargo.toml -o python/dist
"$PYVENV/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps python/dist/zkgate-*.whl
cargo build --release --locked -q
"$PYVENV/bin/pytest" -q -p no:cacheprovider python/tests
