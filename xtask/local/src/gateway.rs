//! The review API's API Gateway in the local environment: each request routed as the REST API
//! routes it ([`crate::api`]), API Gateway's permission to invoke the function checked as Lambda
//! checks it (the function's resource policy must let `apigateway.amazonaws.com` invoke it with
//! `aws:SourceArn` the method's ARN, `arn:aws:execute-api:<region>:<account>:<api>/<stage>/
//! <METHOD>/<path>`), then the function invoked with its proxy event and its proxy response
//! turned back into HTTP.

use std::thread;

use anyhow::{Context as _, Result};
use kit_iam::{Authorization, Context, Principal};

use crate::{
    api::{self, Routed},
    reply::{Reply, respond},
    shared::{NOT_FORWARDED, Shared},
};

/// The function behind the review API.
pub const API_FUNCTION: &str = "review";

/// Serves the review API on `listen`, each request on its own thread.
pub fn listen(listen: &str, shared: Shared) -> Result<()> {
    let server = tiny_http::Server::http(listen)
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let port = server.server_addr().to_ip().map_or(0, |a| a.port());
    thread::spawn(move || {
        for request in server.incoming_requests() {
            let shared = shared.clone();
            thread::spawn(move || {
                let id = shared.request_id("hitl-api");
                if let Err(error) = serve(request, &shared, &id, port) {
                    eprintln!("router (api): {error:#}");
                }
            });
        }
    });
    Ok(())
}

/// One request to the review API.
fn serve(mut request: tiny_http::Request, shared: &Shared, id: &str, port: u16) -> Result<()> {
    let url = request.url().to_owned();
    let (path, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
    let method = request.method().as_str().to_owned();
    let Some(routed) = api::route(&method, path) else {
        return respond(request, api::missing_route());
    };
    if !permitted(shared, &method, &routed) {
        return respond(request, api::not_permitted());
    }
    let mut body = Vec::new();
    request.as_reader().read_to_end(&mut body)?;
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_owned(),
                h.value.as_str().to_owned(),
            )
        })
        .collect();
    let source_ip = request
        .remote_addr()
        .map_or("127.0.0.1".to_owned(), |a| a.ip().to_string());
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let incoming = api::Incoming {
        method: &method,
        query,
        headers: &headers,
        body: &body,
        source_ip: &source_ip,
        port,
        request_id: id,
        now_ms,
    };
    let (status, headers, body) = invoke(shared, &api::event(&routed, &incoming));
    let headers = headers
        .into_iter()
        .filter(|(name, _)| !NOT_FORWARDED.contains(&name.to_ascii_lowercase().as_str()))
        .collect();
    respond(request, (status, headers, body))
}

/// The function's answer to `event`, as API Gateway gives it to the client.
fn invoke(shared: &Shared, event: &serde_json::Value) -> Reply {
    let uri = format!(
        "{}/2015-03-31/functions/{API_FUNCTION}/invocations",
        shared.upstreams.lambda
    );
    let answer = shared.gates.through(API_FUNCTION, || -> Result<Reply> {
        let mut response = shared
            .agent
            .post(&uri)
            .header("content-type", "application/json")
            .send(event.to_string())
            .with_context(|| format!("POST {uri}"))?;
        let status = response.status().as_u16();
        let output = response
            .body_mut()
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_vec()?;
        Ok(match status {
            200 => api::response(&output),
            _ => api::bad_gateway(),
        })
    });
    answer.unwrap_or_else(|error| {
        eprintln!("router (api): {error:#}");
        api::bad_gateway()
    })
}

/// The stack whose functions are served and its API id, from the runner's state (read again
/// when the file changes).
fn served() -> Option<(String, String)> {
    type Seen = Option<(std::time::SystemTime, Option<(String, String)>)>;
    static SEEN: std::sync::Mutex<Seen> = std::sync::Mutex::new(None);
    let path = kit_base::local::dir().join("runner.json");
    let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, served)) = seen.as_ref().filter(|(at, _)| *at == modified) {
        return served.clone();
    }
    let served = crate::runner::recorded_at(&kit_base::local::dir())
        .and_then(|runner| Some((runner.stack?, runner.api_id?)));
    *seen = Some((modified, served.clone()));
    served
}

/// Whether the deployed review function's resource policy lets API Gateway invoke it for this
/// method and path of the deployed stage. Without a deployed stack there is nothing to check
/// (the function answers as it can).
fn permitted(shared: &Shared, method: &str, routed: &Routed) -> bool {
    let Some((stack, api_id)) = served() else {
        return true;
    };
    let (region, account) = (kit_base::local::REGION, kit_base::local::ACCOUNT_ID);
    let function = format!("{stack}-{API_FUNCTION}");
    let function_arn = format!("arn:aws:lambda:{region}:{account}:function:{function}");
    let path = routed.path.trim_start_matches('/');
    let source = format!(
        "arn:aws:execute-api:{region}:{account}:{api_id}/{}/{method}/{path}",
        routed.stage
    );
    let request = Authorization {
        principal: Principal::Service("apigateway.amazonaws.com".to_owned()),
        action: "lambda:InvokeFunction".to_owned(),
        resource: function_arn.clone(),
        context: Context::from([
            ("aws:sourcearn".to_owned(), vec![source.clone()]),
            ("aws:sourceaccount".to_owned(), vec![account.to_owned()]),
        ]),
    };
    let allowed = shared
        .access
        .function_policy(&function)
        .is_some_and(|policy| {
            let decision = shared.access.resource(&function_arn, &policy, &request);
            decision.is_allowed()
        });
    if !allowed {
        eprintln!("router (api): API Gateway may not invoke {function} for {source}");
    }
    allowed
}
