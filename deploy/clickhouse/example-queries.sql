-- Example analyst queries. They run as written on ClickHouse 18.16 (and later) against the
-- tables of migrations/, for tenant 'acme' of sample-data.sql. A tenant's read-only user runs
-- the same queries against its own database: replace `verocta.` by `tenant_acme.` (the
-- `tenant_id = 'acme'` conditions then become redundant but harmless).
-- Money is exact: sums are of Int64 minor units per currency, formatted with the currency's
-- digits; Float64 appears only for forecasts and ratios.
-- 18.16 has no window functions, no positional GROUP BY / ORDER BY (ORDER BY 1 sorts by the
-- constant 1), no query parameters, and no predicate push-down into views by default, hence
-- the inline subqueries that filter on tenant_id first. Aliases are global to a query and
-- shadow columns: never alias an aggregate with the name of a column it reads
-- (sum(spend_minor) AS spend_minor fails with "aggregate function inside another").

-- 1. Monthly net spend per category (rollup; exact decimal text per currency)
SELECT
    toStartOfMonth(day) AS month,
    currency,
    category,
    sum(spend_minor) - sum(credit_minor) AS net,
    concat(if(net < 0, '-', ''),
           toString(intDiv(abs(net), toInt64(exp10(any(currency_digits))))),
           if(any(currency_digits) = 0, '',
              concat('.', substring(toString(abs(net) % toInt64(exp10(any(currency_digits))) + toInt64(exp10(any(currency_digits)))), 2)))) AS net_text,
    sum(spend_count) AS spend_transactions
FROM verocta.daily_category_spend FINAL
WHERE tenant_id = 'acme'
GROUP BY month, currency, category
ORDER BY month, currency, net DESC;

-- 2. Top 10 vendors by spend over the last 90 days of the tenant's data
SELECT
    vendor,
    currency,
    sum(spend_minor) AS spend,
    sum(spend_count) AS transactions,
    round(spend / transactions / exp10(any(currency_digits)), 2) AS avg_ticket
FROM verocta.daily_vendor_spend FINAL
WHERE tenant_id = 'acme'
  AND day > (SELECT max(day) FROM verocta.daily_vendor_spend WHERE tenant_id = 'acme') - 90
GROUP BY vendor, currency
ORDER BY spend DESC
LIMIT 10;

-- 3. Month-over-month change per category (arrays instead of window functions)
SELECT
    category,
    currency,
    month,
    net_minor,
    delta_minor,
    if(prev_minor = 0, NULL, round(100 * delta_minor / prev_minor, 1)) AS delta_pct
FROM
(
    SELECT
        category,
        currency,
        groupArray(m) AS months,
        groupArray(n) AS nets
    FROM
    (
        SELECT category, currency, toStartOfMonth(day) AS m, sum(spend_minor) - sum(credit_minor) AS n
        FROM verocta.daily_category_spend FINAL
        WHERE tenant_id = 'acme'
        GROUP BY category, currency, m
        ORDER BY category, currency, m
    )
    GROUP BY category, currency
)
ARRAY JOIN
    months AS month,
    nets AS net_minor,
    arrayDifference(nets) AS delta_minor,
    arrayPushFront(arrayPopBack(nets), toInt64(0)) AS prev_minor
ORDER BY category, currency, month;

-- 4. The 20 largest spend transactions of March 2024, latest version of each (exact amounts)
SELECT
    transaction_id,
    t.1 AS booked_date,
    t.2 AS vendor,
    t.3 AS category,
    t.4 AS currency,
    t.5 AS amount_minor,
    concat(toString(intDiv(t.5, toInt64(exp10(t.6)))),
           if(t.6 = 0, '', concat('.', substring(toString(t.5 % toInt64(exp10(t.6)) + toInt64(exp10(t.6))), 2)))) AS amount,
    t.7 AS memo
FROM
(
    SELECT
        transaction_id,
        argMax((booked_date, vendor, category, currency, amount_minor, currency_digits, memo, class), ingested_at_us) AS t
    FROM verocta.transactions
    WHERE tenant_id = 'acme'
    GROUP BY transaction_id
)
WHERE t.8 = 'spend' AND t.1 >= '2024-03-01' AND t.1 < '2024-04-01'
ORDER BY amount_minor DESC
LIMIT 20;

-- 5. Possible duplicate payments: same vendor, currency and amount within 3 days
SELECT
    a.vendor AS vendor,
    a.currency AS currency,
    a.amount_minor AS amount_minor,
    a.transaction_id AS first_id,
    a.booked_date AS first_date,
    b.transaction_id AS second_id,
    b.booked_date AS second_date
FROM
(
    SELECT transaction_id, booked_date, ifNull(vendor, '') AS vendor, currency, amount_minor
    FROM verocta.transactions FINAL
    WHERE tenant_id = 'acme' AND class = 'spend'
) AS a
ALL INNER JOIN
(
    SELECT transaction_id, booked_date, ifNull(vendor, '') AS vendor, currency, amount_minor
    FROM verocta.transactions FINAL
    WHERE tenant_id = 'acme' AND class = 'spend'
) AS b
USING (vendor, currency, amount_minor)
WHERE a.transaction_id < b.transaction_id
  AND abs(toInt32(b.booked_date) - toInt32(a.booked_date)) <= 3
ORDER BY amount_minor DESC
LIMIT 50;

-- 6. Spend by department and employee, with share of the department's spend
SELECT
    department,
    employee,
    currency,
    spend_minor,
    round(100 * spend_minor / sum_dept, 1) AS pct_of_department
FROM
(
    SELECT ifNull(department, '(none)') AS department, ifNull(employee, '(none)') AS employee, currency,
           sum(amount_minor) AS spend_minor
    FROM verocta.transactions FINAL
    WHERE tenant_id = 'acme' AND class = 'spend'
    GROUP BY department, employee, currency
)
ANY LEFT JOIN
(
    SELECT ifNull(department, '(none)') AS department, currency, sum(amount_minor) AS sum_dept
    FROM verocta.transactions FINAL
    WHERE tenant_id = 'acme' AND class = 'spend'
    GROUP BY department, currency
)
USING (department, currency)
ORDER BY department, spend_minor DESC;

-- 7. SpendScore trend with its weighted components (classic model)
SELECT
    period_end,
    score,
    band,
    components.name AS component,
    components.value AS value,
    components.weight AS weight,
    round(components.value * components.weight / 100, 2) AS points
FROM verocta.spend_scores FINAL
ARRAY JOIN components
WHERE tenant_id = 'acme' AND model = 'classic' AND scope = ''
ORDER BY period_end, points DESC;

-- 8. Open anomalies with their transactions, most severe first
SELECT
    an.day AS day,
    an.detector AS detector,
    an.severity AS severity,
    round(an.score, 2) AS score,
    an.reason AS reason,
    tx.vendor AS vendor,
    tx.category AS category,
    tx.amount_minor AS amount_minor,
    tx.currency AS currency
FROM
(
    SELECT day, detector, severity, score, reason, transaction_id
    FROM verocta.anomalies FINAL
    WHERE tenant_id = 'acme' AND active = 1 AND subject_kind = 'transaction'
) AS an
ANY LEFT JOIN
(
    SELECT transaction_id, vendor, category, amount_minor, currency
    FROM verocta.transactions FINAL
    WHERE tenant_id = 'acme'
) AS tx
USING (transaction_id)
ORDER BY severity = 'high' DESC, score DESC
LIMIT 25;

-- 9. Forecast against actual net spend per month and category ('' = total), in major units
SELECT
    f.target_date AS month,
    f.category AS category,
    f.currency AS currency,
    round(f.yhat, 2) AS forecast,
    round(f.yhat_lower, 2) AS lower,
    round(f.yhat_upper, 2) AS upper,
    round(actual_minor / exp10(digits), 2) AS actual,
    actual_minor / exp10(digits) BETWEEN f.yhat_lower AND f.yhat_upper AS within_interval
FROM
(
    SELECT target_date, category, currency, yhat, yhat_lower, yhat_upper
    FROM verocta.forecasts FINAL
    WHERE tenant_id = 'acme' AND granularity = 'month'
) AS f
ANY LEFT JOIN
(
    SELECT toStartOfMonth(day) AS target_date, category, currency,
           sum(spend_minor) - sum(credit_minor) AS actual_minor, any(currency_digits) AS digits
    FROM verocta.daily_category_spend FINAL
    WHERE tenant_id = 'acme'
    GROUP BY target_date, category, currency
    UNION ALL
    SELECT toStartOfMonth(day) AS target_date, '' AS category, currency,
           sum(spend_minor) - sum(credit_minor) AS actual_minor, any(currency_digits) AS digits
    FROM verocta.daily_category_spend FINAL
    WHERE tenant_id = 'acme'
    GROUP BY target_date, currency
) AS a
USING (target_date, category, currency)
ORDER BY month, category;

-- 10. Data health: deliveries vs distinct transactions (replays), exclusions and freshness
SELECT
    toStartOfMonth(booked_date) AS month,
    count() AS delivered_rows,
    uniqExact(transaction_id) AS transactions,
    delivered_rows - transactions AS not_yet_merged_copies,
    uniqExactIf(transaction_id, class = 'excluded') AS excluded,
    groupUniqArrayIf(exclusion_reason, class = 'excluded') AS exclusion_reasons,
    toDateTime(intDiv(max(ingested_at_us), 1000000), 'UTC') AS last_ingested,
    (SELECT toDateTime(intDiv(max(max_ingested_at_us), 1000000), 'UTC')
     FROM verocta.rollup_refreshes WHERE tenant_id = 'acme') AS rollups_include_up_to
FROM verocta.transactions
WHERE tenant_id = 'acme'
GROUP BY month
ORDER BY month;
