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
