//! DynamoDB: AWS JSON 1.0, `X-Amz-Target: DynamoDB_20120810.<Operation>`.
//!
//! SAR, "Actions, resources, and condition keys for Amazon DynamoDB": each item and table
//! operation below is its own action on the `table` resource
//! (`arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}`); `Query` and `Scan`
//! also take the optional `index` resource (`…:table/${TableName}/index/${IndexName}`), the one
//! checked when the request names an `IndexName` (DynamoDB developer guide, "IAM policy to
//! grant access to a specific DynamoDB table and its indexes", grants `Query`/`Scan` on
//! `table/Books/index/*` for that). `TableName` may itself be a table ARN (DynamoDB API
//! reference, GetItem and the others: the name or the ARN of the table).
//!
//! Transactions have no action of their own ("Using IAM with DynamoDB transactions", DynamoDB
//! developer guide): each item is authorized as its `GetItem`, `PutItem`, `UpdateItem`,
//! `DeleteItem` or `ConditionCheckItem`, with `dynamodb:EnclosingOperation` set to
//! `TransactGetItems` / `TransactWriteItems`. Batches are `BatchGetItem` / `BatchWriteItem`,
//! once per table of `RequestItems` (SAR).
//!
//! Condition keys filled from the request: `dynamodb:ReturnValues`,
//! `dynamodb:ReturnConsumedCapacity`, `dynamodb:Select` (SAR, "Condition keys for Amazon
//! DynamoDB"), each when the request sends it (the docs do not say whether an absent parameter
//! reaches the policy as its default: it is left absent). Not filled: `dynamodb:LeadingKeys`
//! (needs the table's key schema) and `dynamodb:Attributes` (needs parsing every expression).

use serde_json::Value;

use super::request::{Needed, Scope, Unknown, json_body, json_target, optional, required};

const SERVICE: &str = "dynamodb";
const TARGET: &str = "DynamoDB_20120810";

/// What a DynamoDB call needs.
pub(super) fn needed(call: &super::request::Call, scope: Scope) -> Result<Vec<Needed>, Unknown> {
    let operation = json_target(call, SERVICE, TARGET)?;
    let body = json_body(call, SERVICE, operation)?;
    match operation {
        "GetItem" | "PutItem" | "UpdateItem" | "DeleteItem" | "DescribeTable" => {
            let table = required(&body, "TableName", SERVICE, operation)?;
            Ok(vec![with_request_keys(
                Needed::new(&action(operation), table_arn(table, scope)),
                &body,
            )])
        }
        "Query" | "Scan" => {
            let table = required(&body, "TableName", SERVICE, operation)?;
            let resource = match optional(&body, "IndexName") {
                Some(index) if !index.is_empty() => index_arn(table, index, scope),
                _ => table_arn(table, scope),
            };
            Ok(vec![with_request_keys(
                Needed::new(&action(operation), resource),
                &body,
            )])
        }
        "BatchGetItem" | "BatchWriteItem" => batch(operation, &body, scope),
        "TransactGetItems" | "TransactWriteItems" => transaction(operation, &body, scope),
        other => Err(Unknown::new(SERVICE, other, "operation not covered")),
    }
}

/// `dynamodb:Operation`.
fn action(operation: &str) -> String {
    format!("dynamodb:{operation}")
}

/// A table's ARN: `TableName` as sent when it is an ARN.
fn table_arn(table: &str, scope: Scope) -> String {
    if table.starts_with("arn:") {
        table.to_owned()
    } else {
        scope.arn(SERVICE, &format!("table/{table}"))
    }
}

/// An index's ARN: `TABLE_ARN/index/INDEX`.
fn index_arn(table: &str, index: &str, scope: Scope) -> String {
    format!("{}/index/{index}", table_arn(table, scope))
}

/// The condition keys a request's top-level parameters set.
fn with_request_keys(needed: Needed, body: &Value) -> Needed {
    needed
        .with_some("dynamodb:ReturnValues", optional(body, "ReturnValues"))
        .with_some(
            "dynamodb:ReturnConsumedCapacity",
            optional(body, "ReturnConsumedCapacity"),
        )
        .with_some("dynamodb:Select", optional(body, "Select"))
}

/// `BatchGetItem` / `BatchWriteItem`: the action once per table of `RequestItems` (whose keys
/// are table names or ARNs).
fn batch(operation: &str, body: &Value, scope: Scope) -> Result<Vec<Needed>, Unknown> {
    let items = body
        .get("RequestItems")
        .and_then(Value::as_object)
        .filter(|items| !items.is_empty())
        .ok_or_else(|| Unknown::new(SERVICE, operation, "no RequestItems in the request"))?;
    Ok(items
        .keys()
        .map(|table| {
            with_request_keys(
                Needed::new(&action(operation), table_arn(table, scope)),
                body,
            )
        })
        .collect())
}

/// `TransactGetItems` / `TransactWriteItems`: each item as its own operation, inside the
/// enclosing one.
fn transaction(operation: &str, body: &Value, scope: Scope) -> Result<Vec<Needed>, Unknown> {
    let items = body
        .get("TransactItems")
        .and_then(Value::as_array)
        .filter(|items| !items.is_empty())
        .ok_or_else(|| Unknown::new(SERVICE, operation, "no TransactItems in the request"))?;
    items
        .iter()
        .map(|item| transact_item(operation, item, body, scope))
        .collect()
}

/// One item of a transaction: `{"Get": {...}}`, `{"Put": {...}}`, `{"Update": {...}}`,
/// `{"Delete": {...}}` or `{"ConditionCheck": {...}}` (DynamoDB API reference, TransactGetItem
/// and TransactWriteItem).
fn transact_item(
    operation: &str,
    item: &Value,
    body: &Value,
    scope: Scope,
) -> Result<Needed, Unknown> {
    let kinds: &[(&str, &str)] = if operation == "TransactGetItems" {
        &[("Get", "GetItem")]
    } else {
        &[
            ("Put", "PutItem"),
            ("Update", "UpdateItem"),
            ("Delete", "DeleteItem"),
            ("ConditionCheck", "ConditionCheckItem"),
        ]
    };
    let (member, item_operation) = kinds
        .iter()
        .find_map(|(kind, op)| item.get(*kind).map(|member| (member, *op)))
        .ok_or_else(|| Unknown::new(SERVICE, operation, "a transaction item of no known kind"))?;
    let table = required(member, "TableName", SERVICE, operation)?;
    Ok(
        Needed::new(&action(item_operation), table_arn(table, scope))
            .with("dynamodb:EnclosingOperation", operation)
            .with_some(
                "dynamodb:ReturnConsumedCapacity",
                optional(body, "ReturnConsumedCapacity"),
            ),
    )
}
