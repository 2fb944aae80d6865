//! Block Kit's limits, as Slack checks the messages and modals the stand-in takes
//! (docs.slack.dev/reference/block-kit/blocks, …/block-elements, …/surfaces/modals): what
//! Slack would refuse is refused here with its error code (`invalid_blocks` for a message,
//! `invalid_arguments` for a view), so that a message too big for Slack fails a test here.

use serde_json::Value;

fn text_of(object: &Value, kind: Option<&str>, max: usize) -> Result<(), String> {
    let text = object["text"]
        .as_str()
        .ok_or("a text object without text")?;
    if let Some(kind) = kind.filter(|k| object["type"] != *k) {
        return Err(format!("a text object that is not {kind}"));
    }
    match text.chars().count() {
        0 => Err("an empty text".into()),
        n if n > max => Err(format!("a text of {n} characters, over {max}")),
        _ => Ok(()),
    }
}

fn under(what: &str, value: &Value, max: usize) -> Result<(), String> {
    match value.as_str().map(|s| s.chars().count()) {
        Some(n) if n > max => Err(format!("{what} of {n} characters, over {max}")),
        _ => Ok(()),
    }
}

fn button(element: &Value) -> Result<(), String> {
    text_of(&element["text"], Some("plain_text"), 75)?;
    under("an action_id", &element["action_id"], 255)?;
    under("a button value", &element["value"], 2_000)?;
    match element["style"].as_str() {
        None | Some("primary" | "danger") => Ok(()),
        Some(other) => Err(format!("a button style {other}")),
    }
}

fn block(block: &Value, in_modal: bool) -> Result<(), String> {
    under("a block_id", &block["block_id"], 255)?;
    let count = |key: &str| block[key].as_array().map_or(0, Vec::len);
    match block["type"].as_str().unwrap_or_default() {
        "header" => text_of(&block["text"], Some("plain_text"), 150),
        "divider" => Ok(()),
        "section" => {
            if block["text"].is_null() && block["fields"].is_null() {
                return Err("a section without text or fields".into());
            }
            if !block["text"].is_null() {
                text_of(&block["text"], None, 3_000)?;
            }
            let mut fields = block["fields"].as_array().into_iter().flatten();
            if count("fields") > 10 {
                return Err("a section of more than 10 fields".into());
            }
            fields.try_for_each(|f| text_of(f, None, 2_000))
        }
        "context" => match count("elements") {
            1..=10 => block["elements"]
                .as_array()
                .into_iter()
                .flatten()
                .try_for_each(|e| text_of(e, None, 3_000)),
            n => Err(format!("a context of {n} elements")),
        },
        "actions" => match count("elements") {
            1..=25 => block["elements"]
                .as_array()
                .into_iter()
                .flatten()
                .try_for_each(button),
            n => Err(format!("an actions block of {n} elements")),
        },
        "input" if in_modal => {
            text_of(&block["label"], Some("plain_text"), 2_000)?;
            let element = &block["element"];
            let max = element["max_length"].as_u64().unwrap_or(3_000);
            match (element["type"].as_str(), max) {
                (Some("plain_text_input"), 1..=3_000) => Ok(()),
                _ => Err("an input that is not a plain_text_input of at most 3000".into()),
            }
        }
        other => Err(format!("a block of type `{other}`")),
    }
}

fn blocks(value: &Value, max: usize, in_modal: bool) -> Result<(), String> {
    let Some(blocks) = value.as_array() else {
        return Err("blocks that are not an array".into());
    };
    if blocks.len() > max {
        return Err(format!("{} blocks, over {max}", blocks.len()));
    }
    blocks.iter().try_for_each(|b| block(b, in_modal))
}

/// A `chat.postMessage` or `chat.update` body: `text` or `blocks` (at most 50).
pub fn check_message(body: &Value) -> Result<(), String> {
    if body["text"].as_str().is_none_or(str::is_empty) && body["blocks"].is_null() {
        return Err("no_text".into());
    }
    under("a text", &body["text"], 40_000).map_err(|_| "msg_too_long".to_owned())?;
    match body["blocks"].is_null() {
        true => Ok(()),
        false => blocks(&body["blocks"], 50, false).map_err(|why| {
            eprintln!("slack stand-in: invalid_blocks: {why}");
            "invalid_blocks".to_owned()
        }),
    }
}

/// A `views.open` view: a modal, its title, submit and close within 24 characters, at most 100
/// blocks, `private_metadata` within 3,000.
pub fn check_modal(view: &Value) -> Result<(), String> {
    let checked = (|| {
        if view["type"] != "modal" {
            return Err("a view that is not a modal".to_owned());
        }
        text_of(&view["title"], Some("plain_text"), 24)?;
        for key in ["submit", "close"] {
            if !view[key].is_null() {
                text_of(&view[key], Some("plain_text"), 24)?;
            }
        }
        under("private_metadata", &view["private_metadata"], 3_000)?;
        under("a callback_id", &view["callback_id"], 255)?;
        blocks(&view["blocks"], 100, true)
    })();
    checked.map_err(|why| {
        eprintln!("slack stand-in: invalid view: {why}");
        "invalid_arguments".to_owned()
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn refuses_what_slack_refuses() {
        assert_eq!(check_message(&json!({})), Err("no_text".into()));
        assert!(check_message(&json!({"text": "t"})).is_ok());
        let long_header = json!({"text": "t", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "x".repeat(151)}}]});
        assert_eq!(check_message(&long_header), Err("invalid_blocks".into()));
        let fields: Vec<Value> = (0..11)
            .map(|_| json!({"type": "mrkdwn", "text": "f"}))
            .collect();
        let many = json!({"text": "t", "blocks": [{"type": "section", "fields": fields}]});
        assert_eq!(check_message(&many), Err("invalid_blocks".into()));
        let style = json!({"text": "t", "blocks": [{"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "A"}, "action_id": "a", "style": "green"}]}]});
        assert_eq!(check_message(&style), Err("invalid_blocks".into()));
        let title = json!({"type": "modal", "title": {"type": "plain_text", "text": "x".repeat(25)}, "blocks": []});
        assert_eq!(check_modal(&title), Err("invalid_arguments".into()));
    }
}
