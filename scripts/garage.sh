# Starts a single-node Garage S3 server for the tests, installing Garage when missing.
# Sourced by scripts/test; exports OPENVOD_TEST_S3_* for the test suites and stops the
# server when the calling shell exits.
set -euo pipefail

garage_root="${GARAGE_ROOT:-$HOME/.cache/openvod/garage}"
garage_bin="$garage_root/bin/garage"
if ! [ -x "$garage_bin" ]; then
  if command -v garage >/dev/null; then
    garage_bin="$(command -v garage)"
  else
    echo "installing Garage (cargo install garage; about 12 minutes, once)..." >&2
    cargo install garage --locked --quiet --root "$garage_root" \
      --target-dir "$HOME/.cache/openvod/garage-build" >&2
  fi
fi

garage_dir="$(mktemp -d /tmp/openvod-garage.XXXXXX)"
# Ports from this process id, so parallel runs on one machine do not collide.
garage_port=$((30000 + ($$ % 5000) * 4))
cat > "$garage_dir/garage.toml" <<TOML
metadata_dir = "$garage_dir/meta"
data_dir = "$garage_dir/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$((garage_port + 1))"
rpc_public_addr = "127.0.0.1:$((garage_port + 1))"
rpc_secret = "$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$garage_port"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$((garage_port + 2))"
TOML

garage() { "$garage_bin" -c "$garage_dir/garage.toml" "$@"; }
"$garage_bin" -c "$garage_dir/garage.toml" server >"$garage_dir/server.log" 2>&1 &
garage_pid=$!
trap 'kill $garage_pid 2>/dev/null || true; rm -rf "$garage_dir"' EXIT

for _ in $(seq 1 100); do
  if garage status >/dev/null 2>&1; then break; fi
  sleep 0.2
done
# A node that answers `status` may not have every RPC handler registered yet ("No
# handler"): the layout is retried until it takes.
node_id="$(garage node id -q 2>/dev/null | cut -d@ -f1)"
for attempt in $(seq 1 50); do
  if garage layout assign -z dc1 -c 1G "$node_id" >/dev/null 2>&1 &&
     garage layout apply --version 1 >/dev/null 2>&1; then
    break
  fi
  if [ "$attempt" = 50 ]; then
    echo "Garage did not take its layout; its log:" >&2
    cat "$garage_dir/server.log" >&2
    exit 1
  fi
  sleep 0.2
done
key_info="$(garage key create openvod-test)"
garage bucket create openvod-test >/dev/null
garage bucket allow --read --write --owner openvod-test --key openvod-test >/dev/null

export OPENVOD_TEST_S3_ENDPOINT="http://127.0.0.1:$garage_port"
export OPENVOD_TEST_S3_REGION="garage"
export OPENVOD_TEST_S3_BUCKET="openvod-test"
OPENVOD_TEST_S3_KEY_ID="$(echo "$key_info" | awk '/Key ID/ {print $NF}')"
OPENVOD_TEST_S3_SECRET="$(echo "$key_info" | awk '/Secret key/ {print $NF}')"
export OPENVOD_TEST_S3_KEY_ID OPENVOD_TEST_S3_SECRET
echo "Garage S3 at $OPENVOD_TEST_S3_ENDPOINT (bucket $OPENVOD_TEST_S3_BUCKET)" >&2
