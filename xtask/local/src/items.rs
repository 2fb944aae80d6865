//! DynamoDB's items in a moto of their own. One moto process serves every service, and its GIL
//! lets one call run at a time: under a thousand approvals at once, four of the review POST's
//! five calls (DynamoDB's) waited behind the Step Functions interpreter and every other service.
//! So the router sends the calls that read or write items (DynamoDB's data plane) to a second
//! moto, the items' moto, where each table moto has is mirrored (its keys and indexes) before a
//! call reaches it. The tables themselves (create, describe, update, delete, TTL, tags: the
//! control plane) stay with moto, which CloudFormation manages.
//!
//! A mirrored table is looked at again in moto at most [`RECHECK`] after it was last: one moto
//! made again (a stack deleted and deployed again with the same table name) is mirrored again,
//! empty; one moto no longer has is dropped, and its calls get DynamoDB's
//! `ResourceNotFoundException` from the items' moto. An index added to a table by
//! `UpdateTable` is not mirrored (the kit's tables are made with what they keep); nor do
//! streams, backups or a description's item count see the items.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// The operations that read or write items.
const DATA_PLANE: [&str; 13] = [
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactGetItems",
    "TransactWriteItems",
    "ExecuteStatement",
    "BatchExecuteStatement",
    "ExecuteTransaction",
];

/// PartiQL's operations: their tables are inside the statements, so every table is mirrored.
const PARTIQL: [&str; 3] = [
    "ExecuteStatement",
    "BatchExecuteStatement",
    "ExecuteTransaction",
];

/// How long a mirror is taken for the table moto has before it is looked at again.
pub const RECHECK: Duration = Duration::from_secs(5);

/// The DynamoDB operation of a call, by its `X-Amz-Target` header, when it reads or writes items.
pub fn data_plane(target: Option<&str>) -> Option<&str> {
    let operation = target?.strip_prefix("DynamoDB_20120810.")?;
    DATA_PLANE.contains(&operation).then_some(operation)
}

/// The tables moto has, as last mirrored.
pub struct Mirrors {
    tables: Mutex<HashMap<String, Mirror>>,
    /// How long a mirror is taken for the table moto has ([`RECHECK`]).
    recheck: Duration,
}

impl Default for Mirrors {
    fn default() -> Self {
        Self {
            tables: Mutex::default(),
            recheck: RECHECK,
        }
    }
}

struct Mirror {
    /// moto's `CreationDateTime` of the table mirrored.
    created: Value,
    checked: Instant,
    /// A call is looking at it again.
    checking: bool,
}

/// Where the two motos are, and how a call was signed (moto takes its account and region from
/// the signature's credential): what a mirroring call needs.
pub struct Upstreams<'a> {
    pub agent: &'a ureq::Agent,
    pub moto: &'a str,
    pub items: &'a str,
    pub authorization: Option<&'a str>,
}

impl Mirrors {
    /// Mirrors in the items' moto every table the call `operation` with `body` names, as moto
    /// has it.
    pub fn ensure(&self, to: &Upstreams, operation: &str, body: &[u8]) -> Result<()> {
        let body: Value = serde_json::from_slice(body).unwrap_or_default();
        let tables = if PARTIQL.contains(&operation) {
            list_tables(to)?
        } else {
            tables_named(&body)
        };
        for table in tables {
            self.mirror(to, &table)?;
        }
        Ok(())
    }

    /// Mirrors `table`, unless its mirror was looked at within [`RECHECK`]. The calls of a
    /// table not mirrored yet wait for its mirror; while one call looks at a mirror again, the
    /// others go on with it.
    fn mirror(&self, to: &Upstreams, table: &str) -> Result<()> {
        let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        let mirrored = match tables.get_mut(table) {
            Some(m) if m.checking || m.checked.elapsed() < self.recheck => return Ok(()),
            Some(m) => {
                m.checking = true;
                Some(m.created.clone())
            }
            None => None,
        };
        // A mirror is looked at without the lock; a first one is made under it.
        let described = match mirrored {
            Some(_) => {
                drop(tables);
                let described = self.describe(to, table);
                tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
                described
            }
            None => self.describe(to, table),
        };
        let described = match (described, mirrored.is_some()) {
            (Ok(described), _) => described,
            // The mirror is still what it was: the call goes on with it.
            (Err(error), true) => {
                eprintln!("router: cannot look at {table} in moto again: {error:#}");
                tables
                    .entry(table.to_owned())
                    .and_modify(|m| m.checking = false);
                return Ok(());
            }
            (Err(error), false) => return Err(error),
        };
        let created = described
            .as_ref()
            .map(|d| d["Table"]["CreationDateTime"].clone());
        // Not mirrored yet (a table left in the items' moto by a router before is made anew),
        // made again in moto, or gone from it.
        let stale = mirrored != created;
        if stale {
            tables.remove(table);
            call(to, to.items, "DeleteTable", &json!({"TableName": table}))?;
        }
        let Some(described) = described else {
            return Ok(()); // moto has no such table: the items' moto answers as DynamoDB does
        };
        if stale
            && call(
                to,
                to.items,
                "CreateTable",
                &create_table(&described["Table"]),
            )?
            .is_none()
        {
            bail!("the items' moto could not make a mirror of {table}");
        }
        tables.insert(
            table.to_owned(),
            Mirror {
                created: created.unwrap_or_default(),
                checked: Instant::now(),
                checking: false,
            },
        );
        Ok(())
    }

    /// moto's `DescribeTable` of `table`; `None` when it has none.
    fn describe(&self, to: &Upstreams, table: &str) -> Result<Option<Value>> {
        call(to, to.moto, "DescribeTable", &json!({"TableName": table}))
    }
}

/// The tables a data-plane call names: its `TableName`, the tables of its `RequestItems` (a
/// batch) or of each of its `TransactItems`.
pub fn tables_named(body: &Value) -> Vec<String> {
    let mut tables: Vec<String> = body["TableName"]
        .as_str()
        .map(str::to_owned)
        .into_iter()
        .collect();
    if let Some(items) = body["RequestItems"].as_object() {
        tables.extend(items.keys().cloned());
    }
    for item in body["TransactItems"].as_array().into_iter().flatten() {
        let named = item.as_object().into_iter().flat_map(|o| o.values());
        tables.extend(named.filter_map(|a| a["TableName"].as_str().map(str::to_owned)));
    }
    tables.sort();
    tables.dedup();
    tables
}

/// The `CreateTable` of a mirror of the table `described` (a `DescribeTable`'s `Table`): its
/// keys and indexes, billed on demand (nothing here is throttled by capacity).
fn create_table(described: &Value) -> Value {
    let index = |i: &Value| json!({"IndexName": i["IndexName"], "KeySchema": i["KeySchema"], "Projection": i["Projection"]});
    let indexes = |name: &str| -> Option<Vec<Value>> {
        let list = described[name].as_array()?;
        (!list.is_empty()).then(|| list.iter().map(index).collect())
    };
    let mut create = json!({
        "TableName": described["TableName"],
        "KeySchema": described["KeySchema"],
        "BillingMode": "PAY_PER_REQUEST",
    });
    for name in ["GlobalSecondaryIndexes", "LocalSecondaryIndexes"] {
        if let Some(list) = indexes(name) {
            create[name] = Value::Array(list);
        }
    }
    create["AttributeDefinitions"] = Value::Array(key_attributes(&create, described));
    create
}

/// The definitions of the attributes the keys of `create` (the table's and its indexes') name,
/// and no other: DynamoDB refuses a definition no key uses, and moto keeps one of an index
/// deleted since.
fn key_attributes(create: &Value, described: &Value) -> Vec<Value> {
    let keys = |schema: &Value| -> Vec<String> {
        let names = schema.as_array().into_iter().flatten();
        names
            .filter_map(|k| k["AttributeName"].as_str().map(str::to_owned))
            .collect()
    };
    let mut used = keys(&create["KeySchema"]);
    for name in ["GlobalSecondaryIndexes", "LocalSecondaryIndexes"] {
        for index in create[name].as_array().into_iter().flatten() {
            used.extend(keys(&index["KeySchema"]));
        }
    }
    let defined = described["AttributeDefinitions"]
        .as_array()
        .into_iter()
        .flatten();
    defined
        .filter(|d| {
            d["AttributeName"]
                .as_str()
                .is_some_and(|n| used.iter().any(|u| u == n))
        })
        .cloned()
        .collect()
}

/// Every table moto has (PartiQL names its tables inside its statements).
fn list_tables(to: &Upstreams) -> Result<Vec<String>> {
    let mut tables = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let mut ask = json!({});
        if let Some(start) = &start {
            ask["ExclusiveStartTableName"] = json!(start);
        }
        let listed = call(to, to.moto, "ListTables", &ask)?.unwrap_or_default();
        let names = listed["TableNames"].as_array().cloned().unwrap_or_default();
        tables.extend(names.iter().filter_map(|n| n.as_str().map(str::to_owned)));
        start = listed["LastEvaluatedTableName"].as_str().map(str::to_owned);
        if start.is_none() {
            return Ok(tables);
        }
    }
}

/// The DynamoDB call `operation` with `body` to the moto at `base`: its answer, or `None` when
/// it answered `ResourceNotFoundException` (or `ResourceInUseException`).
fn call(to: &Upstreams, base: &str, operation: &str, body: &Value) -> Result<Option<Value>> {
    // moto reads the account and region from the credential scope and checks no signature.
    let authorization = to.authorization.unwrap_or(
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/dynamodb/aws4_request, \
         SignedHeaders=host, Signature=0",
    );
    let mut answer = to
        .agent
        .post(format!("{base}/"))
        .header("X-Amz-Target", format!("DynamoDB_20120810.{operation}"))
        .header("Content-Type", "application/x-amz-json-1.0")
        .header("Authorization", authorization)
        .send(body.to_string())
        .with_context(|| format!("{operation} to {base}"))?;
    let status = answer.status().as_u16();
    let text = answer.body_mut().read_to_string()?;
    let value: Value = serde_json::from_str(&text).unwrap_or_default();
    let code = value["__type"].as_str().unwrap_or("");
    match status {
        200 => Ok(Some(value)),
        _ if code.ends_with("ResourceNotFoundException")
            || code.ends_with("ResourceInUseException") =>
        {
            Ok(None)
        }
        _ => bail!("{operation} to {base} answered {status}: {text}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_plane_is_the_calls_of_items_and_their_tables_are_found_wherever_named() {
        assert_eq!(
            data_plane(Some("DynamoDB_20120810.UpdateItem")),
            Some("UpdateItem")
        );
        assert_eq!(data_plane(Some("DynamoDB_20120810.Query")), Some("Query"));
        for control in [
            "DescribeTable",
            "CreateTable",
            "UpdateTimeToLive",
            "ListTables",
        ] {
            let target = format!("DynamoDB_20120810.{control}");
            assert_eq!(data_plane(Some(&target)), None, "{control}");
        }
        assert_eq!(data_plane(Some("AWSStepFunctions.SendTaskSuccess")), None);
        assert_eq!(data_plane(None), None);
        let batch = json!({"RequestItems": {"b": [], "a": []}});
        assert_eq!(tables_named(&batch), ["a", "b"]);
        let transaction = json!({"TransactItems": [
            {"Put": {"TableName": "t", "Item": {}}},
            {"ConditionCheck": {"TableName": "u", "Key": {}}},
            {"Update": {"TableName": "t", "Key": {}}},
        ]});
        assert_eq!(tables_named(&transaction), ["t", "u"]);
        assert_eq!(tables_named(&json!({"TableName": "t", "Key": {}})), ["t"]);
    }

    #[test]
    fn a_mirror_has_the_tables_keys_and_indexes_billed_on_demand() {
        let described = json!({
            "TableName": "t",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "gone", "AttributeType": "S"},
            ],
            "ProvisionedThroughput": {"ReadCapacityUnits": 0},
            "GlobalSecondaryIndexes": [{
                "IndexName": "g",
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
                "IndexStatus": "ACTIVE",
            }],
            "LocalSecondaryIndexes": [],
        });
        let create = create_table(&described);
        assert_eq!(create["BillingMode"], "PAY_PER_REQUEST");
        assert_eq!(create["KeySchema"], described["KeySchema"]);
        // Only what a key uses: an index deleted since leaves its attribute behind in moto.
        assert_eq!(
            create["AttributeDefinitions"],
            json!([{"AttributeName": "pk", "AttributeType": "S"}])
        );
        assert_eq!(create["GlobalSecondaryIndexes"][0]["IndexName"], "g");
        assert!(
            create["GlobalSecondaryIndexes"][0]
                .get("IndexStatus")
                .is_none()
        );
        assert!(create.get("LocalSecondaryIndexes").is_none());
        assert!(create.get("ProvisionedThroughput").is_none());
    }

    /// A moto on a port of its own answering DynamoDB's calls with `answer(operation)`; the
    /// operations it was asked, in order.
    fn fake_moto(
        answer: impl Fn(&str) -> (u16, Value) + Send + 'static,
    ) -> (String, std::sync::Arc<Mutex<Vec<String>>>) {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let url = format!("http://{}", server.server_addr().to_ip().unwrap());
        let asked = std::sync::Arc::new(Mutex::new(Vec::new()));
        let seen = asked.clone();
        std::thread::spawn(move || {
            for request in server.incoming_requests() {
                let target = request
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("X-Amz-Target"))
                    .map(|h| {
                        h.value
                            .as_str()
                            .trim_start_matches("DynamoDB_20120810.")
                            .to_owned()
                    })
                    .unwrap_or_default();
                seen.lock().unwrap().push(target.clone());
                let (status, body) = answer(&target);
                let response = tiny_http::Response::from_string(body.to_string());
                let _ = request.respond(response.with_status_code(status));
            }
        });
        (url, asked)
    }

    #[test]
    fn a_table_is_mirrored_before_its_first_call_and_again_when_moto_made_it_again_or_dropped_it() {
        // What moto has: the table's creation time, or no table.
        let created = std::sync::Arc::new(Mutex::new(Some(1.0)));
        let now = created.clone();
        let (moto, _) = fake_moto(move |_| match *now.lock().unwrap() {
            Some(at) => (
                200,
                json!({"Table": {
                    "TableName": "t",
                    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                    "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                    "CreationDateTime": at,
                }}),
            ),
            None => (
                400,
                json!({"__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"}),
            ),
        });
        let (items, asked) = fake_moto(|_| (200, json!({})));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let to = Upstreams {
            agent: &agent,
            moto: &moto,
            items: &items,
            authorization: None,
        };
        let mirrors = Mirrors {
            tables: Mutex::default(),
            recheck: Duration::from_millis(100),
        };
        let call = || {
            mirrors
                .ensure(&to, "GetItem", br#"{"TableName":"t","Key":{}}"#)
                .unwrap()
        };
        let asked_since = |n: usize| asked.lock().unwrap()[n..].to_vec();
        call();
        assert_eq!(
            asked_since(0),
            ["DeleteTable", "CreateTable"],
            "mirrored first"
        );
        call();
        assert_eq!(
            asked_since(2),
            Vec::<String>::new(),
            "looked at again too soon"
        );
        std::thread::sleep(Duration::from_millis(150));
        call();
        assert_eq!(
            asked_since(2),
            Vec::<String>::new(),
            "the same table was mirrored again"
        );
        *created.lock().unwrap() = Some(2.0);
        std::thread::sleep(Duration::from_millis(150));
        call();
        assert_eq!(
            asked_since(2),
            ["DeleteTable", "CreateTable"],
            "made again in moto"
        );
        *created.lock().unwrap() = None;
        std::thread::sleep(Duration::from_millis(150));
        call();
        assert_eq!(asked_since(4), ["DeleteTable"], "gone from moto");
    }
}
