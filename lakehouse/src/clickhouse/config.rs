//! ClickHouse connection and sink settings, validated before anything connects.

use serde::Deserialize;

use super::ClickHouseError;

/// Where ClickHouse is and how the sink writes to it. Deserializes from a config file with
/// unknown keys rejected, so a typo never silently falls back to a default.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ClickHouseConfig {
    /// HTTP interface, e.g. `http://127.0.0.1:8123`.
    pub url: String,
    /// Database holding Verocta's tables (created by `verocta clickhouse migrate`).
    pub database: String,
    /// User the pipeline writes as.
    pub user: String,
    /// Its password, if any.
    pub password: Option<String>,
    /// Rows per insert at most.
    pub batch_rows: usize,
    /// How long a partial batch may wait before it is inserted.
    pub linger_ms: u64,
    /// How often the pipeline's sink refreshes the rollups of everything inserted since the
    /// last refresh (and only then commits those offsets). A refresh reads every version of
    /// the touched tenants' transactions, so one per insert would cap throughput.
    pub rollup_interval_ms: u64,
    /// Retries of a retryable failure before giving up.
    pub max_retries: u32,
    /// First retry delay; doubles each time (capped at 30 s).
    pub retry_initial_ms: u64,
    /// The server's `users.d` directory, where per-tenant read-only users are written on
    /// servers without SQL access management (before 20.5).
    pub users_dir: Option<std::path::PathBuf>,
}

impl Default for ClickHouseConfig {
    fn default() -> Self {
        ClickHouseConfig {
            url: "http://127.0.0.1:8123".into(),
            database: "verocta".into(),
            user: "default".into(),
            password: None,
            batch_rows: 50_000,
            linger_ms: 500,
            rollup_interval_ms: 2_000,
            max_retries: 8,
            retry_initial_ms: 200,
            users_dir: None,
        }
    }
}

impl ClickHouseConfig {
    /// The defaults for a server at `url`.
    pub fn at(url: impl Into<String>) -> Self {
        ClickHouseConfig {
            url: url.into(),
            ..ClickHouseConfig::default()
        }
    }

    /// Checks every field; the error names the field and the fix.
    pub fn validate(&self) -> Result<(), ClickHouseError> {
        let url = url::Url::parse(&self.url).map_err(|error| {
            ClickHouseError::Config(format!(
                "url {:?} is not a URL ({error}); use e.g. http://127.0.0.1:8123",
                self.url
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ClickHouseError::Config(format!(
                "url {:?} must use the HTTP interface (http:// or https://, port 8123 by default), not {}://",
                self.url,
                url.scheme()
            )));
        }
        if !is_identifier(&self.database) {
            return Err(ClickHouseError::Config(format!(
                "database {:?} must be letters, digits and _ and not start with a digit",
                self.database
            )));
        }
        if self.batch_rows == 0 {
            return Err(ClickHouseError::Config(
                "batch_rows must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`: safe to splice into DDL unquoted.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 128
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_mistakes_name_the_field() {
        ClickHouseConfig::default().validate().unwrap();
        let native = ClickHouseConfig::at("tcp://127.0.0.1:9000");
        assert!(
            native
                .validate()
                .unwrap_err()
                .to_string()
                .contains("HTTP interface")
        );
        let bad_db = ClickHouseConfig {
            database: "verocta; DROP".into(),
            ..ClickHouseConfig::default()
        };
        assert!(
            bad_db
                .validate()
                .unwrap_err()
                .to_string()
                .contains("database")
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let error =
            serde_json::from_str::<ClickHouseConfig>(r#"{"url":"http://x:8123","databse":"v"}"#)
                .unwrap_err();
        assert!(error.to_string().contains("databse"));
        let ok: ClickHouseConfig =
            serde_json::from_str(r#"{"url":"http://x:8123","batch_rows":10}"#).unwrap();
        assert_eq!(ok.batch_rows, 10);
        assert_eq!(ok.database, "verocta");
    }
}
