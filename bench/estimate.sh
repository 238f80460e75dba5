#!/usr/bin/env bash
# `openvod transcode --estimate` against the transcode it estimates: the estimated and
# the measured CPU seconds and wall time of the encode, for a testsrc2 source of
# DURATION seconds at SIZE (default 120 s at 1280x720) with the default template.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-120}"
SIZE="${SIZE:-1280x720}"
OPENVOD="${OPENVOD:-}"
if [ -z "$OPENVOD" ]; then
  cargo build --release --quiet -p openvod
  OPENVOD="${CARGO_TARGET_DIR:-target}/release/openvod"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
ffmpeg -hide_banner -loglevel error -nostdin -f lavfi -i "testsrc2=size=$SIZE:rate=30:duration=$DURATION" \
  -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$DURATION" \
  -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac "$work/src.mp4"
"$OPENVOD" transcode "$work/src.mp4" --estimate --json 2>/dev/null > "$work/estimate.json"
"$OPENVOD" transcode "$work/src.mp4" --out "$work/out" --json 2>/dev/null > "$work/actual.json"
python3 - "$work/estimate.json" "$work/actual.json" "$DURATION" "$SIZE" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))["estimate"]
a = json.load(open(sys.argv[2]))
measured = sum(m["wall_seconds"] for m in e["measured"])
print(f"{sys.argv[3]} s at {sys.argv[4]}, {len(e['rungs'])} rungs; measuring took {measured:.1f} s")
print(f"  CPU  estimated {e['cpu_seconds']:8.1f} s   encode {a['cpu_seconds']:8.1f} s   {100 * (e['cpu_seconds'] / a['cpu_seconds'] - 1):+.1f} %")
print(f"  wall estimated {e['wall_seconds']:8.1f} s   encode {a['encode_seconds']:8.1f} s   {100 * (e['wall_seconds'] / a['encode_seconds'] - 1):+.1f} %")
PY
