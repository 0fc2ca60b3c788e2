//! Every setting of the `alleycat` binary, as a flag and as an `ALLEYCAT_*` environment
//! variable. Defaults are the named constants below, in one place; `alleycat --help` lists all.

use std::{net::IpAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand};

/// Default address to listen on: loopback only, so a fresh install is not exposed.
pub const DEFAULT_HOST: &str = "127.0.0.1";
/// Default port.
pub const DEFAULT_PORT: u16 = 3000;
/// Default data directory: everything Alleycat stores lives under it.
pub const DEFAULT_DATA_DIR: &str = "./data";
/// Default folder of the Trunk-built app.
pub const DEFAULT_DIST: &str = "./dist";
/// Default race length, seconds.
pub const DEFAULT_RACE_SECONDS: u32 = alleycat_domain::DEFAULT_RACE_SECONDS;

/// Alleycat: virtual exercise-bike racing.
#[derive(Debug, Parser)]
#[command(name = "alleycat", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings for `serve` when no command is given.
    #[command(flatten)]
    pub serve: ServeConfig,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the app and the API (the default).
    Serve(ServeConfig),
}

impl Cli {
    /// The command to run, with `serve` as the default.
    pub fn into_command(self) -> Command {
        self.command.unwrap_or(Command::Serve(self.serve))
    }
}

/// Settings of `alleycat serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "ALLEYCAT_HOST", default_value = DEFAULT_HOST)]
    pub host: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "ALLEYCAT_PORT", default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// Directory holding all of Alleycat's data (created if missing).
    #[arg(long, env = "ALLEYCAT_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// Folder of the built app (Trunk's `dist`).
    #[arg(long, env = "ALLEYCAT_DIST", default_value = DEFAULT_DIST)]
    pub dist: PathBuf,
    /// Length of each race in seconds; races start back to back on the clock.
    #[arg(long, env = "ALLEYCAT_RACE_SECONDS", default_value_t = DEFAULT_RACE_SECONDS,
          value_parser = clap::value_parser!(u32).range(1..=86_400))]
    pub race_seconds: u32,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            host: DEFAULT_HOST.parse().expect("the default host is an IP address"),
            port: DEFAULT_PORT,
            data_dir: DEFAULT_DATA_DIR.into(),
            dist: DEFAULT_DIST.into(),
            race_seconds: DEFAULT_RACE_SECONDS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_command_means_serve_with_the_defaults() {
        let Command::Serve(config) = Cli::parse_from(["alleycat"]).into_command();
        assert_eq!(config.port, DEFAULT_PORT);
        assert_eq!(config.race_seconds, 300);
        assert_eq!(config.data_dir, PathBuf::from("./data"));
    }

    #[test]
    fn flags_work_with_and_without_the_serve_command() {
        let Command::Serve(config) =
            Cli::parse_from(["alleycat", "--port", "8080", "--race-seconds", "20"]).into_command();
        assert_eq!((config.port, config.race_seconds), (8080, 20));
        let Command::Serve(config) =
            Cli::parse_from(["alleycat", "serve", "--dist", "/x"]).into_command();
        assert_eq!(config.dist, PathBuf::from("/x"));
    }

    #[test]
    fn a_zero_race_length_is_refused() {
        assert!(Cli::try_parse_from(["alleycat", "--race-seconds", "0"]).is_err());
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
