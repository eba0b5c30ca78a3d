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
        /// Exit when this parent process is gone (set by `ralo serve`).
        #[arg(long, hide = true)]
        parent_pid: Option<u32>,
    },
    /// Is NAME blocked (for --client), by which list and rule, and which
    /// groups decide? Exit 0 blocked, 1 not, 2 error.
    Check {
        /// The name to look up.
        name: String,
        /// The config file.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Ask as this client: its groups decide which lists apply
        /// (default 127.0.0.1).
        #[arg(long)]
        client: Option<std::net::IpAddr>,
        /// The client's MAC address, as a forwarder's add-mac would give it.
        #[arg(long)]
        mac: Option<ralo::groups::Mac>,
    },
    /// The household's devices and groups, and the clients seen recently:
    /// their queries, blocked share and groups (--json for scripts).
    Clients(ralo::cli::clients::Args),
    /// Block NAME and its subdomains in the household's own list.
    Block {
        /// The name to block.
        name: String,
        /// Block the exact name only.
        #[arg(long)]
        exact: bool,
        /// The config file.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Allow NAME (exactly) in the household's own allowlist.
    Allow {
        /// The name to allow.
        name: String,
        /// Allow its subdomains too.
        #[arg(long)]
        subdomains: bool,
        /// The config file.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Remove NAME from the household's own blocklist.
    Unblock {
        /// The name.
        name: String,
        /// The config file.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Remove NAME from the household's own allowlist.
    Unallow {
        /// The name.
        name: String,
        /// The config file.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Switch blocking off for everyone: until `ralo enable`, or for a while (5m, 1h).
    Disable {
        /// How long, e.g. 30s, 5m, 1h30m; none: until enabled.
        duration: Option<String>,
        /// Only for the clients of this group (a `[[groups]]` name, or
        /// `default`).
        #[arg(long)]
        group: Option<String>,
        /// The config file.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Switch blocking on again.
    Enable {
        /// Only for the clients of this group.
        #[arg(long)]
        group: Option<String>,
        /// The config file.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Queries and blocked share since start and in the last hour, top
    /// blocked names and clients, upstream health (--json for scripts).
    Stats(ralo::cli::stats::Args),
    /// Print queries as they are answered, like `pihole -t`.
    Tail(ralo::cli::tail::Args),
    /// Serve the admin page and the Pi-hole-compatible API ([web] listen),
    /// and keep the query history.
    Web {
        /// The config file.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Read a new password from standard input (one line), store its
        /// hash, and exit.
        #[arg(long)]
        set_password: bool,
        /// Exit when this parent process is gone (set by `ralo serve`).
        #[arg(long, hide = true)]
        parent_pid: Option<u32>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The processes log their work; the commands a person types stay quiet
    // unless something is wrong.
    let level = match cli.command {
        Command::Serve { .. }
        | Command::Update { .. }
        | Command::Web {
            set_password: false,
            ..
        } => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(format!(
                    "{level},hickory_server=warn,hickory_proto=warn,hickory_net=warn"
                ))
            }),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    use ralo::cli::household::{Edit, edit};
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
            parent_pid,
        } => run_async(ralo::cli::update::update(
            config.as_deref(),
            watch,
            force,
            parent_pid,
        )),
        Command::Check {
            name,
            config,
            client,
            mac,
        } => {
            return match ralo::cli::check::check(config.as_deref(), &name, client, mac) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::from(1),
                Err(error) => {
                    eprintln!("ralo: {error:#}");
                    ExitCode::from(2)
                }
            };
        }
        Command::Block {
            name,
            exact,
            config,
        } => run_async(edit(config.as_deref(), Edit::Block, &name, !exact)),
        Command::Allow {
            name,
            subdomains,
            config,
        } => run_async(edit(config.as_deref(), Edit::Allow, &name, subdomains)),
        Command::Unblock { name, config } => {
            run_async(edit(config.as_deref(), Edit::Unblock, &name, false))
        }
        Command::Unallow { name, config } => {
            run_async(edit(config.as_deref(), Edit::Unallow, &name, false))
        }
        Command::Disable {
            duration,
            group,
            config,
        } => ralo::cli::disable::disable(config.as_deref(), duration.as_deref(), group.as_deref()),
        Command::Enable { group, config } => {
            ralo::cli::disable::enable(config.as_deref(), group.as_deref())
        }
        Command::Stats(args) => ralo::cli::stats::run(&args),
        Command::Clients(args) => ralo::cli::clients::run(&args),
        Command::Tail(args) => ralo::cli::tail::run(&args),
        Command::Web {
            config,
            set_password: true,
            ..
        } => ralo::cli::web::set_password(config.as_deref()),
        Command::Web {
            config, parent_pid, ..
        } => run_async(ralo::cli::web::web(config.as_deref(), parent_pid)),
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
