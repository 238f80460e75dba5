#!/usr/bin/env bash
# bench/pictures.sh: pictures on request through `openvod serve`: the latency of a
# thumbnail made by the origin (ffmpeg on the clear copy's segments), cold and from the
# shield, and of an animated preview; and the size of what the encode made (poster,
# storyboard sprite).
#
# Input: a DURATION-second 1280x720 testsrc2 source at 25 fps (H.264 ultrafast), made
# once and cached. Template: the default ladder's 720p and 360p rungs at preset
# superfast, packaged ahead of time.
#
# Target: a cold 320-pixel thumbnail in under 1 s at p95 on 2 cores; a shield hit in
# milliseconds.
#
# Environment:
#   DURATION   source length in seconds (default 120)
#   COUNT      thumbnails asked for (default 20), at times spread over the title
#   OPENVOD    the binary (default $HOME/.cache/openvod/target/release/openvod)
#   BENCH_DIR  work folder (default /tmp/openvod-bench)
set -euo pipefail
DURATION=${DURATION:-120}
COUNT=${COUNT:-20}
BENCH_DIR=${BENCH_DIR:-/tmp/openvod-bench}
OPENVOD=${OPENVOD:-$HOME/.cache/openvod/target/release/openvod}

die() { echo "pictures.sh: $*" >&2; exit 1; }
for tool in ffmpeg jq curl awk; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
[[ -x $OPENVOD ]] || die "no openvod binary at $OPENVOD (CARGO_TARGET_DIR=\$HOME/.cache/openvod/target cargo build --release -p openvod)"

mkdir -p "$BENCH_DIR/inputs" "$BENCH_DIR/results"
src="$BENCH_DIR/inputs/pictures-${DURATION}s-720p.mp4"
if [[ ! -s $src ]]; then
    ffmpeg -hide_banner -loglevel error -nostdin -y \
        -f lavfi -i "testsrc2=size=1280x720:rate=25:duration=$DURATION" \
        -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$DURATION" \
        -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -f mp4 "$src.part"
    mv "$src.part" "$src"
fi

work=$(mktemp -d "$BENCH_DIR/pictures.XXXXXX")
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
cat > "$work/template.toml" <<'EOF'
name = "bench"
[video]
preset = "superfast"
[[video.rungs]]
name = "720p"
height = 720
max_bitrate = 3_000_000
[[video.rungs]]
name = "360p"
height = 360
max_bitrate = 800_000
[audio]
EOF
printf 'data_dir = "%s"\n[templates]\ndefault = "%s"\n' "$work/data" "$work/template.toml" > "$work/openvod.toml"
OPENVOD_LOG=warn "$OPENVOD" serve --config "$work/openvod.toml" --listen 127.0.0.1:0 > "$work/serve.out" &
server=$!
for _ in $(seq 100); do grep -q '^listening on ' "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
base=$(sed -n 's/^listening on //p' "$work/serve.out" | head -1)
[[ -n $base ]] || die "openvod serve did not start"

id=$(curl -sf --data-binary "@$src" "$base/v1/assets?name=bench.mp4" | jq -r .id)
start=$(date +%s.%N)
while :; do
    status=$(curl -sf "$base/v1/assets/$id" | jq -r .status)
    [[ $status == ready ]] && break
    [[ $status == failed ]] && die "the asset failed: $(curl -s "$base/v1/assets/$id" | jq -c .error)"
    sleep 1
done
ready=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

# Seconds of each ask (curl's time_total), one per line.
ask() { curl -s -o "$work/picture" -w '%{http_code} %{time_total}\n' "$1"; }
percentiles() { sort -n | awk '{ v[NR] = $1 } END { printf "%.3f %.3f", v[int((NR + 1) / 2)], v[int(NR * 0.95 + 0.999)] }'; }
: > "$work/cold"; : > "$work/hot"
for k in $(seq 0 $((COUNT - 1))); do
    t=$(awk -v k="$k" -v n="$COUNT" -v d="$DURATION" 'BEGIN { printf "%.1f", (k + 0.5) * d / n }')
    url="$base/image/$id/thumbnail.jpg?time=$t&width=320"
    read -r code secs < <(ask "$url")
    [[ $code == 200 ]] || die "thumbnail at $t s: HTTP $code"
    echo "$secs" >> "$work/cold"
    read -r code secs < <(ask "$url")
    echo "$secs" >> "$work/hot"
done
read -r code anim < <(ask "$base/image/$id/animated.gif?start=10&duration=3&width=320")
[[ $code == 200 ]] || die "animated preview: HTTP $code"
anim_bytes=$(stat -c %s "$work/picture")
sprite=$(curl -s "$base/play/$id/storyboard.jpg" | wc -c)
tiles=$(curl -s "$base/play/$id/storyboard.vtt" | grep -c -- '-->')
poster=$(curl -s "$base/image/$id/poster.jpg" | wc -c)

out="$BENCH_DIR/results/pictures-$(date +%Y%m%d-%H%M%S).txt"
{
    echo "pictures on request: ${DURATION} s 720p source, $COUNT thumbnails of 320 px, $(nproc) cores"
    echo "upload to ready:            ${ready} s"
    echo "thumbnail cold p50/p95:     $(percentiles < "$work/cold") s"
    echo "thumbnail shield p50/p95:   $(percentiles < "$work/hot") s"
    echo "animated GIF 3 s, 320 px:   ${anim} s, ${anim_bytes} bytes"
    echo "storyboard:                 ${tiles} tiles, sprite ${sprite} bytes"
    echo "poster:                     ${poster} bytes"
} | tee "$out"
