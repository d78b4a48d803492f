//! The `tfdrift.*` fields, once: each one's name, type, description and how its value is read from a
//! [`Verdict`]. The plugin's extract methods, `tfdrift-replay --json` and README's field table all read this
//! table, so what a field means (which value, and when it has none) is written here only.

use crate::drift::Verdict;
use crate::sources::Snapshot;
use serde::Serialize;
use std::time::SystemTime;

/// One field: what Falco shows of it, and how its value is read.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    /// The short name Falco's tools show.
    pub display: &'static str,
    pub description: &'static str,
    pub read: Read,
}

/// How a field's value is read from a verdict; the variant is the field's type. `None` (or an empty list) is
/// no value.
#[derive(Debug, Clone, Copy)]
pub enum Read {
    Bool(fn(&Verdict) -> Option<bool>),
    U64(fn(&Verdict) -> Option<u64>),
    Str(fn(&Verdict) -> Option<&str>),
    List(fn(&Verdict) -> Vec<&str>),
    /// A string per key (`tfdrift.attr[NAME]`), read from the index the verdict was made against.
    Keyed(fn(&Verdict, &Snapshot, &str) -> Option<String>),
}

/// A field's value, for output that is not Falco's (`tfdrift-replay --json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Value<'a> {
    Bool(bool),
    U64(u64),
    Str(&'a str),
    List(Vec<&'a str>),
}

impl Field {
    /// The type as Falco names it.
    pub fn type_name(&self) -> &'static str {
        match self.read {
            Read::Bool(_) => "bool",
            Read::U64(_) => "uint64",
            Read::Str(_) | Read::List(_) | Read::Keyed(_) => "string",
        }
    }

    pub fn is_list(&self) -> bool {
        matches!(self.read, Read::List(_))
    }

    /// Whether the field takes a key (`tfdrift.attr[NAME]`), which it requires.
    pub fn is_keyed(&self) -> bool {
        matches!(self.read, Read::Keyed(_))
    }

    /// The value of a `bool` field (none for a field of another type).
    pub fn bool(&self, verdict: &Verdict) -> Option<bool> {
        match self.read {
            Read::Bool(read) => read(verdict),
            _ => None,
        }
    }

    /// The value of a `uint64` field.
    pub fn u64(&self, verdict: &Verdict) -> Option<u64> {
        match self.read {
            Read::U64(read) => read(verdict),
            _ => None,
        }
    }

    /// The value of a string field.
    pub fn str<'v>(&self, verdict: &'v Verdict) -> Option<&'v str> {
        match self.read {
            Read::Str(read) => read(verdict),
            _ => None,
        }
    }

    /// The values of a list field.
    pub fn list<'v>(&self, verdict: &'v Verdict) -> Vec<&'v str> {
        match self.read {
            Read::List(read) => read(verdict),
            _ => Vec::new(),
        }
    }

    /// The value of a keyed field for `key`.
    pub fn keyed(&self, verdict: &Verdict, snapshot: &Snapshot, key: &str) -> Option<String> {
        match self.read {
            Read::Keyed(read) => read(verdict, snapshot, key),
            _ => None,
        }
    }

    /// The value of a field that takes no key, whatever its type.
    pub fn value<'v>(&self, verdict: &'v Verdict) -> Option<Value<'v>> {
        match self.read {
            Read::Bool(read) => read(verdict).map(Value::Bool),
            Read::U64(read) => read(verdict).map(Value::U64),
            Read::Str(read) => read(verdict).map(Value::Str),
            Read::List(read) => Some(Value::List(read(verdict))),
            Read::Keyed(_) => None,
        }
    }
}

pub const MANAGED: Field = Field {
    name: "tfdrift.managed",
    display: "Managed by Terraform",
    description: "True if the resource the call touched is held by a loaded Terraform state, false if the call names a resource no state holds. No value for calls outside the catalog, read-only calls and failed calls.",
    read: Read::Bool(|v| v.managed),
};

pub const RESOURCE_ADDRESS: Field = Field {
    name: "tfdrift.resource_address",
    display: "Resource address",
    description: "Terraform address of the managed resource the call touched, the call's own resource type first (module.net.aws_security_group.web).",
    read: Read::Str(|v| v.primary().map(|m| m.address.as_str())),
};

pub const RESOURCE_ADDRESSES: Field = Field {
    name: "tfdrift.resource_addresses",
    display: "Resource addresses",
    description: "Terraform addresses of every managed resource the call touched (an S3 bucket call touches the bucket and its sub-resources).",
    read: Read::List(|v| v.matches.iter().map(|m| m.address.as_str()).collect()),
};

pub const RESOURCE_TYPE: Field = Field {
    name: "tfdrift.resource_type",
    display: "Resource type",
    description: "Terraform resource type of the resource the call touched (aws_security_group), managed or not.",
    read: Read::Str(|v| {
        v.primary()
            .map(|m| m.resource_type.as_str())
            .or(v.unmatched_type.as_deref())
    }),
};

pub const RESOURCE_ID: Field = Field {
    name: "tfdrift.resource_id",
    display: "Resource id",
    description: "The touched resource's id attribute in the state, or the identifier the call names when no state holds it.",
    read: Read::Str(|v| {
        v.primary()
            .map(|m| m.resource_id.as_str())
            .or(v.unmatched_id.as_deref())
    }),
};

pub const MODULE: Field = Field {
    name: "tfdrift.module",
    display: "Module",
    description: "Module path of the managed resource (module.net); empty for the root module.",
    read: Read::Str(|v| v.primary().map(|m| m.module.as_str())),
};

pub const STATE: Field = Field {
    name: "tfdrift.state",
    display: "State",
    description: "Name (from the configuration) of the state that holds the managed resource.",
    read: Read::Str(|v| v.primary().map(|m| m.state.as_str())),
};

pub const CHANGED_ATTRS: Field = Field {
    name: "tfdrift.changed_attrs",
    display: "Changed attributes",
    description: "Top-level Terraform attributes the call sets to a value that differs from the state's (versioning_configuration); tfdrift.diff has the nested path.",
    read: Read::List(|v| v.changed_attrs.iter().map(String::as_str).collect()),
};

pub const TOUCHED_ATTRS: Field = Field {
    name: "tfdrift.touched_attrs",
    display: "Touched attributes",
    description: "Top-level Terraform attributes the call sets, whether or not the value differs.",
    read: Read::List(|v| v.touched_attrs.iter().map(String::as_str).collect()),
};

pub const SUMMARY: Field = Field {
    name: "tfdrift.summary",
    display: "Summary",
    description: "One line for people, at most 400 bytes, of what changed: instance_type: t3.micro -> t3.large; ingress: +tcp 22 cidr 0.0.0.0/0 (lists: + added, - removed). Whole in alerts that Falcosidekick cuts (it shortens string fields over 512 bytes when an alert is over 4 KiB, which breaks tfdrift.diff); secrets redacted.",
    read: Read::Str(|v| v.diff.summary()),
};

pub const DIFF: Field = Field {
    name: "tfdrift.diff",
    display: "Diff",
    description: "JSON object: for each changed attribute, by its path (versioning_configuration.status), the state's value and the requested one ({\"instance_type\":{\"state\":\"t3.micro\",\"requested\":\"t3.large\"}}); sensitive values are redacted.",
    read: Read::Str(|v| v.diff.text()),
};

pub const ATTR: Field = Field {
    name: "tfdrift.attr",
    display: "State attribute",
    description: "The state's value of one attribute of the managed resource (tfdrift.attr[instance_type]); JSON for non-strings, sensitive values redacted.",
    read: Read::Keyed(|v, snapshot, name| v.primary_attribute(snapshot, name)),
};

pub const CHANGE: Field = Field {
    name: "tfdrift.change",
    display: "Change",
    description: "What the call does to the resource: create, modify, delete, attach, detach, tag or untag.",
    read: Read::Str(|v| v.change.map(|c| c.as_str())),
};

pub const DRIFT: Field = Field {
    name: "tfdrift.drift",
    display: "Drift",
    description: "True for a successful change to a managed resource made outside Terraform (not by Terraform, not by an AWS service on someone's behalf).",
    read: Read::Bool(|v| v.parsed.then_some(v.drift)),
};

pub const UNMANAGED: Field = Field {
    name: "tfdrift.unmanaged",
    display: "Unmanaged",
    description: "True for a successful create or change, outside Terraform, of a resource of a type some loaded state manages, that no state holds.",
    read: Read::Bool(|v| v.parsed.then_some(v.unmanaged)),
};

pub const BY_TERRAFORM: Field = Field {
    name: "tfdrift.by_terraform",
    display: "By Terraform",
    description: "True if Terraform made the call (a configured Terraform principal, or Terraform's user agent when trusted).",
    read: Read::Bool(|v| v.parsed.then_some(v.by_terraform)),
};

pub const ACTOR: Field = Field {
    name: "tfdrift.actor",
    display: "Actor",
    description: "Who is behind the call: the source identity, IAM user name, role session name (an SSO user's name), or invoking service.",
    read: Read::Str(|v| v.actor.as_deref()),
};

pub const ACTOR_KIND: Field = Field {
    name: "tfdrift.actor_kind",
    display: "Actor kind",
    description: "How the call was made: terraform, console, aws_service (an AWS service on its own or for someone), provisioning_service (CloudFormation, Service Catalog and the like acting for a principal), sdk_or_cli or unknown.",
    read: Read::Str(|v| v.actor_kind.map(|k| k.as_str())),
};

pub const SEVERITY: Field = Field {
    name: "tfdrift.severity",
    display: "Severity",
    description: "How much a change by this call matters, from the catalog: critical, high, medium or low.",
    read: Read::Str(|v| v.severity.map(|s| s.as_str())),
};

pub const COVERED: Field = Field {
    name: "tfdrift.covered",
    display: "Covered",
    description: "True if the call is in tfdrift's catalog of mutating calls.",
    read: Read::Bool(|v| v.parsed.then_some(v.covered)),
};

pub const IN_MAINTENANCE: Field = Field {
    name: "tfdrift.in_maintenance",
    display: "In maintenance",
    description: "True if the call was made (by the record's eventTime) inside a configured maintenance window; false outside one or when none is configured.",
    read: Read::Bool(|v| v.in_maintenance),
};

pub const MAINTENANCE_WINDOW: Field = Field {
    name: "tfdrift.maintenance_window",
    display: "Maintenance window",
    description: "Name of the maintenance window the call was made in.",
    read: Read::Str(|v| v.maintenance_window.as_deref()),
};

pub const MATCH: Field = Field {
    name: "tfdrift.match",
    display: "Match",
    description: "How the managed resource was found: catalog (the call's catalog entry) or fallback (a call outside the catalog whose record names, by ARN or known id prefix, a resource a state holds).",
    read: Read::Str(|v| v.match_kind.map(|k| k.as_str())),
};

pub const STATE_SERIAL: Field = Field {
    name: "tfdrift.state_serial",
    display: "State serial",
    description: "Serial of the state version that holds the managed resource.",
    read: Read::U64(|v| v.primary().map(|m| m.serial)),
};

pub const STATE_AGE: Field = Field {
    name: "tfdrift.state_age",
    display: "State age",
    description: "Seconds since the state that holds the managed resource was loaded.",
    read: Read::U64(|v| {
        let loaded = v.primary()?.loaded_at?;
        Some(
            SystemTime::now()
                .duration_since(loaded)
                .unwrap_or_default()
                .as_secs(),
        )
    }),
};

/// Every field, in the order Falco lists them.
pub const ALL: &[Field] = &[
    MANAGED,
    RESOURCE_ADDRESS,
    RESOURCE_ADDRESSES,
    RESOURCE_TYPE,
    RESOURCE_ID,
    MODULE,
    STATE,
    CHANGED_ATTRS,
    TOUCHED_ATTRS,
    SUMMARY,
    DIFF,
    ATTR,
    CHANGE,
    DRIFT,
    UNMANAGED,
    BY_TERRAFORM,
    ACTOR,
    ACTOR_KIND,
    SEVERITY,
    COVERED,
    IN_MAINTENANCE,
    MAINTENANCE_WINDOW,
    MATCH,
    STATE_SERIAL,
    STATE_AGE,
];
