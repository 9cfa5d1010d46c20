//! `spendscore_v2(window_days, booked_date, booked_time_s, amount_minor, class, vendor,
//! category, transaction_id) -> BIGINT`: SpendScore v2 of a group as a DataFusion aggregate,
//! so a score is a query over the `transactions` table:
//!
//! ```sql
//! SELECT tenant_id, currency,
//!        spendscore_v2(30, booked_date, booked_time_s, amount_minor, class, vendor, category,
//!                      transaction_id) AS score_30d
//! FROM transactions WHERE class IN ('spend', 'credit')
//! GROUP BY tenant_id, currency
//! ```
//!
//! The window ends on the group's latest spend day, and the rows before it are the budget
//! metric's history, exactly as `verocta scores` scores a tenant's main currency: rows are
//! taken in the order that job reads them (day, time with unknown times first, transaction
//! id), which decides which charge a refund cancels. `excluded` rows are ignored, a NULL
//! vendor is an unknown one. NULL when the window has no net spend. The arithmetic is
//! [`super::v2_metrics`], which the Arroyo aggregate compiles too.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Int32Type, Int64Type};
use arrow_array::{Array, ArrayRef, Date32Array, Int32Array, Int64Array, ListArray, StringArray};
use arrow_schema::{DataType, Field, FieldRef};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};

use super::v2_metrics::{self as metrics, KeyedRow};

const USAGE: &str = "spendscore_v2 takes (window_days, booked_date, booked_time_s, \
                     amount_minor, class, vendor, category, transaction_id)";

/// The aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SpendScoreV2Udaf {
    signature: Signature,
}

impl SpendScoreV2Udaf {
    /// The UDAF.
    pub fn new() -> Self {
        SpendScoreV2Udaf {
            signature: Signature::any(8, Volatility::Immutable),
        }
    }
}

impl Default for SpendScoreV2Udaf {
    fn default() -> Self {
        Self::new()
    }
}

/// The argument types rows are read (and state is kept) in.
const TYPES: [DataType; 8] = [
    DataType::Int64,
    DataType::Date32,
    DataType::Int32,
    DataType::Int64,
    DataType::Utf8,
    DataType::Utf8,
    DataType::Utf8,
    DataType::Utf8,
];

const STATE_NAMES: [&str; 8] = [
    "window_days",
    "booked_dates",
    "booked_times_s",
    "amounts_minor",
    "classes",
    "vendors",
    "categories",
    "transaction_ids",
];

impl AggregateUDFImpl for SpendScoreV2Udaf {
    fn name(&self) -> &str {
        "spendscore_v2"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn accumulator(&self, _: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::<V2Accumulator>::default())
    }
    fn state_fields(&self, _: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(STATE_NAMES
            .iter()
            .zip(TYPES)
            .map(|(name, item)| {
                Arc::new(Field::new(
                    *name,
                    DataType::List(Arc::new(Field::new("item", item, true))),
                    true,
                ))
            })
            .collect())
    }
}

/// One spend or credit row, kept until the group is scored: 48 bytes, texts interned.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    day: i32,
    time_s: Option<i32>,
    transaction_id: OrderId,
    amount_minor: i64,
    credit: bool,
    vendor: u32,
    category: u32,
}

/// A transaction id, ordered as its text: Verocta's ids (`tx_` + 32 hex digits) as the
/// 128-bit number they spell, which orders them as their text does; anything else as text,
/// after them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum OrderId {
    Hex(u128),
    Text(Box<str>),
}

impl OrderId {
    fn of(id: &str) -> OrderId {
        metrics::id_hex(id)
            .and_then(|hex| u128::from_str_radix(hex, 16).ok())
            .map_or_else(|| OrderId::Text(id.into()), OrderId::Hex)
    }

    fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            OrderId::Hex(number) => format!("tx_{number:032x}").into(),
            OrderId::Text(text) => text.as_ref().into(),
        }
    }
}

/// Collects the group's rows; the score needs all of them (refund matching, medians).
/// Vendors and categories repeat within a tenant, so each distinct text is stored once.
#[derive(Debug, Default)]
struct V2Accumulator {
    window_days: Option<u16>,
    rows: Vec<Row>,
    texts: Vec<String>,
    text_index: std::collections::HashMap<String, u32>,
}

fn user_error(message: String) -> DataFusionError {
    DataFusionError::Execution(format!("spendscore_v2: {message}"))
}

impl V2Accumulator {
    fn append(&mut self, columns: &[ArrayRef]) -> Result<()> {
        if columns.len() != TYPES.len() {
            return Err(DataFusionError::Plan(USAGE.into()));
        }
        let cast: Vec<ArrayRef> = columns
            .iter()
            .zip(TYPES.iter())
            .map(|(column, to)| datafusion::arrow::compute::cast(column, to))
            .collect::<std::result::Result<_, _>>()?;
        let window = cast[0].as_primitive::<Int64Type>();
        let days = cast[1].as_primitive::<Date32Type>();
        let times = cast[2].as_primitive::<Int32Type>();
        let amounts = cast[3].as_primitive::<Int64Type>();
        let [classes, vendors, categories, ids] = [4, 5, 6, 7].map(|i| cast[i].as_string::<i32>());
        for i in 0..days.len() {
            self.take_window(window, i)?;
            if classes.is_null(i) || !matches!(classes.value(i), "spend" | "credit") {
                continue;
            }
            if days.is_null(i) || amounts.is_null(i) {
                return Err(user_error(format!(
                    "row {i} has no booked_date or amount_minor; both are required"
                )));
            }
            fn text(a: &StringArray, i: usize) -> &str {
                if a.is_null(i) { "" } else { a.value(i) }
            }
            let row = Row {
                day: days.value(i),
                time_s: (!times.is_null(i)).then(|| times.value(i)),
                transaction_id: OrderId::of(text(ids, i)),
                amount_minor: amounts.value(i).abs(),
                credit: classes.value(i) == "credit",
                vendor: self.intern(text(vendors, i)),
                category: self.intern(text(categories, i)),
            };
            self.rows.push(row);
        }
        Ok(())
    }

    fn intern(&mut self, text: &str) -> u32 {
        if let Some(&index) = self.text_index.get(text) {
            return index;
        }
        let index = u32::try_from(self.texts.len()).unwrap_or(u32::MAX);
        self.texts.push(text.to_string());
        self.text_index.insert(text.to_string(), index);
        index
    }

    /// The window length, the same on every row of the group.
    fn take_window(&mut self, window: &Int64Array, i: usize) -> Result<()> {
        if window.is_null(i) {
            return Err(user_error("window_days is NULL; pass 30, 90 or 365".into()));
        }
        let days = u16::try_from(window.value(i))
            .ok()
            .filter(|d| (1..=3660).contains(d))
            .ok_or_else(|| {
                user_error(format!(
                    "window_days {} is out of range; pass a number of days from 1 to 3660",
                    window.value(i)
                ))
            })?;
        match self.window_days {
            Some(known) if known != days => Err(user_error(format!(
                "window_days differs within a group ({known} and {days}); pass a constant"
            ))),
            _ => {
                self.window_days = Some(days);
                Ok(())
            }
        }
    }
}

impl Accumulator for V2Accumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.append(values)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let Some(days) = self.window_days else {
            return Ok(ScalarValue::Int64(None));
        };
        // Partial aggregates arrive in any order; the score reads rows in booking order.
        self.rows.sort_unstable();
        let rows: Vec<KeyedRow<&str, &str>> = self
            .rows
            .iter()
            .map(|r| {
                KeyedRow::named(
                    r.day,
                    r.time_s,
                    r.amount_minor,
                    r.credit,
                    &self.texts[r.vendor as usize],
                    &self.texts[r.category as usize],
                )
            })
            .collect();
        Ok(ScalarValue::Int64(
            metrics::score(&rows, days).map(i64::from),
        ))
    }

    fn size(&self) -> usize {
        let texts: usize = self.texts.iter().map(|t| 2 * t.len() + 64).sum();
        let ids: usize = self
            .rows
            .iter()
            .map(|r| match &r.transaction_id {
                OrderId::Hex(_) => 0,
                OrderId::Text(text) => text.len(),
            })
            .sum();
        std::mem::size_of_val(self)
            + self.rows.capacity() * std::mem::size_of::<Row>()
            + texts
            + ids
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        // Whole arrays per column, each wrapped as a one-element list: building a
        // `ScalarValue` per row would cost more than the scoring.
        let rows = &self.rows;
        let list = |array: ArrayRef| SingleRowListArrayBuilder::new(array).build_list_scalar();
        let window = self.window_days.map(i64::from);
        let texts = |f: fn(&Row) -> u32| -> ArrayRef {
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| &self.texts[f(r) as usize]),
            ))
        };
        Ok(vec![
            list(Arc::new(Int64Array::from(vec![window; rows.len().max(1)]))),
            list(Arc::new(Date32Array::from_iter_values(
                rows.iter().map(|r| r.day),
            ))),
            list(Arc::new(Int32Array::from_iter(
                rows.iter().map(|r| r.time_s),
            ))),
            list(Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.amount_minor),
            ))),
            list(Arc::new(StringArray::from_iter_values(
                rows.iter()
                    .map(|r| if r.credit { "credit" } else { "spend" }),
            ))),
            list(texts(|r| r.vendor)),
            list(texts(|r| r.category)),
            list(Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.transaction_id.text()),
            ))),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists: Vec<&ListArray> = states.iter().map(|s| s.as_list::<i32>()).collect();
        let Some(first) = lists.first() else {
            return Ok(());
        };
        for i in 0..first.len() {
            if first.is_null(i) {
                continue;
            }
            let mut columns: Vec<ArrayRef> = lists.iter().map(|l| l.value(i)).collect();
            // A partial state with no rows still carries its window (one entry).
            let window = columns[0].as_primitive::<Int64Type>();
            if !window.is_empty() && !window.is_null(0) {
                self.take_window(window, 0)?;
            }
            let rows = columns[1].len();
            columns[0] = Arc::new(Int64Array::from(vec![
                self.window_days.map(i64::from);
                rows
            ]));
            self.append(&columns)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::RecordBatch;
    use arrow_schema::Schema;
    use chrono::{Duration, NaiveDate};
    use datafusion::datasource::MemTable;
    use datafusion::logical_expr::AggregateUDF;
    use datafusion::prelude::SessionContext;
    use verocta_schemas::Category;

    use super::*;
    use crate::spendscore::v2::{ScoreRow, TenantRows, score_tenant};

    const SQL: &str = "SELECT tenant_id, \
        spendscore_v2(30, booked_date, booked_time_s, amount_minor, class, vendor, category, \
                      transaction_id) AS s30, \
        spendscore_v2(90, booked_date, booked_time_s, amount_minor, class, vendor, category, \
                      transaction_id) AS s90, \
        spendscore_v2(365, booked_date, booked_time_s, amount_minor, class, vendor, category, \
                      transaction_id) AS s365 \
        FROM t GROUP BY tenant_id ORDER BY tenant_id";

    /// Two tenants' ledgers with refunds, repeats, unknown vendors, waste and an outlier.
    fn ledgers() -> Vec<(String, Vec<ScoreRow>)> {
        let start: NaiveDate = "2023-01-01".parse().unwrap();
        let vendors = [
            ("aws", Category::CloudHosting, 12_000),
            ("", Category::Uncategorized, 4_000),
            ("nandos", Category::MealsEntertainment, 3_500),
            ("barclays", Category::BankFees, 900),
            ("zoom", Category::SoftwareSaas, 6_000),
        ];
        ["acme", "globex"]
            .iter()
            .enumerate()
            .map(|(t, tenant)| {
                let mut rows: Vec<ScoreRow> = (0..400 + 150 * t as i64)
                    .map(|i| {
                        let (vendor, category, amount) = vendors[(i % 5) as usize];
                        let mut row = ScoreRow::spend(
                            start + Duration::days(i * (t as i64 + 1) / 2),
                            vendor,
                            category,
                            amount + (i * 37) % 1_000 + i64::from(i == 321) * 900_000,
                        );
                        row.time_s = (i % 3 == 0).then_some(((i * 7_919) % 86_400) as i32);
                        row.credit = i % 29 == 28;
                        row
                    })
                    .collect();
                rows.sort_by_key(|r| (r.day, r.time_s));
                (tenant.to_string(), rows)
            })
            .collect()
    }

    fn batch(ledgers: &[(String, Vec<ScoreRow>)], reversed: bool) -> RecordBatch {
        let mut flat: Vec<(&str, usize, &ScoreRow)> = ledgers
            .iter()
            .flat_map(|(t, rows)| {
                rows.iter()
                    .enumerate()
                    .map(move |(i, r)| (t.as_str(), i, r))
            })
            .collect();
        if reversed {
            flat.reverse();
        }
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("tenant_id", DataType::Utf8, false),
            Field::new("booked_date", DataType::Date32, false),
            Field::new("booked_time_s", DataType::Int32, true),
            Field::new("amount_minor", DataType::Int64, false),
            Field::new("class", DataType::Utf8, false),
            Field::new("vendor", DataType::Utf8, true),
            Field::new("category", DataType::Utf8, false),
            Field::new("transaction_id", DataType::Utf8, false),
        ]));
        let column = |f: &dyn Fn(&(&str, usize, &ScoreRow)) -> Option<String>| {
            Arc::new(StringArray::from(flat.iter().map(f).collect::<Vec<_>>())) as ArrayRef
        };
        RecordBatch::try_new(
            schema,
            vec![
                column(&|(t, _, _)| Some(t.to_string())),
                Arc::new(Date32Array::from(
                    flat.iter()
                        .map(|(_, _, r)| (r.day - epoch).num_days() as i32)
                        .collect::<Vec<_>>(),
                )),
                Arc::new(Int32Array::from(
                    flat.iter().map(|(_, _, r)| r.time_s).collect::<Vec<_>>(),
                )),
                Arc::new(Int64Array::from(
                    flat.iter()
                        .map(|(_, _, r)| r.amount_minor)
                        .collect::<Vec<_>>(),
                )),
                column(&|(_, _, r)| Some(if r.credit { "credit" } else { "spend" }.into())),
                column(&|(_, _, r)| Some(r.vendor.clone()).filter(|v| !v.is_empty())),
                column(&|(_, _, r)| Some(r.category.clone())),
                // Ids sort in booking order, as the table's do for these rows.
                column(&|(t, i, _)| Some(format!("{t}-{i:06}"))),
            ],
        )
        .unwrap()
    }

    async fn scores(ctx: &SessionContext) -> Vec<[Option<i64>; 3]> {
        let batches = ctx.sql(SQL).await.unwrap().collect().await.unwrap();
        batches
            .iter()
            .flat_map(|b| {
                let columns: Vec<Int64Array> = (1..4)
                    .map(|c| b.column(c).as_primitive::<Int64Type>().clone())
                    .collect();
                (0..b.num_rows())
                    .map(move |i| {
                        [0, 1, 2].map(|c| (!columns[c].is_null(i)).then(|| columns[c].value(i)))
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn context(partitions: Vec<Vec<RecordBatch>>) -> SessionContext {
        let ctx = SessionContext::new();
        ctx.register_udaf(AggregateUDF::from(SpendScoreV2Udaf::new()));
        let schema = partitions[0][0].schema();
        let table = MemTable::try_new(schema, partitions).unwrap();
        ctx.register_table("t", Arc::new(table)).unwrap();
        ctx
    }

    fn expected(ledgers: &[(String, Vec<ScoreRow>)]) -> Vec<[Option<i64>; 3]> {
        ledgers
            .iter()
            .map(|(tenant, rows)| {
                let scored = score_tenant(&TenantRows {
                    tenant_id: tenant.clone(),
                    currency: "USD".into(),
                    digits: 2,
                    rows: rows.clone(),
                    other_currency_rows: 0,
                });
                [30, 90, 365].map(|days| {
                    scored
                        .iter()
                        .find(|s| s.window_days == days)
                        .map(|s| i64::from(s.score))
                })
            })
            .collect()
    }

    #[tokio::test]
    async fn scores_equal_the_batch_job_in_any_row_order_and_partitioning() {
        let ledgers = ledgers();
        let want = expected(&ledgers);
        assert!(want.iter().flatten().all(Option::is_some), "{want:?}");
        assert_ne!(want[0], want[1]);
        let one = context(vec![vec![batch(&ledgers, false)]]);
        assert_eq!(scores(&one).await, want);
        // Reversed rows in two partitions: partial states are merged, then sorted.
        let reversed = batch(&ledgers, true);
        let half = reversed.num_rows() / 2;
        let split = context(vec![
            vec![reversed.slice(0, half)],
            vec![reversed.slice(half, reversed.num_rows() - half)],
        ]);
        assert_eq!(scores(&split).await, want);
    }

    #[test]
    fn order_ids_sort_as_their_text_and_give_it_back() {
        let mut ids = vec![
            "tx_ffffffffffffffffffffffffffffffff",
            "tx_0000000000000000000000000000000a",
            "tx_a0000000000000000000000000000000",
            "tx_00000000000000000000000000000001",
        ];
        let mut ordered: Vec<OrderId> = ids.iter().map(|id| OrderId::of(id)).collect();
        ids.sort();
        ordered.sort();
        let texts: Vec<String> = ordered.iter().map(|id| id.text().into_owned()).collect();
        assert_eq!(texts, ids);
        assert!(ordered.iter().all(|id| matches!(id, OrderId::Hex(_))));
        // Other ids keep their text and sort after Verocta's.
        let other = OrderId::of("TX-1");
        assert_eq!(other.text(), "TX-1");
        assert!(other > ordered[3]);
    }

    #[tokio::test]
    async fn a_varying_window_is_an_error_naming_the_fix() {
        let ctx = context(vec![vec![batch(&ledgers(), false)]]);
        let error = ctx
            .sql(
                "SELECT spendscore_v2(CASE WHEN amount_minor > 5000 THEN 30 ELSE 90 END, \
                 booked_date, booked_time_s, amount_minor, class, vendor, category, \
                 transaction_id) FROM t",
            )
            .await
            .unwrap()
            .collect()
            .await
            .unwrap_err();
        assert!(error.to_string().contains("pass a constant"), "{error}");
    }
}
