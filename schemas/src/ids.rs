//! Identifiers: tenants and transactions.
//!
//! A [`TransactionId`] is derived, never random: the same source record imported twice (or by
//! two workers) gets the same id, so every downstream table can dedupe on it.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Errors from identifier validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The tenant id does not follow the allowed form.
    #[error(
        "tenant id `{0}` is invalid: use 1 to 64 characters from a-z, A-Z, 0-9, `-`, `_` and `.`"
    )]
    InvalidTenant(String),
    /// The transaction id does not follow the `tx_` + 32 hex form.
    #[error("transaction id `{0}` is invalid: expected `tx_` followed by 32 lowercase hex digits")]
    InvalidTransaction(String),
}

/// A tenant (one customer company). Validated: 1–64 characters of `[A-Za-z0-9._-]`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    /// Validates and wraps a tenant id.
    pub fn new(id: impl Into<String>) -> Result<Self, IdError> {
        let id = id.into();
        if TenantId::is_valid(&id) {
            Ok(TenantId(id))
        } else {
            Err(IdError::InvalidTenant(id))
        }
    }

    /// Whether `id` is a valid tenant id, without copying it.
    pub fn is_valid(id: &str) -> bool {
        (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TenantId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        TenantId::new(value)
    }
}

impl From<TenantId> for String {
    fn from(value: TenantId) -> Self {
        value.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantId({})", self.0)
    }
}

/// A derived transaction id's text, held on the stack: what [`TransactionId::derive`] wraps.
///
/// Why: an import copies each row's id straight into an Arrow column; a heap `String` per
/// row only to copy it again was one of a dozen allocations per row.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DerivedId([u8; 35]);

impl DerivedId {
    /// Derives the id text from its parts; see [`TransactionId::derive`].
    pub fn new(tenant: &TenantId, source_kind: &str, identity: &[&str]) -> Self {
        // One buffer and one-shot XXH3 (the same digest as streaming the parts): for parts
        // this short the streaming hasher's bookkeeping, and `format!`'s u128 hex, were most
        // of the cost, paid on every imported row. The buffer is on the stack when it fits.
        let parts = || {
            [tenant.as_str(), source_kind]
                .into_iter()
                .chain(identity.iter().copied())
        };
        let fill = |buffer: &mut [u8]| {
            let mut at = 0;
            for part in parts() {
                buffer[at..at + 8].copy_from_slice(&(part.len() as u64).to_le_bytes());
                buffer[at + 8..at + 8 + part.len()].copy_from_slice(part.as_bytes());
                at += 8 + part.len();
            }
        };
        let len = parts().map(|p| 8 + p.len()).sum();
        let digest = if len <= STACK_INPUT {
            let mut input = [0u8; STACK_INPUT];
            fill(&mut input[..len]);
            xxhash_rust::xxh3::xxh3_128(&input[..len])
        } else {
            let mut input = vec![0u8; len];
            fill(&mut input);
            xxhash_rust::xxh3::xxh3_128(&input)
        };
        DerivedId(hex_id(digest))
    }

    /// The id as text: `tx_` and 32 lower-case hex digits.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("an id is ASCII")
    }
}

impl fmt::Debug for DerivedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The longest id input hashed from a stack buffer (the parts and their length prefixes).
const STACK_INPUT: usize = 256;

/// `tx_` and the digest as 32 lower-case hex digits, a byte's two digits at a time.
fn hex_id(digest: u128) -> [u8; 35] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = [0u8; 35];
    id[..3].copy_from_slice(b"tx_");
    for (pair, byte) in id[3..].chunks_exact_mut(2).zip(digest.to_be_bytes()) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 0xf)];
    }
    id
}

/// A stable transaction id: `tx_` followed by the 128-bit XXH3 hash (hex) of the tenant, the
/// source kind and the record's identity within that source.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TransactionId(String);

impl TransactionId {
    /// Derives the id from its parts. `identity` is the source's own id when it has one, or
    /// the row's content (plus its occurrence number) when it has not.
    ///
    /// Parts are length-prefixed before hashing, so `["ab", "c"]` and `["a", "bc"]` differ.
    pub fn derive(tenant: &TenantId, source_kind: &str, identity: &[&str]) -> Self {
        TransactionId(
            DerivedId::new(tenant, source_kind, identity)
                .as_str()
                .to_owned(),
        )
    }

    /// Validates an id received from elsewhere.
    pub fn parse(id: impl Into<String>) -> Result<Self, IdError> {
        let id = id.into();
        if TransactionId::is_valid(&id) {
            Ok(TransactionId(id))
        } else {
            Err(IdError::InvalidTransaction(id))
        }
    }

    /// Whether `id` is `tx_` and 32 lowercase hex digits, without copying it.
    pub fn is_valid(id: &str) -> bool {
        id.len() == 35
            && id.starts_with("tx_")
            && id[3..]
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TransactionId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        TransactionId::parse(value)
    }
}

impl From<TransactionId> for String {
    fn from(value: TransactionId) -> Self {
        value.0
    }
}

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! string_schema {
    ($type:ident, $pattern:literal, $description:literal) => {
        impl JsonSchema for $type {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($type).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "pattern": $pattern,
                    "description": $description
                })
            }
        }
    };
}

string_schema!(
    TenantId,
    "^[A-Za-z0-9._-]{1,64}$",
    "Tenant (customer company) id"
);
string_schema!(
    TransactionId,
    "^tx_[0-9a-f]{32}$",
    "Deterministic transaction id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_validated() {
        assert!(TenantId::new("acme-co_1.eu").is_ok());
        assert!(TenantId::new("").is_err());
        assert!(TenantId::new("a b").is_err());
        assert!(TenantId::new("x".repeat(65)).is_err());
        assert!(serde_json::from_str::<TenantId>("\"bad id\"").is_err());
    }

    #[test]
    fn transaction_ids_never_change() {
        // The derivation as first written (streaming hasher, `format!`): ids are stored, so
        // every later implementation must give the same text.
        fn first(tenant: &TenantId, source_kind: &str, identity: &[&str]) -> String {
            let mut hasher = xxhash_rust::xxh3::Xxh3::new();
            for part in [tenant.as_str(), source_kind].iter().chain(identity.iter()) {
                hasher.update(&(part.len() as u64).to_le_bytes());
                hasher.update(part.as_bytes());
            }
            format!("tx_{:032x}", hasher.digest128())
        }
        let tenant = TenantId::new("acme").unwrap();
        let long = "x".repeat(300);
        // "acme", "csv" and one identity part's length prefixes come to 31 bytes: these two
        // fill the stack buffer exactly and overflow it by one.
        let (fits, overflows) = ("y".repeat(STACK_INPUT - 31), "y".repeat(STACK_INPUT - 30));
        let cases: [&[&str]; 7] = [
            &[],
            &[""],
            &["export.csv", "2024-01-02", "-12.50", "Café Zoë"],
            &["qb-123"],
            &[long.as_str(), "7"],
            &[fits.as_str()],
            &[overflows.as_str()],
        ];
        for identity in cases {
            let id = TransactionId::derive(&tenant, "csv", identity);
            assert_eq!(id.as_str(), first(&tenant, "csv", identity), "{identity:?}");
            assert!(TransactionId::parse(id.as_str()).is_ok());
        }
        let hex = |digest| DerivedId(hex_id(digest)).as_str().to_owned();
        assert_eq!(hex(0xab), format!("tx_{:032x}", 0xab_u128));
        assert_eq!(hex(u128::MAX), format!("tx_{}", "f".repeat(32)));
    }

    #[test]
    fn transaction_ids_are_deterministic_and_separated() {
        let tenant = TenantId::new("acme").unwrap();
        let a = TransactionId::derive(&tenant, "csv", &["ab", "c"]);
        assert_eq!(a, TransactionId::derive(&tenant, "csv", &["ab", "c"]));
        assert_ne!(a, TransactionId::derive(&tenant, "csv", &["a", "bc"]));
        let other = TenantId::new("other").unwrap();
        assert_ne!(a, TransactionId::derive(&other, "csv", &["ab", "c"]));
        assert_eq!(TransactionId::parse(a.as_str()).unwrap(), a);
        assert!(TransactionId::parse("tx_123").is_err());
    }
}
