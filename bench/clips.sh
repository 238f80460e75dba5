#!/usr/bin/env bash
# bench/clips.sh: clips through `openvod serve`: the time from POST /v1/assets/{id}/clips
# to a ready clip, keyframe-exact (nothing encoded) and frame-exact (the partial GOPs at
# each end encoded again), against uploading the same range as a new source; and the
# CPU each took.
#
# Input: a DURATION-second 1920x1080 testsrc2 source at 30 fps (H.264 ultrafast), made
# once and cached, and the same source cut to the clip's range (for the upload).
# Template: the default ladder (1080p, 720p, 540p, 360p) at preset superfast, packaged
# ahead of time, or on request with MODE=jit.
#
# Target: a keyframe clip ready in a few seconds whatever the title's length (it copies
# bytes); a frame-exact one in the time of two GOPs' encode per rung more.
#
# Environment:
#   DURATION   source length in seconds (default 120)
#   START END  the clip's range in seconds (default 30.5 and 90.5)
#   MODE       static or jit (default static)
#   OPENVOD    the binary (default $HOME/.cache/openvod/target/release/openvod)
#   BENCH_DIR  work folder (default /tmp/openvod-bench)
set -euo pipefail
DURATION=${DURATION:-120}
START=${START:-30.5}
END=${END:-90.5}
MODE=${MODE:-static}
BENCH_DIR=${BENCH_DIR:-/tmp/openvod-bench}
OPENVOD=${OPENVOD:-$HOME/.cache/openvod/target/release/openvod}

die() { echo "clips.sh: $*" >&2; exit 1; }
for tool in ffmpeg jq curl awk; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
[[ -x $OPENVOD ]] || die "no openvod binary at $OPENVOD (CARGO_TARGET_DIR=\$HOME/.cache/openvod/target cargo build --release -p openvod)"

mkdir -p "$BENCH_DIR/inputs" "$BENCH_DIR/results"
src="$BENCH_DIR/inputs/clips-${DURATION}s-1080p.mp4"
if [[ ! -s $src ]]; then
    ffmpeg -hide_banner -loglevel error -nostdin -y \
        -f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=$DURATION" \
        -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$DURATION" \
        -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -f mp4 "$src.part"
    mv "$src.part" "$src"
fi
range="$BENCH_DIR/inputs/clips-${DURATION}s-1080p-$START-$END.mp4"
if [[ ! -s $range ]]; then
    ffmpeg -hide_banner -loglevel error -nostdin -y -ss "$START" -to "$END" -i "$src" \
        -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -f mp4 "$range.part"
    mv "$range.part" "$range"
fi

work=$(mktemp -d "$BENCH_DIR/clips.XXXXXX")
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
sed -e 's/preset = "medium"/preset = "superfast"/' -e "s/mode = \"static\"/mode = \"$MODE\"/" \
    "$(dirname "$0")/../crates/transcode/templates/default.toml" > "$work/template.toml"
printf 'data_dir = "%s"\n[templates]\ndefault = "%s"\n' "$work/data" "$work/template.toml" > "$work/openvod.toml"
OPENVOD_LOG=warn "$OPENVOD" serve --config "$work/openvod.toml" --listen 127.0.0.1:0 > "$work/serve.out" &
server=$!
for _ in $(seq 100); do grep -q '^listening on ' "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
base=$(sed -n 's/^listening on //p' "$work/serve.out" | head -1)
[[ -n $base ]] || die "openvod serve did not start"

# Seconds from now until asset $1 is ready.
until_ready() {
    local start status
    start=$(date +%s.%N)
    while :; do
        status=$(curl -sf "$base/v1/assets/$1" | jq -r .status)
        [[ $status == ready ]] && break
        [[ $status == failed ]] && die "asset $1 failed: $(curl -s "$base/v1/assets/$1" | jq -c .error)"
        sleep 0.2
    done
    awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
}
# CPU seconds of the serve process and its children so far.
cpu() { awk '{ printf "%.1f", ($14 + $15 + $16 + $17) / 100 }' "/proc/$server/stat"; }
# A clip of the title in mode $1: "seconds-to-ready cpu-seconds duration".
clip() {
    local before id secs
    before=$(cpu)
    id=$(curl -sf -H 'Content-Type: application/json' \
        --data "{\"start\": $START, \"end\": $END, \"mode\": \"$1\"}" \
        "$base/v1/assets/$parent/clips" | jq -r .id)
    secs=$(until_ready "$id")
    echo "$secs $(awk -v a="$before" -v b="$(cpu)" 'BEGIN { printf "%.1f", b - a }') $(curl -sf "$base/v1/assets/$id" | jq -r '.usage.minutes * 60 | . * 1000 | round / 1000')"
}

parent=$(curl -sf --data-binary "@$src" "$base/v1/assets?name=title.mp4" | jq -r .id)
title_secs=$(until_ready "$parent")
read -r key_secs key_cpu key_len < <(clip keyframe)
read -r frame_secs frame_cpu frame_len < <(clip frame)
before=$(cpu)
upload=$(curl -sf --data-binary "@$range" "$base/v1/assets?name=range.mp4" | jq -r .id)
upload_secs=$(until_ready "$upload")
upload_cpu=$(awk -v a="$before" -v b="$(cpu)" 'BEGIN { printf "%.1f", b - a }')

out="$BENCH_DIR/results/clips-$(date +%Y%m%d-%H%M%S).txt"
{
    echo "clips: ${START}-${END} s of a ${DURATION} s 1080p30 title, 4 rungs, $MODE packaging, $(nproc) cores"
    echo "title upload to ready:          ${title_secs} s"
    printf '%-32s %8s %8s %10s\n' "" "ready in" "CPU s" "length s"
    printf '%-32s %8s %8s %10s\n' "keyframe-exact clip" "$key_secs" "$key_cpu" "$key_len"
    printf '%-32s %8s %8s %10s\n' "frame-exact clip" "$frame_secs" "$frame_cpu" "$frame_len"
    printf '%-32s %8s %8s %10s\n' "the range uploaded and encoded" "$upload_secs" "$upload_cpu" "$(awk -v a="$START" -v b="$END" 'BEGIN { print b - a }')"
} | tee "$out"
