-- Bookkeeping for the migrator. Applied before anything else, on every run (idempotent).
--
-- File format of every migration (see deploy/clickhouse/README.md):
--   * statements end with `;` as the last non-blank character of a line; the migrator sends
--     each statement as one HTTP request (the HTTP interface takes one statement per request);
--   * lines starting with `--` are comments;
--   * `{{v>=MAJOR.MINOR:NEW|OLD}}` renders to NEW on servers of that version or later, to OLD
--     before it;
--   * a line `-- requires-server: >=X.Y` or `-- requires-server: <X.Y` makes the whole file
--     apply only on such servers (otherwise it is skipped and not recorded, so it is applied
--     once the server is upgraded);
--   * every statement is idempotent (IF NOT EXISTS), because ClickHouse has no transactional
--     DDL: a file that failed half-way is simply run again.
CREATE DATABASE IF NOT EXISTS verocta;

-- One row per applied file. `version` is the file's number (0001 → 1); `checksum` is the
-- SHA-256 (hex) of the file as stored, before placeholder rendering, so an edited migration is
-- detected; `rendered_sha256` is that of the text actually sent. Rows are only ever inserted:
-- ReplacingMergeTree keeps the last application of a version (re-applied after a failed
-- half-run). Read with FINAL or argMax.
CREATE TABLE IF NOT EXISTS verocta.schema_migrations
(
    version UInt32 COMMENT 'Number in the file name: 0001_transactions.sql is 1',
    name String COMMENT 'File name',
    checksum String COMMENT 'SHA-256 hex of the file as stored (before rendering)',
    rendered_sha256 String COMMENT 'SHA-256 hex of the rendered text that was executed',
    server_version String COMMENT 'version() of the server it was applied on',
    statements UInt32 COMMENT 'Number of statements executed',
    duration_ms UInt64 COMMENT 'Wall time of the whole file',
    applied_by String COMMENT 'Tool and version, e.g. verocta 0.1.0',
    applied_at_us UInt64 COMMENT 'Microseconds since the Unix epoch (version column)',
    applied_at DateTime('UTC') DEFAULT toDateTime(intDiv(applied_at_us, 1000000), 'UTC')
)
ENGINE = ReplacingMergeTree(applied_at_us)
ORDER BY version;
