#!/usr/bin/env bash
# Verifies the ClickHouse DDL on a running server (start-server.sh) in a scratch database:
# migrations apply; a batch delivered three times is counted once by the rollups, before and
# after OPTIMIZE ... FINAL, and also when the refresh itself is replayed; corrected versions
# (new category, moved date, new class) replace the old ones; a naive SummingMergeTree
# materialized view, for contrast, triple-counts. Prints one line per check and
# "N passed, N failed".
#
#   CLICKHOUSE_URL=http://127.0.0.1:8123/ deploy/clickhouse/verify.sh     (KEEP=1 keeps the db)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
URL="${CLICKHOUSE_URL:-http://127.0.0.1:${CLICKHOUSE_HTTP_PORT:-8123}/}"
DB="${VERIFY_DB:-verocta_verify}"
passed=0
failed=0

# Text of our SQL files pointed at the scratch database.
retarget() { perl -pe "s/\\bverocta(\\.|;)/${DB}\$1/g"; }

q() {
    local out code
    out="$(mktemp)"
    code="$(curl -sS -o "${out}" -w '%{http_code}' --data-binary "$1" "${URL}")"
    if [[ "${code}" != 200 ]]; then
        echo "verify: HTTP ${code} for: $1" >&2
        cat "${out}" >&2
        rm -f "${out}"
        return 1
    fi
    cat "${out}"
    rm -f "${out}"
}

# run_file FILE [sed-like perl substitutions]: every statement of FILE, rendered and retargeted.
run_file() {
    local statement
    while IFS= read -r -d '' statement; do
        q "${statement}" >/dev/null
    done < <("${HERE}/apply-migrations.sh" --render "${version}" "$1" | retarget | perl -0777 -pe "${2:-}" |
        perl -0777 -ne 'for my $s (split /;[ \t]*(?:\n|\z)/) { $s =~ s/^\s+|\s+$//g; print "$s\0" if length $s; }')
}

# refresh TENANT FROM TO VERSION: the rollup refresh with its {name:Type} parameters bound the
# way an 18.16 client must bind them (CAST('value' AS Type)).
refresh() {
    run_file "${HERE}/rollup-refresh.sql" \
        "s/\\{windows:booked_date\\}/(tenant_id = '$1' AND booked_date >= toDate('$2') AND booked_date <= toDate('$3'))/g; s/\\{windows:day\\}/(tenant_id = '$1' AND day >= toDate('$2') AND day <= toDate('$3'))/g; s/\\{tenant_list\\}/['$1']/g; s/\\{tenants\\}/'$1'/g; s/\\{from_list\\}/[toDate('$2')]/g; s/\\{to_list\\}/[toDate('$3')]/g; s/\\{version:UInt64\\}/CAST('$4' AS UInt64)/g"
}

check() {
    local name="$1" got="$2" want="$3"
    if [[ "${got}" == "${want}" ]]; then
        echo "ok   ${name}"
        passed=$((passed + 1))
    else
        echo "FAIL ${name}: got [${got}] want [${want}]"
        failed=$((failed + 1))
    fi
}

now_us() { echo $(($(date +%s%N) / 1000)); }

version="$(q 'SELECT version()')"
echo "server ${version}, scratch database ${DB}"
q "DROP DATABASE IF EXISTS ${DB}" >/dev/null
for file in "${HERE}"/migrations/[0-9][0-9][0-9][0-9]_*.sql; do
    run_file "${file}"
done

# The naive design, for contrast: a SummingMergeTree fed on every insert. (An MV on 18.16
# cannot read ALIAS columns of its source: the pushed block has none, so net_minor is inlined.)
q "CREATE MATERIALIZED VIEW ${DB}.naive_daily_category ENGINE = SummingMergeTree PARTITION BY toYYYYMM(day) ORDER BY (tenant_id, day, currency, category) AS SELECT tenant_id, booked_date AS day, currency, category, sum(multiIf(class = 'spend', toInt64(amount_minor), class = 'credit', -toInt64(amount_minor), toInt64(0))) AS net_minor FROM ${DB}.transactions GROUP BY tenant_id, booked_date, currency, category" >/dev/null

# Delivery 1, and the ground truth computed from exactly one copy of the batch.
SAMPLE_TX="$(mktemp)"
perl -0777 -ne 'print $1 if /(INSERT INTO verocta\.transactions.*?\);\s*\n)/s' "${HERE}/sample-data.sql" >"${SAMPLE_TX}"
run_file "${SAMPLE_TX}"
q "CREATE TABLE ${DB}.batch ENGINE = Memory AS SELECT * FROM ${DB}.transactions" >/dev/null

# Fingerprint of a category rollup relation (tenant_id, day, currency, category, spend, spend_n,
# credit, credit_n, excluded_n), ignoring groups whose counts are all zero.
fingerprint() {
    q "SELECT count(), sum(spend), sum(credit), sum(spend_n + credit_n + excluded_n), sum(cityHash64(tenant_id, day, currency, category, spend, spend_n, credit, credit_n, excluded_n)) FROM ($1) WHERE spend_n + credit_n + excluded_n > 0 FORMAT TSV"
}
truth_from() {
    echo "SELECT tenant_id, booked_date AS day, currency, category, sumIf(amount_minor, class = 'spend') AS spend, countIf(class = 'spend') AS spend_n, sumIf(amount_minor, class = 'credit') AS credit, countIf(class = 'credit') AS credit_n, countIf(class = 'excluded') AS excluded_n FROM ($1) GROUP BY tenant_id, booked_date, currency, category"
}
ROLLUP="SELECT tenant_id, day, currency, category, spend_minor AS spend, spend_count AS spend_n, credit_minor AS credit, credit_count AS credit_n, excluded_count AS excluded_n FROM ${DB}.daily_category_spend FINAL"
VENDOR_ROLLUP_TOTAL="SELECT sum(spend_minor), sum(credit_minor), sum(spend_count + credit_count + excluded_count) FROM ${DB}.daily_vendor_spend FINAL FORMAT TSV"
want="$(fingerprint "$(truth_from "SELECT * FROM ${DB}.batch")")"
want_vendor="$(q "SELECT sumIf(amount_minor, class = 'spend'), sumIf(amount_minor, class = 'credit'), count() FROM ${DB}.batch FORMAT TSV")"
echo "ground truth (groups, spend, credit, transactions, hash): ${want}"

for tenant in acme globex; do refresh "${tenant}" 2024-01-01 2024-12-31 "$(now_us)"; done
check "rollup after 1 delivery = truth" "$(fingerprint "${ROLLUP}")" "${want}"

# Deliveries 2 and 3: the very same rows again (at-least-once replays).
run_file "${SAMPLE_TX}"
run_file "${SAMPLE_TX}"
check "transactions holds 3 copies before merges" "$(q "SELECT count() FROM ${DB}.transactions")" "2400"
check "naive SummingMergeTree MV triple-counts" \
    "$(q "SELECT sum(net_minor) FROM ${DB}.naive_daily_category")" \
    "$(q "SELECT 3 * sum(multiIf(class = 'spend', toInt64(amount_minor), class = 'credit', -toInt64(amount_minor), toInt64(0))) FROM ${DB}.batch")"
check "rollup before re-refresh still = truth" "$(fingerprint "${ROLLUP}")" "${want}"
v="$(now_us)"
for tenant in acme globex; do refresh "${tenant}" 2024-01-01 2024-12-31 "${v}"; done
check "rollup after 3 deliveries + refresh = truth" "$(fingerprint "${ROLLUP}")" "${want}"
for tenant in acme globex; do refresh "${tenant}" 2024-01-01 2024-12-31 "${v}"; done
check "rollup after the refresh is replayed = truth" "$(fingerprint "${ROLLUP}")" "${want}"
check "vendor rollup totals = truth" "$(q "${VENDOR_ROLLUP_TOTAL}")" "${want_vendor}"
check "transactions FINAL = 800 rows" "$(q "SELECT count() FROM ${DB}.transactions FINAL")" "800"

for t in transactions daily_category_spend daily_vendor_spend naive_daily_category; do
    q "OPTIMIZE TABLE ${DB}.${t} FINAL" >/dev/null
done
check "after OPTIMIZE FINAL: transactions = 800 rows" "$(q "SELECT count() FROM ${DB}.transactions")" "800"
check "after OPTIMIZE FINAL: rollup = truth" "$(fingerprint "${ROLLUP}")" "${want}"
check "after OPTIMIZE FINAL: rollup without FINAL = truth" "$(fingerprint "${ROLLUP% FINAL}")" "${want}"
check "after OPTIMIZE FINAL: vendor rollup = truth" "$(q "${VENDOR_ROLLUP_TOTAL}")" "${want_vendor}"
check "after OPTIMIZE FINAL: naive MV still triple" \
    "$(q "SELECT sum(net_minor) FROM ${DB}.naive_daily_category")" \
    "$(q "SELECT 3 * sum(multiIf(class = 'spend', toInt64(amount_minor), class = 'credit', -toInt64(amount_minor), toInt64(0))) FROM ${DB}.batch")"

# Corrections: newer versions of three acme transactions — new category, booked date moved to
# another month, spend turned into an exclusion — each delivered twice.
ids="$(q "SELECT groupArray(transaction_id) FROM (SELECT transaction_id FROM ${DB}.batch WHERE tenant_id = 'acme' AND class = 'spend' AND booked_date < '2024-02-01' ORDER BY transaction_id LIMIT 3) FORMAT TSV")"
cols="$(q "SELECT arrayStringConcat(groupArray(name), ', ') FROM system.columns WHERE database = '${DB}' AND table = 'batch' AND default_kind NOT IN ('ALIAS', 'MATERIALIZED') AND name != 'ingested_at' FORMAT TSV")"
# 18.16 has no SELECT * REPLACE: build the column list with the three changes.
sel="$(IDS="${ids}" perl -pe '
    s/\bbooked_date,/if(transaction_id = arrayElement($ENV{IDS}, 2), booked_date + 45, booked_date) AS booked_date,/;
    s/ category,/ if(transaction_id = arrayElement($ENV{IDS}, 1), \x27travel\x27, category) AS category,/;
    s/ class,/ if(transaction_id = arrayElement($ENV{IDS}, 3), \x27excluded\x27, class) AS class,/;
    s/ exclusion_reason,/ if(transaction_id = arrayElement($ENV{IDS}, 3), \x27declined_or_failed\x27, exclusion_reason) AS exclusion_reason,/;
    s/ ingested_at_us$/ ingested_at_us + 1000000000 AS ingested_at_us/;
' <<<"${cols}")"
q "CREATE TABLE ${DB}.fixed ENGINE = Memory AS SELECT ${sel} FROM ${DB}.batch WHERE has(${ids}, transaction_id)" >/dev/null
q "INSERT INTO ${DB}.transactions (${cols}) SELECT ${cols} FROM ${DB}.fixed" >/dev/null
q "INSERT INTO ${DB}.transactions (${cols}) SELECT ${cols} FROM ${DB}.fixed" >/dev/null
truth2="$(fingerprint "$(truth_from "SELECT ${cols} FROM ${DB}.batch WHERE NOT has(${ids}, transaction_id) UNION ALL SELECT ${cols} FROM ${DB}.fixed")")"
echo "ground truth after corrections: ${truth2}"
if [[ "${truth2}" == "${want}" ]]; then check "corrections change the truth" same different; fi
window="$(q "SELECT min(booked_date), max(booked_date) FROM ${DB}.transactions WHERE tenant_id = 'acme' AND has(${ids}, transaction_id) FORMAT TSV")"
refresh acme "${window%%$'\t'*}" "${window##*$'\t'}" "$(now_us)"
check "corrections: rollup = truth of latest versions (window ${window/$'\t'/..})" "$(fingerprint "${ROLLUP}")" "${truth2}"
q "OPTIMIZE TABLE ${DB}.transactions FINAL" >/dev/null
q "OPTIMIZE TABLE ${DB}.daily_category_spend FINAL" >/dev/null
check "corrections: after OPTIMIZE FINAL rollup = truth" "$(fingerprint "${ROLLUP}")" "${truth2}"
check "corrections: FINAL keeps the moved-date transaction twice (why reads use argMax)" \
    "$(q "SELECT count() FROM ${DB}.transactions FINAL WHERE transaction_id = ${ids}[2]")" "2"
check "corrections: argMax latest-version count = 800" \
    "$(q "SELECT count() FROM (SELECT transaction_id FROM ${DB}.transactions GROUP BY tenant_id, transaction_id)")" "800"

rm -f "${SAMPLE_TX}"
[[ "${KEEP:-0}" == 1 ]] || q "DROP DATABASE ${DB}" >/dev/null
echo "${passed} passed, ${failed} failed"
[[ ${failed} -eq 0 ]]
