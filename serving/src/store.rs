//! Where the API reads and writes canonical transactions: the [`TransactionStore`] trait and
//! its implementation over the API's own SQL database ([`SqlTransactionStore`]).
//!
//! The trait is the seam for the analytical stores that come next (ClickHouse for serving,
//! Delta Lake as the system of record): the routes only see the trait. Its contract:
//! - every call is scoped to one tenant, passed explicitly; nothing crosses tenants;
//! - inserts are idempotent on `(tenant_id, transaction_id)` — transaction ids are
//!   deterministic, so re-uploading a file stores nothing twice;
//! - reads are ordered by `booked_date` descending, then `transaction_id` descending, and
//!   paginated by keyset cursors, so pages are stable while new data arrives.

use std::future::Future;
use std::pin::Pin;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDate;
use verocta_schemas::wire::decode_transaction;
use verocta_schemas::{Category, TenantId, Transaction, TransactionClass, TransactionId};

use crate::db::Database;

/// A failure of the store; always internal (the caller's input was validated before).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("transaction store database: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored record no longer decodes.
    #[error("stored transaction {transaction_id} is corrupt: {problem}")]
    Corrupt {
        /// Its id.
        transaction_id: String,
        /// What is wrong.
        problem: String,
    },
}

/// A boxed future, so the trait stays object-safe (`Arc<dyn TransactionStore>`).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// How many rows an insert stored and how many were already there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InsertCounts {
    /// New transactions stored.
    pub inserted: u64,
    /// Transactions whose id was already stored for the tenant (left unchanged).
    pub duplicates: u64,
}

/// Position after the last transaction of a page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// Booked date of the last transaction returned.
    pub booked_date: NaiveDate,
    /// Its id.
    pub transaction_id: TransactionId,
}

impl Cursor {
    /// The opaque text form handed to clients.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}|{}", self.booked_date, self.transaction_id))
    }

    /// Reads a cursor handed out by [`Cursor::encode`]; `None` when it is not one.
    pub fn decode(text: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (date, id) = text.split_once('|')?;
        Some(Cursor {
            booked_date: NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?,
            transaction_id: TransactionId::parse(id).ok()?,
        })
    }
}

/// Filters and page of a read. Amounts are in units of the transaction's own currency,
/// scaled by 10⁴ (see [`scaled_amount`]), so `12.34` is `123400` whatever the currency.
#[derive(Clone, Debug, Default)]
pub struct TransactionQuery {
    /// Earliest booked date, inclusive.
    pub from: Option<NaiveDate>,
    /// Latest booked date, inclusive.
    pub to: Option<NaiveDate>,
    /// Only this class.
    pub class: Option<TransactionClass>,
    /// Only this category.
    pub category: Option<Category>,
    /// Only this normalised vendor (exact match).
    pub vendor: Option<String>,
    /// Smallest amount, inclusive, scaled by 10⁴.
    pub min_amount_scaled: Option<i64>,
    /// Largest amount, inclusive, scaled by 10⁴.
    pub max_amount_scaled: Option<i64>,
    /// Continue after this position.
    pub after: Option<Cursor>,
    /// Page size.
    pub limit: u32,
}

/// One page of transactions.
#[derive(Clone, Debug, Default)]
pub struct TransactionPage {
    /// The transactions, newest first.
    pub transactions: Vec<Transaction>,
    /// Where the next page starts, if there may be one.
    pub next_cursor: Option<Cursor>,
}

/// Storage of canonical transactions for the API (see the module documentation).
pub trait TransactionStore: Send + Sync + 'static {
    /// Stores transactions of one tenant from one upload, idempotently.
    fn insert<'a>(
        &'a self,
        tenant_id: &'a TenantId,
        upload_id: &'a str,
        transactions: &'a [Transaction],
    ) -> StoreFuture<'a, InsertCounts>;

    /// Reads one page of a tenant's transactions.
    fn query<'a>(
        &'a self,
        tenant_id: &'a TenantId,
        query: &'a TransactionQuery,
    ) -> StoreFuture<'a, TransactionPage>;
}

/// Digits of the scaled amount used for filtering.
pub const AMOUNT_SCALE_DIGITS: u8 = 4;

/// The amount of `transaction` scaled to [`AMOUNT_SCALE_DIGITS`] decimals.
pub fn scaled_amount(transaction: &Transaction) -> i64 {
    let digits = transaction.amount.currency().minor_digits();
    let factor = 10i64.pow(u32::from(AMOUNT_SCALE_DIGITS.saturating_sub(digits)));
    transaction.amount.minor_units().saturating_mul(factor)
}

/// [`TransactionStore`] over the API's SQL database (`transactions` table).
#[derive(Clone, Debug)]
pub struct SqlTransactionStore {
    database: Database,
}

impl SqlTransactionStore {
    /// A store in `database`.
    pub fn new(database: Database) -> Self {
        SqlTransactionStore { database }
    }

    async fn insert_all(
        &self,
        tenant_id: &TenantId,
        upload_id: &str,
        transactions: &[Transaction],
    ) -> Result<InsertCounts, StoreError> {
        let mut database_transaction = self.database.pool.begin().await?;
        let mut counts = InsertCounts::default();
        for transaction in transactions {
            let record = String::from_utf8(verocta_schemas::wire::encode_transaction(transaction))
                .map_err(|error| StoreError::Corrupt {
                    transaction_id: transaction.transaction_id.to_string(),
                    problem: error.to_string(),
                })?;
            let result = sqlx::query(
                "INSERT INTO transactions (tenant_id, transaction_id, booked_date, class, category, \
                 vendor, amount_scaled, currency, upload_id, record) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (tenant_id, transaction_id) DO NOTHING",
            )
            .bind(tenant_id.as_str())
            .bind(transaction.transaction_id.as_str())
            .bind(transaction.booked_date.to_string())
            .bind(transaction.class.code())
            .bind(transaction.category.code())
            .bind(&transaction.vendor)
            .bind(scaled_amount(transaction))
            .bind(transaction.amount.currency().code())
            .bind(upload_id)
            .bind(record)
            .execute(&mut *database_transaction)
            .await?;
            if result.rows_affected() == 1 {
                counts.inserted += 1;
            } else {
                counts.duplicates += 1;
            }
        }
        database_transaction.commit().await?;
        Ok(counts)
    }

    async fn query_page(
        &self,
        tenant_id: &TenantId,
        query: &TransactionQuery,
    ) -> Result<TransactionPage, StoreError> {
        let filter = Filter::from_query(tenant_id, query);
        let sql = format!(
            "SELECT transaction_id, record FROM transactions WHERE {} \
             ORDER BY booked_date DESC, transaction_id DESC LIMIT {}",
            filter.conditions.join(" AND "),
            u64::from(query.limit) + 1
        );
        let mut statement = sqlx::query_as::<_, (String, String)>(&sql);
        for value in filter.values {
            statement = match value {
                Bound::Text(text) => statement.bind(text),
                Bound::Integer(number) => statement.bind(number),
            };
        }
        let rows = statement.fetch_all(&self.database.pool).await?;
        page_from_rows(rows, query.limit)
    }
}

/// The `WHERE` conditions of a read, each with its bound values (never spliced into SQL).
#[derive(Default)]
struct Filter {
    conditions: Vec<String>,
    values: Vec<Bound>,
}

impl Filter {
    fn from_query(tenant_id: &TenantId, query: &TransactionQuery) -> Self {
        let mut filter = Filter::default();
        filter.compare("tenant_id", "=", Bound::Text(tenant_id.to_string()));
        if let Some(from) = query.from {
            filter.compare("booked_date", ">=", Bound::Text(from.to_string()));
        }
        if let Some(to) = query.to {
            filter.compare("booked_date", "<=", Bound::Text(to.to_string()));
        }
        if let Some(class) = query.class {
            filter.compare("class", "=", Bound::Text(class.code().into()));
        }
        if let Some(category) = query.category {
            filter.compare("category", "=", Bound::Text(category.code().into()));
        }
        if let Some(vendor) = &query.vendor {
            filter.compare("vendor", "=", Bound::Text(vendor.clone()));
        }
        if let Some(minimum) = query.min_amount_scaled {
            filter.compare("amount_scaled", ">=", Bound::Integer(minimum));
        }
        if let Some(maximum) = query.max_amount_scaled {
            filter.compare("amount_scaled", "<=", Bound::Integer(maximum));
        }
        if let Some(cursor) = &query.after {
            let date = filter.values.len() + 1;
            filter.conditions.push(format!(
                "(booked_date < ${date} OR (booked_date = ${date} AND transaction_id < ${}))",
                date + 1
            ));
            filter
                .values
                .push(Bound::Text(cursor.booked_date.to_string()));
            filter
                .values
                .push(Bound::Text(cursor.transaction_id.to_string()));
        }
        filter
    }

    fn compare(&mut self, column: &str, operator: &str, value: Bound) {
        self.values.push(value);
        self.conditions
            .push(format!("{column} {operator} ${}", self.values.len()));
    }
}

/// A value bound to a placeholder.
enum Bound {
    Text(String),
    Integer(i64),
}

fn page_from_rows(rows: Vec<(String, String)>, limit: u32) -> Result<TransactionPage, StoreError> {
    let has_more = rows.len() > limit as usize;
    let transactions = rows
        .into_iter()
        .take(limit as usize)
        .map(|(transaction_id, record)| {
            decode_transaction(record.as_bytes()).map_err(|error| StoreError::Corrupt {
                transaction_id,
                problem: error.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if has_more {
        transactions.last().map(|last| Cursor {
            booked_date: last.booked_date,
            transaction_id: last.transaction_id.clone(),
        })
    } else {
        None
    };
    Ok(TransactionPage {
        transactions,
        next_cursor,
    })
}

impl TransactionStore for SqlTransactionStore {
    fn insert<'a>(
        &'a self,
        tenant_id: &'a TenantId,
        upload_id: &'a str,
        transactions: &'a [Transaction],
    ) -> StoreFuture<'a, InsertCounts> {
        Box::pin(self.insert_all(tenant_id, upload_id, transactions))
    }

    fn query<'a>(
        &'a self,
        tenant_id: &'a TenantId,
        query: &'a TransactionQuery,
    ) -> StoreFuture<'a, TransactionPage> {
        Box::pin(self.query_page(tenant_id, query))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let tenant = TenantId::new("acme").unwrap();
        let cursor = Cursor {
            booked_date: NaiveDate::from_ymd_opt(2024, 1, 31).unwrap(),
            transaction_id: TransactionId::derive(&tenant, "csv", &["1"]),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("not a cursor"), None);
        assert_eq!(
            Cursor::decode(&URL_SAFE_NO_PAD.encode("2024-01-31|' OR 1=1")),
            None
        );
    }
}
