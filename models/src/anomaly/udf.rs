//! The models as DataFusion functions, so jobs are SQL over Delta tables.
//!
//! - `round_amount_score(amount_minor, currency_digits) -> DOUBLE`
//! - `under_limit_score(amount_minor, currency_digits) -> DOUBLE` (approval limits configurable)
//! - `isolation_score(tenant_id, f0, …, f8) -> DOUBLE`: the forest score of a feature vector
//!   under a trained [`ModelSet`] (the tenant's model, else the cohort's; NULL without either)
//! - `spendscore_classic(amount, vendor, booked_date, category) -> DOUBLE`: an aggregate, the
//!   classic SpendScore of a group (`GROUP BY tenant_id`), identical to `verocta score --classic`
//!   on the same rows.
//! - `spendscore_v2(window_days, booked_date, booked_time_s, amount_minor, class, vendor,
//!   category, transaction_id) -> BIGINT`: an aggregate, SpendScore v2 of a group over the
//!   window ending on its latest spend day, as `verocta scores` computes it
//!   ([`crate::spendscore::v2_udaf`]).

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow_array::builder::Float64Builder;
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int8Type, Int64Type};
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, Field, FieldRef};
use chrono::NaiveDate;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

use super::features::{DEFAULT_APPROVAL_LIMITS, round_amount_score, under_limit_score};
use super::{FEATURE_COUNT, ModelSet};
use crate::spendscore::classic::{ClassicRow, score_classic};
use crate::spendscore::v2_udaf::SpendScoreV2Udaf;

/// Registers the feature UDFs and the classic and v2 score UDAFs, and `isolation_score` when
/// models are given.
pub fn register(ctx: &SessionContext, models: Option<Arc<ModelSet>>) {
    ctx.register_udf(ScalarUDF::from(RoundAmount::new()));
    ctx.register_udf(ScalarUDF::from(UnderLimit::new(
        DEFAULT_APPROVAL_LIMITS.to_vec(),
    )));
    ctx.register_udaf(AggregateUDF::from(ClassicScoreUdaf::new()));
    ctx.register_udaf(AggregateUDF::from(SpendScoreV2Udaf::new()));
    if let Some(models) = models {
        ctx.register_udf(ScalarUDF::from(IsolationScore::new(models)));
    }
}

fn int_args(args: &ScalarFunctionArgs, name: &str) -> Result<(ArrayRef, ArrayRef)> {
    let arrays = ColumnarValue::values_to_arrays(&args.args)?;
    let [amount, digits] = arrays.as_slice() else {
        return Err(DataFusionError::Plan(format!(
            "{name} takes (amount_minor, currency_digits)"
        )));
    };
    let amount = datafusion::arrow::compute::cast(amount, &DataType::Int64)?;
    let digits = datafusion::arrow::compute::cast(digits, &DataType::Int8)?;
    Ok((amount, digits))
}

fn map_amounts(
    args: &ScalarFunctionArgs,
    name: &str,
    f: impl Fn(i64, u8) -> f64,
) -> Result<ColumnarValue> {
    let (amount, digits) = int_args(args, name)?;
    let amount = amount.as_primitive::<Int64Type>();
    let digits = digits.as_primitive::<Int8Type>();
    let mut out = Float64Builder::with_capacity(amount.len());
    for i in 0..amount.len() {
        if amount.is_null(i) || digits.is_null(i) {
            out.append_null();
        } else {
            out.append_value(f(
                amount.value(i),
                u8::try_from(digits.value(i)).unwrap_or(2),
            ));
        }
    }
    Ok(ColumnarValue::Array(Arc::new(out.finish())))
}

/// `round_amount_score(amount_minor, currency_digits)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RoundAmount {
    signature: Signature,
}

impl RoundAmount {
    /// The UDF.
    pub fn new() -> Self {
        RoundAmount {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl Default for RoundAmount {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for RoundAmount {
    fn name(&self) -> &str {
        "round_amount_score"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        map_amounts(&args, self.name(), round_amount_score)
    }
}

/// `under_limit_score(amount_minor, currency_digits)` against configured approval limits.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct UnderLimit {
    signature: Signature,
    limits_major: Vec<i64>,
}

impl UnderLimit {
    /// The UDF for these limits (major units).
    pub fn new(limits_major: Vec<i64>) -> Self {
        UnderLimit {
            signature: Signature::any(2, Volatility::Immutable),
            limits_major,
        }
    }
}

impl ScalarUDFImpl for UnderLimit {
    fn name(&self) -> &str {
        "under_limit_score"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        map_amounts(&args, self.name(), |amount, digits| {
            under_limit_score(amount, digits, &self.limits_major)
        })
    }
}

/// `isolation_score(tenant_id, f0, …, f8)` under a trained model set.
#[derive(Debug)]
pub struct IsolationScore {
    signature: Signature,
    models: Arc<ModelSet>,
}

impl IsolationScore {
    /// The UDF scoring with `models`.
    pub fn new(models: Arc<ModelSet>) -> Self {
        IsolationScore {
            signature: Signature::any(1 + FEATURE_COUNT, Volatility::Immutable),
            models,
        }
    }
}

// Two instances are the same function when they score with the same model set.
impl PartialEq for IsolationScore {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.models, &other.models)
    }
}
impl Eq for IsolationScore {}
impl Hash for IsolationScore {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.models.version.hash(state);
    }
}

impl ScalarUDFImpl for IsolationScore {
    fn name(&self) -> &str {
        "isolation_score"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let tenants = datafusion::arrow::compute::cast(&arrays[0], &DataType::Utf8)?;
        let tenants = tenants.as_string::<i32>();
        let mut features = Vec::with_capacity(FEATURE_COUNT);
        for array in &arrays[1..] {
            features.push(datafusion::arrow::compute::cast(array, &DataType::Float64)?);
        }
        let features: Vec<&arrow_array::Float64Array> = features
            .iter()
            .map(|a| a.as_primitive::<Float64Type>())
            .collect();
        let mut out = Float64Builder::with_capacity(tenants.len());
        for i in 0..tenants.len() {
            let model = if tenants.is_null(i) {
                None
            } else {
                self.models.for_tenant(tenants.value(i))
            };
            let Some(model) = model else {
                out.append_null();
                continue;
            };
            let mut vector = [0.0; FEATURE_COUNT];
            for (slot, values) in vector.iter_mut().zip(&features) {
                *slot = if values.is_null(i) {
                    0.0
                } else {
                    values.value(i)
                };
            }
            out.append_value(model.score(&vector));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// `spendscore_classic(amount, vendor, booked_date, category)`: the classic score of a group.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ClassicScoreUdaf {
    signature: Signature,
}

impl ClassicScoreUdaf {
    /// The UDAF.
    pub fn new() -> Self {
        ClassicScoreUdaf {
            signature: Signature::any(4, Volatility::Immutable),
        }
    }
}

impl Default for ClassicScoreUdaf {
    fn default() -> Self {
        Self::new()
    }
}

fn list_field(name: &str, item: DataType) -> FieldRef {
    Arc::new(Field::new(
        name,
        DataType::List(Arc::new(Field::new("item", item, true))),
        true,
    ))
}

impl AggregateUDFImpl for ClassicScoreUdaf {
    fn name(&self) -> &str {
        "spendscore_classic"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }
    fn accumulator(&self, _: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::<ClassicAccumulator>::default())
    }
    fn state_fields(&self, _: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            list_field("amounts", DataType::Float64),
            list_field("vendors", DataType::Utf8),
            list_field("dates", DataType::Date32),
            list_field("categories", DataType::Utf8),
        ])
    }
}

/// Collects the group's rows; the classic score needs all of them (medians, pairs).
#[derive(Debug, Default)]
struct ClassicAccumulator {
    rows: Vec<ClassicRow>,
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

impl ClassicAccumulator {
    fn append(&mut self, columns: &[ArrayRef]) -> Result<()> {
        let [amounts, vendors, dates, categories] = columns else {
            return Err(DataFusionError::Plan(
                "spendscore_classic takes (amount, vendor, booked_date, category)".into(),
            ));
        };
        let amounts = datafusion::arrow::compute::cast(amounts, &DataType::Float64)?;
        let vendors = datafusion::arrow::compute::cast(vendors, &DataType::Utf8)?;
        let dates = datafusion::arrow::compute::cast(dates, &DataType::Date32)?;
        let categories = datafusion::arrow::compute::cast(categories, &DataType::Utf8)?;
        let amounts = amounts.as_primitive::<Float64Type>();
        let vendors = vendors.as_string::<i32>();
        let dates = dates.as_primitive::<Date32Type>();
        let categories = categories.as_string::<i32>();
        for i in 0..amounts.len() {
            if amounts.is_null(i) {
                continue;
            }
            let text = |a: &arrow_array::StringArray| {
                if a.is_null(i) {
                    String::new()
                } else {
                    a.value(i).to_string()
                }
            };
            // Date32 counts days from 1970-01-01, negative before it.
            let date = (!dates.is_null(i))
                .then(|| epoch().checked_add_signed(chrono::Duration::days(dates.value(i).into())))
                .flatten();
            self.rows.push(ClassicRow::new(
                amounts.value(i),
                text(vendors),
                date,
                text(categories),
            ));
        }
        Ok(())
    }
}

impl Accumulator for ClassicAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.append(values)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.rows.is_empty() {
            return Ok(ScalarValue::Float64(None));
        }
        Ok(ScalarValue::Float64(Some(f64::from(
            score_classic(&self.rows).score,
        ))))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self
                .rows
                .iter()
                .map(|r| std::mem::size_of::<ClassicRow>() + r.vendor.len() + r.category.len())
                .sum::<usize>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let amounts: Vec<ScalarValue> = self
            .rows
            .iter()
            .map(|r| ScalarValue::Float64(Some(r.amount)))
            .collect();
        let vendors: Vec<ScalarValue> = self
            .rows
            .iter()
            .map(|r| ScalarValue::Utf8(Some(r.vendor.clone())))
            .collect();
        let dates: Vec<ScalarValue> = self
            .rows
            .iter()
            .map(|r| ScalarValue::Date32(r.date.map(|d| (d - epoch()).num_days() as i32)))
            .collect();
        let categories: Vec<ScalarValue> = self
            .rows
            .iter()
            .map(|r| ScalarValue::Utf8(Some(r.category.clone())))
            .collect();
        Ok(vec![
            ScalarValue::List(ScalarValue::new_list_nullable(&amounts, &DataType::Float64)),
            ScalarValue::List(ScalarValue::new_list_nullable(&vendors, &DataType::Utf8)),
            ScalarValue::List(ScalarValue::new_list_nullable(&dates, &DataType::Date32)),
            ScalarValue::List(ScalarValue::new_list_nullable(&categories, &DataType::Utf8)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists: Vec<&arrow_array::ListArray> =
            states.iter().map(|s| s.as_list::<i32>()).collect();
        let Some(first) = lists.first() else {
            return Ok(());
        };
        for i in 0..first.len() {
            if first.is_null(i) {
                continue;
            }
            let columns: Vec<ArrayRef> = lists.iter().map(|l| l.value(i)).collect();
            self.append(&columns)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Date32Array, Float64Array, Int8Array, Int64Array, RecordBatch, StringArray};
    use arrow_schema::Schema;
    use datafusion::datasource::MemTable;

    fn context() -> SessionContext {
        let ctx = SessionContext::new();
        register(&ctx, None);
        let schema = Arc::new(Schema::new(vec![
            Field::new("tenant_id", DataType::Utf8, false),
            Field::new("amount_minor", DataType::Int64, false),
            Field::new("currency_digits", DataType::Int8, false),
            Field::new("amount", DataType::Float64, false),
            Field::new("vendor", DataType::Utf8, false),
            Field::new("booked_date", DataType::Date32, false),
            Field::new("category", DataType::Utf8, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec!["a", "a", "a", "b"])),
                Arc::new(Int64Array::from(vec![500_000, 99_900, 1_234, 700])),
                Arc::new(Int8Array::from(vec![2, 2, 2, 0])),
                Arc::new(Float64Array::from(vec![5000.0, 999.0, 12.34, 700.0])),
                Arc::new(StringArray::from(vec!["Acme", "Acme", "Cafe", "Hotel"])),
                Arc::new(Date32Array::from(vec![19_700, 19_701, 19_702, 19_703])),
                Arc::new(StringArray::from(vec![
                    "Supplies", "Supplies", "Meals", "Travel",
                ])),
            ],
        )
        .unwrap();
        let table = MemTable::try_new(schema, vec![vec![batch]]).unwrap();
        ctx.register_table("t", Arc::new(table)).unwrap();
        ctx
    }

    async fn floats(ctx: &SessionContext, sql: &str) -> Vec<Option<f64>> {
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        batches
            .iter()
            .flat_map(|b| {
                let c = b.column(0).as_primitive::<Float64Type>().clone();
                (0..c.len())
                    .map(move |i| (!c.is_null(i)).then(|| c.value(i)))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[tokio::test]
    async fn scalar_udfs_in_sql() {
        let ctx = context();
        let round = floats(
            &ctx,
            "SELECT round_amount_score(amount_minor, currency_digits) FROM t",
        )
        .await;
        // 999.00 is a whole amount; 12.34 is not; JPY 700 is a multiple of 100.
        assert_eq!(round, vec![Some(1.0), Some(0.25), Some(0.0), Some(0.75)]);
        let under = floats(
            &ctx,
            "SELECT under_limit_score(amount_minor, currency_digits) FROM t",
        )
        .await;
        assert_eq!(under[0], Some(0.0));
        assert!((under[1].unwrap() - 0.99).abs() < 1e-9);
    }

    #[tokio::test]
    async fn classic_udaf_matches_the_function() {
        let ctx = context();
        let scores = floats(
            &ctx,
            "SELECT spendscore_classic(amount, vendor, booked_date, category) FROM t \
             GROUP BY tenant_id ORDER BY tenant_id",
        )
        .await;
        let day = |n: u64| Some(epoch() + chrono::Days::new(n));
        let expected_a = score_classic(&[
            ClassicRow::new(5000.0, "Acme", day(19_700), "Supplies"),
            ClassicRow::new(999.0, "Acme", day(19_701), "Supplies"),
            ClassicRow::new(12.34, "Cafe", day(19_702), "Meals"),
        ]);
        assert_eq!(scores[0], Some(f64::from(expected_a.score)));
        let expected_b = score_classic(&[ClassicRow::new(700.0, "Hotel", day(19_703), "Travel")]);
        assert_eq!(scores[1], Some(f64::from(expected_b.score)));
    }

    /// Dates before 1970 are negative Date32 values; they used to be read as 1970-01-01,
    /// which made distinct days one day for the redundancy metric.
    #[tokio::test]
    async fn classic_udaf_reads_dates_before_1970() {
        let ctx = context();
        let scores = floats(
            &ctx,
            "SELECT spendscore_classic(amount, vendor, booked_date, category) FROM (VALUES \
               (10.0, 'Acme', DATE '1969-12-01', 'Supplies'), \
               (10.0, 'Acme', DATE '1969-12-20', 'Supplies')) AS v(amount, vendor, booked_date, category)",
        )
        .await;
        let date = |s: &str| Some(s.parse::<NaiveDate>().unwrap());
        let expected = score_classic(&[
            ClassicRow::new(10.0, "Acme", date("1969-12-01"), "Supplies"),
            ClassicRow::new(10.0, "Acme", date("1969-12-20"), "Supplies"),
        ]);
        let same_day = score_classic(&[
            ClassicRow::new(10.0, "Acme", date("1970-01-01"), "Supplies"),
            ClassicRow::new(10.0, "Acme", date("1970-01-01"), "Supplies"),
        ]);
        assert_ne!(expected.score, same_day.score);
        assert_eq!(scores, vec![Some(f64::from(expected.score))]);
    }
}
