//! The command line: global flags and one subcommand per verb.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use kit_cdk::Lang;
use kit_config::values::{Architecture, Email, Region};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    version,
    about = "hitl: a human-in-the-loop approval step for AWS Step Functions",
    long_about = "hitl: a human-in-the-loop approval step for AWS Step Functions.\n\n\
        Renders the CloudFormation stack from templates/ and hitl.yaml, builds the Lambda \
        functions, deploys and destroys the stack.",
    after_help = "Start with `cargo xtask render --env dev --email you@example.com`, then look at \
        target/hitl/dev/template.yaml.",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Clone)]
pub struct Global {
    /// The config file [default: hitl.yaml in the kit's directory]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// The environment: a key under `environments:` in the config
    #[arg(long, short, global = true, value_name = "NAME", default_value = "dev")]
    pub env: String,
    /// AWS region, over the config's
    #[arg(long, global = true, value_name = "REGION", value_parser = parse::<Region>)]
    pub region: Option<Region>,
    /// AWS named profile, over the config's
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Write target/hitl/<env>/template.yaml from the templates and the config
    Render {
        /// Add a reviewer for this render, on top of the config's (repeatable)
        #[arg(long = "email", value_name = "ADDR", value_parser = parse::<Email>)]
        emails: Vec<Email>,
        /// Render every environment of the config
        #[arg(long, conflicts_with = "emails")]
        all: bool,
    },
    /// Print the effective config of an environment (defaults, environment and flags merged)
    Config {
        /// Add a reviewer, as `render --email` does (repeatable)
        #[arg(long = "email", value_name = "ADDR", value_parser = parse::<Email>)]
        emails: Vec<Email>,
        /// Print JSON instead of YAML
        #[arg(long)]
        json: bool,
    },
    /// Print the JSON Schema of the config file (for editors), or write it with --write
    Schema {
        /// Write hitl.schema.json in the kit's directory instead of printing it
        #[arg(long)]
        write: bool,
    },
    /// Check the reference sections of docs/ that the code generates (the config's keys, the
    /// template variables), or write them with --write
    Docs {
        /// Write them into docs/ instead of checking them
        #[arg(long)]
        write: bool,
    },
    /// Run every check: fmt, clippy, the test suites, cfn-lint and checkov on every environment
    Test {
        /// Only render and lint the templates (skip fmt, clippy and cargo test)
        #[arg(long, conflicts_with = "aws")]
        lint_only: bool,
        /// Only the end-to-end suite, on a throwaway environment in the AWS account of --env
        /// (its region, profile and architecture), destroyed afterwards
        #[arg(long)]
        aws: bool,
        /// The chaos suite's faults instead of its own, as `local up --faults` takes them:
        /// comma-separated SERVICE[/OPERATION]:throttle|error|lost|crash:RATE
        #[arg(long, value_name = "SPEC", conflicts_with_all = ["lint_only", "aws"])]
        faults: Option<String>,
    },
    /// Measure the kit: rendering, and the release functions' zip size and cold start
    Bench {
        /// Only these suites [default: all]
        #[arg(value_enum)]
        suites: Vec<Suite>,
        /// Runs per measurement (renders per environment; cold starts per function, at most 50)
        #[arg(long, default_value_t = 200)]
        iterations: u32,
        /// The chaos suite's faults instead of its own (see `test --faults`)
        #[arg(long, value_name = "SPEC")]
        faults: Option<String>,
        /// The load suite's decisions a second, once every approval is pending [default: 10]
        #[arg(long, value_name = "PER_SECOND", value_parser = parse_rate, allow_negative_numbers = true)]
        rate: Option<f64>,
    },
    /// Build the Lambda functions (release, through cargo-lambda) into deterministic zips
    Build {
        /// CPU architecture [default: the environment's lambda.architecture]
        #[arg(long, value_name = "ARCH", value_parser = parse::<Architecture>)]
        arch: Option<Architecture>,
    },
    /// Deploy the environment's stack (and the bootstrap stack on first use)
    Deploy {
        /// Add a reviewer on top of the config's (repeatable)
        #[arg(long = "email", value_name = "ADDR", value_parser = parse::<Email>)]
        emails: Vec<Email>,
        /// Apply without asking
        #[arg(long, short)]
        yes: bool,
        /// change-set: review the changes first; direct: create or update the stack at once
        /// [default: change-set; the local environment always uses direct]
        #[arg(long, value_enum)]
        method: Option<Method>,
    },
    /// Delete the environment's stack
    Destroy {
        /// Delete without asking
        #[arg(long, short)]
        yes: bool,
        /// Also empty and delete the bootstrap stack and its asset bucket
        #[arg(long)]
        all: bool,
    },
    /// Print the stack's outputs
    Outputs {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Confirm a reviewer's email subscription so that only AWS credentials can undo it
    Confirm {
        /// The "Confirm subscription" link of the email AWS Notifications sent the reviewer
        #[arg(value_name = "LINK")]
        link: String,
    },
    /// Show the stack, its recent events, executions, pending approvals and the reviewers'
    /// subscriptions
    Status {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Start an execution of the approval workflow with an event file
    Start {
        /// The workflow input: a JSON file (samples in events/)
        #[arg(long, value_name = "FILE")]
        event: PathBuf,
        /// The execution's name [default: generated]
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
    },
    /// Manage the local environment's processes (moto server, router, cargo lambda watch)
    Local {
        #[command(subcommand)]
        action: LocalAction,
    },
    /// Export the stack as an AWS CDK app (TypeScript or Python), converted by cdk-from-cfn
    Cdk {
        /// The app's language
        #[arg(long, value_name = "LANG", value_parser = lang_parser())]
        lang: Lang,
        /// The app's directory: new, empty, or an earlier export (whose files are replaced)
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Add a reviewer, as `render --email` does (repeatable)
        #[arg(long = "email", value_name = "ADDR", value_parser = parse::<Email>)]
        emails: Vec<Email>,
        /// Then type-check and `cdk synth` the app with the pinned CDK toolchain (installed from
        /// npm under target/tools) and compare its template with the rendered one
        #[arg(long)]
        verify: bool,
        /// Do not build the environment's packages: the app then checks none of them (it
        /// packages whatever target/lambda holds when it runs)
        #[arg(long)]
        no_build: bool,
        /// Have the app set the account's API Gateway logging role (one setting per account and
        /// region, needed by the stage's access logs): only where nothing else sets it (the
        /// kit's deploy keeps a working one and sets its own where none works)
        #[arg(long)]
        api_gateway_account: bool,
    },
    /// Check what the kit needs on this machine and in the account, with the fix for each
    Doctor,
    /// The Slack app of an environment with a `slack:` block
    Slack {
        #[command(subcommand)]
        action: SlackAction,
    },
    /// The local environment's router (started by the local environment, not by hand)
    #[command(hide = true)]
    LocalRouter {
        /// Address to listen on (moto's MOTO_PORT)
        #[arg(long, value_name = "ADDR")]
        listen: String,
        /// moto's base URL
        #[arg(long, value_name = "URL")]
        moto: String,
        /// The function binaries it serves
        #[arg(long, value_delimiter = ',', default_value = "request,review,workflow")]
        functions: Vec<String>,
        /// The durable execution emulator's base URL
        #[arg(long, value_name = "URL")]
        durable: String,
        /// The base URL of the moto that serves DynamoDB's items (without: moto's)
        #[arg(long, value_name = "URL")]
        items: Option<String>,
        /// Calls in flight per function (cargo lambda watch's instances per function)
        #[arg(long, default_value_t = kit_local::runner::DEFAULT_INSTANCES)]
        concurrency: usize,
        /// How long a function's role session lasts, in seconds
        #[arg(long, default_value_t = kit_local::sessions::DEFAULT_LIFETIME_SECS)]
        session_seconds: u64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Suite {
    /// Rendering each environment's template
    Render,
    /// Converting each environment's template into a CDK app with cdk-from-cfn
    Cdk,
    /// The release functions: zip size and cold start, next to a Python + boto3 handler
    Functions,
    /// A deploy with nothing changed, against a moto server (not in the default set)
    Deploy,
    /// Concurrent approvals on the local environment (`--env local`; not in the default set)
    Load,
    /// A fresh clone to its first review link: `deploy --env local`, then `start` (not in the
    /// default set; minutes)
    Fresh,
    /// Approvals under faults on the local environment, both orchestrators: `--iterations`
    /// approvals on each (at most 100), a quarter each approved, rejected, raced over and left
    /// to expire (not in the default set; minutes)
    Chaos,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    ChangeSet,
    Direct,
}

#[derive(Subcommand, Clone, Copy)]
pub enum SlackAction {
    /// Print the app's manifest (its scopes, and interactivity at the deployed stack's
    /// SlackInteractionsUrl) to paste into Slack's "Create an app from a manifest"
    Manifest,
}

#[derive(Subcommand, Clone)]
pub enum LocalAction {
    /// Start moto server and the router (deploy does this by itself)
    Up {
        /// Faults the router injects into the functions' calls from now on, as AWS produces
        /// them: comma-separated SERVICE[/OPERATION]:throttle|error|lost:RATE, e.g.
        /// `dynamodb:throttle:0.05,states/SendTaskSuccess:lost:0.02` (none: every fault
        /// disarmed)
        #[arg(long, value_name = "SPEC")]
        faults: Option<String>,
        /// Instances of each function a stack's `cargo lambda watch` runs at most, as Lambda's
        /// concurrency [default: 8; a running environment keeps its own]
        #[arg(
            long,
            value_name = "N",
            value_parser = clap::value_parser!(u16).range(1..=kit_local::runner::MAX_INSTANCES as i64)
        )]
        instances: Option<u16>,
    },
    /// Stop every process the local environment started
    Down,
    /// Show what is running and where
    Status,
}

/// The export's languages, by their command-line names.
fn lang_parser() -> impl clap::builder::TypedValueParser<Value = Lang> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(Lang::ALL.map(Lang::id))
        .try_map(|id| id.parse::<Lang>())
}

fn parse<T: std::str::FromStr<Err = String>>(text: &str) -> Result<T, String> {
    text.parse()
}

/// A rate a second: from 0.1 (a POST every ten seconds) to 1,000 (a POST a millisecond).
fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if (0.1..=1000.0).contains(&rate) => Ok(rate),
        _ => Err(format!(
            "`{text}` is no rate: a number of decisions a second from 0.1 to 1000"
        )),
    }
}
