//! Batching shared by every job: a batch closes at a row count, a byte estimate, or a linger
//! time, whichever comes first — so throughput is high under load and latency bounded when
//! traffic is thin.

use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use arrow_schema::ArrowError;
use verocta_schemas::Transaction;
use verocta_schemas::arrow::TransactionBatchBuilder;

/// When a batch closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchPolicy {
    /// Rows per batch at most.
    pub max_rows: usize,
    /// Estimated bytes per batch at most.
    pub max_bytes: usize,
    /// Longest time the first row of a batch waits.
    pub linger: Duration,
}

impl Default for BatchPolicy {
    /// 32k rows or 32 MiB or 500 ms: Arrow-friendly sizes (see STYLE.md) with sub-second latency.
    fn default() -> Self {
        BatchPolicy {
            max_rows: 32_768,
            max_bytes: 32 << 20,
            linger: Duration::from_millis(500),
        }
    }
}

/// Accumulates transactions into Arrow batches according to a [`BatchPolicy`].
pub struct TransactionBatcher {
    policy: BatchPolicy,
    builder: TransactionBatchBuilder,
    bytes: usize,
    opened_at: Option<Instant>,
}

impl TransactionBatcher {
    /// An empty batcher.
    pub fn new(policy: BatchPolicy) -> Self {
        TransactionBatcher {
            builder: TransactionBatchBuilder::with_capacity(policy.max_rows.min(65_536)),
            policy,
            bytes: 0,
            opened_at: None,
        }
    }

    /// Adds one transaction; returns a batch when this one filled it.
    pub fn push(&mut self, transaction: &Transaction) -> Result<Option<RecordBatch>, ArrowError> {
        self.opened_at.get_or_insert_with(Instant::now);
        self.builder.append(transaction);
        self.bytes += estimated_bytes(transaction);
        if self.builder.len() >= self.policy.max_rows || self.bytes >= self.policy.max_bytes {
            return self.flush();
        }
        Ok(None)
    }

    /// Whether the pending batch has waited its linger time.
    pub fn is_due(&self, now: Instant) -> bool {
        self.opened_at
            .is_some_and(|opened| now.duration_since(opened) >= self.policy.linger)
    }

    /// Closes the pending batch, if any.
    pub fn flush(&mut self) -> Result<Option<RecordBatch>, ArrowError> {
        if self.builder.is_empty() {
            return Ok(None);
        }
        self.bytes = 0;
        self.opened_at = None;
        self.builder.finish().map(Some)
    }

    /// Rows waiting in the pending batch.
    pub fn pending_rows(&self) -> usize {
        self.builder.len()
    }
}

/// A cheap size estimate: fixed columns plus the variable-length text.
fn estimated_bytes(tx: &Transaction) -> usize {
    let text = [
        &tx.vendor_raw,
        &tx.vendor,
        &tx.category_raw,
        &tx.account,
        &tx.memo,
        &tx.employee,
        &tx.department,
    ]
    .iter()
    .map(|field| field.as_ref().map_or(0, String::len))
    .sum::<usize>();
    160 + text + tx.source.name.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use verocta_schemas::*;

    pub(crate) fn transaction(i: u32, memo_len: usize) -> Transaction {
        let tenant = TenantId::new("acme").unwrap();
        Transaction {
            schema_version: TRANSACTION_SCHEMA_VERSION,
            transaction_id: TransactionId::derive(&tenant, "csv", &[&i.to_string()]),
            tenant_id: tenant,
            source: SourceRef {
                kind: SourceKind::Csv,
                format: "generic".into(),
                name: "a.csv".into(),
                line: Some(u64::from(i)),
                external_id: None,
            },
            booked_date: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
            booked_time: None,
            amount: Money::from_minor(100, Currency::USD),
            original_amount: None,
            class: TransactionClass::Spend,
            exclusion: None,
            vendor_raw: None,
            vendor: None,
            category_raw: None,
            category: Category::Uncategorized,
            account: None,
            memo: Some("x".repeat(memo_len)),
            payment_method: None,
            card_last4: None,
            employee: None,
            department: None,
            ingested_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn closes_on_rows_bytes_and_linger() {
        let mut by_rows = TransactionBatcher::new(BatchPolicy {
            max_rows: 3,
            ..BatchPolicy::default()
        });
        assert!(by_rows.push(&transaction(1, 0)).unwrap().is_none());
        assert!(by_rows.push(&transaction(2, 0)).unwrap().is_none());
        assert_eq!(
            by_rows
                .push(&transaction(3, 0))
                .unwrap()
                .unwrap()
                .num_rows(),
            3
        );
        assert_eq!(by_rows.pending_rows(), 0);

        let mut by_bytes = TransactionBatcher::new(BatchPolicy {
            max_bytes: 1000,
            ..BatchPolicy::default()
        });
        assert!(by_bytes.push(&transaction(1, 100)).unwrap().is_none());
        assert_eq!(
            by_bytes
                .push(&transaction(2, 900))
                .unwrap()
                .unwrap()
                .num_rows(),
            2
        );

        let mut by_time = TransactionBatcher::new(BatchPolicy {
            linger: Duration::from_millis(10),
            ..BatchPolicy::default()
        });
        assert!(!by_time.is_due(Instant::now()));
        by_time.push(&transaction(1, 0)).unwrap();
        assert!(by_time.is_due(Instant::now() + Duration::from_millis(11)));
        assert_eq!(by_time.flush().unwrap().unwrap().num_rows(), 1);
        assert!(by_time.flush().unwrap().is_none());
    }
}
