//! Stable-toolchain companion of the `cargo fuzz` target (`ingest/fuzz`): random and
//! CSV-shaped bytes never panic the connector, and every outcome is accounted for.

use proptest::prelude::*;
use verocta_ingest::csv::RawImportOptions;

fn check(bytes: &[u8]) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    let config = RawImportOptions {
        tenant: "fuzz".into(),
        ..Default::default()
    }
    .validate()
    .unwrap();
    if let Ok(summary) =
        verocta_ingest::import_file(file.path(), &config, |tx| tx.validate().unwrap())
    {
        assert_eq!(
            summary.rows_read,
            summary.transactions + summary.excluded + summary.rejected_count
        );
    }
}

fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,2}[/.-][0-9]{1,2}[/.-][0-9]{2,4}",
        "20[0-9]{2}-[0-9]{2}-[0-9]{2}( [0-9]{2}:[0-9]{2})?",
        "[-(]?[$£€]?[0-9]{1,3}([,. ][0-9]{3})*([.,][0-9]{1,3})?[)-]?( CR| DR)?",
        "\"[a-zA-Z ,\\n\"]{0,12}\"",
        "[a-zA-Z *#&]{0,15}",
        Just(String::new()),
        Just("TOTAL".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        check(&bytes);
    }

    #[test]
    fn csv_shaped_input_never_panics(
        header in prop::sample::select(vec![
            "Date,Description,Amount", "Date;Amount;Category", "Date,Description,Paid Out,Paid In",
            ",Date,Transaction Type,Num,Name,Amount", "Type,Product,Started Date,Completed Date,Description,Amount,Fee,Currency,State,Balance",
        ]),
        rows in proptest::collection::vec(proptest::collection::vec(cell(), 1..7), 0..12),
    ) {
        let delimiter = if header.contains(';') { ";" } else { "," };
        let mut text = format!("{header}\n");
        for row in rows {
            text.push_str(&row.join(delimiter));
            text.push('\n');
        }
        check(text.as_bytes());
    }
}
