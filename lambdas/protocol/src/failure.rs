//! A failed request-side operation, as the orchestrator sees it.

use crate::table::TableError;

/// A failed invocation, as the workflow sees it: the error name it can match
/// (`Hitl.InvalidRequest` fails at once; `Hitl.Transient` is retried; `Hitl.Expired` takes the
/// expired branch) and a one-line cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    kind: &'static str,
    message: String,
}

impl Failure {
    pub const INVALID: &'static str = hitl_core::errors::INVALID_REQUEST;
    pub const TRANSIENT: &'static str = hitl_core::errors::TRANSIENT;
    /// The approval closed under an earlier attempt: the workflow's expired branch.
    pub const EXPIRED: &'static str = hitl_core::errors::EXPIRED_ATTEMPT;

    /// The error name the workflow matches on.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The one-line cause.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The request is at fault: the workflow fails at once.
    pub fn invalid(error: impl std::fmt::Display) -> Self {
        Self {
            kind: Self::INVALID,
            message: error.to_string(),
        }
    }

    /// May work if tried again: the workflow retries.
    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            kind: Self::TRANSIENT,
            message: message.into(),
        }
    }

    /// The approval closed before this attempt reached it.
    pub fn expired(message: impl Into<String>) -> Self {
        Self {
            kind: Self::EXPIRED,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Failure {}

impl From<TableError> for Failure {
    fn from(error: TableError) -> Self {
        match error {
            TableError::Refused(message) => Self::invalid(format!(
                "the table refused the request as it is ({message}); check its numbers and nesting"
            )),
            TableError::Failed(message) => Self::transient(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_item_is_the_requests_fault_anything_else_is_transient() {
        let refused = Failure::from(TableError::Refused("nesting too deep".into()));
        assert_eq!(refused.kind(), Failure::INVALID);
        assert!(refused.message().contains("nesting too deep"));
        let failed = Failure::from(TableError::Failed("ThrottlingException: slow down".into()));
        assert_eq!(failed.kind(), Failure::TRANSIENT);
        assert_eq!(failed.message(), "ThrottlingException: slow down");
        assert_eq!(Failure::expired("closed").kind(), "Hitl.Expired");
    }
}
