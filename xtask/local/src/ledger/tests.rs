use super::*;

fn fault(kind: Kind, operation_id: &str, trace: &str) -> Injected {
    Injected {
        stack: Some("e2e".to_owned()),
        function: "e2e-review".to_owned(),
        service: "dynamodb".to_owned(),
        operation: "DynamoDB_20120810.UpdateItem".to_owned(),
        kind,
        attempt: attempt(operation_id, trace, b"{}"),
        made: false,
    }
}

fn attempt(operation_id: &str, trace: &str, body: &[u8]) -> Attempt {
    let trace = Some(trace).filter(|t| !t.is_empty());
    Attempt::of(Some(operation_id), trace, "dynamodb UpdateItem", body)
}

fn accounts(ledger: &Ledger, log: &str) -> Vec<Account> {
    let ends = ends_in_log(log);
    ledger
        .accounts(Some("e2e"), &ends)
        .into_iter()
        .map(|(_, account)| account)
        .collect()
}

const LOG: &str = r#" WARN Lambda runtime invoke{requestId="r-1" xrayTraceId="Root=1-a-1;Parent=p;Sampled=1"}: answered with a server error status=503
 WARN Lambda runtime invoke{requestId="r-2" xrayTraceId="Root=1-a-2;Parent=p;Sampled=1"}: slack mark failed error=the invocation failed
ERROR Lambda runtime invoke{requestId="r-3" xrayTraceId="Root=1-a-3;Parent=p;Sampled=1"}: the invocation failed error=Throttling
{"_aws":{"Timestamp":1}}
 WARN durable_execution{executionArn="e/1" requestId="r-5" isReplay=false}: the step failed and is tried again error=execution failed attempt=1 delay=1s xray_trace_id=Root=1-a-5;Parent=p;Sampled=1
"#;

#[test]
fn a_fault_is_retried_once_the_service_answered_a_later_attempt_of_its_operation() {
    let ledger = Ledger::default();
    ledger.injected(fault(Kind::Throttle, "op-1", "1-a-9"));
    ledger.injected(fault(Kind::Error, "op-2", "1-a-9"));
    // Another operation's answer, and the service's own server error, retry nothing.
    ledger.answered(&attempt("op-3", "1-a-8", b"{}"), 200);
    ledger.answered(&attempt("op-2", "1-a-9", b"{}"), 500);
    assert_eq!(
        accounts(&ledger, LOG),
        [Account::Unaccounted, Account::Unaccounted]
    );
    // A refusal (a failed condition) is the service's answer.
    ledger.answered(&attempt("op-1", "1-a-9", b"{}"), 200);
    ledger.answered(&attempt("op-2", "1-a-9", b"{}"), 400);
    assert_eq!(accounts(&ledger, LOG), [Account::Retried, Account::Retried]);
}

#[test]
fn the_functions_own_retry_is_the_same_call_in_the_same_invocation() {
    let ledger = Ledger::default();
    ledger.injected(fault(Kind::Throttle, "op-1", "1-a-9"));
    // The same call in another invocation, or another call in this one, is not its retry.
    ledger.answered(&attempt("op-2", "1-a-8", b"{}"), 200);
    ledger.answered(&attempt("op-3", "1-a-9", b"{\"other\":1}"), 200);
    assert_eq!(accounts(&ledger, LOG), [Account::Unaccounted]);
    ledger.answered(&attempt("op-4", "1-a-9", b"{}"), 200);
    assert_eq!(accounts(&ledger, LOG), [Account::Retried]);
    // Sent again with a map's entries in another order, it is the same call.
    let [first, again] = [
        br#"{"Key":{"pk":{"S":"a"}},"Values":{":a":{"N":"1"},":b":{"S":"x"}}}"#.as_slice(),
        br#"{"Values":{":b":{"S":"x"},":a":{"N":"1"}},"Key":{"pk":{"S":"a"}}}"#,
    ];
    assert_eq!(
        attempt("1", "1-a-9", first).call,
        attempt("2", "1-a-9", again).call
    );
    let [first, again] = [
        b"Action=Publish&a=1&b=2".as_slice(),
        b"b=2&Action=Publish&a=1",
    ];
    assert_eq!(
        attempt("1", "1-a-9", first).call,
        attempt("2", "1-a-9", again).call
    );
    assert_ne!(
        attempt("1", "1-a-9", b"a=1").call,
        attempt("1", "1-a-9", b"a=2").call
    );
}

#[test]
fn a_lost_answer_is_accounted_for_only_when_the_service_made_the_call() {
    let ledger = Ledger::default();
    ledger.injected(Injected {
        made: true,
        ..fault(Kind::Lost, "op-1", "1-a-9")
    });
    ledger.injected(fault(Kind::Lost, "op-2", "1-a-9"));
    assert_eq!(
        accounts(&ledger, LOG),
        [Account::Made, Account::Unaccounted]
    );
}

#[test]
fn a_fault_given_up_on_shows_only_in_the_metric_of_its_own_invocations_end() {
    let ledger = Ledger::default();
    // 1-a-1 answered a 503, 1-a-2 only logged a failure, 1-a-3 failed; 1-a-4 logged nothing.
    for trace in ["1-a-1", "1-a-2", "1-a-3", "1-a-4"] {
        ledger.injected(fault(Kind::Error, &format!("op-{trace}"), trace));
    }
    assert_eq!(
        accounts(&ledger, LOG),
        [
            Account::Api5xx,
            Account::Unaccounted,
            Account::FunctionErrors,
            Account::Unaccounted
        ]
    );
    // A crash is a function error; another stack's faults are not this stack's.
    ledger.injected(Injected {
        attempt: Attempt::default(),
        ..fault(Kind::Crash, "x", "")
    });
    ledger.injected(Injected {
        stack: Some("other".to_owned()),
        ..fault(Kind::Error, "op-1-a-3", "1-a-3")
    });
    assert_eq!(accounts(&ledger, LOG).len(), 5);
    assert_eq!(accounts(&ledger, LOG)[4], Account::FunctionErrors);
    assert_eq!(ledger.accounts(None, &HashMap::new()).len(), 6);
}

#[test]
fn trace_roots_and_the_ends_of_a_log_are_read_as_the_runtime_and_the_wrapper_write_them() {
    assert_eq!(
        trace_root("Root=1-6b15-85da;Parent=a572;Sampled=1"),
        Some("1-6b15-85da")
    );
    assert_eq!(trace_root("Parent=a572;Sampled=1"), None);
    assert_eq!(trace_root("Root=;Sampled=1"), None);
    let ends = ends_in_log(LOG);
    assert_eq!(ends.len(), 3);
    assert_eq!(ends["1-a-1"], Account::Api5xx);
    assert_eq!(ends["1-a-3"], Account::FunctionErrors);
    assert_eq!(ends["1-a-5"], Account::StepRetried);
}
