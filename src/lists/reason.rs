//! Why a line (or one name on a hosts line) yields no rule. A [`Reason`]
//! borrows from the line and is only formatted when `stats.rs` keeps it as an
//! example, so rejecting a line costs no allocation beyond a [`DomainError`].

use std::fmt;

use crate::domain::DomainError;

use super::options::Format;
use super::stats::IssueKind;

/// The syntax a line was recognised as, for "wrong format" reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Syntax {
    /// `IP name…`.
    Hosts,
    /// A bare name or `*.name`.
    Domain,
    /// `||name^`, `@@…`, cosmetic, regex and other adblock shapes.
    Adblock,
}

/// Why a line or name was skipped or is invalid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Reason<'a> {
    /// A hosts-file housekeeping name such as `localhost` or `broadcasthost`.
    Housekeeping(&'a str),
    /// An IPv6 literal where a name was expected (IPv4 literals arrive as
    /// [`DomainError::IpAddress`]).
    Ipv6Literal(&'a str),
    /// `*` anywhere except a leading `*.` on a plain domain line.
    Wildcard,
    /// Element hiding and other cosmetic rules (`##`, `#@#`, `#$#`, …).
    Cosmetic,
    /// A regex rule's `;option` other than `querytype=`.
    RegexOption(&'a str),
    /// A regex rule's option given twice.
    RegexOptionTwice(&'static str),
    /// A `querytype=` list that names no type or an unknown one.
    QueryType(crate::querytypes::Error),
    /// A regex that does not parse: what is wrong.
    RegexSyntax(String),
    /// A regex rule with nothing before its options.
    NoPattern,
    /// A rule with a URL path (`||name/…`, `/file.js`).
    Path,
    /// A rule with a port (`name:8040`).
    Port,
    /// A `$modifier` ralo does not take, one given twice, or one in a
    /// combination ralo does not take.
    Modifier(&'a str),
    /// A `$denyallow=` value that is not a list of plain names.
    Denyallow(&'a str),
    /// A `$client=` value that does not parse.
    Client(crate::groups::ScopeError),
    /// `*$denyallow=…` (or no pattern): a rule on every name but some.
    DenyallowEverywhere,
    /// A `$denyallow` that leaves out the rule's own name or a parent of
    /// it, so the rule covers no name.
    DenyallowVoid,
    /// A `$badfilter` rule: it cancels another, it blocks nothing itself.
    Badfilter,
    /// A `$dnsrewrite` of a record type ralo does not answer (`CNAME`,
    /// `MX`, `TXT`, …): the type.
    RewriteType(&'a str),
    /// A `$dnsrewrite` value that is not one: the value.
    RewriteValue(&'a str),
    /// `@@…$dnsrewrite=value`: an exception for one rewrite; the value.
    RewriteExceptionValue(&'a str),
    /// A rule a `$badfilter` rule of this compile cancels.
    Cancelled,
    /// Text after `^` that is not `|`, e.g. `^popup,third-party`.
    AfterCaret(&'a str),
    /// `.name^`: it covers the subdomains of `name` but not `name` itself.
    SubdomainsOnly,
    /// `||name.` without `^`: it matches `name` under every top-level domain.
    AnyTld,
    /// A URL scheme other than `http` or `https`, e.g. `ws*://`.
    Scheme(&'a str),
    /// HTML markup.
    Html,
    /// A line longer than any rule: its length in bytes.
    TooLong(usize),
    /// A hosts line with an address but no name, or an adblock rule without one.
    NoName,
    /// Text after the name that is not a comment, e.g. `a.com b c`.
    ExtraText(&'a str),
    /// The line has another syntax than the source's declared format.
    WrongFormat {
        /// What the line looks like.
        found: Syntax,
        /// What the source was declared as.
        expected: Format,
    },
    /// The name itself is not usable.
    Domain(DomainError),
}

impl Reason<'_> {
    /// Skipped (well-formed, deliberately unused) or invalid (not a rule).
    pub(super) fn kind(&self) -> IssueKind {
        match self {
            Reason::Housekeeping(_)
            | Reason::Ipv6Literal(_)
            | Reason::Wildcard
            | Reason::Cosmetic
            | Reason::RegexOption(_)
            | Reason::Path
            | Reason::Port
            | Reason::Modifier(_)
            | Reason::DenyallowEverywhere
            | Reason::DenyallowVoid
            | Reason::Badfilter
            | Reason::RewriteType(_)
            | Reason::RewriteExceptionValue(_)
            | Reason::Cancelled
            | Reason::AfterCaret(_)
            | Reason::SubdomainsOnly
            | Reason::AnyTld
            | Reason::Scheme(_)
            | Reason::Domain(DomainError::SingleLabel { .. } | DomainError::IpAddress { .. }) => {
                IssueKind::Skipped
            }
            Reason::Html
            | Reason::TooLong(_)
            | Reason::NoName
            | Reason::NoPattern
            | Reason::RegexOptionTwice(_)
            | Reason::QueryType(_)
            | Reason::RegexSyntax(_)
            | Reason::RewriteValue(_)
            | Reason::ExtraText(_)
            | Reason::Denyallow(_)
            | Reason::Client(_)
            | Reason::WrongFormat { .. }
            | Reason::Domain(_) => IssueKind::Invalid,
        }
    }
}

impl From<DomainError> for Reason<'_> {
    fn from(error: DomainError) -> Self {
        Reason::Domain(error)
    }
}

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Housekeeping(name) => {
                write!(
                    f,
                    "`{name}` is a hosts-file housekeeping name, never blocked"
                )
            }
            Reason::Ipv6Literal(name) => {
                write!(f, "`{name}` is an IP address, not a domain name")
            }
            Reason::Wildcard => {
                f.write_str("`*` inside a name is not supported (only a leading `*.`)")
            }
            Reason::Cosmetic => f.write_str("cosmetic rule; DNS cannot hide page elements"),
            Reason::RegexOption(option) => write!(
                f,
                "regex option `;{}` is not supported (only `;querytype=`)",
                cut(option)
            ),
            Reason::RegexOptionTwice(option) => {
                write!(f, "regex option `;{option}=` given twice; keep one")
            }
            Reason::QueryType(error) => error.fmt(f),
            Reason::RegexSyntax(error) => write!(f, "not a regular expression ralo takes: {error}"),
            Reason::NoPattern => f.write_str("no regular expression before the `;` options"),
            Reason::Path => f.write_str("rule with a URL path; DNS sees only the name"),
            Reason::Port => f.write_str("rule with a port; DNS sees only the name"),
            Reason::Modifier(modifier) => write!(
                f,
                "modifier `${}` is not supported (ralo takes `$important`, `$dnstype`, `$denyallow`, `$dnsrewrite`, `$client` and `$badfilter`, each once, and one of `$dnstype`, `$denyallow` and `$dnsrewrite`; `/regex/` rules `$important` only)",
                cut(modifier)
            ),
            Reason::Denyallow(list) => write!(
                f,
                "`$denyallow={}` must list plain domain names joined by `|` (no `~`, `*` or regex)",
                cut(list)
            ),
            Reason::Client(error) => error.fmt(f),
            Reason::DenyallowEverywhere => f.write_str(
                "a `$denyallow` rule on every name (`*`, or no name) is not supported; \
                 give the rule a name: `||name^$denyallow=…`",
            ),
            Reason::DenyallowVoid => f.write_str(
                "`$denyallow` leaves out the rule's own name or a parent of it: the rule covers no name",
            ),
            Reason::Badfilter => {
                f.write_str("`$badfilter`: cancels the same rule without it, in every list")
            }
            Reason::Cancelled => f.write_str("cancelled by a `$badfilter` rule"),
            Reason::RewriteType(rtype) => write!(
                f,
                "`$dnsrewrite` to a {} record is not supported (only A, AAAA and a response code)",
                cut(rtype)
            ),
            Reason::RewriteValue(value) => write!(
                f,
                "`$dnsrewrite={}` is not a rewrite: give an address, a response code, or `NOERROR;A;1.2.3.4`",
                cut(value)
            ),
            Reason::RewriteExceptionValue(value) => write!(
                f,
                "`@@…$dnsrewrite={}` (an exception for one rewrite) is not supported; `@@||name^$dnsrewrite` turns off every rewrite of the name",
                cut(value)
            ),
            Reason::AfterCaret(rest) => write!(
                f,
                "unexpected `{}` after `^` (a modifier without `$`?)",
                cut(rest)
            ),
            Reason::SubdomainsOnly => f.write_str(
                "`.name^` covers only subdomains, which ralo cannot express; write `||name^`",
            ),
            Reason::AnyTld => f.write_str(
                "`||name.` matches the name under every top-level domain; not supported",
            ),
            Reason::Scheme(scheme) => write!(
                f,
                "URL scheme `{}` is not supported (only http and https)",
                cut(scheme)
            ),
            Reason::Html => f.write_str("HTML markup, not a rule"),
            Reason::TooLong(len) => write!(
                f,
                "the line is {len} bytes long, more than the {} a rule may take",
                super::parse::MAX_LINE_BYTES
            ),
            Reason::NoName => f.write_str("no name in the rule"),
            Reason::ExtraText(rest) => {
                write!(f, "unexpected `{}` after the name", cut(rest))
            }
            Reason::WrongFormat { found, expected } => {
                let found = match found {
                    Syntax::Hosts => "a hosts line",
                    Syntax::Domain => "a plain domain line",
                    Syntax::Adblock => "an adblock rule",
                };
                write!(
                    f,
                    "{found} in a source declared as `{expected}`; fix the line or use format `auto`"
                )
            }
            Reason::Domain(error) => error.fmt(f),
        }
    }
}

/// At most 30 characters of `text`, for quoting in a reason.
fn cut(text: &str) -> &str {
    match text.char_indices().nth(30) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_label_and_ip_domain_errors_are_skipped_others_invalid() {
        let single = DomainError::SingleLabel { name: "ad".into() };
        let ip = DomainError::IpAddress {
            name: "1.2.3.4".into(),
        };
        assert_eq!(Reason::from(single).kind(), IssueKind::Skipped);
        assert_eq!(Reason::from(ip).kind(), IssueKind::Skipped);
        assert_eq!(Reason::from(DomainError::Empty).kind(), IssueKind::Invalid);
    }

    #[test]
    fn syntax_the_sinkhole_does_not_use_is_skipped() {
        for reason in [
            Reason::Cosmetic,
            Reason::RegexOption("invert"),
            Reason::Path,
            Reason::Port,
            Reason::Wildcard,
        ] {
            assert_eq!(reason.kind(), IssueKind::Skipped, "{reason}");
        }
    }

    #[test]
    fn garbage_is_invalid() {
        for reason in [
            Reason::Html,
            Reason::TooLong(5000),
            Reason::NoName,
            Reason::ExtraText("x"),
        ] {
            assert_eq!(reason.kind(), IssueKind::Invalid, "{reason}");
        }
    }

    #[test]
    fn modifier_reason_names_the_modifier() {
        let text = Reason::Modifier("third-party").to_string();
        assert_eq!(
            text,
            "modifier `$third-party` is not supported (ralo takes `$important`, `$dnstype`, `$denyallow`, `$dnsrewrite`, `$client` and `$badfilter`, each once, and one of `$dnstype`, `$denyallow` and `$dnsrewrite`; `/regex/` rules `$important` only)"
        );
    }

    #[test]
    fn wrong_format_reason_names_both_syntaxes() {
        let reason = Reason::WrongFormat {
            found: Syntax::Adblock,
            expected: Format::Hosts,
        };
        assert_eq!(
            reason.to_string(),
            "an adblock rule in a source declared as `hosts`; fix the line or use format `auto`"
        );
    }

    #[test]
    fn long_quoted_text_is_cut_to_30_characters() {
        let long = "x".repeat(100);
        assert_eq!(
            Reason::ExtraText(&long).to_string(),
            format!("unexpected `{}` after the name", "x".repeat(30))
        );
    }
}
