//! The request side on the in-memory ports: a retried attempt, a nudge that cannot be scheduled.

use hitl_core::TaskToken;

use std::task::Poll;

use crate::testing::{Call, Fault, World, key, measured, poll_once, request, run, settings};

const NOW: u64 = 1_750_000_000;
const ARN: &str = "arn:execution";

/// Attempt `attempt` of the task (its own token) asks for the approval.
fn attempt(world: &World, attempt: u32) -> Result<serde_json::Value, crate::Failure> {
    let requester = world.requester(settings(), false);
    let token = TaskToken::new(format!("token-{attempt}")).expect("a token");
    let approval = requester
        .new_approval(token, Some(attempt), &key(ARN), request(), NOW)
        .expect("an approval");
    run(world, 1, requester.request_approval(&approval, NOW)).expect("no crash")
}

#[test]
fn a_retried_attempt_takes_the_token_and_sends_only_what_is_missing() {
    let world = World::at(NOW);
    let requester = world.requester(settings(), false);
    let token = TaskToken::new("token-0").expect("a token");
    let approval = requester
        .new_approval(token, Some(0), &key(ARN), request(), NOW)
        .expect("an approval");
    // The first attempt sends the first reviewer's message, then the topic throttles.
    let mut first = std::pin::pin!(requester.request_approval(&approval, NOW));
    let published = |world: &World| world.with(|s| s.published.len());
    while published(&world) == 0 {
        assert!(poll_once(first.as_mut()).is_pending());
    }
    world.arm(Call::Publish, Fault::Throttle);
    let failed = loop {
        if let Poll::Ready(answer) = poll_once(first.as_mut()) {
            break answer.expect_err("the topic throttled");
        }
    };
    assert_eq!(failed.kind(), crate::Failure::TRANSIENT);
    assert_eq!(published(&world), 1);
    attempt(&world, 1).expect("the retry goes through");
    let reviewers: Vec<String> = world.with(|s| {
        s.published
            .iter()
            .map(|m| m.message.reviewer.clone())
            .collect()
    });
    assert_eq!(reviewers, ["ana@x.io", "ben@x.io", "cy@x.io"]);
    // Lambda retries the same attempt: nothing is sent twice, the token stays.
    attempt(&world, 1).expect("again");
    assert_eq!(published(&world), 3);
    let record = world
        .with(|s| s.approvals.values().next().cloned())
        .expect("stored");
    assert_eq!(record.task_token.expose(), "token-1");
    assert_eq!(record.attempt, Some(1));
    // A late attempt takes nothing back and sends nothing.
    attempt(&world, 0).expect("late");
    let record = world
        .with(|s| s.approvals.values().next().cloned())
        .expect("stored");
    assert_eq!(record.task_token.expose(), "token-1");
    assert_eq!(published(&world), 3);
}

#[test]
fn a_nudge_that_cannot_be_scheduled_never_fails_the_approval() {
    let world = World::at(NOW);
    world.arm(Call::CreateSchedule, Fault::Throttle);
    attempt(&world, 0).expect("the approval is requested all the same");
    let names: Vec<String> = world.with(|s| s.schedules.keys().cloned().collect());
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names[0].ends_with("-escalate"), "{names:?}");
    assert!(names[1].ends_with("-expiry"), "{names:?}");
    // A retry makes the missing one and leaves the made ones.
    attempt(&world, 1).expect("retried");
    assert_eq!(world.with(|s| s.schedules.len()), 3);
}

/// The channel links in what the shared channels got: the Slack webhook's text and the Teams
/// card's button.
fn channel_links(world: &World) -> Vec<String> {
    world.with(|s| {
        let slack = s.posts.iter().map(|p| p["text"].to_string());
        let teams = s.teams_posts.iter().map(|p| p.to_string());
        slack
            .chain(teams)
            .filter_map(|text| {
                let at = text.find("/approvals/")?;
                Some(text[at + "/approvals/".len()..][..26].to_owned())
            })
            .collect()
    })
}

/// With sign-in, the Slack webhook and Teams each carry a channel link of their own (stored
/// for any of the reviewers, never a personal one), each posted once whatever the retries;
/// without, neither carries a link.
#[test]
fn with_sign_in_the_shared_channels_carry_a_channel_link_each_once() {
    for sign_in in [true, false] {
        let world = World::at(NOW);
        let mut requester = world.requester(
            crate::Settings {
                sign_in,
                ..settings()
            },
            true,
        );
        requester.teams = Some(crate::testing::MemoryTeams(world.clone()));
        for attempt in [0, 0, 1] {
            let token = TaskToken::new(format!("token-{attempt}")).expect("a token");
            let approval = requester
                .new_approval(token, Some(attempt), &key(ARN), request(), NOW)
                .expect("an approval");
            run(&world, 1, requester.request_approval(&approval, NOW))
                .expect("no crash")
                .expect("requested");
        }
        assert_eq!(world.with(|s| (s.posts.len(), s.teams_posts.len())), (1, 1));
        let links = channel_links(&world);
        let record = world
            .with(|s| s.approvals.values().next().cloned())
            .unwrap();
        assert!(record.teams_sent_at.is_some());
        if !sign_in {
            assert!(links.is_empty(), "{links:?}");
            continue;
        }
        assert_eq!(links.len(), 2, "{links:?}");
        assert_ne!(links[0], links[1]);
        for link in &links {
            let key = hitl_core::LinkId::parse(link).expect("a link id").key();
            let item = world.with(|s| s.links.get(&key).cloned()).expect("stored");
            assert!(item.is_channel(), "{item:?}");
        }
    }
}

/// A Teams card that cannot be posted never fails the approval, and is not marked sent.
#[test]
fn a_teams_card_that_cannot_be_posted_never_fails_the_approval() {
    let world = World::at(NOW);
    let mut requester = world.requester(settings(), false);
    requester.teams = Some(crate::testing::MemoryTeams(world.clone()));
    world.arm(Call::TeamsPost, Fault::Throttle);
    let token = TaskToken::new("token-0").expect("a token");
    let approval = requester
        .new_approval(token, Some(0), &key(ARN), request(), NOW)
        .expect("an approval");
    run(&world, 1, requester.request_approval(&approval, NOW))
        .expect("no crash")
        .expect("requested all the same");
    let record = world
        .with(|s| s.approvals.values().next().cloned())
        .unwrap();
    assert!(record.teams_sent_at.is_none());
    assert_eq!(world.with(|s| s.published.len()), 3);
}

/// An approval is counted once, when it is first stored: a retried attempt that finds it is not
/// another.
#[test]
fn an_approval_is_counted_when_first_stored_and_not_again() {
    let world = World::at(NOW);
    let (_, first) = measured(|| attempt(&world, 0).expect("requested"));
    assert_eq!(first.count("ApprovalsRequested"), 1, "{first:?}");
    let (_, again) = measured(|| attempt(&world, 1).expect("the retry goes through"));
    assert_eq!(again.count("ApprovalsRequested"), 0, "{again:?}");
}
