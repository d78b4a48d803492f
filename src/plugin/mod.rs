//! The Falco adapter: the plugin type, its configuration, its field table, the per-event cache and the
//! metrics. This is the only module that knows the SDK; everything it answers comes from
//! [`crate::drift::Verdict`], and the states come from the sources built here from the configuration.
//!
//! Falco asks for one field per call. The first field asked of an event parses the record and computes the
//! verdict; the others of the same event read the cached verdict. No call here blocks, locks or does I/O:
//! the index comes from an `ArcSwap` snapshot that the reload thread replaces.
//!
//! No panic may cross into Falco (the SDK's entry points are `C-unwind` and catch nothing): every field, the
//! plugin's creation, its metrics and its destruction run under `catch_unwind`, and a panic becomes an error
//! for that call (or no metrics), logged once per entry point with its context. docs/ROBUSTNESS.md lists the
//! guards and the limits on inputs.

pub mod config;
pub mod event;

use crate::catalog::Catalog;
use crate::drift::{Engine, Verdict};
use crate::sources::hcp::{HcpOptions, HcpSource, Selector};
use crate::sources::http::{HttpAuth, HttpOptions, HttpSource};
use crate::sources::local::LocalFile;
use crate::sources::s3::{S3Options, S3Source};
use crate::sources::{
    Registration, ReloadOptions, Reloader, ScopeConfig, ScopeSetting, StateSource,
};
use crate::state::{Limits, Snapshot, SnapshotReader};
use anyhow::Context;
use config::{CheckedConfig, Config, StateConfig};
use event::CloudTrailRecord;
use falco_plugin::base::{Json, Metric, MetricLabel, MetricValue, Plugin};
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
    snapshots: SnapshotReader,
    cache: EventCache,
    /// Fields that have panicked, so each is logged once.
    panicked: HashSet<&'static str>,
    /// Per-event counters for the metrics: plain integers, only ever touched on the event thread.
    counts: EventCounts,
    /// Records longer than this get no values (`max_record_bytes`).
    max_record_bytes: usize,
    /// Debug builds only: where a test asked for a panic to be injected (see [`inject`]).
    #[cfg(debug_assertions)]
    inject: inject::Points,
}

/// Panic injection for the tests of the guards (tests/panic_guard.rs), compiled into debug builds only: a
/// release build (what Falco loads) has no way to reach it. A state named `tfdrift-test-panic-<point>` in
/// the configuration makes `<point>` (`init`, `metrics`, `destroy`) panic; the key
/// `tfdrift.attr[tfdrift-test-panic]` makes that field panic.
#[cfg(debug_assertions)]
mod inject {
    pub const FIELD_KEY: &str = "tfdrift-test-panic";

    #[derive(Debug, Default, Clone, Copy)]
    pub struct Points {
        pub metrics: bool,
        pub destroy: bool,
    }

    pub fn points(config: &super::Config) -> Points {
        let asked = |point: &str| {
            config
                .states
                .iter()
                .any(|s| s.name == format!("tfdrift-test-panic-{point}"))
        };
        if asked("init") {
            panic!("injected panic in init (debug builds only)");
        }
        Points {
            metrics: asked("metrics"),
            destroy: asked("destroy"),
        }
    }
}

/// Runs `f`, turning a panic into its message.
fn guarded<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|panic| {
        panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into())
    })
}

/// What the verdicts said, counted once per event.
#[derive(Debug, Default, Clone, Copy)]
struct EventCounts {
    /// Events a verdict was computed for (every event a rule asked a tfdrift field of).
    events_seen: u64,
    /// Verdicts that found a managed resource.
    managed_matches: u64,
    /// Verdicts of drift.
    drift_verdicts: u64,
    /// Verdicts of an unmanaged resource of a managed type.
    unmanaged_verdicts: u64,
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
        #[cfg(debug_assertions)]
        let inject = inject::points(&config);
        for warning in config.warnings() {
            tracing::warn!("{warning}");
        }
        let catalog = Arc::new(Catalog::with_extensions(&config.catalog_files).context("catalog")?);
        let sources: Vec<Registration> = config.states.iter().map(state_source).collect();
        let limits = Limits {
            max_bytes: usize::try_from(config.max_state_bytes).unwrap_or(usize::MAX),
            max_instances: usize::try_from(config.max_state_instances).unwrap_or(usize::MAX),
            poll_timeout: Duration::from_secs(config.poll_timeout),
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
            snapshots: reloader.reader(),
            reloader,
            panicked: HashSet::new(),
            counts: EventCounts::default(),
            max_record_bytes: usize::try_from(config.max_record_bytes).unwrap_or(usize::MAX),
            #[cfg(debug_assertions)]
            inject,
        })
    }

    /// Logs a panic caught at `point` once per point, and makes it an error naming the point.
    fn caught(
        &mut self,
        point: &'static str,
        event: Option<usize>,
        message: &str,
    ) -> anyhow::Error {
        if self.panicked.insert(point) {
            match event {
                Some(event) => {
                    tracing::error!(
                        field = point,
                        event,
                        "internal error extracting {point}: {message}"
                    )
                }
                None => tracing::error!("tfdrift internal error in {point}: {message}"),
            }
        }
        anyhow::anyhow!("tfdrift internal error in {point}: {message}")
    }

    /// Runs `answer` on the event's verdict, computing it first if this is a new event. Any panic becomes
    /// an error for this field.
    fn with_verdict<R>(
        &mut self,
        req: &ExtractRequest<Self>,
        name: &'static str,
        answer: impl FnOnce(&Verdict, &Snapshot) -> R,
    ) -> anyhow::Result<R> {
        let number = req.event.event_number();
        let max_record_bytes = self.max_record_bytes;
        let outcome = guarded(|| -> anyhow::Result<R> {
            // Decoding the event runs this crate's payload type: inside the guard too.
            let event = req.event.event()?;
            let bytes = event.params.event_data.0;
            let key = EventKey {
                number,
                data: bytes.as_ptr() as usize,
                len: bytes.len(),
            };
            if self.cache.key != Some(key) {
                // The event keeps the snapshot its verdict was made from; it is cloned only when a reload
                // has swapped in another.
                let current = self.snapshots.current();
                if !Arc::ptr_eq(current, &self.cache.snapshot) {
                    self.cache.snapshot = Arc::clone(current);
                }
                self.cache.verdict = if bytes.len() > max_record_bytes {
                    // Too large to be a CloudTrail record (max_record_bytes): no values, no parse.
                    Verdict::default()
                } else {
                    self.engine.evaluate(bytes, &self.cache.snapshot)
                };
                self.cache.key = Some(key);
                let verdict = &self.cache.verdict;
                let counts = &mut self.counts;
                counts.events_seen += 1;
                counts.managed_matches += u64::from(verdict.managed == Some(true));
                counts.drift_verdicts += u64::from(verdict.drift);
                counts.unmanaged_verdicts += u64::from(verdict.unmanaged);
            }
            Ok(answer(&self.cache.verdict, &self.cache.snapshot))
        });
        match outcome {
            Ok(answer) => answer,
            Err(message) => {
                // The cache is only written once a verdict is complete: a panic leaves it consistent.
                Err(self.caught(name, Some(number), &message))
            }
        }
    }
}

impl Drop for TfDrift {
    /// Stops the reload thread (promptly, even mid-download) under the guard: `plugin_destroy` catches
    /// nothing.
    fn drop(&mut self) {
        #[cfg(debug_assertions)]
        let inject_destroy = self.inject.destroy;
        #[cfg(not(debug_assertions))]
        let inject_destroy = false;
        let reloader = &mut self.reloader;
        if let Err(message) = guarded(|| {
            if inject_destroy {
                panic!("injected panic in destroy (debug builds only)");
            }
            reloader.shutdown();
        }) {
            tracing::error!("tfdrift internal error in destroy: {message}");
        }
    }
}

/// The source a configured state comes from, with its configured scope. The configuration was checked:
/// exactly one of `path`, `s3`, `http`, `hcp` is set.
pub fn state_source(state: &StateConfig) -> Registration {
    let name = state.name.clone();
    let source: Box<dyn StateSource> = if let Some(s3) = &state.s3 {
        Box::new(S3Source::new(
            name,
            S3Options {
                bucket: s3.bucket.clone(),
                key: s3.key.clone(),
                region: s3.region.clone(),
                endpoint: s3.endpoint.clone(),
                path_style: s3.use_path_style,
                role_arn: s3.role_arn.clone(),
                workspace_key_prefix: s3
                    .workspace_key_prefix
                    .clone()
                    .unwrap_or_else(|| "env:".into()),
                workspaces: s3.workspaces.as_ref().map(|w| w.patterns()),
            },
        ))
    } else if let Some(http) = &state.http {
        let auth = match (&http.username, &http.password_env, &http.token_env) {
            (Some(username), Some(password_env), _) => HttpAuth::Basic {
                username: username.clone(),
                password_env: password_env.clone(),
            },
            (_, _, Some(token_env)) => HttpAuth::Bearer {
                token_env: token_env.clone(),
            },
            _ => HttpAuth::None,
        };
        Box::new(HttpSource::new(
            name,
            HttpOptions {
                url: http.url.clone(),
                auth,
            },
        ))
    } else if let Some(hcp) = &state.hcp {
        Box::new(HcpSource::new(
            name,
            HcpOptions {
                address: hcp.address.clone(),
                organization: hcp.organization.clone(),
                selector: match &hcp.workspace {
                    Some(workspace) => Selector::Workspace(workspace.clone()),
                    None => Selector::Tags(hcp.tags.clone()),
                },
                token_env: hcp.token_env.clone(),
            },
        ))
    } else {
        Box::new(LocalFile::new(name, state.path.clone().unwrap_or_default()))
    };
    Registration {
        source,
        scope: ScopeConfig {
            account: ScopeSetting::from_config(state.account_id.as_deref()),
            region: ScopeSetting::from_config(state.region.as_deref()),
        },
    }
}

/// The metrics' names, as Falco shows them prefixed with `tfdrift.` (and, in Prometheus, as
/// `falcosecurity_plugins_tfdrift_<name>_total`: see docs/SOURCES.md).
mod metric {
    use falco_plugin::base::{MetricLabel, MetricType};

    pub fn states_loaded() -> MetricLabel {
        MetricLabel::new(c"states_loaded", MetricType::NonMonotonic)
    }
    pub fn resources_indexed() -> MetricLabel {
        MetricLabel::new(c"resources_indexed", MetricType::NonMonotonic)
    }
    pub fn seconds_since_refresh_max() -> MetricLabel {
        MetricLabel::new(c"seconds_since_refresh_max", MetricType::NonMonotonic)
    }
    pub fn refresh_failures() -> MetricLabel {
        MetricLabel::new(c"refresh_failures", MetricType::Monotonic)
    }
    pub fn rollbacks_refused() -> MetricLabel {
        MetricLabel::new(c"rollbacks_refused", MetricType::Monotonic)
    }
    pub fn state_loads() -> MetricLabel {
        MetricLabel::new(c"state_loads", MetricType::Monotonic)
    }
    pub fn state_checks() -> MetricLabel {
        MetricLabel::new(c"state_checks", MetricType::Monotonic)
    }
    pub fn events_seen() -> MetricLabel {
        MetricLabel::new(c"events_seen", MetricType::Monotonic)
    }
    pub fn managed_matches() -> MetricLabel {
        MetricLabel::new(c"managed_matches", MetricType::Monotonic)
    }
    pub fn drift_verdicts() -> MetricLabel {
        MetricLabel::new(c"drift_verdicts", MetricType::Monotonic)
    }
    pub fn unmanaged_verdicts() -> MetricLabel {
        MetricLabel::new(c"unmanaged_verdicts", MetricType::Monotonic)
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
        match guarded(|| Self::from_config(config)) {
            Ok(plugin) => plugin,
            Err(message) => {
                tracing::error!("tfdrift internal error in init: {message}");
                Err(anyhow::anyhow!("tfdrift internal error in init: {message}"))
            }
        }
    }

    /// The reload thread's counters (read from atomics it alone writes) and the per-event counters.
    /// A panic here logs once and reports no metrics.
    fn get_metrics(&mut self) -> impl IntoIterator<Item = Metric> {
        match guarded(|| self.metrics()) {
            Ok(metrics) => Vec::from(metrics),
            Err(message) => {
                let _ = self.caught("get_metrics", None, &message);
                Vec::new()
            }
        }
    }
}

impl TfDrift {
    fn metrics(&self) -> [Metric; 11] {
        #[cfg(debug_assertions)]
        if self.inject.metrics {
            panic!("injected panic in get_metrics (debug builds only)");
        }
        let reload = self.reloader.stats().read();
        let events = self.counts;
        let value = |label: MetricLabel, n: u64| label.with_value(MetricValue::U64(n));
        [
            value(metric::states_loaded(), reload.states_loaded),
            value(metric::resources_indexed(), reload.resources_indexed),
            value(
                metric::seconds_since_refresh_max(),
                reload.seconds_since_refresh_max,
            ),
            value(metric::refresh_failures(), reload.refresh_failures),
            value(metric::rollbacks_refused(), reload.rollbacks_refused),
            value(metric::state_loads(), reload.state_loads),
            value(metric::state_checks(), reload.state_checks),
            value(metric::events_seen(), events.events_seen),
            value(metric::managed_matches(), events.managed_matches),
            value(metric::drift_verdicts(), events.drift_verdicts),
            value(metric::unmanaged_verdicts(), events.unmanaged_verdicts),
        ]
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
        self.with_verdict(&req, "tfdrift.diff", |v, _| v.diff.text().and_then(text))
    }

    fn extract_summary(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.with_verdict(&req, "tfdrift.summary", |v, _| {
            v.diff.summary().and_then(text)
        })
    }

    fn extract_attr(
        &mut self,
        req: ExtractRequest<Self>,
        name: &CStr,
    ) -> anyhow::Result<Option<CString>> {
        let name = name.to_str().unwrap_or("");
        self.with_verdict(&req, "tfdrift.attr", |v, snapshot| {
            #[cfg(debug_assertions)]
            if name == inject::FIELD_KEY {
                panic!("injected panic in tfdrift.attr (debug builds only)");
            }
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
            .with_description("Top-level Terraform attributes the call sets to a value that differs from the state's (versioning_configuration); tfdrift.diff has the nested path."),
        field("tfdrift.touched_attrs", &Self::extract_touched_attrs)
            .with_display("Touched attributes")
            .with_description("Top-level Terraform attributes the call sets, whether or not the value differs."),
        field("tfdrift.summary", &Self::extract_summary)
            .with_display("Summary")
            .with_description("One line for people, at most 400 bytes, of what changed: instance_type: t3.micro -> t3.large; ingress: +tcp 22 cidr 0.0.0.0/0 (lists: + added, - removed). Whole in alerts that Falcosidekick cuts (it shortens string fields over 512 bytes when an alert is over 4 KiB, which breaks tfdrift.diff); secrets redacted."),
        field("tfdrift.diff", &Self::extract_diff)
            .with_display("Diff")
            .with_description("JSON object: for each changed attribute, by its path (versioning_configuration.status), the state's value and the requested one ({\"instance_type\":{\"state\":\"t3.micro\",\"requested\":\"t3.large\"}}); sensitive values are redacted."),
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
            .with_description("How the call was made: terraform, console, aws_service (an AWS service on its own or for someone), provisioning_service (CloudFormation, Service Catalog and the like acting for a principal), sdk_or_cli or unknown."),
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
