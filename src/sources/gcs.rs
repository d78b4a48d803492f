//! States in Google Cloud Storage (Terraform's `gcs` backend), with workspace discovery.
//!
//! Object names are the backend's: the prefix loses its leading `/`s and gains a trailing `/`, and the state
//! of workspace `w` is `<prefix><w>.tfstate` (`<prefix>default.tfstate` for the default workspace).
//! Workspaces are what the backend lists: every `*.tfstate` directly under the prefix (delimiter `/`).
//!
//! Downloads use Google's `google-cloud-storage` client (JSON API, `alt=media`) with Application Default
//! Credentials, or anonymous credentials for an emulator or a public bucket. Every download is conditional on
//! the generation last seen (`ifGenerationNotMatch`: real GCS answers `304`), and the generation the server
//! returns is compared again here, since emulators ignore the condition: an unchanged state costs one request
//! and is never parsed again. The crate lists objects only through its gRPC `StorageControl` service, which
//! emulators do not serve, so the listing is the JSON API's `objects.list`, sent with the tree's own HTTPS
//! client and the same credentials' headers. Its generations tell which workspaces changed: unchanged ones
//! cost nothing more than the listing.
//!
//! Discovery (`discover`): every object under a prefix whose name matches a pattern ([`Discovery`]) is a
//! state, named `name/<object>` ([`state_name`]), workspaces included (each is an object of its own,
//! `<dir>/<workspace>.tfstate`; `workspaces`, if given, keeps only those of matching workspaces). Each refresh
//! is one listing (no delimiter), whose generations and sizes say which objects changed: unchanged ones cost
//! nothing more, one over `max_state_bytes` is refused without a download, the others are downloaded one at a
//! time, each conditional on the generation last seen.

use super::discover::{Discovery, MAX_DISCOVERED, state_name};
use super::reload::ReloadStats;
use super::web::{READ_TIMEOUT, Web};
use super::{Deliver, Fetch, PollContext, StateSource};
use google_cloud_auth::credentials::{CacheableResource, Credentials};
use google_cloud_gax::retry_policy::RetryPolicyExt;
use google_cloud_storage::client::Storage;
use google_cloud_storage::retry_policy::RetryableErrors;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use std::collections::HashMap;
use std::time::Duration;
use wildmatch::WildMatch;

/// Time for building the client (finding Application Default Credentials included).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);
/// Attempts of one download (the first and two retries of a transient failure: a refused connection, a 5xx,
/// a 429), as the S3 SDK's standard retries. The client's default would retry a dead endpoint until the
/// poll's deadline, and a dead endpoint must be reported as a failure at every refresh.
const ATTEMPTS: u32 = 3;
/// Time for one download's attempts together, up to its response's headers.
const ATTEMPTS_TIME: Duration = Duration::from_secs(60);
/// Most pages (1,000 objects each) of a workspace listing: more is refused rather than read in part.
const MAX_LIST_PAGES: usize = 100;
/// Most pages of a discovery listing: a million objects.
const MAX_DISCOVERY_PAGES: usize = 1000;
/// Most bytes of one listing page (1,000 names of at most 1,024 bytes, with their JSON around them).
const MAX_LIST_PAGE_BYTES: usize = 8 * 1024 * 1024;
/// The most a download's buffer reserves before its bytes arrive (4 MiB): the declared size is the
/// server's word, not a reason to allocate.
const INITIAL_BODY_CAPACITY: usize = 4 * 1024 * 1024;
/// Where Google's JSON API is, when no endpoint is configured.
pub const DEFAULT_ENDPOINT: &str = "https://storage.googleapis.com";
/// The suffix of a workspace's state object, as in the backend.
const STATE_SUFFIX: &str = ".tfstate";

/// Which credentials the source uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GcsCredentials {
    /// Application Default Credentials: `GOOGLE_APPLICATION_CREDENTIALS`, gcloud's application-default file,
    /// then the metadata server (GKE Workload Identity, Compute Engine).
    Default,
    /// No credentials at all: an emulator, or a public bucket.
    Anonymous,
}

/// Where a state (or a family of workspace states) is in Cloud Storage.
#[derive(Debug, Clone)]
pub struct GcsOptions {
    /// The bucket.
    pub bucket: String,
    /// The backend's `prefix`, as configured (normalised here as the backend does).
    pub prefix: String,
    /// Another endpoint than Google's (an emulator, a private endpoint), as the backend's
    /// `storage_custom_endpoint`: with or without its `/storage/v1/` path.
    pub endpoint: Option<String>,
    /// The credentials.
    pub credentials: GcsCredentials,
    /// Workspace name patterns (`*`); `None`: only the default workspace's state.
    pub workspaces: Option<Vec<String>>,
    /// States discovered by name pattern; `prefix` is then unused.
    pub discover: Option<Discovery>,
}

/// The backend's prefix: leading `/`s trimmed, a trailing `/` added to a prefix that is not empty.
pub fn normalize_prefix(prefix: &str) -> String {
    let prefix = prefix.trim_start_matches('/');
    if prefix.is_empty() || prefix.ends_with('/') {
        prefix.to_owned()
    } else {
        format!("{prefix}/")
    }
}

/// The endpoint's base URL, without a trailing `/` nor the JSON API's `/storage/v1` path (the backend's
/// `storage_custom_endpoint` carries it; the client adds it).
fn endpoint_base(endpoint: Option<&str>) -> String {
    let base = endpoint.unwrap_or(DEFAULT_ENDPOINT).trim_end_matches('/');
    base.strip_suffix("/storage/v1")
        .unwrap_or(base)
        .trim_end_matches('/')
        .to_owned()
}

/// A state in Cloud Storage, or the states of several workspaces, downloaded again only when their
/// generation changes.
pub struct GcsSource {
    name: String,
    options: GcsOptions,
    prefix: String,
    endpoint: String,
    patterns: Vec<WildMatch>,
    client: Option<Client>,
    /// Object name → generation of the version last returned (loaded or refused).
    seen: HashMap<String, i64>,
}

/// The download client and what the listing needs beside it.
#[derive(Clone)]
struct Client {
    storage: Storage,
    credentials: Credentials,
    web: std::sync::Arc<Web>,
}

impl GcsSource {
    /// A source that reads nothing until polled.
    pub fn new(name: impl Into<String>, options: GcsOptions) -> Self {
        let patterns = options
            .workspaces
            .iter()
            .flatten()
            .map(|p| WildMatch::new(p))
            .collect();
        GcsSource {
            name: name.into(),
            prefix: normalize_prefix(&options.prefix),
            endpoint: endpoint_base(options.endpoint.as_deref()),
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
        let client = ctx.block_on(
            CLIENT_TIMEOUT,
            build_client(
                self.options.credentials,
                self.options.endpoint.is_some().then_some(&self.endpoint),
            ),
        )?;
        self.client = Some(client.clone());
        Ok(client)
    }

    fn wants(&self, workspace: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(workspace))
    }

    fn location(&self, object: &str) -> String {
        format!("gs://{}/{object}", self.options.bucket)
    }

    /// A download of one object unless its generation is the one last seen; [`Fetch::Gone`] when there is
    /// no such object.
    fn fetch(&mut self, ctx: &PollContext, client: &Client, object: &str) -> Fetch {
        ReloadStats::add(&ctx.stats().downloads, 1);
        let limit = ctx.limits.max_bytes;
        let last = self.seen.get(object).copied();
        let mut request = client.storage.read_object(
            format!("projects/_/buckets/{}", self.options.bucket),
            object,
        );
        if let Some(generation) = last {
            request = request.set_if_generation_not_match(generation);
        }
        let got = ctx.block_on(ctx.limits.poll_timeout, async {
            let mut response = match request.send().await {
                Ok(response) => response,
                Err(e) => {
                    return Ok(match e.http_status_code() {
                        Some(304) => Got::Unchanged,
                        Some(404) => Got::Missing,
                        _ => Got::Failed(anyhow::anyhow!("{:#}", anyhow::Error::new(e))),
                    });
                }
            };
            let highlights = response.object();
            let generation = highlights.generation;
            // An emulator answers 200 to `ifGenerationNotMatch`: the same generation is no new version.
            if last == Some(generation) {
                return Ok(Got::Unchanged);
            }
            // The stored size; a gzip-encoded object may be served otherwise (decompressed), so only an
            // unencoded object's size is held against what arrives.
            let declared = u64::try_from(highlights.size)
                .ok()
                .filter(|_| highlights.content_encoding.is_empty());
            if let Some(size) = declared
                && size > limit as u64
            {
                return Ok(Got::TooLarge(size, limit, generation));
            }
            let capacity = declared
                .unwrap_or(0)
                .min(limit as u64)
                .min(INITIAL_BODY_CAPACITY as u64) as usize;
            let mut bytes = Vec::with_capacity(capacity);
            loop {
                let chunk = tokio::time::timeout(READ_TIMEOUT, response.next())
                    .await
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "the transfer stalled for {} seconds",
                            READ_TIMEOUT.as_secs()
                        )
                    })?;
                match chunk {
                    None => break,
                    Some(Err(e)) => {
                        return Ok(Got::Failed(
                            anyhow::Error::new(e).context("the transfer broke off"),
                        ));
                    }
                    Some(Ok(chunk)) => {
                        if bytes.len() + chunk.len() > limit {
                            let size = (bytes.len() + chunk.len()) as u64;
                            return Ok(Got::TooLarge(size, limit, generation));
                        }
                        bytes.extend_from_slice(&chunk);
                    }
                }
            }
            if let Some(size) = declared
                && size != bytes.len() as u64
            {
                return Ok(Got::Failed(anyhow::anyhow!(
                    "truncated: {} of {size} bytes received",
                    bytes.len()
                )));
            }
            Ok(Got::Body(bytes, generation))
        });
        let location = self.location(object);
        match got {
            Err(e) => Fetch::Failed(e.context(location)),
            Ok(Got::Unchanged) => Fetch::Unchanged,
            Ok(Got::Missing) => {
                self.seen.remove(object);
                Fetch::Gone
            }
            Ok(Got::Failed(e)) => Fetch::Failed(e.context(location)),
            Ok(Got::TooLarge(size, limit, generation)) => {
                self.seen.insert(object.to_owned(), generation);
                Fetch::Refused(anyhow::anyhow!(
                    "{location} (generation {generation}) is {size} bytes, over the limit of {limit} bytes"
                ))
            }
            Ok(Got::Body(bytes, generation)) => {
                self.seen.insert(object.to_owned(), generation);
                Fetch::New(bytes, Some(format!("{location} (generation {generation})")))
            }
        }
    }

    /// One page of a JSON-API listing at `url` (and `token`'s page of it): an error, never a shorter page, when
    /// it cannot be read whole.
    async fn list_page(
        &self,
        client: &Client,
        mut url: String,
        token: Option<String>,
        what: &str,
    ) -> anyhow::Result<ListPage> {
        if let Some(token) = token {
            url.push_str("&pageToken=");
            url.extend(utf8_percent_encode(&token, NON_ALPHANUMERIC));
        }
        let (authorization, headers) = auth_headers(&client.credentials)
            .await
            .map_err(|e| e.context(what.to_owned()))?;
        let response = client
            .web
            .get(&url, &headers, authorization.as_deref(), &self.endpoint)
            .await
            .map_err(|e| e.context(what.to_owned()))?;
        let status = response.status;
        let body = response
            .bytes(MAX_LIST_PAGE_BYTES)
            .await
            .map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
        if status != 200 {
            anyhow::bail!("{what}: HTTP {status} ({})", error_message(&body));
        }
        serde_json::from_slice(&body).map_err(|e| anyhow::anyhow!("{what}: not a listing ({e})"))
    }

    /// The workspaces under the prefix whose names match, with their object names and generations, sorted
    /// by workspace. A listing that cannot be read in full is an error, never a shorter list.
    async fn list(&self, client: &Client) -> anyhow::Result<Vec<Listed>> {
        let what = format!("cannot list {}", self.location(&self.prefix));
        let mut listed = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_LIST_PAGES {
            let url = format!(
                "{}/storage/v1/b/{}/o?prefix={}&delimiter=%2F&fields=items(name%2Cgeneration)%2CnextPageToken",
                self.endpoint,
                utf8_percent_encode(&self.options.bucket, NON_ALPHANUMERIC),
                utf8_percent_encode(&self.prefix, NON_ALPHANUMERIC),
            );
            let page = self.list_page(client, url, token.take(), &what).await?;
            for item in page.items {
                let Some(workspace) = workspace_of(&item.name, &self.prefix) else {
                    continue;
                };
                if !self.wants(workspace) {
                    continue;
                }
                let generation = item
                    .generation
                    .as_ref()
                    .and_then(Generation::get)
                    .ok_or_else(|| {
                        anyhow::anyhow!("{what}: {} is listed without a generation", item.name)
                    })?;
                listed.push(Listed {
                    workspace: workspace.to_owned(),
                    object: item.name.clone(),
                    generation,
                });
            }
            match page.next_page_token {
                Some(next) if !next.is_empty() => token = Some(next),
                _ => {
                    listed.sort_by(|a, b| a.workspace.cmp(&b.workspace));
                    listed.dedup_by(|a, b| a.workspace == b.workspace);
                    return Ok(listed);
                }
            }
        }
        anyhow::bail!("{what}: more than {MAX_LIST_PAGES} pages of objects under the prefix")
    }
}

/// One object of a discovery listing.
struct Object {
    name: String,
    generation: i64,
    size: Option<u64>,
}

impl GcsSource {
    /// Every discovered state under the discovery prefix (no delimiter; other objects dropped as each page
    /// comes): one listing, paginated; an error rather than part of it, or more than [`MAX_DISCOVERED`].
    async fn list_all(
        &self,
        ctx: &PollContext<'_>,
        client: &Client,
        discovery: &Discovery,
    ) -> anyhow::Result<Vec<Object>> {
        let prefix = discovery.prefix.as_str();
        let what = format!("cannot list {}", self.location(prefix));
        let mut objects = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_DISCOVERY_PAGES {
            ctx.count_listing();
            let url = format!(
                "{}/storage/v1/b/{}/o?prefix={}&fields=items(name%2Cgeneration%2Csize)%2CnextPageToken",
                self.endpoint,
                utf8_percent_encode(&self.options.bucket, NON_ALPHANUMERIC),
                utf8_percent_encode(prefix, NON_ALPHANUMERIC),
            );
            let page = self.list_page(client, url, token.take(), &what).await?;
            for item in page.items {
                // Not a state: dropped as it comes.
                if !self.discovered(discovery, &item.name) {
                    continue;
                }
                let generation = item
                    .generation
                    .as_ref()
                    .and_then(Generation::get)
                    .ok_or_else(|| {
                        anyhow::anyhow!("{what}: {} is listed without a generation", item.name)
                    })?;
                let size = item
                    .size
                    .as_ref()
                    .and_then(Generation::get)
                    .and_then(|n| u64::try_from(n).ok());
                objects.push(Object {
                    name: item.name,
                    generation,
                    size,
                });
            }
            if objects.len() > MAX_DISCOVERED {
                anyhow::bail!(
                    "{what}: more than {MAX_DISCOVERED} states match: give `discover` a narrower pattern"
                );
            }
            match page.next_page_token {
                Some(next) if !next.is_empty() => token = Some(next),
                _ => return Ok(objects),
            }
        }
        anyhow::bail!(
            "{what}: more than {MAX_DISCOVERY_PAGES} pages of objects: give `discover` a narrower prefix"
        )
    }

    /// Whether the object `name` is a discovered state.
    fn discovered(&self, discovery: &Discovery, name: &str) -> bool {
        if !name.starts_with(&discovery.prefix) || !discovery.pattern.matches(name) {
            return false;
        }
        if self.options.workspaces.is_none() {
            return true;
        }
        let file = name.rsplit('/').next().unwrap_or(name);
        file.strip_suffix(STATE_SUFFIX)
            .is_some_and(|workspace| !workspace.is_empty() && self.wants(workspace))
    }

    /// A poll of discovered states: the listing, then the changed objects' downloads, one at a time.
    fn poll_discovered(
        &mut self,
        ctx: &PollContext,
        discovery: &Discovery,
        deliver: &mut Deliver<'_>,
    ) -> anyhow::Result<()> {
        let client = self.client(ctx)?;
        let mut objects = ctx.block_on(
            ctx.limits.poll_timeout,
            self.list_all(ctx, &client, discovery),
        )?;
        objects.sort_by(|a, b| a.name.cmp(&b.name));
        objects.dedup_by(|a, b| a.name == b.name);
        let limit = ctx.limits.max_bytes;
        for object in &objects {
            let name = state_name(&self.name, &object.name);
            let fetch = if object.name.chars().any(char::is_control) {
                Fetch::Refused(anyhow::anyhow!(
                    "gs://{}/{:?} has control characters in its name: not read",
                    self.options.bucket,
                    object.name
                ))
            } else if self.seen.get(&object.name) == Some(&object.generation) {
                Fetch::Unchanged
            } else if let Some(size) = object.size.filter(|&size| size > limit as u64) {
                self.seen.insert(object.name.clone(), object.generation);
                Fetch::Refused(anyhow::anyhow!(
                    "{} (generation {}) is {size} bytes, over the limit of {limit} bytes",
                    self.location(&object.name),
                    object.generation
                ))
            } else if ctx.stopping() {
                return Err(anyhow::anyhow!("interrupted: tfdrift is stopping"));
            } else {
                self.fetch(ctx, &client, &object.name)
            };
            deliver(name, fetch);
        }
        self.seen.retain(|name, _| {
            objects
                .binary_search_by(|o| o.name.as_str().cmp(name))
                .is_ok()
        });
        Ok(())
    }
}

/// What a download brought back.
enum Got {
    Unchanged,
    Missing,
    Failed(anyhow::Error),
    TooLarge(u64, usize, i64),
    Body(Vec<u8>, i64),
}

/// One workspace found by listing.
struct Listed {
    workspace: String,
    object: String,
    generation: i64,
}

/// One page of `objects.list` (only the fields asked for).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListPage {
    #[serde(default)]
    items: Vec<ListItem>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct ListItem {
    name: String,
    #[serde(default)]
    generation: Option<Generation>,
    /// Asked for by discovery only: an int64 written as a string, as a generation is.
    #[serde(default)]
    size: Option<Generation>,
}

/// A generation: the JSON API writes int64 values as strings; a number is taken too.
#[derive(Deserialize)]
#[serde(untagged)]
enum Generation {
    Text(String),
    Number(i64),
}

impl Generation {
    fn get(&self) -> Option<i64> {
        match self {
            Generation::Text(text) => text.parse().ok(),
            Generation::Number(n) => Some(*n),
        }
    }
}

/// The workspace whose state `object` is (`<prefix><workspace>.tfstate`, directly under the prefix), if
/// it is one.
fn workspace_of<'a>(object: &'a str, prefix: &str) -> Option<&'a str> {
    let workspace = object.strip_prefix(prefix)?.strip_suffix(STATE_SUFFIX)?;
    (!workspace.is_empty() && !workspace.contains('/')).then_some(workspace)
}

/// The `error.message` of a JSON API error body, cut short; what the server says is not trusted to be small.
fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Body {
        error: Inner,
    }
    #[derive(Deserialize)]
    struct Inner {
        message: String,
    }
    match serde_json::from_slice::<Body>(body) {
        Ok(body) => body.error.message.chars().take(300).collect(),
        Err(_) => "no error message".to_owned(),
    }
}

/// The credentials' request headers: `authorization` (sent only to the endpoint's origin) and the quota
/// project, if any. Anonymous credentials have none.
async fn auth_headers(
    credentials: &Credentials,
) -> anyhow::Result<(Option<String>, Vec<(&'static str, String)>)> {
    let headers = match credentials.headers(http::Extensions::new()).await {
        Ok(CacheableResource::New { data, .. }) => data,
        Ok(CacheableResource::NotModified) => {
            anyhow::bail!("the credentials gave no headers")
        }
        Err(e) => return Err(anyhow::anyhow!("no usable credentials: {e}")),
    };
    let text = |name: &str| -> anyhow::Result<Option<String>> {
        headers
            .get(name)
            .map(|value| {
                value
                    .to_str()
                    .map(str::to_owned)
                    .map_err(|_| anyhow::anyhow!("the credentials' {name} header is not text"))
            })
            .transpose()
    };
    let authorization = text("authorization")?;
    let extra = text("x-goog-user-project")?
        .map(|project| vec![("x-goog-user-project", project)])
        .unwrap_or_default();
    Ok((authorization, extra))
}

async fn build_client(
    credentials: GcsCredentials,
    endpoint: Option<&String>,
) -> anyhow::Result<Client> {
    // The crate's TLS (rustls) comes without a crypto provider here (its default is aws-lc, a C build):
    // the process default is ring, as for the rest of the tree. Installed once; a second call changes nothing.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let credentials = match credentials {
        GcsCredentials::Anonymous => {
            google_cloud_auth::credentials::anonymous::Builder::new().build()
        }
        GcsCredentials::Default => google_cloud_auth::credentials::Builder::default()
            .build()
            .map_err(|e| anyhow::anyhow!("no Application Default Credentials: {e}"))?,
    };
    let retries = RetryableErrors
        .with_attempt_limit(ATTEMPTS)
        .with_time_limit(ATTEMPTS_TIME);
    let mut builder = Storage::builder()
        .with_credentials(credentials.clone())
        .with_retry_policy(retries);
    if let Some(endpoint) = endpoint {
        builder = builder.with_endpoint(endpoint.clone());
    }
    let storage = builder
        .build()
        .await
        .map_err(|e| anyhow::anyhow!("cannot build the Cloud Storage client: {e}"))?;
    Ok(Client {
        storage,
        credentials,
        web: std::sync::Arc::new(Web::new()),
    })
}

impl StateSource for GcsSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn describe(&self) -> String {
        let mut text = if let Some(d) = &self.options.discover {
            format!(
                "{} objects matching {}",
                self.location(&d.prefix),
                d.pattern.as_str()
            )
        } else if self.options.workspaces.is_some() {
            format!("workspaces under {}", self.location(&self.prefix))
        } else {
            self.location(&format!("{}default{STATE_SUFFIX}", self.prefix))
        };
        if self.options.endpoint.is_some() {
            text.push_str(&format!(" at {}", self.endpoint));
        }
        if self.options.credentials == GcsCredentials::Anonymous {
            text.push_str(" (anonymous)");
        }
        text
    }

    fn poll(&mut self, ctx: &PollContext, deliver: &mut Deliver<'_>) -> anyhow::Result<()> {
        if let Some(discovery) = self.options.discover.clone() {
            return self.poll_discovered(ctx, &discovery, deliver);
        }
        let client = self.client(ctx)?;
        if self.options.workspaces.is_none() {
            let object = format!("{}default{STATE_SUFFIX}", self.prefix);
            let fetch = match self.fetch(ctx, &client, &object) {
                Fetch::Gone => {
                    Fetch::Failed(anyhow::anyhow!("no object at {}", self.location(&object)))
                }
                fetch => fetch,
            };
            deliver(self.name.clone(), fetch);
            return Ok(());
        }
        let listed = ctx.block_on(ctx.limits.poll_timeout, self.list(&client))?;
        for Listed {
            workspace,
            object,
            generation,
        } in &listed
        {
            if ctx.stopping() {
                break;
            }
            // Deleted between the listing and the download: `Gone`.
            let fetch = if self.seen.get(object) == Some(generation) {
                Fetch::Unchanged
            } else {
                self.fetch(ctx, &client, object)
            };
            deliver(format!("{}/{workspace}", self.name), fetch);
        }
        self.seen
            .retain(|object, _| listed.iter().any(|l| l.object == *object));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_as_the_backend_normalises_them() {
        assert_eq!(normalize_prefix(""), "");
        assert_eq!(normalize_prefix("/"), "");
        assert_eq!(normalize_prefix("env/prod"), "env/prod/");
        assert_eq!(normalize_prefix("env/prod/"), "env/prod/");
        assert_eq!(normalize_prefix("//env/prod"), "env/prod/");
    }

    #[test]
    fn endpoints_with_or_without_the_api_path() {
        assert_eq!(endpoint_base(None), "https://storage.googleapis.com");
        for given in [
            "http://127.0.0.1:4443",
            "http://127.0.0.1:4443/",
            "http://127.0.0.1:4443/storage/v1/",
            "http://127.0.0.1:4443/storage/v1",
        ] {
            assert_eq!(
                endpoint_base(Some(given)),
                "http://127.0.0.1:4443",
                "{given}"
            );
        }
    }

    #[test]
    fn workspace_objects() {
        assert_eq!(
            workspace_of("env/prod/default.tfstate", "env/prod/"),
            Some("default")
        );
        assert_eq!(
            workspace_of("env/prod/staging.tfstate", "env/prod/"),
            Some("staging")
        );
        assert_eq!(workspace_of("staging.tfstate", ""), Some("staging"));
        assert_eq!(workspace_of("env/prod/staging.tflock", "env/prod/"), None);
        assert_eq!(workspace_of("env/prod/.tfstate", "env/prod/"), None);
        assert_eq!(workspace_of("env/prod/x/y.tfstate", "env/prod/"), None);
        assert_eq!(workspace_of("env/production.tfstate", "env/prod/"), None);
    }

    #[test]
    fn listing_pages_and_generations() {
        let page: ListPage = serde_json::from_str(
            r#"{"kind":"storage#objects","items":[{"name":"a.tfstate","generation":"1700000000000001"},
                {"name":"b.tfstate","generation":7},{"name":"c.tfstate"}],"prefixes":["x/"],"nextPageToken":"t"}"#,
        )
        .expect("a page");
        let generations: Vec<Option<i64>> = page
            .items
            .iter()
            .map(|i| i.generation.as_ref().and_then(Generation::get))
            .collect();
        assert_eq!(generations, [Some(1_700_000_000_000_001), Some(7), None]);
        assert_eq!(page.next_page_token.as_deref(), Some("t"));
        let empty: ListPage =
            serde_json::from_str(r#"{"kind":"storage#objects"}"#).expect("a page");
        assert!(empty.items.is_empty() && empty.next_page_token.is_none());
    }

    #[test]
    fn patterns_and_description() {
        let source = GcsSource::new(
            "net",
            GcsOptions {
                bucket: "b".into(),
                prefix: "/env/prod".into(),
                endpoint: Some("http://127.0.0.1:4443/storage/v1/".into()),
                credentials: GcsCredentials::Anonymous,
                workspaces: Some(vec!["prod-*".into(), "default".into()]),
                discover: None,
            },
        );
        assert!(source.wants("prod-eu") && source.wants("default") && !source.wants("dev"));
        assert_eq!(
            source.describe(),
            "workspaces under gs://b/env/prod/ at http://127.0.0.1:4443 (anonymous)"
        );
        let single = GcsSource::new(
            "net",
            GcsOptions {
                bucket: "b".into(),
                prefix: String::new(),
                endpoint: None,
                credentials: GcsCredentials::Default,
                workspaces: None,
                discover: None,
            },
        );
        assert_eq!(single.describe(), "gs://b/default.tfstate");
    }

    #[test]
    fn error_messages_are_short() {
        let long = format!(
            r#"{{"error":{{"code":403,"message":"{}"}}}}"#,
            "x".repeat(5000)
        );
        assert_eq!(error_message(long.as_bytes()).len(), 300);
        assert_eq!(error_message(b"<html>"), "no error message");
    }
}
