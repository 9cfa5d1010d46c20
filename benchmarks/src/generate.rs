//! A deterministic generator of realistic bank exports, for the ingest benchmark.
//!
//! The file looks like what a US business bank's "download transactions" button writes:
//!
//! ```text
//! Date,Description,Amount,Currency,Category,Account,Reference Number
//! 2022-01-03,SQ *BLUE BOTTLE COFFEE #0412 OAKLAND CA,-6.75,USD,Meals & Entertainment,Corporate Card x1009,20220103000000017
//! 2022-01-03,"ACH DEBIT Harbor Freight Logistics, Inc. PPD ID: 7302214405","-1,234.56",USD,"Shipping, Postage",Operating Checking x4821,20220103000000018
//! ```
//!
//! - ~300 vendors with Zipf-like frequencies: well-known brands as card processors print them
//!   (`AMZN Mktp US*…`, `UBER *TRIP`), and generated small businesses with legal suffixes
//!   (`, Inc.`, `LLC`, `GmbH`), `SQ *` / `TST* ` / `PAYPAL *` prefixes, store numbers and
//!   cities. Descriptions with commas (and one with double quotes) are quoted.
//! - Amounts: negative is money out; magnitudes follow each vendor's profile (coffee, SaaS
//!   list prices, travel, rent, contractors); values of 1,000 and more carry a thousands
//!   separator and are therefore quoted. About 2% of rows are credits (payouts, customer
//!   payments, refunds, interest); a few are own-account transfers and card-balance payments,
//!   which the connector excludes with a reason.
//! - ISO dates over three years (2022–2024), ascending, so dates come in runs as every real
//!   export writes them. Row count follows from the target size, the date span does not.
//! - A USD checking account, a USD card and a EUR account (its rows say `EUR`).
//!
//! The header deliberately names its reference column `Reference Number` (the connector's id
//! role): a bare `Reference` would be taken as the vendor column. With `Date` and `Amount`
//! and no product-specific columns, the connector detects the `generic` layout.
//!
//! Everything comes from one [`SplitMix64`] stream seeded by [`ExportSpec::seed`], so the same
//! spec always yields the same bytes.

use std::io::{self, Write};

use chrono::{Datelike, Days, NaiveDate};

/// The header row written first.
pub const HEADER: &str = "Date,Description,Amount,Currency,Category,Account,Reference Number";

/// The seed used when none is given, so every run of the benchmark reads the same file.
pub const DEFAULT_SEED: u64 = 0x5eed_2024_0bad_cafe;

/// Days covered by the export: 2022-01-01 through 2024-12-31.
const SPAN_DAYS: u64 = 1096;

/// How many vendors the catalogue holds.
pub const VENDOR_COUNT: usize = 300;

/// SplitMix64 (Steele, Lea & Flood 2014): tiny, fast and good enough for test data.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound > 0`), by Lemire's multiply-shift (bias is negligible).
    pub fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// A float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportSpec {
    /// Seed of the random stream.
    pub seed: u64,
    /// Stop after the first row that reaches this many bytes (header included).
    pub target_bytes: u64,
}

/// What was generated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportStats {
    /// Data rows (header excluded).
    pub rows: u64,
    /// Bytes written, header included.
    pub bytes: u64,
}

/// How a vendor's amounts are distributed, in cents.
#[derive(Clone, Copy, Debug)]
enum Profile {
    /// Log-uniform between the bounds, any cents.
    Range(i64, i64),
    /// One of a few list prices (subscriptions).
    ListPrice(&'static [i64]),
}

impl Profile {
    fn sample(self, rng: &mut SplitMix64) -> i64 {
        match self {
            Profile::Range(low, high) => {
                let (low, high) = ((low as f64).ln(), (high as f64).ln());
                (low + rng.unit() * (high - low)).exp().round() as i64
            }
            Profile::ListPrice(prices) => *rng.pick(prices),
        }
    }
}

const COFFEE: Profile = Profile::Range(325, 2_800);
const MEALS: Profile = Profile::Range(1_200, 38_000);
const SAAS: Profile = Profile::ListPrice(&[
    800, 1_200, 1_500, 2_900, 4_900, 9_900, 12_000, 29_900, 49_900, 149_900,
]);
const TRAVEL: Profile = Profile::Range(1_400, 240_000);
const OFFICE: Profile = Profile::Range(600, 85_000);
const SHIPPING: Profile = Profile::Range(850, 42_000);
const ADS: Profile = Profile::Range(5_000, 1_250_000);
const UTILITIES: Profile = Profile::Range(6_500, 95_000);
const SERVICES: Profile = Profile::Range(45_000, 2_400_000);
const RENT: Profile = Profile::Range(450_000, 1_800_000);
const CLOUD: Profile = Profile::Range(2_000, 3_500_000);

/// How a vendor's payments reach the bank file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Channel {
    /// Card purchase: descriptor, maybe a store number and a city.
    Card,
    /// ACH debit from the checking account, with the legal name and a company id.
    Ach,
    /// Outgoing wire, with the legal name.
    Wire,
}

/// A vendor of the catalogue.
#[derive(Clone, Debug)]
struct Vendor {
    /// Exactly as the bank prints it, before per-row decorations.
    descriptor: String,
    channel: Channel,
    category: &'static str,
    profile: Profile,
    /// Used by ACH rows: a 10-digit originator id, fixed per vendor.
    company_id: u64,
    /// Card vendors with branches get a store number per row.
    has_stores: bool,
}

/// Brands as card processors print them: (descriptor, channel, category, profile).
const BRANDS: &[(&str, Channel, &str, Profile)] = &[
    (
        "AMAZON WEB SERVICES AWS.AMAZON.CO WA",
        Channel::Card,
        "Software & Subscriptions",
        CLOUD,
    ),
    (
        "GOOGLE *CLOUD",
        Channel::Card,
        "Software & Subscriptions",
        CLOUD,
    ),
    (
        "GOOGLE *GSUITE",
        Channel::Card,
        "Software & Subscriptions",
        SAAS,
    ),
    (
        "MSFT * AZURE",
        Channel::Card,
        "Software & Subscriptions",
        CLOUD,
    ),
    (
        "MICROSOFT*365 BUSINESS",
        Channel::Card,
        "Software & Subscriptions",
        SAAS,
    ),
    (
        "SLACK T0123ABCD",
        Channel::Card,
        "Software & Subscriptions",
        SAAS,
    ),
    (
        "ZOOM.US 888-799-9666 CA",
        Channel::Card,
        "Software & Subscriptions",
        SAAS,
    ),
    (
        "ATLASSIAN SAN FRANCISCO CA",
        Channel::Card,
        "Software & Subscriptions",
        SAAS,
    ),
    (
        "GITHUB, INC. SAN FRANCISCO CA",
        Channel::Card,
        "Software & Subscriptions",
        SAAS,
    ),
    (
        "NOTION LABS, INC.",
        Channel::Card,
        "Software & Subscriptions",
        SAAS,
    ),
    (
        "FIGMA MONTHLY RENEWAL",
        Channel::Card,
        "Software & Subscriptions",
        SAAS,
    ),
    (
        "ADOBE *CREATIVE CLOUD",
        Channel::Card,
        "Software & Subscriptions",
        SAAS,
    ),
    (
        "DROPBOX*BUSINESS",
        Channel::Card,
        "Software & Subscriptions",
        SAAS,
    ),
    (
        "DOCUSIGN INC",
        Channel::Card,
        "Software & Subscriptions",
        SAAS,
    ),
    (
        "INTUIT *QBOOKS ONLINE",
        Channel::Card,
        "Software & Subscriptions",
        SAAS,
    ),
    (
        "HUBSPOT INC",
        Channel::Card,
        "Software & Subscriptions",
        SAAS,
    ),
    (
        "SALESFORCE.COM",
        Channel::Ach,
        "Software & Subscriptions",
        SERVICES,
    ),
    (
        "DATADOG, INC.",
        Channel::Card,
        "Software & Subscriptions",
        CLOUD,
    ),
    (
        "OPENAI *CHATGPT SUBSCR",
        Channel::Card,
        "Software & Subscriptions",
        SAAS,
    ),
    (
        "LINEAR ORBIT, INC.",
        Channel::Card,
        "Software & Subscriptions",
        SAAS,
    ),
    ("AMZN Mktp US*", Channel::Card, "Office Supplies", OFFICE),
    ("Amazon.com*", Channel::Card, "Office Supplies", OFFICE),
    ("STAPLES 00115", Channel::Card, "Office Supplies", OFFICE),
    ("OFFICE DEPOT #", Channel::Card, "Office Supplies", OFFICE),
    ("COSTCO WHSE #", Channel::Card, "Office Supplies", OFFICE),
    ("THE HOME DEPOT #", Channel::Card, "Office Supplies", OFFICE),
    ("BEST BUY 00", Channel::Card, "Equipment", OFFICE),
    (
        "APPLE.COM/BILL 866-712-7753 CA",
        Channel::Card,
        "Software & Subscriptions",
        SAAS,
    ),
    ("APPLE STORE #R", Channel::Card, "Equipment", ADS),
    ("UBER *TRIP", Channel::Card, "Travel", MEALS),
    ("UBER *EATS", Channel::Card, "Meals & Entertainment", MEALS),
    ("LYFT *RIDE", Channel::Card, "Travel", MEALS),
    ("DOORDASH*", Channel::Card, "Meals & Entertainment", MEALS),
    ("GRUBHUB*", Channel::Card, "Meals & Entertainment", MEALS),
    (
        "STARBUCKS STORE ",
        Channel::Card,
        "Meals & Entertainment",
        COFFEE,
    ),
    ("DUNKIN #", Channel::Card, "Meals & Entertainment", COFFEE),
    (
        "TST* SWEETGREEN ",
        Channel::Card,
        "Meals & Entertainment",
        MEALS,
    ),
    ("CHIPOTLE ", Channel::Card, "Meals & Entertainment", MEALS),
    ("DELTA AIR LINES 006", Channel::Card, "Travel", TRAVEL),
    ("UNITED 016", Channel::Card, "Travel", TRAVEL),
    ("AMERICAN AIRLINES 001", Channel::Card, "Travel", TRAVEL),
    ("SOUTHWES 526", Channel::Card, "Travel", TRAVEL),
    ("MARRIOTT ", Channel::Card, "Travel", TRAVEL),
    ("HILTON HOTELS ", Channel::Card, "Travel", TRAVEL),
    ("AIRBNB * HM", Channel::Card, "Travel", TRAVEL),
    ("HERTZ RENT-A-CAR ", Channel::Card, "Travel", TRAVEL),
    ("SHELL OIL 57444", Channel::Card, "Travel", MEALS),
    ("CHEVRON 0", Channel::Card, "Travel", MEALS),
    ("FEDEX 78", Channel::Card, "Shipping, Postage", SHIPPING),
    ("UPS*", Channel::Card, "Shipping, Postage", SHIPPING),
    ("USPS PO ", Channel::Card, "Shipping, Postage", SHIPPING),
    ("FACEBK *", Channel::Card, "Advertising", ADS),
    ("GOOGLE *ADS", Channel::Card, "Advertising", ADS),
    ("LINKEDIN *JOBS", Channel::Card, "Advertising", ADS),
    ("COMCAST BUSINESS", Channel::Ach, "Utilities", UTILITIES),
    ("PG&E WEB ONLINE", Channel::Ach, "Utilities", UTILITIES),
    ("VERIZON WIRELESS", Channel::Ach, "Utilities", UTILITIES),
    ("AT&T *PAYMENT", Channel::Ach, "Utilities", UTILITIES),
    ("WEWORK", Channel::Ach, "Rent", RENT),
    ("GUSTO", Channel::Ach, "Payroll Services", SERVICES),
    (
        "ADP PAYROLL FEES",
        Channel::Ach,
        "Payroll Services",
        UTILITIES,
    ),
    ("THE HARTFORD", Channel::Ach, "Insurance", UTILITIES),
];

const ADJECTIVES: &[&str] = &[
    "Blue",
    "Golden",
    "Harbor",
    "Summit",
    "Pioneer",
    "Evergreen",
    "Granite",
    "Silver",
    "Northern",
    "Pacific",
    "Redwood",
    "Lakeside",
    "Union",
    "Liberty",
    "Cedar",
    "Atlas",
    "Beacon",
    "Keystone",
    "Sunset",
    "Riverbend",
    "Maple",
    "Iron",
    "Coastal",
    "Bright",
    "Meridian",
    "Prairie",
    "Copper",
];
const NOUNS: &[&str] = &[
    "Bottle", "Oak", "Ridge", "Bridge", "Anchor", "Lantern", "Falcon", "Harvest", "Compass",
    "Orchard", "Stone", "Wave", "Pine", "Arrow", "Crown", "Field", "Mill", "Peak", "Forge",
];
/// (trade word, channel, category, profile).
const TRADES: &[(&str, Channel, &str, Profile)] = &[
    ("Coffee", Channel::Card, "Meals & Entertainment", COFFEE),
    ("Bakery", Channel::Card, "Meals & Entertainment", COFFEE),
    ("Kitchen", Channel::Card, "Meals & Entertainment", MEALS),
    ("Grill", Channel::Card, "Meals & Entertainment", MEALS),
    ("Print & Copy", Channel::Card, "Office Supplies", OFFICE),
    ("Office Supply", Channel::Card, "Office Supplies", OFFICE),
    ("Hardware", Channel::Card, "Equipment", OFFICE),
    ("Courier", Channel::Card, "Shipping, Postage", SHIPPING),
    ("Logistics", Channel::Ach, "Shipping, Postage", SERVICES),
    (
        "Consulting",
        Channel::Wire,
        "Professional Services",
        SERVICES,
    ),
    ("Legal", Channel::Wire, "Professional Services", SERVICES),
    (
        "Accounting",
        Channel::Ach,
        "Professional Services",
        SERVICES,
    ),
    (
        "Design Studio",
        Channel::Ach,
        "Professional Services",
        SERVICES,
    ),
    ("Staffing", Channel::Ach, "Contract Labor", SERVICES),
    ("Properties", Channel::Ach, "Rent", RENT),
    ("Janitorial", Channel::Ach, "Facilities", UTILITIES),
    ("Marketing", Channel::Ach, "Advertising", ADS),
    ("Software", Channel::Card, "Software & Subscriptions", SAAS),
    ("Networks", Channel::Ach, "Utilities", UTILITIES),
];
/// Legal suffixes as written in payee names; the comma forms make the cell need quotes.
const LEGAL_SUFFIXES: &[&str] = &[
    "LLC",
    ", LLC",
    "Inc.",
    ", Inc.",
    "Inc",
    "Corp.",
    "Co.",
    "Ltd",
    "Ltd.",
    "LLP",
    "PLLC",
    "GmbH",
    "S.A.",
    "Pty Ltd",
    "& Sons",
    "Group, Inc.",
];
const CARD_PREFIXES: &[&str] = &["", "", "", "SQ *", "TST* ", "PAYPAL *", "SP ", "POS DEBIT "];
const CITIES: &[&str] = &[
    "SAN FRANCISCO CA",
    "OAKLAND CA",
    "NEW YORK NY",
    "BROOKLYN NY",
    "AUSTIN TX",
    "SEATTLE WA",
    "CHICAGO IL",
    "DENVER CO",
    "BOSTON MA",
    "PORTLAND OR",
    "MIAMI FL",
    "ATLANTA GA",
    "LOS ANGELES CA",
    "SAN JOSE CA",
];
/// Names that exercise quoting and non-ASCII text, added to the generated vendors.
const ODD_VENDORS: &[(&str, Channel, &str, Profile)] = &[
    (
        "\"Big Apple\" Deli Corp",
        Channel::Card,
        "Meals & Entertainment",
        MEALS,
    ),
    (
        "Café Réveil SARL",
        Channel::Card,
        "Meals & Entertainment",
        COFFEE,
    ),
    (
        "Müller & Söhne GmbH",
        Channel::Wire,
        "Professional Services",
        SERVICES,
    ),
    (
        "O'Brien, Walsh & Partners LLP",
        Channel::Wire,
        "Professional Services",
        SERVICES,
    ),
];

const CUSTOMERS: &[&str] = &[
    "Northwind Traders, Inc.",
    "Contoso Ltd",
    "Fabrikam LLC",
    "Initech Corp.",
    "Globex, Inc.",
    "Umbrella Health Co.",
    "Stark Industrial LLC",
    "Wayne Logistics, Inc.",
    "Acme Retail Group",
];

/// The company's accounts at the bank. Rows of the EUR account say `EUR`, the others `USD`.
const CHECKING: &str = "Operating Checking x4821";
const CARD: &str = "Corporate Card x1009";
const EURO: &str = "EUR Account x5532";

fn build_catalogue(rng: &mut SplitMix64) -> Vec<Vendor> {
    let mut vendors = Vec::with_capacity(VENDOR_COUNT);
    let mut push = |descriptor: String, channel, category, profile, rng: &mut SplitMix64| {
        // Descriptors ending in `#`, a space or a digit are followed by a store number.
        let has_stores = descriptor.ends_with(|c: char| c == '#' || c == ' ' || c.is_ascii_digit());
        vendors.push(Vendor {
            descriptor,
            channel,
            category,
            profile,
            company_id: 1_000_000_000 + rng.below(9_000_000_000),
            has_stores,
        });
    };
    for &(descriptor, channel, category, profile) in BRANDS.iter().chain(ODD_VENDORS) {
        push(descriptor.to_string(), channel, category, profile, rng);
    }
    let mut names = std::collections::HashSet::new();
    while names.len() + BRANDS.len() + ODD_VENDORS.len() < VENDOR_COUNT {
        let &(trade, channel, category, profile) = rng.pick(TRADES);
        let base = format!("{} {} {trade}", rng.pick(ADJECTIVES), rng.pick(NOUNS));
        if !names.insert(base.clone()) {
            continue;
        }
        let descriptor = match channel {
            Channel::Card => {
                // Card descriptors are upper case and truncated by the network.
                let prefix = rng.pick(CARD_PREFIXES);
                let mut text = format!("{prefix}{}", base.to_uppercase());
                text.truncate(25);
                if rng.chance(0.35) {
                    text.push_str(" #");
                }
                text
            }
            Channel::Ach | Channel::Wire => {
                let suffix = rng.pick(LEGAL_SUFFIXES);
                if suffix.starts_with(',') {
                    format!("{base}{suffix}")
                } else {
                    format!("{base} {suffix}")
                }
            }
        };
        push(descriptor, channel, category, profile, rng);
    }
    vendors
}

/// Zipf-like cumulative weights (s = 1.05): a few vendors carry most rows, as in real books.
fn cumulative_weights(count: usize) -> Vec<f64> {
    let mut total = 0.0;
    (0..count)
        .map(|rank| {
            total += 1.0 / ((rank + 1) as f64).powf(1.05);
            total
        })
        .collect()
}

/// A vendor index drawn by weight; vendors are shuffled first so brands are not all on top.
fn draw(rng: &mut SplitMix64, cumulative: &[f64]) -> usize {
    let target = rng.unit() * cumulative.last().copied().unwrap_or(0.0);
    cumulative
        .partition_point(|&c| c <= target)
        .min(cumulative.len() - 1)
}

/// Appends `cents` as `-1,234.56` (thousands grouped, two decimals).
fn push_amount(out: &mut String, cents: i64) {
    if cents < 0 {
        out.push('-');
    }
    let cents = cents.unsigned_abs();
    let units = (cents / 100).to_string();
    for (i, digit) in units.chars().enumerate() {
        if i > 0 && (units.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out.push('.');
    let fraction = cents % 100;
    out.push(char::from(b'0' + (fraction / 10) as u8));
    out.push(char::from(b'0' + (fraction % 10) as u8));
}

/// Appends one CSV field, quoted only when it must be (as spreadsheet programs do).
fn push_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        out.push('"');
        for c in field.chars() {
            if c == '"' {
                out.push('"');
            }
            out.push(c);
        }
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// One row's content before it is written.
struct Row {
    description: String,
    cents: i64,
    category: &'static str,
    account: &'static str,
}

/// Whether a descriptor already ends with a location (`… SAN FRANCISCO CA`).
fn ends_with_state(descriptor: &str) -> bool {
    descriptor
        .rsplit(' ')
        .next()
        .is_some_and(|last| last.len() == 2 && last.bytes().all(|b| b.is_ascii_uppercase()))
}

fn vendor_row(rng: &mut SplitMix64, vendor: &Vendor) -> Row {
    let mut description = String::with_capacity(64);
    let account = match vendor.channel {
        Channel::Card => {
            description.push_str(&vendor.descriptor);
            if vendor.descriptor.ends_with('*') {
                // Marketplace order ids: `AMZN Mktp US*2K4L11ZX0`.
                for _ in 0..9 {
                    description.push(char::from(*rng.pick(b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ")));
                }
            } else if vendor.has_stores {
                description.push_str(&format!("{:04}", rng.below(10_000)));
            }
            if rng.chance(0.7) && !ends_with_state(&vendor.descriptor) {
                let city = *rng.pick(CITIES);
                description.push(' ');
                description.push_str(city);
            }
            if rng.chance(0.75) { CARD } else { CHECKING }
        }
        Channel::Ach => {
            description.push_str("ACH DEBIT ");
            description.push_str(&vendor.descriptor);
            description.push_str(&format!(" PPD ID: {}", vendor.company_id));
            CHECKING
        }
        Channel::Wire => {
            description.push_str("WIRE TRANSFER OUT ");
            description.push_str(&vendor.descriptor);
            description.push_str(&format!(" REF {:08}", rng.below(100_000_000)));
            CHECKING
        }
    };
    Row {
        description,
        cents: -vendor.profile.sample(rng).max(1),
        category: vendor.category,
        account,
    }
}

/// The rare rows, by `kind` (0..26): money in (0..=19), bank fees, and rows the connector
/// excludes (an own-account transfer, a card-balance payment).
fn special_row(rng: &mut SplitMix64, vendors: &[Vendor], kind: u64) -> Row {
    let (description, cents, category) = match kind {
        0..=9 => (
            format!("STRIPE TRANSFER ST-{:012X}", rng.next_u64() >> 16),
            Profile::Range(50_000, 4_500_000).sample(rng),
            "Income",
        ),
        10..=15 => (
            format!(
                "ACH CREDIT {} INV-{:05}",
                rng.pick(CUSTOMERS),
                rng.below(100_000)
            ),
            Profile::Range(100_000, 9_000_000).sample(rng),
            "Income",
        ),
        16..=18 => {
            let vendor = &vendors[rng.below(vendors.len() as u64) as usize];
            (
                format!(
                    "REFUND {}",
                    vendor.descriptor.trim_end_matches(['#', ' ', '*'])
                ),
                vendor.profile.sample(rng),
                vendor.category,
            )
        }
        19 => (
            "INTEREST PAYMENT".to_string(),
            Profile::Range(50, 40_000).sample(rng),
            "Interest Income",
        ),
        20 => (
            "MONTHLY SERVICE FEE".to_string(),
            -*rng.pick(&[1_500, 2_500, 3_000]),
            "Bank Fees",
        ),
        21..=22 => (
            "INTL TRANSACTION FEE".to_string(),
            -Profile::Range(10, 9_000).sample(rng),
            "Bank Fees",
        ),
        23..=24 => (
            format!(
                "ONLINE TRANSFER TO SAV ...{:04} TRANSACTION#: {:010}",
                7710,
                rng.below(10_000_000_000)
            ),
            -Profile::Range(100_000, 5_000_000).sample(rng),
            "Transfers",
        ),
        _ => (
            "AMEX EPAYMENT ACH PMT".to_string(),
            -Profile::Range(50_000, 3_000_000).sample(rng),
            "Credit Card Payments",
        ),
    };
    let account = if matches!(kind, 21..=22) {
        CARD
    } else {
        CHECKING
    };
    Row {
        description,
        cents,
        category,
        account,
    }
}

/// Writes one export to `out` and returns what was written.
pub fn write_export(mut out: impl Write, spec: ExportSpec) -> io::Result<ExportStats> {
    let mut rng = SplitMix64::new(spec.seed);
    let mut vendors = build_catalogue(&mut rng);
    // Fisher–Yates, so the heavy ranks mix brands and local businesses.
    for i in (1..vendors.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        vendors.swap(i, j);
    }
    let cumulative = cumulative_weights(vendors.len());
    let start = NaiveDate::from_ymd_opt(2022, 1, 1).expect("valid date");

    let mut line = String::with_capacity(256);
    line.push_str(HEADER);
    line.push('\n');
    out.write_all(line.as_bytes())?;
    let mut stats = ExportStats {
        rows: 0,
        bytes: line.len() as u64,
    };
    let target = spec.target_bytes.max(1);
    while stats.bytes < target {
        // The date advances with the bytes written, so any size spans the full three years
        // in ascending runs.
        let day = (u128::from(stats.bytes) * u128::from(SPAN_DAYS) / u128::from(target)) as u64;
        let date = start + Days::new(day);
        let roll = rng.below(1000);
        let row = if roll < 26 {
            // Kinds 0..=19 are money in: 2% of rows are credits.
            special_row(&mut rng, &vendors, roll)
        } else {
            let vendor = &vendors[draw(&mut rng, &cumulative)];
            vendor_row(&mut rng, vendor)
        };
        let (account, currency) = if row.account != CARD && rng.chance(0.06) {
            (EURO, "EUR")
        } else {
            (row.account, "USD")
        };
        let category = if rng.chance(0.04) { "" } else { row.category };

        line.clear();
        line.push_str(&format!(
            "{:04}-{:02}-{:02},",
            date.year(),
            date.month(),
            date.day()
        ));
        push_field(&mut line, &row.description);
        line.push(',');
        let amount_start = line.len();
        push_amount(&mut line, row.cents);
        if line[amount_start..].contains(',') {
            line.insert(amount_start, '"');
            line.push('"');
        }
        line.push(',');
        line.push_str(currency);
        line.push(',');
        push_field(&mut line, category);
        line.push(',');
        push_field(&mut line, account);
        line.push_str(&format!(
            ",{:04}{:02}{:02}{:09}\n",
            date.year(),
            date.month(),
            date.day(),
            stats.rows
        ));
        out.write_all(line.as_bytes())?;
        stats.rows += 1;
        stats.bytes += line.len() as u64;
    }
    out.flush()?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generate(seed: u64, target_bytes: u64) -> Vec<u8> {
        let mut bytes = Vec::new();
        write_export(&mut bytes, ExportSpec { seed, target_bytes }).unwrap();
        bytes
    }

    #[test]
    fn same_seed_same_bytes() {
        let first = generate(DEFAULT_SEED, 200_000);
        assert_eq!(first, generate(DEFAULT_SEED, 200_000));
        assert_ne!(first, generate(DEFAULT_SEED + 1, 200_000));
        assert!(
            first.len() >= 200_000 && first.len() < 200_400,
            "stops right after the target: {}",
            first.len()
        );
        let text = String::from_utf8(first).unwrap();
        assert!(text.starts_with(HEADER));
        assert!(
            text.contains("\"-1,"),
            "some amounts carry grouped thousands"
        );
        assert!(
            text.contains(", Inc."),
            "some payees carry legal suffixes after a comma"
        );
    }

    #[test]
    fn formats_amounts_like_a_bank() {
        let format = |cents| {
            let mut out = String::new();
            push_amount(&mut out, cents);
            out
        };
        assert_eq!(format(-5), "-0.05");
        assert_eq!(format(123_456), "1,234.56");
        assert_eq!(format(-123_456_789), "-1,234,567.89");
        assert_eq!(format(100_000), "1,000.00");
        let mut field = String::new();
        push_field(&mut field, "\"Big Apple\" Deli, Corp");
        assert_eq!(field, "\"\"\"Big Apple\"\" Deli, Corp\"");
    }

    #[test]
    fn imports_as_generic_layout_with_no_rejections() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.csv");
        let stats = write_export(
            std::fs::File::create(&path).unwrap(),
            ExportSpec {
                seed: DEFAULT_SEED,
                target_bytes: 200_000,
            },
        )
        .unwrap();
        let config = verocta_ingest::csv::RawImportOptions {
            tenant: "bench".into(),
            ..Default::default()
        }
        .validate()
        .unwrap();
        let mut credits = 0;
        let summary = verocta_ingest::import_file(&path, &config, |tx| {
            credits += u64::from(tx.class == verocta_schemas::TransactionClass::Credit);
        })
        .unwrap();
        assert_eq!(
            summary.rejected_count,
            0,
            "rejected: {:?}",
            summary.rejected.first()
        );
        assert_eq!(summary.format, "generic");
        assert_eq!(summary.rows_read, stats.rows);
        assert_eq!(
            summary.detected.amount_sign,
            verocta_ingest::csv::layout::AmountSign::SpendNegative
        );
        assert_eq!(summary.transactions + summary.excluded, stats.rows);
        assert!(
            (1..=stats.rows / 20).contains(&credits),
            "about 2% credits, got {credits} of {}",
            stats.rows
        );
        assert_eq!(summary.first_date, NaiveDate::from_ymd_opt(2022, 1, 1));
        assert!(
            summary
                .last_date
                .is_some_and(|d| d.year() == 2024 && d.month() == 12)
        );
    }

    #[test]
    fn catalogue_has_distinct_vendors() {
        let vendors = build_catalogue(&mut SplitMix64::new(DEFAULT_SEED));
        assert_eq!(vendors.len(), VENDOR_COUNT);
    }
}
