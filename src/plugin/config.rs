//! The plugin's configuration (`init_config`): one typed struct whose doc comments become the JSON schema
//! Falco shows and validates against. Errors name the offending key and value.

use crate::catalog::Severity;
use crate::cloudtrail::{Principals, TerraformIdentity};
use crate::drift::Policy;
use crate::drift::maintenance::{OneOff, Weekly, Windows, parse_weekday};
use falco_plugin::schemars::{self, JsonSchema};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::LazyLock;

/// tfdrift configuration.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "falco_plugin::schemars")]
pub struct Config {
    /// The Terraform states to index. Each has a unique `name`, reported in `tfdrift.state`.
    pub states: Vec<StateConfig>,
    /// Seconds between checks of the states for changes (an unchanged state costs a `stat`, not a parse).
    #[serde(default = "default_refresh_interval")]
    #[schemars(range(min = 1, max = 86400))]
    pub refresh_interval: u64,
    /// How tfdrift recognises Terraform's own calls, which are never drift.
    #[serde(default)]
    pub terraform: TerraformConfig,
    /// Refuse to start (Falco exits with the reason) when no state at all can be loaded. When false, tfdrift
    /// starts with an empty index, logs why, and keeps trying on every refresh.
    #[serde(default = "default_true")]
    pub require_state_on_start: bool,
    /// Extra catalog files (TOML, the format of the embedded catalog) that add calls or replace embedded ones.
    #[serde(default)]
    pub catalog_files: Vec<PathBuf>,
    /// The largest state file accepted, in bytes; a larger one is refused and the last good version kept.
    #[serde(default = "default_max_state_bytes")]
    #[schemars(range(min = 1))]
    pub max_state_bytes: u64,
    /// ARNs (with `*` and `?` wildcards) of callers whose changes are never drift: break-glass automation,
    /// other provisioning tools. Matched like `terraform.principals`.
    #[serde(default)]
    pub ignore_principals: Vec<String>,
    /// Whether a change an AWS service makes on someone's behalf (`invokedBy`, service-linked roles) is drift.
    #[serde(default)]
    pub aws_service_changes_are_drift: bool,
    /// Severity by Terraform resource type, over the catalog's: `{"aws_s3_bucket": "critical"}`.
    /// Values: critical, high, medium, low.
    #[serde(default)]
    pub severity_overrides: BTreeMap<String, String>,
    /// Maintenance windows: `tfdrift.in_maintenance` is true for calls made inside one (by the record's
    /// `eventTime`). Weekly: `{"name", "days": ["sat"], "start": "22:00", "end": "02:00", "time_zone":
    /// "Europe/Paris"}` (an end before the start runs past midnight). One-off: `{"name", "from":
    /// "2026-12-01T00:00:00Z", "to": "2026-12-03T00:00:00Z"}`.
    #[serde(default)]
    pub maintenance_windows: Vec<MaintenanceWindowConfig>,
}

/// One maintenance window: weekly (`days`, `start`, `end`, `time_zone`) or one-off (`from`, `to`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "falco_plugin::schemars")]
pub struct MaintenanceWindowConfig {
    /// Reported in `tfdrift.maintenance_window`.
    pub name: String,
    /// Weekly: the days it starts on (`mon` ... `sun`, or full names).
    #[serde(default)]
    pub days: Vec<String>,
    /// Weekly: start time, `HH:MM`, in `time_zone`.
    pub start: Option<String>,
    /// Weekly: end time, `HH:MM`, in `time_zone`.
    pub end: Option<String>,
    /// Weekly: an IANA time zone (`Europe/Paris`); default `UTC`.
    pub time_zone: Option<String>,
    /// One-off: start, RFC 3339 (`2026-12-01T00:00:00Z`).
    pub from: Option<String>,
    /// One-off: end (excluded), RFC 3339.
    pub to: Option<String>,
}

/// One Terraform state.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "falco_plugin::schemars")]
pub struct StateConfig {
    /// A short unique name for this state (`prod-network`), reported in `tfdrift.state`.
    pub name: String,
    /// Path of a local state file (`terraform.tfstate`), reloaded when it changes.
    pub path: PathBuf,
}

/// How Terraform's calls are recognised.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "falco_plugin::schemars")]
pub struct TerraformConfig {
    /// ARNs of the identities that run Terraform (CI roles, say), with `*` and `?` wildcards. Matched against
    /// the caller's ARN and, for assumed roles, the role's ARN: `arn:aws:iam::*:role/terraform-ci`.
    #[serde(default)]
    pub principals: Vec<String>,
    /// Whether Terraform's user agent alone marks a call as Terraform's. User agents can be forged: with
    /// `principals` set, consider turning this off.
    #[serde(default = "default_true")]
    pub trust_user_agent: bool,
}

impl Default for TerraformConfig {
    fn default() -> Self {
        Self {
            principals: Vec::new(),
            trust_user_agent: true,
        }
    }
}

fn default_refresh_interval() -> u64 {
    30
}

fn default_true() -> bool {
    true
}

fn default_max_state_bytes() -> u64 {
    512 * 1024 * 1024
}

/// A configuration error: the key (as a path such as `states[1].name`) and what is wrong with its value.
#[derive(Debug, thiserror::Error)]
#[error("invalid tfdrift configuration: {key}: {problem}")]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
}

impl Config {
    /// Parses and checks a configuration. An empty text is an empty object.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let text = if text.trim().is_empty() { "{}" } else { text };
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| ConfigError {
            key: "(top level)".into(),
            problem: format!("not JSON: {e}"),
        })?;
        Config::from_value(value)
    }

    /// Deserializes and checks a configuration already parsed as JSON.
    pub fn from_value(value: serde_json::Value) -> Result<Config, ConfigError> {
        let config: Config = serde_path_to_error::deserialize(value).map_err(|e| {
            let key = e.path().to_string();
            ConfigError {
                key: if key == "." {
                    "(top level)".into()
                } else {
                    key
                },
                problem: e.into_inner().to_string(),
            }
        })?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let fail = |key: String, problem: String| Err(ConfigError { key, problem });
        if self.states.is_empty() {
            return fail("states".into(), "at least one state is required".into());
        }
        let mut names = HashSet::new();
        for (i, state) in self.states.iter().enumerate() {
            if state.name.trim().is_empty() {
                return fail(format!("states[{i}].name"), "must not be empty".into());
            }
            if !names.insert(state.name.as_str()) {
                return fail(
                    format!("states[{i}].name"),
                    format!("{:?} is already the name of another state", state.name),
                );
            }
            if state.path.as_os_str().is_empty() {
                return fail(format!("states[{i}].path"), "must not be empty".into());
            }
        }
        if !(1..=86400).contains(&self.refresh_interval) {
            return fail(
                "refresh_interval".into(),
                format!(
                    "{} is not between 1 and 86400 seconds",
                    self.refresh_interval
                ),
            );
        }
        if self.max_state_bytes == 0 {
            return fail("max_state_bytes".into(), "0 is not a usable limit".into());
        }
        for (i, principal) in self.terraform.principals.iter().enumerate() {
            if principal.trim().is_empty() {
                return fail(
                    format!("terraform.principals[{i}]"),
                    "must not be empty".into(),
                );
            }
        }
        for (i, principal) in self.ignore_principals.iter().enumerate() {
            if principal.trim().is_empty() {
                return fail(
                    format!("ignore_principals[{i}]"),
                    "must not be empty".into(),
                );
            }
        }
        self.policy().map(|_| ())
    }

    /// What decides verdicts, from this configuration.
    pub fn policy(&self) -> Result<Policy, ConfigError> {
        let fail = |key: String, problem: String| ConfigError { key, problem };
        let mut severity_overrides = HashMap::new();
        for (resource_type, severity) in &self.severity_overrides {
            let parsed = match severity.as_str() {
                "critical" => Severity::Critical,
                "high" => Severity::High,
                "medium" => Severity::Medium,
                "low" => Severity::Low,
                other => {
                    return Err(fail(
                        format!("severity_overrides.{resource_type}"),
                        format!("{other:?} is not one of critical, high, medium, low"),
                    ));
                }
            };
            severity_overrides.insert(resource_type.clone(), parsed);
        }
        let mut maintenance = Windows::default();
        for (i, window) in self.maintenance_windows.iter().enumerate() {
            maintenance_window(i, window, &mut maintenance)?;
        }
        Ok(Policy {
            terraform: TerraformIdentity::new(
                &self.terraform.principals,
                self.terraform.trust_user_agent,
            ),
            ignored_principals: Principals::new(&self.ignore_principals),
            aws_service_changes_are_drift: self.aws_service_changes_are_drift,
            severity_overrides,
            maintenance,
        })
    }
}

/// Checks one configured maintenance window and adds it to `windows`.
fn maintenance_window(
    i: usize,
    window: &MaintenanceWindowConfig,
    windows: &mut Windows,
) -> Result<(), ConfigError> {
    let key = |field: &str| format!("maintenance_windows[{i}].{field}");
    let fail = |key: String, problem: String| ConfigError { key, problem };
    if window.name.trim().is_empty() {
        return Err(fail(key("name"), "must not be empty".into()));
    }
    match (&window.from, &window.to) {
        (Some(from), Some(to)) => {
            if !window.days.is_empty() || window.start.is_some() || window.end.is_some() {
                return Err(fail(
                    key("from"),
                    "a window is weekly (days, start, end) or one-off (from, to), not both".into(),
                ));
            }
            let parse = |field: &str, text: &str| {
                text.parse::<jiff::Timestamp>()
                    .map_err(|e| fail(key(field), format!("{text:?} is not an RFC 3339 time: {e}")))
            };
            let (from, to) = (parse("from", from)?, parse("to", to)?);
            if to <= from {
                return Err(fail(key("to"), "must be after `from`".into()));
            }
            windows.one_off.push(OneOff {
                name: window.name.clone(),
                from,
                to,
            });
        }
        (None, None) => {
            if window.days.is_empty() {
                return Err(fail(
                    key("days"),
                    "a weekly window needs at least one day (or use from/to)".into(),
                ));
            }
            let days = window
                .days
                .iter()
                .enumerate()
                .map(|(d, day)| {
                    parse_weekday(day).ok_or_else(|| {
                        fail(key(&format!("days[{d}]")), format!("{day:?} is not a day"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let time = |field: &str, text: &Option<String>| {
                let text = text
                    .as_deref()
                    .ok_or_else(|| fail(key(field), "is required for a weekly window".into()))?;
                jiff::civil::Time::strptime("%H:%M", text)
                    .map_err(|_| fail(key(field), format!("{text:?} is not a time as HH:MM")))
            };
            let (start, end) = (time("start", &window.start)?, time("end", &window.end)?);
            let zone_name = window.time_zone.as_deref().unwrap_or("UTC");
            let time_zone = jiff::tz::TimeZone::get(zone_name).map_err(|_| {
                fail(
                    key("time_zone"),
                    format!("{zone_name:?} is not a known time zone"),
                )
            })?;
            windows.weekly.push(Weekly {
                name: window.name.clone(),
                days,
                start,
                end,
                time_zone,
            });
        }
        (Some(_), None) => {
            return Err(fail(
                key("to"),
                "a one-off window needs both `from` and `to`".into(),
            ));
        }
        (None, Some(_)) => {
            return Err(fail(
                key("from"),
                "a one-off window needs both `from` and `to`".into(),
            ));
        }
    }
    Ok(())
}

/// The configuration as the SDK receives it (`Json<CheckedConfig>`): deserializing it runs [`Config::parse`]'s
/// checks, so a bad configuration fails init with the key and value named; its schema is [`Config`]'s.
#[derive(Debug)]
pub struct CheckedConfig(pub Config);

impl<'de> Deserialize<'de> for CheckedConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Config::from_value(value)
            .map(CheckedConfig)
            .map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for CheckedConfig {
    fn schema_name() -> Cow<'static, str> {
        Config::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        Config::json_schema(generator)
    }
}

static SCHEMA: LazyLock<String> = LazyLock::new(|| {
    serde_json::to_string_pretty(&schemars::schema_for!(Config)).unwrap_or_else(|_| "{}".into())
});

/// The JSON schema Falco validates `init_config` against.
pub fn schema() -> &'static str {
    &SCHEMA
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        Config::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn minimal_and_defaults() {
        let config =
            Config::parse(r#"{"states":[{"name":"prod","path":"/tmp/x.tfstate"}]}"#).unwrap();
        assert_eq!(config.refresh_interval, 30);
        assert!(config.terraform.trust_user_agent);
        assert!(config.require_state_on_start);
    }

    #[test]
    fn errors_name_the_key_and_value() {
        let e = error(r#"{"states":[{"name":"a","path":"/x"}],"refresh_interval":"soon"}"#);
        assert!(e.contains("refresh_interval") && e.contains("soon"), "{e}");
        let e = error(r#"{"states":[{"name":"a","path":"/x"},{"name":"a","path":"/y"}]}"#);
        assert!(e.contains("states[1].name") && e.contains("\"a\""), "{e}");
        let e = error(r#"{"states":[{"name":"a","path":"/x","colour":"red"}]}"#);
        assert!(e.contains("states[0]") && e.contains("colour"), "{e}");
        let e = error(r#"{"states":[]}"#);
        assert!(e.contains("states") && e.contains("at least one"), "{e}");
        let e = error(r#"{"states":[{"name":"a","path":"/x"}],"refresh_interval":0}"#);
        assert!(e.contains("refresh_interval") && e.contains('0'), "{e}");
        let e = error(r#"{"states":[{"name":"a","path":"/x"}],"terraform":{"principals":[""]}}"#);
        assert!(e.contains("terraform.principals[0]"), "{e}");
        let e = error("");
        assert!(e.contains("states"), "{e}");
        let e = error("[1,2]");
        assert!(e.contains("invalid"), "{e}");
    }

    #[test]
    fn policy_options_are_checked() {
        let base = r#"{"states":[{"name":"a","path":"/x"}],"#;
        let config = Config::parse(&format!(
            r#"{base}"severity_overrides":{{"aws_s3_bucket":"critical"}},"ignore_principals":["arn:aws:iam::*:role/breakglass"],
            "maintenance_windows":[{{"name":"w","days":["sat","sun"],"start":"22:00","end":"02:00","time_zone":"Europe/Paris"}},
            {{"name":"m","from":"2026-12-01T00:00:00Z","to":"2026-12-03T00:00:00Z"}}]}}"#
        ))
        .unwrap();
        let policy = config.policy().unwrap();
        assert_eq!(
            policy.severity_overrides["aws_s3_bucket"],
            Severity::Critical
        );
        assert_eq!(
            (
                policy.maintenance.weekly.len(),
                policy.maintenance.one_off.len()
            ),
            (1, 1)
        );

        for (bad, key) in [
            (
                r#""severity_overrides":{"aws_s3_bucket":"urgent"}"#,
                "severity_overrides.aws_s3_bucket",
            ),
            (
                r#""maintenance_windows":[{"name":"w","days":["someday"],"start":"22:00","end":"02:00"}]"#,
                "maintenance_windows[0].days[0]",
            ),
            (
                r#""maintenance_windows":[{"name":"w","days":["sat"],"start":"25:00","end":"02:00"}]"#,
                "maintenance_windows[0].start",
            ),
            (
                r#""maintenance_windows":[{"name":"w","days":["sat"],"start":"22:00","end":"02:00","time_zone":"Mars/Olympus"}]"#,
                "maintenance_windows[0].time_zone",
            ),
            (
                r#""maintenance_windows":[{"name":"m","from":"2026-12-03T00:00:00Z","to":"2026-12-01T00:00:00Z"}]"#,
                "maintenance_windows[0].to",
            ),
            (
                r#""maintenance_windows":[{"name":"m","from":"yesterday","to":"2026-12-01T00:00:00Z"}]"#,
                "maintenance_windows[0].from",
            ),
            (r#""ignore_principals":[""]"#, "ignore_principals[0]"),
        ] {
            let e = error(&format!("{base}{bad}}}"));
            assert!(e.contains(key), "{bad}: {e}");
        }
    }

    #[test]
    fn schema_documents_every_key() {
        let schema = schema();
        for key in [
            "states",
            "refresh_interval",
            "terraform",
            "principals",
            "trust_user_agent",
            "require_state_on_start",
            "catalog_files",
            "max_state_bytes",
        ] {
            assert!(schema.contains(key), "{key} missing from the schema");
        }
    }
}
