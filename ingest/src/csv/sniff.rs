//! Finding a file's text encoding and delimiter before any row is read.
//!
//! Encoding: a byte-order mark decides (UTF-8, UTF-16 LE/BE); without one, the whole file is
//! checked for valid UTF-8 in a streaming pass (cheap: gigabytes per second), and a file that
//! is not valid UTF-8 is read as Windows-1252, the superset of Latin-1 that spreadsheet
//! programs write. Delimiter: `,` `;` tab and `|` are each tried on a sample, and the one that
//! splits most rows into the same number of fields wins.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

/// A supported text encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TextEncoding {
    /// UTF-8 without a byte-order mark.
    Utf8,
    /// UTF-8 with a byte-order mark.
    Utf8Bom,
    /// UTF-16 little-endian with a byte-order mark.
    Utf16Le,
    /// UTF-16 big-endian with a byte-order mark.
    Utf16Be,
    /// Windows-1252 (also read for ISO-8859-1/Latin-1).
    Windows1252,
}

/// Detects the encoding of a file.
pub fn detect_encoding(path: &Path) -> io::Result<TextEncoding> {
    let mut file = File::open(path)?;
    let mut head = [0u8; 3];
    let read = read_up_to(&mut file, &mut head)?;
    match &head[..read] {
        [0xEF, 0xBB, 0xBF] => return Ok(TextEncoding::Utf8Bom),
        [0xFF, 0xFE, ..] => return Ok(TextEncoding::Utf16Le),
        [0xFE, 0xFF, ..] => return Ok(TextEncoding::Utf16Be),
        _ => {}
    }
    let file = File::open(path)?;
    Ok(if is_valid_utf8(file)? {
        TextEncoding::Utf8
    } else {
        TextEncoding::Windows1252
    })
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Streams a reader through a UTF-8 validator, carrying partial characters across chunks.
fn is_valid_utf8(mut reader: impl Read) -> io::Result<bool> {
    let mut buf = vec![0u8; 1 << 16];
    let mut carried = 0;
    loop {
        let read = reader.read(&mut buf[carried..])?;
        if read == 0 {
            return Ok(carried == 0);
        }
        let filled = carried + read;
        match std::str::from_utf8(&buf[..filled]) {
            Ok(_) => carried = 0,
            // `error_len() == None`: the chunk ends inside a character; carry its bytes over.
            Err(e) if e.error_len().is_none() => {
                let valid = e.valid_up_to();
                buf.copy_within(valid..filled, 0);
                carried = filled - valid;
            }
            Err(_) => return Ok(false),
        }
    }
}

/// Opens a file as a UTF-8 byte stream, transcoding when needed and dropping any BOM.
pub fn open_utf8(path: &Path, encoding: TextEncoding) -> io::Result<Box<dyn Read + Send>> {
    let mut file = File::open(path)?;
    Ok(match encoding {
        TextEncoding::Utf8 => Box::new(file),
        TextEncoding::Utf8Bom => {
            let mut bom = [0u8; 3];
            read_up_to(&mut file, &mut bom)?;
            Box::new(file)
        }
        TextEncoding::Utf16Le => transcode(file, encoding_rs::UTF_16LE),
        TextEncoding::Utf16Be => transcode(file, encoding_rs::UTF_16BE),
        TextEncoding::Windows1252 => transcode(file, encoding_rs::WINDOWS_1252),
    })
}

fn transcode(file: File, encoding: &'static encoding_rs::Encoding) -> Box<dyn Read + Send> {
    Box::new(
        encoding_rs_io::DecodeReaderBytesBuilder::new()
            .encoding(Some(encoding))
            .bom_override(true)
            .strip_bom(true)
            .build(BufReader::with_capacity(1 << 16, file)),
    )
}

/// Reads up to `limit` bytes of already-decoded text for sniffing.
pub fn sample(mut reader: impl Read, limit: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; limit];
    let read = read_up_to(&mut reader, &mut buf)?;
    buf.truncate(read);
    Ok(buf)
}

/// Picks the delimiter that splits the most sample rows into one consistent field count.
pub fn detect_delimiter(sample: &[u8]) -> u8 {
    let mut best = (b',', 0usize, 0usize);
    for delimiter in [b',', b';', b'\t', b'|'] {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(sample);
        let mut counts = std::collections::HashMap::<usize, usize>::new();
        for record in reader.byte_records().take(100) {
            let Ok(record) = record else { break };
            if record.len() > 1 {
                *counts.entry(record.len()).or_default() += 1;
            }
        }
        if let Some((&fields, &rows)) = counts
            .iter()
            .max_by_key(|(fields, rows)| (**rows, **fields))
            && (rows > best.1 || (rows == best.1 && fields > best.2))
        {
            best = (delimiter, rows, fields);
        }
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(bytes).unwrap();
        file
    }

    fn decoded(bytes: &[u8]) -> String {
        let file = write(bytes);
        let encoding = detect_encoding(file.path()).unwrap();
        let mut text = String::new();
        open_utf8(file.path(), encoding)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    #[test]
    fn encodings() {
        assert_eq!(decoded("Café,1".as_bytes()), "Café,1");
        assert_eq!(decoded(b"\xEF\xBB\xBFCaf\xC3\xA9,1"), "Café,1");
        assert_eq!(decoded(b"Caf\xE9,\x801"), "Café,€1");
        let utf16le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("Café,1".encode_utf16().flat_map(|u| u.to_le_bytes()))
            .collect();
        assert_eq!(decoded(&utf16le), "Café,1");
        let utf16be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain("Café,1".encode_utf16().flat_map(|u| u.to_be_bytes()))
            .collect();
        assert_eq!(decoded(&utf16be), "Café,1");
    }

    #[test]
    fn utf8_validation_spans_chunks() {
        let mut text = "a".repeat((1 << 16) - 1);
        text.push('é');
        assert!(is_valid_utf8(text.as_bytes()).unwrap());
        let mut bad = text.into_bytes();
        bad.push(0xFF);
        assert!(!is_valid_utf8(&bad[..]).unwrap());
    }

    #[test]
    fn delimiters() {
        assert_eq!(
            detect_delimiter(b"Date;Amount;Note\n01.02.2024;1,50;a,b\n"),
            b';'
        );
        assert_eq!(detect_delimiter(b"Date\tAmount\n2024-01-01\t1.50\n"), b'\t');
        assert_eq!(
            detect_delimiter(b"Date|Amount|x\n2024-01-01|1.50|y\n"),
            b'|'
        );
        assert_eq!(
            detect_delimiter(b"Title\n\nDate,Amount\n2024-01-01,\"1,50\"\n"),
            b','
        );
    }
}
