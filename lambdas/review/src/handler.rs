//! One HTTP request: route, refuse what must be refused, show or decide.

use hitl_core::{
    Approval, Claim, ExecutionState, LinkId, LinkItem, SendOutcome, attachment,
    download::{self, Download},
    form::{self, Refusal},
    page,
    rules::{self, AfterGone, Ballot, PostVerdict, after_gone, after_send, task_output},
};
use lambda_http::{Body, Error, Request, Response, http::Method};

use hitl_aws::now;

use crate::{
    downloads::Downloads,
    resume::Orchestrator,
    store::{Claimed, Table},
};

pub struct Context {
    pub table: Table,
    pub orchestrator: Orchestrator,
    pub downloads: Downloads,
}

pub async fn handle(context: &Context, request: Request) -> Result<Response<Body>, Error> {
    let head = request.method() == Method::HEAD;
    let (status, html, location) = match route(request.uri().path()) {
        Some(Route::Attachment(link, index)) => download(context, &request, &link, index).await,
        _ => {
            let (status, html) = answer(context, &request).await;
            (status, html, None)
        }
    };
    let mut response = Response::builder().status(status);
    for (name, value) in page::headers() {
        response = response.header(name, value);
    }
    if let Some(location) = location {
        response = response.header("location", location);
    }
    let body = if head { Body::Empty } else { Body::Text(html) };
    Ok(response.body(body)?)
}

/// What a path asks for, whatever prefix (stage, function URL) comes before it.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    /// `/…/approvals/{id}`: the review page.
    Page(LinkId),
    /// `/…/approvals/{id}/attachments/{n}`: one of its attachments.
    Attachment(LinkId, usize),
}

fn route(path: &str) -> Option<Route> {
    let segments: Vec<&str> = path.trim_end_matches('/').rsplit('/').collect();
    match segments.as_slice() {
        [id, "approvals", ..] => Some(Route::Page(LinkId::parse(id)?)),
        [n, "attachments", id, "approvals", ..] => {
            let index = n
                .parse()
                .ok()
                .filter(|_| n.bytes().all(|b| b.is_ascii_digit()))?;
            Some(Route::Attachment(LinkId::parse(id)?, index))
        }
        _ => None,
    }
}

/// The link id of `/…/approvals/{id}`.
fn link_id(path: &str) -> Option<LinkId> {
    match route(path)? {
        Route::Page(link) => Some(link),
        Route::Attachment(..) => None,
    }
}

/// A click on an attachment's link: `302` to the object presigned now while the approval is
/// open; a page saying why otherwise. Changes nothing.
async fn download(
    context: &Context,
    request: &Request,
    link: &LinkId,
    index: usize,
) -> (u16, String, Option<String>) {
    let method = request.method();
    if method != Method::GET && method != Method::HEAD {
        let (status, html) = page::refused(&Refusal::Method);
        return (status, html, None);
    }
    let (status, html) = match context.table.find(link).await {
        Ok(Some((_, approval))) => {
            let now = now();
            match download::download(&approval, index, now) {
                // HEAD asks whether the link works, and gets no URL (one presigned for GET
                // would be refused to a HEAD).
                Download::Presign(..) if method == Method::HEAD => (200, String::new()),
                Download::Presign(object, secs) => {
                    if let Some(url) = context.downloads.presign(object, secs).await {
                        return (302, String::new(), Some(url));
                    }
                    page::unavailable()
                }
                Download::NotFound => page::not_found(),
                Download::Closed => match rules::view(&approval, now) {
                    rules::View::Decided => page::decided(&approval, now),
                    _ => page::expired(&approval, now),
                },
            }
        }
        Ok(None) => page::not_found(),
        Err(error) => {
            tracing::error!(%error, "cannot read the approvals table");
            page::unavailable()
        }
    };
    (status, html, None)
}

fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn answer(context: &Context, request: &Request) -> (u16, String) {
    let method = request.method();
    if method != Method::GET && method != Method::HEAD && method != Method::POST {
        return page::refused(&Refusal::Method);
    }
    // Refuse a cross-site POST before looking anything up.
    if method == Method::POST
        && form::cross_site(
            header(request, "sec-fetch-site"),
            header(request, "origin"),
            header(request, "host"),
        )
    {
        return page::refused(&Refusal::CrossSite);
    }
    let Some(id) = link_id(request.uri().path()) else {
        return page::not_found();
    };
    let found = match context.table.find(&id).await {
        Ok(Some(found)) => found,
        Ok(None) => return page::not_found(),
        Err(error) => {
            tracing::error!(%error, "cannot read the approvals table");
            return page::unavailable();
        }
    };
    let (link, approval) = found;
    if method == Method::POST {
        decide(context, request.body().as_ref(), &link, approval).await
    } else {
        let now = now();
        let open = matches!(rules::view(&approval, now), rules::View::Pending { .. });
        let downloads: Vec<String> = match open {
            true => (0..approval.request.attachments.len())
                .map(|i| attachment::download_href(id.as_str(), i))
                .collect(),
            false => Vec::new(),
        };
        page::show(&approval, &link.reviewer, &downloads, now)
    }
}

/// The page for a POST that may not claim, per the rules.
fn verdict_page(verdict: PostVerdict, approval: &Approval, now: u64) -> Option<(u16, String)> {
    match verdict {
        PostVerdict::Claim => None,
        PostVerdict::NotFound => Some(page::not_found()),
        PostVerdict::Expired => Some(page::expired(approval, now)),
        PostVerdict::AlreadyDecided => Some(page::decided(approval, now)),
        PostVerdict::BeingDecided => Some(page::being_decided(approval, now)),
    }
}

async fn decide(
    context: &Context,
    body: &[u8],
    link: &LinkItem,
    approval: Approval,
) -> (u16, String) {
    let form = match form::parse(body) {
        Ok(form) => form,
        Err(error) => return page::refused(&Refusal::Form(error)),
    };
    let now = now();
    let claim = Claim {
        decision: form.decision,
        comment: form.comment.clone(),
        reviewer: link.reviewer.clone(),
        at: now,
    };
    let approval = match cast(context, &claim, approval, now).await {
        Ok(claimed) => claimed,
        Err(page) => return page,
    };
    let outcome = send(context, &approval, &claim).await;
    let transition = after_send(claim.decision, outcome);
    if let Err(error) = context.table.settle(&approval, &claim, transition).await {
        // Step Functions has its answer; the record keeps the claim, which reads as "being
        // decided" until it goes stale.
        tracing::error!(approval = %approval.id, %error, "cannot settle the approval");
    }
    let mut settled = approval;
    settled.apply_claim(&claim);
    settled.apply(transition);
    tracing::info!(approval = %settled.id, status = settled.status.as_str(), "decision handled");
    match outcome {
        SendOutcome::Accepted => page::confirmation(&settled, now),
        SendOutcome::TaskGone => page::expired(&settled, now),
        SendOutcome::Transient => page::retry(&settled, &link.reviewer, &form, now),
    }
}

/// Weighs the reviewer's vote against the record: a page when it does not decide (refused by
/// the rules, his earlier vote, or an approval counted short of the quorum), or the record
/// claimed for `claim` (as read before the claim). A lost race is weighed again against the
/// record as it is now: the approval counted just before may make this one the deciding one.
async fn cast(
    context: &Context,
    claim: &Claim,
    mut approval: Approval,
    now: u64,
) -> Result<Approval, (u16, String)> {
    let reviewer = &claim.reviewer;
    for _ in 0..3 {
        if let Some(page) = verdict_page(rules::post(Some(&approval), now), &approval, now) {
            return Err(page);
        }
        let won = match rules::ballot(&approval, reviewer, claim.decision) {
            Ballot::AlreadyVoted => return Err(page::voted(&approval, reviewer, now)),
            Ballot::Count => context.table.count(&approval, claim).await,
            Ballot::Decide => context.table.claim(&approval, claim).await,
        };
        match won {
            Ok(Claimed::Won) if approval.decides(claim.decision) => return Ok(approval),
            Ok(Claimed::Won) => {
                approval.votes = approval.votes_with(claim);
                tracing::info!(approval = %approval.id, votes = approval.votes.len(), "vote counted");
                return Err(page::counted(&approval, reviewer, now));
            }
            Ok(Claimed::Lost) => {}
            Err(error) => {
                tracing::error!(%error, "cannot record the vote");
                return Err(page::unavailable());
            }
        }
        // Someone else got there first: weigh the vote again on the record as it is now.
        approval = match context.table.approval(approval.id.as_str()).await {
            Ok(Some(current)) => current,
            Ok(None) => return Err(page::not_found()),
            Err(error) => {
                tracing::error!(%error, "cannot read the approvals table");
                return Err(page::unavailable());
            }
        };
    }
    Err(page::being_decided(&approval, now))
}

/// Sends the decision with the record's token. When the task is gone, a retried attempt of a
/// Step Functions task may have refreshed the token since the record was read: send again with
/// the newer one (a few times at most). Otherwise the execution says what happened
/// ([`gone`]).
async fn send(context: &Context, approval: &Approval, claim: &Claim) -> SendOutcome {
    let mut token = approval.task_token.clone();
    for _ in 0..3 {
        let outcome = context
            .orchestrator
            .resume(&token, task_output(approval, claim))
            .await;
        if outcome != SendOutcome::TaskGone {
            return outcome;
        }
        let current = match context.orchestrator.tokens_are_refreshed() {
            false => None,
            true => match context.table.approval(approval.id.as_str()).await {
                Ok(current) => current,
                Err(error) => {
                    tracing::error!(%error, "cannot read the approvals table");
                    return SendOutcome::Transient;
                }
            },
        };
        if let Some(AfterGone::Resend(newer)) = current
            .as_ref()
            .map(|c| after_gone(&token, claim, Some(c), None, now()))
        {
            token = newer;
            continue;
        }
        return gone(context, approval, claim, &token, current.as_ref()).await;
    }
    SendOutcome::Transient
}

/// A task or callback found gone, and no newer token to try. If the execution ended with this
/// very decision, it went through and only its answer was lost (the SDK's retry then found the
/// task closed): the decision stands. An execution still running is watched for a few seconds
/// (it ends at once after its decision); then a Step Functions task may still be retried (the
/// reviewer tries again), a durable callback's id never changes. Ended otherwise: expired.
async fn gone(
    context: &Context,
    approval: &Approval,
    claim: &Claim,
    token: &hitl_core::TaskToken,
    current: Option<&Approval>,
) -> SendOutcome {
    let state = watched(context, approval).await;
    if let Some(state) = &state {
        let outcome = rules::after_closed(claim, state);
        if outcome == SendOutcome::Accepted {
            tracing::info!(approval = %approval.id, "a closed task, its decision found in the execution");
        }
        if outcome != SendOutcome::Transient || !context.orchestrator.tokens_are_refreshed() {
            return outcome;
        }
    }
    if !context.orchestrator.tokens_are_refreshed() {
        return SendOutcome::Transient;
    }
    let running = state.map(|s| s == ExecutionState::Running);
    match after_gone(token, claim, current, running, now()) {
        AfterGone::Resend(_) | AfterGone::Revert => SendOutcome::Transient,
        AfterGone::Expire => SendOutcome::TaskGone,
    }
}

/// How the execution stands, watched while it runs: three seconds at most, well inside the
/// function's timeout.
async fn watched(context: &Context, approval: &Approval) -> Option<ExecutionState> {
    let mut state = None;
    for wait in [0, 250, 500, 1_000, 1_500] {
        tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
        state = context.orchestrator.state(&approval.execution_arn).await;
        if state != Some(ExecutionState::Running) {
            break;
        }
    }
    state
}

#[cfg(test)]
mod tests {
    use super::{LinkId, Route, link_id, route};

    #[test]
    fn the_link_id_comes_from_the_last_segment_after_approvals() {
        let id = "abcdefghijklmnopqrstuvwxyz";
        for path in [
            format!("/approvals/{id}"),
            format!("/v1/approvals/{id}"),
            format!("/lambda-url/review/approvals/{id}/"),
        ] {
            assert_eq!(
                link_id(&path).map(|l| l.as_str().to_owned()).as_deref(),
                Some(id),
                "{path}"
            );
        }
        for path in [
            "/",
            "/approvals",
            &format!("/other/{id}"),
            "/approvals/short",
            &format!("/approvals/{id}/x"),
        ] {
            assert!(link_id(path).is_none(), "{path}");
        }
    }

    #[test]
    fn an_attachments_path_names_its_link_and_index() {
        let id = "abcdefghijklmnopqrstuvwxyz";
        let link = LinkId::parse(id).unwrap();
        assert_eq!(
            route(&format!("/v1/approvals/{id}/attachments/3")),
            Some(Route::Attachment(link, 3))
        );
        for path in [
            format!("/v1/approvals/{id}/attachments/x"),
            format!("/v1/approvals/{id}/attachments/+3"),
            format!("/v1/approvals/{id}/attachments"),
            format!("/v1/approvals/{id}/other/3"),
        ] {
            assert_eq!(route(&path), None, "{path}");
        }
    }
}
