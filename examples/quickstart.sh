#!/usr/bin/env bash
# The main job on embedded defaults, from a fresh clone to a settled receipt:
# a gateway on loopback with a temporary data dir, the breast-cancer dataset
# imported (encrypted at rest) under the default policy profile, the
# settlement contract deployed on the gateway's embedded chain with the
# dataset's commitment registered, a researcher opening a job there with
# escrow and submitting the example model over HTTPS for its accuracy; the
# gateway proves it, settles it on chain (the contract verifies the proof and
# pays the owner), and the researcher verifies the receipt offline and
# against the chain. Then a confusion matrix the policy refuses (two of its
# cells hold 2 and 1 patients), and the audit log of every decision.
#
#   bash examples/quickstart.sh            # all 569 rows (~2 minutes on 2 cores)
#   ROWS=64 bash examples/quickstart.sh    # a quicker run on the first 64 rows
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS="${ROWS:-569}"
cargo build --release -q   # the set-up's build: the same compiled dependencies as the tests
ZK="${CARGO_TARGET_DIR:-./target}/release/zkgate"
WORK="$(mktemp -d)"
DATA="$WORK/gateway"
trap 'kill "${SERVER:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 18443)
t=$(now)
"$ZK" init --data-dir "$DATA" --listen "127.0.0.1:$PORT" >/dev/null
head -n $((ROWS + 1)) fixtures/data/breast_cancer.csv > "$WORK/breast_cancer.csv"
# The declared public schema (types, ranges, scales) the circuits are built
# from; `zkgate dataset schema FILE.csv` proposes one for review.
"$ZK" dataset import "$WORK/breast_cancer.csv" --schema fixtures/data/breast_cancer.schema.json \
  --name breast_cancer --data-dir "$DATA"
TOKEN=$("$ZK" researcher add alice --org oncology --trust 2 --data-dir "$DATA")
echo "set-up: $(since "$t")"

# The settlement contract on the embedded chain (chain/state.json in the data
# dir; development account 0 is the owner, 1 the researcher).
t=$(now)
"$ZK" chain deploy --data-dir "$DATA" | grep -E '"(contract|gas_used)"'
"$ZK" chain register-dataset --data-dir "$DATA" --dataset breast_cancer --price-wei 1000000000000000 \
  | grep -E '"(dataset_id|commitment|gas_used)"'
echo "contract deployed, dataset registered: $(since "$t")"

"$ZK" serve --data-dir "$DATA" > "$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do
  curl -sf --cacert "$DATA/tls/cert.pem" "https://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

# The researcher registers the address that opens their jobs (development
# account 1): it signs the gateway's registration message; only jobs opened
# by a researcher's registered address are accepted from them.
"$ZK" register-address --gateway "https://127.0.0.1:$PORT" --ca-cert "$DATA/tls/cert.pem" --token "$TOKEN" \
  --dev-account 1

t=$(now)
"$ZK" submit --gateway "https://127.0.0.1:$PORT" --ca-cert "$DATA/tls/cert.pem" --token "$TOKEN" \
  --dataset breast_cancer --model fixtures/models/breast_cancer.onnx --aggregate accuracy --label label \
  --chain-dataset 1 --value-wei 1000000000000000 --deadline-secs 3600 --data-dir "$DATA" \
  --out "$WORK/receipt.json" --vk-out "$WORK/vk.bin"
echo "question -> on-chain job with 0.001 ETH in escrow -> receipt, settled: $(since "$t")"
JOB=1 # the contract's first job

t=$(now)
"$ZK" verify "$WORK/receipt.json" --vk "$WORK/vk.bin" --chain-job "$JOB" --data-dir "$DATA" \
  --question "$WORK/receipt.question.json" --model fixtures/models/breast_cancer.onnx
echo "verify (offline and on chain): $(since "$t")"
python3 - "$WORK/receipt.json" <<'PY' 2>/dev/null || true
import json, sys
r = json.load(open(sys.argv[1]))
print("constraints: %s; timings: %s" % (r["constraints"]["total"], {k: round(v, 2) for k, v in r["timings"].items()}))
PY

echo "a confusion matrix, which the default policy judges before anything is proved:"
if "$ZK" submit --gateway "https://127.0.0.1:$PORT" --ca-cert "$DATA/tls/cert.pem" --token "$TOKEN" \
  --dataset breast_cancer --model fixtures/models/breast_cancer.onnx --aggregate confusion --label label \
  --out "$WORK/confusion.json" --vk-out "$WORK/confusion.vk" 2>&1; then
  echo "released (no cell below the policy's minimum on these rows)"
fi
echo "audit log:"
"$ZK" audit --data-dir "$DATA" --tail 6
"$ZK" audit --data-dir "$DATA" --verify
