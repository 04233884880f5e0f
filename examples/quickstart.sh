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
# The keys come from a ceremony the researcher takes part in: the owner names
# a powers-of-tau file, the researcher makes the job's circuit key from it and
# adds a secret contribution on their own side, and the gateway proves every
# shard with that key, so the receipt is one the owner could not forge, and
# `zkgate verify --require-ceremony` passes. The file here is made locally (a
# stand-in for a public Perpetual Powers of Tau file, which is downloaded
# once; every receipt over it says it is not a public file). The owner's
# shards are 44 rows, so the one circuit (and key) is small: 13 shards.
#
#   bash examples/quickstart.sh              # all 569 rows (~2 minutes on 2 cores)
#   ROWS=64 bash examples/quickstart.sh      # a quicker run on the first 64 rows
#   CEREMONY=0 bash examples/quickstart.sh   # keys made by the gateway (one proof, no ceremony)
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS="${ROWS:-569}"
CEREMONY="${CEREMONY:-1}"
SHARD_ROWS="${SHARD_ROWS:-44}"
PTAU_POWER="${PTAU_POWER:-17}"
cargo build --release -q   # the set-up's build: the same compiled dependencies as the tests
ZK="${CARGO_TARGET_DIR:-./target}/release/zkgate"
WORK="$(mktemp -d)"
DATA="$WORK/gateway"
trap 'kill "${SERVER:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 18443)
t=$(now)
if [ "$CEREMONY" = 1 ]; then
  "$ZK" init --data-dir "$DATA" --listen "127.0.0.1:$PORT" --shard-rows "$SHARD_ROWS" --ptau pot.ptau >/dev/null
  # The owner's powers-of-tau file (in real use: a public one, put there).
  PTAU_B2=$("$ZK" ceremony local-ptau --power "$PTAU_POWER" --out "$DATA/pot.ptau" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["blake2b"])')
  echo "powers of tau: a local file of power $PTAU_POWER, b2sum ${PTAU_B2:0:16}... (not a public one)"
else
  "$ZK" init --data-dir "$DATA" --listen "127.0.0.1:$PORT" >/dev/null
fi
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

KEY=()
REQUIRE=()
if [ "$CEREMONY" = 1 ]; then
  # The researcher, from public facts only (the model, the declared schema,
  # the row count and the shard size `GET /v1/datasets` lists, the owner's
  # file): the circuit's key with delta = 1, then their secret contribution
  # (checked first). The gateway checks the key again before proving.
  t=$(now)
  C=(--model fixtures/models/breast_cancer.onnx --schema fixtures/data/breast_cancer.schema.json
     --rows "$ROWS" --aggregate accuracy --label label --ptau "$DATA/pot.ptau" --shard-rows "$SHARD_ROWS")
  "$ZK" ceremony init "${C[@]}" --key-out "$WORK/k0.zkey" >/dev/null
  echo "ceremony: the circuit's initial key: $(since "$t")"
  t=$(now)
  "$ZK" ceremony contribute "${C[@]}" --key "$WORK/k0.zkey" --name alice --key-out "$WORK/k1.zkey" \
    | grep -E '"(contribution_hash|constraints)"'
  echo "ceremony: the researcher's check and contribution: $(since "$t")"
  KEY=(--ceremony-key "$WORK/k1.zkey" --ptau "$DATA/pot.ptau")
  # The question pins the file; a verifier accepts a public one, and this
  # local stand-in only when told to trust it by name.
  REQUIRE=(--require-ceremony --trust-ptau "$PTAU_B2")
fi

t=$(now)
"$ZK" submit --gateway "https://127.0.0.1:$PORT" --ca-cert "$DATA/tls/cert.pem" --token "$TOKEN" \
  --dataset breast_cancer --model fixtures/models/breast_cancer.onnx --aggregate accuracy --label label \
  --chain-dataset 1 --value-wei 1000000000000000 --deadline-secs 3600 --data-dir "$DATA" \
  "${KEY[@]}" --out "$WORK/receipt.json" --vk-out "$WORK/vk.bin"
echo "question -> on-chain job with 0.001 ETH in escrow -> receipt, settled: $(since "$t")"
JOB=1 # the contract's first job

t=$(now)
"$ZK" verify "$WORK/receipt.json" --vk "$WORK/vk.bin" --chain-job "$JOB" --data-dir "$DATA" \
  --question "$WORK/receipt.question.json" --model fixtures/models/breast_cancer.onnx "${REQUIRE[@]}"
echo "verify (offline and on chain$([ "$CEREMONY" = 1 ] && echo ', keys from the ceremony')): $(since "$t")"
python3 - "$WORK/receipt.json" <<'PY' 2>/dev/null || true
import json, sys
print("setup: " + json.load(open(sys.argv[1]))["setup"])
PY
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
