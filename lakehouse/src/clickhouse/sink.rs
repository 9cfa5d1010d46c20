//! The ClickHouse sink: canonical transaction batches (the Arrow layout of
//! `verocta_schemas::arrow`) inserted as RowBinary, then the dashboard rollups refreshed for
//! the tenant/date windows the batch touched.
//!
//! Idempotent by construction: a replayed batch inserts rows with the same key and version, which
//! `ReplacingMergeTree` collapses and every reader de-duplicates (latest version per
//! transaction); the rollups are recomputed from that de-duplicated view, never incremented. So
//! the caller may deliver at least once — retry an insert, replay from an older Kafka offset —
//! and no total changes.

use std::collections::BTreeMap;
use std::time::Instant;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Int8Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType,
};
use arrow_array::{Array, RecordBatch};
use chrono::NaiveDate;

use super::migrate::{now_us, render, retarget, statements};
use super::{ClickHouse, ClickHouseError, quote};

/// A tenant's booked-date range whose rollups must be recomputed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RollupWindow {
    /// The tenant.
    pub tenant_id: String,
    /// First day (inclusive).
    pub from: NaiveDate,
    /// Last day (inclusive).
    pub to: NaiveDate,
}

/// One `transactions` row as RowBinary sends it (column order of the table; the `ingested_at`
/// DEFAULT and the ALIAS columns are left to the server).
#[derive(clickhouse::Row, serde::Serialize)]
struct TransactionRow<'a> {
    schema_version: u16,
    tenant_id: &'a str,
    transaction_id: &'a str,
    source_kind: &'a str,
    source_format: &'a str,
    source_name: &'a str,
    source_line: Option<i64>,
    external_id: Option<&'a str>,
    booked_date: u16,
    booked_time_s: Option<i32>,
    amount_minor: i64,
    currency: &'a str,
    currency_digits: u8,
    original_amount_minor: Option<i64>,
    original_currency: Option<&'a str>,
    class: &'a str,
    exclusion_reason: Option<&'a str>,
    exclusion_detail: Option<&'a str>,
    vendor_raw: Option<&'a str>,
    vendor: Option<&'a str>,
    category_raw: Option<&'a str>,
    category: &'a str,
    account: Option<&'a str>,
    memo: Option<&'a str>,
    payment_method: Option<&'a str>,
    card_last4: Option<&'a str>,
    employee: Option<&'a str>,
    department: Option<&'a str>,
    ingested_at_us: u64,
}

/// Typed views of a transactions batch's columns.
struct Columns<'a> {
    batch: &'a RecordBatch,
}

impl<'a> Columns<'a> {
    fn column(&self, name: &str) -> Result<&'a dyn Array, ClickHouseError> {
        self.batch
            .column_by_name(name)
            .map(|c| c.as_ref())
            .ok_or_else(|| ClickHouseError::Protocol {
                what: "a transactions batch".into(),
                answer: format!("no column {name}"),
            })
    }

    fn string(&self, name: &str, row: usize) -> Result<Option<&'a str>, ClickHouseError> {
        let column = self.column(name)?;
        let strings = column
            .as_string_opt::<i32>()
            .ok_or_else(|| ClickHouseError::Protocol {
                what: "a transactions batch".into(),
                answer: format!("column {name} is {}, not Utf8", column.data_type()),
            })?;
        Ok(strings.is_valid(row).then(|| strings.value(row)))
    }

    fn required(&self, name: &str, row: usize) -> Result<&'a str, ClickHouseError> {
        self.string(name, row)?
            .ok_or_else(|| ClickHouseError::Protocol {
                what: "a transactions batch".into(),
                answer: format!("null in required column {name} at row {row}"),
            })
    }

    fn primitive<T: arrow_array::ArrowPrimitiveType>(
        &self,
        name: &str,
        row: usize,
    ) -> Result<Option<T::Native>, ClickHouseError> {
        let column = self.column(name)?;
        let values = column
            .as_primitive_opt::<T>()
            .ok_or_else(|| ClickHouseError::Protocol {
                what: "a transactions batch".into(),
                answer: format!("column {name} has type {}", column.data_type()),
            })?;
        Ok(values.is_valid(row).then(|| values.value(row)))
    }

    fn row(&self, row: usize) -> Result<TransactionRow<'a>, ClickHouseError> {
        let missing = |name: &str| ClickHouseError::Protocol {
            what: "a transactions batch".into(),
            answer: format!("null in required column {name} at row {row}"),
        };
        let booked = self
            .primitive::<Date32Type>("booked_date", row)?
            .ok_or_else(|| missing("booked_date"))?;
        Ok(TransactionRow {
            schema_version: self
                .primitive::<Int16Type>("schema_version", row)?
                .ok_or_else(|| missing("schema_version"))? as u16,
            tenant_id: self.required("tenant_id", row)?,
            transaction_id: self.required("transaction_id", row)?,
            source_kind: self.required("source_kind", row)?,
            source_format: self.required("source_format", row)?,
            source_name: self.required("source_name", row)?,
            source_line: self.primitive::<Int64Type>("source_line", row)?,
            external_id: self.string("external_id", row)?,
            // ClickHouse `Date` is days since 1970 in a u16 (1970-01-01 … 2149-06-06).
            booked_date: u16::try_from(booked).map_err(|_| ClickHouseError::Protocol {
                what: "a transactions batch".into(),
                answer: format!("booked_date {booked} (days) is outside ClickHouse's Date range"),
            })?,
            booked_time_s: self.primitive::<Int32Type>("booked_time_s", row)?,
            amount_minor: self
                .primitive::<Int64Type>("amount_minor", row)?
                .ok_or_else(|| missing("amount_minor"))?,
            currency: self.required("currency", row)?,
            currency_digits: self
                .primitive::<Int8Type>("currency_digits", row)?
                .ok_or_else(|| missing("currency_digits"))? as u8,
            original_amount_minor: self.primitive::<Int64Type>("original_amount_minor", row)?,
            original_currency: self.string("original_currency", row)?,
            class: self.required("class", row)?,
            exclusion_reason: self.string("exclusion_reason", row)?,
            exclusion_detail: self.string("exclusion_detail", row)?,
            vendor_raw: self.string("vendor_raw", row)?,
            vendor: self.string("vendor", row)?,
            category_raw: self.string("category_raw", row)?,
            category: self.required("category", row)?,
            account: self.string("account", row)?,
            memo: self.string("memo", row)?,
            payment_method: self.string("payment_method", row)?,
            card_last4: self.string("card_last4", row)?,
            employee: self.string("employee", row)?,
            department: self.string("department", row)?,
            ingested_at_us: self
                .primitive::<TimestampMicrosecondType>("ingested_at", row)?
                .ok_or_else(|| missing("ingested_at"))?
                .max(0) as u64,
        })
    }
}

/// Per tenant, the booked-date range of a batch.
pub fn windows_of(batch: &RecordBatch) -> Result<Vec<RollupWindow>, ClickHouseError> {
    let columns = Columns { batch };
    let mut ranges: BTreeMap<&str, (i32, i32)> = BTreeMap::new();
    for row in 0..batch.num_rows() {
        let tenant = columns.required("tenant_id", row)?;
        let Some(day) = columns.primitive::<Date32Type>("booked_date", row)? else {
            continue;
        };
        let range = ranges.entry(tenant).or_insert((day, day));
        range.0 = range.0.min(day);
        range.1 = range.1.max(day);
    }
    Ok(ranges
        .into_iter()
        .map(|(tenant, (from, to))| RollupWindow {
            tenant_id: tenant.to_string(),
            from: date_from_days(from),
            to: date_from_days(to),
        })
        .collect())
}

/// Windows gathered over several batches, one per tenant spanning all of them.
#[derive(Debug, Default)]
pub struct PendingWindows(BTreeMap<String, (NaiveDate, NaiveDate)>);

impl PendingWindows {
    /// Widens each tenant's window to cover `windows`.
    pub fn add(&mut self, windows: Vec<RollupWindow>) {
        for window in windows {
            let range = self
                .0
                .entry(window.tenant_id)
                .or_insert((window.from, window.to));
            range.0 = range.0.min(window.from);
            range.1 = range.1.max(window.to);
        }
    }

    /// Tenants with a window.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The windows, leaving none pending.
    pub fn take(&mut self) -> Vec<RollupWindow> {
        std::mem::take(&mut self.0)
            .into_iter()
            .map(|(tenant_id, (from, to))| RollupWindow {
                tenant_id,
                from,
                to,
            })
            .collect()
    }
}

/// The date `days` after 1970-01-01 (Arrow's Date32).
pub(crate) fn date_from_days(days: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(days.saturating_add(719_163)).unwrap_or(NaiveDate::MIN)
}

/// What one `write_transactions` did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SinkOutcome {
    /// Rows inserted (including replays of rows already there).
    pub rows: usize,
    /// Tenant windows whose rollups were recomputed.
    pub windows: usize,
}

/// Writes transactions and keeps the rollups in step.
#[derive(Clone, Debug)]
pub struct ClickHouseSink {
    clickhouse: ClickHouse,
    client: clickhouse::Client,
    /// `rollup-refresh.sql` rendered for this server and database, with its `{name:Type}`
    /// parameters still to bind (18.16 has no query parameters).
    rollup_refresh: String,
}

impl ClickHouseSink {
    /// A sink into `clickhouse`'s database (which `migrate` must have prepared).
    pub fn new(clickhouse: ClickHouse) -> Result<Self, ClickHouseError> {
        let template = verocta_deploy::asset("clickhouse/rollup-refresh.sql")
            .map(|a| a.contents)
            .ok_or_else(|| ClickHouseError::Template {
                name: "clickhouse/rollup-refresh.sql".into(),
                problem: "not embedded".into(),
            })?;
        let rollup_refresh = retarget(
            &render("rollup-refresh.sql", template, clickhouse.version())?,
            clickhouse.database(),
        );
        let client = clickhouse
            .client()
            .clone()
            .with_database(clickhouse.database());
        Ok(ClickHouseSink {
            clickhouse,
            client,
            rollup_refresh,
        })
    }

    /// The connection.
    pub fn clickhouse(&self) -> &ClickHouse {
        &self.clickhouse
    }

    /// Inserts a batch of canonical transactions and refreshes the rollups it touches. Safe to
    /// repeat with the same batch.
    pub async fn write_transactions(
        &self,
        batch: &RecordBatch,
    ) -> Result<SinkOutcome, ClickHouseError> {
        if batch.num_rows() == 0 {
            return Ok(SinkOutcome::default());
        }
        let started = Instant::now();
        self.insert_rows(batch).await?;
        let windows = windows_of(batch)?;
        self.refresh_rollups(&windows).await?;
        tracing::debug!(
            rows = batch.num_rows(),
            windows = windows.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "ClickHouse batch written"
        );
        Ok(SinkOutcome {
            rows: batch.num_rows(),
            windows: windows.len(),
        })
    }

    /// Inserts the rows only (no rollup refresh): for backfills that refresh once at the end.
    pub async fn insert_rows(&self, batch: &RecordBatch) -> Result<(), ClickHouseError> {
        let columns = Columns { batch };
        let rows = (0..batch.num_rows())
            .map(|row| columns.row(row))
            .collect::<Result<Vec<_>, _>>()?;
        // A failed insert is retried whole: a partly applied one leaves rows that the retry
        // re-inserts with the same key and version, which the table collapses.
        self.clickhouse
            .retrying("INSERT INTO transactions", || async {
                let mut insert = self
                    .client
                    .insert::<TransactionRow<'_>>("transactions")
                    .await?;
                for row in &rows {
                    insert.write(row).await?;
                }
                insert.end().await
            })
            .await
    }

    /// Recomputes the daily category and vendor rollups of each window from the latest
    /// version of every transaction in it. One tenant's refreshes must not run concurrently;
    /// the pipeline keys tenants to partitions, so one sink worker owns each tenant.
    pub async fn refresh_rollups(&self, windows: &[RollupWindow]) -> Result<(), ClickHouseError> {
        // Bounded so the statement stays under the server's max_query_size (256 KiB).
        for chunk in windows.chunks(REFRESH_WINDOWS_PER_STATEMENT) {
            for statement in statements(&bind_windows(&self.rollup_refresh, chunk, now_us())) {
                self.clickhouse.execute(&statement).await?;
            }
        }
        Ok(())
    }
}

/// Windows per refresh statement: each adds ~100 bytes to each of its three predicates.
const REFRESH_WINDOWS_PER_STATEMENT: usize = 250;

/// Fills `rollup-refresh.sql`'s markers for `windows` (tenant ids are validated
/// [A-Za-z0-9._-], so they need no escaping inside quotes).
fn bind_windows(template: &str, windows: &[RollupWindow], version: u64) -> String {
    let predicate = |column: &str| {
        let windows: Vec<String> = windows
            .iter()
            .map(|w| {
                format!(
                    "(tenant_id = {} AND {column} >= toDate('{}') AND {column} <= toDate('{}'))",
                    quote(&w.tenant_id),
                    w.from,
                    w.to
                )
            })
            .collect();
        format!("({})", windows.join(" OR "))
    };
    let list = |item: &dyn Fn(&RollupWindow) -> String| {
        windows.iter().map(item).collect::<Vec<_>>().join(", ")
    };
    let tenants = list(&|w| quote(&w.tenant_id));
    template
        .replace("{windows:booked_date}", &predicate("booked_date"))
        .replace("{windows:day}", &predicate("day"))
        .replace("{tenant_list}", &format!("[{tenants}]"))
        .replace("{tenants}", &tenants)
        .replace(
            "{from_list}",
            &format!("[{}]", list(&|w| format!("toDate('{}')", w.from))),
        )
        .replace(
            "{to_list}",
            &format!("[{}]", list(&|w| format!("toDate('{}')", w.to))),
        )
        .replace("{version:UInt64}", &format!("toUInt64({version})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use verocta_schemas::arrow::transactions_to_batch;
    use verocta_schemas::*;

    fn transaction(tenant: &str, day: u32, minor: i64) -> Transaction {
        let tenant = TenantId::new(tenant).unwrap();
        Transaction {
            schema_version: TRANSACTION_SCHEMA_VERSION,
            transaction_id: TransactionId::derive(&tenant, "csv", &[&format!("{day}-{minor}")]),
            tenant_id: tenant,
            source: SourceRef {
                kind: SourceKind::Csv,
                format: "generic".into(),
                name: "a.csv".into(),
                line: Some(2),
                external_id: None,
            },
            booked_date: NaiveDate::from_ymd_opt(2024, 3, day).unwrap(),
            booked_time: None,
            amount: Money::from_minor(minor, Currency::GBP),
            original_amount: None,
            class: TransactionClass::Spend,
            exclusion: None,
            vendor_raw: Some("Acme Ltd".into()),
            vendor: Some("acme".into()),
            category_raw: None,
            category: Category::OfficeSupplies,
            account: None,
            memo: None,
            payment_method: None,
            card_last4: None,
            employee: None,
            department: None,
            ingested_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn rows_carry_every_field_from_arrow() {
        let batch = transactions_to_batch(&[transaction("acme", 5, 1234)]).unwrap();
        let row = Columns { batch: &batch }.row(0).unwrap();
        assert_eq!(row.tenant_id, "acme");
        assert_eq!(row.amount_minor, 1234);
        assert_eq!(row.currency, "GBP");
        assert_eq!(row.currency_digits, 2);
        assert_eq!(row.class, "spend");
        assert_eq!(row.vendor, Some("acme"));
        assert_eq!(row.memo, None);
        let days = NaiveDate::from_ymd_opt(2024, 3, 5)
            .unwrap()
            .signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
            .num_days();
        assert_eq!(i64::from(row.booked_date), days);
        assert!(row.ingested_at_us > 1_700_000_000_000_000);
    }

    #[test]
    fn one_refresh_binds_every_window() {
        let template = verocta_deploy::asset("clickhouse/rollup-refresh.sql")
            .unwrap()
            .contents;
        let day = |d| NaiveDate::from_ymd_opt(2024, 3, d).unwrap();
        let windows = [
            RollupWindow {
                tenant_id: "acme".into(),
                from: day(2),
                to: day(20),
            },
            RollupWindow {
                tenant_id: "globex".into(),
                from: day(9),
                to: day(9),
            },
        ];
        let sql = bind_windows(template, &windows, 42);
        let statements = statements(
            &render(
                "t",
                &sql,
                super::super::ServerVersion {
                    major: 18,
                    minor: 16,
                },
            )
            .unwrap(),
        );
        assert_eq!(
            statements.len(),
            3,
            "three statements whatever the number of tenants"
        );
        assert!(!sql.contains("{windows:"), "unbound window marker left");
        for marker in [
            "{tenants}",
            "{tenant_list}",
            "{from_list}",
            "{to_list}",
            "{version:UInt64}",
        ] {
            assert!(!sql.contains(marker), "{marker} left");
        }
        assert!(sql.contains("(tenant_id = 'globex' AND booked_date >= toDate('2024-03-09') AND booked_date <= toDate('2024-03-09'))"));
        assert!(sql.contains(
            "transform(tenant_id, ['acme', 'globex'], [toDate('2024-03-02'), toDate('2024-03-09')]"
        ));
        assert!(sql.contains("toUInt64(42)"));
    }

    #[test]
    fn windows_span_each_tenants_dates() {
        let batch = transactions_to_batch(&[
            transaction("acme", 5, 1),
            transaction("globex", 9, 2),
            transaction("acme", 2, 3),
            transaction("acme", 20, 4),
        ])
        .unwrap();
        let windows = windows_of(&batch).unwrap();
        let day = |d| NaiveDate::from_ymd_opt(2024, 3, d).unwrap();
        assert_eq!(
            windows,
            [
                RollupWindow {
                    tenant_id: "acme".into(),
                    from: day(2),
                    to: day(20)
                },
                RollupWindow {
                    tenant_id: "globex".into(),
                    from: day(9),
                    to: day(9)
                },
            ]
        );
    }
}
