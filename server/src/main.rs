//! The `alleycat` binary: parse settings, set up logging, bind, run.

use alleycat_server::config::{Cli, Command, HistoryCommand};
use clap::Parser;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // A log line that cannot be written (the disk holding the log is full) is dropped. With
        // internal errors on, tracing-subscriber reports it with `eprintln!`, which panics when
        // stderr fails too: the thread that logged died (issue #19: the stream's shard writers).
        .log_internal_errors(false)
        .with_env_filter(
            EnvFilter::try_from_env("ALLEYCAT_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match Cli::parse().into_command() {
        Command::Serve(config) => {
            let listener = TcpListener::bind((config.host, config.port)).await?;
            alleycat_server::run(listener, config, alleycat_server::shutdown::signal()).await
        }
        Command::Rebuild(data) => alleycat_server::offline::rebuild(&data).await,
        Command::History(HistoryCommand::Import { class, file, data }) => {
            alleycat_server::offline::import(&data, class, &file).await
        }
        Command::Invite(args) => alleycat_server::offline::invite(&args).await,
    }
}
