//! One HTTP request: route, refuse what HTTP refuses (method, cross-site), sign the visitor in
//! where the stack asks for it, then the protocol's decision side: show, download or decide.

use hitl_adapters::identity::OpenIdProvider;
use hitl_adapters::{slack_app::SlackWebApi, table::DynamoTable};
use hitl_core::{
    LinkId,
    form::{self, Refusal},
    id::os_random,
    page,
    sign_in::login::Session,
};
use hitl_protocol::{
    Clock, Download, Reviewer,
    sign_in::{Answer, SignIn},
};
use lambda_http::{Body, Error, IntoResponse, Request, Response, http::Method};

use crate::{clock::SystemClock, downloads::Downloads, resume::Orchestrator, sign_in::Gate};

pub struct Context {
    pub reviewer: Reviewer<DynamoTable, Orchestrator, SystemClock, SlackWebApi>,
    pub downloads: Downloads,
    /// Sign-in, when the stack signs its reviewers in.
    pub sign_in: Option<Gate>,
}

/// A page's answer: its status, its HTML and the headers beside the page's own.
struct Reply {
    status: u16,
    html: String,
    headers: Vec<(&'static str, String)>,
}

impl From<(u16, String)> for Reply {
    fn from((status, html): (u16, String)) -> Self {
        Self {
            status,
            html,
            headers: Vec::new(),
        }
    }
}

impl From<Answer> for Reply {
    fn from(answer: Answer) -> Self {
        match answer {
            Answer::Redirect { location, cookies } => {
                let mut headers = vec![("location", location)];
                headers.extend(cookies.into_iter().map(|c| ("set-cookie", c)));
                Self {
                    status: 302,
                    html: String::new(),
                    headers,
                }
            }
            Answer::Page(status, html) => (status, html).into(),
        }
    }
}

/// The function's answer as built: its body is already text (or empty), so it goes to the
/// integration as it is. `lambda_http`'s own conversion of a `Response` would decode the body
/// again by its `charset`, through a decoder of every character set (155 kB of tables in the
/// package) for pages that are UTF-8 by construction.
pub struct Built(Response<Body>);

impl IntoResponse for Built {
    fn into_response(self) -> std::pin::Pin<Box<dyn Future<Output = Response<Body>> + Send>> {
        Box::pin(std::future::ready(self.0))
    }
}

/// The answer to `request`, a server error among them logged as such (`hitl_aws::ending`).
pub async fn handle(context: &Context, request: Request) -> Result<Built, Error> {
    let built = respond(context, request).await?;
    hitl_aws::ending::answered(built.0.status().as_u16());
    Ok(built)
}

async fn respond(context: &Context, request: Request) -> Result<Built, Error> {
    let route = route(request.uri().path());
    if route == Some(Route::Slack) {
        return slack(context, &request).await.map(Built);
    }
    let head = request.method() == Method::HEAD;
    let reply = match route {
        Some(Route::SignIn) => callback(context, &request).await,
        Some(Route::Attachment(link, index)) => download(context, &request, &link, index).await,
        _ => answer(context, &request).await,
    };
    let mut response = Response::builder().status(reply.status);
    for (name, value) in page::headers() {
        response = response.header(name, value);
    }
    for (name, value) in reply.headers {
        response = response.header(name, value);
    }
    let body = if head {
        Body::Empty
    } else {
        Body::Text(reply.html)
    };
    Ok(Built(response.body(body)?))
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
    /// `/…/sign-in`: the identity provider's redirect back (sign-in's callback).
    SignIn,
}

fn route(path: &str) -> Option<Route> {
    let segments: Vec<&str> = path.trim_end_matches('/').rsplit('/').collect();
    match segments.as_slice() {
        ["interactions", "slack", ..] => Some(Route::Slack),
        ["sign-in", ..] => Some(Route::SignIn),
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
        Route::Attachment(..) | Route::Slack | Route::SignIn => None,
    }
}

/// A click on an attachment's link: `302` to the object presigned now while the approval is
/// open; a page saying why otherwise. Changes nothing.
async fn download(context: &Context, request: &Request, link: &LinkId, index: usize) -> Reply {
    let method = request.method();
    if method != Method::GET && method != Method::HEAD {
        return page::refused(&Refusal::Method).into();
    }
    let here = format!("approvals/{}/attachments/{index}", link.as_str());
    let visitor = match visitor(context, request, &here).await {
        Ok(visitor) => visitor,
        Err(reply) => return reply,
    };
    match context
        .reviewer
        .download(link, index, visitor.as_ref())
        .await
    {
        // HEAD asks whether the link works, and gets no URL (one presigned for GET would be
        // refused to a HEAD).
        Download::Presign(..) if method == Method::HEAD => (200, String::new()).into(),
        Download::Presign(object, secs) => match context.downloads.presign(&object, secs).await {
            Some(url) => Reply {
                status: 302,
                html: String::new(),
                headers: vec![("location", url)],
            },
            None => page::unavailable().into(),
        },
        Download::Page(status, html) => (status, html).into(),
    }
}

/// With sign-in, who is visiting: his session; without one, a `GET` or `HEAD` of `here` (the
/// path under the review API's stage) goes to the identity provider and comes back to it, and a
/// `POST` is refused by the protocol. Without sign-in, nobody.
async fn visitor(
    context: &Context,
    request: &Request,
    here: &str,
) -> Result<Option<Session>, Reply> {
    let Some(gate) = ready(context).await? else {
        return Ok(None);
    };
    let now = context.reviewer.clock.now();
    if let Some(session) = gate.session(&cookies(request), now) {
        return Ok(Some(session));
    }
    match request.method() == Method::POST {
        true => Ok(None),
        // The way back is made here from the parsed link, never taken from the request.
        false => {
            let back = format!("{}{here}", gate.cookie_path);
            Err(gate.start(&back, now, os_random).await.into())
        }
    }
}

/// Sign-in, when the stack has it; the page to try again (logged) when its key cannot be read.
async fn ready(context: &Context) -> Result<Option<&SignIn<OpenIdProvider>>, Reply> {
    let Some(gate) = &context.sign_in else {
        return Ok(None);
    };
    match gate.ready().await {
        Ok(sign_in) => Ok(Some(sign_in)),
        Err(error) => {
            tracing::error!(%error, "sign-in is not ready");
            Err(page::unavailable().into())
        }
    }
}

/// The identity provider's redirect back: sign-in's callback (a `GET`), which sets the session
/// and returns to the link. Without sign-in, nothing is here.
async fn callback(context: &Context, request: &Request) -> Reply {
    let gate = match ready(context).await {
        Ok(Some(gate)) => gate,
        Ok(None) => return page::not_found().into(),
        Err(reply) => return reply,
    };
    if request.method() != Method::GET {
        return page::refused(&Refusal::Method).into();
    }
    let query = request.uri().query().unwrap_or_default();
    let now = context.reviewer.clock.now();
    gate.callback(query, &cookies(request), now).await.into()
}

/// The request's cookies, as one `Cookie` header (HTTP/2 may send them in several).
fn cookies(request: &Request) -> String {
    let values = request.headers().get_all("cookie").iter();
    let values: Vec<&str> = values.filter_map(|v| v.to_str().ok()).collect();
    values.join("; ")
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
async fn answer(context: &Context, request: &Request) -> Reply {
    let method = request.method();
    if method != Method::GET && method != Method::HEAD && method != Method::POST {
        return page::refused(&Refusal::Method).into();
    }
    // Refuse a cross-site POST before looking anything up.
    if method == Method::POST
        && form::cross_site(
            header(request, "sec-fetch-site"),
            header(request, "origin"),
            header(request, "host"),
        )
    {
        return page::refused(&Refusal::CrossSite).into();
    }
    let Some(link) = link_id(request.uri().path()) else {
        return page::not_found().into();
    };
    let here = format!("approvals/{}", link.as_str());
    let visitor = match visitor(context, request, &here).await {
        Ok(visitor) => visitor,
        Err(reply) => return reply,
    };
    let reviewer = &context.reviewer;
    let visitor = visitor.as_ref();
    match method == Method::POST {
        true => {
            reviewer
                .post_by(&link, request.body().as_ref(), visitor)
                .await
        }
        false => reviewer.show_to(&link, visitor).await,
    }
    .into()
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
        assert_eq!(route("/v1/sign-in"), Some(Route::SignIn));
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
