-- Per-tenant read-only access on ClickHouse 18.16 (run as `default`; idempotent).
--
-- 18.16 grants access per database only (`allow_databases` in users.xml) and ignores row
-- filters (`<databases><db><table><filter>` arrived in 19.x), and a view may only read
-- databases its reader is allowed. So a tenant gets its own database holding copies of its
-- rows, kept current by materialized views on the shared tables (the MVs live in `verocta`,
-- where the tenant cannot see or drop them), plus the user file tenant/user.xml.
-- Copies have the same engines and version columns as the shared tables, so replays and
-- corrections collapse the same way (read with FINAL / argMax as on the shared tables).
--
-- Placeholders (plain text replacement, done by the caller):
--   ${TENANT_ID}  the tenant id, [A-Za-z0-9._-]{1,64}
--   ${TENANT_DB}  database and user name: `tenant_` + the id with `_` -> `__`, `.` -> `_d`,
--                 `-` -> `_h` (injective; [A-Za-z0-9_] only, so it is a valid identifier,
--                 XML element and config key: 18.16's config keys cannot contain dots)
-- Same file format as the migrations (statements end with `;` at the end of a line).

CREATE DATABASE IF NOT EXISTS ${TENANT_DB};

CREATE TABLE IF NOT EXISTS ${TENANT_DB}.transactions AS verocta.transactions;
CREATE TABLE IF NOT EXISTS ${TENANT_DB}.daily_category_spend AS verocta.daily_category_spend;
CREATE TABLE IF NOT EXISTS ${TENANT_DB}.daily_vendor_spend AS verocta.daily_vendor_spend;
CREATE TABLE IF NOT EXISTS ${TENANT_DB}.rollup_refreshes AS verocta.rollup_refreshes;
CREATE TABLE IF NOT EXISTS ${TENANT_DB}.spend_scores AS verocta.spend_scores;
CREATE TABLE IF NOT EXISTS ${TENANT_DB}.anomalies AS verocta.anomalies;
CREATE TABLE IF NOT EXISTS ${TENANT_DB}.forecasts AS verocta.forecasts;

CREATE MATERIALIZED VIEW IF NOT EXISTS verocta.copy__${TENANT_DB}__transactions TO ${TENANT_DB}.transactions AS SELECT * FROM verocta.transactions WHERE tenant_id = '${TENANT_ID}';
CREATE MATERIALIZED VIEW IF NOT EXISTS verocta.copy__${TENANT_DB}__daily_category_spend TO ${TENANT_DB}.daily_category_spend AS SELECT * FROM verocta.daily_category_spend WHERE tenant_id = '${TENANT_ID}';
CREATE MATERIALIZED VIEW IF NOT EXISTS verocta.copy__${TENANT_DB}__daily_vendor_spend TO ${TENANT_DB}.daily_vendor_spend AS SELECT * FROM verocta.daily_vendor_spend WHERE tenant_id = '${TENANT_ID}';
CREATE MATERIALIZED VIEW IF NOT EXISTS verocta.copy__${TENANT_DB}__rollup_refreshes TO ${TENANT_DB}.rollup_refreshes AS SELECT * FROM verocta.rollup_refreshes WHERE tenant_id = '${TENANT_ID}';
CREATE MATERIALIZED VIEW IF NOT EXISTS verocta.copy__${TENANT_DB}__spend_scores TO ${TENANT_DB}.spend_scores AS SELECT * FROM verocta.spend_scores WHERE tenant_id = '${TENANT_ID}';
CREATE MATERIALIZED VIEW IF NOT EXISTS verocta.copy__${TENANT_DB}__anomalies TO ${TENANT_DB}.anomalies AS SELECT * FROM verocta.anomalies WHERE tenant_id = '${TENANT_ID}';
CREATE MATERIALIZED VIEW IF NOT EXISTS verocta.copy__${TENANT_DB}__forecasts TO ${TENANT_DB}.forecasts AS SELECT * FROM verocta.forecasts WHERE tenant_id = '${TENANT_ID}';

-- Backfill what existed before the MVs. Rows that arrive between an MV's creation and its
-- backfill are copied twice: identical rows with the same version, which collapse like
-- replays. Re-running this file re-copies everything, harmlessly for the same reason.
INSERT INTO ${TENANT_DB}.transactions SELECT * FROM verocta.transactions WHERE tenant_id = '${TENANT_ID}';
INSERT INTO ${TENANT_DB}.daily_category_spend SELECT * FROM verocta.daily_category_spend WHERE tenant_id = '${TENANT_ID}';
INSERT INTO ${TENANT_DB}.daily_vendor_spend SELECT * FROM verocta.daily_vendor_spend WHERE tenant_id = '${TENANT_ID}';
INSERT INTO ${TENANT_DB}.rollup_refreshes SELECT * FROM verocta.rollup_refreshes WHERE tenant_id = '${TENANT_ID}';
INSERT INTO ${TENANT_DB}.spend_scores SELECT * FROM verocta.spend_scores WHERE tenant_id = '${TENANT_ID}';
INSERT INTO ${TENANT_DB}.anomalies SELECT * FROM verocta.anomalies WHERE tenant_id = '${TENANT_ID}';
INSERT INTO ${TENANT_DB}.forecasts SELECT * FROM verocta.forecasts WHERE tenant_id = '${TENANT_ID}';

-- The latest version of every transaction (exact even when a correction moved its date).
CREATE VIEW IF NOT EXISTS ${TENANT_DB}.transactions_current AS
SELECT
    tenant_id, transaction_id,
    t.1 AS booked_date, t.2 AS booked_time_s, t.3 AS amount_minor, t.4 AS currency, t.5 AS currency_digits,
    t.6 AS class, t.7 AS exclusion_reason, t.8 AS vendor, t.9 AS vendor_raw, t.10 AS category,
    t.11 AS category_raw, t.12 AS account, t.13 AS memo, t.14 AS payment_method, t.15 AS employee,
    t.16 AS department, t.17 AS source_kind, t.18 AS source_format, t.19 AS source_name,
    t.20 AS external_id, t.21 AS original_amount_minor, t.22 AS original_currency,
    t.23 AS ingested_at_us,
    multiIf(class = 'spend', amount_minor, class = 'credit', -amount_minor, toInt64(0)) AS net_minor
FROM
(
    SELECT
        tenant_id, transaction_id,
        argMax((booked_date, booked_time_s, amount_minor, currency, currency_digits, class, exclusion_reason,
                vendor, vendor_raw, category, category_raw, account, memo, payment_method, employee,
                department, source_kind, source_format, source_name, external_id, original_amount_minor,
                original_currency, ingested_at_us), ingested_at_us) AS t
    FROM ${TENANT_DB}.transactions
    GROUP BY tenant_id, transaction_id
);
