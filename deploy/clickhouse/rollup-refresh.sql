-- Rollup refresh for a set of tenant date windows — normally every window one sink batch
-- touched — in three statements however many tenants the batch holds (see
-- migrations/0005_rollups.sql). One statement per tenant cost ~0.15 s each on 18.16, which a
-- batch of many tenants could not afford.
--
-- 18.16 has no query parameters, so the caller replaces these markers with SQL text built
-- from validated values (tenant ids are [A-Za-z0-9._-]; quoting cannot be escaped from):
--   {windows:booked_date}  the windows as a predicate on tenant_id and the named date column:
--   {windows:day}            ((tenant_id = 'acme' AND booked_date >= toDate('2024-03-01')
--                              AND booked_date <= toDate('2024-03-31')) OR (…))
--   {tenants}              the windows' tenants as a list: 'acme', 'globex'
--   {tenant_list}          the same as an array, ['acme', 'globex'], and beside it, in the
--   {from_list}            same order, each window's first and last day:
--   {to_list}              [toDate('2024-03-01'), …], [toDate('2024-03-31'), …]
--   {version:UInt64}       microseconds since the Unix epoch taken when the refresh starts;
--                          must grow from one refresh of a tenant to the next.
-- The source is the latest version of each transaction among the versions booked inside the
-- windows, so a refresh reads only the windows' key ranges (tenant_id, booked_date), not the
-- tenants' whole history. The sink's windows span each tenant's min/max booked_date of what it
-- inserted, which always holds the newest version of every transaction it touched; replays and
-- corrections within a window count once. A correction that moves a transaction to another
-- date leaves its old day's rollup counting the old version until a refresh whose window holds
-- both dates (`verocta clickhouse backfill` refreshes every tenant's whole range);
-- `verocta clickhouse verify` detects it.
-- Refreshes of the same tenant must not run concurrently (they read the rollups they rewrite).
-- The three statements are independent and each is idempotent; run them in order.

-- 1. Category rollup.
INSERT INTO verocta.daily_category_spend
    (tenant_id, day, currency, currency_digits, category, spend_minor, spend_count, credit_minor, credit_count, excluded_count, refresh_version)
SELECT
    tenant_id, day, currency, max(digits), category,
    sum(spend), sum(spend_n), sum(credit), sum(credit_n), sum(excluded_n),
    {version:UInt64}
FROM
(
    SELECT
        tenant_id, tx.1 AS day, tx.2 AS currency, tx.3 AS digits, tx.4 AS category,
        if(tx.5 = 'spend', tx.6, toInt64(0)) AS spend,
        toUInt64(tx.5 = 'spend') AS spend_n,
        if(tx.5 = 'credit', tx.6, toInt64(0)) AS credit,
        toUInt64(tx.5 = 'credit') AS credit_n,
        toUInt64(tx.5 = 'excluded') AS excluded_n
    FROM
    (
        SELECT tenant_id, argMax((booked_date, currency, currency_digits, category, class, amount_minor), ingested_at_us) AS tx
        FROM verocta.transactions
        WHERE tenant_id IN ({tenants}) AND {windows:booked_date}
        GROUP BY tenant_id, transaction_id
    )
    WHERE {windows:day}
    UNION ALL
    SELECT tenant_id, day, currency, currency_digits AS digits, category,
        toInt64(0) AS spend, toUInt64(0) AS spend_n, toInt64(0) AS credit, toUInt64(0) AS credit_n, toUInt64(0) AS excluded_n
    FROM verocta.daily_category_spend FINAL
    WHERE tenant_id IN ({tenants}) AND {windows:day}
)
GROUP BY tenant_id, day, currency, category;

-- 2. Vendor rollup.
INSERT INTO verocta.daily_vendor_spend
    (tenant_id, day, currency, currency_digits, vendor, spend_minor, spend_count, credit_minor, credit_count, excluded_count, refresh_version)
SELECT
    tenant_id, day, currency, max(digits), vendor,
    sum(spend), sum(spend_n), sum(credit), sum(credit_n), sum(excluded_n),
    {version:UInt64}
FROM
(
    SELECT
        tenant_id, tx.1 AS day, tx.2 AS currency, tx.3 AS digits, ifNull(tx.4, '') AS vendor,
        if(tx.5 = 'spend', tx.6, toInt64(0)) AS spend,
        toUInt64(tx.5 = 'spend') AS spend_n,
        if(tx.5 = 'credit', tx.6, toInt64(0)) AS credit,
        toUInt64(tx.5 = 'credit') AS credit_n,
        toUInt64(tx.5 = 'excluded') AS excluded_n
    FROM
    (
        SELECT tenant_id, argMax((booked_date, currency, currency_digits, vendor, class, amount_minor), ingested_at_us) AS tx
        FROM verocta.transactions
        WHERE tenant_id IN ({tenants}) AND {windows:booked_date}
        GROUP BY tenant_id, transaction_id
    )
    WHERE {windows:day}
    UNION ALL
    SELECT tenant_id, day, currency, currency_digits AS digits, vendor,
        toInt64(0) AS spend, toUInt64(0) AS spend_n, toInt64(0) AS credit, toUInt64(0) AS credit_n, toUInt64(0) AS excluded_n
    FROM verocta.daily_vendor_spend FINAL
    WHERE tenant_id IN ({tenants}) AND {windows:day}
)
GROUP BY tenant_id, day, currency, vendor;

-- 3. Bookkeeping ("data as of"): one row per window.
INSERT INTO verocta.rollup_refreshes (tenant_id, date_from, date_to, refresh_version, source_rows, max_ingested_at_us)
SELECT
    tenant_id,
    transform(tenant_id, {tenant_list}, {from_list}, toDate('1970-01-01')),
    transform(tenant_id, {tenant_list}, {to_list}, toDate('1970-01-01')),
    {version:UInt64}, count(), max(v)
FROM
(
    SELECT tenant_id, argMax(booked_date, ingested_at_us) AS day, max(ingested_at_us) AS v
    FROM verocta.transactions
    WHERE tenant_id IN ({tenants}) AND {windows:booked_date}
    GROUP BY tenant_id, transaction_id
)
WHERE {windows:day}
GROUP BY tenant_id;
