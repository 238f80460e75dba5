#!/usr/bin/env bash
# bench/soak.sh: the durable pipeline under worker crashes, on PostgreSQL and S3 (Garage).
#
# One `openvod serve` with no workers of its own (worker.concurrency = 0: API + origin)
# takes ASSETS uploads (POST /v1/assets), one every UPLOAD_GAP seconds, of small
# generated sources (640x360 25 fps testsrc2 + a sine of its own pitch, SOURCE_SECONDS
# long, so every source has its own bytes). Two `openvod worker` processes run them
# through probe, validate, transcode, package and publish with a small template (360p
# and 240p, preset veryfast, 2 s segments, HLS + DASH, static packaging). Meanwhile the
# script kills a worker with SIGKILL KILLS times and starts it again at once:
#   - it picks the stage with the fewest kills so far (probe, transcode, package,
#     publish; ties at random), watches the tasks table until a live worker holds a task
#     of that stage (after KILL_WAIT s it takes any of the four that is running), waits a
#     random delay within the stage's usual length, and kills that worker;
#   - it then reads which task the dead worker still holds: that stage is the one the
#     kill interrupted. A kill that found the task already committed counts as "between
#     tasks" and does not count towards KILLS (at most 3 x KILLS kills are made).
# Leases are LEASE seconds (heartbeat every second) so an orphaned task is taken over
# quickly; max_attempts is 10, since one task may be killed more than once.
#
# At the end (every asset finished or TIMEOUT s) it checks, and exits 1 on any violation:
#   - every asset is `ready`, each with exactly one asset.ready event;
#   - every task succeeded and none holds a lease (no owner, no expiry);
#   - the bucket holds exactly what the database says: each asset's source
#     (sources/SOURCE_KEY) and the files its package stage recorded under its output
#     prefix (outputs/ID/out/...); nothing under work/, no other key (ListObjectsV2);
#   - every stored source is byte-identical to its upload (SHA-256);
#   - the origin serves every recorded output file (HTTP 200);
#   - no ffmpeg started by a killed worker is still running;
#   - each of the four stages was interrupted at least once (with KILLS >= 4).
# It prints the kills per stage, the wall time from the first upload to the last asset
# ready, and the commands, into BENCH_DIR/results/soak-DATE.txt.
#
# Needs: PostgreSQL at PG_URL (trust; the script creates and drops a database
# openvod_soak_PID), Garage (scripts/garage.sh starts a throwaway node), ffmpeg, psql,
# curl (7.75+, for --aws-sigv4), jq, awk, sha256sum.
#
# Environment:
#   ASSETS          uploads (default 20, at most 50)
#   KILLS           kills that interrupt a stage (default 20)
#   SOURCE_SECONDS  length of each source (default 4)
#   UPLOAD_GAP      seconds between uploads (default 5)
#   LEASE           worker.lease_seconds (default 4; the heartbeat is 1 s)
#   KILL_WAIT       seconds to wait for the least-killed stage (default 3)
#   TIMEOUT         seconds for the whole run (default 900)
#   PG_URL          PostgreSQL server URL without a database
#                   (default postgres://postgres@127.0.0.1:5432)
#   OPENVOD         the binary (default $CARGO_TARGET_DIR/release/openvod, with
#                   CARGO_TARGET_DIR defaulting to $HOME/.cache/openvod/target)
#   BENCH_DIR       work folder (default /tmp/openvod-bench)
#   KEEP=1          keep the database and the work folder
set -euo pipefail
ASSETS=${ASSETS:-20}
KILLS=${KILLS:-20}
SOURCE_SECONDS=${SOURCE_SECONDS:-4}
UPLOAD_GAP=${UPLOAD_GAP:-5}
LEASE=${LEASE:-4}
KILL_WAIT=${KILL_WAIT:-3}
TIMEOUT=${TIMEOUT:-900}
for v in ASSETS SOURCE_SECONDS LEASE KILL_WAIT TIMEOUT; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "soak.sh: $v must be a positive number" >&2; exit 1; }
done
for v in KILLS UPLOAD_GAP; do
    [[ ${!v} =~ ^[0-9]+$ ]] || { echo "soak.sh: $v must be a number" >&2; exit 1; }
done
((LEASE >= 2)) || { echo "soak.sh: LEASE must be at least 2 (twice the 1 s heartbeat)" >&2; exit 1; }
((ASSETS <= 50)) || { echo "soak.sh: ASSETS must be at most 50 (the bucket listing reads one page of 1000 keys)" >&2; exit 1; }
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/openvod-bench}
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/openvod/target}
OPENVOD=${OPENVOD:-$CARGO_TARGET_DIR/release/openvod}

die() { echo "soak.sh: $*" >&2; exit 1; }
for tool in ffmpeg psql curl jq awk sha256sum shuf; do
    command -v "$tool" >/dev/null || die "$tool is not installed (Debian: apt-get install -y ffmpeg postgresql-client curl jq coreutils)"
done
[[ -x $OPENVOD ]] || die "no openvod binary at $OPENVOD (cargo build --release -p openvod, or set OPENVOD)"

STAMP=$(date +%Y%m%d-%H%M%S)
WORK=$BENCH_DIR/soak-$$
INPUTS=$BENCH_DIR/inputs/soak
RESULTS_DIR=$BENCH_DIR/results
RESULTS=$RESULTS_DIR/soak-$STAMP.txt
KILL_TSV=$RESULTS_DIR/soak-$STAMP-kills.tsv
mkdir -p "$WORK" "$INPUTS" "$RESULTS_DIR"
: >"$RESULTS"
say() { printf '%s\n' "$*" | tee -a "$RESULTS"; }
now_ms() { date +%s%3N; }

# --- Garage, PostgreSQL, processes; all stopped or removed at exit ---------------------------
# scripts/garage.sh installs its own EXIT trap (stop the node, remove its folder); ours
# below replaces it, so cleanup() does the same with the variables it sets.
# shellcheck source=../scripts/garage.sh
. "$REPO/scripts/garage.sh"
DB_NAME=openvod_soak_$$
DB_URL=$PG_URL/$DB_NAME
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ ${KEEP:-} != 1 ]]; then
        psql -q "$PG_URL/postgres" -c "DROP DATABASE IF EXISTS $DB_NAME" >/dev/null 2>&1 || true
        rm -rf "$WORK"
    fi
    kill "$garage_pid" 2>/dev/null || true
    rm -rf "$garage_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

psql -q "$PG_URL/postgres" -c "CREATE DATABASE $DB_NAME" >/dev/null || die "cannot create database $DB_NAME at $PG_URL"
sql() { psql -X -q -At -v ON_ERROR_STOP=1 "$DB_URL" -c "$1"; }
# One long-lived psql for the polling of the kill loop: a query costs a round trip, not
# a process start, so a task of a stage that lasts a few milliseconds is still seen.
coproc PSQL { psql -X -q -At "$DB_URL" 2>&1; }
PIDS+=("$PSQL_PID")
# Runs query $1 on it; sets ROWS to its rows. (Its descriptors do not reach subshells,
# so this runs in the calling shell and returns through a variable.)
ROWS=()
poll_sql() {
    local line
    ROWS=()
    printf '%s;\nSELECT '"'"'--end--'"'"';\n' "$1" >&"${PSQL[1]}"
    while IFS= read -r line <&"${PSQL[0]}"; do
        [[ $line == --end-- ]] && return 0
        ROWS+=("$line")
    done
    die "the polling psql stopped"
}

# S3 requests signed by curl (SigV4), for the checks.
S3_BASE=$OPENVOD_TEST_S3_ENDPOINT/$OPENVOD_TEST_S3_BUCKET
s3_curl() {
    # Garage wants the payload hash header (signed like every x-amz- header).
    curl -sS --fail --aws-sigv4 "aws:amz:$OPENVOD_TEST_S3_REGION:s3" \
        --user "$OPENVOD_TEST_S3_KEY_ID:$OPENVOD_TEST_S3_SECRET" \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}
# Every key of the bucket with its size ("KEY SIZE" lines). One page of up to 1000 keys:
# curl 7.88 signs a query value holding characters to escape (a continuation token, a
# key with "/") differently from the server, so the listing cannot page; ASSETS is
# bounded above so that the bucket holds fewer keys (17 objects an asset, one source).
s3_list() {
    local page
    page=$(s3_curl "$S3_BASE/?list-type=2&max-keys=1000")
    [[ $page != *"<IsTruncated>true</IsTruncated>"* ]] || die "the bucket holds more than 1000 objects: the listing would be incomplete"
    # Keys are ids, names and paths openvod writes: no markup; &amp; is the one entity
    # they can need.
    printf '%s' "$page" | grep -o '<Contents>.*</Contents>' | sed 's|</Contents>|&\n|g' |
        sed -n 's|.*<Key>\([^<]*\)</Key>.*<Size>\([0-9]*\)</Size>.*|\1 \2|p' | sed 's/&amp;/\&/g'
}

# --- Configuration, template, sources ----------------------------------------------------------
cat >"$WORK/soak.toml" <<'EOF'
name = "soak"

[video]
codec = "h264"
profile = "high"
preset = "veryfast"
quality = 8
gop_seconds = 1.0
max_frame_rate = 30.0

[[video.rungs]]
name = "360p"
height = 360
max_bitrate = 800_000

[[video.rungs]]
name = "240p"
height = 240
max_bitrate = 400_000

[audio]
name = "audio"
codec = "aac"
bitrate = 96_000
sample_rate = 48_000
channels = 2

[packaging]
mode = "static"
segment_seconds = 2.0
fragment_seconds = 1.0
hls = true
dash = true
EOF
CONF=$WORK/openvod.toml
cat >"$CONF" <<EOF
database_url = "$DB_URL"

[store]
kind = "s3"
endpoint = "$OPENVOD_TEST_S3_ENDPOINT"
source_bucket = "$OPENVOD_TEST_S3_BUCKET"
region = "$OPENVOD_TEST_S3_REGION"
access_key_id = "$OPENVOD_TEST_S3_KEY_ID"
secret_access_key = "$OPENVOD_TEST_S3_SECRET"
path_style = true
allow_http = true

[worker]
concurrency = 1
lease_seconds = $LEASE
heartbeat_seconds = 1
max_attempts = 10
retry_base_seconds = 1

[watch]
enabled = false

[templates]
soak = "$WORK/soak.toml"
EOF

SRC=()
for ((i = 1; i <= ASSETS; i++)); do
    f=$INPUTS/soak-${SOURCE_SECONDS}s-$i.mp4
    if [[ ! -s $f ]]; then
        ffmpeg -hide_banner -nostdin -y -v error \
            -f lavfi -i "testsrc2=size=640x360:rate=25:duration=$SOURCE_SECONDS" \
            -f lavfi -i "sine=frequency=$((200 + 20 * i)):sample_rate=48000:duration=$SOURCE_SECONDS" \
            -map 0:v -map 1:a -c:v libx264 -preset ultrafast -pix_fmt yuv420p \
            -c:a aac -b:a 96k -ac 2 "$f.tmp.mp4"
        mv "$f.tmp.mp4" "$f"
    fi
    SRC+=("$f")
done

# --- Processes ---------------------------------------------------------------------------------
# Waits for the "listening on http://ADDR" line of $1 (the log) from pid $2; prints ADDR.
listening() {
    local log=$1 pid=$2 line="" i
    for ((i = 0; i < 300; i++)); do
        line=$(head -n 1 "$log" 2>/dev/null || true)
        [[ $line == "listening on http://"* ]] && break
        kill -0 "$pid" 2>/dev/null || { tail -n 20 "$log.err" >&2; die "process $pid ($log) stopped at start"; }
        sleep 0.1
    done
    [[ $line == "listening on http://"* ]] || die "no 'listening on' line in $log"
    echo "${line#listening on http://}"
}

SERVE_CMD=("$OPENVOD" serve --config "$CONF" --data "$WORK/serve" --listen 127.0.0.1:0)
OPENVOD_WORKER_CONCURRENCY=0 "${SERVE_CMD[@]}" >"$WORK/serve.log" 2>"$WORK/serve.log.err" &
SERVE_PID=$!
PIDS+=("$SERVE_PID")
API=http://$(listening "$WORK/serve.log" "$SERVE_PID")
echo "openvod serve (API + origin, no workers; pid $SERVE_PID) at $API" >&2

# Workers 1 and 2, each with its own data folder (scratch space), as on two machines.
# HOSTNAME names the worker in its lease owner: soakwN-PID-0.
declare -A WPID
start_worker() {
    local n=$1 log=$WORK/worker$1.log
    HOSTNAME=soakw$n "$OPENVOD" worker --config "$CONF" --data "$WORK/w$n" --listen 127.0.0.1:0 \
        >"$log" 2>>"$log.err" &
    WPID[$n]=$!
    PIDS+=("${WPID[$n]}")
    listening "$log" "${WPID[$n]}" >/dev/null
}
WORKER_CMD="HOSTNAME=soakwN $(printf '%q ' "$OPENVOD") worker --config $CONF --data $WORK/wN --listen 127.0.0.1:0"
start_worker 1
start_worker 2
echo "workers: pid ${WPID[1]} and ${WPID[2]}" >&2

# --- Uploads, in the background ----------------------------------------------------------------
UPLOADS=$WORK/uploads.tsv
: >"$UPLOADS"
T0=$(now_ms)
(
    for ((i = 1; i <= ASSETS; i++)); do
        id=$(curl -sS --fail --data-binary "@${SRC[i - 1]}" "$API/v1/assets?name=soak-$i.mp4&template=soak" | jq -r .id) ||
            { echo "upload $i failed" >&2; exit 1; }
        printf '%s\t%s\t%s\n' "$id" "${SRC[i - 1]}" "$(sha256sum <"${SRC[i - 1]}" | cut -d' ' -f1)" >>"$UPLOADS"
        if ((i < ASSETS)); then sleep "$UPLOAD_GAP"; fi
    done
) &
UPLOADER_PID=$!
PIDS+=("$UPLOADER_PID")

# --- Kills -------------------------------------------------------------------------------------
STAGES=(probe transcode package publish)
# Upper bound of the random delay after a task is seen running, in ms: about the stage's
# usual length on this template (release build: probe about 0.2 s, transcode 1.5-2 s,
# package 0.05-0.25 s, publish 5-40 ms), less the time it takes to see the task, so
# kills land anywhere within it.
declare -A DELAY_MS=([probe]=100 [transcode]=1000 [package]=80 [publish]=2)
declare -A HIT=([probe]=0 [validate]=0 [transcode]=0 [package]=0 [publish]=0)
MISSED=0
LANDED=0
TOTAL_KILLS=0
printf 'kill\tms\ttarget\tworker\tpid\tdelay_ms\tinterrupted\n' >"$KILL_TSV"

# Pending or running work: anything not finished.
unfinished() { sql "SELECT count(*) FROM assets WHERE status NOT IN ('ready', 'failed', 'cancelled')"; }
uploads_done() { ! kill -0 "$UPLOADER_PID" 2>/dev/null; }

# Sets HOLDER to "N STAGE" when a live worker N holds a task of a stage in $1 (a
# space-separated list, preferred in that order), else to "".
HOLDER=""
live_holder() {
    local row owner stage n want
    HOLDER=""
    poll_sql "SELECT stage || ' ' || lease_owner FROM tasks WHERE status = 'running' AND lease_owner IS NOT NULL"
    for want in $1; do
        for row in "${ROWS[@]}"; do
            read -r stage owner <<<"$row"
            [[ $stage == "$want" ]] || continue
            for n in 1 2; do
                if [[ $owner == "soakw$n-${WPID[$n]}-"* ]]; then
                    HOLDER="$n $stage"
                    return 0
                fi
            done
        done
    done
}

DEADLINE=$(($(date +%s) + TIMEOUT))
while ((LANDED < KILLS && TOTAL_KILLS < 3 * KILLS)); do
    (($(date +%s) < DEADLINE)) || break
    if uploads_done && [[ $(unfinished) == 0 ]]; then
        break
    fi
    # Stages by kills so far, fewest first, ties in random order.
    mapfile -t ORDER < <(for s in "${STAGES[@]}"; do echo "${HIT[$s]} $RANDOM $s"; done | sort -n -k1,1 -k2,2 | cut -d' ' -f3)
    target=${ORDER[0]}
    waited_from=$(date +%s)
    HOLDER=""
    while :; do
        if (($(date +%s) - waited_from < KILL_WAIT)); then
            live_holder "$target"
        else
            live_holder "${ORDER[*]}"
        fi
        [[ -z $HOLDER ]] || break
        (($(date +%s) < DEADLINE)) || break
        if uploads_done && [[ $(unfinished) == 0 ]]; then break; fi
        sleep 0.005
    done
    [[ -n $HOLDER ]] || continue
    read -r n seen <<<"$HOLDER"
    pid=${WPID[$n]}
    delay=$((RANDOM % (DELAY_MS[$seen] + 1)))
    sleep "$(awk -v d="$delay" 'BEGIN { printf "%.3f", d / 1000 }')"
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
    # Forget the dead pid, so that cleanup never signals a process that reused it.
    for i in "${!PIDS[@]}"; do
        [[ ${PIDS[i]} != "$pid" ]] || unset 'PIDS[i]'
    done
    TOTAL_KILLS=$((TOTAL_KILLS + 1))
    # The dead worker's lease is still there: it names the stage the kill interrupted.
    # A transaction it had sent just before (a claim, a commit) may still be applied by
    # the server, which has not yet read the closed connection: give it a moment, or a
    # claim would count as "between tasks" and a finished commit as an interruption.
    sleep 0.3
    poll_sql "SELECT stage FROM tasks WHERE status = 'running' AND lease_owner LIKE 'soakw$n-$pid-%'"
    hit=${ROWS[0]:-}
    if [[ -n $hit ]]; then
        HIT[$hit]=$((HIT[$hit] + 1))
        [[ $hit == validate ]] || LANDED=$((LANDED + 1))
    else
        MISSED=$((MISSED + 1))
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$TOTAL_KILLS" "$(($(now_ms) - T0))" "$seen" "$n" "$pid" "$delay" "${hit:-between}" >>"$KILL_TSV"
    echo "kill $TOTAL_KILLS: worker $n (pid $pid) seen in $seen, +${delay} ms: ${hit:-between tasks}" >&2
    start_worker "$n"
    sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.2 + 0.6 * r / 32767 }')"
done

# --- Wait for the end --------------------------------------------------------------------------
wait "$UPLOADER_PID" || die "an upload failed"
[[ $(wc -l <"$UPLOADS") == "$ASSETS" ]] || die "only $(wc -l <"$UPLOADS") of $ASSETS uploads recorded"
while [[ $(unfinished) != 0 ]]; do
    (($(date +%s) < DEADLINE)) || break
    sleep 0.2
done
WALL_MS=$(($(sql "SELECT COALESCE(MAX(finished_at), 0) FROM assets") - T0))

# --- Checks ------------------------------------------------------------------------------------
VIOLATIONS=0
check() { # $1: ok (0) or not; $2: what was checked
    if [[ $1 == 0 ]]; then
        say "  ok    $2"
    else
        say "  FAIL  $2"
        VIOLATIONS=$((VIOLATIONS + 1))
    fi
}
say "openvod soak, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores; $OPENVOD"
say "$ASSETS assets of ${SOURCE_SECONDS} s (640x360 25 fps testsrc2 + sine), one upload every $UPLOAD_GAP s;"
say "template soak (360p + 240p veryfast, 2 s segments, HLS + DASH); 2 workers, lease $LEASE s, heartbeat 1 s"
say ""
say "kills (SIGKILL, worker restarted at once): $TOTAL_KILLS made, $LANDED interrupted a stage (target $KILLS), $MISSED between tasks"
say "  interrupted: probe ${HIT[probe]}, validate ${HIT[validate]}, transcode ${HIT[transcode]}, package ${HIT[package]}, publish ${HIT[publish]}"
say "wall time, first upload to last asset ready: $(awk -v m="$WALL_MS" 'BEGIN { printf "%.1f", m / 1000 }') s"
say ""
say "checks:"

LANDED_OK=$((LANDED >= KILLS ? 0 : 1))
check "$LANDED_OK" "$LANDED kills interrupted a stage (wanted $KILLS)"
if ((KILLS >= 4)); then
    zero=$(for s in "${STAGES[@]}"; do ((HIT[$s] > 0)) || echo "$s"; done | tr '\n' ' ')
    check "$([[ -z $zero ]] && echo 0 || echo 1)" "every stage interrupted at least once${zero:+ (never: $zero)}"
fi

read -r n_assets n_ready < <(sql "SELECT count(*), count(*) FILTER (WHERE status = 'ready') FROM assets" | tr '|' ' ')
not_ready=$(sql "SELECT id || ' ' || status || ' ' || COALESCE(error_code, '') || ' ' || COALESCE(error_message, '') FROM assets WHERE status <> 'ready'")
check "$([[ $n_assets == "$ASSETS" && $n_ready == "$ASSETS" ]] && echo 0 || echo 1)" "every asset ready: $n_ready of $n_assets ($ASSETS uploaded)"
[[ -z $not_ready ]] || say "        $not_ready"

bad_ready=$(sql "SELECT a.id || ' ' || count(e.seq) FROM assets a LEFT JOIN events e ON e.asset_id = a.id AND e.kind = 'asset.ready' GROUP BY a.id HAVING count(e.seq) <> 1")
check "$([[ -z $bad_ready ]] && echo 0 || echo 1)" "exactly one asset.ready event per asset${bad_ready:+ (not: $bad_ready)}"

read -r n_tasks n_ok n_leased < <(sql "SELECT count(*), count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE lease_owner IS NOT NULL OR lease_expires_at IS NOT NULL) FROM tasks" | tr '|' ' ')
check "$([[ $n_leased == 0 ]] && echo 0 || echo 1)" "no task left leased ($n_leased with an owner or expiry)"
check "$([[ $n_tasks == $((5 * ASSETS)) && $n_ok == "$n_tasks" ]] && echo 0 || echo 1)" "every task succeeded: $n_ok of $n_tasks (5 stages x $ASSETS assets)"
attempts=$(sql "SELECT stage || ' ' || sum(attempts - 1) FROM tasks GROUP BY stage ORDER BY stage" | tr '\n' ',' | sed 's/,$//; s/,/, /g')
say "        attempts beyond the first, by stage: $attempts"

# What the database says the bucket should hold.
EXPECTED=$WORK/expected.txt
sql "SELECT 'sources/' || source_key FROM assets" >"$EXPECTED.tmp"
sql "SELECT 'outputs/' || a.output_prefix || '/' || f.file FROM assets a JOIN tasks t ON t.asset_id = a.id AND t.stage = 'package' AND t.status = 'succeeded', json_array_elements_text(t.output::json -> 'files') AS f(file)" >>"$EXPECTED.tmp"
sort "$EXPECTED.tmp" >"$EXPECTED"
bad_prefix=$(sql "SELECT id FROM assets WHERE output_prefix IS DISTINCT FROM id || '/out'")
check "$([[ -z $bad_prefix ]] && echo 0 || echo 1)" "every asset's output prefix is ID/out${bad_prefix:+ (not: $bad_prefix)}"
LISTED=$WORK/listed.txt
s3_list >"$LISTED.sizes"
cut -d' ' -f1 "$LISTED.sizes" | sort >"$LISTED"
missing=$(comm -23 "$EXPECTED" "$LISTED")
extra=$(comm -13 "$EXPECTED" "$LISTED")
n_work=$(grep -c '^outputs/[^/]*/work/' "$LISTED" || true)
check "$([[ -z $missing ]] && echo 0 || echo 1)" "every object the database names is stored: $(wc -l <"$EXPECTED") expected, $(grep -c . <<<"$missing" || true) missing"
[[ -z $missing ]] || say "        missing: $(head -n 5 <<<"$missing" | tr '\n' ' ')"
check "$([[ -z $extra ]] && echo 0 || echo 1)" "no other object in the bucket: $(wc -l <"$LISTED") listed, $(grep -c . <<<"$extra" || true) extra ($n_work under work/)"
[[ -z $extra ]] || say "        extra: $(head -n 5 <<<"$extra" | tr '\n' ' ')"

sha_bad=0
while IFS=$'\t' read -r id file sum; do
    key=$(sql "SELECT source_key FROM assets WHERE id = '$id'")
    got=$(s3_curl "$S3_BASE/sources/$key" | sha256sum | cut -d' ' -f1)
    if [[ $got != "$sum" ]]; then
        say "        source of $id ($file): stored sha256 $got, uploaded $sum"
        sha_bad=$((sha_bad + 1))
    fi
done <"$UPLOADS"
check "$sha_bad" "every stored source is byte-identical to its upload (sha256, $(wc -l <"$UPLOADS") sources)"

# Every recorded output through the origin of the serve process.
grep '^outputs/' "$EXPECTED" | sed 's|^outputs/\([^/]*\)/out/|/play/\1/|' |
    awk -v base="$API" '{ printf "url = \"%s%s\"\noutput = \"/dev/null\"\n", base, $0 }' >"$WORK/origin.curl"
codes=$(curl -s -K "$WORK/origin.curl" -w '%{http_code}\n' | sort | uniq -c | awk '{ printf "%s x %s, ", $1, $2 }' | sed 's/, $//')
check "$([[ $codes =~ ^[0-9]+\ x\ 200$ ]] && echo 0 || echo 1)" "the origin serves every recorded output file: $codes"

# ffmpeg processes started by a worker name its scratch folder; all workers are idle now.
mapfile -t orphans < <(pgrep -f "ffmpeg .*$WORK/w" || true)
check "${#orphans[@]}" "no ffmpeg left running from a killed worker (${#orphans[@]} found)"
for pid in "${orphans[@]}"; do
    kill "$pid" 2>/dev/null || true
done

say ""
say "commands:"
say "  OPENVOD_WORKER_CONCURRENCY=0 $(printf '%q ' "${SERVE_CMD[@]}")"
say "  $WORKER_CMD   (N = 1, 2)"
say "  kill -KILL PID of a worker; the same command starts it again"
say "  configuration: $CONF (kept with KEEP=1); template: $WORK/soak.toml; kills: $KILL_TSV"
say ""
if ((VIOLATIONS > 0)); then
    say "$VIOLATIONS check(s) failed"
    say "results: $RESULTS"
    exit 1
fi
say "all checks passed"
say "results: $RESULTS"
