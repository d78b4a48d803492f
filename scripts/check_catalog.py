#!/usr/bin/env python3
"""Check the tfdrift catalog (catalog/*.toml) against the AWS API models and the AWS provider schema.

    python3 scripts/check_catalog.py              # static checks
    python3 scripts/check_catalog.py --records    # static checks, then run the real CloudTrail records through it
    python3 scripts/check_catalog.py -v           # also list every path that was accepted on weaker evidence

Needs Python 3.11 (tomllib) and the `botocore` package (its API models, read offline from its data folder).
Exit status: 0 when every static check passes, 1 otherwise. In --records mode, records that the catalog
does not cover, or whose identifier is absent, are reported with a reason; they are information, not failures.

What is checked (the catalog format is described in catalog/README.md):
  format    only the documented keys; `change` and `severity` values; path syntax; no (event_source, name)
            twice; [keys] for a type declared once (or identically) across files, and only for a type some
            call targets; event_source matches the botocore service's endpoint prefix; no call that is also
            listed in NOT_IN_CATALOG (the calls deliberately left out, with the reason).
  names     every call `name` is an operation of the file's botocore service (or a CloudTrail event name
            listed in EVENT_NAME_ALIASES with the operation it logs), is not a read-only name
            (Get/List/Describe/Head...), and does not end in what tfdrift would take for a CloudTrail
            version suffix (six digits or more).
  schema    every target `type` is a resource type of the provider schema; every [keys] and `join` attribute
            is a top-level attribute of that type; a target joined on the default keys has `id` or `arn`;
            the first segment of every `attrs` value is an attribute or block of the first target's type
            (a short, documented list of blocks missing from the derived schema is accepted, see SCHEMA_GAPS).
            String-ness of key/join attributes: the schema file lists names only, no types, so it is checked
            (a) against the real states in ../shared/data/tfstate (every value seen must be a string or null)
            where the type/attribute occurs there, and (b) against a list of names known not to be strings.
  paths     every identifier path and every `attrs` key is resolved against the operation's input shape
            (requestParameters...) or output shape (responseElements...), using the naming rules below.
            A path the rules cannot resolve is still accepted when it yields a value on a real record of
            that call (evidence beats the model); otherwise it is an error. Paths on the record envelope
            (awsRegion, recipientAccountId, resources.ARN, userIdentity...) are not in any API model; they are
            accepted from a fixed list and reported. For every call that has real successful records (not
            sanitised to no parameters at all), at least one record must give an identifier.

How CloudTrail writes parameter names, per botocore protocol (the normalisation used here):
  json, rest-json (kms, cloudtrail, lambda), query (iam, rds)
            member name with the first letter lowercased (KeyId -> keyId, DBInstanceIdentifier ->
            dBInstanceIdentifier, UUID -> uUID); lists are JSON arrays (no extra step); maps take any key.
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
import re
import sys
import tomllib
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_CATALOG = os.path.join(ROOT, "catalog")
DEFAULT_SCHEMA = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "aws-provider-schema.json"))
DEFAULT_RECORDS = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "cloudtrail"))
DEFAULT_STATES = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "tfstate"))

CHANGES = {"create", "modify", "delete", "attach", "detach", "tag", "untag"}
SEVERITIES = {"critical", "high", "medium", "low"}
SERVICE_KEYS = {"name", "event_source", "severity"}
CALL_KEYS = {"name", "change", "severity", "targets", "attrs"}
TARGET_KEYS = {"type", "id", "join"}
TOP_KEYS = {"service", "keys", "call"}
DEFAULT_KEYS = ["id", "arn"]
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
# (../shared/data/aws-provider-schema.json lists "top-level attribute names" derived from the CDKTF
# bindings, and drops some single-item nested blocks). Only blocks the catalog uses are listed; each is a
# documented argument of the resource in the provider's docs.
SCHEMA_GAPS = {
    "aws_s3_bucket_versioning": {"versioning_configuration"},
    "aws_s3_bucket_ownership_controls": {"rule"},
    "aws_s3_bucket_object_lock_configuration": {"rule"},
    "aws_s3_bucket_website_configuration": {"index_document", "error_document", "redirect_all_requests_to"},
    "aws_s3_bucket_acl": {"access_control_policy"},
    "aws_s3_bucket_inventory": {"destination"},
}

# Attribute names that are never strings in the AWS provider (maps, blocks, sets, numbers, booleans).
NOT_STRING_NAMES = {"tags", "tags_all", "timeouts", "ingress", "egress", "route", "rule", "policy_arns",
                    "policy_names", "subnet_ids", "vpc_security_group_ids", "security_groups", "users",
                    "roles", "groups", "enabled", "port"}

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
}

# Services whose CloudTrail responseElements give the members of a single-structure result directly
# (RDS: CreateDBInstance's DBInstance members are under responseElements, not responseElements.dBInstance).
FLATTENED_OUTPUT = {"rds"}

PATH_SEGMENT = re.compile(r"^[A-Za-z0-9_$@:\-]+(\[\])?$")
# A version suffix as tfdrift strips it (src/catalog/mod.rs, strip_version_suffix): after a letter, digits and
# underscores with at least six digits, then optionally v<N> (UpdateFunctionCode20150331v2,
# CreateDistribution2020_05_31; ListObjectsV2 stays).
VERSION_SUFFIX = re.compile(r"(?<=[A-Za-z])([0-9_]+)(v[0-9]+)?$")


def lcfirst(s: str) -> str:
    return s[:1].lower() + s[1:] if s else s


def strip_version(name: str) -> str:
    """CloudTrail event name -> API operation name (UpdateFunctionCode20150331v2 -> UpdateFunctionCode)."""
    m = VERSION_SUFFIX.search(name)
    if m and sum(c.isdigit() for c in m.group(1)) >= 6:
        return name[: m.start()]
    return name


def split_path(path: str) -> list[str]:
    return [seg[:-2] if seg.endswith("[]") else seg for seg in path.split(".")]


def path_ok(path: str) -> bool:
    return bool(path) and all(PATH_SEGMENT.match(seg) for seg in path.split("."))


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
        self.shapes = model["shapes"]

    # -- member names as CloudTrail writes them
    def member_names(self, name: str, ref: dict, mode: str, top: bool) -> set[str]:
        loc = ref.get("locationName")
        shape = self.shapes[ref["shape"]]
        p = self.proto
        out: set[str] = set()
        if p in ("json", "rest-json", "query"):
            out.add(lcfirst(name))
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

    def resolve(self, op: str, path: str) -> tuple[bool, str]:
        segs = split_path(path)
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


def eval_path(record, path: str) -> list:
    vals = [record]
    for seg in split_path(path):
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
        self.files: dict[str, dict] = {}
        self.models = Models(args.botocore_data)
        with open(args.schema, encoding="utf-8") as f:
            self.schema = json.load(f)["resource_types"]
        self.records = load_records(args.records_dir) if os.path.isdir(args.records_dir) else []
        self.state_types = state_value_types(args.states_dir) if os.path.isdir(args.states_dir) else {}
        self.keys: dict[str, list[str]] = {}
        self.calls: dict[tuple[str, str], tuple[str, dict, dict]] = {}  # (source, name) -> file, service, call
        self.stats = defaultdict(int)
        self.string_checked: set[tuple[str, str]] = set()

    def err(self, where: str, msg: str):
        self.errors.append(f"{where}: {msg}")

    def attrs_of(self, rtype: str) -> set[str]:
        t = self.schema.get(rtype)
        return set(t["computed"]) | set(t["inputs"]) if t else set()

    def records_for(self, source: str, name: str) -> list[tuple[str, dict]]:
        return [(k, r) for k, r in self.records
                if r.get("eventSource") == source and strip_version(str(r.get("eventName", ""))) == name]

    # -- string-ness of an identifying attribute
    def check_string_attr(self, where: str, rtype: str, attr: str):
        if (rtype, attr) in self.string_checked:
            return
        self.string_checked.add((rtype, attr))
        if attr in NOT_STRING_NAMES:
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

    def load(self):
        paths = sorted(glob.glob(os.path.join(self.args.catalog, "*.toml")))
        if not paths:
            self.err(self.args.catalog, "no *.toml files")
        for p in paths:
            fn = os.path.basename(p)
            try:
                with open(p, "rb") as f:
                    self.files[fn] = tomllib.load(f)
            except tomllib.TOMLDecodeError as e:
                self.err(fn, f"not valid TOML: {e}")

    def check_file(self, fn: str, doc: dict):
        for k in doc:
            if k not in TOP_KEYS:
                self.err(fn, f"unknown top-level key {k!r}")
        svc = doc.get("service")
        if not isinstance(svc, dict):
            self.err(fn, "missing [service]")
            return
        for k in svc:
            if k not in SERVICE_KEYS:
                self.err(fn, f"[service]: unknown key {k!r}")
        for k in SERVICE_KEYS:
            if not isinstance(svc.get(k), str):
                self.err(fn, f"[service]: {k} must be a string")
        if svc.get("severity") not in SEVERITIES:
            self.err(fn, f"[service]: severity {svc.get('severity')!r} not in {sorted(SEVERITIES)}")
        model = self.models.get(svc.get("name", ""))
        if model is None:
            self.err(fn, f"[service]: botocore has no service {svc.get('name')!r}")
        else:
            want = model["metadata"]["endpointPrefix"] + ".amazonaws.com"
            if svc.get("event_source") != want:
                self.err(fn, f"[service]: event_source {svc.get('event_source')!r}, botocore says {want!r}")

        keys = doc.get("keys", {})
        if not isinstance(keys, dict):
            self.err(fn, "[keys] must be a table")
            keys = {}
        for rtype, attrs in keys.items():
            where = f"{fn} [keys] {rtype}"
            if rtype not in self.schema:
                self.err(where, "not a resource type of the provider schema")
                continue
            if not (isinstance(attrs, list) and attrs and all(isinstance(a, str) for a in attrs)):
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

        calls = doc.get("call", [])
        if not isinstance(calls, list) or not calls:
            self.err(fn, "no [[call]] entries")
            return
        for i, call in enumerate(calls):
            self.check_call(fn, svc, model, i, call)

    def check_call(self, fn: str, svc: dict, model: dict | None, i: int, call: dict):
        if not isinstance(call, dict):
            self.err(f"{fn} call[{i}]", "must be a table")
            return
        name = call.get("name")
        where = f"{fn} call[{i}] {name}"
        for k in call:
            if k not in CALL_KEYS:
                self.err(where, f"unknown key {k!r}")
        if not isinstance(name, str) or not name:
            self.err(where, "name must be a non-empty string")
            return
        if call.get("change") not in CHANGES:
            self.err(where, f"change {call.get('change')!r} not in {sorted(CHANGES)}")
        if "severity" in call and call["severity"] not in SEVERITIES:
            self.err(where, f"severity {call['severity']!r} not in {sorted(SEVERITIES)}")
        if name.startswith(READ_PREFIXES):
            self.err(where, "a read-only operation name")
        if strip_version(name) != name:
            self.err(where, "ends in what tfdrift would strip as a version suffix")
        key = (svc.get("event_source"), name)
        if key in self.calls:
            self.err(where, f"duplicate of {self.calls[key][0]}")
        self.calls[key] = (fn, svc, call)
        op = name
        alias = EVENT_NAME_ALIASES.get(svc.get("name"), {}).get(name)
        if model is not None and name not in model["operations"]:
            if alias and alias in model["operations"]:
                op = alias
                self.stats["aliased"] += 1
                self.notes.append(f"{where}: CloudTrail event name for botocore operation {alias}")
            else:
                self.err(where, f"not an operation of botocore service {svc.get('name')!r}")
                model = None
        self.stats["calls"] += 1

        targets = call.get("targets")
        if not (isinstance(targets, list) and targets):
            self.err(where, "targets must be a non-empty list")
            return
        resolver = Resolver(model, svc.get("name")) if model else None
        recs = self.records_for(svc.get("event_source"), name)
        for j, t in enumerate(targets):
            twhere = f"{where} target[{j}]"
            if not isinstance(t, dict):
                self.err(twhere, "must be an inline table")
                continue
            for k in t:
                if k not in TARGET_KEYS:
                    self.err(twhere, f"unknown key {k!r}")
            rtype = t.get("type")
            if rtype not in self.schema:
                self.err(twhere, f"type {rtype!r} is not a resource type of the provider schema")
                continue
            twhere += f" {rtype}"
            ids = t.get("id")
            if not (isinstance(ids, list) and ids and all(isinstance(x, str) for x in ids)):
                self.err(twhere, "id must be a non-empty list of paths")
                ids = []
            for p in ids:
                self.check_path(twhere, resolver, op, p, recs)
            if "join" in t:
                join = t["join"]
                if not (isinstance(join, list) and join and all(isinstance(x, str) for x in join)):
                    self.err(twhere, "join must be a non-empty list of attribute names")
                else:
                    for a in join:
                        if a not in self.attrs_of(rtype):
                            self.err(twhere, f"join attribute {a!r} is not an attribute of {rtype}")
                        else:
                            self.check_string_attr(twhere, rtype, a)
            elif rtype not in self.keys:
                # default keys: both are looked up; at least one must exist on the type
                if not set(DEFAULT_KEYS) & self.attrs_of(rtype):
                    self.err(twhere, f"has neither 'id' nor 'arn'; give it [keys] or a join")
                self.stats["default_keys"] += 1
            self.stats["targets"] += 1
        attrs = call.get("attrs", {})
        if not isinstance(attrs, dict):
            self.err(where, "attrs must be a table")
            attrs = {}
        first = targets[0].get("type") if isinstance(targets[0], dict) else None
        for rec_path, attr_path in attrs.items():
            awhere = f"{where} attrs[{rec_path!r}]"
            self.check_path(awhere, resolver, op, rec_path, recs, identifier=False)
            if not isinstance(attr_path, str) or not path_ok(attr_path):
                self.err(awhere, f"bad attribute path {attr_path!r}")
                continue
            head = split_path(attr_path)[0]
            if first in self.schema and head not in self.attrs_of(first):
                if head in SCHEMA_GAPS.get(first, set()):
                    self.notes.append(f"{awhere}: {first}.{head} accepted from SCHEMA_GAPS")
                    self.stats["schema_gap"] += 1
                else:
                    self.err(awhere, f"{head!r} is not an attribute or block of {first}")
            self.stats["attrs"] += 1
        # a call with real successful records must find an identifier on at least one of them
        # (records with neither requestParameters nor responseElements are sanitised: they carry nothing)
        ok_recs = [(k, r) for k, r in recs if is_success(r) and is_mutating(r)
                   and (r.get("requestParameters") is not None or r.get("responseElements") is not None)]
        if ok_recs and isinstance(targets, list):
            found = any(eval_path(r, p) for _, r in ok_recs for t in targets if isinstance(t, dict)
                        for p in t.get("id", []) if isinstance(p, str))
            if not found:
                self.err(where, f"no identifier found on any of its {len(ok_recs)} real successful records")
            else:
                self.stats["calls_with_records"] += 1

    def check_path(self, where, resolver, op, path, recs, identifier=True):
        if not isinstance(path, str) or not path_ok(path):
            self.err(where, f"bad path syntax {path!r}")
            return
        segs = split_path(path)
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
        ok, why = resolver.resolve(op, path)
        if ok:
            self.stats["paths_model"] += 1
            return
        hits = [k for k, r in recs if eval_path(r, path)]
        if hits:
            self.stats["paths_record"] += 1
            self.notes.append(f"{where}: {path!r} not derivable from the model ({why}); "
                              f"accepted on record evidence ({hits[0]})")
            return
        self.err(where, f"{path!r}: {why}")

    def run_static(self):
        self.load()
        for fn, doc in self.files.items():
            self.check_file(fn, doc)
        types = {t["type"] for _, _, c in self.calls.values() for t in c.get("targets", []) if isinstance(t, dict)}
        self.stats["types"] = len(types)
        for fn, doc in self.files.items():
            for rtype in doc.get("keys", {}) if isinstance(doc.get("keys"), dict) else {}:
                if rtype not in types:
                    self.err(f"{fn} [keys] {rtype}", "no call targets this type")
        # [keys] are declared in the file of the type's service; note a type used by another file's calls
        # (the README does not say whether [keys] apply across files)
        for fn, _, c in self.calls.values():
            for t in c.get("targets", []):
                if isinstance(t, dict) and t.get("type") in self.keys:
                    if t["type"] not in self.files[fn].get("keys", {}):
                        self.notes.append(f"{fn}: {t['type']} uses [keys] declared in another file")
        for (src, name) in self.calls:
            svc = next((d["service"]["name"] for d in self.files.values()
                        if d.get("service", {}).get("event_source") == src), None)
            if (svc, name) in NOT_IN_CATALOG:
                self.err(f"{src} {name}", "is listed in NOT_IN_CATALOG; remove it from one of the two")

    # -- records
    def run_records(self):
        sources = {svc["event_source"]: svc["name"] for doc in self.files.values()
                   if isinstance((svc := doc.get("service")), dict) and "event_source" in svc}
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
            name = raw if (src, raw) in self.calls else strip_version(raw)
            by_source[src][0] += 1
            entry = self.calls.get((src, name))
            if entry is None:
                if src not in sources:
                    order, reason = 3, f"eventSource {src} has no catalog file"
                else:
                    model = self.models.get(sources[src])
                    if model and name not in model["operations"] and name not in EVENT_NAME_ALIASES.get(
                            sources[src], {}):
                        order, reason = 2, (f"{name} is not an operation of {sources[src]}: a record whose "
                                            f"eventSource does not match its call's service")
                    elif (sources[src], name) in NOT_IN_CATALOG:
                        order, reason = 1, "left out: " + NOT_IN_CATALOG[(sources[src], name)]
                    else:
                        order, reason = 1, f"{name} is not in the catalog"
                misses.append((order, f"  {key}: {src} {raw}: not covered: {reason}"))
                continue
            covered += 1
            by_source[src][1] += 1
            _, _, call = entry
            values = {}
            for t in call["targets"]:
                for p in t["id"]:
                    v = eval_path(rec, p)
                    if v:
                        values.setdefault(t["type"], v)
            if values:
                found += 1
                by_source[src][2] += 1
                continue
            tried = sorted({p for t in call["targets"] for p in t["id"]})
            rp, re_ = rec.get("requestParameters"), rec.get("responseElements")
            if rp is None and re_ is None:
                why = "the record has no requestParameters and no responseElements (sanitised)"
            else:
                why = "none of " + ", ".join(tried) + " is in the record"
                if isinstance(rp, dict):
                    why += f" (requestParameters keys: {sorted(rp)[:8]})"
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
    ap.add_argument("--catalog", default=DEFAULT_CATALOG, help="catalog folder (default: %(default)s)")
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
    per_file = {fn: len(doc.get("call", [])) for fn, doc in sorted(c.files.items())}
    print("catalog:", ", ".join(f"{fn} {n}" for fn, n in per_file.items()), f"= {s['calls']} calls,",
          f"{s['targets']} targets over {s['types']} resource types, {s['attrs']} attrs")
    print(f"paths: {s['paths']} checked: {s['paths_model']} resolved in the API model, "
          f"{s['paths_record']} accepted on record evidence only, {s['paths_envelope']} envelope fields")
    print(f"calls with real successful records, identifier found on one: {s['calls_with_records']}")
    print(f"key/join attributes: {s['string_verified']} checked as strings in real states, "
          f"{s['string_unverified']} not in any real state; {s['schema_gap']} attrs via SCHEMA_GAPS")
    if args.verbose:
        print("\naccepted on weaker evidence:")
        for n in c.notes:
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
