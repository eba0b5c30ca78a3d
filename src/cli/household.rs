//! `ralo block`, `ralo allow`, `ralo unblock`, `ralo unallow`: edit the
//! household's own lists (the `household = true` entries of the config),
//! then wait until the change is live.
//!
//! `block` covers the name and its subdomains unless `--exact`; `allow`
//! covers the exact name unless `--subdomains`. Names are validated and
//! stored in punycode. Files are replaced atomically (temp, fsync, rename).
//! A running `ralo update --watch` notices the edit by itself; without one,
//! the update runs here. Either way the command returns once the server
//! serves a new image (within a few seconds) or says why it could not.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::serve::load_config;
use crate::config::Config;
use crate::control;
use crate::domain::Domain;
use crate::exchange;
use crate::lists::{self, ParseOptions};
use crate::update::{Trigger, Updater, lock};

/// How long to wait for the change to be served.
const LIVE_WAIT: Duration = Duration::from_secs(5);

/// Which edit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edit {
    /// Add a block rule.
    Block,
    /// Remove block rules on the name.
    Unblock,
    /// Add an allow rule.
    Allow,
    /// Remove allow rules on the name.
    Unallow,
}

impl Edit {
    fn allow_list(self) -> bool {
        matches!(self, Edit::Allow | Edit::Unallow)
    }
}

/// Runs one edit from the command line and says what it did.
/// `subtree` is the rule's reach for `Block`/`Allow`.
pub async fn edit(
    config_path: Option<&Path>,
    edit: Edit,
    name: &str,
    subtree: bool,
) -> anyhow::Result<()> {
    let config = load_config(config_path)?;
    let domain =
        Domain::parse(name.trim()).with_context(|| format!("`{name}` is not a domain name"))?;
    let applied = apply(
        &config,
        config_path,
        edit,
        &domain,
        subtree,
        RunUpdate::Here,
    )
    .await?;
    say(&applied.text());
    if matches!(edit, Edit::Unblock) && applied.changed {
        still_blocked_note(&config, &domain);
    }
    Ok(())
}

/// Where the update runs when no watching updater is there to notice an
/// edit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunUpdate {
    /// In this process (the command line).
    Here,
    /// In a `ralo update` child process (`ralo web`, which never parses
    /// list text itself).
    Child,
}

/// What an edit did.
#[derive(Clone, Debug)]
pub struct Applied {
    /// The name edited.
    pub domain: Domain,
    /// The household file.
    pub file: PathBuf,
    /// Whether the file changed (`false`: the rule was there, or was not).
    pub changed: bool,
    /// The generation serving the change; `None` when no server runs.
    pub generation: Option<u64>,
    /// What the edit means, e.g. "blocked (exact name)".
    pub what: &'static str,
    /// Time from the write to the change being served.
    pub live_after: Duration,
}

impl Applied {
    /// One line for a person.
    pub fn text(&self) -> String {
        let domain = &self.domain;
        match (self.changed, self.generation) {
            (false, _) => format!("{domain}: nothing to change in {}", self.file.display()),
            (true, Some(generation)) => format!(
                "{domain}: {} — live in generation {generation} after {} ms",
                self.what,
                self.live_after.as_millis()
            ),
            (true, None) => format!(
                "{domain}: {} — stored; no server is running, it applies at start",
                self.what
            ),
        }
    }
}

/// Edits the household's own list and waits until the server serves the
/// change (or says why it cannot). The same call serves `ralo block` and
/// the web page.
pub async fn apply(
    config: &Config,
    config_path: Option<&Path>,
    edit: Edit,
    domain: &Domain,
    subtree: bool,
    run: RunUpdate,
) -> anyhow::Result<Applied> {
    let allow = edit.allow_list();
    let Some(file) = config.household_file(allow) else {
        let section = if allow { "[[allowlists]]" } else { "[[lists]]" };
        bail!("no household list: mark one {section} entry with `household = true` in the config");
    };
    let text = read_household(&file)?;
    let changed = match edit {
        Edit::Block | Edit::Allow => add_rule(&text, domain, subtree, allow),
        Edit::Unblock | Edit::Unallow => remove_rules(&text, domain, allow),
    };
    let what = match (edit, subtree) {
        (Edit::Block, true) => "blocked with its subdomains",
        (Edit::Block, false) => "blocked (exact name)",
        (Edit::Allow, true) => "allowed with its subdomains",
        (Edit::Allow, false) => "allowed (exact name)",
        (Edit::Unblock, _) => "no longer on the household blocklist",
        (Edit::Unallow, _) => "no longer on the household allowlist",
    };
    let mut applied = Applied {
        domain: domain.clone(),
        file: file.clone(),
        changed: changed.is_some(),
        generation: None,
        what,
        live_after: Duration::ZERO,
    };
    let Some(new_text) = changed else {
        return Ok(applied);
    };
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    exchange::write_atomic(new_text.as_bytes(), &file)
        .with_context(|| format!("cannot write {}", file.display()))?;
    let started = Instant::now();
    applied.generation = make_live(config, config_path, &file, run).await?;
    applied.live_after = started.elapsed();
    Ok(applied)
}

/// The household file's text; none yet is an empty list.
pub fn read_household(file: &Path) -> anyhow::Result<String> {
    match std::fs::read(file) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", file.display())),
    }
}

/// The rules of a household list: each name with its reach (`true`: with
/// its subdomains) and line.
pub fn household_rules(text: &str, allow: bool) -> Vec<(String, bool, u32)> {
    let mut rules = Vec::new();
    let options = ParseOptions {
        allow,
        ..ParseOptions::default()
    };
    lists::parse(text, options, |rule| {
        if rule.regex.is_none() {
            rules.push((rule.name.to_string(), rule.subtree, rule.line));
        }
    });
    rules
}

fn say(text: &str) {
    #[allow(clippy::print_stdout)]
    {
        println!("{text}");
    }
}

/// The rule line for `domain`.
fn rule_text(domain: &Domain, subtree: bool) -> String {
    if subtree {
        format!("*.{domain}")
    } else {
        domain.to_string()
    }
}

/// `text` with a rule for `domain` appended, or `None` if one is there.
pub fn add_rule(text: &str, domain: &Domain, subtree: bool, allow: bool) -> Option<String> {
    let mut present = false;
    let options = ParseOptions {
        allow,
        ..ParseOptions::default()
    };
    lists::parse(text, options, |rule| {
        present |= rule.regex.is_none() && rule.name == domain.as_str() && rule.subtree == subtree
    });
    if present {
        return None;
    }
    let mut out = text.to_owned();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&rule_text(domain, subtree));
    out.push('\n');
    Some(out)
}

/// `text` without the lines that make rules on `domain`, or `None` if none do.
pub fn remove_rules(text: &str, domain: &Domain, allow: bool) -> Option<String> {
    let mut current = text.to_owned();
    let mut changed = false;
    // The parser reports a repeated rule once, so a duplicate line shows up
    // only after the first is gone: repeat until no line names the domain
    // (each round removes at least one line, so this ends).
    loop {
        let lines = rule_lines(&current, domain, allow);
        if lines.is_empty() {
            return changed.then_some(current);
        }
        changed = true;
        let kept: Vec<&str> = current
            .lines()
            .enumerate()
            .filter(|(i, _)| !lines.contains(&(*i as u32 + 1)))
            .map(|(_, line)| line)
            .collect();
        let mut next = kept.join("\n");
        if !next.is_empty() {
            next.push('\n');
        }
        current = next;
    }
}

/// The line numbers of the rules on `domain` in `text`.
fn rule_lines(text: &str, domain: &Domain, allow: bool) -> Vec<u32> {
    let mut lines = Vec::new();
    let options = ParseOptions {
        allow,
        ..ParseOptions::default()
    };
    lists::parse(text, options, |rule| {
        if rule.regex.is_none() && rule.name == domain.as_str() {
            lines.push(rule.line);
        }
    });
    lines
}

/// Gets the edited file compiled and served; the generation now serving,
/// or `None` when no server runs.
async fn make_live(
    config: &Config,
    config_path: Option<&Path>,
    file: &Path,
    run: RunUpdate,
) -> anyhow::Result<Option<u64>> {
    let socket = config.paths.server_socket();
    let before = match control::state(&socket, Duration::from_secs(2)) {
        Ok(reply) => Some(reply.generation()),
        Err(control::Error::ServerNotRunning { .. }) => None,
        Err(e) => return Err(e).context("cannot reach the server"),
    };
    if lock::is_held(&config.paths.runtime) {
        // A watching updater sees the edit of its list file by itself.
        let Some(before) = before else {
            return Ok(None);
        };
        return wait_for_generation(&socket, before, file).await.map(Some);
    }
    if run == RunUpdate::Child {
        run_update_child(config_path).await?;
        return Ok(match before {
            Some(_) => Some(control::state(&socket, Duration::from_secs(2))?.generation()),
            None => None,
        });
    }
    let _lock = lock::acquire(&config.paths.runtime, Duration::from_secs(5))?;
    let mut updater = Updater::new(config.clone())?;
    let report = updater.run(Trigger::LocalChange, false).await?;
    Ok(before.map(|_| report.generation))
}

/// Runs `ralo update` once as a child process and waits for it (at most a
/// minute), with its output discarded: its outcome is in the status file.
pub async fn run_update_child(config_path: Option<&Path>) -> anyhow::Result<()> {
    let mut command = crate::supervise::update_once(config_path)?;
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    let mut child = command.spawn().context("cannot start `ralo update`")?;
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .context("`ralo update` did not finish within a minute")?
        .context("cannot wait for `ralo update`")?;
    if !status.success() {
        bail!(
            "`ralo update` failed ({status}); see its status on the lists page or run it by hand"
        );
    }
    Ok(())
}

async fn wait_for_generation(socket: &Path, before: u64, file: &Path) -> anyhow::Result<u64> {
    let deadline = Instant::now() + LIVE_WAIT;
    loop {
        let now = control::state(socket, Duration::from_secs(2))?.generation();
        if now > before {
            return Ok(now);
        }
        if Instant::now() > deadline {
            bail!(
                "the edit of {} is stored but not live after {} s: is `ralo update --watch` healthy? (journalctl -u ralo-update)",
                file.display(),
                LIVE_WAIT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// After `unblock`: say if another list still blocks the name.
fn still_blocked_note(config: &Config, domain: &Domain) {
    let Ok(bytes) = std::fs::read(config.paths.image_file()) else {
        return;
    };
    let Ok(image) = crate::image::Image::open(bytes) else {
        return;
    };
    if let crate::image::Verdict::Blocked(m) = image.lookup(domain.as_str()) {
        let list = image.list_name(m.list).unwrap_or("?");
        say(&format!(
            "note: {domain} is still blocked by list `{list}`; `ralo allow {domain}` lets it through"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(name: &str) -> Domain {
        Domain::parse(name).unwrap()
    }

    #[test]
    fn add_rule_appends_once() {
        let text = "# mine\nexample.org";
        let added = add_rule(text, &d("ads.example.com"), true, false).unwrap();
        assert_eq!(added, "# mine\nexample.org\n*.ads.example.com\n");
        assert_eq!(add_rule(&added, &d("ads.example.com"), true, false), None);
        assert!(add_rule(&added, &d("ads.example.com"), false, false).is_some());
    }

    #[test]
    fn unicode_names_are_stored_as_punycode() {
        let added = add_rule("", &d("bücher.example"), false, false).unwrap();
        assert_eq!(added, "xn--bcher-kva.example\n");
    }

    #[test]
    fn remove_rules_drops_every_line_for_the_name() {
        let text = "# keep\na.example.com\n*.a.example.com\nb.example.com\n||a.example.com^\n";
        let out = remove_rules(text, &d("a.example.com"), false).unwrap();
        assert_eq!(out, "# keep\nb.example.com\n");
        assert_eq!(remove_rules(&out, &d("a.example.com"), false), None);
    }
}
