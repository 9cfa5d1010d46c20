"""Times DuckDB's read_csv of one file into Arrow: the reference for the ingest benchmark.

Prints one JSON line with the same fields as `ingest-bench`:
{"tool","file_mb","rows","seconds","mb_per_s","rows_per_s","peak_rss_mb"}.

The query result is streamed as Arrow record batches that are counted and dropped, which is
what the Verocta side does with its batches, so neither side is charged for holding the whole
table. Best of --repeat runs, each on a fresh connection (so CSV sniffing is timed every run,
as Verocta's layout detection is). Peak RSS is the whole process's (ru_maxrss): run one
process per file and thread setting.

    python3 benchmarks/duckdb_read_csv.py FILE --threads 1      # the single-thread target
    python3 benchmarks/duckdb_read_csv.py FILE --threads 0      # DuckDB's default threads
    python3 benchmarks/duckdb_read_csv.py FILE --threads 1 --typed  # Amount parsed as DECIMAL
"""

import argparse
import json
import os
import resource
import sys
import time

import duckdb

MB = 1_000_000  # decimal MB, as in verocta_benchmarks::report


def read_once(path: str, threads: int, batch_rows: int, typed: bool) -> int:
    con = duckdb.connect()
    if threads > 0:
        con.execute(f"SET threads={threads}")
    escaped = path.replace("'", "''")
    # Sniffed, DuckDB reads `"-1,234.56"` as VARCHAR; --typed makes it parse exact money too.
    options = ", thousands=',', types={'Amount': 'DECIMAL(18,2)'}" if typed else ""
    relation = con.sql(f"SELECT * FROM read_csv('{escaped}'{options})")
    # `to_arrow_reader` is the newer name of `fetch_arrow_reader`.
    to_reader = getattr(relation, "to_arrow_reader", None) or relation.fetch_arrow_reader
    reader = to_reader(batch_rows)
    rows = 0
    for batch in reader:
        rows += batch.num_rows
    con.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--threads", type=int, default=1, help="DuckDB threads; 0 keeps its default")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--typed", action="store_true", help="read Amount as DECIMAL(18,2) with ',' thousands (exact money, like Verocta)")
    parser.add_argument("--batch-rows", type=int, default=32_768, help="rows per Arrow batch (Verocta's batcher uses 32k)")
    args = parser.parse_args()

    file_mb = os.path.getsize(args.file) / MB
    best = None
    for _ in range(max(1, args.repeat)):
        started = time.perf_counter()
        rows = read_once(args.file, args.threads, args.batch_rows, args.typed)
        seconds = time.perf_counter() - started
        if best is None or seconds < best[0]:
            best = (seconds, rows)
    seconds, rows = best
    threads = args.threads if args.threads > 0 else duckdb.connect().execute("SELECT current_setting('threads')").fetchall()[0][0]
    # ru_maxrss is in KiB on Linux.
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB
    print(json.dumps({
        "tool": f"duckdb {duckdb.__version__} threads={threads}" + (" Amount DECIMAL" if args.typed else ""),
        "file_mb": round(file_mb, 3),
        "rows": rows,
        "seconds": round(seconds, 4),
        "mb_per_s": round(file_mb / seconds, 2),
        "rows_per_s": round(rows / seconds),
        "peak_rss_mb": round(peak_rss_mb, 1),
    }))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
