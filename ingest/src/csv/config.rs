//! Configuration of a CSV import: raw options as the user gives them, validated into
//! [`CsvImportConfig`] without I/O (the mapping file is the one thing read, by its caller).

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use verocta_schemas::{Currency, TenantId};

use super::amount::DecimalSeparator;
use super::date::DateOrder;
use super::layout::{AmountSign, Layout};
use super::parallel::Parallelism;

/// A user mistake in the import configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Bad tenant id.
    #[error(transparent)]
    Tenant(#[from] verocta_schemas::IdError),
    /// Unknown `--format`.
    #[error("unknown format `{0}`; use auto or one of: {known}", known = Layout::ALL.iter().map(|l| l.name()).collect::<Vec<_>>().join(", "))]
    Format(String),
    /// Unknown currency.
    #[error("--currency: {0}")]
    Currency(#[from] verocta_schemas::MoneyError),
    /// The mapping file could not be read.
    #[error("cannot read mapping file {path}: {source}")]
    MappingIo {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The mapping file is not valid.
    #[error("mapping file {path}: {problem}")]
    Mapping {
        /// The file.
        path: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
}

/// An explicit column mapping (JSON file), overriding layout detection. Values are header
/// names as written in the file (compared case-insensitively).
///
/// ```json
/// { "date": "Posted", "amount": "Value", "vendor": "Payee", "amount_sign": "spend-negative" }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnMapping {
    /// Transaction date column (required).
    pub date: String,
    /// Signed amount column; or use `debit` and/or `credit`.
    pub amount: Option<String>,
    /// Money-out column (positive numbers).
    pub debit: Option<String>,
    /// Money-in column (positive numbers).
    pub credit: Option<String>,
    /// Currency code column.
    pub currency: Option<String>,
    /// Vendor / merchant / payee column.
    pub vendor: Option<String>,
    /// Description column.
    pub description: Option<String>,
    /// Memo / notes column.
    pub memo: Option<String>,
    /// Category column.
    pub category: Option<String>,
    /// Account column.
    pub account: Option<String>,
    /// Transaction type column.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// State / status column.
    pub state: Option<String>,
    /// The source's own transaction id column.
    pub id: Option<String>,
    /// Payment method column.
    pub payment_method: Option<String>,
    /// Card number / last four column.
    pub card: Option<String>,
    /// Employee / cardholder column.
    pub employee: Option<String>,
    /// Department / class column.
    pub department: Option<String>,
    /// How the sign of `amount` relates to spend; inferred from the file when absent.
    pub amount_sign: Option<AmountSign>,
}

impl ColumnMapping {
    /// Reads and validates a mapping file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::MappingIo {
            path: path.display().to_string(),
            source,
        })?;
        let mapping: ColumnMapping = serde_json::from_str(&text).map_err(|e| ConfigError::Mapping {
            path: path.display().to_string(),
            problem: format!("{e} (fields: date, amount, debit, credit, currency, vendor, description, memo, category, account, type, state, id, payment_method, card, employee, department, amount_sign)"),
        })?;
        mapping.validate().map_err(|problem| ConfigError::Mapping {
            path: path.display().to_string(),
            problem,
        })?;
        Ok(mapping)
    }

    /// Checks that the mapping names enough columns to read money.
    pub fn validate(&self) -> Result<(), String> {
        if self.date.trim().is_empty() {
            return Err("`date` must name the date column".into());
        }
        if self.amount.is_none() && self.debit.is_none() && self.credit.is_none() {
            return Err("name an `amount` column, or `debit` and/or `credit` columns".into());
        }
        if self.amount.is_some() && (self.debit.is_some() || self.credit.is_some()) {
            return Err("use either `amount` or `debit`/`credit`, not both".into());
        }
        Ok(())
    }
}

/// Options as given on the command line or by the API.
#[derive(Clone, Debug, Default)]
pub struct RawImportOptions {
    /// Tenant id.
    pub tenant: String,
    /// `auto` or a layout name.
    pub format: Option<String>,
    /// `--day-first` / `--month-first`.
    pub date_order: Option<DateOrder>,
    /// Default currency for files that state none (USD when absent).
    pub currency: Option<String>,
    /// Explicit column mapping.
    pub mapping: Option<ColumnMapping>,
    /// Override of the amount sign convention.
    pub amount_sign: Option<AmountSign>,
    /// Override of the decimal separator.
    pub decimal: Option<DecimalSeparator>,
}

/// A validated import configuration.
#[derive(Clone, Debug)]
pub struct CsvImportConfig {
    /// Owning tenant.
    pub tenant: TenantId,
    /// Forced layout; `None` detects it.
    pub format: Option<Layout>,
    /// Stated day/month order.
    pub date_order: Option<DateOrder>,
    /// Currency for amounts that state none.
    pub default_currency: Currency,
    /// Explicit column mapping.
    pub mapping: Option<ColumnMapping>,
    /// Stated amount sign convention.
    pub amount_sign: Option<AmountSign>,
    /// Stated decimal separator.
    pub decimal: Option<DecimalSeparator>,
    /// Ingestion timestamp stamped on every transaction.
    pub ingested_at: DateTime<Utc>,
    /// Threads for reading rows; the outcomes do not depend on it. One per core by default.
    pub parallelism: Parallelism,
}

impl RawImportOptions {
    /// Validates the options.
    pub fn validate(self) -> Result<CsvImportConfig, ConfigError> {
        let format = match self.format.as_deref() {
            None | Some("auto") => None,
            Some(name) => {
                Some(Layout::from_name(name).ok_or_else(|| ConfigError::Format(name.to_string()))?)
            }
        };
        let default_currency = match &self.currency {
            Some(code) => Currency::new(code)?,
            None => Currency::USD,
        };
        Ok(CsvImportConfig {
            tenant: TenantId::new(self.tenant)?,
            format,
            date_order: self.date_order,
            default_currency,
            amount_sign: self
                .amount_sign
                .or(self.mapping.as_ref().and_then(|m| m.amount_sign)),
            mapping: self.mapping,
            decimal: self.decimal,
            ingested_at: Utc::now(),
            parallelism: Parallelism::available(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_options() {
        let ok = RawImportOptions {
            tenant: "acme".into(),
            format: Some("wave".into()),
            currency: Some("gbp".into()),
            ..Default::default()
        };
        let config = ok.validate().unwrap();
        assert_eq!(config.format, Some(Layout::Wave));
        assert_eq!(config.default_currency.code(), "GBP");
        let bad = RawImportOptions {
            tenant: "acme".into(),
            format: Some("excel".into()),
            ..Default::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("quickbooks-report")
        );
        assert!(
            RawImportOptions {
                tenant: "a b".into(),
                ..Default::default()
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn mapping_rejects_unknown_fields_and_missing_money() {
        assert!(
            serde_json::from_str::<ColumnMapping>(r#"{"date":"D","amount":"A","colour":"x"}"#)
                .is_err()
        );
        let mapping: ColumnMapping = serde_json::from_str(r#"{"date":"D"}"#).unwrap();
        assert!(mapping.validate().is_err());
        let mapping: ColumnMapping = serde_json::from_str(
            r#"{"date":"D","debit":"Out","credit":"In","amount_sign":"spend-negative"}"#,
        )
        .unwrap();
        assert!(mapping.validate().is_ok());
    }
}
