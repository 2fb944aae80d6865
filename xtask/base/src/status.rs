//! Output in cargo's style: a right-aligned, coloured verb, then the message, on stderr.

use anstyle::{AnsiColor, Style};

const GOOD: Style = AnsiColor::Green.on_default().bold();
const WARN: Style = AnsiColor::Yellow.on_default().bold();
const BAD: Style = AnsiColor::Red.on_default().bold();

pub fn status(verb: &str, message: impl std::fmt::Display) {
    anstream::eprintln!("{GOOD}{verb:>12}{GOOD:#} {message}");
}

pub fn warning(message: impl std::fmt::Display) {
    anstream::eprintln!("{WARN}warning{WARN:#}: {message}");
}

pub fn error(message: impl std::fmt::Display) {
    anstream::eprintln!("{BAD}error{BAD:#}: {message}");
}

/// A spinner in the same column as the status verbs, with the elapsed time.
pub fn spinner(verb: &'static str, message: String) -> indicatif::ProgressBar {
    let progress = indicatif::ProgressBar::new_spinner();
    progress.set_style(
        indicatif::ProgressStyle::with_template(
            "{prefix:>12.green.bold} {msg} {spinner:.green} [{elapsed}]",
        )
        .expect("a valid template"),
    );
    progress.set_prefix(verb);
    progress.set_message(message);
    progress.enable_steady_tick(std::time::Duration::from_millis(120));
    progress
}

/// Asks `question` on the terminal; `yes` answers it. Without a terminal there is nobody to ask:
/// an error says to pass `--yes`.
pub fn confirm(yes: bool, question: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("{question} — no terminal to ask on; pass --yes to answer yes");
    }
    anstream::eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES"))
}
