//! Schedule groups being deleted: Scheduler deletes a group's schedules in the background and
//! the group stays `DELETING` meanwhile (a `CreateScheduleGroup` of its name is a conflict);
//! moto drops a group at once. The router notes each `DeleteScheduleGroup` that went through and
//! answers for the group for [`DELETING_SECS`].

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use hitl_aws::now;

use crate::reply::{Reply, header};

/// How long a deleted schedule group stays `DELETING` here (Scheduler deletes its schedules in
/// the background first; moto drops a group at once).
pub const DELETING_SECS: u64 = 5;

/// Schedule groups being deleted, by name, until when (Unix seconds).
#[derive(Default)]
pub struct Deleting(Mutex<HashMap<String, u64>>);

impl Deleting {
    /// Notes a `DeleteScheduleGroup` (`DELETE /schedule-groups/{name}`) that went through.
    pub fn saw(&self, method: &str, path: &str, status: u16) {
        if let Some(name) = group_of(path).filter(|_| method == "DELETE" && status < 300) {
            let until = now() + DELETING_SECS;
            self.lock().insert(name, until);
        }
    }

    /// Scheduler's answer for a group being deleted: `GetScheduleGroup` says `DELETING`,
    /// `CreateScheduleGroup` is a conflict; `None` for anything else.
    pub fn answer(&self, method: &str, path: &str) -> Option<Reply> {
        let name = group_of(path)?;
        let until = self.lock().get(&name).copied()?;
        if now() >= until {
            self.lock().remove(&name);
            return None;
        }
        let (region, account) = (kit_base::local::REGION, kit_base::local::ACCOUNT_ID);
        let (status, body) = match method {
            "GET" => (
                200,
                serde_json::json!({
                    "Arn": format!("arn:aws:scheduler:{region}:{account}:schedule-group/{name}"),
                    "Name": name,
                    "State": "DELETING",
                }),
            ),
            "POST" => (
                409,
                serde_json::json!({
                    "Message": format!("Schedule group {name} is being deleted."),
                }),
            ),
            _ => return None,
        };
        let mut headers = vec![header("Content-Type", "application/json")];
        if status == 409 {
            headers.push(header("x-amzn-ErrorType", "ConflictException"));
        }
        Some((status, headers, body.to_string().into_bytes()))
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, u64>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The group a `/schedule-groups/{name}` path names.
fn group_of(path: &str) -> Option<String> {
    let name = path.strip_prefix("/schedule-groups/")?;
    (!name.is_empty() && !name.contains('/')).then(|| {
        percent_encoding::percent_decode_str(name)
            .decode_utf8_lossy()
            .into_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deleted_group_is_deleting_for_a_while() {
        let deleting = Deleting::default();
        deleting.saw("GET", "/schedule-groups/g", 200);
        deleting.saw("DELETE", "/schedule-groups/other", 404);
        assert!(deleting.answer("GET", "/schedule-groups/g").is_none());
        deleting.saw("DELETE", "/schedule-groups/g", 200);
        let (status, _, body) = deleting
            .answer("GET", "/schedule-groups/g")
            .expect("deleting");
        assert_eq!(status, 200);
        assert!(String::from_utf8(body).unwrap().contains("DELETING"));
        let (status, headers, _) = deleting
            .answer("POST", "/schedule-groups/g")
            .expect("a conflict");
        assert_eq!(status, 409);
        assert!(headers.contains(&header("x-amzn-ErrorType", "ConflictException")));
        assert!(deleting.answer("GET", "/schedule-groups/other").is_none());
        assert!(deleting.answer("GET", "/schedules/g").is_none());
    }
}
