//! `ralo web`: the admin page and the API (see [`crate::web`]), and
//! `ralo web --set-password`, which reads one line from standard input —
//! without echo on a terminal — and stores only its argon2id hash.

use std::io::{BufRead, IsTerminal};
use std::path::Path;

use anyhow::{Context, bail};
use tokio_util::sync::CancellationToken;

use super::serve::load_config;
use crate::web::auth::Password;

/// Runs the web process; with `parent` (the pid of the `ralo serve` that
/// started it) it ends when that process is gone.
pub async fn web(config_path: Option<&Path>, parent: Option<u32>) -> anyhow::Result<()> {
    let config = load_config(config_path)?;
    let shutdown = CancellationToken::new();
    if let Some(pid) = parent {
        let _ =
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::TERM));
        let orphaned = shutdown.clone();
        tokio::spawn(async move {
            loop {
                let alive = rustix::process::getppid()
                    .is_some_and(|p| p.as_raw_nonzero().get() as u32 == pid);
                if !alive {
                    orphaned.cancel();
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        });
    }
    crate::web::run::run(config, config_path, shutdown).await
}

/// Sets the web password from one line of standard input.
pub fn set_password(config_path: Option<&Path>) -> anyhow::Result<()> {
    let config = load_config(config_path)?;
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    if terminal {
        eprint!("new web password: ");
    }
    let line = read_line_quietly(&stdin, terminal)?;
    if terminal {
        eprintln!();
    }
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        bail!("no password given: type it and press Enter (or pipe one line)");
    }
    let file = Password::file(&config.paths.state);
    Password::new(password)?.store(&file)?;
    #[allow(clippy::print_stdout)]
    {
        println!(
            "web password set ({}); open sessions stay valid until they expire",
            file.display()
        );
    }
    Ok(())
}

/// One line from `stdin`, with the terminal's echo off while it is typed.
fn read_line_quietly(stdin: &std::io::Stdin, terminal: bool) -> anyhow::Result<String> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    let saved = if terminal {
        tcgetattr(stdin).ok()
    } else {
        None
    };
    if let Some(saved) = &saved {
        let mut quiet = saved.clone();
        quiet.local_modes.remove(LocalModes::ECHO);
        let _ = tcsetattr(stdin, OptionalActions::Now, &quiet);
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if let Some(saved) = &saved {
        let _ = tcsetattr(stdin, OptionalActions::Now, saved);
    }
    read.context("cannot read the password from standard input")?;
    Ok(line)
}
