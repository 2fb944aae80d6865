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

A thousand approvals at once (the load benchmark) found moto's server, not the kit, the limit;
the launcher changes how fast moto answers, never what:
- moto's server (werkzeug's) listens with a backlog of 128 connections: a thousand calls at once
  overflowed it and the kernel reset the rest. It listens with a backlog as long as the kernel
  allows (`net.core.somaxconn`, 4096 by default).
- It does not log each request: a fifth of moto's time went to writing and locking its access
  log. Its errors are still logged; the router logs what it forwards.
- moto finds the service of each request under one lock for every request, listing its own
  package's directories from disk and matching a hundred patterns each time. What it finds for a
  host never changes while it runs: it is kept.
- Its Step Functions interpreter made a new boto3 client for every service call of a state (a
  few milliseconds each, under the GIL). One client per service and region serves them all, as
  boto3's clients are safe to share between threads, with as many connections as calls wait.
- The interpreter parsed the state machine's definition (and each intrinsic function in it)
  again for every execution, with ANTLR's Python runtime: a fifth of moto's time at a thousand
  executions. The parse tree of each definition is kept (a definition that does not parse is not), and each execution still gets
  evaluation components of its own from it: nothing an execution changes is shared.
- It parsed every JSONPath again at every use, building a new parser each time; a parsed path
  is immutable, and is kept.
- Its SQS computed every attribute of a queue (three of them counting its messages one by one)
  to read one: each message sent, SNS's deliveries to the outboxes among them, read whether
  the queue deduplicates by content, and so walked every message waiting there. A queue's
  attributes are read one at a time, each when asked, with the same names and values, and
  moto's API (`/moto-api/data.json`) still writes them (`test_moto_server.py` compares them
  with moto's own).
- Its SNS made and signed a new certificate for each message it delivered to a queue (a
  millisecond and a half, most of a publish once the queue's attributes are cheap). SNS names
  the certificate that signed a message (`SigningCertURL`), one it serves for many messages
  until it rotates it; each subscription's key signs one here, which then serves its every
  message (each message still signed on its own, its certificate still filed under a URL of
  its own).

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
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler
import threading

import boto3
from botocore.config import Config
from moto import backends as moto_backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.settings import moto_server_port
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
from moto.stepfunctions.parser.asl.utils import boto_client as sfn_boto_client
import moto.stepfunctions.parser.asl.component.state.exec as sfn_states
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
from moto.stepfunctions.parser.asl.parse.intrinsic.intrinsic_parser import IntrinsicParser
from moto.stepfunctions.parser.asl.parse.intrinsic.preprocessor import (
    Preprocessor as IntrinsicPreprocessor,
)
from moto.stepfunctions.parser.asl.utils import json_path as sfn_json_path
import functools
import importlib
import pkgutil
from collections import OrderedDict
from collections.abc import Mapping

from moto.sqs.models import Queue
import moto.sns.models as sns_models
import moto.moto_api._internal.responses as moto_api_responses
import cryptography.x509 as x509
import types
from moto.core.utils import camelcase_to_underscores

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

BaseWSGIServer.request_queue_size = 4096
WSGIRequestHandler.log_request = lambda self, code="-", size="-": None

_modules = tuple(moto_backends.list_of_moto_modules())
moto_backends.list_of_moto_modules = lambda: _modules
_backend_for_host = DomainDispatcherApplication.get_backend_for_host
_backends_by_host = {}


def get_backend_for_host(self, host):
    if host not in _backends_by_host:
        _backends_by_host[host] = _backend_for_host(self, host)
    return _backends_by_host[host]


DomainDispatcherApplication.get_backend_for_host = get_backend_for_host

_clients = {}
_clients_lock = threading.Lock()


def boto_client_for(region, service, state_credentials=None):
    with _clients_lock:
        if (region, service) not in _clients:
            _clients[(region, service)] = boto3.client(
                aws_access_key_id="ak",
                region_name=region,
                service_name=service,
                aws_secret_access_key="sk",
                endpoint_url=f"http://localhost:{moto_server_port()}",
                config=Config(
                    parameter_validation=False,
                    retries={"max_attempts": 0, "total_max_attempts": 1},
                    connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                    read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                    max_pool_connections=4096,
                ),
            )
        return _clients[(region, service)]


def keep_parse_trees(parser, preprocessor):
    """`parser.parse(source)` keeps the parse tree of each source it parsed, and makes new
    components from it each time."""
    original = parser.parse
    trees = {}

    def parse(source):
        tree = trees.get(source)
        if tree is None:
            components, tree = original(source)
            trees[source] = tree
            return components, tree
        return preprocessor().visit(tree), tree

    parser.parse = staticmethod(parse)


keep_parse_trees(AmazonStateLanguageParser, Preprocessor)
keep_parse_trees(IntrinsicParser, IntrinsicPreprocessor)
sfn_json_path.parse = functools.lru_cache(maxsize=4096)(sfn_json_path.parse)

# Every module that took the interpreter's own by name takes this one (each is imported first).
for _found in pkgutil.walk_packages(sfn_states.__path__, sfn_states.__name__ + "."):
    importlib.import_module(_found.name)
_original = sfn_boto_client.boto_client_for
for _module in list(sys.modules.values()):
    if getattr(_module, "boto_client_for", None) is _original:
        _module.boto_client_for = boto_client_for



class QueueAttributes(Mapping):
    """A queue's attributes as moto's `Queue.attributes` makes them (the same names, the same
    values), each read when asked: `queue.attributes.get("ContentBasedDeduplication")` does not
    count the queue's messages."""

    def __init__(self, queue):
        self._queue = queue
        names = list(Queue.BASE_ATTRIBUTES)
        if queue.fifo_queue:
            names += Queue.FIFO_ATTRIBUTES
        if queue.kms_master_key_id:
            names += Queue.KMS_ATTRIBUTES
        self._names = list(dict.fromkeys(names))

    def __getitem__(self, name):
        if name not in self._names:
            raise KeyError(name)
        queue = self._queue
        if name == "RedrivePolicy" and queue.redrive_policy:
            return json.dumps(queue.redrive_policy)
        value = getattr(queue, camelcase_to_underscores(name))
        return str(value).lower() if isinstance(value, bool) else value

    def __contains__(self, name):
        return name in self._names

    def __iter__(self):
        return iter(self._names)

    def __len__(self):
        return len(self._names)


moto_queue_attributes = Queue.attributes
Queue.attributes = property(QueueAttributes)


def _as_json(value):
    """What `json.dumps` writes for a queue's attributes: the dict moto's property made."""
    if isinstance(value, QueueAttributes):
        return dict(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class _JsonOfAttributes:
    """The `json` module as moto's API (`/moto-api/data.json`) uses it, which writes each model's
    attributes that `json.dumps` takes: a queue's `attributes` among them, as before."""

    def __getattr__(self, name):
        return getattr(json, name)

    @staticmethod
    def dumps(value, **kwargs):
        kwargs.setdefault("default", _as_json)
        return json.dumps(value, **kwargs)


moto_api_responses.json = _JsonOfAttributes()


class OneCertificatePerKey:
    """`cryptography.x509.CertificateBuilder` as moto's SNS uses it (built, then signed with a
    subscription's key): the certificate a key signed first is the one it signs ever after."""

    # As many as moto keeps subscription keys (`Subscription.private_key`'s `lru_cache`).
    _most = 128
    _signed = OrderedDict()
    _lock = threading.Lock()

    def __init__(self):
        self._builder = x509.CertificateBuilder()

    def __getattr__(self, name):
        step = getattr(self._builder, name)

        def chained(*args, **kwargs):
            self._builder = step(*args, **kwargs)
            return self

        return chained

    def sign(self, key, algorithm):
        with self._lock:
            kept = self._signed.get(id(key))
            if kept is not None:
                self._signed.move_to_end(id(key))
            else:
                # The key is kept too, so that its id is never another's.
                kept = (key, self._builder.sign(key, algorithm))
                self._signed[id(key)] = kept
                if len(self._signed) > self._most:
                    self._signed.popitem(last=False)
            return kept[1]


sns_models.cryptography = types.SimpleNamespace(
    x509=types.SimpleNamespace(
        CertificateBuilder=OneCertificatePerKey,
        random_serial_number=x509.random_serial_number,
    )
)

if __name__ == "__main__":
    sys.exit(main())
