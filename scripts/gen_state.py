#!/usr/bin/env python3
"""Writes a synthetic Terraform state (format v4) of N managed resource instances, for tfdrift's benchmarks.

The instances are drawn from the shapes of the real states in tests/data/tfstate: for every resource type,
the richest instance any real state holds is the template (its attribute names, nesting and value kinds).
Each generated instance is a copy of its type's template with fresh identifiers (ids, ARNs, names, account,
region), and with the parts that vary in size in real estates grown to realistic sizes: security group rule
blocks, IAM policy documents (JSON strings), tags, route tables' routes, Lambda environments, S3 buckets'
nested blocks, DNS records. The type mix is weighted like an organisation's estate (many rules, policy
attachments, DNS records and security groups; fewer databases and Lambda functions). Resources sit in the
root module and in modules (some nested, some with `for_each` keys), some have `count` or `for_each`
instances, some instances mark attributes sensitive (`password`, `secret`, ...), a few are tainted.

The output is written as Terraform writes it (2-space indented JSON). The same arguments and seed give the
same bytes.

    scripts/gen_state.py --resources 50000 --out /tmp/50k.tfstate --seed 1

`--include FILE` adds resources that must be in the state (a JSON list of {"type", "id", "key"?, "address"?}):
the benchmarks put there the resources the real CloudTrail records touch, so that lookups hit.
"""

import argparse
import copy
import glob
import json
import os
import random
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_TEMPLATES = os.path.join(HERE, "..", "tests", "data", "tfstate")

# (type, weight): how often a resource type appears among an organisation's instances.
MIX = [
    ("aws_security_group_rule", 120),
    ("aws_iam_role_policy_attachment", 90),
    ("aws_route53_record", 80),
    ("aws_security_group", 60),
    ("aws_iam_role", 50),
    ("aws_subnet", 40),
    ("aws_route_table_association", 35),
    ("aws_instance", 35),
    ("aws_iam_policy", 30),
    ("aws_s3_bucket", 30),
    ("aws_route", 30),
    ("aws_iam_role_policy", 25),
    ("aws_cloudwatch_log_group", 25),
    ("aws_lambda_function", 20),
    ("aws_route_table", 20),
    ("aws_s3_bucket_policy", 15),
    ("aws_s3_bucket_public_access_block", 15),
    ("aws_sqs_queue", 15),
    ("aws_sns_topic", 10),
    ("aws_sns_topic_subscription", 10),
    ("aws_kms_key", 10),
    ("aws_kms_alias", 10),
    ("aws_lb_target_group", 10),
    ("aws_ebs_volume", 10),
    ("aws_eip", 10),
    ("aws_iam_user", 8),
    ("aws_iam_user_policy_attachment", 8),
    ("aws_iam_access_key", 5),
    ("aws_lb", 6),
    ("aws_lb_listener", 8),
    ("aws_vpc", 6),
    ("aws_internet_gateway", 5),
    ("aws_nat_gateway", 5),
    ("aws_network_acl", 4),
    ("aws_db_instance", 6),
    ("aws_db_subnet_group", 5),
    ("aws_dynamodb_table", 6),
    ("aws_ecr_repository", 6),
    ("aws_launch_template", 5),
    ("aws_elasticache_cluster", 3),
    ("aws_acm_certificate", 4),
    ("aws_api_gateway_rest_api", 3),
    ("aws_cloudfront_distribution", 2),
    ("aws_rds_cluster", 2),
]

# Identifier prefixes AWS gives, as the real states show them (`sg-0a1b...`).
ID_RE = re.compile(
    r"\b(sg|sgr|subnet|vpc|i|rtb|rtbassoc|eni|vol|igw|nat|eipalloc|eipassoc|ami|acl|aclassoc|snap|lt|"
    r"tgw|vpce|pcx|r|fs|sgrule)-[0-9a-f]{8,17}\b"
)
ACCOUNT_RE = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
REGION_RE = re.compile(r"\b(?:us|eu|ap|sa|ca|me|af)-(?:east|west|north|south|central|northeast|southeast)-[0-9]\b")

WORDS = (
    "api web app data logs audit billing auth search cache queue events users orders payments media "
    "reports metrics backup ingest export import admin edge core shared platform internal public private "
    "blue green canary batch stream worker scheduler gateway frontend backend ml analytics sso vault"
).split()
ENVS = ["prod", "staging", "dev", "qa", "sandbox"]
SERVICES = ["ec2", "s3", "dynamodb", "sqs", "sns", "logs", "kms", "lambda", "iam", "rds", "ecr", "cloudwatch"]
SECRET_ATTRS = ("password", "secret", "private_key", "token", "user_data", "credential", "passwd")


def load_templates(root):
    """The richest instance of every resource type over the real v4 states under `root`."""
    best = {}
    for path in sorted(glob.glob(os.path.join(root, "**", "*"), recursive=True)):
        if not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as f:
                state = json.load(f)
        except (ValueError, UnicodeDecodeError):
            continue
        if not isinstance(state, dict) or state.get("version") != 4:
            continue
        for resource in state.get("resources") or []:
            if resource.get("mode") != "managed":
                continue
            for instance in resource.get("instances") or []:
                attributes = instance.get("attributes")
                if not isinstance(attributes, dict):
                    continue
                size = len(json.dumps(attributes, separators=(",", ":")))
                rtype = resource.get("type")
                if rtype not in best or size > best[rtype][0]:
                    best[rtype] = (size, attributes, instance.get("schema_version", 0))
    return {t: (attrs, schema) for t, (_, attrs, schema) in best.items()}


class Gen:
    def __init__(self, seed, account, region, templates):
        self.rng = random.Random(seed)
        self.account = account
        self.region = region
        self.templates = templates
        self.serial = 0

    # ---------------------------------------------------------------------------- small values
    def hexid(self, n=17):
        return "%0*x" % (n, self.rng.getrandbits(4 * n))

    def aws_id(self, prefix, n=17):
        return f"{prefix}-{self.hexid(n)}"

    def word(self):
        return self.rng.choice(WORDS)

    def name(self):
        self.serial += 1
        return f"{self.rng.choice(ENVS)}-{self.word()}-{self.word()}-{self.serial}"

    def arn(self, service, resource, regional=True):
        region = self.region if regional else ""
        return f"arn:aws:{service}:{region}:{self.account}:{resource}"

    def cidr(self):
        r = self.rng
        return f"10.{r.randrange(256)}.{r.randrange(256)}.0/{r.choice([16, 20, 24, 24, 24, 28])}"

    def ip(self):
        r = self.rng
        return f"10.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"

    def sized(self, low, high, mode=None):
        """A count between low and high, most often near the low end (a triangular draw)."""
        return int(round(self.rng.triangular(low, high, low if mode is None else mode)))

    def tags(self, name=None):
        r = self.rng
        tags = {}
        if name:
            tags["Name"] = name
        for key in ["Environment", "Team", "CostCenter", "Owner", "Service", "ManagedBy", "Repository",
                    "DataClassification", "Backup", "Project"][: self.sized(0, 10, 3)]:
            if key == "ManagedBy":
                tags[key] = "terraform"
            elif key == "Repository":
                tags[key] = f"github.com/acme/{self.word()}-{self.word()}"
            elif key == "CostCenter":
                tags[key] = str(r.randrange(1000, 9999))
            else:
                tags[key] = f"{self.word()}-{r.choice(ENVS)}"
        return tags

    def policy(self, statements=None):
        r = self.rng
        n = statements if statements is not None else self.sized(1, 12, 2)
        stmts = []
        for i in range(n):
            service = r.choice(SERVICES)
            actions = sorted({f"{service}:{r.choice(['Get', 'Put', 'List', 'Describe', 'Delete', 'Create', 'Update'])}"
                              f"{r.choice(['Object', 'Item', 'Queue', 'Topic', 'Key', 'Function', 'Bucket', 'LogEvents', 'Role'])}"
                              for _ in range(self.sized(1, 10, 2))})
            resources = [self.arn(service, f"{self.word()}/{self.name()}") for _ in range(self.sized(1, 5, 1))]
            stmt = {
                "Sid": f"Stmt{i}{self.word().capitalize()}",
                "Effect": "Allow" if r.random() < 0.9 else "Deny",
                "Action": actions if len(actions) > 1 else actions[0],
                "Resource": resources if len(resources) > 1 else resources[0],
            }
            if r.random() < 0.2:
                stmt["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": f"o-{self.hexid(10)}"}}
            stmts.append(stmt)
        return json.dumps({"Version": "2012-10-17", "Statement": stmts})

    def assume_role_policy(self):
        principal = self.rng.choice([
            {"Service": f"{self.rng.choice(['ec2', 'lambda', 'ecs-tasks', 'states'])}.amazonaws.com"},
            {"AWS": self.arn("iam", f"role/{self.name()}", regional=False)},
            {"Federated": self.arn("iam", "oidc-provider/token.actions.githubusercontent.com", regional=False)},
        ])
        return json.dumps({"Version": "2012-10-17", "Statement": [
            {"Sid": "", "Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]})

    def sg_rule(self):
        r = self.rng
        port = r.choice([22, 80, 443, 3306, 5432, 6379, 8080, 8443, 9090, 0])
        other = r.random() < 0.3
        return {
            "cidr_blocks": [] if other else [self.cidr() for _ in range(self.sized(1, 6, 1))],
            "description": r.choice(["", f"{self.word()} access", f"from {self.word()} {self.word()}"]),
            "from_port": port,
            "ipv6_cidr_blocks": [],
            "prefix_list_ids": [],
            "protocol": "-1" if port == 0 else "tcp",
            "security_groups": [self.aws_id("sg")] if other else [],
            "self": False,
            "to_port": port,
        }

    # ---------------------------------------------------------------------------- instances
    def fresh(self, template):
        """The template with every AWS id, account and region replaced (the same id keeps one new value)."""
        text = json.dumps(template, separators=(",", ":"))
        ids = {}

        def new_id(m):
            old = m.group(0)
            if old not in ids:
                ids[old] = f"{m.group(1)}-{self.hexid(len(old) - len(m.group(1)) - 1)}"
            return ids[old]

        text = ID_RE.sub(new_id, text)
        text = ACCOUNT_RE.sub(self.account, text)
        text = REGION_RE.sub(self.region, text)
        return json.loads(text)

    def attributes(self, rtype, ident=None):
        template = self.templates.get(rtype)
        attrs = self.fresh(template[0]) if template else {}
        schema = template[1] if template else 0
        name = self.name()
        shape = SHAPES.get(rtype)
        if shape:
            shape(self, attrs, name)
        else:
            attrs.setdefault("id", name)
        for key in ("tags", "tags_all"):
            if key in attrs or rtype in TAGGED:
                attrs[key] = attrs.get("tags") if key == "tags_all" and "tags" in attrs else self.tags(name)
        if ident is not None:
            attrs["id"] = ident["id"]
            if ident.get("key"):
                attrs[ident["key"]] = ident["id"]
        return dict(sorted(attrs.items())), schema


def shape_sg(g, a, name):
    a["id"] = g.aws_id("sg")
    a["arn"] = g.arn("ec2", f"security-group/{a['id']}")
    a["name"] = name
    a["description"] = f"{name} security group"
    a["vpc_id"] = g.aws_id("vpc")
    a["owner_id"] = g.account
    a["ingress"] = [g.sg_rule() for _ in range(g.sized(0, 14, 2))]
    a["egress"] = [g.sg_rule() for _ in range(g.sized(1, 3, 1))]
    a["revoke_rules_on_delete"] = False


def shape_sg_rule(g, a, name):
    rule = g.sg_rule()
    a.update(rule)
    a["id"] = f"sgrule-{g.rng.randrange(10**9, 10**10)}"
    a["security_group_id"] = g.aws_id("sg")
    a["security_group_rule_id"] = g.aws_id("sgr")
    a["type"] = g.rng.choice(["ingress", "ingress", "egress"])
    a["source_security_group_id"] = rule["security_groups"][0] if rule["security_groups"] else None
    a.pop("security_groups", None)


def shape_role(g, a, name):
    a["id"] = a["name"] = name
    a["arn"] = g.arn("iam", f"role/{name}", regional=False)
    a["unique_id"] = "AROA" + g.hexid(17).upper()
    a["assume_role_policy"] = g.assume_role_policy()
    a["managed_policy_arns"] = sorted(g.arn("iam", f"policy/{g.name()}", regional=False)
                                      for _ in range(g.sized(0, 6, 1)))
    a["inline_policy"] = [{"name": g.name(), "policy": g.policy(g.sized(1, 4, 1))}
                          for _ in range(g.sized(0, 2, 0))]
    a["description"] = g.rng.choice(["", f"Role for {name}"])


def shape_policy(g, a, name):
    a["name"] = name
    a["arn"] = a["id"] = g.arn("iam", f"policy/{name}", regional=False)
    a["policy_id"] = "ANPA" + g.hexid(17).upper()
    a["policy"] = g.policy()


def shape_role_policy(g, a, name):
    role = g.name()
    a["name"] = name
    a["role"] = role
    a["id"] = f"{role}:{name}"
    a["policy"] = g.policy()


def shape_attachment(g, a, name):
    role = g.name()
    a["role"] = role
    a["policy_arn"] = g.rng.choice([
        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
        "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
        g.arn("iam", f"policy/{g.name()}", regional=False)])
    a["id"] = f"{role}-{g.hexid(26)}"


def shape_user_attachment(g, a, name):
    shape_attachment(g, a, name)
    a["user"] = a.pop("role")


def shape_user(g, a, name):
    a["id"] = a["name"] = name
    a["arn"] = g.arn("iam", f"user/{name}", regional=False)
    a["unique_id"] = "AIDA" + g.hexid(17).upper()


def shape_access_key(g, a, name):
    a["id"] = "AKIA" + g.hexid(16).upper()
    a["user"] = name
    a["secret"] = g.hexid(40)
    a["ses_smtp_password_v4"] = g.hexid(44)


def shape_bucket(g, a, name):
    a["id"] = a["bucket"] = name
    a["arn"] = f"arn:aws:s3:::{name}"
    a["bucket_domain_name"] = f"{name}.s3.amazonaws.com"
    a["bucket_regional_domain_name"] = f"{name}.s3.{g.region}.amazonaws.com"
    a["versioning"] = [{"enabled": g.rng.random() < 0.6, "mfa_delete": False}]
    a["server_side_encryption_configuration"] = [{"rule": [{"apply_server_side_encryption_by_default": [
        {"kms_master_key_id": g.arn("kms", f"key/{g.hexid(32)}"), "sse_algorithm": "aws:kms"}],
        "bucket_key_enabled": True}]}]
    a["lifecycle_rule"] = [{
        "abort_incomplete_multipart_upload_days": 7, "enabled": True, "expiration": [
            {"date": "", "days": g.rng.choice([30, 90, 365]), "expired_object_delete_marker": False}],
        "id": f"{g.word()}-expiry", "noncurrent_version_expiration": [{"days": 30}],
        "noncurrent_version_transition": [], "prefix": f"{g.word()}/", "tags": {},
        "transition": [{"date": "", "days": 30, "storage_class": "STANDARD_IA"}]}
        for _ in range(g.sized(0, 3, 0))]
    if g.rng.random() < 0.4:
        a["logging"] = [{"target_bucket": g.name(), "target_prefix": f"{name}/"}]
    if g.rng.random() < 0.3:
        a["policy"] = g.policy(g.sized(1, 4, 1))


def shape_bucket_sub(g, a, name):
    a["id"] = a["bucket"] = name
    if "policy" in a:
        a["policy"] = g.policy(g.sized(1, 5, 1))


def shape_lambda(g, a, name):
    a["id"] = a["function_name"] = name
    a["arn"] = g.arn("lambda", f"function:{name}")
    a["qualified_arn"] = a["arn"] + ":$LATEST"
    a["invoke_arn"] = (f"arn:aws:apigateway:{g.region}:lambda:path/2015-03-31/functions/{a['arn']}/invocations")
    a["role"] = g.arn("iam", f"role/{g.name()}", regional=False)
    a["runtime"] = g.rng.choice(["python3.12", "nodejs20.x", "java21", "provided.al2023"])
    a["memory_size"] = g.rng.choice([128, 256, 512, 1024, 2048])
    a["environment"] = [{"variables": {
        f"{g.word().upper()}_{g.word().upper()}_{i}": g.rng.choice([g.name(), g.arn("sqs", g.name()), str(i)])
        for i in range(g.sized(0, 20, 3))}}]
    a["layers"] = [g.arn("lambda", f"layer:{g.word()}:{g.rng.randrange(1, 40)}") for _ in range(g.sized(0, 3, 0))]
    a["source_code_hash"] = g.hexid(43)
    a["vpc_config"] = [{"security_group_ids": [g.aws_id("sg")], "subnet_ids": [g.aws_id("subnet") for _ in range(3)],
                        "vpc_id": g.aws_id("vpc")}] if g.rng.random() < 0.5 else []


def shape_db(g, a, name):
    a["id"] = a["identifier"] = name
    a["arn"] = g.arn("rds", f"db:{name}")
    a["resource_id"] = "db-" + g.hexid(26).upper()
    a["address"] = f"{name}.{g.hexid(12)}.{g.region}.rds.amazonaws.com"
    a["endpoint"] = a["address"] + ":5432"
    a["password"] = g.hexid(24)
    a["username"] = "admin"
    a["vpc_security_group_ids"] = [g.aws_id("sg") for _ in range(g.sized(1, 3, 1))]


def shape_rds_cluster(g, a, name):
    a["id"] = a["cluster_identifier"] = name
    a["arn"] = g.arn("rds", f"cluster:{name}")
    a["master_password"] = g.hexid(24)


def shape_instance(g, a, name):
    a["id"] = g.aws_id("i")
    a["arn"] = g.arn("ec2", f"instance/{a['id']}")
    a["instance_type"] = g.rng.choice(["t3.micro", "t3.large", "m5.xlarge", "c6i.2xlarge", "r6g.large"])
    a["private_ip"] = g.ip()
    a["private_dns"] = f"ip-{a['private_ip'].replace('.', '-')}.{g.region}.compute.internal"
    a["vpc_security_group_ids"] = [g.aws_id("sg") for _ in range(g.sized(1, 4, 1))]
    a["subnet_id"] = g.aws_id("subnet")
    if g.rng.random() < 0.3:
        a["user_data"] = g.hexid(40)


def shape_subnet(g, a, name):
    a["id"] = g.aws_id("subnet")
    a["arn"] = g.arn("ec2", f"subnet/{a['id']}")
    a["cidr_block"] = g.cidr()
    a["vpc_id"] = g.aws_id("vpc")


def shape_route_table(g, a, name):
    a["id"] = g.aws_id("rtb")
    a["arn"] = g.arn("ec2", f"route-table/{a['id']}")
    a["vpc_id"] = g.aws_id("vpc")
    a["route"] = [{
        "carrier_gateway_id": "", "cidr_block": g.cidr(), "core_network_arn": "", "destination_prefix_list_id": "",
        "egress_only_gateway_id": "", "gateway_id": g.rng.choice(["", g.aws_id("igw")]), "ipv6_cidr_block": "",
        "local_gateway_id": "", "nat_gateway_id": g.rng.choice(["", g.aws_id("nat")]), "network_interface_id": "",
        "transit_gateway_id": "", "vpc_endpoint_id": "", "vpc_peering_connection_id": ""}
        for _ in range(g.sized(1, 8, 2))]


def shape_route(g, a, name):
    rtb = g.aws_id("rtb")
    cidr = g.cidr()
    a["route_table_id"] = rtb
    a["destination_cidr_block"] = cidr
    a["id"] = f"r-{rtb}{g.rng.randrange(10**9, 10**10)}"


def shape_rta(g, a, name):
    a["id"] = g.aws_id("rtbassoc")
    a["route_table_id"] = g.aws_id("rtb")
    a["subnet_id"] = g.aws_id("subnet")


def shape_record(g, a, name):
    zone = "Z" + g.hexid(20).upper()
    fqdn = f"{g.word()}.{g.word()}.example.com"
    rtype = g.rng.choice(["A", "CNAME", "TXT", "A", "CNAME"])
    a["zone_id"] = zone
    a["name"] = a["fqdn"] = fqdn
    a["type"] = rtype
    a["id"] = f"{zone}_{fqdn}_{rtype}"
    a["records"] = [g.ip() if rtype == "A" else f"{g.word()}.example.net" for _ in range(g.sized(1, 4, 1))]


def shape_log_group(g, a, name):
    a["id"] = a["name"] = f"/aws/{g.word()}/{name}"
    a["arn"] = g.arn("logs", f"log-group:{a['name']}")
    a["retention_in_days"] = g.rng.choice([7, 30, 90, 365])


def shape_named_arn(service, kind, sep="/"):
    def shape(g, a, name):
        a["name"] = name
        a["arn"] = g.arn(service, f"{kind}{sep}{name}")
        a["id"] = a["arn"] if service in ("sns", "elasticloadbalancing") else name
    return shape


def shape_queue(g, a, name):
    a["name"] = name
    a["arn"] = g.arn("sqs", name)
    a["id"] = a["url"] = f"https://sqs.{g.region}.amazonaws.com/{g.account}/{name}"
    if "policy" in a:
        a["policy"] = g.policy(g.sized(1, 3, 1))


def shape_kms(g, a, name):
    a["id"] = a["key_id"] = f"{g.hexid(8)}-{g.hexid(4)}-{g.hexid(4)}-{g.hexid(4)}-{g.hexid(12)}"
    a["arn"] = g.arn("kms", f"key/{a['id']}")
    a["policy"] = g.policy(g.sized(2, 6, 3))


def shape_alias(g, a, name):
    a["id"] = a["name"] = f"alias/{name}"
    a["arn"] = g.arn("kms", a["name"])
    a["target_key_id"] = f"{g.hexid(8)}-{g.hexid(4)}-{g.hexid(4)}-{g.hexid(4)}-{g.hexid(12)}"


def shape_generic_id(prefix, service=None, kind=None):
    def shape(g, a, name):
        a["id"] = g.aws_id(prefix)
        if service:
            a["arn"] = g.arn(service, f"{kind}/{a['id']}")
        if "name" in a:
            a["name"] = name
    return shape


def shape_named(g, a, name):
    a["id"] = a["name"] = name
    if "arn" in a:
        a["arn"] = re.sub(r"[^:/]+$", name, a["arn"]) if isinstance(a["arn"], str) else a["arn"]


def shape_subscription(g, a, name):
    topic = g.arn("sns", g.name())
    a["topic_arn"] = topic
    a["arn"] = a["id"] = f"{topic}:{g.hexid(8)}-{g.hexid(4)}-{g.hexid(4)}-{g.hexid(4)}-{g.hexid(12)}"
    a["endpoint"] = g.arn("sqs", g.name())


SHAPES = {
    "aws_security_group": shape_sg,
    "aws_security_group_rule": shape_sg_rule,
    "aws_iam_role": shape_role,
    "aws_iam_policy": shape_policy,
    "aws_iam_role_policy": shape_role_policy,
    "aws_iam_role_policy_attachment": shape_attachment,
    "aws_iam_user_policy_attachment": shape_user_attachment,
    "aws_iam_user": shape_user,
    "aws_iam_access_key": shape_access_key,
    "aws_s3_bucket": shape_bucket,
    "aws_s3_bucket_policy": shape_bucket_sub,
    "aws_s3_bucket_public_access_block": shape_bucket_sub,
    "aws_lambda_function": shape_lambda,
    "aws_db_instance": shape_db,
    "aws_rds_cluster": shape_rds_cluster,
    "aws_instance": shape_instance,
    "aws_subnet": shape_subnet,
    "aws_route_table": shape_route_table,
    "aws_route": shape_route,
    "aws_route_table_association": shape_rta,
    "aws_route53_record": shape_record,
    "aws_cloudwatch_log_group": shape_log_group,
    "aws_sqs_queue": shape_queue,
    "aws_sns_topic": shape_named_arn("sns", "", sep=""),
    "aws_sns_topic_subscription": shape_subscription,
    "aws_kms_key": shape_kms,
    "aws_kms_alias": shape_alias,
    "aws_lb": shape_named_arn("elasticloadbalancing", "loadbalancer/app"),
    "aws_lb_target_group": shape_named_arn("elasticloadbalancing", "targetgroup"),
    "aws_lb_listener": shape_named_arn("elasticloadbalancing", "listener/app"),
    "aws_ebs_volume": shape_generic_id("vol", "ec2", "volume"),
    "aws_eip": shape_generic_id("eipalloc", "ec2", "elastic-ip"),
    "aws_vpc": shape_generic_id("vpc", "ec2", "vpc"),
    "aws_internet_gateway": shape_generic_id("igw", "ec2", "internet-gateway"),
    "aws_nat_gateway": shape_generic_id("nat"),
    "aws_network_acl": shape_generic_id("acl", "ec2", "network-acl"),
    "aws_launch_template": shape_generic_id("lt", "ec2", "launch-template"),
    "aws_db_subnet_group": shape_named,
    "aws_dynamodb_table": shape_named,
    "aws_ecr_repository": shape_named,
    "aws_elasticache_cluster": shape_named,
    "aws_api_gateway_rest_api": shape_generic_id("abc"),
    "aws_cloudfront_distribution": shape_named,
    "aws_acm_certificate": shape_named,
}

# Types whose provider has `tags` (and `tags_all`) even when the template's old provider version had none.
TAGGED = {
    "aws_security_group", "aws_iam_role", "aws_iam_policy", "aws_iam_user", "aws_s3_bucket", "aws_lambda_function",
    "aws_db_instance", "aws_instance", "aws_subnet", "aws_route_table", "aws_vpc", "aws_sqs_queue", "aws_sns_topic",
    "aws_kms_key", "aws_cloudwatch_log_group", "aws_lb", "aws_lb_target_group", "aws_ebs_volume", "aws_eip",
    "aws_dynamodb_table", "aws_ecr_repository", "aws_nat_gateway", "aws_internet_gateway",
}


def sensitive_paths(attrs):
    """What Terraform 0.15+ writes in `sensitive_attributes` for the attributes that hold secrets."""
    return [[{"type": "get_attr", "value": k}] for k in attrs if any(s in k for s in SECRET_ATTRS)]


def module_paths(g, count):
    """Module addresses, some nested, some with for_each keys; "" is the root module."""
    paths = [""]
    for i in range(count):
        base = f"module.{g.word()}_{i}"
        roll = g.rng.random()
        if roll < 0.15:
            base += f'["{g.rng.choice(ENVS)}"]'
        if roll > 0.7:
            base += f".module.{g.word()}"
        paths.append(base)
    return paths


def generate(args):
    templates = load_templates(args.templates)
    missing = [t for t, _ in MIX if t not in templates]
    if missing:
        sys.exit(f"no real state under {args.templates} holds these types: {', '.join(missing)}")
    g = Gen(args.seed, args.account, args.region, templates)
    modules = module_paths(g, max(1, args.resources // 400))
    types = [t for t, _ in MIX]
    weights = [w for _, w in MIX]
    resources = []
    names = set()

    def block(rtype, module, instances):
        name = f"{g.word()}_{g.word()}"
        if (module, rtype, name) in names:
            # Two words give a few thousand names: past them, a number keeps every address unique.
            name = f"{name}_{len(names)}"
        names.add((module, rtype, name))
        resource = {"mode": "managed", "type": rtype, "name": name,
                    "provider": 'provider["registry.terraform.io/hashicorp/aws"]', "instances": instances}
        if module:
            resource["module"] = module
        resources.append(resource)

    def instance(rtype, key=None, ident=None):
        attrs, schema = g.attributes(rtype, ident)
        inst = {}
        if key is not None:
            inst["index_key"] = key
        if g.rng.random() < 0.002:
            inst["status"] = "tainted"
        inst["schema_version"] = schema
        inst["attributes"] = attrs
        inst["sensitive_attributes"] = sensitive_paths(attrs)
        inst["private"] = "eyJzY2hlbWFfdmVyc2lvbiI6IjEifQ=="
        if g.rng.random() < 0.6:
            inst["dependencies"] = sorted({f"{g.rng.choice(types)}.{g.word()}_{g.word()}"
                                           for _ in range(g.sized(1, 6, 1))})
        return inst

    included = 0
    if args.include:
        with open(args.include, encoding="utf-8") as f:
            wanted = json.load(f)
        for ident in wanted:
            rtype = ident["type"]
            block(rtype, "", [instance(rtype, ident=ident)])
            included += 1

    made = included
    while made < args.resources:
        rtype = g.rng.choices(types, weights)[0]
        module = g.rng.choice(modules) if g.rng.random() < 0.7 else ""
        roll = g.rng.random()
        left = args.resources - made
        if roll < 0.08 and left > 1:
            n = min(left, g.sized(2, 6, 2))
            instances = [instance(rtype, key=i) for i in range(n)]
        elif roll < 0.13 and left > 1:
            n = min(left, g.sized(2, 5, 2))
            keys = sorted({f"{g.word()}-{i}" for i in range(n)})
            instances = [instance(rtype, key=k) for k in keys]
        else:
            instances = [instance(rtype)]
        block(rtype, module, instances)
        made += len(instances)

    state = {
        "version": 4,
        "terraform_version": "1.9.5",
        "serial": args.seed * 1000 + 1,
        "lineage": f"{g.hexid(8)}-{g.hexid(4)}-{g.hexid(4)}-{g.hexid(4)}-{g.hexid(12)}",
        "outputs": {"vpc_id": {"value": g.aws_id("vpc"), "type": "string"}},
        "resources": resources,
        "check_results": None,
    }
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        # One string, then one write: json.dump writes every token separately, at half the speed.
        f.write(json.dumps(state, indent=None if args.compact else 2))
        f.write("\n")
    os.replace(tmp, args.out)
    return made


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resources", type=int, required=True, help="managed resource instances to write")
    parser.add_argument("--out", required=True, help="path of the state file to write")
    parser.add_argument("--seed", type=int, default=1, help="random seed (same seed, same bytes)")
    parser.add_argument("--templates", default=DEFAULT_TEMPLATES, help="folder of real states to take shapes from")
    parser.add_argument("--include", help="JSON list of {type, id, key} resources the state must hold")
    parser.add_argument("--account", default="123456789012")
    parser.add_argument("--region", default="eu-west-1")
    parser.add_argument("--compact", action="store_true", help="write compact JSON instead of Terraform's indented")
    args = parser.parse_args()
    made = generate(args)
    print(f"{args.out}: {made} instances, {os.path.getsize(args.out)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
