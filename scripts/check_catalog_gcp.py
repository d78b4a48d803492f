#!/usr/bin/env python3
"""Check the Google Cloud part of the tfdrift catalog (catalog/gcp-*.toml) against Google's discovery documents,
the Google provider schema and the real Cloud Audit Log entries.

    python3 scripts/check_catalog_gcp.py        # every check; exit status 1 when one fails
    python3 scripts/check_catalog_gcp.py -v     # also list the entries whose identifier the catalog misses

Needs cargo and the `google-api-python-client` package (its discovery documents, read offline from
googleapiclient/discovery_cache/documents; scripts/requirements-test.txt pins it). As scripts/check_catalog.py does
for AWS, the catalog is read as the library parsed it (`tfdrift-replay --dump-catalog`, src/catalog/dump.rs), so
paths, patterns, defaults and severities are the library's own.

What is checked (the format is in catalog/README.md, section "Google Cloud"):
  files     each GCP file is `gcp-<service>.toml` with `[service] name = "<service>"`, a discovery API name;
            `event_source` is `<service>.googleapis.com` (EVENT_SOURCES lists the exceptions: Cloud SQL logs as
            cloudsql.googleapis.com); no call name twice for one event source.
  methods   every call's discovery method (`method`, else the call's name: Compute's and DNS's audit names are
            discovery ids) is a method of one of the API's discovery documents (Compute: `compute.v1`, then
            `compute.beta`), and not a read (HTTP GET). A Compute name carries no `v1.`/`beta.`/`alpha.` prefix
            (the record view strips it).
  request   the first member of every `request.<member>` path (identifiers, parts, import ids, attrs) is a
            parameter of the method or a property of its request body (gRPC names in snake_case, discovery's in
            lowerCamel: `account_id` is `accountId`), or names the body as gRPC transcoding does (`function`,
            `cluster`, `body`) and is followed by a property of the body; REQUEST_EXCEPTIONS lists the others.
  body      a call's `auto_attrs = "request.<member>"` names the method's request body as gRPC transcoding does
            (the body schema's name ends with it: `sink` for LogSink; Cloud SQL's `body`) or a property of it.
  schema    every target type is a resource type of tests/data/google-provider-schema.json (provider 6.50.0; a
            type added in 7.x would be listed in TYPE_EXCEPTIONS with a reason); every attrs, [keys], join and
            parts attribute is an attribute of its type.
  severity  a call that changes an IAM policy (`SetIamPolicy`, `setIamPermissions`) is critical.
  counts    at least MIN_METHODS calls over at least MIN_SERVICES services.
  identity  over the successful Admin Activity entries of tests/data/gcp-audit/*.jsonl whose method the catalog
            covers (an operation's `last` entry is left out: a change is attributed to its `first`), the share on
            which some target's identifier paths find an identifier; at least MIN_IDENTITY_RATE.
"""
import argparse
import glob
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_catalog  # noqa: E402  (the library's dump: one reader for both checkers)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA = os.path.join(ROOT, "tests", "data", "google-provider-schema.json")
ENTRIES = os.path.join(ROOT, "tests", "data", "gcp-audit")
MIN_METHODS, MIN_SERVICES, MIN_IDENTITY_RATE = 400, 15, 0.98

# Services whose audit serviceName is not the discovery API's host.
EVENT_SOURCES = {"sqladmin": "cloudsql.googleapis.com"}
# Request members that are neither in the discovery method nor its body, with why the catalog reads them.
REQUEST_EXCEPTIONS = {
    ("sqladmin", "resource"): "older Cloud SQL entries log an internal request, `resource.instanceName.instanceId`"
                              " (tests/data/gcp-audit/google-cloudevents.jsonl)",
}
# Resource types the catalog targets that the schema file (provider 6.50.0) does not have: none so far. Add one as
# "type": "added in provider 7.x (<version>)" when a call needs it.
TYPE_EXCEPTIONS: dict[str, str] = {}
# Compute's audit methodName carries the API version it was called with.
COMPUTE_PREFIX = re.compile(r"^(v1|beta|alpha)\.")
# Members of the request that every gRPC audit request has and no discovery method lists.
ALWAYS = {"@type"}


def documents_dir(given: str | None) -> str:
    if given:
        return given
    try:
        import googleapiclient  # noqa: PLC0415
    except ImportError:
        raise SystemExit("error: google-api-python-client is not installed "
                         "(pip install -r scripts/requirements-test.txt)")
    return os.path.join(os.path.dirname(googleapiclient.__file__), "discovery_cache", "documents")


class Discovery:
    """The discovery documents of one package: every method of every version of every API, by id."""

    def __init__(self, folder: str):
        self.apis: dict[str, list[dict]] = {}
        for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
            name = os.path.basename(path)
            if name == "index.json":
                continue
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
            self.apis.setdefault(doc["name"], []).append(doc)
        if not self.apis:
            raise SystemExit(f"error: no discovery documents in {folder}")
        # Compute: v1 first, then beta, as the catalog names them.
        order = {"v1": 0, "beta": 1}
        for docs in self.apis.values():
            docs.sort(key=lambda d: (order.get(d["version"], 2), d["version"]))

    def method(self, api: str, method_id: str, prefer: str | None = None):
        """(document, method) for a discovery id, in the preferred version when it has it."""
        found = []
        for doc in self.apis.get(api, []):
            m = find_method(doc.get("resources", {}), method_id)
            if m is not None:
                found.append((doc, m))
        if not found:
            return None
        if prefer:
            for doc, m in found:
                if doc["version"] == prefer:
                    return doc, m
        return found[0]


def find_method(resources: dict, method_id: str):
    for res in resources.values():
        for m in res.get("methods", {}).values():
            if m.get("id") == method_id:
                return m
        sub = find_method(res.get("resources", {}), method_id)
        if sub is not None:
            return sub
    return None


def lower_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def schema_props(doc: dict, ref: str | None) -> set:
    if not ref:
        return set()
    return set(doc.get("schemas", {}).get(ref, {}).get("properties", {}))


def grpc_version(name: str) -> str | None:
    """`v2` from `google.cloud.run.v2.Services.CreateService`, to prefer that discovery version."""
    m = re.search(r"\.(v\d+(?:beta\d*|alpha\d*)?)\.", name)
    return m.group(1) if m else None


def path_of(p) -> tuple[list, str | None]:
    """A dumped path: a list of steps, or {"steps": [...], "pattern": "..."}."""
    if isinstance(p, dict):
        return p["steps"], p["pattern"]
    return p, None


def text(p) -> str:
    steps, pattern = path_of(p)
    return ".".join(steps) + (f"|{pattern}" if pattern else "")


# --------------------------------------------------------------------------------------------- path evaluation
# The library's rules (src/catalog/path.rs): arrays met on the way are traversed, a member missing under its exact
# name is looked for in another case; identifiers are non-empty strings and numbers; a pattern keeps the strings
# it matches, cut to their `{}` segment.

def walk(value, steps, out):
    if isinstance(value, list) and steps:
        for item in value:
            walk(item, steps, out)
    elif isinstance(value, dict):
        if not steps:
            out.append(value)
            return
        step, rest = steps[0], steps[1:]
        nxt = value.get(step)
        if nxt is None:
            nxt = next((v for k, v in value.items() if k.lower() == step.lower()), None)
        if nxt is not None:
            walk(nxt, rest, out)
    elif value is None:
        pass
    elif not steps:
        out.append(value)


def flatten(value, out):
    if isinstance(value, str) and value:
        out.append(value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out.append(str(value))
    elif isinstance(value, list):
        for v in value:
            flatten(v, out)


def extract(pattern: str, name: str):
    segs = pattern.split("/")
    parts = name.split("/")
    found = None
    for i, seg in enumerate(segs):
        if seg == "**":
            break
        if i >= len(parts):
            return None
        part = parts[i]
        if seg == "*":
            if not part:
                return None
        elif seg == "{}":
            if not part:
                return None
            found = part
        elif seg != part:
            return None
    else:
        if len(parts) != len(segs):
            return None
    ident = found if found is not None else name
    return ident or None


def identifiers(p, sections: dict) -> list:
    steps, pattern = path_of(p)
    root = sections.get(steps[0])
    if root is None:
        return []
    found, ids = [], []
    walk(root, steps[1:], found)
    for v in found:
        flatten(v, ids)
    if pattern:
        ids = [x for x in (extract(pattern, i) for i in ids if isinstance(i, str)) if x]
    return ids


# --------------------------------------------------------------------------------------------- the checks

class Checker:
    def __init__(self, documents: str, verbose: bool):
        self.verbose = verbose
        self.errors: list[str] = []
        self.notes: list[str] = []
        self.discovery = Discovery(documents)
        with open(SCHEMA, encoding="utf-8") as f:
            self.schema = json.load(f)["resource_types"]
        lib = check_catalog.library(cloud="gcp")
        self.files = [f for f in lib["files"] if f["service"] is not None]
        self.keys = lib["keys"]
        self.wrapped = 0
        self.bodies = 0

    def error(self, where: str, what: str):
        self.errors.append(f"{where}: {what}")

    def attrs_of(self, rtype: str) -> set | None:
        s = self.schema.get(rtype)
        return None if s is None else set(s["inputs"]) | set(s["computed"])

    def check_type(self, where: str, rtype: str) -> set | None:
        attrs = self.attrs_of(rtype)
        if attrs is None and rtype not in TYPE_EXCEPTIONS:
            self.error(where, f"type {rtype} is not in the provider schema")
        return attrs

    def run(self) -> int:
        seen = set()
        for f in self.files:
            svc = f["service"]
            name = svc["name"]
            base = os.path.basename(f["file"])
            if base != f"gcp-{name}.toml":
                self.error(base, f"a GCP file is named gcp-<[service] name>.toml (gcp-{name}.toml)")
            if name not in self.discovery.apis:
                self.error(base, f"[service] name {name!r} is not a discovery API")
            want = EVENT_SOURCES.get(name, f"{name}.googleapis.com")
            if svc["event_source"] != want:
                self.error(base, f"event_source {svc['event_source']!r}, expected {want!r}")
            for rtype, attrs in f["keys"].items():
                known = self.check_type(f"{base} [keys]", rtype)
                for a in attrs:
                    if known is not None and a not in known:
                        self.error(f"{base} [keys]", f"{rtype}: {a} is not an attribute")
            for c in f["calls"]:
                key = (c["event_source"], c["name"])
                if key in seen:
                    self.error(base, f"call {c['name']} twice for {c['event_source']}")
                seen.add(key)
                self.check_call(base, name, c)
        self.counts()
        self.identity_rate()
        for n in self.notes:
            print(n)
        for e in self.errors:
            print(f"ERROR {e}")
        print("FAILED" if self.errors else "OK")
        return 1 if self.errors else 0

    def check_call(self, base: str, api: str, c: dict):
        where = f"{base} {c['name']}"
        if api == "compute" and COMPUTE_PREFIX.match(c["name"]):
            self.error(where, "a Compute call is named without its version prefix")
        method_id = c.get("method") or c["name"]
        found = self.discovery.method(api, method_id, grpc_version(c["name"]))
        doc = method = None
        if found is None:
            self.error(where, f"discovery method {method_id} is not in API {api}")
        else:
            doc, method = found
            if method.get("httpMethod") == "GET":
                self.error(where, f"{method_id} is a read (GET)")
        rtypes = []
        for t in c["targets"]:
            attrs = self.check_type(where, t["type"])
            rtypes.append((t["type"], attrs))
            for j in t.get("join") or []:
                if attrs is not None and j not in attrs:
                    self.error(where, f"join {j} is not an attribute of {t['type']}")
            for part in t.get("parts", []):
                if attrs is not None and part["attr"] not in attrs:
                    self.error(where, f"part {part['attr']} is not an attribute of {t['type']}")
            paths = list(t["ids"]) + [p["path"] for p in t.get("parts", [])]
            for piece in t.get("import_id") or []:
                if "path" in piece:
                    paths.append(piece["path"])
            for p in paths:
                self.check_request_path(where, api, doc, method, p)
        if c.get("body") is not None:
            self.check_body(where, doc, method, c["body"])
        first_attrs = rtypes[0][1] if rtypes else None
        for a in c["attrs"]:
            self.check_request_path(where, api, doc, method, a["from"])
            steps, _ = path_of(a["attr"])
            if first_attrs is not None and steps[0] not in first_attrs:
                self.error(where, f"attr {a['attr_name']} is not an attribute of {rtypes[0][0]}")
        if re.search(r"SetIamPolicy|SetIAMPolicy|setIamPermissions", c["name"], re.I) and c["severity"] != "critical":
            self.error(where, "an IAM policy change is critical")

    def check_body(self, where, doc, method, p):
        """`auto_attrs = "request.<member>"`: the member is the method's request body as gRPC transcoding names
        it (the body schema's name ends with it: `sink` for LogSink, `cryptoKey` for CryptoKey; Cloud SQL
        calls it `body`), or a property of the body that holds the resource (GKE's `update`)."""
        steps, _ = path_of(p)
        if method is None:
            return
        if steps[0] != "request" or len(steps) != 2:
            self.error(where, f"auto_attrs body {text(p)}: one member of the request")
            return
        member = steps[1]
        ref = (method.get("request") or {}).get("$ref") or ""
        body = schema_props(doc, ref)
        camel = lower_camel(member)
        if member == "body" or camel in body or ref.lower().endswith(camel.lower()):
            self.bodies += 1
            return
        self.error(where, f"auto_attrs body {text(p)}: {member} is neither the request body {ref} nor one of "
                          f"its properties")

    def check_request_path(self, where, api, doc, method, p):
        steps, _ = path_of(p)
        if steps[0] != "request" or len(steps) < 2 or method is None:
            return
        member = steps[1]
        if member in ALWAYS:
            return
        params = set(method.get("parameters", {}))
        body_ref = (method.get("request") or {}).get("$ref")
        body = schema_props(doc, body_ref)
        camel = lower_camel(member)
        if member in params or camel in params or member in body or camel in body:
            return
        # gRPC transcoding: the body is one field of the request message (`function`, `cluster`, Cloud SQL's
        # `body`), followed by a member of the body.
        if len(steps) > 2 and body and (steps[2] in body or lower_camel(steps[2]) in body):
            self.wrapped += 1
            return
        if (api, member) in REQUEST_EXCEPTIONS:
            return
        self.error(where, f"request path {text(p)}: {member} is neither a parameter of {method['id']} nor in its "
                          f"request body {body_ref}")

    def counts(self):
        calls = sum(len(f["calls"]) for f in self.files)
        services = len({f["service"]["name"] for f in self.files})
        print(f"GCP catalog: {calls} methods across {services} services "
              f"({self.wrapped} request paths read through the body's field, {self.bodies} calls map the "
              f"members of a body)")
        if calls < MIN_METHODS:
            self.error("counts", f"{calls} methods, fewer than {MIN_METHODS}")
        if services < MIN_SERVICES:
            self.error("counts", f"{services} services, fewer than {MIN_SERVICES}")

    def identity_rate(self):
        by_name = {}
        for f in self.files:
            for c in f["calls"]:
                by_name.setdefault((c["event_source"], c["name"]), []).append(c)
        covered = hit = 0
        misses = []
        for path in sorted(glob.glob(os.path.join(ENTRIES, "*.jsonl"))):
            with open(path, encoding="utf-8") as fh:
                for line_no, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    entry = json.loads(line)
                    if not str(entry.get("logName", "")).endswith("cloudaudit.googleapis.com%2Factivity"):
                        continue
                    proto = entry.get("protoPayload") or {}
                    if (proto.get("status") or {}).get("code"):
                        continue
                    op = entry.get("operation") or {}
                    if op.get("last") and not op.get("first"):
                        continue
                    source = proto.get("serviceName", "")
                    name = str(proto.get("methodName", ""))
                    if source == "compute.googleapis.com":
                        name = COMPUTE_PREFIX.sub("", name)
                    calls = by_name.get((source, name))
                    if not calls:
                        continue
                    covered += 1
                    sections = {"request": proto.get("request"), "response": proto.get("response"),
                                "metadata": proto.get("metadata"), "resourceName": proto.get("resourceName")}
                    found = any(identifiers(p, sections) for c in calls for t in c["targets"] for p in t["ids"])
                    if found:
                        hit += 1
                    else:
                        misses.append(f"{os.path.basename(path)}:{line_no} {name} {proto.get('resourceName')!r}")
        rate = hit / covered if covered else 0.0
        print(f"identity: {hit} of {covered} covered Admin Activity entries ({rate:.1%}); target {MIN_IDENTITY_RATE:.0%}")
        if self.verbose or rate < MIN_IDENTITY_RATE:
            for m in misses:
                print(f"  no identifier: {m}")
        if covered == 0:
            self.error("identity", "no real entry is covered by the catalog")
        elif rate < MIN_IDENTITY_RATE:
            self.error("identity", f"{rate:.1%} under {MIN_IDENTITY_RATE:.0%}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--documents", help="a folder of discovery documents (default: google-api-python-client's)")
    args = ap.parse_args(argv)
    return Checker(documents_dir(args.documents), args.verbose).run()


if __name__ == "__main__":
    sys.exit(main())
