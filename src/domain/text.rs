//! Normalized domain names: the one spelling of a name that lists, the image
//! and the resolver agree on.
//!
//! A [`Domain`] is lowercase ASCII (Unicode names are converted to punycode
//! with IDNA/UTS-46), has no trailing dot, and has been checked against the
//! DNS limits (labels of 1..=63 bytes, at most 253 bytes in all). It has at
//! least two labels and its last label is not all digits, so a rule built from
//! it never covers a whole top-level domain or an IP address literal.
//!
//! The list parser in [`crate::lists`] normalizes millions of names; it calls
//! [`normalize_into`] with one reused buffer instead of building a `Domain` per
//! line.

use std::fmt;
use std::str::FromStr;

/// Longest label DNS allows, in bytes (RFC 1035 §2.3.4).
const MAX_LABEL: usize = 63;
/// Longest name ralo accepts, in bytes, without the trailing dot (RFC 1035
/// allows 255 octets on the wire, which is 253 characters of text).
const MAX_NAME: usize = 253;
/// How many characters of an offending name or label an error message quotes.
const QUOTE_CHARS: usize = 40;

/// A normalized domain name: lowercase ASCII (IDNA/punycode for Unicode), no
/// trailing dot, validated.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Domain(Box<str>);

impl Domain {
    /// Normalizes and validates `input`; see [`normalize_into`] for the rules.
    ///
    /// Surrounding whitespace is not trimmed: the caller trims.
    pub fn parse(input: &str) -> Result<Domain, DomainError> {
        let mut out = String::with_capacity(input.len());
        normalize_into(input, &mut out)?;
        Ok(Domain(out.into_boxed_str()))
    }

    /// The normalized name, e.g. `ads.example.com`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The labels from left to right: `a.b.c` yields `a`, `b`, `c`. Call
    /// `.rev()` to walk from the top-level domain down.
    pub fn labels(&self) -> impl DoubleEndedIterator<Item = &str> {
        self.0.split('.')
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Domain {
    type Err = DomainError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Domain::parse(input)
    }
}

impl AsRef<str> for Domain {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Why a text is not a usable domain name. Each message names the problem and
/// how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The text is empty (or only a dot).
    #[error("the name is empty; write a domain such as `ads.example.com`")]
    Empty,
    /// A label is empty: a leading dot, `..`, or more than one trailing dot.
    #[error("`{name}` has an empty label; remove the leading, doubled or extra trailing dot")]
    EmptyLabel {
        /// The name as given (cut to 40 characters).
        name: String,
    },
    /// A character outside `a-z 0-9 - _` (after lowercasing and IDNA).
    #[error("`{name}` contains `{ch}`; names may only use letters, digits, `-`, `_` and `.`")]
    InvalidChar {
        /// The first offending character.
        ch: char,
        /// The name as given (cut to 40 characters).
        name: String,
    },
    /// A label is longer than 63 bytes.
    #[error("label `{label}` is {len} bytes long; DNS labels are at most 63")]
    LabelTooLong {
        /// The label (cut to 40 characters).
        label: String,
        /// Its length in bytes.
        len: usize,
    },
    /// The whole name is longer than 253 bytes.
    #[error("the name `{name}` is {len} bytes long; DNS names are at most 253")]
    TooLong {
        /// The name (cut to 40 characters).
        name: String,
        /// Its length in bytes, without a trailing dot.
        len: usize,
    },
    /// The name has one label (`localhost`, `com`): a rule on it would cover a
    /// whole top-level domain.
    #[error(
        "`{name}` is a single label; write a full name such as `ads.{name}` \
         (a rule on a bare label would cover a whole top-level domain)"
    )]
    SingleLabel {
        /// The name (cut to 40 characters).
        name: String,
    },
    /// The last label is all digits: the text is an IP address literal.
    #[error("`{name}` is an IP address, not a domain name; ralo matches names only")]
    IpAddress {
        /// The name (cut to 40 characters).
        name: String,
    },
    /// Unicode text that IDNA (UTS-46) cannot convert to ASCII.
    #[error(
        "`{name}` is not a valid internationalized name (IDNA conversion failed); \
         look for stray symbols or invisible characters"
    )]
    Idna {
        /// The name as given (cut to 40 characters).
        name: String,
    },
}

/// Normalizes `input` into `out` (cleared first) without allocating a
/// [`Domain`]; used by the list parser on millions of lines.
///
/// Rules: ASCII is lowercased; any non-ASCII input goes through IDNA (UTS-46
/// to ASCII), so `банрек.рус` becomes `xn--80abnuns.xn--p1acf`; one trailing
/// dot is dropped. Afterwards only `a-z 0-9 - _ .` may remain (underscore is
/// allowed because real tracker names use it; hyphen placement is not checked
/// and `xn--` labels are not decoded), each label is 1..=63 bytes, the name
/// is at most 253 bytes, has at least two labels and its last label is not
/// all digits. `*` is never valid here: wildcards belong to the list syntax.
///
/// On error `out` holds an unspecified prefix of the name.
pub fn normalize_into(input: &str, out: &mut String) -> Result<(), DomainError> {
    out.clear();
    if input.is_ascii() {
        out.push_str(input);
    } else {
        let ascii = idna::domain_to_ascii_cow(input.as_bytes(), idna::AsciiDenyList::URL)
            .map_err(|_| DomainError::Idna { name: quote(input) })?;
        out.push_str(&ascii);
    }
    if out.ends_with('.') {
        out.pop();
    }
    out.make_ascii_lowercase();
    validate(out, input)
}

/// Checks an already lowercased ASCII name in one pass; `input` is quoted in
/// errors.
fn validate(name: &str, input: &str) -> Result<(), DomainError> {
    if name.is_empty() {
        return Err(if input.is_empty() || input == "." {
            DomainError::Empty
        } else {
            DomainError::EmptyLabel { name: quote(input) }
        });
    }
    let bytes = name.as_bytes();
    let mut start = 0;
    let mut labels = 0_usize;
    let mut all_digits = true;
    for (at, &byte) in bytes.iter().enumerate() {
        match byte {
            b'.' => {
                check_label(name, start, at, input)?;
                labels += 1;
                start = at + 1;
                all_digits = true;
            }
            b'0'..=b'9' => {}
            b'a'..=b'z' | b'-' | b'_' => all_digits = false,
            _ => {
                // Everything before `at` is ASCII, so `at` is a char boundary.
                let ch = name.get(at..).and_then(|rest| rest.chars().next());
                return Err(DomainError::InvalidChar {
                    ch: ch.unwrap_or(char::REPLACEMENT_CHARACTER),
                    name: quote(input),
                });
            }
        }
    }
    check_label(name, start, bytes.len(), input)?;
    labels += 1;
    if name.len() > MAX_NAME {
        return Err(DomainError::TooLong {
            name: quote(name),
            len: name.len(),
        });
    }
    if labels < 2 {
        return Err(DomainError::SingleLabel { name: quote(name) });
    }
    if all_digits {
        return Err(DomainError::IpAddress { name: quote(name) });
    }
    Ok(())
}

/// Checks the label `name[start..end]`: not empty, at most 63 bytes.
fn check_label(name: &str, start: usize, end: usize, input: &str) -> Result<(), DomainError> {
    let len = end - start;
    if len == 0 {
        return Err(DomainError::EmptyLabel { name: quote(input) });
    }
    if len > MAX_LABEL {
        return Err(DomainError::LabelTooLong {
            label: quote(name.get(start..end).unwrap_or(name)),
            len,
        });
    }
    Ok(())
}

/// The first [`QUOTE_CHARS`] characters of `text`, with `…` if it was cut.
fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Whether the normalized name `name` is a subdomain of the normalized
/// name `ancestor` (strictly below it: `a.example.com` of `example.com`,
/// not `example.com` itself nor `xexample.com`).
pub fn is_below(name: &str, ancestor: &str) -> bool {
    name.len() > ancestor.len()
        && name.ends_with(ancestor)
        && name.as_bytes()[name.len() - ancestor.len() - 1] == b'.'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_means_a_subdomain_not_the_name_nor_a_longer_label() {
        assert!(is_below("a.example.com", "example.com"));
        assert!(is_below("x.a.example.com", "example.com"));
        assert!(!is_below("example.com", "example.com"));
        assert!(!is_below("xexample.com", "example.com"));
        assert!(!is_below("example.com", "a.example.com"));
    }

    fn norm(input: &str) -> Result<String, DomainError> {
        let mut out = String::new();
        normalize_into(input, &mut out).map(|()| out)
    }

    #[test]
    fn uppercase_ascii_is_lowercased() {
        assert_eq!(norm("Ads.Example.COM").as_deref(), Ok("ads.example.com"));
    }

    #[test]
    fn one_trailing_dot_is_dropped() {
        assert_eq!(norm("example.com.").as_deref(), Ok("example.com"));
    }

    #[test]
    fn two_trailing_dots_are_an_empty_label() {
        assert!(matches!(
            norm("example.com.."),
            Err(DomainError::EmptyLabel { .. })
        ));
    }

    #[test]
    fn leading_dot_and_double_dot_are_empty_labels() {
        assert!(matches!(
            norm(".example.com"),
            Err(DomainError::EmptyLabel { .. })
        ));
        assert!(matches!(
            norm("a..example.com"),
            Err(DomainError::EmptyLabel { .. })
        ));
        assert!(matches!(norm(".."), Err(DomainError::EmptyLabel { .. })));
    }

    #[test]
    fn empty_text_and_lone_dot_are_empty() {
        assert_eq!(norm(""), Err(DomainError::Empty));
        assert_eq!(norm("."), Err(DomainError::Empty));
    }

    #[test]
    fn unicode_name_becomes_punycode() {
        assert_eq!(norm("банрек.рус").as_deref(), Ok("xn--80abnuns.xn--p1acf"));
        assert_eq!(norm("BÜCHER.de").as_deref(), Ok("xn--bcher-kva.de"));
    }

    #[test]
    fn unicode_name_with_trailing_dot_drops_the_dot() {
        assert_eq!(norm("bücher.de.").as_deref(), Ok("xn--bcher-kva.de"));
    }

    #[test]
    fn replacement_character_is_rejected() {
        assert!(norm("bad\u{FFFD}.com").is_err());
    }

    #[test]
    fn underscore_is_allowed() {
        assert_eq!(
            norm("_dmarc.example.com").as_deref(),
            Ok("_dmarc.example.com")
        );
    }

    #[test]
    fn wildcard_space_and_slash_are_invalid_chars() {
        for bad in ["*.example.com", "a b.com", "example.com/x", "a:80.com"] {
            assert!(
                matches!(norm(bad), Err(DomainError::InvalidChar { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn label_of_63_bytes_is_valid() {
        let name = format!("{}.com", "a".repeat(63));
        assert!(norm(&name).is_ok());
    }

    #[test]
    fn label_of_64_bytes_is_invalid() {
        let name = format!("{}.com", "a".repeat(64));
        let err = norm(&name).unwrap_err();
        assert!(matches!(err, DomainError::LabelTooLong { len: 64, .. }));
        assert!(err.to_string().contains("64 bytes long"), "{err}");
    }

    #[test]
    fn name_of_253_bytes_is_valid_and_254_is_not() {
        let label = "a".repeat(61);
        let base = [label.as_str(); 4].join("."); // 4 * 61 + 3 = 247 bytes
        assert!(norm(&format!("{base}.abcde")).is_ok()); // 253
        assert!(matches!(
            norm(&format!("{base}.abcdef")), // 254
            Err(DomainError::TooLong { len: 254, .. })
        ));
    }

    #[test]
    fn single_label_is_rejected() {
        for name in ["localhost", "com", "AD", "ad."] {
            assert!(
                matches!(norm(name), Err(DomainError::SingleLabel { .. })),
                "{name}"
            );
        }
    }

    #[test]
    fn ipv4_literal_is_rejected() {
        assert!(matches!(
            norm("88.85.75.147"),
            Err(DomainError::IpAddress { .. })
        ));
    }

    #[test]
    fn name_starting_with_digit_labels_is_valid() {
        assert!(norm("0.0.0.0.beeglivesex.com").is_ok());
        assert!(norm("1.2.3.4.in-addr.arpa").is_ok());
    }

    #[test]
    fn long_names_are_quoted_with_an_ellipsis() {
        let err = norm(&format!("{}.com", "x".repeat(70))).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "label `{}…` is 70 bytes long; DNS labels are at most 63",
                "x".repeat(40)
            )
        );
    }

    #[test]
    fn error_buffer_is_reused_across_calls() {
        let mut out = String::from("leftover");
        normalize_into("A.B", &mut out).unwrap();
        assert_eq!(out, "a.b");
        normalize_into("c.d", &mut out).unwrap();
        assert_eq!(out, "c.d");
    }

    #[test]
    fn domain_parse_display_and_labels_agree() {
        let domain: Domain = "WWW.Example.com.".parse().unwrap();
        assert_eq!(domain.as_str(), "www.example.com");
        assert_eq!(domain.to_string(), "www.example.com");
        assert_eq!(domain.as_ref(), "www.example.com");
        assert_eq!(
            domain.labels().collect::<Vec<_>>(),
            ["www", "example", "com"]
        );
        assert_eq!(
            domain.labels().rev().collect::<Vec<_>>(),
            ["com", "example", "www"]
        );
    }

    #[test]
    fn domain_parse_does_not_trim() {
        assert!(Domain::parse(" example.com").is_err());
    }
}
