//! One cloud API call as the verdict reads it, whichever log recorded it: what it does (the service, the
//! operation, whether it only reads or failed), which resources it names and which values it sets (the
//! [`Section`]s the catalog's paths read), when and where (account or project, region), and who made it.
//!
//! Each log source has a record view implementing [`Call`] over the event's bytes ([`crate::cloudtrail`] for
//! AWS CloudTrail); the verdict reads a call only through it, so a second source needs a view, not a change
//! to the verdict. This module also owns the words for who called, whatever the cloud: [`ActorKind`], and the
//! configured [`Principals`] and [`TerraformIdentity`] a caller is matched against.

use crate::catalog::Section;
use serde_json::Value;
use std::borrow::Cow;
use wildmatch::WildMatch;

/// A call, as its record view reads it. The view borrows the event's bytes and parses a section only when
/// asked, which is what keeps a read-only or failed call cheap: the verdict asks for nothing else then.
pub trait Call {
    /// The service called, as the catalog keys it (CloudTrail's event source, `ec2.amazonaws.com`).
    fn service(&self) -> &str;
    /// The operation (`RunInstances`).
    fn operation(&self) -> &str;
    /// Whether the call only reads.
    fn read_only(&self) -> bool;
    /// Whether the call failed.
    fn failed(&self) -> bool;
    /// When the call was made, as RFC 3339 text.
    fn time(&self) -> Option<&str>;
    /// The account (or project) the call was made in.
    fn account_id(&self) -> Option<&str>;
    /// The region the call was made in.
    fn region(&self) -> Option<&str>;
    /// One part of the call as a JSON value, parsed on every ask: the caller keeps it.
    fn section_value(&self, section: Section) -> Option<Value>;
    /// The caller's identities that [`Principals`] match: its own, and the one it acts as (an assumed role).
    fn principals(&self) -> impl Iterator<Item = &str>;
    /// Whether the client says it is Terraform: a header the caller chooses, trusted only when configured.
    fn terraform_client(&self) -> bool;
    /// How the call was made, when it is not Terraform's.
    fn actor_kind(&self) -> ActorKind;
    /// The human (or service) behind the call.
    fn actor(&self) -> Option<Cow<'_, str>>;
}

/// How a call was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    /// Terraform itself, by its identity or its client.
    Terraform,
    /// A person in the web console.
    Console,
    /// AWS's own service, acting on its own.
    AwsService,
    /// Google Cloud's own service (a service agent, `system@google.com`), acting on its own.
    GcpService,
    /// A provisioning service (CloudFormation, Service Catalog, ...) acting for a principal.
    ProvisioningService,
    /// A program through an SDK or the command line.
    SdkOrCli,
    /// Not enough in the record to tell.
    Unknown,
}

impl ActorKind {
    /// The kind as `tfdrift.actor_kind` shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Terraform => "terraform",
            ActorKind::Console => "console",
            ActorKind::AwsService => "aws_service",
            ActorKind::GcpService => "gcp_service",
            ActorKind::ProvisioningService => "provisioning_service",
            ActorKind::SdkOrCli => "sdk_or_cli",
            ActorKind::Unknown => "unknown",
        }
    }
}

/// Identity patterns (`*` and `?` wildcards; ARNs on AWS) matched against the call's [`Call::principals`].
#[derive(Debug, Clone, Default)]
pub struct Principals {
    patterns: Vec<Pattern>,
}

/// One pattern, with the literal text before its first wildcard and after its last: an identity that does
/// not start and end with those (most callers, for a pattern naming one role) is refused without running
/// the matcher.
#[derive(Debug, Clone)]
struct Pattern {
    prefix: String,
    suffix: String,
    matcher: WildMatch,
}

impl Pattern {
    fn new(pattern: &str) -> Self {
        let wildcard = |c: char| c == '*' || c == '?';
        let prefix = pattern.split(wildcard).next().unwrap_or_default();
        let suffix = if pattern.contains(wildcard) {
            pattern.rsplit(wildcard).next().unwrap_or_default()
        } else {
            ""
        };
        Pattern {
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
            matcher: WildMatch::new(pattern),
        }
    }

    fn matches(&self, arn: &str) -> bool {
        arn.starts_with(&self.prefix) && arn.ends_with(&self.suffix) && self.matcher.matches(arn)
    }
}

impl Principals {
    /// Matchers for the given ARN patterns (`*` matches any run of characters).
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Self {
        Self {
            patterns: patterns.iter().map(|p| Pattern::new(p.as_ref())).collect(),
        }
    }

    /// Whether there is no pattern, so nothing matches.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether the call's caller is one of these principals.
    pub fn matches(&self, call: &impl Call) -> bool {
        !self.patterns.is_empty()
            && call
                .principals()
                .any(|id| self.patterns.iter().any(|p| p.matches(id)))
    }
}

/// How Terraform's own calls are recognised: by the principals that run it first, then by its user agent
/// when that is trusted.
#[derive(Debug, Clone)]
pub struct TerraformIdentity {
    principals: Principals,
    trust_user_agent: bool,
}

impl Default for TerraformIdentity {
    fn default() -> Self {
        Self::new::<&str>(&[], true)
    }
}

impl TerraformIdentity {
    /// `principals`: ARNs or patterns of the identities that run Terraform (a CI role, say).
    /// `trust_user_agent`: whether Terraform's user agent alone marks a call as Terraform's; off, only the
    /// principals do (user agents can be forged).
    pub fn new<S: AsRef<str>>(principals: &[S], trust_user_agent: bool) -> Self {
        Self {
            principals: Principals::new(principals),
            trust_user_agent,
        }
    }

    /// Whether the caller is one of the configured Terraform principals.
    pub fn principal_matches(&self, call: &impl Call) -> bool {
        self.principals.matches(call)
    }

    /// Whether Terraform made the call.
    pub fn is_terraform(&self, call: &impl Call) -> bool {
        self.principal_matches(call) || (self.trust_user_agent && call.terraform_client())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_literal_ends_of_a_pattern_refuse_only_what_the_matcher_refuses() {
        let patterns = [
            "*",
            "?",
            "arn:aws:iam::1:role/x",
            "arn:aws:iam::*:role/ci",
            "ab*ba",
            "a?c",
            "*x",
            "x*",
            "a*b*c",
            "arn:*:role/x?",
            "",
        ];
        let arns = [
            "",
            "a",
            "abc",
            "aba",
            "abba",
            "arn:aws:iam::1:role/x",
            "arn:aws:iam::22:role/ci",
            "arn:aws:sts::1:assumed-role/ci/run",
            "axbxc",
            "x",
            "arn:aws:iam::1:role/xy",
        ];
        for pattern in patterns {
            for arn in arns {
                assert_eq!(
                    Pattern::new(pattern).matches(arn),
                    WildMatch::new(pattern).matches(arn),
                    "{pattern} against {arn}"
                );
            }
        }
    }
}
