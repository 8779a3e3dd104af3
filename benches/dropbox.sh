#!/usr/bin/env bash
# Drop boxes against ordinary shares, with the command-line client on loopback: the time from
# starting `qopy send --to` with a short text until `qopy receive` has saved it (what a phone
# user waits for after scanning the code), and the MiB/s of a big file sent into a box and
# received, beside `qopy send` and `qopy get` of the same file. Uses target/release/qopy
# (build it first); SIZE_MIB (default 1024) and RUNS (default 3) set the file and the runs.
#
#   bash benches/dropbox.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${QOPY_BIN:-target/release/qopy}
SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-3}
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
"$BIN" --listen "127.0.0.1:$port" --data-dir "$tmp/data" --rate-limits off \
    --max-file-size 8GiB --dropbox-max-bytes 8GiB >"$tmp/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fs "$base/health" >/dev/null && break; sleep 0.1; done
export NO_PROXY='*' QOPY_SERVER="$base"

head -c $((SIZE_MIB * 1048576)) /dev/urandom >"$tmp/big.bin"
want=$(sha256sum <"$tmp/big.bin" | cut -d' ' -f1)
now() { date +%s.%N; }
mibs() { python3 -c "print(f'{$SIZE_MIB / ($2 - $1):.0f}')"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

up=(); down=(); boxup=(); boxdown=(); first=()
for run in $(seq "$RUNS"); do
    # Ordinary share: send, then get.
    t0=$(now); link=$("$BIN" send "$tmp/big.bin" 2>/dev/null | tail -1); t1=$(now)
    rm -f "$tmp/got.bin"; "$BIN" get "$link" -o "$tmp/got.bin" 2>/dev/null; t2=$(now)
    [ "$(sha256sum <"$tmp/got.bin" | cut -d' ' -f1)" = "$want" ] || { echo "get: wrong bytes" >&2; exit 1; }
    up+=("$(mibs "$t0" "$t1")"); down+=("$(mibs "$t1" "$t2")")

    # Drop box: receive in the background, a short text first, then the big file.
    inbox="$tmp/inbox$run"; mkdir -p "$inbox"
    "$BIN" receive -o "$inbox" >"$tmp/receive.out" 2>"$tmp/receive.err" &
    rpid=$!; pids+=("$rpid")
    for _ in $(seq 100); do [ -s "$tmp/receive.out" ] && break; sleep 0.05; done
    box=$(head -1 "$tmp/receive.out")
    echo "hello from the phone" >"$tmp/note.txt"
    t0=$(now); "$BIN" send --to "$box" "$tmp/note.txt" 2>/dev/null
    until [ -f "$inbox/note.txt" ]; do sleep 0.005; done; t1=$(now)
    first+=("$(python3 -c "print(f'{($t1 - $t0) * 1000:.0f}')")")
    t0=$(now); "$BIN" send --to "$box" "$tmp/big.bin" 2>/dev/null; t1=$(now)
    until [ -f "$inbox/big.bin" ]; do sleep 0.01; done; t2=$(now)
    [ "$(sha256sum <"$inbox/big.bin" | cut -d' ' -f1)" = "$want" ] || { echo "receive: wrong bytes" >&2; exit 1; }
    boxup+=("$(mibs "$t0" "$t1")"); boxdown+=("$(mibs "$t1" "$t2")")
    kill -INT "$rpid"; wait "$rpid" || true
    rm -rf "$inbox"
done

echo "qopy CLI on loopback, $SIZE_MIB MiB file, medians of $RUNS runs"
printf '%-44s %s\n' "ordinary: send MiB/s" "$(printf '%s\n' "${up[@]}" | median)"
printf '%-44s %s\n' "ordinary: get MiB/s" "$(printf '%s\n' "${down[@]}" | median)"
printf '%-44s %s\n' "drop box: send --to MiB/s" "$(printf '%s\n' "${boxup[@]}" | median)"
printf '%-44s %s\n' "drop box: receive MiB/s (after the send)" "$(printf '%s\n' "${boxdown[@]}" | median)"
printf '%-44s %s\n' "drop box: text sent -> saved by receive, ms" "$(printf '%s\n' "${first[@]}" | median)"
