//! States in S3 (Terraform's `s3` backend) or an S3-compatible store, with workspace discovery.
//!
//! The client is the AWS SDK's, built on the reload thread's runtime at the first poll: the default
//! credential chain (environment, shared profile, web identity for Kubernetes service accounts, container
//! and instance metadata), optionally a role assumed with those credentials, and a custom endpoint for
//! S3-compatible stores. Every GET is conditional on the ETag of the version last seen, so an unchanged state
//! costs one request (answered `304`) and no download.
//!
//! Workspace discovery (`workspaces`): the backend keeps the default workspace's state at `key` and every
//! other workspace's at `<workspace_key_prefix>/<workspace>/<key>`. Each refresh lists that prefix (one
//! request; the listing's ETags tell which workspaces changed, so unchanged ones cost nothing more) and
//! follows every matching workspace as its own state, `name/workspace`; a workspace that disappears from the
//! listing is dropped.

use super::web::{self, BodyError, CONNECT_TIMEOUT, READ_TIMEOUT};
use super::{Deliver, Fetch, PollContext, StateSource};
use aws_config::BehaviorVersion;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::Region;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use std::collections::HashMap;
use std::time::Duration;
use wildmatch::WildMatch;

/// Time for building the client (assuming a role included).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);
/// Time for one attempt of one S3 request, up to its response's headers.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);
/// Most pages (1,000 keys each) of a workspace listing.
const MAX_LIST_PAGES: usize = 100;

/// Where a state (or a family of workspace states) is in S3.
#[derive(Debug, Clone)]
pub struct S3Options {
    /// The bucket.
    pub bucket: String,
    /// The state's key (the default workspace's).
    pub key: String,
    /// Default: the SDK's (`AWS_REGION`, the profile).
    pub region: Option<String>,
    /// Another endpoint than AWS's (a compatible store).
    pub endpoint: Option<String>,
    /// Default: true with an endpoint.
    pub path_style: Option<bool>,
    /// A role to assume for reading.
    pub role_arn: Option<String>,
    /// `env:` by default, as in the backend.
    pub workspace_key_prefix: String,
    /// Workspace name patterns (`*`); `None`: only the state at `key`.
    pub workspaces: Option<Vec<String>>,
}

/// A state in S3, or the states of several workspaces, downloaded again only when their ETag changes.
pub struct S3Source {
    name: String,
    options: S3Options,
    patterns: Vec<WildMatch>,
    client: Option<Client>,
    /// Object key → ETag of the version last returned.
    seen: HashMap<String, String>,
}

impl S3Source {
    /// A source that reads nothing until polled.
    pub fn new(name: impl Into<String>, options: S3Options) -> Self {
        let patterns = options
            .workspaces
            .iter()
            .flatten()
            .map(|p| WildMatch::new(p))
            .collect();
        S3Source {
            name: name.into(),
            options,
            patterns,
            client: None,
            seen: HashMap::new(),
        }
    }

    fn client(&mut self, ctx: &PollContext) -> anyhow::Result<Client> {
        if let Some(client) = &self.client {
            return Ok(client.clone());
        }
        let client = ctx.block_on(CLIENT_TIMEOUT, build_client(&self.options))?;
        self.client = Some(client.clone());
        Ok(client)
    }

    fn wants(&self, workspace: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(workspace))
    }

    /// A conditional GET of one object; [`Fetch::Gone`] when there is no object at `key`.
    fn fetch(&mut self, ctx: &PollContext, client: &Client, key: &str) -> Fetch {
        let limit = ctx.limits.max_bytes;
        let mut request = client.get_object().bucket(&self.options.bucket).key(key);
        if let Some(etag) = self.seen.get(key) {
            request = request.if_none_match(etag);
        }
        let got = ctx.block_on(ctx.limits.poll_timeout, async {
            let output = match request.send().await {
                Ok(output) => output,
                Err(e) => {
                    let status = e.raw_response().map(|r| r.status().as_u16());
                    let missing = e
                        .as_service_error()
                        .is_some_and(|service| service.is_no_such_key())
                        || status == Some(404);
                    return Ok(match status {
                        Some(304) => Got::Unchanged,
                        _ if missing => Got::Missing,
                        _ => Got::Failed(anyhow::anyhow!("{}", DisplayErrorContext(&e))),
                    });
                }
            };
            let etag = output.e_tag().map(str::to_owned);
            let declared = output.content_length().and_then(|n| u64::try_from(n).ok());
            Ok(
                match web::read_limited(output.body, declared, limit).await {
                    Ok(bytes) => Got::Body(bytes, etag),
                    Err(BodyError::TooLarge { size, limit }) => Got::TooLarge(size, limit, etag),
                    Err(BodyError::Transfer(e)) => Got::Failed(e),
                },
            )
        });
        let location = format!("s3://{}/{key}", self.options.bucket);
        let remember = |seen: &mut HashMap<String, String>, etag: Option<String>| match etag {
            Some(etag) => {
                seen.insert(key.to_owned(), etag);
            }
            None => {
                seen.remove(key);
            }
        };
        match got {
            Err(e) => Fetch::Failed(e.context(location)),
            Ok(Got::Unchanged) => Fetch::Unchanged,
            Ok(Got::Missing) => {
                self.seen.remove(key);
                Fetch::Gone
            }
            Ok(Got::Failed(e)) => Fetch::Failed(e.context(location)),
            Ok(Got::TooLarge(size, limit, etag)) => {
                remember(&mut self.seen, etag);
                Fetch::Refused(anyhow::anyhow!(
                    "{location} is {size} bytes, over the limit of {limit} bytes"
                ))
            }
            Ok(Got::Body(bytes, etag)) => {
                remember(&mut self.seen, etag);
                Fetch::New(bytes, Some(location))
            }
        }
    }

    /// The workspaces under the prefix whose names match, with their object keys and ETags.
    fn list(&self, ctx: &PollContext, client: &Client) -> anyhow::Result<Vec<Listed>> {
        let prefix = format!("{}/", self.options.workspace_key_prefix);
        let listed = ctx.block_on(ctx.limits.poll_timeout, async {
            let mut listed = Vec::new();
            let mut token: Option<String> = None;
            for _ in 0..MAX_LIST_PAGES {
                let page = client
                    .list_objects_v2()
                    .bucket(&self.options.bucket)
                    .prefix(&prefix)
                    .set_continuation_token(token.take())
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "cannot list s3://{}/{prefix}: {}",
                            self.options.bucket,
                            DisplayErrorContext(&e)
                        )
                    })?;
                for object in page.contents() {
                    let Some(key) = object.key() else { continue };
                    let Some(workspace) =
                        workspace_of(key, &self.options.workspace_key_prefix, &self.options.key)
                    else {
                        continue;
                    };
                    if self.wants(workspace) {
                        listed.push(Listed {
                            workspace: workspace.to_owned(),
                            key: key.to_owned(),
                            etag: object.e_tag().map(str::to_owned),
                        });
                    }
                }
                match page.next_continuation_token() {
                    Some(next) if page.is_truncated() == Some(true) => {
                        token = Some(next.to_owned())
                    }
                    _ => break,
                }
            }
            Ok(listed)
        })?;
        let mut listed = listed;
        listed.sort_by(|a, b| a.workspace.cmp(&b.workspace));
        listed.dedup_by(|a, b| a.workspace == b.workspace);
        Ok(listed)
    }
}

/// What a GET brought back.
enum Got {
    Unchanged,
    Missing,
    Failed(anyhow::Error),
    TooLarge(u64, usize, Option<String>),
    Body(Vec<u8>, Option<String>),
}

/// One workspace found by listing.
struct Listed {
    workspace: String,
    key: String,
    etag: Option<String>,
}

/// The workspace whose state `object_key` is (`<prefix>/<workspace>/<key>`), if it is one.
fn workspace_of<'a>(object_key: &'a str, prefix: &str, key: &str) -> Option<&'a str> {
    let rest = object_key.strip_prefix(prefix)?.strip_prefix('/')?;
    let (workspace, state_key) = rest.split_once('/')?;
    (!workspace.is_empty() && state_key == key).then_some(workspace)
}

async fn build_client(options: &S3Options) -> anyhow::Result<Client> {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .timeout_config(timeouts);
    if let Some(region) = &options.region {
        loader = loader.region(Region::new(region.clone()));
    }
    let sdk = loader.load().await;
    if sdk.region().is_none() {
        anyhow::bail!(
            "no AWS region: set the bucket's `region` in the s3 settings, or AWS_REGION in Falco's environment"
        );
    }
    let mut config = aws_sdk_s3::config::Builder::from(&sdk);
    if let Some(role) = &options.role_arn {
        let provider = AssumeRoleProvider::builder(role.clone())
            .session_name("tfdrift")
            .configure(&sdk)
            .build()
            .await;
        config = config.credentials_provider(provider);
    }
    if let Some(endpoint) = &options.endpoint {
        config = config.endpoint_url(endpoint);
    }
    config = config.force_path_style(options.path_style.unwrap_or(options.endpoint.is_some()));
    Ok(Client::from_conf(config.build()))
}

impl StateSource for S3Source {
    fn name(&self) -> &str {
        &self.name
    }

    fn describe(&self) -> String {
        let o = &self.options;
        let mut text = format!("s3://{}/{}", o.bucket, o.key);
        if o.workspaces.is_some() {
            text.push_str(&format!(
                " and workspaces under {}/",
                o.workspace_key_prefix
            ));
        }
        if let Some(endpoint) = &o.endpoint {
            text.push_str(&format!(" at {endpoint}"));
        }
        text
    }

    fn poll(&mut self, ctx: &PollContext, deliver: &mut Deliver<'_>) -> anyhow::Result<()> {
        let client = self.client(ctx)?;
        let key = self.options.key.clone();
        if self.options.workspaces.is_none() {
            let fetch = match self.fetch(ctx, &client, &key) {
                Fetch::Gone => Fetch::Failed(anyhow::anyhow!(
                    "no object at s3://{}/{key}",
                    self.options.bucket
                )),
                fetch => fetch,
            };
            deliver(self.name.clone(), fetch);
            return Ok(());
        }
        let listed = self.list(ctx, &client)?;
        if self.wants("default") {
            // No default workspace state is `Gone`: not a state to report.
            let fetch = self.fetch(ctx, &client, &key);
            deliver(format!("{}/default", self.name), fetch);
        }
        for Listed {
            workspace,
            key: object_key,
            etag,
        } in &listed
        {
            if ctx.stopping() {
                break;
            }
            let unchanged = etag.is_some() && self.seen.get(object_key) == etag.as_ref();
            // Deleted between the listing and the GET: `Gone`.
            let fetch = if unchanged {
                Fetch::Unchanged
            } else {
                self.fetch(ctx, &client, object_key)
            };
            deliver(format!("{}/{workspace}", self.name), fetch);
        }
        self.seen
            .retain(|k, _| *k == key || listed.iter().any(|l| l.key == *k));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_keys() {
        let key = "net/terraform.tfstate";
        assert_eq!(
            workspace_of("env:/prod/net/terraform.tfstate", "env:", key),
            Some("prod")
        );
        assert_eq!(workspace_of("env:/prod/other.tfstate", "env:", key), None);
        assert_eq!(
            workspace_of("env://net/terraform.tfstate", "env:", key),
            None
        );
        assert_eq!(
            workspace_of("env:prod/net/terraform.tfstate", "env:", key),
            None
        );
        assert_eq!(
            workspace_of(
                "workspaces/staging/net/terraform.tfstate",
                "workspaces",
                key
            ),
            Some("staging")
        );
    }

    #[test]
    fn patterns_and_description() {
        let source = S3Source::new(
            "net",
            S3Options {
                bucket: "b".into(),
                key: "k".into(),
                region: None,
                endpoint: Some("http://127.0.0.1:9000".into()),
                path_style: None,
                role_arn: None,
                workspace_key_prefix: "env:".into(),
                workspaces: Some(vec!["prod-*".into(), "default".into()]),
            },
        );
        assert!(source.wants("prod-eu") && source.wants("default") && !source.wants("dev"));
        assert_eq!(
            source.describe(),
            "s3://b/k and workspaces under env:/ at http://127.0.0.1:9000"
        );
    }
}
