//! `sensor`: the command-line entry point.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use sensor::config::Config;

#[derive(Parser)]
#[command(
    name = "sensor",
    version,
    about = "Host traffic sensor that catches API data leakage"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Capture HTTP on this host until SIGINT or SIGTERM.
    Run(RunArgs),
    /// Validate a configuration file and exit.
    CheckConfig {
        /// The TOML file to check.
        file: PathBuf,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// TOML configuration file (defaults apply to every key it omits).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Alerts output, JSON lines; `-` is stdout [default: alerts.jsonl].
    #[arg(long)]
    alerts: Option<PathBuf>,
    /// Write every HTTP exchange (metadata only) here, JSON lines; `-` is stdout.
    #[arg(long)]
    exchanges: Option<PathBuf>,
    /// On exit, write the sensor's counters here as one JSON object.
    #[arg(long)]
    stats: Option<PathBuf>,
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match real_main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn real_main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => {
            let mut config = match &args.config {
                Some(path) => Config::load(path)?,
                None => Config::default(),
            };
            if let Some(alerts) = args.alerts {
                config.output.alerts = alerts;
            }
            if args.exchanges.is_some() {
                config.output.exchanges = args.exchanges;
            }
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(sensor::run::run(config, args.stats))
        }
        Command::CheckConfig { file } => {
            Config::load(&file)?;
            println!("{}: ok", file.display());
            Ok(())
        }
    }
}
