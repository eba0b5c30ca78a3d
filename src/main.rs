//! The `ralo` binary: parse the command line, set up logging, call the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// ralo: a DNS sinkhole for the Raspberry Pi.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the DNS server (embedded defaults when no --config is given).
    Serve {
        /// The config file (see config/ralo.toml).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Check the config and the lists, then exit.
        #[arg(long)]
        check: bool,
    },
    /// Compile the lists and publish the image to the server (once, or
    /// keep watching with --watch).
    Update {
        /// The config file (see config/ralo.toml).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Stay running: update when a list file changes, on the schedule
        /// and on SIGHUP.
        #[arg(long)]
        watch: bool,
        /// Publish even if the image lost more rules than [update] max_drop.
        #[arg(long)]
        force: bool,
        /// Exit when the parent process is gone (set by `ralo serve`).
        #[arg(long, hide = true)]
        exit_with_parent: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(
                    "info,hickory_server=warn,hickory_proto=warn,hickory_net=warn",
                )
            }),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Serve {
            config,
            check: true,
        } => ralo::cli::serve::check(config.as_deref()),
        Command::Serve {
            config,
            check: false,
        } => run_async(ralo::cli::serve::serve(config.as_deref())),
        Command::Update {
            config,
            watch,
            force,
            exit_with_parent,
        } => run_async(ralo::cli::update::update(
            config.as_deref(),
            watch,
            force,
            exit_with_parent,
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ralo: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run_async(task: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(task)
}
