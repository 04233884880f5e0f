#!/usr/bin/env bash
# The same sharded job proved in the gateway's process and by NATS
# JetStream workers on this machine: a nats-server on loopback with the
# configuration `zkgate provers nats-config` writes (nkey users, each
# allowed its part, TLS with the gateway's certificate), a gateway whose
# [cluster] names it, 1..N `zkgate prover` processes. Prints one JSON
# line per run: rows, shards, workers (0: in-process), the job's wall time
# from submission to receipt, its proving phase (the receipt's prove_s),
# setup, each shard's proving time on its worker and the workers' peak
# memory.
#
#   ROWS=10000 WORKERS="0 1 2" bash examples/cluster-bench.sh
#
# The tabular MLP (13-16-1, mean of its output) in shards of SHARD rows
# (default 2046); rows past the fixture's 1,024 repeat it from the top.
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS="${ROWS:-10000}"
SHARD="${SHARD:-2046}"
WORKERS="${WORKERS:-0 1 2}"
cargo build --release -q   # the set-up's build: the same compiled dependencies as the tests
ZK="${CARGO_TARGET_DIR:-./target}/release/zkgate"
NATS="${NATS_SERVER:-nats-server}"
WORK="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }

# The dataset: the fixture's rows repeated to ROWS.
python3 - "$ROWS" "$WORK/data.csv" <<'PY'
import sys
rows, out = int(sys.argv[1]), sys.argv[2]
lines = open("fixtures/data/tabular.csv").read().splitlines()
head, body = lines[0], lines[1:]
with open(out, "w") as f:
    f.write(head + "\n")
    for i in range(rows):
        f.write(body[i % len(body)] + "\n")
PY
cp fixtures/data/tabular.schema.json "$WORK/data.schema.json"

for N in $WORKERS; do
  DIR="$WORK/gw$N"
  GPORT=$(port)
  NPORT=$(port)
  "$ZK" init --data-dir "$DIR" --listen "127.0.0.1:$GPORT" --profile open >/dev/null
  # One shard size; the queue only when workers prove.
  python3 - "$DIR/config.toml" "$SHARD" "$N" "$NPORT" <<'PY'
import sys
path, shard, n, port = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
text = open(path).read().replace("shard_rows = 4096", f"shard_rows = {shard}")
if n > 0:
    text += f'\n[cluster]\nnats = "tls://127.0.0.1:{port}"\nprefix = "bench{n}"\nca_cert = "tls/cert.pem"\n'
open(path, "w").write(text)
PY
  "$ZK" dataset import "$WORK/data.csv" --name tab --data-dir "$DIR" >/dev/null
  TOKEN=$("$ZK" researcher add alice --trust 2 --data-dir "$DIR")
  for i in $(seq 1 "$N"); do
    KEYS=$("$ZK" prover --init --dir "$WORK/w$N-$i" 2>/dev/null)
    T=$("$ZK" provers add "w$i" --recipient "$(echo "$KEYS" | sed -n 1p)" \
      --nkey "$(echo "$KEYS" | sed -n 2p)" --data-dir "$DIR" 2>/dev/null)
    echo "$T" > "$WORK/w$N-$i.token"
  done
  if [ "$N" -gt 0 ]; then
    "$ZK" provers nats-config --data-dir "$DIR" --tls-cert "$DIR/tls/cert.pem" \
      --tls-key "$DIR/tls/key.pem" > "$WORK/nats$N.conf"
    "$NATS" -c "$WORK/nats$N.conf" -js -a 127.0.0.1 -p "$NPORT" -sd "$WORK/js$N" >"$WORK/nats$N.log" 2>&1 &
    PIDS+=($!)
    sleep 1
  fi
  "$ZK" serve --data-dir "$DIR" >"$WORK/serve$N.log" 2>&1 &
  SERVER=$!
  PIDS+=($SERVER)
  for _ in $(seq 1 100); do
    curl -sf --cacert "$DIR/tls/cert.pem" "https://127.0.0.1:$GPORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  WPIDS=()
  for i in $(seq 1 "$N"); do
    ZKGATE_PROVER_TOKEN=$(cat "$WORK/w$N-$i.token") "$ZK" prover --dir "$WORK/w$N-$i" --name "w$i" \
      --nats "tls://127.0.0.1:$NPORT" --nats-ca "$DIR/tls/cert.pem" --prefix "bench$N" \
      --gateway "https://127.0.0.1:$GPORT" --ca-cert "$DIR/tls/cert.pem" 2>"$WORK/w$N-$i.log" &
    WPIDS+=($!)
    PIDS+=($!)
  done
  t=$(now)
  "$ZK" submit --gateway "https://127.0.0.1:$GPORT" --ca-cert "$DIR/tls/cert.pem" --token "$TOKEN" \
    --dataset tab --model fixtures/models/mlp.onnx --columns f0,f1,f2,f3,f4,f5,f6,f7,f8,f9,f10,f11,f12 \
    --aggregate mean --out "$WORK/receipt$N.json" --vk-out "$WORK/vk$N.bin" >/dev/null
  WALL=$(awk -v a="$t" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
  GPEAK=$(awk '/VmHWM/ { print int($2 / 1024) }' "/proc/$SERVER/status")
  python3 - "$ROWS" "$N" "$WALL" "$WORK/receipt$N.json" "$WORK" "$GPEAK" <<'PY'
import glob, json, re, sys
rows, n, wall, receipt, work = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
gateway_peak = int(sys.argv[6])
r = json.load(open(receipt))
shard_s, peaks, key_s = [], [], []
for log in sorted(glob.glob(f"{work}/w{n}-*.log")):
    for line in open(log):
        m = re.search(r"proved in ([0-9.]+) s \(peak ([0-9]+) MiB, key ([0-9.]+) s\)", line)
        if m:
            shard_s.append(float(m.group(1)))
            peaks.append(int(m.group(2)))
            key_s.append(float(m.group(3)))
t = r["timings"]
out = {
    "rows": rows, "shards": len(r["shards"]), "workers": n, "wall_s": wall,
    "prove_phase_s": round(t.get("prove_s", 0), 2), "setup_s": round(t.get("setup_s", 0), 2),
    "compile_s": round(t.get("compile_s", 0), 2), "evaluate_s": round(t.get("evaluate_s", 0), 2),
    "verify_s": round(t.get("verify_s", 0), 3),
    "worker_shard_prove_s": [round(s, 2) for s in shard_s],
    "worker_key_s": [round(s, 2) for s in key_s],
    "worker_peak_rss_mb": max(peaks) if peaks else None,
    "gateway_peak_rss_mb": gateway_peak,
    "constraints": r["constraints"]["total"],
}
if shard_s and n == 1:
    # The proving phase against the worker's own proving, with and
    # without the one-time key transfers.
    out["queue_overhead"] = round(t["prove_s"] / sum(shard_s) - 1, 4)
    out["queue_overhead_after_keys"] = round((t["prove_s"] - sum(key_s)) / sum(shard_s) - 1, 4)
print(json.dumps(out))
PY
  "$ZK" verify "$WORK/receipt$N.json" --vk "$WORK/vk$N.bin" >&2
  for p in "${WPIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
done
