//! The `tfdrift.*` fields, once: each one's name, type, description and how its value is read from a
//! [`Verdict`]. The plugin's extract methods, `tfdrift-replay --json` and README's field table all read this
//! table, so what a field means (which value, and when it has none) is written here only, and so is how far
//! the verdict must be taken to answer it ([`Field::needs`]).

use crate::drift::{Stage, Verdict};
use crate::state::Snapshot;
use serde::Serialize;
use std::time::SystemTime;

/// One field: what Falco shows of it, and how its value is read.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The name rules use (`tfdrift.managed`).
    pub name: &'static str,
    /// The short name Falco's tools show.
    pub display: &'static str,
    /// What the field means, for Falco's field list and the README.
    pub description: &'static str,
    /// How its value is read, and so its type.
    pub read: Read,
    /// How far the verdict must be taken for its value: [`Stage::Caller`] when a stage-one verdict (a call
    /// whose caller cannot make drift, stopped before the index) already holds the value the full verdict
    /// would; [`Stage::Full`] when it reads anything the matches, the comparison or the catalog entry the
    /// matches choose decide (`change` and `severity` are of the entry whose identifiers the call names and
    /// of the matched type).
    pub needs: Stage,
}

/// How a field's value is read from a verdict; the variant is the field's type. `None` (or an empty list) is
/// no value.
#[derive(Debug, Clone, Copy)]
pub enum Read {
    /// A boolean.
    Bool(fn(&Verdict) -> Option<bool>),
    /// An unsigned number.
    U64(fn(&Verdict) -> Option<u64>),
    /// A string.
    Str(fn(&Verdict) -> Option<&str>),
    /// A list of strings.
    /// Each value in turn, so that the plugin builds its C strings without a list in between.
    List(for<'v> fn(&'v Verdict, &mut dyn FnMut(&'v str))),
    /// A string per key (`tfdrift.attr[NAME]`), read from the index the verdict was made against.
    Keyed(fn(&Verdict, &Snapshot, &str) -> Option<String>),
}

/// A field's value, for output that is not Falco's (`tfdrift-replay --json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Value<'a> {
    /// A boolean.
    Bool(bool),
    /// An unsigned number.
    U64(u64),
    /// A string.
    Str(&'a str),
    /// A list of strings.
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

    /// Whether the field is a list.
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

    /// Calls `each` with every value of a list field.
    pub fn each<'v>(&self, verdict: &'v Verdict, each: &mut dyn FnMut(&'v str)) {
        if let Read::List(read) = self.read {
            read(verdict, each);
        }
    }

    /// The values of a list field.
    pub fn list<'v>(&self, verdict: &'v Verdict) -> Vec<&'v str> {
        let mut values = Vec::new();
        self.each(verdict, &mut |value| values.push(value));
        values
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
            Read::List(_) => Some(Value::List(self.list(verdict))),
            Read::Keyed(_) => None,
        }
    }
}

/// Declares each field as a constant (the plugin's extract methods name theirs) and [`ALL`], in the order
/// Falco lists them.
macro_rules! fields {
    ($($id:ident = $name:literal, $display:literal, $needs:ident, $read:expr, $description:literal;)*) => {
        // Each constant's doc is its description, as a text block (`tfdrift.attr[NAME]` is no link).
        $(#[doc = concat!("```text\n", $description, "\n```")]
        pub const $id: Field = Field {
            name: $name,
            display: $display,
            description: $description,
            read: $read,
            needs: Stage::$needs,
        };)*

        /// Every field, in the order Falco lists them.
        pub const ALL: &[Field] = &[$($id),*];
    };
}

fields! {
    MANAGED = "tfdrift.managed", "Managed by Terraform", Full, Read::Bool(|v| v.managed),
        "True if the resource the call touched is held by a loaded Terraform state, false if the call names a resource no state holds. No value for calls outside the catalog, read-only calls and failed calls.";
    RESOURCE_ADDRESS = "tfdrift.resource_address", "Resource address", Full, Read::Str(|v| v.primary().map(|m| m.address.as_str())),
        "Terraform address of the managed resource the call touched, the call's own resource type first (module.net.aws_security_group.web).";
    RESOURCE_ADDRESSES = "tfdrift.resource_addresses", "Resource addresses", Full, Read::List(|v, out| v.matches.iter().for_each(|m| out(&m.address))),
        "Terraform addresses of every managed resource the call touched (an S3 bucket call touches the bucket and its sub-resources).";
    RESOURCE_TYPE = "tfdrift.resource_type", "Resource type", Full, Read::Str(|v| v.primary().map(|m| m.resource_type.as_str()).or(v.unmatched_type.as_deref())),
        "Terraform resource type of the resource the call touched (aws_security_group), managed or not.";
    RESOURCE_ID = "tfdrift.resource_id", "Resource id", Full, Read::Str(|v| v.primary().map(|m| m.resource_id.as_str()).or(v.unmatched_id.as_deref())),
        "The touched resource's id attribute in the state, or the identifier the call names when no state holds it.";
    IMPORT_ID = "tfdrift.import_id", "Import id", Full, Read::Str(crate::drift::import_id::of),
        "For a resource no state holds that the call created or changed: the id Terraform's import takes for it, in the form the provider's documentation gives (alice for aws_iam_user, role:policy for aws_iam_role_policy, projects/p/global/networks/n for google_compute_network). No value when a state holds the resource, for a delete or a detach (nothing is left to import), or when the call does not give every part of the id.";
    MODULE = "tfdrift.module", "Module", Full, Read::Str(|v| v.primary().map(|m| m.module.as_str())),
        "Module path of the managed resource (module.net); empty for the root module.";
    STATE = "tfdrift.state", "State", Full, Read::Str(|v| v.primary().map(|m| m.state.as_str())),
        "Name (from the configuration) of the state that holds the managed resource.";
    CHANGED_ATTRS = "tfdrift.changed_attrs", "Changed attributes", Full, Read::List(|v, out| v.changed_attrs.iter().for_each(|a| out(a))),
        "Top-level Terraform attributes the call sets to a value that differs from the state's (versioning_configuration); tfdrift.diff has the nested path.";
    TOUCHED_ATTRS = "tfdrift.touched_attrs", "Touched attributes", Full, Read::List(|v, out| v.touched_attrs.iter().for_each(|a| out(a))),
        "Top-level Terraform attributes the call sets, whether or not the value differs.";
    SUMMARY = "tfdrift.summary", "Summary", Full, Read::Str(|v| v.diff.summary()),
        "One line for people, at most 400 bytes, of what changed: instance_type: t3.micro -> t3.large; ingress: +tcp 22 cidr 0.0.0.0/0 (lists: + added, - removed). Whole in alerts that Falcosidekick cuts (it shortens string fields over 512 bytes when an alert is over 4 KiB, which breaks tfdrift.diff); secrets redacted.";
    DIFF = "tfdrift.diff", "Diff", Full, Read::Str(|v| v.diff.text()),
        "JSON object: for each changed attribute, by its path (versioning_configuration.status), the state's value and the requested one ({\"instance_type\":{\"state\":\"t3.micro\",\"requested\":\"t3.large\"}}); sensitive values are redacted.";
    ATTR = "tfdrift.attr", "State attribute", Full, Read::Keyed(|v, snapshot, name| v.primary_attribute(snapshot, name)),
        "The state's value of one attribute of the managed resource (tfdrift.attr[instance_type]); JSON for non-strings, sensitive values redacted.";
    CHANGE = "tfdrift.change", "Change", Full, Read::Str(|v| v.change.map(|c| c.as_str())),
        "What the call does to the resource: create, modify, delete, attach, detach, tag or untag.";
    DRIFT = "tfdrift.drift", "Drift", Caller, Read::Bool(|v| v.parsed.then_some(v.drift)),
        "True for a successful change to a managed resource made outside Terraform (not by Terraform, not by an AWS service on someone's behalf).";
    UNMANAGED = "tfdrift.unmanaged", "Unmanaged", Caller, Read::Bool(|v| v.parsed.then_some(v.unmanaged)),
        "True for a successful create or change, outside Terraform, of a resource of a type some loaded state manages, that no state holds.";
    BY_TERRAFORM = "tfdrift.by_terraform", "By Terraform", Caller, Read::Bool(|v| v.parsed.then_some(v.by_terraform)),
        "True if Terraform made the call (a configured Terraform principal, or Terraform's user agent when trusted).";
    ACTOR = "tfdrift.actor", "Actor", Caller, Read::Str(|v| v.actor.as_deref()),
        "Who is behind the call: the source identity, IAM user name, role session name (an SSO user's name), or invoking service; on GCP, the principal's email, or the first person of the chain that impersonated a service account.";
    ACTOR_KIND = "tfdrift.actor_kind", "Actor kind", Caller, Read::Str(|v| v.actor_kind.map(|k| k.as_str())),
        "How the call was made: terraform, console, aws_service (an AWS service on its own or for someone), gcp_service (a Google service agent or Google itself), provisioning_service (CloudFormation, Service Catalog and the like acting for a principal), sdk_or_cli or unknown.";
    SEVERITY = "tfdrift.severity", "Severity", Full, Read::Str(|v| v.severity.map(|s| s.as_str())),
        "How much a change by this call matters, from the catalog: critical, high, medium or low.";
    COVERED = "tfdrift.covered", "Covered", Caller, Read::Bool(|v| v.parsed.then_some(v.covered)),
        "True if the call is in tfdrift's catalog of mutating calls.";
    IN_MAINTENANCE = "tfdrift.in_maintenance", "In maintenance", Caller, Read::Bool(|v| v.in_maintenance),
        "True if the call was made (by the record's eventTime) inside a configured maintenance window; false outside one or when none is configured.";
    MAINTENANCE_WINDOW = "tfdrift.maintenance_window", "Maintenance window", Caller, Read::Str(|v| v.maintenance_window.as_deref()),
        "Name of the maintenance window the call was made in.";
    MATCH = "tfdrift.match", "Match", Full, Read::Str(|v| v.match_kind.map(|k| k.as_str())),
        "How the managed resource was found: catalog (the call's catalog entry) or fallback (a call outside the catalog whose record names, by ARN or known id prefix, a resource a state holds).";
    STATE_SERIAL = "tfdrift.state_serial", "State serial", Full, Read::U64(|v| v.primary().map(|m| m.serial)),
        "Serial of the state version that holds the managed resource.";
    STATE_AGE = "tfdrift.state_age", "State age", Full, Read::U64(|v| {
        let loaded = v.primary()?.loaded_at?;
        Some(SystemTime::now().duration_since(loaded).unwrap_or_default().as_secs())
    }),
        "Seconds since the state that holds the managed resource was loaded.";
}
