-- Arroyo streaming job: SpendScore v2 of each tenant and currency over its 30-, 90- and
-- 365-day windows, re-scored every day of arrivals. It reads the topic the Verocta pipeline
-- publishes (JSON, one canonical transaction per record: schemas/src/wire.rs,
-- schemas/transaction.schema.json) and writes one JSON record per tenant, currency and day —
-- the scores `verocta scores` writes to `spend_scores` and the DataFusion aggregate
-- `spendscore_v2` gives for the same rows (the same source file computes all three).
--
-- Needs the UDFs classic_day, seconds_of_day, amount_minor, classic_text_key,
-- v2_category_key, transaction_order_key and the aggregate spendscore_v2 registered first
-- (see README.md). Replace the bootstrap servers with your cluster's.
--
-- Windows: each score's window ends on the group's latest booked spend day and the budget
-- metric compares it with up to a year of periods before it (365 days before a 365-day
-- window), so every group holds two years of arrivals: a hop of 730 days sliding by a day,
-- on Arroyo's event time (the Kafka record's timestamp by default, i.e. arrival). A tenant
-- whose history was imported at once is scored in full on the day it arrives. Unlike
-- `verocta scores`, which scores each tenant's main currency, this scores every currency a
-- tenant spends in.

CREATE TABLE transactions (
    tenant_id TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    booked_date TEXT NOT NULL,
    booked_time TEXT,
    amount STRUCT<amount TEXT, currency TEXT> NOT NULL,
    class TEXT NOT NULL,
    vendor TEXT,
    category TEXT NOT NULL
) WITH (
    connector = 'kafka',
    bootstrap_servers = 'localhost:9092',
    topic = 'verocta.transactions.v1',
    type = 'source',
    format = 'json',
    'source.offset' = 'earliest',
    'source.group_id' = 'verocta-arroyo-spendscore-v2'
);

CREATE TABLE v2_scores (
    tenant_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    window_start TIMESTAMP NOT NULL,
    window_end TIMESTAMP NOT NULL,
    transactions BIGINT NOT NULL,
    score_30d BIGINT,
    score_90d BIGINT,
    score_365d BIGINT
) WITH (
    connector = 'kafka',
    bootstrap_servers = 'localhost:9092',
    topic = 'verocta.arroyo.v2-scores.v1',
    type = 'sink',
    format = 'json'
);

-- Every argument is non-NULL per row (no time → -1, no vendor → '', which the aggregate
-- reads as unknown), so the eight vectors stay aligned row for row. Only spend and credits
-- count; excluded rows (transfers, balances, totals) never reach the score.
CREATE VIEW keyed AS
SELECT
    tenant_id,
    amount.currency AS currency,
    classic_day(booked_date) AS day,
    coalesce(seconds_of_day(booked_time), -1) AS time_s,
    amount_minor(amount.amount) AS amount_minor,
    CASE WHEN class = 'credit' THEN 1 ELSE 0 END AS credit,
    classic_text_key(coalesce(vendor, '')) AS vendor,
    v2_category_key(category) AS category,
    coalesce(transaction_order_key(transaction_id), 0) AS ord
FROM transactions
WHERE class IN ('spend', 'credit');

INSERT INTO v2_scores
SELECT
    tenant_id,
    currency,
    window.start AS window_start,
    window.end AS window_end,
    transactions,
    score_30d,
    score_90d,
    score_365d
FROM (
    SELECT
        hop(interval '1 day', interval '730 days') AS window,
        tenant_id,
        currency,
        count(*) AS transactions,
        spendscore_v2(30, day, time_s, amount_minor, credit, vendor, category, ord) AS score_30d,
        spendscore_v2(90, day, time_s, amount_minor, credit, vendor, category, ord) AS score_90d,
        spendscore_v2(365, day, time_s, amount_minor, credit, vendor, category, ord) AS score_365d
    FROM keyed
    WHERE day IS NOT NULL AND amount_minor IS NOT NULL
    GROUP BY 1, 2, 3
);
