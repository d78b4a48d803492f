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
//!
//! Discovery (`discover`): every object under a prefix whose key matches a pattern ([`KeyPattern`]) is a
//! state, named `name/<key>` ([`state_name`]). Each refresh is one paginated listing (two when workspaces
//! are followed and live outside the prefix), which gives every object's ETag and size: an object whose ETag
//! is the one last seen costs nothing more, one over `max_state_bytes` is refused without a download, and
//! the others are downloaded several at a time ([`Discovery::concurrency`]), each GET still conditional on
//! the ETag last seen. A workspace's state (`<workspace_key_prefix>/<workspace>/<key>`, `key` matching the
//! pattern) is named by its own object key too. Objects under `<workspace_key_prefix>/` are never states of
//! their own: they are workspaces of a discovered key, followed only when `workspaces` matches them.

use super::discover::{Discovery, MAX_DISCOVERED, state_name};
use super::reload::ReloadStats;
use super::web::{self, BodyError, CONNECT_TIMEOUT, READ_TIMEOUT};
use super::{Deliver, Fetch, PollContext, StateSource};
use aws_config::BehaviorVersion;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::Region;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use futures_util::StreamExt;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use wildmatch::WildMatch;

/// Time for building the client (assuming a role included).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);
/// Time for one attempt of one S3 request, up to its response's headers.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);
/// Most pages (1,000 keys each) of a workspace listing.
const MAX_LIST_PAGES: usize = 100;
/// Most pages (1,000 keys each) of a discovery listing: a million objects. A listing cut short would make
/// the states past it look deleted, so a longer one fails the poll (every state kept) and asks for a
/// narrower prefix.
const MAX_DISCOVERY_PAGES: usize = 1000;

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
    /// States discovered by key pattern; `key` is then unused.
    pub discover: Option<Discovery>,
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
        let etag = self.seen.get(key).cloned();
        let got = ctx.block_on(
            ctx.limits.poll_timeout,
            get(
                client,
                &self.options.bucket,
                key,
                etag,
                ctx.limits.max_bytes,
                ctx.stats(),
            ),
        );
        settle(&mut self.seen, &self.options.bucket, key, got)
    }

    /// The workspaces under the prefix whose names match, with their object keys and ETags.
    fn list(&self, ctx: &PollContext, client: &Client) -> anyhow::Result<Vec<Listed>> {
        let prefix = format!("{}/", self.options.workspace_key_prefix);
        let listed = ctx.block_on(ctx.limits.poll_timeout, async {
            let mut listed = Vec::new();
            let mut token: Option<String> = None;
            for _ in 0..MAX_LIST_PAGES {
                ctx.count_listing();
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

/// One object of a discovery listing.
struct Object {
    key: String,
    etag: Option<String>,
    size: Option<u64>,
}

impl S3Source {
    /// Every discovered state under `prefix`, added to `objects`: one listing, paginated, each page's keys
    /// that are not states dropped as it comes. Fails rather than return part of it, or more than
    /// [`MAX_DISCOVERED`].
    fn list_all(
        &self,
        ctx: &PollContext,
        client: &Client,
        discovery: &Discovery,
        prefix: &str,
        objects: &mut Vec<Object>,
    ) -> anyhow::Result<()> {
        let bucket = &self.options.bucket;
        ctx.block_on(ctx.limits.poll_timeout, async {
            let mut token: Option<String> = None;
            for _ in 0..MAX_DISCOVERY_PAGES {
                ctx.count_listing();
                let page = client
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(prefix)
                    .set_continuation_token(token.take())
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "cannot list s3://{bucket}/{prefix}: {}",
                            DisplayErrorContext(&e)
                        )
                    })?;
                objects.extend(page.contents().iter().filter_map(|object| {
                    let key = object.key().filter(|key| self.discovered(discovery, key))?;
                    Some(Object {
                        key: key.to_owned(),
                        etag: object.e_tag().map(str::to_owned),
                        size: object.size().and_then(|n| u64::try_from(n).ok()),
                    })
                }));
                if objects.len() > MAX_DISCOVERED {
                    anyhow::bail!(
                        "more than {MAX_DISCOVERED} states match under s3://{bucket}/{prefix}: give `discover` a narrower pattern"
                    );
                }
                match page.next_continuation_token() {
                    Some(next) if page.is_truncated() == Some(true) => {
                        token = Some(next.to_owned())
                    }
                    _ => return Ok(()),
                }
            }
            anyhow::bail!(
                "s3://{bucket}/{prefix} holds more than {} objects: give `discover` a narrower prefix",
                MAX_DISCOVERY_PAGES * 1000
            )
        })
    }

    /// Whether the object at `key` is a discovered state: a key under the prefix matching the pattern (the
    /// default workspace's, when workspaces are followed), or a matching workspace's state of such a key.
    fn discovered(&self, discovery: &Discovery, key: &str) -> bool {
        let workspaces = &self.options.workspace_key_prefix;
        if let Some(rest) = key
            .strip_prefix(workspaces.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
        {
            let Some((workspace, base)) = rest.split_once('/') else {
                return false;
            };
            return self.options.workspaces.is_some()
                && !workspace.is_empty()
                && self.wants(workspace)
                && base.starts_with(&discovery.prefix)
                && discovery.pattern.matches(base);
        }
        (self.options.workspaces.is_none() || self.wants("default"))
            && key.starts_with(&discovery.prefix)
            && discovery.pattern.matches(key)
    }

    /// A poll of discovered states: the listing, then the changed objects' downloads, a few at a time.
    fn poll_discovered(
        &mut self,
        ctx: &PollContext,
        discovery: &Discovery,
        deliver: &mut Deliver<'_>,
    ) -> anyhow::Result<()> {
        let client = self.client(ctx)?;
        let mut objects = Vec::new();
        self.list_all(ctx, &client, discovery, &discovery.prefix, &mut objects)?;
        let workspaces = format!("{}/", self.options.workspace_key_prefix);
        if self.options.workspaces.is_some() && !workspaces.starts_with(&discovery.prefix) {
            self.list_all(ctx, &client, discovery, &workspaces, &mut objects)?;
        }
        // Key order: deterministic names, logs and max_total_instances refusals.
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        objects.dedup_by(|a, b| a.key == b.key);
        let bucket = self.options.bucket.clone();
        let limit = ctx.limits.max_bytes;
        let mut todo = Vec::new();
        for object in &objects {
            let name = state_name(&self.name, &object.key);
            if object.key.chars().any(char::is_control) {
                deliver(
                    name,
                    Fetch::Refused(anyhow::anyhow!(
                        "s3://{bucket}/{:?} has control characters in its key: not read",
                        object.key
                    )),
                );
                continue;
            }
            let seen = self.seen.get(&object.key);
            if object.etag.is_some() && seen == object.etag.as_ref() {
                deliver(name, Fetch::Unchanged);
                continue;
            }
            if let Some(size) = object.size.filter(|&size| size > limit as u64) {
                // Refused once per version: its ETag is remembered, so it is not refused again until it
                // changes (and the refusal keeps the state stale meanwhile).
                match &object.etag {
                    Some(etag) => self.seen.insert(object.key.clone(), etag.clone()),
                    None => self.seen.remove(&object.key),
                };
                deliver(
                    name,
                    Fetch::Refused(anyhow::anyhow!(
                        "s3://{bucket}/{} is {size} bytes, over the limit of {limit} bytes",
                        object.key
                    )),
                );
                continue;
            }
            todo.push((name, object.key.as_str(), seen.cloned()));
        }
        let mut done = vec![false; todo.len()];
        let seen = &mut self.seen;
        let stats = ctx.stats();
        let concurrency = discovery.concurrency.max(1);
        let downloaded = ctx.block_on(ctx.limits.poll_timeout, async {
            let client = &client;
            let bucket = bucket.as_str();
            let mut downloads = futures_util::stream::iter(todo.iter().enumerate().map(
                |(i, (_, key, etag))| async move {
                    (
                        i,
                        get(client, bucket, key, etag.clone(), limit, stats).await,
                    )
                },
            ))
            .buffer_unordered(concurrency);
            // Each state is parsed as it is delivered (on this thread), while the others download.
            while let Some((i, got)) = downloads.next().await {
                let (name, key, _) = &todo[i];
                done[i] = true;
                deliver(name.clone(), settle(seen, bucket, key, got));
            }
            Ok(())
        });
        if let Err(e) = downloaded {
            if ctx.stopping() {
                return Err(e);
            }
            // Out of time: what was downloaded stays delivered, the rest is tried again next refresh (a
            // first load of a large estate makes progress at each).
            for ((name, key, _), _) in todo.iter().zip(&done).filter(|(_, done)| !**done) {
                deliver(
                    name.clone(),
                    Fetch::Failed(anyhow::anyhow!("{e:#}").context(format!("s3://{bucket}/{key}"))),
                );
            }
        }
        let listed: HashSet<&str> = objects.iter().map(|o| o.key.as_str()).collect();
        self.seen.retain(|key, _| listed.contains(key.as_str()));
        Ok(())
    }
}

/// A GET of `key`, conditional on `etag`, of at most `limit` bytes.
async fn get(
    client: &Client,
    bucket: &str,
    key: &str,
    etag: Option<String>,
    limit: usize,
    stats: &ReloadStats,
) -> anyhow::Result<Got> {
    ReloadStats::add(&stats.downloads, 1);
    let output = match client
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_if_none_match(etag)
        .send()
        .await
    {
        Ok(output) => output,
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            let missing = e
                .as_service_error()
                .is_some_and(|service| service.is_no_such_key())
                || status == Some(404);
            return Ok(match status {
                Some(304) => {
                    ReloadStats::add(&stats.not_modified, 1);
                    Got::Unchanged
                }
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
}

/// What a GET of `key` brought back, as a [`Fetch`]; the ETag of what was returned (or refused) is
/// remembered in `seen`.
fn settle(
    seen: &mut HashMap<String, String>,
    bucket: &str,
    key: &str,
    got: anyhow::Result<Got>,
) -> Fetch {
    let location = format!("s3://{bucket}/{key}");
    let mut remember = |etag: Option<String>| match etag {
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
            remember(None);
            Fetch::Gone
        }
        Ok(Got::Failed(e)) => Fetch::Failed(e.context(location)),
        Ok(Got::TooLarge(size, limit, etag)) => {
            remember(etag);
            Fetch::Refused(anyhow::anyhow!(
                "{location} is {size} bytes, over the limit of {limit} bytes"
            ))
        }
        Ok(Got::Body(bytes, etag)) => {
            remember(etag);
            Fetch::New(bytes, Some(location))
        }
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
        let mut text = match &o.discover {
            Some(d) => format!(
                "s3://{}/{} keys matching {}",
                o.bucket,
                d.prefix,
                d.pattern.as_str()
            ),
            None => format!("s3://{}/{}", o.bucket, o.key),
        };
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
        if let Some(discovery) = self.options.discover.clone() {
            return self.poll_discovered(ctx, &discovery, deliver);
        }
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
                discover: None,
            },
        );
        assert!(source.wants("prod-eu") && source.wants("default") && !source.wants("dev"));
        assert_eq!(
            source.describe(),
            "s3://b/k and workspaces under env:/ at http://127.0.0.1:9000"
        );
    }
}
