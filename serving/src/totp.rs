//! Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP): HMAC-SHA1, 6 digits,
//! 30-second steps — the parameters every authenticator app supports.
//!
//! Codes from one step before or after now are accepted (clock drift), and a code is
//! accepted at most once: the caller stores the step of the last accepted code and passes it
//! back, so an observed code cannot be replayed within its window.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// Seconds per step.
pub const STEP_SECONDS: i64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Issuer shown in authenticator apps.
pub const ISSUER: &str = "Verocta";

/// The HOTP value of `secret` at `counter` (RFC 4226 section 5.3).
pub fn hotp(secret: &[u8], counter: u64) -> u32 {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        return 0;
    };
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary = (u32::from(digest[offset]) & 0x7f) << 24
        | u32::from(digest[offset + 1]) << 16
        | u32::from(digest[offset + 2]) << 8
        | u32::from(digest[offset + 3]);
    binary % 10u32.pow(DIGITS)
}

/// The step containing Unix time `seconds`.
pub fn step_at(seconds: i64) -> i64 {
    seconds.div_euclid(STEP_SECONDS)
}

/// The code for `secret` at Unix time `seconds`, zero-padded.
pub fn code_at(secret: &[u8], seconds: i64) -> String {
    let step = u64::try_from(step_at(seconds)).unwrap_or(0);
    format!("{:0width$}", hotp(secret, step), width = DIGITS as usize)
}

/// Checks `code` at Unix time `now` (±1 step), refusing steps at or before
/// `last_used_step`. Returns the matching step, to be stored as the new last used step.
pub fn verify(secret: &[u8], code: &str, now: i64, last_used_step: Option<i64>) -> Option<i64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let current = step_at(now);
    (current - 1..=current + 1)
        .filter(|step| last_used_step.is_none_or(|last| *step > last))
        .find(|step| {
            let expected = code_at(secret, step * STEP_SECONDS);
            bool::from(expected.as_bytes().ct_eq(code.as_bytes()))
        })
}

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding, as authenticator apps expect secrets.
pub fn base32(bytes: &[u8]) -> String {
    let mut output = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for byte in bytes {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            output.push(char::from(
                BASE32_ALPHABET[((buffer >> bits) & 31) as usize],
            ));
        }
    }
    if bits > 0 {
        output.push(char::from(
            BASE32_ALPHABET[((buffer << (5 - bits)) & 31) as usize],
        ));
    }
    output
}

/// The `otpauth://` URI an authenticator app reads from a QR code.
pub fn otpauth_uri(secret: &[u8], account: &str) -> String {
    format!(
        "otpauth://totp/{ISSUER}:{account}?secret={secret}&issuer={ISSUER}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        account = percent_encode(account),
        secret = base32(secret),
    )
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'@') {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 key, truncated to 6 digits.
    #[test]
    fn matches_rfc_6238_vectors() {
        let secret = b"12345678901234567890";
        for (time, expected) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(code_at(secret, time), expected, "time {time}");
        }
    }

    #[test]
    fn accepts_drift_and_refuses_replay() {
        let secret = b"12345678901234567890";
        let now = 1_111_111_111;
        let code = code_at(secret, now - STEP_SECONDS);
        let step = verify(secret, &code, now, None).unwrap();
        assert_eq!(step, step_at(now) - 1);
        assert_eq!(verify(secret, &code, now, Some(step)), None);
        assert_eq!(verify(secret, "12345", now, None), None);
        assert_eq!(verify(secret, &code, now + 10 * STEP_SECONDS, None), None);
    }

    #[test]
    fn base32_matches_rfc_4648() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
        assert!(otpauth_uri(b"12345", "a b@x.io").contains("a%20b@x.io"));
    }
}
