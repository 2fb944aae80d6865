//! Storing an approval, or finding it stored: a retried invocation overwrites no record, takes
//! over no other request's, and a later attempt of the task refreshes the token.

use hitl_core::{Approval, Status};

use crate::table::{RequestTable, TableError, Written};

/// What storing the approval found.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    /// The record was made now.
    New(Approval),
    /// The record of an earlier invocation with the same token (Lambda retried the invoke, or a
    /// durable submitter ran again).
    Again(Approval),
    /// The record of an earlier attempt of the task: it now holds this attempt's token.
    Refreshed(Approval),
    /// The record of a later attempt (this invocation is late): it keeps its token.
    Superseded(Approval),
    /// The record of an earlier attempt, decided or expired already.
    Closed(Approval),
    /// Another request under the same approval key (a `Map` without `approvalKey`, or another
    /// workflow reusing the key): refused, the record untouched.
    Conflict(Approval),
}

impl Stored {
    /// The record as stored.
    pub fn approval(&self) -> &Approval {
        match self {
            Self::New(a)
            | Self::Again(a)
            | Self::Refreshed(a)
            | Self::Superseded(a)
            | Self::Closed(a)
            | Self::Conflict(a) => a,
        }
    }

    /// How the log line names it.
    pub fn attempt(&self) -> &'static str {
        match self {
            Self::New(_) => "first",
            Self::Again(_) => "repeated",
            Self::Refreshed(_) => "retried: token refreshed",
            Self::Superseded(_) => "late: a later attempt holds the approval",
            Self::Closed(_) => "retried: already closed",
            Self::Conflict(_) => "conflict",
        }
    }
}

/// Stores `approval` unless a record with its id exists, and returns the stored record. An
/// existing record is an earlier attempt's (a `Retry` of the task, which comes with a new task
/// token): while it is open and its attempt is older, its token becomes this attempt's, since
/// only the newest attempt's token can resume the execution.
pub async fn store(
    table: &impl RequestTable,
    approval: &Approval,
    now: u64,
) -> Result<Stored, TableError> {
    if table.put_approval(approval).await? == Written::Done {
        return Ok(Stored::New(approval.clone()));
    }
    let mut stored = stored(table, approval).await?;
    if stored.task_token == approval.task_token {
        return Ok(Stored::Again(stored));
    }
    // Two requests under one key (a Map without approvalKey): another request, or another
    // token for the same attempt.
    let same_attempt = approval.attempt.is_some() && stored.attempt == approval.attempt;
    if same_attempt
        || stored.execution_arn != approval.execution_arn
        || !stored.request.same_request(&approval.request)
    {
        return Ok(Stored::Conflict(stored));
    }
    if table.refresh_token(approval, now).await? == Written::Done {
        stored.task_token = approval.task_token.clone();
        stored.attempt = approval.attempt;
        stored.token_set_at = Some(now);
        return Ok(Stored::Refreshed(stored));
    }
    let current = self::stored(table, approval).await?;
    Ok(
        if matches!(current.status, Status::Pending | Status::Deciding) {
            Stored::Superseded(current)
        } else {
            Stored::Closed(current)
        },
    )
}

/// The record under `approval`'s id, which a failed put said is there.
async fn stored(table: &impl RequestTable, approval: &Approval) -> Result<Approval, TableError> {
    table.approval(&approval.id).await?.ok_or_else(|| {
        TableError::Failed("the approval vanished between two calls, or is unreadable".into())
    })
}
