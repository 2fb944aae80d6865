//! The workflow definition (Amazon States Language): checks that cfn-lint cannot make (the
//! definition sits inside `Fn::Sub`), and filling in the numbers that come from the config.

use std::collections::BTreeSet;

use serde_json::Value;

/// `Fn::Sub` variables the stack template supplies to the definition.
pub const SUB_VARIABLES: [&str; 2] = ["RequestFunctionArn", "TopicArn"];
/// Pseudo parameters `Fn::Sub` resolves on its own.
const PSEUDO_PARAMETERS: [&str; 5] = [
    "AWS::Partition",
    "AWS::Region",
    "AWS::AccountId",
    "AWS::URLSuffix",
    "AWS::StackName",
];

/// Numbers from the config, written in the definition as the whole string `"${Name}"`.
pub struct Numbers {
    pub approval_timeout_seconds: u64,
    pub execution_timeout_seconds: u64,
}

impl Numbers {
    fn get(&self, name: &str) -> Option<u64> {
        match name {
            "ApprovalTimeoutSeconds" => Some(self.approval_timeout_seconds),
            "ExecutionTimeoutSeconds" => Some(self.execution_timeout_seconds),
            _ => None,
        }
    }
}

/// Parses, fills and checks a definition; returns it pretty-printed for `DefinitionString`.
pub fn prepare(text: &str, numbers: &Numbers) -> Result<String, String> {
    let mut definition: Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    fill(&mut definition, numbers);
    check(&definition)?;
    let mut pretty = serde_json::to_string_pretty(&definition).expect("JSON serializes");
    pretty.push('\n');
    Ok(pretty)
}

/// Replaces every string that is exactly `${Name}` of a known number by that number.
fn fill(value: &mut Value, numbers: &Numbers) {
    match value {
        Value::String(s) => {
            if let Some(n) = s
                .strip_prefix("${")
                .and_then(|rest| rest.strip_suffix('}'))
                .and_then(|name| numbers.get(name))
            {
                *value = Value::from(n);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| fill(v, numbers)),
        Value::Object(map) => map.values_mut().for_each(|v| fill(v, numbers)),
        _ => {}
    }
}

/// Checks the definition: states and transitions, the approval task's timeout and its timeout
/// branch, the execution's backstop timeout, and the `Fn::Sub` variables it uses.
pub fn check(definition: &Value) -> Result<(), String> {
    let states = definition
        .get("States")
        .and_then(Value::as_object)
        .ok_or("no `States` object")?;
    let start = definition
        .get("StartAt")
        .and_then(Value::as_str)
        .ok_or("no `StartAt`")?;
    if !states.contains_key(start) {
        return Err(format!("StartAt `{start}` is not a state"));
    }

    let mut reachable = BTreeSet::from([start.to_owned()]);
    let mut approval_tasks = Vec::new();
    for (name, state) in states {
        let kind = state.get("Type").and_then(Value::as_str).unwrap_or("");
        let targets = targets(state);
        for target in &targets {
            if !states.contains_key(*target) {
                return Err(format!("state `{name}`: `{target}` is not a state"));
            }
            reachable.insert((*target).to_owned());
        }
        let ends = state.get("End") == Some(&Value::Bool(true));
        match kind {
            "Succeed" | "Fail" => {}
            "Choice" if targets.is_empty() => {
                return Err(format!("state `{name}`: a Choice needs Choices"));
            }
            "Choice" => {}
            "Task" | "Pass" | "Wait" | "Parallel" | "Map" => {
                if state.get("Next").is_none() && !ends {
                    return Err(format!("state `{name}`: needs `Next` or `\"End\": true`"));
                }
            }
            other => return Err(format!("state `{name}`: unknown Type `{other}`")),
        }
        let resource = state.get("Resource").and_then(Value::as_str).unwrap_or("");
        if kind == "Task" && resource.ends_with(".waitForTaskToken") {
            approval_tasks.push((name, state));
        }
    }
    if let Some(unreachable) = states.keys().find(|k| !reachable.contains(*k)) {
        return Err(format!("state `{unreachable}` is never reached"));
    }

    if approval_tasks.is_empty() {
        return Err("no approval task (a Task whose Resource ends in .waitForTaskToken)".into());
    }
    let execution_timeout = definition.get("TimeoutSeconds").and_then(Value::as_u64);
    for (name, task) in approval_tasks {
        let Some(timeout) = task.get("TimeoutSeconds").and_then(Value::as_u64) else {
            return Err(format!(
                "state `{name}`: the approval task needs TimeoutSeconds, or it waits a year"
            ));
        };
        let catches_timeout = task
            .get("Catch")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|c| error_equals(c).any(|e| e == "States.Timeout" || e == "States.ALL"));
        if !catches_timeout {
            return Err(format!(
                "state `{name}`: the approval task needs a Catch for States.Timeout (the \
                 timeout branch)"
            ));
        }
        if execution_timeout.is_none_or(|e| e <= timeout) {
            return Err(format!(
                "the execution needs a TimeoutSeconds above the approval task's ({timeout}s) as \
                 a backstop"
            ));
        }
    }

    let mut unknown = BTreeSet::new();
    sub_variables(definition, &mut unknown);
    unknown.retain(|v| {
        !SUB_VARIABLES.contains(&v.as_str()) && !PSEUDO_PARAMETERS.contains(&v.as_str())
    });
    if let Some(v) = unknown.first() {
        return Err(format!(
            "`${{{v}}}` is not a variable the template supplies (known: {}, and AWS pseudo \
             parameters); write `${{!` for a literal `${{`",
            SUB_VARIABLES.join(", ")
        ));
    }
    Ok(())
}

/// The states a state can go to next.
fn targets(state: &Value) -> Vec<&str> {
    let nested = ["Choices", "Catch"]
        .into_iter()
        .flat_map(|list| {
            state
                .get(list)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .map(|item| item.get("Next"));
    [state.get("Next"), state.get("Default")]
        .into_iter()
        .chain(nested)
        .filter_map(|v| v.and_then(Value::as_str))
        .collect()
}

fn error_equals(catch: &Value) -> impl Iterator<Item = &str> {
    catch
        .get("ErrorEquals")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// Collects the `${Name}` variables used in strings (`${!` is a literal and is skipped).
fn sub_variables(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::String(s) => {
            let mut rest = s.as_str();
            while let Some(at) = rest.find("${") {
                rest = &rest[at + 2..];
                if rest.starts_with('!') {
                    continue;
                }
                if let Some(end) = rest.find('}') {
                    out.insert(rest[..end].to_owned());
                    rest = &rest[end..];
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| sub_variables(v, out)),
        Value::Object(map) => map.values().for_each(|v| sub_variables(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NUMBERS: Numbers = Numbers {
        approval_timeout_seconds: 300,
        execution_timeout_seconds: 3_900,
    };

    fn shipped() -> Value {
        let path = kit_base::paths::root()
            .join("statemachine")
            .join("approval.asl.json");
        let text = std::fs::read_to_string(path).unwrap();
        serde_json::from_str(&prepare(&text, &NUMBERS).unwrap()).unwrap()
    }

    fn check_after(edit: impl FnOnce(&mut Value)) -> Result<(), String> {
        let mut definition = shipped();
        edit(&mut definition);
        check(&definition)
    }

    #[test]
    fn the_shipped_workflow_passes_and_gets_its_numbers() {
        let definition = shipped();
        assert_eq!(definition["TimeoutSeconds"], json!(3_900));
        assert_eq!(
            definition["States"]["RequestApproval"]["TimeoutSeconds"],
            json!(300)
        );
        // Its endings are the ones the protocol promises.
        let states = &definition["States"];
        assert_eq!(states["Approved"]["Type"], "Succeed");
        assert_eq!(states["Rejected"]["Error"], "Rejected");
        assert_eq!(states["Expired"]["Error"], "Expired");
        let catch = &states["RequestApproval"]["Catch"][0];
        assert_eq!(
            catch["ErrorEquals"],
            json!(["States.Timeout", "Hitl.Expired"])
        );
        assert_eq!(states[catch["Next"].as_str().unwrap()]["Next"], "Expired");
    }

    #[test]
    fn a_transition_to_a_missing_state_is_refused() {
        let err = check_after(|d| d["States"]["Decide"]["Default"] = json!("Nowhere")).unwrap_err();
        assert_eq!(err, "state `Decide`: `Nowhere` is not a state");
        let err =
            check_after(|d| d["States"]["RequestApproval"]["Catch"][0]["Next"] = json!("Gone"))
                .unwrap_err();
        assert!(err.contains("`Gone` is not a state"), "{err}");
    }

    #[test]
    fn the_approval_task_needs_a_timeout_and_a_timeout_branch() {
        let err = check_after(|d| {
            d["States"]["RequestApproval"]
                .as_object_mut()
                .unwrap()
                .remove("TimeoutSeconds");
        })
        .unwrap_err();
        assert!(err.contains("needs TimeoutSeconds"), "{err}");
        let err = check_after(|d| {
            d["States"]["RequestApproval"]["Catch"][0]["ErrorEquals"] = json!(["States.TaskFailed"])
        })
        .unwrap_err();
        assert!(err.contains("Catch for States.Timeout"), "{err}");
    }

    #[test]
    fn the_execution_needs_a_backstop_above_the_approval_timeout() {
        let err = check_after(|d| d["TimeoutSeconds"] = json!(300)).unwrap_err();
        assert!(err.contains("backstop"), "{err}");
    }

    #[test]
    fn unreachable_states_and_dangling_tasks_are_refused() {
        let err = check_after(|d| d["States"]["Orphan"] = json!({"Type": "Succeed"})).unwrap_err();
        assert_eq!(err, "state `Orphan` is never reached");
        let err = check_after(|d| {
            d["States"]["NotifyApproved"]
                .as_object_mut()
                .unwrap()
                .remove("Next");
        })
        .unwrap_err();
        assert!(err.contains("needs `Next`"), "{err}");
    }

    #[test]
    fn unknown_substitution_variables_are_refused() {
        let err = check_after(|d| {
            d["States"]["RequestApproval"]["Parameters"]["FunctionName"] = json!("${RequestFn}")
        })
        .unwrap_err();
        assert!(err.contains("`${RequestFn}` is not a variable"), "{err}");
        check_after(|d| d["Comment"] = json!("costs ${!Literal} nothing")).unwrap();
    }
}
