#!/usr/bin/env bash
# Throughput and tail latency of an authenticated read endpoint of the API
# (GET /v1/tenants/{tenant_id}/transactions?limit=20, a page of the real QuickBooks sample)
# under wrk at 1,000 concurrent connections, with SQLite and with PostgreSQL.
#
#   bash benchmarks/api/run.sh                 # both backends, 30 s each
#   DURATION=10s BACKENDS=sqlite bash benchmarks/api/run.sh
#
# Needs wrk (`apt-get install -y wrk`) and, for the PostgreSQL run, a server at
# $VEROCTA_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres) where a
# scratch database is created and dropped. The per-user rate limit (1,000 requests/minute)
# is switched off for the run: one user at 1,000 connections would otherwise measure the
# 429 path. Every request still verifies the JWT, checks the session and the caller's role
# in the database, and reads the page through the TransactionStore.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION="${DURATION:-30s}"
CONNECTIONS="${CONNECTIONS:-1000}"
THREADS="${THREADS:-2}"
BACKENDS="${BACKENDS:-sqlite postgres}"
PORT="${PORT:-18280}"
ADMIN_URL="${VEROCTA_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
BASE="http://127.0.0.1:$PORT"
CSV="../shared/data/veroctaai/quickbooks.csv"

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cargo build --release -p verocta-serving --bin verocta-api-dev
BINARY="${CARGO_TARGET_DIR:-target}/release/verocta-api-dev"

json_field() { python3 -c "import json, sys; print(json.load(sys.stdin)[\"$1\"])"; }

run_backend() {
    local backend="$1" data_dir database_url=() database="" server
    data_dir="$(mktemp -d)"
    if [ "$backend" = postgres ]; then
        database="verocta_bench_$$"
        psql "$ADMIN_URL" -qc "CREATE DATABASE $database" >/dev/null
        database_url=(--database-url "${ADMIN_URL%/*}/$database")
    fi
    "$BINARY" --data-dir "$data_dir" --listen "127.0.0.1:$PORT" --dev --rate-limit-per-minute 0 \
        "${database_url[@]}" 2>"$data_dir/server.log" &
    server=$!
    for _ in $(seq 1 100); do curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

    curl -fsS -X POST "$BASE/v1/auth/register" -H 'content-type: application/json' \
        -d '{"email":"bench@example.com","password":"benchmark password","company":"Bench"}' >/dev/null
    local token tenant
    token=$(curl -fsS -X POST "$BASE/v1/auth/login" -H 'content-type: application/json' \
        -d '{"email":"bench@example.com","password":"benchmark password"}' | json_field access_token)
    tenant=$(curl -fsS "$BASE/v1/me" -H "authorization: Bearer $token" | json_field tenant_id)
    curl -fsS -X POST "$BASE/v1/uploads" -H "authorization: Bearer $token" -F "file=@$CSV" >/dev/null
    local url="$BASE/v1/tenants/$tenant/transactions?limit=20"
    curl -fsS "$url" -H "authorization: Bearer $token" | python3 -c \
        'import json, sys; items = json.load(sys.stdin)["items"]; assert len(items) == 20, len(items)'

    echo "== $backend: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency GET /v1/tenants/{tenant_id}/transactions?limit=20"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 10s --latency \
        -H "Authorization: Bearer $token" "$url" | tee "$data_dir/wrk.txt"
    local requests p99 errors
    requests=$(awk '/^Requests\/sec/ {print $2}' "$data_dir/wrk.txt")
    p99=$(awk '$1 == "99%" {print $2}' "$data_dir/wrk.txt")
    errors=$(awk '/Non-2xx or 3xx responses/ {print $5}' "$data_dir/wrk.txt")
    echo "RESULT backend=$backend connections=$CONNECTIONS requests_per_second=$requests p99=$p99 non_2xx=${errors:-0}"

    kill "$server"; wait "$server" 2>/dev/null || true
    if [ -n "$database" ]; then psql "$ADMIN_URL" -qc "DROP DATABASE $database WITH (FORCE)" >/dev/null; fi
    rm -rf "$data_dir"
}

for backend in $BACKENDS; do run_backend "$backend"; done
