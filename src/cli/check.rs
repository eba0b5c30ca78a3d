//! `ralo check NAME`: what the server answers NAME with, and why — the
//! list, rule (line number and text) that blocks it, the allow rule that
//! lets it through, a list's custom answer (`$dnsrewrite`, a hosts address
//! served: `answered.rs`) or the exception that turns it off, a local
//! record, a canary — and whether blocking is
//! switched off. It asks the server's own decision ([`Resolver::decide`])
//! on the persisted image (the one the server serves: it waits a moment for
//! a generation just made live to be saved, and says so when the disk
//! keeps it from being saved), so the two cannot disagree, and it works
//! while the server is down; the rule's line comes
//! from the list file or, for a downloaded list, its last good copy. A
//! regex rule is quoted from the image, which carries each pattern with
//! its list and line (the server matches with the DFA alone).
//! For one client (`--client ADDR`, `--mac MAC`; loopback by default) it
//! names the client's groups and the ids that recognised it, the groups and
//! schedule of the list that decided, and the lists that have the name but
//! apply to other groups or are off by their schedule now.
//! Exit code: 0 blocked, 1 not blocked, 2 error.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use hickory_proto::rr::{DNSClass, RecordType};

use super::answered;
use super::serve::load_config;
use super::who;
use crate::config::{Config, ListSource};
use crate::control::{self, Reply};
use crate::domain::wire;
use crate::domain::{Domain, is_below};
use crate::groups::{ClientScope, Mac};
use crate::image::{Image, ImageBytes, Match, RewriteVerdict};
use crate::lists::{self, ParseOptions};
use crate::querytypes::QueryTypes;
use crate::resolve::block::Block;
use crate::resolve::local::LocalAnswer;
use crate::resolve::{Decision, Question, Resolver, ServedImage};
use crate::vocab::{Admission, Outcome};

/// One matched rule, located in its list.
#[derive(Debug, PartialEq, Eq)]
pub struct Located {
    /// The list's name.
    pub list: String,
    /// The rule's name (the query or one of its parents).
    pub name: String,
    /// The rule covers subdomains.
    pub subtree: bool,
    /// Line number and text in the list, when the list could be read.
    pub line: Option<(u32, String)>,
    /// For a regex rule: which regex of its list it is (from 1) and the
    /// query types it applies to; `name` is then the pattern.
    pub regex: Option<(u32, QueryTypes)>,
}

/// Runs `ralo check` for a question from `client` (loopback when `None`),
/// with the MAC address a forwarder would give; `Ok(true)` when NAME is
/// blocked now for that client.
pub fn check(
    config: Option<&Path>,
    name: &str,
    client: Option<IpAddr>,
    mac: Option<Mac>,
) -> anyhow::Result<bool> {
    let config = load_config(config)?;
    let domain =
        Domain::parse(name.trim()).with_context(|| format!("`{name}` is not a domain name"))?;
    let path = config.paths.image_file();
    if !path.exists() {
        anyhow::bail!(
            "no published image at {} yet: run `ralo update`",
            path.display()
        );
    }
    let (image, behind) = saved_image(&config, &path)?;
    let resolver = Resolver::new(&config, image);
    who::read_devices(&config, &resolver);
    let client = client.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let out = describe(
        &config,
        &resolver,
        &domain,
        client,
        mac,
        paused_until(&config),
    );
    #[allow(clippy::print_stdout)]
    {
        print!("{}{}", behind.unwrap_or_default(), out.text);
    }
    Ok(out.blocked_now)
}

/// How long `check` waits for the server's generation to be saved.
const SAVE_WAIT: Duration = Duration::from_secs(2);

/// The image saved at `path`, once it is the generation the server serves:
/// the updater makes an edit live before it saves it, so right after
/// `ralo allow` the file may be a generation behind for a moment. Past
/// [`SAVE_WAIT`] (a full or read-only disk) it reads the saved one and
/// gives the line that says so.
fn saved_image(config: &Config, path: &Path) -> anyhow::Result<(ServedImage, Option<String>)> {
    let serving = control::state(&config.paths.server_socket(), Duration::from_secs(2))
        .ok()
        .map(|reply| reply.generation());
    let deadline = Instant::now() + SAVE_WAIT;
    loop {
        let image = crate::intake::load(path)
            .context("the published image is damaged or unreadable; run `ralo update`")?;
        let saved = image.generation();
        match serving {
            Some(serving) if saved < serving => {
                if Instant::now() >= deadline {
                    let note = format!(
                        "note: the server serves generation {serving}, which is not saved to disk \
                         (see `ralo stats`); this is the answer of the saved generation {saved}\n"
                    );
                    return Ok((image, Some(note)));
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            _ => return Ok((image, None)),
        }
    }
}

/// What `check` prints and decides.
#[derive(Debug)]
pub struct Description {
    /// The report, one or more lines.
    pub text: String,
    /// How the server answers an A question for the name while blocking
    /// is on: blocked, local, or forwarded (allowed, when an allow rule
    /// beats a block rule of the name).
    pub outcome: Outcome,
    /// Blocked right now.
    pub blocked_now: bool,
}

/// Describes what `resolver` decides for an A question for `domain` from
/// `client` (with the MAC address `mac` a forwarder gave), with blocking
/// on; `paused_until` is the server's blocking pause (Unix ms), if any.
pub fn describe(
    config: &Config,
    resolver: &Resolver,
    domain: &Domain,
    client: IpAddr,
    mac: Option<Mac>,
    paused_until: Option<u64>,
) -> Description {
    let mut name = Vec::new();
    wire::from_text(domain.as_str(), &mut name);
    let question = Question {
        name: &name,
        lower: domain.as_str(),
        qtype: RecordType::A,
        qclass: DNSClass::IN,
        client,
        mac,
        dnssec_ok: false,
        checking_disabled: false,
        admission: Admission::Serve,
        asked: tokio::time::Instant::now(),
    };
    let decided = resolver.decide(&question);
    let image = decided.image();
    let policy = &decided.served.policy;
    let groups = policy.groups_of(client, mac, &resolver.devices());
    let lists = policy.lists_for(groups, client, mac);
    let others = who::passed_over(image, policy, groups, lists, domain.as_str());
    let reach = |list| who::list_reach(image, policy, list).unwrap_or_default();
    let generation = image.generation();
    let mut text = String::new();
    let outcome = decided.decision.outcome();
    let outcome = match &decided.decision {
        Decision::Blocked(Block::Rule(m) | Block::Cname(m)) => {
            let rule = locate(config, image, domain, *m, false);
            let by = if m.important {
                "important rule of list"
            } else {
                "list"
            };
            text.push_str(&format!(
                "{domain}: BLOCKED by {by} `{}` (image generation {generation})\n",
                rule.list
            ));
            text.push_str(&rule_line(&rule));
            if m.important {
                text.push_str(
                    "  `$important`: it beats the `@@` exceptions of block lists; \
                     only an allowlist or an `@@…$important` exception lets the name through\n",
                );
            }
            text.push_str(&reach(m.list));
            outcome
        }
        Decision::Rewritten(rewritten) => {
            text.push_str(&answered::rewritten_text(config, image, domain, rewritten));
            text.push_str(&reach(rewritten.list));
            outcome
        }
        Decision::Blocked(Block::Canary) => {
            text.push_str(&format!(
                "{domain}: BLOCKED: a canary name, answered NXDOMAIN so that browsers and phones keep \
                 their own encrypted DNS off and the household's blocking applies; an allow rule lets it through\n"
            ));
            outcome
        }
        Decision::Local(answer) => {
            let what = match answer {
                LocalAnswer::Addresses(_) => "a local record or localhost",
                LocalAnswer::Pointer(_) => "the reverse name of a local address",
                LocalAnswer::Negative { .. } => "a special-use name that never leaves the house",
                LocalAnswer::Hinfo => "the RFC 8482 answer",
            };
            text.push_str(&format!(
                "{domain}: answered here: {what}; never blocked or forwarded\n"
            ));
            outcome
        }
        Decision::Refused(_) if client.is_loopback() => {
            text.push_str(&format!(
                "{domain}: refused to loopback clients: add 127.0.0.0/8 to [access] allow\n"
            ));
            outcome
        }
        Decision::Refused(_) => {
            text.push_str(&format!(
                "{domain}: refused to {client}: add it to [access] allow\n"
            ));
            outcome
        }
        Decision::Forward { allowed: None } if others.is_empty() => {
            text.push_str(&format!(
                "{domain}: not blocked (no list has it; image generation {generation})\n"
            ));
            Outcome::Forwarded
        }
        Decision::Forward { allowed: None } => {
            text.push_str(&format!(
                "{domain}: not blocked for this client (no list that applies to it now has it; \
                 image generation {generation})\n"
            ));
            Outcome::Forwarded
        }
        Decision::Forward {
            allowed: Some(allowed),
        } => {
            let rule = locate(config, image, domain, allowed.allow, true);
            let from_allowlist = image.list_is_allow(allowed.allow.list) == Some(true);
            let by = match (from_allowlist, allowed.allow.important) {
                (false, true) => "important exception of list",
                (false, false) => "exception of list",
                (true, _) => "list",
            };
            text.push_str(&format!(
                "{domain}: allowed by {by} `{}` (image generation {generation})\n",
                rule.list
            ));
            text.push_str(&rule_line(&rule));
            text.push_str(&reach(allowed.allow.list));
            text.push_str("  answered from upstream, its CNAME chain included\n");
            match allowed.overrides {
                Some(block) => {
                    let blocked_by = locate(config, image, domain, block, false);
                    let what = match block.important {
                        true => "cancels an important block",
                        false => "overrides a block",
                    };
                    text.push_str(&format!("  it {what} by list `{}`:\n", blocked_by.list));
                    text.push_str(&rule_line(&blocked_by));
                    text.push_str(&reach(block.list));
                    Outcome::Allowed
                }
                None => Outcome::Forwarded,
            }
        }
        Decision::Cached { .. }
        | Decision::Forwarded { .. }
        | Decision::Stale { .. }
        | Decision::Failed => {
            text.push_str(&format!("{domain}: not blocked; answered from upstream\n"));
            Outcome::Forwarded
        }
    };
    let asked = !matches!(
        decided.decision,
        Decision::Refused(_) | Decision::Local(_) | Decision::Rewritten(_)
    );
    if asked
        && let (RewriteVerdict::Off { list, line }, _) =
            image.rewrite_for(domain.as_str(), |l| lists.applies(l))
    {
        text.push_str(&answered::off_text(config, image, list, line));
    }
    if asked && outcome != Outcome::Blocked {
        for cancelled in cancelled_rules(config, domain) {
            text.push_str(&cancelled);
        }
    }
    if asked {
        for exempt in exempting_rules(config, domain) {
            text.push_str(&exempt);
        }
    }
    if asked
        && outcome != Outcome::Blocked
        && let Some((zone, servers)) = resolver.forward_zone(domain.as_str())
    {
        text.push_str(&format!(
            "  asked of {} ([[forward]] for `{zone}`)\n",
            servers.join(", ")
        ));
    }
    if asked && (image.group_count() > 1 || !client.is_loopback()) {
        let ids = resolver.recognised(client, mac);
        text.push_str(&who::client_text(image, client, groups, &ids));
    }
    if asked {
        text.push_str(&others);
    }
    let blocked = outcome == Outcome::Blocked;
    let paused = paused_until.filter(|&until| until != 0);
    if let (true, Some(until)) = (blocked, paused) {
        text.push_str(&format!(
            "  but blocking is switched off {}: it resolves normally now\n",
            until_text(until)
        ));
    }
    Description {
        text,
        outcome,
        blocked_now: blocked && paused.is_none(),
    }
}

fn rule_line(rule: &Located) -> String {
    if let Some((nth, types)) = rule.regex {
        let line = rule.line.as_ref().map_or(0, |(line, _)| *line);
        let only = if types == QueryTypes::ALL {
            String::new()
        } else {
            format!(" (for {types} questions only)")
        };
        return format!(
            "  rule: regex {nth} of list `{}`, line {line}: `{}`{only}\n",
            rule.list, rule.name
        );
    }
    let scope = if rule.subtree {
        "and its subdomains"
    } else {
        "exactly"
    };
    match &rule.line {
        Some((line, text)) => format!("  rule: {} {scope}, line {line}: {text}\n", rule.name),
        None => format!(
            "  rule: {} {scope} (the list text is not available here)\n",
            rule.name
        ),
    }
}

/// The list and line of the rule `m` matched for `domain`.
pub fn locate<B: ImageBytes>(
    config: &Config,
    image: &Image<B>,
    domain: &Domain,
    m: Match,
    allow: bool,
) -> Located {
    let list = image.list_name(m.list).unwrap_or("?").to_owned();
    if let Some(rule) = m.regex.and_then(|p| image.regex(p)) {
        return Located {
            list,
            name: rule.pattern.to_owned(),
            subtree: false,
            line: Some((rule.line, rule.pattern.to_owned())),
            regex: Some((rule.nth, rule.types)),
        };
    }
    let labels: Vec<&str> = domain.labels().collect();
    let keep = usize::from(m.labels).min(labels.len());
    let name = labels[labels.len() - keep..].join(".");
    let line = source_of(config, &list)
        .and_then(|(source, is_allow)| source_text(config, source).map(|text| (text, is_allow)))
        .and_then(|(text, is_allow)| {
            let rule = Wanted {
                scope: image.list_scope(m.list),
                name: &name,
                subtree: m.subtree,
                allow,
                // Every allow of an allowlist is important, as written or not.
                important: (!is_allow).then_some(m.important),
            };
            find_line(&text, source_options(config, &list, is_allow), rule)
        });
    Located {
        list,
        name,
        subtree: m.subtree,
        line,
        regex: None,
    }
}

fn source_of<'c>(config: &'c Config, list: &str) -> Option<(&'c ListSource, bool)> {
    crate::compile::sources(config).find(|(s, _)| s.name == list)
}

fn source_options(config: &Config, list: &str, allow: bool) -> ParseOptions {
    match source_of(config, list) {
        Some((source, _)) => source.parse_options(allow),
        None => ParseOptions {
            allow,
            ..ParseOptions::default()
        },
    }
}

pub(super) fn source_text(config: &Config, source: &ListSource) -> Option<String> {
    match (&source.url, source.resolved_path(&config.base_dir)) {
        (Some(url), _) => crate::sources::stored_text(&config.paths.state, &source.name, url),
        (None, Some(path)) => std::fs::read(path)
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned()),
        (None, None) => None,
    }
}

/// A rule on a name to find in a list's text.
struct Wanted<'a> {
    /// The `$client` scope it is written with, if any.
    scope: Option<ClientScope>,
    name: &'a str,
    subtree: bool,
    allow: bool,
    /// Whether it is written `$important`; `None`: either.
    important: Option<bool>,
}

/// The first line of `text` that yields the rule `wanted`.
fn find_line(text: &str, options: ParseOptions, wanted: Wanted<'_>) -> Option<(u32, String)> {
    let mut found = None;
    lists::parse(text, options, |rule| {
        if found.is_none()
            && rule.regex.is_none()
            && rule.rewrite.is_none()
            && rule.name == wanted.name
            && rule.subtree == wanted.subtree
            && rule.allow == wanted.allow
            && wanted.important.is_none_or(|i| i == rule.important)
            && ClientScope::parse(rule.client).ok() == wanted.scope
        {
            found = Some(rule.line);
        }
    });
    let line = found?;
    let text = text
        .lines()
        .nth(line.checked_sub(1)? as usize)?
        .trim()
        .to_owned();
    Some((line, text))
}

/// The rules covering `domain` that a `$badfilter` rule of some list
/// cancels, one line of text each: the rule, where it is written, and the
/// `$badfilter` line that cancels it.
fn cancelled_rules(config: &Config, domain: &Domain) -> Vec<String> {
    let texts: Vec<(&ListSource, bool, String)> = crate::compile::sources(config)
        .filter_map(|(source, allow)| Some((source, allow, source_text(config, source)?)))
        .collect();
    let mut found = Vec::new();
    for (source, _, text) in &texts {
        for (number, line) in text.lines().enumerate() {
            if !line.contains("badfilter") {
                continue;
            }
            let Some(rule) = lists::Badfilters::cancelled_by(line) else {
                continue;
            };
            if !covers(&rule, domain) {
                continue;
            }
            let written = texts.iter().find_map(|(other, _, text)| {
                let at = text.lines().position(|l| l.trim() == rule)?;
                Some(format!("line {} of list `{}`", at + 1, other.name))
            });
            found.push(format!(
                "  rule `{rule}` ({}) is cancelled by `{}`, line {} of list `{}`\n",
                written.as_deref().unwrap_or("in no list"),
                line.trim(),
                number + 1,
                source.name
            ));
        }
    }
    found
}

/// The `$denyallow` rules that would cover `domain` but leave it out, one
/// line of text each: the list, the line and the rule.
fn exempting_rules(config: &Config, domain: &Domain) -> Vec<String> {
    let name = domain.as_str();
    let mut found = Vec::new();
    for (source, allow) in crate::compile::sources(config) {
        let Some(text) = source_text(config, source) else {
            continue;
        };
        let mut lines = Vec::new();
        let options = source_options(config, &source.name, allow);
        lists::parse(&text, options, |rule| {
            let covered = name == rule.name || (rule.subtree && is_below(name, rule.name));
            let left_out = rule
                .denyallow
                .split('|')
                .any(|exempt| !exempt.is_empty() && (name == exempt || is_below(name, exempt)));
            if covered && left_out {
                lines.push(rule.line);
            }
        });
        for line in lines {
            let written = text.lines().nth(line as usize - 1).unwrap_or("").trim();
            found.push(format!(
                "  exempt by $denyallow of rule on line {line} of list `{}`: {written}\n",
                source.name
            ));
        }
    }
    found
}

/// Whether the list rule `rule` (one line of a list) covers `domain`.
fn covers(rule: &str, domain: &Domain) -> bool {
    let mut hit = false;
    lists::parse(rule, ParseOptions::default(), |r| {
        let name = domain.as_str();
        hit |= match r.regex {
            Some(_) => false,
            None => {
                name == r.name
                    || (r.subtree
                        && name.len() > r.name.len()
                        && name.ends_with(r.name)
                        && name.as_bytes()[name.len() - r.name.len() - 1] == b'.')
            }
        };
    });
    hit
}

/// The server's blocking pause (Unix ms), when the server answers.
fn paused_until(config: &Config) -> Option<u64> {
    match control::state(&config.paths.server_socket(), Duration::from_secs(2)) {
        Ok(Reply::State {
            disabled_until_ms, ..
        }) => Some(disabled_until_ms),
        _ => None,
    }
}

/// "until switched on" or "for another 4m 10s".
pub fn until_text(until_ms: u64) -> String {
    if until_ms == u64::MAX {
        return "until `ralo enable`".to_owned();
    }
    let left = until_ms.saturating_sub(crate::vocab::unix_ms()) / 1000;
    format!(
        "for another {}",
        humantime::format_duration(Duration::from_secs(left))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::SealedImage;

    /// `ads` for default and kids; `social` for kids on school nights; a
    /// tablet by address and a range of the kids' devices.
    const HOUSEHOLD: &str = r#"
[[lists]]
name = "ads"
path = "ads.txt"
groups = ["default", "kids"]

[[lists]]
name = "social"
path = "social.txt"
groups = ["kids"]
schedule = ["mon-fri 21:00-07:00"]

[[clients]]
name = "kids-tablet"
ids = ["192.168.1.50"]

[[groups]]
name = "kids"
clients = ["kids-tablet", "192.168.1.64/28"]
"#;

    /// The config and a resolver over its compiled image; the folder
    /// holds the list files.
    fn household() -> (tempfile::TempDir, Config, Resolver) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ads.txt"), "ads.example.com\n").unwrap();
        std::fs::write(dir.path().join("social.txt"), "social.example.com\n").unwrap();
        let config = Config::parse(HOUSEHOLD, "test", dir.path().into()).unwrap();
        let compiled = crate::compile::compile_local(&config, 1);
        let sealed = SealedImage::create(&compiled.image, "check-test").unwrap();
        let image = Image::open(sealed.map().unwrap()).unwrap();
        let resolver = Resolver::new(&config, image);
        (dir, config, resolver)
    }

    /// `weekday` (0 Monday) at `hour`:00 local time, in the week of 2026-12-07.
    fn local(weekday: i8, hour: i8) -> jiff::Timestamp {
        jiff::civil::date(2026, 12, 7 + weekday)
            .at(hour, 0, 0, 0)
            .to_zoned_datetime(jiff::tz::TimeZone::system())
            .unwrap()
            .timestamp()
    }

    fn said(config: &Config, resolver: &Resolver, name: &str, client: &str) -> Description {
        let domain = Domain::parse(name).unwrap();
        describe(
            config,
            resolver,
            &domain,
            client.parse().unwrap(),
            None,
            None,
        )
    }

    #[test]
    fn a_regex_decision_names_the_regex_its_list_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hosts.txt"), "0.0.0.0 ok1.example\n").unwrap();
        std::fs::write(
            dir.path().join("regex.txt"),
            "# ads\n^x\\.\n(unclosed\n\n^ads?[0-9]*\\.;querytype=A,AAAA\n\
             ^banner\\.\n^adv[0-9]+\\.\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("allow.txt"), "^ok[0-9]\\.\n").unwrap();
        let config = Config::parse(
            "[[lists]]\nname = \"hosts\"\npath = \"hosts.txt\"\n\
             [[lists]]\nname = \"regex\"\npath = \"regex.txt\"\nformat = \"regex\"\n\
             [[allowlists]]\nname = \"allow\"\npath = \"allow.txt\"\nformat = \"regex\"\n",
            "test",
            dir.path().into(),
        )
        .unwrap();
        let compiled = crate::compile::compile_local(&config, 1);
        let image = Image::open(
            SealedImage::create(&compiled.image, "t")
                .unwrap()
                .map()
                .unwrap(),
        );
        let resolver = Resolver::new(&config, image.unwrap());
        let out = said(&config, &resolver, "adv7.example.com", "127.0.0.1");
        assert!(out.blocked_now, "{}", out.text);
        assert!(
            out.text
                .contains("  rule: regex 4 of list `regex`, line 7: `^adv[0-9]+\\.`\n"),
            "{}",
            out.text
        );
        let out = said(&config, &resolver, "ads.example.com", "127.0.0.1");
        assert!(
            out.text.contains(
                "  rule: regex 2 of list `regex`, line 5: `^ads?[0-9]*\\.` (for A,AAAA questions only)\n"
            ),
            "{}",
            out.text
        );
        let out = said(&config, &resolver, "ok1.example", "127.0.0.1");
        assert_eq!(out.outcome, Outcome::Allowed, "{}", out.text);
        assert!(
            out.text
                .contains("  rule: regex 1 of list `allow`, line 1: `^ok[0-9]\\.`\n"),
            "{}",
            out.text
        );
        assert!(
            out.text.contains("ok1.example exactly, line 1"),
            "{}",
            out.text
        );
    }

    /// A resolver over the lists `(name, text, allowlist)` in a temporary
    /// directory.
    fn resolver_of(lists: &[(&str, &str, bool)]) -> (tempfile::TempDir, Config, Resolver) {
        let dir = tempfile::tempdir().unwrap();
        let mut toml = String::new();
        for (name, text, allow) in lists {
            std::fs::write(dir.path().join(format!("{name}.txt")), text).unwrap();
            let table = if *allow { "allowlists" } else { "lists" };
            toml.push_str(&format!(
                "[[{table}]]\nname = \"{name}\"\npath = \"{name}.txt\"\n"
            ));
        }
        let config = Config::parse(&toml, "test", dir.path().into()).unwrap();
        let compiled = crate::compile::compile_local(&config, 1);
        let image = SealedImage::create(&compiled.image, "t")
            .unwrap()
            .map()
            .unwrap();
        let resolver = Resolver::new(&config, Image::open(image).unwrap());
        (dir, config, resolver)
    }

    #[test]
    fn an_important_decision_says_which_rule_is_important_and_what_it_beats() {
        let (_dir, config, resolver) = resolver_of(&[
            (
                "ads",
                "||tracker.example^\n||tracker.example^$important\n||other.example^$important\n",
                false,
            ),
            (
                "more",
                "@@||tracker.example^\n@@||other.example^$important\n",
                false,
            ),
        ]);
        let out = said(&config, &resolver, "x.tracker.example", "127.0.0.1");
        assert!(out.blocked_now, "{}", out.text);
        assert!(
            out.text
                .starts_with("x.tracker.example: BLOCKED by important rule of list `ads`"),
            "{}",
            out.text
        );
        assert!(
            out.text.contains(
                "  rule: tracker.example and its subdomains, line 2: ||tracker.example^$important\n"
            ),
            "{}",
            out.text
        );
        assert!(out.text.contains("`$important`: it beats"), "{}", out.text);
        let out = said(&config, &resolver, "other.example", "127.0.0.1");
        assert_eq!(out.outcome, Outcome::Allowed, "{}", out.text);
        assert!(
            out.text
                .starts_with("other.example: allowed by important exception of list `more`"),
            "{}",
            out.text
        );
        assert!(
            out.text.contains("line 2: @@||other.example^$important\n")
                && out
                    .text
                    .contains("  it cancels an important block by list `ads`:\n")
                && out.text.contains("line 3: ||other.example^$important\n"),
            "{}",
            out.text
        );
    }

    #[test]
    fn a_name_a_denyallow_rule_leaves_out_says_so_and_what_else_decides() {
        let (_dir, config, resolver) = resolver_of(&[
            (
                "ads",
                "! ads\n||example.org^$denyallow=cdn.example.org|static.example.org\n",
                false,
            ),
            ("more", "||static.example.org^\n", false),
        ]);
        let out = said(&config, &resolver, "x.cdn.example.org", "127.0.0.1");
        assert!(!out.blocked_now, "{}", out.text);
        assert!(
            out.text.contains(
                "  exempt by $denyallow of rule on line 2 of list `ads`: \
                 ||example.org^$denyallow=cdn.example.org|static.example.org\n"
            ),
            "{}",
            out.text
        );
        let out = said(&config, &resolver, "static.example.org", "127.0.0.1");
        assert!(out.blocked_now, "{}", out.text);
        assert!(
            out.text
                .starts_with("static.example.org: BLOCKED by list `more`")
                && out
                    .text
                    .contains("exempt by $denyallow of rule on line 2 of list `ads`"),
            "{}",
            out.text
        );
        let out = said(&config, &resolver, "www.example.org", "127.0.0.1");
        assert!(out.blocked_now, "{}", out.text);
        assert!(
            out.text.contains(
                "  rule: example.org and its subdomains, line 2: ||example.org^$denyallow="
            ) && !out.text.contains("exempt by"),
            "{}",
            out.text
        );
    }

    #[test]
    fn a_client_is_named_with_its_groups_and_the_id_that_recognised_it() {
        let (_dir, config, resolver) = household();
        let out = said(&config, &resolver, "ads.example.com", "192.168.1.50");
        assert!(out.blocked_now, "{}", out.text);
        assert!(
            out.text
                .starts_with("ads.example.com: BLOCKED by list `ads`"),
            "{}",
            out.text
        );
        assert!(
            out.text.contains("  list `ads`: for every group\n"),
            "{}",
            out.text
        );
        assert!(
            out.text.contains(
                "client 192.168.1.50: group kids\n  recognised by address 192.168.1.50 (client `kids-tablet`): group kids\n"
            ),
            "{}",
            out.text
        );
        let out = said(&config, &resolver, "ads.example.com", "192.168.1.66");
        assert!(
            out.text
                .contains("  recognised by range 192.168.1.64/28: group kids\n"),
            "{}",
            out.text
        );
        let out = said(&config, &resolver, "ads.example.com", "192.168.1.9");
        assert!(
            out.text
                .contains("client 192.168.1.9: group default (no client id recognises it)\n"),
            "{}",
            out.text
        );
    }

    #[test]
    fn a_scheduled_list_is_shown_active_or_off_now() {
        let (_dir, config, resolver) = household();
        resolver.refresh_policy(local(0, 22));
        let out = said(&config, &resolver, "social.example.com", "192.168.1.50");
        assert!(out.blocked_now, "{}", out.text);
        assert!(
            out.text.contains(
                "  list `social`: for group kids; schedule mon-fri 21:00-07:00, active now\n"
            ),
            "{}",
            out.text
        );
        resolver.refresh_policy(local(5, 12));
        let out = said(&config, &resolver, "social.example.com", "192.168.1.50");
        assert!(!out.blocked_now, "{}", out.text);
        assert_eq!(out.outcome, Outcome::Forwarded);
        assert!(
            out.text.contains(
                "  `social` lists it, for this client's groups, but its schedule (mon-fri 21:00-07:00) is not active now\n"
            ),
            "{}",
            out.text
        );
    }

    #[test]
    fn another_groups_list_is_named_but_does_not_block() {
        let (_dir, config, resolver) = household();
        resolver.refresh_policy(local(0, 22));
        let out = said(&config, &resolver, "social.example.com", "192.168.1.9");
        assert!(!out.blocked_now, "{}", out.text);
        assert!(
            out.text
                .starts_with("social.example.com: not blocked for this client"),
            "{}",
            out.text
        );
        assert!(
            out.text
                .contains("  `social` lists it, for group kids, not this client's groups\n"),
            "{}",
            out.text
        );
        // Loopback, the default, is no different from any client in default.
        let out = said(&config, &resolver, "social.example.com", "127.0.0.1");
        assert!(!out.blocked_now);
        assert!(
            out.text.contains("client 127.0.0.1: group default"),
            "{}",
            out.text
        );
    }

    fn wanted(name: &str, subtree: bool, important: Option<bool>) -> Wanted<'_> {
        Wanted {
            scope: None,
            name,
            subtree,
            allow: false,
            important,
        }
    }

    #[test]
    fn find_line_locates_the_rule_and_its_text() {
        let text = "# header\n0.0.0.0 a.example.com b.example.com\n||c.example.com^\n";
        let options = ParseOptions::default();
        assert_eq!(
            find_line(text, options, wanted("b.example.com", false, Some(false))),
            Some((2, "0.0.0.0 a.example.com b.example.com".into()))
        );
        assert_eq!(
            find_line(text, options, wanted("c.example.com", true, None)),
            Some((3, "||c.example.com^".into()))
        );
        assert_eq!(
            find_line(text, options, wanted("c.example.com", false, None)),
            None
        );
    }

    #[test]
    fn find_line_tells_an_important_rule_from_the_plain_one() {
        let text = "||c.example.com^\n||c.example.com^$important\n";
        let options = ParseOptions::default();
        assert_eq!(
            find_line(text, options, wanted("c.example.com", true, Some(true))),
            Some((2, "||c.example.com^$important".into()))
        );
        assert_eq!(
            find_line(text, options, wanted("c.example.com", true, Some(false))),
            Some((1, "||c.example.com^".into()))
        );
    }
}
