//! The real `ralo` binary: config checks and refusals.

use std::process::Command;

fn ralo() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ralo"))
}

#[test]
fn shipped_config_and_lists_check_ok() {
    let out = ralo()
        .args(["serve", "--check", "--config", "config/ralo.toml"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run ralo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("config OK"), "{stdout}");
}

#[test]
fn embedded_defaults_check_ok_from_the_repository() {
    let out = ralo()
        .args(["serve", "--check"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run ralo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let rules: usize = stdout
        .split(", ")
        .find_map(|part| part.strip_suffix(" rule(s)\n").and_then(|n| n.parse().ok()))
        .unwrap_or_else(|| panic!("no rule count in {stdout}"));
    assert!(rules >= 60, "the bundled lists give rules: {stdout}");
}

#[test]
fn unknown_key_is_refused_naming_key_and_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[server]\nlisten = [\"127.0.0.1:0\"]\n\n[upstream]\nserver = [\"127.0.0.1:53\"]\n",
    )
    .expect("write");
    let out = ralo()
        .args(["serve", "--check", "--config"])
        .arg(&path)
        .output()
        .expect("run ralo");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown field `server`"), "{stderr}");
    assert!(stderr.contains("line 5"), "{stderr}");
}

#[test]
fn bad_value_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[blocking]\nmode = \"sinkhole\"\n").expect("write");
    let out = ralo()
        .args(["serve", "--config"])
        .arg(&path)
        .output()
        .expect("run ralo");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("mode") && stderr.contains("sinkhole"),
        "{stderr}"
    );
}

#[test]
fn missing_config_file_is_a_clear_error() {
    let out = ralo()
        .args(["serve", "--config", "/nonexistent/ralo.toml"])
        .output()
        .expect("run ralo");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read config file"));
}
