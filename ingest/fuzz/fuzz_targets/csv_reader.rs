//! Fuzzes the CSV connector end to end: arbitrary bytes as an uploaded file must give a file
//! error or a summary, never a panic, and the summary's accounting must hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verocta_ingest::csv::RawImportOptions;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("verocta-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("input.csv");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let config = RawImportOptions { tenant: "fuzz".into(), ..Default::default() }.validate().unwrap();
    if let Ok(summary) = verocta_ingest::import_file(&path, &config, |tx| assert!(tx.validate().is_ok())) {
        assert_eq!(summary.rows_read, summary.transactions + summary.excluded + summary.rejected_count);
    }
});
