//! The local router as a process, between a fake moto and a fake `cargo lambda watch`: what
//! moto's Step Functions interpreter needs from it.

mod support;

use std::{
    collections::{HashMap, VecDeque},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Condvar, Mutex,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    thread,
    time::{Duration, Instant},
};

use support::free_port;

/// A fake upstream answering every request with `answer(method, url, body)`.
fn upstream(answer: fn(&str, &str, &str) -> (u16, String)) -> String {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let address = format!("http://{}", server.server_addr().to_ip().unwrap());
    thread::spawn(move || {
        for mut request in server.incoming_requests() {
            let mut body = String::new();
            request.as_reader().read_to_string(&mut body).unwrap();
            let (status, text) = answer(request.method().as_str(), request.url(), &body);
            let _ =
                request.respond(tiny_http::Response::from_string(text).with_status_code(status));
        }
    });
    address
}

/// The router's process, its URL and its output directory.
struct Router(Child, String, std::path::PathBuf);

impl Drop for Router {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.2);
    }
}

/// A router in front of `moto`, serving the stacks `stacks` (name, the fake `cargo lambda
/// watch` of its functions), each recorded as a deploy records it, in an output directory of
/// the router's own.
fn start_router(moto: &str, stacks: &[(&str, &str)]) -> Router {
    let dir = std::env::temp_dir().join(format!("hitl-router-{}", support::nonce()));
    for (stack, lambda) in stacks {
        let served = kit_local::stacks::Served {
            stack: (*stack).to_owned(),
            api_id: "api".to_owned(),
            stage: "v1".to_owned(),
            api_port: 9,
            lambda_port: lambda.rsplit(':').next().unwrap().parse().unwrap(),
            lambda_pid: None,
            env: Default::default(),
            timeouts: [("review".to_owned(), 1)].into(),
        };
        served.save(&dir.join("local")).unwrap();
    }
    // A port free_port returned may be taken by a test running beside this one before the
    // router binds it: then the router exits at once, and another port is tried.
    for _ in 0..5 {
        let listen = format!("127.0.0.1:{}", free_port());
        let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args([
                "local-router",
                "--listen",
                &listen,
                "--moto",
                moto,
                "--durable",
                "http://127.0.0.1:9",
            ])
            .env("HITL_OUTPUT_DIR", &dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(&listen).is_err() {
            assert!(Instant::now() < deadline, "the router did not start");
            thread::sleep(Duration::from_millis(20));
        }
        thread::sleep(Duration::from_millis(200));
        if child.try_wait().unwrap().is_none() {
            return Router(child, format!("http://{listen}"), dir);
        }
    }
    panic!("the router could not bind a port in five tries");
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn header(response: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

fn fake_moto(method: &str, url: &str, body: &str) -> (u16, String) {
    (200, format!("moto {method} {url} {body}"))
}

/// Another stack's functions.
fn other_stacks_lambda(_: &str, _: &str, _: &str) -> (u16, String) {
    (200, r#"{"approvalId":"other"}"#.to_owned())
}

fn fake_lambda(_: &str, url: &str, body: &str) -> (u16, String) {
    match (url, body.contains("fail")) {
        ("/2015-03-31/functions/request/invocations", true) => (
            500,
            r#"{"errorType":"Hitl.InvalidRequest","errorMessage":"no title"}"#.to_owned(),
        ),
        ("/2015-03-31/functions/request/invocations", false) => {
            (200, r#"{"approvalId":"x"}"#.to_owned())
        }
        _ => (404, "no such binary".to_owned()),
    }
}

#[test]
fn routes_invokes_to_the_functions_and_everything_else_to_moto() {
    let router = start_router(
        &upstream(fake_moto),
        &[
            ("hitl-local", &upstream(fake_lambda)),
            ("hitl-other", &upstream(other_stacks_lambda)),
        ],
    );
    let agent = agent();
    let invoke = format!(
        "{}/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Ahitl-local-request/invocations",
        router.1
    );

    // Every other call reaches moto as it was sent, query and body included.
    let mut response = agent
        .post(&format!("{}/?Action=Publish", router.1))
        .send("TopicArn=t")
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.body_mut().read_to_string().unwrap(),
        "moto POST /?Action=Publish TopicArn=t"
    );

    // An invoke of the kit's function goes to its binary, with a request id as Lambda's has.
    let mut response = agent.post(&invoke).send(r#"{"taskToken":"t"}"#).unwrap();
    assert_eq!(response.status(), 200);
    assert!(header(&response, "x-amzn-RequestId").is_some());
    assert_eq!(header(&response, "X-Amz-Function-Error"), None);
    assert_eq!(
        response.body_mut().read_to_string().unwrap(),
        r#"{"approvalId":"x"}"#
    );

    // A handler error becomes Lambda's function error: 200, the header, the error document.
    let mut response = agent.post(&invoke).send(r#"{"fail":true}"#).unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "X-Amz-Function-Error").as_deref(),
        Some("Unhandled")
    );
    assert!(
        response
            .body_mut()
            .read_to_string()
            .unwrap()
            .contains("Hitl.InvalidRequest")
    );

    // Another stack's function goes to that stack's functions.
    let mut response = agent
        .post(&invoke.replace("hitl-local-request", "hitl-other-request"))
        .send("{}")
        .unwrap();
    assert_eq!(
        response.body_mut().read_to_string().unwrap(),
        r#"{"approvalId":"other"}"#
    );

    // A function the kit does not have, or of a stack not served, is Lambda's
    // ResourceNotFoundException.
    for function in ["other", "hitl-gone-request"] {
        let response = agent
            .post(&format!(
                "{}/2015-03-31/functions/{function}/invocations",
                router.1
            ))
            .send("{}")
            .unwrap();
        assert_eq!(response.status(), 404, "{function}");
        assert_eq!(
            header(&response, "x-amzn-ErrorType").as_deref(),
            Some("ResourceNotFoundException")
        );
    }
}

/// A fake `cargo lambda watch` of one function, as cargo-lambda 1.9.2 is: an invoke waits in
/// its queue until an instance takes it from its Runtime API (`…/invocation/next`), answered with
/// an id of the watch's own (not the invoke's) and the invoke's Cognito identity header as it
/// is; the invoke gets what the instance posts to `…/invocation/<id>/response`.
fn fake_watch() -> String {
    type Invocation = (Option<String>, String, mpsc::Sender<String>);
    type Queue = Arc<(Mutex<VecDeque<Invocation>>, Condvar)>;
    type Answers = Arc<Mutex<HashMap<String, mpsc::Sender<String>>>>;
    static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    fn serve(mut request: tiny_http::Request, queue: Queue, answers: Answers) {
        let url = request.url().to_owned();
        let mut body = String::new();
        request.as_reader().read_to_string(&mut body).unwrap();
        let identity = request
            .headers()
            .iter()
            .find(|h| h.field.equiv("Lambda-Runtime-Cognito-Identity"))
            .map(|h| h.value.to_string());
        let mut headers = Vec::new();
        let (status, text) = if url.ends_with("/invocations") {
            let (answer, answered) = mpsc::channel();
            queue.0.lock().unwrap().push_back((identity, body, answer));
            queue.1.notify_one();
            (200, answered.recv().unwrap())
        } else if url.ends_with("/invocation/next") {
            let mut waiting = queue.0.lock().unwrap();
            while waiting.is_empty() {
                waiting = queue.1.wait(waiting).unwrap();
            }
            let (identity, event, answer) = waiting.pop_front().unwrap();
            let id = format!("watch-{}", IDS.fetch_add(1, Ordering::SeqCst));
            answers.lock().unwrap().insert(id.clone(), answer);
            headers.push(("Lambda-Runtime-Aws-Request-Id", id));
            if let Some(identity) = identity {
                headers.push(("Lambda-Runtime-Cognito-Identity", identity));
            }
            (200, event)
        } else if let Some(id) = url
            .strip_suffix("/response")
            .and_then(|u| u.rsplit('/').next())
        {
            answers
                .lock()
                .unwrap()
                .remove(id)
                .unwrap()
                .send(body)
                .unwrap();
            (202, String::new())
        } else {
            (404, String::new())
        };
        let mut response = tiny_http::Response::from_string(text).with_status_code(status);
        for (name, value) in headers {
            response.add_header(tiny_http::Header::from_bytes(name, value).unwrap());
        }
        let _ = request.respond(response);
    }
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let address = format!("http://{}", server.server_addr().to_ip().unwrap());
    let (queue, answers) = (Queue::default(), Answers::default());
    thread::spawn(move || {
        for request in server.incoming_requests() {
            let (queue, answers) = (queue.clone(), answers.clone());
            thread::spawn(move || serve(request, queue, answers));
        }
    });
    address
}

/// An instance of a function that starts in `init`, then takes its invocations from the Runtime
/// API at `runtime` and answers each with its event after the event's `work_ms`.
fn instance(runtime: String, init: Duration) {
    thread::spawn(move || {
        thread::sleep(init);
        let agent = agent();
        loop {
            let next = format!("{runtime}/2018-06-01/runtime/invocation/next");
            let mut taken = agent.get(&next).call().unwrap();
            let id = header(&taken, "Lambda-Runtime-Aws-Request-Id").unwrap();
            // The router's carrier of its request id never reaches the function.
            assert_eq!(header(&taken, "Lambda-Runtime-Cognito-Identity"), None);
            let event = taken.body_mut().read_to_string().unwrap();
            let work: serde_json::Value = serde_json::from_str(&event).unwrap();
            thread::sleep(Duration::from_millis(work["work_ms"].as_u64().unwrap()));
            let answer = format!("{runtime}/2018-06-01/runtime/invocation/{id}/response");
            agent.post(&answer).send(&event).unwrap();
        }
    });
}

#[test]
fn an_invocations_clock_starts_when_an_instance_takes_it_through_the_runtime_api() {
    let (watch, moto) = (fake_watch(), upstream(fake_moto));
    let router = start_router(&moto, &[("hitl-local", &watch)]);
    // The instance reaches the Runtime API through the router, as the local environment
    // starts it (`xtask/local/cargo_run_built.sh`).
    let address = watch.trim_start_matches("http://");
    let runtime = format!("{}/hitl-local/runtime/{address}/.rt/review", router.1);
    let agent = agent();
    // Only a served watch's Runtime API is reached through the router: not moto's port.
    let moto = format!(
        "{}/hitl-local/runtime/{}/.rt/review/x",
        router.1,
        &moto[7..]
    );
    assert_eq!(agent.get(&moto).call().unwrap().status(), 404);
    let invoke = format!(
        "{}/2015-03-31/functions/hitl-local-review/invocations",
        router.1
    );
    // Lambda does not count a cold start's Init against the invocation's timeout. The
    // instance's start takes longer than the function's timeout, 1 s as recorded.
    let started = Instant::now();
    instance(runtime, Duration::from_millis(1_500));
    let mut response = agent.post(&invoke).send(r#"{"work_ms":300}"#).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(1_500));
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "X-Amz-Function-Error"), None);
    let answer = response.body_mut().read_to_string().unwrap();
    assert_eq!(answer, r#"{"work_ms":300}"#);

    // A function that runs past its configured timeout is ended there, with Lambda's error.
    let started = Instant::now();
    let mut response = agent.post(&invoke).send(r#"{"work_ms":3000}"#).unwrap();
    assert!(started.elapsed() < Duration::from_millis(2_500));
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "X-Amz-Function-Error").as_deref(),
        Some("Unhandled")
    );
    let error: serde_json::Value =
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(error["errorType"], "Sandbox.Timedout");
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("Error: Task timed out after 1.00 seconds"),
        "{error}"
    );
}

/// Set once the invoke reached the function.
static ARRIVED: AtomicBool = AtomicBool::new(false);
/// Set once the moto call got its answer; the waiting function returns only then.
static RELEASED: AtomicBool = AtomicBool::new(false);

#[test]
fn a_waiting_invoke_does_not_hold_up_other_calls() {
    // Like a Step Functions invoke, this one returns only after another call went through; a
    // router serving one request at a time would answer the moto call only after the invoke
    // gave up, and the invoke would report that.
    fn waiting_lambda(_: &str, _: &str, _: &str) -> (u16, String) {
        ARRIVED.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !RELEASED.load(Ordering::SeqCst) {
            if Instant::now() > deadline {
                return (200, "gave up".to_owned());
            }
            thread::sleep(Duration::from_millis(10));
        }
        (200, "released".to_owned())
    }
    let router = start_router(
        &upstream(fake_moto),
        &[("hitl-local", &upstream(waiting_lambda))],
    );
    let invoke = format!(
        "{}/2015-03-31/functions/hitl-local-request/invocations",
        router.1
    );
    let waiting = thread::spawn(move || {
        let mut response = agent().post(&invoke).send("{}").unwrap();
        response.body_mut().read_to_string().unwrap()
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ARRIVED.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "the invoke never reached the function"
        );
        thread::sleep(Duration::from_millis(10));
    }
    let response = agent()
        .get(&format!("{}/moto-api/", router.1))
        .call()
        .unwrap();
    assert_eq!(response.status(), 200);
    RELEASED.store(true, Ordering::SeqCst);
    assert_eq!(waiting.join().unwrap(), "released");
}

/// What the concurrent fake moto saw: DynamoDB calls in flight now and at most, and whether a
/// write ever had company.
#[derive(Default)]
struct Seen {
    writes_now: usize,
    reads_now: usize,
    others_now: usize,
    most_reads: usize,
    most_others: usize,
    write_had_company: bool,
}

/// A fake moto answering each request on its own thread after a pause, noting what overlapped.
fn concurrent_moto(seen: std::sync::Arc<std::sync::Mutex<Seen>>) -> String {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let address = format!("http://{}", server.server_addr().to_ip().unwrap());
    thread::spawn(move || {
        for request in server.incoming_requests() {
            let seen = seen.clone();
            thread::spawn(move || {
                let target = request
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("x-amz-target"))
                    .map(|h| h.value.to_string())
                    .unwrap_or_default();
                let kind = match target.as_str() {
                    "DynamoDB_20120810.UpdateItem" => 'w',
                    "DynamoDB_20120810.GetItem" => 'r',
                    _ => 'o',
                };
                {
                    let mut s = seen.lock().unwrap();
                    match kind {
                        'w' => s.writes_now += 1,
                        'r' => s.reads_now += 1,
                        _ => s.others_now += 1,
                    }
                    s.most_reads = s.most_reads.max(s.reads_now);
                    s.most_others = s.most_others.max(s.others_now);
                    if s.writes_now > 1 || (s.writes_now == 1 && s.reads_now > 0) {
                        s.write_had_company = true;
                    }
                }
                // A write is held 300 ms, for a call let through beside it to show. A read or
                // another call is held until one of its kind keeps it company (up to 5 s): on a
                // machine busy compiling, calls let through together may still arrive one
                // after the other (a fixed 300 ms once saw eight Publishes so), while calls
                // the router serialises never can.
                let held = std::time::Instant::now();
                let company = |s: &Seen| match kind {
                    'r' => s.most_reads > 1,
                    'o' => s.most_others > 1,
                    _ => false,
                };
                while held.elapsed() < Duration::from_secs(5) {
                    let enough = held.elapsed() >= Duration::from_millis(300);
                    if (kind == 'w' && enough) || company(&seen.lock().unwrap()) {
                        break;
                    }
                    thread::sleep(Duration::from_millis(10));
                }
                {
                    let mut s = seen.lock().unwrap();
                    match kind {
                        'w' => s.writes_now -= 1,
                        'r' => s.reads_now -= 1,
                        _ => s.others_now -= 1,
                    }
                }
                let _ = request.respond(tiny_http::Response::from_string("{}"));
            });
        }
    });
    address
}

#[test]
fn dynamodb_writes_of_an_item_reach_moto_one_at_a_time() {
    // moto's DynamoDB checks a condition and writes without a lock, so two racing conditional
    // updates of an item can both win there; through the router they cannot overlap, and reads
    // of the item go in together.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Seen::default()));
    let router = start_router(
        &concurrent_moto(seen.clone()),
        &[("hitl-local", &upstream(fake_lambda))],
    );
    let targets = ["UpdateItem", "GetItem", "Publish"];
    let barrier = std::sync::Barrier::new(24);
    thread::scope(|scope| {
        for i in 0..24 {
            let (router, barrier) = (&router.1, &barrier);
            let target = match targets[i % 3] {
                "Publish" => "SNS.Publish".to_owned(),
                operation => format!("DynamoDB_20120810.{operation}"),
            };
            scope.spawn(move || {
                barrier.wait();
                let response = agent()
                    .post(&format!("{router}/"))
                    .header("X-Amz-Target", &target)
                    .send(r#"{"TableName":"t","Key":{"pk":{"S":"a"}}}"#)
                    .unwrap();
                assert_eq!(response.status(), 200);
            });
        }
    });
    let seen = seen.lock().unwrap();
    assert!(
        !seen.write_had_company,
        "a DynamoDB write overlapped another DynamoDB call"
    );
    assert!(seen.most_reads > 1, "reads were serialised too");
    assert!(seen.most_others > 1, "other calls were serialised too");
}

/// A call whose upstream cannot be reached (moto gone, or resetting connections under load)
/// gets a 503 `ServiceUnavailable` that names what failed, which the SDKs retry: never an empty
/// answer, which the SDK would print as `service error:` and nothing else.
#[test]
fn an_upstream_that_cannot_be_reached_is_a_503_that_says_so() {
    let gone = format!("http://127.0.0.1:{}", free_port());
    let router = start_router(&gone, &[]);
    let mut response = agent()
        .post(&format!("{}/", router.1))
        .header("X-Amz-Target", "DynamoDB_20120810.GetItem")
        .send(r#"{"TableName":"t","Key":{"pk":{"S":"a"}}}"#)
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(
        header(&response, "x-amzn-ErrorType").as_deref(),
        Some("ServiceUnavailable")
    );
    let body: serde_json::Value =
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(body["__type"], "ServiceUnavailable");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("could not reach its upstream") && message.contains(&gone),
        "{message}"
    );
}
