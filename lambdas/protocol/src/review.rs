//! What a reviewer's link does: `GET` shows the page and changes nothing, a click on an
//! attachment is answered with what to presign, `POST` decides (see `decide`).

use hitl_core::{
    Approval, LinkId, LinkItem, Verified,
    attachment::{self, Attachment},
    download, page,
    rules::{self, View},
    sign_in::login::Session,
};

use crate::{
    ports::{Chat, Clock, Orchestrator, Pause},
    reviewer::Reviewer,
    table::{DecisionTable, Table},
};

/// The answer to a click on an attachment's link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Download {
    /// The approval is open: a GET of `attachment`, presigned now for this many seconds.
    Presign(Attachment, u64),
    /// A page saying why not (status, HTML).
    Page(u16, String),
}

impl<T: Table, O, K: Clock, S> Reviewer<T, O, K, S> {
    /// The review page for `link` (`GET` or `HEAD`), with the attachments' links while the
    /// approval is open. Changes nothing.
    pub async fn show(&self, link: &LinkId) -> (u16, String) {
        self.show_to(link, None).await
    }

    /// [`Self::show`] to `visitor`: with sign-in, only to a session of the link's reviewer.
    pub async fn show_to(&self, link: &LinkId, visitor: Option<&Session>) -> (u16, String) {
        let (item, approval) = match self.found(link).await {
            Ok(found) => found,
            Err(page) => return page,
        };
        let item = match self.admit(item, &approval, visitor) {
            Ok((item, _)) => item,
            Err(page) => return page,
        };
        let now = self.clock.now();
        let open = matches!(rules::view(&approval, now), View::Pending { .. });
        let downloads: Vec<String> = match open {
            true => (0..approval.request.attachments.len())
                .map(|i| attachment::download_href(link.as_str(), i))
                .collect(),
            false => Vec::new(),
        };
        page::show(&approval, &item.reviewer, &downloads, now)
    }

    /// Who `visitor` opens and decides `link` as, and who he proved to be. With sign-in: on a
    /// personal link its reviewer, on a channel link the one of `approval`'s reviewers he is
    /// (the link as his), proven by the provider; the page (403, nothing recorded) for anyone
    /// else or for no session. Without sign-in, the link's reviewer, unproven; a channel link
    /// (made while the stack signed reviewers in) opens for nobody.
    pub(crate) fn admit(
        &self,
        link: LinkItem,
        approval: &Approval,
        visitor: Option<&Session>,
    ) -> Result<(LinkItem, Option<Verified>), (u16, String)> {
        if !self.sign_in {
            return match link.is_channel() {
                true => Err(page::not_found()),
                false => Ok((link, None)),
            };
        }
        let now = self.clock.now();
        let Some(session) = visitor.filter(|s| s.expires > now) else {
            return Err(page::sign_in_first());
        };
        let reviewer = match link.is_channel() {
            true => approval.reviewer_for(&self.escalate_to, &session.name),
            false => Some(link.reviewer.clone()),
        };
        match reviewer.filter(|r| session.is(r, now)) {
            Some(reviewer) => Ok((LinkItem { reviewer, ..link }, Some(session.verified()))),
            None => Err(page::not_yours(&session.name)),
        }
    }

    /// A click on the attachment `index` of `link`'s approval: presign it while the approval is
    /// open; a page saying why not otherwise. Changes nothing. With sign-in, only for a session
    /// of the link's reviewer.
    pub async fn download(
        &self,
        link: &LinkId,
        index: usize,
        visitor: Option<&Session>,
    ) -> Download {
        let (item, approval) = match self.found(link).await {
            Ok(found) => found,
            Err((status, html)) => return Download::Page(status, html),
        };
        if let Err((status, html)) = self.admit(item, &approval, visitor) {
            return Download::Page(status, html);
        }
        let now = self.clock.now();
        let (status, html) = match download::download(&approval, index, now) {
            download::Download::Presign(object, secs) => {
                return Download::Presign(object.clone(), secs);
            }
            download::Download::NotFound => page::not_found(),
            download::Download::Closed => match rules::view(&approval, now) {
                View::Decided => page::decided(&approval, now),
                _ => page::expired(&approval, now),
            },
        };
        Download::Page(status, html)
    }

    /// The link's item and approval, or the page when there are none (404) or the table cannot
    /// be read (503).
    pub(crate) async fn found(&self, link: &LinkId) -> Result<(LinkItem, Approval), (u16, String)> {
        match self.find(link).await {
            Ok(Some(found)) => Ok(found),
            Ok(None) => Err(page::not_found()),
            Err(error) => {
                tracing::error!(%error, "cannot read the approvals table");
                Err(page::unavailable())
            }
        }
    }
}

impl<T: DecisionTable, O: Orchestrator, K: Clock + Pause, S: Chat> Reviewer<T, O, K, S> {
    /// A reviewer's decision (`POST`, its form in `body`) through `link`: the page to answer.
    pub async fn post(&self, link: &LinkId, body: &[u8]) -> (u16, String) {
        self.post_by(link, body, None).await
    }

    /// [`Self::post`] by `visitor`: with sign-in, only a session of the link's reviewer
    /// decides, and the decision names who he proved to be.
    pub async fn post_by(
        &self,
        link: &LinkId,
        body: &[u8],
        visitor: Option<&Session>,
    ) -> (u16, String) {
        let (item, approval) = match self.found(link).await {
            Ok(found) => found,
            Err(page) => return page,
        };
        match self.admit(item, &approval, visitor) {
            Ok((item, verified)) => self.decide(body, &item, approval, verified).await,
            Err(page) => page,
        }
    }
}
