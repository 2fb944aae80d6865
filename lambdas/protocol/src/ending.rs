//! The message every reviewer gets when an approval ends. The state machine publishes it with
//! its own `sns:publish` tasks; a durable workflow publishes it through [`announce`].

use hitl_core::{ApprovalRequest, Ending, ending_for_everyone};

use crate::{failure::Failure, ports::Notifier};

/// Publishes the ending of `request` to every reviewer (the `reviewer` attribute
/// `hitl_core::EVERYONE`, which every subscription's filter policy lets through).
pub async fn announce(
    notifier: &impl Notifier,
    request: &ApprovalRequest,
    ending: Ending<'_>,
) -> Result<(), Failure> {
    notifier
        .publish(&ending_for_everyone(request, ending))
        .await
        .map_err(Failure::transient)
}
