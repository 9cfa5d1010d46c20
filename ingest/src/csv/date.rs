//! Reading dates (and times) in the forms exports use.
//!
//! ISO (`2024-01-15`, `2024/01/15`, with `T13:45:00Z` or ` 13:45`), numeric day/month forms
//! (`15/01/2024`, `01/15/24`, `15.01.2024`, `15-01-2024`), named months (`15 Jan 2024`,
//! `Jan 15, 2024`, `15-Jan-24`, `Monday, Jan 01, 2024 09:41:23 AM GMT-8`), with times in 24-hour
//! or AM/PM form. Time zones are not applied: the time is kept as the local time written.
//!
//! Day/month order is a property of the file, not of a row: [`DateEvidence`] collects every
//! numeric date in a file; a value like `13/01/2024` proves day-first, `01/13/2024` proves
//! month-first, and a file with neither proof is ambiguous (unless all its dates are dotted,
//! which is day-first everywhere it is used). An ambiguous file is an error the user resolves
//! with `--day-first` or `--month-first`; it is never guessed per row.

use crate::normalize::memo::LastText;
use chrono::{NaiveDate, NaiveTime};

/// Day/month order of numeric dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DateOrder {
    /// `15/01/2024`
    DayFirst,
    /// `01/15/2024`
    MonthFirst,
}

/// Why a cell is not a date.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// Not any supported form.
    #[error(
        "`{0}` is not a date (expected forms like 2024-01-31, 31/01/2024, 01/31/2024 or 31 Jan 2024)"
    )]
    Unrecognised(String),
    /// Recognised form, impossible calendar date.
    #[error("`{0}` is not a valid calendar date")]
    Invalid(String),
    /// A spreadsheet serial number instead of a date.
    #[error(
        "`{0}` looks like a spreadsheet serial number: format the column as dates before exporting"
    )]
    SerialNumber(String),
}

/// The shape of a date cell, before the file's day/month order is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// Year first or a named month: order-independent.
    Unambiguous,
    /// `a/b/year`: which of `a` and `b` is the day depends on the file.
    Numeric {
        first: u32,
        second: u32,
        dotted: bool,
    },
}

/// Day/month evidence gathered over a whole file.
#[derive(Clone, Debug, Default)]
pub struct DateEvidence {
    /// First cell proving day-first (`13/01/2024`), with its line.
    pub day_first_proof: Option<(u64, String)>,
    /// First cell proving month-first (`01/13/2024`), with its line.
    pub month_first_proof: Option<(u64, String)>,
    /// First numeric cell that fits both orders with a different meaning (`03/04/2024`).
    pub ambiguous_example: Option<(u64, String)>,
    /// Numeric dates seen.
    pub numeric: u64,
    /// Numeric dates written with dots.
    pub dotted: u64,
    /// The last cell observed and its shape, if numeric: exports list rows by date, so most
    /// cells repeat the one before, whose proofs are already kept.
    last: LastText<Option<Shape>>,
}

/// The file's order, or why it cannot be settled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderDecision {
    /// Settled (or irrelevant, when `None`: the file has no order-dependent dates).
    Settled(Option<DateOrder>),
    /// Both orders are proven by different rows.
    Conflicting {
        /// A day-first proof.
        day_first: (u64, String),
        /// A month-first proof.
        month_first: (u64, String),
    },
    /// Nothing proves either order.
    Ambiguous {
        /// An example of an ambiguous value.
        example: (u64, String),
    },
}

impl DateEvidence {
    /// Records one date cell found on `line`.
    pub fn observe(&mut self, line: u64, text: &str) {
        let Ok(shape) = self.last.get(text, |text| {
            Ok::<_, std::convert::Infallible>(split_shape(text).ok().map(|(shape, _)| shape))
        });
        let Some(Shape::Numeric {
            first,
            second,
            dotted,
        }) = shape
        else {
            return;
        };
        self.numeric += 1;
        self.dotted += u64::from(dotted);
        let keep = |slot: &mut Option<(u64, String)>| {
            slot.get_or_insert_with(|| (line, text.trim().to_string()));
        };
        if first > 12 && second <= 12 {
            keep(&mut self.day_first_proof);
        } else if second > 12 && first <= 12 {
            keep(&mut self.month_first_proof);
        } else if first != second && first <= 12 && second <= 12 {
            keep(&mut self.ambiguous_example);
        }
    }

    /// Adds the evidence of the cells that come right after the ones seen so far (read
    /// apart, on another thread): the first proofs stay first.
    pub fn merge(&mut self, later: DateEvidence) {
        self.day_first_proof = self.day_first_proof.take().or(later.day_first_proof);
        self.month_first_proof = self.month_first_proof.take().or(later.month_first_proof);
        self.ambiguous_example = self.ambiguous_example.take().or(later.ambiguous_example);
        self.numeric += later.numeric;
        self.dotted += later.dotted;
    }

    /// Decides the order, preferring `stated` (the user's flag) over any evidence.
    pub fn decide(&self, stated: Option<DateOrder>) -> OrderDecision {
        if stated.is_some() {
            return OrderDecision::Settled(stated);
        }
        match (&self.day_first_proof, &self.month_first_proof) {
            (Some(day), Some(month)) => OrderDecision::Conflicting {
                day_first: day.clone(),
                month_first: month.clone(),
            },
            (Some(_), None) => OrderDecision::Settled(Some(DateOrder::DayFirst)),
            (None, Some(_)) => OrderDecision::Settled(Some(DateOrder::MonthFirst)),
            (None, None) => match &self.ambiguous_example {
                // Dotted numeric dates are day-first in every locale that writes them.
                Some(_) if self.dotted == self.numeric => {
                    OrderDecision::Settled(Some(DateOrder::DayFirst))
                }
                Some(example) => OrderDecision::Ambiguous {
                    example: example.clone(),
                },
                None => OrderDecision::Settled(None),
            },
        }
    }
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

fn month_from_name(token: &str) -> Option<u32> {
    let lower = token.to_ascii_lowercase();
    let lower = lower.trim_end_matches('.');
    if lower.len() < 3 {
        return None;
    }
    let full = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    if lower == "sept" {
        return Some(9);
    }
    MONTHS
        .iter()
        .zip(full.iter())
        .position(|(short, long)| lower == *short || lower == *long)
        .map(|i| i as u32 + 1)
}

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn expand_year(year: u32, digits: usize) -> u32 {
    match digits {
        2 if year < 70 => 2000 + year,
        2 => 1900 + year,
        _ => year,
    }
}

/// Parsed pieces before the order is applied.
struct Pieces {
    year: u32,
    a: u32,
    b: u32,
    /// When true `a` is the month (year-first or named month); else order-dependent.
    a_is_month: Option<bool>,
    time: Option<NaiveTime>,
}

fn split_shape(text: &str) -> Result<(Shape, Pieces), DateError> {
    let pieces = pieces(text)?;
    let shape = match pieces.a_is_month {
        Some(_) => Shape::Unambiguous,
        None => Shape::Numeric {
            first: pieces.a,
            second: pieces.b,
            dotted: text
                .trim()
                .as_bytes()
                .get(1..3)
                .is_some_and(|s| s.contains(&b'.')),
        },
    };
    Ok((shape, pieces))
}

fn digits_prefix(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.split_at(end)
}

fn pieces(text: &str) -> Result<Pieces, DateError> {
    let unrecognised = || DateError::Unrecognised(text.trim().to_string());
    let mut rest = text.trim();
    // Drop a leading weekday ("Monday, ").
    if let Some(first) = rest.split([' ', ',']).next() {
        let starts_with = |prefix: &str| {
            first
                .as_bytes()
                .get(..prefix.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
        };
        if WEEKDAYS.iter().any(|w| starts_with(w)) && month_from_name(first).is_none() {
            rest = rest[first.len()..].trim_start_matches([',', ' ']);
        }
    }
    let (lead, after_lead) = digits_prefix(rest);
    if lead.len() >= 5 && after_lead.is_empty() {
        return Err(DateError::SerialNumber(text.trim().to_string()));
    }
    let separator = after_lead.chars().next();
    // Numeric forms: YYYY-MM-DD or A/B/YYYY (any of - / . as separator).
    if !lead.is_empty() && matches!(separator, Some('-' | '/' | '.')) {
        let sep = separator.unwrap_or('-');
        let (second, after_second) = digits_prefix(&after_lead[1..]);
        if !second.is_empty() && after_second.starts_with(sep) {
            let (third, tail) = digits_prefix(&after_second[1..]);
            let number = |s: &str| s.parse::<u32>().map_err(|_| unrecognised());
            let time = parse_time_tail(tail).ok_or_else(unrecognised)?;
            if lead.len() == 4 && (1..=2).contains(&second.len()) && (1..=2).contains(&third.len())
            {
                return Ok(Pieces {
                    year: number(lead)?,
                    a: number(second)?,
                    b: number(third)?,
                    a_is_month: Some(true),
                    time,
                });
            }
            if (1..=2).contains(&lead.len())
                && (1..=2).contains(&second.len())
                && matches!(third.len(), 2 | 4)
            {
                let year = expand_year(number(third)?, third.len());
                return Ok(Pieces {
                    year,
                    a: number(lead)?,
                    b: number(second)?,
                    a_is_month: None,
                    time,
                });
            }
            return Err(unrecognised());
        }
    }
    named_month(rest).ok_or_else(unrecognised)
}

/// `15 Jan 2024`, `Jan 15, 2024`, `15-Jan-24`, `January 15 2024 10:00`, `2024 Jan 15`.
fn named_month(text: &str) -> Option<Pieces> {
    let mut month = None;
    let mut numbers: Vec<(u32, usize)> = Vec::with_capacity(2);
    let mut time_start = None;
    let mut offset = 0;
    for token in text.split([' ', '-', ',', '/']) {
        let token_start = offset;
        offset += token.len() + 1;
        if token.is_empty() {
            continue;
        }
        if token.contains(':') {
            time_start = Some(token_start);
            break;
        }
        let day_like = token.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let suffix = &token[day_like.len()..];
        if !day_like.is_empty()
            && day_like.bytes().all(|b| b.is_ascii_digit())
            && (suffix.is_empty()
                || matches!(
                    suffix.to_ascii_lowercase().as_str(),
                    "st" | "nd" | "rd" | "th"
                ))
        {
            numbers.push((day_like.parse().ok()?, day_like.len()));
        } else if let Some(m) = month_from_name(token) {
            if month.replace(m).is_some() {
                return None;
            }
        } else {
            return None;
        }
    }
    let month = month?;
    let (day, year) = match numbers.as_slice() {
        [(y, 4), (d, dl)] if *dl <= 2 => (*d, *y),
        [(d, dl), (y, yl)] if *dl <= 2 && matches!(yl, 2 | 4) => (*d, expand_year(*y, *yl)),
        _ => return None,
    };
    let time = match time_start {
        Some(start) => Some(parse_time(&text[start..])?),
        None => None,
    };
    Some(Pieces {
        year,
        a: month,
        b: day,
        a_is_month: Some(true),
        time,
    })
}

/// The part after a numeric date: empty, or `T`/space followed by a time.
fn parse_time_tail(tail: &str) -> Option<Option<NaiveTime>> {
    let tail = tail.trim();
    if tail.is_empty() {
        return Some(None);
    }
    let tail = tail.strip_prefix(['T', 't']).unwrap_or(tail);
    parse_time(tail).map(Some)
}

/// `13:45`, `13:45:12`, `13:45:12.345Z`, `1:45 PM`, `09:41:23 AM GMT-8`. Zones are ignored.
fn parse_time(text: &str) -> Option<NaiveTime> {
    let text = text.trim();
    let clock_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == ':' || c == '.'))
        .unwrap_or(text.len());
    let (clock, rest) = text.split_at(clock_end);
    let mut parts = clock.split(':');
    let hour: u32 = parts.next()?.parse().ok()?;
    let minute: u32 = parts.next()?.parse().ok()?;
    let second: u32 = match parts.next() {
        Some(s) => s.split('.').next()?.parse().ok()?,
        None => 0,
    };
    let rest = rest.trim_start();
    let upper = rest.get(..2).map(|s| s.to_ascii_uppercase());
    let hour = match upper.as_deref() {
        Some("AM") if (1..=12).contains(&hour) => hour % 12,
        Some("PM") if (1..=12).contains(&hour) => hour % 12 + 12,
        Some("AM" | "PM") => return None,
        _ => hour,
    };
    NaiveTime::from_hms_opt(hour, minute, second)
}

/// Parses one cell given the file's order. `order` may be `None` only when the file has no
/// order-dependent dates; an order-dependent cell then reads as day-first only if both
/// readings agree (day equals month).
pub fn parse_date(
    text: &str,
    order: Option<DateOrder>,
) -> Result<(NaiveDate, Option<NaiveTime>), DateError> {
    let pieces = pieces(text)?;
    let (month, day) = match (pieces.a_is_month, order) {
        (Some(_), _) => (pieces.a, pieces.b),
        (None, Some(DateOrder::DayFirst)) => (pieces.b, pieces.a),
        (None, Some(DateOrder::MonthFirst)) => (pieces.a, pieces.b),
        (None, None) if pieces.a == pieces.b || pieces.a > 12 => (pieces.b, pieces.a),
        (None, None) if pieces.b > 12 => (pieces.a, pieces.b),
        (None, None) => return Err(DateError::Unrecognised(text.trim().to_string())),
    };
    let date = NaiveDate::from_ymd_opt(pieces.year as i32, month, day)
        .ok_or_else(|| DateError::Invalid(text.trim().to_string()))?;
    Ok((date, pieces.time))
}

/// Whether a cell looks like a date at all (used to find header rows and footers).
pub fn looks_like_date(text: &str) -> bool {
    pieces(text).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn repeated_cells_count_as_often_as_they_occur() {
        let mut evidence = DateEvidence::default();
        for (line, text) in [
            (2, "03.04.2024"),
            (3, "03.04.2024"),
            (4, "2024-04-05"),
            (5, "13.04.2024"),
            (6, "13.04.2024"),
        ] {
            evidence.observe(line, text);
        }
        assert_eq!((evidence.numeric, evidence.dotted), (4, 4));
        assert_eq!(evidence.ambiguous_example, Some((2, "03.04.2024".into())));
        assert_eq!(evidence.day_first_proof, Some((5, "13.04.2024".into())));
        assert_eq!(
            evidence.decide(None),
            OrderDecision::Settled(Some(DateOrder::DayFirst))
        );
    }

    #[test]
    fn weekday_prefixes_are_dropped_in_any_case() {
        for text in [
            "Monday, 15 January 2024",
            "MON 15 Jan 2024",
            "mon, 2024-01-15",
        ] {
            assert_eq!(
                parse_date(text, None).unwrap().0,
                ymd(2024, 1, 15),
                "{text}"
            );
        }
    }

    #[test]
    fn reads_every_form() {
        let day = Some(DateOrder::DayFirst);
        let month = Some(DateOrder::MonthFirst);
        assert_eq!(parse_date("2024-01-15", None).unwrap().0, ymd(2024, 1, 15));
        assert_eq!(parse_date("2024/1/5", None).unwrap().0, ymd(2024, 1, 5));
        assert_eq!(parse_date("15/01/2024", day).unwrap().0, ymd(2024, 1, 15));
        assert_eq!(parse_date("01/15/2024", month).unwrap().0, ymd(2024, 1, 15));
        assert_eq!(parse_date("3/4/24", month).unwrap().0, ymd(2024, 3, 4));
        assert_eq!(parse_date("15.01.2024", day).unwrap().0, ymd(2024, 1, 15));
        assert_eq!(parse_date("15 Jan 2024", None).unwrap().0, ymd(2024, 1, 15));
        assert_eq!(
            parse_date("Jan 15, 2024", None).unwrap().0,
            ymd(2024, 1, 15)
        );
        assert_eq!(parse_date("15-Jan-24", None).unwrap().0, ymd(2024, 1, 15));
        assert_eq!(
            parse_date("September 3rd 2023", None).unwrap().0,
            ymd(2023, 9, 3)
        );
        assert_eq!(parse_date("Sept 3 2023", None).unwrap().0, ymd(2023, 9, 3));
    }

    #[test]
    fn reads_times() {
        let (date, time) = parse_date("2024-01-15T13:45:12.123Z", None).unwrap();
        assert_eq!(
            (date, time),
            (ymd(2024, 1, 15), NaiveTime::from_hms_opt(13, 45, 12))
        );
        let (_, time) = parse_date("2024-01-15 13:45", None).unwrap();
        assert_eq!(time, NaiveTime::from_hms_opt(13, 45, 0));
        let (date, time) = parse_date("Monday, Jan 01, 2024 09:41:23 PM GMT-8", None).unwrap();
        assert_eq!(
            (date, time),
            (ymd(2024, 1, 1), NaiveTime::from_hms_opt(21, 41, 23))
        );
        let (_, time) = parse_date("01/15/2024 12:05 AM", Some(DateOrder::MonthFirst)).unwrap();
        assert_eq!(time, NaiveTime::from_hms_opt(0, 5, 0));
    }

    #[test]
    fn rejects_clearly() {
        assert!(matches!(
            parse_date("2024-02-30", None),
            Err(DateError::Invalid(_))
        ));
        assert!(matches!(
            parse_date("45306", None),
            Err(DateError::SerialNumber(_))
        ));
        assert!(matches!(
            parse_date("TOTAL", None),
            Err(DateError::Unrecognised(_))
        ));
        assert!(matches!(
            parse_date("03/04/2024", None),
            Err(DateError::Unrecognised(_))
        ));
        assert!(matches!(
            parse_date("2024-01-15 later", None),
            Err(DateError::Unrecognised(_))
        ));
        assert_eq!(parse_date("04/04/2024", None).unwrap().0, ymd(2024, 4, 4));
    }

    #[test]
    fn order_comes_from_the_whole_file() {
        let mut evidence = DateEvidence::default();
        evidence.observe(2, "03/04/2024");
        assert!(matches!(
            evidence.decide(None),
            OrderDecision::Ambiguous { .. }
        ));
        assert_eq!(
            evidence.decide(Some(DateOrder::MonthFirst)),
            OrderDecision::Settled(Some(DateOrder::MonthFirst))
        );
        evidence.observe(3, "13/04/2024");
        assert_eq!(
            evidence.decide(None),
            OrderDecision::Settled(Some(DateOrder::DayFirst))
        );
        evidence.observe(9, "04/13/2024");
        assert!(matches!(
            evidence.decide(None),
            OrderDecision::Conflicting { .. }
        ));

        let mut dotted = DateEvidence::default();
        dotted.observe(2, "03.04.2024");
        assert_eq!(
            dotted.decide(None),
            OrderDecision::Settled(Some(DateOrder::DayFirst))
        );

        let mut iso = DateEvidence::default();
        iso.observe(2, "2024-03-04");
        assert_eq!(iso.decide(None), OrderDecision::Settled(None));
    }
}
