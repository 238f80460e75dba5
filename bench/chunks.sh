#!/usr/bin/env bash
# bench/chunks.sh: one title's encode spread across workers, on PostgreSQL and Garage
# (S3), each worker a process pinned to one core (taskset), as hosts of one core each.
#
# Measures, for a DURATION-second 1920x1080 title:
#   - upload-to-ready wall time with 1..MAX_WORKERS one-core workers, chunked
#     (chunk_seconds = CHUNK), against the unchunked encode (one task) on one core;
#   - the CPU seconds of the whole pipeline (every worker process and its ffmpeg runs,
#     from /proc), chunked against unchunked: the overhead of chunking;
#   - jobs per hour for a queue of JOBS short titles (SHORT seconds, unchunked) with N
#     workers against N times one worker's.
#
# Targets (the scale-out issue): chunked CPU at most 10 % over unchunked; jobs per hour
# with N workers at least 0.9 x N x one worker's.
#
# Input: testsrc2 + a tone, H.264 ultrafast, made once and cached. Template: the default
# ladder (1080p, 720p, 540p, 360p) at PRESET, packaged ahead of time.
#
# Environment:
#   DURATION     title length in seconds (default 120)
#   CHUNK        chunk length in seconds (default 10)
#   PRESET       x264 preset (default superfast)
#   MAX_WORKERS  most workers (default: the machine's cores)
#   JOBS SHORT   the queue of short titles (default 8 titles of 10 s)
#   QUEUE_ONLY   1: only the queue of short titles
#   OPENVOD      the binary (default $HOME/.cache/openvod/target/release/openvod)
#   OPENVOD_TEST_POSTGRES_URL  (default postgres://postgres@127.0.0.1:5432/test)
#   BENCH_DIR    work folder (default /tmp/openvod-bench)
set -euo pipefail
DURATION=${DURATION:-120}
CHUNK=${CHUNK:-10}
PRESET=${PRESET:-superfast}
MAX_WORKERS=${MAX_WORKERS:-$(nproc)}
JOBS=${JOBS:-8}
SHORT=${SHORT:-10}
BENCH_DIR=${BENCH_DIR:-/tmp/openvod-bench}
OPENVOD=${OPENVOD:-$HOME/.cache/openvod/target/release/openvod}
PG=${OPENVOD_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
here=$(cd "$(dirname "$0")" && pwd)

die() { echo "chunks.sh: $*" >&2; exit 1; }
for tool in ffmpeg jq curl awk taskset psql; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
[[ -x $OPENVOD ]] || die "no openvod binary at $OPENVOD (CARGO_TARGET_DIR=\$HOME/.cache/openvod/target cargo build --release -p openvod)"
(( MAX_WORKERS <= $(nproc) )) || die "MAX_WORKERS=$MAX_WORKERS is more than the $(nproc) cores: workers would share cores"

mkdir -p "$BENCH_DIR/inputs" "$BENCH_DIR/results"
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
long=$(source_of "$DURATION")
short=$(source_of "$SHORT")

work=$(mktemp -d "$BENCH_DIR/chunks.XXXXXX")
pids=()
# Garage, as the tests start it.
# shellcheck source=../scripts/garage.sh
source "$here/../scripts/garage.sh"
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    kill "$garage_pid" 2>/dev/null || true
    rm -rf "$work" "$garage_dir"
}
trap cleanup EXIT

template="$here/../crates/transcode/templates/default.toml"
sed -e "s/preset = \"medium\"/preset = \"$PRESET\"/" "$template" > "$work/whole.toml"
sed -e "s/gop_seconds = 2.0/gop_seconds = 2.0\nchunk_seconds = $CHUNK.0/" "$work/whole.toml" > "$work/chunked.toml"
printf '[templates]\nwhole = "%s"\nchunked = "%s"\n[worker]\nlease_seconds = 30\nheartbeat_seconds = 2\n' \
    "$work/whole.toml" "$work/chunked.toml" > "$work/openvod.toml"

run=0
start_fleet() { # workers -> sets $base; a fresh schema, an API process and N pinned workers
    run=$((run + 1))
    local schema="bench_chunks_$$_$run"
    psql "$PG" -qc "CREATE SCHEMA $schema" >/dev/null
    local sep='?'; [[ $PG == *\?* ]] && sep='&'
    export OPENVOD_DATABASE_URL="$PG${sep}options=-c%20search_path%3D$schema"
    export OPENVOD_STORE_KIND=s3 OPENVOD_STORE_ENDPOINT="$OPENVOD_TEST_S3_ENDPOINT"
    export OPENVOD_STORE_SOURCE_BUCKET="$OPENVOD_TEST_S3_BUCKET" OPENVOD_STORE_OUTPUT_BUCKET="$OPENVOD_TEST_S3_BUCKET"
    export OPENVOD_STORE_REGION="$OPENVOD_TEST_S3_REGION" OPENVOD_STORE_ACCESS_KEY_ID="$OPENVOD_TEST_S3_KEY_ID"
    export OPENVOD_STORE_SECRET_ACCESS_KEY="$OPENVOD_TEST_S3_SECRET" OPENVOD_STORE_ALLOW_HTTP=true
    export OPENVOD_LOG=warn
    OPENVOD_WORKER_CONCURRENCY=0 "$OPENVOD" serve --config "$work/openvod.toml" --listen 127.0.0.1:0 > "$work/serve.out" &
    api=$!
    pids+=("$api")
    for _ in $(seq 600); do grep -q '^listening on ' "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
    base=$(sed -n 's/^listening on //p' "$work/serve.out" | head -1)
    [[ -n $base ]] || die "openvod serve did not start in 60 s: $(cat "$work/serve.out")"
    workers=()
    for ((i = 0; i < $1; i++)); do
        OPENVOD_WORKER_CONCURRENCY=1 OPENVOD_WORKER_WORK_DIR="$work/w$run-$i" \
            taskset -c "$i" "$OPENVOD" worker --config "$work/openvod.toml" > "$work/worker-$i.out" &
        workers+=($!)
        pids+=($!)
    done
}
# CPU seconds of a process and its waited-for children (ffmpeg), from /proc.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15 + $16 + $17) / hz}' "/proc/$1/stat"; }
stop_fleet() { # prints the CPU seconds of the workers
    local total=0
    for w in "${workers[@]}"; do total=$(awk -v a="$total" -v b="$(cpu_of "$w")" 'BEGIN {print a + b}'); done
    for p in "${workers[@]}" "$api"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    echo "$total"
}
upload() { # file template -> id
    curl -sf --data-binary @"$1" "$base/v1/assets?name=$(basename "$1")&template=$2" | jq -r .id
}
wait_ready() { # id
    while :; do
        local s; s=$(curl -sf "$base/v1/assets/$1" | jq -r .status)
        [[ $s == ready ]] && return 0
        [[ $s == failed || $s == cancelled ]] && die "asset $1 $s: $(curl -sf "$base/v1/assets/$1" | jq -c .error)"
        sleep 0.2
    done
}
now() { date +%s.%N; }

echo "title: ${DURATION} s 1080p30, 4 rungs at $PRESET, chunks of ${CHUNK} s; workers pinned one per core"
printf '%-28s %10s %10s\n' "run" "wall s" "CPU s"
one_title() { # label workers template
    start_fleet "$2"
    local id t0 t1 cpu
    t0=$(now); id=$(upload "$long" "$3"); wait_ready "$id"; t1=$(now)
    cpu=$(stop_fleet)
    printf '%-28s %10.1f %10.1f\n' "$1" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" "$cpu"
    echo "$1,$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}'),$cpu" >> "$work/titles.csv"
}
if [[ ${QUEUE_ONLY:-0} != 1 ]]; then
    one_title "unchunked, 1 worker" 1 whole
    for ((n = 1; n <= MAX_WORKERS; n++)); do
        one_title "chunked, $n worker(s)" "$n" chunked
    done
    whole_cpu=$(awk -F, 'NR == 1 {print $NF}' "$work/titles.csv")
    chunked_cpu=$(awk -F, 'NR == 2 {print $NF}' "$work/titles.csv")
    echo "chunking CPU overhead (1 worker): $(awk -v a="$whole_cpu" -v b="$chunked_cpu" 'BEGIN {printf "%+.1f %%", (b / a - 1) * 100}') (goal: at most +10 %)"
fi

echo "queue of $JOBS titles of ${SHORT} s (unchunked):"
jph1=0
for ((n = 1; n <= MAX_WORKERS; n++)); do
    start_fleet "$n"
    ids=()
    t0=$(now)
    for ((j = 0; j < JOBS; j++)); do ids+=("$(upload "$short" whole)"); done
    for id in "${ids[@]}"; do wait_ready "$id"; done
    t1=$(now)
    stop_fleet > /dev/null
    jph=$(awk -v a="$t0" -v b="$t1" -v j="$JOBS" 'BEGIN {print j * 3600 / (b - a)}')
    (( n == 1 )) && jph1=$jph
    printf '  %d worker(s): %.0f jobs/hour, %.2f x N x one worker\n' "$n" "$jph" \
        "$(awk -v a="$jph" -v b="$jph1" -v n="$n" 'BEGIN {print a / (n * b)}')"
done
