//! The `alleycat-sim` binary: parse settings, set up logging, ride until done or Ctrl-C, print
//! the summary (and `--json` it), and exit non-zero when events failed for reasons other than
//! deliberate rejections.

use std::process::ExitCode;

use alleycat_sim::SimConfig;
use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_env("ALLEYCAT_LOG").unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .init();
    let config = SimConfig::parse();
    let json = config.json;
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let report = match alleycat_sim::run(config, stop).await {
        Ok(report) => report,
        Err(error) => {
            eprintln!("alleycat-sim: {error}");
            return ExitCode::from(2);
        }
    };
    eprintln!("{}", report.summary);
    if json {
        let text = serde_json::to_string_pretty(&report.summary).expect("the summary serializes");
        #[allow(clippy::print_stdout)] // the JSON summary is this binary's output for scripts
        {
            println!("{text}");
        }
    }
    if report.summary.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
