//! The user's settings (the plugin's `init_config`, `tfdrift-replay --config`): one typed struct whose doc
//! comments become the JSON schema Falco shows and validates against, checked once when deserialised (errors
//! name the offending key and value), and what it builds (`build.rs`) for the plugin and the replay command.

mod build;
mod values;

pub use values::{AccountId, AnyOr, EnvName, ProjectId, Region, Seconds, Url};

use crate::catalog::Severity;
use crate::cloudtrail::{Principals, TerraformIdentity};
use crate::drift::Policy;
use crate::drift::maintenance::{OneOff, Weekly, Windows, parse_weekday};
use falco_plugin::schemars::{self, JsonSchema};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::num::NonZeroU64;
use std::path::PathBuf;
use std::sync::LazyLock;

/// tfdrift configuration.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "falco_plugin::schemars")]
pub struct Config {
    /// The Terraform states to index. Each has a unique `name`, reported in `tfdrift.state`.
    pub states: Vec<StateConfig>,
    /// Seconds between checks of the states for changes (an unchanged state costs a `stat` or one
    /// conditional request, not a download nor a parse).
    #[serde(default = "default_refresh_interval")]
    pub refresh_interval: Seconds<1, 86400>,
    /// Seconds one poll of a source may take, all its requests together (an S3 listing and its downloads, an
    /// HCP Terraform organization's workspaces): then it is given up, its states are kept, and it counts as a
    /// failure. Sources are polled at the same time, so a slow one delays no other.
    #[serde(default = "default_poll_timeout")]
    pub poll_timeout: Seconds<1, 3600>,
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
    /// The largest state accepted (file, object or download), in bytes; a larger one is refused and the
    /// last good version kept.
    #[serde(default = "default_max_state_bytes")]
    pub max_state_bytes: NonZeroU64,
    /// The most resource instances (deposed objects included) accepted in one state; a state with more is
    /// refused and the last good version kept. Bounds the index's memory whatever the file holds (an empty
    /// instance costs about 230 bytes of index).
    #[serde(default = "default_max_state_instances")]
    pub max_state_instances: NonZeroU64,
    /// The most resource instances of all states together. A new version of a state that would cross it is
    /// refused, naming the state, and its last good version kept (the states already loaded keep their
    /// place). Bounds the index's memory across an estate of discovered states.
    #[serde(default = "default_max_total_instances")]
    pub max_total_instances: NonZeroU64,
    /// The largest CloudTrail record tfdrift reads, in bytes: a larger event gets no tfdrift values, and no
    /// parse. CloudTrail records are a few kilobytes; the limit bounds the cost of a hostile event.
    #[serde(default = "default_max_record_bytes")]
    pub max_record_bytes: NonZeroU64,
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
    #[schemars(with = "BTreeMap<String, SeverityName>", extend("default" = {}))]
    pub severity_overrides: BTreeMap<String, Severity>,
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

/// A configured state: its name, where it comes from, and the scope of its resources. Its schema is the
/// one of the keys users write (`StateEntry`).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "StateEntry")]
pub struct StateConfig {
    /// The state's name (unique), as fields and logs show it.
    pub name: String,
    /// Where it is read from.
    pub source: Source,
    /// `None`: inferred from the state's ARNs.
    pub account_id: Option<AnyOr<AccountId>>,
    /// `None`: inferred from the state's ARNs.
    pub region: Option<AnyOr<Region>>,
    /// `None`: inferred from the state's `google_*` resources.
    pub project_id: Option<AnyOr<ProjectId>>,
}

/// Where a state comes from: one of the keys `path`, `s3`, `gcs`, `http`, `hcp`.
#[derive(Debug, Clone)]
pub enum Source {
    /// A local file (`path`).
    Path(PathBuf),
    /// An S3 object, or a workspace family under a key (`s3`).
    S3(S3StateConfig),
    /// A Cloud Storage object, or a workspace family under a prefix (`gcs`).
    Gcs(GcsStateConfig),
    /// A URL (`http`), such as Terraform's HTTP backend.
    Http(HttpStateConfig),
    /// HCP Terraform or Terraform Enterprise workspaces (`hcp`).
    Hcp(HcpStateConfig),
}

/// One Terraform state (or, with workspace discovery or HCP Terraform tags, a family of states): a unique
/// `name` and exactly one of `path`, `s3`, `gcs`, `http`, `hcp`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "falco_plugin::schemars", rename = "StateConfig")]
struct StateEntry {
    /// A short unique name for this state (`prod-network`), reported in `tfdrift.state`. A state found by
    /// workspace discovery or by HCP Terraform tags is reported as `name/workspace`.
    name: String,
    /// Path of a local state file (`terraform.tfstate`), reloaded when it changes.
    #[serde(default)]
    path: Option<PathBuf>,
    /// A state in S3 (Terraform's `s3` backend), or an S3-compatible store.
    #[serde(default)]
    s3: Option<S3StateConfig>,
    /// A state in Google Cloud Storage (Terraform's `gcs` backend).
    #[serde(default)]
    gcs: Option<GcsStateConfig>,
    /// A state served over HTTP (Terraform's `http` backend, GitLab-managed Terraform state).
    #[serde(default)]
    http: Option<HttpStateConfig>,
    /// The current state version of HCP Terraform or Terraform Enterprise workspaces.
    #[serde(default)]
    hcp: Option<HcpStateConfig>,
    /// The AWS account (12 digits) the state's resources live in: a call only matches states of its
    /// account. Default: inferred from the ARNs in the state when they all name one account. `"*"`: any.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    account_id: Option<AnyOr<AccountId>>,
    /// The AWS region (`eu-west-1`) of the state's regional resources: a call in another region does not
    /// match them (global resources, such as IAM, always do). Default: inferred from the ARNs in the state
    /// when they all name one region. `"*"`: any.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    region: Option<AnyOr<Region>>,
    /// The Google Cloud project id (`my-project`) of the state's `google_*` resources: a call logged in
    /// another project does not match them. Default: inferred from the state's Google resources (their
    /// `project` attribute, or the `projects/<id>/` their ids name) when they all name one project; a
    /// resource that names its own project is judged by it. `"*"`: any. (`account_id` and `region` scope
    /// the state's `aws_*` resources; a Google resource is located by its own zone, region or location.)
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    project_id: Option<AnyOr<ProjectId>>,
}

impl JsonSchema for StateConfig {
    fn schema_name() -> Cow<'static, str> {
        StateEntry::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        StateEntry::json_schema(generator)
    }
}

impl TryFrom<StateEntry> for StateConfig {
    type Error = String;

    /// Exactly one source key.
    fn try_from(entry: StateEntry) -> Result<Self, String> {
        let mut given = [
            entry.path.map(|p| ("path", Source::Path(p))),
            entry.s3.map(|s| ("s3", Source::S3(s))),
            entry.gcs.map(|g| ("gcs", Source::Gcs(g))),
            entry.http.map(|h| ("http", Source::Http(h))),
            entry.hcp.map(|h| ("hcp", Source::Hcp(h))),
        ]
        .into_iter()
        .flatten();
        match (given.next(), given.next()) {
            (Some((_, source)), None) => Ok(StateConfig {
                name: entry.name,
                source,
                account_id: entry.account_id,
                region: entry.region,
                project_id: entry.project_id,
            }),
            (None, _) => Err("needs one of `path`, `s3`, `gcs`, `http`, `hcp`".to_owned()),
            (Some((first, _)), Some((second, _))) => {
                let names: Vec<&str> = [first, second]
                    .into_iter()
                    .chain(given.map(|(name, _)| name))
                    .collect();
                Err(format!(
                    "needs exactly one of `path`, `s3`, `gcs`, `http`, `hcp`, not {}",
                    names.join(" and ")
                ))
            }
        }
    }
}

/// A state in S3. Credentials come from the AWS SDK's default chain (environment, shared profile, web
/// identity for Kubernetes service accounts, container and instance metadata), never from this file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "falco_plugin::schemars")]
pub struct S3StateConfig {
    /// Bucket name.
    pub bucket: String,
    /// Key of the state object, as in the backend's `key` (`network/terraform.tfstate`). Required, unless
    /// `discover` is given instead.
    #[serde(default)]
    pub key: Option<String>,
    /// Discovery: every object whose key matches a pattern is a state of its own, named `name/<key>`
    /// (instead of `key`): `{"pattern": "live/*/*/*/terraform.tfstate"}`.
    #[serde(default)]
    pub discover: Option<DiscoverConfig>,
    /// The bucket's region. Default: the SDK's (`AWS_REGION`, the profile).
    #[serde(default)]
    pub region: Option<Region>,
    /// Endpoint URL of an S3-compatible store (`https://minio.example.com:9000`).
    #[serde(default)]
    pub endpoint: Option<Url>,
    /// Address objects as `endpoint/bucket/key` rather than `bucket.endpoint/key`. Default: true with a
    /// custom `endpoint`, false otherwise.
    #[serde(default)]
    pub use_path_style: Option<bool>,
    /// ARN of a role to assume (with the default chain's credentials) to read the state.
    #[serde(default)]
    pub role_arn: Option<String>,
    /// Where other workspaces' states live, as in the backend: `<prefix>/<workspace>/<key>`. Default `env:`.
    #[serde(default)]
    pub workspace_key_prefix: Option<String>,
    /// Workspace discovery: `"*"` or a list of patterns (`["prod-*", "default"]`, `*` and `?` wildcards).
    /// Every matching workspace under `workspace_key_prefix` (and `default`, the state at `key` itself) is
    /// loaded as the state `name/workspace`; new and removed workspaces are picked up on refresh.
    #[serde(default)]
    pub workspaces: Option<Workspaces>,
}

/// States discovered in a bucket (`s3` or `gcs`) by key pattern.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "falco_plugin::schemars")]
pub struct DiscoverConfig {
    /// Which keys are states, matched against the whole key: `*` any characters within one `/`-separated
    /// segment, `?` one character, `**` (a whole segment) any number of segments
    /// (`live/*/*/*/terraform.tfstate`, `**/terraform.tfstate`).
    pub pattern: String,
    /// Only keys under this prefix are listed (`live/`). Default: the pattern's leading segments without
    /// wildcards.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Scope from the key: a pattern like `pattern` whose segments `{account}`, `{region}` or `{project}`
    /// give a state's account, region or Google project (`live/{account}/{region}/**`). Where a state's
    /// key matches (an account of 12 digits, a region's shape), those parts are the key's; where it does not,
    /// the state is scoped as without it (`account_id`, `region`, `project_id`, or inferred).
    #[serde(default)]
    pub scope: Option<String>,
    /// Most downloads at a time, 1 to 64 (`s3`; a `gcs` source downloads one at a time).
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
}

fn default_concurrency() -> u32 {
    8
}

impl DiscoverConfig {
    /// The prefix listed: the configured one, or the pattern's leading literal segments.
    pub fn listed_prefix(&self) -> String {
        match &self.prefix {
            Some(prefix) => prefix.clone(),
            None => crate::sources::KeyPattern::new(&self.pattern)
                .map(|p| p.literal_prefix())
                .unwrap_or_default(),
        }
    }
}

/// A state in Google Cloud Storage, where Terraform's `gcs` backend keeps it: `<prefix><workspace>.tfstate`,
/// `<prefix>default.tfstate` for the default workspace. Credentials are Application Default Credentials
/// (`GOOGLE_APPLICATION_CREDENTIALS`, gcloud's application-default login, GKE Workload Identity or the
/// instance's service account), never this file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "falco_plugin::schemars")]
pub struct GcsStateConfig {
    /// Bucket name, as in the backend's `bucket`.
    pub bucket: String,
    /// The backend's `prefix` (`env/prod`): leading `/`s are dropped and a trailing `/` is added, as the
    /// backend does. Default: none (the states are at the bucket's root).
    #[serde(default)]
    pub prefix: String,
    /// Another endpoint than Google's, as the backend's `storage_custom_endpoint`
    /// (`https://storage.example.com/storage/v1/`; the `/storage/v1/` path may be left out).
    #[serde(default)]
    pub endpoint: Option<Url>,
    /// `default`: Application Default Credentials. `anonymous`: none at all, for an emulator or a public
    /// bucket.
    #[serde(default)]
    #[schemars(with = "GcsCredentialsName", extend("default" = "default"))]
    pub credentials: GcsCredentialsChoice,
    /// Workspace discovery: `"*"` or a list of patterns (`["prod-*", "default"]`, `*` and `?` wildcards).
    /// Every `<workspace>.tfstate` directly under the prefix whose workspace matches is loaded as the state
    /// `name/workspace`; new and removed workspaces are picked up on refresh. Without it, only the default
    /// workspace's state is read. With `discover`: only the discovered objects named `<workspace>.tfstate`
    /// of a matching workspace.
    #[serde(default)]
    pub workspaces: Option<Workspaces>,
    /// Discovery: every object whose name matches a pattern is a state of its own, named `name/<object>`
    /// (instead of `prefix`): `{"pattern": "live/**/*.tfstate"}`.
    #[serde(default)]
    pub discover: Option<DiscoverConfig>,
}

/// Which credentials a `gcs` state is read with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GcsCredentialsChoice {
    /// Application Default Credentials.
    #[default]
    Default,
    /// No credentials (an emulator, a public bucket).
    Anonymous,
}

/// `"*"`, one pattern, or a list of patterns.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
#[schemars(crate = "falco_plugin::schemars")]
pub enum Workspaces {
    /// One pattern.
    One(String),
    /// A list of patterns.
    Many(Vec<String>),
}

impl Workspaces {
    /// The patterns as a list.
    pub fn patterns(&self) -> Vec<String> {
        match self {
            Workspaces::One(one) => vec![one.clone()],
            Workspaces::Many(many) => many.clone(),
        }
    }
}

/// A state over HTTP: `GET url`, conditional on the ETag or Last-Modified the server gave.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "falco_plugin::schemars")]
pub struct HttpStateConfig {
    /// URL of the state (`https://gitlab.example.com/api/v4/projects/42/terraform/state/production`).
    pub url: Url,
    /// User name for basic authentication (GitLab: any user name, with a token as the password).
    #[serde(default)]
    pub username: Option<String>,
    /// Name of the environment variable holding the basic-authentication password (required with
    /// `username`).
    #[serde(default)]
    pub password_env: Option<EnvName>,
    /// Name of the environment variable holding a bearer token (instead of basic authentication).
    #[serde(default)]
    pub token_env: Option<EnvName>,
}

/// HCP Terraform or Terraform Enterprise: the current state version of one workspace, or of every
/// workspace with the given tags.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "falco_plugin::schemars")]
pub struct HcpStateConfig {
    /// Base URL of HCP Terraform or of a Terraform Enterprise installation.
    #[serde(default = "default_hcp_address")]
    pub address: Url,
    /// Organization name.
    pub organization: String,
    /// Workspace name (or use `tags`).
    #[serde(default)]
    pub workspace: Option<String>,
    /// Every workspace with all these tags, each loaded as the state `name/workspace` (or use `workspace`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Name of the environment variable holding an API token (a team or user token that can read state
    /// versions).
    pub token_env: EnvName,
}

fn default_hcp_address() -> Url {
    Url::try_from("https://app.terraform.io".to_owned()).expect("a valid URL")
}

/// The names of [`GcsCredentialsChoice`], for the schema (one string of a list).
#[derive(JsonSchema)]
#[schemars(crate = "falco_plugin::schemars", rename_all = "lowercase")]
#[expect(dead_code, reason = "a schema only")]
enum GcsCredentialsName {
    Default,
    Anonymous,
}

/// A severity, as the catalog names them.
#[derive(JsonSchema)]
#[schemars(crate = "falco_plugin::schemars", rename_all = "lowercase")]
#[expect(dead_code, reason = "a schema only")]
enum SeverityName {
    Critical,
    High,
    Medium,
    Low,
}

/// How Terraform's calls are recognised.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "falco_plugin::schemars")]
pub struct TerraformConfig {
    /// ARNs of the identities that run Terraform (CI roles, say), with `*` and `?` wildcards. Matched against
    /// the caller's ARN and, for assumed roles, the role's ARN: `arn:aws:iam::111122223333:role/terraform-ci`. Name
    /// the account: a wildcard there matches a role of that name in any account (warned about at init).
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

/// Whether an ARN pattern's account (its fifth `:`-separated part) can be any account: a wildcard there, or,
/// in a pattern with fewer parts, a wildcard that spans it.
fn any_account(pattern: &str) -> bool {
    let wildcard = |part: &str| part.contains(['*', '?']);
    let parts: Vec<&str> = pattern.splitn(6, ':').collect();
    match parts.get(4) {
        Some(account) => wildcard(account),
        // Fewer parts: a wildcard spans the account (`*:role/x`, `*`).
        None => wildcard(pattern),
    }
}

fn default_poll_timeout() -> Seconds<1, 3600> {
    Seconds::new(crate::state::Limits::default().poll_timeout.as_secs())
}

fn default_refresh_interval() -> Seconds<1, 86400> {
    Seconds::new(30)
}

fn default_true() -> bool {
    true
}

fn default_max_state_bytes() -> NonZeroU64 {
    NonZeroU64::new(512 * 1024 * 1024).expect("not zero")
}

fn default_max_state_instances() -> NonZeroU64 {
    NonZeroU64::new(crate::state::Limits::default().max_instances as u64).unwrap_or(NonZeroU64::MIN)
}

fn default_max_total_instances() -> NonZeroU64 {
    NonZeroU64::new(crate::state::Limits::default().max_total_instances as u64)
        .unwrap_or(NonZeroU64::MIN)
}

fn default_max_record_bytes() -> NonZeroU64 {
    NonZeroU64::new(4 * 1024 * 1024).expect("not zero")
}

/// A configuration error: the key (as a path such as `states[1].name`) and what is wrong with its value.
#[derive(Debug, thiserror::Error)]
#[error("invalid tfdrift configuration: {key}: {problem}")]
pub struct ConfigError {
    /// Where the value is, as a path (`states[1].name`).
    pub key: String,
    /// What is wrong with it.
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
            if state.name.contains('/') {
                return fail(
                    format!("states[{i}].name"),
                    format!(
                        "{:?} contains `/`, which separates a state's name from a discovered workspace's",
                        state.name
                    ),
                );
            }
            check_state(i, state)?;
        }
        if let Some((key, _)) = self.principal_patterns().find(|(_, p)| p.trim().is_empty()) {
            return fail(key, "must not be empty".into());
        }
        self.policy().map(|_| ())
    }

    /// What is allowed but probably not meant, one sentence each, for the log at init: a principal pattern
    /// whose account is a wildcard (`arn:aws:iam::*:role/terraform-ci`) also matches a role of that name in
    /// any other account, including one an attacker owns.
    pub fn warnings(&self) -> Vec<String> {
        self.principal_patterns()
            .filter(|(_, pattern)| any_account(pattern))
            .map(|(key, pattern)| {
                format!(
                    "{key} ({pattern:?}) matches that name in every AWS account, not only yours: name the account ids (one pattern each) so that a role of the same name in another account is not taken for it"
                )
            })
            .collect()
    }

    /// Every principal pattern (Terraform's, then the ignored ones), with its key.
    fn principal_patterns(&self) -> impl Iterator<Item = (String, &str)> {
        fn keyed<'a>(key: &str, patterns: &'a [String]) -> impl Iterator<Item = (String, &'a str)> {
            patterns
                .iter()
                .enumerate()
                .map(move |(i, p)| (format!("{key}[{i}]"), p.as_str()))
        }
        keyed("terraform.principals", &self.terraform.principals)
            .chain(keyed("ignore_principals", &self.ignore_principals))
    }

    /// What decides verdicts, from this configuration.
    pub fn policy(&self) -> Result<Policy, ConfigError> {
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
            severity_overrides: self
                .severity_overrides
                .iter()
                .map(|(resource_type, severity)| (resource_type.clone(), *severity))
                .collect(),
            maintenance,
        })
    }
}

/// Checks what the types of a state's source do not: values that must agree with each other, keys and
/// patterns that must not be empty.
fn check_discover(i: usize, source: &str, discover: &DiscoverConfig) -> Result<(), ConfigError> {
    let fail = |field: &str, problem: String| {
        Err(ConfigError {
            key: format!("states[{i}].{source}.discover.{field}"),
            problem,
        })
    };
    let pattern = match crate::sources::KeyPattern::new(&discover.pattern) {
        Ok(pattern) => pattern,
        Err(e) => return fail("pattern", e.to_string()),
    };
    if let Some(prefix) = &discover.prefix {
        if prefix.starts_with('/') {
            return fail(
                "prefix",
                "must be a key prefix, not starting with `/`".into(),
            );
        }
        // No key under the prefix could match: a typo that would load nothing.
        let literal = pattern.literal_prefix();
        if !prefix.starts_with(&literal) && !literal.starts_with(prefix.as_str()) {
            return fail(
                "prefix",
                format!(
                    "no key under {prefix:?} can match the pattern {:?}",
                    discover.pattern
                ),
            );
        }
    }
    if let Some(scope) = &discover.scope
        && let Err(e) = crate::sources::KeyScope::new(scope, "", None)
    {
        return fail("scope", e.to_string());
    }
    if !(1..=64).contains(&discover.concurrency) {
        return fail("concurrency", "must be 1 to 64".into());
    }
    Ok(())
}

fn check_state(i: usize, state: &StateConfig) -> Result<(), ConfigError> {
    let fail = |field: &str, problem: &str| {
        Err(ConfigError {
            key: format!("states[{i}].{field}"),
            problem: problem.to_owned(),
        })
    };
    match &state.source {
        Source::Path(path) if path.as_os_str().is_empty() => fail("path", "must not be empty"),
        Source::Path(_) => Ok(()),
        Source::S3(s3) => {
            if s3.bucket.trim().is_empty() {
                return fail("s3.bucket", "must not be empty");
            }
            match (&s3.key, &s3.discover) {
                (Some(_), Some(_)) => {
                    return fail("s3.discover", "use `key` or `discover`, not both");
                }
                (None, None) => return fail("s3.key", "one of `key` and `discover` is required"),
                (Some(key), None)
                    if key.trim().is_empty() || key.starts_with('/') || key.ends_with('/') =>
                {
                    return fail(
                        "s3.key",
                        "must be an object key, neither empty nor starting or ending with `/`",
                    );
                }
                (Some(_), None) => {}
                (None, Some(discover)) => check_discover(i, "s3", discover)?,
            }
            if s3
                .role_arn
                .as_deref()
                .is_some_and(|arn| !arn.starts_with("arn:"))
            {
                return fail(
                    "s3.role_arn",
                    "is not an ARN (`arn:aws:iam::123456789012:role/name`)",
                );
            }
            if let Some(prefix) = &s3.workspace_key_prefix
                && (prefix.is_empty() || prefix.starts_with('/') || prefix.ends_with('/'))
            {
                return fail(
                    "s3.workspace_key_prefix",
                    "must be a key prefix, neither empty nor starting or ending with `/`",
                );
            }
            if let Some(workspaces) = &s3.workspaces {
                let patterns = workspaces.patterns();
                if patterns.is_empty() {
                    return fail(
                        "s3.workspaces",
                        "must name at least one pattern (`*` for all)",
                    );
                }
                if let Some(w) = patterns
                    .iter()
                    .position(|p| p.trim().is_empty() || p.contains('/'))
                {
                    return fail(
                        &format!("s3.workspaces[{w}]"),
                        "must be a workspace name or pattern, without `/`",
                    );
                }
            }
            Ok(())
        }
        Source::Gcs(gcs) => {
            // Bucket names are 3 to 222 characters of lowercase letters, digits, `-`, `_` and `.`.
            let bucket_ok = (3..=222).contains(&gcs.bucket.len())
                && gcs.bucket.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
                });
            if !bucket_ok {
                return fail(
                    "gcs.bucket",
                    "must be a bucket name (3 to 222 lowercase letters, digits, `-`, `_`, `.`)",
                );
            }
            if gcs.prefix.chars().any(char::is_control) {
                return fail(
                    "gcs.prefix",
                    "must be an object name prefix, without control characters",
                );
            }
            if let Some(workspaces) = &gcs.workspaces {
                let patterns = workspaces.patterns();
                if patterns.is_empty() {
                    return fail(
                        "gcs.workspaces",
                        "must name at least one pattern (`*` for all)",
                    );
                }
                if let Some(w) = patterns
                    .iter()
                    .position(|p| p.trim().is_empty() || p.contains('/'))
                {
                    return fail(
                        &format!("gcs.workspaces[{w}]"),
                        "must be a workspace name or pattern, without `/`",
                    );
                }
            }
            if let Some(discover) = &gcs.discover {
                if !gcs.prefix.is_empty() {
                    return fail(
                        "gcs.prefix",
                        "use `discover.prefix` with `discover`, not `prefix`",
                    );
                }
                check_discover(i, "gcs", discover)?;
            }
            Ok(())
        }
        Source::Http(http) => match (&http.username, &http.password_env, &http.token_env) {
            (Some(_), None, _) => fail("http.password_env", "is required with `username`"),
            (None, Some(_), _) => fail("http.username", "is required with `password_env`"),
            (Some(_), Some(_), Some(_)) => fail(
                "http.token_env",
                "use basic authentication (`username`, `password_env`) or a token, not both",
            ),
            _ => Ok(()),
        },
        Source::Hcp(hcp) => {
            if hcp.organization.trim().is_empty() {
                return fail("hcp.organization", "must not be empty");
            }
            match (&hcp.workspace, hcp.tags.is_empty()) {
                (Some(_), false) => {
                    return fail("hcp.tags", "use `workspace` or `tags`, not both");
                }
                (None, true) => {
                    return fail("hcp.workspace", "one of `workspace` and `tags` is required");
                }
                (Some(name), true) if name.trim().is_empty() => {
                    return fail("hcp.workspace", "must not be empty");
                }
                _ => {}
            }
            match hcp
                .tags
                .iter()
                .position(|t| t.trim().is_empty() || t.contains(','))
            {
                Some(t) => fail(&format!("hcp.tags[{t}]"), "must be a tag name, without `,`"),
                None => Ok(()),
            }
        }
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
        // The SDK parses the configuration in `plugin_init`, which catches nothing: a panic in the checks
        // becomes an error here.
        match std::panic::catch_unwind(|| Config::from_value(value)) {
            Ok(checked) => checked.map(CheckedConfig).map_err(serde::de::Error::custom),
            Err(_) => Err(serde::de::Error::custom(
                "tfdrift internal error while checking the configuration",
            )),
        }
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
    use crate::sources::ScopeSetting;

    fn error(text: &str) -> String {
        Config::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn principals_with_any_account_are_warned_about() {
        let config = Config::parse(
            r#"{"states":[{"name":"a","path":"/x"}],
                 "terraform":{"principals":["arn:aws:iam::*:role/terraform-ci","arn:aws:iam::111122223333:role/ci","arn:aws:sts::111122223333:assumed-role/ci/*"]},
                 "ignore_principals":["*:role/breakglass","arn:aws:iam::1111222233?3:role/x"]}"#,
        )
        .unwrap();
        let warnings = config.warnings();
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(
            warnings[0].contains("terraform.principals[0]"),
            "{warnings:?}"
        );
        assert!(warnings[1].contains("ignore_principals[0]"), "{warnings:?}");
        assert!(warnings[2].contains("ignore_principals[1]"), "{warnings:?}");
    }

    #[test]
    fn minimal_and_defaults() {
        let config =
            Config::parse(r#"{"states":[{"name":"prod","path":"/tmp/x.tfstate"}]}"#).unwrap();
        assert_eq!(config.refresh_interval.get(), 30);
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
    fn every_source_kind_parses() {
        let config = Config::parse(
            r#"{"states":[
              {"name":"local","path":"/x"},
              {"name":"net","s3":{"bucket":"b","key":"net/terraform.tfstate","region":"eu-west-1",
                "endpoint":"http://127.0.0.1:9000","role_arn":"arn:aws:iam::123456789012:role/reader",
                "workspace_key_prefix":"env:","workspaces":"*"},"account_id":"123456789012","region":"eu-west-1"},
              {"name":"ws","s3":{"bucket":"b","key":"k","workspaces":["prod-*","default"]},"account_id":"*"},
              {"name":"gitlab","http":{"url":"https://gitlab.example.com/api/v4/projects/1/terraform/state/prod",
                "username":"tfdrift","password_env":"GITLAB_TOKEN"}},
              {"name":"bearer","http":{"url":"http://127.0.0.1:8080/state","token_env":"STATE_TOKEN"}},
              {"name":"hcp","hcp":{"organization":"acme","workspace":"network","token_env":"TFE_TOKEN"}},
              {"name":"tagged","hcp":{"address":"https://tfe.example.com","organization":"acme",
                "tags":["prod","aws"],"token_env":"TFE_TOKEN"}}
            ]}"#,
        )
        .unwrap();
        let workspaces = |state: &StateConfig| match &state.source {
            Source::S3(s3) => s3.workspaces.as_ref().unwrap().patterns(),
            other => panic!("not S3: {other:?}"),
        };
        assert_eq!(workspaces(&config.states[1]), ["*"]);
        assert_eq!(workspaces(&config.states[2]), ["prod-*", "default"]);
        let Source::Hcp(hcp) = &config.states[5].source else {
            panic!("not HCP");
        };
        assert_eq!(hcp.address.as_str(), "https://app.terraform.io");
    }

    #[test]
    fn a_google_project_scopes_a_state() {
        let config = Config::parse(
            r#"{"states":[
              {"name":"prod","path":"/p","project_id":"acme-prod"},
              {"name":"legacy","path":"/l","project_id":"example.com:acme-legacy"},
              {"name":"any","path":"/a","project_id":"*"},
              {"name":"infer","path":"/i"}
            ]}"#,
        )
        .unwrap();
        let projects: Vec<_> = config
            .sources()
            .into_iter()
            .map(|r| r.scope.project)
            .collect();
        assert_eq!(
            projects,
            [
                ScopeSetting::Is("acme-prod".into()),
                ScopeSetting::Is("example.com:acme-legacy".into()),
                ScopeSetting::Any,
                ScopeSetting::Infer,
            ]
        );
        // The AWS keys are not the project's.
        assert_eq!(
            config.states[0].account_id, None,
            "project_id sets no AWS account"
        );
    }

    #[test]
    fn gcs_states() {
        let config = Config::parse(
            r#"{"states":[
              {"name":"gke","gcs":{"bucket":"acme-tf-state","prefix":"env/prod","workspaces":"*"}},
              {"name":"emu","gcs":{"bucket":"tf.state_1","endpoint":"http://127.0.0.1:4443",
                "credentials":"anonymous"}}
            ]}"#,
        )
        .unwrap();
        let Source::Gcs(gke) = &config.states[0].source else {
            panic!("not gcs");
        };
        assert_eq!(gke.prefix, "env/prod");
        assert_eq!(gke.credentials, GcsCredentialsChoice::Default);
        assert_eq!(gke.workspaces.as_ref().unwrap().patterns(), ["*"]);
        let Source::Gcs(emu) = &config.states[1].source else {
            panic!("not gcs");
        };
        assert_eq!(emu.prefix, "");
        assert_eq!(emu.credentials, GcsCredentialsChoice::Anonymous);
        assert!(emu.workspaces.is_none());
    }

    #[test]
    fn discovered_states() {
        let config = Config::parse(
            r#"{"states":[
              {"name":"estate","s3":{"bucket":"b","discover":{"pattern":"live/*/*/*/terraform.tfstate",
                "scope":"live/{account}/{region}/**"}}},
              {"name":"all","s3":{"bucket":"b","discover":{"pattern":"**/terraform.tfstate","prefix":"live/",
                "concurrency":2}}}],
              "max_total_instances":100000}"#,
        )
        .expect("valid");
        assert_eq!(config.max_total_instances.get(), 100_000);
        assert_eq!(config.limits().max_total_instances, 100_000);
        let discover = |i: usize| match &config.states[i].source {
            Source::S3(s3) => s3.discover.clone().expect("discover"),
            other => panic!("not S3: {other:?}"),
        };
        // The prefix listed: the pattern's literal segments, or the one given.
        assert_eq!(discover(0).listed_prefix(), "live/");
        assert_eq!(discover(0).concurrency, 8);
        assert_eq!(discover(1).listed_prefix(), "live/");
        assert_eq!(discover(1).concurrency, 2);
        assert_eq!(
            Config::parse(r#"{"states":[{"name":"a","path":"/x"}]}"#)
                .expect("valid")
                .limits()
                .max_total_instances,
            5_000_000
        );
    }

    #[test]
    fn source_errors_name_the_key() {
        for (state, key) in [
            (r#"{"name":"a"}"#, "states[0]"),
            (
                r#"{"name":"a","path":"/x","s3":{"bucket":"b","key":"k"}}"#,
                "states[0]",
            ),
            (r#"{"name":"a/b","path":"/x"}"#, "states[0].name"),
            (r#"{"name":"a","path":""}"#, "states[0].path"),
            (
                r#"{"name":"a","s3":{"bucket":"","key":"k"}}"#,
                "states[0].s3.bucket",
            ),
            (r#"{"name":"a","s3":{"key":"k"}}"#, "states[0].s3"),
            (
                r#"{"name":"a","s3":{"bucket":"b","key":"/k"}}"#,
                "states[0].s3.key",
            ),
            (
                r#"{"name":"a","s3":{"bucket":"b","key":"k","region":"Europe"}}"#,
                "states[0].s3.region",
            ),
            (
                r#"{"name":"a","s3":{"bucket":"b","key":"k","endpoint":"ftp://x"}}"#,
                "states[0].s3.endpoint",
            ),
            (
                r#"{"name":"a","s3":{"bucket":"b","key":"k","role_arn":"reader"}}"#,
                "states[0].s3.role_arn",
            ),
            (
                r#"{"name":"a","s3":{"bucket":"b","key":"k","workspace_key_prefix":"env:/"}}"#,
                "states[0].s3.workspace_key_prefix",
            ),
            (
                r#"{"name":"a","s3":{"bucket":"b","key":"k","workspaces":[]}}"#,
                "states[0].s3.workspaces",
            ),
            (
                r#"{"name":"a","s3":{"bucket":"b","key":"k","workspaces":["a/b"]}}"#,
                "states[0].s3.workspaces[0]",
            ),
            (
                r#"{"name":"a","s3":{"bucket":"b","key":"k","secret_key":"x"}}"#,
                "states[0].s3",
            ),
            (
                r#"{"name":"a","gcs":{"bucket":"B/x"}}"#,
                "states[0].gcs.bucket",
            ),
            (r#"{"name":"a","gcs":{"prefix":"p"}}"#, "states[0].gcs"),
            (
                r#"{"name":"a","gcs":{"bucket":"tf-state","credentials":"service_account"}}"#,
                "states[0].gcs.credentials",
            ),
            (
                r#"{"name":"a","gcs":{"bucket":"tf-state","endpoint":"gs://x"}}"#,
                "states[0].gcs.endpoint",
            ),
            (
                r#"{"name":"a","gcs":{"bucket":"tf-state","workspaces":["a/b"]}}"#,
                "states[0].gcs.workspaces[0]",
            ),
            (r#"{"name":"a","s3":{"bucket":"b"}}"#, "states[0].s3.key"),
            (
                r#"{"name":"a","s3":{"bucket":"b","key":"k","discover":{"pattern":"*"}}}"#,
                "states[0].s3.discover",
            ),
            (
                r#"{"name":"a","s3":{"bucket":"b","discover":{"pattern":"live/a**/x"}}}"#,
                "states[0].s3.discover.pattern",
            ),
            (
                r#"{"name":"a","s3":{"bucket":"b","discover":{"pattern":"live/{account}/x"}}}"#,
                "states[0].s3.discover.pattern",
            ),
            (
                r#"{"name":"a","s3":{"bucket":"b","discover":{"pattern":"live/**","prefix":"other/"}}}"#,
                "states[0].s3.discover.prefix",
            ),
            (
                r#"{"name":"a","s3":{"bucket":"b","discover":{"pattern":"**","scope":"{acount}/**"}}}"#,
                "states[0].s3.discover.scope",
            ),
            (
                r#"{"name":"a","s3":{"bucket":"b","discover":{"pattern":"**","concurrency":0}}}"#,
                "states[0].s3.discover.concurrency",
            ),
            (
                r#"{"name":"a","gcs":{"bucket":"tf-state","prefix":"p","discover":{"pattern":"**"}}}"#,
                "states[0].gcs.prefix",
            ),
            (
                r#"{"name":"a","gcs":{"bucket":"tf-state","discover":{"pattern":"/x"}}}"#,
                "states[0].gcs.discover.pattern",
            ),
            (
                r#"{"name":"a","gcs":{"bucket":"tf-state","encryption_key":"x"}}"#,
                "states[0].gcs",
            ),
            (
                r#"{"name":"a","s3":{"bucket":"b","key":"k"},"gcs":{"bucket":"tf-state"}}"#,
                "states[0]",
            ),
            (
                r#"{"name":"a","http":{"url":"not a url"}}"#,
                "states[0].http.url",
            ),
            (
                r#"{"name":"a","http":{"url":"https://u:p@example.com/s"}}"#,
                "states[0].http.url",
            ),
            (
                r#"{"name":"a","http":{"url":"https://example.com/s","username":"u"}}"#,
                "states[0].http.password_env",
            ),
            (
                r#"{"name":"a","http":{"url":"https://example.com/s","password_env":"P"}}"#,
                "states[0].http.username",
            ),
            (
                r#"{"name":"a","http":{"url":"https://example.com/s","token_env":"glpat-123 secret"}}"#,
                "states[0].http.token_env",
            ),
            (
                r#"{"name":"a","http":{"url":"https://example.com/s","username":"u","password_env":"P","token_env":"T"}}"#,
                "states[0].http.token_env",
            ),
            (
                r#"{"name":"a","http":{"url":"https://example.com/s","password":"hunter2"}}"#,
                "states[0].http",
            ),
            (
                r#"{"name":"a","hcp":{"organization":"o","token_env":"T"}}"#,
                "states[0].hcp.workspace",
            ),
            (
                r#"{"name":"a","hcp":{"organization":"o","workspace":"w","tags":["t"],"token_env":"T"}}"#,
                "states[0].hcp.tags",
            ),
            (
                r#"{"name":"a","hcp":{"organization":"o","tags":["a,b"],"token_env":"T"}}"#,
                "states[0].hcp.tags[0]",
            ),
            (
                r#"{"name":"a","hcp":{"organization":"","workspace":"w","token_env":"T"}}"#,
                "states[0].hcp.organization",
            ),
            (
                r#"{"name":"a","hcp":{"organization":"o","workspace":"w"}}"#,
                "states[0].hcp",
            ),
            (
                r#"{"name":"a","hcp":{"address":"app.terraform.io","organization":"o","workspace":"w","token_env":"T"}}"#,
                "states[0].hcp.address",
            ),
            (
                r#"{"name":"a","path":"/x","account_id":"12345"}"#,
                "states[0].account_id",
            ),
            (
                r#"{"name":"a","path":"/x","region":"EU"}"#,
                "states[0].region",
            ),
            (
                r#"{"name":"a","path":"/x","project_id":"123456789012"}"#,
                "states[0].project_id",
            ),
            (
                r#"{"name":"a","path":"/x","project_id":"projects/acme-prod"}"#,
                "states[0].project_id",
            ),
            (
                r#"{"name":"a","path":"/x","project_id":"Acme-Prod"}"#,
                "states[0].project_id",
            ),
        ] {
            let e = error(&format!(r#"{{"states":[{state}]}}"#));
            assert!(e.contains(key), "{state}: {e}");
        }
        // A secret given where the name of a variable belongs is not echoed back.
        let e = error(
            r#"{"states":[{"name":"a","http":{"url":"https://example.com/s","token_env":"glpat-123 secret"}}]}"#,
        );
        assert!(!e.contains("glpat"), "{e}");
        let e =
            error(r#"{"states":[{"name":"a","http":{"url":"https://u:hunter2@example.com/s"}}]}"#);
        assert!(!e.contains("hunter2"), "{e}");
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
            "s3",
            "workspace_key_prefix",
            "http",
            "token_env",
            "hcp",
            "account_id",
            "project_id",
        ] {
            assert!(schema.contains(key), "{key} missing from the schema");
        }
    }
}
