//! A seeded multi-tenant spend ledger with labelled, injected anomalies, for measuring the
//! detectors' precision and recall (`anomaly-bench ledger`).
//!
//! Each tenant has a realistic mix of vendors:
//! - **recurring** (software, rent, insurance): one charge a month at a fixed price, a few
//!   days' jitter;
//! - **utilities**: monthly, amount varying ±10%;
//! - **frequent** (meals, travel, supplies, fuel): many charges a month, log-normal amounts
//!   around each vendor's own median;
//! - **occasional** (equipment, professional services, marketing): a few large charges a
//!   year, introduced in the tenant's first two months;
//! - small new vendors appearing over time.
//!
//! From the seventh month on, anomalies of six kinds are injected at a fixed rate and
//! labelled: duplicate payments, large first payments to new vendors, category spikes, price
//! changes of recurring charges, purchases split under an approval limit, and amounts far
//! above a vendor's usual. Labels name transaction ids (or a category-month for spikes), so a
//! detection is a true positive when it names a labelled subject.
//!
//! The output is an Arrow batch with the canonical columns the feature query reads, sorted by
//! tenant and date, plus the labels. Everything is drawn from one SplitMix64 stream.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::builder::{Date32Builder, Int8Builder, Int32Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use chrono::{Datelike, Months, NaiveDate};

use crate::generate::SplitMix64;

/// What a labelled anomaly is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// The same payment twice within days.
    Duplicate,
    /// A large first payment to a vendor never paid before.
    NewVendorLarge,
    /// A category's month far above its usual.
    CategorySpike,
    /// A recurring charge at a new price.
    PriceChange,
    /// A purchase split under an approval limit.
    SplitPurchase,
    /// An amount far above the vendor's usual.
    AmountOutlier,
}

impl Kind {
    /// Every kind, for reports.
    pub const ALL: [Kind; 6] = [
        Kind::Duplicate,
        Kind::NewVendorLarge,
        Kind::CategorySpike,
        Kind::PriceChange,
        Kind::SplitPurchase,
        Kind::AmountOutlier,
    ];

    /// Report name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Duplicate => "duplicate_payment",
            Kind::NewVendorLarge => "new_vendor_large_payment",
            Kind::CategorySpike => "category_spike",
            Kind::PriceChange => "recurring_price_change",
            Kind::SplitPurchase => "split_purchase",
            Kind::AmountOutlier => "amount_outlier",
        }
    }
}

/// One injected anomaly: the subjects that detecting it may name.
#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    /// Kind.
    pub kind: Kind,
    /// Tenant.
    pub tenant_id: String,
    /// Transaction ids, or one `category/YYYY-MM/CUR` subject for a spike.
    pub subjects: Vec<String>,
}

/// Generator settings.
#[derive(Clone, Debug)]
pub struct LedgerSpec {
    /// Tenants.
    pub tenants: usize,
    /// Months of history per tenant.
    pub months: u32,
    /// Seed.
    pub seed: u64,
    /// Injected anomalies of each kind per tenant-year.
    pub anomalies_per_kind_per_year: f64,
}

impl Default for LedgerSpec {
    fn default() -> Self {
        LedgerSpec {
            tenants: 50,
            months: 24,
            seed: 0x0a0d_1e55_2024,
            anomalies_per_kind_per_year: 2.0,
        }
    }
}

/// A generated ledger.
pub struct Ledger {
    /// Canonical-column rows, sorted by tenant, date, time.
    pub batch: RecordBatch,
    /// The injected anomalies.
    pub labels: Vec<Label>,
}

#[derive(Clone, Debug)]
struct Row {
    tenant: String,
    id: String,
    day: NaiveDate,
    time_s: i32,
    amount_minor: i64,
    vendor: String,
    category: &'static str,
    card: &'static str,
}

#[derive(Clone, Copy, PartialEq)]
enum Pattern {
    Recurring,
    Utility,
    Frequent,
    Occasional,
}

struct Vendor {
    name: String,
    category: &'static str,
    pattern: Pattern,
    /// Median amount in cents (the fixed price for recurring).
    median: f64,
    /// Expected charges per month.
    per_month: f64,
    /// Day of month for monthly charges.
    day: u32,
    /// Price multiplier from a month on (price changes).
    price_change: Option<(u32, f64)>,
}

const FREQUENT: [(&str, &str, f64); 8] = [
    ("meals", "Cafe", 2_500.0),
    ("meals", "Bistro", 6_000.0),
    ("travel", "Rideshare", 3_500.0),
    ("travel", "Airline", 45_000.0),
    ("travel", "Hotel", 28_000.0),
    ("office_supplies", "Office Store", 9_000.0),
    ("fuel", "Fuel Station", 7_000.0),
    ("shipping", "Courier", 4_000.0),
];
const RECURRING: [(&str, &str, f64); 6] = [
    ("software", "SaaS", 4_900.0),
    ("software", "Cloud Suite", 19_900.0),
    ("rent", "Landlord", 450_000.0),
    ("insurance", "Insurer", 62_000.0),
    ("telecom", "Mobile Carrier", 18_000.0),
    ("software", "CRM", 120_000.0),
];
const OCCASIONAL: [(&str, &str, f64); 4] = [
    ("equipment", "Hardware Supplier", 180_000.0),
    ("professional_services", "Consultancy", 350_000.0),
    ("marketing", "Ad Agency", 220_000.0),
    ("equipment", "Furniture Co", 120_000.0),
];
const CARDS: [&str; 4] = ["1009", "2231", "4410", "7788"];
const LIMITS_MAJOR: [i64; 4] = [1_000, 2_500, 5_000, 10_000];

fn lognormal(rng: &mut SplitMix64, median: f64, sigma: f64) -> f64 {
    // Box–Muller.
    let u1 = rng.unit().max(1e-12);
    let u2 = rng.unit();
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    median * (sigma * z).exp()
}

fn cents(value: f64) -> i64 {
    value.round().max(1.0) as i64
}

struct TenantGen<'a> {
    rng: &'a mut SplitMix64,
    tenant: String,
    start: NaiveDate,
    months: u32,
    rows: Vec<Row>,
    labels: Vec<Label>,
    next_id: u64,
}

impl TenantGen<'_> {
    fn id(&mut self) -> String {
        self.next_id += 1;
        format!("{}-tx{:06}", self.tenant, self.next_id)
    }

    fn day_in(&mut self, month: u32, day: u32) -> NaiveDate {
        let first = self.start + Months::new(month);
        let last = (first + Months::new(1)).pred_opt().unwrap_or(first).day();
        first.with_day(day.clamp(1, last)).unwrap_or(first)
    }

    fn push(
        &mut self,
        day: NaiveDate,
        amount_minor: i64,
        vendor: &str,
        category: &'static str,
    ) -> String {
        let card = *self.rng.pick(&CARDS);
        self.push_on_card(day, amount_minor, vendor, category, card)
    }

    fn push_on_card(
        &mut self,
        day: NaiveDate,
        amount_minor: i64,
        vendor: &str,
        category: &'static str,
        card: &'static str,
    ) -> String {
        let id = self.id();
        let time_s = 8 * 3600 + self.rng.below(10 * 3600) as i32;
        self.rows.push(Row {
            tenant: self.tenant.clone(),
            id: id.clone(),
            day,
            time_s,
            amount_minor,
            vendor: vendor.to_string(),
            category,
            card,
        });
        id
    }

    fn vendors(&mut self) -> Vec<Vendor> {
        let mut vendors = Vec::new();
        let scale = 0.5 + self.rng.unit() * 2.0;
        for (category, name, median) in FREQUENT {
            if self.rng.chance(0.8) {
                vendors.push(Vendor {
                    name: format!("{name} {}", self.rng.below(90) + 10),
                    category,
                    pattern: Pattern::Frequent,
                    median: median * (0.6 + self.rng.unit()),
                    per_month: scale * (1.0 + self.rng.unit() * 6.0),
                    day: 1,
                    price_change: None,
                });
            }
        }
        for (category, name, price) in RECURRING {
            if self.rng.chance(0.7) {
                vendors.push(Vendor {
                    name: format!("{name} {}", self.rng.below(90) + 10),
                    category,
                    pattern: Pattern::Recurring,
                    median: (price * (0.5 + self.rng.unit())).round(),
                    per_month: 1.0,
                    day: 1 + self.rng.below(27) as u32,
                    price_change: None,
                });
            }
        }
        vendors.push(Vendor {
            name: format!("Power & Water {}", self.rng.below(90) + 10),
            category: "utilities",
            pattern: Pattern::Utility,
            median: 30_000.0 * (0.5 + self.rng.unit()),
            per_month: 1.0,
            day: 1 + self.rng.below(27) as u32,
            price_change: None,
        });
        for (category, name, median) in OCCASIONAL {
            if self.rng.chance(0.6) {
                vendors.push(Vendor {
                    name: format!("{name} {}", self.rng.below(90) + 10),
                    category,
                    pattern: Pattern::Occasional,
                    median: median * (0.5 + self.rng.unit()),
                    per_month: 0.25,
                    day: 1,
                    price_change: None,
                });
            }
        }
        vendors
    }

    fn poisson(&mut self, mean: f64) -> u32 {
        // Knuth; means here are small.
        let limit = (-mean).exp();
        let mut product = self.rng.unit();
        let mut count = 0;
        while product > limit && count < 200 {
            count += 1;
            product *= self.rng.unit();
        }
        count
    }

    fn ordinary(&mut self, vendors: &[Vendor]) {
        for month in 0..self.months {
            for vendor in vendors {
                let factor = match vendor.price_change {
                    Some((from, factor)) if month >= from => factor,
                    _ => 1.0,
                };
                match vendor.pattern {
                    Pattern::Recurring | Pattern::Utility => {
                        let jitter = self.rng.below(3) as u32;
                        let day = self.day_in(month, vendor.day + jitter);
                        let amount = if vendor.pattern == Pattern::Utility {
                            vendor.median * (0.9 + 0.2 * self.rng.unit())
                        } else {
                            vendor.median * factor
                        };
                        self.push(day, cents(amount), &vendor.name, vendor.category);
                    }
                    Pattern::Frequent | Pattern::Occasional => {
                        // Occasional vendors first appear in the first two months.
                        if vendor.pattern == Pattern::Occasional && month < 2 {
                            if month == 0 {
                                let day = {
                                    let offset = self.rng.below(20) as u32;
                                    self.day_in(0, 5 + offset)
                                };
                                let amount = lognormal(self.rng, vendor.median, 0.3);
                                self.push(day, cents(amount), &vendor.name, vendor.category);
                            }
                            continue;
                        }
                        let sigma = if vendor.pattern == Pattern::Frequent {
                            0.35
                        } else {
                            0.4
                        };
                        for _ in 0..self.poisson(vendor.per_month) {
                            let day = {
                                let offset = self.rng.below(28) as u32;
                                self.day_in(month, 1 + offset)
                            };
                            let amount = lognormal(self.rng, vendor.median, sigma);
                            self.push(day, cents(amount), &vendor.name, vendor.category);
                        }
                    }
                }
            }
            // Now and then a small new vendor.
            if self.rng.chance(0.5) {
                let day = {
                    let offset = self.rng.below(28) as u32;
                    self.day_in(month, 1 + offset)
                };
                let name = format!("Local Shop {}-{}", month, self.rng.below(1000));
                let amount = lognormal(self.rng, 4_000.0, 0.5);
                self.push(day, cents(amount), &name, "other");
            }
        }
    }

    /// Labels an injection. An injected payment also inflates its category's month, so that
    /// category-month is a subject of the label too: flagging it detects this injection.
    fn label(&mut self, kind: Kind, mut subjects: Vec<String>) {
        let months: Vec<String> = self
            .rows
            .iter()
            .filter(|r| subjects.contains(&r.id))
            .map(|r| format!("{}/{}/USD", r.category, r.day.format("%Y-%m")))
            .collect();
        for month in months {
            if !subjects.contains(&month) {
                subjects.push(month);
            }
        }
        self.labels.push(Label {
            kind,
            tenant_id: self.tenant.clone(),
            subjects,
        });
    }

    fn inject_one(&mut self, kind: Kind, month: u32, vendors: &mut [Vendor]) {
        let day = {
            let offset = self.rng.below(24) as u32;
            self.day_in(month, 2 + offset)
        };
        match kind {
            Kind::Duplicate => {
                let candidates: Vec<usize> = (0..self.rows.len())
                    .filter(|&i| self.rows[i].amount_minor >= 10_000 && self.rows[i].day >= day)
                    .take(50)
                    .collect();
                let Some(&original) =
                    candidates.get(self.rng.below(candidates.len().max(1) as u64) as usize)
                else {
                    return;
                };
                let source = self.rows[original].clone();
                let later = source.day + chrono::Days::new(self.rng.below(3));
                let id = self.push(later, source.amount_minor, &source.vendor, source.category);
                // The copy is paid after the original, even on the same day.
                let gap = 60 + self.rng.below(3600) as i32;
                if let Some(copy) = self.rows.last_mut() {
                    copy.time_s = copy.time_s.max(source.time_s + gap);
                }
                self.label(kind, vec![id]);
            }
            Kind::NewVendorLarge => {
                let name = format!("Unknown Trading {}", self.rng.below(100_000));
                let amount = lognormal(self.rng, 1_500_000.0, 0.5).max(600_000.0);
                let id = self.push(day, cents(amount), &name, "professional_services");
                self.label(kind, vec![id]);
            }
            Kind::CategorySpike => {
                let frequent: Vec<usize> = (0..vendors.len())
                    .filter(|&i| {
                        vendors[i].pattern == Pattern::Frequent && vendors[i].per_month >= 2.0
                    })
                    .collect();
                let Some(&v) = frequent.get(self.rng.below(frequent.len().max(1) as u64) as usize)
                else {
                    return;
                };
                let vendor = &vendors[v];
                let monthly = vendor.median * vendor.per_month;
                let extra = (monthly * (4.0 + 4.0 * self.rng.unit())).max(300_000.0);
                let parts = 3 + self.rng.below(4);
                let (name, category) = (vendor.name.clone(), vendor.category);
                // The spike's own payments are subjects too (flagging one finds the spike).
                let mut subjects = Vec::new();
                for _ in 0..parts {
                    let d = {
                        let offset = self.rng.below(28) as u32;
                        self.day_in(month, 1 + offset)
                    };
                    let amount = extra / parts as f64 * (0.8 + 0.4 * self.rng.unit());
                    subjects.push(self.push(d, cents(amount), &name, category));
                }
                self.label(kind, subjects);
            }
            Kind::PriceChange => {
                let recurring: Vec<usize> = (0..vendors.len())
                    .filter(|&i| {
                        vendors[i].pattern == Pattern::Recurring
                            && vendors[i].price_change.is_none()
                    })
                    .collect();
                let Some(&v) =
                    recurring.get(self.rng.below(recurring.len().max(1) as u64) as usize)
                else {
                    return;
                };
                let factor = 1.1 + 0.4 * self.rng.unit();
                vendors[v].price_change = Some((month, factor));
                // Labelled after the ordinary rows exist: see `label_price_changes`.
            }
            Kind::SplitPurchase => {
                let limit = LIMITS_MAJOR[self.rng.below(LIMITS_MAJOR.len() as u64) as usize] * 100;
                let parts = 2 + self.rng.below(2);
                let name = format!("Equipment Direct {}", self.rng.below(1000));
                // One employee's card, parts a day apart at most.
                let card = *self.rng.pick(&CARDS);
                let mut ids = Vec::new();
                for p in 0..parts {
                    let fraction = 0.6 + 0.35 * self.rng.unit();
                    let d = day + chrono::Days::new(p.min(1));
                    let amount = (limit as f64 * fraction) as i64;
                    ids.push(self.push_on_card(d, amount, &name, "equipment", card));
                }
                self.label(kind, ids);
            }
            Kind::AmountOutlier => {
                let frequent: Vec<usize> = (0..vendors.len())
                    .filter(|&i| vendors[i].pattern == Pattern::Frequent)
                    .collect();
                let Some(&v) = frequent.get(self.rng.below(frequent.len().max(1) as u64) as usize)
                else {
                    return;
                };
                let amount = vendors[v].median * (12.0 + 30.0 * self.rng.unit());
                let (name, category) = (vendors[v].name.clone(), vendors[v].category);
                let id = self.push(day, cents(amount), &name, category);
                self.label(kind, vec![id]);
            }
        }
    }

    /// The first charge at a changed price, found after generation.
    fn label_price_changes(&mut self, vendors: &[Vendor]) {
        for vendor in vendors {
            let Some((from, _)) = vendor.price_change else {
                continue;
            };
            let first_changed = self
                .rows
                .iter()
                .filter(|r| r.vendor == vendor.name)
                .find(|r| {
                    let m = (r.day.year() - self.start.year()) * 12 + r.day.month() as i32
                        - self.start.month() as i32;
                    m >= from as i32
                })
                .map(|r| r.id.clone());
            if let Some(id) = first_changed {
                self.label(Kind::PriceChange, vec![id]);
            }
        }
    }
}

/// Generates the ledger.
pub fn generate(spec: &LedgerSpec) -> Ledger {
    let mut rng = SplitMix64::new(spec.seed);
    let start = NaiveDate::from_ymd_opt(2022, 1, 1).unwrap_or_default();
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for t in 0..spec.tenants {
        let mut generator = TenantGen {
            rng: &mut rng,
            tenant: format!("tenant-{t:05}"),
            start,
            months: spec.months,
            rows: Vec::new(),
            labels: Vec::new(),
            next_id: 0,
        };
        let mut vendors = generator.vendors();
        // Price changes are decided before the ordinary rows, so the rows carry the new price;
        // other kinds are added after, next to ordinary rows.
        let months = spec.months.saturating_sub(6);
        if months > 0 {
            let expected = spec.anomalies_per_kind_per_year * f64::from(months) / 12.0;
            for _ in 0..generator.poisson(expected) {
                let month = 6 + generator.rng.below(u64::from(months)) as u32;
                generator.inject_one(Kind::PriceChange, month, &mut vendors);
            }
        }
        generator.ordinary(&vendors);
        generator
            .rows
            .sort_by(|a, b| (a.day, a.time_s).cmp(&(b.day, b.time_s)));
        generator.label_price_changes(&vendors);
        for kind in Kind::ALL.into_iter().filter(|k| *k != Kind::PriceChange) {
            let expected = spec.anomalies_per_kind_per_year * f64::from(months) / 12.0;
            for _ in 0..generator.poisson(expected) {
                let month = 6 + generator.rng.below(u64::from(months.max(1))) as u32;
                generator.inject_one(kind, month, &mut vendors);
            }
        }
        generator
            .rows
            .sort_by(|a, b| (a.day, a.time_s, &a.id).cmp(&(b.day, b.time_s, &b.id)));
        rows.append(&mut generator.rows);
        labels.append(&mut generator.labels);
    }
    Ledger {
        batch: to_batch(&rows),
        labels,
    }
}

fn to_batch(rows: &[Row]) -> RecordBatch {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let mut tenant = StringBuilder::new();
    let mut id = StringBuilder::new();
    let mut day = Date32Builder::new();
    let mut time = Int32Builder::new();
    let mut amount = Int64Builder::new();
    let mut currency = StringBuilder::new();
    let mut digits = Int8Builder::new();
    let mut class = StringBuilder::new();
    let mut vendor = StringBuilder::new();
    let mut vendor_raw = StringBuilder::new();
    let mut category = StringBuilder::new();
    let mut card = StringBuilder::new();
    let mut employee = StringBuilder::new();
    for row in rows {
        tenant.append_value(&row.tenant);
        id.append_value(&row.id);
        day.append_value((row.day - epoch).num_days() as i32);
        time.append_value(row.time_s);
        amount.append_value(row.amount_minor);
        currency.append_value("USD");
        digits.append_value(2);
        class.append_value("spend");
        vendor.append_value(&row.vendor);
        vendor_raw.append_value(row.vendor.to_uppercase());
        category.append_value(row.category);
        card.append_value(row.card);
        employee.append_null();
    }
    let utf8 = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    let schema = Arc::new(Schema::new(vec![
        utf8("tenant_id", false),
        utf8("transaction_id", false),
        Field::new("booked_date", DataType::Date32, false),
        Field::new("booked_time_s", DataType::Int32, true),
        Field::new("amount_minor", DataType::Int64, false),
        utf8("currency", false),
        Field::new("currency_digits", DataType::Int8, false),
        utf8("class", false),
        utf8("vendor", true),
        utf8("vendor_raw", true),
        utf8("category", false),
        utf8("card_last4", true),
        utf8("employee", true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(tenant.finish()),
        Arc::new(id.finish()),
        Arc::new(day.finish()),
        Arc::new(time.finish()),
        Arc::new(amount.finish()),
        Arc::new(currency.finish()),
        Arc::new(digits.finish()),
        Arc::new(class.finish()),
        Arc::new(vendor.finish()),
        Arc::new(vendor_raw.finish()),
        Arc::new(category.finish()),
        Arc::new(card.finish()),
        Arc::new(employee.finish()),
    ];
    RecordBatch::try_new(schema, columns).expect("columns match the schema")
}

/// Precision and recall of detections against labels.
#[derive(Clone, Debug, Default)]
pub struct Scorecard {
    /// Detections naming a labelled subject.
    pub true_positives: usize,
    /// Detections naming nothing labelled.
    pub false_positives: usize,
    /// Labels with at least one detection, per kind: (found, total).
    pub recall_by_kind: BTreeMap<&'static str, (usize, usize)>,
    /// False positives per detector that fired.
    pub false_positives_by_detector: BTreeMap<String, usize>,
}

impl Scorecard {
    /// Scores detections, each `(tenant, subject, detectors)`.
    pub fn score(labels: &[Label], detections: &[(String, String, Vec<String>)]) -> Scorecard {
        let mut owner: std::collections::HashMap<(&str, &str), usize> = Default::default();
        for (i, label) in labels.iter().enumerate() {
            for subject in &label.subjects {
                owner.insert((label.tenant_id.as_str(), subject.as_str()), i);
            }
        }
        let mut found = vec![false; labels.len()];
        let mut card = Scorecard::default();
        for (tenant, subject, detectors) in detections {
            match owner.get(&(tenant.as_str(), subject.as_str())) {
                Some(&i) => {
                    found[i] = true;
                    card.true_positives += 1;
                }
                None => {
                    card.false_positives += 1;
                    for d in detectors {
                        *card
                            .false_positives_by_detector
                            .entry(d.clone())
                            .or_default() += 1;
                    }
                }
            }
        }
        for (label, hit) in labels.iter().zip(&found) {
            let entry = card.recall_by_kind.entry(label.kind.name()).or_default();
            entry.1 += 1;
            if *hit {
                entry.0 += 1;
            }
        }
        card
    }

    /// Share of detections that are labelled.
    pub fn precision(&self) -> f64 {
        let all = self.true_positives + self.false_positives;
        if all == 0 {
            1.0
        } else {
            self.true_positives as f64 / all as f64
        }
    }

    /// Share of labels detected.
    pub fn recall(&self) -> f64 {
        let (found, total) = self
            .recall_by_kind
            .values()
            .fold((0, 0), |(f, t), (a, b)| (f + a, t + b));
        if total == 0 {
            1.0
        } else {
            found as f64 / total as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_ledger_and_every_kind_injected() {
        let spec = LedgerSpec {
            tenants: 8,
            ..LedgerSpec::default()
        };
        let a = generate(&spec);
        let b = generate(&spec);
        assert_eq!(a.batch, b.batch);
        assert_eq!(a.labels, b.labels);
        for kind in Kind::ALL {
            assert!(a.labels.iter().any(|l| l.kind == kind), "no {kind:?}");
        }
        assert!(a.batch.num_rows() > 8 * 24 * 10);
    }

    #[test]
    fn scorecard_counts() {
        let labels = vec![
            Label {
                kind: Kind::Duplicate,
                tenant_id: "t".into(),
                subjects: vec!["a".into()],
            },
            Label {
                kind: Kind::SplitPurchase,
                tenant_id: "t".into(),
                subjects: vec!["b".into(), "c".into()],
            },
        ];
        let detections = vec![
            (
                "t".to_string(),
                "b".to_string(),
                vec!["split_purchase".to_string()],
            ),
            (
                "t".to_string(),
                "c".to_string(),
                vec!["split_purchase".to_string()],
            ),
            (
                "t".to_string(),
                "z".to_string(),
                vec!["isolation_forest".to_string()],
            ),
        ];
        let card = Scorecard::score(&labels, &detections);
        assert_eq!(card.true_positives, 2);
        assert_eq!(card.false_positives, 1);
        assert!((card.recall() - 0.5).abs() < 1e-9);
        assert!((card.precision() - 2.0 / 3.0).abs() < 1e-9);
    }
}
