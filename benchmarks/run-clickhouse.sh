#!/usr/bin/env bash
# ClickHouse serving benchmark (clickhouse-bench), against the local server started by
# deploy/clickhouse/start-server.sh (started here if nothing answers on 127.0.0.1:8123):
#   1. sink throughput: 1,000,000 synthetic transactions of 100 tenants, batches of 50,000,
#      insert only and insert + rollup refresh per batch;
#   2. produce → queryable in ClickHouse at a steady 10,000 tx/s for 30 s through the whole
#      stack (embedded broker, Delta workers, ClickHouse sink);
#   3. dashboard query latency with 5,000 tenants and 10,000,000 transactions loaded.
# Raw JSON lines go to benchmarks/data/clickhouse-results.jsonl.
#
# Usage: bash benchmarks/run-clickhouse.sh
#   SINK_ROWS=1000000 FRESHNESS_SECONDS=30 ROLLUP_ROWS=10000000 ROLLUP_TENANTS=5000 bash benchmarks/run-clickhouse.sh
set -euo pipefail

cd "$(dirname "$0")/.."
data=benchmarks/data
results="$data/clickhouse-results.jsonl"
url="${CLICKHOUSE_URL:-http://127.0.0.1:8123}"

curl -sf "$url/ping" >/dev/null || bash deploy/clickhouse/start-server.sh
cargo build --release -p verocta-benchmarks --bin clickhouse-bench
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
bench="$target_dir/release/clickhouse-bench"

mkdir -p "$data"
: > "$results"
busy=$(ps -eo pcpu=,pid=,comm= --sort=-pcpu | awk '$1 >= 20 {print $3 " (pid " $2 ", " $1 "% CPU)"}')
[ -z "$busy" ] || echo "warning: other processes are using CPU: $busy" >&2

echo "== sink throughput" >&2
"$bench" --url "$url" sink --rows "${SINK_ROWS:-1000000}" --tenants 100 --batch-rows 50000 | tee -a "$results"
echo "== freshness at 10,000 tx/s" >&2
"$bench" --url "$url" freshness --rate 10000 --seconds "${FRESHNESS_SECONDS:-30}" | tee -a "$results"
echo "== dashboard queries" >&2
"$bench" --url "$url" rollups --rows "${ROLLUP_ROWS:-10000000}" --tenants "${ROLLUP_TENANTS:-5000}" | tee -a "$results"
