//! The CSV source: plans a file in one streaming pass, then reads it row by row in a second.
//!
//! Pass 1 ([`CsvSource::open`]) finds the encoding, delimiter, header row and layout, and
//! scans every row's date and amount cells to settle the file-wide conventions (day/month
//! order, decimal separator, sign convention) — facts that no single row can decide. Pass 2
//! ([`CsvSource::rows`]) turns each row into exactly one [`RowOutcome`]. Both passes also run
//! on several threads with the same results ([`super::parallel`]). Both passes stream:
//! memory does not grow with the file, except for the duplicate-row counter, which is reset
//! at every date change when the file's dates come in runs (as every export we know writes
//! them).
//!
//! Guarantee: every non-blank row below the header becomes exactly one outcome — a
//! transaction (spend, credit or excluded), a skipped report row with its reason, or a
//! rejection naming the line, the column and the fix. Nothing is dropped silently.

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Serialize;
use verocta_schemas::view::{ExclusionView, MoneyView, SourceView, TransactionView};
use verocta_schemas::{
    Currency, DerivedId, Exclusion, ExclusionReason, Money, SourceKind, TRANSACTION_SCHEMA_VERSION,
    Transaction, TransactionId,
};

use super::amount::{DecimalEvidence, DecimalSeparator, Marker, ParsedAmount, parse_amount};
use super::classify::{Classifier, Direction, Evidence, balance_row, summary_row};
use super::config::{ColumnMapping, CsvImportConfig};
use super::date::{DateEvidence, DateOrder, OrderDecision, parse_date};
use super::layout::{AmountSign, Columns, Headers, Layout, normalize_header};
use super::parallel::{Parallelism, map_chunks};
use super::records::{Record, RecordReader};
use super::sniff::{TextEncoding, detect_delimiter, detect_encoding, open_utf8, sample};
use crate::IngestError;
use crate::normalize::memo::{HashKeyed, LastText, TextMemo};
use crate::normalize::{Categorizer, normalize_vendor};

/// How many records may precede the header (report titles, export notes).
const HEADER_SEARCH_LIMIT: usize = 50;

/// A row that could not become a transaction, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// 1-based line where the record starts.
    pub line: u64,
    /// Header of the offending column, when one column is at fault.
    pub column: Option<String>,
    /// What is wrong and how to fix it.
    pub reason: String,
}

/// What one row became.
#[derive(Clone, Debug, PartialEq)]
pub enum RowOutcome {
    /// A canonical transaction (spend, credit, or excluded with a reason).
    Transaction(Box<Transaction>),
    /// A report row that is not a transaction (total, balance, heading, footer).
    Skipped {
        /// 1-based line.
        line: u64,
        /// Why it is not a transaction.
        exclusion: Exclusion,
    },
    /// A row that could not be read.
    Rejected(Rejection),
}

/// Everything decided about a file before its rows are read.
#[derive(Clone, Debug, Serialize)]
pub struct FilePlan {
    /// Text encoding.
    pub encoding: TextEncoding,
    /// Field delimiter.
    pub delimiter: char,
    /// Layout name.
    pub layout: &'static str,
    /// 1-based line of the header row.
    pub header_line: u64,
    /// Day/month order (`None` when no date depends on it).
    pub date_order: Option<DateOrder>,
    /// Decimal separator.
    pub decimal: DecimalSeparator,
    /// Sign convention of a single amount column.
    pub amount_sign: AmountSign,
    /// Currency for amounts that state none.
    pub currency: Currency,
    #[serde(skip)]
    layout_kind: Layout,
    #[serde(skip)]
    header_record_index: usize,
    #[serde(skip)]
    headers_raw: Vec<String>,
    #[serde(skip)]
    columns: Columns,
    #[serde(skip)]
    date_runs_contiguous: bool,
    /// Whether a row below the header has exactly one non-empty cell: a possible report
    /// section heading, whose text is the account of the rows below it. Such a file is read
    /// on one thread, the only reader that sees the rows above each row.
    #[serde(skip)]
    pub(crate) single_cell_rows: bool,
    /// Non-blank records below the header.
    #[serde(skip)]
    pub(crate) records: u64,
}

/// One CSV file, planned and ready to read.
pub struct CsvSource {
    path: PathBuf,
    name: String,
    config: CsvImportConfig,
    plan: FilePlan,
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> IngestError + '_ {
    move |source| IngestError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn csv_error(path: &Path) -> impl Fn(csv::Error) -> IngestError + '_ {
    move |source| IngestError::Csv {
        path: path.display().to_string(),
        source,
    }
}

fn cell(record: &Record, index: Option<usize>) -> Option<&str> {
    index
        .and_then(|i| record.get(i))
        .map(trim)
        .filter(|s| !s.is_empty())
}

pub(crate) fn is_blank(record: &Record) -> bool {
    record.iter().all(|c| trim(c).is_empty())
}

/// `str::trim`, with a fast path for the usual cell: `str::trim` decodes and classifies
/// characters one at a time from both ends (~3% of an import); ASCII whitespace is trimmed
/// byte-wise first, and `str::trim` only runs when what is left could start or end with other
/// whitespace (a non-ASCII character, or the vertical tab, which `trim_ascii` keeps).
fn trim(text: &str) -> &str {
    let trimmed = text.trim_ascii();
    let plain = |byte: Option<&u8>| byte.is_none_or(|&b| b.is_ascii() && b != 0x0b);
    let bytes = trimmed.as_bytes();
    if plain(bytes.first()) && plain(bytes.last()) {
        trimmed
    } else {
        trimmed.trim()
    }
}

impl CsvSource {
    /// Plans the file: encoding, delimiter, header, layout and file-wide conventions.
    pub fn open(path: &Path, config: &CsvImportConfig) -> Result<Self, IngestError> {
        let encoding = detect_encoding(path).map_err(io_error(path))?;
        let head = sample(
            open_utf8(path, encoding).map_err(io_error(path))?,
            64 * 1024,
        )
        .map_err(io_error(path))?;
        if head.iter().all(u8::is_ascii_whitespace) {
            return Err(IngestError::Empty {
                path: path.display().to_string(),
            });
        }
        let delimiter = detect_delimiter(&head);
        let mut reader = RecordReader::new(
            open_utf8(path, encoding).map_err(io_error(path))?,
            delimiter,
        );
        let mut record = Record::default();
        let (header_record_index, header_line, headers_raw, layout_kind, columns) =
            find_header(&mut reader, &mut record, config, path)?;

        let mut plan = FilePlan {
            encoding,
            delimiter: char::from(delimiter),
            layout: layout_kind.name(),
            header_line,
            date_order: None,
            decimal: DecimalSeparator::Point,
            amount_sign: AmountSign::SpendPositive,
            currency: config.default_currency,
            layout_kind,
            header_record_index,
            headers_raw,
            columns,
            date_runs_contiguous: true,
            single_cell_rows: false,
            records: 0,
        };
        let file_len = std::fs::metadata(path).map_err(io_error(path))?.len();
        let parallelism = config.parallelism;
        // More than one chunk of records, as far as the size tells (records are rarely shorter).
        let worth_it = file_len > parallelism.chunk_rows as u64 * 64;
        let evidence = if parallelism.workers > 1 && worth_it {
            scan_parallel(reader, &plan.columns, parallelism, path)?
        } else {
            scan(&mut reader, &mut record, &plan.columns, path)?
        };
        settle_conventions(evidence, config, &mut plan, path)?;
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        Ok(CsvSource {
            path: path.to_path_buf(),
            name,
            config: config.clone(),
            plan,
        })
    }

    /// The plan decided for this file.
    pub fn plan(&self) -> &FilePlan {
        &self.plan
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file name recorded in each transaction's source reference.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads the rows (second pass) on the calling thread. Each item is one row's outcome.
    pub fn rows(&self) -> Result<Rows<'_>, IngestError> {
        Ok(Rows {
            reader: self.records()?,
            record: Record::default(),
            rows: RowReader::new(self),
            occurrences: Occurrences::new(self),
        })
    }

    /// A reader standing on the first record below the header.
    pub(crate) fn records(&self) -> Result<RecordReader, IngestError> {
        let mut reader = RecordReader::new(
            open_utf8(&self.path, self.plan.encoding).map_err(io_error(&self.path))?,
            self.plan.delimiter as u8,
        );
        let mut record = Record::default();
        let mut skipped = 0;
        while skipped <= self.plan.header_record_index {
            if !reader
                .read_record(&mut record)
                .map_err(|e| self.csv_error(e))?
            {
                break;
            }
            if !is_blank(&record) {
                skipped += 1;
            }
        }
        Ok(reader)
    }

    pub(crate) fn csv_error(&self, source: csv::Error) -> IngestError {
        IngestError::Csv {
            path: self.path.display().to_string(),
            source,
        }
    }
}

type HeaderFound = (usize, u64, Vec<String>, Layout, Columns);

fn find_header(
    reader: &mut RecordReader,
    record: &mut Record,
    config: &CsvImportConfig,
    path: &Path,
) -> Result<HeaderFound, IngestError> {
    let mut index = 0;
    while index < HEADER_SEARCH_LIMIT && reader.read_record(record).map_err(csv_error(path))? {
        if is_blank(record) {
            continue;
        }
        let line = reader.record_line();
        let headers = Headers::new(record.iter());
        let found = match (&config.mapping, config.format) {
            (Some(mapping), _) => mapped_columns(&headers, mapping).map(|c| (Layout::Mapped, c)),
            (None, Some(layout)) => Some((layout, headers.assign_roles(layout))),
            (None, None) => headers
                .detect()
                .map(|layout| (layout, headers.assign_roles(layout))),
        };
        if let Some((layout, columns)) = found.filter(|(_, c)| c.date.is_some() && c.has_money()) {
            let raw = record.iter().map(|c| c.trim().to_string()).collect();
            return Ok((index, line, raw, layout, columns));
        }
        index += 1;
    }
    Err(IngestError::NoHeader {
        path: path.display().to_string(),
        mapped: config.mapping.is_some(),
    })
}

fn mapped_columns(headers: &Headers, mapping: &ColumnMapping) -> Option<Columns> {
    let find = |name: &Option<String>| -> Result<Option<usize>, ()> {
        match name {
            None => Ok(None),
            Some(name) => {
                let wanted = normalize_header(name);
                headers
                    .names
                    .iter()
                    .position(|n| *n == wanted)
                    .map(Some)
                    .ok_or(())
            }
        }
    };
    let mut columns = Columns {
        date: find(&Some(mapping.date.clone())).ok()?,
        amount: find(&mapping.amount).ok()?,
        debit: find(&mapping.debit).ok()?,
        credit: find(&mapping.credit).ok()?,
        currency: find(&mapping.currency).ok()?,
        vendor: find(&mapping.vendor).ok()?,
        description: find(&mapping.description).ok()?,
        memo: find(&mapping.memo).ok()?,
        category: find(&mapping.category).ok()?,
        account: find(&mapping.account).ok()?,
        kind: find(&mapping.kind).ok()?,
        state: find(&mapping.state).ok()?,
        id: find(&mapping.id).ok()?,
        payment_method: find(&mapping.payment_method).ok()?,
        card: find(&mapping.card).ok()?,
        employee: find(&mapping.employee).ok()?,
        department: find(&mapping.department).ok()?,
        ..Columns::default()
    };
    // Mapped headers may still carry a currency hint such as `Value (EUR)`.
    columns.original_amount = None;
    Some(columns)
}

/// What pass 1 learns from consecutive records. Evidence gathered apart (on several threads)
/// merges in file order into what one reader would have gathered.
#[derive(Default)]
pub(crate) struct ScanEvidence {
    dates: DateEvidence,
    decimals: DecimalEvidence,
    /// Amount cells that read as negative, and as positive.
    negative: u64,
    positive: u64,
    /// Non-blank records.
    records: u64,
    single_cell_rows: bool,
    /// The day keys of the date cells with consecutive repeats collapsed: where dates change.
    day_changes: Vec<String>,
}

impl ScanEvidence {
    /// Adds one record starting on `line`.
    pub(crate) fn observe(&mut self, columns: &Columns, record: &Record, line: u64) {
        let non_empty = record
            .iter()
            .filter(|c| !trim(c).is_empty())
            .take(2)
            .count();
        if non_empty == 0 {
            return;
        }
        self.records += 1;
        self.single_cell_rows |= non_empty == 1;
        if let Some(date) = cell(record, columns.date).or(cell(record, columns.date_fallback)) {
            self.dates.observe(line, date);
            let key = date_key(date);
            if self.day_changes.last().is_none_or(|last| last != key) {
                self.day_changes.push(key.to_string());
            }
        }
        for index in [columns.amount, columns.debit, columns.credit, columns.fee] {
            if let Some(text) = cell(record, index) {
                self.decimals.observe(text);
            }
        }
        if let Some(amount) = cell(record, columns.amount) {
            if amount.bytes().any(|b| b == b'-' || b == b'(') || amount.contains('−') {
                self.negative += 1;
            } else if amount.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
                self.positive += 1;
            }
        }
    }

    /// Adds the evidence of the records right after these; the day changes are left to the
    /// caller's [`DayRuns`].
    fn merge(&mut self, later: ScanEvidence) {
        self.dates.merge(later.dates);
        self.decimals.merge(later.decimals);
        self.negative += later.negative;
        self.positive += later.positive;
        self.records += later.records;
        self.single_cell_rows |= later.single_cell_rows;
    }
}

/// Whether each date's rows come in one run, fed with the day keys where dates change, in
/// file order. Its memory is one key per distinct date.
struct DayRuns {
    current: String,
    finished: HashSet<String>,
    contiguous: bool,
}

impl DayRuns {
    fn new() -> Self {
        DayRuns {
            current: String::new(),
            finished: HashSet::new(),
            contiguous: true,
        }
    }

    fn feed(&mut self, changes: impl IntoIterator<Item = String>) {
        for key in changes {
            if key != self.current {
                self.contiguous &= !self.finished.contains(&key);
                self.finished
                    .insert(std::mem::replace(&mut self.current, key));
            }
        }
    }
}

/// The facts [`settle_conventions`] decides from.
pub(crate) struct ScanResult {
    scan: ScanEvidence,
    date_runs_contiguous: bool,
}

/// Pass 1 on the calling thread: gathers the evidence that settles the file-wide conventions.
fn scan(
    reader: &mut RecordReader,
    record: &mut Record,
    columns: &Columns,
    path: &Path,
) -> Result<ScanResult, IngestError> {
    let mut scan = ScanEvidence::default();
    let mut runs = DayRuns::new();
    while reader.read_record(record).map_err(csv_error(path))? {
        let line = reader.record_line();
        scan.observe(columns, record, line);
        runs.feed(scan.day_changes.drain(..));
    }
    Ok(ScanResult {
        scan,
        date_runs_contiguous: runs.contiguous,
    })
}

/// Pass 1 on several threads ([`super::parallel`]): each chunk's evidence gathered apart,
/// merged in file order.
fn scan_parallel(
    reader: RecordReader,
    columns: &Columns,
    parallelism: Parallelism,
    path: &Path,
) -> Result<ScanResult, IngestError> {
    let mut scan = ScanEvidence::default();
    let mut runs = DayRuns::new();
    map_chunks(
        reader,
        parallelism,
        path,
        || (),
        |(), chunk| {
            let mut evidence = ScanEvidence::default();
            for (record, line) in chunk.records() {
                evidence.observe(columns, record, line);
            }
            evidence
        },
        |mut evidence| {
            runs.feed(evidence.day_changes.drain(..));
            scan.merge(evidence);
        },
    )?;
    Ok(ScanResult {
        scan,
        date_runs_contiguous: runs.contiguous,
    })
}

/// Decides the file-wide conventions from pass 1's evidence; a file whose dates can be read
/// two ways fails here.
fn settle_conventions(
    evidence: ScanResult,
    config: &CsvImportConfig,
    plan: &mut FilePlan,
    path: &Path,
) -> Result<(), IngestError> {
    let ScanResult {
        scan:
            ScanEvidence {
                dates,
                decimals,
                negative,
                positive,
                records,
                single_cell_rows,
                day_changes: _,
            },
        date_runs_contiguous,
    } = evidence;
    plan.records = records;
    plan.single_cell_rows = single_cell_rows;
    plan.date_runs_contiguous = date_runs_contiguous;
    let columns = &plan.columns;
    plan.date_order = match dates.decide(config.date_order) {
        OrderDecision::Settled(order) => order,
        OrderDecision::Ambiguous { example } => {
            return Err(IngestError::AmbiguousDates {
                path: path.display().to_string(),
                line: example.0,
                example: example.1,
            });
        }
        OrderDecision::Conflicting {
            day_first,
            month_first,
        } => {
            return Err(IngestError::ConflictingDates {
                path: path.display().to_string(),
                day_first_line: day_first.0,
                day_first: day_first.1,
                month_first_line: month_first.0,
                month_first: month_first.1,
            });
        }
    };
    let fallback = if plan.delimiter == ';' {
        DecimalSeparator::Comma
    } else {
        DecimalSeparator::Point
    };
    plan.decimal = config.decimal.unwrap_or_else(|| decimals.decide(fallback));
    plan.amount_sign = config
        .amount_sign
        .or(plan.layout_kind.amount_sign())
        .unwrap_or(if negative > positive {
            AmountSign::SpendNegative
        } else {
            AmountSign::SpendPositive
        });
    let hinted = [columns.amount, columns.debit, columns.credit]
        .into_iter()
        .flatten()
        .find_map(|i| {
            Headers::new(plan.headers_raw.iter().map(String::as_str))
                .currency_hints
                .get(i)
                .copied()
                .flatten()
        });
    plan.currency = hinted.unwrap_or(config.default_currency);
    Ok(())
}

/// The day part of a date cell (`2024-01-15` of `2024-01-15 10:00`), for run detection.
fn date_key(date: &str) -> &str {
    // Byte-wise: both markers are ASCII (`str::find` with a char set decodes every character).
    let end = date
        .bytes()
        .position(|b| b == b' ' || b == b'T')
        .unwrap_or(date.len());
    &date[..end]
}

/// Iterator over a file's row outcomes (pass 2), on the calling thread. [`super::parallel`]
/// gives the same outcomes from several threads.
pub struct Rows<'a> {
    reader: RecordReader,
    record: Record,
    rows: RowReader<'a>,
    occurrences: Occurrences<'a>,
}

impl Rows<'_> {
    /// The next non-blank row, read without copying its texts and with its final id: a lending
    /// iterator's `next`, for the Arrow path.
    pub(crate) fn next_read(&mut self) -> Option<Result<RowRead<'_>, IngestError>> {
        loop {
            match self.reader.read_record(&mut self.record) {
                Ok(false) => return None,
                Ok(true) if is_blank(&self.record) => continue,
                Ok(true) => break,
                Err(source) => return Some(Err(self.rows.source.csv_error(source))),
            }
        }
        let line = self.reader.record_line();
        let mut read = self.rows.read(&self.record, line);
        if let RowRead::Transaction(view, identity) = &mut read {
            self.occurrences.settle_view(view, identity);
        }
        Some(Ok(read))
    }
}

impl Iterator for Rows<'_> {
    type Item = Result<RowOutcome, IngestError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_read()
            .map(|read| read.map(|read| PendingOutcome::from(read).outcome))
    }
}

/// A row of pass 2 as read, borrowing the record and the reader's memos: the transaction path
/// makes it owned (into a [`PendingOutcome`]), the Arrow path copies it straight into the columns.
///
/// Why: an owned transaction is a dozen heap strings per row, which the Arrow path only
/// copied again and dropped.
// One lives at a time, on the stack; boxing the large variant would bring back an allocation
// per row.
#[allow(clippy::large_enum_variant)]
pub(crate) enum RowRead<'r> {
    /// A transaction row, with its first occurrence's id, and what [`Occurrences`] needs of it.
    Transaction(TransactionView<'r>, RowIdentity),
    /// A skipped or rejected row.
    Other(RowOutcome),
}

impl From<RowRead<'_>> for PendingOutcome {
    /// The row with its transaction owned.
    fn from(read: RowRead<'_>) -> Self {
        match read {
            RowRead::Transaction(view, identity) => {
                let transaction = view
                    .into_transaction()
                    .expect("a row's tenant is validated and its id derived");
                PendingOutcome {
                    outcome: RowOutcome::Transaction(Box::new(transaction)),
                    identity: Some(identity),
                }
            }
            RowRead::Other(outcome) => PendingOutcome {
                outcome,
                identity: None,
            },
        }
    }
}

/// A row's outcome before the identical rows above it are counted: its transaction id is the
/// first occurrence's until [`Occurrences::settle`] says otherwise.
pub(crate) struct PendingOutcome {
    pub(crate) outcome: RowOutcome,
    pub(crate) identity: Option<RowIdentity>,
}

/// What [`Occurrences`] needs of a transaction row to tell identical rows apart.
pub(crate) struct RowIdentity {
    /// xxh3 of the identity text: the row's own id, else its content.
    hash: u64,
    /// xxh3-128 of the date cell's day part, to start counting again at each new date (0 when
    /// the file's dates do not come in runs: never read then).
    date_key: u128,
    /// The identity text when it is the row's content (an own id stays in the transaction).
    pub(crate) content: Option<String>,
}

/// Counts identical rows in file order — the one step of pass 2 that depends on the rows
/// before — and gives the second and later of them their own ids.
pub(crate) struct Occurrences<'a> {
    source: &'a CsvSource,
    /// Occurrences of each row identity (by its xxh3 hash).
    counts: HashKeyed<u32>,
    /// The date key of the last transaction row, when the file's dates come in runs.
    date_key: Option<u128>,
}

impl<'a> Occurrences<'a> {
    pub(crate) fn new(source: &'a CsvSource) -> Self {
        Occurrences {
            source,
            counts: HashKeyed::default(),
            date_key: None,
        }
    }

    /// The row's final outcome. Call once per row, in file order.
    pub(crate) fn settle(&mut self, pending: PendingOutcome) -> RowOutcome {
        let PendingOutcome {
            mut outcome,
            identity,
        } = pending;
        if let (Some(identity), RowOutcome::Transaction(transaction)) = (identity, &mut outcome) {
            let own_id = transaction.source.external_id.as_deref();
            if let Some(id) = self.repeat_id(&identity, own_id) {
                transaction.transaction_id = id;
            }
        }
        outcome
    }

    /// [`Self::settle`] for a row read as a view.
    pub(crate) fn settle_view(&mut self, view: &mut TransactionView<'_>, identity: &RowIdentity) {
        let own_id = view.source.external_id.as_deref();
        if let Some(id) = self.repeat_id(identity, own_id) {
            view.transaction_id = Cow::Owned(id.into());
        }
    }

    /// The id of a transaction row when identical rows came before it (counting it, so call
    /// once per transaction row, in file order); `own_id` is the row's own id, if any.
    pub(crate) fn repeat_id(
        &mut self,
        identity: &RowIdentity,
        own_id: Option<&str>,
    ) -> Option<TransactionId> {
        let occurrence = self.count(identity);
        let text = identity.content.as_deref().or(own_id).unwrap_or_default();
        (occurrence > 0).then(|| self.renumbered(text, occurrence))
    }

    /// How many identical transaction rows came before this one. Call once per transaction
    /// row, in file order.
    pub(crate) fn count(&mut self, identity: &RowIdentity) -> u32 {
        // Identical rows are only counted within a date when dates come in runs, so that
        // memory stays bounded; a re-import counts the same way, so ids stay stable.
        if self.source.plan.date_runs_contiguous && self.date_key != Some(identity.date_key) {
            self.counts.clear();
            self.date_key = Some(identity.date_key);
        }
        let seen = self.counts.entry(identity.hash).or_insert(0);
        let occurrence = *seen;
        *seen += 1;
        occurrence
    }

    /// The id of a later one of identical rows whose identity text is `text`.
    pub(crate) fn renumbered(&self, text: &str, occurrence: u32) -> TransactionId {
        TransactionId::derive(
            &self.source.config.tenant,
            SourceKind::Csv.code(),
            &[text, &occurrence.to_string()],
        )
    }
}

/// Turns one record into its outcome: everything of pass 2 that needs no other row (the
/// report section above aside, which only a sequential reader keeps: see
/// [`FilePlan::single_cell_rows`]). Holds memos of repeated texts; each thread has its own.
pub(crate) struct RowReader<'a> {
    source: &'a CsvSource,
    /// The last section heading of a report (QuickBooks "Transaction Detail by Account").
    current_section: Option<String>,
    /// Normalised vendors by raw name: exports repeat a few hundred vendors across millions
    /// of rows, so each is normalised once. Starts over when full, to keep memory bounded.
    vendors: TextMemo<String>,
    /// Categories, remembering the matches of repeated category and account names.
    categorizer: Categorizer,
    /// Classes, remembering the keyword search of repeated texts.
    classifier: Classifier,
    /// The row's lowercased vendor, description and memo for [`classify`], reused across
    /// rows instead of allocated per row.
    text: String,
    /// The last currency cell's currency: a currency column repeats one or two codes.
    currency: LastText<Currency>,
    /// The layout's name, every transaction's `source.format`, formatted once.
    format: String,
    /// What the last date cell parsed to: exports list rows by date.
    last_date: LastText<(chrono::NaiveDate, Option<chrono::NaiveTime>)>,
    /// The row's id, which its view borrows.
    id: Option<DerivedId>,
    /// The row's description and memo joined, when a vendor column leaves both as the memo.
    memo: String,
}

/// Distinct vendors remembered by [`RowReader`] before it starts over.
const VENDOR_MEMO_LIMIT: usize = 16_384;

/// A row-level failure: the column at fault and the reason.
type RowError = (Option<usize>, String);

impl<'a> RowReader<'a> {
    pub(crate) fn new(source: &'a CsvSource) -> Self {
        RowReader {
            source,
            current_section: None,
            vendors: TextMemo::new(VENDOR_MEMO_LIMIT),
            categorizer: Categorizer::default(),
            classifier: Classifier::default(),
            text: String::new(),
            currency: LastText::default(),
            format: source.plan.layout.to_string(),
            last_date: LastText::default(),
            id: None,
            memo: String::new(),
        }
    }

    /// The outcome of the non-blank `record` starting on `line`.
    pub(crate) fn outcome(&mut self, record: &Record, line: u64) -> PendingOutcome {
        self.read(record, line).into()
    }

    /// The non-blank `record` starting on `line`, read without copying its texts.
    pub(crate) fn read<'r>(&'r mut self, record: &'r Record, line: u64) -> RowRead<'r> {
        let source = self.source;
        match self.read_row(record, line) {
            Ok(read) => read,
            Err((column, reason)) => RowRead::Other(RowOutcome::Rejected(Rejection {
                line,
                column: column.and_then(|i| source.plan.headers_raw.get(i).cloned()),
                reason,
            })),
        }
    }

    fn read_row<'r>(&'r mut self, record: &'r Record, line: u64) -> Result<RowRead<'r>, RowError> {
        let source = self.source;
        let plan = &source.plan;
        let columns = &plan.columns;
        let header_len = plan.headers_raw.len();
        if record.len() > header_len && record.iter().skip(header_len).any(|c| !c.trim().is_empty())
        {
            return Err((
                None,
                format!(
                    "row has {} fields but the header has {header_len}: a value probably contains an unquoted `{}`; quote it",
                    record.len(),
                    plan.delimiter
                ),
            ));
        }
        let first_cell = record
            .iter()
            .map(trim)
            .find(|c| !c.is_empty())
            .unwrap_or_default();
        let label = cell(record, columns.vendor).or(cell(record, columns.description));
        let date_text = cell(record, columns.date).or(cell(record, columns.date_fallback));
        let parsed_date = date_text.map(|text| {
            self.last_date
                .get(text, |text| parse_date(text, plan.date_order))
        });
        let Some(Ok((booked_date, booked_time))) = parsed_date else {
            // No usable date: a total, balance, heading or footer row — or a broken row.
            if let Some((_, Some(exclusion))) = summary_row(first_cell) {
                return Ok(skipped(line, exclusion));
            }
            let has_money = [
                columns.amount,
                columns.debit,
                columns.credit,
                columns.exchange_out,
                columns.exchange_in,
            ]
            .into_iter()
            .any(|i| cell(record, i).is_some());
            let non_empty = record.iter().filter(|c| !c.trim().is_empty()).count();
            match (has_money, parsed_date) {
                (true, Some(Err(error))) => return Err((columns.date, error.to_string())),
                (true, _) => {
                    return Err((
                        columns.date,
                        "date is empty: every transaction needs a date".into(),
                    ));
                }
                (false, Some(Err(error))) if non_empty > 1 => {
                    return Err((columns.date, error.to_string()));
                }
                _ => {}
            }
            if non_empty == 1 {
                // A report section heading ("Office Expenses"): the account of the rows below.
                self.current_section = Some(first_cell.to_string());
            }
            let exclusion = Exclusion {
                reason: ExclusionReason::ReportLayout,
                detail: format!(
                    "row without date or amount: \"{}\"",
                    truncate(first_cell, 60)
                ),
            };
            return Ok(skipped(line, exclusion));
        };
        if let Some((_, Some(exclusion))) = label.and_then(balance_row) {
            return Ok(skipped(line, exclusion));
        }

        let currency = Self::row_currency(plan, record, &mut self.currency)?;
        let money = self.read_money(record, currency)?;
        let text = &mut self.text;
        text.clear();
        for part in [
            label,
            cell(record, columns.description),
            cell(record, columns.memo),
        ]
        .into_iter()
        .flatten()
        {
            if !text.is_empty() {
                text.push(' ');
            }
            push_lowercase(text, part);
        }
        let (class, exclusion) = self.classifier.classify(&Evidence {
            layout: plan.layout_kind,
            kind: cell(record, columns.kind),
            state: cell(record, columns.state),
            text,
            direction: money.direction,
            exchange_only: money.exchange_only,
        });
        let original_amount = self.original_amount(record)?;
        let external_id = cell(record, columns.id);
        let (id, identity) = self.identity(record, external_id);
        let id: &'r DerivedId = self.id.insert(id);

        let description = cell(record, columns.description);
        let vendor_raw = cell(record, columns.vendor).or(description);
        let memo = match (
            columns.vendor.is_some(),
            description,
            cell(record, columns.memo),
        ) {
            (true, Some(description), Some(memo)) if description != memo => {
                let joined = &mut self.memo;
                joined.clear();
                joined.push_str(description);
                joined.push_str(" | ");
                joined.push_str(memo);
                Some(joined.as_str())
            }
            (true, Some(description), _) => Some(description),
            (_, _, memo) => memo,
        };
        let vendor = match vendor_raw {
            Some(raw) => Some(self.vendors.get(raw, normalize_vendor).as_str()),
            None => None,
        }
        .filter(|v| !v.is_empty());
        let category_raw = cell(record, columns.category);
        let account = cell(record, columns.account).or(self.current_section.as_deref());
        let category = self
            .categorizer
            .categorize(category_raw, account, memo, vendor);
        let borrowed = |text: Option<&'r str>| text.map(Cow::Borrowed);

        let view = TransactionView {
            schema_version: TRANSACTION_SCHEMA_VERSION,
            tenant_id: Cow::Borrowed(source.config.tenant.as_str()),
            transaction_id: Cow::Borrowed(id.as_str()),
            source: SourceView {
                kind: SourceKind::Csv,
                format: Cow::Borrowed(&self.format),
                name: Cow::Borrowed(&source.name),
                line: Some(line),
                external_id: borrowed(external_id),
            },
            booked_date,
            booked_time,
            amount: MoneyView(money.amount),
            original_amount: original_amount
                .filter(|o| o.currency() != money.amount.currency())
                .map(MoneyView),
            class,
            exclusion: exclusion.map(|e| ExclusionView {
                reason: e.reason,
                detail: Cow::Owned(e.detail),
            }),
            vendor_raw: borrowed(vendor_raw),
            vendor: borrowed(vendor),
            category_raw: borrowed(category_raw),
            category,
            account: borrowed(account),
            memo: borrowed(memo),
            payment_method: borrowed(cell(record, columns.payment_method)),
            card_last4: cell(record, columns.card).and_then(last_four),
            employee: borrowed(cell(record, columns.employee)),
            department: borrowed(cell(record, columns.department)),
            ingested_at: source.config.ingested_at,
        };
        Ok(RowRead::Transaction(view, identity))
    }

    /// The row's currency: its currency cell's, else the file's. Takes the fields it uses so
    /// that it can update the last-currency memo while the row's cells are borrowed.
    fn row_currency(
        plan: &FilePlan,
        record: &Record,
        last: &mut LastText<Currency>,
    ) -> Result<Currency, RowError> {
        let column = plan.columns.currency;
        match cell(record, column) {
            Some(code) => last
                .get(code, Currency::new)
                .map_err(|e| (column, e.to_string())),
            None => Ok(plan.currency),
        }
    }

    fn read_money(&self, record: &Record, currency: Currency) -> Result<RowMoney, RowError> {
        let plan = &self.source.plan;
        let columns = &plan.columns;
        let read = |index: Option<usize>| -> Result<Option<ParsedAmount>, RowError> {
            match cell(record, index) {
                None => Ok(None),
                Some(text) => {
                    parse_amount(text, plan.decimal, currency).map_err(|e| (index, e.to_string()))
                }
            }
        };
        let check_currency =
            |parsed: &ParsedAmount, index: Option<usize>| -> Result<(), RowError> {
                if parsed.currency_written
                    && cell(record, columns.currency).is_some()
                    && parsed.money.currency() != currency
                {
                    return Err((
                        index,
                        format!(
                            "amount is written in {} but the currency column says {currency}",
                            parsed.money.currency()
                        ),
                    ));
                }
                Ok(())
            };
        let (magnitude, direction) = if columns.amount.is_some() {
            let Some(parsed) = read(columns.amount)? else {
                return self.missing_amount(record, currency);
            };
            check_currency(&parsed, columns.amount)?;
            let minor = parsed.money.minor_units();
            let direction = match (parsed.marker, minor.signum()) {
                (_, 0) => Direction::Zero,
                (Some(Marker::Debit), _) => Direction::Out,
                (Some(Marker::Credit), _) => Direction::In,
                (None, sign) => match (plan.amount_sign, sign > 0) {
                    (AmountSign::SpendPositive, true) | (AmountSign::SpendNegative, false) => {
                        Direction::Out
                    }
                    _ => Direction::In,
                },
            };
            (parsed.money.abs(), direction)
        } else {
            let out = read(columns.debit)?;
            let inflow = read(columns.credit)?;
            let nonzero = |p: &Option<ParsedAmount>| p.is_some_and(|p| p.money.minor_units() != 0);
            match (out, inflow) {
                (Some(_), Some(_)) if nonzero(&out) && nonzero(&inflow) => {
                    return Err((
                        columns.credit,
                        "both the debit and the credit column hold an amount; keep one".into(),
                    ));
                }
                (Some(o), _) if nonzero(&out) => {
                    check_currency(&o, columns.debit)?;
                    (o.money.abs(), Direction::Out)
                }
                (_, Some(i)) if nonzero(&inflow) => {
                    check_currency(&i, columns.credit)?;
                    (i.money.abs(), Direction::In)
                }
                (Some(o), _) => (o.money.abs(), Direction::Zero),
                (_, Some(i)) => (i.money.abs(), Direction::Zero),
                (None, None) => return self.missing_amount(record, currency),
            }
        };
        let fee = match read(columns.fee)? {
            Some(fee)
                if direction == Direction::Out && fee.money.currency() == magnitude.currency() =>
            {
                fee.money.minor_units().abs()
            }
            _ => 0,
        };
        let amount = Money::from_minor(
            magnitude
                .minor_units()
                .checked_add(fee)
                .ok_or((columns.fee, "amount plus fee is too large".to_string()))?,
            magnitude.currency(),
        );
        Ok(RowMoney {
            amount,
            direction,
            exchange_only: false,
        })
    }

    /// Legacy Revolut rows that only fill the exchange columns are currency exchanges;
    /// anything else without an amount is an error.
    fn missing_amount(&self, record: &Record, currency: Currency) -> Result<RowMoney, RowError> {
        let columns = &self.source.plan.columns;
        let exchanged = [columns.exchange_out, columns.exchange_in]
            .into_iter()
            .find_map(|i| cell(record, i));
        if let Some(text) = exchanged {
            let parsed = parse_amount(text, self.source.plan.decimal, currency)
                .map_err(|e| (columns.exchange_out, e.to_string()))?
                .map_or(Money::from_minor(0, currency), |p| p.money.abs());
            return Ok(RowMoney {
                amount: parsed,
                direction: Direction::Out,
                exchange_only: true,
            });
        }
        let column = columns.amount.or(columns.debit).or(columns.credit);
        Err((
            column,
            "amount is empty: every transaction needs an amount".into(),
        ))
    }

    fn original_amount(&self, record: &Record) -> Result<Option<Money>, RowError> {
        let columns = &self.source.plan.columns;
        let (Some(text), Some(code)) = (
            cell(record, columns.original_amount),
            cell(record, columns.original_currency),
        ) else {
            return Ok(None);
        };
        let currency =
            Currency::new(code).map_err(|e| (columns.original_currency, e.to_string()))?;
        let parsed = parse_amount(text, self.source.plan.decimal, currency)
            .map_err(|e| (columns.original_amount, e.to_string()))?;
        Ok(parsed.map(|p| p.money.abs()))
    }

    /// The row's stable id, derived from its own id when the source has one, else from its
    /// content, as the first of identical rows; [`Occurrences::settle`] renumbers the others,
    /// so two genuine identical payments stay two.
    fn identity(&self, record: &Record, external_id: Option<&str>) -> (DerivedId, RowIdentity) {
        let plan = &self.source.plan;
        // The day only matters to [`Occurrences`] when dates come in runs.
        let day_hash = plan.date_runs_contiguous.then(|| {
            let day = cell(record, plan.columns.date)
                .map(date_key)
                .unwrap_or_default();
            xxhash_rust::xxh3::xxh3_128(day.as_bytes())
        });
        let content = external_id
            .is_none()
            .then(|| record.iter().map(trim).collect::<Vec<_>>().join("\u{1f}"));
        let text = external_id.or(content.as_deref()).unwrap_or_default();
        let id = DerivedId::new(&self.source.config.tenant, SourceKind::Csv.code(), &[text]);
        let identity = RowIdentity {
            hash: identity_hash(text),
            date_key: day_hash.unwrap_or_default(),
            content,
        };
        (id, identity)
    }
}

fn skipped<'r>(line: u64, exclusion: Exclusion) -> RowRead<'r> {
    RowRead::Other(RowOutcome::Skipped { line, exclusion })
}

/// A 64-bit hash for the occurrence counter. A collision only shares a counter between two
/// different rows (their ids still differ, as ids hash the full identity), and it repeats
/// identically on re-import, so ids stay deterministic.
fn identity_hash(text: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(text.as_bytes())
}

struct RowMoney {
    amount: Money,
    direction: Direction,
    exchange_only: bool,
}

/// Appends `text` lowercased, as `str::to_lowercase` would (a word-final sigma included: the
/// parts are joined by spaces, so each part's ends are word ends either way).
fn push_lowercase(buffer: &mut String, text: &str) {
    if text.is_ascii() {
        let start = buffer.len();
        buffer.push_str(text);
        buffer[start..].make_ascii_lowercase();
    } else {
        buffer.push_str(&text.to_lowercase());
    }
}

/// The last four digits of a card number cell, whatever separates them; borrowed when the
/// cell ends with them.
fn last_four(card: &str) -> Option<Cow<'_, str>> {
    let tail = card.len().checked_sub(4).and_then(|at| card.get(at..));
    if let Some(tail) = tail.filter(|t| t.bytes().all(|b| b.is_ascii_digit())) {
        return Some(Cow::Borrowed(tail));
    }
    let digits: String = card.chars().filter(char::is_ascii_digit).collect();
    (digits.len() >= 4).then(|| Cow::Owned(digits[digits.len() - 4..].to_string()))
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((index, _)) => &text[..index],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn trim_is_str_trim_on_edge_cases() {
        for text in [
            "",
            " ",
            "a",
            " a ",
            "\t a\r\n",
            "\u{b}a\u{b}",
            " \u{b} ",
            "\u{a0}a\u{a0}",
            "\u{3000}é\u{2003}",
            "é",
            " é ",
            "a\u{85}",
            "\u{feff}a",
        ] {
            assert_eq!(trim(text), text.trim(), "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn trim_is_str_trim(text in "[ \\t\\r\\n\\x0b\\x0c\\u{a0}\\u{2003}a-zé€]{0,12}") {
            prop_assert_eq!(trim(&text), text.trim());
        }
    }
}
