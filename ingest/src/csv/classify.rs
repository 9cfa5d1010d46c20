//! Deciding whether a row is spend, credit, or excluded — and saying why.
//!
//! Evidence is weighed in a fixed order, strongest first: the settlement state (a declined
//! payment moved no money, whatever else it says), exchange-only rows, a zero amount, the
//! product's own transaction type (QuickBooks `Bill Payment`, Revolut `TOPUP`, Brex
//! `Collection`), keywords in the text for own-account movements and card-balance payments, and
//! finally the direction of the money. A transfer is excluded only when it is recognisably
//! between the company's own accounts; a transfer paying a supplier is spend.

use verocta_schemas::{Exclusion, ExclusionReason, TransactionClass};

use super::layout::Layout;
use crate::normalize::memo::TextMemo;

/// Which way the money moved, after the file's sign convention is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Money left the company.
    Out,
    /// Money came in.
    In,
    /// Zero.
    Zero,
}

/// What a row says about itself.
#[derive(Clone, Copy, Debug)]
pub struct Evidence<'a> {
    /// The layout it was read with.
    pub layout: Layout,
    /// The type column, trimmed.
    pub kind: Option<&'a str>,
    /// The state/status column, trimmed.
    pub state: Option<&'a str>,
    /// Vendor, description and memo, lowercased and joined with spaces.
    pub text: &'a str,
    /// Direction of the money.
    pub direction: Direction,
    /// Only the legacy Revolut exchange columns hold money.
    pub exchange_only: bool,
}

/// The outcome.
pub type Decision = (TransactionClass, Option<Exclusion>);

fn excluded(reason: ExclusionReason, detail: String) -> Decision {
    (
        TransactionClass::Excluded,
        Some(Exclusion { reason, detail }),
    )
}

/// What a type value says.
enum TypeSays {
    Spend,
    Credit,
    Exclude(ExclusionReason),
    /// A transfer: own-account or a payment, to be decided by text and direction.
    Transfer,
}

/// Classifies one row.
pub fn classify(evidence: &Evidence<'_>) -> Decision {
    decide(evidence, first_phrase)
}

/// Distinct texts whose keyword search a [`Classifier`] remembers before it starts over.
const PHRASE_MEMO_LIMIT: usize = 16_384;

/// [`classify`], remembering the keyword search's answer for texts it has seen: an export
/// repeats most of its descriptions, and the search was ~7% of an import's instructions.
pub(crate) struct Classifier {
    phrases: TextMemo<Option<usize>>,
}

impl Default for Classifier {
    fn default() -> Self {
        Classifier {
            phrases: TextMemo::new(PHRASE_MEMO_LIMIT),
        }
    }
}

impl Classifier {
    /// Classifies one row, exactly as [`classify`].
    pub(crate) fn classify(&mut self, evidence: &Evidence<'_>) -> Decision {
        decide(evidence, |text| *self.phrases.get(text, first_phrase))
    }
}

/// [`classify`], with `phrase` finding the first keyword phrase in a text (see
/// [`first_phrase`]).
fn decide(evidence: &Evidence<'_>, mut phrase: impl FnMut(&str) -> Option<usize>) -> Decision {
    if let Some(decision) = by_state(evidence.state) {
        return decision;
    }
    if evidence.exchange_only {
        return excluded(
            ExclusionReason::CurrencyExchange,
            "only the exchange columns hold an amount".into(),
        );
    }
    if evidence.direction == Direction::Zero {
        return excluded(ExclusionReason::ZeroAmount, "amount is zero".into());
    }
    let kind = evidence.kind.filter(|k| !k.is_empty());
    match kind.and_then(|k| type_says(evidence.layout, k)) {
        Some(TypeSays::Spend) => return (TransactionClass::Spend, None),
        Some(TypeSays::Credit) => return (TransactionClass::Credit, None),
        Some(TypeSays::Exclude(reason)) => {
            return excluded(reason, format!("type is {}", kind.unwrap_or_default()));
        }
        Some(TypeSays::Transfer) => {
            if let Some(marker) = own_account_marker(evidence.text) {
                return excluded(
                    ExclusionReason::OwnAccountTransfer,
                    format!("transfer mentioning \"{marker}\""),
                );
            }
        }
        None => {}
    }
    if let Some(first) = phrase(evidence.text) {
        let (phrase, reason) = KEYWORDS.phrases[first];
        return excluded(reason, format!("text mentions \"{phrase}\""));
    }
    match evidence.direction {
        Direction::Out => (TransactionClass::Spend, None),
        Direction::In => (TransactionClass::Credit, None),
        Direction::Zero => excluded(ExclusionReason::ZeroAmount, "amount is zero".into()),
    }
}

fn by_state(state: Option<&str>) -> Option<Decision> {
    let state = state?.trim();
    let lower = state.to_ascii_lowercase();
    let failed = [
        "declined",
        "reverted",
        "failed",
        "cancelled",
        "canceled",
        "voided",
        "void",
        "rejected",
        "reversed",
    ];
    let pending = [
        "pending",
        "authorised",
        "authorized",
        "in progress",
        "processing",
    ];
    if failed.contains(&lower.as_str()) {
        return Some(excluded(
            ExclusionReason::DeclinedOrFailed,
            format!("state is {state}"),
        ));
    }
    pending
        .contains(&lower.as_str())
        .then(|| excluded(ExclusionReason::Pending, format!("state is {state}")))
}

fn type_says(layout: Layout, kind: &str) -> Option<TypeSays> {
    let lower = kind.trim().to_ascii_lowercase().replace('_', " ");
    match layout {
        Layout::Revolut | Layout::RevolutBusiness => revolut_type(&lower),
        Layout::Brex | Layout::Ramp | Layout::Expensify => card_type(&lower),
        Layout::QuickbooksReport => accounting_type(&lower, true),
        _ => accounting_type(&lower, false),
    }
}

fn revolut_type(kind: &str) -> Option<TypeSays> {
    Some(match kind {
        "card payment" | "fee" | "charge" | "tax" => TypeSays::Spend,
        "card refund" | "refund" | "cashback" | "reward" | "interest" | "card credit" => {
            TypeSays::Credit
        }
        "topup" | "top up" => TypeSays::Exclude(ExclusionReason::TopUp),
        "exchange" => TypeSays::Exclude(ExclusionReason::CurrencyExchange),
        "atm" => TypeSays::Exclude(ExclusionReason::CashWithdrawal),
        "transfer" => TypeSays::Transfer,
        _ => return None,
    })
}

fn card_type(kind: &str) -> Option<TypeSays> {
    Some(match kind {
        "purchase" | "charge" | "card expense" | "expense" | "fee" | "interest"
        | "card transaction" => TypeSays::Spend,
        "refund" | "credit" | "return" | "rebate" | "cashback" | "reward" | "dispute credit" => {
            TypeSays::Credit
        }
        "payment" | "collection" | "repayment" | "autopay" | "card payment"
        | "statement payment" => TypeSays::Exclude(ExclusionReason::CardBalancePayment),
        _ => return None,
    })
}

/// QuickBooks (and generic ledger) transaction types. `Payment` is a customer payment
/// received in QuickBooks; elsewhere it is too ambiguous to decide on.
fn accounting_type(kind: &str, quickbooks: bool) -> Option<TypeSays> {
    if kind.starts_with("bill payment") {
        return Some(TypeSays::Exclude(ExclusionReason::BillPayment));
    }
    Some(match kind {
        "expense"
        | "expenses"
        | "check"
        | "cheque"
        | "bill"
        | "credit card expense"
        | "cash expense"
        | "purchase"
        | "expenditure"
        | "spend"
        | "debit card expense" => TypeSays::Spend,
        "deposit" | "sales receipt" | "income" | "vendor credit" | "credit card credit"
        | "refund" | "revenue" | "sale" | "receive payment" => TypeSays::Credit,
        "payment" if quickbooks => TypeSays::Credit,
        "credit card payment" => TypeSays::Exclude(ExclusionReason::CardBalancePayment),
        "transfer" if quickbooks => TypeSays::Exclude(ExclusionReason::OwnAccountTransfer),
        "transfer" => TypeSays::Transfer,
        "journal entry"
        | "invoice"
        | "estimate"
        | "purchase order"
        | "sales order"
        | "credit memo"
        | "statement charge"
        | "inventory qty adjust"
        | "delayed charge"
        | "delayed credit"
        | "time charge" => TypeSays::Exclude(ExclusionReason::NonCash),
        _ => return None,
    })
}

const OWN_ACCOUNT_MARKERS: &[&str] = &[
    "own account",
    "between accounts",
    "internal transfer",
    "savings",
    "pocket",
    "vault",
    "to main",
    "from main",
    "account transfer",
];

fn own_account_marker(text: &str) -> Option<&'static str> {
    if let Some(marker) = OWN_ACCOUNT_MARKERS.iter().find(|m| text.contains(*m)) {
        return Some(marker);
    }
    // Revolut names currency sub-accounts by code: "To EUR", "From GBP".
    let mut words = text.split_whitespace();
    while let Some(word) = words.next() {
        if matches!(word, "to" | "from")
            && let Some(next) = words.clone().next()
            && next.len() == 3
            && verocta_schemas::Currency::new(next).is_ok()
        {
            return Some("a currency account");
        }
    }
    None
}

const CARD_BALANCE_PHRASES: &[&str] = &[
    "payment to brex",
    "brex payment",
    "brex card payment",
    "payment to ramp",
    "ramp payment",
    "payment - thank you",
    "payment thank you",
    "autopay payment",
    "amex epayment",
    "american express payment",
    "credit card payment",
    "card balance payment",
];
const OWN_TRANSFER_PHRASES: &[&str] = &[
    "transfer to savings",
    "transfer from savings",
    "internal transfer",
    "transfer between accounts",
    "own account transfer",
    "to own account",
    "online transfer to sav",
    "online transfer from sav",
];
const TOP_UP_PHRASES: &[&str] = &["top-up", "top up", "topup", "money added", "added money"];
const EXCHANGE_PHRASES: &[&str] = &[
    "exchanged to",
    "exchanged from",
    "currency exchange",
    "fx exchange",
];

/// The phrase groups [`first_phrase`] checks, in order of precedence.
const KEYWORD_GROUPS: [(&[&str], ExclusionReason); 4] = [
    (CARD_BALANCE_PHRASES, ExclusionReason::CardBalancePayment),
    (OWN_TRANSFER_PHRASES, ExclusionReason::OwnAccountTransfer),
    (TOP_UP_PHRASES, ExclusionReason::TopUp),
    (EXCHANGE_PHRASES, ExclusionReason::CurrencyExchange),
];

/// Every phrase of [`KEYWORD_GROUPS`], numbered in precedence order (group by group, each
/// group's phrases in their listed order), with the group's reason.
///
/// Why: this runs on every row, and asking `contains` of each of ~30 phrases in turn was a
/// tenth of the connector's time; the searchers read the text once.
struct Keywords {
    /// aho-corasick's packed (Teddy, SIMD) searcher: whether a text holds any phrase at all,
    /// several times faster than the automaton's byte loop. `None` where the CPU has no such
    /// instructions.
    any: Option<aho_corasick::packed::Searcher>,
    /// Which phrases occur.
    automaton: aho_corasick::AhoCorasick,
    phrases: Vec<(&'static str, ExclusionReason)>,
}

static KEYWORDS: std::sync::LazyLock<Keywords> = std::sync::LazyLock::new(|| {
    let phrases: Vec<(&str, ExclusionReason)> = KEYWORD_GROUPS
        .iter()
        .flat_map(|(phrases, reason)| phrases.iter().map(|p| (*p, *reason)))
        .collect();
    let automaton = aho_corasick::AhoCorasick::new(phrases.iter().map(|(p, _)| p))
        .expect("the keyword phrases are a small fixed set");
    let any = aho_corasick::packed::Searcher::new(phrases.iter().map(|(p, _)| p));
    Keywords {
        any,
        automaton,
        phrases,
    }
});

/// The first phrase group (in [`KEYWORD_GROUPS`] order) with a phrase in `text`, and within
/// it the first listed phrase that occurs, as an index into the phrases: the decision a scan
/// of group after group, phrase after phrase, would reach.
fn first_phrase(text: &str) -> Option<usize> {
    let Keywords { any, automaton, .. } = &*KEYWORDS;
    // Most texts hold no phrase at all; that answer is the cheap one to get.
    let any = match any {
        Some(searcher) => searcher.find(text).is_some(),
        None => automaton.is_match(text),
    };
    if !any {
        return None;
    }
    automaton
        .find_overlapping_iter(text)
        .map(|m| m.pattern().as_usize())
        .min()
}

/// Whether a row's first non-empty cell makes it a total or balance row. Only asked of rows
/// without a usable date, so a vendor called "Total Solutions" is never mistaken for one.
pub fn summary_row(first_cell: &str) -> Option<Decision> {
    let lower = first_cell.trim().to_ascii_lowercase();
    let total = lower == "total"
        || lower.starts_with("total ")
        || lower.starts_with("grand total")
        || lower.starts_with("subtotal")
        || lower.starts_with("sub-total")
        || lower == "totals";
    if total {
        return Some(excluded(
            ExclusionReason::TotalRow,
            format!("row labelled \"{}\"", first_cell.trim()),
        ));
    }
    balance_row(first_cell)
}

/// Labels of opening, closing and carried balance rows, lowercase (compared case-blind as
/// prefixes).
const BALANCE_PHRASES: [&str; 11] = [
    "opening balance",
    "closing balance",
    "balance brought forward",
    "balance carried forward",
    "balance b/f",
    "balance c/f",
    "starting balance",
    "ending balance",
    "beginning balance",
    "brought forward",
    "carried forward",
];

/// Whether a label marks an opening, closing or carried-forward balance row.
pub fn balance_row(label: &str) -> Option<Decision> {
    let label = label.trim();
    // Asked of every row's label: most start with a letter no phrase starts with.
    let first = label.as_bytes().first()?.to_ascii_lowercase();
    if !BALANCE_PHRASES
        .iter()
        .any(|phrase| phrase.as_bytes()[0] == first)
    {
        return None;
    }
    // Prefixes compared in place rather than in a lowercased copy.
    let starts_with = |phrase: &str| {
        label
            .as_bytes()
            .get(..phrase.len())
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case(phrase.as_bytes()))
    };
    BALANCE_PHRASES.iter().any(|b| starts_with(b)).then(|| {
        excluded(
            ExclusionReason::BalanceRow,
            format!("row labelled \"{label}\""),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence(
        layout: Layout,
        kind: Option<&'static str>,
        text: &'static str,
        direction: Direction,
    ) -> Evidence<'static> {
        Evidence {
            layout,
            kind,
            state: None,
            text,
            direction,
            exchange_only: false,
        }
    }

    fn reason(decision: Decision) -> Option<ExclusionReason> {
        decision.1.map(|e| e.reason)
    }

    #[test]
    fn state_beats_everything() {
        let mut e = evidence(
            Layout::RevolutBusiness,
            Some("CARD_PAYMENT"),
            "coffee",
            Direction::Out,
        );
        e.state = Some("REVERTED");
        assert_eq!(
            reason(classify(&e)),
            Some(ExclusionReason::DeclinedOrFailed)
        );
        e.state = Some("PENDING");
        assert_eq!(reason(classify(&e)), Some(ExclusionReason::Pending));
        e.state = Some("COMPLETED");
        assert_eq!(classify(&e).0, TransactionClass::Spend);
    }

    #[test]
    fn quickbooks_types() {
        let qb = |kind, direction| {
            classify(&evidence(
                Layout::QuickbooksReport,
                Some(kind),
                "",
                direction,
            ))
        };
        assert_eq!(qb("Expense", Direction::In).0, TransactionClass::Spend);
        assert_eq!(qb("Deposit", Direction::Out).0, TransactionClass::Credit);
        assert_eq!(
            reason(qb("Bill Payment (Check)", Direction::Out)),
            Some(ExclusionReason::BillPayment)
        );
        assert_eq!(
            reason(qb("Credit Card Payment", Direction::Out)),
            Some(ExclusionReason::CardBalancePayment)
        );
        assert_eq!(
            reason(qb("Transfer", Direction::Out)),
            Some(ExclusionReason::OwnAccountTransfer)
        );
        assert_eq!(
            reason(qb("Journal Entry", Direction::Out)),
            Some(ExclusionReason::NonCash)
        );
        assert_eq!(qb("Payment", Direction::Out).0, TransactionClass::Credit);
    }

    #[test]
    fn revolut_transfers_to_suppliers_are_spend() {
        let rv = |kind, text, direction| {
            classify(&evidence(
                Layout::RevolutBusiness,
                Some(kind),
                text,
                direction,
            ))
        };
        assert_eq!(
            rv("TRANSFER", "to acme supplies ltd", Direction::Out).0,
            TransactionClass::Spend
        );
        assert_eq!(
            reason(rv("TRANSFER", "to eur", Direction::Out)),
            Some(ExclusionReason::OwnAccountTransfer)
        );
        assert_eq!(
            reason(rv("TRANSFER", "to savings pocket", Direction::Out)),
            Some(ExclusionReason::OwnAccountTransfer)
        );
        assert_eq!(
            reason(rv("TOPUP", "apple pay top-up", Direction::In)),
            Some(ExclusionReason::TopUp)
        );
        assert_eq!(
            reason(rv("EXCHANGE", "exchanged to eur", Direction::Out)),
            Some(ExclusionReason::CurrencyExchange)
        );
        assert_eq!(
            rv("CARD_REFUND", "amazon", Direction::In).0,
            TransactionClass::Credit
        );
        assert_eq!(
            reason(rv("ATM", "cash", Direction::Out)),
            Some(ExclusionReason::CashWithdrawal)
        );
    }

    /// The SIMD searcher only answers "any phrase?"; it must agree with the automaton,
    /// which CPUs without it use and which picks the phrase.
    #[test]
    fn the_packed_searcher_agrees_with_the_automaton() {
        let Keywords {
            any,
            automaton,
            phrases,
        } = &*KEYWORDS;
        let mut texts: Vec<String> = phrases
            .iter()
            .map(|(phrase, _)| format!("ref 123 {phrase} ltd"))
            .collect();
        texts.extend(
            [
                "github, inc. san francisco ca",
                "",
                "payment",
                "top",
                "exchange rate",
                "transfer",
            ]
            .map(String::from),
        );
        for text in &texts {
            let packed = any.as_ref().map(|searcher| searcher.find(text).is_some());
            if let Some(packed) = packed {
                assert_eq!(packed, automaton.is_match(text), "{text:?}");
            }
        }
    }

    /// A [`Classifier`] answers as [`classify`], on first sight of a text and from memory.
    #[test]
    fn the_classifier_remembers_what_classify_answers() {
        let mut texts: Vec<String> = KEYWORDS
            .phrases
            .iter()
            .map(|(phrase, _)| format!("ref 123 {phrase} ltd"))
            .collect();
        texts.extend(["github, inc.", "", "payment to brex", "acme"].map(String::from));
        let mut classifier = Classifier::default();
        for round in 0..2 {
            for text in &texts {
                for direction in [Direction::Out, Direction::In] {
                    let e = Evidence {
                        text,
                        ..evidence(Layout::Generic, None, "", direction)
                    };
                    assert_eq!(
                        classifier.classify(&e),
                        classify(&e),
                        "{text:?}, round {round}"
                    );
                }
            }
        }
    }

    #[test]
    fn keywords_and_direction() {
        let generic = |text, direction| classify(&evidence(Layout::Generic, None, text, direction));
        assert_eq!(
            reason(generic("payment to brex", Direction::In)),
            Some(ExclusionReason::CardBalancePayment)
        );
        assert_eq!(
            reason(generic("internal transfer 1234", Direction::Out)),
            Some(ExclusionReason::OwnAccountTransfer)
        );
        assert_eq!(
            generic("acme ltd", Direction::Out).0,
            TransactionClass::Spend
        );
        assert_eq!(
            generic("refund acme", Direction::In).0,
            TransactionClass::Credit
        );
        assert_eq!(
            reason(generic("anything", Direction::Zero)),
            Some(ExclusionReason::ZeroAmount)
        );
        assert_eq!(
            reason(classify(&evidence(
                Layout::Brex,
                Some("Collection"),
                "",
                Direction::In
            ))),
            Some(ExclusionReason::CardBalancePayment)
        );
    }

    #[test]
    fn summary_rows() {
        assert_eq!(
            reason(summary_row("TOTAL").unwrap()),
            Some(ExclusionReason::TotalRow)
        );
        assert_eq!(
            reason(summary_row("Total for Office Expenses").unwrap()),
            Some(ExclusionReason::TotalRow)
        );
        assert_eq!(
            reason(summary_row("Opening Balance").unwrap()),
            Some(ExclusionReason::BalanceRow)
        );
        assert!(summary_row("Totally Coffee Ltd").is_none());
    }
}
