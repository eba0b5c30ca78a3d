//! The last good copy of each URL source, kept in `state_dir/sources/`.
//!
//! Each source has two files named after it (see [`stem`]): `NAME.list`, the
//! body exactly as downloaded, and `NAME.meta`, `key=value` lines with the
//! validators for a conditional GET, when it was fetched, its entry-line
//! count, and its length and hash. Both are replaced atomically (temporary
//! file in the same folder, fsync, rename, fsync of the folder). The length
//! and hash tie the metadata to its body: metadata that is missing, corrupt
//! or belongs to another body (a crash between the two renames) is ignored,
//! and the entry count is then recounted from the body.
//!
//! Everything here is blocking file I/O: [`super::fetch`] runs it on
//! tokio's blocking pool.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use xxhash_rust::xxh3::{Xxh3, xxh3_64};

use super::checks::{UTF8_BOM, is_entry};
use super::text::for_each_line;

/// The longest sanitized name kept in a file name; the hash keeps names unique.
const MAX_STEM_NAME: usize = 48;

/// The first line of every metadata file.
const META_HEADER: &str = "# ralo: last good copy of a list source; the body is beside this file";

/// Makes temporary file names unique within this process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The folder of last good copies.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    dir: PathBuf,
}

/// What is known about a stored body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Meta {
    /// The URL the body came from.
    pub(crate) url: String,
    /// The `ETag` the server sent with it.
    pub(crate) etag: Option<String>,
    /// The `Last-Modified` the server sent with it.
    pub(crate) last_modified: Option<String>,
    /// When it was downloaded, in seconds since the Unix epoch.
    pub(crate) fetched_at: u64,
    /// Its entry lines.
    pub(crate) entries: u64,
    /// Its length in bytes.
    pub(crate) bytes: u64,
    /// Its XXH3-64 hash.
    pub(crate) hash: u64,
}

/// A last good copy found on disk, checked against its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stored {
    /// The file holding the body as downloaded.
    pub(crate) path: PathBuf,
    /// Its metadata; without validators when the metadata file was missing
    /// or did not match the body.
    pub(crate) meta: Meta,
}

impl Meta {
    /// Metadata for a freshly downloaded `body`.
    pub(crate) fn new(
        url: &str,
        body: &[u8],
        entries: u64,
        etag: Option<String>,
        last_modified: Option<String>,
    ) -> Meta {
        Meta {
            url: url.to_owned(),
            etag: etag.filter(|v| is_one_line(v)),
            last_modified: last_modified.filter(|v| is_one_line(v)),
            fetched_at: now_unix(),
            entries,
            bytes: len_u64(body),
            hash: xxh3_64(body),
        }
    }

    /// The metadata file's text.
    pub(crate) fn render(&self) -> String {
        let mut out = format!("{META_HEADER}\nurl={}\n", self.url);
        if let Some(etag) = &self.etag {
            out.push_str(&format!("etag={etag}\n"));
        }
        if let Some(lm) = &self.last_modified {
            out.push_str(&format!("last_modified={lm}\n"));
        }
        out.push_str(&format!(
            "fetched_at={}\nentries={}\nbytes={}\nxxh3={:016x}\n",
            self.fetched_at, self.entries, self.bytes, self.hash
        ));
        out
    }

    /// Parses a metadata file's text; `None` when a required key is missing,
    /// a number does not parse or a line is not `key=value`. Comments, blank
    /// lines and unknown keys are skipped.
    pub(crate) fn parse(text: &str) -> Option<Meta> {
        let (mut url, mut etag, mut last_modified) = (None, None, None);
        let (mut fetched_at, mut entries, mut bytes, mut hash) = (None, None, None, None);
        for line in text.lines() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line.split_once('=')?;
            let value = value.to_owned();
            match key {
                "url" => url = Some(value),
                "etag" => etag = Some(value),
                "last_modified" => last_modified = Some(value),
                "fetched_at" => fetched_at = Some(value.parse().ok()?),
                "entries" => entries = Some(value.parse().ok()?),
                "bytes" => bytes = Some(value.parse().ok()?),
                "xxh3" => hash = Some(u64::from_str_radix(&value, 16).ok()?),
                _ => {}
            }
        }
        Some(Meta {
            url: url?,
            etag: etag.filter(|v| !v.is_empty()),
            last_modified: last_modified.filter(|v| !v.is_empty()),
            fetched_at: fetched_at?,
            entries: entries?,
            bytes: bytes?,
            hash: hash?,
        })
    }

    /// Whether this metadata describes the body `read`.
    fn describes(&self, read: &Read) -> bool {
        self.bytes == read.bytes && self.hash == read.hash
    }

    /// Seconds since the body was downloaded (0 if the clock went back).
    pub(crate) fn age_secs(&self) -> u64 {
        now_unix().saturating_sub(self.fetched_at)
    }
}

impl Store {
    /// Opens `dir`, creating it (and its parents) if needed.
    pub(crate) fn open(dir: PathBuf) -> io::Result<Store> {
        fs::create_dir_all(&dir)?;
        Ok(Store { dir })
    }

    /// The folder this store writes to.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Finds the last good copy of source `name` at `url`, if there is one,
    /// reading it through once (its length, hash and entry lines) without
    /// holding it. A missing body is `Ok(None)`; a body that cannot be read
    /// is an error.
    pub(crate) fn load(&self, name: &str, url: &str) -> io::Result<Option<Stored>> {
        let (body_path, meta_path) = self.paths(name, url);
        let read = match File::open(&body_path) {
            Ok(file) => Read::of(file)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let meta = fs::read(&meta_path)
            .ok()
            .and_then(|raw| Meta::parse(&String::from_utf8_lossy(&raw)))
            .filter(|meta| meta.url == url && meta.describes(&read));
        let meta = match meta {
            Some(meta) => meta,
            None => {
                tracing::debug!(
                    source = name,
                    path = %meta_path.display(),
                    "metadata of the last good copy is missing or does not match it; ignoring it"
                );
                Meta {
                    url: url.to_owned(),
                    etag: None,
                    last_modified: None,
                    fetched_at: modified_unix(&body_path).unwrap_or(0),
                    entries: read.entries,
                    bytes: read.bytes,
                    hash: read.hash,
                }
            }
        };
        Ok(Some(Stored {
            path: body_path,
            meta,
        }))
    }

    /// Replaces the last good copy of source `name` with `body` and `meta`.
    /// Gives the body's file.
    pub(crate) fn save(&self, name: &str, body: &[u8], meta: &Meta) -> io::Result<PathBuf> {
        let (body_path, meta_path) = self.paths(name, &meta.url);
        write_atomic(&body_path, body)?;
        write_atomic(&meta_path, meta.render().as_bytes())?;
        File::open(&self.dir)?.sync_all()?;
        Ok(body_path)
    }

    /// The body and metadata paths for source `name` at `url`.
    pub(crate) fn paths(&self, name: &str, url: &str) -> (PathBuf, PathBuf) {
        let stem = stem(name, url);
        (
            self.dir.join(format!("{stem}.list")),
            self.dir.join(format!("{stem}.meta")),
        )
    }
}

/// The last good copy of URL source `name` at `url` under `state_dir`,
/// as text, without any network (what `ralo check` shows rules from).
pub fn stored_text(state_dir: &Path, name: &str, url: &str) -> Option<String> {
    let bytes = fs::read(stored_file(state_dir, name, url)?).ok()?;
    Some(super::checks::into_text(bytes))
}

/// The file of the last good copy of URL source `name` at `url` under
/// `state_dir`, if there is one.
pub fn stored_file(state_dir: &Path, name: &str, url: &str) -> Option<PathBuf> {
    let (body, _) = Store {
        dir: state_dir.join("sources"),
    }
    .paths(name, url);
    body.is_file().then_some(body)
}

/// What one pass over a stored body found.
struct Read {
    bytes: u64,
    hash: u64,
    entries: u64,
}

impl Read {
    fn of(file: File) -> io::Result<Read> {
        let mut read = Read {
            bytes: 0,
            hash: 0,
            entries: 0,
        };
        let mut hasher = Xxh3::new();
        for_each_line(file, |line| {
            hasher.update(line);
            // As `count_entries`: a byte order mark opens no entry.
            let text = match read.bytes {
                0 => line.strip_prefix(UTF8_BOM).unwrap_or(line),
                _ => line,
            };
            read.bytes += len_u64(line);
            read.entries += u64::from(is_entry(&String::from_utf8_lossy(text)));
        })?;
        read.hash = hasher.digest();
        Ok(read)
    }
}

/// The file name stem for source `name` at `url`: the name lower-cased with
/// every character outside `[a-z0-9_-]` turned into `_` (cut to 48), then
/// `-` and 16 hex digits of a hash of name and URL, so two names that
/// sanitize alike stay apart and a new URL never inherits the old copy.
pub(crate) fn stem(name: &str, url: &str) -> String {
    let mut clean: String = name
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '_' | '-' => c,
            _ => '_',
        })
        .take(MAX_STEM_NAME)
        .collect();
    if clean.is_empty() {
        clean.push_str("source");
    }
    let mut key = Vec::with_capacity(name.len() + url.len() + 1);
    key.extend_from_slice(name.as_bytes());
    key.push(0);
    key.extend_from_slice(url.as_bytes());
    format!("{clean}-{:016x}", xxh3_64(&key))
}

/// Writes `bytes` to `path` through a temporary file in the same folder,
/// synced before the rename, so readers see the old file or the new one.
fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path.file_name().unwrap_or_default().to_string_lossy();
    let temp = dir.join(format!(
        ".{file_name}.tmp-{}-{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        // Best effort: the temporary file is garbage either way.
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Whether `value` fits on one metadata line.
fn is_one_line(value: &str) -> bool {
    !value.is_empty() && !value.contains(['\n', '\r'])
}

/// Seconds since the Unix epoch now (0 if the clock is before it).
fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The modification time of `path` in seconds since the Unix epoch.
fn modified_unix(path: &Path) -> Option<u64> {
    let modified = fs::metadata(path).ok()?.modified().ok()?;
    Some(modified.duration_since(UNIX_EPOCH).ok()?.as_secs())
}

/// `bytes.len()` as u64 (usize is at most 64 bits on supported targets).
fn len_u64(bytes: &[u8]) -> u64 {
    u64::try_from(bytes.len()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://lists.example/hosts.txt";

    fn sample_meta() -> Meta {
        Meta::new(
            URL,
            b"a.example\n",
            1,
            Some("\"v1\"".into()),
            Some("Wed, 21 Oct 2015 07:28:00 GMT".into()),
        )
    }

    #[test]
    fn stem_keeps_only_lowercase_letters_digits_dash_and_underscore() {
        let s = stem("Steven Black's Hosts (unified)/v2", URL);
        let (name, hash) = s.rsplit_once('-').unwrap();
        assert_eq!(name, "steven_black_s_hosts__unified__v2");
        assert_eq!(hash.len(), 16);
        assert!(
            s.chars()
                .all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '-'))
        );
    }

    #[test]
    fn stem_of_non_ascii_or_empty_name_is_still_a_safe_file_name() {
        assert!(stem("", URL).starts_with("source-"));
        assert!(stem("../../etc/passwd", URL).starts_with("______etc_passwd-"));
        assert!(stem("Blöcklist ☃", URL).starts_with("bl_cklist__-"));
    }

    #[test]
    fn stem_is_cut_to_a_bounded_length() {
        assert_eq!(stem(&"x".repeat(500), URL).len(), MAX_STEM_NAME + 17);
    }

    #[test]
    fn stem_changes_with_the_url_and_with_names_that_sanitize_alike() {
        assert_eq!(stem("ads", URL), stem("ads", URL));
        assert_ne!(
            stem("ads", URL),
            stem("ads", "https://other.example/hosts.txt")
        );
        assert_ne!(stem("a b", URL), stem("a_b", URL));
    }

    #[test]
    fn metadata_survives_render_and_parse() {
        let meta = sample_meta();
        assert_eq!(Meta::parse(&meta.render()), Some(meta));
    }

    #[test]
    fn metadata_without_validators_parses() {
        let meta = Meta::new(URL, b"x\n", 1, None, None);
        let parsed = Meta::parse(&meta.render()).unwrap();
        assert_eq!(parsed.etag, None);
        assert_eq!(parsed.last_modified, None);
    }

    #[test]
    fn metadata_skips_unknown_keys_and_keeps_equals_signs_in_values() {
        let text = "# comment\n\nurl=https://x.example/?a=b\nfuture_key=1\nfetched_at=5\n\
                    entries=2\nbytes=3\nxxh3=00000000000000ff\netag=W/\"a=b\"\n";
        let meta = Meta::parse(text).unwrap();
        assert_eq!(meta.url, "https://x.example/?a=b");
        assert_eq!(meta.etag.as_deref(), Some("W/\"a=b\""));
        assert_eq!(meta.hash, 0xff);
    }

    #[test]
    fn corrupt_metadata_does_not_parse() {
        let good = sample_meta().render();
        assert_eq!(Meta::parse(""), None);
        assert_eq!(Meta::parse("\u{0}\u{1}garbage"), None);
        assert_eq!(
            Meta::parse(&good.replace("entries=1", "entries=many")),
            None
        );
        assert_eq!(Meta::parse(&good.replace("xxh3=", "hash=")), None);
        assert_eq!(Meta::parse(&format!("{good}no equals sign\n")), None);
    }

    #[test]
    fn validators_with_line_breaks_are_not_stored() {
        let meta = Meta::new(
            URL,
            b"x",
            1,
            Some("a\nentries=9".into()),
            Some(String::new()),
        );
        assert_eq!(meta.etag, None);
        assert_eq!(meta.last_modified, None);
    }

    #[test]
    fn saved_copy_loads_back_with_its_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("sources")).unwrap();
        let meta = sample_meta();
        store.save("ads", b"a.example\n", &meta).unwrap();
        let stored = store.load("ads", URL).unwrap().unwrap();
        assert_eq!(fs::read(&stored.path).unwrap(), b"a.example\n");
        assert_eq!(stored.meta, meta);
        let names: Vec<_> = fs::read_dir(store.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "no temporary files left: {names:?}");
    }

    #[test]
    fn missing_copy_loads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().to_owned()).unwrap();
        assert_eq!(store.load("ads", URL).unwrap(), None);
    }

    #[test]
    fn metadata_of_another_body_is_ignored_and_entries_recounted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().to_owned()).unwrap();
        store.save("ads", b"a.example\n", &sample_meta()).unwrap();
        let (body_path, _) = store.paths("ads", URL);
        fs::write(&body_path, "a.example\nb.example\n# c\n").unwrap();
        let stored = store.load("ads", URL).unwrap().unwrap();
        assert_eq!(stored.meta.etag, None);
        assert_eq!(stored.meta.last_modified, None);
        assert_eq!(stored.meta.entries, 2);
        assert!(stored.meta.fetched_at > 0);
    }

    #[test]
    fn copy_saved_for_another_url_is_not_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().to_owned()).unwrap();
        store.save("ads", b"a.example\n", &sample_meta()).unwrap();
        assert_eq!(
            store.load("ads", "https://moved.example/hosts").unwrap(),
            None
        );
    }
}
