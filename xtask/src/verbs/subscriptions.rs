//! The reviewers' email subscriptions: the confirmation link's parts (`cargo xtask confirm`)
//! and each configured reviewer's state (`cargo xtask status`).
//!
//! SNS puts a one-click unsubscribe link (a GET) into every email. Link scanners follow links,
//! so a reviewer can stop receiving approvals without anyone noticing. A subscription confirmed
//! with `AuthenticateOnUnsubscribe=true` can only be unsubscribed by a signed request of the
//! topic's or the subscription's owner (ConfirmSubscription, Amazon SNS API reference); the
//! confirmation link clicked in the email confirms without it.

use anyhow::{Result, bail};

use hitl_aws::describe;
use kit_aws::Aws;

/// What a confirmation link carries: `TopicArn` and `Token` (and the `Endpoint` it confirms).
#[derive(Debug, PartialEq, Eq)]
pub struct Confirmation {
    pub topic_arn: String,
    pub token: String,
    pub endpoint: Option<String>,
}

/// Reads SNS's confirmation link: `https://sns.<region>.amazonaws.com/confirmation.html?
/// TopicArn=…&Token=…&Endpoint=…` as the email has it, or the API form
/// `…/?Action=ConfirmSubscription&TopicArn=…&Token=…`.
pub fn parse_link(link: &str) -> Result<Confirmation> {
    let link = link.trim();
    let Some((_, query)) = link.split_once('?') else {
        bail!("`{link}` has no query: paste the whole link from the confirmation email");
    };
    let (mut topic_arn, mut token, mut endpoint) = (None, None, None);
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "TopicArn" => topic_arn = Some(value.into_owned()),
            "Token" => token = Some(value.into_owned()),
            "Endpoint" => endpoint = Some(value.into_owned()),
            _ => {}
        }
    }
    let (Some(topic_arn), Some(token)) = (topic_arn, token) else {
        bail!(
            "the link has no TopicArn and Token: paste the \"Confirm subscription\" link from \
             the email AWS Notifications sent"
        );
    };
    if !topic_arn.starts_with("arn:") || topic_arn.split(':').count() != 6 {
        bail!("the link's TopicArn `{topic_arn}` is not a topic ARN");
    }
    Ok(Confirmation {
        topic_arn,
        token,
        endpoint,
    })
}

/// A configured reviewer's email subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Subscribed, not confirmed yet: he gets nothing until it is.
    Pending,
    /// Confirmed; `authenticated` when unsubscribing needs AWS credentials (`None`: SNS would
    /// not say).
    Confirmed { authenticated: Option<bool> },
    /// No subscription (unsubscribed, or never made): he gets nothing.
    Gone,
}

impl State {
    pub fn describe(self) -> &'static str {
        match self {
            Self::Pending => {
                "pending confirmation: paste the link of AWS's confirmation email into `cargo xtask confirm --env <env> '<link>'`"
            }
            Self::Confirmed {
                authenticated: Some(true),
            } => "confirmed (unsubscribing needs AWS credentials)",
            Self::Confirmed {
                authenticated: Some(false),
            } => "confirmed by a click (the one-click unsubscribe link in every email works)",
            Self::Confirmed {
                authenticated: None,
            } => "confirmed (whether unsubscribing needs credentials: SNS did not say)",
            Self::Gone => {
                "gone: no subscription, gets nothing (unsubscribed?); remove him from the config, deploy, add him back and deploy"
            }
        }
    }
}

/// An email subscription as SNS lists it.
pub struct Listed {
    pub endpoint: String,
    /// `PendingConfirmation` until confirmed.
    pub arn: String,
    /// `ConfirmationWasAuthenticated`; `None` when SNS would not say.
    pub authenticated: Option<bool>,
}

/// Each reviewer's state, from the topic's email subscriptions.
pub fn states(reviewers: &[String], listed: &[Listed]) -> Vec<(String, State)> {
    reviewers
        .iter()
        .map(|reviewer| {
            let mine: Vec<&Listed> = listed
                .iter()
                .filter(|l| l.endpoint.eq_ignore_ascii_case(reviewer))
                .collect();
            let state = if let Some(confirmed) = mine.iter().find(|l| l.arn.starts_with("arn:")) {
                State::Confirmed {
                    authenticated: confirmed.authenticated,
                }
            } else if mine.is_empty() {
                State::Gone
            } else {
                State::Pending
            };
            (reviewer.clone(), state)
        })
        .collect()
}

/// The environment's topic: its physical id, read from the stack's resource when the outputs
/// lack it (a stack moto made from a change set has no outputs; every stack has resources).
pub async fn topic_arn(
    aws: &Aws,
    deployed: &kit_deploy::stack::Deployed,
    stack: &str,
) -> Option<String> {
    resource(aws, deployed, stack, ("TopicArn", "Topic")).await
}

/// A resource's physical id: the stack's output `output`, else the resource `logical_id`.
pub async fn resource(
    aws: &Aws,
    deployed: &kit_deploy::stack::Deployed,
    stack: &str,
    (output, logical_id): (&str, &str),
) -> Option<String> {
    if let Some(value) = deployed.output(output) {
        return Some(value.to_owned());
    }
    aws.cloudformation()
        .describe_stack_resource()
        .stack_name(stack)
        .logical_resource_id(logical_id)
        .send()
        .await
        .ok()
        .and_then(|o| o.stack_resource_detail?.physical_resource_id)
}

/// The topic's email subscriptions.
pub async fn list(aws: &Aws, topic_arn: &str) -> Result<Vec<Listed>> {
    let sns = aws.sns();
    let mut listed = Vec::new();
    let mut pages = sns
        .list_subscriptions_by_topic()
        .topic_arn(topic_arn)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| anyhow::anyhow!("cannot list subscriptions: {}", describe(&e)))?;
        for subscription in page.subscriptions.unwrap_or_default() {
            if subscription.protocol.as_deref() != Some("email") {
                continue;
            }
            let arn = subscription.subscription_arn.unwrap_or_default();
            let authenticated = if arn.starts_with("arn:") {
                sns.get_subscription_attributes()
                    .subscription_arn(&arn)
                    .send()
                    .await
                    .ok()
                    .and_then(|out| out.attributes)
                    .and_then(|a| {
                        a.get("ConfirmationWasAuthenticated")
                            .map(|v| v.as_str() == "true")
                    })
            } else {
                Some(false)
            };
            listed.push(Listed {
                endpoint: subscription.endpoint.unwrap_or_default(),
                arn,
                authenticated,
            });
        }
    }
    Ok(listed)
}

/// `cargo xtask confirm <link>`: confirms the subscription of a confirmation link with
/// `AuthenticateOnUnsubscribe`, for the environment's own topic only.
pub fn confirm(global: &crate::cli::Global, link: &str) -> Result<()> {
    let confirmation = parse_link(link)?;
    let effective = crate::kit::effective(global, &[])?;
    let runtime = crate::runtime::new()?;
    let arn = runtime.block_on(async {
        let aws = super::outputs::connect(&effective).await?;
        let name = effective.stack_name.as_str();
        let Some(deployed) = kit_deploy::stack::find(&aws.cloudformation(), name).await? else {
            bail!(
                "{name} is not deployed in {}: `cargo xtask deploy --env {}` first",
                aws.region(),
                effective.environment
            );
        };
        let topic = topic_arn(&aws, &deployed, name).await.unwrap_or_default();
        if topic != confirmation.topic_arn {
            bail!(
                "the link confirms a subscription to {}, not to {name}'s topic {topic}: pass the \
                 --env (and --region) it belongs to",
                confirmation.topic_arn
            );
        }
        let out = aws
            .sns()
            .confirm_subscription()
            .topic_arn(&confirmation.topic_arn)
            .token(&confirmation.token)
            .authenticate_on_unsubscribe("true")
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "SNS refused the confirmation: {} (links expire after three days: \
                     `cargo xtask status` shows who is still pending)",
                    describe(&e)
                )
            })?;
        anyhow::Ok(out.subscription_arn.unwrap_or_default())
    })?;
    kit_base::status::status(
        "Confirmed",
        format!(
            "{} ({arn}); unsubscribing now needs AWS credentials",
            confirmation
                .endpoint
                .as_deref()
                .unwrap_or("the subscription")
        ),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_emails_link_and_the_api_form_are_read() {
        let email = "https://sns.eu-west-1.amazonaws.com/confirmation.html?TopicArn=arn:aws:sns:eu-west-1:123456789012:hitl-prod-approvals&Token=2336412f37fb687f5d51e6e2425dacbba&Endpoint=ana%40example.com";
        assert_eq!(
            parse_link(email).unwrap(),
            Confirmation {
                topic_arn: "arn:aws:sns:eu-west-1:123456789012:hitl-prod-approvals".into(),
                token: "2336412f37fb687f5d51e6e2425dacbba".into(),
                endpoint: Some("ana@example.com".into()),
            }
        );
        let api = " https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3At&Token=abc\n";
        let read = parse_link(api).unwrap();
        assert_eq!(
            (read.topic_arn.as_str(), read.token.as_str()),
            ("arn:aws:sns:us-east-1:1:t", "abc")
        );
        for bad in [
            "https://sns.us-east-1.amazonaws.com/confirmation.html",
            "https://sns.us-east-1.amazonaws.com/?TopicArn=arn:aws:sns:us-east-1:1:t",
            "https://sns.us-east-1.amazonaws.com/?Token=abc",
            "https://sns.us-east-1.amazonaws.com/?TopicArn=hitl-topic&Token=abc",
        ] {
            assert!(parse_link(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_reviewer_is_pending_confirmed_or_gone() {
        let listed = vec![
            Listed {
                endpoint: "Ana@example.com".into(),
                arn: "arn:aws:sns:r:1:t:1".into(),
                authenticated: Some(true),
            },
            Listed {
                endpoint: "ben@example.com".into(),
                arn: "PendingConfirmation".into(),
                authenticated: Some(false),
            },
            Listed {
                endpoint: "cy@example.com".into(),
                arn: "arn:aws:sns:r:1:t:2".into(),
                authenticated: Some(false),
            },
            Listed {
                endpoint: "someone@else.com".into(),
                arn: "arn:aws:sns:r:1:t:3".into(),
                authenticated: Some(true),
            },
        ];
        let reviewers: Vec<String> = [
            "ana@example.com",
            "ben@example.com",
            "cy@example.com",
            "dee@example.com",
        ]
        .map(String::from)
        .to_vec();
        let states: Vec<State> = states(&reviewers, &listed)
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        assert_eq!(
            states,
            [
                State::Confirmed {
                    authenticated: Some(true)
                },
                State::Pending,
                State::Confirmed {
                    authenticated: Some(false)
                },
                State::Gone,
            ]
        );
    }
}
