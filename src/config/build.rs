//! What a checked configuration builds: the catalog, the verdict's policy and engine, the state sources with
//! their scope, and the reload thread's options. The plugin and `tfdrift-replay` both start from here.

use super::{AnyOr, Config, DiscoverConfig, GcsCredentialsChoice, Source, StateConfig};
use crate::catalog::Catalog;
use crate::drift::Engine;
use crate::sources::gcs::{GcsCredentials, GcsOptions, GcsSource};
use crate::sources::hcp::{HcpOptions, HcpSource, Selector};
use crate::sources::http::{HttpAuth, HttpOptions, HttpSource};
use crate::sources::local::LocalFile;
use crate::sources::s3::{S3Options, S3Source};
use crate::sources::{
    Discovery, KeyPattern, KeyScope, Registration, ReloadOptions, ScopeConfig, ScopeSetting,
    StateSource,
};
use crate::state::Limits;
use anyhow::Context;
use std::sync::Arc;

impl Config {
    /// The embedded catalog with `catalog_files` over it.
    pub fn catalog(&self) -> anyhow::Result<Arc<Catalog>> {
        Ok(Arc::new(
            Catalog::with_extensions(&self.catalog_files).context("catalog")?,
        ))
    }

    /// The verdict engine: the catalog and this configuration's policy.
    pub fn engine(&self, catalog: Arc<Catalog>) -> anyhow::Result<Engine> {
        Ok(Engine::new(catalog, self.policy()?))
    }

    /// What one state may cost to load.
    pub fn limits(&self) -> Limits {
        Limits {
            max_bytes: usize::try_from(self.max_state_bytes.get()).unwrap_or(usize::MAX),
            max_instances: usize::try_from(self.max_state_instances.get()).unwrap_or(usize::MAX),
            max_total_instances: usize::try_from(self.max_total_instances.get())
                .unwrap_or(usize::MAX),
            poll_timeout: self.poll_timeout.duration(),
        }
    }

    /// How the reload thread runs.
    pub fn reload_options(&self) -> ReloadOptions {
        ReloadOptions {
            interval: self.refresh_interval.duration(),
            require_state_on_start: self.require_state_on_start,
            limits: self.limits(),
        }
    }

    /// Records longer than this get no values.
    pub fn max_record_bytes(&self) -> usize {
        usize::try_from(self.max_record_bytes.get()).unwrap_or(usize::MAX)
    }

    /// Every configured state's source, registered with its configured scope.
    pub fn sources(&self) -> Vec<Registration> {
        self.states
            .iter()
            .map(|state| {
                let scope = ScopeConfig {
                    account: scope(state.account_id.as_ref()),
                    region: scope(state.region.as_ref()),
                    project: scope(state.project_id.as_ref()),
                    key: key_scope(state),
                };
                Registration {
                    source: source(state),
                    scope,
                }
            })
            .collect()
    }
}

/// The source a configured state comes from.
fn source(state: &StateConfig) -> Box<dyn StateSource> {
    let name = state.name.clone();
    match &state.source {
        Source::Path(path) => Box::new(LocalFile::new(name, path.clone())),
        Source::S3(s3) => Box::new(S3Source::new(
            name,
            S3Options {
                bucket: s3.bucket.clone(),
                key: s3.key.clone().unwrap_or_default(),
                discover: s3.discover.as_ref().and_then(discovery),
                region: s3.region.clone().map(String::from),
                endpoint: s3.endpoint.clone().map(String::from),
                path_style: s3.use_path_style,
                role_arn: s3.role_arn.clone(),
                workspace_key_prefix: s3
                    .workspace_key_prefix
                    .clone()
                    .unwrap_or_else(|| "env:".into()),
                workspaces: s3.workspaces.as_ref().map(|w| w.patterns()),
            },
        )),
        Source::Gcs(gcs) => Box::new(GcsSource::new(
            name,
            GcsOptions {
                bucket: gcs.bucket.clone(),
                prefix: gcs.prefix.clone(),
                endpoint: gcs.endpoint.clone().map(String::from),
                credentials: match gcs.credentials {
                    GcsCredentialsChoice::Default => GcsCredentials::Default,
                    GcsCredentialsChoice::Anonymous => GcsCredentials::Anonymous,
                },
                workspaces: gcs.workspaces.as_ref().map(|w| w.patterns()),
                discover: gcs.discover.as_ref().and_then(discovery),
            },
        )),
        Source::Http(http) => {
            let auth = match (&http.username, &http.password_env, &http.token_env) {
                (Some(username), Some(password_env), _) => HttpAuth::Basic {
                    username: username.clone(),
                    password_env: password_env.to_string(),
                },
                (_, _, Some(token_env)) => HttpAuth::Bearer {
                    token_env: token_env.to_string(),
                },
                _ => HttpAuth::None,
            };
            Box::new(HttpSource::new(
                name,
                HttpOptions {
                    url: http.url.to_string(),
                    auth,
                },
            ))
        }
        Source::Hcp(hcp) => Box::new(HcpSource::new(
            name,
            HcpOptions {
                address: hcp.address.to_string(),
                organization: hcp.organization.clone(),
                selector: match &hcp.workspace {
                    Some(workspace) => Selector::Workspace(workspace.clone()),
                    None => Selector::Tags(hcp.tags.clone()),
                },
                token_env: hcp.token_env.to_string(),
            },
        )),
    }
}

/// What a `discover` setting asks for (checked with the configuration).
fn discovery(d: &DiscoverConfig) -> Option<Discovery> {
    Some(Discovery {
        prefix: d.listed_prefix(),
        pattern: KeyPattern::new(&d.pattern).ok()?,
        concurrency: usize::try_from(d.concurrency).unwrap_or(1),
    })
}

/// The scope pattern of a state's discovered keys, if it has one (checked with the configuration).
fn key_scope(state: &StateConfig) -> Option<KeyScope> {
    let (discover, workspaces) = match &state.source {
        Source::S3(s3) => (
            s3.discover.as_ref()?,
            s3.workspaces.as_ref().map(|_| {
                s3.workspace_key_prefix
                    .clone()
                    .unwrap_or_else(|| "env:".into())
            }),
        ),
        // A gcs workspace's state is an object of its own, matched as it is.
        Source::Gcs(gcs) => (gcs.discover.as_ref()?, None),
        _ => return None,
    };
    KeyScope::new(discover.scope.as_ref()?, &state.name, workspaces).ok()
}

/// A configured scope: `None` is inferred from the state's ARNs, `*` is any.
fn scope<T: ToString>(setting: Option<&AnyOr<T>>) -> ScopeSetting {
    match setting {
        None => ScopeSetting::Infer,
        Some(AnyOr::Any) => ScopeSetting::Any,
        Some(AnyOr::Is(value)) => ScopeSetting::Is(value.to_string().into()),
    }
}
