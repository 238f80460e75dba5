#!/usr/bin/env bash
# bench/ladder.sh: wall and CPU time of the default ladder encode, in one codec or several.
#
#   (a) openvod transcode SRC --out DIR --overwrite --json [--codecs CODECS]
#       (encode + packaging)
#   (b) one hand-written ffmpeg: the same filter graph and encoder options, one MP4 per
#       rung of every codec + one audio output, no packaging
#   (c) one ffmpeg run per rung (each decodes the source), then one for audio, one
#       after another
#
# Targets: (a) within 1.05x of (b) in wall time; (a) faster than (c).
#
# Environment:
#   SECONDS    source length in seconds (default 30); read on the first line below,
#              because bash counts this variable up from the value it inherits
#   RUNS       rounds of a, b, c (default 1); rounds alternate the order (a b c, c b a)
#              and the table shows the best wall time of each variant
#   OPENVOD    the binary (default $HOME/.cache/openvod/target/release/openvod)
#   CODECS     the ladder's codecs, comma-separated (default h264; e.g. h264,hevc,av1)
#   BENCH_DIR  work folder (default /tmp/openvod-bench); the source is cached in
#              BENCH_DIR/inputs and reused
DURATION=$SECONDS
set -euo pipefail
((DURATION > 0)) || DURATION=30

RUNS=${RUNS:-1}
CODECS=${CODECS:-h264}
[[ $CODECS =~ ^(h264|hevc|av1)(,(h264|hevc|av1))*$ ]] || { echo "ladder.sh: CODECS is a comma-separated list of h264, hevc, av1" >&2; exit 1; }
IFS=, read -r -a CODEC_LIST <<<"$CODECS"
BENCH_DIR=${BENCH_DIR:-/tmp/openvod-bench}
OPENVOD=${OPENVOD:-$HOME/.cache/openvod/target/release/openvod}
TIME=/usr/bin/time

die() { echo "ladder.sh: $*" >&2; exit 1; }
for tool in ffmpeg ffprobe jq awk; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
[[ -x $TIME ]] || die "$TIME is missing (apt-get install time)"
[[ -x $OPENVOD ]] || die "no openvod binary at $OPENVOD (from the repository: CARGO_TARGET_DIR=\$HOME/.cache/openvod/target cargo build --release -p openvod)"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"

INPUTS=$BENCH_DIR/inputs
WORK=$BENCH_DIR/ladder
RESULTS_DIR=$BENCH_DIR/results
STAMP=$(date +%Y%m%d-%H%M%S)
RESULTS=$RESULTS_DIR/ladder-${CODECS//,/-}-$STAMP.txt
mkdir -p "$INPUTS" "$WORK" "$RESULTS_DIR"
: >"$RESULTS"

# Prints to the terminal and to the results file.
say() { printf '%s\n' "$*" | tee -a "$RESULTS"; }

SRC=$INPUTS/ladder-src-1080p30-${DURATION}s.mp4
if [[ ! -s $SRC ]]; then
    echo "generating $SRC ($DURATION s of 1080p30 testsrc2 + sine)..." >&2
    ffmpeg -hide_banner -nostdin -y -v error \
        -f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=$DURATION" \
        -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$DURATION" \
        -map 0:v -map 1:a -c:v libx264 -preset veryfast -crf 18 -pix_fmt yuv420p \
        -c:a aac -b:a 192k -ac 2 -shortest "$SRC.tmp.mp4"
    mv "$SRC.tmp.mp4" "$SRC"
fi

# The ladder, as openvod plans it for a 1920x1080 30 fps source with the default
# template (crates/transcode/templates/default.toml, crates/transcode/src/ladder.rs).
RUNG_NAMES=(1080p 720p 540p 360p)
RUNG_SIZES=(1920:1080 1280:720 960:540 640:360)
RUNG_MAXRATES=(5000000 3000000 1600000 800000)
FPS=30/1
GOP=60
# Every output of the encode, in openvod's order: the first codec's ladder (names as in
# the template), then each other codec's (NAME-CODEC).
NAMES=() SIZES=() MAXRATES=() OUT_CODECS=()
for k in "${!CODEC_LIST[@]}"; do
    for i in "${!RUNG_NAMES[@]}"; do
        if ((k == 0)); then NAMES+=("${RUNG_NAMES[i]}"); else NAMES+=("${RUNG_NAMES[i]}-${CODEC_LIST[k]}"); fi
        SIZES+=("${RUNG_SIZES[i]}")
        MAXRATES+=("${RUNG_MAXRATES[i]}")
        OUT_CODECS+=("${CODEC_LIST[k]}")
    done
done
OUTPUTS=${#NAMES[@]}

# Encoder options of output i, exactly as crates/transcode/src/ffmpeg.rs writes them
# (quality level 8: CRF 22 for x264, 27 for x265, 34 for SVT-AV1; preset medium, which
# is SVT-AV1's 10).
video_opts() {
    local i=$1
    case ${OUT_CODECS[i]} in
        h264) printf '%s\n' -c:v libx264 -profile:v high -preset medium -crf 22 ;;
        hevc) printf '%s\n' -c:v libx265 -tag:v hvc1 -profile:v main -forced-idr 1 \
            -x265-params scenecut=0:open-gop=0:log-level=error -preset medium -crf 27 ;;
        av1) printf '%s\n' -c:v libsvtav1 -svtav1-params scd=0 -preset 10 -crf 34 ;;
    esac
    printf '%s\n' -maxrate "${MAXRATES[i]}" -bufsize "$((MAXRATES[i] * 2))" \
        -g "$GOP" -keyint_min "$GOP" -sc_threshold 0 \
        -force_key_frames 'expr:gte(t,n_forced*2)' -flags +cgop -map_metadata -1 -an
}
AUDIO_OPTS=(-map 0:1 -vn -c:a aac -b:a 128000 -ar 48000 -ac 2 -map_metadata -1)
FFMPEG_HEAD=(ffmpeg -hide_banner -nostdin -y -loglevel repeat+level+verbose -nostats)
# The source as crates/transcode/src/source.rs opens it: its own bytes and nothing else.
FORMATS=mov,matroska,mpegts,mpeg,avi,flv,live_flv,mxf,asf,ogg,dv,yuv4mpegpipe,ivf,h264,hevc,mpegvideo,m4v
INPUT_OPTS=(-protocol_whitelist file -format_whitelist "$FORMATS" -i "file:$(realpath "$SRC")")

# (b): one process, one decode, split into every output.
ladder_command() {
    local dir=$1 i graph
    graph="[0:0]fps=$FPS,format=yuv420p,split=$OUTPUTS"
    for ((i = 0; i < OUTPUTS; i++)); do graph+="[s$i]"; done
    for ((i = 0; i < OUTPUTS; i++)); do
        graph+=";[s$i]scale=${SIZES[i]}:flags=bicubic,setsar=1[v$i]"
    done
    CMD=("${FFMPEG_HEAD[@]}" "${INPUT_OPTS[@]}" -filter_complex "$graph")
    for ((i = 0; i < OUTPUTS; i++)); do
        local opts
        mapfile -t opts < <(video_opts "$i")
        CMD+=(-map "[v$i]" "${opts[@]}" -f mp4 "$dir/${NAMES[i]}.mp4")
    done
    CMD+=("${AUDIO_OPTS[@]}" -f mp4 "$dir/audio.mp4")
}

# (c): rung i alone (its own decode), or the audio alone.
rung_command() {
    local dir=$1 i=$2 opts
    mapfile -t opts < <(video_opts "$i")
    CMD=("${FFMPEG_HEAD[@]}" "${INPUT_OPTS[@]}"
        -filter_complex "[0:0]fps=$FPS,format=yuv420p,scale=${SIZES[i]}:flags=bicubic,setsar=1[v$i]"
        -map "[v$i]" "${opts[@]}" -f mp4 "$dir/${NAMES[i]}.mp4")
}
audio_command() {
    CMD=("${FFMPEG_HEAD[@]}" "${INPUT_OPTS[@]}" "${AUDIO_OPTS[@]}" -f mp4 "$1/audio.mp4")
}

# A command as one line that a shell reads back as the same words.
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

# Runs a command under /usr/bin/time; sets T_WALL T_USER T_SYS T_RSS_KB.
timed() {
    local tf
    tf=$(mktemp "$WORK/time.XXXXXX")
    if ! "$TIME" -f "%e %U %S %M" -o "$tf" "$@"; then
        cat "$tf" >&2
        rm -f "$tf"
        echo "ladder.sh: failed: $(quoted "$@")" >&2
        return 1
    fi
    read -r T_WALL T_USER T_SYS T_RSS_KB < <(tail -n 1 "$tf")
    rm -f "$tf"
}

# --- Check that (b) is the command openvod runs ----------------------------------------
# A stand-in ffmpeg on PATH records openvod's arguments and fails at once (nothing is
# encoded, openvod removes its staging folder); the real runs below use the real ffmpeg.
shim=$WORK/shim
rm -rf "$shim" "$WORK/capture"
mkdir -p "$shim"
real_ffmpeg=$(command -v ffmpeg)
cat >"$shim/ffmpeg" <<EOF
#!/bin/sh
# openvod first asks which encoders this ffmpeg has: the real one answers.
case "\$*" in *-encoders*) exec "$real_ffmpeg" "\$@" ;; esac
EOF
cat >>"$shim/ffmpeg" <<'EOF'
printf '%s\n' "$@" >"$OPENVOD_BENCH_ARGV"
echo "argument capture only" >&2
exit 1
EOF
chmod +x "$shim/ffmpeg"
OPENVOD_BENCH_ARGV=$WORK/openvod-ffmpeg.argv PATH="$shim:$PATH" \
    "$OPENVOD" transcode "$SRC" --out "$WORK/capture" --overwrite --codecs "$CODECS" >/dev/null 2>&1 || true
[[ -s $WORK/openvod-ffmpeg.argv ]] || die "could not capture openvod's ffmpeg arguments"
mapfile -t OPENVOD_ARGV <"$WORK/openvod-ffmpeg.argv"
# openvod writes into a staging folder: replace its output folder with a placeholder,
# and drop -progress pipe:1 (openvod reads progress from it; (b) has no reader). The
# source (`file:` URL) stays as it is.
normalized=()
skip=0
for arg in "${OPENVOD_ARGV[@]}"; do
    if ((skip)); then skip=0; continue; fi
    case $arg in
        -progress) skip=1; continue ;;
        file:*) ;;
        */*.mp4) arg=DIR/${arg##*/} ;;
    esac
    normalized+=("$arg")
done
ladder_command DIR
if [[ "$(quoted ffmpeg "${normalized[@]}")" == "$(quoted "${CMD[@]}")" ]]; then
    SAME="yes: (b) is openvod's command without -progress pipe:1"
else
    SAME="NO: (b) differs from openvod's command; compare the two lines above"
fi

# --- Runs ---------------------------------------------------------------------------------
declare -A BEST_WALL BEST_CPU BEST_RSS BEST_USER BEST_SYS
A_ENCODE='?' A_PACKAGE='?'
declare -A ALL_WALL
RAW=$RESULTS_DIR/ladder-$STAMP.tsv
printf 'round\tvariant\twall_s\tuser_s\tsys_s\tmax_rss_kb\n' >"$RAW"

record() {
    local v=$1 round=$2 wall=$3 user=$4 sys=$5 rss=$6
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$v" "$wall" "$user" "$sys" "$rss" >>"$RAW"
    ALL_WALL[$v]="${ALL_WALL[$v]:+${ALL_WALL[$v]}, }$wall"
    echo "  round $round ($v): wall $wall s, user $user s, sys $sys s, max RSS $((rss / 1024)) MB" >&2
    if [[ -z ${BEST_WALL[$v]:-} ]] || awk -v a="$wall" -v b="${BEST_WALL[$v]}" 'BEGIN { exit !(a < b) }'; then
        BEST_WALL[$v]=$wall
        BEST_USER[$v]=$user
        BEST_SYS[$v]=$sys
        BEST_CPU[$v]=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
        BEST_RSS[$v]=$rss
        return 0
    fi
    return 1
}

run_a() {
    local round=$1 out=$WORK/a
    rm -rf "$out" "$WORK/a.json"
    sync
    timed "$OPENVOD" transcode "$SRC" --out "$out" --overwrite --json --codecs "$CODECS" >"$WORK/a.json.tmp" 2>"$WORK/a.log" ||
        die "openvod failed, see $WORK/a.log"
    mv "$WORK/a.json.tmp" "$WORK/a.json"
    if record a "$round" "$T_WALL" "$T_USER" "$T_SYS" "$T_RSS_KB"; then
        A_ENCODE=$(jq -r .encode_seconds "$WORK/a.json")
        A_PACKAGE=$(jq -r '.wall_seconds - .encode_seconds | . * 100 | round / 100' "$WORK/a.json")
        cp "$WORK/a.json" "$WORK/a.best.json"
    fi
}

run_b() {
    local round=$1 out=$WORK/b
    rm -rf "$out"
    mkdir -p "$out"
    sync
    ladder_command "$out"
    timed "${CMD[@]}" || die "(b) failed"
    record b "$round" "$T_WALL" "$T_USER" "$T_SYS" "$T_RSS_KB" || true
}

run_c() {
    local round=$1 out=$WORK/c i wall=0 user=0 sys=0 rss=0
    rm -rf "$out"
    mkdir -p "$out"
    sync
    for i in $(seq 0 $((OUTPUTS - 1))) audio; do
        if [[ $i == audio ]]; then audio_command "$out"; else rung_command "$out" "$i"; fi
        timed "${CMD[@]}" || die "(c) failed"
        read -r wall user sys rss < <(awk -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" \
            -v W="$T_WALL" -v U="$T_USER" -v S="$T_SYS" -v R="$T_RSS_KB" \
            'BEGIN { printf "%.2f %.2f %.2f %d\n", w + W, u + U, s + S, (R > r ? R : r) }')
    done
    record c "$round" "$wall" "$user" "$sys" "$rss" || true
}

# Warm-up, untimed: the first process on this machine that allocates ~1 GB after other
# work pays ~1 s of extra system time, which would otherwise land on round 1's first run.
echo "warm-up (untimed): (b) on the first 2 s of the source..." >&2
rm -rf "$WORK/warmup"
mkdir -p "$WORK/warmup"
saved=("${INPUT_OPTS[@]}")
INPUT_OPTS=(-t 2 "${saved[@]}")
ladder_command "$WORK/warmup"
INPUT_OPTS=("${saved[@]}")
"${CMD[@]}" || die "warm-up encode failed"
rm -rf "$WORK/warmup"

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "source: $SRC; $RUNS round(s) of a, b, c, one at a time..." >&2
for ((round = 1; round <= RUNS; round++)); do
    if ((round % 2)); then order=(a b c); else order=(c b a); fi
    for v in "${order[@]}"; do
        echo "round $round: ($v)..." >&2
        case $v in
            a) run_a "$round" ;;
            b) run_b "$round" ;;
            c) run_c "$round" ;;
        esac
    done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# --- Report -------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
AB=$(ratio "${BEST_WALL[a]}" "${BEST_WALL[b]}")
AC=$(ratio "${BEST_WALL[a]}" "${BEST_WALL[c]}")
BC=$(ratio "${BEST_WALL[b]}" "${BEST_WALL[c]}")
AB_CPU=$(ratio "${BEST_CPU[a]}" "${BEST_CPU[b]}")
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r <= t ? "met" : "MISSED") }'; }
verdict_lt() { awk -v r="$1" 'BEGIN { print (r < 1 ? "met" : "MISSED") }'; }

rung_mb() { # size in MB of rendition $2 of variant $1
    local v=$1 name=$2
    if [[ $v == a ]]; then
        jq -r ".renditions[] | select(.name == \"$name\") | .bytes / 1e6 | . * 100 | round / 100" "$WORK/a.best.json"
    else
        awk -v b="$(stat -c %s "$WORK/$v/$name.mp4")" 'BEGIN { printf "%.2f", b / 1e6 }'
    fi
}

{
    say "openvod ladder benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -m)"
    say "source: $SRC ($DURATION s 1920x1080 30 fps H.264 + AAC stereo 48 kHz); codecs: $CODECS ($OUTPUTS video outputs)"
    say "ffmpeg: $(ffmpeg -version | head -n 1 | cut -d' ' -f1-3); openvod: $OPENVOD"
    say "runs: $RUNS round(s), variants run one after another (never in parallel); best wall time of each shown"
    say "load average before: $LOAD_BEFORE; after: $LOAD_AFTER"
    say ""
    say "$(printf '%-44s %9s %9s %9s %9s %8s %9s' variant 'wall s' 'user s' 'sys s' 'CPU s' 'RSS MB' 'wall/(b)')"
    for v in a b c; do
        case $v in
            a) label="(a) openvod transcode (encode + package)" ;;
            b) label="(b) one ffmpeg, split=$OUTPUTS, no packaging" ;;
            c) label="(c) $OUTPUTS ffmpeg runs + 1 audio, sequential" ;;
        esac
        say "$(printf '%-44s %9s %9s %9s %9s %8s %9s' "$label" "${BEST_WALL[$v]}" "${BEST_USER[$v]}" \
            "${BEST_SYS[$v]}" "${BEST_CPU[$v]}" "$((BEST_RSS[$v] / 1024))" "$(ratio "${BEST_WALL[$v]}" "${BEST_WALL[b]}")")"
    done
    say "    wall times of every round: (a) ${ALL_WALL[a]}; (b) ${ALL_WALL[b]}; (c) ${ALL_WALL[c]}"
    say "    (a) of which ffmpeg encode $A_ENCODE s, probe + packaging + rest $A_PACKAGE s (from --json)"
    say ""
    say "ratios (wall): a/b = $AB (target <= 1.05: $(verdict "$AB" 1.05)); a/c = $AC (target < 1: $(verdict_lt "$AC")); b/c = $BC"
    say "ratio (CPU):   a/b = $AB_CPU"
    say ""
    say "output sizes, MB: (a) packaged init + segments, (b) and (c) MP4 files"
    say "$(printf '  %-11s %9s %9s %9s' rendition '(a)' '(b)' '(c)')"
    for name in "${NAMES[@]}" audio; do
        say "$(printf '  %-11s %9s %9s %9s' "$name" "$(rung_mb a "$name")" "$(rung_mb b "$name")" "$(rung_mb c "$name")")"
    done
    say ""
    say "openvod's ffmpeg command (captured by running openvod with a stand-in ffmpeg on PATH):"
    say "  $(quoted ffmpeg "${OPENVOD_ARGV[@]}")"
    ladder_command DIR
    say "(b) hand-written command (DIR = output folder):"
    say "  $(quoted "${CMD[@]}")"
    say "same settings as openvod: $SAME"
    say "(c) commands:"
    for ((i = 0; i < OUTPUTS; i++)); do
        rung_command DIR "$i"
        say "  $(quoted "${CMD[@]}")"
    done
    audio_command DIR
    say "  $(quoted "${CMD[@]}")"
    say "(a) command: $(quoted "$OPENVOD" transcode "$SRC" --out "$WORK/a" --overwrite --json --codecs "$CODECS")"
    say ""
    say "results: $RESULTS (per-run figures: $RAW)"
}
