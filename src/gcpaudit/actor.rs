//! Who made a Google Cloud call: whether its user agent is the Terraform google provider's, how it was made
//! (Google's own service, a person in the Cloud Console, some other client) and the name behind it.
//!
//! The caller writes `requestMetadata` (its user agent); Google writes `authenticationInfo` (who it
//! authenticated, and the chain of impersonation) and `logName`. Only the latter can make a caller Google's
//! own service: a user agent saying `Google-Deployment-Manager` or `GoogleHC` is a client like any other.

use super::{Entry, LogKind};
use crate::call::ActorKind;
use memchr::memmem::Finder;
use std::borrow::Cow;
use std::sync::LazyLock;

/// The Terraform google provider's user agent, wherever it stands in the text Google logs: the provider
/// names itself `terraform-provider-google/<version>` (`terraform-provider-google-beta/<version>` for the
/// beta provider), and Google adds `google-api-go-client/0.5 ` before and `,gzip(gfe)` after. Terraform's
/// `gcs` backend says only `Terraform/<version>`: its state reads are not the provider's calls.
pub fn is_terraform_user_agent(user_agent: &str) -> bool {
    const NAME: &str = "terraform-provider-google";
    static FINDER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(NAME));
    let bytes = user_agent.as_bytes();
    let mut from = 0;
    while let Some(at) = bytes.get(from..).and_then(|rest| FINDER.find(rest)) {
        let after = &bytes[from + at + NAME.len()..];
        if after.starts_with(b"/") || after.starts_with(b"-beta/") {
            return true;
        }
        from += at + 1;
    }
    false
}

/// How the call was made. Google's own service first, from what Google writes only:
/// - the System Event log (Google's actions on resources);
/// - a principal only Google has (see [`is_google_principal`]);
/// - an impersonation chain that starts with a Google first-party robot (`...@prod.google.com`), as Google's
///   services write when they act with a project's service agent (Deployment Manager, say).
///
/// A chain that starts with a service agent and ends at a project's own service account (a VM's workload
/// using the account attached to it: `service-<n>@compute-system...` then `app@<p>.iam...`) is the project's
/// code, not Google's. Then the Cloud Console (a browser's agent, `GoogleCloudConsole`, or the console's
/// `requestAttributes.reason` tag), any other client that names itself, and `Unknown` when nothing does.
/// A user agent never makes a call Google's: a forged `Google-Deployment-Manager` is a client like any other.
pub fn actor_kind(entry: &Entry) -> ActorKind {
    let auth = &entry.payload.authentication;
    let chain_from_google = auth.delegation.first().is_some_and(|first| {
        first
            .first_party_email
            .get()
            .is_some_and(|email| email.ends_with("@prod.google.com"))
    });
    if entry.log_kind() == LogKind::SystemEvent
        || auth.principal_email.get().is_some_and(is_google_principal)
        || chain_from_google
    {
        return ActorKind::GcpService;
    }
    let metadata = &entry.payload.request_metadata;
    let user_agent = entry.user_agent();
    if from_console(user_agent) || metadata.reason.get() == Some(CONSOLE_REASON) {
        return ActorKind::Console;
    }
    if names_a_client(user_agent) {
        return ActorKind::SdkOrCli;
    }
    ActorKind::Unknown
}

/// What the Cloud Console writes in `requestMetadata.requestAttributes.reason` (base64 of a tag and
/// "Coliseum Flows"; seen on the console's calls, not documented).
const CONSOLE_REASON: &str = "8uSywAYQGg5Db2xpc2V1bSBGbG93cw";

/// Principals only Google has:
/// - `system@google.com` (system events) and Google's internal robots, `...@prod.google.com`;
/// - the Google APIs service agent, `<project number>@cloudservices.gserviceaccount.com`: any name in that
///   domain, where no project can create accounts;
/// - service agents, `service-<project number>@<agent>.iam.gserviceaccount.com`, where `<agent>` is one of
///   Google's projects: `gcp-sa-<product>` (the current naming), a `google.com` domain project
///   (`cloud-ml.google.com`, which only Google's organisation can create), or one of the older agents'
///   projects listed in [`LEGACY_AGENT_PROJECTS`]. The local part alone proves nothing: any project may name
///   an account `service-123`, so `service-123@my-project.iam.gserviceaccount.com` is the project's own.
pub fn is_google_principal(email: &str) -> bool {
    if email == "system@google.com" || email.ends_with("@prod.google.com") {
        return true;
    }
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if domain == "cloudservices.gserviceaccount.com" {
        // Google names it by the project's number; the domain is what no project can write to.
        return !local.is_empty();
    }
    let Some(number) = local.strip_prefix("service-") else {
        return false;
    };
    let Some(project) = domain.strip_suffix(".iam.gserviceaccount.com") else {
        return false;
    };
    digits(number)
        && (project.starts_with("gcp-sa-")
            || project.ends_with(".google.com")
            || LEGACY_AGENT_PROJECTS.contains(&project))
}

/// The projects of service agents named before the `gcp-sa-` convention (Google's "Service agents" list).
pub const LEGACY_AGENT_PROJECTS: [&str; 14] = [
    "compute-system",
    "container-engine-robot",
    "containerregistry",
    "cloudcomposer-accounts",
    "dataflow-service-producer-prod",
    "dataproc-accounts",
    "gs-project-accounts",
    "cloud-redis",
    "cloud-filer",
    "cloud-tpu",
    "firebase-rules",
    "gcf-admin-robot",
    "serverless-robot-prod",
    "sourcerepo-service-accounts",
];

/// The Cloud Console's user agents: a browser's (`Mozilla/5.0 ...`), and `GoogleCloudConsole` (its views of
/// GKE). A caller can write these: they only ever make a call a person's.
fn from_console(user_agent: &str) -> bool {
    user_agent.starts_with("Mozilla/") || user_agent.contains("GoogleCloudConsole")
}

/// Whether the user agent names a client once Google's own decorations (`gzip(gfe)`, `(gzip)`, the commas
/// and spaces between them) are taken off: `(gzip),gzip(gfe)` alone says nothing about who called.
fn names_a_client(user_agent: &str) -> bool {
    user_agent
        .split([',', ' '])
        .any(|part| !part.is_empty() && part != "gzip(gfe)" && part != "(gzip)")
}

/// The email in a principal subject `user:<email>` or `serviceAccount:<email>`.
pub fn subject_email(subject: &str) -> Option<&str> {
    subject
        .strip_prefix("user:")
        .or_else(|| subject.strip_prefix("serviceAccount:"))
        .filter(|email| !email.is_empty())
}

/// Whether an identity is a person's: not a service account, not one of Google's.
fn is_human(email: &str) -> bool {
    email.contains('@') && !email.ends_with(".gserviceaccount.com") && !is_google_principal(email)
}

/// The human (or service) behind the call: when a service account is impersonated, the first person in the
/// delegation chain (a first-party principal that is not a service account, or a `user:` subject); else
/// `principalEmail`, else the email (or whole text) of `principalSubject`.
pub fn actor<'e>(entry: &'e Entry) -> Option<Cow<'e, str>> {
    let auth = &entry.payload.authentication;
    let person = auth.delegation.iter().find_map(|delegate| {
        delegate
            .first_party_email
            .get()
            .filter(|e| is_human(e))
            .or_else(|| {
                delegate
                    .principal_subject
                    .get()
                    .and_then(|s| s.strip_prefix("user:"))
                    .filter(|e| !e.is_empty())
            })
    });
    person
        .or_else(|| auth.principal_email.get().filter(|e| !e.is_empty()))
        .or_else(|| {
            auth.principal_subject
                .get()
                .filter(|s| !s.is_empty())
                .map(|s| subject_email(s).unwrap_or(s))
        })
        .map(Cow::Borrowed)
}
