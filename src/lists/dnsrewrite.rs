//! The value of AdGuard's `$dnsrewrite` modifier (`adblock.rs` finds it):
//! what a rule answers for its name instead of blocking it.
//!
//! Taken, as AdGuard's urlfilter reads them (`rules/dnsrewrite.go`):
//! - shorthand: `1.2.3.4` (an A record), `::1` (an AAAA record),
//!   `NOERROR`, `NXDOMAIN`, `REFUSED`, `SERVFAIL` (that code, no record);
//! - full form `RCODE;TYPE;VALUE`: `NOERROR;A;1.2.3.4`,
//!   `NOERROR;AAAA;fd00::1`, and a code with no type and value
//!   (`REFUSED;;`);
//! - on an exception, no value (`@@||x^$dnsrewrite`): no rewrite for the
//!   name.
//!
//! Skipped, each with a reason that names it: a shorthand host name (a
//! CNAME rewrite: ralo would have to resolve the target, which no list
//! answer does), record types other than A and AAAA (`CNAME`, `MX`, `TXT`,
//! `PTR`, `SRV`, `HTTPS`, …), and an exception for one value
//! (`@@||x^$dnsrewrite=1.2.3.4`), which ralo cannot tell from the rest.

use std::net::IpAddr;

use super::reason::Reason;
use crate::answer::{Answer, Rcode, Rewrite};

/// The rewrite a `$dnsrewrite=` value (`value`, the text after `=`; empty
/// when there is none) asks for, on an exception rule (`@@`) or not.
pub(super) fn rewrite(value: &str, exception: bool) -> Result<Rewrite, Reason<'_>> {
    let value = value.trim();
    if exception {
        return match value {
            "" => Ok(Rewrite::Off),
            other => Err(Reason::RewriteExceptionValue(other)),
        };
    }
    let answer = match value.splitn(3, ';').collect::<Vec<_>>()[..] {
        [""] => return Err(Reason::RewriteValue(value)),
        [short] => shorthand(short)?,
        [rcode, rtype, data] => full(value, rcode.trim(), rtype.trim(), data.trim())?,
        _ => return Err(Reason::RewriteValue(value)),
    };
    Ok(Rewrite::To(answer))
}

/// `1.2.3.4`, `::1`, `NXDOMAIN`, or a host name (a CNAME, skipped).
fn shorthand(value: &str) -> Result<Answer, Reason<'_>> {
    if let Ok(address) = value.parse::<IpAddr>() {
        return Ok(address_answer(address));
    }
    if value.bytes().all(|b| b.is_ascii_uppercase()) {
        return Rcode::parse(value)
            .map(Answer::Rcode)
            .ok_or(Reason::RewriteValue(value));
    }
    if is_host(value) {
        return Err(Reason::RewriteType("CNAME"));
    }
    Err(Reason::RewriteValue(value))
}

/// `RCODE;TYPE;VALUE` (all of `value`).
fn full<'a>(
    value: &'a str,
    rcode: &'a str,
    rtype: &'a str,
    data: &'a str,
) -> Result<Answer, Reason<'a>> {
    let code = Rcode::parse(rcode).ok_or(Reason::RewriteValue(value))?;
    match (code, rtype, data) {
        (code, "", "") => Ok(Answer::Rcode(code)),
        (Rcode::NoError, "A" | "AAAA", data) => match (rtype, data.parse::<IpAddr>()) {
            ("A", Ok(address @ IpAddr::V4(_))) | ("AAAA", Ok(address @ IpAddr::V6(_))) => {
                Ok(address_answer(address))
            }
            _ => Err(Reason::RewriteValue(value)),
        },
        (Rcode::NoError, rtype, _)
            if !rtype.is_empty() && rtype.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            Err(Reason::RewriteType(rtype))
        }
        _ => Err(Reason::RewriteValue(value)),
    }
}

fn address_answer(address: IpAddr) -> Answer {
    match address {
        IpAddr::V4(v4) => Answer::A(v4),
        IpAddr::V6(v6) => Answer::Aaaa(v6),
    }
}

/// Whether `text` looks like a host name (letters, digits, `-`, dots
/// between labels), as AdGuard checks a CNAME target.
fn is_host(text: &str) -> bool {
    !text.is_empty()
        && text.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
        })
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    fn to(answer: Answer) -> Result<Rewrite, Reason<'static>> {
        Ok(Rewrite::To(answer))
    }

    #[test]
    fn shorthand_addresses_and_codes_are_taken() {
        assert_eq!(
            rewrite("1.2.3.4", false),
            to(Answer::A(Ipv4Addr::new(1, 2, 3, 4)))
        );
        assert_eq!(rewrite("::1", false), to(Answer::Aaaa(Ipv6Addr::LOCALHOST)));
        assert_eq!(rewrite("REFUSED", false), to(Answer::Rcode(Rcode::Refused)));
        assert_eq!(
            rewrite("NXDOMAIN", false),
            to(Answer::Rcode(Rcode::NxDomain))
        );
        assert_eq!(rewrite("NOERROR", false), to(Answer::Rcode(Rcode::NoError)));
    }

    #[test]
    fn full_form_takes_a_aaaa_and_bare_codes() {
        assert_eq!(
            rewrite("NOERROR;A;1.2.3.4", false),
            to(Answer::A(Ipv4Addr::new(1, 2, 3, 4)))
        );
        assert_eq!(
            rewrite("NOERROR;AAAA;fd00::1", false),
            to(Answer::Aaaa("fd00::1".parse().unwrap()))
        );
        assert_eq!(
            rewrite("SERVFAIL;;", false),
            to(Answer::Rcode(Rcode::ServFail))
        );
    }

    #[test]
    fn cname_and_other_types_are_skipped_naming_the_type() {
        assert_eq!(
            rewrite("safe.example.org", false),
            Err(Reason::RewriteType("CNAME"))
        );
        assert_eq!(
            rewrite("NOERROR;CNAME;safe.example.org", false),
            Err(Reason::RewriteType("CNAME"))
        );
        assert_eq!(
            rewrite("NOERROR;MX;32 mail.example", false),
            Err(Reason::RewriteType("MX"))
        );
        assert_eq!(
            rewrite("NOERROR;TXT;hello", false),
            Err(Reason::RewriteType("TXT"))
        );
    }

    #[test]
    fn malformed_values_are_invalid() {
        for value in [
            "",
            "BOGUS",
            "NOERROR;A",
            "NOERROR;A;::1",
            "NOERROR;AAAA;1.2.3.4",
            "NOERROR;A;x",
            "REFUSED;A;1.2.3.4",
            "FOO;;",
            "a b",
        ] {
            assert!(
                matches!(rewrite(value, false), Err(Reason::RewriteValue(_))),
                "{value}: {:?}",
                rewrite(value, false)
            );
        }
    }

    #[test]
    fn an_exception_without_a_value_turns_rewrites_off_and_one_with_a_value_is_skipped() {
        assert_eq!(rewrite("", true), Ok(Rewrite::Off));
        assert_eq!(
            rewrite("1.2.3.4", true),
            Err(Reason::RewriteExceptionValue("1.2.3.4"))
        );
    }

    #[test]
    fn rewrites_reach_the_sink_with_their_line_and_copies_are_dropped() {
        use crate::lists::{ParseOptions, parse};
        let text = "||nas.example^$dnsrewrite=192.168.1.10\n\
                    ||nas.example^\n\
                    192.168.1.11 nas.example other.example\n\
                    0.0.0.0 ads.example\n\
                    ||nas.example^$dnsrewrite=192.168.1.10\n";
        let options = ParseOptions {
            answer_hosts: true,
            ..ParseOptions::default()
        };
        let mut rules = Vec::new();
        let stats = parse(text, options, |rule| {
            rules.push((rule.name.to_owned(), rule.subtree, rule.rewrite, rule.line));
        });
        let a = |last| Some(Rewrite::To(Answer::A(Ipv4Addr::new(192, 168, 1, last))));
        assert_eq!(
            rules,
            [
                ("nas.example".to_owned(), true, a(10), 1),
                ("nas.example".to_owned(), true, None, 2),
                ("nas.example".to_owned(), false, a(11), 3),
                ("other.example".to_owned(), false, a(11), 3),
                ("ads.example".to_owned(), false, None, 4),
            ]
        );
        assert_eq!(stats.duplicate, 1);
    }
}
