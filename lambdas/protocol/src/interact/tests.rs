use hitl_core::{
    LinkId, Status,
    slack::{APPROVE, REASON_MODAL, REJECT},
    slack_signature::sign,
};
use serde_json::{Value, json};

use crate::testing::{Call, Execution, Fault, World, requested, run};

const NOW: u64 = 1_750_000_000;
const ARN: &str = "arn:execution";
const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

/// A world with the Slack app, users `U_ANA` (ana@x.io, a reviewer, her profile spelt
/// otherwise), `U_BEN` (ben@x.io) and `U_EVE` (eve@x.io, nobody's reviewer), and execution
/// `ARN` waiting for an approval whose message was posted.
fn slack_world(state_machine: bool, quorum: u32) -> World {
    let world = World::at(NOW);
    world.with(|s| {
        let slack = &mut s.system.slack;
        slack.app = true;
        slack.signing_secret = SECRET.into();
        for (id, email) in [
            ("U_ANA", "Ana@X.io"),
            ("U_BEN", "ben@x.io"),
            ("U_EVE", "eve@x.io"),
        ] {
            slack.users.insert(id.into(), email.into());
        }
        let mut execution = Execution::new(ARN, !state_machine, 600);
        execution.begin_attempt(NOW);
        s.system.executions.insert(ARN.to_owned(), execution);
    });
    let token = world.with(|s| s.executions[ARN].tokens[0].clone());
    requested(&world, ARN, token, NOW);
    if quorum > 1 {
        world.with(|s| {
            for a in s.system.approvals.values_mut() {
                a.quorum = quorum;
            }
        });
    }
    world
}

fn approval_id(world: &World) -> String {
    world
        .with(|s| s.approvals.keys().next().map(|id| id.as_str().to_owned()))
        .expect("an approval")
}

fn status(world: &World) -> Status {
    world
        .with(|s| s.approvals.values().next().map(|a| a.status))
        .expect("a record")
}

fn form(payload: &Value) -> Vec<u8> {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish()
        .into_bytes()
}

fn click(world: &World, user: &str, action: &str) -> Vec<u8> {
    form(&json!({
        "type": "block_actions", "user": {"id": user}, "trigger_id": "1.2.trigger",
        "channel": {"id": "C0123456789"},
        "actions": [{"action_id": action, "value": approval_id(world), "type": "button"}]
    }))
}

fn reason(world: &World, user: &str, text: &str) -> Vec<u8> {
    form(&json!({
        "type": "view_submission", "user": {"id": user},
        "view": {"callback_id": REASON_MODAL, "private_metadata": approval_id(world),
                 "state": {"values": {"reason": {"reason_input": {"value": text}}}}}
    }))
}

/// Delivers `body` signed as Slack signs it, `skew` seconds from now, as operation `by`.
fn deliver(world: &World, by: usize, body: &[u8]) -> (u16, String) {
    let ts = world.with(|s| s.now()).to_string();
    let signature = sign(SECRET.as_bytes(), &ts, body);
    let reviewer = world.reviewer(true);
    run(
        world,
        by,
        reviewer.interaction(Some(&ts), Some(&signature), body),
    )
    .expect("no crash")
}

fn told(world: &World, user: &str) -> Vec<String> {
    world.with(|s| {
        s.slack
            .told
            .iter()
            .filter(|(u, _)| u == user)
            .map(|(_, t)| t.clone())
            .collect()
    })
}

/// The request's message as it stands in the channel.
fn message(world: &World) -> String {
    world
        .with(|s| s.slack.messages.values().next().map(Value::to_string))
        .expect("a message")
}

#[test]
fn a_reviewer_approves_in_slack_as_himself_and_the_message_shows_it() {
    for state_machine in [true, false] {
        let world = slack_world(state_machine, 1);
        assert!(message(&world).contains(APPROVE), "buttons while open");
        let (code, body) = deliver(&world, 2, &click(&world, "U_ANA", APPROVE));
        assert_eq!((code, body.as_str()), (200, ""));
        assert_eq!(status(&world), Status::Approved);
        let by = world.with(|s| {
            s.approvals
                .values()
                .next()
                .and_then(|a| a.decided_by.clone())
        });
        assert_eq!(by.as_deref(), Some("ana@x.io"), "the record's spelling");
        assert!(world.with(|s| s.executions[ARN].accepted.is_some()));
        let shown = message(&world);
        assert!(
            !shown.contains(APPROVE) && shown.contains("Approved* by ana@x.io"),
            "{shown}"
        );
        assert_eq!(
            told(&world, "U_ANA"),
            ["You approved the request; the workflow goes on."]
        );
        // A second click (or a retried delivery) decides nothing twice.
        deliver(&world, 3, &click(&world, "U_BEN", APPROVE));
        assert!(told(&world, "U_BEN")[0].contains("approved already by ana@x.io"));
        assert_eq!(world.with(|s| s.resumes.len()), 1);
    }
}

#[test]
fn someone_who_is_not_a_reviewer_is_told_so_and_nothing_is_recorded() {
    let world = slack_world(true, 1);
    let before = world.with(|s| (s.approvals.clone(), s.resumes.clone()));
    deliver(&world, 2, &click(&world, "U_EVE", APPROVE));
    assert_eq!(told(&world, "U_EVE").len(), 1);
    assert!(told(&world, "U_EVE")[0].contains("not a reviewer"));
    // Reject opens the modal at once (Slack's trigger lasts 3 s); its submission is refused
    // under the reason, and the modal stays open.
    deliver(&world, 3, &click(&world, "U_EVE", REJECT));
    assert_eq!(world.with(|s| s.slack.modals.len()), 1);
    let (code, body) = deliver(&world, 4, &reason(&world, "U_EVE", "no"));
    assert_eq!(code, 200);
    assert!(
        body.contains("response_action") && body.contains("not a reviewer"),
        "{body}"
    );
    assert_eq!(
        world.with(|s| (s.approvals.clone(), s.resumes.clone())),
        before
    );
}

#[test]
fn reject_on_a_decided_request_opens_no_modal_and_says_how_it_ended() {
    let world = slack_world(true, 1);
    deliver(&world, 2, &click(&world, "U_ANA", APPROVE));
    deliver(&world, 3, &click(&world, "U_BEN", REJECT));
    assert!(world.with(|s| s.slack.modals.is_empty()));
    assert!(told(&world, "U_BEN")[0].contains("approved already by ana@x.io"));
}

#[test]
fn unsigned_forged_stale_or_altered_requests_are_refused_before_anything_is_read() {
    let world = slack_world(true, 1);
    let body = click(&world, "U_ANA", APPROVE);
    let ts = NOW.to_string();
    let good = sign(SECRET.as_bytes(), &ts, &body);
    let stale_ts = (NOW - 301).to_string();
    let stale = sign(SECRET.as_bytes(), &stale_ts, &body);
    let forged = sign(b"another secret", &ts, &body);
    let mut altered = body.clone();
    altered.extend_from_slice(b"&x=1");
    let reviewer = world.reviewer(true);
    let cases: [(Option<&str>, Option<&str>, &[u8]); 5] = [
        (None, None, &body),
        (Some(&ts), None, &body),
        (Some(&stale_ts), Some(&stale), &body),
        (Some(&ts), Some(&forged), &body),
        (Some(&ts), Some(&good), &altered),
    ];
    let calls = world.with(|s| s.slack.clone());
    for (timestamp, signature, body) in cases {
        let answer = run(&world, 2, reviewer.interaction(timestamp, signature, body));
        assert_eq!(answer, Some((401, String::new())));
    }
    assert_eq!(status(&world), Status::Pending);
    assert_eq!(
        world.with(|s| s.slack.clone()),
        calls,
        "no Slack call, nobody told"
    );
}

#[test]
fn reject_asks_the_reason_in_a_modal_and_its_submission_rejects_with_it() {
    for state_machine in [true, false] {
        let world = slack_world(state_machine, 1);
        deliver(&world, 2, &click(&world, "U_BEN", REJECT));
        assert_eq!(
            status(&world),
            Status::Pending,
            "a click on Reject only asks why"
        );
        let modal = world.with(|s| s.slack.modals.clone());
        assert_eq!(modal.len(), 1);
        assert_eq!(modal[0]["private_metadata"], approval_id(&world).as_str());
        let (code, body) = deliver(&world, 3, &reason(&world, "U_BEN", ""));
        assert_eq!(code, 200);
        assert!(body.contains("\"response_action\":\"errors\""), "{body}");
        let (code, body) = deliver(&world, 4, &reason(&world, "U_BEN", "over budget"));
        assert_eq!((code, body.as_str()), (200, ""));
        let record = world
            .with(|s| s.approvals.values().next().cloned())
            .expect("a record");
        assert_eq!(
            (record.status, record.comment.as_deref()),
            (Status::Rejected, Some("over budget"))
        );
        assert!(message(&world).contains("over budget"));
    }
}

#[test]
fn a_vote_in_slack_and_one_by_email_meet_the_quorum_and_each_counts_once() {
    let world = slack_world(false, 2);
    deliver(&world, 2, &click(&world, "U_ANA", APPROVE));
    assert_eq!(status(&world), Status::Pending);
    assert!(
        told(&world, "U_ANA")[0].contains("counted; 1 of 2"),
        "{:?}",
        told(&world, "U_ANA")
    );
    assert!(
        message(&world).contains("1 of 2 needed"),
        "{}",
        message(&world)
    );
    // Ana again, through her email's link: she voted already.
    let ana = link_of(&world, "ana@x.io");
    let reviewer = world.reviewer(false);
    let (code, _) = run(&world, 3, reviewer.post(&ana, b"decision=approve")).expect("no crash");
    assert_eq!(code, 409);
    let ben = link_of(&world, "ben@x.io");
    let (code, _) = run(&world, 4, reviewer.post(&ben, b"decision=approve")).expect("no crash");
    assert_eq!(code, 200);
    assert_eq!(status(&world), Status::Approved);
    assert!(
        message(&world).contains("Approved* by ben@x.io"),
        "updated after an email decision"
    );
}

/// The link id in the first message to `reviewer`.
fn link_of(world: &World, reviewer: &str) -> LinkId {
    let body = world.with(|s| {
        s.published
            .iter()
            .find(|p| p.message.reviewer == reviewer)
            .map(|p| p.message.body.clone())
    });
    let id = body
        .as_deref()
        .and_then(|b| b.split("/approvals/").nth(1))
        .and_then(|r| r.get(..26));
    id.and_then(LinkId::parse).expect("a link")
}

#[test]
fn a_slack_failure_never_loses_a_decision_and_says_what_happened() {
    let world = slack_world(true, 1);
    // users.info throttled: nothing recorded, and the user is told to try again.
    world.arm(Call::Slack, Fault::Throttle);
    deliver(&world, 2, &click(&world, "U_ANA", APPROVE));
    assert_eq!(status(&world), Status::Pending);
    assert!(
        told(&world, "U_ANA")[0].contains("try again"),
        "{:?}",
        told(&world, "U_ANA")
    );
    // The decision made, then chat.update times out: the decision stands, the user is told.
    world.arm(Call::ChatUpdate, Fault::Timeout);
    let (code, _) = deliver(&world, 3, &click(&world, "U_ANA", APPROVE));
    assert_eq!(code, 200);
    assert_eq!(status(&world), Status::Approved);
    assert!(told(&world, "U_ANA")[1].contains("You approved"));
    assert!(world.with(|s| s.fired.iter().any(|f| f.call == Call::ChatUpdate)));
}

#[test]
fn the_expiry_and_the_reminders_reach_the_message_and_its_thread() {
    let world = slack_world(true, 1);
    let id = approval_id(&world);
    let schedules = world.with(|s| s.schedules.keys().cloned().collect::<Vec<_>>());
    assert!(schedules.contains(&format!("{id}-chat")), "{schedules:?}");
    world.with(|s| s.now_millis += 120_000);
    let messenger = world.messenger(crate::testing::settings());
    let sent = run(&world, 2, messenger.nudge(&id, hitl_core::Nudge::Remind)).expect("no crash");
    assert_eq!(sent, Ok(3));
    let threads = world.with(|s| s.slack.threads.clone());
    assert_eq!(threads.len(), 1);
    assert!(
        threads[0].1["text"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Reminder:")
    );
    world.with(|s| s.now_millis += 600_000);
    let executions = world.reviewer(true).orchestrator;
    let expiry = run(&world, 3, messenger.expiry(&id, &executions)).expect("no crash");
    let closed_and_updated = crate::Expiry {
        closed: true,
        updated: true,
        ..Default::default()
    };
    assert_eq!(expiry, Ok(closed_and_updated));
    let shown = message(&world);
    assert!(
        shown.contains("Expired") && !shown.contains(APPROVE),
        "{shown}"
    );
}
