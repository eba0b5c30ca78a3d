//! [`ListText`]: where a source's text is when the updater compiles it.
//!
//! A list of a million names is some 30 MB of text. The updater never holds
//! it: a local list is read from its file, and a download from its last good
//! copy on disk, one line at a time while the image is compiled. Only a
//! download that the disk did not take (full, read-only) stays in memory
//! until the update is done.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

use super::local::{LocalError, open_list_file};

/// A source's list text, in a file or in memory.
#[derive(Debug, Clone)]
pub enum ListText {
    /// A file read when the text is needed: at most `max_bytes` of it, and
    /// only while it is a regular file.
    File {
        /// The file.
        path: PathBuf,
        /// The byte cap (`[update] max_download_mib`).
        max_bytes: u64,
    },
    /// Text held in memory (lossy UTF-8, no byte order mark).
    Memory(String),
}

impl ListText {
    /// A file's text, read when needed.
    pub fn file(path: impl Into<PathBuf>, max_bytes: u64) -> ListText {
        ListText::File {
            path: path.into(),
            max_bytes,
        }
    }

    /// The text as a stream of bytes (a file is opened now).
    ///
    /// # Errors
    ///
    /// The file cannot be opened, is not a regular file, or is past its cap.
    pub fn reader(&self) -> Result<Box<dyn BufRead + '_>, LocalError> {
        match self {
            ListText::File { path, max_bytes } => {
                let file = open_list_file(path, *max_bytes)?;
                // A file that grew since it was checked is read to the cap.
                Ok(Box::new(BufReader::with_capacity(
                    64 * 1024,
                    file.take(*max_bytes),
                )))
            }
            ListText::Memory(text) => Ok(Box::new(Cursor::new(text.as_bytes()))),
        }
    }

    /// The whole text (lossy UTF-8, without a byte order mark).
    ///
    /// # Errors
    ///
    /// As [`reader`](Self::reader), or a read error.
    pub fn read_to_string(&self) -> Result<String, LocalError> {
        let mut bytes = Vec::new();
        self.reader()?.read_to_end(&mut bytes)?;
        Ok(super::into_text(bytes))
    }

    /// The file it is read from, if it is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            ListText::File { path, .. } => Some(path),
            ListText::Memory(_) => None,
        }
    }
}

impl From<String> for ListText {
    fn from(text: String) -> ListText {
        ListText::Memory(text)
    }
}

impl From<&str> for ListText {
    fn from(text: &str) -> ListText {
        ListText::Memory(text.to_owned())
    }
}

/// Texts are equal when their contents are (a file that cannot be read
/// equals nothing).
impl PartialEq for ListText {
    fn eq(&self, other: &ListText) -> bool {
        match (self.read_to_string(), other.read_to_string()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for ListText {}

impl PartialEq<str> for ListText {
    fn eq(&self, other: &str) -> bool {
        self.read_to_string().is_ok_and(|text| text == other)
    }
}

impl PartialEq<&str> for ListText {
    fn eq(&self, other: &&str) -> bool {
        self == *other
    }
}

impl PartialEq<String> for ListText {
    fn eq(&self, other: &String) -> bool {
        self == other.as_str()
    }
}

/// Reads `file` line by line (each with its `\n`, the last perhaps without),
/// for checks that must see every line without holding them all.
pub(crate) fn for_each_line(file: File, mut f: impl FnMut(&[u8])) -> io::Result<()> {
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        f(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_and_the_same_text_in_memory_are_equal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.txt");
        std::fs::write(&path, "\u{feff}a.example\nb.example\n").unwrap();
        let file = ListText::file(&path, 1024);
        assert_eq!(file, "a.example\nb.example\n");
        assert_eq!(file, ListText::from("a.example\nb.example\n"));
        assert_eq!(file.path(), Some(path.as_path()));
    }

    #[test]
    fn a_missing_file_equals_nothing_and_says_why() {
        let file = ListText::file("/nonexistent/ralo/list.txt", 1024);
        assert_ne!(file, "");
        assert!(matches!(file.read_to_string(), Err(LocalError::Io(_))));
    }

    #[test]
    fn a_file_past_its_cap_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.txt");
        std::fs::write(&path, "a.example\n").unwrap();
        assert!(matches!(
            ListText::file(&path, 4).read_to_string(),
            Err(LocalError::TooLarge { .. })
        ));
    }
}
