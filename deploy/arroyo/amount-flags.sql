-- Arroyo streaming job: flag spend whose amount is suspiciously round or sits just under an
-- approval limit, per transaction, as the transactions arrive. It reads the topic the
-- Verocta pipeline publishes (JSON, one canonical transaction per record: schemas/src/wire.rs,
-- schemas/transaction.schema.json) and writes one JSON record per flag.
--
-- Needs the UDFs round_amount_score and under_limit_score registered first (see README.md).
-- Replace the bootstrap servers with your cluster's.

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
    'source.group_id' = 'verocta-arroyo-amount-flags'
);

CREATE TABLE amount_flags (
    tenant_id TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    booked_date TEXT NOT NULL,
    amount TEXT NOT NULL,
    currency TEXT NOT NULL,
    vendor TEXT,
    round_amount DOUBLE,
    under_limit DOUBLE
) WITH (
    connector = 'kafka',
    bootstrap_servers = 'localhost:9092',
    topic = 'verocta.arroyo.amount-flags.v1',
    type = 'sink',
    format = 'json'
);

INSERT INTO amount_flags
SELECT
    t.tenant_id,
    t.transaction_id,
    t.booked_date,
    t.amount.amount,
    t.amount.currency,
    t.vendor,
    round_amount_score(t.amount.amount) AS round_amount,
    under_limit_score(t.amount.amount) AS under_limit
FROM transactions AS t
WHERE t.class = 'spend'
  AND (under_limit_score(t.amount.amount) >= 0.8 OR round_amount_score(t.amount.amount) >= 1.0);
