//! A Lambda Runtime API on a free loopback port, for measuring cold starts: it hands out one
//! event, notes when the function answers (response or error), and holds every later `next`
//! call. It also answers DynamoDB's GetItem with "no item", so a function's first AWS call is
//! part of the measurement without any network.

use std::{
    sync::mpsc::{Receiver, Sender, channel},
    thread,
    time::Instant,
};

use anyhow::Result;

pub struct RuntimeApi {
    pub address: String,
    answered: Receiver<Instant>,
    next_event: Sender<String>,
}

impl RuntimeApi {
    pub fn start() -> Result<RuntimeApi> {
        let server = tiny_http::Server::http("127.0.0.1:0")
            .map_err(|e| anyhow::anyhow!("cannot listen: {e}"))?;
        let address = server
            .server_addr()
            .to_ip()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let (answered_tx, answered) = channel();
        let (next_event, events) = channel::<String>();
        let events = std::sync::Arc::new(std::sync::Mutex::new(events));
        thread::spawn(move || {
            for request in server.incoming_requests() {
                let answered = answered_tx.clone();
                let events = events.clone();
                thread::spawn(move || serve(request, &answered, &events));
            }
        });
        Ok(RuntimeApi {
            address,
            answered,
            next_event,
        })
    }

    /// Queues the event the next `next` call gets.
    pub fn queue(&self, event: String) {
        let _ = self.next_event.send(event);
    }

    /// When the function answered, waiting up to `timeout`.
    pub fn answered(&self, timeout: std::time::Duration) -> Option<Instant> {
        self.answered.recv_timeout(timeout).ok()
    }
}

fn serve(
    mut request: tiny_http::Request,
    answered: &Sender<Instant>,
    events: &std::sync::Mutex<Receiver<String>>,
) {
    let url = request.url().to_owned();
    let header = |name: &str, value: &str| {
        tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
    };
    if url.ends_with("/runtime/invocation/next") {
        // Blocks until an event is queued: a function waiting for work, as in Lambda.
        let Ok(event) = events.lock().map(|rx| rx.recv()) else {
            return;
        };
        let Ok(event) = event else { return };
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis()
            + 30_000;
        let response = tiny_http::Response::from_string(event)
            .with_header(header("Lambda-Runtime-Aws-Request-Id", "bench-request"))
            .with_header(header("Lambda-Runtime-Deadline-Ms", &deadline.to_string()))
            .with_header(header(
                "Lambda-Runtime-Invoked-Function-Arn",
                "arn:aws:lambda:us-east-1:123456789012:function:bench",
            ))
            .with_header(header(
                "Lambda-Runtime-Trace-Id",
                "Root=1-00000000-000000000000000000000000",
            ))
            .with_header(header("Content-Type", "application/json"));
        let _ = request.respond(response);
    } else if url.contains("/runtime/invocation/") || url.ends_with("/runtime/init/error") {
        let _ = answered.send(Instant::now());
        let mut body = String::new();
        let _ = request.as_reader().read_to_string(&mut body);
        let _ = request.respond(tiny_http::Response::from_string("{}").with_status_code(202));
    } else {
        // An AWS call (DynamoDB GetItem): nothing there.
        let mut body = String::new();
        let _ = request.as_reader().read_to_string(&mut body);
        let _ = request.respond(
            tiny_http::Response::from_string("{}")
                .with_header(header("Content-Type", "application/x-amz-json-1.0"))
                .with_header(header("x-amzn-RequestId", "bench")),
        );
    }
}
