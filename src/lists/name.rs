//! Names inside rules: the plain domain line (`name`, `name # comment`,
//! `*.name`) and the last step every syntax shares, turning the written name
//! into a normalized one with [`crate::domain::normalize_into`] while refusing
//! housekeeping names such as `localhost` and IP literals.

use std::net::Ipv6Addr;

use crate::answer::Rewrite;
use crate::domain::normalize_into;
use crate::querytypes::QueryTypes;

use super::options::ParseOptions;
use super::reason::Reason;

/// Names hosts files carry for the machine itself; never a rule.
const HOUSEKEEPING: [&str; 12] = [
    "localhost",
    "localhost.localdomain",
    "local",
    "broadcasthost",
    "ip6-localhost",
    "ip6-loopback",
    "ip6-localnet",
    "ip6-mcastprefix",
    "ip6-allnodes",
    "ip6-allrouters",
    "ip6-allhosts",
    "0.0.0.0",
];

/// Length of the longest [`HOUSEKEEPING`] name, to skip the comparison cheaply.
const HOUSEKEEPING_MAX_LEN: usize = "localhost.localdomain".len();

/// A name as written in a rule, before normalization, and how it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Candidate<'a> {
    /// The name as written (not trimmed further, not lowercased).
    pub(super) raw: &'a str,
    /// The rule also covers subdomains.
    pub(super) subtree: bool,
    /// The rule allows rather than blocks.
    pub(super) allow: bool,
    /// The query types it applies to (adblock `$dnstype`; every type
    /// otherwise).
    pub(super) types: QueryTypes,
    /// What it answers instead (adblock `$dnsrewrite`, a hosts line whose
    /// address is served), if it does.
    pub(super) rewrite: Option<Rewrite>,
    /// An adblock `$important` rule.
    pub(super) important: bool,
    /// An adblock `$denyallow` value as written: the names, `|` between
    /// them, the rule leaves out (empty: none).
    pub(super) denyallow: &'a str,
    /// An adblock `$client` value as written (empty: every client).
    pub(super) client: &'a str,
}

/// Parses a plain domain line, given as its first word and the rest: one
/// name, optionally followed by a `#` comment. A leading `*.` makes a subtree
/// rule; any other `*` is skipped.
pub(super) fn domain_line<'a>(
    first: &'a str,
    rest: &'a str,
    options: ParseOptions,
) -> Result<Candidate<'a>, Reason<'a>> {
    let body = match first.find('#') {
        Some(start) => &first[..start],
        None => {
            let rest = rest.trim_start();
            if !rest.is_empty() && !rest.starts_with('#') {
                return Err(Reason::ExtraText(rest));
            }
            first
        }
    };
    let (raw, subtree) = match body.strip_prefix("*.") {
        Some(rest) => (rest, true),
        None => (body, options.subdomains),
    };
    if raw.contains('*') {
        return Err(Reason::Wildcard);
    }
    Ok(Candidate {
        raw,
        subtree,
        allow: options.allow,
        types: QueryTypes::ALL,
        rewrite: None,
        important: false,
        denyallow: "",
        client: "",
    })
}

/// Normalizes a written name into `buf`. Housekeeping names and IP literals
/// are skipped; anything [`normalize_into`] refuses carries its error.
pub(super) fn normalize<'a>(raw: &'a str, buf: &mut String) -> Result<(), Reason<'a>> {
    if is_housekeeping(raw) {
        return Err(Reason::Housekeeping(raw));
    }
    if raw.contains(':') && raw.parse::<Ipv6Addr>().is_ok() {
        return Err(Reason::Ipv6Literal(raw));
    }
    normalize_into(raw, buf).map_err(Reason::Domain)
}

/// Whether `raw` is a housekeeping name, ignoring ASCII case and one trailing dot.
fn is_housekeeping(raw: &str) -> bool {
    let name = raw.strip_suffix('.').unwrap_or(raw);
    name.len() <= HOUSEKEEPING_MAX_LEN
        && HOUSEKEEPING
            .iter()
            .any(|known| known.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DomainError;

    fn plain(line: &str) -> Result<Candidate<'_>, Reason<'_>> {
        plain_with(line, ParseOptions::default())
    }

    fn plain_with(line: &str, options: ParseOptions) -> Result<Candidate<'_>, Reason<'_>> {
        let (first, rest) = match line.find([' ', '\t']) {
            Some(end) => line.split_at(end),
            None => (line, ""),
        };
        domain_line(first, rest, options)
    }

    #[test]
    fn bare_name_is_an_exact_rule() {
        let candidate = plain("ads.example.com").unwrap();
        assert_eq!(candidate.raw, "ads.example.com");
        assert!(!candidate.subtree);
        assert!(!candidate.allow);
    }

    #[test]
    fn subdomains_option_makes_bare_names_subtree_rules() {
        let options = ParseOptions {
            subdomains: true,
            allow: true,
            ..ParseOptions::default()
        };
        let candidate = plain_with("example.com", options).unwrap();
        assert!(candidate.subtree);
        assert!(candidate.allow);
    }

    #[test]
    fn trailing_comment_is_ignored() {
        assert_eq!(plain("example.com   # tracker").unwrap().raw, "example.com");
        assert_eq!(plain("example.com#tracker").unwrap().raw, "example.com");
    }

    #[test]
    fn leading_star_dot_is_a_subtree_rule_on_the_rest() {
        let candidate = plain("*.example.com").unwrap();
        assert_eq!(candidate.raw, "example.com");
        assert!(candidate.subtree);
    }

    #[test]
    fn inner_wildcard_is_skipped() {
        for line in [
            "kinesis.*.amazonaws.com",
            "*.*.example.com",
            "ad*.example.com",
            "*example.com",
            "*",
        ] {
            assert_eq!(plain(line), Err(Reason::Wildcard), "{line}");
        }
    }

    #[test]
    fn second_word_is_extra_text() {
        assert_eq!(plain("a.com b.com"), Err(Reason::ExtraText("b.com")));
    }

    #[test]
    fn localhost_never_becomes_a_rule() {
        let mut buf = String::new();
        for raw in [
            "localhost",
            "LOCALHOST.",
            "localhost.localdomain",
            "ip6-allnodes",
            "0.0.0.0",
        ] {
            assert_eq!(normalize(raw, &mut buf), Err(Reason::Housekeeping(raw)));
        }
    }

    #[test]
    fn ipv6_literal_is_skipped_not_invalid() {
        let mut buf = String::new();
        assert_eq!(normalize("::1", &mut buf), Err(Reason::Ipv6Literal("::1")));
    }

    #[test]
    fn normalize_writes_the_normalized_name() {
        let mut buf = String::new();
        normalize("Ads.Example.COM.", &mut buf).unwrap();
        assert_eq!(buf, "ads.example.com");
    }

    #[test]
    fn normalize_reports_the_domain_error() {
        let mut buf = String::new();
        assert!(matches!(
            normalize("com", &mut buf),
            Err(Reason::Domain(DomainError::SingleLabel { .. }))
        ));
    }
}
