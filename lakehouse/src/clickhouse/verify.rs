//! Delta ↔ ClickHouse: rebuild ClickHouse from the lake (`backfill`) and prove they agree
//! (`verify`): per tenant, month and currency, the number of transactions and the spend and
//! credit sums must match between Delta, ClickHouse's latest-version view of `transactions`,
//! and the daily category rollup.

use std::collections::HashMap;

use arrow_array::RecordBatch;
use arrow_schema::DataType;
use futures::StreamExt;

use super::sink::{PendingWindows, windows_of};
use super::{ClickHouse, ClickHouseError, ClickHouseSink};
use crate::{Lake, LakeError};

/// Tenant, month (`YYYY-MM`), currency.
pub type Key = (String, String, String);

/// Counts and sums for one key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Transactions (every class).
    pub transactions: i64,
    /// Sum of spend amounts, minor units.
    pub spend_minor: i64,
    /// Sum of credit amounts, minor units.
    pub credit_minor: i64,
}

/// A key where the stores disagree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drift {
    /// Tenant, month, currency.
    pub key: Key,
    /// What Delta holds.
    pub delta: Totals,
    /// What ClickHouse's transactions hold (latest version of each).
    pub clickhouse: Totals,
    /// What the daily category rollup holds (spend and credit; counts of spend + credit +
    /// excluded).
    pub rollup: Totals,
}

/// The comparison.
#[derive(Clone, Debug, Default)]
pub struct VerifyReport {
    /// Every key with its three totals, sorted.
    pub rows: Vec<(Key, Totals, Totals, Totals)>,
    /// The keys that disagree.
    pub drifts: Vec<Drift>,
}

impl VerifyReport {
    /// Whether Delta and ClickHouse agree everywhere.
    pub fn agrees(&self) -> bool {
        self.drifts.is_empty()
    }

    /// Total transactions per store: (Delta, ClickHouse).
    pub fn transaction_counts(&self) -> (i64, i64) {
        self.rows.iter().fold((0, 0), |(d, c), (_, delta, ch, _)| {
            (d + delta.transactions, c + ch.transactions)
        })
    }
}

/// Compares Delta with ClickHouse per tenant, month and currency.
pub async fn verify_against_delta(
    lake: &Lake,
    clickhouse: &ClickHouse,
) -> Result<VerifyReport, ClickHouseError> {
    let delta = delta_totals(lake).await?;
    let transactions = clickhouse_totals(clickhouse).await?;
    let rollup = rollup_totals(clickhouse).await?;
    let mut keys: Vec<&Key> = delta
        .keys()
        .chain(transactions.keys())
        .chain(rollup.keys())
        .collect();
    keys.sort();
    keys.dedup();
    let mut report = VerifyReport::default();
    for key in keys {
        let d = delta.get(key).copied().unwrap_or_default();
        let c = transactions.get(key).copied().unwrap_or_default();
        let r = rollup.get(key).copied().unwrap_or_default();
        if d != c || d != r {
            report.drifts.push(Drift {
                key: key.clone(),
                delta: d,
                clickhouse: c,
                rollup: r,
            });
        }
        report.rows.push((key.clone(), d, c, r));
    }
    Ok(report)
}

async fn delta_totals(lake: &Lake) -> Result<HashMap<Key, Totals>, ClickHouseError> {
    if !lake.table_names().iter().any(|name| name == "transactions") {
        return Ok(HashMap::new());
    }
    let batches = lake
        .sql(
            "SELECT tenant_id, booked_month, currency, count(*), \
             sum(CASE WHEN class = 'spend' THEN amount_minor ELSE 0 END), \
             sum(CASE WHEN class = 'credit' THEN amount_minor ELSE 0 END) \
             FROM transactions GROUP BY tenant_id, booked_month, currency",
        )
        .await?;
    let mut totals = HashMap::new();
    for batch in &batches {
        for row in strings(batch)? {
            let (key, value) = parse_totals(&row, |month| month.to_string())?;
            totals.insert(key, value);
        }
    }
    Ok(totals)
}

async fn clickhouse_totals(
    clickhouse: &ClickHouse,
) -> Result<HashMap<Key, Totals>, ClickHouseError> {
    let database = clickhouse.database();
    let rows = clickhouse
        .rows(&format!(
            "SELECT tenant_id, toYYYYMM(tx.1) AS month, tx.2 AS cur, count(), \
             sum(if(tx.3 = 'spend', tx.4, toInt64(0))), sum(if(tx.3 = 'credit', tx.4, toInt64(0))) \
             FROM (SELECT tenant_id, argMax((booked_date, currency, class, amount_minor), ingested_at_us) AS tx \
                   FROM {database}.transactions GROUP BY tenant_id, transaction_id) \
             GROUP BY tenant_id, month, cur"
        ))
        .await?;
    rows.iter()
        .map(|row| parse_totals(row, yyyymm_to_month))
        .collect()
}

async fn rollup_totals(clickhouse: &ClickHouse) -> Result<HashMap<Key, Totals>, ClickHouseError> {
    let database = clickhouse.database();
    let rows = clickhouse
        .rows(&format!(
            "SELECT tenant_id, toYYYYMM(day) AS month, currency AS cur, \
             sum(spend_count + credit_count + excluded_count), sum(spend_minor), sum(credit_minor) \
             FROM {database}.daily_category_spend FINAL \
             GROUP BY tenant_id, month, cur"
        ))
        .await?;
    let mut totals = HashMap::new();
    for row in &rows {
        let (key, value) = parse_totals(row, yyyymm_to_month)?;
        // Days whose transactions all moved away stay as zero rows; they are not drift.
        if value != Totals::default() {
            totals.insert(key, value);
        }
    }
    Ok(totals)
}

fn yyyymm_to_month(text: &str) -> String {
    if text.len() == 6 {
        format!("{}-{}", &text[..4], &text[4..])
    } else {
        text.to_string()
    }
}

fn parse_totals(
    row: &[String],
    month: impl Fn(&str) -> String,
) -> Result<(Key, Totals), ClickHouseError> {
    let bad = || ClickHouseError::Protocol {
        what: "per-month totals".into(),
        answer: row.join("\t"),
    };
    let number = |i: usize| -> Result<i64, ClickHouseError> {
        row.get(i).and_then(|v| v.parse().ok()).ok_or_else(bad)
    };
    if row.len() != 6 {
        return Err(bad());
    }
    Ok((
        (row[0].clone(), month(&row[1]), row[2].clone()),
        Totals {
            transactions: number(3)?,
            spend_minor: number(4)?,
            credit_minor: number(5)?,
        },
    ))
}

/// Every row of a batch as strings (nulls as empty).
fn strings(batch: &RecordBatch) -> Result<Vec<Vec<String>>, ClickHouseError> {
    let columns = batch
        .columns()
        .iter()
        .map(|column| deltalake::arrow::compute::cast(column, &DataType::Utf8))
        .collect::<Result<Vec<_>, _>>()
        .map_err(LakeError::Arrow)?;
    Ok((0..batch.num_rows())
        .map(|row| {
            columns
                .iter()
                .map(|column| {
                    use arrow_array::Array;
                    let strings = column
                        .as_any()
                        .downcast_ref::<arrow_array::StringArray>()
                        .expect("cast to Utf8 yields a StringArray");
                    if strings.is_null(row) {
                        String::new()
                    } else {
                        strings.value(row).to_string()
                    }
                })
                .collect()
        })
        .collect())
}

/// What a backfill did.
#[derive(Clone, Debug, Default)]
pub struct Backfill {
    /// Rows read from Delta.
    pub delta_rows: u64,
    /// Rows inserted into ClickHouse.
    pub inserted: u64,
    /// Tenants whose rollups were rebuilt.
    pub tenants: usize,
}

/// Streams the Delta transactions table into ClickHouse, then rebuilds every tenant's rollups
/// over its whole date range. Safe to run again (the tables are idempotent).
pub async fn backfill_from_delta(
    lake: &Lake,
    sink: &ClickHouseSink,
    batch_rows: usize,
) -> Result<Backfill, ClickHouseError> {
    let mut backfill = Backfill::default();
    if !lake.table_names().iter().any(|name| name == "transactions") {
        return Ok(backfill);
    }
    let columns: Vec<String> = verocta_schemas::arrow::transaction_schema()
        .fields()
        .iter()
        .map(|f| format!("\"{}\"", f.name()))
        .collect();
    let mut stream = lake
        .sql_stream(&format!("SELECT {} FROM transactions", columns.join(", ")))
        .await?;
    let mut windows = PendingWindows::default();
    let mut pending: Vec<RecordBatch> = Vec::new();
    let mut pending_rows = 0;
    let schema = verocta_schemas::arrow::transaction_schema();
    while let Some(batch) = stream.next().await {
        // DataFusion reads strings as Utf8View; the sink takes the canonical layout.
        let batch = conform(&batch.map_err(LakeError::Query)?, &schema)?;
        backfill.delta_rows += batch.num_rows() as u64;
        windows.add(windows_of(&batch)?);
        pending_rows += batch.num_rows();
        pending.push(batch);
        if pending_rows >= batch_rows {
            backfill.inserted += flush(sink, &mut pending).await?;
            pending_rows = 0;
        }
    }
    backfill.inserted += flush(sink, &mut pending).await?;
    backfill.tenants = windows.len();
    sink.refresh_rollups(&windows.take()).await?;
    Ok(backfill)
}

fn conform(
    batch: &RecordBatch,
    schema: &arrow_schema::SchemaRef,
) -> Result<RecordBatch, ClickHouseError> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| deltalake::arrow::compute::cast(column, field.data_type()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(LakeError::Arrow)?;
    Ok(RecordBatch::try_new(schema.clone(), columns).map_err(LakeError::Arrow)?)
}

async fn flush(
    sink: &ClickHouseSink,
    pending: &mut Vec<RecordBatch>,
) -> Result<u64, ClickHouseError> {
    if pending.is_empty() {
        return Ok(0);
    }
    let schema = pending[0].schema();
    let batch = deltalake::arrow::compute::concat_batches(&schema, pending.iter())
        .map_err(LakeError::Arrow)?;
    pending.clear();
    sink.insert_rows(&batch).await?;
    Ok(batch.num_rows() as u64)
}
