-- Anomalies flagged by detectors: one row per (tenant, day, detector, subject) — the latest
-- detection run wins.
--
-- A subject is a transaction (`subject_kind = 'transaction'`, `subject` = transaction_id) or an
-- aggregate (`vendor`, `category`, `tenant`: e.g. a category's spend on a day far above its
-- forecast). A later run that no longer flags a subject writes it again with `active = 0`
-- (retraction), so readers filter `active = 1` on the collapsed rows (FINAL or argMax).
CREATE TABLE IF NOT EXISTS verocta.anomalies
(
    tenant_id String,
    day Date COMMENT 'booked_date of the transaction, or the day the aggregate anomaly is about',
    detector {{v>=19.3:LowCardinality(String)|String}} COMMENT 'e.g. amount_zscore, duplicate_payment, new_vendor, category_spike',
    subject_kind {{v>=19.3:LowCardinality(String)|String}} COMMENT 'transaction | vendor | category | tenant',
    subject String COMMENT 'transaction_id, vendor key, category code, or empty for tenant',
    transaction_id String COMMENT 'Same as subject when subject_kind = transaction, else empty',
    detector_version String,
    active UInt8 COMMENT '1 = flagged, 0 = retracted by a later run',
    score Float64 COMMENT 'Detector score; higher is more anomalous',
    severity {{v>=19.3:LowCardinality(String)|String}} COMMENT 'low | medium | high',
    reason String COMMENT 'Human-readable explanation',
    amount_minor Nullable(Int64) COMMENT 'Observed amount (minor units of currency)',
    expected_minor Nullable(Int64) COMMENT 'What the detector expected (minor units)',
    currency {{v>=19.3:LowCardinality(String)|String}},
    details String COMMENT 'Detector-specific evidence as JSON text',
    detected_at_us UInt64 COMMENT 'Microseconds since the Unix epoch; the version column',
    detected_at DateTime('UTC') DEFAULT toDateTime(intDiv(detected_at_us, 1000000), 'UTC')
)
ENGINE = ReplacingMergeTree(detected_at_us)
PARTITION BY toYYYYMM(day)
ORDER BY (tenant_id, day, detector, subject_kind, subject);
