//! `/v1/uploads*` (CSV files through the CSV connector) and
//! `/v1/tenants/{tenant_id}/transactions` (reading what was imported).
//!
//! An upload is spooled to a temporary file in the data directory (the connector reads files
//! in two passes), imported on a blocking thread, and its transactions are streamed in
//! batches of [`INSERT_BATCH`] through a bounded channel into the [`TransactionStore`], so
//! memory stays flat whatever the file size. The answer is the import summary of
//! `verocta import --json` plus `upload_id` and how many transactions were new. Transaction
//! ids are deterministic, so uploading the same file twice stores nothing twice.
//!
//! [`TransactionStore`]: crate::store::TransactionStore

use std::path::{Path, PathBuf};

use axum::Json;
use axum::extract::State;
use axum::extract::multipart::{Field, Multipart, MultipartRejection};
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use utoipa::{IntoParams, ToSchema};
use verocta_ingest::IngestError;
use verocta_ingest::csv::RawImportOptions;
use verocta_schemas::{Category, TenantId, Transaction, TransactionClass};

use crate::ApiError;
use crate::caller::{Caller, Role};
use crate::crypto::random_id;
use crate::db::{now, rfc3339};
use crate::error::ErrorBody;
use crate::extract::{ApiPath, ApiQuery};
use crate::routes::api_keys::page_limit;
use crate::state::AppState;
use crate::store::{AMOUNT_SCALE_DIGITS, Cursor, InsertCounts, TransactionQuery};

/// Transactions per insert batch.
pub const INSERT_BATCH: usize = 1_000;

/// The multipart form of `POST /v1/uploads` (for the OpenAPI document).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The CSV file.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// `auto` (default) or a layout name such as `quickbooks-report`, `xero-statement`.
    format: Option<String>,
    /// Currency for amounts that state none (ISO 4217; default USD).
    currency: Option<String>,
    /// `day-first` or `month-first`, when the file's dates are ambiguous.
    date_order: Option<String>,
    /// `spend-positive` or `spend-negative`, overriding detection.
    amount_sign: Option<String>,
    /// `point` or `comma` decimal separator, overriding detection.
    decimal: Option<String>,
}

/// A spooled upload and its options.
struct ReceivedUpload {
    file: SpooledFile,
    options: RawImportOptions,
}

fn multipart_error(error: axum::extract::multipart::MultipartError) -> ApiError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge("the upload is larger than the limit".into())
    } else {
        ApiError::bad_request(format!(
            "cannot read the multipart body: {}",
            error.body_text()
        ))
    }
}

/// The last path component, without control characters, at most 200 characters.
fn clean_file_name(name: Option<&str>) -> String {
    let name = name
        .unwrap_or("upload.csv")
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default();
    let cleaned: String = name.chars().filter(|c| !c.is_control()).take(200).collect();
    if cleaned.trim().is_empty() {
        "upload.csv".into()
    } else {
        cleaned
    }
}

fn option_value<T: serde::de::DeserializeOwned>(field: &str, text: &str) -> Result<T, ApiError> {
    serde_json::from_value(Value::String(text.trim().to_string())).map_err(|_| {
        ApiError::BadRequest {
            message: format!("`{field}` has an unknown value `{}`", text.trim()),
            details: Some(serde_json::json!({ "field": field })),
        }
    })
}

/// A spooled upload: the file keeps its uploaded name (the connector records it as the
/// transactions' source name) inside a private temporary directory removed on drop.
struct SpooledFile {
    directory: tempfile::TempDir,
    file_name: String,
}

impl SpooledFile {
    fn path(&self) -> PathBuf {
        self.directory.path().join(&self.file_name)
    }
}

async fn spool_file(
    state: &AppState,
    mut field: Field<'_>,
    file_name: String,
) -> Result<SpooledFile, ApiError> {
    let directory = tempfile::tempdir_in(&state.settings.upload_dir).map_err(ApiError::internal)?;
    let spooled = SpooledFile {
        directory,
        file_name,
    };
    let mut file = tokio::fs::File::create(spooled.path())
        .await
        .map_err(ApiError::internal)?;
    let mut written = 0usize;
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        written += chunk.len();
        if written > state.settings.upload_limit_bytes {
            return Err(ApiError::PayloadTooLarge(
                "the upload is larger than the limit".into(),
            ));
        }
        file.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    file.flush().await.map_err(ApiError::internal)?;
    Ok(spooled)
}

async fn receive_upload(
    state: &AppState,
    tenant_id: &TenantId,
    mut multipart: Multipart,
) -> Result<ReceivedUpload, ApiError> {
    let mut options = RawImportOptions {
        tenant: tenant_id.to_string(),
        ..RawImportOptions::default()
    };
    let mut received = None;
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            let file_name = clean_file_name(field.file_name());
            received = Some(spool_file(state, field, file_name).await?);
            continue;
        }
        let text = field.text().await.map_err(multipart_error)?;
        if text.contains('\0') {
            return Err(ApiError::bad_request(
                "form fields must not contain NUL characters",
            ));
        }
        match name.as_str() {
            "format" => options.format = Some(text.trim().to_string()),
            "currency" => options.currency = Some(text.trim().to_string()),
            "date_order" => options.date_order = Some(option_value("date_order", &text)?),
            "amount_sign" => options.amount_sign = Some(option_value("amount_sign", &text)?),
            "decimal" => options.decimal = Some(option_value("decimal", &text)?),
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown form field `{}`; send `file` and optionally format, currency, date_order, amount_sign, decimal",
                    other.chars().take(64).collect::<String>()
                )));
            }
        }
    }
    let file = received.ok_or_else(|| {
        ApiError::bad_request("send the CSV file in a multipart field named `file`")
    })?;
    Ok(ReceivedUpload { file, options })
}

/// Maps a connector error to the caller's mistake (422) or an internal failure, replacing the
/// spool path with the uploaded file's name.
fn ingest_error(error: IngestError, spooled: &Path, file_name: &str) -> ApiError {
    let message = error
        .to_string()
        .replace(&spooled.display().to_string(), file_name)
        .replace(
            "--mapping FILE (see docs/import-formats.md) or pick a layout with --format",
            "the `format` field",
        )
        .replace(
            "rerun with --day-first or --month-first",
            "send `date_order` (day-first or month-first)",
        );
    match error {
        IngestError::Io { .. } => ApiError::Internal(message),
        IngestError::Config(_) => ApiError::bad_request(message),
        _ => ApiError::Unprocessable {
            message,
            details: None,
        },
    }
}

/// Imports a spooled file into the store; the summary and what was stored.
async fn import(
    state: &AppState,
    tenant_id: &TenantId,
    upload_id: &str,
    upload: &ReceivedUpload,
) -> Result<(verocta_ingest::ImportSummary, InsertCounts), ApiError> {
    let config = upload
        .options
        .clone()
        .validate()
        .map_err(|error| ApiError::bad_request(error.to_string()))?;
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Vec<Transaction>>(4);
    let path = upload.file.path();
    let reader = tokio::task::spawn_blocking(move || {
        let mut batch = Vec::with_capacity(INSERT_BATCH);
        let summary = verocta_ingest::import_file(&path, &config, |transaction| {
            batch.push(transaction);
            if batch.len() == INSERT_BATCH {
                // A closed channel means the writer failed; its error is reported below.
                let _ = sender.blocking_send(std::mem::take(&mut batch));
            }
        });
        if !batch.is_empty() {
            let _ = sender.blocking_send(batch);
        }
        summary
    });
    let mut counts = InsertCounts::default();
    while let Some(batch) = receiver.recv().await {
        let stored = state
            .transactions
            .insert(tenant_id, upload_id, &batch)
            .await
            .map_err(ApiError::internal)?;
        counts.inserted += stored.inserted;
        counts.duplicates += stored.duplicates;
    }
    let summary = reader
        .await
        .map_err(ApiError::internal)?
        .map_err(|error| ingest_error(error, &upload.file.path(), &upload.file.file_name))?;
    Ok((summary, counts))
}

/// Uploads a CSV export (analysts and above): imported with the CSV connector and stored.
#[utoipa::path(post, path = "/v1/uploads", tag = "data",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "The import summary of `verocta import --json`, plus `upload_id`, `inserted` and `duplicates`", body = Object),
        (status = 400, description = "No file, unknown option", body = ErrorBody),
        (status = 403, description = "Role too low", body = ErrorBody),
        (status = 413, description = "Larger than 50 MB", body = ErrorBody),
        (status = 422, description = "The file cannot be read as a ledger; the message says why and how to fix it", body = ErrorBody),
    ))]
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Analyst)?;
    let multipart = multipart.map_err(|_| {
        ApiError::UnsupportedMediaType("send the file as multipart/form-data".into())
    })?;
    let received = receive_upload(&state, &caller.tenant_id, multipart).await?;
    let upload_id = random_id("upl_")?;
    let (mut summary, counts) = import(&state, &caller.tenant_id, &upload_id, &received).await?;
    let file_name = received.file.file_name.clone();
    summary.file = file_name.clone();
    let mut body = serde_json::to_value(&summary).map_err(ApiError::internal)?;
    if let Value::Object(map) = &mut body {
        map.insert("upload_id".into(), Value::String(upload_id.clone()));
        map.insert("inserted".into(), counts.inserted.into());
        map.insert("duplicates".into(), counts.duplicates.into());
    }
    sqlx::query(
        "INSERT INTO uploads (id, tenant_id, file_name, uploaded_by, created_at, inserted, duplicates, summary) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&upload_id)
    .bind(caller.tenant_id.as_str())
    .bind(&file_name)
    .bind(caller.actor())
    .bind(now())
    .bind(i64::try_from(counts.inserted).unwrap_or(i64::MAX))
    .bind(i64::try_from(counts.duplicates).unwrap_or(i64::MAX))
    .bind(body.to_string())
    .execute(&state.database.pool)
    .await?;
    tracing::info!(tenant_id = %caller.tenant_id, upload_id, rows = summary.rows_read, inserted = counts.inserted, "upload imported");
    crate::audit::record(
        &state.database,
        caller
            .audit("upload.imported")
            .target(&upload_id)
            .details(serde_json::json!({
                "file": file_name, "rows_read": summary.rows_read, "inserted": counts.inserted,
            })),
    )
    .await;
    Ok((StatusCode::CREATED, Json(body)))
}

/// One past upload.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadEntry {
    /// Upload id.
    pub upload_id: String,
    /// File name as uploaded.
    pub file_name: String,
    /// `user:<id>` or `api_key:<id>`.
    pub uploaded_by: String,
    /// When (RFC 3339).
    pub created_at: String,
    /// New transactions stored.
    pub inserted: i64,
    /// Transactions already stored before.
    pub duplicates: i64,
}

/// Uploads, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadList {
    /// The uploads (at most 500).
    pub items: Vec<UploadEntry>,
}

/// The tenant's uploads, newest first.
#[utoipa::path(get, path = "/v1/uploads", tag = "data",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Uploads", body = UploadList),
        (status = 401, description = "No valid credential", body = ErrorBody),
    ))]
pub async fn list_uploads(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<UploadList>, ApiError> {
    let rows: Vec<(String, String, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT id, file_name, uploaded_by, created_at, inserted, duplicates FROM uploads \
         WHERE tenant_id = $1 ORDER BY created_at DESC, id LIMIT 500",
    )
    .bind(caller.tenant_id.as_str())
    .fetch_all(&state.database.pool)
    .await?;
    let items = rows
        .into_iter()
        .map(
            |(upload_id, file_name, uploaded_by, created_at, inserted, duplicates)| UploadEntry {
                upload_id,
                file_name,
                uploaded_by,
                created_at: rfc3339(created_at),
                inserted,
                duplicates,
            },
        )
        .collect();
    Ok(Json(UploadList { items }))
}

/// One upload's full summary.
#[utoipa::path(get, path = "/v1/uploads/{upload_id}", tag = "data",
    params(("upload_id" = String, Path, description = "Upload id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The summary returned by the upload", body = Object),
        (status = 404, description = "No such upload in this tenant", body = ErrorBody),
    ))]
pub async fn get_upload(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(upload_id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT summary FROM uploads WHERE id = $1 AND tenant_id = $2")
            .bind(&upload_id)
            .bind(caller.tenant_id.as_str())
            .fetch_optional(&state.database.pool)
            .await?;
    let (summary,) = row.ok_or_else(|| ApiError::NotFound("no such upload".into()))?;
    Ok(Json(
        serde_json::from_str(&summary).map_err(ApiError::internal)?,
    ))
}

/// Filters and paging of the transactions endpoint. Every value is validated; none is ever
/// spliced into SQL.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TransactionListQuery {
    /// Earliest booked date, inclusive (`YYYY-MM-DD`).
    #[param(format = Date)]
    pub from: Option<String>,
    /// Latest booked date, inclusive (`YYYY-MM-DD`).
    #[param(format = Date)]
    pub to: Option<String>,
    /// `spend`, `credit` or `excluded`.
    #[param(pattern = "^(spend|credit|excluded)$")]
    pub class: Option<String>,
    /// A category code, e.g. `software_saas`.
    pub category: Option<String>,
    /// Normalised vendor, exact (case-insensitive).
    pub vendor: Option<String>,
    /// Smallest amount, inclusive, as a decimal (`12.50`), in each transaction's currency.
    #[param(pattern = r"^[0-9]{1,14}(\.[0-9]{1,4})?$")]
    pub min_amount: Option<String>,
    /// Largest amount, inclusive, as a decimal.
    #[param(pattern = r"^[0-9]{1,14}(\.[0-9]{1,4})?$")]
    pub max_amount: Option<String>,
    /// Transactions per page, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of canonical transactions.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionList {
    /// Transactions (the canonical JSON encoding, `schemas/transaction.schema.json`), newest
    /// booked date first.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Transaction>,
    /// Cursor of the next page; null on the last page.
    pub next_cursor: Option<String>,
}

fn invalid_parameter(field: &str, expected: &str) -> ApiError {
    ApiError::BadRequest {
        message: format!("`{field}` must be {expected}"),
        details: Some(serde_json::json!({ "field": field })),
    }
}

fn parse_date(field: &str, text: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| invalid_parameter(field, "a date YYYY-MM-DD"))
}

/// Parses a non-negative decimal into units scaled by 10^[`AMOUNT_SCALE_DIGITS`].
pub fn parse_scaled_amount(field: &str, text: &str) -> Result<i64, ApiError> {
    let invalid = || {
        invalid_parameter(
            field,
            "a non-negative decimal with at most 4 decimals, such as 12.50",
        )
    };
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits_only = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if whole.is_empty()
        || !digits_only(whole)
        || !digits_only(fraction)
        || fraction.len() > usize::from(AMOUNT_SCALE_DIGITS)
    {
        return Err(invalid());
    }
    let padded = format!(
        "{whole}{fraction:0<width$}",
        width = usize::from(AMOUNT_SCALE_DIGITS)
    );
    padded.parse::<i64>().map_err(|_| invalid())
}

/// A parameter's trimmed text, `None` when absent or blank.
fn text(value: &Option<String>) -> Option<&str> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty())
}

fn transaction_query(query: &TransactionListQuery) -> Result<TransactionQuery, ApiError> {
    Ok(TransactionQuery {
        from: text(&query.from)
            .map(|value| parse_date("from", value))
            .transpose()?,
        to: text(&query.to)
            .map(|value| parse_date("to", value))
            .transpose()?,
        class: text(&query.class)
            .map(|value| {
                TransactionClass::from_code(value)
                    .ok_or_else(|| invalid_parameter("class", "spend, credit or excluded"))
            })
            .transpose()?,
        category: text(&query.category)
            .map(|value| {
                Category::from_code(value).ok_or_else(|| {
                    invalid_parameter("category", "a category code (see docs/categories.md)")
                })
            })
            .transpose()?,
        vendor: text(&query.vendor).map(str::to_lowercase),
        min_amount_scaled: text(&query.min_amount)
            .map(|value| parse_scaled_amount("min_amount", value))
            .transpose()?,
        max_amount_scaled: text(&query.max_amount)
            .map(|value| parse_scaled_amount("max_amount", value))
            .transpose()?,
        after: text(&query.cursor)
            .map(|value| {
                Cursor::decode(value)
                    .ok_or_else(|| invalid_parameter("cursor", "a next_cursor from this endpoint"))
            })
            .transpose()?,
        limit: page_limit(query.limit)?,
    })
}

/// The tenant's transactions with filters, newest first, cursor-paginated.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/transactions", tag = "data",
    params(("tenant_id" = String, Path, description = "Tenant id"), TransactionListQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of transactions", body = TransactionList),
        (status = 400, description = "Invalid filter or cursor", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 404, description = "Not the caller's tenant", body = ErrorBody),
    ))]
pub async fn list_transactions(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<TransactionListQuery>,
) -> Result<Json<TransactionList>, ApiError> {
    caller.require(Role::Viewer)?;
    let query = transaction_query(&query)?;
    let page = state
        .transactions
        .query(&caller.tenant_id, &query)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(TransactionList {
        items: page.transactions,
        next_cursor: page.next_cursor.map(|cursor| cursor.encode()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_exactly() {
        assert_eq!(parse_scaled_amount("m", "12.5").unwrap(), 125_000);
        assert_eq!(parse_scaled_amount("m", "0").unwrap(), 0);
        assert_eq!(parse_scaled_amount("m", "1.2345").unwrap(), 12_345);
        for bad in [
            "",
            "-1",
            "1.23456",
            "1e3",
            "' OR 1=1",
            ".5",
            "99999999999999999999",
        ] {
            assert!(parse_scaled_amount("m", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn file_names_lose_their_directories() {
        assert_eq!(clean_file_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(clean_file_name(Some("C:\\x\\books.csv")), "books.csv");
        assert_eq!(clean_file_name(None), "upload.csv");
        assert_eq!(clean_file_name(Some("a/")), "upload.csv");
    }
}
