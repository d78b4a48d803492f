//! What a checked configuration builds: the catalog, the verdict's policy and engine, the state sources with
//! their scope, and the reload thread's options. The plugin and `tfdrift-replay` both start from here.

use super::{Config, StateConfig};
use crate::catalog::Catalog;
use crate::drift::Engine;
use crate::sources::hcp::{HcpOptions, HcpSource, Selector};
use crate::sources::http::{HttpAuth, HttpOptions, HttpSource};
use crate::sources::local::LocalFile;
use crate::sources::s3::{S3Options, S3Source};
use crate::sources::{ReloadOptions, ScopeConfig, ScopeSetting, StateSource, with_scope};
use crate::state::Limits;
use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;

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
            max_bytes: usize::try_from(self.max_state_bytes).unwrap_or(usize::MAX),
            max_instances: usize::try_from(self.max_state_instances).unwrap_or(usize::MAX),
            poll_timeout: Duration::from_secs(self.poll_timeout),
        }
    }

    /// How the reload thread runs.
    pub fn reload_options(&self) -> ReloadOptions {
        ReloadOptions {
            interval: Duration::from_secs(self.refresh_interval),
            require_state_on_start: self.require_state_on_start,
            limits: self.limits(),
        }
    }

    /// Records longer than this get no values.
    pub fn max_record_bytes(&self) -> usize {
        usize::try_from(self.max_record_bytes).unwrap_or(usize::MAX)
    }

    /// Every configured state's source, registered with its configured scope.
    pub fn sources(&self) -> Vec<Box<dyn StateSource>> {
        self.states
            .iter()
            .map(|state| {
                let scope = ScopeConfig {
                    account: ScopeSetting::from_config(state.account_id.as_deref()),
                    region: ScopeSetting::from_config(state.region.as_deref()),
                };
                with_scope(source(state), scope)
            })
            .collect()
    }
}

/// The source a configured state comes from. The configuration was checked: exactly one of `path`, `s3`,
/// `http`, `hcp` is set.
fn source(state: &StateConfig) -> Box<dyn StateSource> {
    let name = state.name.clone();
    if let Some(s3) = &state.s3 {
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
    }
}
