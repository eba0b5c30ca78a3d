//! Names as they travel in DNS messages: length-prefixed labels ending in
//! the root's zero byte, written out in full (no compression pointers).
//!
//! [`Labels`] is the one label walk of the crate (the image is asked with
//! it, the telemetry ring and the cache's CNAME check use it), and
//! [`lower_text`] the one lower-casing: the text a question is filed under
//! in the cache and compared with local names and canaries. That text is
//! the name in lower case with dots between labels, and with `\.`, `\\` and
//! `\DDD` escapes for bytes that are not letters, digits, `-` or `_` — so
//! two different names never share a text, and a name with odd bytes never
//! equals a configured name.

/// The longest name in wire form (RFC 1035 2.3.4).
pub const MAX_WIRE: usize = 255;
/// The longest text [`lower_text`] writes: every byte of a 255-byte name
/// escaped as `\DDD`, with the dots.
pub const MAX_TEXT: usize = 1024;
/// The longest label.
const MAX_LABEL: usize = 63;

/// The length of the uncompressed wire name at the start of `bytes`, its
/// terminating zero included, or `None` when there is none: a label over
/// 63 bytes, a compression pointer, more than 255 bytes, or the end of
/// `bytes` first. Any byte may sit in a label.
pub fn name_len(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        let len = usize::from(*bytes.get(at)?);
        if len == 0 {
            return (at < MAX_WIRE).then_some(at + 1);
        }
        if len > MAX_LABEL || at + 1 + len >= MAX_WIRE {
            return None;
        }
        at += 1 + len;
    }
}

/// The labels of a wire name, leftmost first, without the root. Built on a
/// name that [`name_len`] accepted; on anything else it stops early rather
/// than read past the bytes.
#[derive(Clone, Debug)]
pub struct Labels<'a> {
    /// The labels still to walk, without the terminating zero.
    rest: &'a [u8],
}

impl<'a> Labels<'a> {
    /// The labels of `wire` (the name, with or without its terminating zero).
    pub fn new(wire: &'a [u8]) -> Labels<'a> {
        let rest = match wire.split_last() {
            Some((0, head)) => head,
            _ => wire,
        };
        Labels { rest }
    }
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (&len, tail) = self.rest.split_first()?;
        let len = usize::from(len);
        if len == 0 || len > tail.len() {
            self.rest = &[];
            return None;
        }
        let (label, rest) = tail.split_at(len);
        self.rest = rest;
        Some(label)
    }
}

impl DoubleEndedIterator for Labels<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        // Walk from the front to the last label; names are short.
        let mut at = 0;
        let mut last = None;
        while let Some(&len) = self.rest.get(at) {
            let end = at + 1 + usize::from(len);
            if len == 0 || end > self.rest.len() {
                break;
            }
            last = Some((at, end));
            at = end;
        }
        let (start, end) = last?;
        let label = &self.rest[start + 1..end];
        self.rest = &self.rest[..start];
        Some(label)
    }
}

/// Writes the lower-case text of `wire` (see the module docs) into `buf`
/// and returns it, or `None` when `buf` is too small ([`MAX_TEXT`] always
/// suffices); the root is the empty text.
pub fn lower_text<'b>(wire: &[u8], buf: &'b mut [u8]) -> Option<&'b str> {
    let len = write_lower(wire, buf)?;
    // Only ASCII was written.
    std::str::from_utf8(&buf[..len]).ok()
}

/// Writes the text of [`lower_text`]; its length.
fn write_lower(wire: &[u8], buf: &mut [u8]) -> Option<usize> {
    let mut len = 0;
    for (i, label) in Labels::new(wire).enumerate() {
        if i > 0 {
            *buf.get_mut(len)? = b'.';
            len += 1;
        }
        for &byte in label {
            match byte {
                b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => {
                    *buf.get_mut(len)? = byte;
                    len += 1;
                }
                b'A'..=b'Z' => {
                    *buf.get_mut(len)? = byte.to_ascii_lowercase();
                    len += 1;
                }
                b'.' | b'\\' => {
                    buf.get_mut(len..len + 2)?.copy_from_slice(&[b'\\', byte]);
                    len += 2;
                }
                _ => {
                    let digits = [
                        b'\\',
                        b'0' + byte / 100,
                        b'0' + byte / 10 % 10,
                        b'0' + byte % 10,
                    ];
                    buf.get_mut(len..len + 4)?.copy_from_slice(&digits);
                    len += 4;
                }
            }
        }
    }
    Some(len)
}

/// Room for a name's lower-case text: on the stack for the usual name, on
/// the heap only for a long one full of escapes.
pub struct TextBuffer {
    small: [u8; 256],
    large: Vec<u8>,
}

impl TextBuffer {
    /// An empty buffer; nothing is allocated until a text needs it.
    pub fn new() -> TextBuffer {
        TextBuffer {
            small: [0; 256],
            large: Vec::new(),
        }
    }

    /// The lower-case text of `wire` ([`lower_text`]).
    pub fn lower(&mut self, wire: &[u8]) -> &str {
        let (buf, len) = match write_lower(wire, &mut self.small) {
            Some(len) => (&self.small[..], len),
            None => {
                self.large.resize(MAX_TEXT, 0);
                let len = write_lower(wire, &mut self.large).unwrap_or(0);
                (&self.large[..], len)
            }
        };
        // Only ASCII was written.
        std::str::from_utf8(&buf[..len]).unwrap_or("")
    }
}

impl Default for TextBuffer {
    fn default() -> TextBuffer {
        TextBuffer::new()
    }
}

/// The wire form of a dotted text name whose labels hold no dots or
/// escapes (a normalized `Domain`, `localhost`), in `out` (cleared);
/// `false` when a label is empty or too long, or the name too long.
pub fn from_text(text: &str, out: &mut Vec<u8>) -> bool {
    out.clear();
    let text = text.strip_suffix('.').unwrap_or(text);
    if !text.is_empty() {
        for label in text.split('.') {
            let Ok(len) = u8::try_from(label.len()) else {
                return false;
            };
            if len == 0 || usize::from(len) > MAX_LABEL {
                return false;
            }
            out.push(len);
            out.extend_from_slice(label.as_bytes());
        }
    }
    out.push(0);
    out.len() <= MAX_WIRE
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &[u8] = b"\x03Ads\x07example\x03com\x00";

    #[test]
    fn labels_walk_both_ways() {
        let forward: Vec<&[u8]> = Labels::new(NAME).collect();
        assert_eq!(forward, [&b"Ads"[..], b"example", b"com"]);
        let back: Vec<&[u8]> = Labels::new(NAME).rev().collect();
        assert_eq!(back, [&b"com"[..], b"example", b"Ads"]);
        let mut mixed = Labels::new(NAME);
        assert_eq!(mixed.next_back(), Some(&b"com"[..]));
        assert_eq!(mixed.next(), Some(&b"Ads"[..]));
        assert_eq!(mixed.next(), Some(&b"example"[..]));
        assert_eq!(mixed.next(), None);
        assert_eq!(Labels::new(b"\x00").count(), 0);
    }

    #[test]
    fn labels_of_broken_bytes_stop_without_panicking() {
        for broken in [&b"\x05ab"[..], b"\x03abc\x09x", b"\xc0\x0c", b""] {
            let _ = Labels::new(broken).count();
            let _ = Labels::new(broken).rev().count();
        }
    }

    #[test]
    fn name_len_takes_any_bytes_but_no_pointers_or_overlong_names() {
        assert_eq!(name_len(NAME), Some(NAME.len()));
        assert_eq!(name_len(b"\x00rest"), Some(1));
        assert_eq!(name_len(b"\x03a.b\x00"), Some(5));
        assert_eq!(name_len(b"\xc0\x0c"), None);
        assert_eq!(name_len(b"\x03ab"), None);
        let mut long = Vec::new();
        for _ in 0..4 {
            long.push(63);
            long.extend_from_slice(&[b'a'; 63]);
        }
        long.push(0);
        assert_eq!(name_len(&long), None, "257 bytes");
        long.truncate(3 * 64);
        long.push(61);
        long.extend_from_slice(&[b'a'; 61]);
        long.push(0);
        assert_eq!(name_len(&long), Some(255));
    }

    #[test]
    fn lower_text_lowercases_and_escapes_odd_bytes() {
        let mut buf = [0; MAX_TEXT];
        let mut text = |wire: &[u8]| lower_text(wire, &mut buf).unwrap().to_owned();
        assert_eq!(text(NAME), "ads.example.com");
        assert_eq!(text(b"\x03a.b\x03com\x00"), "a\\.b.com");
        assert_eq!(text(b"\x02a \x01\\\x00"), "a\\032.\\\\");
        assert_eq!(text(b"\x00"), "");
        let mut worst = Vec::new();
        for _ in 0..4 {
            worst.push(62);
            worst.extend_from_slice(&[0xff; 62]);
        }
        worst.push(0);
        assert_eq!(lower_text(&worst, &mut buf).unwrap().len(), 4 * 62 * 4 + 3);
        assert_eq!(lower_text(&worst, &mut [0; 256]), None);
        let mut text = TextBuffer::new();
        assert_eq!(text.lower(NAME), "ads.example.com");
        assert_eq!(text.lower(&worst).len(), 4 * 62 * 4 + 3);
    }

    #[test]
    fn different_names_never_share_a_text() {
        let (mut a, mut b) = (TextBuffer::new(), TextBuffer::new());
        assert_ne!(
            a.lower(b"\x03a.b\x03com\x00"),
            b.lower(b"\x01a\x01b\x03com\x00")
        );
    }

    #[test]
    fn text_names_become_wire_names() {
        let mut out = Vec::new();
        assert!(from_text("Ads.example.com.", &mut out));
        assert_eq!(out, NAME);
        assert!(from_text("", &mut out));
        assert_eq!(out, [0]);
        assert!(!from_text("a..b", &mut out));
        assert!(!from_text(&"a".repeat(64), &mut out));
    }
}
