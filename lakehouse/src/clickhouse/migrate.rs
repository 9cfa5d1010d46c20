//! Applies the numbered DDL files of `deploy/clickhouse/migrations` (embedded in the binary),
//! rendered for the server's version and retargeted to the configured database.
//!
//! File format (the same as `deploy/clickhouse/apply-migrations.sh`, the reference):
//! - lines starting with `--` are comments and are dropped before rendering;
//! - `{{v>=MAJOR.MINOR:NEW|OLD}}` renders NEW on servers at least MAJOR.MINOR, else OLD;
//! - a line `-- requires-server: >=X.Y` (or `<X.Y`) skips the whole file on other servers,
//!   without recording it, so it applies after an upgrade;
//! - statements end with `;` at the end of a line and run one by one (ClickHouse DDL is not
//!   transactional, so every statement is `IF NOT EXISTS` and re-running a file is safe).
//!
//! Applied files are recorded in `<db>.schema_migrations` with the SHA-256 of the file; an
//! applied file that changed afterwards is refused.

use std::time::Instant;

use sha2::{Digest, Sha256};

use super::{ClickHouse, ClickHouseError, ServerVersion};

/// What `migrate` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Files applied now.
    pub applied: Vec<String>,
    /// Files already applied before.
    pub already_applied: Vec<String>,
    /// Files skipped because this server is the wrong version for them.
    pub skipped: Vec<String>,
}

/// Row of `schema_migrations`.
#[derive(clickhouse::Row, serde::Serialize)]
struct MigrationRow<'a> {
    version: u32,
    name: &'a str,
    checksum: &'a str,
    rendered_sha256: &'a str,
    server_version: &'a str,
    statements: u32,
    duration_ms: u64,
    applied_by: &'a str,
    applied_at_us: u64,
}

/// Applies every pending migration.
pub async fn migrate(clickhouse: &ClickHouse) -> Result<MigrationReport, ClickHouseError> {
    let database = clickhouse.database().to_string();
    let version = clickhouse.version();
    let applied = applied_checksums(clickhouse).await?;
    let mut report = MigrationReport::default();
    for (name, contents) in verocta_deploy::CLICKHOUSE_MIGRATIONS {
        let checksum = sha256_hex(contents);
        if let Some(recorded) = applied.iter().find(|(n, _)| n == name).map(|(_, c)| c) {
            if *recorded != checksum {
                return Err(ClickHouseError::MigrationEdited {
                    name: name.to_string(),
                    applied: recorded.clone(),
                    now: checksum,
                });
            }
            report.already_applied.push(name.to_string());
            continue;
        }
        if !applies_to(contents, version) {
            report.skipped.push(name.to_string());
            continue;
        }
        let started = Instant::now();
        let rendered = retarget(&render(name, contents, version)?, &database);
        let statements = statements(&rendered);
        for statement in &statements {
            clickhouse.execute(statement).await?;
        }
        record(
            clickhouse,
            name,
            &checksum,
            &sha256_hex(&rendered),
            statements.len(),
            started,
        )
        .await?;
        tracing::info!(migration = %name, statements = statements.len(), server = %version, "ClickHouse migration applied");
        report.applied.push(name.to_string());
    }
    Ok(report)
}

async fn applied_checksums(
    clickhouse: &ClickHouse,
) -> Result<Vec<(String, String)>, ClickHouseError> {
    let database = clickhouse.database();
    let exists = clickhouse
        .rows(&format!("EXISTS TABLE {database}.schema_migrations"))
        .await?;
    if exists
        .first()
        .and_then(|row| row.first())
        .map(String::as_str)
        != Some("1")
    {
        return Ok(Vec::new());
    }
    let rows = clickhouse
        .rows(&format!(
            "SELECT name, argMax(checksum, applied_at_us) FROM {database}.schema_migrations GROUP BY name"
        ))
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| Some((row.first()?.clone(), row.get(1)?.clone())))
        .collect())
}

async fn record(
    clickhouse: &ClickHouse,
    name: &str,
    checksum: &str,
    rendered_sha256: &str,
    statements: usize,
    started: Instant,
) -> Result<(), ClickHouseError> {
    let number = name
        .split('_')
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| ClickHouseError::Template {
            name: name.into(),
            problem: "migration file names start with a number and _".into(),
        })?;
    let server_version = clickhouse.version().to_string();
    let applied_by = format!("verocta {}", env!("CARGO_PKG_VERSION"));
    let row = MigrationRow {
        version: number,
        name,
        checksum,
        rendered_sha256,
        server_version: &server_version,
        statements: statements as u32,
        duration_ms: started.elapsed().as_millis() as u64,
        applied_by: &applied_by,
        applied_at_us: now_us(),
    };
    let client = clickhouse
        .client()
        .clone()
        .with_database(clickhouse.database());
    clickhouse
        .retrying("INSERT INTO schema_migrations", || async {
            let mut insert = client
                .insert::<MigrationRow<'_>>("schema_migrations")
                .await?;
            insert.write(&row).await?;
            insert.end().await
        })
        .await
}

/// Microseconds since the Unix epoch.
pub(crate) fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Drops comment lines and resolves `{{v>=A.B:NEW|OLD}}` for `version`.
pub fn render(name: &str, text: &str, version: ServerVersion) -> Result<String, ClickHouseError> {
    let problem = |problem: String| ClickHouseError::Template {
        name: name.to_string(),
        problem,
    };
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if line.trim_start().starts_with("--") {
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| problem(format!("unclosed placeholder in: {line}")))?;
            out.push_str(resolve(&after[..end], version).map_err(problem)?);
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        out.push('\n');
    }
    Ok(out)
}

/// One placeholder body `v>=A.B:NEW|OLD`.
fn resolve(body: &str, version: ServerVersion) -> Result<&str, String> {
    let spec = body
        .strip_prefix("v>=")
        .ok_or_else(|| format!("unknown placeholder {{{{{body}}}}}"))?;
    let (wanted, choices) = spec
        .split_once(':')
        .ok_or_else(|| format!("placeholder {{{{{body}}}}} lacks ':'"))?;
    let wanted = ServerVersion::parse(wanted)
        .ok_or_else(|| format!("placeholder {{{{{body}}}}} has no MAJOR.MINOR"))?;
    let (new, old) = choices
        .split_once('|')
        .ok_or_else(|| format!("placeholder {{{{{body}}}}} lacks '|'"))?;
    if old.contains('|') || new.contains('{') {
        return Err(format!("placeholder {{{{{body}}}}} is malformed"));
    }
    Ok(if version >= wanted { new } else { old })
}

/// Whether the file's `-- requires-server:` lines allow `version`.
pub fn applies_to(text: &str, version: ServerVersion) -> bool {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("--"))
        .filter_map(|comment| comment.trim().strip_prefix("requires-server:"))
        .all(|condition| {
            let condition = condition.trim();
            if let Some(at_least) = condition.strip_prefix(">=") {
                ServerVersion::parse(at_least).is_none_or(|v| version >= v)
            } else if let Some(below) = condition.strip_prefix('<') {
                ServerVersion::parse(below).is_none_or(|v| version < v)
            } else {
                true
            }
        })
}

/// Splits rendered text at `;` ending a line.
pub fn statements(rendered: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    for line in rendered.lines() {
        let trimmed = line.trim_end();
        if let Some(body) = trimmed.strip_suffix(';') {
            current.push_str(body);
            push_statement(&mut statements, &mut current);
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    push_statement(&mut statements, &mut current);
    statements
}

fn push_statement(statements: &mut Vec<String>, current: &mut String) {
    let statement = current.trim();
    if !statement.is_empty() {
        statements.push(statement.to_string());
    }
    current.clear();
}

/// Points the DDL, written against database `verocta`, at `database`.
pub fn retarget(sql: &str, database: &str) -> String {
    if database == "verocta" {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find("verocta") {
        let before_ok = rest[..at]
            .chars()
            .last()
            .or_else(|| out.chars().last())
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
        let after = &rest[at + "verocta".len()..];
        let after_ok = after
            .chars()
            .next()
            .is_none_or(|c| c == '.' || c == ';' || c.is_whitespace());
        out.push_str(&rest[..at]);
        out.push_str(if before_ok && after_ok {
            database
        } else {
            "verocta"
        });
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: ServerVersion = ServerVersion {
        major: 18,
        minor: 16,
    };
    const NEW: ServerVersion = ServerVersion {
        major: 24,
        minor: 8,
    };

    #[test]
    fn placeholders_render_per_version_and_comments_go() {
        let text = "-- a comment\ncurrency {{v>=19.3:LowCardinality(String)|String}},\nx{{v>=22.2:, w = 1|}};\n";
        assert_eq!(render("t", text, OLD).unwrap(), "currency String,\nx;\n");
        assert_eq!(
            render("t", text, NEW).unwrap(),
            "currency LowCardinality(String),\nx, w = 1;\n"
        );
        assert!(render("t", "a {{v>=19:X|Y}}", NEW).is_err());
        assert!(render("t", "a {{oops}}", NEW).is_err());
        assert!(render("t", "a {{v>=19.3:X|Y", NEW).is_err());
    }

    #[test]
    fn every_embedded_migration_renders_on_old_and_new_servers() {
        for (name, text) in verocta_deploy::CLICKHOUSE_MIGRATIONS {
            for version in [OLD, NEW] {
                let rendered = render(name, text, version).unwrap();
                assert!(!rendered.contains("{{"), "{name}");
                assert!(!statements(&rendered).is_empty(), "{name}");
            }
        }
        let transactions = render("t", verocta_deploy::CLICKHOUSE_MIGRATIONS[1].1, OLD).unwrap();
        assert!(!transactions.contains("LowCardinality"));
        assert!(!transactions.contains("DateTime64"));
    }

    #[test]
    fn requires_server_lines_gate_whole_files() {
        let text = "-- requires-server: >=20.5\nCREATE ROW POLICY x;\n";
        assert!(!applies_to(text, OLD));
        assert!(applies_to(text, NEW));
        assert!(applies_to("-- requires-server: <20.5\n", OLD));
        assert!(applies_to("SELECT 1;\n", OLD));
    }

    #[test]
    fn statements_split_at_semicolons_ending_lines() {
        let split = statements("CREATE TABLE a\n(x String DEFAULT ';')\n;\nSELECT 1;\n\n");
        assert_eq!(
            split,
            ["CREATE TABLE a\n(x String DEFAULT ';')", "SELECT 1"]
        );
    }

    #[test]
    fn retargeting_touches_only_the_database_name() {
        let sql = "CREATE DATABASE IF NOT EXISTS verocta;\nSELECT * FROM verocta.transactions WHERE x = 'verocta_ops' -- verocta\n";
        assert_eq!(
            retarget(sql, "t_1"),
            "CREATE DATABASE IF NOT EXISTS t_1;\nSELECT * FROM t_1.transactions WHERE x = 'verocta_ops' -- t_1\n"
        );
        assert_eq!(retarget(sql, "verocta"), sql);
    }
}
