#!/usr/bin/env bash
# bench/origin-soak.sh: the origin under sustained load, with a mix of URLs; errors and RSS.
#
# openvod serve (SQLite and a folder, one worker) ingests one generated source (1280x720
# 25 fps testsrc2 + sine, SOURCE_SECONDS long, cached) twice: template "static" packages
# every copy ahead of time (clear, cbcs, HLS AES-128; 720p + 360p + audio, preset
# veryfast, 4 s segments), template "jit" is the same with [packaging] mode = "jit", so
# the origin makes every object on request. serve is then stopped and `openvod origin`
# (origin role only, same configuration) serves both assets.
#
# The URL list is crawled from the origin itself: for each asset the HLS multivariant
# playlists of every copy (master.m3u8, cbcs/master.m3u8, aes128/master.m3u8, and for
# the JIT asset also s6/... and cbcs/s6/..., 6 s segments made on request), every media
# and I-frame playlist they name, every init and media segment those name, and the DASH
# manifests (manifest.mpd, cbcs/manifest.mpd). Key URIs are left out (keys/KID is
# answered privately, per viewer; data: and skd: URIs signal DRM systems). Every URL is fetched once first and must answer 200; that pass
# also fills the origin shield.
#
# Then wrk -t2 -c CONNS for DURATION s (--timeout WRK_TIMEOUT s) cycles over the list (each thread from its own
# place), with a Lua script that counts every response outside 2xx by status, next to
# wrk's socket errors (connect, read, write, timeout). The origin's VmRSS is sampled
# every second from /proc/PID/status, from 2 s before the run to 5 s after.
#
# Pass: no socket error, no non-2xx response, and RSS flat: the mean of the last 10 s of
# the run within RSS_GROWTH_PCT % (default 10) of the mean of the first 10 s. Exit 1
# otherwise. Results go to BENCH_DIR/results/origin-soak-DATE.txt (RSS samples in
# origin-soak-DATE-rss.tsv).
#
# Environment:
#   SOURCE_SECONDS  source length (default 20)
#   DURATION        seconds of the wrk run (default 60)
#   CONNS           wrk connections (default 256)
#   RSS_GROWTH_PCT  allowed growth of the RSS, last 10 s against the first (default 10)
#   WRK_TIMEOUT     seconds after which wrk counts a request as a timeout (default 10;
#                   wrk's own default of 2 s is within reach of a p99 on a shared
#                   2-core machine whose load average is well above 2)
#   OPENVOD         the binary (default $CARGO_TARGET_DIR/release/openvod, with
#                   CARGO_TARGET_DIR defaulting to $HOME/.cache/openvod/target)
#   BENCH_DIR       work folder (default /tmp/openvod-bench)
set -euo pipefail
SOURCE_SECONDS=${SOURCE_SECONDS:-20}
DURATION=${DURATION:-60}
CONNS=${CONNS:-256}
RSS_GROWTH_PCT=${RSS_GROWTH_PCT:-10}
WRK_TIMEOUT=${WRK_TIMEOUT:-10}
THREADS=2
for v in SOURCE_SECONDS DURATION CONNS RSS_GROWTH_PCT WRK_TIMEOUT; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "origin-soak.sh: $v must be a positive number" >&2; exit 1; }
done
((DURATION >= 20)) || { echo "origin-soak.sh: DURATION must be at least 20 (two 10 s windows)" >&2; exit 1; }

BENCH_DIR=${BENCH_DIR:-/tmp/openvod-bench}
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/openvod/target}
OPENVOD=${OPENVOD:-$CARGO_TARGET_DIR/release/openvod}
# A dummy master key for the benchmark only.
MASTER_KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f

die() { echo "origin-soak.sh: $*" >&2; exit 1; }
for tool in ffmpeg curl jq awk wrk; do
    command -v "$tool" >/dev/null || die "$tool is not installed (Debian: apt-get install -y wrk ffmpeg curl jq)"
done
[[ -x $OPENVOD ]] || die "no openvod binary at $OPENVOD (cargo build --release -p openvod, or set OPENVOD)"

INPUTS=$BENCH_DIR/inputs
WORK=$BENCH_DIR/origin-soak
RESULTS_DIR=$BENCH_DIR/results
STAMP=$(date +%Y%m%d-%H%M%S)
RESULTS=$RESULTS_DIR/origin-soak-$STAMP.txt
RSS_TSV=$RESULTS_DIR/origin-soak-$STAMP-rss.tsv
rm -rf "$WORK"
mkdir -p "$INPUTS" "$WORK" "$RESULTS_DIR"
: >"$RESULTS"
say() { printf '%s\n' "$*" | tee -a "$RESULTS"; }

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

# Starts "$@" with stdout in $1 and stderr in $1.err; sets SERVER_PID and SERVER_ADDR
# from its "listening on http://ADDR" line.
start_openvod() {
    local log=$1 line="" i
    shift
    "$@" >"$log" 2>"$log.err" &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    for ((i = 0; i < 300; i++)); do
        line=$(head -n 1 "$log" 2>/dev/null || true)
        [[ $line == "listening on "* ]] && break
        kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 20 "$log.err" >&2; die "failed to start: $*"; }
        sleep 0.1
    done
    [[ $line == "listening on http://"* ]] || die "no 'listening on http://ADDR' line from: $*"
    SERVER_ADDR=${line#listening on http://}
}

# --- Source, templates, configuration ----------------------------------------------------------
SRC=$INPUTS/origin-soak-${SOURCE_SECONDS}s.mp4
if [[ ! -s $SRC ]]; then
    echo "generating $SRC ($SOURCE_SECONDS s, 1280x720 25 fps)..." >&2
    ffmpeg -hide_banner -nostdin -y -v error \
        -f lavfi -i "testsrc2=size=1280x720:rate=25:duration=$SOURCE_SECONDS" \
        -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$SOURCE_SECONDS" \
        -map 0:v -map 1:a -c:v libx264 -preset veryfast -crf 18 -pix_fmt yuv420p \
        -c:a aac -b:a 128k -ac 2 -movflags +faststart "$SRC.tmp.mp4"
    mv "$SRC.tmp.mp4" "$SRC"
fi

template() { # $1 name, $2 the [packaging] mode line
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
outputs = ["clear", "cbcs", "aes-128"]
drm_systems = ["widevine", "clearkey"]
keys = "single"
EOF
}
template static "" >"$WORK/static.toml"
template jit 'mode = "jit"' >"$WORK/jit.toml"
CONF=$WORK/openvod.toml
cat >"$CONF" <<EOF
data_dir = "$WORK/data"

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

# --- Ingest ------------------------------------------------------------------------------------
SERVE_CMD=("$OPENVOD" serve --config "$CONF" --listen 127.0.0.1:0)
start_openvod "$WORK/serve.log" "${SERVE_CMD[@]}"
SERVE_PID=$SERVER_PID
API=http://$SERVER_ADDR
upload() { # $1 template; prints the new asset's id
    local out
    out=$(curl -sS --fail-with-body --data-binary @"$SRC" "$API/v1/assets?name=soak.mp4&template=$1") ||
        die "upload with template $1: $out"
    jq -er '.id' <<<"$out" || die "upload with template $1: no id in $out"
}
wait_ready() { # $1 asset id
    local status start=$SECONDS
    while :; do
        status=$(curl -sf "$API/v1/assets/$1" | jq -r '.status') || die "GET /v1/assets/$1 failed"
        case $status in
            ready) return 0 ;;
            failed | cancelled) die "asset $1: $status: $(curl -sf "$API/v1/assets/$1" | jq -c .error)" ;;
        esac
        ((SECONDS - start < 1800)) || die "asset $1 not ready after 30 minutes"
        sleep 1
    done
}
echo "ingesting $SRC twice (static, jit)..." >&2
STATIC_ID=$(upload static)
JIT_ID=$(upload jit)
wait_ready "$STATIC_ID"
wait_ready "$JIT_ID"
kill "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null || true

ORIGIN_CMD=("$OPENVOD" origin --config "$CONF" --listen 127.0.0.1:0)
start_openvod "$WORK/origin.log" "${ORIGIN_CMD[@]}"
ORIGIN_PID=$SERVER_PID
BASE=http://$SERVER_ADDR
echo "openvod origin (pid $ORIGIN_PID) at $BASE; assets static $STATIC_ID, jit $JIT_ID" >&2

# --- URL list ----------------------------------------------------------------------------------
# Normalizes an absolute path with "." and ".." segments.
normalize() {
    local part out=() IFS=/
    for part in $1; do
        case $part in
            "" | .) ;;
            ..) ((${#out[@]})) && unset 'out[${#out[@]}-1]' ;;
            *) out+=("$part") ;;
        esac
    done
    printf '/%s\n' "${out[*]}"
}
URLS=$WORK/urls.txt
: >"$URLS"
declare -A SEEN
# Adds playlist $1 (an absolute path) and, recursively, every playlist, init and media
# segment it names.
crawl() {
    local path=$1 dir body uri
    [[ -z ${SEEN[$path]:-} ]] || return 0
    SEEN[$path]=1
    echo "$path" >>"$URLS"
    [[ $path == *.m3u8 ]] || return 0
    body=$(curl -sS --fail "$BASE$path") || die "GET $path failed"
    dir=${path%/*}
    while read -r uri; do
        [[ -n $uri ]] || continue
        # Key URIs (keys/KID, and data: or skd: ones naming DRM systems) are no objects.
        [[ $uri == */keys/* || $uri == keys/* || $uri =~ ^[A-Za-z][A-Za-z0-9+.-]*: ]] && continue
        [[ $uri == /* ]] || uri=$(normalize "$dir/$uri")
        [[ $uri == */keys/* ]] && continue
        crawl "$uri"
    done < <(printf '%s\n' "$body" | tr -d '\r' |
        awk '/^#/ { while (match($0, /URI="[^"]*"/)) { print substr($0, RSTART + 5, RLENGTH - 6); $0 = substr($0, RSTART + RLENGTH) } next } { print }')
}
for root in "/play/$STATIC_ID" "/play/$STATIC_ID/cbcs" "/play/$STATIC_ID/aes128" \
    "/play/$JIT_ID" "/play/$JIT_ID/cbcs" "/play/$JIT_ID/aes128" "/play/$JIT_ID/s6" "/play/$JIT_ID/cbcs/s6"; do
    crawl "$root/master.m3u8"
done
for mpd in "/play/$STATIC_ID/manifest.mpd" "/play/$STATIC_ID/cbcs/manifest.mpd" \
    "/play/$JIT_ID/manifest.mpd" "/play/$JIT_ID/cbcs/manifest.mpd"; do
    echo "$mpd" >>"$URLS"
done
N_URLS=$(wc -l <"$URLS")
N_MANIFESTS=$(grep -c -E '\.(m3u8|mpd)$' "$URLS" || true)
N_STATIC=$(grep -c "^/play/$STATIC_ID/" "$URLS" || true)
N_JIT=$(grep -c "^/play/$JIT_ID/" "$URLS" || true)

# One GET of every URL (fills the shield); all must be 200.
awk -v base="$BASE" '{ printf "url = \"%s%s\"\noutput = \"/dev/null\"\n", base, $0 }' "$URLS" >"$WORK/warm.curl"
WARM=$(curl -s -K "$WORK/warm.curl" -w '%{http_code} %{size_download}\n')
[[ $(grep -vc '^200 ' <<<"$WARM" || true) == 0 ]] || die "warm-up: not every URL answered 200: $(grep -v '^200 ' <<<"$WARM" | cut -d' ' -f1 | sort | uniq -c | tr '\n' ' ')"
WARM_BYTES=$(awk '{ s += $2 } END { print s }' <<<"$WARM")

LUA=$WORK/mix.lua
cat >"$LUA" <<'EOF'
-- Cycles over the paths in the file named by the first argument after "--", each
-- thread from its own place; counts the responses outside 2xx by status.
local threads, all = 0, {}
function setup(thread)
    thread:set("id", threads)
    threads = threads + 1
    all[#all + 1] = thread
end

local paths, i = {}, 0
-- Globals, which done() reads from each thread with thread:get.
bad, non2xx = {}, 0
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

function response(status, headers, body)
    if status < 200 or status > 299 then
        bad[status] = (bad[status] or 0) + 1
        non2xx = non2xx + 1
    end
end

function done(summary, latency, requests)
    local n, sum, by = 0, {}, {}
    for _, t in ipairs(all) do
        n = n + (t:get("non2xx") or 0)
        for s, c in pairs(t:get("bad") or {}) do sum[s] = (sum[s] or 0) + c end
    end
    for s, c in pairs(sum) do by[#by + 1] = c .. "x" .. s end
    local e = summary.errors
    io.write(string.format("RESULT %d %d %d %.0f %.0f %.0f %d %d %d %d %d %d %s\n",
        summary.requests, summary.bytes, summary.duration,
        latency:percentile(50), latency:percentile(99), latency.max,
        e.connect, e.read, e.write, e.status, e.timeout, n,
        #by > 0 and table.concat(by, ",") or "-"))
end
EOF

# --- The run -----------------------------------------------------------------------------------
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
printf 'second\tphase\tvm_rss_kb\n' >"$RSS_TSV"
echo before >"$WORK/phase"
(
    # On whole seconds from the start, so the time a sample takes does not add up.
    t=0 start=$(date +%s%3N)
    while kill -0 "$ORIGIN_PID" 2>/dev/null; do
        printf '%s\t%s\t%s\n' "$t" "$(cat "$WORK/phase")" "$(rss_kb "$ORIGIN_PID")" >>"$RSS_TSV"
        t=$((t + 1))
        sleep "$(awk -v w="$((start + 1000 * t - $(date +%s%3N)))" 'BEGIN { printf "%.3f", (w > 0 ? w : 0) / 1000 }')"
    done
) &
SAMPLER_PID=$!
PIDS+=("$SAMPLER_PID")
sleep 2
WRK_CMD=(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout "${WRK_TIMEOUT}s" --latency -s "$LUA" "$BASE/" -- "$URLS")
echo "wrk: ${WRK_CMD[*]}" >&2
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo during >"$WORK/phase"
"${WRK_CMD[@]}" >"$WORK/wrk.log" 2>&1 || { cat "$WORK/wrk.log" >&2; die "wrk failed"; }
echo after >"$WORK/phase"
sleep 5
kill "$SAMPLER_PID" 2>/dev/null || true
wait "$SAMPLER_PID" 2>/dev/null || true
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
kill -0 "$ORIGIN_PID" 2>/dev/null || die "the origin died during the run (see $WORK/origin.log.err)"

RESULT=$(grep '^RESULT ' "$WORK/wrk.log" | tail -n 1) || die "no RESULT line in $WORK/wrk.log"
read -r _ REQ BYTES DUR_US P50 P99 PMAX EC ER EW ES ET NON2XX BYSTATUS <<<"$RESULT"
SOCKET_ERR=$((EC + ER + EW + ET))
RPS=$(awk -v n="$REQ" -v d="$DUR_US" 'BEGIN { printf "%.0f", n / (d / 1e6) }')
MBS=$(awk -v b="$BYTES" -v d="$DUR_US" 'BEGIN { printf "%.1f", b / 1e6 / (d / 1e6) }')
ms() { awk -v u="$1" 'BEGIN { printf "%.1f", u / 1e3 }'; }
# Also the sample in the middle of the run: growth that stops early (allocator arenas and
# buffers reaching their working size) shows as a flat second half.
read -r RSS_MIN RSS_MAX RSS_FIRST RSS_LAST RSS_MID N_SAMPLES < <(awk -F'\t' '$2 == "during" { r[n++] = $3 } END {
    if (n < 20) { print 0, 0, 0, 0, 0, n; exit }
    min = max = r[0]
    for (i = 0; i < n; i++) { if (r[i] < min) min = r[i]; if (r[i] > max) max = r[i] }
    for (i = 0; i < 10; i++) { a += r[i]; b += r[n - 1 - i] }
    printf "%d %d %.0f %.0f %d %d\n", min, max, a / 10, b / 10, r[int(n / 2)], n }' "$RSS_TSV")
((N_SAMPLES >= 20)) || die "only $N_SAMPLES RSS samples during the run"
RSS_BEFORE=$(awk -F'\t' '$2 == "before" { r = $3 } END { print r + 0 }' "$RSS_TSV")
RSS_AFTER=$(awk -F'\t' '$2 == "after" { r = $3 } END { print r + 0 }' "$RSS_TSV")
GROWTH=$(awk -v a="$RSS_FIRST" -v b="$RSS_LAST" 'BEGIN { printf "%.1f", 100 * (b - a) / a }')
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

say "openvod origin soak, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -m); $OPENVOD"
say "source: $SRC ($SOURCE_SECONDS s, 1280x720 25 fps); assets: static $STATIC_ID (packaged ahead of time),"
say "  jit $JIT_ID (packaged on request); 720p + 360p + audio, 4 s segments, clear + cbcs + aes-128"
say "URLs: $N_URLS ($N_MANIFESTS manifests and playlists; $N_STATIC static, $N_JIT on request incl. 6 s segments), $(mb $((WARM_BYTES / 1024))) MB in one pass"
say "$(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2); ${WRK_CMD[*]}"
say "load average before: $LOAD_BEFORE; after: $LOAD_AFTER"
say ""
say "requests: $REQ in $(awk -v d="$DUR_US" 'BEGIN { printf "%.1f", d / 1e6 }') s: $RPS req/s, $MBS MB/s; latency p50 $(ms "$P50") ms, p99 $(ms "$P99") ms, max $(ms "$PMAX") ms"
say "errors: $NON2XX responses outside 2xx (by status: $BYSTATUS); socket errors $SOCKET_ERR (connect $EC, read $ER, write $EW, timeout $ET)"
say "RSS of the origin (every second, $N_SAMPLES samples during the run): before $(mb "$RSS_BEFORE") MB; during min $(mb "$RSS_MIN") MB,"
say "  max $(mb "$RSS_MAX") MB; mean of the first 10 s $(mb "$RSS_FIRST") MB, of the last 10 s $(mb "$RSS_LAST") MB ($GROWTH %);"
say "  at mid-run $(mb "$RSS_MID") MB; 5 s after $(mb "$RSS_AFTER") MB"
say ""
FAILED=0
verdict() { # $1 0 for ok; $2 what
    if [[ $1 == 0 ]]; then say "  ok    $2"; else say "  FAIL  $2"; FAILED=1; fi
}
verdict "$NON2XX" "no response outside 2xx ($NON2XX)"
verdict "$SOCKET_ERR" "no socket error ($SOCKET_ERR)"
verdict "$(awk -v g="$GROWTH" -v m="$RSS_GROWTH_PCT" 'BEGIN { print (g <= m ? 0 : 1) }')" "RSS flat: last 10 s within $RSS_GROWTH_PCT % of the first 10 s ($GROWTH %)"
say ""
say "commands:"
say "  $(printf '%q ' "${SERVE_CMD[@]}")  (ingest; config $CONF)"
say "  $(printf '%q ' "${ORIGIN_CMD[@]}")"
say "  $(printf '%q ' "${WRK_CMD[@]}")"
say "results: $RESULTS (RSS every second: $RSS_TSV)"
exit "$FAILED"
