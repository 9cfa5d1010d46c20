-- Spend forecasts: one row per (tenant, model, granularity, currency, category, target date) —
-- the latest generation wins (a new run overwrites the horizon it covers).
--
-- `category` is '' for the tenant's total. Values are net spend in MAJOR units of `currency`
-- (a forecast is an estimate, so Float64; compare with actuals as
-- sum(net_minor) / exp10(currency_digits)). `target_date` is the first day of the forecast
-- period (the day, the Monday of the week, or the first of the month).
CREATE TABLE IF NOT EXISTS verocta.forecasts
(
    tenant_id String,
    model {{v>=19.3:LowCardinality(String)|String}} COMMENT 'e.g. prophet, ets, seasonal_naive',
    model_version String,
    granularity {{v>=19.3:LowCardinality(String)|String}} COMMENT 'day | week | month',
    currency {{v>=19.3:LowCardinality(String)|String}},
    category {{v>=19.3:LowCardinality(String)|String}} COMMENT 'Category code, or empty for the total',
    target_date Date COMMENT 'Start of the forecast period',
    yhat Float64 COMMENT 'Point forecast of net spend, major units',
    yhat_lower Float64 COMMENT 'Lower bound of the prediction interval',
    yhat_upper Float64 COMMENT 'Upper bound of the prediction interval',
    interval_width Float64 COMMENT 'Coverage of [yhat_lower, yhat_upper], e.g. 0.8',
    trained_through Date COMMENT 'Last day of the history the model saw',
    generated_at_us UInt64 COMMENT 'Microseconds since the Unix epoch; the version column',
    generated_at DateTime('UTC') DEFAULT toDateTime(intDiv(generated_at_us, 1000000), 'UTC')
)
ENGINE = ReplacingMergeTree(generated_at_us)
PARTITION BY toYYYYMM(target_date)
ORDER BY (tenant_id, model, granularity, currency, category, target_date);
