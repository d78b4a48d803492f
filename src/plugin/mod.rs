//! The Falco adapter: the plugin type, the SDK's field list over [`crate::fields`], the per-event cache and
//! the metrics. This is the only module that speaks the SDK (the configuration only borrows its `schemars`
//! for the schema); everything it answers comes from [`crate::drift::Verdict`], and [`crate::config`] builds
//! the catalog, the policy and the sources.
//!
//! Falco asks for one field per call. The first field asked of an event parses the record (a CloudTrail record
//! or a GCP audit log entry, as [`event::LogEvent::log`] tells) and computes the verdict as far as that field
//! needs ([`crate::drift::Stage`]); the others of the same event read the cached verdict, and the first
//! field that needs stage two of a verdict that stopped at stage one (a call by Terraform, an ignored
//! principal or an AWS service) completes it. No call here blocks, locks or does I/O: the index comes from an `ArcSwap`
//! snapshot that the reload thread replaces.
//!
//! No panic may cross into Falco (the SDK's entry points are `C-unwind` and catch nothing): every field, the
//! plugin's creation, its metrics and its destruction run under `catch_unwind`, and a panic becomes an error
//! for that call (or no metrics), logged once per entry point with its context. docs/ROBUSTNESS.md lists the
//! guards and the limits on inputs.

pub mod event;

use crate::config::{CheckedConfig, Config};
use crate::drift::{Engine, Stage, Verdict};
use crate::fields::{self, Field};
use crate::sources::Reloader;
use crate::state::{Snapshot, SnapshotReader};
use event::{Log, LogEvent};
use falco_plugin::base::{Json, Metric, MetricLabel, MetricValue, Plugin};
use falco_plugin::extract::{ExtractFieldInfo, ExtractPlugin, ExtractRequest, field};
use falco_plugin::tables::TablesInput;
use std::collections::HashSet;
use std::ffi::{CStr, CString};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

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

/// Panic injection for the tests of the guards (tests/plugin/panic_guard.rs), compiled into debug builds only: a
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
    /// Verdicts that found a managed resource, among calls whose caller's changes may be drift (the others'
    /// are matched only when a field needs it: see [`Stage`]), so that the count does not hang on the rules.
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
        let catalog = config.catalog()?;
        let reloader = Reloader::start(
            config.sources(),
            Arc::clone(&catalog),
            config.reload_options(),
        )?;
        let engine = config.engine(catalog)?;
        Ok(Self {
            engine,
            cache: EventCache {
                key: None,
                verdict: Verdict::default(),
                snapshot: reloader.snapshot(),
            },
            snapshots: reloader.reader(),
            reloader,
            panicked: HashSet::new(),
            counts: EventCounts::default(),
            max_record_bytes: config.max_record_bytes(),
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

    /// Runs `answer` on the event's verdict, computing it first if this is a new event, and taking it to
    /// the stage `field` needs (see [`Field::needs`]). Any panic becomes an error for this field.
    ///
    /// A new event's verdict is made as far as the field needs: a call whose caller cannot make drift stops
    /// at stage one when the field allows (a call whose caller can, or that stops before the index anyway,
    /// gets its full verdict). A field that needs more of a stage-one verdict has it completed from the
    /// event's bytes (the request carries them again) against the same snapshot, by the same full
    /// evaluation.
    fn with_verdict<R>(
        &mut self,
        req: &ExtractRequest<Self>,
        field: &'static Field,
        answer: impl FnOnce(&Verdict, &Snapshot) -> R,
    ) -> anyhow::Result<R> {
        let number = req.event.event_number();
        let max_record_bytes = self.max_record_bytes;
        let outcome = guarded(|| -> anyhow::Result<R> {
            // Decoding the event runs this crate's payload type: inside the guard too.
            let event = req.event.event()?;
            let bytes = event.bytes();
            let key = EventKey {
                number,
                data: bytes.as_ptr() as usize,
                len: bytes.len(),
            };
            let engine = &self.engine;
            let evaluate = |snapshot: &Snapshot, upto: Stage| {
                if bytes.len() > max_record_bytes {
                    // Too large to be a record (max_record_bytes): no values, no parse.
                    Verdict::default()
                } else {
                    match event.log(req.event.source()) {
                        Log::CloudTrail => engine.evaluate_staged(bytes, snapshot, upto),
                        Log::GcpAudit => engine.evaluate_gcp_staged(bytes, snapshot, upto),
                    }
                }
            };
            if self.cache.key != Some(key) {
                // The event keeps the snapshot its verdict was made from; it is cloned only when a reload
                // has swapped in another.
                let current = self.snapshots.current();
                let verdict = evaluate(current, field.needs);
                // The cache is written only once the verdict is made: a panic above leaves it as it was.
                if !Arc::ptr_eq(current, &self.cache.snapshot) {
                    self.cache.snapshot = Arc::clone(current);
                }
                self.cache.verdict = verdict;
                self.cache.key = Some(key);
                // Counted once per event, whichever field came first: a completion below is never counted
                // again, and a managed resource counts only for a caller that may make drift (whose verdict
                // never stops at stage one), so the count does not depend on which field a rule reads first.
                let verdict = &self.cache.verdict;
                let counts = &mut self.counts;
                counts.events_seen += 1;
                counts.managed_matches +=
                    u64::from(verdict.caller_may_drift && verdict.managed == Some(true));
                counts.drift_verdicts += u64::from(verdict.drift);
                counts.unmanaged_verdicts += u64::from(verdict.unmanaged);
            }
            if self.cache.verdict.stage < field.needs {
                // Against the snapshot stage one was made from, so every field of the event reads one index.
                let full = evaluate(&self.cache.snapshot, Stage::Full);
                self.cache.verdict = full;
            }
            Ok(answer(&self.cache.verdict, &self.cache.snapshot))
        });
        match outcome {
            Ok(answer) => answer,
            Err(message) => {
                // The cache is only written once a verdict is complete: a panic leaves it consistent.
                Err(self.caught(field.name, Some(number), &message))
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
    pub fn states_discovered() -> MetricLabel {
        MetricLabel::new(c"states_discovered", MetricType::NonMonotonic)
    }
    pub fn states_stale() -> MetricLabel {
        MetricLabel::new(c"states_stale", MetricType::NonMonotonic)
    }
    pub fn states_failed() -> MetricLabel {
        MetricLabel::new(c"states_failed", MetricType::NonMonotonic)
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

impl Plugin for TfDrift {
    const NAME: &'static CStr = c"tfdrift";
    const PLUGIN_VERSION: &'static CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(version) => version,
            Err(_) => c"0.0.0",
        };
    const DESCRIPTION: &'static CStr =
        c"Terraform drift for CloudTrail and GCP audit log events: is the resource a call touched managed by Terraform, at which address, which attributes changed, and who changed them";
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
    fn metrics(&self) -> [Metric; 14] {
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
            value(metric::states_discovered(), reload.states_discovered),
            value(metric::states_stale(), reload.states_stale),
            value(metric::states_failed(), reload.states_failed),
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

/// How a field of each type is answered, from the table in [`crate::fields`] and the event's verdict.
impl TfDrift {
    fn flag(
        &mut self,
        req: &ExtractRequest<Self>,
        field: &'static Field,
    ) -> anyhow::Result<Option<bool>> {
        self.with_verdict(req, field, |v, _| field.bool(v))
    }

    fn number(
        &mut self,
        req: &ExtractRequest<Self>,
        field: &'static Field,
    ) -> anyhow::Result<Option<u64>> {
        self.with_verdict(req, field, |v, _| field.u64(v))
    }

    fn string(
        &mut self,
        req: &ExtractRequest<Self>,
        field: &'static Field,
    ) -> anyhow::Result<Option<CString>> {
        self.with_verdict(req, field, |v, _| field.str(v).and_then(text))
    }

    fn strings(
        &mut self,
        req: &ExtractRequest<Self>,
        field: &'static Field,
    ) -> anyhow::Result<Vec<CString>> {
        self.with_verdict(req, field, |v, _| {
            let mut values = Vec::new();
            field.each(v, &mut |value| values.extend(text(value)));
            values
        })
    }

    fn extract_attr(
        &mut self,
        req: ExtractRequest<Self>,
        name: &CStr,
    ) -> anyhow::Result<Option<CString>> {
        let name = name.to_str().unwrap_or("");
        self.with_verdict(&req, &fields::ATTR, |v, snapshot| {
            #[cfg(debug_assertions)]
            if name == inject::FIELD_KEY {
                panic!("injected panic in tfdrift.attr (debug builds only)");
            }
            fields::ATTR.keyed(v, snapshot, name).and_then(text)
        })
    }
}

/// The SDK's extract methods, one per field of the table, each reading the value through the helper for
/// the field's type (`tfdrift.attr`, which takes a key, is written out above), and the SDK's field list,
/// in the table's order (tests/data_checks/readme_fields.rs checks that the two lists agree).
macro_rules! extract_fields {
    ($($field:ident => $method:ident $(: $helper:ident -> $ret:ty)?;)*) => {
        impl TfDrift {
            $($(
                fn $method(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<$ret> {
                    self.$helper(&req, &fields::$field)
                }
            )?)*
        }

        impl ExtractPlugin for TfDrift {
            type Event<'a> = LogEvent<'a>;
            type ExtractContext = ();

            const EXTRACT_FIELDS: &'static [ExtractFieldInfo<Self>] = &[$(
                field(fields::$field.name, &Self::$method)
                    .with_display(fields::$field.display)
                    .with_description(fields::$field.description)
            ),*];
        }
    };
}

extract_fields! {
    MANAGED => extract_managed: flag -> Option<bool>;
    RESOURCE_ADDRESS => extract_resource_address: string -> Option<CString>;
    RESOURCE_ADDRESSES => extract_resource_addresses: strings -> Vec<CString>;
    RESOURCE_TYPE => extract_resource_type: string -> Option<CString>;
    RESOURCE_ID => extract_resource_id: string -> Option<CString>;
    IMPORT_ID => extract_import_id: string -> Option<CString>;
    MODULE => extract_module: string -> Option<CString>;
    STATE => extract_state: string -> Option<CString>;
    CHANGED_ATTRS => extract_changed_attrs: strings -> Vec<CString>;
    TOUCHED_ATTRS => extract_touched_attrs: strings -> Vec<CString>;
    SUMMARY => extract_summary: string -> Option<CString>;
    DIFF => extract_diff: string -> Option<CString>;
    ATTR => extract_attr;
    CHANGE => extract_change: string -> Option<CString>;
    DRIFT => extract_drift: flag -> Option<bool>;
    UNMANAGED => extract_unmanaged: flag -> Option<bool>;
    BY_TERRAFORM => extract_by_terraform: flag -> Option<bool>;
    ACTOR => extract_actor: string -> Option<CString>;
    ACTOR_KIND => extract_actor_kind: string -> Option<CString>;
    SEVERITY => extract_severity: string -> Option<CString>;
    COVERED => extract_covered: flag -> Option<bool>;
    IN_MAINTENANCE => extract_in_maintenance: flag -> Option<bool>;
    MAINTENANCE_WINDOW => extract_maintenance_window: string -> Option<CString>;
    MATCH => extract_match: string -> Option<CString>;
    STATE_SERIAL => extract_state_serial: number -> Option<u64>;
    STATE_AGE => extract_state_age: number -> Option<u64>;
}
