"""The local environment's moto server: moto 5.2's own server, with CloudFormation's update of
an IAM role made as AWS makes it, and the CloudWatch alarms a template declares made.

moto's CloudFormation updates a role's description alone: a stack update that changes a role's
inline policies (`Policies`) or its trust policy (`AssumeRolePolicyDocument`) leaves the old
ones in place, so a function would keep the rights a new template takes away and lack the ones
it adds. CloudFormation updates both in place ("Update requires: No interruption", AWS::IAM::Role
in the CloudFormation resource reference), the new set of inline policies replacing the old.
This launcher makes moto's update do that, before the server starts.

moto's CloudFormation skips `AWS::CloudWatch::Alarm` (it logs "No Moto CloudFormation support"):
the stack's alarms would not exist locally. This launcher makes each one through moto's own
CloudWatch, as the template declares it, and deletes it with the stack. (They never fire:
nothing sends moto the functions' metrics.)

moto's Lambda keeps no `DeadLetterConfig`, from CloudFormation or its API: the local
environment could not send a failed asynchronous invocation where Lambda would. This launcher
keeps it, from the function's create, update and `UpdateFunctionConfiguration`, and answers it
in the function's configuration, as Lambda does. And as Lambda does, it refuses a queue the
function's role may not send to (`InvalidParameterValueException`, "The provided execution role
does not have permissions to call SendMessage on SQS"): a statement moved out of the role's own
inline policies, or dropped, fails here as it would in an account.

Run with moto_server's own flags: `python moto_server.py -H 127.0.0.1 -p 5000`.
"""

import json
import sys

from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import CloudFormationBackend
from moto.cloudwatch.models import cloudwatch_backends
from moto.core.common_models import CloudFormationModel
import fnmatch

from moto.awslambda.exceptions import InvalidParameterValueException
from moto.awslambda.models import LambdaFunction
from moto.iam.models import iam_backends
from moto.iam.models import Role, _serialize_version_datetime
from moto.server import main

_update = Role.update_from_cloudformation_json.__func__


def update_from_cloudformation_json(
    cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
):
    role = _update(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    )
    properties = cloudformation_json["Properties"]
    wanted = {p["PolicyName"]: p["PolicyDocument"] for p in properties.get("Policies", [])}
    for name in list(role.policies):
        if name not in wanted:
            role.delete_policy(name)
    for name, document in wanted.items():
        role.put_policy(name, document)
    trust = properties["AssumeRolePolicyDocument"]
    if not isinstance(trust, str):
        trust = json.dumps(trust, default=_serialize_version_datetime)
    role.assume_role_policy_document = trust
    return role


Role.update_from_cloudformation_json = classmethod(update_from_cloudformation_json)


class CloudFormationAlarm(CloudFormationModel):
    """AWS::CloudWatch::Alarm, made through moto's CloudWatch (its physical id is its name)."""

    # moto's model metaclass files a model under the service its module names.
    __module__ = "moto.cloudwatch.models"

    def __init__(self, name):
        self.name = name

    @staticmethod
    def cloudformation_name_type():
        return "AlarmName"

    @staticmethod
    def cloudformation_type():
        return "AWS::CloudWatch::Alarm"

    @property
    def physical_resource_id(self):
        return self.name

    def delete(self, account_id, region_name):
        cloudwatch_backends[account_id][region_name].delete_alarms([self.name])

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        p = cloudformation_json["Properties"]
        name = p.get("AlarmName") or resource_name
        cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=name,
            namespace=p.get("Namespace"),
            metric_name=p.get("MetricName"),
            comparison_operator=p["ComparisonOperator"],
            evaluation_periods=int(p["EvaluationPeriods"]),
            period=int(p.get("Period", 60)),
            threshold=float(p.get("Threshold", 0)),
            statistic=p.get("Statistic"),
            description=p.get("AlarmDescription", ""),
            dimensions=[{"Name": d["Name"], "Value": d["Value"]} for d in p.get("Dimensions", [])],
            alarm_actions=p.get("AlarmActions", []),
            treat_missing_data=p.get("TreatMissingData"),
            tags=[{"Key": t["Key"], "Value": t["Value"]} for t in p.get("Tags", [])],
        )
        return cls(name)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        backend = cloudwatch_backends[account_id][region_name]
        backend.delete_alarms([original_resource.name])
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name
    ):
        cloudwatch_backends[account_id][region_name].delete_alarms([resource_name])


_init = LambdaFunction.__init__
_create_function = LambdaFunction.create_from_cloudformation_json.__func__
_update_configuration = LambdaFunction.update_configuration
_get_configuration = LambdaFunction.get_configuration


def role_may_send(account_id, partition, role_arn, queue_arn):
    """Whether the role's inline policies allow sqs:SendMessage on the queue (what Lambda checks
    when a function is given a dead-letter queue; the kit grants nothing through managed
    policies)."""
    role = iam_backends[account_id][partition].get_role_by_arn(role_arn)
    for document in role.policies.values():
        if isinstance(document, str):
            document = json.loads(document)
        statements = document.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            if statement.get("Effect") != "Allow":
                continue
            as_list = lambda v: v if isinstance(v, list) else [v]
            actions = [a.lower() for a in as_list(statement.get("Action", []))]
            resources = as_list(statement.get("Resource", []))
            if any(fnmatch.fnmatchcase("sqs:sendmessage", a) for a in actions) and any(
                fnmatch.fnmatchcase(queue_arn, r) for r in resources
            ):
                return True
    return False


def check_dead_letter(function, config):
    target = (config or {}).get("TargetArn") or ""
    if ":sqs:" in target and not role_may_send(
        function.account_id, function.partition, function.role, target
    ):
        raise InvalidParameterValueException(
            "The provided execution role does not have permissions to call SendMessage on SQS"
        )


def function_init(self, account_id, spec, *args, **kwargs):
    _init(self, account_id, spec, *args, **kwargs)
    check_dead_letter(self, spec.get("DeadLetterConfig"))
    self.dead_letter_config = spec.get("DeadLetterConfig")


def create_function(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    function = _create_function(
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    )
    config = cloudformation_json["Properties"].get("DeadLetterConfig")
    check_dead_letter(function, config)
    function.dead_letter_config = config
    return function


def update_configuration(self, config):
    # CloudFormation's update passes every property (one it lacks is removed); the API's, only
    # those it changes.
    if "DeadLetterConfig" in config or "Code" in config:
        check_dead_letter(self, config.get("DeadLetterConfig"))
        self.dead_letter_config = config.get("DeadLetterConfig")
    return _update_configuration(self, config)


def get_configuration(self, *args, **kwargs):
    config = _get_configuration(self, *args, **kwargs)
    target = (getattr(self, "dead_letter_config", None) or {}).get("TargetArn")
    if target:
        config["DeadLetterConfig"] = {"TargetArn": target}
    return config


LambdaFunction.__init__ = function_init
LambdaFunction.create_from_cloudformation_json = classmethod(create_function)
LambdaFunction.update_configuration = update_configuration
LambdaFunction.get_configuration = get_configuration


def describe_stack_resource(self, stack_name, logical_resource_id):
    stack = self.get_stack(stack_name)
    for resource in stack.stack_resources:
        if getattr(resource, "logical_resource_id", None) == logical_resource_id:
            return stack, resource
    message = f"Resource {logical_resource_id} does not exist for stack {stack_name}"
    raise ValidationError(stack_name, message)


CloudFormationBackend.describe_stack_resource = describe_stack_resource

if __name__ == "__main__":
    sys.exit(main())
