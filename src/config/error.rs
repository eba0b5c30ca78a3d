//! Why a config was refused: [`Error`] for the caller, and [`BadValue`], the
//! dotted key and message a section's check gives, which [`Config::parse`]
//! turns into [`Error::Value`] with the file's name.
//!
//! [`Config::parse`]: super::Config::parse

use std::path::PathBuf;

/// Why a config was refused.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// toml or serde refused the text: syntax, an unknown key, a wrong type.
    #[error("{origin}: {message}")]
    Syntax {
        /// The file, or "embedded defaults".
        origin: String,
        /// toml's message; it names the key and shows the line.
        message: String,
    },
    /// A value that parsed but makes no sense.
    #[error("{origin}: key `{key}`: {message}")]
    Value {
        /// The file, or "embedded defaults".
        origin: String,
        /// The dotted key, e.g. `upstream.servers`.
        key: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// A value a section's check refuses: the dotted key and what to do.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct BadValue {
    /// The dotted key, e.g. `upstream.deadline_ms`.
    pub(super) key: String,
    /// What is wrong and how to fix it.
    pub(super) message: String,
}

impl BadValue {
    /// `key` refused with `message`.
    pub(super) fn new(key: impl Into<String>, message: impl Into<String>) -> BadValue {
        BadValue {
            key: key.into(),
            message: message.into(),
        }
    }

    /// `value` of `key` refused unless it lies in `range`, saying
    /// "{value} is out of range {start}..={end}".
    pub(super) fn unless_in<T: PartialOrd + std::fmt::Display>(
        key: &str,
        value: T,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<(), BadValue> {
        if range.contains(&value) {
            return Ok(());
        }
        let (start, end) = range.into_inner();
        Err(BadValue::new(
            key,
            format!("{value} is out of range {start}..={end}"),
        ))
    }

    /// The error for the caller, naming the file (or "embedded defaults").
    pub(super) fn in_origin(self, origin: &str) -> Error {
        Error::Value {
            origin: origin.to_owned(),
            key: self.key,
            message: self.message,
        }
    }
}
