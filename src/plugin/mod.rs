//! The Falco adapter: the plugin type, its configuration, its field table and the per-event cache. This is
//! the only module that knows the SDK; everything it answers comes from [`crate::drift::Verdict`].
//!
//! Falco asks for one field per call. The first field asked of an event parses the record and computes the
//! verdict; the others of the same event read the cached verdict. No call here blocks, locks or does I/O:
//! the index comes from an `ArcSwap` snapshot that the reload thread replaces.
//!
//! No panic may cross into Falco: every field runs under `catch_unwind`, and a panic becomes an error for
//! that field, logged once per field with its context.

pub mod config;
pub mod event;

use crate::catalog::Catalog;
use crate::drift::{Engine, Verdict};
use crate::sources::local::LocalFile;
use crate::sources::{ReloadOptions, Reloader, Snapshot, StateSource};
use crate::state::Limits;
use anyhow::Context;
use config::{CheckedConfig, Config};
use event::CloudTrailRecord;
use falco_plugin::base::{Json, Plugin};
use falco_plugin::event::PluginEvent;
use falco_plugin::event::events::Event;
use falco_plugin::extract::{ExtractFieldInfo, ExtractPlugin, ExtractRequest, field};
use falco_plugin::tables::TablesInput;
use std::collections::HashSet;
use std::ffi::{CStr, CString};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The tfdrift plugin.
pub struct TfDrift {
    engine: Engine,
    reloader: Reloader,
    cache: EventCache,
    /// Fields that have panicked, so each is logged once.
    panicked: HashSet<&'static str>,
}

/// The verdict of the last event, and the snapshot it was computed against (so `tfdrift.attr[...]` reads the
/// same index as the other fields of the event).
struct EventCache {
    key: Option<EventKey>,
    verdict: Verdict,
    snapshot: Arc<Snapshot>,
}

/// Identifies an event: its number, and where its bytes are (a host that reuses numbers still gets a fresh
/// verdict for new bytes).
#[derive(PartialEq, Eq, Clone, Copy)]
struct EventKey {
    number: usize,
    data: usize,
    len: usize,
}

impl TfDrift {
    /// Builds the plugin from a checked configuration: the catalog, the sources, the first load.
    pub fn from_config(config: Config) -> anyhow::Result<Self> {
        let catalog = Arc::new(Catalog::with_extensions(&config.catalog_files).context("catalog")?);
        let sources: Vec<Box<dyn StateSource>> = config
            .states
            .iter()
            .map(|s| {
                Box::new(LocalFile::new(s.name.clone(), s.path.clone())) as Box<dyn StateSource>
            })
            .collect();
        let limits = Limits {
            max_bytes: usize::try_from(config.max_state_bytes).unwrap_or(usize::MAX),
            ..Limits::default()
        };
        let reloader = Reloader::start(
            sources,
            Arc::clone(&catalog),
            ReloadOptions {
                interval: Duration::from_secs(config.refresh_interval),
                require_state_on_start: config.require_state_on_start,
                limits,
            },
        )?;
        let policy = config.policy()?;
        Ok(Self {
            engine: Engine::new(catalog, policy),
            cache: EventCache {
                key: None,
                verdict: Verdict::default(),
                snapshot: reloader.snapshot(),
            },
            reloader,
            panicked: HashSet::new(),
        })
    }

    /// Runs `answer` on the event's verdict, computing it first if this is a new event. Any panic becomes
    /// an error for this field.
    fn with_verdict<R>(
        &mut self,
        req: &ExtractRequest<Self>,
        name: &'static str,
        answer: impl FnOnce(&Verdict, &Snapshot) -> R,
    ) -> anyhow::Result<R> {
        let event = req.event.event()?;
        let bytes = event.params.event_data.0;
        let key = EventKey {
            number: req.event.event_number(),
            data: bytes.as_ptr() as usize,
            len: bytes.len(),
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            if self.cache.key != Some(key) {
                let snapshot = self.reloader.snapshot();
                self.cache.verdict = self.engine.evaluate(bytes, &snapshot);
                self.cache.snapshot = snapshot;
                self.cache.key = Some(key);
            }
            answer(&self.cache.verdict, &self.cache.snapshot)
        }));
        outcome.map_err(|panic| {
            self.cache.key = None;
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            if self.panicked.insert(name) {
                tracing::error!(
                    field = name,
                    event = key.number,
                    "internal error extracting {name}: {message}"
                );
            }
            anyhow::anyhow!("tfdrift internal error extracting {name}: {message}")
        })
    }
}

fn text(value: impl Into<Vec<u8>>) -> Option<CString> {
    // Values come from records and states; an interior NUL cannot be represented and reads as no value.
    CString::new(value).ok()
}

fn texts<'a>(values: impl IntoIterator<Item = &'a String>) -> Vec<CString> {
    values
        .into_iter()
        .filter_map(|v| text(v.as_str()))
        .collect()
}

impl Plugin for TfDrift {
    const NAME: &'static CStr = c"tfdrift";
    const PLUGIN_VERSION: &'static CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(version) => version,
            Err(_) => c"0.0.0",
        };
    const DESCRIPTION: &'static CStr =
        c"Terraform drift for CloudTrail events: is the resource a call touched managed by Terraform, at which address, which attributes changed, and who changed them";
    const CONTACT: &'static CStr = c"https://github.com/tfdrift/tfdrift";
    type ConfigType = Json<CheckedConfig>;

    fn new(
        _input: Option<&TablesInput>,
        Json(CheckedConfig(config)): Self::ConfigType,
    ) -> anyhow::Result<Self> {
        Self::from_config(config)
    }
}

impl TfDrift {
    fn extract_managed(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<bool>> {
        self.with_verdict(&req, "tfdrift.managed", |v, _| v.managed)
    }

    fn extract_resource_address(
        &mut self,
        req: ExtractRequest<Self>,
    ) -> anyhow::Result<Option<CString>> {
        self.with_verdict(&req, "tfdrift.resource_address", |v, _| {
            v.primary().and_then(|m| text(m.address.as_str()))
        })
    }

    fn extract_resource_addresses(
        &mut self,
        req: ExtractRequest<Self>,
    ) -> anyhow::Result<Vec<CString>> {
        self.with_verdict(&req, "tfdrift.resource_addresses", |v, _| {
            texts(v.matches.iter().map(|m| &m.address))
        })
    }

    fn extract_resource_type(
        &mut self,
        req: ExtractRequest<Self>,
    ) -> anyhow::Result<Option<CString>> {
        self.with_verdict(&req, "tfdrift.resource_type", |v, _| {
            v.primary()
                .map(|m| &m.resource_type)
                .or(v.unmatched_type.as_ref())
                .and_then(|t| text(t.as_str()))
        })
    }

    fn extract_resource_id(
        &mut self,
        req: ExtractRequest<Self>,
    ) -> anyhow::Result<Option<CString>> {
        self.with_verdict(&req, "tfdrift.resource_id", |v, _| {
            v.primary()
                .map(|m| &m.resource_id)
                .or(v.unmatched_id.as_ref())
                .and_then(|t| text(t.as_str()))
        })
    }

    fn extract_module(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.with_verdict(&req, "tfdrift.module", |v, _| {
            v.primary().and_then(|m| text(m.module.as_str()))
        })
    }

    fn extract_state(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.with_verdict(&req, "tfdrift.state", |v, _| {
            v.primary().and_then(|m| text(m.state.as_str()))
        })
    }

    fn extract_state_serial(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<u64>> {
        self.with_verdict(&req, "tfdrift.state_serial", |v, _| {
            v.primary().map(|m| m.serial)
        })
    }

    fn extract_state_age(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<u64>> {
        self.with_verdict(&req, "tfdrift.state_age", |v, _| {
            let loaded = v.primary()?.loaded_at?;
            Some(
                SystemTime::now()
                    .duration_since(loaded)
                    .unwrap_or_default()
                    .as_secs(),
            )
        })
    }

    fn extract_changed_attrs(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Vec<CString>> {
        self.with_verdict(&req, "tfdrift.changed_attrs", |v, _| {
            texts(&v.changed_attrs)
        })
    }

    fn extract_touched_attrs(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Vec<CString>> {
        self.with_verdict(&req, "tfdrift.touched_attrs", |v, _| {
            texts(&v.touched_attrs)
        })
    }

    fn extract_diff(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.with_verdict(&req, "tfdrift.diff", |v, _| {
            v.diff.as_deref().and_then(text)
        })
    }

    fn extract_attr(
        &mut self,
        req: ExtractRequest<Self>,
        name: &CStr,
    ) -> anyhow::Result<Option<CString>> {
        let name = name.to_str().unwrap_or("");
        self.with_verdict(&req, "tfdrift.attr", |v, snapshot| {
            v.primary_attribute(snapshot, name).and_then(text)
        })
    }

    fn extract_change(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.with_verdict(&req, "tfdrift.change", |v, _| {
            v.change.and_then(|c| text(c.as_str()))
        })
    }

    fn extract_drift(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<bool>> {
        self.with_verdict(&req, "tfdrift.drift", |v, _| v.parsed.then_some(v.drift))
    }

    fn extract_unmanaged(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<bool>> {
        self.with_verdict(&req, "tfdrift.unmanaged", |v, _| {
            v.parsed.then_some(v.unmanaged)
        })
    }

    fn extract_by_terraform(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<bool>> {
        self.with_verdict(&req, "tfdrift.by_terraform", |v, _| {
            v.parsed.then_some(v.by_terraform)
        })
    }

    fn extract_actor(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.with_verdict(&req, "tfdrift.actor", |v, _| {
            v.actor.as_deref().and_then(text)
        })
    }

    fn extract_actor_kind(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.with_verdict(&req, "tfdrift.actor_kind", |v, _| {
            v.actor_kind.and_then(|k| text(k.as_str()))
        })
    }

    fn extract_severity(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.with_verdict(&req, "tfdrift.severity", |v, _| {
            v.severity.and_then(|s| text(s.as_str()))
        })
    }

    fn extract_in_maintenance(
        &mut self,
        req: ExtractRequest<Self>,
    ) -> anyhow::Result<Option<bool>> {
        self.with_verdict(&req, "tfdrift.in_maintenance", |v, _| v.in_maintenance)
    }

    fn extract_maintenance_window(
        &mut self,
        req: ExtractRequest<Self>,
    ) -> anyhow::Result<Option<CString>> {
        self.with_verdict(&req, "tfdrift.maintenance_window", |v, _| {
            v.maintenance_window.as_deref().and_then(text)
        })
    }

    fn extract_match(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.with_verdict(&req, "tfdrift.match", |v, _| {
            v.match_kind.and_then(|k| text(k.as_str()))
        })
    }

    fn extract_covered(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<bool>> {
        self.with_verdict(&req, "tfdrift.covered", |v, _| {
            v.parsed.then_some(v.covered)
        })
    }
}

impl ExtractPlugin for TfDrift {
    type Event<'a> = Event<PluginEvent<CloudTrailRecord<'a>>>;
    type ExtractContext = ();

    const EXTRACT_FIELDS: &'static [ExtractFieldInfo<Self>] = &[
        field("tfdrift.managed", &Self::extract_managed)
            .with_display("Managed by Terraform")
            .with_description("True if the resource the call touched is held by a loaded Terraform state, false if the call names a resource no state holds. No value for calls outside the catalog, read-only calls and failed calls."),
        field("tfdrift.resource_address", &Self::extract_resource_address)
            .with_display("Resource address")
            .with_description("Terraform address of the managed resource the call touched, the call's own resource type first (module.net.aws_security_group.web)."),
        field("tfdrift.resource_addresses", &Self::extract_resource_addresses)
            .with_display("Resource addresses")
            .with_description("Terraform addresses of every managed resource the call touched (an S3 bucket call touches the bucket and its sub-resources)."),
        field("tfdrift.resource_type", &Self::extract_resource_type)
            .with_display("Resource type")
            .with_description("Terraform resource type of the resource the call touched (aws_security_group), managed or not."),
        field("tfdrift.resource_id", &Self::extract_resource_id)
            .with_display("Resource id")
            .with_description("The touched resource's id attribute in the state, or the identifier the call names when no state holds it."),
        field("tfdrift.module", &Self::extract_module)
            .with_display("Module")
            .with_description("Module path of the managed resource (module.net); empty for the root module."),
        field("tfdrift.state", &Self::extract_state)
            .with_display("State")
            .with_description("Name (from the configuration) of the state that holds the managed resource."),
        field("tfdrift.changed_attrs", &Self::extract_changed_attrs)
            .with_display("Changed attributes")
            .with_description("Terraform attributes the call sets to a value that differs from the state's."),
        field("tfdrift.touched_attrs", &Self::extract_touched_attrs)
            .with_display("Touched attributes")
            .with_description("Terraform attributes the call sets, whether or not the value differs."),
        field("tfdrift.diff", &Self::extract_diff)
            .with_display("Diff")
            .with_description("JSON object: for each changed attribute, the state's value and the requested one ({\"instance_type\":{\"state\":\"t3.micro\",\"requested\":\"t3.large\"}}); sensitive values are redacted."),
        field("tfdrift.attr", &Self::extract_attr)
            .with_display("State attribute")
            .with_description("The state's value of one attribute of the managed resource (tfdrift.attr[instance_type]); JSON for non-strings, sensitive values redacted."),
        field("tfdrift.change", &Self::extract_change)
            .with_display("Change")
            .with_description("What the call does to the resource: create, modify, delete, attach, detach, tag or untag."),
        field("tfdrift.drift", &Self::extract_drift)
            .with_display("Drift")
            .with_description("True for a successful change to a managed resource made outside Terraform (not by Terraform, not by an AWS service on someone's behalf)."),
        field("tfdrift.unmanaged", &Self::extract_unmanaged)
            .with_display("Unmanaged")
            .with_description("True for a successful create or change, outside Terraform, of a resource of a type some loaded state manages, that no state holds."),
        field("tfdrift.by_terraform", &Self::extract_by_terraform)
            .with_display("By Terraform")
            .with_description("True if Terraform made the call (a configured Terraform principal, or Terraform's user agent when trusted)."),
        field("tfdrift.actor", &Self::extract_actor)
            .with_display("Actor")
            .with_description("Who is behind the call: the source identity, IAM user name, role session name (an SSO user's name), or invoking service."),
        field("tfdrift.actor_kind", &Self::extract_actor_kind)
            .with_display("Actor kind")
            .with_description("How the call was made: terraform, console, aws_service, sdk_or_cli or unknown."),
        field("tfdrift.severity", &Self::extract_severity)
            .with_display("Severity")
            .with_description("How much a change by this call matters, from the catalog: critical, high, medium or low."),
        field("tfdrift.covered", &Self::extract_covered)
            .with_display("Covered")
            .with_description("True if the call is in tfdrift's catalog of mutating calls."),
        field("tfdrift.in_maintenance", &Self::extract_in_maintenance)
            .with_display("In maintenance")
            .with_description("True if the call was made (by the record's eventTime) inside a configured maintenance window; false outside one or when none is configured."),
        field("tfdrift.maintenance_window", &Self::extract_maintenance_window)
            .with_display("Maintenance window")
            .with_description("Name of the maintenance window the call was made in."),
        field("tfdrift.match", &Self::extract_match)
            .with_display("Match")
            .with_description("How the managed resource was found: catalog (the call's catalog entry) or fallback (a call outside the catalog whose record names, by ARN or known id prefix, a resource a state holds)."),
        field("tfdrift.state_serial", &Self::extract_state_serial)
            .with_display("State serial")
            .with_description("Serial of the state version that holds the managed resource."),
        field("tfdrift.state_age", &Self::extract_state_age)
            .with_display("State age")
            .with_description("Seconds since the state that holds the managed resource was loaded."),
    ];
}
