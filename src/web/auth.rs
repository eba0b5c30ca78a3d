//! Who may use the page and the API: the password (only its argon2id hash
//! is stored, in `<state>/web-password`), the sessions that a login opens
//! (a random 128-bit id with its own CSRF token and an expiry), and the
//! brake on repeated wrong passwords per client. The router in `app` asks
//! these; they know nothing of HTTP.

use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use rand::Rng;
use tokio::time::Instant;

/// The most sessions held at once; a login past it ends the oldest.
pub const MAX_SESSIONS: usize = 64;
/// Wrong passwords in a row from one client before each try must wait.
pub const FREE_TRIES: u32 = 5;
/// The longest wait between tries.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// Why the password file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing the file failed.
    #[error("cannot {action} {path}: {source} ({advice})", advice = crate::exchange::file_advice(source))]
    File {
        /// "read" or "write".
        action: &'static str,
        /// The password file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file holds no argon2 hash.
    #[error(
        "{path} does not hold a password hash; set a new password with `ralo web --set-password`"
    )]
    NotAHash {
        /// The password file.
        path: PathBuf,
    },
    /// An empty password was given.
    #[error("the password is empty: give at least one character")]
    Empty,
    /// Hashing failed (it does not for valid parameters).
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// The stored password: its PHC string (`$argon2id$v=19$…`).
#[derive(Clone, Debug)]
pub struct Password {
    hash: String,
}

impl Password {
    /// The password file in the state folder.
    pub fn file(state: &Path) -> PathBuf {
        state.join("web-password")
    }

    /// Hashes `password` with argon2id and a random salt.
    pub fn new(password: &str) -> Result<Password, Error> {
        if password.is_empty() {
            return Err(Error::Empty);
        }
        let hash = Argon2::default()
            .hash_password(password.as_bytes())
            .map_err(|e| Error::Hash(e.to_string()))?;
        Ok(Password {
            hash: hash.to_string(),
        })
    }

    /// Reads the hash stored at `path`; `None` when there is no file.
    pub fn load(path: &Path) -> Result<Option<Password>, Error> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(Error::File {
                    action: "read",
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let hash = text.trim().to_owned();
        if PasswordHash::new(&hash).is_err() {
            return Err(Error::NotAHash {
                path: path.to_owned(),
            });
        }
        Ok(Some(Password { hash }))
    }

    /// Stores the hash at `path` (mode 0600, replaced atomically).
    pub fn store(&self, path: &Path) -> Result<(), Error> {
        let fail = |source| Error::File {
            action: "write",
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let temp = path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            use std::os::unix::fs::OpenOptionsExt;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&temp)?;
            file.write_all(self.hash.as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            std::fs::rename(&temp, path)
        };
        write().map_err(fail)
    }

    /// Whether `candidate` is the password. Takes tens of milliseconds by
    /// design: call it off the reactor.
    pub fn verify(&self, candidate: &str) -> bool {
        let Ok(hash) = PasswordHash::new(&self.hash) else {
            return false;
        };
        Argon2::default()
            .verify_password(candidate.as_bytes(), &hash)
            .is_ok()
    }

    /// A new random password for a first start: 16 characters from an
    /// alphabet without look-alikes (about 90 bits).
    pub fn generate() -> String {
        const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        let mut rng = rand::rng();
        (0..16)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect()
    }
}

/// One open session.
#[derive(Clone, Debug)]
struct Session {
    csrf: String,
    expires: Instant,
    opened: Instant,
}

/// What a request's credentials are worth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// A valid session; the seconds it stays valid from now.
    Valid {
        /// Seconds left (renewed by this use).
        validity: u64,
    },
    /// No session id, an unknown or an expired one.
    NoSession,
    /// The session id came in the cookie without its CSRF token.
    MissingCsrf,
}

/// How a request presented its session id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// The `sid` cookie: the browser sends it by itself, so the CSRF token
    /// must come beside it.
    Cookie,
    /// The `X-FTL-SID` header (or `sid` parameter): a script that knows the
    /// id; no CSRF token needed, as Pi-hole does.
    Header,
}

/// The open sessions.
#[derive(Debug)]
pub struct Sessions {
    open: Mutex<HashMap<String, Session>>,
    validity: Duration,
}

/// A new session's id and CSRF token.
#[derive(Clone, Debug)]
pub struct Opened {
    /// The session id (32 hex digits, 128 random bits).
    pub sid: String,
    /// Its CSRF token.
    pub csrf: String,
    /// Seconds it stays valid without use.
    pub validity: u64,
}

fn random_hex() -> String {
    format!("{:032x}", rand::rng().random::<u128>())
}

impl Sessions {
    /// Sessions that end after `validity` without use.
    pub fn new(validity: Duration) -> Sessions {
        Sessions {
            open: Mutex::new(HashMap::new()),
            validity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // The map holds no invariant a panicking holder could break.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a session.
    pub fn open(&self) -> Opened {
        let now = Instant::now();
        let mut open = self.lock();
        open.retain(|_, s| s.expires > now);
        if open.len() >= MAX_SESSIONS
            && let Some(oldest) = open
                .iter()
                .min_by_key(|(_, s)| s.opened)
                .map(|(sid, _)| sid.clone())
        {
            open.remove(&oldest);
        }
        let sid = random_hex();
        let csrf = random_hex();
        open.insert(
            sid.clone(),
            Session {
                csrf: csrf.clone(),
                expires: now + self.validity,
                opened: now,
            },
        );
        Opened {
            sid,
            csrf,
            validity: self.validity.as_secs(),
        }
    }

    /// Checks a session id presented `via`, with the CSRF token if any, and
    /// renews a valid session.
    pub fn check(&self, sid: Option<&str>, via: Via, csrf: Option<&str>) -> Check {
        let Some(sid) = sid else {
            return Check::NoSession;
        };
        let now = Instant::now();
        let mut open = self.lock();
        let Some(session) = open.get_mut(sid) else {
            return Check::NoSession;
        };
        if session.expires <= now {
            open.remove(sid);
            return Check::NoSession;
        }
        if via == Via::Cookie && csrf != Some(session.csrf.as_str()) {
            return Check::MissingCsrf;
        }
        session.expires = now + self.validity;
        Check::Valid {
            validity: self.validity.as_secs(),
        }
    }

    /// The CSRF token of a valid session.
    pub fn csrf(&self, sid: &str) -> Option<String> {
        let now = Instant::now();
        let open = self.lock();
        open.get(sid)
            .filter(|s| s.expires > now)
            .map(|s| s.csrf.clone())
    }

    /// Ends a session; whether it was open.
    pub fn close(&self, sid: &str) -> bool {
        self.lock().remove(sid).is_some()
    }

    /// Sessions open now.
    pub fn count(&self) -> usize {
        let now = Instant::now();
        self.lock().values().filter(|s| s.expires > now).count()
    }
}

/// The brake on guessing: after [`FREE_TRIES`] wrong passwords in a row
/// from one client, each try must wait twice as long as the one before
/// (1 s, 2 s, 4 s … at most a minute). A right password resets it.
#[derive(Debug, Default)]
pub struct Brake {
    clients: Mutex<HashMap<IpAddr, Failures>>,
}

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    next_try: Instant,
}

impl Brake {
    /// A brake with no failures.
    pub fn new() -> Brake {
        Brake::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Failures>> {
        // Counters only: a panicking holder leaves them usable.
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long `client` must still wait before it may try; `None`: now.
    pub fn wait(&self, client: IpAddr) -> Option<Duration> {
        let now = Instant::now();
        let clients = self.lock();
        let failures = clients.get(&client)?;
        (failures.next_try > now).then(|| failures.next_try - now)
    }

    /// Records a wrong password from `client`.
    pub fn failed(&self, client: IpAddr) {
        let now = Instant::now();
        let mut clients = self.lock();
        if clients.len() > 4096 {
            // A flood of addresses: forget those free to try again.
            clients.retain(|_, f| f.next_try > now);
        }
        let failures = clients.entry(client).or_insert(Failures {
            count: 0,
            next_try: now,
        });
        failures.count += 1;
        if failures.count >= FREE_TRIES {
            let doublings = (failures.count - FREE_TRIES).min(6);
            let wait = (Duration::from_secs(1) * (1 << doublings)).min(MAX_WAIT);
            failures.next_try = now + wait;
        }
    }

    /// Records a right password from `client`.
    pub fn succeeded(&self, client: IpAddr) {
        self.lock().remove(&client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 168, 1, 9));

    #[test]
    fn a_stored_hash_verifies_only_its_password() {
        let dir = tempfile::tempdir().unwrap();
        let path = Password::file(dir.path());
        assert!(Password::load(&path).unwrap().is_none());
        Password::new("correct horse")
            .unwrap()
            .store(&path)
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("$argon2id$"), "{text}");
        assert!(!text.contains("correct horse"));
        let loaded = Password::load(&path).unwrap().unwrap();
        assert!(loaded.verify("correct horse"));
        assert!(!loaded.verify("correct horse "));
        assert!(!loaded.verify(""));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_file_without_a_hash_is_refused_in_words() {
        let dir = tempfile::tempdir().unwrap();
        let path = Password::file(dir.path());
        std::fs::write(&path, "hunter2\n").unwrap();
        let err = Password::load(&path).unwrap_err().to_string();
        assert!(err.contains("--set-password"), "{err}");
        assert!(matches!(Password::new(""), Err(Error::Empty)));
    }

    #[test]
    fn generated_passwords_differ_and_avoid_look_alikes() {
        let a = Password::generate();
        let b = Password::generate();
        assert_eq!(a.len(), 16);
        assert_ne!(a, b);
        assert!(!a.contains(['0', 'O', 'l', '1', 'I']), "{a}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_session_needs_its_csrf_token_with_the_cookie_and_expires_unused() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let opened = sessions.open();
        assert_eq!(opened.sid.len(), 32);
        let sid = Some(opened.sid.as_str());
        assert_eq!(sessions.check(sid, Via::Cookie, None), Check::MissingCsrf);
        assert_eq!(
            sessions.check(sid, Via::Cookie, Some("wrong")),
            Check::MissingCsrf
        );
        let valid = Check::Valid { validity: 60 };
        assert_eq!(sessions.check(sid, Via::Cookie, Some(&opened.csrf)), valid);
        assert_eq!(sessions.check(sid, Via::Header, None), valid);
        assert_eq!(
            sessions.check(Some("nope"), Via::Header, None),
            Check::NoSession
        );
        // Use renews it; a minute unused ends it.
        tokio::time::advance(Duration::from_secs(50)).await;
        assert_eq!(sessions.check(sid, Via::Header, None), valid);
        tokio::time::advance(Duration::from_secs(50)).await;
        assert_eq!(sessions.check(sid, Via::Header, None), valid);
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(sessions.check(sid, Via::Header, None), Check::NoSession);
        assert_eq!(sessions.count(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn logging_out_ends_the_session_and_the_oldest_gives_way() {
        let sessions = Sessions::new(Duration::from_secs(600));
        let first = sessions.open();
        tokio::time::advance(Duration::from_millis(1)).await;
        let second = sessions.open();
        assert!(sessions.close(&second.sid));
        assert!(!sessions.close(&second.sid));
        for _ in 0..MAX_SESSIONS {
            tokio::time::advance(Duration::from_millis(1)).await;
            sessions.open();
        }
        assert_eq!(sessions.count(), MAX_SESSIONS);
        assert_eq!(
            sessions.check(Some(&first.sid), Via::Header, None),
            Check::NoSession
        );
    }

    #[tokio::test(start_paused = true)]
    async fn five_wrong_passwords_in_a_row_slow_the_client_down() {
        let brake = Brake::new();
        for _ in 0..FREE_TRIES - 1 {
            brake.failed(CLIENT);
            assert_eq!(brake.wait(CLIENT), None);
        }
        brake.failed(CLIENT);
        assert_eq!(brake.wait(CLIENT), Some(Duration::from_secs(1)));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(brake.wait(CLIENT), None);
        brake.failed(CLIENT);
        assert_eq!(brake.wait(CLIENT), Some(Duration::from_secs(2)));
        let other = IpAddr::V4(std::net::Ipv4Addr::new(192, 168, 1, 10));
        assert_eq!(brake.wait(other), None);
        for _ in 0..20 {
            brake.failed(CLIENT);
        }
        assert_eq!(brake.wait(CLIENT), Some(MAX_WAIT));
        brake.succeeded(CLIENT);
        assert_eq!(brake.wait(CLIENT), None);
    }
}
