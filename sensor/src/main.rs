//! `sensor`: the command-line entry point.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use sensor::config::Config;

// Counted, for the allocations per exchange in --stats and the metrics.
#[global_allocator]
static ALLOCATOR: sensor::allocations::Counting = sensor::allocations::Counting;

#[derive(Parser)]
#[command(
    name = "sensor",
    version,
    about = "Host traffic sensor that catches API data leakage"
)]
struct Cli {
    /// Log format on stderr: `text` for people, `json` for log pipelines.
    #[arg(long, global = true, default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Capture HTTP on this host until SIGINT or SIGTERM.
    Run(RunArgs),
    /// Follow an alerts file and print one readable line per alert.
    Tail(TailArgs),
    /// Run a pcap or pcapng capture through the pipeline (no root needed).
    Replay(ReplayArgs),
    /// List the detection rules (id, category, severity, description):
    /// every built-in rule, or with --config the set that configuration runs.
    Rules {
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
        /// Show the effective set: custom rules added, disabled rules left
        /// out, severities as configured.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Print the catalogue of API endpoints seen (kept in the state directory).
    Inventory(InventoryArgs),
    /// Check the hash chain of an alerts file, or a rotated set; exits 1
    /// at the first line changed, removed or inserted, or a cut tail.
    Verify(VerifyArgs),
    /// Check what this host offers the sensor: kernel, BTF, capture mode,
    /// tracefs, capabilities, a trial of the eBPF programs and of the HTTPS
    /// probes, the outputs and the sinks; a table with a fix for each
    /// failure, exit status 1 when any check failed. Run it with the
    /// privileges `run` will have.
    Doctor {
        /// The configuration `run` will be given [default: the defaults].
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Validate a configuration file and what `run` needs from this host
    /// (key file, state directory, output directories, metrics port).
    CheckConfig {
        /// The TOML file to check.
        file: PathBuf,
        /// Check the file only, not this host: for a config made for
        /// another host (a pod, a package not yet installed).
        #[arg(long)]
        syntax_only: bool,
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

#[derive(clap::Args)]
struct ReplayArgs {
    /// The capture: pcap or pcapng, as tcpdump or tshark write it.
    file: PathBuf,
    #[command(flatten)]
    outputs: RunArgs,
}

#[derive(clap::Args)]
struct InventoryArgs {
    /// Configuration file naming the state directory.
    #[arg(long)]
    config: Option<PathBuf>,
    /// State directory holding inventory.json [default: output.state_dir].
    #[arg(long, conflicts_with = "store")]
    state_dir: Option<PathBuf>,
    /// The fleet's inventory instead, merged from the PostgreSQL database
    /// the sensors share (`postgres://USER:PASSWORD@HOST:PORT/DATABASE`,
    /// as `[inventory] store`).
    #[arg(long, conflicts_with = "config")]
    store: Option<String>,
    /// table for people, json as stored, openapi for an OpenAPI 3 document.
    #[arg(long, value_enum, default_value = "table")]
    format: sensor::analysis::inventory::InventoryFormat,
}

#[derive(clap::Args)]
struct VerifyArgs {
    /// The alerts file, or the files of a rotated set in any order
    /// (`alerts.jsonl*`).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Configuration file naming the fingerprint key (`detect.fingerprint_key_file`
    /// or `output.state_dir`) the sensor chained the file with.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The fingerprint key file itself.
    #[arg(long)]
    key_file: Option<PathBuf>,
}

#[derive(clap::Args)]
struct TailArgs {
    /// Alerts file [default: the configured alerts output].
    file: Option<PathBuf>,
    /// Configuration file naming the alerts output.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Lowest severity shown.
    #[arg(long, value_parser = sensor::tail::SEVERITIES)]
    severity: Option<String>,
    /// Only these categories (repeatable).
    #[arg(long, value_parser = sensor::tail::CATEGORIES)]
    category: Vec<String>,
    /// Print the JSON lines unchanged (filters still apply).
    #[arg(long)]
    json: bool,
    /// Alerts already in the file shown first.
    #[arg(short = 'n', long, default_value_t = 10)]
    lines: usize,
    /// Colour by severity: auto (when stdout is a terminal), always, never.
    #[arg(long, default_value = "auto", value_parser = ["auto", "always", "never"])]
    color: String,
    /// Print what is in the file and exit instead of following it.
    #[arg(long)]
    once: bool,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal: a file, a pipe or
        // journald would keep them as noise.
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        );
    if cli.log_format == "json" {
        logs.json().init();
    } else {
        logs.init();
    }
    match real_main(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // The reader went away (`sensor rules | head`): nothing more to
        // say, as `cat` would end.
        Err(err) if is_broken_pipe(&err) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn real_main(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run(args) => {
            let stats = args.stats.clone();
            let config = run_config(args)?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(sensor::run::run(config, stats))
        }
        Command::Replay(args) => {
            let stats = args.outputs.stats.clone();
            let config = run_config(args.outputs)?;
            sensor::replay::replay(config, &args.file, stats)
        }
        Command::Tail(args) => {
            let path = match args.file {
                Some(path) => path,
                None => match &args.config {
                    Some(config) => Config::load(config)?.output.alerts,
                    None => Config::default().output.alerts,
                },
            };
            let color = match args.color.as_str() {
                "always" => true,
                "never" => false,
                _ => std::io::stdout().is_terminal(),
            };
            let options = sensor::tail::TailOptions {
                path,
                filter: sensor::tail::Filter {
                    min_severity: args
                        .severity
                        .as_deref()
                        .and_then(sensor::tail::severity_rank)
                        .unwrap_or(0),
                    categories: args.category,
                },
                json: args.json,
                color,
                last: args.lines,
                once: args.once,
            };
            sensor::tail::tail(&options, &mut std::io::stdout().lock())
        }
        Command::Rules { json, config } => print_rules(json, config.as_deref()),
        Command::Inventory(args) => {
            if let Some(url) = &args.store {
                // Checked here, not by clap: clap's error would quote the
                // password.
                let url = sensor::analysis::inventory::fleet::StoreUrl::parse(url)
                    .map_err(|err| anyhow::anyhow!("--store: {err}"))?;
                return sensor::analysis::inventory::print_fleet(
                    &url,
                    args.format,
                    &mut std::io::stdout().lock(),
                );
            }
            let state_dir = match (args.state_dir, &args.config) {
                (Some(dir), _) => dir,
                (None, Some(config)) => Config::load(config)?.output.state_dir,
                (None, None) => Config::default().output.state_dir,
            };
            sensor::analysis::inventory::print(
                &state_dir,
                args.format,
                &mut std::io::stdout().lock(),
            )
        }
        Command::Verify(args) => verify(args),
        Command::Doctor { config } => {
            use std::io::Write as _;
            let report = sensor::doctor::run(config.as_deref());
            let mut out = std::io::stdout().lock();
            report.print(&mut out)?;
            out.flush()?;
            let failed = report.failures();
            anyhow::ensure!(
                failed == 0,
                "{failed} doctor checks failed: see the fixes above"
            );
            Ok(())
        }
        Command::CheckConfig { file, syntax_only } => {
            let config = Config::load(&file)?;
            if !syntax_only {
                sensor::preflight::check(&config)?;
            }
            println!("{}: ok", file.display());
            Ok(())
        }
    }
}

/// The configuration file with the command line's outputs on top.
fn run_config(args: RunArgs) -> anyhow::Result<Config> {
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
    Ok(config)
}

/// `sensor verify`: one line saying what was found; an error (exit 1)
/// unless the log is intact.
fn verify(args: VerifyArgs) -> anyhow::Result<()> {
    use sensor::sink::chain::ChainKey;
    use sensor::sink::verify::Verdict;
    let path = match (args.key_file, &args.config) {
        (Some(path), _) => path,
        (None, Some(config)) => {
            let config = Config::load(config)?;
            config.detect.key_path(&config.output.state_dir)
        }
        (None, None) => {
            let config = Config::default();
            config.detect.key_path(&config.output.state_dir)
        }
    };
    // Never create a key here: a fresh one would call every line changed.
    anyhow::ensure!(
        path.exists(),
        "no fingerprint key at {}: give the key the sensor wrote with (--key-file, or --config naming it)",
        path.display()
    );
    let key = sensor::analysis::detect::FingerprintKey::load_or_create(&path)?;
    let key = ChainKey::from_bytes(key.derive(ChainKey::PURPOSE));
    let files = sensor::sink::verify::log_order(&args.files);
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let verdict = sensor::sink::verify::verify(&key, &files)?;
    match verdict {
        Verdict::Intact { .. } => {
            println!("{}: {verdict}", names.join(", "));
            Ok(())
        }
        Verdict::Broken { .. } => {
            println!("{verdict}");
            anyhow::bail!("the alert log does not verify")
        }
    }
}

/// `sensor rules`: every built-in rule, or the set `config` runs, one per line.
fn print_rules(json: bool, config: Option<&std::path::Path>) -> anyhow::Result<()> {
    use std::io::Write as _;
    let rules = match config {
        Some(path) => sensor::analysis::rules::effective(&Config::load(path)?)?,
        None => sensor::analysis::rules::builtin(),
    };
    let mut out = std::io::stdout().lock();
    for rule in rules {
        if json {
            // The rule's own fields in their order, then the gitleaks ids.
            let mut line = serde_json::to_string(&rule)?;
            let gitleaks = sensor::analysis::detect::gitleaks_ids(&rule.id);
            if !gitleaks.is_empty() {
                line.pop();
                line.push_str(&format!(
                    ",\"gitleaks\":{}}}",
                    serde_json::to_string(gitleaks)?
                ));
            }
            writeln!(out, "{line}")?;
        } else {
            writeln!(
                out,
                "{:<40} {:<15} {:<9} {}",
                rule.id,
                rule.category.as_str(),
                rule.severity.as_str(),
                rule.description
            )?;
        }
    }
    out.flush()?;
    Ok(())
}
