#!/usr/bin/env bash
# bench/package.sh: packaging throughput and peak memory, openvod package against
# Shaka Packager 3.x, on the same job.
#
# Input: four progressive MP4 video renditions (1080p, 720p, 540p, 360p; H.264 ultrafast
# at 40/25/15/8 Mb/s, aligned 2 s GOPs, moov at the end) and one AAC file, generated
# once with ffmpeg and cached. Job: 4 s segments of 2 s fragments, CMAF, HLS (with
# I-frame playlists) + DASH, clear.
#
# Each tool runs twice on the same input and the second (warm page cache) run counts;
# the page cache cannot be dropped here. openvod (and Shaka) also run on a half-length
# stream copy of the same inputs, to show whether peak memory grows with input length.
#
# Target: openvod at least 3x Shaka's throughput (input MB per second of wall time).
#
# Environment:
#   SECONDS    input length in seconds (default 80, so >= 500 MB); read on the first
#              line below, because bash counts this variable up from the value it inherits
#   OPENVOD    the binary (default $HOME/.cache/openvod/target/release/openvod)
#   SHAKA      the packager binary (default: from the npm package shaka-packager@3.4,
#              installed into BENCH_DIR/node_modules when missing)
#   BENCH_DIR  work folder (default /tmp/openvod-bench); inputs are cached in
#              BENCH_DIR/inputs and reused
#   KEEP_OUTPUT=1  keep the packaged folders (about the size of the input each)
DURATION=$SECONDS
set -euo pipefail
((DURATION > 0)) || DURATION=80
((DURATION >= 4)) || DURATION=4

BENCH_DIR=${BENCH_DIR:-/tmp/openvod-bench}
OPENVOD=${OPENVOD:-$HOME/.cache/openvod/target/release/openvod}
TIME=/usr/bin/time

die() { echo "package.sh: $*" >&2; exit 1; }
for tool in ffmpeg jq awk npm; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
[[ -x $TIME ]] || die "$TIME is missing (apt-get install time)"
[[ -x $OPENVOD ]] || die "no openvod binary at $OPENVOD (from the repository: CARGO_TARGET_DIR=\$HOME/.cache/openvod/target cargo build --release -p openvod)"

INPUTS=$BENCH_DIR/inputs
WORK=$BENCH_DIR/package
RESULTS_DIR=$BENCH_DIR/results
STAMP=$(date +%Y%m%d-%H%M%S)
RESULTS=$RESULTS_DIR/package-$STAMP.txt
mkdir -p "$INPUTS" "$WORK" "$RESULTS_DIR"
: >"$RESULTS"
say() { printf '%s\n' "$*" | tee -a "$RESULTS"; }

# --- Shaka Packager ------------------------------------------------------------------------
if [[ -z ${SHAKA:-} ]]; then
    case $(uname -m) in
        x86_64) arch=x64 ;;
        aarch64 | arm64) arch=arm64 ;;
        *) die "no prebuilt Shaka Packager for $(uname -m)" ;;
    esac
    SHAKA=$BENCH_DIR/node_modules/shaka-packager/bin/packager-linux-$arch
    if [[ ! -x $SHAKA ]]; then
        echo "installing shaka-packager@3.4 into $BENCH_DIR/node_modules..." >&2
        npm install --prefix "$BENCH_DIR" --no-audit --no-fund shaka-packager@3.4 >&2 ||
            npm install --prefix "$BENCH_DIR" --no-audit --no-fund 'shaka-packager@3' >&2
    fi
fi
[[ -x $SHAKA ]] || die "no Shaka Packager binary at $SHAKA"
SHAKA_VERSION=$("$SHAKA" --version 2>&1 | head -n 1)
[[ $SHAKA_VERSION == *v3.* ]] || echo "package.sh: warning: expected Shaka Packager 3.x, got: $SHAKA_VERSION" >&2

# --- Inputs --------------------------------------------------------------------------------
RUNGS=(1080 720 540 360)
FILES=(1080.mp4 720.mp4 540.mp4 360.mp4 audio.mp4)
FULL=$INPUTS/package-${DURATION}s
HALF_SECONDS=$((DURATION / 2))
HALF=$INPUTS/package-${DURATION}s-first-${HALF_SECONDS}s

if [[ ! -s $FULL/audio.mp4 ]]; then
    echo "generating $FULL ($DURATION s, one ffmpeg run)..." >&2
    rm -rf "$FULL.tmp"
    mkdir -p "$FULL.tmp"
    gop=(-g 60 -keyint_min 60 -sc_threshold 0)
    ffmpeg -hide_banner -nostdin -y -v error \
        -f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=$DURATION" \
        -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$DURATION" \
        -filter_complex "[0:v]format=yuv420p,split=4[a][b][c][d];[b]scale=1280:720[b2];[c]scale=960:540[c2];[d]scale=640:360[d2]" \
        -map '[a]' -c:v libx264 -preset ultrafast -b:v 40M "${gop[@]}" "$FULL.tmp/1080.mp4" \
        -map '[b2]' -c:v libx264 -preset ultrafast -b:v 25M "${gop[@]}" "$FULL.tmp/720.mp4" \
        -map '[c2]' -c:v libx264 -preset ultrafast -b:v 15M "${gop[@]}" "$FULL.tmp/540.mp4" \
        -map '[d2]' -c:v libx264 -preset ultrafast -b:v 8M "${gop[@]}" "$FULL.tmp/360.mp4" \
        -map 1:a -c:a aac -b:a 128k -ac 2 "$FULL.tmp/audio.mp4"
    rm -rf "$FULL"
    mv "$FULL.tmp" "$FULL"
fi
if [[ ! -s $HALF/audio.mp4 ]]; then
    echo "copying the first $HALF_SECONDS s of each input to $HALF..." >&2
    rm -rf "$HALF.tmp"
    mkdir -p "$HALF.tmp"
    for f in "${FILES[@]}"; do
        ffmpeg -hide_banner -nostdin -y -v error -i "$FULL/$f" -map 0 -c copy -t "$HALF_SECONDS" "$HALF.tmp/$f"
    done
    rm -rf "$HALF"
    mv "$HALF.tmp" "$HALF"
fi

bytes_of() { # total size of the input files in folder $1
    local dir=$1 f total=0
    for f in "${FILES[@]}"; do total=$((total + $(stat -c %s "$dir/$f"))); done
    echo "$total"
}
FULL_BYTES=$(bytes_of "$FULL")
HALF_BYTES=$(bytes_of "$HALF")
((FULL_BYTES >= 500000000)) || echo "package.sh: warning: input is only $((FULL_BYTES / 1000000)) MB (< 500 MB); raise SECONDS" >&2

# --- Commands ------------------------------------------------------------------------------
# Sets CMD to the openvod or Shaka command packaging input folder $2 into $3.
openvod_command() {
    local in=$1 out=$2
    CMD=("$OPENVOD" package "${FILES[@]/#/$in/}" --out "$out" --overwrite --json)
}
shaka_command() {
    local in=$1 out=$2 r
    CMD=("$SHAKA")
    for r in "${RUNGS[@]}"; do
        CMD+=("in=$in/$r.mp4,stream=video,init_segment=$out/$r/init.mp4,segment_template=$out/$r/\$Number\$.m4s,playlist_name=$r/index.m3u8,iframe_playlist_name=$r/iframes.m3u8")
    done
    CMD+=("in=$in/audio.mp4,stream=audio,init_segment=$out/audio/init.mp4,segment_template=$out/audio/\$Number\$.m4s,playlist_name=audio/index.m3u8,hls_group_id=audio,hls_name=audio")
    CMD+=(--segment_duration 4 --fragment_duration 2 --generate_static_live_mpd
        --mpd_output "$out/manifest.mpd" --hls_master_playlist_output "$out/master.m3u8"
        --hls_playlist_type VOD --quiet)
}

quoted() {
    local arg out=() q="'"
    for arg in "$@"; do
        if [[ $arg =~ ^[A-Za-z0-9_./:,=+@%-]+$ ]]; then
            out+=("$arg")
        else
            out+=("$q${arg//$q/$q\\$q$q}$q")
        fi
    done
    printf '%s\n' "${out[*]}"
}

# Runs CMD once into a fresh folder; sets T_WALL (s, from the clock, ms resolution) and
# T_RSS_KB (peak RSS from /usr/bin/time), and T_FILES / T_OUT_BYTES of the output.
timed() {
    local out=$1 log=$2 tf start end
    rm -rf "$out"
    mkdir -p "$(dirname "$out")"
    sync
    tf=$(mktemp "$WORK/time.XXXXXX")
    start=$(date +%s%N)
    if ! "$TIME" -f "%e %U %S %M" -o "$tf" "${CMD[@]}" >"$log" 2>&1; then
        cat "$tf" "$log" >&2
        die "failed: $(quoted "${CMD[@]}")"
    fi
    end=$(date +%s%N)
    T_WALL=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    read -r _ T_USER T_SYS T_RSS_KB < <(tail -n 1 "$tf")
    rm -f "$tf"
    T_FILES=$(find "$out" -type f | wc -l)
    T_OUT_BYTES=$(find "$out" -type f \( -name '*.m4s' -o -name init.mp4 \) -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
}

RAW=$RESULTS_DIR/package-$STAMP.tsv
printf 'tool\tinput\trun\twall_s\tuser_s\tsys_s\tmax_rss_kb\tfiles\tsegment_bytes\n' >"$RAW"
declare -A R_WALL R_USER R_SYS R_RSS R_FILES R_OUTB

# Runs tool $1 on input set $2 (full|half) twice; keeps the second run.
measure() {
    local tool=$1 input_set=$2 in out run
    if [[ $input_set == full ]]; then in=$FULL; else in=$HALF; fi
    out=$WORK/$tool-$input_set
    case $tool in
        openvod) openvod_command "$in" "$out" ;;
        shaka) shaka_command "$in" "$out" ;;
    esac
    for run in 1 2; do
        echo "$tool on $input_set input, run $run..." >&2
        timed "$out" "$WORK/$tool-$input_set.log"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$input_set" "$run" "$T_WALL" "$T_USER" \
            "$T_SYS" "$T_RSS_KB" "$T_FILES" "$T_OUT_BYTES" >>"$RAW"
        echo "  wall $T_WALL s, user $T_USER s, sys $T_SYS s, max RSS $((T_RSS_KB / 1024)) MB" >&2
    done
    R_WALL[$tool-$input_set]=$T_WALL
    R_USER[$tool-$input_set]=$T_USER
    R_SYS[$tool-$input_set]=$T_SYS
    R_RSS[$tool-$input_set]=$T_RSS_KB
    R_FILES[$tool-$input_set]=$T_FILES
    R_OUTB[$tool-$input_set]=$T_OUT_BYTES
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
measure openvod full
measure shaka full
measure openvod half
measure shaka half
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# Same job? Segment counts per rendition, from the folders.
seg_counts() {
    local dir=$1 r counts=()
    for r in "${RUNGS[@]}" audio; do
        counts+=("$r:$(find "$dir/$r" -name '*.m4s' | wc -l)")
    done
    echo "${counts[*]}"
}
SEGS_OPENVOD=$(seg_counts "$WORK/openvod-full")
SEGS_SHAKA=$(seg_counts "$WORK/shaka-full")

# --- Report --------------------------------------------------------------------------------
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / 1e6 / s }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
rss_mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
row() {
    local tool=$1 input_set=$2 bytes label k=$1-$2
    if [[ $input_set == full ]]; then
        bytes=$FULL_BYTES label="$DURATION s"
    else
        bytes=$HALF_BYTES label="$HALF_SECONDS s (half)"
    fi
    printf '%-8s %-14s %9s %9s %9s %9s %9s %9s %7s %10s' "$tool" "$label" "$(mb "$bytes")" \
        "${R_WALL[$k]}" "${R_USER[$k]}" "${R_SYS[$k]}" "$(mbps "$bytes" "${R_WALL[$k]}")" \
        "$(rss_mb "${R_RSS[$k]}")" "${R_FILES[$k]}" "$(mb "${R_OUTB[$k]}")"
}
SPEEDUP=$(awk -v o="${R_WALL[openvod-full]}" -v s="${R_WALL[shaka-full]}" 'BEGIN { printf "%.1f", s / o }')
VERDICT=$(awk -v r="$SPEEDUP" 'BEGIN { print (r >= 3 ? "met" : "MISSED") }')

say "openvod packaging benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -m), $(findmnt -no FSTYPE -T "$WORK") file system"
say "input: $FULL (4 video renditions + AAC, progressive MP4, 2 s GOPs) and its first $HALF_SECONDS s ($HALF)"
say "job: 4 s segments of 2 s fragments, CMAF, HLS + I-frame playlists + DASH, clear"
say "openvod: $OPENVOD; Shaka: $SHAKA_VERSION"
say "each tool ran twice per input, one run at a time; figures are from the second (warm page cache) run"
say "load average before: $LOAD_BEFORE; after: $LOAD_AFTER"
say ""
say "$(printf '%-8s %-14s %9s %9s %9s %9s %9s %9s %7s %10s' tool input 'input MB' 'wall s' 'user s' 'sys s' 'MB/s' 'RSS MB' files 'out MB')"
for key in openvod-full shaka-full openvod-half shaka-half; do
    say "$(row "${key%-*}" "${key#*-}")"
done
say ""
say "throughput openvod/Shaka: ${SPEEDUP}x (target >= 3x: $VERDICT)"
say "openvod peak RSS: $(rss_mb "${R_RSS[openvod-full]}") MB on $(mb "$FULL_BYTES") MB of input, $(rss_mb "${R_RSS[openvod-half]}") MB on $(mb "$HALF_BYTES") MB"
say "Shaka peak RSS:   $(rss_mb "${R_RSS[shaka-full]}") MB on $(mb "$FULL_BYTES") MB of input, $(rss_mb "${R_RSS[shaka-half]}") MB on $(mb "$HALF_BYTES") MB"
say "segments per rendition: openvod $SEGS_OPENVOD; Shaka $SEGS_SHAKA"
say "(out MB: init + media segments; files: everything written, playlists included)"
say ""
say "commands (full input):"
openvod_command "$FULL" "$WORK/openvod-full"
say "  $(quoted "${CMD[@]}")"
shaka_command "$FULL" "$WORK/shaka-full"
say "  $(quoted "${CMD[@]}")"
say ""
say "results: $RESULTS (every run: $RAW)"

if [[ ${KEEP_OUTPUT:-0} != 1 ]]; then
    rm -rf "$WORK/openvod-full" "$WORK/shaka-full" "$WORK/openvod-half" "$WORK/shaka-half"
fi
