-- Arroyo streaming job: the isolation forest's anomaly flags, every day, among each tenant's
-- spend booked on its latest day, judged against the tenant's last two years of arrivals.
-- It reads the topic the Verocta pipeline publishes (JSON, one canonical transaction per
-- record: schemas/src/wire.rs, schemas/transaction.schema.json) and writes one JSON record per
-- tenant and day with the flags as a JSON array (`[]` when none).
--
-- Needs the UDFs classic_day, seconds_of_day, amount_minor, classic_text_key,
-- transaction_order_key and the aggregate forest_flags registered first (see README.md).
-- Replace the bootstrap servers with your cluster's.
--
-- The features (amount against the vendor's and category's history, the vendor's novelty,
-- days since its last charge, its share, weekday, round and just-under-limit amounts) are
-- windows over a tenant's whole history in the batch job; here the history is the group's:
-- a hop of 730 days sliding by a day, on Arroyo's event time (the Kafka record's timestamp by
-- default, i.e. arrival). The aggregate computes them in booking order, trains the tenant's
-- forest on them and flags the rows of the latest booked day (see udfs/forest_flags). Rows
-- keep being flagged while their day is a group's latest, so a consumer keys flags by
-- (tenant_id, order).

CREATE TABLE transactions (
    tenant_id TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    booked_date TEXT NOT NULL,
    booked_time TEXT,
    amount STRUCT<amount TEXT, currency TEXT> NOT NULL,
    class TEXT NOT NULL,
    vendor TEXT,
    vendor_raw TEXT,
    category TEXT NOT NULL
) WITH (
    connector = 'kafka',
    bootstrap_servers = 'localhost:9092',
    topic = 'verocta.transactions.v1',
    type = 'source',
    format = 'json',
    'source.offset' = 'earliest',
    'source.group_id' = 'verocta-arroyo-forest-flags'
);

CREATE TABLE forest_flags (
    tenant_id TEXT NOT NULL,
    window_start TIMESTAMP NOT NULL,
    window_end TIMESTAMP NOT NULL,
    transactions BIGINT NOT NULL,
    flags TEXT
) WITH (
    connector = 'kafka',
    bootstrap_servers = 'localhost:9092',
    topic = 'verocta.arroyo.forest-flags.v1',
    type = 'sink',
    format = 'json'
);

-- Every argument is non-NULL per row (no time → -1; the vendor as the batch query takes it,
-- the normalised name, else the name as written, else ''), so the eight vectors stay aligned
-- row for row. Only spend is judged, as in the batch job. The amount's digits are its
-- decimals as the wire writes them (the currency's minor digits).
CREATE VIEW keyed_spend AS
SELECT
    tenant_id,
    classic_day(booked_date) AS day,
    coalesce(seconds_of_day(booked_time), -1) AS time_s,
    amount_minor(amount.amount) AS amount_minor,
    CASE WHEN strpos(amount.amount, '.') = 0 THEN 0
         ELSE length(amount.amount) - strpos(amount.amount, '.') END AS digits,
    classic_text_key(amount.currency) AS currency,
    classic_text_key(coalesce(vendor, vendor_raw, '')) AS vendor,
    classic_text_key(category) AS category,
    coalesce(transaction_order_key(transaction_id), 0) AS ord
FROM transactions
WHERE class = 'spend';

INSERT INTO forest_flags
SELECT
    tenant_id,
    window.start AS window_start,
    window.end AS window_end,
    transactions,
    flags
FROM (
    SELECT
        hop(interval '1 day', interval '730 days') AS window,
        tenant_id,
        count(*) AS transactions,
        forest_flags(day, time_s, amount_minor, digits, currency, vendor, category, ord) AS flags
    FROM keyed_spend
    WHERE day IS NOT NULL AND amount_minor IS NOT NULL
    GROUP BY 1, 2
);
