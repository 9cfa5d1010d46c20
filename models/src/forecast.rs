//! Spend forecasting: per tenant × category (and the tenant's total), monthly and daily, with
//! prediction intervals; the method is chosen per series by a rolling-origin backtest against
//! seasonal naive.
//!
//! Candidates (all from `augurs`, except the baseline):
//! - `seasonal_naive`: the last season repeated (the last value when shorter than a season);
//!   intervals from the spread of seasonal differences, widening with each season ahead;
//! - `ets`: `AutoETS` over the non-seasonal forms (`ZZN`: additive or multiplicative errors;
//!   no, additive or damped trend), picked by AICc. augurs-ets 0.10 has no seasonal states;
//! - `mstl_ets`: MSTL decomposition with the same ETS on its trend (two seasons of history
//!   needed): the seasonal model.
//!
//! Choice: each applicable method forecasts `h` periods from up to [`BACKTEST_ORIGINS`] origins
//! at the end of the history; the lowest mean MASE wins, seasonal naive on ties, so a model
//! is only used where it beat the naive guess on this series' own past. The ETS form a method
//! picked on the whole history is refitted at each origin rather than searched again
//! ([`choose_and_forecast`]).
//!
//! Prophet runs offline only through `prophet-wasmstan` (wasmtime), which is not built: the
//! benchmark compares with Python Prophet instead (`benchmarks/forecast`).
//!
//! Spend is never negative: points and lower bounds are clipped at 0. Everything here is pure
//! and deterministic (AutoETS's optimiser has no randomness).

use std::collections::BTreeMap;

use std::sync::Mutex;

use augurs::ets::model::{
    ErrorComponent, Model, ModelType, SeasonalComponent, TrendComponent, Unfit,
};
use augurs::mstl::{FittedTrendModel, MSTLModel, TrendModel};
use augurs::{Fit, Predict};
use chrono::{Datelike, Duration, Months, NaiveDate};
use serde::{Deserialize, Serialize};

/// Version stored with every forecast row.
pub const FORECAST_VERSION: &str = "forecast-2";
/// Backtest origins per series.
pub const BACKTEST_ORIGINS: usize = 3;
/// Nominal coverage of the prediction intervals.
pub const INTERVAL_LEVEL: f64 = 0.95;

/// Forecast periods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    /// Calendar days; weekly seasonality.
    Day,
    /// Calendar months; yearly seasonality.
    Month,
}

impl Granularity {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Day => "day",
            Granularity::Month => "month",
        }
    }

    /// Season length in periods.
    pub fn season(self) -> usize {
        match self {
            Granularity::Day => 7,
            Granularity::Month => 12,
        }
    }

    /// Start of the period holding `day`.
    pub fn period_of(self, day: NaiveDate) -> NaiveDate {
        match self {
            Granularity::Day => day,
            Granularity::Month => day.with_day(1).unwrap_or(day),
        }
    }

    /// Start of the period `n` periods after `start`.
    pub fn add(self, start: NaiveDate, n: usize) -> NaiveDate {
        match self {
            Granularity::Day => start + Duration::days(n as i64),
            Granularity::Month => start
                .checked_add_months(Months::new(n as u32))
                .unwrap_or(start),
        }
    }

    /// Last day of the period starting at `start`.
    pub fn last_day(self, start: NaiveDate) -> NaiveDate {
        self.add(start, 1) - Duration::days(1)
    }
}

/// A forecasting method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Last season repeated.
    SeasonalNaive,
    /// AutoETS.
    Ets,
    /// MSTL with an AutoETS trend.
    MstlEts,
}

impl Method {
    /// Every method, baseline first (it wins ties).
    pub const ALL: [Method; 3] = [Method::SeasonalNaive, Method::Ets, Method::MstlEts];

    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::SeasonalNaive => "seasonal_naive",
            Method::Ets => "ets",
            Method::MstlEts => "mstl_ets",
        }
    }

    /// Whether the method can fit `n` points with season length `m`.
    pub fn applicable(self, n: usize, m: usize) -> bool {
        match self {
            Method::SeasonalNaive => n >= 1,
            Method::Ets => n >= 4,
            Method::MstlEts => n >= 2 * m + 1,
        }
    }
}

/// Errors from a model.
#[derive(Debug, thiserror::Error)]
pub enum ForecastError {
    /// The model could not fit the series (too short, degenerate, optimiser failure).
    #[error("{method} could not fit the series: {message}")]
    Fit {
        /// Method.
        method: &'static str,
        /// The model's message.
        message: String,
    },
}

/// Point forecasts with interval bounds.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// Point forecasts.
    pub point: Vec<f64>,
    /// Lower bounds.
    pub lower: Vec<f64>,
    /// Upper bounds.
    pub upper: Vec<f64>,
}

/// Fits `method` on `y` (season length `m`) and forecasts `h` periods with intervals at
/// `level`; points and lower bounds clipped at 0.
pub fn fit_predict(
    method: Method,
    y: &[f64],
    m: usize,
    h: usize,
    level: f64,
) -> Result<Prediction, ForecastError> {
    fit(method, y, m, h, level, None).map(|fitted| fitted.prediction)
}

/// The ETS form AutoETS picked by AICc: error, trend and season components and whether the
/// trend is damped.
#[derive(Clone, Copy, Debug)]
struct EtsForm {
    model_type: ModelType,
    damped: bool,
}

// augurs' `ModelType` has no `PartialEq`; its components do.
impl PartialEq for EtsForm {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.model_type, other.model_type);
        a.error == b.error
            && a.trend == b.trend
            && a.season == b.season
            && self.damped == other.damped
    }
}

impl EtsForm {
    fn of(model: &Model) -> EtsForm {
        EtsForm {
            model_type: model.model_type(),
            damped: model.damped(),
        }
    }

    /// As R's `ets` writes it: `"MAdN"` for multiplicative errors and a damped additive trend.
    fn name(&self) -> String {
        let ModelType {
            error,
            trend,
            season,
        } = self.model_type;
        let damped = if self.damped { "d" } else { "" };
        format!("{error}{trend}{damped}{season}")
    }

    /// The forms `AutoETS` searches for a `ZZN` spec, in its order (which breaks AICc ties).
    fn non_seasonal() -> impl Iterator<Item = EtsForm> {
        let errors = [ErrorComponent::Additive, ErrorComponent::Multiplicative];
        let trends = [
            (TrendComponent::None, false),
            (TrendComponent::Additive, true),
            (TrendComponent::Additive, false),
        ];
        errors.into_iter().flat_map(move |error| {
            trends.into_iter().map(move |(trend, damped)| EtsForm {
                model_type: ModelType {
                    error,
                    trend,
                    season: SeasonalComponent::None,
                },
                damped,
            })
        })
    }

    /// Fits this form alone, with the checks `AutoETS` applies to a one-form spec. (`AutoETS`
    /// itself cannot be asked for one form without a trend: augurs-ets 0.10 gives an `N`
    /// trend spec no candidates.)
    fn fit(&self, y: &[f64]) -> Result<Model, String> {
        let ModelType { trend, season, .. } = self.model_type;
        let parameters = 2 + 2 * usize::from(trend.included()) + 2 * usize::from(season.included());
        if y.len() <= parameters + 4 {
            return Err(format!(
                "{} points are too few for {}",
                y.len(),
                self.name()
            ));
        }
        self.fit_candidate(y)
    }

    /// Fits this form as one candidate of a search: multiplicative forms need positive data,
    /// and a NaN AICc is a failure.
    ///
    /// `nmse` is 1, not `AutoETS`'s 3: it only sets how many steps ahead each point's
    /// forecast runs for the AMSE, which the likelihood criterion never reads, and it was a
    /// fifth of the fitting time. The fit is the same (tests).
    fn fit_candidate(&self, y: &[f64]) -> Result<Model, String> {
        let ModelType {
            error,
            trend,
            season,
        } = self.model_type;
        let multiplicative = error == ErrorComponent::Multiplicative
            || trend == TrendComponent::Multiplicative
            || matches!(season, SeasonalComponent::Multiplicative { .. });
        if multiplicative && y.iter().any(|v| *v <= 0.0) {
            return Err(format!("{} needs positive data", self.name()));
        }
        let model = Unfit::new(self.model_type)
            .damped(self.damped)
            .nmse(1)
            .fit(y)
            .map_err(|e| e.to_string())?;
        if model.aicc().is_nan() {
            return Err(format!("{} did not fit", self.name()));
        }
        Ok(model)
    }
}

/// Fits `form` alone, or searches the non-seasonal forms (`AutoETS`'s `ZZN`) for the lowest
/// AICc.
///
/// Never a seasonal form: augurs-ets 0.10 does not implement seasonal states (its README says
/// so; the recursion ignores them), so a seasonal candidate is a non-seasonal model with 13
/// unused parameters for the optimiser to move. It could only lose on AICc, and it made the
/// search slower. Seasonality is MSTL's job.
fn fit_ets(form: Option<EtsForm>, y: &[f64]) -> Result<Model, String> {
    if let Some(form) = form {
        return form.fit(y);
    }
    // `AutoETS`'s own check for a spec whose trend is searched: level and alpha, plus four.
    if y.len() <= 6 {
        return Err(format!("{} points are too few", y.len()));
    }
    EtsForm::non_seasonal()
        .filter_map(|form| form.fit_candidate(y).ok())
        .min_by(|a, b| a.aicc().total_cmp(&b.aicc()))
        .ok_or_else(|| "no ETS form fitted".to_string())
}

/// A method fitted on a series: its forecast and, for the ETS-based methods, the form picked.
#[derive(Clone, Debug)]
struct Fitted {
    prediction: Prediction,
    form: Option<EtsForm>,
}

/// [`fit_predict`], keeping the ETS form. With `form`, only that form is fitted (its
/// parameters and initial states still estimated on `y`); without, the forms are searched.
fn fit(
    method: Method,
    y: &[f64],
    m: usize,
    h: usize,
    level: f64,
    form: Option<EtsForm>,
) -> Result<Fitted, ForecastError> {
    let fail = |message: String| ForecastError::Fit {
        method: method.as_str(),
        message,
    };
    if !method.applicable(y.len(), m) {
        return Err(fail(format!("{} points are too few", y.len())));
    }
    let (forecast, form) = match method {
        Method::SeasonalNaive => {
            return Ok(Fitted {
                prediction: clip(seasonal_naive(y, m, h, level)),
                form: None,
            });
        }
        Method::Ets => {
            let model = fit_ets(form, y).map_err(fail)?;
            let forecast = model.predict(h, level).map_err(|e| fail(e.to_string()))?;
            (forecast, EtsForm::of(&model))
        }
        Method::MstlEts => {
            let mstl = MSTLModel::new(vec![m], EtsTrend::new(form));
            let fitted = mstl.fit(y).map_err(|e| fail(e.to_string()))?;
            let form = mstl
                .trend_model()
                .picked()
                .ok_or_else(|| fail("the trend model kept no form".into()))?;
            let forecast = fitted.predict(h, level).map_err(|e| fail(e.to_string()))?;
            (forecast, form)
        }
    };
    let point = forecast.point;
    if point.len() != h || point.iter().any(|p| !p.is_finite()) {
        return Err(fail("non-finite forecast".into()));
    }
    let (lower, upper) = match forecast.intervals {
        Some(i) if i.lower.len() == h && i.upper.len() == h => (i.lower, i.upper),
        _ => (point.clone(), point.clone()),
    };
    Ok(Fitted {
        prediction: clip(Prediction {
            point,
            lower,
            upper,
        }),
        form: Some(form),
    })
}

/// MSTL's trend model: ETS (one form, or AutoETS's search), remembering the form it fitted
/// (augurs' own adapter hides it).
#[derive(Debug)]
struct EtsTrend {
    form: Option<EtsForm>,
    picked: Mutex<Option<EtsForm>>,
}

impl EtsTrend {
    fn new(form: Option<EtsForm>) -> Self {
        EtsTrend {
            form,
            picked: Mutex::new(None),
        }
    }

    fn picked(&self) -> Option<EtsForm> {
        *self.picked.lock().unwrap_or_else(|e| e.into_inner())
    }
}

type BoxedError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl TrendModel for EtsTrend {
    fn name(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed("ETS")
    }

    fn fit(&self, y: &[f64]) -> Result<Box<dyn FittedTrendModel + Sync + Send>, BoxedError> {
        let model = fit_ets(self.form, y)?;
        *self.picked.lock().unwrap_or_else(|e| e.into_inner()) = Some(EtsForm::of(&model));
        Ok(Box::new(EtsTrendFitted(model)))
    }
}

#[derive(Debug)]
struct EtsTrendFitted(Model);

impl FittedTrendModel for EtsTrendFitted {
    fn predict_inplace(
        &self,
        horizon: usize,
        level: Option<f64>,
        forecast: &mut augurs::Forecast,
    ) -> Result<(), BoxedError> {
        Ok(self.0.predict_inplace(horizon, level, forecast)?)
    }

    fn predict_in_sample_inplace(
        &self,
        level: Option<f64>,
        forecast: &mut augurs::Forecast,
    ) -> Result<(), BoxedError> {
        Ok(self.0.predict_in_sample_inplace(level, forecast)?)
    }

    fn training_data_size(&self) -> Option<usize> {
        Some(self.0.training_data_size())
    }
}

fn clip(mut p: Prediction) -> Prediction {
    for v in p.point.iter_mut().chain(p.lower.iter_mut()) {
        *v = v.max(0.0);
    }
    for (u, point) in p.upper.iter_mut().zip(&p.point) {
        if !u.is_finite() || *u < *point {
            *u = *point;
        }
    }
    p
}

/// Seasonal naive with normal intervals: σ from the in-sample seasonal differences, scaled by
/// √(seasons ahead). Falls back to naive (lag 1) when shorter than a season.
pub fn seasonal_naive(y: &[f64], m: usize, h: usize, level: f64) -> Prediction {
    let lag = if y.len() > m { m } else { 1 };
    let n = y.len();
    let point: Vec<f64> = (0..h).map(|i| y[n - lag + (i % lag)]).collect();
    let diffs: Vec<f64> = (lag..n).map(|t| y[t] - y[t - lag]).collect();
    let sigma = if diffs.is_empty() {
        0.0
    } else {
        (diffs.iter().map(|d| d * d).sum::<f64>() / diffs.len() as f64).sqrt()
    };
    let z = normal_quantile(0.5 + level / 2.0);
    let mut lower = Vec::with_capacity(h);
    let mut upper = Vec::with_capacity(h);
    for (i, p) in point.iter().enumerate() {
        let k = (i / lag + 1) as f64;
        lower.push(p - z * sigma * k.sqrt());
        upper.push(p + z * sigma * k.sqrt());
    }
    Prediction {
        point,
        lower,
        upper,
    }
}

/// Standard normal quantile (Acklam's rational approximation; |error| < 1.2e-9).
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// MASE of `forecast` against `actual`, scaled by the in-sample MAE of the seasonal naive
/// (lag `m`, or 1 when `train` is not longer than a season). `None` when the scale is 0.
pub fn mase(actual: &[f64], forecast: &[f64], train: &[f64], m: usize) -> Option<f64> {
    let lag = if train.len() > m { m } else { 1 };
    if train.len() <= lag || actual.is_empty() {
        return None;
    }
    let scale = (lag..train.len())
        .map(|t| (train[t] - train[t - lag]).abs())
        .sum::<f64>()
        / (train.len() - lag) as f64;
    if scale <= 0.0 {
        return None;
    }
    let mae = actual
        .iter()
        .zip(forecast)
        .map(|(a, f)| (a - f).abs())
        .sum::<f64>()
        / actual.len() as f64;
    Some(mae / scale)
}

/// Symmetric MAPE in percent (a term is 0 when both values are 0).
pub fn smape(actual: &[f64], forecast: &[f64]) -> f64 {
    let terms: Vec<f64> = actual
        .iter()
        .zip(forecast)
        .map(|(a, f)| {
            let denominator = a.abs() + f.abs();
            if denominator == 0.0 {
                0.0
            } else {
                200.0 * (a - f).abs() / denominator
            }
        })
        .collect();
    terms.iter().sum::<f64>() / terms.len().max(1) as f64
}

/// Mean MASE of `method` over rolling origins: the last `origins` windows of `h` periods, each
/// forecast from the history before it, searching the ETS form afresh at each. `None` when no
/// origin leaves enough history (or the method failed at every origin).
pub fn backtest(method: Method, y: &[f64], m: usize, h: usize, origins: usize) -> Option<f64> {
    backtest_form(method, y, m, h, origins, None)
}

/// [`backtest`] refitting one ETS form at every origin (its parameters and initial states
/// re-estimated on each origin's history). An origin whose history cannot take the form
/// (multiplicative on data with zeros, too short, or an optimiser failure) searches afresh.
fn backtest_form(
    method: Method,
    y: &[f64],
    m: usize,
    h: usize,
    origins: usize,
    form: Option<EtsForm>,
) -> Option<f64> {
    let mut scores = Vec::new();
    for k in (1..=origins).rev() {
        let Some(cut) = y.len().checked_sub(k * h) else {
            continue;
        };
        let (train, test) = (&y[..cut], &y[cut..cut + h]);
        if !method.applicable(train.len(), m) || train.len() < m.min(12) {
            continue;
        }
        let fitted = match form {
            Some(_) => fit(method, train, m, h, INTERVAL_LEVEL, form)
                .or_else(|_| fit(method, train, m, h, INTERVAL_LEVEL, None)),
            None => fit(method, train, m, h, INTERVAL_LEVEL, None),
        };
        let Ok(fitted) = fitted else {
            continue;
        };
        if let Some(score) = mase(test, &fitted.prediction.point, train, m) {
            scores.push(score);
        }
    }
    (!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64)
}

/// A chosen method and its forecast.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesForecast {
    /// The method used.
    pub method: Method,
    /// Its forecast of the next `h` periods.
    pub prediction: Prediction,
    /// Its backtest MASE.
    pub backtest_mase: Option<f64>,
    /// Seasonal naive's backtest MASE.
    pub baseline_mase: Option<f64>,
}

/// Picks the method with the lowest backtest MASE (seasonal naive on ties or when nothing can
/// be backtested) and forecasts `h` periods with it from the whole history.
///
/// Each method is fitted on the whole history first (AutoETS searching every form by AICc);
/// the backtest then refits the form it picked at each origin instead of searching again, as
/// R's `forecast::ets(train, model = fit)` does. The form is chosen with the held-out windows in
/// view, but only in-sample (by AICc); the parameters never see them. It is what makes the
/// choice ~3× cheaper: a search fits up to 18 forms.
pub fn choose_and_forecast(y: &[f64], m: usize, h: usize) -> Option<SeriesForecast> {
    if y.is_empty() || h == 0 {
        return None;
    }
    let scored: Vec<(Method, Option<Fitted>, Option<f64>)> = Method::ALL
        .iter()
        .map(|&method| {
            let Ok(fitted) = fit(method, y, m, h, INTERVAL_LEVEL, None) else {
                return (method, None, None);
            };
            let score = backtest_form(method, y, m, h, BACKTEST_ORIGINS, fitted.form);
            (method, Some(fitted), score)
        })
        .collect();
    let baseline_mase = scored[0].2;
    let mut ranked: Vec<(Method, Fitted, f64)> = scored
        .into_iter()
        .filter_map(|(method, fitted, score)| Some((method, fitted?, score?)))
        .collect();
    // Stable sort: on equal scores the earlier (simpler) method stays first.
    ranked.sort_by(|a, b| a.2.total_cmp(&b.2));
    if let Some((method, fitted, score)) = ranked.into_iter().next() {
        return Some(SeriesForecast {
            method,
            prediction: fitted.prediction,
            backtest_mase: Some(score),
            baseline_mase,
        });
    }
    let prediction = fit_predict(Method::SeasonalNaive, y, m, h, INTERVAL_LEVEL).ok()?;
    Some(SeriesForecast {
        method: Method::SeasonalNaive,
        prediction,
        backtest_mase: baseline_mase,
        baseline_mase,
    })
}

/// One series' history: consecutive periods from `start`, no gaps (missing periods are 0).
#[derive(Clone, Debug, PartialEq)]
pub struct History {
    /// Tenant.
    pub tenant_id: String,
    /// Category code, "" for the total.
    pub category: String,
    /// Currency of the values.
    pub currency: String,
    /// Periods.
    pub granularity: Granularity,
    /// First period.
    pub start: NaiveDate,
    /// Spend per period, major units.
    pub values: Vec<f64>,
}

impl History {
    /// Start of the last observed period.
    pub fn last_period(&self) -> NaiveDate {
        self.granularity
            .add(self.start, self.values.len().saturating_sub(1))
    }
}

/// Daily spend rows (tenant, category, currency, digits, day, minor) → per-tenant histories
/// for the tenant's main currency: one per category plus the total (category ""), monthly and
/// daily. Only complete periods count: a tenant's history ends with the last period that
/// ends on or before its latest spend day. Daily histories keep the last `daily_days` days.
pub fn histories(rows: &[DailySpend], daily_days: usize) -> Vec<History> {
    // tenant → currency → rows
    let mut by_tenant: BTreeMap<&str, BTreeMap<&str, Vec<&DailySpend>>> = BTreeMap::new();
    for row in rows {
        by_tenant
            .entry(&row.tenant_id)
            .or_default()
            .entry(&row.currency)
            .or_default()
            .push(row);
    }
    let mut out = Vec::new();
    for (tenant, currencies) in by_tenant {
        let Some((currency, rows)) = currencies
            .into_iter()
            .max_by(|a, b| a.1.len().cmp(&b.1.len()).then(b.0.cmp(a.0)))
        else {
            continue;
        };
        let Some(latest) = rows.iter().map(|r| r.day).max() else {
            continue;
        };
        for granularity in [Granularity::Month, Granularity::Day] {
            out.extend(tenant_histories(
                tenant,
                currency,
                &rows,
                granularity,
                latest,
                daily_days,
            ));
        }
    }
    out
}

fn tenant_histories(
    tenant: &str,
    currency: &str,
    rows: &[&DailySpend],
    granularity: Granularity,
    latest: NaiveDate,
    daily_days: usize,
) -> Vec<History> {
    // The last complete period: the one holding `latest` if it ends there, else the one before.
    let current = granularity.period_of(latest);
    let end = if granularity.last_day(current) == latest {
        current
    } else {
        match granularity {
            Granularity::Day => current - Duration::days(1),
            Granularity::Month => current
                .checked_sub_months(Months::new(1))
                .unwrap_or(current),
        }
    };
    let first_day = rows.iter().map(|r| r.day).min().unwrap_or(latest);
    let mut start = granularity.period_of(first_day);
    if granularity == Granularity::Day {
        start = start.max(end - Duration::days(daily_days as i64 - 1));
    }
    if end < start {
        return Vec::new();
    }
    let periods = match granularity {
        Granularity::Day => (end - start).num_days() as usize + 1,
        Granularity::Month => {
            ((end.year() - start.year()) * 12 + end.month() as i32 - start.month() as i32) as usize
                + 1
        }
    };
    let index = |day: NaiveDate| -> Option<usize> {
        let period = granularity.period_of(day);
        if period < start || period > end {
            return None;
        }
        Some(match granularity {
            Granularity::Day => (period - start).num_days() as usize,
            Granularity::Month => {
                ((period.year() - start.year()) * 12 + period.month() as i32 - start.month() as i32)
                    as usize
            }
        })
    };
    let mut series: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    series.insert("", vec![0.0; periods]);
    for row in rows {
        let Some(i) = index(row.day) else { continue };
        let amount = row.spend_minor as f64 / 10f64.powi(i32::from(row.digits));
        for key in ["", row.category.as_str()] {
            series.entry(key).or_insert_with(|| vec![0.0; periods])[i] += amount;
        }
    }
    series
        .into_iter()
        .map(|(category, values)| History {
            tenant_id: tenant.into(),
            category: category.into(),
            currency: currency.into(),
            granularity,
            start,
            values,
        })
        .collect()
}

/// One tenant's spend on one day in one category and currency.
#[derive(Clone, Debug, PartialEq)]
pub struct DailySpend {
    /// Tenant.
    pub tenant_id: String,
    /// Category code.
    pub category: String,
    /// Currency code.
    pub currency: String,
    /// Its minor digits.
    pub digits: u8,
    /// Day.
    pub day: NaiveDate,
    /// Spend that day, minor units.
    pub spend_minor: i64,
}

/// The query giving [`DailySpend`] rows from a table of canonical transactions.
pub fn daily_spend_sql(source: &str, filter: &str) -> String {
    format!(
        "SELECT tenant_id, category, currency, max(currency_digits) AS currency_digits, \
                booked_date, CAST(sum(amount_minor) AS BIGINT) AS spend_minor \
         FROM {source} WHERE class = 'spend' AND ({filter}) \
         GROUP BY tenant_id, category, currency, booked_date \
         ORDER BY tenant_id, category, currency, booked_date"
    )
}

/// Reads [`daily_spend_sql`] batches.
pub fn daily_spend_from_batches(
    batches: &[arrow_array::RecordBatch],
) -> Result<Vec<DailySpend>, crate::anomaly::features::FeatureError> {
    use crate::anomaly::features::{text, typed};
    use arrow_array::types::{Date32Type, Int8Type, Int64Type};
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let mut rows = Vec::new();
    for batch in batches {
        let tenant = text(batch, "tenant_id")?;
        let category = text(batch, "category")?;
        let currency = text(batch, "currency")?;
        let digits = typed::<arrow_array::PrimitiveArray<Int8Type>>(batch, "currency_digits")?;
        let day = typed::<arrow_array::PrimitiveArray<Date32Type>>(batch, "booked_date")?;
        let spend = typed::<arrow_array::PrimitiveArray<Int64Type>>(batch, "spend_minor")?;
        for i in 0..batch.num_rows() {
            rows.push(DailySpend {
                tenant_id: tenant[i].clone(),
                category: category[i].clone(),
                currency: currency[i].clone(),
                digits: u8::try_from(digits.value(i)).unwrap_or(2),
                day: epoch + Duration::days(i64::from(day.value(i))),
                spend_minor: spend.value(i),
            });
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 40 months around a flat level with deterministic noise: no trend, no season.
    fn level_series() -> Vec<f64> {
        (0..40).map(|t| 100.0 + ((t * 7919) % 13) as f64).collect()
    }

    /// A seasonal monthly series with trend and a little deterministic noise.
    fn seasonal(n: usize) -> Vec<f64> {
        (0..n)
            .map(|t| {
                let season = [1.0, 0.9, 1.1, 1.0, 1.2, 1.3, 0.8, 0.7, 1.0, 1.1, 1.2, 1.6][t % 12];
                let noise = ((t * 7919) % 13) as f64 / 13.0 - 0.5;
                (1000.0 + 10.0 * t as f64) * season + 20.0 * noise
            })
            .collect()
    }

    #[test]
    fn seasonal_naive_repeats_the_last_season_with_widening_intervals() {
        let y: Vec<f64> = (0..24)
            .map(|t| (t % 12) as f64 + if t >= 12 { 1.0 } else { 0.0 })
            .collect();
        let p = seasonal_naive(&y, 12, 14, 0.95);
        assert_eq!(p.point[0], y[12]);
        assert_eq!(p.point[13], y[13]);
        let width = |i: usize| p.upper[i] - p.lower[i];
        assert!(width(13) > width(0));
        // σ = 1 (every seasonal difference is 1): the first interval is ±1.96.
        assert!((width(0) / 2.0 - 1.959_964).abs() < 1e-5, "{}", width(0));
    }

    #[test]
    fn mase_and_smape_follow_their_definitions() {
        let train = [1.0, 2.0, 3.0, 4.0];
        // Naive in-sample MAE is 1, forecast errors are 1 and 3.
        assert_eq!(mase(&[5.0, 6.0], &[4.0, 3.0], &train, 12), Some(2.0));
        assert_eq!(mase(&[1.0], &[1.0], &[2.0, 2.0, 2.0], 12), None);
        assert!((smape(&[100.0, 0.0], &[50.0, 0.0]) - 33.333_333).abs() < 1e-4);
    }

    #[test]
    fn models_beat_seasonal_naive_on_a_trending_seasonal_series() {
        let y = seasonal(60);
        let naive = backtest(Method::SeasonalNaive, &y, 12, 6, 3).unwrap();
        let mstl = backtest(Method::MstlEts, &y, 12, 6, 3).unwrap();
        assert!(mstl < naive, "mstl {mstl} vs naive {naive}");
        let chosen = choose_and_forecast(&y, 12, 6).unwrap();
        assert_ne!(chosen.method, Method::SeasonalNaive);
        assert!(chosen.backtest_mase.unwrap() <= chosen.baseline_mase.unwrap());
        let p = &chosen.prediction;
        assert_eq!(p.point.len(), 6);
        for i in 0..6 {
            assert!(
                p.lower[i] <= p.point[i] && p.point[i] <= p.upper[i],
                "{p:?}"
            );
            assert!(p.lower[i] >= 0.0);
        }
    }

    #[test]
    fn a_fixed_form_refits_to_what_the_search_picked() {
        let y = seasonal(60);
        for method in [Method::Ets, Method::MstlEts] {
            let searched = fit(method, &y, 12, 6, 0.95, None).unwrap();
            let form = searched.form.unwrap();
            let refit = fit(method, &y, 12, 6, 0.95, Some(form)).unwrap();
            assert_eq!(refit.form, Some(form), "{}", form.name());
            assert_eq!(refit.prediction, searched.prediction, "{}", form.name());
        }
        // A form without a trend refits too (AutoETS cannot be asked for one).
        let flat = level_series();
        let searched = fit(Method::Ets, &flat, 12, 6, 0.95, None).unwrap();
        let form = searched.form.unwrap();
        assert_eq!(
            form.model_type.trend,
            TrendComponent::None,
            "{}",
            form.name()
        );
        let refit = fit(Method::Ets, &flat, 12, 6, 0.95, Some(form)).unwrap();
        assert_eq!(refit.prediction, searched.prediction, "{}", form.name());
        // A multiplicative form is not fitted to data with zeros.
        let mut zeros = flat.clone();
        zeros[3] = 0.0;
        let multiplicative = EtsForm {
            model_type: ModelType {
                error: ErrorComponent::Multiplicative,
                trend: TrendComponent::None,
                season: SeasonalComponent::None,
            },
            damped: false,
        };
        assert!(multiplicative.fit(&zeros).is_err());
        assert!(multiplicative.fit(&flat).is_ok());
    }

    #[test]
    fn the_search_is_autoets_zzn() {
        let flat = level_series();
        let mut zeros = seasonal(50);
        zeros[7] = 0.0;
        for y in [seasonal(60), seasonal(20), flat, zeros] {
            let autoets = augurs::ets::AutoETS::non_seasonal().fit(&y).unwrap();
            let ours = fit_ets(None, &y).unwrap();
            let expected = EtsForm::of(autoets.model());
            assert_eq!(EtsForm::of(&ours), expected, "{}", expected.name());
            assert_eq!(ours.aicc(), autoets.model().aicc());
            let a = autoets.predict(6, 0.95).unwrap();
            let b = ours.predict(6, 0.95).unwrap();
            assert_eq!(a.point, b.point);
            let (a, b) = (a.intervals.unwrap(), b.intervals.unwrap());
            assert_eq!((a.lower, a.upper), (b.lower, b.upper));
        }
    }

    #[test]
    fn an_origin_that_cannot_take_the_form_searches_again() {
        let mut y = seasonal(40);
        y[2] = 0.0;
        let multiplicative = EtsForm {
            model_type: ModelType {
                error: ErrorComponent::Multiplicative,
                trend: TrendComponent::Additive,
                season: SeasonalComponent::None,
            },
            damped: true,
        };
        assert_eq!(multiplicative.name(), "MAdN");
        // Every origin's history holds the zero: each searches, as `backtest` does.
        let with_form = backtest_form(Method::Ets, &y, 12, 6, 3, Some(multiplicative));
        let searched = backtest(Method::Ets, &y, 12, 6, 3);
        assert!(searched.is_some());
        assert_eq!(with_form, searched);
    }

    #[test]
    fn the_chosen_forecast_is_the_full_history_fit() {
        let y = seasonal(60);
        let chosen = choose_and_forecast(&y, 12, 6).unwrap();
        let direct = fit_predict(chosen.method, &y, 12, 6, INTERVAL_LEVEL).unwrap();
        assert_eq!(chosen.prediction, direct);
        let baseline = backtest(Method::SeasonalNaive, &y, 12, 6, BACKTEST_ORIGINS);
        assert_eq!(chosen.baseline_mase, baseline);
    }

    #[test]
    fn short_series_fall_back_to_what_can_fit() {
        let chosen = choose_and_forecast(&[5.0, 7.0, 6.0], 12, 3).unwrap();
        assert_eq!(chosen.method, Method::SeasonalNaive);
        assert_eq!(chosen.prediction.point, vec![6.0, 6.0, 6.0]);
        assert_eq!(chosen.backtest_mase, None);
        assert!(choose_and_forecast(&[], 12, 3).is_none());
    }

    #[test]
    fn histories_end_at_the_last_complete_period_and_fill_gaps() {
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        let row = |d: &str, category: &str, minor: i64| DailySpend {
            tenant_id: "t".into(),
            category: category.into(),
            currency: "GBP".into(),
            digits: 2,
            day: day(d),
            spend_minor: minor,
        };
        let rows = vec![
            row("2024-01-05", "travel", 10_000),
            row("2024-03-10", "travel", 5_000),
            row("2024-03-11", "software_saas", 2_500),
            row("2024-04-15", "travel", 99_900),
        ];
        let all = histories(&rows, 30);
        let monthly: Vec<&History> = all
            .iter()
            .filter(|h| h.granularity == Granularity::Month)
            .collect();
        // April is incomplete (latest day the 15th): months are Jan..Mar.
        let total = monthly.iter().find(|h| h.category.is_empty()).unwrap();
        assert_eq!(total.start, day("2024-01-01"));
        assert_eq!(total.values, vec![100.0, 0.0, 75.0]);
        let travel = monthly.iter().find(|h| h.category == "travel").unwrap();
        assert_eq!(travel.values, vec![100.0, 0.0, 50.0]);
        assert_eq!(travel.last_period(), day("2024-03-01"));
        let daily_total = all
            .iter()
            .find(|h| h.granularity == Granularity::Day && h.category.is_empty())
            .unwrap();
        // The latest day is complete: the last 30 days end on 2024-04-15.
        assert_eq!(daily_total.values.len(), 30);
        assert_eq!(daily_total.last_period(), day("2024-04-15"));
        assert_eq!(*daily_total.values.last().unwrap(), 999.0);
    }

    #[test]
    fn normal_quantile_is_accurate() {
        assert!((normal_quantile(0.975) - 1.959_963_985).abs() < 1e-8);
        assert!(normal_quantile(0.5).abs() < 1e-12);
    }
}
