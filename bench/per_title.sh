#!/usr/bin/env bash
# bench/per_title.sh: per-title ladders against the fixed default ladder, and codecs at
# equal quality.
#
# For each of four contrasting 1080p sources (static slides, flat animation-like colour,
# moderate motion, high motion with grain), runs
#
#   fixed:     openvod transcode SRC --json --measure-quality           (the default ladder)
#   per-title: openvod transcode SRC --json --measure-quality --ladder per-title
#
# and reports, per source: total bytes of the video rungs, each rung's bit rate and
# score, the analysis's CPU seconds against the fixed encode's, and the saving. Each
# fixed rung is then matched with the per-title rung a viewer with the same bandwidth
# gets (the best one at or under the fixed rung's average bit rate) and the score
# difference is shown; and each per-title rung is compared with the fixed ladder's score
# at its own bit rate (interpolated between fixed rungs). Goal: at least 25 % fewer bytes
# on average at equal or better quality per rung, no source worse than the fixed ladder
# by more than 1 point.
#
# With CODECS=h264,hevc,av1 it also encodes the fixed ladder in each codec at one quality
# level and reports, per codec, bytes against H.264's, scores, and CPU seconds per output
# minute.
#
# Environment:
#   DURATION   source length in seconds (default 60)
#   SOURCES    which sources (default "slides flat motion grain"; empty: none, for CODECS)
#   CODECS     also compare these codecs at equal quality (default: none)
#   OPENVOD    the binary (default $HOME/.cache/openvod/target/release/openvod)
#   BENCH_DIR  work folder (default /tmp/openvod-bench); sources are cached in
#              BENCH_DIR/inputs and reused
#   KEEP_FIXED 1: reuse the fixed ladders' results of an earlier run (BENCH_DIR/per-title/
#              SOURCE-fixed.json) instead of encoding them again, when only the per-title
#              side changed
#   REPORT_ONLY 1: encode nothing; print the tables from an earlier run's results
set -euo pipefail

DURATION=${DURATION:-60}
SOURCES=${SOURCES-slides flat motion grain}
CODECS=${CODECS:-}
BENCH_DIR=${BENCH_DIR:-/tmp/openvod-bench}
OPENVOD=${OPENVOD:-$HOME/.cache/openvod/target/release/openvod}

die() { echo "per_title.sh: $*" >&2; exit 1; }
for tool in ffmpeg jq awk; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
[[ -x $OPENVOD ]] || die "no openvod binary at $OPENVOD (CARGO_TARGET_DIR=\$HOME/.cache/openvod/target cargo build --release -p openvod)"
[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "DURATION must be a positive integer"
[[ -z $CODECS || $CODECS =~ ^(h264|hevc|av1)(,(h264|hevc|av1))*$ ]] || die "CODECS is a comma-separated list of h264, hevc, av1"

mkdir -p "$BENCH_DIR/inputs" "$BENCH_DIR/per-title"
work="$BENCH_DIR/per-title"

graph() {
    local size=1920x1080 rate=30
    case $1 in
        # A still picture: slides.
        slides) echo "smptehdbars=size=$size:rate=$rate:duration=$DURATION" ;;
        # Flat colours in motion: cellular automaton cells, as in simple animation.
        flat) echo "life=size=480x270:rate=$rate:mold=10:ratio=0.1:death_color=#3050a0:life_color=#f0c020,scale=$size:flags=neighbor,trim=duration=$DURATION" ;;
        # Moderate motion over a detailed picture.
        motion) echo "testsrc2=size=$size:rate=$rate:duration=$DURATION" ;;
        # High motion (a zoom) with film grain.
        grain) echo "mandelbrot=size=$size:rate=$rate,trim=duration=$DURATION,noise=alls=18:allf=t+u" ;;
        *) die "unknown source $1" ;;
    esac
}

source_file() {
    local f="$BENCH_DIR/inputs/per-title-$1-${DURATION}s.mkv"
    if [[ ! -s $f ]]; then
        echo "making the $1 source ($DURATION s 1080p)..." >&2
        # Near-lossless, so the source is not what limits the scores.
        ffmpeg -hide_banner -loglevel error -y -f lavfi -i "$(graph "$1")" \
            -c:v libx264 -preset ultrafast -crf 4 -pix_fmt yuv420p "$f.part.mkv"
        mv "$f.part.mkv" "$f"
    fi
    echo "$f"
}

run() { # run NAME SRC ARGS... -> JSON in $work/NAME.json
    local name=$1 src=$2
    shift 2
    "$OPENVOD" transcode "$src" --out "$work/$name" --overwrite --json --measure-quality "$@" \
        >"$work/$name.json" 2>"$work/$name.log" || { cat "$work/$name.log" >&2; die "$name failed"; }
    rm -rf "${work:?}/$name"
}

video_bytes() { jq '[.renditions[] | select(.kind == "video") | .bytes] | add' "$1"; }

printf '%-8s %12s %12s %8s %10s %10s %7s\n' source fixed_MB per_title_MB saving fixed_cpu analysis_cpu share
total_saving=0
n=0
for s in $SOURCES; do
    src=$(source_file "$s")
    if [[ (${KEEP_FIXED:-} == 1 || ${REPORT_ONLY:-} == 1) && -s $work/$s-fixed.json ]]; then
        echo "($s: the fixed ladder's results of an earlier run)" >&2
    else
        run "$s-fixed" "$src"
    fi
    if [[ ${REPORT_ONLY:-} == 1 && -s $work/$s-per-title.json ]]; then
        echo "($s: the per-title ladder's results of an earlier run)" >&2
    else
        run "$s-per-title" "$src" --ladder per-title
    fi
    f="$work/$s-fixed.json" p="$work/$s-per-title.json"
    fb=$(video_bytes "$f") pb=$(video_bytes "$p")
    fcpu=$(jq .cpu_seconds "$f") acpu=$(jq .ladder.cpu_seconds "$p")
    saving=$(awk -v a="$fb" -v b="$pb" 'BEGIN { printf "%.1f", (1 - b / a) * 100 }')
    share=$(awk -v a="$acpu" -v b="$fcpu" 'BEGIN { printf "%.1f", a / b * 100 }')
    printf '%-8s %12.2f %12.2f %7s%% %10.1f %10.1f %6s%%\n' "$s" "$(awk -v b="$fb" 'BEGIN{print b/1e6}')" \
        "$(awk -v b="$pb" 'BEGIN{print b/1e6}')" "$saving" "$fcpu" "$acpu" "$share"
    total_saving=$(awk -v t="$total_saving" -v x="$saving" 'BEGIN { print t + x }')
    n=$((n + 1))
done
if ((n > 0)); then
echo
echo "average saving: $(awk -v t="$total_saving" -v n="$n" 'BEGIN { printf "%.1f", t / n }') %"
echo
echo "per rung (fixed rung -> the per-title rung at or under its average bit rate, within 1 %:"
echo "two encodes under one cap land a few kb/s apart):"
for s in $SOURCES; do
    f="$work/$s-fixed.json" p="$work/$s-per-title.json"
    jq -r --slurpfile pt "$p" --arg s "$s" '
      ($pt[0].renditions | map(select(.kind == "video"))) as $p
      | .renditions[] | select(.kind == "video")
      | . as $r
      | ([$p[] | select(.bitrate <= $r.bitrate * 1.01)] | max_by(.quality.score)) as $m
      | "\($s)\t\($r.name)\t\($r.bitrate / 1000 | floor) kb/s\tscore \($r.quality.score)\t-> "
        + (if $m == null then "none at or under this rate"
           else "\($m.name)\t\($m.bitrate / 1000 | floor) kb/s\tscore \($m.quality.score)\t(\($m.quality.score - $r.quality.score | . * 100 | round / 100))" end)
    ' "$f"
done | column -t -s $'\t'
echo
echo "per rung at equal bit rate (each per-title rung -> the fixed ladder's score at its bit rate,"
echo "interpolated on a log scale between the fixed rungs a player would pick, each scoring above"
echo "every cheaper one; past the top, the best fixed rung's):"
for s in $SOURCES; do
    f="$work/$s-fixed.json" p="$work/$s-per-title.json"
    jq -r --slurpfile fx "$f" --arg s "$s" '
      ($fx[0].renditions | map(select(.kind == "video")) | sort_by(.bitrate)
        | reduce .[] as $x ([]; if length == 0 or $x.quality.score > .[-1].quality.score
                                then . + [$x] else . end)) as $f
      | .renditions[] | select(.kind == "video") | . as $r
      | (if $r.bitrate >= $f[-1].bitrate then $f[-1].quality.score
         elif $r.bitrate < $f[0].bitrate then null
         else ([range(0; ($f | length) - 1) | select($f[.].bitrate <= $r.bitrate and $f[. + 1].bitrate > $r.bitrate)][0]) as $i
           | $f[$i] as $a | $f[$i + 1] as $b
           | ((($r.bitrate | log) - ($a.bitrate | log)) / (($b.bitrate | log) - ($a.bitrate | log))) as $t
           | $a.quality.score + $t * ($b.quality.score - $a.quality.score)
         end) as $fs
      | "\($s)\t\($r.name)\t\($r.bitrate / 1000 | floor) kb/s\tscore \($r.quality.score)\t-> "
        + (if $fs == null then "below the fixed ladder"
           else "fixed \($fs * 100 | round / 100)\t(\($r.quality.score - $fs | . * 100 | round / 100))" end)
    ' "$p"
done | column -t -s $'\t'
echo
echo "per-title ladders:"
for s in $SOURCES; do
    jq -r --arg s "$s" '.ladder.rungs[] | "\($s)\t\(.name)\t\(.width)x\(.height)\tcrf \(.crf)\t~\(.expected_bitrate / 1000 | floor) kb/s\tcap \(.max_bitrate / 1000 | floor) kb/s\tscore \(.score)"' \
        "$work/$s-per-title.json"
done | column -t -s $'\t'
fi

if [[ -n $CODECS ]]; then
    echo
    echo "codecs at equal quality (fixed ladder, quality level 8, motion source):"
    src=$(source_file motion)
    printf '%-6s %10s %9s %12s %14s\n' codec video_MB vs_h264 mean_score cpu_s_per_min
    base=""
    IFS=, read -r -a list <<<"$CODECS"
    for c in "${list[@]}"; do
        run "codec-$c" "$src" --codecs "$c"
        j="$work/codec-$c.json"
        b=$(video_bytes "$j")
        [[ -n $base ]] || base=$b
        [[ $c == h264 ]] && base=$b
        score=$(jq '[.renditions[] | select(.kind == "video") | .quality.score] | add / length' "$j")
        cpm=$(jq '.cpu_seconds / (.duration / 60)' "$j")
        printf '%-6s %10.2f %8.0f%% %12.2f %14.1f\n' "$c" "$(awk -v b="$b" 'BEGIN{print b/1e6}')" \
            "$(awk -v a="$b" -v h="$base" 'BEGIN{print a / h * 100}')" "$score" "$cpm"
    done
fi
