//! The one-line error every input mistake becomes: file, line and column where known, field,
//! and what to do.

use std::{fmt, path::PathBuf};

#[derive(Debug)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: Option<(usize, usize)>,
    pub field: Option<String>,
    pub message: String,
}

impl Diagnostic {
    pub fn new(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: None,
            field: None,
            message: message.into(),
        }
    }

    pub fn at(mut self, line: usize, column: usize) -> Self {
        self.line = Some((line, column));
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", crate::paths::shown(&self.file).display())?;
        if let Some((line, column)) = self.line {
            write!(f, ":{line}:{column}")?;
        }
        f.write_str(": ")?;
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        // One line, whatever the underlying library wrote.
        let mut words = self.message.split_whitespace();
        if let Some(first) = words.next() {
            f.write_str(first)?;
            for word in words {
                write!(f, " {word}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}
