#!/usr/bin/env bash
# Ingest benchmark: Verocta's CSV connector vs DuckDB read_csv, same files, same run.
#
# Builds release, generates deterministic 10 MB and 100 MB bank exports into
# benchmarks/data/ (gitignored), installs DuckDB (and pyarrow, for its Arrow output) from
# PyPI if missing, runs each tool in its own process per file (so peak RSS is per file), and
# prints a Markdown table. Raw JSON lines are kept in benchmarks/data/results.jsonl.
#
# Usage: bash benchmarks/run-ingest.sh [SIZE_MB ...]     (default: 10 100)
set -euo pipefail

cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10 100)
repeat=3
data=benchmarks/data
results="$data/results.jsonl"

cargo build --release -p verocta-benchmarks
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target_dir/release"

if ! python3 -c 'import duckdb, pyarrow' 2>/dev/null; then
    python3 -m pip install --quiet duckdb pyarrow
fi

mkdir -p "$data"
: > "$results"
for size in "${sizes[@]}"; do
    file="$data/export-${size}mb.csv"
    "$bin/gen-export" --size-mb "$size" --out "$file"
    "$bin/ingest-bench" --file "$file" --repeat "$repeat" --import-workers 1 | tee -a "$results"
    "$bin/ingest-bench" --file "$file" --repeat "$repeat" | tee -a "$results"
    python3 benchmarks/duckdb_read_csv.py "$file" --threads 1 --repeat "$repeat" | tee -a "$results"
    python3 benchmarks/duckdb_read_csv.py "$file" --threads 1 --typed --repeat "$repeat" | tee -a "$results"
    python3 benchmarks/duckdb_read_csv.py "$file" --threads 0 --repeat "$repeat" | tee -a "$results"
done

echo
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores; best of $repeat; MB = 10^6 bytes"
echo
python3 - "$results" <<'EOF'
import json, sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
print("| file | tool | rows | seconds | MB/s | rows/s | peak RSS (MB) | vs DuckDB 1 thread |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for r in rows:
    reference = next((d for d in rows if d["file_mb"] == r["file_mb"] and d["tool"].startswith("duckdb") and d["tool"].endswith(" threads=1")), None)
    ratio = f'{r["mb_per_s"] / reference["mb_per_s"]:.2f}×' if reference else "–"
    print(f'| {r["file_mb"]:.0f} MB | {r["tool"]} | {r["rows"]:,} | {r["seconds"]:.3f} | {r["mb_per_s"]:.1f} '
          f'| {r["rows_per_s"]:,.0f} | {r["peak_rss_mb"]:.0f} | {ratio} |')
EOF
