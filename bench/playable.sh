#!/usr/bin/env bash
# bench/playable.sh: how soon a fresh upload plays. `openvod serve` on its embedded
# defaults (SQLite, a local folder, the default template: the 4-rung ladder at x264
# `medium`, one ladder worker and one preview worker), one 1920x1080 upload at a time.
#
# For each length in LENGTHS (seconds) it reports, from the end of the upload (the 201):
#   - playable: the asset's status turns `playable` (its preview's first segment, its
#     playlist and its header are stored: the playback URL plays);
#   - ready: the ladder is published;
# polled every 50 ms. A binary without previews (before them) is never `playable`: its
# playable figure is its ready one. Lengths over READY_UP_TO are cancelled once playable
# (a 10-minute title at `medium` takes about half an hour on 2 cores).
#
# Goal (the scale-out issue): a 60 s 1080p upload playable within 5 s on 2 cores, a
# 10-minute one within 10 s.
#
# Input: testsrc2 + a tone, H.264 `ultrafast` with 250-frame GOPs, made once and cached.
#
# Environment:
#   LENGTHS      title lengths in seconds (default "16 60 600")
#   READY_UP_TO  wait for `ready` up to this length (default 60)
#   OPENVOD      the binary (default $HOME/.cache/openvod/target/release/openvod)
#   BENCH_DIR    work folder (default /tmp/openvod-bench)
set -euo pipefail
LENGTHS=${LENGTHS:-16 60 600}
READY_UP_TO=${READY_UP_TO:-60}
BENCH_DIR=${BENCH_DIR:-/tmp/openvod-bench}
OPENVOD=${OPENVOD:-$HOME/.cache/openvod/target/release/openvod}

die() { echo "playable.sh: $*" >&2; exit 1; }
for tool in ffmpeg jq curl; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
[[ -x $OPENVOD ]] || die "no openvod binary at $OPENVOD (CARGO_TARGET_DIR=\$HOME/.cache/openvod/target cargo build --release -p openvod)"

mkdir -p "$BENCH_DIR/inputs"
source_of() { # seconds -> path
    local f="$BENCH_DIR/inputs/chunks-$1s-1080p.mp4"
    if [[ ! -s $f ]]; then
        ffmpeg -hide_banner -loglevel error -nostdin -y \
            -f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=$1" \
            -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$1" \
            -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -f mp4 "$f.part"
        mv "$f.part" "$f"
    fi
    echo "$f"
}

work=$(mktemp -d "$BENCH_DIR/playable.XXXXXX")
serve=
cleanup() {
    [[ -n $serve ]] && kill "$serve" 2>/dev/null && wait "$serve" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
echo "data_dir = \"$work/data\"" > "$work/openvod.toml"
"$OPENVOD" serve --config "$work/openvod.toml" --listen 127.0.0.1:0 > "$work/serve.out" 2> "$work/serve.err" &
serve=$!
for _ in $(seq 600); do grep -q '^listening on ' "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
base=$(sed -n 's/^listening on //p' "$work/serve.out" | head -1)
[[ -n $base ]] || die "openvod serve did not start in 60 s: $(cat "$work/serve.err")"

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

printf '%-8s %10s %14s %12s %10s\n' length upload_s playable_s ready_s preview_s
for length in $LENGTHS; do
    src=$(source_of "$length")
    start=$(now)
    # -T streams the file (--data-binary would read it whole into memory first).
    id=$(curl -sf -X POST -T "$src" "$base/v1/assets?name=bench-$length.mp4" | jq -r .id)
    uploaded=$(now)
    playable= ready= preview=
    while :; do
        a=$(curl -sf "$base/v1/assets/$id")
        s=$(jq -r .status <<<"$a")
        case $s in
            playable)
                if [[ -z $playable ]]; then
                    playable=$(since "$uploaded" "$(now)")
                    preview=$(jq -r .preview_seconds <<<"$a")
                fi
                if (( length > READY_UP_TO )); then
                    curl -sf -X POST "$base/v1/assets/$id/cancel" > /dev/null
                    ready=-
                    break
                fi ;;
            ready)
                ready=$(since "$uploaded" "$(now)")
                [[ -z $playable ]] && playable="$ready (no preview)"
                break ;;
            failed|cancelled) die "asset $id $s: $(jq -c .error <<<"$a")" ;;
        esac
        sleep 0.05
    done
    printf '%-8s %10s %14s %12s %10s\n' "${length}s" "$(since "$start" "$uploaded")" "$playable" "$ready" "${preview:--}"
done
