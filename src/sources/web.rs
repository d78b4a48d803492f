//! The HTTP pieces the network sources share: one HTTPS client (the AWS SDK's own hyper 1 + rustls connector,
//! with the ring provider and the system's trust roots, so the HTTP and HCP Terraform sources add no HTTP
//! stack of their own), bodies read under a size limit and a per-read timeout, and the scrubbing of secrets
//! out of error texts.
//!
//! Nothing here logs a request: URLs may carry presigned capabilities, headers carry tokens.

use aws_smithy_async::rt::sleep::TokioSleep;
use aws_smithy_http_client::Connector;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorSettings};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use std::time::Duration;

/// Time to open a connection (TCP and TLS).
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time to wait for a response's headers, and for each piece of a body.
pub(crate) const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Time for a whole poll of one state: listing, checking and downloading.
/// The most a body's buffer reserves before its bytes arrive (4 MiB).
pub(crate) const INITIAL_BODY_CAPACITY: u64 = 4 * 1024 * 1024;
/// Redirects followed before giving up.
const MAX_REDIRECTS: usize = 5;

/// What replaces a secret in a message.
pub(crate) const REDACTED: &str = "<redacted>";

/// An HTTPS client for plain GETs.
pub(crate) struct Web {
    connector: Connector,
}

/// A response whose body has not been read yet.
pub(crate) struct Response {
    pub status: u16,
    headers: aws_smithy_runtime_api::http::Headers,
    body: SdkBody,
}

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    /// The content is over the limit: a property of the object, not of the transfer.
    #[error("{size} bytes, over the limit of {limit} bytes")]
    TooLarge { size: u64, limit: usize },
    #[error("{0:#}")]
    Transfer(anyhow::Error),
}

impl Web {
    pub(crate) fn new() -> Web {
        let connector = Connector::builder()
            .connector_settings(
                HttpConnectorSettings::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .read_timeout(READ_TIMEOUT)
                    .build(),
            )
            .sleep_impl(TokioSleep::new())
            .proxy_config(ProxyConfig::from_env())
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build();
        Web { connector }
    }

    /// `GET url` with `headers`, following redirects. `authorization` is sent only to URLs whose origin
    /// (scheme, host, port) is `trusted_origin`'s: never to a presigned download URL on another host.
    pub(crate) async fn get(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        authorization: Option<&str>,
        trusted_origin: &str,
    ) -> anyhow::Result<Response> {
        let mut url = url.to_owned();
        for _ in 0..=MAX_REDIRECTS {
            let mut request = HttpRequest::get(&url)
                .map_err(|_| anyhow::anyhow!("not a usable URL: {}", without_query(&url)))?;
            for (name, value) in headers {
                request
                    .headers_mut()
                    .try_insert(*name, value.clone())
                    .map_err(|_| anyhow::anyhow!("the {name} header has an unusable value"))?;
            }
            if let Some(authorization) = authorization
                && origin(&url) == origin(trusted_origin)
            {
                request
                    .headers_mut()
                    .try_insert("authorization", authorization.to_owned())
                    .map_err(|_| {
                        anyhow::anyhow!("the credentials are not usable in an HTTP header")
                    })?;
            }
            let response = self.connector.call(request).await.map_err(|e| {
                let text = format!("{:#}", anyhow::Error::new(e));
                anyhow::anyhow!("{}", scrub_url(&text, &url))
            })?;
            let status = response.status().as_u16();
            if matches!(status, 301 | 302 | 303 | 307 | 308)
                && let Some(location) = response.headers().get("location")
            {
                url = resolve(&url, location)
                    .ok_or_else(|| anyhow::anyhow!("HTTP {status} to an unusable location"))?;
                continue;
            }
            let headers = response.headers().clone();
            return Ok(Response {
                status,
                headers,
                body: response.into_body(),
            });
        }
        anyhow::bail!("more than {MAX_REDIRECTS} redirects")
    }
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// The body, at most `limit` bytes.
    pub(crate) async fn bytes(self, limit: usize) -> Result<Vec<u8>, BodyError> {
        let declared = self
            .header("content-length")
            .and_then(|v| v.trim().parse::<u64>().ok());
        read_limited(ByteStream::new(self.body), declared, limit).await
    }
}

/// Reads a body of at most `limit` bytes: refused at once when its declared length is over, as soon as it
/// grows over otherwise; a body shorter than its declared length (a cut transfer) is an error.
pub(crate) async fn read_limited(
    mut body: ByteStream,
    declared: Option<u64>,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if let Some(size) = declared
        && size > limit as u64
    {
        return Err(BodyError::TooLarge { size, limit });
    }
    // What a server declares is not what it sends: reserve at most a few MiB, and grow as bytes arrive (within
    // `limit`). A declared 512 MiB must not allocate 512 MiB before a byte comes, which under a memory limit
    // aborts the process (an allocation failure is no panic that a guard could catch).
    let mut bytes = Vec::with_capacity(
        declared
            .unwrap_or(0)
            .min(limit as u64)
            .min(INITIAL_BODY_CAPACITY) as usize,
    );
    loop {
        let chunk = tokio::time::timeout(READ_TIMEOUT, body.next())
            .await
            .map_err(|_| {
                BodyError::Transfer(anyhow::anyhow!(
                    "the transfer stalled for {} seconds",
                    READ_TIMEOUT.as_secs()
                ))
            })?;
        match chunk {
            None => break,
            Some(Err(e)) => {
                return Err(BodyError::Transfer(
                    anyhow::Error::new(e).context("the transfer broke off"),
                ));
            }
            Some(Ok(chunk)) => {
                if bytes.len() + chunk.len() > limit {
                    return Err(BodyError::TooLarge {
                        size: (bytes.len() + chunk.len()) as u64,
                        limit,
                    });
                }
                bytes.extend_from_slice(&chunk);
            }
        }
    }
    if let Some(size) = declared
        && size != bytes.len() as u64
    {
        return Err(BodyError::Transfer(anyhow::anyhow!(
            "truncated: {} of {size} bytes received",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// `scheme://host:port` of a URL (lowercase), or "" if it has none.
pub(crate) fn origin(url: &str) -> String {
    match url.parse::<http::Uri>() {
        Ok(uri) => {
            let scheme = uri.scheme_str().unwrap_or("").to_ascii_lowercase();
            let port = uri
                .port_u16()
                .unwrap_or(if scheme == "https" { 443 } else { 80 });
            match uri.host() {
                Some(host) => format!("{scheme}://{}:{port}", host.to_ascii_lowercase()),
                None => String::new(),
            }
        }
        Err(_) => String::new(),
    }
}

/// A URL as it may be shown: its query (which may carry a signature or a token) replaced.
pub(crate) fn without_query(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?{REDACTED}"),
        None => url.to_owned(),
    }
}

/// `text` with `url`'s query (if it appears) scrubbed.
fn scrub_url(text: &str, url: &str) -> String {
    match url.split_once('?') {
        Some((_, query)) if !query.is_empty() => text.replace(query, REDACTED),
        _ => text.to_owned(),
    }
}

/// `text` with every secret in `secrets` replaced: a belt over the braces of never putting one in a message.
pub(crate) fn redact(text: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|s| s.len() >= 4)
        .fold(text.to_owned(), |text, secret| {
            text.replace(secret, REDACTED)
        })
}

/// A redirect's target: an absolute URL, or a path on the same origin.
fn resolve(base: &str, location: &str) -> Option<String> {
    if location.starts_with("http://") || location.starts_with("https://") {
        return Some(location.to_owned());
    }
    let uri: http::Uri = base.parse().ok()?;
    let scheme = uri.scheme_str()?;
    let authority = uri.authority()?;
    if location.starts_with('/') {
        return Some(format!("{scheme}://{authority}{location}"));
    }
    let path = uri.path();
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    Some(format!("{scheme}://{authority}{dir}{location}"))
}

/// A cheap fingerprint of a body, to tell an unchanged state from a server that gives no validators.
pub(crate) fn fingerprint(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

/// The value of an environment variable that holds a secret; the error names the variable, never a value.
pub(crate) fn secret_from_env(name: &str) -> anyhow::Result<String> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value.trim().to_owned()),
        Ok(_) => anyhow::bail!("the environment variable {name} is empty"),
        Err(std::env::VarError::NotPresent) => {
            anyhow::bail!("the environment variable {name} is not set")
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            anyhow::bail!("the environment variable {name} is not valid text")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_redirects() {
        assert_eq!(
            origin("https://App.Terraform.io/api"),
            "https://app.terraform.io:443"
        );
        assert_eq!(origin("http://127.0.0.1:8080/x?y"), "http://127.0.0.1:8080");
        assert_ne!(
            origin("https://app.terraform.io/"),
            origin("https://archivist.terraform.io/")
        );
        assert_eq!(origin("not a url"), "");
        assert_eq!(
            resolve("http://h:1/a/b?q", "/c").as_deref(),
            Some("http://h:1/c")
        );
        assert_eq!(
            resolve("http://h:1/a/b", "c").as_deref(),
            Some("http://h:1/a/c")
        );
        assert_eq!(
            resolve("http://h:1/a/b", "https://o/x").as_deref(),
            Some("https://o/x")
        );
    }

    #[test]
    fn secrets_are_scrubbed() {
        assert_eq!(
            without_query("https://archivist/v1/object/abc?sig=SECRET"),
            "https://archivist/v1/object/abc?<redacted>"
        );
        assert_eq!(
            redact("token glpat-123456 refused", &["glpat-123456", ""]),
            "token <redacted> refused"
        );
        assert_eq!(
            scrub_url("error for https://h/p?sig=XYZ", "https://h/p?sig=XYZ"),
            "error for https://h/p?<redacted>"
        );
    }

    #[test]
    fn bodies_are_limited_and_checked() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let read = |bytes: &'static [u8], declared: Option<u64>, limit: usize| {
            runtime.block_on(read_limited(
                ByteStream::from_static(bytes),
                declared,
                limit,
            ))
        };
        assert_eq!(read(b"{}", Some(2), 10).ok(), Some(b"{}".to_vec()));
        assert!(matches!(
            read(b"{}", None, 1),
            Err(BodyError::TooLarge { .. })
        ));
        assert!(matches!(
            read(b"{}", Some(100), 10),
            Err(BodyError::TooLarge { size: 100, .. })
        ));
        assert!(matches!(
            read(b"{}", Some(5), 10),
            Err(BodyError::Transfer(_))
        ));
    }

    #[test]
    fn secrets_from_the_environment_are_named_not_shown() {
        let e = secret_from_env("TFDRIFT_TEST_SURELY_UNSET_VARIABLE").unwrap_err();
        assert!(e.to_string().contains("TFDRIFT_TEST_SURELY_UNSET_VARIABLE"));
    }
}
