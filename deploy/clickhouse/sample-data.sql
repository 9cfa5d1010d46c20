-- A small deterministic sample for trying the example queries and for verify.sh: two tenants
-- (acme: GBP with some EUR; globex: USD with some JPY), 400 transactions each over
-- 2024-01-01 .. 2024-04-29, six categories, seven vendors, credits and exclusions, plus
-- scores, anomalies and forecasts. Every statement is deterministic, so running the file again
-- re-delivers exactly the same rows (a replay). Run as `default` (uses numbers()).

INSERT INTO verocta.transactions
    (schema_version, tenant_id, transaction_id, source_kind, source_format, source_name, source_line,
     external_id, booked_date, booked_time_s, amount_minor, currency, currency_digits,
     original_amount_minor, original_currency, class, exclusion_reason, exclusion_detail,
     vendor_raw, vendor, category_raw, category, account, memo, payment_method, card_last4,
     employee, department, ingested_at_us)
SELECT
    1,
    tenant,
    concat('tx_', lower(hex(MD5(concat(tenant, ':', toString(n)))))),
    'csv',
    if(tenant = 'acme', 'revolut-business', 'brex'),
    concat(tenant, '-export.csv'),
    toInt64(n + 2),
    if(n % 4 = 0, concat('ext-', toString(n)), NULL),
    toDate('2024-01-01') + ((n * 37) % 120),
    if(n % 3 = 0, toInt32((n * 613) % 86400), NULL),
    toInt64(cityHash64(tenant, n) % (if(cur = 'JPY', 200000, 50000))) + 100,
    cur,
    toUInt8(if(cur = 'JPY', 0, 2)),
    if(cur = 'EUR', toInt64(cityHash64(tenant, n) % 40000), NULL),
    if(cur = 'EUR', 'GBP', NULL),
    cls,
    if(cls = 'excluded', 'pending', NULL),
    if(cls = 'excluded', 'State is PENDING', NULL),
    concat(upper(vend), ' *', toString(n % 5)),
    vend,
    concat('Raw ', cat),
    cat,
    if(tenant = 'acme', 'Main GBP', 'Brex card'),
    concat('memo ', toString(n)),
    if(n % 2 = 0, 'card', 'transfer'),
    if(n % 2 = 0, toString(1000 + n % 9000), NULL),
    arrayElement(['ana', 'bo', 'cy'], n % 3 + 1),
    arrayElement(['eng', 'sales', 'ops', 'finance'], n % 4 + 1),
    toUInt64(1717200000000000 + n)
FROM
(
    SELECT
        arrayJoin(['acme', 'globex']) AS tenant,
        number AS n,
        if(tenant = 'acme', if(number % 13 = 0, 'EUR', 'GBP'), if(number % 11 = 0, 'JPY', 'USD')) AS cur,
        multiIf(number % 10 = 9, 'credit', number % 23 = 5, 'excluded', 'spend') AS cls,
        arrayElement(['software_saas', 'cloud_hosting', 'travel', 'meals_entertainment', 'office_supplies', 'professional_services'], number % 6 + 1) AS cat,
        arrayElement(['aws', 'github', 'uber', 'pret', 'staples', 'deloitte', 'slack'], number % 7 + 1) AS vend
    FROM numbers(400)
);

INSERT INTO verocta.spend_scores
    (tenant_id, model, model_version, scope, period_start, period_end, currency, score, band, label, weighted,
     frequency, diversity, budget, redundancy, spike, waste,
     components.name, components.value, components.weight, transactions, spend_minor, scored_at_us)
SELECT
    tenant, 'classic', '1', '', toDate('2024-01-01'), toDate('2024-01-01') + 30 * m + 30,
    if(tenant = 'acme', 'GBP', 'USD'),
    toUInt8(60 + (cityHash64(tenant, m) % 35)),
    multiIf(60 + (cityHash64(tenant, m) % 35) >= 90, 'Green', 60 + (cityHash64(tenant, m) % 35) >= 70, 'Amber', 'Red'),
    multiIf(60 + (cityHash64(tenant, m) % 35) >= 90, 'Excellent', 60 + (cityHash64(tenant, m) % 35) >= 70, 'Good', 'Needs Improvement'),
    toFloat64(60 + (cityHash64(tenant, m) % 35)),
    80., 70., 90., 60., 75., 85.,
    ['frequency', 'diversity', 'budget', 'redundancy', 'spike', 'waste'],
    [80., 70., 90., 60., 75., 85.],
    [15., 10., 20., 15., 20., 20.],
    toUInt64(100 * (m + 1)), toInt64(1000000 * (m + 1)),
    toUInt64(1717300000000000 + m)
FROM (SELECT arrayJoin(['acme', 'globex']) AS tenant, number AS m FROM numbers(4));

INSERT INTO verocta.anomalies
    (tenant_id, day, detector, subject_kind, subject, transaction_id, detector_version, active, score, severity,
     reason, amount_minor, expected_minor, currency, details, detected_at_us)
SELECT
    tenant_id, booked_date, 'amount_zscore', 'transaction', transaction_id, transaction_id, '1',
    toUInt8(amount_minor % 5 != 0), 3.5 + (amount_minor % 100) / 100,
    if(amount_minor > 45000, 'high', 'medium'),
    concat('amount is ', toString(round(amount_minor / 10000, 1)), 'x the vendor median'),
    amount_minor, toInt64(amount_minor / 4), currency, '{"z":3.5}',
    toUInt64(1717400000000000)
FROM verocta.transactions
WHERE class = 'spend' AND amount_minor > 40000 AND currency IN ('GBP', 'USD');

INSERT INTO verocta.forecasts
    (tenant_id, model, model_version, granularity, currency, category, target_date, yhat, yhat_lower, yhat_upper,
     interval_width, trained_through, generated_at_us)
SELECT
    tenant, 'seasonal_naive', '1', 'month', if(tenant = 'acme', 'GBP', 'USD'), cat,
    addMonths(toDate('2024-03-01'), toInt32(h)),
    base, base * 0.8, base * 1.2, 0.8, toDate('2024-02-29'), toUInt64(1717500000000000)
FROM
(
    SELECT
        arrayJoin(['acme', 'globex']) AS tenant,
        arrayJoin(['', 'software_saas', 'travel']) AS cat,
        arrayJoin([0, 1, 2]) AS h,
        if(cat = '', 9000., 1500.) * (1 + h / 10) AS base
);
