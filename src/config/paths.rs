//! `[paths]`: the state and runtime folders, and the files and sockets the
//! server, the updater and the person-facing commands find in them.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// `[paths]`: where ralo keeps state and sockets. Relative paths resolve
/// against the config file's folder. Two instances with different paths can
/// run side by side.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Paths {
    /// The last published image and the last good copy of each downloaded
    /// list. Default: `$XDG_STATE_HOME/ralo`, else `~/.local/state/ralo`
    /// (the Pi package uses `/var/lib/ralo`).
    pub state: PathBuf,
    /// The control sockets. Default: `$XDG_RUNTIME_DIR/ralo`, else
    /// `/tmp/ralo-<uid>` (the Pi package uses `/run/ralo`).
    pub runtime: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        let env = |key: &str| {
            std::env::var_os(key)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let state = env("XDG_STATE_HOME")
            .or_else(|| env("HOME").map(|home| home.join(".local/state")))
            .unwrap_or_else(std::env::temp_dir)
            .join("ralo");
        let runtime = env("XDG_RUNTIME_DIR")
            .map(|dir| dir.join("ralo"))
            .unwrap_or_else(|| {
                std::env::temp_dir().join(format!("ralo-{}", rustix::process::getuid().as_raw()))
            });
        Paths { state, runtime }
    }
}

impl Paths {
    /// The persisted last published image.
    pub fn image_file(&self) -> PathBuf {
        self.state.join("image.bin")
    }

    /// The server's socket (publish, status, control).
    pub fn server_socket(&self) -> PathBuf {
        self.runtime.join("ralo.sock")
    }

    /// The telemetry segment the server writes and `stats` / `tail` read.
    pub fn telemetry_file(&self) -> PathBuf {
        self.runtime.join("telemetry")
    }

    /// Resolves relative paths against `base`, the config file's folder.
    pub(super) fn resolve_against(&mut self, base: &Path) {
        for path in [&mut self.state, &mut self.runtime] {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use crate::config::file::parse_test as parse;

    #[test]
    fn relative_paths_resolve_against_config_folder() {
        let paths = parse("[paths]\nstate = \"state\"\nruntime = \"/run/ralo\"\n")
            .unwrap()
            .paths;
        assert_eq!(paths.state, PathBuf::from("/etc/ralo/state"));
        assert_eq!(paths.server_socket(), PathBuf::from("/run/ralo/ralo.sock"));
    }
}
