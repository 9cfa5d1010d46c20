-- Daily rollups: net spend per tenant x day x currency x category, and x vendor.
--
-- Replay-safe by construction. They are NOT fed by a materialized view on inserts (a
-- SummingMergeTree MV adds every delivered copy: a batch delivered three times is counted three
-- times, and a corrected version is added on top of the old one). Instead they are snapshots
-- recomputed from the deduplicated transactions by the statements in
-- deploy/clickhouse/rollup-refresh.sql, run after a batch is committed, per tenant and date
-- window:
--   * the source is the latest version of each transaction (argMax by ingested_at_us over
--     (tenant_id, transaction_id), across partitions), so replays and corrections count once;
--   * every row of a refresh carries the same `refresh_version` and ReplacingMergeTree keeps the
--     greatest per key, so running a refresh twice (a replayed refresh) changes nothing;
--   * keys in the window that lost all their transactions are rewritten with zeros, so stale
--     groups never survive a refresh.
-- Read with FINAL (small tables) and sum(); zero rows (all counts 0) may be skipped.
CREATE TABLE IF NOT EXISTS verocta.daily_category_spend
(
    tenant_id String,
    day Date,
    currency {{v>=19.3:LowCardinality(String)|String}},
    currency_digits UInt8,
    category {{v>=19.3:LowCardinality(String)|String}},
    spend_minor Int64 COMMENT 'Sum of spend amounts, minor units',
    spend_count UInt64,
    credit_minor Int64 COMMENT 'Sum of credit amounts (positive), minor units',
    credit_count UInt64,
    excluded_count UInt64,
    net_minor Int64 ALIAS spend_minor - credit_minor,
    refresh_version UInt64 COMMENT 'Microseconds since the Unix epoch when the refresh started; the version column',
    refreshed_at DateTime('UTC') DEFAULT toDateTime(intDiv(refresh_version, 1000000), 'UTC')
)
ENGINE = ReplacingMergeTree(refresh_version)
PARTITION BY toYYYYMM(day)
ORDER BY (tenant_id, day, currency, category);

CREATE TABLE IF NOT EXISTS verocta.daily_vendor_spend
(
    tenant_id String,
    day Date,
    currency {{v>=19.3:LowCardinality(String)|String}},
    currency_digits UInt8,
    vendor String COMMENT 'Normalised vendor key; empty when the transaction has none',
    spend_minor Int64,
    spend_count UInt64,
    credit_minor Int64,
    credit_count UInt64,
    excluded_count UInt64,
    net_minor Int64 ALIAS spend_minor - credit_minor,
    refresh_version UInt64,
    refreshed_at DateTime('UTC') DEFAULT toDateTime(intDiv(refresh_version, 1000000), 'UTC')
)
ENGINE = ReplacingMergeTree(refresh_version)
PARTITION BY toYYYYMM(day)
ORDER BY (tenant_id, day, currency, vendor);

-- One row per refresh, for "data as of" and for monitoring lag.
CREATE TABLE IF NOT EXISTS verocta.rollup_refreshes
(
    tenant_id String,
    date_from Date,
    date_to Date,
    refresh_version UInt64,
    source_rows UInt64 COMMENT 'Latest-version transactions in the window',
    max_ingested_at_us UInt64 COMMENT 'Newest ingested_at_us among them: rollups include everything ingested up to here',
    refreshed_at DateTime('UTC') DEFAULT toDateTime(intDiv(refresh_version, 1000000), 'UTC')
)
ENGINE = ReplacingMergeTree(refresh_version)
PARTITION BY toYYYYMM(date_from)
ORDER BY (tenant_id, date_from, date_to);
