//! A `$client` scope: the clients an adblock rule is for (or, with `~`,
//! is not for), as AdGuard Home writes them — addresses, ranges and device
//! names, `|` between them — parsed from a rule's modifier by the updater
//! and recorded in the image (`image::format`, "Client table"), which the
//! server reads back into a [`ClientScope`] once per image.
//!
//! `$client=192.168.1.5|fd00::/64|'kid tablet'`: a value is an IPv4 or IPv6
//! address, a range in CIDR notation, or the name of a `[[clients]]`
//! device. A name with spaces or other special characters is quoted with
//! `'` or `"`; `\` takes the next character as it is (`'Frank\'s laptop'`,
//! `a\,b`). Separators inside quotes do not split. A `~` before every value
//! turns the scope around: the rule is for every client but those. A scope
//! that mixes `~` values with plain ones is refused, as is an empty value.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use super::canonical;

/// One client a `$client` scope names.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScopeClient {
    /// An address (a one-address range) or a range.
    Net(IpNet),
    /// The name of a `[[clients]]` device, as written (case matters).
    Device(String),
}

/// The clients of a `$client` modifier.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientScope {
    /// `~`: the rule is for every client but these.
    pub exclude: bool,
    /// The clients named, in the order written, each once.
    pub clients: Vec<ScopeClient>,
}

/// Why a `$client` value is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// No value, or an empty one between `|`.
    #[error("`$client=` needs addresses, ranges or device names joined by `|`, none empty")]
    Empty,
    /// Some values with `~`, some without.
    #[error(
        "`$client=` mixes `~` values with plain ones: a rule is either for some clients or for all but some"
    )]
    Mixed,
    /// A quote that is not closed, or text after a closing quote.
    #[error("`$client=` has a quoted name that is not closed, or text after its closing quote")]
    Quote,
}

impl ClientScope {
    /// Parses a `$client=` value (the text after `=`).
    ///
    /// # Errors
    ///
    /// [`ScopeError`] when a value is empty, a quote is left open, or `~`
    /// values and plain ones are mixed.
    pub fn parse(value: &str) -> Result<ClientScope, ScopeError> {
        let mut clients: Vec<ScopeClient> = Vec::new();
        let mut exclude = None;
        for item in split_unquoted(value, '|') {
            let (negated, item) = match item.strip_prefix('~') {
                Some(rest) => (true, rest),
                None => (false, item),
            };
            if *exclude.get_or_insert(negated) != negated {
                return Err(ScopeError::Mixed);
            }
            let text = unquote(item)?;
            if text.is_empty() {
                return Err(ScopeError::Empty);
            }
            let client = match (text.parse::<IpAddr>(), text.parse::<IpNet>()) {
                (Ok(addr), _) => ScopeClient::Net(IpNet::from(canonical(addr))),
                (_, Ok(net)) => ScopeClient::Net(net.trunc()),
                _ => ScopeClient::Device(text),
            };
            if !clients.contains(&client) {
                clients.push(client);
            }
        }
        match exclude {
            Some(exclude) => Ok(ClientScope { exclude, clients }),
            None => Err(ScopeError::Empty),
        }
    }

    /// Whether the scope names `client` (an address, or a device the
    /// client was recognised as): `named_device` says whether a device
    /// name is the client's.
    pub fn names(&self, client: IpAddr, named_device: impl Fn(&str) -> bool) -> bool {
        let client = canonical(client);
        self.clients.iter().any(|c| match c {
            ScopeClient::Net(net) => net.contains(&client),
            ScopeClient::Device(name) => named_device(name),
        })
    }

    /// The device names the scope holds.
    pub fn devices(&self) -> impl Iterator<Item = &str> {
        self.clients.iter().filter_map(|c| match c {
            ScopeClient::Device(name) => Some(name.as_str()),
            ScopeClient::Net(_) => None,
        })
    }
}

/// The pieces of `text` between the `sep` characters that are neither
/// escaped with `\` nor inside quotes, as written (escapes and quotes
/// kept). Every piece, empty ones too.
pub fn split_unquoted(text: &str, sep: char) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let text = rest?;
        let (mut quote, mut escaped) = (None, false);
        for (at, c) in text.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '\'' | '"' if quote.is_none() && at_value_start(text, at, sep) => quote = Some(c),
                c if Some(c) == quote => quote = None,
                c if c == sep && quote.is_none() => {
                    rest = Some(&text[at + c.len_utf8()..]);
                    return Some(&text[..at]);
                }
                _ => {}
            }
        }
        rest = None;
        Some(text)
    })
}

/// Whether a quote at `at` opens a quoted value: first in the piece, or
/// after `~`, `=` or the separator.
fn at_value_start(text: &str, at: usize, sep: char) -> bool {
    text[..at]
        .chars()
        .next_back()
        .is_none_or(|before| before == sep || before == '~' || before == '=')
}

/// One value without its quotes and escapes.
fn unquote(item: &str) -> Result<String, ScopeError> {
    let (body, quote) = match item.chars().next() {
        Some(q @ ('\'' | '"')) => (&item[1..], Some(q)),
        _ => (item, None),
    };
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c if Some(c) == quote => {
                return match chars.next() {
                    None => Ok(out),
                    Some(_) => Err(ScopeError::Quote),
                };
            }
            c => out.push(c),
        }
    }
    match quote {
        Some(_) => Err(ScopeError::Quote),
        None => Ok(out),
    }
}

impl fmt::Display for ScopeClient {
    /// An address or range as [`ClientId`](super::ClientId) shows it; a
    /// device name in `'` quotes, `'` and `\` escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScopeClient::Net(net) => super::ClientId::Net(*net).fmt(f),
            ScopeClient::Device(name) => {
                f.write_str("'")?;
                for c in name.chars() {
                    if matches!(c, '\'' | '\\') {
                        f.write_str("\\")?;
                    }
                    write!(f, "{c}")?;
                }
                f.write_str("'")
            }
        }
    }
}

impl fmt::Display for ClientScope {
    /// `for clients 192.168.1.5, 'kid tablet'`, or `for every client but …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.exclude {
            false => "for clients ",
            true => "for every client but ",
        })?;
        for (i, client) in self.clients.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            client.fmt(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(value: &str) -> ClientScope {
        ClientScope::parse(value).unwrap_or_else(|e| panic!("{value}: {e}"))
    }

    fn net(text: &str) -> ScopeClient {
        ScopeClient::Net(text.parse().unwrap())
    }

    fn device(name: &str) -> ScopeClient {
        ScopeClient::Device(name.to_owned())
    }

    #[test]
    fn addresses_ranges_and_names_are_told_apart() {
        let s = scope("192.168.1.5|10.0.0.0/8|fd00::1|fd00::/64|laptop|10.0.0.300");
        assert!(!s.exclude);
        assert_eq!(
            s.clients,
            [
                net("192.168.1.5/32"),
                net("10.0.0.0/8"),
                net("fd00::1/128"),
                net("fd00::/64"),
                device("laptop"),
                device("10.0.0.300"),
            ]
        );
    }

    #[test]
    fn a_range_is_truncated_and_a_mapped_address_is_ipv4() {
        assert_eq!(scope("10.1.2.3/8").clients, [net("10.0.0.0/8")]);
        assert_eq!(scope("::ffff:10.0.0.1").clients, [net("10.0.0.1/32")]);
    }

    #[test]
    fn quoted_names_keep_spaces_separators_and_escaped_quotes() {
        assert_eq!(
            scope(r#"'Frank\'s laptop'|'a|b'|"x,y"|plain\,name"#).clients,
            [
                device("Frank's laptop"),
                device("a|b"),
                device("x,y"),
                device("plain,name"),
            ]
        );
        assert_eq!(scope(r"'back\\slash'").clients, [device(r"back\slash")]);
    }

    #[test]
    fn tilde_on_every_value_excludes_them() {
        let s = scope("~192.168.1.5|~'kid tablet'");
        assert!(s.exclude);
        assert_eq!(s.clients, [net("192.168.1.5/32"), device("kid tablet")]);
    }

    #[test]
    fn mixed_empty_and_unclosed_values_are_refused() {
        assert_eq!(ClientScope::parse("a|~b"), Err(ScopeError::Mixed));
        assert_eq!(ClientScope::parse("~a|b"), Err(ScopeError::Mixed));
        for value in ["", "a||b", "a|", "~", "''"] {
            assert_eq!(ClientScope::parse(value), Err(ScopeError::Empty), "{value}");
        }
        assert_eq!(ClientScope::parse("'open"), Err(ScopeError::Quote));
        assert_eq!(ClientScope::parse("'a'b"), Err(ScopeError::Quote));
    }

    #[test]
    fn a_value_given_twice_counts_once() {
        assert_eq!(scope("a|a|10.0.0.1|10.0.0.1/32").clients.len(), 2);
    }

    #[test]
    fn split_unquoted_keeps_quoted_and_escaped_separators() {
        let pieces: Vec<&str> =
            split_unquoted(r"important,client='a,b'|c\,d,dnstype=A", ',').collect();
        assert_eq!(pieces, ["important", r"client='a,b'|c\,d", "dnstype=A"]);
        let pieces: Vec<&str> = split_unquoted("a||b", '|').collect();
        assert_eq!(pieces, ["a", "", "b"]);
        // An apostrophe inside a name opens no quote.
        let pieces: Vec<&str> = split_unquoted("client=Frank's,important", ',').collect();
        assert_eq!(pieces, ["client=Frank's", "important"]);
    }

    #[test]
    fn names_matches_addresses_ranges_and_recognised_devices() {
        let s = scope("192.168.1.5|10.0.0.0/8|'kid tablet'");
        let none = |_: &str| false;
        assert!(s.names("192.168.1.5".parse().unwrap(), none));
        assert!(s.names("::ffff:10.9.9.9".parse().unwrap(), none));
        assert!(!s.names("192.168.1.6".parse().unwrap(), none));
        assert!(s.names("192.168.1.6".parse().unwrap(), |d| d == "kid tablet"));
        assert_eq!(s.devices().collect::<Vec<_>>(), ["kid tablet"]);
    }

    #[test]
    fn display_quotes_names_and_says_which_way() {
        assert_eq!(
            scope(r"192.168.1.5|'Frank\'s laptop'|10.0.0.0/8").to_string(),
            r"for clients 192.168.1.5, 'Frank\'s laptop', 10.0.0.0/8"
        );
        assert_eq!(scope("~tv").to_string(), "for every client but 'tv'");
    }
}
