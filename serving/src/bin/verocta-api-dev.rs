//! `verocta-api-dev`: runs the API alone, for schemathesis, benchmarks and local work.
//!
//! ```text
//! verocta-api-dev --data-dir DIR --listen 127.0.0.1:PORT [--dev] [--database-url URL]
//!                 [--rate-limit-per-minute N]
//! ```
//!
//! The `verocta serve` command of the main binary is the production entry point; this one
//! exists so the API can be started without building the whole workspace. Environment:
//! `DATABASE_URL`, `VEROCTA_JWT_SECRET`, `VEROCTA_SECRET_KEY`, `VEROCTA_CORS_ORIGINS`,
//! `RUST_LOG`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use verocta_serving::{ServeConfig, run};

const USAGE: &str = "usage: verocta-api-dev --data-dir DIR --listen ADDR [--dev] [--database-url URL] [--rate-limit-per-minute N]";

fn parse_arguments() -> Result<ServeConfig, String> {
    let mut data_dir: Option<PathBuf> = None;
    let mut listen: Option<SocketAddr> = None;
    let mut dev_mode = false;
    let mut database_url = None;
    let mut rate_limit = None;
    let mut arguments = std::env::args().skip(1);
    while let Some(argument) = arguments.next() {
        let mut value = |name: &str| arguments.next().ok_or(format!("{name} needs a value"));
        match argument.as_str() {
            "--data-dir" => data_dir = Some(PathBuf::from(value("--data-dir")?)),
            "--listen" => {
                listen = Some(
                    value("--listen")?
                        .parse()
                        .map_err(|error| format!("--listen: {error}"))?,
                );
            }
            "--dev" => dev_mode = true,
            "--database-url" => database_url = Some(value("--database-url")?),
            "--rate-limit-per-minute" => {
                rate_limit = Some(
                    value("--rate-limit-per-minute")?
                        .parse::<u32>()
                        .map_err(|error| format!("--rate-limit-per-minute: {error}"))?,
                );
            }
            "--help" | "-h" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    let data_dir = data_dir.ok_or(format!("--data-dir is required\n{USAGE}"))?;
    let listen = listen.ok_or(format!("--listen is required\n{USAGE}"))?;
    let mut config = ServeConfig::from_env(data_dir, listen);
    config.dev_mode = dev_mode;
    if database_url.is_some() {
        config.database_url = database_url;
    }
    if let Some(rate_limit) = rate_limit {
        config.rate_limit_per_minute = rate_limit;
    }
    Ok(config)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("warn,verocta_serving=info")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = match parse_arguments() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let shutdown = async {
        // If the signal handler cannot be installed, run until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    match run(config, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
