//! Read-only ClickHouse users for a tenant's data team, limited to that tenant's rows.
//!
//! Servers with SQL access management (20.5 and later) get a user with row policies on the
//! shared tables (`deploy/clickhouse/tenant/provision-rbac.sql`). Older servers — the Debian
//! 18.16 package CI runs — ignore per-user row filters, so there each tenant gets its own
//! database holding a copy of its rows, fed by materialised views the tenant cannot see
//! (`tenant/provision.sql`), and the user is an XML file in the server's `users.d` directory
//! restricted to that database with the read-only `verocta_tenant` profile
//! (`tenant/user.xml`). The server re-reads `users.d` by itself within a few seconds; `grant`
//! and `revoke` wait until the change is in effect. See `deploy/clickhouse/README.md` for what
//! each design does and does not hide.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::config::is_identifier;
use super::migrate::{render, retarget, statements};
use super::{ClickHouse, ClickHouseError};

/// What `grant` created.
#[derive(Clone, Debug)]
pub struct Grant {
    /// The ClickHouse user.
    pub user: String,
    /// Its password (generated unless given).
    pub password: String,
    /// The database the user reads: the tenant's own on old servers, the shared one on new.
    pub database: String,
    /// Where the user is defined: a users.d file, or SQL.
    pub defined_in: String,
}

/// The tenant's private database on servers without row policies: tenant ids may hold `.` and
/// `-`, which identifiers cannot, so they are escaped reversibly.
pub fn tenant_database(database: &str, tenant_id: &str) -> String {
    let mut name = format!("{database}_tenant_");
    for c in tenant_id.chars() {
        match c {
            '_' => name.push_str("__"),
            '.' => name.push_str("_d"),
            '-' => name.push_str("_h"),
            other => name.push(other),
        }
    }
    name
}

fn asset(path: &str) -> Result<&'static str, ClickHouseError> {
    verocta_deploy::asset(path)
        .map(|a| a.contents)
        .ok_or_else(|| ClickHouseError::Template {
            name: path.into(),
            problem: "not embedded".into(),
        })
}

fn check_names(tenant_id: &str, user: &str) -> Result<(), ClickHouseError> {
    verocta_schemas::TenantId::new(tenant_id)
        .map_err(|error| ClickHouseError::InvalidName(format!("tenant {tenant_id:?}: {error}")))?;
    if !is_identifier(user) || user == "default" {
        return Err(ClickHouseError::InvalidName(format!(
            "user {user:?} must be letters, digits and _ (not starting with a digit), and not `default`"
        )));
    }
    Ok(())
}

/// A random password: 24 characters from a 62-letter alphabet (~143 bits).
fn generate_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

fn users_dir(clickhouse: &ClickHouse) -> Result<PathBuf, ClickHouseError> {
    clickhouse.config().users_dir.clone().ok_or_else(|| {
        ClickHouseError::Config(format!(
            "ClickHouse {} has no SQL user management; pass --users-dir with the server's users.d directory (deploy/clickhouse/start-server.sh uses <dir>/etc/users.d)",
            clickhouse.version()
        ))
    })
}

/// Creates (or replaces) user `user` who can read only tenant `tenant_id`'s rows.
pub async fn grant(
    clickhouse: &ClickHouse,
    tenant_id: &str,
    user: &str,
    password: Option<&str>,
) -> Result<Grant, ClickHouseError> {
    // check_names holds the id to [A-Za-z0-9._-], safe inside the templates' quotes as is.
    check_names(tenant_id, user)?;
    let password = password.map_or_else(generate_password, str::to_string);
    let password_hash: String = Sha256::digest(password.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let version = clickhouse.version();
    let database = clickhouse.database();
    if version.at_least(20, 5) {
        let sql = retarget(
            &render(
                "provision-rbac.sql",
                asset("clickhouse/tenant/provision-rbac.sql")?,
                version,
            )?,
            database,
        )
        .replace("${TENANT_DB}", user)
        .replace("${TENANT_ID}", tenant_id)
        .replace("${PASSWORD_SHA256_HEX}", &password_hash);
        for statement in statements(&sql) {
            clickhouse.execute(&statement).await?;
        }
        return Ok(Grant {
            user: user.into(),
            password,
            database: database.into(),
            defined_in: "SQL (row policies)".into(),
        });
    }
    let dir = users_dir(clickhouse)?;
    let tenant_db = tenant_database(database, tenant_id);
    let sql = retarget(
        &render(
            "provision.sql",
            asset("clickhouse/tenant/provision.sql")?,
            version,
        )?,
        database,
    )
    .replace("${TENANT_DB}", &tenant_db)
    .replace("${TENANT_ID}", tenant_id);
    for statement in statements(&sql) {
        clickhouse.execute(&statement).await?;
    }
    let xml = asset("clickhouse/tenant/user.xml")?
        .replace("<${TENANT_DB}>", &format!("<{user}>"))
        .replace("</${TENANT_DB}>", &format!("</{user}>"))
        .replace("${TENANT_DB}", &tenant_db)
        .replace("${TENANT_ID}", tenant_id)
        .replace("${PASSWORD_SHA256_HEX}", &password_hash);
    let path = dir.join(format!("{user}.xml"));
    write_atomically(&path, &xml)?;
    wait_for(clickhouse, user, &password, true).await?;
    Ok(Grant {
        user: user.into(),
        password,
        database: tenant_db,
        defined_in: path.display().to_string(),
    })
}

/// Removes user `user`; on old servers also the tenant's copy once no other user reads it.
pub async fn revoke(
    clickhouse: &ClickHouse,
    tenant_id: &str,
    user: &str,
) -> Result<(), ClickHouseError> {
    check_names(tenant_id, user)?;
    if clickhouse.version().at_least(20, 5) {
        clickhouse
            .execute(&format!("DROP USER IF EXISTS {user}"))
            .await?;
        return Ok(());
    }
    let dir = users_dir(clickhouse)?;
    let path = dir.join(format!("{user}.xml"));
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(ClickHouseError::Io {
                path: path.display().to_string(),
                source,
            });
        }
    }
    // The user must be gone before its data is: otherwise a query could still be running.
    wait_for(clickhouse, user, "", false).await?;
    let tenant_db = tenant_database(clickhouse.database(), tenant_id);
    if still_read_by_someone(&dir, &tenant_db) {
        return Ok(());
    }
    let sql = retarget(
        &render(
            "deprovision.sql",
            asset("clickhouse/tenant/deprovision.sql")?,
            clickhouse.version(),
        )?,
        clickhouse.database(),
    )
    .replace("${TENANT_DB}", &tenant_db);
    for statement in statements(&sql) {
        clickhouse.execute(&statement).await?;
    }
    Ok(())
}

fn still_read_by_someone(dir: &Path, tenant_db: &str) -> bool {
    let needle = format!("<database>{tenant_db}</database>");
    std::fs::read_dir(dir)
        .map(|entries| {
            entries.filter_map(Result::ok).any(|entry| {
                std::fs::read_to_string(entry.path()).is_ok_and(|text| text.contains(&needle))
            })
        })
        .unwrap_or(false)
}

/// Writes a sibling temp file and renames it over: the server never reads half a file.
fn write_atomically(path: &Path, contents: &str) -> Result<(), ClickHouseError> {
    let io = |source| ClickHouseError::Io {
        path: path.display().to_string(),
        source,
    };
    let temp = path.with_extension("xml.tmp");
    std::fs::write(&temp, contents).map_err(io)?;
    // The server runs as its own user: the file must be readable by it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o644)).map_err(io)?;
    }
    std::fs::rename(&temp, path).map_err(io)
}

/// Waits (up to 30 s) until logging in as `user` works (`present`) or the server no longer
/// knows the user (`!present`: code 192 UNKNOWN_USER, not merely a wrong password).
async fn wait_for(
    clickhouse: &ClickHouse,
    user: &str,
    password: &str,
    present: bool,
) -> Result<(), ClickHouseError> {
    let client = clickhouse::Client::default()
        .with_url(clickhouse.config().url.trim_end_matches('/'))
        .with_user(user)
        .with_password(password)
        .with_validation(false);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let done = match client.query_raw("SELECT 1").execute().await {
            Ok(()) => present,
            Err(error) => !present && is_unknown_user(&error.to_string()),
        };
        if done {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(ClickHouseError::Config(format!(
                "ClickHouse did not {} user {user} within 30 s; is the users directory the server's users.d, and does the server define the verocta_tenant profile (deploy/clickhouse/start-server.sh)?",
                if present { "load" } else { "drop" }
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn is_unknown_user(message: &str) -> bool {
    message.contains("Code: 192") || message.contains("UNKNOWN_USER")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_databases_escape_reversibly() {
        assert_eq!(tenant_database("verocta", "acme"), "verocta_tenant_acme");
        assert_eq!(
            tenant_database("verocta", "a_b.c-d"),
            "verocta_tenant_a__b_dc_hd"
        );
        assert_ne!(
            tenant_database("verocta", "a-b"),
            tenant_database("verocta", "a_hb")
        );
    }

    #[test]
    fn names_are_checked_before_touching_the_server() {
        assert!(check_names("acme", "acme_reader").is_ok());
        assert!(check_names("acme", "default").is_err());
        assert!(check_names("acme", "x; DROP").is_err());
        assert!(check_names("bad tenant!", "reader").is_err());
    }

    #[test]
    fn generated_passwords_differ() {
        let (a, b) = (generate_password(), generate_password());
        assert_eq!(a.len(), 24);
        assert_ne!(a, b);
    }
}
