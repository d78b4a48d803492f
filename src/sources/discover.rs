//! Key patterns for states discovered in a bucket: which object keys are states ([`KeyPattern`],
//! `live/*/*/*/terraform.tfstate`, `**/terraform.tfstate`), what scope a key gives its state ([`KeyScope`],
//! `live/{account}/{region}/**`), and the name a discovered state takes from its key ([`state_name`]).
//!
//! Patterns match whole keys segment by segment (`/` separates segments): `*` is any run of characters
//! within one segment, `?` one character, `**` (a whole segment) any number of segments, none included, and
//! `{account}`, `{region}`, `{project}` (a whole segment, scope patterns only) one segment, captured. Matching
//! is linear in the key times the pattern: a failed (pattern segment, key segment) pair is remembered, so
//! several `**` cannot make a hostile key costly.

use std::collections::HashSet;
use wildmatch::WildMatch;

/// States discovered under a prefix by key pattern (`s3` and `gcs` sources).
#[derive(Debug, Clone)]
pub struct Discovery {
    /// Only keys under it are listed (`live/`); empty: the whole bucket.
    pub prefix: String,
    /// Which keys are states.
    pub pattern: KeyPattern,
    /// Most downloads at a time (at least one).
    pub concurrency: usize,
}

/// Most states one discovering source follows: past it, its poll fails (every state kept as it was) rather
/// than hold what whoever writes the bucket chose to create.
pub const MAX_DISCOVERED: usize = 100_000;

/// Most segments a pattern may have.
const MAX_SEGMENTS: usize = 64;

/// A scope part a key pattern can capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Placeholder {
    /// `{account}`: an AWS account id (12 digits).
    Account,
    /// `{region}`: an AWS region (`eu-west-1`).
    Region,
    /// `{project}`: a Google Cloud project id.
    Project,
}

impl Placeholder {
    fn name(self) -> &'static str {
        match self {
            Placeholder::Account => "account",
            Placeholder::Region => "region",
            Placeholder::Project => "project",
        }
    }

    /// Whether `value` is what this part can be; a key segment that is not (`{account}` over `shared`) gives
    /// nothing.
    fn accepts(self, value: &str) -> bool {
        match self {
            Placeholder::Account => value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()),
            // `us-east-1`, `us-gov-west-1`, `cn-north-1`, `eu-isoe-west-1`: lowercase words and a number.
            Placeholder::Region => {
                let mut parts = value.split('-');
                let first = parts.next().unwrap_or_default();
                let rest: Vec<&str> = parts.collect();
                (4..=32).contains(&value.len())
                    && first.len() == 2
                    && first.bytes().all(|b| b.is_ascii_lowercase())
                    && rest.len() >= 2
                    && rest.last().is_some_and(|n| {
                        !n.is_empty() && n.len() <= 2 && n.bytes().all(|b| b.is_ascii_digit())
                    })
                    && rest[..rest.len() - 1]
                        .iter()
                        .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
            }
            // 6 to 30 lowercase letters, digits and hyphens, starting with a letter, not ending with a hyphen.
            Placeholder::Project => {
                (6..=30).contains(&value.len())
                    && value.starts_with(|c: char| c.is_ascii_lowercase())
                    && !value.ends_with('-')
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Segment {
    /// `**`.
    Any,
    /// `{account}`, `{region}`, `{project}`.
    Capture(Placeholder),
    /// A segment without wildcards.
    Literal(String),
    /// A segment with `*` or `?`.
    Wild(WildMatch),
}

/// Why a pattern is not one.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PatternError {
    /// Empty, or starting with `/`.
    #[error("must be a key pattern, neither empty nor starting with `/`")]
    Empty,
    /// Too many segments.
    #[error("has more than {MAX_SEGMENTS} segments")]
    TooLong,
    /// `{x}` that is not a known placeholder, or a placeholder in a discovery pattern.
    #[error(
        "`{0}` is not a placeholder here (use `{{account}}`, `{{region}}` or `{{project}}`, as a whole segment, in a scope pattern)"
    )]
    Placeholder(String),
    /// The same placeholder twice.
    #[error("`{{{0}}}` appears twice")]
    Repeated(&'static str),
    /// `**` inside a segment.
    #[error("`**` must be a whole segment (`a/**/b`), not `{0}`")]
    DoubleStar(String),
}

/// A pattern over object keys, segment by segment (see the module's documentation).
#[derive(Debug, Clone)]
pub struct KeyPattern {
    text: String,
    segments: Vec<Segment>,
}

impl PartialEq for KeyPattern {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for KeyPattern {}

impl KeyPattern {
    /// A discovery pattern: wildcards, no placeholders.
    pub fn new(text: &str) -> Result<KeyPattern, PatternError> {
        Self::parse(text, false)
    }

    fn parse(text: &str, placeholders: bool) -> Result<KeyPattern, PatternError> {
        if text.trim().is_empty() || text.starts_with('/') {
            return Err(PatternError::Empty);
        }
        let mut segments = Vec::new();
        let mut captured = HashSet::new();
        for part in text.split('/') {
            if segments.len() == MAX_SEGMENTS {
                return Err(PatternError::TooLong);
            }
            let segment = if part == "**" {
                Segment::Any
            } else if part.contains("**") {
                return Err(PatternError::DoubleStar(part.to_owned()));
            } else if part.contains(['{', '}']) {
                let placeholder = match part {
                    "{account}" if placeholders => Placeholder::Account,
                    "{region}" if placeholders => Placeholder::Region,
                    "{project}" if placeholders => Placeholder::Project,
                    _ => return Err(PatternError::Placeholder(part.to_owned())),
                };
                if !captured.insert(placeholder) {
                    return Err(PatternError::Repeated(placeholder.name()));
                }
                Segment::Capture(placeholder)
            } else if part.contains(['*', '?']) {
                Segment::Wild(WildMatch::new(part))
            } else {
                Segment::Literal(part.to_owned())
            };
            segments.push(segment);
        }
        Ok(KeyPattern {
            text: text.to_owned(),
            segments,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The literal segments the pattern starts with, each followed by `/` (`live/` for
    /// `live/*/terraform.tfstate`): every key it matches starts with it, so a listing need go no wider.
    pub fn literal_prefix(&self) -> String {
        let mut prefix = String::new();
        for segment in &self.segments[..self.segments.len().saturating_sub(1)] {
            match segment {
                Segment::Literal(text) => {
                    prefix.push_str(text);
                    prefix.push('/');
                }
                _ => break,
            }
        }
        prefix
    }

    /// Whether `key` matches.
    pub fn matches(&self, key: &str) -> bool {
        self.captures(key).is_some()
    }

    /// The placeholders' values if `key` matches (`None`: it does not). A placeholder's segment must be a
    /// valid value of its kind for the key to match.
    pub fn captures<'k>(&self, key: &'k str) -> Option<Vec<(Placeholder, &'k str)>> {
        let key: Vec<&str> = key.split('/').collect();
        let mut failed = HashSet::new();
        let mut captures = Vec::new();
        walk(&self.segments, 0, &key, 0, &mut failed, &mut captures).then_some(captures)
    }
}

/// Matches `pattern[p..]` against `key[k..]`, remembering the pairs that cannot match.
fn walk<'k>(
    pattern: &[Segment],
    p: usize,
    key: &[&'k str],
    k: usize,
    failed: &mut HashSet<(usize, usize)>,
    captures: &mut Vec<(Placeholder, &'k str)>,
) -> bool {
    if failed.contains(&(p, k)) {
        return false;
    }
    let matched = match pattern.get(p) {
        None => k == key.len(),
        Some(Segment::Any) => {
            (k..=key.len()).any(|next| walk(pattern, p + 1, key, next, failed, captures))
        }
        Some(segment) => {
            let Some(&part) = key.get(k) else {
                failed.insert((p, k));
                return false;
            };
            let here = match segment {
                Segment::Literal(text) => text == part,
                Segment::Wild(wild) => wild.matches(part),
                Segment::Capture(placeholder) => placeholder.accepts(part),
                Segment::Any => unreachable!("handled above"),
            };
            if here {
                let mark = captures.len();
                if let Segment::Capture(placeholder) = segment {
                    captures.push((*placeholder, part));
                }
                let rest = walk(pattern, p + 1, key, k + 1, failed, captures);
                if !rest {
                    captures.truncate(mark);
                }
                rest
            } else {
                false
            }
        }
    };
    if !matched {
        failed.insert((p, k));
    }
    matched
}

/// How a discovered state's key scopes it: a pattern with placeholders (`live/{account}/{region}/**`), and
/// where the source keeps other workspaces' states (`<prefix>/<workspace>/<key>`), which is stripped before
/// matching so that a workspace's state is scoped by the key it is a workspace of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyScope {
    pattern: KeyPattern,
    source: String,
    workspace_key_prefix: Option<String>,
}

/// The scope a key gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyScoped {
    /// `{account}`.
    pub account: Option<Box<str>>,
    /// `{region}`.
    pub region: Option<Box<str>>,
    /// `{project}`.
    pub project: Option<Box<str>>,
}

impl KeyScope {
    /// A scope pattern, for the states of the source `source` whose workspaces (if any) live under
    /// `workspace_key_prefix`.
    pub fn new(
        text: &str,
        source: &str,
        workspace_key_prefix: Option<String>,
    ) -> Result<KeyScope, PatternError> {
        Ok(KeyScope {
            pattern: KeyPattern::parse(text, true)?,
            source: source.to_owned(),
            workspace_key_prefix,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        self.pattern.as_str()
    }

    /// Which placeholders the pattern has.
    pub fn has(&self, placeholder: Placeholder) -> bool {
        self.pattern
            .segments
            .iter()
            .any(|s| matches!(s, Segment::Capture(p) if *p == placeholder))
    }

    /// What the key of the state named `state` (`<source>/<key>`, see [`state_name`]) says of its scope;
    /// `None` when the key does not match the pattern.
    pub fn scope(&self, state: &str) -> Option<KeyScoped> {
        let key = state
            .strip_prefix(self.source.as_str())?
            .strip_prefix('/')?;
        let key = match &self.workspace_key_prefix {
            Some(prefix) => match key
                .strip_prefix(prefix.as_str())
                .and_then(|rest| rest.strip_prefix('/'))
                .and_then(|rest| rest.split_once('/'))
            {
                Some((_workspace, key)) => key,
                None => key,
            },
            None => key,
        };
        let captures = self.pattern.captures(key)?;
        let mut scoped = KeyScoped::default();
        for (placeholder, value) in captures {
            let slot = match placeholder {
                Placeholder::Account => &mut scoped.account,
                Placeholder::Region => &mut scoped.region,
                Placeholder::Project => &mut scoped.project,
            };
            *slot = Some(value.into());
        }
        Some(scoped)
    }
}

/// The name of the state at `key` of the source `source`: `<source>/<key>`. A key is whatever whoever
/// writes the bucket chose, so its control characters are escaped (`\u{7}`), and a backslash doubled, so that
/// a name never breaks a log line or an alert's output and two keys never share a name.
pub fn state_name(source: &str, key: &str) -> String {
    let mut name = String::with_capacity(source.len() + 1 + key.len());
    name.push_str(source);
    name.push('/');
    for c in key.chars() {
        match c {
            '\\' => name.push_str("\\\\"),
            c if c.is_control() => name.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => name.push(c),
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_double_stars() {
        let p = KeyPattern::new("live/*/*/*/terraform.tfstate").unwrap();
        assert!(p.matches("live/111111111111/eu-west-1/vpc/terraform.tfstate"));
        assert!(!p.matches("live/111111111111/eu-west-1/vpc/extra/terraform.tfstate"));
        assert!(!p.matches("live/111111111111/eu-west-1/terraform.tfstate"));
        assert!(!p.matches("other/1/2/3/terraform.tfstate"));
        assert_eq!(p.literal_prefix(), "live/");

        let any = KeyPattern::new("**/terraform.tfstate").unwrap();
        assert!(any.matches("terraform.tfstate"));
        assert!(any.matches("a/b/c/terraform.tfstate"));
        assert!(!any.matches("a/b/c/terraform.tfstate.backup"));
        assert_eq!(any.literal_prefix(), "");

        let mid = KeyPattern::new("live/**/prod-?/*.tfstate").unwrap();
        assert!(mid.matches("live/prod-1/x.tfstate"));
        assert!(mid.matches("live/a/b/prod-2/y.tfstate"));
        assert!(!mid.matches("live/a/prod-10/y.tfstate"));

        assert_eq!(KeyPattern::new("").unwrap_err(), PatternError::Empty);
        assert_eq!(KeyPattern::new("/a").unwrap_err(), PatternError::Empty);
        assert!(matches!(
            KeyPattern::new("a**/b").unwrap_err(),
            PatternError::DoubleStar(_)
        ));
        assert!(matches!(
            KeyPattern::new("live/{account}/x").unwrap_err(),
            PatternError::Placeholder(_)
        ));
    }

    #[test]
    fn many_double_stars_stay_cheap() {
        let p = KeyPattern::new("**/**/**/**/**/**/**/**/z").unwrap();
        let key = vec!["a"; 400].join("/");
        assert!(!p.matches(&key));
        assert!(p.matches(&format!("{key}/z")));
    }

    #[test]
    fn scope_from_the_key() {
        let scope =
            KeyScope::new("live/{account}/{region}/**", "estate", Some("env:".into())).unwrap();
        assert_eq!(
            scope.scope("estate/live/111111111111/eu-west-1/vpc/terraform.tfstate"),
            Some(KeyScoped {
                account: Some("111111111111".into()),
                region: Some("eu-west-1".into()),
                project: None,
            })
        );
        // A workspace's state: scoped by the key it is a workspace of.
        assert_eq!(
            scope
                .scope("estate/env:/prod/live/222222222222/us-gov-west-1/iam/terraform.tfstate")
                .and_then(|s| s.account),
            Some("222222222222".into())
        );
        // A segment that is no account: no match, so the state is inferred.
        assert_eq!(
            scope.scope("estate/live/shared/eu-west-1/dns/terraform.tfstate"),
            None
        );
        assert_eq!(
            scope.scope("estate/live/111111111111/global/iam/terraform.tfstate"),
            None
        );
        assert_eq!(scope.scope("other/live/1/2/3"), None);
        assert!(scope.has(Placeholder::Account) && !scope.has(Placeholder::Project));
        assert!(matches!(
            KeyScope::new("{account}/{account}", "s", None).unwrap_err(),
            PatternError::Repeated("account")
        ));
        assert!(matches!(
            KeyScope::new("{acct}/x", "s", None).unwrap_err(),
            PatternError::Placeholder(_)
        ));
    }

    #[test]
    fn names_escape_what_would_break_a_line() {
        assert_eq!(
            state_name("s", "live/a/terraform.tfstate"),
            "s/live/a/terraform.tfstate"
        );
        assert_eq!(state_name("s", "a\nb"), "s/a\\u{a}b");
        assert_eq!(state_name("s", "a\\u{a}b"), "s/a\\\\u{a}b");
    }

    #[test]
    fn regions_and_projects() {
        for ok in [
            "us-east-1",
            "us-gov-west-1",
            "cn-north-1",
            "eu-isoe-west-1",
            "ap-southeast-2",
        ] {
            assert!(Placeholder::Region.accepts(ok), "{ok}");
        }
        for bad in [
            "global",
            "us-east",
            "EU-WEST-1",
            "us-east-1a",
            "-east-1",
            "us--1",
        ] {
            assert!(!Placeholder::Region.accepts(bad), "{bad}");
        }
        assert!(Placeholder::Project.accepts("acme-prod"));
        assert!(!Placeholder::Project.accepts("Acme-prod") && !Placeholder::Project.accepts("ab"));
    }
}
