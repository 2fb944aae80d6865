//! One line of doctor's report: what was checked, how it weighs, and the note (the fix).

/// How a finding weighs: `Missing` makes the command fail.
#[derive(Clone, Copy, PartialEq)]
pub enum Weight {
    Ok,
    /// Needed only for some verbs; the note says which.
    Optional,
    Missing,
}

pub struct Finding {
    pub weight: Weight,
    pub what: &'static str,
    pub note: String,
}

pub fn found(weight: Weight, what: &'static str, note: impl Into<String>) -> Finding {
    Finding {
        weight,
        what,
        note: note.into(),
    }
}
