#!/usr/bin/env bash
# Stops the server started by start-server.sh (same DIR argument / $CLICKHOUSE_DIR), by the pid
# in DIR/clickhouse-server.pid; waits up to 30 s for it to exit. Data is kept.
set -euo pipefail
DIR="${1:-${CLICKHOUSE_DIR:-/var/tmp/verocta-clickhouse}}"
PIDFILE="${DIR}/clickhouse-server.pid"
if [[ ! -s "${PIDFILE}" ]] || ! kill -0 "$(cat "${PIDFILE}")" 2>/dev/null; then
    echo "stop-server: no server running for ${DIR}" >&2
    exit 0
fi
pid="$(cat "${PIDFILE}")"
kill -TERM "${pid}"
for ((i = 0; i < 120; i++)); do
    kill -0 "${pid}" 2>/dev/null || { echo "stop-server: stopped pid ${pid}" >&2; exit 0; }
    sleep 0.25
done
echo "stop-server: pid ${pid} still running after 30 s" >&2
exit 1
