#!/usr/bin/env bash
# The API keeps its contract: schemathesis (https://schemathesis.readthedocs.io) reads
# /v1/openapi.json from a real `openvod serve` (SQLite and a local folder, an admin token,
# upload tokens, a signing key and a master key configured) and sends it what the
# document allows and what it does not: examples, coverage of every constraint, fuzzing,
# and stateful sequences along the document's links. Any failed check fails the run.
#   tests/api/run.sh                        # builds target/debug/openvod when needed
#   OPENVOD_BIN=/path/openvod tests/api/run.sh
#   OPENVOD_API_MAX_EXAMPLES=50 tests/api/run.sh   # more cases per operation
# Extra arguments go to `schemathesis run` (e.g. --include-path /v1/webhooks).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
here="$PWD"
repo="$(cd ../.. && pwd)"
st="${OPENVOD_PYTHON_BIN:-$HOME/.cache/openvod/venv/bin}/schemathesis"
if [ ! -x "$st" ]; then
  echo "schemathesis is missing: run scripts/setup.sh's need_python (scripts/test does)" >&2
  exit 1
fi
bin="${OPENVOD_BIN:-}"
if [ -z "$bin" ]; then
  (cd "$repo" && cargo build --quiet -p openvod)
  bin="${CARGO_TARGET_DIR:-$repo/target}/debug/openvod"
fi

work="$(mktemp -d)"
server=""
cleanup() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

token="schemathesis-admin-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/signing.pem" 2>/dev/null
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cat >"$work/openvod.toml" <<TOML
listen = "127.0.0.1:$port"
data_dir = "$work/data"
[worker]
# No worker: the API is under test, not the pipeline (uploads stay queued).
concurrency = 0
[watch]
enabled = false
[access]
admin_tokens = ["$token"]
upload_token_secret = "$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
signing_key_file = "$work/signing.pem"
signing_key_pair_id = "K2SCHEMATHESIS"
[drm]
master_key = "$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
TOML

OPENVOD_LOG=warn "$bin" serve --config "$work/openvod.toml" 2>"$work/server.log" &
server=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  if curl -sf "$base/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server" 2>/dev/null; then
    cat "$work/server.log" >&2
    exit 1
  fi
  sleep 0.1
done

status=0
# From the scratch folder: schemathesis keeps its cache in the working directory.
cd "$work"
SCHEMATHESIS_HOOKS="$here/hooks.py" "$st" --config-file "$here/schemathesis.toml" run "$base/v1/openapi.json" \
  --url "$base" \
  -H "Authorization: Bearer $token" \
  --phases=examples,coverage,fuzzing,stateful \
  --max-examples "${OPENVOD_API_MAX_EXAMPLES:-15}" \
  --seed "${OPENVOD_API_SEED:-1}" \
  --request-timeout 5 \
  --no-color \
  "$@" || status=$?
if grep -q "panicked" "$work/server.log"; then
  echo "the server panicked:" >&2
  grep -A5 "panicked" "$work/server.log" >&2
  status=1
fi
exit "$status"
