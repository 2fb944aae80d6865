//! What a reviewer's link does: `GET` shows the page and changes nothing, a click on an
//! attachment is answered with what to presign, `POST` decides (see `decide`).

use hitl_core::{
    Approval, LinkId, LinkItem,
    attachment::{self, Attachment},
    download, page,
    rules::{self, View},
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
        let (item, approval) = match self.found(link).await {
            Ok(found) => found,
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

    /// A click on the attachment `index` of `link`'s approval: presign it while the approval is
    /// open; a page saying why not otherwise. Changes nothing.
    pub async fn download(&self, link: &LinkId, index: usize) -> Download {
        let (_, approval) = match self.found(link).await {
            Ok(found) => found,
            Err((status, html)) => return Download::Page(status, html),
        };
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
        match self.found(link).await {
            Ok((item, approval)) => self.decide(body, &item, approval).await,
            Err(page) => page,
        }
    }
}
