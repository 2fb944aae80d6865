//! What the router lets through at once. moto's DynamoDB checks a condition and then writes
//! without a lock, so two racing conditional updates of an item could both succeed, which
//! DynamoDB never allows; and a call that walks a table's items (a query, a scan, a description
//! counting them) fails in moto when another call adds an item meanwhile. So a call that reads
//! or writes one item it names by its key (`GetItem`, `UpdateItem`, `DeleteItem`) goes into moto
//! beside the calls of other items of its table, and beside the reads of the same item, never
//! beside a write of it; every other DynamoDB call of a table goes alone in it (a `PutItem`
//! too: its key is among the item's attributes, and which ones only the table knows); each
//! table apart (the stacks served side by side each have theirs), and a call that names no
//! table (a batch, a transaction) alone. And each function takes as many calls at once as
//! `cargo lambda watch` runs instances of it; calls beyond wait here, as Lambda would queue or
//! throttle them.

/// How a call into moto must be admitted so that moto's DynamoDB behaves atomically.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Admission {
    /// Not DynamoDB: no waiting.
    Free,
    /// A read of the one item its `Key` names: beside every call of the table's other items.
    ItemRead,
    /// A write of the one item its `Key` names: beside every call of the table's other items.
    ItemWrite,
    /// Any other DynamoDB call: alone in its table.
    Table,
}

/// The admission of a call by its `X-Amz-Target` header (`DynamoDB_20120810.UpdateItem`).
pub fn admission(target: Option<&str>) -> Admission {
    let Some(operation) = target.and_then(|t| t.strip_prefix("DynamoDB_20120810.")) else {
        return Admission::Free;
    };
    match operation {
        "GetItem" => Admission::ItemRead,
        "UpdateItem" | "DeleteItem" => Admission::ItemWrite,
        _ => Admission::Table,
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

type Lock = std::sync::Arc<std::sync::RwLock<()>>;

/// How many locks the items of every table share: two items on one lock only wait for each
/// other, never go in together.
const ITEM_LOCKS: usize = 256;

/// The DynamoDB locks: one for every call, one per table, and the items' (shared by hash).
pub struct Tables {
    every: std::sync::RwLock<()>,
    tables: std::sync::Mutex<std::collections::HashMap<String, Lock>>,
    items: Vec<std::sync::RwLock<()>>,
}

impl Default for Tables {
    fn default() -> Self {
        Self {
            every: Default::default(),
            tables: Default::default(),
            items: (0..ITEM_LOCKS).map(|_| Default::default()).collect(),
        }
    }
}

impl Tables {
    /// Runs `f`, the call with `body`, as `admission` says: a call of one item (its `TableName`
    /// and `Key`) under its table's lock shared and its item's lock; any other call of a table
    /// under the table's lock alone; a call that names no table under the lock of every call.
    pub fn admitted<T>(&self, admission: Admission, body: &[u8], f: impl FnOnce() -> T) -> T {
        if admission == Admission::Free {
            return f();
        }
        let body = serde_json::from_slice::<serde_json::Value>(body).unwrap_or_default();
        let Some(table) = body["TableName"].as_str() else {
            let _alone = self.every.write().unwrap_or_else(|e| e.into_inner());
            return f();
        };
        let lock = {
            let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
            tables.entry(table.to_owned()).or_default().clone()
        };
        let _beside_others = self.every.read().unwrap_or_else(|e| e.into_inner());
        let key = &body["Key"];
        if admission == Admission::Table || !of_strings(key) {
            let _alone = lock.write().unwrap_or_else(|e| e.into_inner());
            return f();
        }
        let _beside_other_items = lock.read().unwrap_or_else(|e| e.into_inner());
        let item = &self.items[item_lock(table, key)];
        if admission == Admission::ItemRead {
            let _reading = item.read().unwrap_or_else(|e| e.into_inner());
            f()
        } else {
            let _writing = item.write().unwrap_or_else(|e| e.into_inner());
            f()
        }
    }
}

/// Whether `key` names its item by strings alone: the same item always spelt the same. A
/// number (`"1"` and `"1.0"` are one item to DynamoDB) or binary key goes by its table.
fn of_strings(key: &serde_json::Value) -> bool {
    key.as_object()
        .is_some_and(|k| !k.is_empty() && k.values().all(|v| v["S"].is_string()))
}

/// Which of the item locks the item `key` of `table` takes, whatever order the call sent the
/// key's attributes in.
fn item_lock(table: &str, key: &serde_json::Value) -> usize {
    use std::hash::{Hash, Hasher};
    let mut attributes: Vec<(&String, String)> = key
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| (name, value.to_string()))
        .collect();
    attributes.sort();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (table, attributes).hash(&mut hasher);
    (hasher.finish() % ITEM_LOCKS as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{sync::atomic::Ordering, thread};

    #[test]
    fn dynamodb_calls_of_one_named_item_go_by_item_others_alone_and_other_services_freely() {
        for (operation, expected) in [
            ("GetItem", Admission::ItemRead),
            ("UpdateItem", Admission::ItemWrite),
            ("DeleteItem", Admission::ItemWrite),
        ] {
            let target = format!("DynamoDB_20120810.{operation}");
            assert_eq!(admission(Some(&target)), expected, "{operation}");
        }
        for alone in [
            "PutItem",
            "Query",
            "Scan",
            "DescribeTable",
            "TransactWriteItems",
            "BatchWriteItem",
            "BatchGetItem",
            "ExecuteStatement",
            "CreateTable",
        ] {
            let target = format!("DynamoDB_20120810.{alone}");
            assert_eq!(admission(Some(&target)), Admission::Table, "{alone}");
        }
        for other in [
            None,
            Some("AWSStepFunctions.SendTaskSuccess"),
            Some("UpdateItem"),
        ] {
            assert_eq!(admission(other), Admission::Free, "{other:?}");
        }
    }

    /// Calls in `tables`, each `(admission, body)` on a thread of its own, each inside for
    /// 30 ms, or until it has company when `waits` (so that a slow thread's start is not taken
    /// for a lock); for each call, whether another was inside with it.
    fn overlaps(tables: &Tables, calls: &[(Admission, String)], waits: bool) -> Vec<bool> {
        use std::sync::atomic::{AtomicBool, AtomicUsize};
        use std::time::{Duration, Instant};
        let inside = AtomicUsize::new(0);
        let company: Vec<AtomicBool> = calls.iter().map(|_| AtomicBool::new(false)).collect();
        let hold = if waits {
            Duration::from_secs(5)
        } else {
            Duration::from_millis(30)
        };
        thread::scope(|scope| {
            for (i, (admission, body)) in calls.iter().enumerate() {
                let (inside, company) = (&inside, &company);
                scope.spawn(move || {
                    tables.admitted(*admission, body.as_bytes(), || {
                        let entered = Instant::now();
                        if inside.fetch_add(1, Ordering::SeqCst) > 0 {
                            company[i].store(true, Ordering::SeqCst);
                        }
                        let mut met: Option<Instant> = None;
                        while entered.elapsed() < hold {
                            if inside.load(Ordering::SeqCst) > 1 {
                                company[i].store(true, Ordering::SeqCst);
                                met.get_or_insert_with(Instant::now);
                            }
                            // Once met, long enough for the other to see it too.
                            if waits && met.is_some_and(|m| m.elapsed() > hold / 100) {
                                break;
                            }
                            thread::sleep(Duration::from_millis(1));
                        }
                        inside.fetch_sub(1, Ordering::SeqCst);
                    })
                });
            }
        });
        company.iter().map(|c| c.load(Ordering::SeqCst)).collect()
    }

    #[test]
    fn an_items_write_goes_alone_in_it_beside_other_items_and_never_beside_a_table_call() {
        let item = |pk: &str, sk: &str, flipped: bool| {
            let (pk, sk) = (
                format!(r#""pk":{{"S":"{pk}"}}"#),
                format!(r#""sk":{{"S":"{sk}"}}"#),
            );
            let key = if flipped {
                format!("{sk},{pk}")
            } else {
                format!("{pk},{sk}")
            };
            format!(r#"{{"TableName":"t","Key":{{{key}}}}}"#)
        };
        let key =
            |body: &str| serde_json::from_str::<serde_json::Value>(body).unwrap()["Key"].clone();
        // A number names one item in many spellings ("1", "1.0"): such a key goes by table.
        assert!(of_strings(&key(&item("a", "1", false))));
        assert!(!of_strings(&serde_json::json!({"pk": {"N": "1"}})));
        assert!(!of_strings(&serde_json::json!({})));
        // The same item whatever the order of its key's attributes.
        assert_eq!(
            item_lock("t", &key(&item("a", "1", false))),
            item_lock("t", &key(&item("a", "1", true)))
        );
        let other = (0..)
            .map(|i| i.to_string())
            .find(|b| {
                item_lock("t", &key(&item(b, "1", false)))
                    != item_lock("t", &key(&item("a", "1", false)))
            })
            .unwrap();
        let tables = Tables::default();
        // Writes of one item, its key spelt both ways: one at a time.
        let one: Vec<_> = (0..6)
            .map(|i| (Admission::ItemWrite, item("a", "1", i % 2 == 0)))
            .collect();
        assert!(
            overlaps(&tables, &one, false).iter().all(|c| !c),
            "writes of one item overlapped"
        );
        // Two items: their writes go in together; reads of one item too.
        let two = [
            (Admission::ItemWrite, item("a", "1", false)),
            (Admission::ItemWrite, item(&other, "1", false)),
        ];
        assert!(
            overlaps(&tables, &two, true).iter().all(|c| *c),
            "two items waited for each other"
        );
        let reads = [
            (Admission::ItemRead, item("a", "1", false)),
            (Admission::ItemRead, item("a", "1", true)),
        ];
        assert!(
            overlaps(&tables, &reads, true).iter().all(|c| *c),
            "two reads waited for each other"
        );
        // A call of the whole table (a put, a query) has no item call beside it.
        let mut mixed: Vec<_> = (0..4)
            .map(|i| (Admission::ItemWrite, item(&i.to_string(), "x", false)))
            .collect();
        mixed.push((
            Admission::Table,
            r#"{"TableName":"t","Item":{}}"#.to_owned(),
        ));
        let company = overlaps(&tables, &mixed, false);
        assert!(!company[4], "a table call had company");
    }

    #[test]
    fn writes_of_one_table_go_alone_and_beside_another_tables() {
        use std::sync::atomic::AtomicUsize;
        let tables = Tables::default();
        let (a, b) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let (a_most, overlap) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let write = |name: &str, own: &AtomicUsize, other: &AtomicUsize| {
            let body = format!(r#"{{"TableName":"{name}","Key":{{}}}}"#);
            tables.admitted(Admission::Table, body.as_bytes(), || {
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
                    tables.admitted(Admission::Table, body.as_bytes(), || {
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
