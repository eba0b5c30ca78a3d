//! `ralo check`'s words for custom answers (`$dnsrewrite` rules, hosts
//! addresses served): the list and line of the rewrite that answers a
//! name and what it answers, read from the image the decision was made
//! with; and the exception that turned a name's rewrites off.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::config::Config;
use crate::domain::Domain;
use crate::image::{Image, ImageBytes, ListId, Rewritten};

/// The report for a name `rewritten` answers.
pub(super) fn rewritten_text<B: ImageBytes>(
    config: &Config,
    image: &Image<B>,
    domain: &Domain,
    rewritten: &Rewritten,
) -> String {
    let list = image.list_name(rewritten.list).unwrap_or("?");
    let generation = image.generation();
    let mut text = match rewritten.rcode {
        Some(rcode) => format!(
            "{domain}: BLOCKED by list `{list}`: its `$dnsrewrite` answers {} (image generation {generation})\n",
            rcode.as_str()
        ),
        None => format!(
            "{domain}: ANSWERED by list `{list}` with its own records, never forwarded (image generation {generation})\n"
        ),
    };
    let labels: Vec<&str> = domain.labels().collect();
    let keep = usize::from(rewritten.labels).min(labels.len());
    let name = labels[labels.len() - keep..].join(".");
    let scope = if rewritten.subtree {
        "and its subdomains"
    } else {
        "exactly"
    };
    text.push_str(&format!(
        "  rule: {name} {scope}, {}\n",
        line_text(config, list, rewritten.line)
    ));
    if rewritten.rcode.is_none() {
        let a: Vec<String> = image
            .rewrite_records(rewritten, 1)
            .filter_map(|d| <[u8; 4]>::try_from(d).ok())
            .map(|d| Ipv4Addr::from(d).to_string())
            .collect();
        let aaaa: Vec<String> = image
            .rewrite_records(rewritten, 28)
            .filter_map(|d| <[u8; 16]>::try_from(d).ok())
            .map(|d| Ipv6Addr::from(d).to_string())
            .collect();
        let records = |kind: &str, addrs: &[String]| match addrs {
            [] => format!("  {kind}: no records (NODATA)\n"),
            addrs => format!("  {kind}: {}\n", addrs.join(", ")),
        };
        text.push_str(&records("A", &a));
        text.push_str(&records("AAAA", &aaaa));
        text.push_str("  other types: no records (NODATA)\n");
    }
    text
}

/// The line saying that an exception of `list` on `line` turns the name's
/// rewrites off.
pub(super) fn off_text<B: ImageBytes>(
    config: &Config,
    image: &Image<B>,
    list: ListId,
    line: u32,
) -> String {
    let name = image.list_name(list).unwrap_or("?");
    format!(
        "  its custom answers are turned off by list `{name}`, {}\n",
        line_text(config, name, line)
    )
}

/// "line 7: ||x^$dnsrewrite=1.2.3.4", or the number alone when the list's
/// text is not available here.
fn line_text(config: &Config, list: &str, line: u32) -> String {
    let written = crate::compile::sources(config)
        .find(|(source, _)| source.name == list)
        .and_then(|(source, _)| super::check::source_text(config, source))
        .and_then(|text| {
            let at = usize::try_from(line.checked_sub(1)?).ok()?;
            Some(text.lines().nth(at)?.trim().to_owned())
        });
    match written {
        Some(written) => format!("line {line}: {written}"),
        None => format!("line {line} (the list text is not available here)"),
    }
}

#[cfg(test)]
mod tests {
    use crate::cli::check::describe;
    use crate::config::Config;
    use crate::domain::Domain;
    use crate::exchange::SealedImage;
    use crate::image::Image;
    use crate::resolve::Resolver;
    use crate::vocab::Outcome;

    const CONFIG: &str = r#"
[[lists]]
name = "ads"
path = "ads.txt"

[[lists]]
name = "home"
path = "home.txt"
hosts_addresses = "answer"
"#;

    const ADS: &str = "||tracker.example^\n\
                       ||tracker.example^$dnsrewrite=REFUSED\n\
                       @@||ok.tracker.example^$dnsrewrite\n";

    /// What `ralo check` says about `name` from loopback.
    fn said(name: &str) -> (String, Outcome, bool) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ads.txt"), ADS).unwrap();
        let home = "# the house\n192.168.1.10 nas.home\nfd00::10 nas.home\n";
        std::fs::write(dir.path().join("home.txt"), home).unwrap();
        let config = Config::parse(CONFIG, "test", dir.path().into()).unwrap();
        let compiled = crate::compile::compile_local(&config, 1);
        let sealed = SealedImage::create(&compiled.image, "answered-test").unwrap();
        let resolver = Resolver::new(&config, Image::open(sealed.map().unwrap()).unwrap());
        let domain = Domain::parse(name).unwrap();
        let client = "127.0.0.1".parse().unwrap();
        let out = describe(&config, &resolver, &domain, client, None, None);
        (out.text, out.outcome, out.blocked_now)
    }

    #[test]
    fn check_names_the_list_line_and_records_of_an_answer() {
        let (text, outcome, blocked) = said("nas.home");
        assert_eq!((outcome, blocked), (Outcome::Local, false));
        assert!(
            text.starts_with("nas.home: ANSWERED by list `home`"),
            "{text}"
        );
        assert!(
            text.contains("rule: nas.home exactly, line 2: 192.168.1.10 nas.home"),
            "{text}"
        );
        assert!(
            text.contains("  A: 192.168.1.10\n  AAAA: fd00::10\n"),
            "{text}"
        );
    }

    #[test]
    fn check_names_a_response_code_rewrite_as_a_block() {
        let (text, outcome, blocked) = said("x.tracker.example");
        assert_eq!((outcome, blocked), (Outcome::Blocked, true));
        assert!(
            text.starts_with(
                "x.tracker.example: BLOCKED by list `ads`: its `$dnsrewrite` answers REFUSED"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "rule: tracker.example and its subdomains, line 2: ||tracker.example^$dnsrewrite=REFUSED"
            ),
            "{text}"
        );
    }

    #[test]
    fn check_names_the_exception_that_turns_a_rewrite_off() {
        let (text, outcome, _) = said("ok.tracker.example");
        assert_eq!(outcome, Outcome::Blocked, "the block rule decides: {text}");
        assert!(text.contains("BLOCKED by list `ads`"), "{text}");
        assert!(
            text.contains("rule: tracker.example and its subdomains, line 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "its custom answers are turned off by list `ads`, line 3: @@||ok.tracker.example^$dnsrewrite"
            ),
            "{text}"
        );
    }
}
