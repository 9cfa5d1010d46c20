//! Times the JSON wire codec on real connector output: every transaction of FILE encoded
//! (serde_json, then `encode_transaction`), then decoded as the workers do (a borrowed
//! `TransactionView`, appended to an Arrow builder). Best of five runs each, on stderr.
//!
//! The pipeline spends about a fifth of its CPU here (encode in the producer, decode in the
//! workers), and this needs only a release build of `ingest` and `schemas`:
//!
//! ```sh
//! cargo build --release -p verocta-ingest --example wire_codec
//! target/release/examples/wire_codec FILE
//! valgrind --tool=callgrind target/release/examples/wire_codec FILE 1
//! ```

// The allocator the `verocta` binary and the benchmarks use.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::path::Path;
use std::time::Instant;

use verocta_ingest::csv::RawImportOptions;
use verocta_schemas::Transaction;
use verocta_schemas::arrow::TransactionBatchBuilder;
use verocta_schemas::view::TransactionView;
use verocta_schemas::wire::encode_transaction;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: wire_codec FILE [RUNS]")?;
    let runs: usize = args.next().map_or(Ok(5), |runs| runs.parse())?;
    let config = RawImportOptions {
        tenant: "bench".into(),
        ..Default::default()
    }
    .validate()?;
    let mut transactions = Vec::new();
    verocta_ingest::import_file(Path::new(&path), &config, |transaction| {
        transactions.push(transaction);
    })?;
    let rows = transactions.len() as f64;
    let encoded: Vec<Vec<u8>> = transactions.iter().map(encode_transaction).collect();
    let bytes: usize = encoded.iter().map(Vec::len).sum();
    eprintln!("{rows} transactions, {:.1} MB of JSON", bytes as f64 / 1e6);

    let time = |name: &str, work: &dyn Fn() -> Result<usize, Box<dyn std::error::Error>>| {
        let mut best = f64::INFINITY;
        for _ in 0..runs {
            let started = Instant::now();
            std::hint::black_box(work()?);
            best = best.min(started.elapsed().as_secs_f64());
        }
        eprintln!(
            "{name:<24} {:>7.0} ns/row {:>10.0} rows/s",
            best * 1e9 / rows,
            rows / best
        );
        Ok::<(), Box<dyn std::error::Error>>(())
    };
    time("encode, serde_json", &|| {
        Ok(transactions
            .iter()
            .map(|tx: &Transaction| serde_json::to_vec(tx).map_or(0, |v| v.len()))
            .sum())
    })?;
    time("encode_transaction", &|| {
        Ok(transactions
            .iter()
            .map(|tx| encode_transaction(tx).len())
            .sum())
    })?;
    time("decode view + Arrow", &|| {
        let mut builder = TransactionBatchBuilder::with_capacity(8192);
        let mut batches = 0;
        for payload in &encoded {
            builder.append_view(&TransactionView::decode(payload)?);
            if builder.len() == 8192 {
                batches += builder.finish()?.num_rows();
            }
        }
        Ok(batches + builder.finish()?.num_rows())
    })?;
    Ok(())
}
