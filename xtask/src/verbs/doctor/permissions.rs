//! What the caller needs of IAM to deploy and run an environment: the one list of it in the code,
//! each service's actions on resources named as the kit names them. docs/testing.md ("What the
//! caller needs") is the same list for people; a test keeps every action here in its table.

use kit_deploy::BOOTSTRAP_STACK;

/// A service: its actions' prefix, doctor's name for its finding, the docs table's for its row.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Service {
    pub prefix: &'static str,
    pub what: &'static str,
    pub row: &'static str,
}

const fn service(prefix: &'static str, what: &'static str, row: &'static str) -> Service {
    Service { prefix, what, row }
}

const CLOUDFORMATION: Service =
    service("cloudformation", "CloudFormation access", "CloudFormation");
const IAM: Service = service("iam", "IAM access", "IAM");
const LAMBDA: Service = service("lambda", "Lambda access", "Lambda");
const STATES: Service = service("states", "Step Functions access", "Step Functions");
const DYNAMODB: Service = service("dynamodb", "DynamoDB access", "DynamoDB");
const SNS: Service = service("sns", "SNS access", "SNS");
const SQS: Service = service("sqs", "SQS access", "SQS");
const S3: Service = service("s3", "S3 access", "S3");
const SCHEDULER: Service = service("scheduler", "Scheduler access", "EventBridge Scheduler");
const APIGATEWAY: Service = service("apigateway", "API Gateway access", "API Gateway");
const LOGS: Service = service("logs", "CloudWatch Logs access", "CloudWatch Logs");

/// Who needs a grant: every deploy, the deploy of some environments, or only some verbs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Needed {
    Deploy,
    StepFunctions,
    Durable,
    /// Only these verbs, as the finding names them.
    Verbs(&'static str),
}

/// What the environment deploys, as far as the grants depend on it.
#[derive(Clone, Copy)]
pub struct Deploys {
    pub step_functions: bool,
}

impl Needed {
    /// Whether a deploy of this environment fails without it.
    pub fn required(self, deploys: Deploys) -> bool {
        match self {
            Needed::Deploy => true,
            Needed::StepFunctions => deploys.step_functions,
            Needed::Durable => !deploys.step_functions,
            Needed::Verbs(_) => false,
        }
    }

    /// What it is for, as the finding says when this environment's deploy does without it.
    pub fn purpose(self) -> &'static str {
        match self {
            Needed::Deploy => "deploy",
            Needed::StepFunctions => "Step Functions environments",
            Needed::Durable => "durable-function environments",
            Needed::Verbs(verbs) => verbs,
        }
    }
}

/// Actions of one service on one resource pattern: one simulation.
#[derive(Debug)]
pub struct Need {
    pub service: Service,
    pub needed: Needed,
    /// The resources to grant: `{partition}`, `{region}`, `{account}`, `{stack}` and
    /// `{bootstrap}` filled in, `*` for any name of the pattern.
    on: &'static str,
    /// What stands for `*` in the resource the simulation asks about: a name the kit gives, so
    /// that a grant of that very resource counts as well as one of the whole pattern.
    example: &'static str,
    /// For `iam:PassRole`: the service the roles are passed to (`iam:PassedToService`).
    pub passed_to: Option<&'static str>,
    /// The actions' names, without the service's prefix, separated by spaces.
    names: &'static str,
}

/// Where the environment's resources are: what fills in a [`Need`]'s resource pattern.
#[derive(Clone, Debug)]
pub struct Scope {
    pub partition: String,
    pub region: String,
    pub account: String,
    pub stack: String,
}

impl Need {
    /// The actions, each with its service's prefix (`iam:PassRole`).
    pub fn actions(&self) -> impl Iterator<Item = String> + '_ {
        let prefix = self.service.prefix;
        self.names
            .split_whitespace()
            .map(move |name| format!("{prefix}:{name}"))
    }

    /// The resources to grant, as the fix names them.
    pub fn grant(&self, scope: &Scope) -> String {
        self.on
            .replace("{partition}", &scope.partition)
            .replace("{region}", &scope.region)
            .replace("{account}", &scope.account)
            .replace("{stack}", &scope.stack)
            .replace("{bootstrap}", BOOTSTRAP_STACK)
    }

    /// The resource the simulation asks about.
    pub fn resource(&self, scope: &Scope) -> String {
        self.grant(scope).replace('*', self.example)
    }
}

const fn need(
    service: Service,
    needed: Needed,
    on: &'static str,
    example: &'static str,
    names: &'static str,
) -> Need {
    Need {
        service,
        needed,
        on,
        example,
        passed_to: None,
        names,
    }
}

/// `iam:PassRole` of the roles `on` to the service `to`.
const fn pass(needed: Needed, on: &'static str, example: &'static str, to: &'static str) -> Need {
    Need {
        service: IAM,
        needed,
        on,
        example,
        passed_to: Some(to),
        names: "PassRole",
    }
}

const DEPLOY: Needed = Needed::Deploy;
const STEP: Needed = Needed::StepFunctions;
const TEST: Needed = Needed::Verbs("`test --aws`");
const DESTROY_ALL: Needed = Needed::Verbs("`destroy --all`");
const RUN: Needed = Needed::Verbs("`start` and `status`");

const STACK: &str = "arn:{partition}:cloudformation:{region}:{account}:stack/{stack}/*";
const BOOTSTRAP: &str = "arn:{partition}:cloudformation:{region}:{account}:stack/{bootstrap}/*";
const ROLES: &str = "arn:{partition}:iam::{account}:role/{stack}-*";
const BOOTSTRAP_ROLES: &str = "arn:{partition}:iam::{account}:role/{bootstrap}-*";
const FUNCTIONS: &str = "arn:{partition}:lambda:{region}:{account}:function:{stack}-*";
const MACHINES: &str = "arn:{partition}:states:{region}:{account}:stateMachine:{stack}-*";
const EXECUTIONS: &str = "arn:{partition}:states:{region}:{account}:execution:{stack}-*";
const TABLES: &str = "arn:{partition}:dynamodb:{region}:{account}:table/{stack}-*";
const TOPIC: &str = "arn:{partition}:sns:{region}:{account}:{stack}-approvals*";
const QUEUES: &str = "arn:{partition}:sqs:{region}:{account}:hitl-e2e-*";
const ASSETS: &str = "arn:{partition}:s3:::{bootstrap}-assetbucket-*";
const ASSET_OBJECTS: &str = "arn:{partition}:s3:::{bootstrap}-assetbucket-*/*";
const E2E_BUCKETS: &str = "arn:{partition}:s3:::hitl-e2e-*";
const E2E_OBJECTS: &str = "arn:{partition}:s3:::hitl-e2e-*/*";
const GROUP: &str = "arn:{partition}:scheduler:{region}:{account}:schedule-group/{stack}";
const APIS: &str = "arn:{partition}:apigateway:{region}::/restapis*";
const ACCOUNT: &str = "arn:{partition}:apigateway:{region}::/account";
const TAGS: &str = "arn:{partition}:apigateway:{region}::/tags*";
const LAMBDA_LOGS: &str = "arn:{partition}:logs:{region}:{account}:log-group:/aws/lambda/{stack}-*";
const STATES_LOGS: &str =
    "arn:{partition}:logs:{region}:{account}:log-group:/aws/vendedlogs/states/{stack}-*";
const API_LOGS: &str =
    "arn:{partition}:logs:{region}:{account}:log-group:/aws/apigateway/{stack}-*";
const LOG_GROUPS: &str = "arn:{partition}:logs:{region}:{account}:log-group:*";
const LOG_GROUP: &str = "CreateLogGroup DeleteLogGroup PutRetentionPolicy TagResource";

/// Everything the caller needs, service by service, in the order doctor shows the services. Not
/// STS: `sts:GetCallerIdentity` needs no permission (an explicit deny does not stop it), and
/// doctor has just called it.
#[rustfmt::skip]
pub const NEEDS: &[Need] = &[
    need(CLOUDFORMATION, DEPLOY, STACK, "0",
        "CreateStack UpdateStack DeleteStack DescribeStacks DescribeStackEvents \
         DescribeStackResources GetTemplate CreateChangeSet DescribeChangeSet ExecuteChangeSet \
         DeleteChangeSet"),
    need(CLOUDFORMATION, DEPLOY, BOOTSTRAP, "0",
        "CreateStack UpdateStack DescribeStacks DescribeStackEvents GetTemplate"),
    need(CLOUDFORMATION, DESTROY_ALL, "*", "*", "ListImports"),
    need(IAM, DEPLOY, ROLES, "ReviewFunctionRole-EXAMPLE",
        "CreateRole DeleteRole GetRole UpdateAssumeRolePolicy PutRolePolicy DeleteRolePolicy \
         GetRolePolicy AttachRolePolicy DetachRolePolicy TagRole UntagRole"),
    pass(DEPLOY, ROLES, "ReviewFunctionRole-EXAMPLE", "lambda.amazonaws.com"),
    pass(STEP, ROLES, "StateMachineRole-EXAMPLE", "states.amazonaws.com"),
    need(IAM, DEPLOY, BOOTSTRAP_ROLES, "ApiGatewayCloudWatchRole-EXAMPLE",
        "CreateRole GetRole AttachRolePolicy TagRole"),
    pass(DEPLOY, BOOTSTRAP_ROLES, "ApiGatewayCloudWatchRole-EXAMPLE", "apigateway.amazonaws.com"),
    need(LAMBDA, DEPLOY, FUNCTIONS, "review",
        "CreateFunction UpdateFunctionCode UpdateFunctionConfiguration DeleteFunction \
         GetFunction PublishVersion AddPermission RemovePermission TagResource"),
    need(LAMBDA, Needed::Durable, FUNCTIONS, "workflow", "CreateAlias UpdateAlias DeleteAlias"),
    need(LAMBDA, RUN, FUNCTIONS, "workflow",
        "InvokeFunction ListDurableExecutionsByFunction GetDurableExecution \
         GetDurableExecutionHistory StopDurableExecution"),
    need(LAMBDA, TEST, "*", "*", "GetAccountSettings"),
    need(STATES, STEP, MACHINES, "approval",
        "CreateStateMachine UpdateStateMachine DeleteStateMachine DescribeStateMachine \
         TagResource"),
    need(STATES, RUN, MACHINES, "approval", "StartExecution ListExecutions"),
    need(STATES, RUN, EXECUTIONS, "approval:EXAMPLE",
        "DescribeExecution GetExecutionHistory StopExecution"),
    need(DYNAMODB, DEPLOY, TABLES, "ApprovalsTable-EXAMPLE",
        "CreateTable DeleteTable DescribeTable UpdateTable UpdateTimeToLive DescribeTimeToLive \
         UpdateContinuousBackups DescribeContinuousBackups TagResource ListTagsOfResource"),
    need(DYNAMODB, Needed::Verbs("`status` and `test --aws`"), TABLES, "ApprovalsTable-EXAMPLE",
        "Scan GetItem"),
    need(SNS, DEPLOY, TOPIC, "",
        "CreateTopic DeleteTopic GetTopicAttributes SetTopicAttributes Subscribe Unsubscribe \
         TagResource"),
    need(SNS, Needed::Verbs("`confirm` and `status`"), TOPIC, "",
        "ConfirmSubscription ListSubscriptionsByTopic GetSubscriptionAttributes"),
    need(SNS, TEST, TOPIC, "", "Publish"),
    need(SQS, TEST, QUEUES, "EXAMPLE",
        "CreateQueue GetQueueUrl GetQueueAttributes SetQueueAttributes ReceiveMessage \
         DeleteMessage DeleteQueue"),
    need(S3, DEPLOY, ASSETS, "example",
        "CreateBucket PutBucketPolicy PutBucketVersioning PutEncryptionConfiguration \
         PutBucketPublicAccessBlock PutBucketOwnershipControls PutLifecycleConfiguration \
         PutBucketTagging ListBucket"),
    need(S3, DEPLOY, ASSET_OBJECTS, "example", "PutObject GetObject"),
    need(S3, DESTROY_ALL, ASSETS, "example", "ListBucketVersions DeleteBucket"),
    need(S3, DESTROY_ALL, ASSET_OBJECTS, "example", "DeleteObjectVersion"),
    need(S3, TEST, E2E_BUCKETS, "example",
        "CreateBucket ListBucket ListBucketVersions DeleteBucket"),
    need(S3, TEST, E2E_OBJECTS, "example", "PutObject DeleteObject DeleteObjectVersion"),
    need(SCHEDULER, DEPLOY, GROUP, "",
        "CreateScheduleGroup DeleteScheduleGroup GetScheduleGroup TagResource"),
    need(APIGATEWAY, DEPLOY, APIS, "/EXAMPLE", "GET POST PUT PATCH DELETE"),
    need(APIGATEWAY, DEPLOY, ACCOUNT, "", "GET PATCH"),
    need(APIGATEWAY, DEPLOY, TAGS, "/EXAMPLE", "PUT DELETE"),
    need(LOGS, DEPLOY, LAMBDA_LOGS, "review", LOG_GROUP),
    need(LOGS, STEP, STATES_LOGS, "approval", LOG_GROUP),
    need(LOGS, DEPLOY, API_LOGS, "review", LOG_GROUP),
    need(LOGS, DEPLOY, LOG_GROUPS, "*", "DescribeLogGroups"),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows of docs/testing.md's table of what the caller needs: service, then the
    /// backquoted words of its actions column.
    fn documented() -> Vec<(String, Vec<String>)> {
        let path = kit_base::paths::root().join("docs/testing.md");
        let text = std::fs::read_to_string(&path).expect("docs/testing.md");
        let section = text
            .split("### What the caller needs")
            .nth(1)
            .expect("a section named What the caller needs");
        let table = section.lines().skip_while(|l| !l.starts_with('|'));
        table
            .take_while(|l| l.starts_with('|'))
            .filter_map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let quoted = cells.get(2)?.split('`').skip(1).step_by(2);
                Some((cells[1].to_owned(), quoted.map(str::to_owned).collect()))
            })
            .collect()
    }

    /// Whether `pattern`, with `*` for any text, matches all of `text`.
    fn glob(pattern: &str, text: &str) -> bool {
        match pattern.split_once('*') {
            None => pattern == text,
            Some((head, tail)) => {
                text.starts_with(head)
                    && (0..=text.len() - head.len())
                        .any(|skip| glob(tail, &text[head.len() + skip..]))
            }
        }
    }

    /// Whether a backquoted word of the docs (`CreateRole`, `iam:PassRole`, `PutBucket*`,
    /// `cloudformation:*`) names `action`.
    fn names(word: &str, action: &str) -> bool {
        let (prefix, name) = action.split_once(':').expect("prefix:name");
        match word.split_once(':') {
            Some((of, pattern)) => of == prefix && glob(pattern, name),
            None => glob(word, name),
        }
    }

    #[test]
    fn every_action_is_in_the_docs_table_of_the_callers_permissions() {
        let rows = documented();
        for need in NEEDS {
            let (_, words) = rows
                .iter()
                .find(|(service, _)| service == need.service.row)
                .unwrap_or_else(|| panic!("no row {} in docs/testing.md", need.service.row));
            for action in need.actions() {
                assert!(
                    words.iter().any(|word| names(word, &action)),
                    "{action} is not in docs/testing.md's row {}",
                    need.service.row
                );
            }
        }
    }

    #[test]
    fn the_glob_of_the_docs_words() {
        assert!(names("cloudformation:*", "cloudformation:CreateStack"));
        assert!(names("PutBucket*", "s3:PutBucketPolicy"));
        assert!(names("*Alias", "lambda:CreateAlias"));
        assert!(!names("PutBucket*", "s3:PutObject"));
        assert!(!names("iam:PassRole", "iam:PassRoles"));
        assert!(!names("cloudformation:*", "iam:CreateRole"));
    }

    #[test]
    fn resources_are_the_environments_with_an_example_for_each_star() {
        let scope = Scope {
            partition: "aws".into(),
            region: "eu-west-1".into(),
            account: "123456789012".into(),
            stack: "hitl-dev".into(),
        };
        let roles = NEEDS.iter().find(|n| n.on == ROLES).unwrap();
        assert_eq!(
            roles.grant(&scope),
            "arn:aws:iam::123456789012:role/hitl-dev-*"
        );
        assert_eq!(
            roles.resource(&scope),
            "arn:aws:iam::123456789012:role/hitl-dev-ReviewFunctionRole-EXAMPLE"
        );
        let objects = NEEDS.iter().find(|n| n.on == ASSET_OBJECTS).unwrap();
        assert_eq!(
            objects.resource(&scope),
            "arn:aws:s3:::hitl-bootstrap-assetbucket-example/example"
        );
        let imports = NEEDS.iter().find(|n| n.names == "ListImports").unwrap();
        assert_eq!(imports.resource(&scope), "*");
    }
}
