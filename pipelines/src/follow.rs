//! Following the `transactions` table: what a derived table (`spend_scores`, `anomalies`)
//! has not consumed yet.
//!
//! A derived table records the `transactions` version it has consumed in a Delta `txn` action
//! committed with its own rows (offsets with the data, as the Kafka worker does). A follower
//! asks [`pending`] what is new since then, processes it from the `transactions` snapshot at
//! the newest version, and commits its rows with that version, expecting the old one — so a
//! step is applied exactly once even across crashes and racing followers.

use std::collections::BTreeSet;

use verocta_lakehouse::{Lake, LakeError, TRANSACTIONS_TABLE};

/// What a follower has to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Pending {
    /// No `transactions` table yet.
    NoSource,
    /// Everything up to `version` is consumed.
    UpToDate {
        /// The consumed (and latest) version.
        version: i64,
    },
    /// Every row must be (re)processed: nothing was consumed yet, or the log cannot say what
    /// changed since `from` (commit files cleaned up, or a delete).
    All {
        /// Consumed version, if any.
        from: Option<i64>,
        /// Latest version.
        to: u64,
    },
    /// Only these (`tenant_id`, `transaction_id`) rows are new.
    Rows {
        /// Consumed version.
        from: i64,
        /// Latest version.
        to: u64,
        /// The rows the commits in between added.
        rows: BTreeSet<(String, String)>,
    },
}

impl Pending {
    /// The version a step would consume.
    pub fn target(&self) -> Option<i64> {
        match self {
            Pending::NoSource => None,
            Pending::UpToDate { version } => Some(*version),
            Pending::All { to, .. } | Pending::Rows { to, .. } => i64::try_from(*to).ok(),
        }
    }

    /// The version consumed before the step.
    pub fn consumed(&self) -> Option<i64> {
        match self {
            Pending::NoSource => None,
            Pending::UpToDate { version } => Some(*version),
            Pending::All { from, .. } => *from,
            Pending::Rows { from, .. } => Some(*from),
        }
    }

    /// Tenants with new rows (`None` = every tenant).
    pub fn tenants(&self) -> Option<BTreeSet<String>> {
        match self {
            Pending::Rows { rows, .. } => Some(rows.iter().map(|(t, _)| t.clone()).collect()),
            Pending::UpToDate { .. } | Pending::NoSource => Some(BTreeSet::new()),
            Pending::All { .. } => None,
        }
    }
}

/// What `derived` (recording progress under `app_id`) has not consumed of `transactions`.
pub async fn pending(lake: &Lake, derived: &str, app_id: &str) -> Result<Pending, LakeError> {
    let Some(latest) = lake.table_version(TRANSACTIONS_TABLE).await? else {
        return Ok(Pending::NoSource);
    };
    let consumed = lake.txn_version(derived, app_id).await?;
    let Some(from) = consumed else {
        return Ok(Pending::All {
            from: None,
            to: latest,
        });
    };
    if u64::try_from(from).is_ok_and(|f| f >= latest) {
        return Ok(Pending::UpToDate { version: from });
    }
    let after = u64::try_from(from).unwrap_or(0);
    Ok(
        match lake.rows_added(TRANSACTIONS_TABLE, after, latest).await? {
            Some(rows) => Pending::Rows {
                from,
                to: latest,
                rows,
            },
            None => Pending::All {
                from: Some(from),
                to: latest,
            },
        },
    )
}

/// `TRUE` for every tenant, else `tenant_id IN (...)`. Tenant ids are validated at ingest
/// (`[A-Za-z0-9._-]`), so quoting them is safe; quotes are doubled anyway.
pub fn tenant_filter(tenants: Option<&BTreeSet<String>>) -> String {
    match tenants {
        None => "TRUE".into(),
        Some(set) if set.is_empty() => "FALSE".into(),
        Some(set) => {
            let list: Vec<String> = set
                .iter()
                .map(|t| format!("'{}'", t.replace('\'', "''")))
                .collect();
            format!("tenant_id IN ({})", list.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_filter_forms() {
        assert_eq!(tenant_filter(None), "TRUE");
        assert_eq!(tenant_filter(Some(&BTreeSet::new())), "FALSE");
        let set: BTreeSet<String> = ["a".to_string(), "b'c".to_string()].into();
        assert_eq!(tenant_filter(Some(&set)), "tenant_id IN ('a', 'b''c')");
    }
}
