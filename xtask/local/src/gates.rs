//! What the router lets through at once. moto's DynamoDB checks a condition and then writes
//! without a lock, so two racing conditional updates could both succeed, which DynamoDB never
//! allows: one DynamoDB write goes into moto at a time, reads go in together, never beside a
//! write. And each function takes as many calls at once as `cargo lambda watch` runs instances
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
}

/// Runs `f` as `admission` says, under `lock`.
pub fn admitted<T>(lock: &std::sync::RwLock<()>, admission: Admission, f: impl FnOnce() -> T) -> T {
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
