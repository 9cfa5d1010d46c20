//! Round-trip tests: JSON and Arrow encodings give back exactly what went in, and the exported
//! JSON Schema / taxonomy docs match the code.

use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
use proptest::prelude::*;
use verocta_schemas::arrow::{transaction_schema, transactions_from_batch, transactions_to_batch};
use verocta_schemas::wire::{decode_transaction, encode_transaction, transaction_json_schema};
use verocta_schemas::*;

fn sample(i: i64, class: TransactionClass, currency: &str) -> Transaction {
    let tenant = TenantId::new("acme").unwrap();
    let exclusion = (class == TransactionClass::Excluded).then(|| Exclusion {
        reason: ExclusionReason::OwnAccountTransfer,
        detail: "To GBP Savings".into(),
    });
    Transaction {
        schema_version: TRANSACTION_SCHEMA_VERSION,
        transaction_id: TransactionId::derive(&tenant, "csv", &[&i.to_string()]),
        tenant_id: tenant,
        source: SourceRef {
            kind: SourceKind::Csv,
            format: "revolut-business".into(),
            name: "statement.csv".into(),
            line: Some(i as u64 + 2),
            external_id: (i % 2 == 0).then(|| format!("id-{i}")),
        },
        booked_date: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()
            + chrono::Days::new(i as u64 % 400),
        booked_time: (i % 3 == 0).then(|| NaiveTime::from_hms_opt(13, 5, 9).unwrap()),
        amount: Money::from_minor(i.abs() * 7, Currency::new(currency).unwrap()),
        original_amount: (i % 5 == 0).then(|| Money::from_minor(i.abs(), Currency::EUR)),
        class,
        exclusion,
        vendor_raw: Some("SQ *Café Ünïcode, \"quoted\"".into()),
        vendor: Some("café ünïcode quoted".into()),
        category_raw: None,
        category: Category::MealsEntertainment,
        account: Some("Business Checking".into()),
        memo: Some("line one\nline two".into()),
        payment_method: Some("card".into()),
        card_last4: Some("4242".into()),
        employee: None,
        department: Some("Sales".into()),
        ingested_at: Utc.timestamp_micros(1_732_000_000_123_456).unwrap(),
    }
}

#[test]
fn json_round_trip_is_lossless() {
    for (i, class) in [
        TransactionClass::Spend,
        TransactionClass::Credit,
        TransactionClass::Excluded,
    ]
    .into_iter()
    .enumerate()
    {
        let tx = sample(i as i64 * 11, class, ["USD", "JPY", "BHD"][i]);
        tx.validate().unwrap();
        let bytes = encode_transaction(&tx);
        assert_eq!(decode_transaction(&bytes).unwrap(), tx);
    }
}

#[test]
fn json_amount_is_an_exact_decimal_string() {
    let tx = sample(3, TransactionClass::Spend, "BHD");
    let value: serde_json::Value = serde_json::from_slice(&encode_transaction(&tx)).unwrap();
    assert_eq!(
        value["amount"],
        serde_json::json!({"amount": "0.021", "currency": "BHD"})
    );
    assert_eq!(value["booked_date"], "2024-01-04");
}

#[test]
fn decoding_rejects_broken_invariants_and_unknown_fields() {
    let tx = sample(1, TransactionClass::Spend, "USD");
    let mut value: serde_json::Value = serde_json::from_slice(&encode_transaction(&tx)).unwrap();
    value["class"] = "excluded".into();
    assert!(decode_transaction(value.to_string().as_bytes()).is_err());
    let mut value: serde_json::Value = serde_json::from_slice(&encode_transaction(&tx)).unwrap();
    value["surprise"] = 1.into();
    assert!(decode_transaction(value.to_string().as_bytes()).is_err());
}

#[test]
fn arrow_round_trip_is_lossless() {
    let txs: Vec<_> = (0..50)
        .map(|i| {
            let class = [
                TransactionClass::Spend,
                TransactionClass::Credit,
                TransactionClass::Excluded,
            ][i % 3];
            sample(i as i64, class, ["USD", "JPY", "BHD", "GBP"][i % 4])
        })
        .collect();
    let batch = transactions_to_batch(&txs).unwrap();
    assert_eq!(batch.schema(), transaction_schema());
    assert_eq!(batch.num_rows(), 50);
    assert_eq!(transactions_from_batch(&batch).unwrap(), txs);
}

/// A builder reused across batches of different sizes (it keeps its columns' capacity from one
/// batch to the next) gives each batch exactly as a fresh builder does.
#[test]
fn a_reused_builder_gives_the_batches_of_fresh_ones() {
    let txs: Vec<_> = (0..60)
        .map(|i| sample(i as i64, TransactionClass::Spend, ["USD", "JPY"][i % 2]))
        .collect();
    let mut reused = verocta_schemas::arrow::TransactionBatchBuilder::with_capacity(1);
    let mut start = 0;
    for size in [7, 30, 2, 0, 21] {
        let part = &txs[start..start + size];
        start += size;
        for tx in part {
            reused.append(tx);
        }
        let batch = reused.finish().unwrap();
        assert_eq!(
            batch,
            transactions_to_batch(part).unwrap(),
            "batch of {size}"
        );
        assert_eq!(batch.schema(), transaction_schema());
        assert_eq!(transactions_from_batch(&batch).unwrap(), part);
    }
}

proptest! {
    #[test]
    fn arrow_and_json_round_trip_any_amount(minor in 0i64..i64::MAX, day in 0u64..40_000,
                                            code in prop::sample::select(vec!["USD", "JPY", "BHD", "CLF"])) {
        let mut tx = sample(1, TransactionClass::Spend, code);
        tx.amount = Money::from_minor(minor, Currency::new(code).unwrap());
        tx.booked_date = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Days::new(day);
        let batch = transactions_to_batch(std::slice::from_ref(&tx)).unwrap();
        prop_assert_eq!(&transactions_from_batch(&batch).unwrap()[0], &tx);
        prop_assert_eq!(decode_transaction(&encode_transaction(&tx)).unwrap(), tx);
    }
}

fn optional_text() -> impl Strategy<Value = Option<String>> {
    // Plain text, and text with everything JSON escapes: quotes, backslashes, controls.
    // Mostly plain, so that a good share of records have no escape at all (the decoder's
    // fast path) and the rest exercise serde_json's.
    prop_oneof![
        3 => Just(None),
        8 => "[a-zA-Z0-9 ,.*#&'é-]{0,24}".prop_map(Some),
        1 => any::<String>().prop_map(Some),
        1 =>
        r#"[\\\x00-\x1f\x7f"é€😀 ]{0,8}"#.prop_map(Some),
    ]
}

fn timestamp() -> impl Strategy<Value = chrono::DateTime<Utc>> {
    // Whole seconds, and fractions exact to milli-, micro- and nanoseconds: chrono writes a
    // different width for each.
    (
        0i64..253_402_300_799,
        prop_oneof![Just(0u32), 0u32..1000, 0u32..1_000_000, 0u32..1_000_000_000],
        prop::sample::select(vec![1_000_000u32, 1_000, 1]),
    )
        .prop_map(|(seconds, fraction, unit)| {
            let nanos = (u64::from(fraction) * u64::from(unit)).min(999_999_999) as u32;
            Utc.timestamp_opt(seconds, nanos).unwrap()
        })
}

fn any_transaction() -> impl Strategy<Value = Transaction> {
    let texts = prop::collection::vec(optional_text(), 10);
    let class = prop::sample::select(vec![
        TransactionClass::Spend,
        TransactionClass::Credit,
        TransactionClass::Excluded,
    ]);
    let category = prop::sample::select(Category::ALL.to_vec());
    let code = prop::sample::select(vec!["USD", "JPY", "BHD", "CLF", "GBP"]);
    (
        (0i64..i64::MAX, code, any::<i64>(), class, category),
        texts,
        (
            any::<Option<u64>>(),
            -719_162i64..2_932_896,
            any::<Option<u32>>(),
        ),
        timestamp(),
    )
        .prop_map(
            |((minor, code, original, class, category), texts, (line, day, time), ingested_at)| {
                let mut tx = sample(minor % 1000, class, code);
                tx.amount = Money::from_minor(minor, Currency::new(code).unwrap());
                tx.original_amount = (original % 3 != 0)
                    .then(|| Money::from_minor(original.max(-i64::MAX), Currency::EUR));
                tx.category = category;
                tx.source.line = line;
                tx.source.external_id = texts[0].clone();
                tx.vendor_raw = texts[1].clone();
                tx.vendor = texts[2].clone();
                tx.category_raw = texts[3].clone();
                tx.account = texts[4].clone();
                tx.memo = texts[5].clone();
                tx.payment_method = texts[6].clone();
                tx.employee = texts[7].clone();
                tx.department = texts[8].clone();
                if let (Some(exclusion), Some(detail)) = (&mut tx.exclusion, &texts[9]) {
                    exclusion.detail = detail.clone();
                }
                tx.card_last4 = line.map(|l| format!("{:04}", l % 10_000));
                tx.booked_date = NaiveDate::from_ymd_opt(1970, 1, 1)
                    .unwrap()
                    .checked_add_signed(chrono::Duration::days(day))
                    .unwrap();
                tx.booked_time = time
                    .map(|s| NaiveTime::from_num_seconds_from_midnight_opt(s % 86_400, 0).unwrap());
                tx.ingested_at = ingested_at;
                tx
            },
        )
}

proptest! {
    /// The hand-written encoder writes exactly serde_json's bytes, and the borrowed view reads
    /// them back to the same Arrow row as the owned type.
    #[test]
    fn the_encoder_writes_serde_json_bytes(tx in any_transaction()) {
        let encoded = encode_transaction(&tx);
        let reference = serde_json::to_vec(&tx).unwrap();
        prop_assert_eq!(String::from_utf8(encoded.clone()).unwrap(), String::from_utf8(reference).unwrap());
        prop_assert_eq!(&decode_transaction(&encoded).unwrap(), &tx);
        let view = verocta_schemas::view::TransactionView::decode(&encoded).unwrap();
        let by_serde: verocta_schemas::view::TransactionView<'_> = serde_json::from_slice(&encoded).unwrap();
        prop_assert_eq!(&view, &by_serde);
        let mut from_view = verocta_schemas::arrow::TransactionBatchBuilder::with_capacity(1);
        from_view.append_view(&view);
        let mut from_owned = verocta_schemas::arrow::TransactionBatchBuilder::with_capacity(1);
        from_owned.append(&tx);
        prop_assert_eq!(from_view.finish().unwrap(), from_owned.finish().unwrap());
    }

    /// Encoding the view writes the owned transaction's bytes, and the offset it returns is
    /// where the id is: overwriting it there gives the record of the transaction with that id.
    #[test]
    fn the_view_encoder_writes_the_same_bytes_and_finds_the_id(tx in any_transaction(), before in 0usize..3) {
        assert_view_encoding(&tx, before);
    }
}

fn assert_view_encoding(tx: &verocta_schemas::Transaction, before: usize) {
    let mut buffer = b"kept".repeat(before);
    let id_at = verocta_schemas::wire::encode_view_into(&tx.view(), &mut buffer).unwrap();
    assert_eq!(&buffer[..4 * before], &b"kept".repeat(before)[..]);
    assert_eq!(&buffer[4 * before..], &encode_transaction(tx)[..]);
    assert_eq!(
        &buffer[id_at..id_at + 35],
        tx.transaction_id.as_str().as_bytes()
    );
    let other = verocta_schemas::TransactionId::derive(&tx.tenant_id, "csv", &["another"]);
    buffer[id_at..id_at + 35].copy_from_slice(other.as_str().as_bytes());
    let mut renumbered = tx.clone();
    renumbered.transaction_id = other;
    assert_eq!(&buffer[4 * before..], &encode_transaction(&renumbered)[..]);
}

#[test]
fn dates_beyond_year_9999_and_leap_seconds_take_serde_json() {
    let mut tx = sample(1, TransactionClass::Spend, "USD");
    tx.booked_date = NaiveDate::from_ymd_opt(10_000, 1, 1).unwrap();
    tx.booked_time = NaiveTime::from_hms_milli_opt(23, 59, 59, 1_500);
    tx.ingested_at = NaiveDate::from_ymd_opt(2016, 12, 31)
        .and_then(|d| d.and_hms_nano_opt(23, 59, 59, 1_250_000_000))
        .unwrap()
        .and_utc();
    let encoded = encode_transaction(&tx);
    assert_eq!(encoded, serde_json::to_vec(&tx).unwrap());
    assert_eq!(decode_transaction(&encoded).unwrap(), tx);
    let mut buffer = b"kept".to_vec();
    verocta_schemas::wire::encode_transaction_into(&tx, &mut buffer);
    assert_eq!(&buffer[..4], b"kept");
    assert_eq!(&buffer[4..], &encoded[..]);
    assert_view_encoding(&tx, 1);
}

/// The checked-in JSON Schema is what the code generates. Run with `UPDATE_SCHEMAS=1` to
/// rewrite it after changing the types.
#[test]
fn exported_json_schema_is_in_sync() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/transaction.schema.json");
    let generated = transaction_json_schema();
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "schemas/transaction.schema.json is stale: rerun with UPDATE_SCHEMAS=1"
    );
    let schema: serde_json::Value = serde_json::from_str(&generated).unwrap();
    assert!(
        schema["required"]
            .as_array()
            .unwrap()
            .contains(&"amount".into())
    );
}

#[test]
fn category_docs_are_in_sync() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/categories.md");
    let generated = verocta_schemas::category::taxonomy_markdown();
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs")).unwrap();
        std::fs::write(path, &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/categories.md is stale: rerun with UPDATE_SCHEMAS=1"
    );
}
