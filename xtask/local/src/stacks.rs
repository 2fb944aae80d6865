//! The stacks the local environment serves, side by side: each deployed stack has its review API
//! on a router port of its own (as each REST API has a host of its own) and its functions in a
//! `cargo lambda watch` of its own (each started with its stack's environment). Each is recorded
//! in a file of its own, `<output dir>/local/stacks/<stack>.json`, so that deploys of several
//! stacks at once never write over each other; the router reads it at each call (a small file,
//! in the page cache).

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// A stack the local environment serves.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Served {
    pub stack: String,
    /// The review API: its id, its stage, and the router port that serves it (the stand-in for
    /// `https://<api>.execute-api.<region>.amazonaws.com`).
    pub api_id: String,
    pub stage: String,
    pub api_port: u16,
    /// `cargo lambda watch` serving the stack's functions, started with `env`.
    pub lambda_port: u16,
    pub lambda_pid: Option<u32>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Each function's configured timeout in seconds, by binary: the router cuts an invocation
    /// there, as Lambda does.
    #[serde(default)]
    pub timeouts: BTreeMap<String, u64>,
}

impl Served {
    /// The review API's stage URL, as API Gateway's would be
    /// (`https://<api>.execute-api.<region>.amazonaws.com/<stage>`).
    pub fn review_base_url(&self) -> String {
        format!("http://127.0.0.1:{}/{}", self.api_port, self.stage)
    }

    /// `cargo lambda watch` of the stack's functions.
    pub fn lambda_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.lambda_port)
    }

    /// How long the function `binary` may run, if the deploy recorded it.
    pub fn timeout(&self, binary: &str) -> Option<std::time::Duration> {
        self.timeouts
            .get(binary)
            .map(|s| std::time::Duration::from_secs(*s))
    }

    /// Writes the stack's file (whole, or not at all).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = path(dir, &self.stack);
        let text = serde_json::to_string_pretty(self)?;
        std::fs::create_dir_all(stacks_dir(dir))?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

fn stacks_dir(dir: &Path) -> PathBuf {
    dir.join("stacks")
}

fn path(dir: &Path, stack: &str) -> PathBuf {
    stacks_dir(dir).join(format!("{stack}.json"))
}

/// Where the functions of `stack` log: its `cargo lambda watch`'s output.
pub fn function_log(dir: &Path, stack: &str) -> PathBuf {
    dir.join(format!("lambda-{stack}.log"))
}

/// What the functions of `stack` logged (of every stack served, without one); empty when
/// there is no log.
pub fn function_logs(dir: &Path, stack: Option<&str>) -> String {
    let stacks = match stack {
        Some(stack) => vec![stack.to_owned()],
        None => all(dir).into_iter().map(|s| s.stack).collect(),
    };
    stacks
        .iter()
        .filter_map(|stack| std::fs::read(function_log(dir, stack)).ok())
        .map(|log| String::from_utf8_lossy(&log).into_owned() + "\n")
        .collect()
}

/// The stack `stack` as recorded in `dir`, if it is served.
pub fn load(dir: &Path, stack: &str) -> Option<Served> {
    serde_json::from_str(&std::fs::read_to_string(path(dir, stack)).ok()?).ok()
}

/// Every stack recorded in `dir`, by name.
pub fn all(dir: &Path) -> Vec<Served> {
    let Ok(entries) = std::fs::read_dir(stacks_dir(dir)) else {
        return Vec::new();
    };
    let mut found: Vec<Served> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| serde_json::from_str(&std::fs::read_to_string(e.path()).ok()?).ok())
        .collect();
    found.sort_by(|a, b| a.stack.cmp(&b.stack));
    found
}

/// Stops the stack's functions and forgets it. Returns whether it was served.
pub fn forget(dir: &Path, stack: &str) -> Result<bool> {
    let Some(served) = load(dir, stack) else {
        return Ok(false);
    };
    if let Some(pid) = served
        .lambda_pid
        .filter(|&p| crate::process::runs(p, "cargo-lambda"))
    {
        crate::process::stop_group(pid, std::time::Duration::from_secs(5));
    }
    let path = path(dir, stack);
    std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
    Ok(true)
}

/// The stack a deployed function's name belongs to: `<stack>-<binary>` for one of `binaries`.
pub fn of_function<'a>(function: &'a str, binaries: &[String]) -> Option<(&'a str, String)> {
    binaries.iter().find_map(|binary| {
        let stack = function.strip_suffix(binary.as_str())?.strip_suffix('-')?;
        (!stack.is_empty()).then(|| (stack, binary.clone()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_function_belongs_to_the_stack_its_name_starts_with() {
        let binaries = ["request".to_owned(), "review".to_owned()];
        assert_eq!(
            of_function("e2e-local-policy-df-review", &binaries),
            Some(("e2e-local-policy-df", "review".to_owned()))
        );
        assert_eq!(of_function("review", &binaries), None);
        assert_eq!(of_function("-review", &binaries), None);
        assert_eq!(of_function("e2e-local-reviewer", &binaries), None);
    }

    #[test]
    fn each_stack_is_a_file_of_its_own() {
        let dir = std::env::temp_dir().join(format!("hitl-stacks-{}", std::process::id()));
        let mut served = Served {
            stack: "e2e-local".to_owned(),
            api_id: "abc".to_owned(),
            stage: "v1".to_owned(),
            api_port: 1,
            lambda_port: 2,
            lambda_pid: None,
            env: BTreeMap::new(),
            timeouts: BTreeMap::from([("review".to_owned(), 10)]),
        };
        served.save(&dir).unwrap();
        let other = Served {
            stack: "e2e-local-durable".to_owned(),
            ..served.clone()
        };
        other.save(&dir).unwrap();
        assert_eq!(load(&dir, "e2e-local"), Some(served.clone()));
        assert_eq!(served.review_base_url(), "http://127.0.0.1:1/v1");
        assert_eq!(
            served.timeout("review"),
            Some(std::time::Duration::from_secs(10))
        );
        assert_eq!(served.timeout("remind"), None);
        served.api_port = 3;
        served.save(&dir).unwrap();
        assert_eq!(load(&dir, "e2e-local").unwrap().api_port, 3);
        let names: Vec<String> = all(&dir).into_iter().map(|s| s.stack).collect();
        assert_eq!(names, ["e2e-local", "e2e-local-durable"]);
        assert!(forget(&dir, "e2e-local").unwrap());
        assert!(!forget(&dir, "e2e-local").unwrap());
        assert_eq!(load(&dir, "e2e-local"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
