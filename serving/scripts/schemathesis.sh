#!/usr/bin/env bash
# Fuzzes the API from its own /openapi.json with schemathesis and fails on any 5xx.
#
#   bash serving/scripts/schemathesis.sh [postgres://…]
#
# Starts `verocta-api-dev` on a free local port with a fresh data directory (SQLite by
# default; pass a PostgreSQL URL to use that database), registers a user, and runs every
# schemathesis phase with that user's access token. Needs `pip install schemathesis`.
set -euo pipefail
cd "$(dirname "$0")/../.."

DATABASE_URL_ARGUMENT=()
if [ "${1:-}" != "" ]; then DATABASE_URL_ARGUMENT=(--database-url "$1"); fi
PORT="${PORT:-18181}"
MAX_EXAMPLES="${MAX_EXAMPLES:-50}"
DATA_DIR="$(mktemp -d)"
BASE="http://127.0.0.1:$PORT"

cargo build -p verocta-serving --bin verocta-api-dev
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
"$TARGET_DIR/debug/verocta-api-dev" --data-dir "$DATA_DIR" --listen "127.0.0.1:$PORT" --dev \
    --rate-limit-per-minute 0 "${DATABASE_URL_ARGUMENT[@]}" 2>"$DATA_DIR/server.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DATA_DIR"' EXIT

for _ in $(seq 1 100); do
    curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break
    sleep 0.2
done

curl -fsS -X POST "$BASE/v1/auth/register" -H 'content-type: application/json' \
    -d '{"email":"fuzz@example.com","password":"fuzzing password 1","company":"Fuzz"}' >/dev/null
TOKEN=$(curl -fsS -X POST "$BASE/v1/auth/login" -H 'content-type: application/json' \
    -d '{"email":"fuzz@example.com","password":"fuzzing password 1"}' \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')

# Logout and password changes would end the fuzzing session; they are covered by the
# Rust tests and excluded here.
schemathesis run "$BASE/openapi.json" \
    --checks not_a_server_error \
    --header "Authorization: Bearer $TOKEN" \
    --exclude-path /v1/auth/logout \
    --exclude-path /v1/auth/password/change \
    --max-examples "$MAX_EXAMPLES" \
    --seed 1 \
    --no-color
status=$?
if grep -q '"level":"ERROR"\|ERROR' "$DATA_DIR/server.log"; then
    echo "server log has errors:" >&2
    grep 'ERROR' "$DATA_DIR/server.log" | head -20 >&2
fi
exit $status
