//! What the caller tells the parser about a source: its syntax ([`Format`]) and
//! its purpose ([`ParseOptions`]). The line classifier in `line.rs` reads them.

use std::fmt;

/// Which syntax a source uses. `Auto` (the default) decides per line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// Decide per line: hosts, plain domain or adblock, whichever the line is.
    #[default]
    Auto,
    /// Only hosts lines (`0.0.0.0 name…`); anything else is invalid.
    Hosts,
    /// Only plain domain lines (`name`, `*.name`); anything else is invalid.
    Domains,
    /// Only adblock rules (`||name^`, `@@||name^`) and bare names, which are
    /// valid adblock patterns too; hosts lines are invalid.
    Adblock,
    /// Pi-hole's regex list: one regular expression a line, with
    /// `;querytype=` options; `#` comments and blank lines.
    Regex,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Auto => "auto",
            Format::Hosts => "hosts",
            Format::Domains => "domains",
            Format::Adblock => "adblock",
            Format::Regex => "regex",
        })
    }
}

/// What a list is for and how plain entries match.
#[derive(Clone, Copy, Debug, Default)]
pub struct ParseOptions {
    /// The source is an allowlist: every rule it yields allows (adblock `@@`
    /// lines are allows in any list).
    pub allow: bool,
    /// Plain and hosts entries also cover subdomains (config key
    /// `subdomains = true`). Adblock `||` rules and `*.name` entries always
    /// cover subdomains; adblock `://name^` and `|name^` rules never do.
    pub subdomains: bool,
    /// The syntax of the source.
    pub format: Format,
    /// Hosts lines whose address is not a sink (`0.0.0.0`, `127.0.0.1`,
    /// `::`, `::1`) answer their names with that address rather than
    /// block them (config key `hosts_addresses = "answer"`).
    pub answer_hosts: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_options_block_exact_names_in_auto_format() {
        let options = ParseOptions::default();
        assert!(!options.allow);
        assert!(!options.subdomains);
        assert_eq!(options.format, Format::Auto);
    }

    #[test]
    fn format_displays_as_its_config_word() {
        let words: Vec<String> = [
            Format::Auto,
            Format::Hosts,
            Format::Domains,
            Format::Adblock,
            Format::Regex,
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(words, ["auto", "hosts", "domains", "adblock", "regex"]);
    }
}
