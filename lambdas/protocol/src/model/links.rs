//! What reviewers were sent, as the model reads it back from the topic and the chat: each
//! message's kind, its link, and the approval and reviewer the link opens.

use hitl_core::{ApprovalId, EVERYONE, LinkId};

use crate::testing::{Published, State};

/// A link someone was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub link: LinkId,
    pub reviewer: String,
    pub approval: ApprovalId,
}

/// What a message is, by its subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Request,
    Reminder,
    Escalation,
    Ending,
}

/// The kind of `message`.
pub fn kind(message: &Published) -> Kind {
    let subject = &message.message.subject;
    if message.message.reviewer == EVERYONE {
        Kind::Ending
    } else if subject.starts_with("Reminder: ") {
        Kind::Reminder
    } else if subject.starts_with("Escalated: ") {
        Kind::Escalation
    } else {
        Kind::Request
    }
}

/// The link ids in `text` (`…/approvals/<id>`).
fn link_ids(text: &str) -> Vec<LinkId> {
    text.split("/approvals/")
        .skip(1)
        .filter_map(|rest| LinkId::parse(rest.get(..26)?))
        .collect()
}

/// The link of `message` and what it opens (`None` for an ending, which has none).
pub fn link_of(state: &State, message: &Published) -> Option<Delivered> {
    let link = link_ids(&message.message.body).into_iter().next()?;
    let item = state.links.get(&link.key())?;
    Some(Delivered {
        link,
        reviewer: item.reviewer.clone(),
        approval: item.approval_id.clone(),
    })
}

/// Every link sent so far, read as it goes out: each message and post once.
#[derive(Default)]
pub struct Sent {
    /// By the topic and the chat, in the order they went out.
    pub links: Vec<Delivered>,
    /// Each message's link (an ending has none), in the order of the topic's messages.
    pub of_message: Vec<Option<Delivered>>,
    posts: usize,
}

impl Sent {
    /// Reads what went out since the last call.
    pub fn update(&mut self, state: &State) {
        for message in &state.published[self.of_message.len()..] {
            let link = link_of(state, message);
            self.links.extend(link.clone());
            self.of_message.push(link);
        }
        for post in &state.posts[self.posts..] {
            for link in link_ids(post["text"].as_str().unwrap_or_default()) {
                if let Some(item) = state.links.get(&link.key()) {
                    self.links.push(Delivered {
                        link,
                        reviewer: item.reviewer.clone(),
                        approval: item.approval_id.clone(),
                    });
                }
            }
        }
        self.posts = state.posts.len();
    }
}
