-- The canonical transaction (schemas/src/transaction.rs, Arrow layout in schemas/src/arrow.rs),
-- one row per delivered version. Column names and meaning follow the Arrow schema exactly, so
-- a writer maps Arrow column i to ClickHouse column i; differences are noted per column.
--
-- Versions and replays: every delivery of a transaction is a row; rows with the same sorting
-- key (tenant_id, booked_date, transaction_id) collapse to the one with the greatest
-- `ingested_at_us` when parts merge (or at read time with FINAL). A re-delivered copy carries
-- the same ingested_at_us, so replays are harmless. CAUTION: a newer version of a transaction
-- whose booked_date changed (pending -> settled with a later date, an edited QuickBooks entry)
-- has a different sorting key and may sit in another partition, so FINAL and merges never
-- collapse it with the old version. Exact reads therefore take the latest version per
-- (tenant_id, transaction_id) with argMax(…, ingested_at_us) — see the rollup refresh and
-- deploy/clickhouse/README.md — and use FINAL only where dates cannot have changed.
CREATE TABLE IF NOT EXISTS verocta.transactions
(
    schema_version UInt16 COMMENT 'Layout version of the record (TRANSACTION_SCHEMA_VERSION); Arrow Int16',
    tenant_id String COMMENT 'Owning tenant, [A-Za-z0-9._-]{1,64}',
    transaction_id String COMMENT 'Deterministic id tx_ + 32 hex; equal ids are the same real-world transaction',
    source_kind {{v>=19.3:LowCardinality(String)|String}} COMMENT 'csv | quickbooks | xero | sheets',
    source_format {{v>=19.3:LowCardinality(String)|String}} COMMENT 'Layout or API read with, e.g. revolut-business',
    source_name String COMMENT 'File name (CSV) or endpoint/object name (APIs)',
    source_line Nullable(Int64) COMMENT '1-based physical line of the record in the file',
    external_id Nullable(String) COMMENT 'Id the source itself gives the record',
    booked_date Date COMMENT 'Date booked (transaction date when the source has several)',
    booked_time_s Nullable(Int32) COMMENT 'Local time of day in seconds after midnight, when stated',
    amount_minor Int64 COMMENT 'Exact non-negative amount in minor units of currency; direction is in class',
    currency {{v>=19.3:LowCardinality(String)|String}} COMMENT 'ISO 4217 code',
    currency_digits UInt8 COMMENT 'Minor digits of currency (JPY 0, USD 2, BHD 3, CLF 4); Arrow Int8',
    original_amount_minor Nullable(Int64) COMMENT 'Amount in the original currency, minor units, when converted',
    original_currency {{v>=19.3:LowCardinality(Nullable(String))|Nullable(String)}} COMMENT 'ISO 4217 code of original_amount_minor',
    class {{v>=19.3:LowCardinality(String)|String}} COMMENT 'spend | credit | excluded',
    exclusion_reason {{v>=19.3:LowCardinality(Nullable(String))|Nullable(String)}} COMMENT 'Code of ExclusionReason; set exactly when class = excluded',
    exclusion_detail Nullable(String) COMMENT 'Evidence for the exclusion',
    vendor_raw Nullable(String) COMMENT 'Vendor as written',
    vendor Nullable(String) COMMENT 'Normalised vendor key',
    category_raw Nullable(String) COMMENT 'Category as written',
    category {{v>=19.3:LowCardinality(String)|String}} COMMENT 'Normalised category code (docs/categories.md)',
    account Nullable(String),
    memo Nullable(String),
    payment_method {{v>=19.3:LowCardinality(Nullable(String))|Nullable(String)}},
    card_last4 Nullable(String),
    employee Nullable(String),
    department Nullable(String),
    ingested_at_us UInt64 COMMENT 'When Verocta ingested the record, microseconds since the Unix epoch (UTC); the version column',
    ingested_at {{v>=20.5:DateTime64(6, 'UTC') DEFAULT fromUnixTimestamp64Micro(toInt64(ingested_at_us), 'UTC')|DateTime('UTC') DEFAULT toDateTime(intDiv(ingested_at_us, 1000000), 'UTC')}} COMMENT 'ingested_at_us as a timestamp; leave it out of INSERTs',
    net_minor Int64 ALIAS multiIf(class = 'spend', toInt64(amount_minor), class = 'credit', -toInt64(amount_minor), toInt64(0)) COMMENT 'Signed: spend positive, credit negative, excluded 0 (Transaction::net_spend_minor)',
    amount_text String ALIAS if(currency_digits = 0, toString(amount_minor), concat(if(amount_minor < 0, '-', ''), toString(intDiv(abs(amount_minor), toInt64(exp10(currency_digits)))), '.', substring(toString(abs(amount_minor) % toInt64(exp10(currency_digits)) + toInt64(exp10(currency_digits))), 2))) COMMENT 'Exact decimal text, e.g. 12.30',
    amount_float Float64 ALIAS amount_minor / exp10(currency_digits) COMMENT 'Approximate, for charts only; never sum money with it'
)
ENGINE = ReplacingMergeTree(ingested_at_us)
PARTITION BY toYYYYMM(booked_date)
ORDER BY (tenant_id, booked_date, transaction_id)
SETTINGS index_granularity = 8192{{v>=22.2:, non_replicated_deduplication_window = 1000|}};
