//! Arrow form of canonical transactions: the schema, a batch builder and a batch reader.
//!
//! Types are chosen so that every Delta Lake reader can hold them without table features:
//! money is `Int64` minor units plus the currency and its minor digits (a per-row scale cannot
//! be a `Decimal128` column), the time of day is `Int32` seconds after midnight (Delta has no
//! time type), integers are signed (Delta has no unsigned types), and enums are their stable
//! string codes.

use std::sync::Arc;

use arrow_array::builder::{
    Date32Builder, Int8Builder, Int16Builder, Int32Builder, Int64Builder, PrimitiveBuilder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::types::ArrowPrimitiveType;
use arrow_array::{
    Array, ArrayRef, Date32Array, Int16Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike};

use crate::view::TransactionView;
use crate::{
    Category, Currency, Exclusion, ExclusionReason, Money, SourceKind, SourceRef, TenantId,
    Transaction, TransactionClass, TransactionId,
};

/// Errors from converting Arrow batches back to transactions.
#[derive(Debug, thiserror::Error)]
pub enum ArrowConversionError {
    /// Arrow itself failed (schema mismatch when building).
    #[error(transparent)]
    Arrow(#[from] ArrowError),
    /// A column is missing or has the wrong type.
    #[error("column `{0}` is missing or has the wrong type")]
    Column(&'static str),
    /// A value is not valid for the canonical form.
    #[error("row {row}, column `{column}`: {problem}")]
    Value {
        /// Row index in the batch.
        row: usize,
        /// Column name.
        column: &'static str,
        /// What is wrong.
        problem: String,
    },
}

const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// The Arrow schema of the `transactions` table and wire batches.
pub fn transaction_schema() -> SchemaRef {
    let utf8 = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    Arc::new(Schema::new(vec![
        Field::new("schema_version", DataType::Int16, false),
        utf8("tenant_id", false),
        utf8("transaction_id", false),
        utf8("source_kind", false),
        utf8("source_format", false),
        utf8("source_name", false),
        Field::new("source_line", DataType::Int64, true),
        utf8("external_id", true),
        Field::new("booked_date", DataType::Date32, false),
        Field::new("booked_time_s", DataType::Int32, true),
        Field::new("amount_minor", DataType::Int64, false),
        utf8("currency", false),
        Field::new("currency_digits", DataType::Int8, false),
        Field::new("original_amount_minor", DataType::Int64, true),
        utf8("original_currency", true),
        utf8("class", false),
        utf8("exclusion_reason", true),
        utf8("exclusion_detail", true),
        utf8("vendor_raw", true),
        utf8("vendor", true),
        utf8("category_raw", true),
        utf8("category", false),
        utf8("account", true),
        utf8("memo", true),
        utf8("payment_method", true),
        utf8("card_last4", true),
        utf8("employee", true),
        utf8("department", true),
        Field::new(
            "ingested_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ]))
}

/// Appends transactions to column builders and finishes them into a [`RecordBatch`].
pub struct TransactionBatchBuilder {
    schema_version: Int16Builder,
    tenant_id: StringBuilder,
    transaction_id: StringBuilder,
    source_kind: StringBuilder,
    source_format: StringBuilder,
    source_name: StringBuilder,
    source_line: Int64Builder,
    external_id: StringBuilder,
    booked_date: Date32Builder,
    booked_time_s: Int32Builder,
    amount_minor: Int64Builder,
    currency: StringBuilder,
    currency_digits: Int8Builder,
    original_amount_minor: Int64Builder,
    original_currency: StringBuilder,
    class: StringBuilder,
    exclusion_reason: StringBuilder,
    exclusion_detail: StringBuilder,
    vendor_raw: StringBuilder,
    vendor: StringBuilder,
    category_raw: StringBuilder,
    category: StringBuilder,
    account: StringBuilder,
    memo: StringBuilder,
    payment_method: StringBuilder,
    card_last4: StringBuilder,
    employee: StringBuilder,
    department: StringBuilder,
    ingested_at: TimestampMicrosecondBuilder,
    rows: usize,
}

impl Default for TransactionBatchBuilder {
    fn default() -> Self {
        Self::with_capacity(1024)
    }
}

impl TransactionBatchBuilder {
    /// A builder sized for `rows` rows.
    pub fn with_capacity(rows: usize) -> Self {
        let text = || StringBuilder::with_capacity(rows, rows * 16);
        TransactionBatchBuilder {
            schema_version: Int16Builder::with_capacity(rows),
            tenant_id: text(),
            transaction_id: StringBuilder::with_capacity(rows, rows * 35),
            source_kind: text(),
            source_format: text(),
            source_name: text(),
            source_line: Int64Builder::with_capacity(rows),
            external_id: text(),
            booked_date: Date32Builder::with_capacity(rows),
            booked_time_s: Int32Builder::with_capacity(rows),
            amount_minor: Int64Builder::with_capacity(rows),
            currency: text(),
            currency_digits: Int8Builder::with_capacity(rows),
            original_amount_minor: Int64Builder::with_capacity(rows),
            original_currency: text(),
            class: text(),
            exclusion_reason: text(),
            exclusion_detail: text(),
            vendor_raw: text(),
            vendor: text(),
            category_raw: text(),
            category: text(),
            account: text(),
            memo: text(),
            payment_method: text(),
            card_last4: text(),
            employee: text(),
            department: text(),
            ingested_at: TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"),
            rows: 0,
        }
    }

    /// Rows appended since the last finish.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no rows are pending.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends one transaction.
    pub fn append(&mut self, tx: &Transaction) {
        self.append_view(&tx.view());
    }

    /// Appends one transaction view (the zero-copy path of the streaming workers).
    pub fn append_view(&mut self, tx: &TransactionView<'_>) {
        let amount = tx.amount.0;
        self.schema_version.append_value(tx.schema_version as i16);
        self.tenant_id.append_value(&tx.tenant_id);
        self.transaction_id.append_value(&tx.transaction_id);
        self.source_kind.append_value(tx.source.kind.code());
        self.source_format.append_value(&tx.source.format);
        self.source_name.append_value(&tx.source.name);
        self.source_line
            .append_option(tx.source.line.map(|line| line as i64));
        self.external_id
            .append_option(tx.source.external_id.as_deref());
        self.booked_date
            .append_value(tx.booked_date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE);
        self.booked_time_s
            .append_option(tx.booked_time.map(|t| t.num_seconds_from_midnight() as i32));
        self.amount_minor.append_value(amount.minor_units());
        self.currency.append_value(amount.currency().code());
        self.currency_digits
            .append_value(amount.currency().minor_digits() as i8);
        self.original_amount_minor
            .append_option(tx.original_amount.map(|m| m.0.minor_units()));
        self.original_currency.append_option(
            tx.original_amount
                .map(|m| m.0.currency().code().to_string()),
        );
        self.class.append_value(tx.class.code());
        self.exclusion_reason
            .append_option(tx.exclusion.as_ref().map(|e| e.reason.code()));
        self.exclusion_detail
            .append_option(tx.exclusion.as_ref().map(|e| e.detail.as_ref()));
        self.vendor_raw.append_option(tx.vendor_raw.as_deref());
        self.vendor.append_option(tx.vendor.as_deref());
        self.category_raw.append_option(tx.category_raw.as_deref());
        self.category.append_value(tx.category.code());
        self.account.append_option(tx.account.as_deref());
        self.memo.append_option(tx.memo.as_deref());
        self.payment_method
            .append_option(tx.payment_method.as_deref());
        self.card_last4.append_option(tx.card_last4.as_deref());
        self.employee.append_option(tx.employee.as_deref());
        self.department.append_option(tx.department.as_deref());
        self.ingested_at
            .append_value(tx.ingested_at.timestamp_micros());
        self.rows += 1;
    }

    /// Finishes the pending rows into a batch and resets the builder, sized for another batch
    /// like this one.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let rows = self.rows;
        let columns: Vec<ArrayRef> = vec![
            finish_primitive(&mut self.schema_version, rows),
            finish_text(&mut self.tenant_id, rows),
            finish_text(&mut self.transaction_id, rows),
            finish_text(&mut self.source_kind, rows),
            finish_text(&mut self.source_format, rows),
            finish_text(&mut self.source_name, rows),
            finish_primitive(&mut self.source_line, rows),
            finish_text(&mut self.external_id, rows),
            finish_primitive(&mut self.booked_date, rows),
            finish_primitive(&mut self.booked_time_s, rows),
            finish_primitive(&mut self.amount_minor, rows),
            finish_text(&mut self.currency, rows),
            finish_primitive(&mut self.currency_digits, rows),
            finish_primitive(&mut self.original_amount_minor, rows),
            finish_text(&mut self.original_currency, rows),
            finish_text(&mut self.class, rows),
            finish_text(&mut self.exclusion_reason, rows),
            finish_text(&mut self.exclusion_detail, rows),
            finish_text(&mut self.vendor_raw, rows),
            finish_text(&mut self.vendor, rows),
            finish_text(&mut self.category_raw, rows),
            finish_text(&mut self.category, rows),
            finish_text(&mut self.account, rows),
            finish_text(&mut self.memo, rows),
            finish_text(&mut self.payment_method, rows),
            finish_text(&mut self.card_last4, rows),
            finish_text(&mut self.employee, rows),
            finish_text(&mut self.department, rows),
            finish_primitive(&mut self.ingested_at, rows),
        ];
        self.rows = 0;
        RecordBatch::try_new(transaction_schema(), columns)
    }
}

/// Finishes a text column and leaves its builder sized for `rows` more of the same length.
///
/// Why: a builder's `finish` leaves it empty, so every batch regrew each column from nothing,
/// copying it at each doubling (~5% of a CSV import's instructions, callgrind).
fn finish_text(builder: &mut StringBuilder, rows: usize) -> ArrayRef {
    let array = builder.finish();
    *builder = StringBuilder::with_capacity(rows, array.value_data().len());
    Arc::new(array)
}

/// [`finish_text`] for a column of fixed-width values (keeping its type, a timestamp's zone).
fn finish_primitive<T: ArrowPrimitiveType>(
    builder: &mut PrimitiveBuilder<T>,
    rows: usize,
) -> ArrayRef {
    let array = builder.finish();
    *builder = PrimitiveBuilder::with_capacity(rows).with_data_type(array.data_type().clone());
    Arc::new(array)
}

/// Builds one batch from a slice of transactions.
pub fn transactions_to_batch(transactions: &[Transaction]) -> Result<RecordBatch, ArrowError> {
    let mut builder = TransactionBatchBuilder::with_capacity(transactions.len());
    for tx in transactions {
        builder.append(tx);
    }
    builder.finish()
}

struct Columns<'a> {
    batch: &'a RecordBatch,
}

impl<'a> Columns<'a> {
    fn get<T: 'static>(&self, name: &'static str) -> Result<&'a T, ArrowConversionError> {
        self.batch
            .column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<T>())
            .ok_or(ArrowConversionError::Column(name))
    }
}

fn opt_str(array: &StringArray, row: usize) -> Option<String> {
    array.is_valid(row).then(|| array.value(row).to_string())
}

/// Reads transactions back from a batch with [`transaction_schema`].
pub fn transactions_from_batch(
    batch: &RecordBatch,
) -> Result<Vec<Transaction>, ArrowConversionError> {
    let cols = Columns { batch };
    let schema_version = cols.get::<Int16Array>("schema_version")?;
    let text = |name| cols.get::<StringArray>(name);
    let (tenant_id, transaction_id) = (text("tenant_id")?, text("transaction_id")?);
    let (source_kind, source_format, source_name) = (
        text("source_kind")?,
        text("source_format")?,
        text("source_name")?,
    );
    let source_line = cols.get::<Int64Array>("source_line")?;
    let external_id = text("external_id")?;
    let booked_date = cols.get::<Date32Array>("booked_date")?;
    let booked_time_s = cols.get::<Int32Array>("booked_time_s")?;
    let amount_minor = cols.get::<Int64Array>("amount_minor")?;
    let currency = text("currency")?;
    let original_amount_minor = cols.get::<Int64Array>("original_amount_minor")?;
    let original_currency = text("original_currency")?;
    let class = text("class")?;
    let (exclusion_reason, exclusion_detail) =
        (text("exclusion_reason")?, text("exclusion_detail")?);
    let ingested_at = cols.get::<TimestampMicrosecondArray>("ingested_at")?;

    let mut out = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let bad = |column: &'static str, problem: String| ArrowConversionError::Value {
            row,
            column,
            problem,
        };
        let currency_of = |column: &'static str, code: &str| {
            Currency::new(code).map_err(|e| bad(column, e.to_string()))
        };
        let exclusion = if exclusion_reason.is_valid(row) {
            let code = exclusion_reason.value(row);
            let reason = ExclusionReason::from_code(code)
                .ok_or_else(|| bad("exclusion_reason", format!("unknown reason `{code}`")))?;
            Some(Exclusion {
                reason,
                detail: opt_str(exclusion_detail, row).unwrap_or_default(),
            })
        } else {
            None
        };
        let original_amount = if original_amount_minor.is_valid(row) {
            let code = opt_str(original_currency, row).unwrap_or_default();
            Some(Money::from_minor(
                original_amount_minor.value(row),
                currency_of("original_currency", &code)?,
            ))
        } else {
            None
        };
        let days = booked_date.value(row) + UNIX_EPOCH_DAYS_FROM_CE;
        let booked_time = if booked_time_s.is_valid(row) {
            let seconds = booked_time_s.value(row);
            Some(
                NaiveTime::from_num_seconds_from_midnight_opt(seconds as u32, 0).ok_or_else(
                    || bad("booked_time_s", format!("{seconds} is not a time of day")),
                )?,
            )
        } else {
            None
        };
        let category_code = text("category")?.value(row);
        let class_code = class.value(row);
        let kind_code = source_kind.value(row);
        out.push(Transaction {
            schema_version: schema_version.value(row) as u16,
            tenant_id: TenantId::new(tenant_id.value(row))
                .map_err(|e| bad("tenant_id", e.to_string()))?,
            transaction_id: TransactionId::parse(transaction_id.value(row))
                .map_err(|e| bad("transaction_id", e.to_string()))?,
            source: SourceRef {
                kind: SourceKind::from_code(kind_code)
                    .ok_or_else(|| bad("source_kind", format!("unknown kind `{kind_code}`")))?,
                format: source_format.value(row).to_string(),
                name: source_name.value(row).to_string(),
                line: source_line
                    .is_valid(row)
                    .then(|| source_line.value(row) as u64),
                external_id: opt_str(external_id, row),
            },
            booked_date: NaiveDate::from_num_days_from_ce_opt(days)
                .ok_or_else(|| bad("booked_date", "out of range".into()))?,
            booked_time,
            amount: Money::from_minor(
                amount_minor.value(row),
                currency_of("currency", currency.value(row))?,
            ),
            original_amount,
            class: TransactionClass::from_code(class_code)
                .ok_or_else(|| bad("class", format!("unknown class `{class_code}`")))?,
            exclusion,
            vendor_raw: opt_str(text("vendor_raw")?, row),
            vendor: opt_str(text("vendor")?, row),
            category_raw: opt_str(text("category_raw")?, row),
            category: Category::from_code(category_code)
                .ok_or_else(|| bad("category", format!("unknown category `{category_code}`")))?,
            account: opt_str(text("account")?, row),
            memo: opt_str(text("memo")?, row),
            payment_method: opt_str(text("payment_method")?, row),
            card_last4: opt_str(text("card_last4")?, row),
            employee: opt_str(text("employee")?, row),
            department: opt_str(text("department")?, row),
            ingested_at: DateTime::from_timestamp_micros(ingested_at.value(row))
                .ok_or_else(|| bad("ingested_at", "out of range".into()))?,
        });
    }
    Ok(out)
}
