//! The review API's API Gateway in the local environment, each stack's on a port of its own (as
//! each REST API has a host of its own): each request routed as the REST API routes it ([`crate::api`]), API Gateway's permission to invoke the function checked as Lambda
//! checks it (the function's resource policy must let `apigateway.amazonaws.com` invoke it with
//! `aws:SourceArn` the method's ARN, `arn:aws:execute-api:<region>:<account>:<api>/<stage>/
//! <METHOD>/<path>`), then the function invoked with its proxy event and its proxy response
//! turned back into HTTP.

use std::thread;

use anyhow::{Context as _, Result};
use kit_iam::{Authorization, Context, Principal};

use crate::{
    api::{self, Routed},
    clock::{Clock, Ended, Takings},
    ledger::Ledger,
    reply::{Reply, header, respond},
    shared::{NOT_FORWARDED, Shared},
    stacks::Served,
};

/// The function behind the review API.
pub const API_FUNCTION: &str = "review";

/// How long API Gateway waits for the Lambda integration: 29 seconds, the REST API's default
/// (API Gateway Developer Guide, "Amazon API Gateway quotas": "Integration timeout for REST
/// APIs: 50 milliseconds - 29 seconds for all integration types"); then the client gets 504.
pub const INTEGRATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(29);

/// The admin path: `POST /hitl-local/apis/<stack>` serves the stack's review API on a port of its
/// own (the one it has, if it is served already) and answers `{"port": <port>}`.
pub const PATH: &str = "/hitl-local/apis/";

/// Serves the review API of `stack` (see [`PATH`]).
pub fn serve_stack(shared: &Shared, stack: &str) -> Reply {
    let mut apis = shared.apis.lock().unwrap_or_else(|e| e.into_inner());
    let port = match apis.get(stack) {
        Some(port) => Ok(*port),
        None => listen(stack, shared.clone()),
    };
    match port {
        Ok(port) => {
            apis.insert(stack.to_owned(), port);
            let body = serde_json::json!({ "port": port }).to_string();
            (200, Vec::new(), body.into_bytes())
        }
        Err(e) => (500, Vec::new(), format!("{e:#}").into_bytes()),
    }
}

/// Serves `stack`'s review API on a free loopback port, each request on its own thread.
fn listen(stack: &str, shared: Shared) -> Result<u16> {
    let server = tiny_http::Server::http("127.0.0.1:0")
        .map_err(|e| anyhow::anyhow!("cannot listen for {stack}'s review API: {e}"))?;
    let port = server
        .server_addr()
        .to_ip()
        .map(|a| a.port())
        .context("the review API's listener has no port")?;
    let stack = stack.to_owned();
    thread::spawn(move || {
        for request in server.incoming_requests() {
            let (shared, stack) = (shared.clone(), stack.clone());
            thread::spawn(move || {
                let id = shared.request_id("hitl-api");
                if let Err(error) = serve(request, &shared, &stack, &id, port) {
                    eprintln!("router (api of {stack}): {error:#}");
                }
            });
        }
    });
    Ok(port)
}

/// One request to `stack`'s review API.
fn serve(
    mut request: tiny_http::Request,
    shared: &Shared,
    stack: &str,
    id: &str,
    port: u16,
) -> Result<()> {
    let url = request.url().to_owned();
    let (path, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
    let method = request.method().as_str().to_owned();
    // A stack destroyed: its API is gone.
    let (Some(routed), Some(served)) = (
        api::route(&method, path),
        crate::stacks::load(&shared.dir, stack),
    ) else {
        return respond(request, api::missing_route());
    };
    if !permitted(shared, &served, &method, &routed) {
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
    let (status, headers, body) = invoke(shared, &served, &api::event(&routed, &incoming));
    let headers = headers
        .into_iter()
        .filter(|(name, _)| !NOT_FORWARDED.contains(&name.to_ascii_lowercase().as_str()))
        .collect();
    respond(request, (status, headers, body))
}

/// The function's answer to `event`, as API Gateway gives it to the client.
fn invoke(shared: &Shared, served: &Served, event: &serde_json::Value) -> Reply {
    let uri = format!(
        "{}/2015-03-31/functions/{API_FUNCTION}/invocations",
        served.lambda_endpoint()
    );
    let function = format!("{}-{API_FUNCTION}", served.stack);
    let limits = Limits {
        function: served.timeout(API_FUNCTION),
        integration: INTEGRATION_TIMEOUT,
    };
    let invocation = shared.request_id("hitl-api");
    let called = (function.as_str(), invocation.as_str());
    let keepers = Keepers {
        gates: &shared.gates,
        takings: &shared.takings,
        ledger: &shared.ledger,
    };
    let integrated = integrate(keepers, &shared.agent, called, &uri, event, limits);
    integrated.unwrap_or_else(|error| {
        eprintln!("router (api of {}): {error:#}", served.stack);
        api::bad_gateway()
    })
}

/// How long an integration may take: the function's configured timeout (Lambda then ends the
/// invocation with an error, which API Gateway answers with a 502), and API Gateway's own
/// (a 504), whichever comes first.
#[derive(Clone, Copy)]
struct Limits {
    function: Option<std::time::Duration>,
    integration: std::time::Duration,
}

/// API Gateway's Lambda integration: the function at `uri` invoked with `event` (the invocation
/// `request_id`) through its gate, its proxy response turned into HTTP; cut at the first of its
/// `limits`, the function's counted from when an instance takes the invocation
/// ([`crate::clock`]); a cut invocation noted in the `ledger` of faults, as its metric shows it.
fn integrate(
    Keepers {
        gates,
        takings,
        ledger,
    }: Keepers,
    agent: &ureq::Agent,
    (function, request_id): (&str, &str),
    uri: &str,
    event: &serde_json::Value,
    limits: Limits,
) -> Result<Reply> {
    let clock = Clock {
        function: limits.function,
        integration: Some(limits.integration),
    };
    let (agent, called, event) = (agent.clone(), uri.to_owned(), event.to_string());
    let id = request_id.to_owned();
    let invoke = move || integration(&agent, &called, &id, event);
    let within = gates.within(takings, function, request_id, clock, invoke);
    if let Some(account) = within.ended.shown_as() {
        within.note_cut(account, ledger);
    }
    let mut reply = match within.ended {
        Ended::Answered(answer) => answer?,
        Ended::Function => {
            let timeout = limits.function.unwrap_or_default();
            eprintln!("router (api): the function timed out after {timeout:?}, its timeout: {uri}");
            api::bad_gateway()
        }
        Ended::Integration => {
            let cut = limits.integration;
            eprintln!("router (api): the integration timed out after {cut:?}: {uri}");
            api::timed_out()
        }
    };
    reply
        .1
        .push(header(QUEUED_HEADER, within.queued.as_millis().to_string()));
    Ok(reply)
}

/// What an integration's call goes through: the function's gate, the takings of its invocation,
/// the ledger of faults.
#[derive(Clone, Copy)]
struct Keepers<'a> {
    gates: &'a std::sync::Arc<crate::gates::Gates>,
    takings: &'a Takings,
    ledger: &'a Ledger,
}

/// The local environment's own response header: how long a request waited for one of the
/// function's instances (`Runner::instances` here, where Lambda would start more), in
/// milliseconds, so that the load benchmark can tell the kit's time from the harness's.
pub const QUEUED_HEADER: &str = "x-hitl-local-queued-ms";

/// The function at `uri` invoked with `event` as the invocation `request_id`, its proxy response
/// turned into HTTP.
fn integration(agent: &ureq::Agent, uri: &str, request_id: &str, event: String) -> Result<Reply> {
    let mut response = agent
        .post(uri)
        .header("content-type", "application/json")
        .header(
            crate::runtime_api::CARRIER,
            crate::runtime_api::carrier(request_id),
        )
        .send(event)
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
}

/// Whether the deployed review function's resource policy lets API Gateway invoke it for this
/// method and path of the deployed stage.
fn permitted(shared: &Shared, served: &Served, method: &str, routed: &Routed) -> bool {
    let (stack, api_id) = (&served.stack, &served.api_id);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{gates::Gates, ledger::Account};

    /// A function whose instance takes each invocation as the router sees it through the
    /// Runtime API (by the carrier of the invoke's request id, as cargo-lambda passes it on),
    /// and answers after `pause` with a proxy response.
    fn slow_function(takings: &std::sync::Arc<Takings>, pause: std::time::Duration) -> String {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let uri = format!("http://{}/invoke", server.server_addr().to_ip().unwrap());
        let takings = takings.clone();
        thread::spawn(move || {
            for request in server.incoming_requests() {
                let mut next: Vec<(String, String)> = request
                    .headers()
                    .iter()
                    .map(|h| (h.field.to_string(), h.value.to_string()))
                    .collect();
                let path = "127.0.0.1:1/.rt/review/2018-06-01/runtime/invocation/next";
                let taken = crate::runtime_api::taken("GET", path, 200, &mut next);
                takings.taken(&taken.unwrap(), Some(TRACE));
                thread::sleep(pause);
                let body = r#"{"statusCode":200,"headers":{},"body":"done"}"#;
                let _ = request.respond(tiny_http::Response::from_string(body));
            }
        });
        uri
    }

    fn limits(function: Option<u64>, integration: u64) -> Limits {
        Limits {
            function: function.map(std::time::Duration::from_millis),
            integration: std::time::Duration::from_millis(integration),
        }
    }

    /// The trace root the slow function's invocations run under.
    const TRACE: &str = "1-g-1";

    /// A function that answers in 600 ms, integrated within `limits`; and what became of a
    /// fault injected into a call of its invocation, as the ledger says.
    fn through_slow_function(limits: Limits) -> (Reply, Account) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        // Untaken invocations would go on the function's clock only after a minute.
        let takings = Takings::with_init(std::time::Duration::from_secs(60));
        let (gates, takings) = (
            std::sync::Arc::new(Gates::new(8)),
            std::sync::Arc::new(takings),
        );
        let slow = slow_function(&takings, std::time::Duration::from_millis(600));
        let called = ("f", "hitl-api-1");
        let ledger = Ledger::default();
        let attempt = crate::ledger::Attempt::of(Some("op"), Some(TRACE), None, ledger.stamp());
        ledger.injected(crate::ledger::Injected {
            stack: None,
            function: "f".to_owned(),
            service: "dynamodb".to_owned(),
            operation: "DynamoDB_20120810.UpdateItem".to_owned(),
            kind: crate::faults::Kind::Throttle,
            attempt,
            made: false,
        });
        let keepers = Keepers {
            gates: &gates,
            takings: &takings,
            ledger: &ledger,
        };
        let reply = integrate(
            keepers,
            &agent,
            called,
            &slow,
            &serde_json::json!({}),
            limits,
        );
        let accounts = ledger.accounts(None, &Default::default());
        (reply.unwrap(), accounts[0].1)
    }

    #[test]
    fn an_integration_slower_than_its_timeout_is_api_gateways_504() {
        for cut in [limits(None, 100), limits(Some(5_000), 100)] {
            let ((status, _, body), account) = through_slow_function(cut);
            assert_eq!(status, 504);
            assert_eq!(body, br#"{"message":"Endpoint request timed out"}"#);
            // A fault in the invocation shows in the API's 5XXError.
            assert_eq!(account, Account::Api5xx);
        }
        let ((status, headers, body), account) = through_slow_function(limits(None, 10_000));
        assert_eq!((status, body.as_slice()), (200, b"done".as_slice()));
        assert_eq!(account, Account::Unaccounted);
        // The wait for an instance, said for the load benchmark.
        assert!(headers.iter().any(|(name, _)| name == QUEUED_HEADER));
        assert_eq!(INTEGRATION_TIMEOUT.as_secs(), 29);
    }

    /// A function that runs past its configured timeout is ended by Lambda with an error, which
    /// API Gateway answers with a 502 "Internal server error" (before its own 29 seconds).
    #[test]
    fn a_function_slower_than_its_own_timeout_is_a_502() {
        let ((status, _, body), account) = through_slow_function(limits(Some(100), 10_000));
        assert_eq!(status, 502);
        assert_eq!(body, br#"{"message":"Internal server error"}"#);
        // A timeout is a function error: a fault in the invocation shows in its Errors.
        assert_eq!(account, Account::FunctionErrors);
        let ((status, _, _), _) = through_slow_function(limits(Some(5_000), 10_000));
        assert_eq!(status, 200);
    }
}
