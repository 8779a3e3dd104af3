#!/usr/bin/env bash
# Fuzzes Qopy's HTTP API from its own OpenAPI document (`/api/openapi.json`) with schemathesis
# (security-and-reliability §10 F1): the release binary on a temporary data directory with the
# rate limits off, every documented operation called with generated valid and invalid input.
# It fails on any 5xx answer, and when the server process dies.
#
#   bash benches/fuzz-api.sh [--no-build]
#
# Needs python3 with venv and PyPI access the first time (schemathesis is installed into
# $CARGO_TARGET_DIR/fuzz-venv, by default target/fuzz-venv).
# Environment knobs [defaults]: MAX_EXAMPLES per operation [50]; CHECKS, schemathesis checks
# [not_a_server_error; "all" adds schema conformance]; QOPY_BIN [$CARGO_TARGET_DIR/release/qopy].
# Only 127.0.0.1 is contacted. Everything started here is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TARGET_DIR=${CARGO_TARGET_DIR:-target}
[[ $TARGET_DIR == /* ]] || TARGET_DIR=$ROOT/$TARGET_DIR
QOPY_BIN=${QOPY_BIN:-$TARGET_DIR/release/qopy}
MAX_EXAMPLES=${MAX_EXAMPLES:-50}
CHECKS=${CHECKS:-not_a_server_error}
ADMIN_TOKEN=fuzz-admin-token-0123456789

venv=$TARGET_DIR/fuzz-venv
if [[ ! -x $venv/bin/schemathesis ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q 'schemathesis>=4,<5'
fi
if [[ ${1:-} != --no-build ]]; then
    cargo build --release
fi

data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
# A QOPY_* variable the server does not know would stop it.
env -u QOPY_CONFIG "$QOPY_BIN" --listen "127.0.0.1:$port" --data-dir "$data/data" \
    --rate-limits off --admin-token "$ADMIN_TOKEN" --min-free-disk 1MiB --chunk-size 64KiB \
    --log warn >"$data/server.log" 2>&1 &
pid=$!
cleanup() {
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -rf "$data"
}
trap cleanup EXIT

for _ in $(seq 1 200); do
    curl -fsS "$base/health" >/dev/null 2>&1 && break
    sleep 0.05
done
curl -fsS "$base/health" >/dev/null

status=0
# From the temporary directory, so that schemathesis's own cache stays out of the repository.
(cd "$data" && "$venv/bin/schemathesis" run "$base/api/openapi.json" --url "$base" \
    --checks "$CHECKS" --max-examples "$MAX_EXAMPLES" --workers 1 \
    --header "Authorization: Bearer $ADMIN_TOKEN" --no-color) || status=$?

if ! kill -0 "$pid" 2>/dev/null; then
    echo "fuzz-api: the server died; its log:" >&2
    cat "$data/server.log" >&2
    exit 1
fi
if grep -q 'panicked' "$data/server.log"; then
    echo "fuzz-api: the server panicked; its log:" >&2
    cat "$data/server.log" >&2
    exit 1
fi
exit "$status"
