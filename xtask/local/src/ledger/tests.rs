use super::*;

/// A call of `trace` with the SDK operation `operation_id`, received at `stamp`.
fn attempt(operation_id: &str, trace: &str, body: &[u8], stamp: u64) -> Attempt {
    let trace = Some(trace).filter(|t| !t.is_empty());
    let call = Some(("dynamodb UpdateItem", body));
    Attempt::of(Some(operation_id), trace, call, stamp)
}

fn fault(kind: Kind, operation_id: &str, trace: &str, stamp: u64) -> Injected {
    Injected {
        stack: Some("e2e".to_owned()),
        function: "e2e-review".to_owned(),
        service: "dynamodb".to_owned(),
        operation: "DynamoDB_20120810.UpdateItem".to_owned(),
        kind,
        attempt: attempt(operation_id, trace, b"{}", stamp),
        made: false,
    }
}

fn accounts(ledger: &Ledger, log: &str) -> Vec<Account> {
    let ends = ends_in_log(log);
    ledger
        .accounts(Some("e2e"), &ends)
        .into_iter()
        .map(|(_, account)| account)
        .collect()
}

const LOG: &str = r#" WARN Lambda runtime invoke{requestId="r-1" xrayTraceId="Root=1-a-1;Parent=p;Sampled=1"}: answered with a server error xray_trace_id=Root=1-a-1;Parent=p;Sampled=1 status=503
 WARN Lambda runtime invoke{requestId="r-2" xrayTraceId="Root=1-a-2;Parent=p;Sampled=1"}: slack mark failed error=the invocation failed
ERROR Lambda runtime invoke{requestId="r-3" xrayTraceId="Root=1-a-3;Parent=p;Sampled=1"}: the invocation failed xray_trace_id=Root=1-a-3;Parent=p;Sampled=1 error=Throttling
{"_aws":{"Timestamp":1}}
 WARN durable_execution{executionArn="e/1" requestId="r-5" isReplay=false}: the step failed and is tried again xray_trace_id=Root=1-a-5;Parent=p;Sampled=1 attempt=1 delay=1s error=execution
failed on two lines
ERROR durable_execution{executionArn="e/1" requestId="r-6" isReplay=false}: the step failed for good xray_trace_id=Root=1-a-6;Parent=p;Sampled=1 attempt=4 error=Throttling
ERROR Lambda runtime invoke{requestId="r-7" xrayTraceId="Root=1-a-7;Parent=p;Sampled=1"}: user handler panicked error=Any
"#;

#[test]
fn a_fault_is_retried_once_the_service_answered_a_later_attempt_of_its_operation() {
    let ledger = Ledger::default();
    ledger.injected(fault(Kind::Throttle, "op-1", "1-a-9", 10));
    ledger.injected(fault(Kind::Error, "op-2", "1-a-9", 11));
    // Another operation's answer, and an answer to an attempt made before the fault, retry
    // nothing.
    ledger.answered(&attempt("op-3", "1-a-8", b"{}", 12));
    ledger.answered(&attempt("op-2", "1-a-9", b"{}", 9));
    assert_eq!(
        accounts(&ledger, LOG),
        [Account::Unaccounted, Account::Unaccounted]
    );
    ledger.answered(&attempt("op-1", "1-a-9", b"{}", 13));
    ledger.answered(&attempt("op-2", "1-a-9", b"{}", 14));
    assert_eq!(accounts(&ledger, LOG), [Account::Retried, Account::Retried]);
    // A fault of a later attempt, given up on, is not retried by the answer before it.
    ledger.injected(fault(Kind::Throttle, "op-1", "1-a-9", 15));
    assert_eq!(accounts(&ledger, LOG)[2], Account::Unaccounted);
}

#[test]
fn the_functions_own_retry_is_the_same_call_in_the_same_invocation() {
    let ledger = Ledger::default();
    ledger.injected(fault(Kind::Throttle, "op-1", "1-a-9", 1));
    // The same call in another invocation, or another call in this one, is not its retry.
    ledger.answered(&attempt("op-2", "1-a-8", b"{}", 2));
    ledger.answered(&attempt("op-3", "1-a-9", b"{\"other\":1}", 3));
    assert_eq!(accounts(&ledger, LOG), [Account::Unaccounted]);
    ledger.answered(&attempt("op-4", "1-a-9", b"{}", 4));
    assert_eq!(accounts(&ledger, LOG), [Account::Retried]);
    // Sent again with a map's entries in another order, it is the same call.
    let [first, again] = [
        br#"{"Key":{"pk":{"S":"a"}},"Values":{":a":{"N":"1"},":b":{"S":"x"}}}"#.as_slice(),
        br#"{"Values":{":b":{"S":"x"},":a":{"N":"1"}},"Key":{"pk":{"S":"a"}}}"#,
    ];
    let call = |id, body| attempt(id, "1-a-9", body, 1).call;
    assert_eq!(call("1", first), call("2", again));
    let [first, again] = [
        b"Action=Publish&a=1&b=2".as_slice(),
        b"b=2&Action=Publish&a=1",
    ];
    assert_eq!(call("1", first), call("2", again));
    assert_ne!(call("1", b"a=1"), call("1", b"a=2"));
    // Not followed, a call has no digest.
    assert_eq!(Attempt::of(Some("1"), Some("1-a-9"), None, 1).call, None);
}

#[test]
fn a_lost_answer_is_accounted_for_only_when_the_service_made_the_call() {
    let ledger = Ledger::default();
    ledger.injected(Injected {
        made: true,
        ..fault(Kind::Lost, "op-1", "1-a-9", 1)
    });
    ledger.injected(fault(Kind::Lost, "op-2", "1-a-9", 2));
    // The lost call's own answer is no later attempt.
    ledger.answered(&attempt("op-2", "1-a-9", b"{}", 2));
    assert_eq!(
        accounts(&ledger, LOG),
        [Account::Made, Account::Unaccounted]
    );
}

#[test]
fn a_fault_given_up_on_shows_only_in_the_metric_of_its_own_invocations_end() {
    let ledger = Ledger::default();
    // 1-a-1 answered a 503, 1-a-2 only logged a failure, 1-a-3 failed, 1-a-4 logged nothing,
    // 1-a-5's step is tried again, 1-a-6's failed for good, 1-a-7 panicked.
    let traces = [
        "1-a-1", "1-a-2", "1-a-3", "1-a-4", "1-a-5", "1-a-6", "1-a-7",
    ];
    for trace in traces {
        ledger.injected(fault(Kind::Error, &format!("op-{trace}"), trace, 1));
    }
    use Account::*;
    let expected = [
        Api5xx,
        Unaccounted,
        FunctionErrors,
        Unaccounted,
        StepRetried,
        ExecutionsFailed,
        FunctionErrors,
    ];
    assert_eq!(accounts(&ledger, LOG), expected);
    // A crash is a function error; another stack's faults are not this stack's.
    ledger.injected(Injected {
        attempt: Attempt::default(),
        ..fault(Kind::Crash, "x", "", 1)
    });
    ledger.injected(Injected {
        stack: Some("other".to_owned()),
        ..fault(Kind::Error, "op-1-a-3", "1-a-3", 1)
    });
    assert_eq!(accounts(&ledger, LOG).len(), 8);
    assert_eq!(accounts(&ledger, LOG)[7], FunctionErrors);
    assert_eq!(ledger.accounts(None, &HashMap::new()).len(), 9);
}

#[test]
fn a_schedules_invoke_given_up_on_is_in_its_dead_letter_queue() {
    let ledger = Ledger::default();
    let schedule = |stamp| Attempt::of(Some("schedule/a-expiry"), None, None, stamp);
    let injected = |stamp| Injected {
        attempt: schedule(stamp),
        ..fault(Kind::Throttle, "x", "", stamp)
    };
    ledger.injected(injected(1));
    assert_eq!(accounts(&ledger, ""), [Account::Unaccounted]);
    ledger.dead_lettered(&schedule(2));
    assert_eq!(accounts(&ledger, ""), [Account::DeadLetter]);
    let delivered = Ledger::default();
    delivered.injected(injected(1));
    delivered.answered(&schedule(2));
    assert_eq!(accounts(&delivered, ""), [Account::Retried]);
}

#[test]
fn only_the_services_own_answers_count_as_answers() {
    let reply = |status, headers: &[(&str, &str)]| {
        let headers = headers.iter().map(|(n, v)| crate::reply::header(n, *v));
        (status, headers.collect(), Vec::new())
    };
    assert!(is_answer(&reply(200, &[])));
    assert!(is_answer(&reply(
        400,
        &[("x-amzn-ErrorType", "ConditionalCheckFailedException")]
    )));
    assert!(!is_answer(&reply(
        400,
        &[("x-amzn-ErrorType", "ThrottlingException")]
    )));
    assert!(!is_answer(&reply(429, &[])));
    assert!(!is_answer(&reply(503, &[])));
    assert!(!is_answer(&reply(
        200,
        &[("X-Amz-Function-Error", "Unhandled")]
    )));
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
    assert_eq!(ends.len(), 5);
    assert_eq!(ends["1-a-1"], Account::Api5xx);
    assert_eq!(ends["1-a-3"], Account::FunctionErrors);
    assert_eq!(ends["1-a-5"], Account::StepRetried);
}

#[test]
fn a_fault_in_an_invocation_the_router_cut_shows_as_its_caller_saw_it_unless_its_log_says() {
    let ledger = Ledger::default();
    ledger.injected(fault(Kind::Throttle, "op-1", "1-c-1", 1));
    ledger.injected(fault(Kind::Throttle, "op-2", "1-c-2", 2));
    ledger.injected(fault(Kind::Throttle, "op-3", "1-a-3", 3));
    ledger.injected(fault(Kind::Throttle, "op-4", "1-c-4", 4));
    let (none, failed) = (Account::Unaccounted, Account::FunctionErrors);
    assert_eq!(accounts(&ledger, LOG), [none, none, failed, none]);
    ledger.cut("1-c-1", Account::FunctionErrors);
    ledger.cut("1-c-2", Account::Api5xx);
    // The function's own line wins: it failed.
    ledger.cut("1-a-3", Account::Api5xx);
    assert_eq!(
        accounts(&ledger, LOG),
        [
            Account::FunctionErrors,
            Account::Api5xx,
            Account::FunctionErrors,
            Account::Unaccounted
        ]
    );
}
