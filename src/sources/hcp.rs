//! HCP Terraform and Terraform Enterprise: the current state version of one workspace, or of every workspace
//! with the given tags (each its own state, `name/workspace`).
//!
//! API (JSON:API, `Authorization: Bearer <token>`):
//! - `GET /api/v2/organizations/{org}/workspaces/{name}`: the workspace's id (looked up once);
//! - `GET /api/v2/organizations/{org}/workspaces?search[tags]=a,b&page[number]=n`: the tagged workspaces;
//! - `GET /api/v2/workspaces/{id}/current-state-version`: the state version's id and its
//!   `hosted-state-download-url`;
//! - `GET <hosted-state-download-url>`: the state itself.
//!
//! Conditional on the state version id: an unchanged workspace costs one request and no download. The token
//! comes from an environment variable, read at each poll, and is sent only to `address`'s origin, never to a
//! download URL on another host (HCP Terraform's are presigned). Neither the token nor a download URL
//! appears in a log line or an error.

use super::web::{self, BodyError, Web};
use super::{Deliver, Fetch, PollContext, StateSource};
use crate::state::Limits;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use std::collections::HashMap;

/// What is escaped in a path segment or a query value: all but RFC 3986's unreserved characters.
const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Most pages of tagged workspaces read (100 workspaces a page).
const MAX_PAGES: u64 = 100;

/// Which workspaces.
#[derive(Debug, Clone)]
pub enum Selector {
    /// One workspace, by name.
    Workspace(String),
    /// Every workspace that has all of these tags.
    Tags(Vec<String>),
}

/// Where the workspaces are, and how to authenticate.
#[derive(Debug, Clone)]
pub struct HcpOptions {
    /// `https://app.terraform.io`, or a Terraform Enterprise URL.
    pub address: String,
    /// The organization that owns the workspaces.
    pub organization: String,
    /// Which of its workspaces.
    pub selector: Selector,
    /// The environment variable that holds the API token.
    pub token_env: String,
}

/// The current state of HCP Terraform (or Terraform Enterprise) workspaces.
pub struct HcpSource {
    name: String,
    options: HcpOptions,
    web: Option<Web>,
    /// Workspace name → id, for a named workspace (looked up once).
    workspace_ids: HashMap<String, String>,
    /// Workspace id → the state version id last returned.
    seen: HashMap<String, String>,
    /// Versions read by the poll under way, made `seen` only when the poll delivers them: a poll cut short
    /// (its time is up) drops what it downloaded, and those versions must be read again, not taken as known.
    pending: Vec<(String, String)>,
}

/// A workspace, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Workspace {
    id: String,
    name: String,
}

/// A workspace's current state version.
#[derive(Debug, PartialEq, Eq)]
struct StateVersion {
    id: String,
    download_url: String,
}

/// What was asked of the API, with the token.
struct Api<'a> {
    web: &'a Web,
    address: &'a str,
    authorization: String,
}

impl Api<'_> {
    /// A JSON:API document from `path` (under `address`); `None` for 404.
    async fn document(&self, path: &str) -> anyhow::Result<Option<Value>> {
        let url = format!("{}{path}", self.address.trim_end_matches('/'));
        let headers = [("accept", "application/vnd.api+json".to_owned())];
        let response = self
            .web
            .get(&url, &headers, Some(&self.authorization), self.address)
            .await?;
        match response.status {
            200 => {}
            404 => return Ok(None),
            401 | 403 => anyhow::bail!(
                "the API refused the token (HTTP {}): check that it can read this organization's workspaces and state versions",
                response.status
            ),
            429 => anyhow::bail!("rate limited by the API (HTTP 429)"),
            status => anyhow::bail!("HTTP {status} from the API"),
        }
        let bytes = response
            .bytes(4 * 1024 * 1024)
            .await
            .map_err(|e| anyhow::anyhow!("API answer: {e}"))?;
        let value = serde_json::from_slice(&bytes)
            .map_err(|e| anyhow::anyhow!("the API's answer is not JSON: {e}"))?;
        Ok(Some(value))
    }
}

impl HcpSource {
    /// A source that reads nothing until polled.
    pub fn new(name: impl Into<String>, options: HcpOptions) -> Self {
        HcpSource {
            name: name.into(),
            options,
            web: None,
            workspace_ids: HashMap::new(),
            seen: HashMap::new(),
            pending: Vec::new(),
        }
    }

    fn org_path(&self) -> String {
        format!(
            "/api/v2/organizations/{}",
            utf8_percent_encode(&self.options.organization, ESCAPED)
        )
    }

    async fn check(&mut self, limits: &Limits, deliver: &mut Deliver<'_>) -> anyhow::Result<()> {
        let token = web::secret_from_env(&self.options.token_env)?;
        let scrub = |e: anyhow::Error| anyhow::anyhow!(web::redact(&format!("{e:#}"), &[&token]));
        let web = self.web.take().unwrap_or_else(Web::new);
        let address = self.options.address.clone();
        let api = Api {
            web: &web,
            address: &address,
            authorization: format!("Bearer {token}"),
        };
        self.pending.clear();
        let mut deliver = |name, fetch| {
            let fetch = match fetch {
                Fetch::Failed(e) => Fetch::Failed(scrub(e)),
                Fetch::Refused(e) => Fetch::Refused(scrub(e)),
                other => other,
            };
            deliver(name, fetch);
        };
        let result = self
            .members(&api, limits, &mut deliver)
            .await
            .map_err(&scrub);
        if result.is_ok() {
            // Delivered: these versions are known now.
            self.seen.extend(self.pending.drain(..));
        }
        self.web = Some(web);
        result
    }

    async fn members(
        &mut self,
        api: &Api<'_>,
        limits: &Limits,
        deliver: &mut Deliver<'_>,
    ) -> anyhow::Result<()> {
        match self.options.selector.clone() {
            Selector::Workspace(workspace) => {
                let fetch = match self.workspace_id(api, &workspace).await {
                    Ok(id) => {
                        let fetch = self.workspace_state(api, &id, limits).await;
                        if matches!(fetch, Ok(None)) {
                            // The workspace may have been deleted and re-created: look it up again next time.
                            self.workspace_ids.remove(&workspace);
                        }
                        match fetch {
                            Ok(Some(fetch)) => fetch,
                            Ok(None) => Fetch::Failed(anyhow::anyhow!(
                                "the workspace {workspace} has no state version yet"
                            )),
                            Err(e) => Fetch::Failed(e),
                        }
                    }
                    Err(e) => Fetch::Failed(e),
                };
                deliver(self.name.clone(), fetch);
            }
            Selector::Tags(tags) => {
                let workspaces = self.tagged(api, &tags).await?;
                for workspace in &workspaces {
                    let name = format!("{}/{}", self.name, workspace.name);
                    match self.workspace_state(api, &workspace.id, limits).await {
                        Ok(Some(fetch)) => deliver(name, fetch),
                        // No state yet: not a state to report.
                        Ok(None) => {}
                        Err(e) => deliver(name, Fetch::Failed(e)),
                    }
                }
                self.seen
                    .retain(|id, _| workspaces.iter().any(|w| w.id == *id));
            }
        }
        Ok(())
    }

    async fn workspace_id(&mut self, api: &Api<'_>, workspace: &str) -> anyhow::Result<String> {
        if let Some(id) = self.workspace_ids.get(workspace) {
            return Ok(id.clone());
        }
        let path = format!(
            "{}/workspaces/{}",
            self.org_path(),
            utf8_percent_encode(workspace, ESCAPED)
        );
        let document = api.document(&path).await?.ok_or_else(|| {
            anyhow::anyhow!(
                "no workspace {workspace} in the organization {} (or the token cannot see it)",
                self.options.organization
            )
        })?;
        let id = workspace_id(&document)
            .ok_or_else(|| anyhow::anyhow!("the API's workspace has no id"))?;
        self.workspace_ids.insert(workspace.to_owned(), id.clone());
        Ok(id)
    }

    /// Every workspace with all of `tags`, in name order.
    async fn tagged(&self, api: &Api<'_>, tags: &[String]) -> anyhow::Result<Vec<Workspace>> {
        let tags = utf8_percent_encode(&tags.join(","), ESCAPED).to_string();
        let mut workspaces = Vec::new();
        let mut page = 1;
        loop {
            let path = format!(
                "{}/workspaces?search%5Btags%5D={tags}&page%5Bsize%5D=100&page%5Bnumber%5D={page}",
                self.org_path()
            );
            let document = api.document(&path).await?.ok_or_else(|| {
                anyhow::anyhow!(
                    "no organization {} (or the token cannot see it)",
                    self.options.organization
                )
            })?;
            workspaces.extend(listed_workspaces(&document));
            match next_page(&document) {
                Some(next) if next > page && next <= MAX_PAGES => page = next,
                _ => break,
            }
        }
        workspaces.sort_by(|a, b| a.name.cmp(&b.name));
        workspaces.dedup_by(|a, b| a.id == b.id);
        Ok(workspaces)
    }

    /// The workspace's current state, if its version is new; `None` if it has no state version.
    async fn workspace_state(
        &mut self,
        api: &Api<'_>,
        workspace_id: &str,
        limits: &Limits,
    ) -> anyhow::Result<Option<Fetch>> {
        let path = format!(
            "/api/v2/workspaces/{}/current-state-version",
            utf8_percent_encode(workspace_id, ESCAPED)
        );
        let Some(document) = api.document(&path).await? else {
            return Ok(None);
        };
        let version = state_version(&document).ok_or_else(|| {
            anyhow::anyhow!("the current state version has no id or no hosted-state-download-url")
        })?;
        if self.seen.get(workspace_id) == Some(&version.id) {
            return Ok(Some(Fetch::Unchanged));
        }
        let download = &version.download_url;
        let response = api
            .web
            .get(download, &[], Some(&api.authorization), api.address)
            .await
            .map_err(|e| {
                let text = format!("{e:#}").replace(download.as_str(), web::REDACTED);
                anyhow::anyhow!("downloading state version {}: {text}", version.id)
            })?;
        if response.status != 200 {
            anyhow::bail!(
                "downloading state version {}: HTTP {}",
                version.id,
                response.status
            );
        }
        let bytes = match response.bytes(limits.max_bytes).await {
            Ok(bytes) => bytes,
            Err(BodyError::TooLarge { size, limit }) => {
                self.pending
                    .push((workspace_id.to_owned(), version.id.clone()));
                return Ok(Some(Fetch::Refused(anyhow::anyhow!(
                    "state version {} is {size} bytes, over the limit of {limit} bytes",
                    version.id
                ))));
            }
            Err(BodyError::Transfer(e)) => {
                anyhow::bail!("downloading state version {}: {e:#}", version.id)
            }
        };
        self.pending
            .push((workspace_id.to_owned(), version.id.clone()));
        let label = Some(format!("state version {}", version.id));
        Ok(Some(Fetch::New(bytes, label)))
    }
}

impl StateSource for HcpSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn describe(&self) -> String {
        let which = match &self.options.selector {
            Selector::Workspace(workspace) => format!("workspace {workspace}"),
            Selector::Tags(tags) => format!("workspaces tagged {}", tags.join(", ")),
        };
        format!(
            "{} organization {} {which}",
            self.options.address, self.options.organization
        )
    }

    fn poll(&mut self, ctx: &PollContext, deliver: &mut Deliver<'_>) -> anyhow::Result<()> {
        ctx.block_on(ctx.limits.poll_timeout, self.check(ctx.limits, deliver))
    }
}

fn workspace_id(document: &Value) -> Option<String> {
    document["data"]["id"].as_str().map(str::to_owned)
}

fn listed_workspaces(document: &Value) -> Vec<Workspace> {
    document["data"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| {
                    Some(Workspace {
                        id: item["id"].as_str()?.to_owned(),
                        name: item["attributes"]["name"].as_str()?.to_owned(),
                    })
                })
                .filter(|w| !w.name.is_empty() && !w.name.contains('/'))
                .collect()
        })
        .unwrap_or_default()
}

fn next_page(document: &Value) -> Option<u64> {
    document["meta"]["pagination"]["next-page"].as_u64()
}

fn state_version(document: &Value) -> Option<StateVersion> {
    let data = &document["data"];
    Some(StateVersion {
        id: data["id"].as_str()?.to_owned(),
        download_url: data["attributes"]["hosted-state-download-url"]
            .as_str()?
            .to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn api_documents() {
        assert_eq!(
            workspace_id(&json!({"data": {"id": "ws-1", "type": "workspaces"}})).as_deref(),
            Some("ws-1")
        );
        let list = json!({
            "data": [
                {"id": "ws-1", "type": "workspaces", "attributes": {"name": "prod"}},
                {"id": "ws-2", "type": "workspaces", "attributes": {"name": "a/b"}},
                {"id": "ws-3", "type": "workspaces"},
            ],
            "meta": {"pagination": {"current-page": 1, "next-page": 2, "total-pages": 2}},
        });
        assert_eq!(
            listed_workspaces(&list),
            [Workspace {
                id: "ws-1".into(),
                name: "prod".into()
            }]
        );
        assert_eq!(next_page(&list), Some(2));
        assert_eq!(
            next_page(&json!({"meta": {"pagination": {"next-page": null}}})),
            None
        );
        let version = json!({"data": {"id": "sv-9", "type": "state-versions", "attributes": {
            "serial": 3, "hosted-state-download-url": "https://archivist.example/v1/object/x"}}});
        assert_eq!(
            state_version(&version),
            Some(StateVersion {
                id: "sv-9".into(),
                download_url: "https://archivist.example/v1/object/x".into()
            })
        );
        assert_eq!(state_version(&json!({"data": {"id": "sv-9"}})), None);
    }
}
