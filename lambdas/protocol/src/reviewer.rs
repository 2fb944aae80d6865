//! The decision side's ports.

use hitl_core::{Approval, LinkId, LinkItem};

use crate::table::{Table, TableError};

/// What the review function uses: the table, the orchestrator it resumes, the clock, and the
/// Slack app when the stack has one (with who an escalated approval goes to: they may decide
/// in Slack once it is escalated).
pub struct Reviewer<T, O, K, S> {
    pub table: T,
    pub orchestrator: O,
    pub clock: K,
    pub slack: Option<S>,
    pub escalate_to: Vec<String>,
    /// The stack signs its reviewers in: a link opens, and decides, only for a session of its
    /// reviewer (`Visitor`).
    pub sign_in: bool,
}

impl<T: Table, O, K, S> Reviewer<T, O, K, S> {
    /// The link's item and the approval it opens; `None` when either is unknown.
    pub async fn find(&self, link: &LinkId) -> Result<Option<(LinkItem, Approval)>, TableError> {
        let Some(item) = self.table.link(&link.key()).await? else {
            return Ok(None);
        };
        let approval = self.table.approval(&item.approval_id).await?;
        Ok(approval.map(|approval| (item, approval)))
    }
}
