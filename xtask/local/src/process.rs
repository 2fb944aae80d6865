//! Background processes of the local environment: started in their own process group with their
//! output in a log file, so they outlive the command that started them, and stopped as a group
//! (`cargo lambda watch` runs the functions as its children).

use std::{
    fs::File,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result};

/// Starts `command` detached, its stdout and stderr appended to `log`; returns its PID, which is
/// also its process group.
pub fn spawn(command: &mut Command, log: &Path) -> Result<u32> {
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("cannot open {}", log.display()))?;
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(command, 0);
    let child = command
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .with_context(|| format!("cannot start {}", command.get_program().to_string_lossy()))?;
    Ok(child.id())
}

/// Whether a process with this PID exists.
#[cfg(unix)]
pub fn alive(pid: u32) -> bool {
    use nix::{sys::signal::kill, unistd::Pid};
    // A zombie still "exists"; it is reaped by its parent, which is gone, so init reaps it soon.
    kill(Pid::from_raw(pid as i32), None).is_ok() && !zombie(pid)
}

#[cfg(unix)]
fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Stops the process group `pid` leads: SIGTERM, then SIGKILL after `grace`. Returns once no
/// process of the group is left (or after the kill).
#[cfg(unix)]
pub fn stop_group(pid: u32, grace: Duration) {
    use nix::{
        sys::signal::{Signal, killpg},
        unistd::Pid,
    };
    let group = Pid::from_raw(pid as i32);
    if killpg(group, Signal::SIGTERM).is_err() {
        return; // no such group: already gone
    }
    let started = Instant::now();
    while started.elapsed() < grace {
        if killpg(group, None).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = killpg(group, Signal::SIGKILL);
    let started = Instant::now();
    while killpg(group, None).is_ok() && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether process `pid`'s command line mentions `program` (unknowable off Linux: assumed).
pub fn runs(pid: u32, program: &str) -> bool {
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => String::from_utf8_lossy(&cmdline).contains(program),
        Err(_) => !std::path::Path::new("/proc/self").exists(),
    }
}

/// The live (not zombie) processes whose process group is one of `groups`.
#[cfg(unix)]
pub fn members_of(groups: &[u32]) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    // pid (comm) state ppid pgrp ...
                    let rest = stat.rsplit_once(')')?.1;
                    let mut fields = rest.split_whitespace();
                    let state = fields.next()?;
                    let group: u32 = fields.nth(1)?.parse().ok()?;
                    Some(state != "Z" && groups.contains(&group))
                })
                .unwrap_or(false)
        })
        .collect()
}

#[cfg(not(unix))]
pub fn members_of(_groups: &[u32]) -> Vec<u32> {
    Vec::new()
}

#[cfg(not(unix))]
pub fn alive(_pid: u32) -> bool {
    false
}

#[cfg(not(unix))]
pub fn stop_group(_pid: u32, _grace: Duration) {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_pid_is_ours_only_if_it_still_runs_the_program() {
        let me = std::process::id();
        let name = std::env::current_exe().unwrap();
        let name = name.file_name().unwrap().to_str().unwrap();
        assert!(runs(me, name));
        assert!(!runs(me, "moto_server"));
        let group = nix::unistd::getpgrp().as_raw() as u32;
        assert!(members_of(&[group]).contains(&me));
        assert!(!members_of(&[u32::MAX]).contains(&me));
    }
}
