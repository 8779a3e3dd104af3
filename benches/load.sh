#!/usr/bin/env bash
# Qopy load test: measures the release binary against nginx on the same machine, in the same
# run, over loopback (SPEC §8), and prints a report table (also written to
# $CARGO_TARGET_DIR/load-report.txt, by default target/load-report.txt). Last comes a
# concurrency sweep: 1, 8, 32 and 128 concurrent uploaders against a fresh qopy per level, with
# 5 MiB and with 1 MiB chunks (the client is benches/upload_sweep.rs).
#
#   bash benches/load.sh [--no-build] [--sweep-only]
#
# --sweep-only runs the build and the sweep alone (no nginx or wrk needed) and writes its table
# to $CARGO_TARGET_DIR/sweep-report.txt instead.
# Needs bash, curl, wrk, nginx, python3 (free ports, the sweep's JSON), coreutils.
# On Debian: apt-get update && apt-get install -y wrk nginx-light curl
#
# Environment knobs (defaults in brackets): WRK_DURATION [10s], WRK_RUNS [3], PIN [1], UPLOAD_RUNS [3],
# DOWNLOAD_RUNS [5], LOAD_TIME_LIMIT seconds for everything after the build [540],
# QOPY_BIN [$CARGO_TARGET_DIR/release/qopy] (only to try this script against another server);
# sweep: SWEEP [1] (0 skips it), SWEEP_LEVELS [1 8 32 128], SWEEP_CHUNKS bytes [5242880 1048576],
# SWEEP_TOTAL_MIB per level [2048], SWEEP_STALL_SECS [15], SWEEP_PER_ADDRESS [0] (the server's
# --max-connections-per-address), SWEEP_BIN [built here] (the upload_sweep client).
# Only 127.0.0.1 is ever contacted. Everything started here is stopped on exit.
set -euo pipefail

# ---------------------------------------------------------------------------------------------
# Settings

readonly MIB=1048576
readonly CHUNK_SIZE=5242880               # 5 MiB, the API's chunk size
readonly SMALL_SIZE=$((100 * MIB))        # the 100 MiB file: 20 chunks
readonly SMALL_CHUNKS=20
readonly BIG_SIZE=$((1024 * MIB))         # the 1 GiB file: 205 chunks (the last one 4 MiB)
readonly BIG_CHUNKS=205
readonly STREAMS=3                        # parallel chunk upload streams

WRK_DURATION=${WRK_DURATION:-10s}
WRK_RUNS=${WRK_RUNS:-3}
PIN=${PIN:-1}
UPLOAD_RUNS=${UPLOAD_RUNS:-3}
DOWNLOAD_RUNS=${DOWNLOAD_RUNS:-5}
LOAD_TIME_LIMIT=${LOAD_TIME_LIMIT:-540}
SWEEP=${SWEEP:-1}
SWEEP_LEVELS=${SWEEP_LEVELS:-1 8 32 128}
SWEEP_CHUNKS=${SWEEP_CHUNKS:-5242880 1048576}
SWEEP_TOTAL_MIB=${SWEEP_TOTAL_MIB:-2048}
SWEEP_STALL_SECS=${SWEEP_STALL_SECS:-15}
SWEEP_PER_ADDRESS=${SWEEP_PER_ADDRESS:-0}
SWEEP_BIN=${SWEEP_BIN:-}

readonly ORIG_PWD=$PWD
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
cd "$ROOT"
TARGET_DIR=${CARGO_TARGET_DIR:-target}
[[ $TARGET_DIR == /* ]] || TARGET_DIR=$ROOT/$TARGET_DIR
readonly TARGET_DIR
QOPY_BIN=${QOPY_BIN:-$TARGET_DIR/release/qopy}   # override only to test this script
# Not passed on: qopy refuses to start on a QOPY_* variable that is not one of its keys.
export -n QOPY_BIN
readonly REPORT_FILE=$TARGET_DIR/load-report.txt
# The exact command line of this process, e.g. "bash benches/load.sh --no-build".
INVOCATION=$(tr '\0' ' ' </proc/$$/cmdline 2>/dev/null | sed 's/ $//') || true
[[ -n $INVOCATION ]] || INVOCATION="$0${*:+ $*}"
readonly INVOCATION

BUILD=1
SWEEP_ONLY=0
for arg in "$@"; do
    case $arg in
        --no-build) BUILD=0 ;;
        --sweep-only) SWEEP_ONLY=1 SWEEP=1 ;;
        -h|--help) sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "load.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

# ---------------------------------------------------------------------------------------------
# State, cleanup and small helpers

WORK=""            # temporary directory: data dir, test files, nginx prefix
SERVER_PID=""
NGINX_PID=""
WATCHDOG_PID=""
BG_PIDS=()         # curl streams and RSS samplers currently running
FAILURES=()        # steps that failed after the report could still be produced

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    local pid
    for pid in "${BG_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    [[ -n $WATCHDOG_PID ]] && kill "$WATCHDOG_PID" 2>/dev/null
    stop_pid "$SERVER_PID"
    stop_pid "$NGINX_PID"
    wait 2>/dev/null
    [[ -n $WORK && -d $WORK ]] && rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "load.sh: interrupted" >&2; exit 130' INT
trap 'echo "load.sh: terminated (time limit or signal)" >&2; exit 143' TERM

# stop_pid PID: TERM, up to 5 s grace, then KILL. Only for children of this script.
stop_pid() {
    local pid=$1 i
    [[ -n $pid ]] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
}

# forget_pid PID: drop a finished background job from BG_PIDS.
forget_pid() {
    local keep=() p
    for p in "${BG_PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    BG_PIDS=("${keep[@]}")
}

log() { printf '[load %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

SERVER_LOG_NAME=qopy.log   # the log of the qopy server running now, under $WORK
die() {
    printf 'load.sh: FAILED: %s\n' "$*" >&2
    if [[ -n $WORK && -s $WORK/$SERVER_LOG_NAME ]]; then
        echo "---- last lines of the server log ----" >&2
        tail -n 30 "$WORK/$SERVER_LOG_NAME" >&2
    fi
    exit 1
}

# now_us: wall clock in microseconds, without forking.
now_us() { local t=${EPOCHREALTIME//[!0-9]/}; echo "$((10#$t))"; }

# json_field NAME < json: the value of a flat string or number field.
json_field() {
    sed -n 's/.*"'"$1"'"[[:space:]]*:[[:space:]]*"\{0,1\}\([^",}]*\)"\{0,1\}.*/\1/p' | head -n 1
}

# Arithmetic on decimals (awk), formatting, and statistics over whitespace-separated lists.
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%s", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
best() { printf '%s\n' "$@" | sort -g | tail -n 1; }
least() { printf '%s\n' "$@" | sort -g | head -n 1; }
# verdict COND: OK when the awk condition holds, MISS otherwise.
verdict() { if awk "BEGIN { exit !($1) }"; then echo OK; else echo MISS; fi; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL CODE PID WHAT: poll until URL answers CODE, for at most 30 s.
wait_http() {
    local url=$1 want=$2 pid=$3 what=$4 i code
    for ((i = 0; i < 300; i++)); do
        kill -0 "$pid" 2>/dev/null || die "$what exited during start-up"
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" || true)
        [[ $code == "$want" ]] && return 0
        sleep 0.1
    done
    die "$what did not answer $want on $url within 30 s (last: $code)"
}

# busy_sample: how many tasks besides this shell are runnable right now (5 looks, 20 ms
# apart), taken between steps when nothing of ours runs. The load average cannot tell that:
# it still counts the build that just ran.
BUSY=()
busy_sample() {
    local _l1 _l5 _l15 rt _last i
    for ((i = 0; i < 5; i++)); do
        read -r _l1 _l5 _l15 rt _last </proc/loadavg
        BUSY+=($((${rt%/*} - 1)))
        sleep 0.02
    done
}

server_alive() { kill -0 "$SERVER_PID" 2>/dev/null || die "the qopy server (pid $SERVER_PID) has died"; }

# ---------------------------------------------------------------------------------------------
# Chunk uploads: STREAMS curl processes, each one keep-alive connection sending its share of
# the chunks (stream s sends chunks s, s+STREAMS, ...) as raw PUT bodies.

# put_chunks URL_PREFIX CHUNK_DIR N EXPECTED_CODE: PUT CHUNK_DIR/chunk.NNN to URL_PREFIX/<n>.
put_chunks() {
    local prefix=$1 dir=$2 n=$3 want=$4 s i pids=() args
    local out=$WORK/put
    rm -rf "$out" && mkdir -p "$out"
    for ((s = 0; s < STREAMS; s++)); do
        args=()
        for ((i = s; i < n; i += STREAMS)); do
            ((${#args[@]} == 0)) || args+=(--next)
            args+=(-sS --max-time 120 -H 'Content-Type: application/octet-stream' -H 'Expect:'
                -T "$(printf '%s/chunk.%03d' "$dir" "$i")" -o "$out/body.$i"
                -w "$i %{http_code}\n" "$prefix/$i")
        done
        curl "${args[@]}" >"$out/codes.$s" 2>"$out/err.$s" &
        pids+=($!)
        BG_PIDS+=($!)
    done
    local failed=0 pid
    for pid in "${pids[@]}"; do
        wait "$pid" || failed=1
        forget_pid "$pid"
    done
    local bad
    bad=$(cat "$out"/codes.* | awk -v w="$want" '$2 != w' | head -n 3)
    if ((failed)) || [[ -n $bad ]] || (($(cat "$out"/codes.* | wc -l) != n)); then
        cat "$out"/err.* >&2
        if [[ -n $bad ]]; then
            echo "first failing chunks (chunk, HTTP status):" >&2
            echo "$bad" >&2
            local first=${bad%% *}
            echo "response body of chunk $first: $(head -c 300 "$out/body.$first" 2>/dev/null)" >&2
        fi
        return 1
    fi
}

# qopy_upload NAME DIR N SIZE: initiate -> chunks -> complete through the API.
# Sets UP_US (wall time, microseconds), UP_CLIP (clip ID), UP_COMPLETE_MS (the complete call).
qopy_upload() {
    local name=$1 dir=$2 n=$3 size=$4 base=http://127.0.0.1:$QPORT resp code body id t0 t1
    t0=$(now_us)
    resp=$(curl -sS --max-time 10 -X POST -H 'Content-Type: application/json' \
        -d "{\"filename\":\"$name\",\"filesize\":$size,\"totalChunks\":$n,\"contentType\":\"file\",\"expiration\":\"1hr\"}" \
        -w '\n%{http_code}' "$base/api/upload/initiate") || die "initiate: curl failed"
    code=${resp##*$'\n'}
    body=${resp%$'\n'*}
    [[ $code == 200 ]] || die "POST /api/upload/initiate ($name, $n chunks) -> HTTP $code: $body"
    id=$(json_field uploadId <<<"$body")
    [[ -n $id ]] || die "initiate answered without an uploadId: $body"
    put_chunks "$base/api/upload/chunk/$id" "$dir" "$n" 200 || { server_alive; die "chunk upload to qopy failed"; }
    resp=$(curl -sS --max-time 60 -X POST -H 'Content-Type: application/json' -d '{}' \
        -w '\n%{http_code} %{time_total}' "$base/api/upload/complete/$id") || die "complete: curl failed"
    t1=$(now_us)
    code=${resp##*$'\n'}
    body=${resp%$'\n'*}
    [[ ${code%% *} == 200 ]] || die "POST /api/upload/complete -> HTTP ${code%% *}: $body"
    UP_CLIP=$(json_field clipId <<<"$body")
    [[ -n $UP_CLIP ]] || die "complete answered without a clipId: $body"
    UP_COMPLETE_MS=$(calc "${code#* } * 1000" 2)
    UP_US=$((t1 - t0))
}

nginx_upload() {
    local dir=$1 n=$2 t0 t1
    t0=$(now_us)
    put_chunks "http://127.0.0.1:$NPORT/upload" "$dir" "$n" 204 || die "chunk upload to nginx failed"
    t1=$(now_us)
    UP_US=$((t1 - t0))
}

# disk_write CHUNK_DIR: the disk's own speed for what an upload must do at least: write the
# same chunk files into the data directory's file system, each fsync'd, STREAMS at a time
# (dd conv=fsync), then fsync the directory. Sets UP_US.
disk_write() {
    local dir=$1 dst=$WORK/disk t0 t1
    rm -rf "$dst" && mkdir "$dst"
    t0=$(now_us)
    (cd "$dir" && ls) | xargs -P "$STREAMS" -I{} dd if="$dir/{}" of="$dst/{}" bs=5M conv=fsync status=none ||
        die "dd into $dst failed"
    sync -- "$dst"
    t1=$(now_us)
    rm -rf "$dst"
    UP_US=$((t1 - t0))
}

mibps() { calc "$1 / $MIB / ($2 / 1000000)" 1; }   # mibps BYTES MICROSECONDS

# download URL METHOD [OUTFILE]: prints "<http code> <bytes> <bytes per second>".
download() {
    local url=$1 method=$2 out=${3:-/dev/null}
    if [[ $method == POST ]]; then
        curl -sS --max-time 120 -o "$out" -X POST -H 'Content-Type: application/json' -d '{}' \
            -w '%{http_code} %{size_download} %{speed_download}\n' "$url"
    else
        curl -sS --max-time 120 -o "$out" -w '%{http_code} %{size_download} %{speed_download}\n' "$url"
    fi
}

# ---------------------------------------------------------------------------------------------
# RSS sampling: RssAnon of the server every 50 ms, the peak (KiB) written to a file.

sample_rss() {
    local pid=$1 out=$2 stop=$3 peak=0 k v _
    while [[ ! -e $stop ]] && [[ -r /proc/$pid/status ]]; do
        while read -r k v _; do
            if [[ $k == RssAnon: ]]; then
                if ((v > peak)); then peak=$v; echo "$peak" >"$out"; fi
                break
            fi
        done </proc/"$pid"/status
        sleep 0.05
    done
    echo "$peak" >"$out"
}

SAMPLER_PID=""
start_sampler() {   # start_sampler NAME
    rm -f "$WORK/rss.$1" "$WORK/rss.$1.stop"
    sample_rss "$SERVER_PID" "$WORK/rss.$1" "$WORK/rss.$1.stop" &
    SAMPLER_PID=$!
    BG_PIDS+=("$SAMPLER_PID")
}
stop_sampler() {    # stop_sampler NAME: prints the peak in MiB
    touch "$WORK/rss.$1.stop"
    wait "$SAMPLER_PID" || true
    forget_pid "$SAMPLER_PID"
    calc "$(cat "$WORK/rss.$1") / 1024" 1
}
rss_now_mib() { awk '/^RssAnon:/ { printf "%.1f", $2 / 1024 }' /proc/"$SERVER_PID"/status; }

# ---------------------------------------------------------------------------------------------
# wrk

# run_wrk URL CONNECTIONS NAME: sets W_RPS, W_P50, W_P99 (ms), W_ERR (empty when clean).
run_wrk() {
    local url=$1 conns=$2 name=$3 out=$WORK/wrk.$3.$2
    local cmd=("${WRK_PIN[@]}" wrk -t2 "-c$conns" "-d$WRK_DURATION" --latency "$url")
    log "${cmd[*]}"
    [[ " ${WRK_CMDS[*]} " == *" ${cmd[*]} "* ]] || WRK_CMDS+=("${cmd[*]}")
    "${cmd[@]}" >"$out" 2>&1 || die "wrk failed: $(cat "$out")"
    W_RPS=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
    W_P50=$(wrk_pct 50% "$out")
    W_P99=$(wrk_pct 99% "$out")
    W_ERR=$(grep -E '^ *(Non-2xx|Socket errors)' "$out" | tr -s ' ' | paste -sd ';' - || true)
    [[ -n $W_RPS && -n $W_P50 && -n $W_P99 ]] || die "could not parse wrk output: $(cat "$out")"
}

# wrk_pct 99% FILE: that latency percentile, converted to milliseconds.
wrk_pct() {
    awk -v p="$1" '$1 == p {
        v = $2; u = v; sub(/[a-z]+$/, "", v); sub(/^[0-9.]+/, "", u)
        if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000
        printf "%.3f", v; exit }' "$2"
}

# ---------------------------------------------------------------------------------------------
# Concurrency sweep (issue 10: concurrent chunk writes wedged the store). For each chunk size
# in SWEEP_CHUNKS and each count N in SWEEP_LEVELS, a fresh qopy (empty data directory,
# --chunk-size, rate limits and the per-address connection cap off) gets N concurrent
# uploaders, each one file of SWEEP_TOTAL_MIB/N MiB with 3 chunk PUTs in flight, from the
# upload_sweep client. A fresh server per level, so that a level that wedges the server does
# not spoil the next one. Rows go to SWEEP_ROWS, verdicts to SWEEP_TARGETS.

SWEEP_ROWS=()
SWEEP_TARGETS=()
SWEEP_CMD_SHOWN=""
declare -A SWEEP_MIBPS

# build_sweep_client: sets SWEEP_BIN to the upload_sweep client, building it if not given.
build_sweep_client() {
    [[ -n $SWEEP_BIN ]] && { [[ -x $SWEEP_BIN ]] || die "SWEEP_BIN=$SWEEP_BIN is not executable"; return 0; }
    log "cargo build --release --bench upload_sweep"
    SWEEP_BIN=$(cargo build --release --bench upload_sweep --message-format=json |
        python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "upload_sweep" and m.get("executable"):
        print(m["executable"])') || die "cargo build --release --bench upload_sweep failed"
    [[ -x $SWEEP_BIN ]] || die "could not find the upload_sweep binary"
}

# stop_sweep_server: TERM, up to 5 s grace, then KILL; sets STOPPED_BY to how it ended. (Not
# run in a subshell: only this shell can reap the server, and kill -0 sees a zombie as alive.)
stop_sweep_server() {
    local i
    kill -TERM "$SERVER_PID" 2>/dev/null
    for ((i = 0; i < 50; i++)); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            wait "$SERVER_PID" 2>/dev/null || true
            STOPPED_BY=SIGTERM
            return
        fi
        sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null || true
    STOPPED_BY="KILL (TERM ignored 5 s)"
}

# sweep_level CHUNK_BYTES N: one row of the table.
sweep_level() {
    local cs=$1 n=$2 size port out rc fields stop
    size=$((SWEEP_TOTAL_MIB * MIB / n))
    port=$(free_port)
    rm -rf "$WORK/sweep" && mkdir -p "$WORK/sweep"
    SERVER_LOG_NAME=sweep/qopy.log
    SWEEP_QOPY_CMD=("$QOPY_BIN" --listen "127.0.0.1:$port" --data-dir "$WORK/sweep/data" --rate-limits off
        --max-connections-per-address "$SWEEP_PER_ADDRESS" --chunk-size "$cs")
    "${SWEEP_QOPY_CMD[@]}" >"$WORK/sweep/qopy.log" 2>&1 &
    SERVER_PID=$!
    wait_http "http://127.0.0.1:$port/api/health" 200 "$SERVER_PID" "qopy (sweep, chunk size $cs)"
    local cmd=("$SWEEP_BIN" --url "http://127.0.0.1:$port" --uploaders "$n" --file-size "$size"
        --chunk-size "$cs" --streams "$STREAMS" --stall-secs "$SWEEP_STALL_SECS" --timeout-secs 60)
    [[ -n $SWEEP_CMD_SHOWN ]] || SWEEP_CMD_SHOWN="${cmd[*]}"
    log "sweep: $n uploaders x $((size / MIB)) MiB, chunks of $((cs / MIB)) MiB"
    rc=0
    out=$(timeout $((SWEEP_STALL_SECS + 120)) "${cmd[@]}" 2>"$WORK/sweep/client.err") || rc=$?
    if kill -0 "$SERVER_PID" 2>/dev/null; then stop_sweep_server; else STOPPED_BY=DIED; fi
    stop=$STOPPED_BY
    SERVER_PID=""
    if ((rc != 0)) || [[ -z $out ]]; then
        FAILURES+=("sweep client, $n uploaders, chunk $cs: exit $rc: $(head -c 300 "$WORK/sweep/client.err")")
        out='{"mibps": 0, "errors": -1, "stalled": true, "puts": 0}'
    fi
    # One line: mibps p50 p99 errors stalled puts completed, then the first error (the rest).
    fields=$(python3 -c 'import json, sys
d = json.loads(sys.stdin.read())
f = lambda v: "-" if v is None else ("%.1f" % v if isinstance(v, float) else str(v))
nums = [f(d.get(k)) for k in ("mibps", "p50Ms", "p99Ms", "errors", "stalled", "puts", "completed")]
print(" ".join(nums + [" ".join(str(d.get("firstError") or "").split())]))' <<<"$out") ||
        die "could not parse the sweep client output: $out"
    local mibps p50 p99 errors stalled puts completed first
    read -r mibps p50 p99 errors stalled puts completed first <<<"$fields"
    [[ $stalled == True ]] && stalled=STALL || stalled=no
    SWEEP_MIBPS[$cs.$n]=$mibps
    SWEEP_ERR[$cs]=$((${SWEEP_ERR[$cs]:-0} + (errors == 0 ? 0 : 1)))
    [[ $stalled == no ]] || SWEEP_STALLS[$cs]=$((${SWEEP_STALLS[$cs]:-0} + 1))
    SWEEP_ROWS+=("$(printf '%-6s | %9s | %8s | %6s | %8s | %9s | %9s | %6s | %-5s | %s' \
        "$((cs / MIB)) MiB" "$n" "$(calc "$size / $MIB" 1)" "$puts" "$mibps" "$p50" "$p99" "$errors" "$stalled" "$stop")")
    [[ -z $first ]] || SWEEP_ROWS+=("         first error: ${first:0:150}")
    log "sweep: $n uploaders, chunk $((cs / MIB)) MiB: $mibps MiB/s, p50 $p50 ms, p99 $p99 ms, $errors errors, stall $stalled, stopped by $stop"
}

# sweep_step: every level of every chunk size, then the verdicts.
declare -A SWEEP_ERR SWEEP_STALLS
sweep_step() {
    local cs n one at32 ratio
    for cs in $SWEEP_CHUNKS; do
        for n in $SWEEP_LEVELS; do sweep_level "$cs" "$n"; done
        local label="$((cs / MIB)) MiB chunks"
        if ((${SWEEP_ERR[$cs]:-0} == 0)); then
            SWEEP_TARGETS+=("OK      $label: zero errors at every level")
        else
            SWEEP_TARGETS+=("MISSED  $label: errors at ${SWEEP_ERR[$cs]} level(s)")
        fi
        if ((${SWEEP_STALLS[$cs]:-0} == 0)); then
            SWEEP_TARGETS+=("OK      $label: no stall at any level")
        else
            SWEEP_TARGETS+=("MISSED  $label: stalled at ${SWEEP_STALLS[$cs]} level(s) (nothing finished for ${SWEEP_STALL_SECS} s)")
        fi
        one=${SWEEP_MIBPS[$cs.1]:-} at32=${SWEEP_MIBPS[$cs.32]:-}
        if [[ -n $one && -n $at32 ]] && [[ $(verdict "$one > 0") == OK ]]; then
            ratio=$(calc "$at32 / $one" 2)
            if [[ $(verdict "$ratio >= 0.8") == OK ]]; then
                SWEEP_TARGETS+=("OK      $label: 32 uploaders $at32 MiB/s = $ratio x one uploader's $one (target >= 0.8)")
            else
                SWEEP_TARGETS+=("MISSED  $label: 32 uploaders $at32 MiB/s = $ratio x one uploader's $one (target >= 0.8)")
            fi
        else
            SWEEP_TARGETS+=("MISSED  $label: 32 uploaders vs one: not measured (SWEEP_LEVELS=$SWEEP_LEVELS, or one uploader moved nothing)")
        fi
    done
    SERVER_LOG_NAME=qopy.log
}

# sweep_report: the sweep's table, targets and notes.
sweep_report() {
    echo "Concurrency sweep [8]: qopy ${SWEEP_QOPY_CMD[*]:1}"
    echo "  (a fresh server and data directory per row; the listen port and chunk size vary)"
    echo
    printf '%-6s | %9s | %8s | %6s | %8s | %9s | %9s | %6s | %-5s | %s\n' chunk uploaders "file MiB" PUTs "MiB/s" "p50 ms" "p99 ms" errors stall "server stopped by"
    printf '%s\n' "-------+-----------+----------+--------+----------+-----------+-----------+--------+-------+------------------"
    printf '%s\n' "${SWEEP_ROWS[@]}"
    echo
    printf '%s\n' "${SWEEP_TARGETS[@]}"
    echo
    echo "[8] Each uploader: POST /api/upload/initiate, its chunks as raw PUTs with $STREAMS in flight on"
    echo "    keep-alive connections, POST /api/upload/complete; $SWEEP_TOTAL_MIB MiB per row in all. MiB/s: acknowledged"
    echo "    chunk bytes over the wall time from the first initiate to the last answer (to the stall when"
    echo "    stalled). p50/p99: chunk PUTs that answered 200. errors: failed requests (non-2xx, client"
    echo "    timeout 60 s, connection errors) and, at a STALL (nothing finished for $SWEEP_STALL_SECS s, the row"
    echo "    stops there), every request still unanswered."
    echo "    Client and server share the machine's CPUs, unpinned. Client: $SWEEP_CMD_SHOWN"
}

# ---------------------------------------------------------------------------------------------
# 0. Preconditions and build

TOOLS=(curl python3 awk sed timeout)
((SWEEP_ONLY)) || TOOLS+=(wrk nginx sha256sum split)
for tool in "${TOOLS[@]}"; do
    command -v "$tool" >/dev/null || die "$tool is missing (Debian: apt-get update && apt-get install -y wrk nginx-light curl)"
done
NGINX_BIN=$(command -v nginx || true)

CORES=$(nproc)
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
log "invoked as: $INVOCATION"
log "machine: $CORES cores (${CPU_MODEL:-unknown CPU}), $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM"

if ((BUILD)); then
    log "cargo build --release"
    cargo build --release || die "cargo build --release failed"
fi
[[ -x $QOPY_BIN ]] || die "$QOPY_BIN does not exist (build it, or drop --no-build)"
((SWEEP)) && build_sweep_client

# From here on the run is bounded in time.
( trap 'kill "$s" 2>/dev/null; wait "$s"; exit 0' TERM
  sleep "$LOAD_TIME_LIMIT" & s=$!
  wait "$s"
  echo "load.sh: time limit of ${LOAD_TIME_LIMIT}s reached" >&2
  kill -TERM $$ ) &
WATCHDOG_PID=$!
T_START=$(now_us)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
busy_sample

WORK=$(mktemp -d /tmp/qopy-load.XXXXXX)
chmod 755 "$WORK"        # nginx workers (user nobody when run as root) read files under it
mkdir -p "$WORK/data" "$WORK/www" "$WORK/nginx" "$WORK/c100" "$WORK/c1g"

if ((SWEEP_ONLY)); then
    sweep_step
    T_TOTAL=$(calc "($(now_us) - $T_START) / 1000000" 0)
    SWEEP_REPORT=$TARGET_DIR/sweep-report.txt
    {
        echo "Qopy concurrency sweep, $(date -u '+%Y-%m-%d %H:%M UTC') on $(hostname)"
        echo "Command line:  $INVOCATION   (in $ORIG_PWD)"
        echo "Machine:       $CORES cores, ${CPU_MODEL:-unknown CPU}; $(uname -sr)"
        echo "Load:          load average $LOAD_START at the start (the build included), $(cut -d' ' -f1-3 /proc/loadavg) at the end"
        echo "qopy:          git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "no commit")$([[ -n $(git -C "$ROOT" status --porcelain 2>/dev/null) ]] && echo ", uncommitted changes" || true)"
        echo
        sweep_report
        if ((${#FAILURES[@]})); then
            echo
            echo "FAILED steps:"
            printf '  - %s\n' "${FAILURES[@]}"
        fi
        echo
        echo "Measured in ${T_TOTAL}s (build excluded)."
    } >"$WORK/report.txt"
    mkdir -p "$TARGET_DIR"
    cp "$WORK/report.txt" "$SWEEP_REPORT.tmp"
    mv "$SWEEP_REPORT.tmp" "$SWEEP_REPORT"
    echo
    cat "$SWEEP_REPORT"
    log "report written to $SWEEP_REPORT"
    ((${#FAILURES[@]} == 0)) || exit 1
    exit 0
fi

# ---------------------------------------------------------------------------------------------
# 1. Start qopy

QPORT=$(free_port)
# Every load comes from 127.0.0.1, and wrk opens 64 connections at once: no per-address cap.
QOPY_CMD=("$QOPY_BIN" --listen "127.0.0.1:$QPORT" --data-dir "$WORK/data" --rate-limits off
    --max-connections-per-address 0)
log "starting: ${QOPY_CMD[*]}"
"${QOPY_CMD[@]}" >"$WORK/qopy.log" 2>&1 &
SERVER_PID=$!
QOPY_MAIN_PID=$SERVER_PID
wait_http "http://127.0.0.1:$QPORT/api/health" 200 "$SERVER_PID" "qopy"
RSS_IDLE=$(rss_now_mib)
log "qopy is up (pid $SERVER_PID, RssAnon ${RSS_IDLE} MiB)"

# ---------------------------------------------------------------------------------------------
# Test files, then nginx as the baseline (foreground, 2 workers, everything under $WORK/nginx)

log "creating the 100 MiB test file"
head -c "$SMALL_SIZE" /dev/urandom >"$WORK/www/bench.bin"
split -b "$CHUNK_SIZE" -d -a 3 "$WORK/www/bench.bin" "$WORK/c100/chunk."
(($(ls "$WORK/c100" | wc -l) == SMALL_CHUNKS)) || die "split did not produce $SMALL_CHUNKS chunks"
SHA_ORIG=$(sha256sum "$WORK/www/bench.bin" | cut -d' ' -f1)
# Flush the test files now, so that the server's fsyncs do not pay for their writeback.
sync -- "$WORK/www/bench.bin" "$WORK"/c100/*
# A ~150-byte JSON document, the size of a clip-info answer.
printf '{"success":true,"clipId":"ABCDEFGHJK","contentType":"file","expiresAt":1767225600000,"oneTime":false,"hasPassword":false,"padding":"xxxxxxxxxxxxxxxxx"}' \
    >"$WORK/www/small.json"
chmod 644 "$WORK/www/"*

NPORT=$(free_port)
# The CPU split of the small-request runs (see section 4); nginx gets one worker per CPU it
# will have there, as its documentation recommends, so that pinning does not handicap it.
NCPU=$(nproc)
ALL_CPUS="0-$((NCPU - 1))"
WRK_PIN=()
PIN_NOTE="not pinned (PIN=$PIN, $NCPU CPUs)"
if [[ $PIN == 1 ]] && ((NCPU >= 2)); then NGINX_WORKERS=$((NCPU / 2)); else NGINX_WORKERS=$NCPU; fi
USER_DIRECTIVE=""
((EUID == 0)) && USER_DIRECTIVE="user nobody nogroup;"
sed -e "s|@PREFIX@|$WORK/nginx|g" -e "s|@PORT@|$NPORT|g" -e "s|@WWW@|$WORK/www|g" \
    -e "s|@USER_DIRECTIVE@|$USER_DIRECTIVE|" -e "s|@WORKERS@|$NGINX_WORKERS|" "$ROOT/benches/nginx.conf.template" >"$WORK/nginx/nginx.conf"
NGINX_CMD=("$NGINX_BIN" -e "$WORK/nginx/error.log" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf")
"${NGINX_CMD[@]}" -t -q 2>"$WORK/nginx/test.log" || die "nginx rejects the generated config: $(cat "$WORK/nginx/test.log")"
log "starting: ${NGINX_CMD[*]}"
"${NGINX_CMD[@]}" 2>>"$WORK/nginx/stderr.log" &
NGINX_PID=$!
wait_http "http://127.0.0.1:$NPORT/small.json" 200 "$NGINX_PID" "nginx"
log "nginx is up (pid $NGINX_PID, port $NPORT)"

# ---------------------------------------------------------------------------------------------
# 2. Chunked upload throughput, 100 MiB
busy_sample

Q_UP=() N_UP=() D_UP=() Q_COMPLETE=()
CLIP=""
for ((r = 1; r <= UPLOAD_RUNS; r++)); do
    qopy_upload bench.bin "$WORK/c100" "$SMALL_CHUNKS" "$SMALL_SIZE"
    Q_UP+=("$(mibps "$SMALL_SIZE" "$UP_US")")
    Q_COMPLETE+=("$UP_COMPLETE_MS")
    CLIP=$UP_CLIP
    nginx_upload "$WORK/c100" "$SMALL_CHUNKS"
    N_UP+=("$(mibps "$SMALL_SIZE" "$UP_US")")
    disk_write "$WORK/c100"
    D_UP+=("$(mibps "$SMALL_SIZE" "$UP_US")")
    busy_sample
    log "upload run $r: qopy ${Q_UP[-1]} MiB/s (complete ${Q_COMPLETE[-1]} ms, clip $CLIP), nginx ${N_UP[-1]} MiB/s, disk ${D_UP[-1]} MiB/s"
done

# ---------------------------------------------------------------------------------------------
# 3. Download throughput, 100 MiB
busy_sample

read -r code size _ < <(download "http://127.0.0.1:$QPORT/api/file/$CLIP" POST "$WORK/download.bin")
[[ $code == 200 ]] || die "POST /api/file/$CLIP -> HTTP $code: $(head -c 300 "$WORK/download.bin")"
SHA_DOWN=$(sha256sum "$WORK/download.bin" | cut -d' ' -f1)
rm -f "$WORK/download.bin"
if [[ $SHA_DOWN == "$SHA_ORIG" ]]; then SHA_OK=yes; else
    SHA_OK="NO ($size bytes)"
    FAILURES+=("the downloaded 100 MiB file differs from the uploaded one ($size bytes, sha256 $SHA_DOWN)")
fi
log "download sha256 matches: $SHA_OK"

Q_DOWN=() N_DOWN=()
for ((r = 1; r <= DOWNLOAD_RUNS; r++)); do
    read -r code size speed < <(download "http://127.0.0.1:$QPORT/api/file/$CLIP" POST)
    [[ $code == 200 && $size == "$SMALL_SIZE" ]] || die "qopy download: HTTP $code, $size bytes"
    Q_DOWN+=("$(calc "$speed / $MIB" 1)")
    read -r code size speed < <(download "http://127.0.0.1:$NPORT/bench.bin" GET)
    [[ $code == 200 && $size == "$SMALL_SIZE" ]] || die "nginx download: HTTP $code, $size bytes"
    N_DOWN+=("$(calc "$speed / $MIB" 1)")
    log "download run $r: qopy ${Q_DOWN[-1]} MiB/s, nginx ${N_DOWN[-1]} MiB/s"
done

# ---------------------------------------------------------------------------------------------
# 4. Small-request rate
busy_sample

INFO_URL=http://127.0.0.1:$QPORT/api/clip/$CLIP/info
code=$(curl -sS -o "$WORK/info.json" -w '%{http_code}' --max-time 5 "$INFO_URL")
[[ $code == 200 ]] || die "GET /api/clip/$CLIP/info -> HTTP $code: $(cat "$WORK/info.json")"
INFO_BYTES=$(stat -c %s "$WORK/info.json")
WRK_CMDS=()
# With PIN=1 and at least 2 CPUs, the servers (every thread of qopy; nginx's master and
# workers) run on the first half of the CPUs and wrk on the other half during these runs, the
# same split for both. On a small machine wrk's threads otherwise compete with the server for
# the same cores, and the latency tail measures the CPU scheduler: on 2 vCPUs, runnable
# threads were seen waiting up to 4 ms. PIN=0 runs them unpinned, as before.
# pin_all CPUS PID...: moves every thread of each PID to CPUS.
pin_all() {
    local cpus=$1 pid
    shift
    for pid in "$@"; do taskset -a -p -c "$cpus" "$pid" >/dev/null || die "taskset failed for pid $pid"; done
}
server_pids() { echo "$SERVER_PID $NGINX_PID $(pgrep -P "$NGINX_PID" | tr '\n' ' ')"; }
if [[ $PIN == 1 ]] && ((NCPU >= 2)); then
    command -v taskset >/dev/null && command -v pgrep >/dev/null || die "taskset or pgrep is missing (Debian: util-linux, procps)"
    SERVER_CPUS="0-$((NCPU / 2 - 1))"
    LOADGEN_CPUS="$((NCPU / 2))-$((NCPU - 1))"
    # shellcheck disable=SC2046  # one word per pid
    pin_all "$SERVER_CPUS" $(server_pids)
    WRK_PIN=(taskset -c "$LOADGEN_CPUS")
    PIN_NOTE="qopy and nginx on CPUs $SERVER_CPUS, wrk on CPUs $LOADGEN_CPUS (PIN=1)"
    log "small requests: $PIN_NOTE"
fi
# WRK_RUNS alternating runs per connection count; every figure reported is the median of its
# runs (a single 10 s run's p99 on 2 shared cores moves by a millisecond from run to run).
declare -A RPS P50 P99 ALL_RPS ALL_P99 P50S
for conns in 16 64; do
    for ((run = 1; run <= WRK_RUNS; run++)); do
        for side in q n; do
            if [[ $side == q ]]; then
                run_wrk "$INFO_URL" "$conns" qopy
            else
                run_wrk "http://127.0.0.1:$NPORT/small.json" "$conns" nginx
            fi
            [[ -z $W_ERR ]] || FAILURES+=("wrk against $side, $conns connections: $W_ERR")
            ALL_RPS[$side$conns]+="$W_RPS " ALL_P99[$side$conns]+="$W_P99 "
            P50S[$side$conns]+="$W_P50 "
        done
    done
    for side in q n; do
        # shellcheck disable=SC2086  # word splitting of the lists is intended
        RPS[$side$conns]=$(median ${ALL_RPS[$side$conns]})
        # shellcheck disable=SC2086
        P50[$side$conns]=$(median ${P50S[$side$conns]})
        # shellcheck disable=SC2086
        P99[$side$conns]=$(median ${ALL_P99[$side$conns]})
    done
    log "$conns connections: qopy ${RPS[q$conns]} req/s (p99 ${P99[q$conns]} ms), nginx ${RPS[n$conns]} req/s (p99 ${P99[n$conns]} ms)"
done
if ((${#WRK_PIN[@]})); then
    # shellcheck disable=SC2046
    pin_all "$ALL_CPUS" $(server_pids)
fi
server_alive

# ---------------------------------------------------------------------------------------------
# 5. Memory while 1 GiB goes up and comes back down
busy_sample

log "creating the 1 GiB test file as $BIG_CHUNKS chunk files (streamed, never held in memory)"
head -c "$BIG_SIZE" /dev/urandom | split -b "$CHUNK_SIZE" -d -a 3 - "$WORK/c1g/chunk."
(($(ls "$WORK/c1g" | wc -l) == BIG_CHUNKS)) || die "split did not produce $BIG_CHUNKS chunks"
sync -- "$WORK"/c1g/*
RSS_BEFORE_BIG=$(rss_now_mib)
start_sampler up
qopy_upload big.bin "$WORK/c1g" "$BIG_CHUNKS" "$BIG_SIZE"
RSS_UP=$(stop_sampler up)
BIG_UP=$(mibps "$BIG_SIZE" "$UP_US")
BIG_COMPLETE=$UP_COMPLETE_MS
BIG_CLIP=$UP_CLIP
log "1 GiB upload: $BIG_UP MiB/s, complete $BIG_COMPLETE ms, RssAnon peak $RSS_UP MiB"
disk_write "$WORK/c1g"
BIG_DISK=$(mibps "$BIG_SIZE" "$UP_US")
rm -rf "$WORK/c1g"
log "1 GiB written by dd with fsync: $BIG_DISK MiB/s"
start_sampler down
read -r code size speed < <(download "http://127.0.0.1:$QPORT/api/file/$BIG_CLIP" POST)
RSS_DOWN=$(stop_sampler down)
[[ $code == 200 && $size == "$BIG_SIZE" ]] || die "1 GiB download: HTTP $code, $size bytes"
BIG_DOWN=$(calc "$speed / $MIB" 1)
log "1 GiB download: $BIG_DOWN MiB/s, RssAnon peak $RSS_DOWN MiB"
RSS_PEAK=$(best "$RSS_UP" "$RSS_DOWN")
server_alive

# ---------------------------------------------------------------------------------------------
# 6. Concurrency sweep (see sweep_step), once the main server is stopped
if ((SWEEP)); then
    stop_pid "$SERVER_PID"
    SERVER_PID=""
    sweep_step
fi
busy_sample
T_TOTAL=$(calc "($(now_us) - $T_START) / 1000000" 0)
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
BUSY_MEAN=$(printf '%s\n' "${BUSY[@]}" | awk '{ s += $1 } END { printf "%.2f", s / NR }')
BUSY_NOTE="an idle machine gives 0"
[[ $(verdict "$BUSY_MEAN < 0.3") == OK ]] ||
    BUSY_NOTE="MACHINE BUSY: other work was running, so these numbers are noisy"

# ---------------------------------------------------------------------------------------------
# Report

ratio() { calc "$1 / $2" 2; }
UP_Q_MED=$(median "${Q_UP[@]}") UP_Q_BEST=$(best "${Q_UP[@]}")
UP_N_MED=$(median "${N_UP[@]}") UP_N_BEST=$(best "${N_UP[@]}")
UP_D_MED=$(median "${D_UP[@]}") UP_D_BEST=$(best "${D_UP[@]}")
DN_Q_MED=$(median "${Q_DOWN[@]}") DN_Q_BEST=$(best "${Q_DOWN[@]}")
DN_N_MED=$(median "${N_DOWN[@]}") DN_N_BEST=$(best "${N_DOWN[@]}")
DN_RATIO=$(ratio "$DN_Q_MED" "$DN_N_MED")
COMPLETE_MED=$(median "${Q_COMPLETE[@]}")
GIT_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "no commit")
GIT_DIRTY=$([[ -n $(git -C "$ROOT" status --porcelain 2>/dev/null) ]] && echo ", uncommitted changes" || true)

row() { printf '%-44s | %-25s | %-27s | %-6s | %-17s | %s\n' "$@"; }
{
    echo "Qopy load report, $(date -u '+%Y-%m-%d %H:%M UTC') on $(hostname)"
    echo "Command line:  $INVOCATION   (in $ORIG_PWD)"
    echo "Settings:      WRK_DURATION=$WRK_DURATION WRK_RUNS=$WRK_RUNS PIN=$PIN UPLOAD_RUNS=$UPLOAD_RUNS DOWNLOAD_RUNS=$DOWNLOAD_RUNS RUST_LOG=${RUST_LOG:-unset}"
    echo "Machine:       $CORES cores, ${CPU_MODEL:-unknown CPU}; $(uname -sr)"
    echo "Load:          load average $LOAD_START at the start (the build included), $LOAD_END at the end;"
    echo "               other runnable tasks between steps: mean $BUSY_MEAN over ${#BUSY[@]} looks ($BUSY_NOTE)"
    echo "qopy:          ${QOPY_CMD[*]}   (git $GIT_REV$GIT_DIRTY)"
    echo "nginx:         ${NGINX_CMD[*]}   ($("$NGINX_BIN" -v 2>&1 | sed 's/^nginx version: //'), worker_processes $NGINX_WORKERS, sendfile on)"
    echo "Tools:         $(curl --version | head -n 1 | cut -d' ' -f1-2), $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2); all traffic on 127.0.0.1"
    echo
    row "measurement" "qopy" "baseline" "ratio" "target" "verdict"
    row "--------------------------------------------" "-------------------------" "---------------------------" "------" "-----------------" "-------"
    row "upload 100 MiB, MiB/s median (best) [1]" "$UP_Q_MED ($UP_Q_BEST)" "nginx $UP_N_MED ($UP_N_BEST) [2]" "$(ratio "$UP_Q_MED" "$UP_N_MED")" "qopy >= 400" "$(verdict "$UP_Q_MED >= 400")"
    row "  same chunks to disk with fsync [7]" "" "disk $UP_D_MED ($UP_D_BEST)" "$(ratio "$UP_Q_MED" "$UP_D_MED")" "-" "-"
    row "complete of 100 MiB, ms median [3]" "$COMPLETE_MED" "-" "-" "< 10 ms" "$(verdict "$COMPLETE_MED < 10")"
    row "download 100 MiB, MiB/s median (best) [4]" "$DN_Q_MED ($DN_Q_BEST)" "nginx $DN_N_MED ($DN_N_BEST)" "$DN_RATIO" "ratio >= 0.90" "$(verdict "$DN_RATIO >= 0.90")"
    row "download sha256 equals original" "$SHA_OK" "-" "-" "yes" "$([[ $SHA_OK == yes ]] && echo OK || echo MISS)"
    for conns in 16 64; do
        r=$(ratio "${RPS[q$conns]}" "${RPS[n$conns]}")
        row "small requests/s, $conns conns [5]" "${RPS[q$conns]}" "nginx ${RPS[n$conns]}" "$r" "ratio >= 0.50" "$(verdict "$r >= 0.5")"
        if ((conns == 64)); then
            row "  latency p50 / p99 ms, $conns conns" "${P50[q$conns]} / ${P99[q$conns]}" "nginx ${P50[n$conns]} / ${P99[n$conns]}" "-" "qopy p99 < 2 ms" "$(verdict "${P99[q$conns]} < 2")"
        else
            row "  latency p50 / p99 ms, $conns conns" "${P50[q$conns]} / ${P99[q$conns]}" "nginx ${P50[n$conns]} / ${P99[n$conns]}" "-" "-" "-"
        fi
    done
    row "RssAnon peak MiB, 1 GiB up + down [6]" "$RSS_PEAK" "-" "-" "< 64 MiB" "$(verdict "$RSS_PEAK < 64")"
    row "  RssAnon MiB idle / before / up / down" "$RSS_IDLE / $RSS_BEFORE_BIG / $RSS_UP / $RSS_DOWN" "-" "-" "-" "-"
    row "upload 1 GiB (205 chunks), MiB/s [7]" "$BIG_UP" "disk $BIG_DISK" "$(ratio "$BIG_UP" "$BIG_DISK")" "-" "-"
    row "complete of 1 GiB, ms [3]" "$BIG_COMPLETE" "-" "-" "<= 100 MiB's" "$(verdict "$BIG_COMPLETE <= 10 || $BIG_COMPLETE <= 1.5 * $COMPLETE_MED")"
    row "download 1 GiB, MiB/s" "$BIG_DOWN" "-" "-" "-" "-"
    echo
    echo "[1] POST /api/upload/initiate -> 20 x 5 MiB raw PUT /api/upload/chunk/<id>/<n> on $STREAMS parallel"
    echo "    keep-alive curl streams -> POST /api/upload/complete/<id>, wall time end to end; $UPLOAD_RUNS runs:"
    echo "    qopy ${Q_UP[*]} MiB/s; nginx ${N_UP[*]} MiB/s. The verdict uses the median."
    echo "[2] Baseline only: nginx reads each 5 MiB PUT body and discards it (return 204), storing"
    echo "    nothing; same chunks, same $STREAMS streams. It shows the cost of moving the bytes over loopback."
    echo "[3] curl's time_total for the complete call. SPEC: under 10 ms, and no slower for 1 GiB than"
    echo "    for 100 MiB (counted OK when under 10 ms or within 1.5x of the 100 MiB median)."
    echo "    100 MiB runs: ${Q_COMPLETE[*]} ms."
    echo "[4] curl %{speed_download} to /dev/null; qopy: POST /api/file/<clip> with {}, nginx: GET of the"
    echo "    same file (sendfile on); $DOWNLOAD_RUNS alternating runs, ratio of medians."
    echo "    qopy ${Q_DOWN[*]}; nginx ${N_DOWN[*]} MiB/s."
    echo "[5] qopy: GET /api/clip/<clip>/info ($INFO_BYTES-byte answer); nginx: a $(stat -c %s "$WORK/www/small.json")-byte static JSON file."
    for c in "${WRK_CMDS[@]}"; do echo "    $c"; done
    echo "    CPUs: $PIN_NOTE."
    echo "    $WRK_RUNS alternating runs each; medians shown. Every run, req/s and p99 ms:"
    for conns in 16 64; do
        echo "    $conns conns: qopy ${ALL_RPS[q$conns]}/ ${ALL_P99[q$conns]}; nginx ${ALL_RPS[n$conns]}/ ${ALL_P99[n$conns]}"
    done
    echo "[6] RssAnon from /proc/$QOPY_MAIN_PID/status every 50 ms while 1 GiB is uploaded (205 raw PUT"
    echo "    chunks, $STREAMS streams) and then downloaded to /dev/null. Mapped file pages do not count."
    echo "[7] Not a target but context: the same chunk files copied into the data directory's file system"
    echo "    by dd with conv=fsync, $STREAMS at a time, then the directory fsync'd: the disk work an upload that"
    echo "    makes each chunk durable cannot avoid. Measured at other moments than qopy's runs, so on a"
    echo "    busy machine either can come out ahead. 100 MiB runs: ${D_UP[*]} MiB/s."
    if ((SWEEP)); then
        echo
        sweep_report
    fi
    if ((${#FAILURES[@]})); then
        echo
        echo "FAILED steps:"
        printf '  - %s\n' "${FAILURES[@]}"
    fi
    echo
    echo "Measured in ${T_TOTAL}s (build excluded)."
} >"$WORK/report.txt"
mkdir -p "$TARGET_DIR"
cp "$WORK/report.txt" "$REPORT_FILE.tmp"
mv "$REPORT_FILE.tmp" "$REPORT_FILE"
echo
cat "$REPORT_FILE"
log "report written to $REPORT_FILE"

((${#FAILURES[@]} == 0)) || exit 1
