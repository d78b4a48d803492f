#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/ from real inputs:

- gcpaudit_entry: every GCP audit log entry of tests/data/gcp-audit, one entry's verbatim JSON per file;
- record and record_view: every CloudTrail record of tests/data/cloudtrail (stratus-red-team, panther-analysis) and of
  examples/cloudtrail, one record's verbatim JSON per file;
- state: every Terraform state of tests/data/tfstate (driftctl, inframap, tfstate-lookup) and the example;
- config: fuzz/seeds/config/*.json (configurations shaped like the README's);
- path: each identifier path of the catalog (catalog/*.toml), with the section of a real record of the same
  call (or of any record) it is evaluated against; GCP paths (`request`, `response`, `metadata`,
  `resourceName`, with their `|pattern`) against the sections of the GCP audit entries of tests/data/gcp-audit.

The data's origin and licences are in tests/data/README.md and examples/README.md. Run from anywhere;
existing corpus files are kept (the fuzzer's own finds accumulate there).
"""
import hashlib
import json
import pathlib
import re
import shutil
import sys

FUZZ = pathlib.Path(__file__).resolve().parent
ROOT = FUZZ.parent
DATA = ROOT / "tests" / "data"


def put(target, data):
    folder = FUZZ / "corpus" / target
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)


def record_texts(path):
    """Each record of a CloudTrail file (JSON array, {"Records": [...]}, or JSON lines), re-serialised."""
    text = path.read_text()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(doc, dict):
        doc = doc.get("Records", [doc])
    return doc


def main():
    records = []
    for folder in [DATA / "cloudtrail", ROOT / "examples" / "cloudtrail"]:
        for path in sorted(folder.rglob("*.json*")):
            records.extend(record_texts(path))
    for record in records:
        text = json.dumps(record, separators=(",", ":"))
        put("record", text)
        put("record_view", text)
    for path in sorted((DATA / "gcp-audit").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                put("gcpaudit_entry", line)
    states = sorted((DATA / "tfstate").rglob("*"))
    states.append(ROOT / "examples" / "terraform.tfstate")
    for path in states:
        if path.is_file() and path.stat().st_size <= 1 << 20:
            put("state", path.read_bytes())
    for path in sorted((FUZZ / "seeds" / "config").glob("*")):
        put("config", path.read_bytes())
    by_name = {}
    for record in records:
        if isinstance(record, dict):
            by_name.setdefault(str(record.get("eventName")), []).append(record)
    any_records = [r for r in records if isinstance(r, dict)]
    paths = set()
    for toml in sorted((ROOT / "catalog").glob("*.toml")):
        for match in re.finditer(r'"?((?:requestParameters|responseElements|resources|additionalEventData)(?:\.[A-Za-z0-9_]+(?:\[\])?)*)"?', toml.read_text()):
            paths.add(match.group(1))
    for i, path in enumerate(sorted(paths)):
        root = path.split(".")[0]
        candidates = [r for r in any_records if r.get(root) is not None] or any_records or [{}]
        record = candidates[i % len(candidates)]
        put("path", path + "\n" + json.dumps(record.get(root)))
    entries = []
    for path in sorted((DATA / "gcp-audit").glob("*.jsonl")):
        entries.extend(json.loads(line) for line in path.read_text().splitlines() if line.strip())
    payloads = [e.get("protoPayload") for e in entries if isinstance(e.get("protoPayload"), dict)]
    gcp_paths = set()
    for toml in sorted((ROOT / "catalog").glob("gcp-*.toml")):
        for match in re.finditer(r'"((?:request|response|metadata|resourceName)(?:\.[A-Za-z0-9_@]+(?:\[\])?)*(?:\|[^"]*)?)"', toml.read_text()):
            gcp_paths.add(match.group(1))
    for i, path in enumerate(sorted(gcp_paths)):
        root = path.split("|")[0].split(".")[0]
        candidates = [p for p in payloads if p.get(root) is not None] or payloads or [{}]
        put("path", path + "\n" + json.dumps(candidates[i % len(candidates)].get(root)))
    counts = {t: len(list((FUZZ / "corpus" / t).iterdir())) for t in ["record", "record_view", "state", "config", "path", "gcpaudit_entry"]
              if (FUZZ / "corpus" / t).is_dir()}
    print("seed corpora:", ", ".join(f"{t} {n}" for t, n in counts.items()))


if __name__ == "__main__":
    main()
