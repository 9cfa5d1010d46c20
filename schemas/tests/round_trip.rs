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
