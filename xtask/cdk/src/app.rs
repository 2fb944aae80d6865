//! The files of an exported CDK app around cdk-from-cfn's stack class: the entry point,
//! `cdk.json` (whose `hitl:` context carries the settings), the package manifest and a README.

use std::{collections::BTreeMap, path::PathBuf};

use serde_json::{Map, Value as Json, json};

use super::{CLASS, Conversion, Lang};

/// The npm packages (exact versions) an exported TypeScript app depends on, and the kit's own
/// check installs. `aws-cdk-lib` is the same release for Python.
pub const NPM_PACKAGES: [(&str, &str); 6] = [
    ("aws-cdk-lib", AWS_CDK_LIB),
    ("constructs", "10.8.1"),
    ("aws-cdk", "2.1148.1"),
    ("typescript", "5.9.3"),
    ("ts-node", "10.9.2"),
    ("@types/node", "20.19.9"),
];
pub const AWS_CDK_LIB: &str = "2.275.0";
/// The Python packages of an exported Python app, as `requirements.txt` pins them.
pub const PYTHON_REQUIREMENTS: [&str; 2] = ["aws-cdk-lib==2.275.0", "constructs>=10.0.0,<11.0.0"];
/// What the TypeScript app needs at run time; the rest are development tools.
const NPM_RUNTIME: [&str; 2] = ["aws-cdk-lib", "constructs"];

/// What an app is exported for.
pub struct Spec<'a> {
    pub lang: Lang,
    /// The CloudFormation stack (and CDK stack id): `hitl-dev`.
    pub stack_name: &'a str,
    pub environment: &'a str,
    /// The region the kit's config names for the environment, if any.
    pub region: Option<&'a str>,
    pub description: Option<&'a str>,
    pub architecture: &'a str,
    /// The kit's `target/lambda/<arch>`, relative to the app's directory when possible.
    pub lambda_dir: String,
    /// The SHA-256 (hex) of each package the export built (`request.zip` → digest): the app
    /// refuses a package that differs. Empty when the export built none.
    pub packages: BTreeMap<String, String>,
    /// The command that builds this environment's packages, for the app's messages.
    pub build: String,
}

/// Every file of the app, by its path in the output directory.
pub fn files(spec: &Spec, conversion: &Conversion) -> Vec<(PathBuf, String)> {
    let mut files = vec![
        (PathBuf::from("cdk.json"), cdk_json(spec, conversion)),
        (PathBuf::from("README.md"), readme(spec, conversion)),
    ];
    match spec.lang {
        Lang::Typescript => {
            files.push(("lib/hitl-stack.ts".into(), conversion.stack_code.clone()));
            files.push(("bin/app.ts".into(), TYPESCRIPT_APP.to_owned()));
            files.push(("package.json".into(), package_json(spec)));
            files.push(("tsconfig.json".into(), TSCONFIG.to_owned()));
            files.push((".gitignore".into(), "node_modules/\ncdk.out/\n".to_owned()));
        }
        Lang::Python => {
            files.push(("hitl_stack.py".into(), conversion.stack_code.clone()));
            files.push(("app.py".into(), PYTHON_APP.to_owned()));
            let requirements = PYTHON_REQUIREMENTS.join("\n") + "\n";
            files.push(("requirements.txt".into(), requirements));
            files.push((
                ".gitignore".into(),
                ".venv/\ncdk.out/\n__pycache__/\n".to_owned(),
            ));
        }
    }
    files
}

fn pretty(value: &Json) -> String {
    serde_json::to_string_pretty(value).expect("JSON values print") + "\n"
}

fn cdk_json(spec: &Spec, conversion: &Conversion) -> String {
    let app = match spec.lang {
        Lang::Typescript => "npx ts-node --prefer-ts-exts bin/app.ts",
        Lang::Python => "python3 app.py",
    };
    let mut restore: Map<String, Json> = Map::new();
    for restored in &conversion.prepared.restored {
        let attributes = restore
            .entry(restored.logical_id.clone())
            .or_insert_with(|| Json::Object(Map::new()));
        if let Json::Object(attributes) = attributes {
            attributes.insert(restored.attribute.clone(), restored.value.clone());
        }
    }
    pretty(&json!({
        "app": app,
        "versionReporting": false,
        "pathMetadata": false,
        "context": {
            "hitl:stackName": spec.stack_name,
            "hitl:description": spec.description.unwrap_or(""),
            "hitl:architecture": spec.architecture,
            "hitl:lambdaDir": spec.lambda_dir,
            "hitl:code": conversion.prepared.code,
            "hitl:sha256": spec.packages,
            "hitl:build": spec.build,
            "hitl:versions": conversion
                .prepared
                .versions
                .iter()
                .map(|(id, version)| (id.clone(), version.to_json()))
                .collect::<Map<_, _>>(),
            "hitl:restore": restore,
        }
    }))
}

fn package_json(spec: &Spec) -> String {
    let pick = |runtime: bool| -> Map<String, Json> {
        NPM_PACKAGES
            .iter()
            .filter(|(name, _)| NPM_RUNTIME.contains(name) == runtime)
            .map(|(name, version)| ((*name).to_owned(), json!(version)))
            .collect()
    };
    pretty(&json!({
        "name": format!("{}-cdk", spec.stack_name),
        "version": "0.1.0",
        "private": true,
        "description": format!("The CDK app of the hitl stack {}", spec.stack_name),
        "scripts": {
            "build": "tsc",
            "synth": "cdk synth",
            "cdk": "cdk"
        },
        "dependencies": pick(true),
        "devDependencies": pick(false),
    }))
}

fn readme(spec: &Spec, conversion: &Conversion) -> String {
    let (stack_file, setup, synth) = match spec.lang {
        Lang::Typescript => ("lib/hitl-stack.ts", "npm install", "npx cdk synth"),
        Lang::Python => (
            "hitl_stack.py",
            "python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt",
            "npx aws-cdk@2 synth",
        ),
    };
    let deploy = synth.replace(" synth", " deploy");
    let restored = if conversion.prepared.restored.is_empty() {
        "Nothing: cdk-from-cfn expressed every attribute of the template.".to_owned()
    } else {
        conversion
            .prepared
            .restored
            .iter()
            .map(|r| format!("- `{}` of `{}`", r.attribute, r.logical_id))
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!(
        "# {stack} — the hitl stack as an AWS CDK app\n\
\n\
Written by `cargo xtask cdk --env {env}` from the kit's rendered template: `{stack_file}` holds\n\
the stack class `{CLASS}`, converted by cdk-from-cfn; the entry point adds the Lambda packages and\n\
what cdk-from-cfn does not express. Settings are the `hitl:` context keys of `cdk.json`. Export\n\
the app again after changing `hitl.yaml` or the templates rather than editing the stack class.\n\
\n\
## Synth and deploy\n\
\n\
```sh\n\
{setup}\n\
{synth}       # cdk.out/{stack}.template.json\n\
{deploy}      # once per account and region first: npx cdk bootstrap\n\
```\n\
\n\
The stack is environment-agnostic: it deploys to the account and region of your AWS\n\
credentials{region}.\n\
\n\
**One stack, two owners.** The app deploys the CloudFormation stack `{stack}`: the very stack\n\
`cargo xtask deploy --env {env}` deploys. In an account where the kit deployed `{env}`, a\n\
`cdk deploy` replaces its template (and `cargo xtask destroy` deletes what CDK deployed): deploy\n\
each environment with one tool, or export it under another `stack_name`.\n\
\n\
{logging}\n\
\n\
## Where the Lambda packages come from\n\
\n\
The functions are Rust binaries built by the kit: `{build}` in the kit builds this\n\
environment's packages, as the export did. The export recorded each package's SHA-256\n\
(`hitl:sha256`), and the app refuses a package that differs (built for another environment or\n\
architecture, or since): build it with that command and export again. The app takes `request.zip` and `review.zip` from `{lambda_dir}` (context\n\
`hitl:lambdaDir`, relative to this directory; `-c hitl:lambdaDir=DIR` points elsewhere) and makes\n\
them CDK assets: `cdk deploy` uploads them to the CDK bootstrap bucket, in place of the kit's\n\
own asset bucket and its `AssetBucket` / `RequestCodeKey` / `ReviewCodeKey` parameters.\n\
\n\
## Restored by the app\n\
\n\
Attributes cdk-from-cfn drops, set again from `hitl:restore` with `addOverride`:\n\
\n\
{restored}\n",
        stack = spec.stack_name,
        env = spec.environment,
        region = spec.region.map_or(String::new(), |region| format!(
            " (the kit's config names {region} for `{env}`: `AWS_REGION={region} {deploy}`)",
            env = spec.environment
        )),
        build = spec.build,
        logging = logging_role_note(conversion),
        lambda_dir = spec.lambda_dir,
    )
}

/// What the app's README says about the account's API Gateway logging role.
fn logging_role_note(conversion: &Conversion) -> &'static str {
    let sets = conversion.rendered["Resources"]
        .get(crate::account_logging::RESOURCES[1])
        .is_some();
    if sets {
        "**The account's API Gateway logging role.** This app sets it (`ApiGatewayCloudWatchRole`,\n\
`ApiGatewayAccount`, both kept when the app is destroyed: exported with\n\
`--api-gateway-account`). It is one setting per account and region, which each such app takes\n\
from the last: deploy one per account and region, and none where a working role is set already\n\
(`aws apigateway get-account`)."
    } else {
        "**The account's API Gateway logging role.** The stage's access logs need it (one setting per\n\
account and region), and this app leaves it alone. Where none is set (`aws apigateway\n\
get-account`), the stage fails with \"CloudWatch Logs role ARN must be set in account\n\
settings\": a `cargo xtask deploy` in the account sets one (and keeps a working one), or\n\
export with `--api-gateway-account` to have this app set it."
    }
}

const TSCONFIG: &str = r#"{
  "compilerOptions": {
    "target": "ES2022",
    "module": "commonjs",
    "lib": ["es2022"],
    "types": ["node"],
    "strict": true,
    "skipLibCheck": true,
    "noEmit": true
  },
  "include": ["bin/**/*.ts", "lib/**/*.ts"]
}
"#;

const TYPESCRIPT_APP: &str = r#"#!/usr/bin/env node
// The entry point of the exported hitl app, written by `cargo xtask cdk`. lib/hitl-stack.ts is
// cdk-from-cfn's conversion of the kit's rendered template; this adds what the template took
// from the kit: the functions' packages, as CDK assets, and the resource attributes
// cdk-from-cfn does not express. The settings are the `hitl:` context keys of cdk.json.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as cdk from 'aws-cdk-lib';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { HitlStack } from '../lib/hitl-stack';

const app = new cdk.App();

function setting<T>(key: string): T {
  const value = app.node.tryGetContext(`hitl:${key}`);
  if (value === undefined) {
    throw new Error(`cdk.json has no context hitl:${key}: export the app again with cargo xtask cdk`);
  }
  return value as T;
}

const stack = new HitlStack(app, setting<string>('stackName'), {
  description: setting<string>('description') || undefined,
});

// The functions' packages, built by `cargo xtask build`; `cdk deploy` uploads them.
// The app packages what it was exported with: a package that differs (built for another
// environment, or since) is refused.
function checkPackage(zip: string, file: string): void {
  const expected = setting<Record<string, string>>('sha256')[file];
  if (!expected || !fs.existsSync(zip)) {
    return;
  }
  const actual = crypto.createHash('sha256').update(fs.readFileSync(zip)).digest('hex');
  if (actual !== expected) {
    throw new Error(
      `${zip} is not the package this app was exported with (sha256 ${actual}, expected ` +
        `${expected}): run \`${setting<string>('build')}\` in the kit and export the app again`,
    );
  }
}

const lambdaDir = path.resolve(setting<string>('lambdaDir'));
const assets: Record<string, s3assets.Asset> = {};
for (const [logicalId, file] of Object.entries(setting<Record<string, string>>('code'))) {
  const zip = path.join(lambdaDir, file);
  checkPackage(zip, file);
  if (!fs.existsSync(zip)) {
    throw new Error(
      `${zip} is missing: run \`${setting<string>('build')}\` ` +
        'in the kit first, or point -c hitl:lambdaDir=DIR at the packages',
    );
  }
  const asset = new s3assets.Asset(stack, `${logicalId}Package`, { path: zip });
  const fn = stack.node.findChild(logicalId) as cdk.CfnResource;
  fn.addPropertyOverride('Code.S3Bucket', asset.s3BucketName);
  fn.addPropertyOverride('Code.S3Key', asset.s3ObjectKey);
  assets[file] = asset;
}

// A published version names its package and its configuration's hash, so that a new package,
// like a new configuration, publishes a new version.
type Version = { package: string; suffix: string };
for (const [logicalId, v] of Object.entries(setting<Record<string, Version>>('versions'))) {
  const version = stack.node.findChild(logicalId) as cdk.CfnResource;
  version.addPropertyOverride('Description', `package ${assets[v.package].assetHash}${v.suffix}`);
}

// Resource attributes cdk-from-cfn does not express, as the template has them.
const restore = setting<Record<string, Record<string, unknown>>>('restore');
for (const [logicalId, attributes] of Object.entries(restore)) {
  const resource = stack.node.findChild(logicalId) as cdk.CfnResource;
  for (const [attribute, value] of Object.entries(attributes)) {
    resource.addOverride(attribute, value);
  }
}

app.synth();
"#;

const PYTHON_APP: &str = r#"#!/usr/bin/env python3
"""The entry point of the exported hitl app, written by `cargo xtask cdk`.

hitl_stack.py is cdk-from-cfn's conversion of the kit's rendered template; this adds what the
template took from the kit: the functions' packages, as CDK assets, and the resource attributes
cdk-from-cfn does not express. The settings are the `hitl:` context keys of cdk.json.
"""
import hashlib
import os

import aws_cdk as cdk
from aws_cdk import aws_s3_assets as s3assets

from hitl_stack import HitlStack

app = cdk.App()


def setting(key):
    value = app.node.try_get_context(f"hitl:{key}")
    if value is None:
        raise SystemExit(
            f"cdk.json has no context hitl:{key}: export the app again with cargo xtask cdk"
        )
    return value


stack = HitlStack(app, setting("stackName"), description=setting("description") or None)

# The functions' packages, built by `cargo xtask build`; `cdk deploy` uploads them.
def check_package(zip_path, file):
    """The app packages what it was exported with: a package that differs is refused."""
    expected = setting("sha256").get(file)
    if not expected or not os.path.exists(zip_path):
        return
    with open(zip_path, "rb") as package:
        actual = hashlib.sha256(package.read()).hexdigest()
    if actual != expected:
        raise SystemExit(
            f"{zip_path} is not the package this app was exported with (sha256 {actual}, "
            f"expected {expected}): run `{setting('build')}` in the kit and export the app again"
        )


lambda_dir = os.path.abspath(setting("lambdaDir"))
assets = {}
for logical_id, file in setting("code").items():
    zip_path = os.path.join(lambda_dir, file)
    check_package(zip_path, file)
    if not os.path.exists(zip_path):
        raise SystemExit(
            f"{zip_path} is missing: run `{setting('build')}` "
            "in the kit first, or point -c hitl:lambdaDir=DIR at the packages"
        )
    asset = s3assets.Asset(stack, f"{logical_id}Package", path=zip_path)
    function = stack.node.find_child(logical_id)
    function.add_property_override("Code.S3Bucket", asset.s3_bucket_name)
    function.add_property_override("Code.S3Key", asset.s3_object_key)
    assets[file] = asset

# A published version names its package and its configuration's hash, so that a new package,
# like a new configuration, publishes a new version.
for logical_id, v in setting("versions").items():
    version = stack.node.find_child(logical_id)
    description = f"package {assets[v['package']].asset_hash}{v['suffix']}"
    version.add_property_override("Description", description)

# Resource attributes cdk-from-cfn does not express, as the template has them.
for logical_id, attributes in setting("restore").items():
    resource = stack.node.find_child(logical_id)
    for attribute, value in attributes.items():
        resource.add_override(attribute, value)

app.synth()
"#;
