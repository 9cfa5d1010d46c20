//! Canonical Verocta records, their Arrow schemas and their wire encoding.
//!
//! Every other crate speaks these types: connectors produce [`Transaction`]s, pipelines move
//! them as Arrow batches ([`arrow`]) or JSON ([`wire`]), and the lakehouse stores them. This
//! crate does no I/O and depends on no other Verocta crate, so any consumer (including
//! other-language ones, through the exported JSON Schema in `schemas/transaction.schema.json`)
//! can rely on it alone.
//!
//! Guarantees: money is exact ([`Money`], integer minor units); ids are deterministic
//! ([`TransactionId::derive`]); Arrow and JSON encodings round-trip losslessly (tested).

pub mod anomaly;
pub mod arrow;
pub mod category;
pub mod forecast;
pub mod ids;
pub mod money;
pub mod score;
pub mod transaction;
pub mod view;
pub mod wire;

pub use anomaly::{Anomaly, Severity, SubjectKind};
pub use category::Category;
pub use forecast::Forecast;
pub use ids::{DerivedId, IdError, TenantId, TransactionId};
pub use money::{Currency, Money, MoneyError, format_minor};
pub use score::{SCORE_METRICS, ScoreMetric, SpendScore};
pub use transaction::{
    Exclusion, ExclusionReason, SourceKind, SourceRef, TRANSACTION_SCHEMA_VERSION, Transaction,
    TransactionClass, TransactionError,
};
