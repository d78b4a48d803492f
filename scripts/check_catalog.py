#!/usr/bin/env python3
"""Check the tfdrift catalog (catalog/*.toml) against the AWS API models and the AWS provider schema.
(Google Cloud files, catalog/gcp-*.toml, are left to scripts/check_catalog_gcp.py.)

    python3 scripts/check_catalog.py              # static checks
    python3 scripts/check_catalog.py --records    # static checks, then run the real CloudTrail records through it
    python3 scripts/check_catalog.py -v           # also list every path that was accepted on weaker evidence

Needs cargo and the `botocore` package (its API models, read offline from its data folder). The catalog is read
as the library parsed it (`tfdrift-replay --dump-catalog`, src/catalog/dump.rs): its format, paths, defaults and
the names it derives (a request member's attribute, an event name without version suffix) are the library's,
not re-implemented here. Exit status: 0 when every static check passes, 1 otherwise. In --records mode,
records that the catalog does not cover, or whose identifier is absent, are reported with a reason; they are
information, not failures.

What is checked (the catalog format is described in catalog/README.md):
  format    the library loads the catalog (documented keys only, `change`, `severity`, `as`, `op` values,
            path syntax: a file it refuses is an error here); no (event_source, service, name) twice; [keys]
            for a type declared once (or identically) across files, and only for a type some call targets;
            event_source matches the botocore service's endpoint prefix (SHARED_SOURCES: services that log
            under another's); no call that is also listed in NOT_IN_CATALOG (the calls deliberately left
            out, with the reason).
  shared    calls of the same (event_source, name) in different services (apigateway/apigatewayv2,
            elb/elbv2) must not share an identifier path: tfdrift tries them in file-name order and takes the
            first whose identifier paths find a value, and so does --records.
  common    catalog/common.toml (optional, no [service], not a service file): [auto_attrs] ignore (request
            parameter names left out of every automatic mapping) and [id_prefixes], each prefix a non-empty
            string naming a non-empty list of provider resource types.
  auto      for create/modify calls with auto_attrs on (the default), the top-level request members that
            no identifier path or explicit mapping uses and whose snake_case form is an attribute of the first
            target's type: counted, and listed by -v (the library gives the snake_case form and the members
            left out: the call's identifier, mapped and `ignore`d members, and common.toml's).
  names     every call `name` is an operation of the file's botocore service (or a CloudTrail event name
            listed in EVENT_NAME_ALIASES with the operation it logs), is not a read-only name
            (Get/List/Describe/Head...), and does not end in what tfdrift would take for a CloudTrail
            version suffix.
  schema    every target `type` is a resource type of the provider schema; every [keys] and `join` attribute
            is a top-level attribute of that type; a target joined on the default keys has `id` or `arn`;
            the first segment of every `attrs` value is an attribute or block of the first target's type
            (a short, documented list of blocks missing from the derived schema is accepted, see SCHEMA_GAPS).
            String-ness of key/join attributes: the schema file lists names only, no types, so it is checked
            (a) against the real states in tests/data/tfstate (every value seen must be a string or null)
            where the type/attribute occurs there, and (b) against a list of names known not to be strings.
  paths     every identifier path and every `attrs` key is resolved against the operation's input shape
            (requestParameters...) or output shape (responseElements...), using the naming rules below.
            A path the rules cannot resolve is still accepted when it yields a value on a real record of
            that call (evidence beats the model); otherwise it is an error. Paths on the record envelope
            (awsRegion, recipientAccountId, resources.ARN, userIdentity...) are not in any API model; they are
            accepted from a fixed list and reported. For every call that has real successful records (not
            sanitised to no parameters at all, nor listed in SANITISED_RECORDS), at least one record must give
            an identifier; of a shared (event_source, name), each candidate on the records earlier candidates
            do not take.

How CloudTrail writes parameter names, per botocore protocol (the normalisation used here):
  json, rest-json (kms, cloudtrail, lambda), query (iam, rds)
            member name with the first letter lowercased (KeyId -> keyId, DBInstanceIdentifier ->
            dBInstanceIdentifier, UUID -> uUID); lists are JSON arrays (no extra step); maps take any key.
            LOWER_CAMEL services lowercase a leading acronym whole (Secrets Manager: ARN -> arn).
            MODEL_CASE services (REST-JSON with PascalCase JSON names: Security Hub, DLM...) keep the member
            name as written (InsightArn).
            CloudWatch's model speaks smithy-rpc-v2-cbor first; it is read as json.
            Outputs: RDS writes the members of a single-structure result directly (the DBInstance members
            of CreateDBInstance are under responseElements, not responseElements.dBInstance); see
            FLATTENED_OUTPUT.
  ec2       Two styles, told apart by the model: an operation whose input members carry lowercase
            `locationName`s (dryRun, instanceId...) is an old-style call; one whose input has none is a
            newer call that CloudTrail wraps.
            old style, request: lowercase-first `locationName` (or member name); a list is written as
              `<name>Set` or `<name>` with an `items` array, so a list member is matched by its name or a
              `...Set` variant (InstanceIds -> instancesSet, Groups -> groupSet, Tags -> tagSet,
              IpPermissions -> ipPermissions) followed by `items`; a list of scalars has one more step, the
              element's name (instancesSet.items.instanceId).
            old style, response: `locationName` (instancesSet, groupId, vpc); lists as `items` arrays.
            wrapped, request: requestParameters.<Op>Request, then the query API's parameter names (the
              member's queryName, else its locationName capitalised, else its name: FlowLogId, InstanceId,
              IamInstanceProfile.Name); a list is the element itself (one or an array), a list
              of scalars ends in `content` (DeleteFlowLogsRequest.FlowLogId.content).
            wrapped, response: responseElements.<Op>Response, then `locationName`s; lists as `item`
              (CreateNatGatewayResponse.natGateway.natGatewayId, CreateFlowLogsResponse.flowLogIdSet.item).
  rest-xml: cloudfront and route53 (XML_AS_JSON)
            as json above: lowercase-first member names at every level, lists as arrays.
  rest-xml (s3)
            the `Bucket` URI member is `bucketName`; other URI, query-string and header members by their
            `locationName` (x-amz-acl) or lowercase-first member name (key); the XML body by its element
            names as written in the model (VersioningConfiguration.Status, LifecycleConfiguration.Rule):
            flattened lists are the element itself, wrapped lists add the element name (Tagging.TagSet.Tag).
What cannot be verified from the models is listed by -v: envelope paths, and paths CloudTrail writes in a
form no model rule gives (S3 `bucketPolicy`, EC2 `aclProtocol`), which are accepted only on record evidence.
"""
from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_SCHEMA = os.path.join(ROOT, "tests", "data", "aws-provider-schema.json")
DEFAULT_RECORDS = os.path.join(ROOT, "tests", "data", "cloudtrail")
DEFAULT_STATES = os.path.join(ROOT, "tests", "data", "tfstate")

# Event sources under which more than one botocore service logs (catalog/README.md, "Services that share an
# event source"). A call is keyed by (event_source, service, name); tfdrift tries the candidates of a shared
# (event_source, name) in file-name order and takes the first whose identifier paths find a value.
# Event sources that are not the endpoint prefix + ".amazonaws.com" (ECR's endpoint is api.ecr; CloudTrail
# logs ecr.amazonaws.com, as the real records in tests/data/cloudtrail show).
EVENT_SOURCES = {"ecr": "ecr.amazonaws.com"}
# SageMaker's endpoint is api.sagemaker and SES's (v1 and v2) is email; CloudTrail logs sagemaker.amazonaws.com
# and ses.amazonaws.com (the SES records in tests/data/cloudtrail).
EVENT_SOURCES.update({"sagemaker": "sagemaker.amazonaws.com", "ses": "ses.amazonaws.com",
                      "sesv2": "ses.amazonaws.com"})
# AppStream's endpoint is appstream2; CloudTrail logs appstream.amazonaws.com (the example entry of AppStream's
# CloudTrail guide).
EVENT_SOURCES["appstream"] = "appstream.amazonaws.com"
# MemoryDB's endpoint prefix is memory-db; CloudTrail logs memorydb.amazonaws.com (the MemoryDB developer guide's
# CloudTrail examples). Bedrock AgentCore's control plane: endpoint prefix bedrock-agentcore-control, signing name
# bedrock-agentcore, under which CloudTrail logs it. Lex V2 model building: endpoint prefix models-v2-lex, signing
# name lex, logged as lex.amazonaws.com.
EVENT_SOURCES.update({"memorydb": "memorydb.amazonaws.com",
                      "bedrock-agentcore-control": "bedrock-agentcore.amazonaws.com",
                      "lexv2-models": "lex.amazonaws.com"})
# Also not the endpoint prefix: CloudHSM v2 logs cloudhsm (its CloudTrail guide's CreateHsm record), Detective
# detective (endpoint api.detective), ECR Public ecr-public (endpoint api.ecr-public), Timestream's write API
# timestream (endpoint ingest.timestream), as the EventBridge reference lists their CloudTrail event sources.
EVENT_SOURCES.update({"cloudhsmv2": "cloudhsm.amazonaws.com", "detective": "detective.amazonaws.com",
                      "ecr-public": "ecr-public.amazonaws.com", "timestream-write": "timestream.amazonaws.com"})
SHARED_SOURCES = {
    "apigateway.amazonaws.com": {"apigateway", "apigatewayv2"},
    "elasticloadbalancing.amazonaws.com": {"elb", "elbv2"},
    "ses.amazonaws.com": {"ses", "sesv2"},
    # Agents for Amazon Bedrock (botocore bedrock-agent, endpoint prefix bedrock-agent) signs as `bedrock` and
    # CloudTrail logs its management calls under bedrock.amazonaws.com.
    "bedrock.amazonaws.com": {"bedrock", "bedrock-agent"},
}
READ_PREFIXES = ("Get", "List", "Describe", "Head")

# Record fields outside requestParameters/responseElements that a path may start with. They are part of
# every CloudTrail record, not of an API model, so they cannot be checked against botocore.
ENVELOPE = {
    "awsRegion": None,
    "recipientAccountId": None,
    "resources": {"ARN", "arn", "type", "accountId"},
    "userIdentity": None,
    "additionalEventData": None,
    "serviceEventDetails": None,
}

# Blocks that exist in the AWS provider but are missing from the derived schema file
# (tests/data/aws-provider-schema.json lists "top-level attribute names" derived from the CDKTF
# bindings, and drops some single-item nested blocks). Only blocks the catalog uses are listed; each is a
# documented argument of the resource in the provider's docs.
SCHEMA_GAPS = {
    "aws_s3_bucket_versioning": {"versioning_configuration"},
    "aws_s3_bucket_ownership_controls": {"rule"},
    "aws_s3_bucket_object_lock_configuration": {"rule"},
    "aws_s3_bucket_website_configuration": {"index_document", "error_document", "redirect_all_requests_to"},
    "aws_s3_bucket_acl": {"access_control_policy"},
    "aws_s3_bucket_inventory": {"destination"},
    "aws_s3_bucket_analytics_configuration": {"filter", "storage_class_analysis"},
    "aws_s3_bucket_metric": {"filter"},
    "aws_s3_bucket_intelligent_tiering_configuration": {"filter"},
    "aws_apigatewayv2_api": {"cors_configuration"},
    "aws_wafv2_web_acl": {"default_action", "visibility_config"},
    "aws_wafv2_rule_group": {"visibility_config"},
}

# Attribute names that are never strings in the AWS provider (maps, blocks, sets, numbers, booleans).
NOT_STRING_NAMES = {"tags", "tags_all", "timeouts", "ingress", "egress", "route", "rule", "policy_arns",
                    "policy_names", "subnet_ids", "vpc_security_group_ids", "security_groups", "users",
                    "roles", "groups", "enabled", "port", "attachment", "vpc", "listener"}

# CloudTrail event names that are not botocore operation names. tfdrift looks a call up by the event name,
# so the catalog names these calls as CloudTrail does; their paths are checked against the operation here.
EVENT_NAME_ALIASES = {
    "s3": {
        "PutBucketPublicAccessBlock": "PutPublicAccessBlock",
        "DeleteBucketPublicAccessBlock": "DeletePublicAccessBlock",
        "PutAccelerateConfiguration": "PutBucketAccelerateConfiguration",
    },
}

# Mutating calls of the catalog's services that are deliberately not in it, with the reason (--records
# prints it for a record of such a call).
NOT_IN_CATALOG = {
    ("s3", "PutObject"): "object-level data event: aws_s3_object is identified by bucket and key together, "
                         "which one join attribute cannot express",
    ("s3", "CopyObject"): "object-level data event (see PutObject)",
    ("s3", "DeleteObject"): "object-level data event (see PutObject)",
    ("s3", "DeleteObjects"): "object-level data event (see PutObject)",
    ("iam", "ChangePassword"): "a user changing their own password: aws_iam_user_login_profile does not track "
                               "the password after creation",
    ("kms", "Decrypt"): "a use of a key, not a change (the record has no readOnly field)",
    ("rds", "RebootDBInstance"): "operational: changes no Terraform argument",
    ("rds", "RebootDBCluster"): "operational: changes no Terraform argument",
    ("rds", "FailoverDBCluster"): "operational: moves the writer, changes no Terraform argument",
    ("rds", "FailoverGlobalCluster"): "operational: moves the primary region, changes no Terraform argument",
    ("rds", "AuthorizeDBSecurityGroupIngress"): "EC2-Classic DB security groups: aws_db_security_group is no "
                                                "longer in the provider",
    ("rds", "RevokeDBSecurityGroupIngress"): "EC2-Classic DB security groups (see AuthorizeDBSecurityGroupIngress)",
    ("iam", "UpdateAccountPasswordPolicy"): "aws_iam_account_password_policy has a constant id that no record "
                                            "field gives",
    ("iam", "DeleteAccountPasswordPolicy"): "see UpdateAccountPasswordPolicy",
    ("ssm", "SendCommand"): "runs a document on instances: a use of resources, not a change to one",
    ("ssm", "StartSession"): "opens a shell on an instance: a use, not a change",
    ("ssm", "ResumeSession"): "see StartSession",
    ("ssm", "TerminateSession"): "ends a session: changes no Terraform argument",
    ("ssm", "UpdateInstanceInformation"): "the SSM agent's heartbeat",
    ("ssm", "StartAutomationExecution"): "runs an automation document: a use, not a change",
    ("ssm", "StartAssociationsOnce"): "runs existing associations now: changes no argument",
    ("acm", "ExportCertificate"): "reads out a private certificate and key: no argument changes",
    ("acm", "ResendValidationEmail"): "changes nothing",
    ("sqs", "SendMessage"): "a data-plane use of a queue",
    ("sqs", "PurgeQueue"): "deletes messages, not configuration",
    ("sns", "Publish"): "a data-plane use of a topic",
    ("securityhub", "UpdateFindings"): "changes findings (notes, record state): data, not configuration",
}

# REST-XML services that CloudTrail writes as it writes JSON APIs, unlike S3: every member (URI, header and
# body alike) by its member name, first letter lowercased, and lists as arrays without the XML element step
# (CloudFront: distributionConfig.origins.items[].domainName, ifMatch; Route 53: hostedZoneId,
# changeBatch.changes[].resourceRecordSet.tTL).
XML_AS_JSON = {"cloudfront", "route53"}

# JSON services whose CloudTrail names lowercase a leading acronym whole (ARN -> arn, not aRN), as real records
# show (Secrets Manager PutResourcePolicy: responseElements {"arn", "name"}).
LOWER_CAMEL = {"secretsmanager"}

# REST-JSON services whose JSON body names are the model's member names as written (PascalCase), which CloudTrail
# writes unchanged (URI and query-string members by their locationName, as for every REST-JSON service):
# Security Hub (InsightArn: the records in tests/data/cloudtrail and its CloudTrail guide), and Chatbot
# (SlackTeamId), DLM (ExecutionRoleArn, PolicyDetails), OAM (Name; responseElements Arn, Id), Internet Monitor
# (MonitorName, Resources) and Resource Explorer (ClientToken; responseElements Arn), per the example log entries
# of their CloudTrail guides. For SES v2, CodeStar Notifications, EventBridge Schemas and Route 53 Profiles, whose
# JSON names are PascalCase too, no example record was found: their files list both spellings. The lowercase-first
# spelling stays accepted for all of them.
MODEL_CASE = {"securityhub", "chatbot", "dlm", "oam", "internetmonitor", "resource-explorer-2",
              "sesv2", "codestar-notifications", "schemas", "route53profiles"}

# Real records whose identifying parameters the test author removed (detection-rule test logs): they show the
# call's shape but cannot give an identifier, so the "identifier found on a real record" rule skips them.
# --records still lists them.
SANITISED_RECORDS = {
    "panther-analysis.jsonl:438": "SetQueueAttributes test log with only `attributes` (no queueUrl)",
    "panther-analysis.jsonl:436": "CreateElasticsearchDomain test log with only `accessPolicies` (no domainName, "
                                  "no responseElements)",
}

# Services whose CloudTrail responseElements give the members of a single-structure result directly
# (RDS: CreateDBInstance's DBInstance members are under responseElements, not responseElements.dBInstance).
FLATTENED_OUTPUT = {"rds"}


def lcfirst(s: str) -> str:
    return s[:1].lower() + s[1:] if s else s


def lower_camel(name: str) -> str:
    """ARN -> arn, KMSKeyId -> kmsKeyId, SecretId -> secretId: the leading run of capitals lowercased, but for the
    capital that starts the next word."""
    i = 0
    while i < len(name) and name[i].isupper():
        i += 1
    if 1 < i < len(name) and name[i].islower():
        i -= 1
    return name[:i].lower() + name[i:]


assert lower_camel("ARN") == "arn" and lower_camel("KMSKeyId") == "kmsKeyId" and lower_camel("SecretId") == "secretId"


def path_text(steps: list[str]) -> str:
    return ".".join(steps)


# --------------------------------------------------------------------------------------------- the library

def is_gcp_file(doc: dict) -> bool:
    """A Google Cloud service file (catalog/gcp-<service>.toml): checked by scripts/check_catalog_gcp.py, not here."""
    return os.path.basename(doc["file"]).startswith("gcp-")


def library(names=(), cloud="aws") -> dict:
    """The catalog as the library parsed it, and how it resolves `names` (tfdrift-replay --dump-catalog).

    `cloud` keeps the files of one cloud: "aws" (this checker, and the coverage report), "gcp"
    (scripts/check_catalog_gcp.py); files without a [service] (common.toml) are kept with either.
    Runs the built command named by $TFDRIFT_REPLAY (the tests name theirs: a `cargo run` from inside
    `cargo test` would build it again, in another environment), else `cargo run`."""
    replay = os.environ.get("TFDRIFT_REPLAY")
    command = [replay] if replay else [os.environ.get("CARGO", "cargo"), "run", "--locked", "--quiet", "--bin",
                                       "tfdrift-replay", "--"]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8") as f:
        f.write("".join(f"{n}\n" for n in sorted(set(names))))
        f.flush()
        run = subprocess.run(command + ["--dump-catalog", f.name], cwd=ROOT, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"error: the library does not load the catalog (tfdrift-replay --dump-catalog):\n"
                         f"{run.stderr.strip()}")
    lib = json.loads(run.stdout)
    want_gcp = cloud == "gcp"
    lib["files"] = [f for f in lib["files"] if f["service"] is None or is_gcp_file(f) == want_gcp]
    return lib


# --------------------------------------------------------------------------------------------- botocore

def default_botocore_data() -> str | None:
    try:
        import botocore  # noqa: PLC0415
    except ImportError:
        return None
    return os.path.join(os.path.dirname(botocore.__file__), "data")


class Models:
    def __init__(self, data_dir: str):
        self.data_dir = data_dir
        self.cache: dict[str, dict | None] = {}

    def get(self, service: str) -> dict | None:
        if service not in self.cache:
            versions = sorted(glob.glob(os.path.join(self.data_dir, service, "*", "")))
            model = None
            if versions:
                base = versions[-1]
                for name, opener in (("service-2.json.gz", gzip.open), ("service-2.json", open)):
                    p = os.path.join(base, name)
                    if os.path.exists(p):
                        with opener(p, "rt", encoding="utf-8") as f:
                            model = json.load(f)
                        break
            self.cache[service] = model
        return self.cache[service]

    def services_with_prefix(self, prefix: str) -> list[str]:
        out = []
        for d in sorted(os.listdir(self.data_dir)):
            if os.path.isdir(os.path.join(self.data_dir, d)):
                m = self.get(d)
                if m and m["metadata"].get("endpointPrefix") == prefix:
                    out.append(d)
        return out


def ec2_wrapped(model: dict, op: str) -> bool:
    """Newer EC2 operations (no lowercase locationName on any input member) are wrapped by CloudTrail."""
    o = model["operations"][op]
    if "input" not in o:
        return True
    members = model["shapes"][o["input"]["shape"]].get("members", {})
    return not any(ref.get("locationName", "")[:1].islower() for ref in members.values())


class Resolver:
    """Resolves a record path against an operation's input or output shape (see the module docstring)."""

    def __init__(self, model: dict, service: str):
        self.m = model
        self.service = service
        self.proto = model["metadata"]["protocol"]
        # CloudWatch's model now prefers the CBOR RPC protocol; CloudTrail still writes its parameters as for
        # the JSON/query protocols it also speaks (lowercase-first member names).
        if self.proto == "smithy-rpc-v2-cbor":
            self.proto = "json"
        if service in XML_AS_JSON:
            self.proto = "rest-json"
        self.shapes = model["shapes"]

    # -- member names as CloudTrail writes them
    def member_names(self, name: str, ref: dict, mode: str, top: bool) -> set[str]:
        loc = ref.get("locationName")
        shape = self.shapes[ref["shape"]]
        p = self.proto
        out: set[str] = set()
        if p in ("json", "rest-json", "query"):
            out.add(lcfirst(name))
            if self.service in LOWER_CAMEL:
                out.add(lower_camel(name))
            if self.service in MODEL_CASE:
                out.add(name)
            if ref.get("location") in ("uri", "querystring", "header") and loc:
                out |= {loc, lcfirst(loc)}
        elif p == "ec2":
            if mode == "in-flat":
                out.add(lcfirst(loc or name))
                if shape["type"] == "list":
                    for b in {lcfirst(name), lcfirst(loc or name)}:
                        out.add(b)
                        out |= {b + "Set"}
                        if b.endswith("s"):
                            out.add(b[:-1] + "Set")
                        for suf in ("Ids", "Id"):
                            if b.endswith(suf):
                                out |= {b[: -len(suf)] + "sSet", b[: -len(suf)] + "Set"}
            elif mode == "in-wrapped":
                # the query API's parameter name: queryName, else locationName capitalised, else the name
                out.add(ref.get("queryName") or (loc[:1].upper() + loc[1:] if loc else name))
            else:  # out-flat / out-wrapped
                out.add(loc or lcfirst(name))
        elif p == "rest-xml":
            if mode.startswith("in"):
                if top and ref.get("location") == "uri" and loc == "Bucket":
                    out.add("bucketName")
                elif top and ref.get("location") in ("uri", "querystring", "header", "headers"):
                    out |= {loc or name, lcfirst(name)}
                else:
                    out |= {loc or name, name}
            else:
                out |= {loc or name, name, lcfirst(name)}
        return out

    def walk(self, shape_name: str, segs: list[str], mode: str, top: bool = False) -> bool:
        if not segs:
            return True
        shape = self.shapes[shape_name]
        t = shape["type"]
        seg = segs[0]
        if t == "structure":
            for name, ref in shape.get("members", {}).items():
                if seg in self.member_names(name, ref, mode, top):
                    if self.walk_member(ref, segs[1:], mode, name):
                        return True
            return False
        if t == "map":
            return self.walk(shape["value"]["shape"], segs[1:], mode)
        if self.proto == "ec2" and mode == "in-wrapped" and segs == ["content"]:
            return True
        return False

    def walk_member(self, ref: dict, rest: list[str], mode: str, name: str) -> bool:
        shape = self.shapes[ref["shape"]]
        if shape["type"] != "list":
            return self.walk(ref["shape"], rest, mode)
        elem_ref = shape["member"]
        elem = self.shapes[elem_ref["shape"]]
        p = self.proto
        if p in ("json", "rest-json", "query"):
            return self.walk(elem_ref["shape"], rest, mode)
        if p == "ec2":
            if mode == "in-wrapped":
                return self.walk(elem_ref["shape"], rest, mode)
            step = "item" if mode == "out-wrapped" else "items"
            if not rest:
                return True
            if rest[0] != step:
                return False
            rest = rest[1:]
            if elem["type"] == "structure" or not rest:
                return self.walk(elem_ref["shape"], rest, mode)
            # a list of scalars written as items[].<elementName>
            cands = set()
            for n in (elem_ref.get("locationName"), ref.get("locationName"), name):
                if n and n != "item":
                    cands |= {lcfirst(n), lcfirst(n[:-1]) if n.endswith("s") else lcfirst(n)}
            return len(rest) == 1 and rest[0] in cands
        if p == "rest-xml":
            if shape.get("flattened"):
                return self.walk(elem_ref["shape"], rest, mode)
            if not rest:
                return True
            if rest[0] in {elem_ref.get("locationName") or "member", "member"}:
                return self.walk(elem_ref["shape"], rest[1:], mode)
            return False
        return False

    def resolve(self, op: str, segs: list[str]) -> tuple[bool, str]:
        root, rest = segs[0], segs[1:]
        o = self.m["operations"][op]
        if root == "requestParameters":
            if "input" not in o:
                return False, "the operation has no input"
            shape = o["input"]["shape"]
            mode = "in"
        elif root == "responseElements":
            if "output" not in o:
                return False, "the operation has no output"
            shape = o["output"]["shape"]
            mode = "out"
        else:
            return False, "not a request or response path"
        if self.proto == "ec2":
            wrapped = ec2_wrapped(self.m, op)
            wrapper = op + ("Request" if mode == "in" else "Response")
            if wrapped:
                if not rest or rest[0] != wrapper:
                    return False, f"CloudTrail wraps this operation's {root} in {wrapper}"
                rest = rest[1:]
                mode += "-wrapped"
            else:
                if rest and rest[0] == wrapper:
                    return False, f"this operation is not wrapped in {wrapper}"
                mode += "-flat"
        if mode == "out" and self.service in FLATTENED_OUTPUT:
            members = list(self.shapes[shape].get("members", {}).values())
            if len(members) == 1 and self.shapes[members[0]["shape"]]["type"] == "structure":
                shape = members[0]["shape"]
        ok = self.walk(shape, rest, mode, top=True)
        return ok, "" if ok else f"not in the {'input' if root == 'requestParameters' else 'output'} shape {shape}"


# --------------------------------------------------------------------------------------------- records

def load_records(folder: str) -> list[tuple[str, dict]]:
    out = []
    for f in sorted(glob.glob(os.path.join(folder, "**", "*"), recursive=True)):
        if not os.path.isfile(f):
            continue
        rel = os.path.relpath(f, folder)
        with open(f, encoding="utf-8") as fh:
            text = fh.read()
        if f.endswith(".jsonl"):
            for i, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    out.append((f"{rel}:{i}", json.loads(line)))
        elif f.endswith(".json"):
            data = json.loads(text)
            if isinstance(data, dict):
                data = data.get("Records", [data])
            for i, rec in enumerate(data):
                out.append((f"{rel}#{i}", rec))
    return out


def eval_path(record, path: list[str]) -> list:
    vals = [record]
    for seg in path:
        nxt = []
        stack = list(vals)
        while stack:
            v = stack.pop(0)
            if isinstance(v, list):
                stack[:0] = v
            elif isinstance(v, dict) and seg in v:
                nxt.append(v[seg])
        vals = nxt
    out = []
    stack = list(vals)
    while stack:
        v = stack.pop(0)
        if isinstance(v, list):
            stack[:0] = v
        elif isinstance(v, str) and v.strip():
            out.append(v)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append(v)
    return out


def is_mutating(rec: dict) -> bool:
    ro = rec.get("readOnly")
    if isinstance(ro, str):
        ro = {"true": True, "false": False}.get(ro.strip().lower())
    if ro is True:
        return False
    if ro is False:
        return True
    return not str(rec.get("eventName", "")).startswith(READ_PREFIXES)


def is_success(rec: dict) -> bool:
    return not rec.get("errorCode")


# --------------------------------------------------------------------------------------------- states

def state_value_types(folder: str) -> dict[tuple[str, str], set[str]]:
    """(resource type, top-level attribute) -> JSON value kinds seen in the real v4 states."""
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)
    for f in glob.glob(os.path.join(folder, "**", "*"), recursive=True):
        if not os.path.isfile(f):
            continue
        try:
            with open(f, encoding="utf-8") as fh:
                data = json.load(fh)
        except (ValueError, UnicodeDecodeError):
            continue
        if not isinstance(data, dict) or not isinstance(data.get("resources"), list):
            continue
        for r in data["resources"]:
            if not isinstance(r, dict) or r.get("mode", "managed") != "managed":
                continue
            for inst in r.get("instances") or []:
                attrs = inst.get("attributes") if isinstance(inst, dict) else None
                if isinstance(attrs, dict):
                    for k, v in attrs.items():
                        seen[(r.get("type"), k)].add(type(v).__name__)
    return seen


# --------------------------------------------------------------------------------------------- checks

class Checker:
    def __init__(self, args):
        self.args = args
        self.errors: list[str] = []
        self.notes: list[str] = []  # accepted on weaker evidence, listed by -v
        self.models = Models(args.botocore_data)
        with open(args.schema, encoding="utf-8") as f:
            self.schema = json.load(f)["resource_types"]
        self.records = load_records(args.records_dir) if os.path.isdir(args.records_dir) else []
        self.state_types = state_value_types(args.states_dir) if os.path.isdir(args.states_dir) else {}
        lib = library(str(r.get("eventName", "")) for _, r in self.records)
        # file name -> the file as the library parsed it, in the library's (file-name) order
        self.files: dict[str, dict] = {f["file"]: f for f in lib["files"]}
        self.default_keys: list[str] = lib["default_keys"]
        # the records by (eventSource, event name as the library looks it up)
        self.by_call: dict[tuple, list[tuple[str, dict]]] = defaultdict(list)
        for k, r in self.records:
            raw = str(r.get("eventName", ""))
            self.by_call[(r.get("eventSource"), lib["names"].get(raw, {}).get("event_name", raw))].append((k, r))
        self.event_names = {raw: n["event_name"] for raw, n in lib["names"].items()}
        self.keys: dict[str, list[str]] = {}
        # (source, service, name) -> file, service, call
        self.calls: dict[tuple[str, str, str], tuple[str, dict, dict]] = {}
        self.fallback: dict | None = None  # the catalog-wide file's [id_prefixes] (common.toml), when present
        self.fallback_file: str | None = None
        self.auto_ignore: set = set()  # common.toml [auto_attrs] ignore: parameters never mapped automatically
        self.auto: list[str] = []  # automatic attribute mappings, listed by -v
        # (where, type, each candidate member's names): mapped once the library has resolved every name
        self.auto_pending: list[tuple[str, str, list[list[str]]]] = []
        self.stats = defaultdict(int)
        self.string_checked: set[tuple[str, str]] = set()

    def err(self, where: str, msg: str):
        self.errors.append(f"{where}: {msg}")

    def attrs_of(self, rtype: str) -> set[str]:
        t = self.schema.get(rtype)
        return set(t["computed"]) | set(t["inputs"]) if t else set()

    def records_for(self, source: str, name: str) -> list[tuple[str, dict]]:
        return self.by_call.get((source, name), [])

    def candidates(self) -> dict[tuple[str, str], list[tuple[str, dict, dict]]]:
        """(event_source, name) -> the calls of that name, in file-name order (the order tfdrift tries them)."""
        out: dict[tuple[str, str], list[tuple[str, dict, dict]]] = defaultdict(list)
        for (src, _, name), entry in sorted(self.calls.items(), key=lambda kv: (kv[1][0], kv[0])):
            out[(src, name)].append(entry)
        return out

    @staticmethod
    def id_paths(call: dict) -> list[list[str]]:
        return [p for t in call["targets"] for p in t["ids"]]

    def pick(self, cands: list[tuple[str, dict, dict]], rec: dict) -> tuple[tuple[str, dict, dict], dict]:
        """As tfdrift does: the first candidate whose identifier paths find a value (else the first), and the
        values found per target type."""
        for entry in cands:
            values = {}
            for t in entry[2]["targets"]:
                for p in t["ids"]:
                    v = eval_path(rec, p)
                    if v:
                        values.setdefault(t["type"], v)
            if values:
                return entry, values
        return cands[0], {}

    # -- string-ness of an identifying attribute
    def check_string_attr(self, where: str, rtype: str, attr: str):
        if (rtype, attr) in self.string_checked:
            return
        self.string_checked.add((rtype, attr))
        # aws_cloudwatch_event_target.rule is the rule's name (a string), not a `rule` block as in S3 or WAF.
        if attr in NOT_STRING_NAMES and (rtype, attr) != ("aws_cloudwatch_event_target", "rule"):
            self.err(where, f"{rtype}.{attr} is not a string attribute")
            return
        kinds = self.state_types.get((rtype, attr))
        if kinds is None:
            self.stats["string_unverified"] += 1
            self.notes.append(f"{rtype}.{attr}: in no real state; string-ness taken on trust")
            return
        bad = kinds - {"str", "NoneType"}
        if bad:
            self.err(where, f"{rtype}.{attr} holds {sorted(bad)} in real states, not a string")
        else:
            self.stats["string_verified"] += 1

    def check_fallback(self, fn: str, doc: dict):
        """A file without [service] (catalog/common.toml): [auto_attrs] ignore (request parameter names) and
        [id_prefixes], each a non-empty prefix naming provider resource types."""
        if doc["keys"]:
            self.err(fn, f"unknown top-level key 'keys' ({fn} has only [auto_attrs] and [id_prefixes])")
        ignore = doc["auto_attrs_ignore"]
        if not all(ignore):
            self.err(fn, "[auto_attrs] has only `ignore`, a list of request parameter names")
        else:
            self.auto_ignore |= {p.lower() for p in ignore}
        for prefix, types in doc["id_prefixes"].items():
            where = f"{fn} [id_prefixes] {prefix!r}"
            if not prefix.strip():
                self.err(where, "a prefix must be a non-empty string")
            if len(set(types)) != len(types):
                self.err(where, "lists a type twice")
            for t in types:
                if t not in self.schema:
                    self.err(where, f"{t!r} is not a resource type of the provider schema")
            self.stats["fallback_prefixes"] += 1
        self.fallback = doc["id_prefixes"]
        self.fallback_file = fn

    def check_file(self, fn: str, doc: dict):
        svc = doc["service"]
        if svc is None:
            self.check_fallback(fn, doc)
            return
        for k, table in (("id_prefixes", "id_prefixes"), ("auto_attrs", "auto_attrs_ignore")):
            if doc[table]:
                self.err(fn, f"unknown top-level key {k!r}")
        model = self.models.get(svc["name"])
        if model is None:
            self.err(fn, f"[service]: botocore has no service {svc['name']!r}")
        else:
            want = EVENT_SOURCES.get(svc["name"], model["metadata"]["endpointPrefix"] + ".amazonaws.com")
            shared = SHARED_SOURCES.get(svc["event_source"], set())
            if svc["event_source"] != want and svc["name"] not in shared:
                self.err(fn, f"[service]: event_source {svc['event_source']!r}, botocore says {want!r}")

        for rtype, attrs in doc["keys"].items():
            where = f"{fn} [keys] {rtype}"
            if rtype not in self.schema:
                self.err(where, "not a resource type of the provider schema")
                continue
            if not attrs:
                self.err(where, "must be a non-empty list of strings")
                continue
            if len(set(attrs)) != len(attrs):
                self.err(where, "lists an attribute twice")
            for a in attrs:
                if a not in self.attrs_of(rtype):
                    self.err(where, f"{a!r} is not an attribute of {rtype}")
                else:
                    self.check_string_attr(where, rtype, a)
            if rtype in self.keys and self.keys[rtype] != attrs:
                self.err(where, f"declared differently in another file: {self.keys[rtype]}")
            self.keys[rtype] = attrs

        if not doc["calls"]:
            self.err(fn, "no [[call]] entries")
            return
        for i, call in enumerate(doc["calls"]):
            self.check_call(fn, svc, model, i, call)

    def check_call(self, fn: str, svc: dict, model: dict | None, i: int, call: dict):
        name = call["name"]
        where = f"{fn} call[{i}] {name}"
        if not name:
            self.err(where, "name must be a non-empty string")
            return
        if name.startswith(READ_PREFIXES):
            self.err(where, "a read-only operation name")
        if call["name_without_version"] != name:
            self.err(where, "ends in what tfdrift would strip as a version suffix")
        key = (svc["event_source"], svc["name"], name)
        if key in self.calls:
            self.err(where, f"duplicate of a call in {self.calls[key][0]}")
        self.calls[key] = (fn, svc, call)
        op = name
        alias = EVENT_NAME_ALIASES.get(svc["name"], {}).get(name)
        if model is not None and name not in model["operations"]:
            if alias and alias in model["operations"]:
                op = alias
                self.stats["aliased"] += 1
                self.notes.append(f"{where}: CloudTrail event name for botocore operation {alias}")
            else:
                self.err(where, f"not an operation of botocore service {svc['name']!r}")
                model = None
        self.stats["calls"] += 1

        targets = call["targets"]
        resolver = Resolver(model, svc["name"]) if model else None
        recs = self.records_for(svc["event_source"], name)
        for j, t in enumerate(targets):
            twhere = f"{where} target[{j}]"
            rtype = t["type"]
            if rtype not in self.schema:
                self.err(twhere, f"type {rtype!r} is not a resource type of the provider schema")
                continue
            twhere += f" {rtype}"
            for p in t["ids"]:
                self.check_path(twhere, resolver, op, p, recs)
            for part in t["parts"]:
                # Another part of a composite identity: a path of the call, and an attribute of the type that must
                # hold the same value.
                p, a = part["path"], part["attr"]
                self.check_path(f"{twhere} parts[{path_text(p)!r}]", resolver, op, p, recs, identifier=False)
                if a not in self.attrs_of(rtype):
                    self.err(twhere, f"parts attribute {a!r} is not an attribute of {rtype}")
                self.stats["parts"] += 1
            template = t["import_id"]
            if template is not None:
                paths = [part["path"] for part in template if "path" in part]
                if not paths:
                    text = "".join(part["text"] for part in template)
                    self.err(twhere, f"import_id must be a template of {{record paths}}, not {text!r}")
                for p in paths:
                    self.check_path(f"{twhere} import_id", resolver, op, p, recs, identifier=False)
            join = t["join"]
            if join is not None:
                if not join:
                    self.err(twhere, "join must be a non-empty list of attribute names")
                for a in join:
                    if a not in self.attrs_of(rtype):
                        self.err(twhere, f"join attribute {a!r} is not an attribute of {rtype}")
                    else:
                        self.check_string_attr(twhere, rtype, a)
            elif rtype not in self.keys:
                # default keys: both are looked up; at least one must exist on the type
                if not set(self.default_keys) & self.attrs_of(rtype):
                    self.err(twhere, "has neither 'id' nor 'arn'; give it [keys] or a join")
                self.stats["default_keys"] += 1
            self.stats["targets"] += 1
        first = targets[0]["type"]
        for implied in call["sets"]:
            if first in self.schema and implied["path"][0] not in self.attrs_of(first):
                self.err(f"{where} sets[{implied['attr']!r}]", f"not an attribute or block of {first}")
            else:
                self.stats["implied"] += 1
        for member in call["ignore"]:
            # A member that sets nothing (a fixed policy name, the name of the attribute a call sets): it must
            # be one of the call's request members.
            if not member:
                self.err(where, "ignore must be a list of request member names")
                continue
            self.check_path(f"{where} ignore[{member!r}]", resolver, op, ["requestParameters", member], recs,
                            identifier=False)
        for mapping in call["attrs"]:
            awhere = f"{where} attrs[{path_text(mapping['from'])!r}]"
            self.check_path(awhere, resolver, op, mapping["from"], recs, identifier=False)
            head = mapping["attr"][0]
            if first in self.schema and head not in self.attrs_of(first):
                if head in SCHEMA_GAPS.get(first, set()):
                    self.notes.append(f"{awhere}: {first}.{head} accepted from SCHEMA_GAPS")
                    self.stats["schema_gap"] += 1
                else:
                    self.err(awhere, f"{head!r} is not an attribute or block of {first}")
            self.stats["attrs"] += 1
        if call["auto_attrs"] and resolver and first in self.schema:
            self.auto_attrs(where, resolver, op, call, first)

    def auto_attrs(self, where: str, resolver: "Resolver", op: str, call: dict, rtype: str):
        """The automatic mappings of a create/modify call (catalog/README.md, "Attributes set by a call"): each
        top-level request member, as CloudTrail names it, that the library does not leave out (the call's
        `explicit_params`, common.toml's ignore) and whose snake_case form is an attribute of the first target's
        type. Collected here, mapped by map_auto_attrs once the library has resolved every name."""
        o = resolver.m["operations"][op]
        if "input" not in o:
            return
        used = set(call["explicit_params"])
        shape = resolver.shapes[o["input"]["shape"]]
        mode = "in"
        if resolver.proto == "ec2":
            # a wrapped call's only top-level member is <Op>Request, which names no attribute
            if ec2_wrapped(resolver.m, op):
                return
            mode = "in-flat"
        members = []
        for mname, ref in shape.get("members", {}).items():
            names = resolver.member_names(mname, ref, mode, True)
            # as the library: explicit parameters exactly, common.toml's whatever their case (`Host`, `host`)
            if names & used or {n.lower() for n in names} & self.auto_ignore:
                continue
            # CloudTrail's usual spelling (lowercase-first member name) first, then locationName variants
            members.append(sorted(names, key=lambda n: (n != lcfirst(mname), n)))
        self.auto_pending.append((where, rtype, members))

    def map_auto_attrs(self):
        names = {n for _, _, members in self.auto_pending for spellings in members for n in spellings}
        attribute = {n: r["attribute"] for n, r in library(names)["names"].items()}
        for where, rtype, members in self.auto_pending:
            attrs = self.attrs_of(rtype)
            seen = set()
            for spellings in members:
                for n in spellings:
                    a = attribute[n]
                    if a in attrs and a not in seen:
                        seen.add(a)
                        self.stats["auto_attrs"] += 1
                        self.auto.append(f"{where}: requestParameters.{n} -> {rtype}.{a}")
                        break

    def check_record_evidence(self):
        """A call with real successful records must find an identifier on at least one of them. Records with
        neither requestParameters nor responseElements are sanitised: they carry nothing. Of a shared
        (event_source, name), a candidate is judged on the records no earlier candidate takes."""
        for (src, name), cands in self.candidates().items():
            recs = [(k, r) for k, r in self.records_for(src, name) if is_success(r) and is_mutating(r)
                    and (r.get("requestParameters") is not None or r.get("responseElements") is not None)
                    and k not in SANITISED_RECORDS]
            for i, (fn, _, call) in enumerate(cands):
                mine = [(k, r) for k, r in recs
                        if not any(eval_path(r, p) for c in cands[:i] for p in self.id_paths(c[2]))]
                if not mine:
                    continue
                if any(eval_path(r, p) for _, r in mine for p in self.id_paths(call)):
                    self.stats["calls_with_records"] += 1
                else:
                    self.err(f"{fn} {name}", f"no identifier found on any of its {len(mine)} real successful "
                                             f"records")

    def check_shared(self):
        """Candidates of one (event_source, name) must be told apart by their identifier paths."""
        for (src, name), cands in self.candidates().items():
            for i, (fn_a, _, a) in enumerate(cands):
                for fn_b, _, b in cands[i + 1:]:
                    common = set(map(path_text, self.id_paths(a))) & set(map(path_text, self.id_paths(b)))
                    if common:
                        self.err(f"{fn_a} / {fn_b} {name}",
                                 f"both use identifier path(s) {sorted(common)}: {src} records of {name} cannot "
                                 f"be told apart (the first file would always win)")
                    self.stats["shared_pairs"] += 1

    def check_path(self, where, resolver, op, segs, recs, identifier=True):
        path = path_text(segs)
        self.stats["paths"] += 1
        if segs[0] in ENVELOPE:
            allowed = ENVELOPE[segs[0]]
            if allowed is not None and (len(segs) != 2 or segs[1] not in allowed):
                self.err(where, f"{path!r}: {segs[0]} has only {sorted(allowed)}")
                return
            self.stats["paths_envelope"] += 1
            self.notes.append(f"{where}: {path!r} is a record envelope field, not in any API model")
            return
        if segs[0] not in ("requestParameters", "responseElements"):
            self.err(where, f"{path!r} starts with neither requestParameters, responseElements nor an envelope field")
            return
        if resolver is None:
            return
        ok, why = resolver.resolve(op, segs)
        if ok:
            self.stats["paths_model"] += 1
            return
        hits = [k for k, r in recs if eval_path(r, segs)]
        if hits:
            self.stats["paths_record"] += 1
            self.notes.append(f"{where}: {path!r} not derivable from the model ({why}); "
                              f"accepted on record evidence ({hits[0]})")
            return
        self.err(where, f"{path!r}: {why}")

    def run_static(self):
        # the catalog-wide file first: its [auto_attrs] ignore applies to every service file
        for fn, doc in sorted(self.files.items(), key=lambda kv: kv[1]["service"] is not None):
            self.check_file(fn, doc)
        self.map_auto_attrs()
        self.check_shared()
        self.check_record_evidence()
        types = {t["type"] for _, _, c in self.calls.values() for t in c["targets"]}
        self.stats["types"] = len(types)
        for fn, doc in self.files.items():
            if doc["service"] is None:
                continue
            for rtype in doc["keys"]:
                if rtype not in types:
                    self.err(f"{fn} [keys] {rtype}", "no call targets this type")
        # [keys] are declared in the file of the type's service; note a type used by another file's calls
        # (the README does not say whether [keys] apply across files)
        for fn, _, c in self.calls.values():
            for t in c["targets"]:
                if t["type"] in self.keys:
                    if t["type"] not in self.files[fn]["keys"]:
                        self.notes.append(f"{fn}: {t['type']} uses [keys] declared in another file")
        for (src, svc, name) in self.calls:
            if (svc, name) in NOT_IN_CATALOG:
                self.err(f"{src} {name}", "is listed in NOT_IN_CATALOG; remove it from one of the two")

    # -- records
    def run_records(self):
        sources: dict[str, list[str]] = defaultdict(list)  # event_source -> service names, file-name order
        for fn, doc in sorted(self.files.items()):
            svc = doc["service"]
            if svc is not None and svc["name"] not in sources[svc["event_source"]]:
                sources[svc["event_source"]].append(svc["name"])
        cands_by = self.candidates()
        mutating_ok = covered = found = 0
        misses: list[tuple[int, str]] = []  # (order, line): the catalog's own services first
        by_source = defaultdict(lambda: [0, 0, 0])
        for key, rec in self.records:
            if not (is_mutating(rec) and is_success(rec)):
                continue
            mutating_ok += 1
            src = rec.get("eventSource")
            raw = str(rec.get("eventName", ""))
            # as tfdrift does: the event name as it is, then without a version suffix
            name = raw if (src, raw) in cands_by else self.event_names.get(raw, raw)
            by_source[src][0] += 1
            cands = cands_by.get((src, name))
            if not cands:
                if src not in sources:
                    order, reason = 3, f"eventSource {src} has no catalog file"
                else:
                    svcs = sources[src]
                    known = [s for s in svcs if (m := self.models.get(s)) is None or name in m["operations"]
                             or name in EVENT_NAME_ALIASES.get(s, {})]
                    left = [s for s in svcs if (s, name) in NOT_IN_CATALOG]
                    if not known:
                        order, reason = 2, (f"{name} is not an operation of {'/'.join(svcs)}: a record whose "
                                            f"eventSource does not match its call's service")
                    elif left:
                        order, reason = 1, "left out: " + NOT_IN_CATALOG[(left[0], name)]
                    else:
                        order, reason = 1, f"{name} is not in the catalog"
                misses.append((order, f"  {key}: {src} {raw}: not covered: {reason}"))
                continue
            covered += 1
            by_source[src][1] += 1
            (_, _, call), values = self.pick(cands, rec)
            if values:
                found += 1
                by_source[src][2] += 1
                continue
            tried = sorted({path_text(p) for c in cands for p in self.id_paths(c[2])})
            rp, re_ = rec.get("requestParameters"), rec.get("responseElements")
            if rp is None and re_ is None:
                why = "the record has no requestParameters and no responseElements (sanitised)"
            else:
                why = "none of " + ", ".join(tried) + " is in the record"
                if isinstance(rp, dict):
                    why += f" (requestParameters keys: {sorted(rp)[:8]})"
            if key in SANITISED_RECORDS:
                why += f"; sanitised: {SANITISED_RECORDS[key]}"
            misses.append((0, f"  {key}: {src} {raw}: covered, no identifier: {why}"))
        print(f"\nrecords: {len(self.records)} read from {self.args.records_dir}")
        print(f"  mutating and successful: {mutating_ok}")
        print(f"  with a catalog call:     {covered}")
        print(f"  identifier found:        {found}")
        print("  by eventSource (mutating ok / covered / identifier found):")
        for src in sorted(by_source, key=str):
            a, b, c = by_source[src]
            mark = "" if src in sources else "   (no catalog file)"
            print(f"    {str(src):40s} {a:4d} {b:4d} {c:4d}{mark}")
        titles = ["covered, but no identifier in the record",
                  "not covered, in a service the catalog has",
                  "not covered, eventSource does not match the call's service",
                  "not covered, service without a catalog file"]
        print(f"  misses ({len(misses)}):")
        for order, title in enumerate(titles):
            lines = [line for o, line in misses if o == order]
            print(f"  - {title} ({len(lines)}):")
            for line in lines:
                print("  " + line)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--schema", default=DEFAULT_SCHEMA, help="provider schema JSON (default: %(default)s)")
    ap.add_argument("--botocore-data", default=default_botocore_data(),
                    help="botocore's data folder (default: the installed botocore's)")
    ap.add_argument("--records-dir", default=DEFAULT_RECORDS, help="CloudTrail records (default: %(default)s)")
    ap.add_argument("--states-dir", default=DEFAULT_STATES,
                    help="Terraform states used to check that key attributes are strings (default: %(default)s)")
    ap.add_argument("--records", action="store_true", help="also run every record through the catalog")
    ap.add_argument("-v", "--verbose", action="store_true", help="list what was accepted on weaker evidence")
    args = ap.parse_args(argv)
    if not args.botocore_data or not os.path.isdir(args.botocore_data):
        print("error: botocore is not installed (pip install botocore) and --botocore-data is not given",
              file=sys.stderr)
        return 2
    if not os.path.isfile(args.schema):
        print(f"error: no provider schema at {args.schema}", file=sys.stderr)
        return 2

    c = Checker(args)
    c.run_static()
    s = c.stats
    per_file = {fn: len(doc["calls"]) for fn, doc in sorted(c.files.items()) if doc["service"] is not None}
    print("catalog:", ", ".join(f"{fn} {n}" for fn, n in per_file.items()), f"= {s['calls']} calls,",
          f"{s['targets']} targets over {s['types']} resource types, {s['attrs']} attrs")
    print(f"paths: {s['paths']} checked: {s['paths_model']} resolved in the API model, "
          f"{s['paths_record']} accepted on record evidence only, {s['paths_envelope']} envelope fields")
    print(f"attributes: {s['auto_attrs']} mapped automatically, {s['attrs']} explicitly")
    print(f"calls with real successful records, identifier found on one: {s['calls_with_records']}")
    shared = {(src, n): cs for (src, n), cs in c.candidates().items() if len(cs) > 1}
    print(f"shared event sources: {len(shared)} call names with more than one candidate; "
          + (f"{c.fallback_file}: {s['fallback_prefixes']} id prefixes, {len(c.auto_ignore)} parameters ignored "
             f"by auto_attrs" if c.fallback is not None else "no catalog-wide file (common.toml)"))
    print(f"key/join attributes: {s['string_verified']} checked as strings in real states, "
          f"{s['string_unverified']} not in any real state; {s['schema_gap']} attrs via SCHEMA_GAPS")
    if args.verbose:
        print("\naccepted on weaker evidence:")
        for n in c.notes:
            print("  " + n)
        print("\nattributes mapped automatically (auto_attrs):")
        for n in c.auto:
            print("  " + n)
    if args.records:
        c.run_records()
    if c.errors:
        print(f"\n{len(c.errors)} error(s):")
        for e in c.errors:
            print("  " + e)
        return 1
    print("\nOK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
