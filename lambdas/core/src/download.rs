//! Whether a click on an attachment's link may be answered: a URL presigned at click time, for
//! [`DOWNLOAD_SECS`](crate::attachment::DOWNLOAD_SECS) at most, and only while the approval is open, as the page only offers
//! links then.

use crate::attachment::{Attachment, link_lifetime_secs};
use crate::record::Approval;
use crate::rules;

/// What a click on an attachment's link gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Download<'a> {
    /// A GET of this object, presigned for this many seconds.
    Presign(&'a Attachment, u64),
    /// No such attachment.
    NotFound,
    /// The approval is decided or expired: its attachments are no longer offered.
    Closed,
}

/// Whether attachment `index` of `approval` may be downloaded at `now`: only while the approval
/// is open, as the page only offers links then.
pub fn download(approval: &Approval, index: usize, now: u64) -> Download<'_> {
    let Some(attachment) = approval.request.attachments.get(index) else {
        return Download::NotFound;
    };
    let open = matches!(rules::view(approval, now), rules::View::Pending { .. });
    match link_lifetime_secs(approval.expires_at, now).filter(|_| open) {
        Some(secs) => Download::Presign(attachment, secs),
        None => Download::Closed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attachment::DOWNLOAD_SECS;
    use crate::record::Status;
    use crate::record::tests::sample;
    use serde_json::json;

    /// A click on an attachment's link is answered only while the approval is open, and only
    /// for an attachment the request has.
    #[test]
    fn a_download_is_presigned_only_while_the_approval_is_open() {
        let mut approval = sample(json!({
            "title": "T", "requester": "carol@example.com",
            "attachments": [{"bucket": "shop-data", "key": "q1.csv"}],
        }));
        let now = approval.created_at + 10;
        match download(&approval, 0, now) {
            Download::Presign(attachment, secs) => {
                assert_eq!(attachment.key, "q1.csv");
                assert_eq!(secs, DOWNLOAD_SECS);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(download(&approval, 1, now), Download::NotFound);
        assert_eq!(
            download(&approval, 0, approval.expires_at),
            Download::Closed
        );
        let near_end = approval.expires_at - 20;
        assert!(matches!(
            download(&approval, 0, near_end),
            Download::Presign(_, 20)
        ));
        approval.status = Status::Approved;
        assert_eq!(download(&approval, 0, now), Download::Closed);
    }
}
