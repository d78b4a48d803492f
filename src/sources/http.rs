//! A state served over HTTP: Terraform's `http` backend, GitLab-managed Terraform state, or any server that
//! answers `GET url` with the state.
//!
//! Conditional: the request carries the ETag (`If-None-Match`) and Last-Modified (`If-Modified-Since`) of
//! the last version seen, so a server that supports them answers `304` and an unchanged state costs one
//! request and no download; with a server that does not, an identical body is still not parsed again (it is
//! reported unchanged).
//! Credentials (basic authentication or a bearer token) are read from environment variables at each poll,
//! so a rotated token is picked up; they never appear in logs or errors.

use super::web::{self, BodyError, Web};
use super::{Deliver, Fetch, PollContext, StateSource};
use crate::state::Limits;
use std::time::{Duration, Instant};

/// How to reach one state over HTTP.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// The state's URL.
    pub url: String,
    /// How to authenticate.
    pub auth: HttpAuth,
}

/// Credentials, by the names of the environment variables that hold them.
#[derive(Debug, Clone)]
pub enum HttpAuth {
    /// No credentials.
    None,
    /// HTTP basic authentication.
    Basic {
        /// The user name.
        username: String,
        /// The environment variable that holds the password.
        password_env: String,
    },
    /// A bearer token.
    Bearer {
        /// The environment variable that holds the token.
        token_env: String,
    },
}

/// What identifies the version last seen.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Seen {
    etag: Option<String>,
    last_modified: Option<String>,
    fingerprint: Option<u64>,
}

/// A state read from a URL, downloaded again only when it changed.
pub struct HttpSource {
    name: String,
    options: HttpOptions,
    web: Option<Web>,
    seen: Seen,
    /// A body over the limit from a server that gives no validators cannot be told unchanged without being
    /// downloaded again: it is, only after a pause that doubles each time (up to an hour), not at every
    /// refresh. Until when, and the pause.
    too_large: Option<(Instant, Duration)>,
}

/// The first pause after a body over the limit that has no validators, and the longest.
const TOO_LARGE_PAUSE: (Duration, Duration) = (Duration::from_secs(300), Duration::from_secs(3600));

impl HttpSource {
    /// A source that reads nothing until polled.
    pub fn new(name: impl Into<String>, options: HttpOptions) -> Self {
        HttpSource {
            name: name.into(),
            options,
            web: None,
            seen: Seen::default(),
            too_large: None,
        }
    }

    /// The `Authorization` header value, and the secret in it (to scrub from messages).
    fn authorization(&self) -> anyhow::Result<Option<(String, String)>> {
        Ok(match &self.options.auth {
            HttpAuth::None => None,
            HttpAuth::Basic {
                username,
                password_env,
            } => {
                let password = web::secret_from_env(password_env)?;
                let encoded = aws_smithy_types::base64::encode(format!("{username}:{password}"));
                Some((format!("Basic {encoded}"), password))
            }
            HttpAuth::Bearer { token_env } => {
                let token = web::secret_from_env(token_env)?;
                Some((format!("Bearer {token}"), token))
            }
        })
    }

    fn credentials_hint(&self) -> String {
        match &self.options.auth {
            HttpAuth::None => {
                "the server wants credentials: set `username` and `password_env`, or `token_env`"
                    .into()
            }
            HttpAuth::Basic { password_env, .. } => {
                format!("check the user name and the password in {password_env}")
            }
            HttpAuth::Bearer { token_env } => format!("check the token in {token_env}"),
        }
    }

    async fn check(&mut self, limits: &Limits) -> Fetch {
        if let Some((until, _)) = self.too_large
            && Instant::now() < until
        {
            // Still the refused version, as far as can be known without downloading it.
            return Fetch::Unchanged;
        }
        let authorization = match self.authorization() {
            Ok(authorization) => authorization,
            Err(e) => return Fetch::Failed(e),
        };
        let secret = authorization
            .as_ref()
            .map(|(_, secret)| secret.clone())
            .unwrap_or_default();
        let scrub = |e: anyhow::Error| anyhow::anyhow!(web::redact(&format!("{e:#}"), &[&secret]));
        match self
            .fetch(authorization.map(|(header, _)| header), limits)
            .await
        {
            Ok(fetch) => fetch,
            Err(e) => Fetch::Failed(scrub(e)),
        }
    }

    async fn fetch(
        &mut self,
        authorization: Option<String>,
        limits: &Limits,
    ) -> anyhow::Result<Fetch> {
        let url = self.options.url.clone();
        let mut headers = vec![("accept", "application/json".to_owned())];
        if let Some(etag) = &self.seen.etag {
            headers.push(("if-none-match", etag.clone()));
        }
        if let Some(last_modified) = &self.seen.last_modified {
            headers.push(("if-modified-since", last_modified.clone()));
        }
        let web = self.web.get_or_insert_with(Web::new);
        let response = web
            .get(&url, &headers, authorization.as_deref(), &url)
            .await?;
        let status = response.status;
        match status {
            304 => return Ok(Fetch::Unchanged),
            200 => {}
            204 | 404 => anyhow::bail!("no state stored there (HTTP {status})"),
            401 | 403 => {
                anyhow::bail!("access denied (HTTP {status}): {}", self.credentials_hint())
            }
            _ => anyhow::bail!("HTTP {status}"),
        }
        let mut seen = Seen {
            etag: response.header("etag").map(str::to_owned),
            last_modified: response.header("last-modified").map(str::to_owned),
            fingerprint: None,
        };
        let bytes = match response.bytes(limits.max_bytes).await {
            Ok(bytes) => bytes,
            Err(BodyError::TooLarge { size, limit }) => {
                // Not fetched again until it changes (when the server gives validators), or until a pause
                // has passed (when it does not).
                if seen.etag.is_none() && seen.last_modified.is_none() {
                    let pause = self.too_large.map_or(TOO_LARGE_PAUSE.0, |(_, pause)| {
                        (pause * 2).min(TOO_LARGE_PAUSE.1)
                    });
                    self.too_large = Some((Instant::now() + pause, pause));
                }
                self.seen = seen;
                return Ok(Fetch::Refused(anyhow::anyhow!(
                    "the state is {size} bytes, over the limit of {limit} bytes"
                )));
            }
            Err(BodyError::Transfer(e)) => return Err(e),
        };
        self.too_large = None;
        seen.fingerprint = Some(web::fingerprint(&bytes));
        if self.seen.fingerprint.is_some() && self.seen.fingerprint == seen.fingerprint {
            self.seen = seen;
            return Ok(Fetch::Unchanged);
        }
        self.seen = seen;
        Ok(Fetch::New(bytes, None))
    }
}

impl StateSource for HttpSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn describe(&self) -> String {
        web::without_query(&self.options.url)
    }

    fn poll(&mut self, ctx: &PollContext, deliver: &mut Deliver<'_>) -> anyhow::Result<()> {
        let fetch = ctx
            .block_on(ctx.limits.poll_timeout, async {
                Ok(self.check(ctx.limits).await)
            })
            .unwrap_or_else(Fetch::Failed);
        deliver(self.name.clone(), fetch);
        Ok(())
    }
}
