"""The local environment's moto server: moto 5.2's own server, with CloudFormation's update of
an IAM role made as AWS makes it.

moto's CloudFormation updates a role's description alone: a stack update that changes a role's
inline policies (`Policies`) or its trust policy (`AssumeRolePolicyDocument`) leaves the old
ones in place, so a function would keep the rights a new template takes away and lack the ones
it adds. CloudFormation updates both in place ("Update requires: No interruption", AWS::IAM::Role
in the CloudFormation resource reference), the new set of inline policies replacing the old.
This launcher makes moto's update do that, before the server starts.

Run with moto_server's own flags: `python moto_server.py -H 127.0.0.1 -p 5000`.
"""

import json
import sys

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

if __name__ == "__main__":
    sys.exit(main())
