//! The approvals table's conditional writes as DynamoDB takes them, on moto (which checks each
//! expression's names and values are all used, as DynamoDB does): a claim given up and kept
//! among the lost claims, a stale claim taken over and kept, the record settled with the lost
//! claim the workflow took, and an expired record closed. The protocol's tests run the same
//! rules on the in-memory table; here the adapter's expressions meet an emulator.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use aws_sdk_dynamodb::{
    Client,
    config::{BehaviorVersion, Credentials, Region},
    types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType},
};
use hitl_adapters::table::DynamoTable;
use hitl_core::{Approval, ApprovalId, Claim, Decision, Status, Transition};
use hitl_protocol::{DecisionTable, RequestTable, Table, Written};
use serde_json::json;

const NOW: u64 = 1_750_000_000;

/// A moto server of its own, stopped on drop.
struct Moto(Child, String);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

fn kit_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A moto server of its own on a free loopback port, as the local environment runs it.
fn moto() -> Moto {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let python = kit_root().join("target/tools/venv/bin/python");
    assert!(
        python.exists(),
        "no {}: run `cargo xtask test`",
        python.display()
    );
    let child = Command::new(python)
        .arg(kit_root().join("xtask/local/moto_server.py"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let moto = Moto(child, format!("http://127.0.0.1:{port}"));
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "moto did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    moto
}

/// The table `approvals` on `moto`, made as the stack makes it (its key `id`).
async fn table(moto: &Moto) -> DynamoTable {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(hitl_aws::http_client())
        .endpoint_url(&moto.1)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .build();
    let client = Client::from_conf(config);
    client
        .create_table()
        .table_name("approvals")
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    DynamoTable::new(client, "approvals".into())
}

fn record(id: &str, expires_at: u64) -> Approval {
    serde_json::from_value(json!({
        "id": id, "task_token": "t", "status": "pending",
        "request": {"title": "T", "requester": "req@x.io"}, "execution_arn": "arn",
        "created_at": NOW, "expires_at": expires_at, "ttl": expires_at + 3600,
        "reviewers": ["ana@x.io", "ben@x.io"], "quorum": 1,
    }))
    .unwrap()
}

fn claim(reviewer: &str, decision: Decision, at: u64) -> Claim {
    Claim {
        decision,
        comment: format!("says {reviewer}"),
        reviewer: reviewer.into(),
        at,
        verified: None,
    }
}

async fn read(table: &DynamoTable, id: &str) -> Approval {
    let id = ApprovalId::parse(id).unwrap();
    table.approval(&id).await.unwrap().expect("the record")
}

#[test]
#[ignore = "needs the tools venv (moto): run through `cargo xtask test`"]
fn lost_claims_are_kept_taken_over_and_settled_as_dynamodb_takes_them() {
    let moto = moto();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let table = table(&moto).await;
        let id = "abcdefghijklmnopqrstuvwxyz";
        let approval = record(id, NOW + 600);
        assert_eq!(table.put_approval(&approval).await.unwrap(), Written::Done);

        // Ana's approval, given up without knowing: kept, with the votes it was sent with.
        let ana = claim("ana@x.io", Decision::Approved, NOW + 10);
        assert_eq!(table.claim(&approval, &ana).await.unwrap(), Written::Done);
        let revert = table.settle(&approval, &ana, Transition::Revert).await;
        assert_eq!(revert.unwrap(), Written::Done);
        let pending = read(&table, id).await;
        assert_eq!(pending.status, Status::Pending);
        assert_eq!(pending.lost_claims, [approval.lost(ana.clone())]);

        // Ben's rejection, claimed on the record as read; a claim that read it before Ana's
        // was given up is refused (the lost claims are not the ones it read).
        let late = claim("ben@x.io", Decision::Rejected, NOW + 11);
        assert_eq!(
            table.claim(&approval, &late).await.unwrap(),
            Written::ConditionFailed
        );
        let ben = claim("ben@x.io", Decision::Rejected, NOW + 20);
        assert_eq!(table.claim(&pending, &ben).await.unwrap(), Written::Done);

        // Ben's function dies; a minute on, Ana's next press takes his claim over, keeping it.
        let held = read(&table, id).await;
        let again = claim("ana@x.io", Decision::Approved, NOW + 90);
        assert_eq!(table.claim(&held, &again).await.unwrap(), Written::Done);
        let taken_over = read(&table, id).await;
        let lost: Vec<Claim> = taken_over
            .lost_claims
            .iter()
            .map(|l| l.claim.clone())
            .collect();
        assert_eq!(lost, [ana.clone(), ben.clone()]);
        assert_eq!(taken_over.claim(), Some(again.clone()));

        // Her send finds the task closed with her first approval: the record says so.
        let first = taken_over.lost_claims[0].clone();
        let settled = table.settle_taken(&held, &again, &first).await;
        assert_eq!(settled.unwrap(), Written::Done);
        let decided = read(&table, id).await;
        assert_eq!(decided.status, Status::Approved);
        assert_eq!(
            (
                decided.decided_by.as_deref(),
                decided.decided_at,
                decided.comment.as_deref()
            ),
            (Some("ana@x.io"), Some(NOW + 10), Some("says ana@x.io"))
        );
        assert_eq!(decided.votes, first.votes);
        assert!(decided.lost_claims.is_empty() && decided.claimed_at.is_none());

        // Past its expiry, a record nobody decided is closed; one with a lost claim is not.
        let quiet = record("bcdefghijklmnopqrstuvwxyza", NOW + 60);
        assert_eq!(table.put_approval(&quiet).await.unwrap(), Written::Done);
        let quiet_id = quiet.id.clone();
        let early = table.close_expired(&quiet_id, NOW + 59).await.unwrap();
        assert_eq!(early, Written::ConditionFailed);
        let closed = table.close_expired(&quiet_id, NOW + 60).await.unwrap();
        assert_eq!(closed, Written::Done);
        assert_eq!(
            read(&table, quiet_id.as_str()).await.status,
            Status::Expired
        );
        let unsure = record("cdefghijklmnopqrstuvwxyzab", NOW + 60);
        assert_eq!(table.put_approval(&unsure).await.unwrap(), Written::Done);
        let claimed = claim("ana@x.io", Decision::Approved, NOW + 5);
        assert_eq!(table.claim(&unsure, &claimed).await.unwrap(), Written::Done);
        let reverted = table.settle(&unsure, &claimed, Transition::Revert).await;
        assert_eq!(reverted.unwrap(), Written::Done);
        let kept = table.close_expired(&unsure.id, NOW + 120).await.unwrap();
        assert_eq!(kept, Written::ConditionFailed);

        // At the last check its execution took that lost claim: written as the in-memory
        // record applies it, and only on the record as read.
        let open = read(&table, unsure.id.as_str()).await;
        let lost = open.lost_claims[0].clone();
        let stale = table.settle_lost(&unsure, Some(&lost)).await.unwrap();
        assert_eq!(
            stale,
            Written::ConditionFailed,
            "read before its lost claim"
        );
        let settled = table.settle_lost(&open, Some(&lost)).await.unwrap();
        assert_eq!(settled, Written::Done);
        let mut expected = open.clone();
        expected.apply_taken(&lost);
        assert_eq!(read(&table, unsure.id.as_str()).await, expected);
        let again = table.settle_lost(&open, Some(&lost)).await.unwrap();
        assert_eq!(again, Written::ConditionFailed, "decided already");

        // Ended with none of them: expired, the lost claims dropped.
        let gone = record("defghijklmnopqrstuvwxyzabc", NOW + 60);
        assert_eq!(table.put_approval(&gone).await.unwrap(), Written::Done);
        assert_eq!(table.claim(&gone, &claimed).await.unwrap(), Written::Done);
        let reverted = table.settle(&gone, &claimed, Transition::Revert).await;
        assert_eq!(reverted.unwrap(), Written::Done);
        let open = read(&table, gone.id.as_str()).await;
        assert_eq!(table.settle_lost(&open, None).await.unwrap(), Written::Done);
        let expired = read(&table, gone.id.as_str()).await;
        assert_eq!(expired.status, Status::Expired);
        assert!(expired.lost_claims.is_empty());
    });
}
