-- SpendScores: one row per (tenant, model, scope, period) — the latest scoring wins.
--
-- `model` is `classic` (models/src/spendscore/classic.rs: six metrics weighted 15/10/20/15/20/20,
-- rounded half to even, banded Green >= 90 / Amber 70-89 / Red < 70) or a later model
-- (`v2`, ...). The classic metrics have their own columns; every model also lists its
-- components in the `components` Nested columns (name, value 0-100, weight), so a new model
-- needs no ALTER. Re-scoring a period inserts a new row with a greater `scored_at_us`;
-- replays of the same row are identical and collapse.
CREATE TABLE IF NOT EXISTS verocta.spend_scores
(
    tenant_id String,
    model {{v>=19.3:LowCardinality(String)|String}} COMMENT 'classic | v2 | ...',
    model_version String COMMENT 'Version of the model code or parameters',
    scope String COMMENT 'Empty for the whole tenant; otherwise e.g. department=Sales or category=travel',
    period_start Date COMMENT 'First day of the scored transactions',
    period_end Date COMMENT 'Last day of the scored transactions (inclusive)',
    currency {{v>=19.3:LowCardinality(String)|String}} COMMENT 'Currency of spend_minor; empty when the period mixes currencies',
    score UInt8 COMMENT 'Final score 0-100',
    band {{v>=19.3:LowCardinality(String)|String}} COMMENT 'Green | Amber | Red',
    label String COMMENT 'Excellent | Good | Needs Improvement',
    weighted Float64 COMMENT 'Unrounded weighted sum',
    frequency Nullable(Float64) COMMENT 'classic metric, weight 15',
    diversity Nullable(Float64) COMMENT 'classic metric, weight 10',
    budget Nullable(Float64) COMMENT 'classic metric, weight 20',
    redundancy Nullable(Float64) COMMENT 'classic metric, weight 15',
    spike Nullable(Float64) COMMENT 'classic metric, weight 20',
    waste Nullable(Float64) COMMENT 'classic metric, weight 20',
    components Nested
    (
        name String,
        value Float64,
        weight Float64
    ),
    transactions UInt64 COMMENT 'Transactions scored',
    spend_minor Int64 COMMENT 'Net spend scored, minor units of currency',
    scored_at_us UInt64 COMMENT 'When scored, microseconds since the Unix epoch; the version column',
    scored_at DateTime('UTC') DEFAULT toDateTime(intDiv(scored_at_us, 1000000), 'UTC')
)
ENGINE = ReplacingMergeTree(scored_at_us)
PARTITION BY toYYYYMM(period_end)
ORDER BY (tenant_id, model, scope, period_end, period_start);
