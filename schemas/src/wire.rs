//! JSON wire encoding of canonical records.
//!
//! One transaction is one JSON object (newline-delimited when streamed). Money is an exact
//! decimal string with its currency (`{"amount": "12.34", "currency": "USD"}`), dates are
//! `YYYY-MM-DD`, times `HH:MM:SS`, timestamps RFC 3339 in UTC. Unknown fields are rejected, so
//! a producer and consumer that disagree on the layout fail loudly instead of dropping data.
//! [`transaction_json_schema`] is the JSON Schema of exactly this encoding.

use crate::Transaction;

/// Errors from decoding wire records.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The bytes are not a canonical transaction.
    #[error("not a canonical transaction: {0}")]
    Decode(#[from] serde_json::Error),
    /// The record decoded but breaks an invariant.
    #[error(transparent)]
    Invalid(#[from] crate::TransactionError),
}

/// Encodes a transaction as one line of JSON (no trailing newline).
pub fn encode_transaction(tx: &Transaction) -> Vec<u8> {
    // Serialising these types cannot fail: every field is a plain value or string.
    serde_json::to_vec(tx).unwrap_or_default()
}

/// Decodes and validates one JSON transaction.
pub fn decode_transaction(bytes: &[u8]) -> Result<Transaction, WireError> {
    let tx: Transaction = serde_json::from_slice(bytes)?;
    tx.validate()?;
    Ok(tx)
}

/// The JSON Schema (draft 2020-12) of the transaction wire encoding, pretty-printed.
pub fn transaction_json_schema() -> String {
    let schema = schemars::schema_for!(Transaction);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
