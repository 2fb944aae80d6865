//! Running cargo (or cargo-lambda, which runs cargo) from inside the kit.

use std::process::Command;

/// Variables `cargo run` and `cargo test` set for the program they start, which a cargo started
/// from that program would otherwise inherit. Build scripts watch some of them (ring's reruns on
/// `CARGO_MANIFEST_DIR`), so an inner build that saw them would rebuild what the next build
/// from the shell rebuilds back, every time.
fn injected(key: &str) -> bool {
    key.starts_with("CARGO_PKG_")
        || matches!(
            key,
            "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_MANIFEST_LINKS"
                | "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_RUSTC_CURRENT_DIR"
                | "CARGO_TARGET_TMPDIR"
        )
}

/// Removes from `command` the environment `cargo run` / `cargo test` gave this process.
pub fn clean_env(command: &mut Command) -> &mut Command {
    for (key, _) in std::env::vars_os() {
        if injected(&key.to_string_lossy()) {
            command.env_remove(&key);
        }
    }
    command
}

/// `cargo` (the one that started the kit, else the one on `PATH`) in the kit's directory, with
/// the environment a shell would give it.
pub fn command() -> Command {
    let mut command = Command::new(program());
    command.current_dir(crate::paths::root());
    clean_env(&mut command);
    command
}

/// [`command`] at the lowest CPU priority (`nice -n 19`) where `nice` runs: for work beside
/// something that must keep time (release builds beside the end-to-end suites, whose functions
/// are cut at their timeouts). Where it does not, [`command`] as it is.
pub fn background_command() -> Command {
    let nice = Command::new("nice").arg("true").output();
    if !nice.is_ok_and(|out| out.status.success()) {
        return command();
    }
    let mut command = Command::new("nice");
    command.args(["-n", "19"]).arg(program());
    command.current_dir(crate::paths::root());
    clean_env(&mut command);
    command
}

/// The cargo program: `$CARGO`, else `cargo`.
pub fn program() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_cargo_run_injects_is_removed() {
        for key in [
            "CARGO_MANIFEST_DIR",
            "CARGO_PKG_NAME",
            "CARGO_PKG_VERSION",
            "CARGO_BIN_NAME",
        ] {
            assert!(injected(key), "{key}");
        }
        for key in [
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "CARGO",
            "PATH",
            "CARGO_TERM_COLOR",
        ] {
            assert!(!injected(key), "{key}");
        }
    }
}
