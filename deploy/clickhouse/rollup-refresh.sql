-- Rollup refresh for one tenant and one date window (see migrations/0005_rollups.sql).
--
-- Parameters use ClickHouse's query-parameter syntax {name:Type}. Servers >= 19.11 bind them
-- from HTTP `param_name=value`; on 18.16 the caller replaces each marker by a quoted SQL
-- literal ('acme', '2024-01-01', 1732000000000000) — tenant ids are [A-Za-z0-9._-] so quoting
-- cannot be escaped from.
--   tenant_id  the tenant
--   from, to   inclusive window of booked dates to recompute; it must cover every booked_date
--              that any version of the changed transactions has or had. A sink computes it
--              after inserting a batch as
--                SELECT min(booked_date), max(booked_date) FROM verocta.transactions
--                WHERE tenant_id = T AND transaction_id IN (<ids of the batch>)
--              (or simply refreshes whole months, or the whole tenant).
--   version    microseconds since the Unix epoch taken when the refresh starts; must grow from
--              one refresh of a tenant to the next.
-- Refreshes of the same tenant must not run concurrently (they read the rollups they rewrite).
-- The three statements are independent and each is idempotent; run them in order.

-- 1. Category rollup.
INSERT INTO verocta.daily_category_spend
    (tenant_id, day, currency, currency_digits, category, spend_minor, spend_count, credit_minor, credit_count, excluded_count, refresh_version)
SELECT
    {tenant_id:String}, day, currency, max(digits), category,
    sum(spend), sum(spend_n), sum(credit), sum(credit_n), sum(excluded_n),
    {version:UInt64}
FROM
(
    SELECT
        tx.1 AS day, tx.2 AS currency, tx.3 AS digits, tx.4 AS category,
        if(tx.5 = 'spend', tx.6, toInt64(0)) AS spend,
        toUInt64(tx.5 = 'spend') AS spend_n,
        if(tx.5 = 'credit', tx.6, toInt64(0)) AS credit,
        toUInt64(tx.5 = 'credit') AS credit_n,
        toUInt64(tx.5 = 'excluded') AS excluded_n
    FROM
    (
        SELECT argMax((booked_date, currency, currency_digits, category, class, amount_minor), ingested_at_us) AS tx
        FROM verocta.transactions
        WHERE tenant_id = {tenant_id:String}
          AND transaction_id IN
          (
              SELECT transaction_id FROM verocta.transactions
              WHERE tenant_id = {tenant_id:String} AND booked_date >= {from:Date} AND booked_date <= {to:Date}
          )
        GROUP BY transaction_id
    )
    WHERE day >= {from:Date} AND day <= {to:Date}
    UNION ALL
    SELECT day, currency, currency_digits AS digits, category,
        toInt64(0) AS spend, toUInt64(0) AS spend_n, toInt64(0) AS credit, toUInt64(0) AS credit_n, toUInt64(0) AS excluded_n
    FROM verocta.daily_category_spend FINAL
    WHERE tenant_id = {tenant_id:String} AND day >= {from:Date} AND day <= {to:Date}
)
GROUP BY day, currency, category;

-- 2. Vendor rollup.
INSERT INTO verocta.daily_vendor_spend
    (tenant_id, day, currency, currency_digits, vendor, spend_minor, spend_count, credit_minor, credit_count, excluded_count, refresh_version)
SELECT
    {tenant_id:String}, day, currency, max(digits), vendor,
    sum(spend), sum(spend_n), sum(credit), sum(credit_n), sum(excluded_n),
    {version:UInt64}
FROM
(
    SELECT
        tx.1 AS day, tx.2 AS currency, tx.3 AS digits, ifNull(tx.4, '') AS vendor,
        if(tx.5 = 'spend', tx.6, toInt64(0)) AS spend,
        toUInt64(tx.5 = 'spend') AS spend_n,
        if(tx.5 = 'credit', tx.6, toInt64(0)) AS credit,
        toUInt64(tx.5 = 'credit') AS credit_n,
        toUInt64(tx.5 = 'excluded') AS excluded_n
    FROM
    (
        SELECT argMax((booked_date, currency, currency_digits, vendor, class, amount_minor), ingested_at_us) AS tx
        FROM verocta.transactions
        WHERE tenant_id = {tenant_id:String}
          AND transaction_id IN
          (
              SELECT transaction_id FROM verocta.transactions
              WHERE tenant_id = {tenant_id:String} AND booked_date >= {from:Date} AND booked_date <= {to:Date}
          )
        GROUP BY transaction_id
    )
    WHERE day >= {from:Date} AND day <= {to:Date}
    UNION ALL
    SELECT day, currency, currency_digits AS digits, vendor,
        toInt64(0) AS spend, toUInt64(0) AS spend_n, toInt64(0) AS credit, toUInt64(0) AS credit_n, toUInt64(0) AS excluded_n
    FROM verocta.daily_vendor_spend FINAL
    WHERE tenant_id = {tenant_id:String} AND day >= {from:Date} AND day <= {to:Date}
)
GROUP BY day, currency, vendor;

-- 3. Bookkeeping ("data as of").
INSERT INTO verocta.rollup_refreshes (tenant_id, date_from, date_to, refresh_version, source_rows, max_ingested_at_us)
SELECT {tenant_id:String}, {from:Date}, {to:Date}, {version:UInt64}, count(), max(v)
FROM
(
    SELECT argMax(booked_date, ingested_at_us) AS day, max(ingested_at_us) AS v
    FROM verocta.transactions
    WHERE tenant_id = {tenant_id:String}
      AND transaction_id IN
      (
          SELECT transaction_id FROM verocta.transactions
          WHERE tenant_id = {tenant_id:String} AND booked_date >= {from:Date} AND booked_date <= {to:Date}
      )
    GROUP BY transaction_id
)
WHERE day >= {from:Date} AND day <= {to:Date};
