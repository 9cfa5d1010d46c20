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
        let valid = (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if valid {
            Ok(TenantId(id))
        } else {
            Err(IdError::InvalidTenant(id))
        }
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
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        for part in [tenant.as_str(), source_kind].iter().chain(identity.iter()) {
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        TransactionId(format!("tx_{:032x}", hasher.digest128()))
    }

    /// Validates an id received from elsewhere.
    pub fn parse(id: impl Into<String>) -> Result<Self, IdError> {
        let id = id.into();
        let valid = id.len() == 35
            && id.starts_with("tx_")
            && id[3..]
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if valid {
            Ok(TransactionId(id))
        } else {
            Err(IdError::InvalidTransaction(id))
        }
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
