#!/usr/bin/env bash
# Verifies per-tenant read-only users on a running server started by start-server.sh (must run
# on the same machine, as root or the server's user: it writes DIR/etc/users.d/). In a scratch
# copy of the schema (database verocta_verify) with the sample data, provisions tenants acme and
# globex (tenant/provision.sql + tenant/user.xml), then tries, as acme, every way to reach
# globex rows or to write. Prints one line per check and "N passed, N failed".
#
#   deploy/clickhouse/verify-isolation.sh            (KEEP=1 keeps database, users and files)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
CH_DIR="${CLICKHOUSE_DIR:-/var/tmp/verocta-clickhouse}"
HTTP_PORT="${CLICKHOUSE_HTTP_PORT:-8123}"
TCP_PORT="${CLICKHOUSE_TCP_PORT:-9000}"
URL="http://127.0.0.1:${HTTP_PORT}/"
DB="verocta_verify"
USERS_D="${CH_DIR}/etc/users.d"
passed=0
failed=0

retarget() { perl -pe "s/\\bverocta(\\.|;)/${DB}\$1/g"; }
split_statements() { perl -0777 -ne 'for my $s (split /;[ \t]*(?:\n|\z)/) { $s =~ s/^\s+|\s+$//g; print "$s\0" if length $s; }'; }
admin() { clickhouse-client --port "${TCP_PORT}" -q "$1"; }
run_sql() { # FILE [perl substitutions]
    local s
    while IFS= read -r -d '' s; do admin "${s}" >/dev/null; done < <(
        "${HERE}/apply-migrations.sh" --render "${version}" "$1" | retarget | perl -0777 -pe "${2:-}" | split_statements)
}
tenant_db() { echo "verify_tenant_$(perl -pe 's/_/__/g; s/\./_d/g; s/-/_h/g' <<<"$1")"; }

ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; failed=$((failed + 1)); }

version="$(admin 'SELECT version()')"
echo "server ${version}"
admin "DROP DATABASE IF EXISTS ${DB}"
for f in "${HERE}"/migrations/[0-9][0-9][0-9][0-9]_*.sql; do run_sql "${f}"; done
run_sql "${HERE}/sample-data.sql"
for t in acme globex; do
    run_sql "${HERE}/rollup-refresh.sql" "s/\\{windows:booked_date\\}/(tenant_id = '${t}' AND booked_date >= toDate('2024-01-01') AND booked_date <= toDate('2024-12-31'))/g; s/\\{windows:day\\}/(tenant_id = '${t}' AND day >= toDate('2024-01-01') AND day <= toDate('2024-12-31'))/g; s/\\{tenant_list\\}/['${t}']/g; s/\\{tenants\\}/'${t}'/g; s/\\{from_list\\}/[toDate('2024-01-01')]/g; s/\\{to_list\\}/[toDate('2024-12-31')]/g; s/\\{version:UInt64\\}/CAST('$(($(date +%s%N) / 1000))' AS UInt64)/g"
done

declare -A PASS
for t in acme globex; do
    tdb="$(tenant_db "${t}")"
    PASS[${t}]="pw-${t}-$RANDOM$RANDOM"
    run_sql "${HERE}/tenant/provision.sql" "s/\\\$\\{TENANT_DB\\}/${tdb}/g; s/\\\$\\{TENANT_ID\\}/${t}/g"
    hash="$(printf '%s' "${PASS[${t}]}" | sha256sum | cut -d' ' -f1)"
    tmp="$(mktemp "${USERS_D}/.${tdb}.XXXXXX")"
    perl -pe "s/\\\$\\{TENANT_DB\\}/${tdb}/g; s/\\\$\\{TENANT_ID\\}/${t}/g; s/\\\$\\{PASSWORD_SHA256_HEX\\}/${hash}/g" \
        "${HERE}/tenant/user.xml" >"${tmp}"
    chmod 0644 "${tmp}"
    [[ "$(id -u)" != 0 ]] || chown clickhouse: "${tmp}" 2>/dev/null || true
    mv "${tmp}" "${USERS_D}/${tdb}.xml"
done
A="$(tenant_db acme)"
G="$(tenant_db globex)"
as_acme() { clickhouse-client --port "${TCP_PORT}" --user "${A}" --password "${PASS[acme]}" -q "$1" 2>&1 || true; }

start=$(date +%s%N)
until as_acme "SELECT 1" >/dev/null 2>&1 && [[ "$(as_acme "SELECT 1")" == 1 ]]; do
    (( $(date +%s%N) - start < 30000000000 )) || { echo "user ${A} never appeared"; exit 1; }
    sleep 0.2
done
echo "users.d file picked up after $(( ($(date +%s%N) - start) / 1000000 )) ms"

# Data the tenant may read.
want="$(admin "SELECT count() FROM ${DB}.transactions FINAL WHERE tenant_id = 'acme'")"
got="$(as_acme "SELECT count() FROM ${A}.transactions FINAL")"
[[ "${got}" == "${want}" && "${want}" -gt 0 ]] && ok "reads its own transactions (${got})" || bad "own transactions: ${got} vs ${want}"
got="$(as_acme "SELECT count() FROM ${A}.transactions WHERE tenant_id != 'acme'")"
[[ "${got}" == 0 ]] && ok "its copy holds no other tenant's rows" || bad "foreign rows in copy: ${got}"
want="$(admin "SELECT sum(spend_minor) FROM ${DB}.daily_category_spend FINAL WHERE tenant_id = 'acme'")"
got="$(as_acme "SELECT sum(spend_minor) FROM ${A}.daily_category_spend FINAL")"
[[ "${got}" == "${want}" ]] && ok "reads its own category rollup (spend ${got})" || bad "rollup: ${got} vs ${want}"
got="$(as_acme "SELECT count() FROM ${A}.transactions_current")"
[[ "${got}" == 400 ]] && ok "reads its transactions_current view (${got})" || bad "transactions_current: ${got}"
for t in spend_scores anomalies forecasts daily_vendor_spend rollup_refreshes; do
    got="$(as_acme "SELECT countIf(tenant_id != 'acme'), count() > 0 FROM ${A}.${t}" | tr '\t' ' ')"
    [[ "${got}" == "0 1" ]] && ok "reads ${t}, own rows only" || bad "${t}: ${got}"
done

# Everything below must be refused (the answer must be an exception).
deny() {
    local name="$1" query="$2" out
    out="$(as_acme "${query}")"
    if grep -q "Exception" <<<"${out}"; then
        ok "denied: ${name} ($(grep -o 'Code: [0-9]*' <<<"${out}" | head -1); $(grep -o 'DB::Exception: [^.]*' <<<"${out}" | tail -1 | cut -c16-90))"
    else
        bad "NOT denied: ${name}: ${out:0:200}"
    fi
}
deny "shared table" "SELECT count() FROM ${DB}.transactions"
deny "shared table, other tenant filter" "SELECT count() FROM ${DB}.transactions WHERE tenant_id = 'globex'"
deny "other tenant's database" "SELECT count() FROM ${G}.transactions"
deny "IN subquery on shared table" "SELECT count() FROM ${A}.transactions WHERE amount_minor IN (SELECT amount_minor FROM ${DB}.transactions WHERE tenant_id = 'globex')"
deny "scalar subquery on other tenant" "SELECT (SELECT count() FROM ${G}.transactions)"
deny "FROM subquery" "SELECT * FROM (SELECT * FROM ${DB}.transactions) LIMIT 1"
deny "JOIN shared table" "SELECT count() FROM ${A}.transactions ANY LEFT JOIN ${DB}.transactions USING transaction_id"
deny "JOIN subquery" "SELECT count() FROM ${A}.transactions ANY LEFT JOIN (SELECT transaction_id, amount_minor AS x FROM ${G}.transactions) USING transaction_id"
deny "shared rollup table" "SELECT count() FROM ${DB}.daily_category_spend"
deny "the copying materialized view" "SELECT count() FROM ${DB}.copy__${G}__transactions"
deny "merge() table function" "SELECT count() FROM merge('${DB}', '^transactions\$')"
deny "remote() as default" "SELECT count() FROM remote('127.0.0.1:${TCP_PORT}', ${DB}.transactions, 'default', '')"
deny "remote() as self" "SELECT count() FROM remote('127.0.0.1:${TCP_PORT}', ${G}.transactions)"
deny "url() loop-back to HTTP as default" "SELECT * FROM url('http://127.0.0.1:${HTTP_PORT}/?query=SELECT+1', TSV, 'x UInt8')"
deny "file() table function" "SELECT * FROM file('x.tsv', TSV, 'x String')"
deny "numbers() table function" "SELECT * FROM numbers(1)"
deny "DESCRIBE shared table" "DESCRIBE TABLE ${DB}.transactions"
deny "SHOW CREATE of the copying MV" "SHOW CREATE TABLE ${DB}.copy__${G}__transactions"
deny "INSERT into own copy" "INSERT INTO ${A}.transactions (tenant_id) VALUES ('acme')"
deny "INSERT into shared table" "INSERT INTO ${DB}.transactions (tenant_id) VALUES ('acme')"
deny "CREATE TABLE" "CREATE TABLE ${A}.x (a UInt8) ENGINE = Memory"
deny "DROP TABLE" "DROP TABLE ${A}.transactions"
deny "ALTER DELETE" "ALTER TABLE ${A}.transactions DELETE WHERE 1"
deny "OPTIMIZE" "OPTIMIZE TABLE ${A}.transactions FINAL"
deny "SET readonly = 0" "SET readonly = 0"
deny "SETTINGS clause" "SELECT 1 SETTINGS max_memory_usage = 1"
deny "ATTACH other db table" "ATTACH TABLE ${A}.t2 (a UInt8) ENGINE = Memory"
deny "SYSTEM RELOAD CONFIG" "SYSTEM RELOAD CONFIG"

out="$(curl -sS "${URL}?user=${A}&password=${PASS[acme]}&readonly=0" --data-binary "SELECT count() FROM ${DB}.transactions")"
grep -q Exception <<<"${out}" && ok "denied over HTTP: shared table with ?readonly=0 ($(grep -o 'Code: [0-9]*' <<<"${out}"))" || bad "HTTP readonly=0: ${out}"
out="$(curl -sS -u "${A}:${PASS[acme]}" "${URL}" --data-binary "SELECT count() FROM ${A}.transactions FINAL")"
[[ "${out}" == 400 ]] && ok "HTTP basic auth reads own data (${out})" || bad "HTTP basic auth: ${out}"

# System tables: what metadata of others is visible.
got="$(as_acme "SELECT groupUniqArray(database) FROM system.tables")"
grep -q "${G}\|${DB}'" <<<"${got}" && bad "system.tables lists others: ${got}" || ok "system.tables shows only ${got}"
got="$(as_acme "SELECT groupUniqArray(database) FROM system.columns")"
grep -q "${G}\|${DB}'" <<<"${got}" && bad "system.columns lists others: ${got}" || ok "system.columns shows only ${got}"
got="$(as_acme "SELECT groupUniqArray(database) FROM system.parts")"
grep -q "${G}\|${DB}'" <<<"${got}" && bad "system.parts lists others: ${got}" || ok "system.parts shows only ${got}"
got="$(as_acme "SELECT groupUniqArray(name) FROM system.databases")"
grep -q "${G}\|${DB}'" <<<"${got}" && bad "system.databases lists others: ${got}" || ok "system.databases shows only ${got}"
admin "ALTER TABLE ${DB}.transactions DELETE WHERE tenant_id = 'secret-mutation-of-globex'"
got="$(as_acme "SELECT count() FROM system.mutations WHERE command LIKE '%secret-mutation%'")"
[[ "${got}" == 0 ]] && ok "system.mutations hides other databases' mutations" || echo "LEAK system.mutations shows other databases' mutation commands (rows: ${got})"
# A concurrent query of another user, with another tenant's literal in its text.
clickhouse-client --port "${TCP_PORT}" -q "SELECT sleep(2), 'secret-of-globex' FROM ${DB}.transactions WHERE tenant_id = 'globex' LIMIT 1 FORMAT Null" &
sleeper=$!
sleep 0.7
got="$(as_acme "SELECT count() FROM system.processes WHERE query LIKE '%secret-of-globex%' AND user != '${A}'")"
[[ "${got}" == 0 ]] && ok "system.processes hides other users' queries" || echo "LEAK system.processes shows other users' query text (matching rows: ${got}) — known 18.16 limitation, see README"
got="$(as_acme "KILL QUERY WHERE query LIKE '%secret-of-globex%' AND user != '${A}' SYNC")"
if wait "${sleeper}"; then ok "KILL QUERY cannot stop another user's query (answer: ${got//$'\n'/ })"; else bad "KILL QUERY stopped another user's query: ${got}"; fi
clickhouse-client --port "${TCP_PORT}" --log_queries=1 -q "SELECT 'secret-logged-of-globex'" >/dev/null
sleep 8.5 # query-log flush interval 7.5 s
got="$(admin "SELECT count() FROM verocta_ops.query_log WHERE query LIKE '%secret-logged%' AND type = 2")"
[[ "${got}" -ge 1 ]] && ok "query with log_queries=1 was logged to verocta_ops.query_log" || bad "query not logged: ${got}"
deny "verocta_ops.query_log" "SELECT count() FROM verocta_ops.query_log"
deny "system.query_log (moved out of system)" "SELECT count() FROM system.query_log"
if [[ "${KEEP:-0}" != 1 ]]; then
    for t in acme globex; do
        tdb="$(tenant_db "${t}")"
        rm -f "${USERS_D}/${tdb}.xml"
        run_sql "${HERE}/tenant/deprovision.sql" "s/\\\$\\{TENANT_DB\\}/${tdb}/g; s/\\\$\\{TENANT_ID\\}/${t}/g"
    done
    start=$(date +%s%N)
    while as_acme "SELECT 1" >/dev/null 2>&1 && [[ "$(as_acme "SELECT 1")" == 1 ]]; do
        (( $(date +%s%N) - start < 30000000000 )) || break
        sleep 0.2
    done
    [[ "$(as_acme "SELECT 1")" != 1 ]] && ok "user gone $(( ($(date +%s%N) - start) / 1000000 )) ms after its file was deleted" || bad "user still logs in"
    admin "DROP DATABASE IF EXISTS ${DB}"
fi
echo "${passed} passed, ${failed} failed"
[[ ${failed} -eq 0 ]]
