-- Arroyo streaming job: the classic SpendScore of each tenant's spend, per day of arrival.
-- It reads the topic the Verocta pipeline publishes (JSON, one canonical transaction per
-- record: schemas/src/wire.rs, schemas/transaction.schema.json) and writes one JSON record
-- per tenant and day — the score `verocta score --classic` and the DataFusion UDAF
-- `spendscore_classic` give for the same rows (the same source file computes all three).
--
-- Needs the UDFs classic_text_key, classic_category_key, classic_day and the aggregate
-- spendscore_classic registered first (see README.md). Replace the bootstrap servers with
-- your cluster's. The window is Arroyo's event time, the Kafka record's timestamp by default:
-- a day of arrivals, i.e. roughly one import per window, as the original scored one file.

CREATE TABLE transactions (
    tenant_id TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    booked_date TEXT NOT NULL,
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
    'source.group_id' = 'verocta-arroyo-spendscore-classic'
);

CREATE TABLE classic_scores (
    tenant_id TEXT NOT NULL,
    window_start TIMESTAMP NOT NULL,
    window_end TIMESTAMP NOT NULL,
    transactions BIGINT NOT NULL,
    score BIGINT
) WITH (
    connector = 'kafka',
    bootstrap_servers = 'localhost:9092',
    topic = 'verocta.arroyo.classic-scores.v1',
    type = 'sink',
    format = 'json'
);

-- Every argument is non-NULL per row (vendor and category coalesced to '', as the DataFusion
-- UDAF reads them; a NULL day stays NULL, which the aggregate accepts), so the four vectors
-- stay aligned row for row.
INSERT INTO classic_scores
SELECT
    tenant_id,
    window.start AS window_start,
    window.end AS window_end,
    transactions,
    score
FROM (
    SELECT
        tumble(interval '1 day') AS window,
        t.tenant_id,
        count(*) AS transactions,
        spendscore_classic(
            CAST(t.amount.amount AS DOUBLE),
            classic_text_key(coalesce(t.vendor, '')),
            classic_day(t.booked_date),
            classic_category_key(t.category)
        ) AS score
    FROM transactions AS t
    WHERE t.class = 'spend'
    GROUP BY 1, 2
);
