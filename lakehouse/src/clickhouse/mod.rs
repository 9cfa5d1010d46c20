//! ClickHouse: the fast serving copy of the lake for dashboards and data teams.
//!
//! Delta Lake stays the system of record; ClickHouse holds the same rows so queries answer in
//! milliseconds. Delivery into ClickHouse is at-least-once: every table is a
//! `ReplacingMergeTree` on its natural key with a version column, and every aggregate reads
//! the latest version per key, so a replayed batch never double-counts (see
//! `deploy/clickhouse/README.md`).
//!
//! The DDL lives in `deploy/clickhouse/` and is rendered per server: the Debian 18.16 server CI
//! runs is the floor, and newer features (LowCardinality, DateTime64, row policies) are used
//! only where the server has them. Everything goes over HTTP with the `clickhouse` crate;
//! schema validation is off because 18.16 lacks the `RowBinaryWithNamesAndTypes` format it
//! relies on.

pub mod config;
pub mod migrate;
pub mod sink;
pub mod tenant;
pub mod verify;

use std::time::Duration;

pub use config::ClickHouseConfig;
pub use migrate::{MigrationReport, migrate};
pub use sink::{ClickHouseSink, PendingWindows, RollupWindow, windows_of};
pub use verify::{Backfill, Drift, VerifyReport, backfill_from_delta, verify_against_delta};

use crate::LakeError;

/// A server version, major.minor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServerVersion {
    /// Major (18 for 18.16.1).
    pub major: u32,
    /// Minor (16 for 18.16.1).
    pub minor: u32,
}

impl ServerVersion {
    /// Parses `version()` output such as `18.16.1` or `24.8.4.13`.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(ServerVersion { major, minor })
    }

    /// Whether this server is at least `major.minor`.
    pub fn at_least(self, major: u32, minor: u32) -> bool {
        self >= ServerVersion { major, minor }
    }
}

impl std::fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Errors talking to ClickHouse.
#[derive(Debug, thiserror::Error)]
pub enum ClickHouseError {
    /// The configuration is unusable (a user error).
    #[error("invalid ClickHouse configuration: {0}")]
    Config(String),
    /// The server cannot be reached.
    #[error(
        "ClickHouse at {url} is unreachable ({source}); start one with deploy/clickhouse/start-server.sh or pass --clickhouse-url"
    )]
    Unreachable {
        /// The URL tried.
        url: String,
        /// Why.
        source: clickhouse::error::Error,
    },
    /// The server answered with an error.
    #[error("ClickHouse failed {what}: {source}")]
    Server {
        /// What we asked for.
        what: String,
        /// The server's answer.
        source: clickhouse::error::Error,
    },
    /// An applied migration was edited afterwards.
    #[error(
        "migration {name} was edited after it was applied (applied sha256 {applied}, file now {now}); add a new migration instead of changing an applied one"
    )]
    MigrationEdited {
        /// File name.
        name: String,
        /// Checksum recorded when applied.
        applied: String,
        /// Checksum of the embedded file.
        now: String,
    },
    /// A migration or template is malformed (a bug in our DDL).
    #[error("{name}: {problem}")]
    Template {
        /// File name.
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// A user or tenant name is not allowed.
    #[error("{0}")]
    InvalidName(String),
    /// Writing a users.d file failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The answer was not what the query promises (an internal bug).
    #[error("unexpected answer from ClickHouse to {what}: {answer}")]
    Protocol {
        /// What we asked for.
        what: String,
        /// What came back.
        answer: String,
    },
    /// Reading Delta failed.
    #[error(transparent)]
    Lake(#[from] LakeError),
}

/// ClickHouse error codes worth retrying: the server is overloaded or a part is busy, not the
/// request wrong.
const RETRYABLE_CODES: &[u32] = &[
    159, // TIMEOUT_EXCEEDED
    202, // TOO_MANY_SIMULTANEOUS_QUERIES
    203, // NO_FREE_CONNECTION
    209, // SOCKET_TIMEOUT
    210, // NETWORK_ERROR
    241, // MEMORY_LIMIT_EXCEEDED
    242, // TABLE_IS_READ_ONLY (replica recovering)
    252, // TOO_MANY_PARTS
    319, // UNKNOWN_STATUS_OF_INSERT
    999, // KEEPER_EXCEPTION
];

/// The `Code: N` of a server exception message.
fn exception_code(message: &str) -> Option<u32> {
    let start = message.find("Code: ")? + "Code: ".len();
    let digits: String = message[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Whether an error from the client is worth retrying.
pub fn is_retryable(error: &clickhouse::error::Error) -> bool {
    use clickhouse::error::Error;
    match error {
        Error::Network(_) | Error::TimedOut => true,
        Error::BadResponse(message) => match exception_code(message) {
            Some(code) => RETRYABLE_CODES.contains(&code),
            // No ClickHouse exception: a proxy or a server going away (502/503/504).
            None => ["502", "503", "504", "Service Unavailable", "Bad Gateway"]
                .iter()
                .any(|marker| message.contains(marker)),
        },
        _ => false,
    }
}

impl ClickHouseError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClickHouseError::Unreachable { .. } => true,
            ClickHouseError::Server { source, .. } => is_retryable(source),
            _ => false,
        }
    }
}

/// A connected server: the client, the database we own, and the server's version.
#[derive(Clone)]
pub struct ClickHouse {
    client: clickhouse::Client,
    config: ClickHouseConfig,
    version: ServerVersion,
}

impl std::fmt::Debug for ClickHouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouse")
            .field("url", &self.config.url)
            .field("database", &self.config.database)
            .field("version", &self.version)
            .finish()
    }
}

impl ClickHouse {
    /// Connects and reads the server version (which decides how DDL renders).
    pub async fn connect(config: &ClickHouseConfig) -> Result<Self, ClickHouseError> {
        config.validate()?;
        let mut client = clickhouse::Client::default()
            .with_url(config.url.trim_end_matches('/'))
            .with_user(&config.user)
            // 18.16 has no RowBinaryWithNamesAndTypes, which validation needs.
            .with_validation(false);
        if let Some(password) = &config.password {
            client = client.with_password(password);
        }
        let answer = client
            .query_raw("SELECT version()")
            .fetch_bytes("TabSeparated")
            .map_err(|source| ClickHouseError::Unreachable {
                url: config.url.clone(),
                source,
            })?
            .collect()
            .await
            .map_err(|source| ClickHouseError::Unreachable {
                url: config.url.clone(),
                source,
            })?;
        let text = String::from_utf8_lossy(&answer).to_string();
        let version = ServerVersion::parse(&text).ok_or_else(|| ClickHouseError::Protocol {
            what: "SELECT version()".into(),
            answer: text.clone(),
        })?;
        Ok(ClickHouse {
            client,
            config: config.clone(),
            version,
        })
    }

    /// The server version.
    pub fn version(&self) -> ServerVersion {
        self.version
    }

    /// The database Verocta's tables live in.
    pub fn database(&self) -> &str {
        &self.config.database
    }

    /// The configuration this connection was made with.
    pub fn config(&self) -> &ClickHouseConfig {
        &self.config
    }

    pub(crate) fn client(&self) -> &clickhouse::Client {
        &self.client
    }

    /// Runs one statement that returns nothing, retrying what is retryable.
    pub async fn execute(&self, sql: &str) -> Result<(), ClickHouseError> {
        self.retrying(sql, || async { self.client.query_raw(sql).execute().await })
            .await
    }

    /// Runs a query and returns its rows as tab-separated fields (ClickHouse's escaping).
    pub async fn rows(&self, sql: &str) -> Result<Vec<Vec<String>>, ClickHouseError> {
        let bytes = self
            .retrying(sql, || async {
                self.client
                    .query_raw(sql)
                    .fetch_bytes("TabSeparated")?
                    .collect()
                    .await
            })
            .await?;
        let text = String::from_utf8_lossy(&bytes);
        Ok(text
            .lines()
            .map(|line| line.split('\t').map(unescape_tsv).collect())
            .collect())
    }

    /// Runs `attempt` until it succeeds, fails permanently, or the retry budget is spent.
    pub(crate) async fn retrying<T, F, Fut>(
        &self,
        what: &str,
        mut attempt: F,
    ) -> Result<T, ClickHouseError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, clickhouse::error::Error>>,
    {
        let mut delay = Duration::from_millis(self.config.retry_initial_ms);
        let mut tries = 0;
        loop {
            match attempt().await {
                Ok(value) => return Ok(value),
                Err(source) if is_retryable(&source) && tries < self.config.max_retries => {
                    tries += 1;
                    tracing::warn!(error = %source, attempt = tries, what = %abbreviate(what), "ClickHouse call failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
                Err(source) => {
                    return Err(ClickHouseError::Server {
                        what: abbreviate(what),
                        source,
                    });
                }
            }
        }
    }
}

/// The first line of a statement, for messages.
fn abbreviate(sql: &str) -> String {
    let first = sql.trim().lines().next().unwrap_or_default();
    if first.len() > 120 {
        format!("{}…", &first[..first.floor_char_boundary(120)])
    } else {
        first.to_string()
    }
}

/// Undoes TabSeparated escaping (`\t`, `\n`, `\\`, `\'`, `\N` stays as the NULL marker).
fn unescape_tsv(field: &str) -> String {
    if !field.contains('\\') || field == "\\N" {
        return field.to_string();
    }
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Quotes a string literal for ClickHouse SQL.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            _ => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_compare() {
        let old = ServerVersion::parse("18.16.1\n").unwrap();
        assert_eq!(
            old,
            ServerVersion {
                major: 18,
                minor: 16
            }
        );
        assert!(!old.at_least(19, 3));
        assert!(old.at_least(18, 16));
        assert!(ServerVersion::parse("24.8.4.13").unwrap().at_least(22, 2));
        assert_eq!(ServerVersion::parse("banana"), None);
    }

    #[test]
    fn overload_is_retried_and_bad_sql_is_not() {
        use clickhouse::error::Error;
        let busy = Error::BadResponse(
            "Code: 252, e.displayText() = DB::Exception: Too many parts (300)".into(),
        );
        let syntax =
            Error::BadResponse("Code: 62, e.displayText() = DB::Exception: Syntax error".into());
        assert!(is_retryable(&busy));
        assert!(!is_retryable(&syntax));
        assert!(is_retryable(&Error::TimedOut));
        assert!(is_retryable(&Error::BadResponse(
            "503 Service Unavailable".into()
        )));
        assert!(!is_retryable(&Error::NotEnoughData));
    }

    #[test]
    fn tsv_fields_unescape_and_literals_quote() {
        assert_eq!(unescape_tsv("a\\tb\\\\c\\'d"), "a\tb\\c'd");
        assert_eq!(unescape_tsv("\\N"), "\\N");
        assert_eq!(quote("O'Brien \\ co"), "'O\\'Brien \\\\ co'");
    }
}
