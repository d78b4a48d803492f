//! The plugin's configuration (`init_config`): one typed struct whose doc comments become the JSON schema
//! Falco shows and validates against. Errors name the offending key and value.

use falco_plugin::schemars::{self, JsonSchema};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::HashSet;
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
        Ok(())
    }
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
