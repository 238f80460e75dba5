#!/usr/bin/env bash
# bench/encrypt.sh: what encryption costs openvod package (raw key, clear vs cbcs vs
# cenc), and Shaka Packager 3.x raw-key cbcs on the same job.
#
# Input: the inputs of bench/package.sh (four progressive MP4 video renditions 1080p /
# 720p / 540p / 360p, H.264 ultrafast at 40/25/15/8 Mb/s with aligned 2 s GOPs, and one
# AAC file), generated once with ffmpeg and cached in the same folder, so the two
# benchmarks share them. Job: 4 s segments of 2 s fragments, CMAF, HLS (with I-frame
# playlists) + DASH; clear, or encrypted with one fixed dummy key (every track, no
# clear lead):
#   openvod clear   openvod package FILES --out DIR --overwrite --json
#   openvod cbcs    ... --encrypt cbcs --key KID:KEY   (written to DIR/cbcs/)
#   openvod cenc    ... --encrypt cenc --key KID:KEY   (written to DIR/cenc/)
#   Shaka cbcs      packager ... --enable_raw_key_encryption --keys label=:key_id=KID:key=KEY
#                   --protection_scheme cbcs --clear_lead 0
# openvod signals its default DRM systems (Widevine, PlayReady, ClearKey pssh boxes);
# Shaka its default for a raw key (a common-system pssh).
#
# Each variant runs RUNS times (default 3) into a fresh folder, one variant after the
# other. The first run only warms the page cache (which cannot be dropped here) and
# the table shows the fastest of the others: a run under a second moves by a third from
# one run to the next with the kernel's write-back, and every run is in the .tsv.
#
# Environment:
#   SECONDS    input length in seconds (default 80, about 740 MB); read on the first
#              line below, because bash counts this variable up from the value it inherits
#   RUNS       runs per variant, the first one not counted (default 3)
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
RUNS=${RUNS:-3}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "encrypt.sh: RUNS must be a positive number" >&2; exit 1; }

BENCH_DIR=${BENCH_DIR:-/tmp/openvod-bench}
OPENVOD=${OPENVOD:-$HOME/.cache/openvod/target/release/openvod}
# A dummy key for the benchmark only.
KID=0123456789abcdef0123456789abcdef
KEY=00112233445566778899aabbccddeeff

die() { echo "encrypt.sh: $*" >&2; exit 1; }
for tool in ffmpeg jq awk npm; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
# GNU time for peak RSS: /usr/bin/time, else the external `time` on PATH.
TIME=/usr/bin/time
[[ -x $TIME ]] || TIME=$(type -P time || true)
[[ -n $TIME ]] || die "GNU time is missing (apt-get install time)"
"$TIME" -f "%M" true 2>/dev/null || die "$TIME is not GNU time (it needs -f; apt-get install time)"
[[ -x $OPENVOD ]] || die "no openvod binary at $OPENVOD (from the repository: CARGO_TARGET_DIR=\$HOME/.cache/openvod/target cargo build --release -p openvod)"

INPUTS=$BENCH_DIR/inputs
WORK=$BENCH_DIR/encrypt
RESULTS_DIR=$BENCH_DIR/results
STAMP=$(date +%Y%m%d-%H%M%S)
RESULTS=$RESULTS_DIR/encrypt-$STAMP.txt
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
[[ $SHAKA_VERSION == *v3.* ]] || echo "encrypt.sh: warning: expected Shaka Packager 3.x, got: $SHAKA_VERSION" >&2

# --- Inputs (those of bench/package.sh) ----------------------------------------------------
RUNGS=(1080 720 540 360)
FILES=(1080.mp4 720.mp4 540.mp4 360.mp4 audio.mp4)
IN=$INPUTS/package-${DURATION}s

if [[ ! -s $IN/audio.mp4 ]]; then
    echo "generating $IN ($DURATION s, one ffmpeg run)..." >&2
    rm -rf "$IN.tmp"
    mkdir -p "$IN.tmp"
    gop=(-g 60 -keyint_min 60 -sc_threshold 0)
    ffmpeg -hide_banner -nostdin -y -v error \
        -f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=$DURATION" \
        -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$DURATION" \
        -filter_complex "[0:v]format=yuv420p,split=4[a][b][c][d];[b]scale=1280:720[b2];[c]scale=960:540[c2];[d]scale=640:360[d2]" \
        -map '[a]' -c:v libx264 -preset ultrafast -b:v 40M "${gop[@]}" "$IN.tmp/1080.mp4" \
        -map '[b2]' -c:v libx264 -preset ultrafast -b:v 25M "${gop[@]}" "$IN.tmp/720.mp4" \
        -map '[c2]' -c:v libx264 -preset ultrafast -b:v 15M "${gop[@]}" "$IN.tmp/540.mp4" \
        -map '[d2]' -c:v libx264 -preset ultrafast -b:v 8M "${gop[@]}" "$IN.tmp/360.mp4" \
        -map 1:a -c:a aac -b:a 128k -ac 2 "$IN.tmp/audio.mp4"
    rm -rf "$IN"
    mv "$IN.tmp" "$IN"
fi
IN_BYTES=0
for f in "${FILES[@]}"; do IN_BYTES=$((IN_BYTES + $(stat -c %s "$IN/$f"))); done

# --- Commands ------------------------------------------------------------------------------
VARIANTS=(openvod-clear openvod-cbcs openvod-cenc shaka-cbcs)
# Sets CMD to variant $1 packaging into $2, and SUB to the folder under $2 that holds
# the renditions.
command_for() {
    local variant=$1 out=$2 r
    SUB=$out
    case $variant in
        openvod-*)
            CMD=("$OPENVOD" package "${FILES[@]/#/$IN/}" --out "$out" --overwrite --json)
            if [[ $variant != openvod-clear ]]; then
                CMD+=(--encrypt "${variant#openvod-}" --key "$KID:$KEY")
                SUB=$out/${variant#openvod-}
            fi
            ;;
        shaka-cbcs)
            CMD=("$SHAKA")
            for r in "${RUNGS[@]}"; do
                CMD+=("in=$IN/$r.mp4,stream=video,init_segment=$out/$r/init.mp4,segment_template=$out/$r/\$Number\$.m4s,playlist_name=$r/index.m3u8,iframe_playlist_name=$r/iframes.m3u8")
            done
            CMD+=("in=$IN/audio.mp4,stream=audio,init_segment=$out/audio/init.mp4,segment_template=$out/audio/\$Number\$.m4s,playlist_name=audio/index.m3u8,hls_group_id=audio,hls_name=audio")
            CMD+=(--segment_duration 4 --fragment_duration 2 --generate_static_live_mpd
                --mpd_output "$out/manifest.mpd" --hls_master_playlist_output "$out/master.m3u8"
                --hls_playlist_type VOD
                --enable_raw_key_encryption --keys "label=:key_id=$KID:key=$KEY"
                --protection_scheme cbcs --clear_lead 0 --quiet)
            ;;
    esac
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

# Runs CMD once into a fresh folder $1 (stdout to $2, stderr to $2.err); sets T_WALL (s,
# from the clock, ms resolution), T_USER, T_SYS, T_RSS_KB (GNU time), T_FILES and
# T_OUT_BYTES (init + media segments).
timed() {
    local out=$1 log=$2 tf start end
    rm -rf "$out"
    mkdir -p "$(dirname "$out")"
    sync
    tf=$(mktemp "$WORK/time.XXXXXX")
    start=$(date +%s%N)
    if ! "$TIME" -f "%e %U %S %M" -o "$tf" "${CMD[@]}" >"$log" 2>"$log.err"; then
        cat "$tf" "$log.err" >&2
        die "failed: $(quoted "${CMD[@]}")"
    fi
    end=$(date +%s%N)
    T_WALL=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    read -r _ T_USER T_SYS T_RSS_KB < <(tail -n 1 "$tf")
    rm -f "$tf"
    T_FILES=$(find "$out" -type f | wc -l)
    T_OUT_BYTES=$(find "$out" -type f \( -name '*.m4s' -o -name init.mp4 \) -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
}

RAW=$RESULTS_DIR/encrypt-$STAMP.tsv
printf 'variant\trun\twall_s\town_wall_s\tuser_s\tsys_s\tmax_rss_kb\tfiles\tsegment_bytes\n' >"$RAW"
declare -A R_WALL R_OWN R_USER R_SYS R_RSS R_FILES R_OUTB R_SEGS R_ALL

# Segments per rendition in folder $1.
seg_counts() {
    local dir=$1 r counts=()
    for r in "${RUNGS[@]}" audio; do
        counts+=("$r:$(find "$dir/$r" -name '*.m4s' 2>/dev/null | wc -l)")
    done
    echo "${counts[*]}"
}

# Runs variant $1 RUNS times; keeps the fastest run after the first (the only one when
# RUNS=1).
measure() {
    local variant=$1 out=$WORK/$1 run own sub_rungs best=""
    command_for "$variant" "$out"
    R_ALL[$variant]=""
    for ((run = 1; run <= RUNS; run++)); do
        echo "$variant, run $run of $RUNS..." >&2
        timed "$out" "$WORK/$variant.log"
        own=-
        if [[ $variant == openvod-* ]]; then
            own=$(jq -r '.wall_seconds' "$WORK/$variant.log" | awk '{ printf "%.3f", $1 }')
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$variant" "$run" "$T_WALL" "$own" "$T_USER" \
            "$T_SYS" "$T_RSS_KB" "$T_FILES" "$T_OUT_BYTES" >>"$RAW"
        echo "  wall $T_WALL s (openvod's own: $own), user $T_USER s, sys $T_SYS s, max RSS $((T_RSS_KB / 1024)) MB" >&2
        R_ALL[$variant]+=" $T_WALL"
        if ((run == 1 && RUNS > 1)); then
            continue
        fi
        if [[ -z $best ]] || awk -v a="$T_WALL" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$T_WALL
            R_WALL[$variant]=$T_WALL
            R_OWN[$variant]=$own
            R_USER[$variant]=$T_USER
            R_SYS[$variant]=$T_SYS
            R_RSS[$variant]=$T_RSS_KB
            R_FILES[$variant]=$T_FILES
            R_OUTB[$variant]=$T_OUT_BYTES
        fi
    done
    # The encrypted variants really are encrypted: a protected sample entry in every
    # init segment, and none in the clear one.
    for sub_rungs in "${RUNGS[@]}" audio; do
        if [[ $variant == *-clear ]]; then
            ! grep -q -e encv -e enca "$SUB/$sub_rungs/init.mp4" || die "$variant: $sub_rungs/init.mp4 is protected"
        else
            grep -q -e encv -e enca "$SUB/$sub_rungs/init.mp4" || die "$variant: $sub_rungs/init.mp4 is not protected"
        fi
    done
    R_SEGS[$variant]=$(seg_counts "$SUB")
    if [[ ${KEEP_OUTPUT:-0} != 1 ]]; then
        rm -rf "$out"
    fi
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for v in "${VARIANTS[@]}"; do
    measure "$v"
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# --- Report --------------------------------------------------------------------------------
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / 1e6 / s }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
rss_mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
FMT='%-14s %9s %9s %9s %9s %9s %9s %7s %10s %9s'
row() {
    local v=$1
    printf "$FMT" "$v" "${R_WALL[$v]}" "${R_OWN[$v]}" "${R_USER[$v]}" "${R_SYS[$v]}" \
        "$(mbps "$IN_BYTES" "${R_WALL[$v]}")" "$(rss_mb "${R_RSS[$v]}")" "${R_FILES[$v]}" \
        "$(mb "${R_OUTB[$v]}")" "$(ratio "${R_WALL[$v]}" "${R_WALL[openvod-clear]}")"
}

say "openvod encryption benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -m), $(findmnt -no FSTYPE -T "$WORK") file system"
say "input: $IN ($(mb "$IN_BYTES") MB: 4 video renditions + AAC, progressive MP4, 2 s GOPs, $DURATION s)"
say "job: 4 s segments of 2 s fragments, CMAF, HLS + I-frame playlists + DASH; raw key, no clear lead"
say "openvod: $OPENVOD; Shaka: $SHAKA_VERSION"
if ((RUNS > 1)); then
    say "each variant ran $RUNS times, one run at a time; figures are from the fastest run after the first (warm page cache)"
else
    say "each variant ran once (RUNS=1): figures include reading the input from disk if it was not cached"
fi
say "load average before: $LOAD_BEFORE; after: $LOAD_AFTER"
say ""
say "$(printf "$FMT" variant 'wall s' 'own s' 'user s' 'sys s' 'MB/s' 'RSS MB' files 'out MB' 'x clear')"
for v in "${VARIANTS[@]}"; do
    say "$(row "$v")"
done
say ""
say "(wall s: clock around the process; own s: openvod's --json wall_seconds; MB/s: input MB / wall s;"
say " x clear: wall time against openvod clear; out MB: init + media segments; files: everything written)"
say "openvod cbcs / Shaka cbcs throughput: $(ratio "${R_WALL[shaka-cbcs]}" "${R_WALL[openvod-cbcs]}")x"
for v in "${VARIANTS[@]}"; do
    say "wall s of every run, $v:${R_ALL[$v]}"
done
for v in "${VARIANTS[@]}"; do
    say "segments per rendition, $v: ${R_SEGS[$v]}"
done
say ""
say "commands:"
for v in "${VARIANTS[@]}"; do
    command_for "$v" "$WORK/$v"
    say "  $(quoted "${CMD[@]}")"
done
say ""
say "results: $RESULTS (every run: $RAW)"
