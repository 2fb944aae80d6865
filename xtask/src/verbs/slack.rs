//! `cargo xtask slack manifest --env NAME`: the Slack app's manifest for the environment, to
//! paste into Slack's "Create an app from a manifest" (docs.slack.dev/reference/app-manifest):
//! the bot's scopes the kit calls Slack with, and interactivity pointed at the deployed stack's
//! `SlackInteractionsUrl`.

use anyhow::{Result, bail};
use serde_json::{Value, json};

use crate::{cli::Global, kit};

/// The bot scopes: `chat.postMessage`, `chat.update` and `chat.postEphemeral` need
/// `chat:write`; `users.info` needs `users:read`, and its profile's email `users:read.email`.
pub const SCOPES: [&str; 3] = ["chat:write", "users:read", "users:read.email"];

pub fn manifest(global: &Global) -> Result<()> {
    let effective = kit::effective(global, &[])?;
    if effective.slack_app.is_none() {
        bail!(
            "environment `{}` has no Slack app: add a `slack:` block to it (channel, \
             bot_token_parameter, signing_secret_parameter), deploy, then ask again",
            effective.environment
        );
    }
    let runtime = crate::runtime::new()?;
    let outputs = runtime.block_on(super::outputs::read(&effective))?;
    let Some(url) = outputs.get("SlackInteractionsUrl") else {
        bail!(
            "{} has no SlackInteractionsUrl output: deploy it with its `slack:` block first \
             (`cargo xtask deploy --env {}`)",
            effective.stack_name,
            effective.environment
        );
    };
    let name = format!("{} approvals", effective.stack_name);
    anstream::print!("{}", serde_yaml::to_string(&of(&name, url))?);
    Ok(())
}

/// The manifest of the app `name` whose interactivity requests go to `url`.
pub fn of(name: &str, url: &str) -> Value {
    // Slack's limits: the name 35 characters, the bot's display name 80.
    let name: String = name.chars().take(35).collect();
    json!({
        "_metadata": { "major_version": 1 },
        "display_information": {
            "name": name,
            "description": "Approve or reject workflow requests from Slack (hitl)"
        },
        "features": { "bot_user": { "display_name": name, "always_online": true } },
        "oauth_config": { "scopes": { "bot": SCOPES } },
        "settings": {
            "interactivity": { "is_enabled": true, "request_url": url },
            "org_deploy_enabled": false,
            "socket_mode_enabled": false,
            "token_rotation_enabled": false
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_has_the_scopes_and_the_stacks_url_within_slacks_limits() {
        let url = "https://abc.execute-api.eu-west-1.amazonaws.com/v1/slack/interactions";
        let manifest = of("a-very-long-project-name-prod approvals", url);
        assert_eq!(manifest["settings"]["interactivity"]["request_url"], url);
        assert_eq!(
            manifest["oauth_config"]["scopes"]["bot"],
            json!(["chat:write", "users:read", "users:read.email"])
        );
        let name = manifest["display_information"]["name"].as_str().unwrap();
        assert_eq!(name.chars().count(), 35);
    }
}
