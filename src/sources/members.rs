//! What the reloader does with a source's answer, state by state: parses each new version (on the source's
//! worker thread, see [`parse_fetch`]), then, on the reload thread, refuses rollbacks, scopes what it
//! accepts, keeps what left a listing for [`MISSING_GRACE`], and logs each failure once while it repeats.

use super::discover::KeyScope;
use super::reload::ReloadStats;
use super::source::Fetch;
use crate::state::{Limits, Scope, State, parse};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// One state as loaded, and when.
pub(super) struct Loaded {
    pub(super) state: Arc<State>,
    pub(super) loaded_at: SystemTime,
}

/// What a poll found for one state, parsed: a [`Fetch`] with its body turned into a state or a refusal.
pub(super) enum Found {
    Unchanged,
    Parsed(State),
    Refused(anyhow::Error),
    Gone,
    Failed(anyhow::Error),
}

/// Parses what a poll fetched for the state `name`. The reloader's code, run on the source's worker thread
/// as the source delivers each state: a large state parses there, in parallel with the other sources, and
/// delays no other source's swap (the reload thread only applies parsed states).
pub(super) fn parse_fetch(name: &str, fetch: Fetch, limits: &Limits) -> Found {
    match fetch {
        Fetch::Unchanged => Found::Unchanged,
        Fetch::Refused(error) => Found::Refused(error),
        Fetch::Gone => Found::Gone,
        Fetch::Failed(error) => Found::Failed(error),
        // A parse error never quotes the state (which may hold secrets), so it needs no scrubbing.
        Fetch::New(bytes, label) => match (parse(name, &bytes, limits), label) {
            (Ok(state), _) => Found::Parsed(state),
            (Err(e), Some(label)) => Found::Refused(anyhow::anyhow!(
                "{label} is not a usable Terraform state: {e}"
            )),
            (Err(e), None) => Found::Refused(anyhow::anyhow!("not a usable Terraform state: {e}")),
        },
    }
}

/// One state of a source: its last good version and how current it is.
pub(super) struct MemberSlot {
    pub(super) name: String,
    pub(super) loaded: Option<Loaded>,
    /// The newest version the source has was refused: the loaded one is not current.
    pub(super) refused: bool,
    /// Last time the loaded version was confirmed current.
    pub(super) last_ok: Option<SystemTime>,
    last_error: Option<String>,
    /// The highest serial of every lineage this state has served, so that switching lineage and back cannot
    /// bring an old version in (A/10, then B/1, then A/5).
    serials: HashMap<String, u64>,
    /// Since when the source no longer lists this state (a workspace whose object left a listing).
    pub(super) missing_since: Option<SystemTime>,
}

/// At most this many lineages are remembered per state; past it, the one with the lowest serial is forgotten.
const MAX_LINEAGES: usize = 1024;

/// A state its source no longer lists is kept (its drift is still drift) for this long, then dropped.
pub const MISSING_GRACE: Duration = Duration::from_secs(24 * 3600);

impl MemberSlot {
    fn new(name: String) -> Self {
        MemberSlot {
            name,
            loaded: None,
            refused: false,
            last_ok: None,
            last_error: None,
            serials: HashMap::new(),
            missing_since: None,
        }
    }

    /// Remembers the serial of a version served, per lineage.
    fn remember(&mut self, state: &State) {
        let Some(lineage) = &state.lineage else {
            return;
        };
        let highest = self.serials.entry(lineage.clone()).or_insert(state.serial);
        *highest = (*highest).max(state.serial);
        if self.serials.len() > MAX_LINEAGES
            && let Some(lowest) = self
                .serials
                .iter()
                .filter(|(l, _)| *l != lineage)
                .min_by_key(|(_, serial)| **serial)
                .map(|(l, _)| l.clone())
        {
            self.serials.remove(&lowest);
        }
    }

    /// Takes a new version in: named, scoped, remembered, loaded.
    fn load(&mut self, mut state: State, scope: &ScopeConfig, describe: &str, now: SystemTime) {
        state.name = Arc::from(self.name.as_str());
        state.scope = scope.resolve(&state);
        tracing::info!(
            state = %self.name,
            source = %describe,
            serial = state.serial,
            instances = state.instances.len(),
            account = state.scope.account.as_deref().unwrap_or("any"),
            region = state.scope.region.as_deref().unwrap_or("any"),
            project = state.scope.project.as_deref().unwrap_or("any"),
            "state loaded"
        );
        self.remember(&state);
        self.loaded = Some(Loaded {
            state: Arc::new(state),
            loaded_at: now,
        });
        self.refused = false;
        self.last_ok = Some(now);
        self.last_error = None;
    }

    /// Instances of the loaded version.
    pub(super) fn instances(&self) -> usize {
        self.loaded.as_ref().map_or(0, |l| l.state.instances.len())
    }

    /// Loaded, but the source's newest version is not (refused, failing, or no longer listed).
    pub(super) fn stale(&self) -> bool {
        self.loaded.is_some() && (self.refused || self.last_error.is_some())
    }

    /// Never loaded, and failing.
    pub(super) fn failed(&self) -> bool {
        self.loaded.is_none() && self.last_error.is_some()
    }
}

/// What all states together may still take: [`crate::state::Limits::max_total_instances`] less what the
/// loaded states hold.
pub(super) struct Budget {
    /// Instances loaded, every source together.
    pub(super) used: usize,
    /// The most allowed.
    pub(super) max: usize,
}

/// What a refresh did.
#[derive(Default)]
pub(super) struct Refreshed {
    /// The set of loaded states changed: the index must be rebuilt.
    pub(super) changed: bool,
    /// One message per failure, naming the state and its source.
    pub(super) failures: Vec<String>,
}

impl Refreshed {
    /// Reports a failure of the state (or source) `name`, read from `describe`: logged after `log` unless it
    /// is the same failure as `last_error` (see [`failure_key`]), listed, and counted.
    pub(super) fn fail(
        &mut self,
        stats: &ReloadStats,
        last_error: &mut Option<String>,
        name: &str,
        describe: &str,
        log: &str,
        message: &str,
    ) {
        let key = failure_key(message);
        if last_error.as_deref() != Some(&key) {
            tracing::warn!(state = %name, source = %describe, "{log}{message}");
        }
        self.failures
            .push(format!("{name} ({describe}): {message}"));
        *last_error = Some(key);
        ReloadStats::add(&stats.refresh_failures, 1);
    }
}

/// Applies one successful poll of a source (`describe`, scoped by `scope`) to its states, `members`.
#[allow(clippy::too_many_arguments)]
pub(super) fn apply(
    members: &mut Vec<MemberSlot>,
    mut found: Vec<(String, Found)>,
    scope: &ScopeConfig,
    describe: &str,
    now: SystemTime,
    stats: &ReloadStats,
    budget: &mut Budget,
    refreshed: &mut Refreshed,
) {
    // In name order, whatever order the downloads finished in: which state crosses max_total_instances
    // does not depend on timing. Stable: of two answers for one name, the first still counts.
    found.sort_by(|a, b| a.0.cmp(&b.0));
    // By name, so that a source of thousands of states costs a hash lookup per state, not a scan.
    let mut previous: Vec<Option<MemberSlot>> =
        std::mem::take(members).into_iter().map(Some).collect();
    let by_name: HashMap<String, usize> = previous
        .iter()
        .enumerate()
        .filter_map(|(i, m)| m.as_ref().map(|m| (m.name.clone(), i)))
        .collect();
    let mut taken: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut gone_now = Vec::new();
    for (name, found) in found {
        if !taken.insert(name.clone()) {
            continue;
        }
        let mut member = match by_name.get(&name).and_then(|&i| previous[i].take()) {
            Some(member) => member,
            None => MemberSlot::new(name),
        };
        let failure = match found {
            // Gone from the source: handled below, as a state missing from its listing.
            Found::Gone => {
                gone_now.push(member);
                continue;
            }
            Found::Unchanged => {
                ReloadStats::add(&stats.state_checks, 1);
                if !member.refused {
                    member.last_ok = Some(now);
                }
                None
            }
            Found::Parsed(state) => {
                ReloadStats::add(&stats.state_checks, 1);
                let others = budget.used.saturating_sub(member.instances());
                let total = others.saturating_add(state.instances.len());
                match rollback(&member.serials, &state) {
                    Some(problem) => {
                        ReloadStats::add(&stats.rollbacks_refused, 1);
                        member.refused = true;
                        Some(problem)
                    }
                    // The states already loaded keep their place: the one whose new version crosses the
                    // total is refused, in the order the sources answer and, within one, of their keys.
                    None if total > budget.max => {
                        member.refused = true;
                        Some(format!(
                            "refused: its {} resource instances would bring all states together to {total}, over max_total_instances ({})",
                            state.instances.len(),
                            budget.max
                        ))
                    }
                    None => {
                        budget.used = total;
                        member.load(state, scope, describe, now);
                        ReloadStats::add(&stats.state_loads, 1);
                        refreshed.changed = true;
                        None
                    }
                }
            }
            Found::Refused(error) => {
                member.refused = true;
                Some(format!("refused: {error:#}"))
            }
            Found::Failed(error) => Some(format!("{error:#}")),
        };
        member.missing_since = None;
        if let Some(message) = failure {
            let kept = if member.loaded.is_some() {
                "keeping the last good version"
            } else {
                "no version loaded yet"
            };
            let log = format!("state reload failed, {kept}: ");
            refreshed.fail(
                stats,
                &mut member.last_error,
                &member.name,
                describe,
                &log,
                &message,
            );
        }
        members.push(member);
    }
    // A state the source no longer lists may have been deleted by whoever can write the bucket, which would
    // turn its drift into "unmanaged": it is kept, with a warning, for MISSING_GRACE, and counts as stale.
    for mut gone in previous.into_iter().flatten().chain(gone_now) {
        if gone.loaded.is_none() {
            continue;
        }
        let since = *gone.missing_since.get_or_insert(now);
        let missing_for = now.duration_since(since).unwrap_or_default();
        if missing_for >= MISSING_GRACE {
            tracing::warn!(
                state = %gone.name,
                source = %describe,
                "state no longer in its source for {} hours; dropped",
                missing_for.as_secs() / 3600
            );
            budget.used = budget.used.saturating_sub(gone.instances());
            refreshed.changed = true;
            continue;
        }
        let message = format!(
            "no longer in its source; the last good version is kept for {} hours after it left",
            MISSING_GRACE.as_secs() / 3600
        );
        refreshed.fail(
            stats,
            &mut gone.last_error,
            &gone.name,
            describe,
            "",
            &message,
        );
        members.push(gone);
    }
}

/// What makes two failure messages the same failure: the message with every token that holds a digit and is
/// longer than three characters (a request id, a date, a time) blanked, so that a failure that repeats is
/// logged once although S3 stamps each answer with its own request id, while an HTTP status (`403`) still
/// tells failures apart.
pub(super) fn failure_key(message: &str) -> String {
    let mut key = String::with_capacity(message.len());
    let mut token = String::new();
    let flush = |token: &mut String, key: &mut String| {
        if token.len() > 3 && token.bytes().any(|b| b.is_ascii_digit()) {
            key.push('#');
        } else {
            key.push_str(token);
        }
        token.clear();
    };
    for c in message.chars() {
        if c.is_whitespace()
            || matches!(
                c,
                '"' | '\'' | ',' | ';' | '(' | ')' | '[' | ']' | '{' | '}' | '=' | '<' | '>'
            )
        {
            flush(&mut token, &mut key);
            key.push(c);
        } else {
            token.push(c);
        }
    }
    flush(&mut token, &mut key);
    key
}

/// Why a new version must not replace the loaded one: its lineage has served a higher serial (a rollback),
/// whether or not another lineage was loaded in between.
fn rollback(serials: &HashMap<String, u64>, new: &State) -> Option<String> {
    let highest = *serials.get(new.lineage.as_ref()?)?;
    (new.serial < highest).then(|| {
        format!(
            "refused: serial {} is lower than serial {highest} this lineage already served (a rollback); restart tfdrift to accept it",
            new.serial
        )
    })
}

/// How the configuration scopes a source's states: each part is given, `*` (any), or inferred from the
/// state (the account and region from its ARNs, the project from its `google_*` resources).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeConfig {
    /// The account.
    pub account: ScopeSetting,
    /// The region.
    pub region: ScopeSetting,
    /// The Google Cloud project.
    pub project: ScopeSetting,
    /// A pattern over discovered states' keys (`live/{account}/{region}/**`): where a key matches, the parts
    /// it captures are the state's, whatever is configured or inferred for them; where it does not, the
    /// state is scoped as if there were no pattern.
    pub key: Option<KeyScope>,
}

/// One part of a scope, as configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ScopeSetting {
    /// From the state's ARNs, when they agree.
    #[default]
    Infer,
    /// Not scoped.
    Any,
    /// This value.
    Is(Box<str>),
}

impl ScopeSetting {
    fn resolve(&self, inferred: Option<Box<str>>) -> Option<Box<str>> {
        match self {
            ScopeSetting::Infer => inferred,
            ScopeSetting::Any => None,
            ScopeSetting::Is(value) => Some(value.clone()),
        }
    }
}

impl ScopeConfig {
    /// The scope `state` gets: the configured parts, the others inferred ([`Scope::infer`]).
    pub(super) fn resolve(&self, state: &State) -> Scope {
        let inferred = if self.account == ScopeSetting::Infer
            || self.region == ScopeSetting::Infer
            || self.project == ScopeSetting::Infer
            || self.key.is_some()
        {
            Scope::infer(state)
        } else {
            Scope::default()
        };
        let configured = Scope {
            account: self.account.resolve(inferred.account.clone()),
            region: self.region.resolve(inferred.region.clone()),
            project: self.project.resolve(inferred.project.clone()),
        };
        let Some(pattern) = &self.key else {
            return configured;
        };
        let Some(keyed) = pattern.scope(&state.name) else {
            tracing::warn!(
                state = %state.name,
                pattern = %pattern.as_str(),
                "the state's key does not match the scope pattern: its scope is inferred from its resources"
            );
            return configured;
        };
        // The key says where the state is meant to be; resources elsewhere are worth a line, since a
        // scope that excludes them would report their changes as unmanaged.
        let disagree = |part: &str, key: &Option<Box<str>>, arns: &Option<Box<str>>| {
            if let (Some(key), Some(arns)) = (key, arns)
                && key != arns
            {
                tracing::warn!(
                    state = %state.name,
                    "the state's key gives {part} {key}, its resources' ARNs {arns}: the key's is used"
                );
            }
        };
        disagree("account", &keyed.account, &inferred.account);
        disagree("region", &keyed.region, &inferred.region);
        disagree("project", &keyed.project, &inferred.project);
        Scope {
            account: keyed.account.or(configured.account),
            region: keyed.region.or(configured.region),
            project: keyed.project.or(configured.project),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_that_repeats_is_the_same_whatever_its_request_id_and_date() {
        let first = "s3://b/k: service error: AccessDenied: Access Denied (request id: 4442587FB7D0A2F9, extended: vDx1Lr0F8Q+2Yq, date: Tue, 03 Jun 2025 09:12:44 GMT)";
        let again = "s3://b/k: service error: AccessDenied: Access Denied (request id: 9A1C2D3E4F5B6A7C, extended: Qk29xPz1mW+8Lt, date: Tue, 03 Jun 2025 09:13:14 GMT)";
        assert_eq!(failure_key(first), failure_key(again));
        assert_ne!(failure_key("HTTP 403"), failure_key("HTTP 404"));
        assert_ne!(
            failure_key("access denied"),
            failure_key("no state stored there")
        );
    }
}
