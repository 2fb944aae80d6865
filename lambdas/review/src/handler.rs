//! One HTTP request: route, refuse what HTTP refuses (method, cross-site), then the protocol's
//! decision side: show, download or decide.

use hitl_adapters::{slack_app::SlackWebApi, table::DynamoTable};
use hitl_core::{
    LinkId,
    form::{self, Refusal},
    page,
};
use hitl_protocol::{Download, Reviewer};
use lambda_http::{Body, Error, Request, Response, http::Method};

use crate::{clock::SystemClock, downloads::Downloads, resume::Orchestrator};

pub struct Context {
    pub reviewer: Reviewer<DynamoTable, Orchestrator, SystemClock, SlackWebApi>,
    pub downloads: Downloads,
}

pub async fn handle(context: &Context, request: Request) -> Result<Response<Body>, Error> {
    if route(request.uri().path()) == Some(Route::Slack) {
        return slack(context, &request).await;
    }
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
    /// `/…/slack/interactions`: the Slack app's interactivity endpoint.
    Slack,
}

fn route(path: &str) -> Option<Route> {
    let segments: Vec<&str> = path.trim_end_matches('/').rsplit('/').collect();
    match segments.as_slice() {
        ["interactions", "slack", ..] => Some(Route::Slack),
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
        Route::Attachment(..) | Route::Slack => None,
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
    match context.reviewer.download(link, index, None).await {
        // HEAD asks whether the link works, and gets no URL (one presigned for GET would be
        // refused to a HEAD).
        Download::Presign(..) if method == Method::HEAD => (200, String::new(), None),
        Download::Presign(object, secs) => match context.downloads.presign(&object, secs).await {
            Some(url) => (302, String::new(), Some(url)),
            None => {
                let (status, html) = page::unavailable();
                (status, html, None)
            }
        },
        Download::Page(status, html) => (status, html, None),
    }
}

/// A request to the Slack app's endpoint: only a POST, verified before it is read; a JSON body
/// (a modal's errors) or none.
async fn slack(context: &Context, request: &Request) -> Result<Response<Body>, Error> {
    let (status, json) = match request.method() == Method::POST {
        true => {
            let timestamp = header(request, "x-slack-request-timestamp");
            let signature = header(request, "x-slack-signature");
            let body = request.body().as_ref();
            context
                .reviewer
                .interaction(timestamp, signature, body)
                .await
        }
        false => (405, String::new()),
    };
    let mut response = Response::builder()
        .status(status)
        .header("cache-control", "no-store");
    let body = match json.is_empty() {
        true => Body::Empty,
        false => {
            response = response.header("content-type", "application/json");
            Body::Text(json)
        }
    };
    Ok(response.body(body)?)
}

fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The review page (`GET`, `HEAD`) or a decision (`POST`), once HTTP's refusals are passed.
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
    let Some(link) = link_id(request.uri().path()) else {
        return page::not_found();
    };
    if method == Method::POST {
        context.reviewer.post(&link, request.body().as_ref()).await
    } else {
        context.reviewer.show(&link).await
    }
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
        assert_eq!(route("/v1/slack/interactions"), Some(Route::Slack));
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
