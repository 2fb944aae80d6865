//! What the router lets through at once. moto's DynamoDB checks a condition and then writes
//! without a lock, so two racing conditional updates could both succeed, which DynamoDB never
//! allows: one DynamoDB write of a table goes into moto at a time, reads of it go in together,
//! never beside a write; each table apart (the stacks served side by side each have theirs), and
//! a call that names no table (a batch, a transaction) alone. And each function takes as many calls at once as `cargo lambda watch` runs instances
//! of it; calls beyond wait here, as Lambda would queue or throttle them.

/// How a call into moto must be admitted so that moto's DynamoDB behaves atomically.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Admission {
    /// Not DynamoDB: no waiting.
    Free,
    /// A DynamoDB read: alongside other reads.
    Shared,
    /// A DynamoDB write (or anything else DynamoDB): alone.
    Exclusive,
}

/// The admission of a call by its `X-Amz-Target` header (`DynamoDB_20120810.UpdateItem`).
pub fn admission(target: Option<&str>) -> Admission {
    const READS: [&str; 5] = [
        "GetItem",
        "BatchGetItem",
        "Query",
        "Scan",
        "TransactGetItems",
    ];
    let Some(operation) = target.and_then(|t| t.strip_prefix("DynamoDB_20120810.")) else {
        return Admission::Free;
    };
    if READS.contains(&operation)
        || operation.starts_with("Describe")
        || operation.starts_with("List")
    {
        Admission::Shared
    } else {
        Admission::Exclusive
    }
}

type Gate = std::sync::Arc<(std::sync::Mutex<usize>, std::sync::Condvar)>;

/// A counting semaphore per deployed function (`<stack>-<binary>`: each stack's functions run
/// in a `cargo lambda watch` of their own), made at its first call.
pub struct Gates {
    gates: std::sync::Mutex<std::collections::HashMap<String, Gate>>,
    permits: usize,
}

impl Gates {
    pub fn new(permits: usize) -> Self {
        Self {
            gates: Default::default(),
            permits: permits.max(1),
        }
    }

    /// Runs `f` once fewer than `permits` calls of `function` are in flight (at once for `""`,
    /// no function).
    pub fn through<T>(&self, function: &str, f: impl FnOnce() -> T) -> T {
        if function.is_empty() {
            return f();
        }
        let gate = {
            let mut gates = self.gates.lock().unwrap_or_else(|e| e.into_inner());
            gates.entry(function.to_owned()).or_default().clone()
        };
        let (count, freed) = &*gate;
        {
            let mut busy = count.lock().unwrap_or_else(|e| e.into_inner());
            while *busy >= self.permits {
                busy = freed.wait(busy).unwrap_or_else(|e| e.into_inner());
            }
            *busy += 1;
        }
        let result = f();
        *count.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        freed.notify_one();
        result
    }

    /// Runs `call` through the gate of `function` on a thread of its own, and waits for it
    /// `cut` from when the gate lets it in (as Lambda's clock starts when an instance takes the
    /// invocation): how long it waited for the gate, and its answer, or `None` once cut. A call
    /// that was cut keeps its permit until it ends: cargo-lambda cannot end one invocation, so
    /// its instance stays busy, and a later call let in meanwhile would wait for an instance
    /// inside cargo-lambda, on its own clock.
    pub fn within<T: Send + 'static>(
        self: &std::sync::Arc<Self>,
        function: &str,
        cut: std::time::Duration,
        call: impl FnOnce() -> T + Send + 'static,
    ) -> (std::time::Duration, Option<T>) {
        use std::sync::mpsc::channel;
        let (told, hears) = channel();
        let (gates, function) = (self.clone(), function.to_owned());
        let asked = std::time::Instant::now();
        std::thread::spawn(move || {
            let answer = gates.through(&function, || {
                let _ = told.send(None);
                call()
            });
            let _ = told.send(Some(answer));
        });
        let admitted = hears.recv();
        let queued = asked.elapsed();
        match admitted {
            Ok(None) => {}
            Ok(Some(answer)) => return (queued, Some(answer)),
            Err(_) => return (queued, None),
        }
        // Cut (or the call's thread gone): no answer.
        (queued, hears.recv_timeout(cut).ok().flatten())
    }
}

type Lock = std::sync::Arc<std::sync::RwLock<()>>;

/// The DynamoDB locks: one for every call, one per table.
#[derive(Default)]
pub struct Tables {
    every: std::sync::RwLock<()>,
    tables: std::sync::Mutex<std::collections::HashMap<String, Lock>>,
}

impl Tables {
    /// Runs `f`, the call with `body`, as `admission` says: a call of one table (its
    /// `TableName`) under that table's lock, beside the calls of other tables; a call that names
    /// no table under the lock of every call.
    pub fn admitted<T>(&self, admission: Admission, body: &[u8], f: impl FnOnce() -> T) -> T {
        if admission == Admission::Free {
            return f();
        }
        let table = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|b| b["TableName"].as_str().map(str::to_owned));
        let Some(table) = table else {
            return admitted(&self.every, admission, f);
        };
        let lock = {
            let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
            tables.entry(table).or_default().clone()
        };
        let _beside_others = self.every.read().unwrap_or_else(|e| e.into_inner());
        admitted(&lock, admission, f)
    }
}

/// Runs `f` as `admission` says, under `lock`.
fn admitted<T>(lock: &std::sync::RwLock<()>, admission: Admission, f: impl FnOnce() -> T) -> T {
    match admission {
        Admission::Free => f(),
        Admission::Shared => {
            let _reading = lock.read().unwrap_or_else(|e| e.into_inner());
            f()
        }
        Admission::Exclusive => {
            let _writing = lock.write().unwrap_or_else(|e| e.into_inner());
            f()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{sync::atomic::Ordering, thread};

    #[test]
    fn a_call_is_cut_from_when_its_gate_lets_it_in_and_keeps_its_permit_until_it_ends() {
        use std::{
            sync::{Arc, atomic::AtomicBool},
            time::{Duration, Instant},
        };
        let gates = Arc::new(Gates::new(1));
        let (_, quick) = gates.within("f", Duration::from_secs(5), || "answer");
        assert_eq!(quick, Some("answer"));
        // Cut: no answer, and the gate stays taken until the call has ended.
        let ended = Arc::new(AtomicBool::new(false));
        let slow = {
            let ended = ended.clone();
            move || {
                thread::sleep(Duration::from_millis(500));
                ended.store(true, Ordering::SeqCst);
            }
        };
        assert_eq!(gates.within("f", Duration::from_millis(50), slow).1, None);
        assert!(!ended.load(Ordering::SeqCst));
        gates.through("f", || assert!(ended.load(Ordering::SeqCst)));
        // The wait at the gate is not on the clock.
        let (holds, held) = std::sync::mpsc::channel();
        let busy = {
            let gates = gates.clone();
            thread::spawn(move || {
                gates.through("f", || {
                    holds.send(()).unwrap();
                    thread::sleep(Duration::from_millis(300));
                })
            })
        };
        held.recv().unwrap();
        let started = Instant::now();
        let (queued, after) = gates.within("f", Duration::from_millis(200), || "after the wait");
        assert!(queued >= Duration::from_millis(200) && started.elapsed() >= queued);
        assert_eq!(after, Some("after the wait"));
        busy.join().unwrap();
    }

    #[test]
    fn dynamodb_writes_go_alone_reads_together_and_other_calls_freely() {
        for write in [
            "UpdateItem",
            "PutItem",
            "DeleteItem",
            "TransactWriteItems",
            "BatchWriteItem",
            "ExecuteStatement",
            "CreateTable",
        ] {
            let target = format!("DynamoDB_20120810.{write}");
            assert_eq!(admission(Some(&target)), Admission::Exclusive, "{write}");
        }
        for read in ["GetItem", "Query", "Scan", "DescribeTable", "ListTables"] {
            let target = format!("DynamoDB_20120810.{read}");
            assert_eq!(admission(Some(&target)), Admission::Shared, "{read}");
        }
        for other in [
            None,
            Some("AWSStepFunctions.SendTaskSuccess"),
            Some("UpdateItem"),
        ] {
            assert_eq!(admission(other), Admission::Free, "{other:?}");
        }
    }

    #[test]
    fn writes_of_one_table_go_alone_and_beside_another_tables() {
        use std::sync::atomic::AtomicUsize;
        let tables = Tables::default();
        let (a, b) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let (a_most, overlap) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let write = |name: &str, own: &AtomicUsize, other: &AtomicUsize| {
            let body = format!(r#"{{"TableName":"{name}","Key":{{}}}}"#);
            tables.admitted(Admission::Exclusive, body.as_bytes(), || {
                let now = own.fetch_add(1, Ordering::SeqCst) + 1;
                if name == "a" {
                    a_most.fetch_max(now, Ordering::SeqCst);
                }
                if other.load(Ordering::SeqCst) > 0 {
                    overlap.fetch_add(1, Ordering::SeqCst);
                }
                thread::sleep(std::time::Duration::from_millis(30));
                own.fetch_sub(1, Ordering::SeqCst);
            })
        };
        thread::scope(|scope| {
            for i in 0..12 {
                let write = &write;
                let (a, b) = (&a, &b);
                match i % 2 {
                    0 => scope.spawn(move || write("a", a, b)),
                    _ => scope.spawn(move || write("b", b, a)),
                };
            }
        });
        assert_eq!(
            a_most.load(Ordering::SeqCst),
            1,
            "two writes of a overlapped"
        );
        assert!(
            overlap.load(Ordering::SeqCst) > 0,
            "the tables waited for each other"
        );
        // A call that names no table goes alone: none of a table's beside it.
        let (inside, untabled, alone) = (
            AtomicUsize::new(0),
            std::sync::atomic::AtomicBool::new(false),
            std::sync::atomic::AtomicBool::new(true),
        );
        thread::scope(|scope| {
            for i in 0..6 {
                let (tables, inside, untabled, alone) = (&tables, &inside, &untabled, &alone);
                scope.spawn(move || {
                    let body = match i {
                        0 => "{}".to_owned(),
                        _ => format!(r#"{{"TableName":"t{i}"}}"#),
                    };
                    tables.admitted(Admission::Exclusive, body.as_bytes(), || {
                        let company = inside.fetch_add(1, Ordering::SeqCst) > 0;
                        if i == 0 {
                            untabled.store(true, Ordering::SeqCst);
                        }
                        thread::sleep(std::time::Duration::from_millis(30));
                        if (i == 0 && company) || (i != 0 && untabled.load(Ordering::SeqCst)) {
                            alone.store(false, Ordering::SeqCst);
                        }
                        if i == 0 {
                            untabled.store(false, Ordering::SeqCst);
                        }
                        inside.fetch_sub(1, Ordering::SeqCst);
                    })
                });
            }
        });
        assert!(
            alone.load(Ordering::SeqCst),
            "a call of no table had company"
        );
    }

    #[test]
    fn a_gate_lets_through_at_most_its_permits_and_everyone_eventually() {
        use std::sync::atomic::AtomicUsize;
        let gates = Gates::new(3);
        let (inside, most, done) = (
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
        );
        thread::scope(|scope| {
            for _ in 0..12 {
                scope.spawn(|| {
                    gates.through("e2e-local-review", || {
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        thread::sleep(std::time::Duration::from_millis(20));
                        inside.fetch_sub(1, Ordering::SeqCst);
                        done.fetch_add(1, Ordering::SeqCst);
                    })
                });
            }
        });
        assert_eq!(done.load(Ordering::SeqCst), 12);
        assert!(most.load(Ordering::SeqCst) <= 3, "{most:?}");
        assert!(
            most.load(Ordering::SeqCst) > 1,
            "the gate serialised everything"
        );
    }
}
