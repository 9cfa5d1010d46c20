//! Splitting a CSV stream into records: what `csv::Reader` did for the connector, with fewer
//! instructions (the splitting thread's 1.84 G → 1.26 G on the 10 MB benchmark export, open
//! plus three imports, by callgrind).
//!
//! Why: both passes run the splitter on one thread (quoting makes record boundaries a
//! sequential question), so its speed bounds pass 1 outright and takes a core's share from
//! pass 2's workers. `csv_core` steps a state machine byte by byte; this reader jumps between
//! delimiters, quotes and newlines with `memchr` and checks UTF-8 once per record.
//!
//! **The records are exactly `csv::Reader`'s** with the connector's settings (`"` quotes,
//! doubled quotes inside quoted fields, no escape character, `\n` as the only terminator so a
//! `\r` stays in its field, flexible field counts, and a final newline appended to the input),
//! and so are the lines they start on; a property test checks both on arbitrary input. In
//! `csv_core`'s terms:
//! - newlines at the start of a record are skipped (a blank line is no record);
//! - a field that starts with `"` is quoted: `""` inside it is one `"`, and the first lone
//!   `"` closes it; anything after the closing quote up to the next delimiter or newline is
//!   kept literally;
//! - a field that does not start with `"` runs to the next delimiter or newline, quotes and all;
//! - at the end of input an open field (an unterminated quote) ends the record.
//!
//! Invalid UTF-8 fails the read with the line it is on, as `csv::Reader` failed it.

use std::io::{self, Read};

/// Bytes read from the input at a time; a record longer than this grows the buffer.
const READ_SIZE: usize = 1 << 18;

/// One field's place in the buffer, relative to its record's first byte.
#[derive(Clone, Copy, Debug)]
struct FieldSpan {
    /// The field's text, without its quotes when quoted.
    start: usize,
    end: usize,
    /// Quoted and holding `""` pairs, each of which stands for one `"`.
    doubled_quotes: bool,
    /// Text after a closing quote, kept as written: `tail_start..tail_end`.
    tail_start: usize,
    tail_end: usize,
}

impl FieldSpan {
    /// Whether the field's text is one unbroken slice of the record.
    fn is_plain(&self) -> bool {
        !self.doubled_quotes && self.tail_start == self.tail_end
    }

    fn plain(start: usize, end: usize) -> Self {
        FieldSpan {
            start,
            end,
            doubled_quotes: false,
            tail_start: end,
            tail_end: end,
        }
    }
}

/// One record's fields: the record's own text in one buffer and each field's place in it.
///
/// Why not `csv::StringRecord`: it copies each field into its buffer one by one (~60
/// instructions a field, and every record is read twice); this copies the record once, with
/// its delimiters, and only a quoted field with `""` pairs or text after its closing quote
/// gets its own copy, after the record.
#[derive(Clone, Debug, Default)]
pub(crate) struct Record {
    text: String,
    /// Each field's byte range in `text`.
    bounds: Vec<(usize, usize)>,
}

impl Record {
    /// How many fields the record has.
    pub(crate) fn len(&self) -> usize {
        self.bounds.len()
    }

    /// The text of field `index`.
    pub(crate) fn get(&self, index: usize) -> Option<&str> {
        let &(start, end) = self.bounds.get(index)?;
        self.text.get(start..end)
    }

    /// The fields' texts, in order.
    pub(crate) fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.bounds
            .iter()
            .map(|&(start, end)| &self.text[start..end])
    }

    /// An empty record with room for `bytes` of text in `fields` fields.
    pub(crate) fn with_capacity(bytes: usize, fields: usize) -> Self {
        Record {
            text: String::with_capacity(bytes),
            bounds: Vec::with_capacity(fields),
        }
    }

    fn clear(&mut self) {
        self.text.clear();
        self.bounds.clear();
    }

    /// Appends a field by copying its text.
    fn push_field(&mut self, field: &str) {
        let start = self.text.len();
        self.text.push_str(field);
        self.bounds.push((start, self.text.len()));
    }
}

#[cfg(test)]
impl<'a> FromIterator<&'a str> for Record {
    fn from_iter<I: IntoIterator<Item = &'a str>>(fields: I) -> Self {
        let mut record = Record::default();
        for field in fields {
            record.push_field(field);
        }
        record
    }
}

/// A record reader over a UTF-8 byte stream; see the module documentation.
pub(crate) struct RecordReader {
    input: Box<dyn Read + Send>,
    delimiter: u8,
    buf: Vec<u8>,
    /// The next unread byte of `buf`.
    pos: usize,
    /// `buf[..filled]` holds input.
    filled: usize,
    /// The input has ended (and its final newline was added to `buf`).
    eof: bool,
    /// The 1-based line of `buf[pos]`.
    line: u64,
    /// The line the last record read starts on.
    record_line: u64,
    fields: Vec<FieldSpan>,
    /// A quoted field's text with its `""` pairs made single, and its tail.
    unquoted: Vec<u8>,
}

impl RecordReader {
    pub(crate) fn new(input: Box<dyn Read + Send>, delimiter: u8) -> Self {
        RecordReader {
            input,
            delimiter,
            buf: vec![0; READ_SIZE],
            pos: 0,
            filled: 0,
            eof: false,
            line: 1,
            record_line: 1,
            fields: Vec::new(),
            unquoted: Vec::new(),
        }
    }

    /// The 1-based physical line the record read last starts on.
    pub(crate) fn record_line(&self) -> u64 {
        self.record_line
    }

    /// Reads the next record into `record`; `false` at the end of input.
    pub(crate) fn read_record(&mut self, record: &mut Record) -> Result<bool, csv::Error> {
        loop {
            // Newlines before a record are blank lines, not records.
            while self.pos < self.filled && self.buf[self.pos] == b'\n' {
                self.pos += 1;
                self.line += 1;
            }
            if self.pos == self.filled {
                if self.eof {
                    return Ok(false);
                }
                self.fill()?;
                continue;
            }
            let data = &self.buf[self.pos..self.filled];
            let Some((len, newlines)) =
                split_record(data, self.eof, self.delimiter, &mut self.fields)
            else {
                self.fill()?;
                continue;
            };
            // The record is consumed even when it fails, as `csv::Reader` consumes it.
            self.record_line = self.line;
            self.line += newlines;
            self.pos += len;
            let raw = &data[..len];
            // One check for the whole record; a field is checked alone only when the record
            // is not valid as a whole (removing a quote can join a split character).
            let whole = std::str::from_utf8(raw).ok();
            let invalid = |at: usize| {
                let line = self.record_line + count_newlines(&raw[..at]);
                csv::Error::from(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "invalid UTF-8 on line {line}: the file is not valid UTF-8 throughout; \
                         re-save it as UTF-8"
                    ),
                ))
            };
            record.clear();
            // Sized once: a fresh record (a chunk's records start empty) would otherwise grow
            // field by field.
            record.text.reserve(raw.len());
            record.bounds.reserve(self.fields.len());
            if let Some(text) = whole {
                record.text.push_str(text);
            }
            for field in &self.fields {
                if field.is_plain() {
                    match whole {
                        Some(_) => record.bounds.push((field.start, field.end)),
                        None => record.push_field(
                            std::str::from_utf8(&raw[field.start..field.end])
                                .map_err(|_| invalid(field.start))?,
                        ),
                    }
                    continue;
                }
                self.unquoted.clear();
                let quoted = &raw[field.start..field.end];
                if field.doubled_quotes {
                    for (i, part) in quoted.split(|&b| b == b'"').enumerate() {
                        // Every quote inside is one of a pair: keep one of each pair.
                        if i % 2 == 1 {
                            self.unquoted.push(b'"');
                        }
                        self.unquoted.extend_from_slice(part);
                    }
                } else {
                    self.unquoted.extend_from_slice(quoted);
                }
                self.unquoted
                    .extend_from_slice(&raw[field.tail_start..field.tail_end]);
                let text = std::str::from_utf8(&self.unquoted).map_err(|_| invalid(field.start))?;
                record.push_field(text);
            }
            return Ok(true);
        }
    }

    /// Moves the unread bytes to the front and reads more input after them, growing the
    /// buffer when one record fills it. At the end of input, appends the final newline.
    fn fill(&mut self) -> Result<(), csv::Error> {
        self.buf.copy_within(self.pos..self.filled, 0);
        self.filled -= self.pos;
        self.pos = 0;
        if self.buf.len() - self.filled < READ_SIZE / 2 {
            self.buf.resize(self.filled + READ_SIZE, 0);
        }
        loop {
            match self.input.read(&mut self.buf[self.filled..]) {
                Ok(0) => {
                    self.buf[self.filled] = b'\n';
                    self.filled += 1;
                    self.eof = true;
                    return Ok(());
                }
                Ok(read) => {
                    self.filled += read;
                    return Ok(());
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error.into()),
            }
        }
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

/// Splits the record at the start of `data` (which does not start with a newline) into
/// `fields`; returns its length including its terminating newline and the newlines in it, or
/// `None` when `data` ends inside it and more input may follow (`!eof`).
fn split_record(
    data: &[u8],
    eof: bool,
    delimiter: u8,
    fields: &mut Vec<FieldSpan>,
) -> Option<(usize, u64)> {
    fields.clear();
    // Only quoted fields hold newlines; counted there rather than over the whole record.
    let mut newlines = 0;
    let mut at = 0;
    loop {
        if at == data.len() {
            // Only after a delimiter at the very end of the input: an empty last field.
            if !eof {
                return None;
            }
            fields.push(FieldSpan::plain(at, at));
            return Some((at, newlines));
        }
        let (field, end) = if data[at] == b'"' {
            let (field, end) = quoted_field(data, at, eof, delimiter)?;
            newlines += count_newlines(&data[field.start..field.end]);
            let Some(end) = end else {
                fields.push(field);
                return Some((data.len(), newlines));
            };
            (field, end)
        } else {
            match memchr::memchr2(delimiter, b'\n', &data[at..]) {
                Some(i) => (FieldSpan::plain(at, at + i), at + i),
                None if eof => {
                    fields.push(FieldSpan::plain(at, data.len()));
                    return Some((data.len(), newlines));
                }
                None => return None,
            }
        };
        fields.push(field);
        // `end` is a delimiter or a newline.
        if data[end] == b'\n' {
            return Some((end + 1, newlines + 1));
        }
        at = end + 1;
    }
}

/// The quoted field whose opening quote is `data[open]`, and the index of the delimiter or
/// newline that ends it (`None`: the input ended inside it, an unterminated quote); `None`
/// when `data` ends inside it and more input may follow.
fn quoted_field(
    data: &[u8],
    open: usize,
    eof: bool,
    delimiter: u8,
) -> Option<(FieldSpan, Option<usize>)> {
    let start = open + 1;
    let mut search = start;
    let mut doubled_quotes = false;
    loop {
        let Some(i) = memchr::memchr(b'"', &data[search..]) else {
            if !eof {
                return None;
            }
            let field = FieldSpan {
                doubled_quotes,
                ..FieldSpan::plain(start, data.len())
            };
            return Some((field, None));
        };
        let quote = search + i;
        match data.get(quote + 1) {
            Some(b'"') => {
                doubled_quotes = true;
                search = quote + 2;
            }
            None if !eof => return None,
            next => {
                let tail_start = quote + 1;
                let field = |tail_end| FieldSpan {
                    start,
                    end: quote,
                    doubled_quotes,
                    tail_start,
                    tail_end,
                };
                if next.is_none() {
                    return Some((field(tail_start), None));
                }
                return match memchr::memchr2(delimiter, b'\n', &data[tail_start..]) {
                    Some(j) => Some((field(tail_start + j), Some(tail_start + j))),
                    None if eof => Some((field(data.len()), None)),
                    None => None,
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use csv::StringRecord;
    use proptest::prelude::*;

    use super::*;

    /// What the connector read with before: `csv::Reader` with its settings.
    fn csv_crate(input: &[u8], delimiter: u8) -> Result<Vec<(u64, Vec<String>)>, ()> {
        let chained = input.chain(&b"\n"[..]);
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_reader(chained);
        let mut whole = input.to_vec();
        whole.push(b'\n');
        let mut out = Vec::new();
        let mut record = StringRecord::new();
        let mut previous_end = 0;
        loop {
            match reader.read_record(&mut record) {
                Ok(false) => return Ok(out),
                Ok(true) => {
                    // The record starts at the first byte after the previous one that is not
                    // a (skipped) newline; its line is one more than the newlines above it.
                    let start = (previous_end..whole.len())
                        .find(|&i| whole[i] != b'\n')
                        .unwrap_or(whole.len());
                    let line = 1 + count_newlines(&whole[..start]);
                    previous_end = reader.position().byte() as usize;
                    out.push((line, record.iter().map(str::to_string).collect()));
                }
                Err(_) => return Err(()),
            }
        }
    }

    fn ours(input: &[u8], delimiter: u8, read_size: usize) -> Result<Vec<(u64, Vec<String>)>, ()> {
        let mut reader = RecordReader::new(
            Box::new(Trickle {
                data: input.to_vec(),
                at: 0,
                step: read_size,
            }),
            delimiter,
        );
        let mut out = Vec::new();
        let mut record = Record::default();
        loop {
            match reader.read_record(&mut record) {
                Ok(false) => return Ok(out),
                Ok(true) => out.push((
                    reader.record_line(),
                    record.iter().map(str::to_string).collect(),
                )),
                Err(_) => return Err(()),
            }
        }
    }

    /// A reader that hands out at most `step` bytes a call, so records straddle reads.
    struct Trickle {
        data: Vec<u8>,
        at: usize,
        step: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    #[test]
    fn quoting_edge_cases_match_the_csv_crate() {
        let cases: &[&str] = &[
            "",
            "\n\n\n",
            "a,b,c",
            "a,b,c\n1,2,3\n",
            "a,,\n,\n,,,\n",
            "\"a,b\",\"c\nd\",e\n",
            "\"a\"\"b\",\"\"\"\",\"\"\n",
            "\"ab\"cd,e\n",
            "\"ab\"\"\n",
            "\"unterminated,x\ny\n",
            "a\"b,c\"d\"\n",
            "\r\n\r\na,b\r\n",
            "x,\"\"\n\"\",\n",
            "\"a\"\n\n\n\"b\nc\"\n",
            "é,ü\n\"ß\"\"€\",x\n",
            "a,b,",
            "\"",
            "\"\"",
            "\"\"\"",
        ];
        for case in cases {
            for step in [1, 2, 3, 7, READ_SIZE] {
                assert_eq!(
                    ours(case.as_bytes(), b',', step),
                    csv_crate(case.as_bytes(), b','),
                    "{case:?} read {step} bytes at a time"
                );
            }
        }
        // Found by the property test: a blank line then an unterminated quote; a character
        // split by a closing quote (valid once the quote is gone); a lone continuation byte.
        let bytes: &[&[u8]] = &[b"\n\"", b"\"\xc3\"\xa9", b"a,\xa9\n", b"\"\xc3\"\"\xa9\""];
        for case in bytes {
            for step in [1, 2, READ_SIZE] {
                assert_eq!(
                    ours(case, b',', step),
                    csv_crate(case, b','),
                    "{case:?} read {step} bytes at a time"
                );
            }
        }
    }

    #[test]
    fn invalid_utf8_fails_with_its_line() {
        let mut reader = RecordReader::new(Box::new(&b"a,b\nc,\xe9\n"[..]), b',');
        let mut record = Record::default();
        assert!(reader.read_record(&mut record).unwrap());
        let error = reader.read_record(&mut record).unwrap_err().to_string();
        assert!(error.contains("UTF-8 on line 2"), "{error}");
    }

    #[test]
    fn a_record_longer_than_the_buffer_is_read_whole() {
        let long = "x".repeat(3 * READ_SIZE);
        let input = format!("a,\"{long}\n{long}\",b\nc\n");
        assert_eq!(
            ours(input.as_bytes(), b',', READ_SIZE),
            csv_crate(input.as_bytes(), b',')
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn records_and_lines_match_the_csv_crate(
            bytes in proptest::collection::vec(
                prop_oneof![
                    Just(b'"'), Just(b','), Just(b';'), Just(b'\n'), Just(b'\r'),
                    Just(b'a'), Just(b' '), Just(0xc3), Just(0xa9),
                ],
                0..80,
            ),
            delimiter in prop_oneof![Just(b','), Just(b';')],
            step in 1usize..9,
        ) {
            prop_assert_eq!(ours(&bytes, delimiter, step), csv_crate(&bytes, delimiter));
        }
    }
}
