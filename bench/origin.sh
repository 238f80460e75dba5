#!/usr/bin/env bash
# bench/origin.sh: openvod's origin against nginx, on loopback, with wrk.
#
# Input: a 1280x720 25 fps testsrc2 + sine source (H.264 + AAC, SECONDS long), generated
# once with ffmpeg and cached. openvod serve (one worker) ingests it twice through the
# API, with two templates that are the default ladder with preset "veryfast", the 720p
# and 360p rungs only, and a [protection] table (clear + cbcs, Widevine + ClearKey, one
# key): "static" packages every copy ahead of time into files, "jit" ([packaging]
# mode = "jit") stores one copy per rendition and lets the origin package on request.
# nginx (its own minimal configuration: sendfile, tcp_nopush, no access log) serves the
# static asset's output folder. wrk (-t2, CONNS connections, DURATION s, --latency)
# cycles over every media segment of the 720p and 360p renditions, with a Lua script
# written here:
#   a  nginx, clear static segments          http://127.0.0.1:NGINX/720p/N.m4s ...
#   b  openvod, the same static files         http://ADDR/play/STATIC_ID/720p/N.m4s ...
#      (the origin shield holds files packaged ahead of time too; the warm-up pass
#      below fills it)
#   c  openvod JIT cbcs, warm shield          http://ADDR/play/JIT_ID/cbcs/720p/N.m4s ...
#      (after one curl pass over every URL)
#   d  openvod JIT cbcs, cold: a second `openvod origin` with [origin] cache_bytes = 0,
#      so that every request packages from the stored copy
#   e  nginx, static cbcs segments            http://127.0.0.1:NGINX/cbcs/720p/N.m4s ...
# Then memory: wrk -c 256 for MEMDURATION s on c's URLs against the serve process,
# sampling its VmRSS and VmHWM (/proc/PID/status) every second.
#
# Targets: b >= 1.0x a in requests/s and MB/s with a p99 no worse; c >= 1.0x e and
# d >= 0.7x e in requests/s; the origin's RSS does not grow across the memory run.
#
# wrk, the servers and this script share the machine's cores; on loopback the figures
# are a comparison between servers under the same load generator, not a capacity.
#
# Environment:
#   SECONDS      source length in seconds (default 60); read on the first line below,
#                because bash counts this variable up from the value it inherits
#   DURATION     seconds per wrk run (default 15)
#   CONNS        wrk connections of variants a-e (default 64)
#   MEMDURATION  seconds of the memory run (default 60), with MEMCONNS (default 256)
#   OPENVOD      the binary (default $CARGO_TARGET_DIR/release/openvod, with
#                CARGO_TARGET_DIR defaulting to $HOME/.cache/openvod/target; built with
#                cargo build --release -p openvod when missing)
#   BENCH_DIR    work folder (default /tmp/openvod-bench); the source is cached in
#                BENCH_DIR/inputs, and the ingested assets in BENCH_DIR/origin/data,
#                reused while the source, configuration and templates are the same
#   FRESH=1      ingest the assets again even when they could be reused (e.g. after a
#                change to how assets are stored)
SRC_SECONDS=$SECONDS
set -euo pipefail
((SRC_SECONDS > 0)) || SRC_SECONDS=60
((SRC_SECONDS >= 8)) || SRC_SECONDS=8
DURATION=${DURATION:-15}
CONNS=${CONNS:-64}
MEMDURATION=${MEMDURATION:-60}
MEMCONNS=${MEMCONNS:-256}
THREADS=2
for v in DURATION CONNS MEMDURATION MEMCONNS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "origin.sh: $v must be a positive number" >&2; exit 1; }
done

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/openvod-bench}
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/openvod/target}
OPENVOD=${OPENVOD:-$CARGO_TARGET_DIR/release/openvod}
# A dummy master key for the benchmark only.
MASTER_KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f

die() { echo "origin.sh: $*" >&2; exit 1; }
for tool in ffmpeg curl jq awk wrk nginx ss; do
    command -v "$tool" >/dev/null || die "$tool is not installed (Debian: apt-get install -y nginx-light wrk ffmpeg curl jq iproute2)"
done
NGINX=$(command -v nginx)

# --- Build check ---------------------------------------------------------------------------
if [[ ! -x $OPENVOD ]]; then
    echo "no openvod binary at $OPENVOD; building it (cargo build --release -p openvod)..." >&2
    (cd "$REPO" && CARGO_TARGET_DIR=$CARGO_TARGET_DIR cargo build --release -p openvod) >&2 ||
        die "cargo build --release -p openvod failed"
    [[ -x $OPENVOD ]] || die "still no openvod binary at $OPENVOD (OPENVOD points elsewhere than CARGO_TARGET_DIR?)"
fi

INPUTS=$BENCH_DIR/inputs
WORK=$BENCH_DIR/origin
DATA=$WORK/data
RESULTS_DIR=$BENCH_DIR/results
STAMP=$(date +%Y%m%d-%H%M%S)
RESULTS=$RESULTS_DIR/origin-$STAMP.txt
RAW=$RESULTS_DIR/origin-$STAMP.tsv
RSS_TSV=$RESULTS_DIR/origin-$STAMP-rss.tsv
mkdir -p "$INPUTS" "$WORK" "$RESULTS_DIR"
: >"$RESULTS"
say() { printf '%s\n' "$*" | tee -a "$RESULTS"; }

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

# --- Processes, stopped at exit ------------------------------------------------------------
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts "$@" (an openvod serve/origin command) with stdout in $LOG and stderr in
# $LOG.err; sets SERVER_PID and SERVER_ADDR from its first stdout line.
start_openvod() {
    local log=$1 line="" i
    shift
    "$@" >"$log" 2>"$log.err" &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    for ((i = 0; i < 300; i++)); do
        line=$(head -n 1 "$log" 2>/dev/null || true)
        [[ $line == "listening on "* ]] && break
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            tail -n 20 "$log.err" >&2
            die "failed to start: $(quoted "$@")${START_HINT:-}"
        fi
        sleep 0.1
    done
    [[ $line == "listening on http://"* ]] || die "no 'listening on http://ADDR' line from: $(quoted "$@")"
    SERVER_ADDR=${line#listening on http://}
}

# --- Source --------------------------------------------------------------------------------
SRC=$INPUTS/origin-${SRC_SECONDS}s.mp4
if [[ ! -s $SRC ]]; then
    echo "generating $SRC ($SRC_SECONDS s, 1280x720 25 fps)..." >&2
    ffmpeg -hide_banner -nostdin -y -v error \
        -f lavfi -i "testsrc2=size=1280x720:rate=25:duration=$SRC_SECONDS" \
        -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$SRC_SECONDS" \
        -map 0:v -map 1:a -c:v libx264 -preset veryfast -crf 18 -pix_fmt yuv420p \
        -c:a aac -b:a 128k -ac 2 -movflags +faststart "$SRC.tmp.mp4"
    mv "$SRC.tmp.mp4" "$SRC"
fi

# --- Configuration and templates -----------------------------------------------------------
# The default template (crates/transcode/templates/default.toml) with preset "veryfast",
# the 720p and 360p rungs only, and a [protection] table; $1 is its name, $2 its
# [packaging] mode line (empty for the default, static packaging).
template() {
    cat <<EOF
name = "$1"

[video]
codec = "h264"
profile = "high"
preset = "veryfast"
quality = 8
gop_seconds = 2.0
max_frame_rate = 60.0

[[video.rungs]]
name = "720p"
height = 720
max_bitrate = 3_000_000

[[video.rungs]]
name = "360p"
height = 360
max_bitrate = 800_000

[audio]
name = "audio"
codec = "aac"
bitrate = 128_000
sample_rate = 48_000
channels = 2

[packaging]
$2
segment_seconds = 4.0
fragment_seconds = 2.0
hls = true
dash = true

[protection]
outputs = ["clear", "cbcs"]
drm_systems = ["widevine", "clearkey"]
keys = "single"
EOF
}
template static "" >"$WORK/static.toml"
template jit 'mode = "jit"' >"$WORK/jit.toml"

CONF=$WORK/openvod.toml
cat >"$CONF" <<EOF
listen = "127.0.0.1:0"
data_dir = "$DATA"

[worker]
concurrency = 1

[watch]
enabled = false

[drm]
master_key = "$MASTER_KEY"

[templates]
static = "$WORK/static.toml"
jit = "$WORK/jit.toml"
EOF
# The cold origin: the same, and a shield that keeps nothing.
CONF_COLD=$WORK/openvod-cold.toml
{
    cat "$CONF"
    printf '\n[origin]\ncache_bytes = 0\n'
} >"$CONF_COLD"

# --- openvod serve and the two assets ------------------------------------------------------
FINGERPRINT=$(cat "$CONF" "$WORK/static.toml" "$WORK/jit.toml" <(stat -c '%n %s %Y' "$SRC") | md5sum | cut -d' ' -f1)
STATE=$WORK/assets.env
REUSE=0
if [[ ${FRESH:-0} != 1 && -s $STATE && -d $DATA ]] && grep -qx "FINGERPRINT=$FINGERPRINT" "$STATE"; then
    REUSE=1
else
    rm -rf "$DATA" "$STATE"
fi

SERVE_CMD=("$OPENVOD" serve --config "$CONF" --listen 127.0.0.1:0)
start_openvod "$WORK/serve.log" "${SERVE_CMD[@]}"
SERVE_PID=$SERVER_PID
ADDR=$SERVER_ADDR
echo "openvod serve (pid $SERVE_PID) on $ADDR" >&2

asset_status() { curl -sf "http://$ADDR/v1/assets/$1" | jq -r '.status // "?"'; }
upload() { # $1 template; prints the new asset's id
    local out code
    out=$(curl -s -w '\n%{http_code}' --data-binary @"$SRC" "http://$ADDR/v1/assets?name=a.mp4&template=$1")
    code=${out##*$'\n'}
    out=${out%$'\n'*}
    [[ $code == 201 ]] || die "upload with template $1: HTTP $code: $out"
    jq -er '.id' <<<"$out" || die "upload with template $1: no id in $out"
}
wait_ready() { # $1 asset id, $2 label
    local id=$1 status json start=$SECONDS
    while :; do
        json=$(curl -sf "http://$ADDR/v1/assets/$id") || die "GET /v1/assets/$id failed"
        status=$(jq -r '.status' <<<"$json")
        case $status in
            ready) break ;;
            failed) die "asset $id ($2) failed: $(jq -c '{stage, error}' <<<"$json")" ;;
        esac
        ((SECONDS - start < 3600)) || die "asset $id ($2) not ready after an hour"
        echo "  $2 $id: $status $(jq -r '[.stage // empty, (.progress // empty | tostring)] | join(" ")' <<<"$json")" >&2
        sleep 3
    done
    echo "  $2 $id: ready after $((SECONDS - start)) s" >&2
}

if ((REUSE)); then
    # shellcheck disable=SC1090
    source "$STATE"
    if [[ $(asset_status "$STATIC_ID") != ready || $(asset_status "$JIT_ID") != ready ]]; then
        echo "the cached assets are not ready; ingesting again" >&2
        REUSE=0
        kill "$SERVE_PID"
        wait "$SERVE_PID" 2>/dev/null || true
        rm -rf "$DATA" "$STATE"
        start_openvod "$WORK/serve.log" "${SERVE_CMD[@]}"
        SERVE_PID=$SERVER_PID
        ADDR=$SERVER_ADDR
    else
        echo "reusing the assets in $DATA: static $STATIC_ID, jit $JIT_ID (FRESH=1 ingests again)" >&2
    fi
fi
if ((!REUSE)); then
    echo "uploading $SRC twice (templates static and jit)..." >&2
    STATIC_ID=$(upload static)
    JIT_ID=$(upload jit)
    INGEST_START=$SECONDS
    wait_ready "$STATIC_ID" static
    wait_ready "$JIT_ID" jit
    echo "ingest of both took $((SECONDS - INGEST_START)) s" >&2
    printf 'FINGERPRINT=%s\nSTATIC_ID=%s\nJIT_ID=%s\n' "$FINGERPRINT" "$STATIC_ID" "$JIT_ID" >"$STATE"
fi

OUT=$DATA/objects/outputs/$STATIC_ID/out
[[ -d $OUT/720p && -d $OUT/cbcs/720p ]] || die "no packaged folders in $OUT (expected 720p/ and cbcs/720p/)"

# --- nginx ---------------------------------------------------------------------------------
NGX=$WORK/nginx
mkdir -p "$NGX"
NGINX_PORT=""
for ((i = 0; i < 100; i++)); do
    p=$((20000 + RANDOM % 40000))
    if ! ss -Htln "sport = :$p" | grep -q .; then NGINX_PORT=$p && break; fi
done
[[ -n $NGINX_PORT ]] || die "no free port for nginx"
NGINX_CONF=$NGX/nginx.conf
{
    # As root, nginx would switch its workers to "nobody".
    if ((EUID == 0)); then echo "user root;"; fi
    cat <<EOF
worker_processes auto;
pid $NGX/nginx.pid;
error_log $NGX/error.log warn;
events {
    worker_connections 4096;
}
http {
    types {
        video/mp4 m4s mp4;
    }
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    access_log off;
    # hyper has no limit on requests per connection; nginx's default is 1000.
    keepalive_requests 1000000;
    client_body_temp_path $NGX/body;
    proxy_temp_path $NGX/proxy;
    fastcgi_temp_path $NGX/fastcgi;
    uwsgi_temp_path $NGX/uwsgi;
    scgi_temp_path $NGX/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $OUT;
    }
}
EOF
} >"$NGINX_CONF"
NGINX_CMD=("$NGINX" -e "$NGX/error.log" -p "$NGX/" -c "$NGINX_CONF" -g 'daemon off;')
"${NGINX_CMD[@]}" >"$NGX/stdout.log" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
for ((i = 0; i < 100; i++)); do
    curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/" && break
    kill -0 "$NGINX_PID" 2>/dev/null || { cat "$NGX/stdout.log" "$NGX/error.log" >&2 2>/dev/null; die "nginx failed to start: $(quoted "${NGINX_CMD[@]}")"; }
    sleep 0.1
done
echo "nginx (pid $NGINX_PID) on 127.0.0.1:$NGINX_PORT, root $OUT" >&2

# --- URL lists and the wrk script ----------------------------------------------------------
# Media segments of the 720p and 360p renditions under folder $1 of the output ("" for
# the clear copy at the root), as paths relative to it, in playback order.
segments() {
    local sub=$1 r
    for r in 720p 360p; do
        find "$OUT/$sub$r" -maxdepth 1 -name '*.m4s' -printf '%f\n' | sort -n | sed "s|^|$sub$r/|"
    done
}
mapfile -t CLEAR < <(segments "")
mapfile -t CBCS < <(segments cbcs/)
((${#CLEAR[@]} > 0 && ${#CLEAR[@]} == ${#CBCS[@]})) || die "expected as many clear as cbcs segments (${#CLEAR[@]} / ${#CBCS[@]})"
NSEG=${#CLEAR[@]}
STATIC_BYTES=$(cd "$OUT" && stat -c %s "${CLEAR[@]}" | awk '{ s += $1 } END { print s }')
CBCS_BYTES=$(cd "$OUT" && stat -c %s "${CBCS[@]}" | awk '{ s += $1 } END { print s }')

LIST_A=$WORK/a-nginx-clear.txt
LIST_B=$WORK/b-openvod-static.txt
LIST_C=$WORK/c-openvod-jit-cbcs.txt
LIST_E=$WORK/e-nginx-cbcs.txt
printf '/%s\n' "${CLEAR[@]}" >"$LIST_A"
printf "/play/$STATIC_ID/%s\n" "${CLEAR[@]}" >"$LIST_B"
printf "/play/$JIT_ID/%s\n" "${CBCS[@]}" >"$LIST_C"
printf '/%s\n' "${CBCS[@]}" >"$LIST_E"

LUA=$WORK/paths.lua
cat >"$LUA" <<'EOF'
-- Cycles over the paths in the file named by the first argument after "--"; each thread
-- starts at its own place in the list. done() prints one machine-readable line.
local threads = 0
function setup(thread)
    thread:set("id", threads)
    threads = threads + 1
end

local paths, i = {}, 0
function init(args)
    for line in io.lines(args[1]) do
        if line ~= "" then paths[#paths + 1] = line end
    end
    i = (id * 7919) % #paths
end

function request()
    i = i % #paths + 1
    return wrk.format("GET", paths[i])
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("RESULT %d %d %d %.0f %.0f %.0f %d %d %d %d %d\n",
        summary.requests, summary.bytes, summary.duration,
        latency:percentile(50), latency:percentile(99), latency.max,
        e.connect, e.read, e.write, e.status, e.timeout))
end
EOF

# One GET of every path in list $2 at base URL $1 (one curl process, kept-alive
# connection); fails on anything but 200. Prints the bytes of the bodies.
curl_pass() {
    local base=$1 list=$2 total=0 code size
    awk -v base="$base" '{ printf "url = \"%s%s\"\noutput = \"/dev/null\"\n", base, $0 }' "$list" >"$WORK/curl.conf"
    while read -r code size; do
        [[ $code == 200 ]] || die "warm-up: HTTP $code from a URL of $list at $base (curl -K $WORK/curl.conf)"
        total=$((total + size))
    done < <(curl -s -K "$WORK/curl.conf" -w '%{http_code} %{size_download}\n')
    echo "$total"
}
x_cache() { curl -s -o /dev/null -D - "$1$(head -n 1 "$2")" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-cache" { print $2 }'; }

# --- Runs ----------------------------------------------------------------------------------
RESULT_TSV_HEADER='variant\tserver\tpaths\tthreads\tconnections\tduration_s\trequests\tbytes\treq_per_s\tmb_per_s\tp50_ms\tp99_ms\tmax_ms\terr_connect\terr_read\terr_write\terr_status\terr_timeout\tserver_cpu_s\tserver_cpu_us_per_req\tload_1min_after'
printf "$RESULT_TSV_HEADER\n" >"$RAW"
declare -A R_REQ R_MB R_P50 R_P99 R_ERR R_KB R_CPU R_CPUREQ WRK_CMD LABEL
# CPU time (user + system, clock ticks) of the server $1: "nginx" (the master and its
# workers) or an openvod pid (all its threads).
CLK_TCK=$(getconf CLK_TCK)
server_ticks() {
    local pids=("$1") p stat total=0 f
    if [[ $1 == nginx ]]; then
        mapfile -t pids < <(echo "$NGINX_PID"; ps --ppid "$NGINX_PID" -o pid= | tr -d ' ')
    fi
    for p in "${pids[@]}"; do
        stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        read -r -a f <<<"${stat##*) }" # f[0] is field 3 (state): utime is f[11], stime f[12]
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}

# Runs wrk against base URL $3 with path list $4 for variant $1 ($2: what it is); $5 is
# the server ("nginx" or the openvod pid), for its CPU time.
measure() {
    local v=$1 label=$2 base=$3 list=$4 srv=$5 conns=${6:-$CONNS} dur=${7:-$DURATION} log t0 t1
    local cmd=(wrk -t"$THREADS" -c"$conns" -d"${dur}s" --latency -s "$LUA" "$base/" -- "$list")
    log=$WORK/wrk-$v.log
    echo "$v: $label, ${dur} s, $conns connections..." >&2
    t0=$(server_ticks "$srv")
    "${cmd[@]}" >"$log" 2>&1 || { cat "$log" >&2; die "wrk failed: $(quoted "${cmd[@]}")"; }
    t1=$(server_ticks "$srv")
    local r
    r=$(grep '^RESULT ' "$log" | tail -n 1) || die "no RESULT line in $log"
    read -r _ req bytes dur_us p50 p99 pmax ec er ew es et <<<"$r"
    R_REQ[$v]=$(awk -v n="$req" -v d="$dur_us" 'BEGIN { printf "%.0f", n / (d / 1e6) }')
    R_MB[$v]=$(awk -v b="$bytes" -v d="$dur_us" 'BEGIN { printf "%.1f", b / 1e6 / (d / 1e6) }')
    R_KB[$v]=$(awk -v b="$bytes" -v n="$req" 'BEGIN { printf "%.1f", n ? b / n / 1e3 : 0 }')
    R_P50[$v]=$(awk -v u="$p50" 'BEGIN { printf "%.2f", u / 1e3 }')
    R_P99[$v]=$(awk -v u="$p99" 'BEGIN { printf "%.2f", u / 1e3 }')
    R_ERR[$v]=$((ec + er + ew + es + et))
    R_CPU[$v]=$(awk -v t="$((t1 - t0))" -v hz="$CLK_TCK" 'BEGIN { printf "%.1f", t / hz }')
    R_CPUREQ[$v]=$(awk -v t="$((t1 - t0))" -v hz="$CLK_TCK" -v n="$req" 'BEGIN { printf "%.0f", n ? t / hz / n * 1e6 : 0 }')
    WRK_CMD[$v]=$(quoted "${cmd[@]}")
    LABEL[$v]=$label
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$v" "$label" \
        "$(wc -l <"$list")" "$THREADS" "$conns" "$(awk -v d="$dur_us" 'BEGIN { printf "%.3f", d / 1e6 }')" \
        "$req" "$bytes" "${R_REQ[$v]}" "${R_MB[$v]}" "${R_P50[$v]}" "${R_P99[$v]}" \
        "$(awk -v u="$pmax" 'BEGIN { printf "%.2f", u / 1e3 }')" "$ec" "$er" "$ew" "$es" "$et" \
        "${R_CPU[$v]}" "${R_CPUREQ[$v]}" "$(cut -d' ' -f1 /proc/loadavg)" >>"$RAW"
    echo "  ${R_REQ[$v]} req/s, ${R_MB[$v]} MB/s, p50 ${R_P50[$v]} ms, p99 ${R_P99[$v]} ms, server CPU ${R_CPU[$v]} s (${R_CPUREQ[$v]} us a request), errors ${R_ERR[$v]} (connect $ec, read $er, write $ew, status $es, timeout $et)" >&2
}

NGINX_BASE=http://127.0.0.1:$NGINX_PORT
OV_BASE=http://$ADDR
echo "warm-up: one GET of every URL (page cache, shield)..." >&2
A_BYTES=$(curl_pass "$NGINX_BASE" "$LIST_A")
B_BYTES=$(curl_pass "$OV_BASE" "$LIST_B")
E_BYTES=$(curl_pass "$NGINX_BASE" "$LIST_E")
C_BYTES=$(curl_pass "$OV_BASE" "$LIST_C")
[[ $A_BYTES == "$STATIC_BYTES" && $B_BYTES == "$STATIC_BYTES" ]] ||
    die "clear segments: nginx sent $A_BYTES bytes, openvod $B_BYTES, the files hold $STATIC_BYTES"
[[ $E_BYTES == "$CBCS_BYTES" ]] || die "cbcs segments: nginx sent $E_BYTES bytes, the files hold $CBCS_BYTES"
WARM_CACHE=$(x_cache "$OV_BASE" "$LIST_C")
[[ $WARM_CACHE == HIT ]] || die "JIT segment not served from the shield after the warm-up (X-Cache: ${WARM_CACHE:-none})"

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
measure a "nginx, static clear" "$NGINX_BASE" "$LIST_A" nginx
measure b "openvod, static clear" "$OV_BASE" "$LIST_B" "$SERVE_PID"
measure e "nginx, static cbcs" "$NGINX_BASE" "$LIST_E" nginx
measure c "openvod JIT cbcs, warm" "$OV_BASE" "$LIST_C" "$SERVE_PID"

# d: a second origin whose shield keeps nothing.
COLD_CMD=("$OPENVOD" origin --config "$CONF_COLD" --listen 127.0.0.1:0)
START_HINT=" (variant d needs the [origin] section, which came with packaging on request; an openvod without it refuses the configuration)"
start_openvod "$WORK/origin-cold.log" "${COLD_CMD[@]}"
START_HINT=""
COLD_PID=$SERVER_PID
COLD_BASE=http://$SERVER_ADDR
echo "openvod origin, cache_bytes = 0 (pid $COLD_PID) on $SERVER_ADDR" >&2
D_BYTES=$(curl_pass "$COLD_BASE" "$LIST_C")
[[ $D_BYTES == "$C_BYTES" ]] || die "cbcs JIT segments: the cold origin sent $D_BYTES bytes, the warm one $C_BYTES"
COLD_CACHE=$(x_cache "$COLD_BASE" "$LIST_C")
[[ $COLD_CACHE == MISS ]] || die "the cold origin answered X-Cache: ${COLD_CACHE:-none} on a second request (expected MISS)"
# Requests for a segment that is being made share its making even with nothing kept:
# the store reads (one per segment made) tell how many requests packaged on their own.
store_reads() { curl -sf "$1/metrics" | awk '/^openvod_store_reads_total[ {]/ { n += $NF } END { printf "%.0f\n", n }'; }
READS0=$(store_reads "$COLD_BASE")
measure d "openvod JIT cbcs, cold" "$COLD_BASE" "$LIST_C" "$COLD_PID"
D_READS=$(($(store_reads "$COLD_BASE") - READS0))
D_REQS=$(awk -F'\t' '$1 == "d" { print $7 }' "$RAW")
kill "$COLD_PID"
wait "$COLD_PID" 2>/dev/null || true

# --- Memory --------------------------------------------------------------------------------
rss_line() { awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { print r, h }' "/proc/$1/status"; }
printf 'seconds\tphase\tvm_rss_kb\tvm_hwm_kb\n' >"$RSS_TSV"
read -r RSS_BEFORE HWM_BEFORE < <(rss_line "$SERVE_PID")
sampler() {
    local t=0 r h
    while kill -0 "$SERVE_PID" 2>/dev/null; do
        read -r r h < <(rss_line "$SERVE_PID")
        printf '%s\t%s\t%s\t%s\n' "$t" "$(cat "$WORK/phase")" "$r" "$h" >>"$RSS_TSV"
        sleep 1
        t=$((t + 1))
    done
}
echo before >"$WORK/phase"
sampler &
SAMPLER_PID=$!
PIDS+=("$SAMPLER_PID")
sleep 2
echo during >"$WORK/phase"
measure m "openvod JIT cbcs, warm (memory run)" "$OV_BASE" "$LIST_C" "$SERVE_PID" "$MEMCONNS" "$MEMDURATION"
echo after >"$WORK/phase"
sleep 5
read -r RSS_AFTER HWM_AFTER < <(rss_line "$SERVE_PID")
kill "$SAMPLER_PID"
wait "$SAMPLER_PID" 2>/dev/null || true
RSS_PEAK=$(awk -F'\t' '$2 == "during" && $3 > m { m = $3 } END { print m + 0 }' "$RSS_TSV")
# Mean RSS over the first and the last quarter of the run (growth within the run).
read -r RSS_Q1 RSS_Q4 < <(awk -F'\t' '$2 == "during" { r[n++] = $3 } END {
    q = int(n / 4); if (q < 1) q = 1
    for (i = 0; i < q; i++) { a += r[i]; b += r[n - 1 - i] }
    printf "%.0f %.0f\n", a / q, b / q }' "$RSS_TSV")
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# --- Report --------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
atleast() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 >= b + 0 ? "met" : "MISSED") }'; }
mb_kb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
FMT='%-3s %-28s %8s %8s %7s %8s %8s %7s %8s %7s'
row() {
    local v=$1
    printf "$FMT" "$v" "${LABEL[$v]}" "${R_REQ[$v]}" "${R_MB[$v]}" "${R_KB[$v]}" "${R_P50[$v]}" "${R_P99[$v]}" \
        "${R_CPU[$v]}" "${R_CPUREQ[$v]}" "${R_ERR[$v]}"
}

say "openvod origin benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -m)"
say "source: $SRC ($SRC_SECONDS s, 1280x720 25 fps testsrc2 + sine); templates static and jit:"
say "  default ladder with preset veryfast, 720p + 360p, 4 s segments, clear + cbcs (one key)"
say "assets: static $STATIC_ID, jit $JIT_ID; $NSEG media segments per copy (720p + 360p):"
say "  clear $(awk -v b="$STATIC_BYTES" 'BEGIN { printf "%.1f", b / 1e6 }') MB, cbcs $(awk -v b="$CBCS_BYTES" 'BEGIN { printf "%.1f", b / 1e6 }') MB (static files), JIT cbcs $(awk -v b="$C_BYTES" 'BEGIN { printf "%.1f", b / 1e6 }') MB"
say "openvod: $OPENVOD; $("$NGINX" -v 2>&1); $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2)"
say "wrk -t$THREADS -c$CONNS -d${DURATION}s --latency per variant, cycling over the segment URLs; load average before: $LOAD_BEFORE; after: $LOAD_AFTER"
say ""
say "$(printf "$FMT" '' variant 'req/s' 'MB/s' 'kB/req' 'p50 ms' 'p99 ms' 'CPU s' 'us/req' errors)"
for v in a b c d e; do
    say "$(row "$v")"
done
say ""
say "(MB/s: 10^6 bytes a second as wrk counts them, headers included; errors: connect, read,"
say " write, timeout and HTTP status >= 400, as wrk counts them; CPU s: the server's user + system"
say " time during the run, all its processes and threads; us/req: that per request)"
B_REQ=$(ratio "${R_REQ[b]}" "${R_REQ[a]}") B_MB=$(ratio "${R_MB[b]}" "${R_MB[a]}") B_P99=$(ratio "${R_P99[b]}" "${R_P99[a]}")
C_REQ=$(ratio "${R_REQ[c]}" "${R_REQ[e]}") C_MB=$(ratio "${R_MB[c]}" "${R_MB[e]}") C_P99=$(ratio "${R_P99[c]}" "${R_P99[e]}")
D_REQ=$(ratio "${R_REQ[d]}" "${R_REQ[e]}") D_MB=$(ratio "${R_MB[d]}" "${R_MB[e]}") D_P99=$(ratio "${R_P99[d]}" "${R_P99[e]}")
P99_OK=$(awk -v b="${R_P99[b]}" -v a="${R_P99[a]}" 'BEGIN { print (b <= a ? "met" : "MISSED") }')
say "b/a (static, openvod/nginx): req/s ${B_REQ}x, MB/s ${B_MB}x, p99 ${B_P99}x (target >= 1.0x, >= 1.0x, <= 1.0x: $(atleast "$B_REQ" 1.0), $(atleast "$B_MB" 1.0), $P99_OK)"
say "c/e (JIT cbcs warm / nginx cbcs): req/s ${C_REQ}x, MB/s ${C_MB}x, p99 ${C_P99}x (target >= 1.0x: $(atleast "$C_REQ" 1.0))"
say "d: $D_READS segments made (store reads) for $D_REQS requests: $(awk -v r="$D_READS" -v n="$D_REQS" 'BEGIN { printf "%.0f", n ? 100 * r / n : 0 }') % packaged on their own, the rest shared a concurrent request's"
say "d/e (JIT cbcs cold / nginx cbcs): req/s ${D_REQ}x, MB/s ${D_MB}x, p99 ${D_P99}x (target >= 0.7x: $(atleast "$D_REQ" 0.7))"
say ""
say "memory, openvod serve (pid $SERVE_PID) under wrk -t$THREADS -c$MEMCONNS -d${MEMDURATION}s on the JIT cbcs URLs (warm):"
say "  $(row m | cut -c5-)"
say "  RSS before $(mb_kb "$RSS_BEFORE") MB (peak so far $(mb_kb "$HWM_BEFORE") MB); peak sampled during $(mb_kb "$RSS_PEAK") MB;"
say "  mean over the first quarter of the run $(mb_kb "$RSS_Q1") MB, over the last quarter $(mb_kb "$RSS_Q4") MB;"
say "  after (5 s later) $(mb_kb "$RSS_AFTER") MB; VmHWM at the end $(mb_kb "$HWM_AFTER") MB (every second: $RSS_TSV)"
say ""
say "commands:"
say "  $(quoted "${SERVE_CMD[@]}")   (config $CONF)"
say "  $(quoted "${NGINX_CMD[@]}")"
say "  $(quoted "${COLD_CMD[@]}")   (the same config + [origin] cache_bytes = 0)"
for v in a b c d e m; do
    say "  $v: ${WRK_CMD[$v]}"
done
say "  (bases: a, e $NGINX_BASE/; b, c, m $OV_BASE/; d $COLD_BASE/; path lists in $WORK)"
say ""
say "results: $RESULTS (every run: $RAW)"
