//! What the aggregate reports (markdown, html) show, made of the kept findings: tallies by severity, service,
//! account and actor, findings per day, and the findings grouped by resource.

use super::terraform::{identifier, import_block};
use super::{Counts, Finding, Kind, severity_rank};
use std::collections::BTreeMap;

/// What the aggregate reports show, made of the kept findings: tallies, the timeline, and the findings
/// grouped by resource.
pub struct Summary<'f> {
    /// Drift findings.
    pub drift: usize,
    /// Unmanaged findings.
    pub unmanaged: usize,
    /// Findings by severity, most severe first (only those that occur).
    pub by_severity: Vec<(String, usize)>,
    /// Findings by service, by account, by actor: most first, then by name.
    pub by_service: Vec<(String, usize)>,
    /// See `by_service`.
    pub by_account: Vec<(String, usize)>,
    /// See `by_service`.
    pub by_actor: Vec<(String, usize)>,
    /// Findings per day (drift, unmanaged), every day from the first to the last.
    pub days: Vec<(jiff::civil::Date, usize, usize)>,
    /// Findings whose time reads as no date.
    pub undated: usize,
    /// The earliest and latest call time among the findings, as written.
    pub window: Option<(String, String)>,
    /// Drift by resource address: most severe first, then by address; each address's changes by time.
    pub drift_groups: Vec<(String, Vec<&'f Finding>)>,
    /// Unmanaged findings by resource (type and id), by type and id; each resource's calls by time.
    pub unmanaged_groups: Vec<((String, String), Vec<&'f Finding>)>,
    /// For each of `unmanaged_groups`, its import block, when one of its findings has an import id: named
    /// after the resource's id ([`identifier`]), a repeated name numbered (`_2`, `_3`) so that no two
    /// blocks import to one address.
    pub imports: Vec<Option<String>>,
    /// What was read ([`Report::describe`]).
    pub context: Vec<String>,
    /// Why the report is partial ([`Report::mark_partial`]).
    pub partial: Option<String>,
}

/// The most days the timeline shows one by one; a longer window is shown from its last days (the tallies
/// still count every finding).
pub const TIMELINE_MAX_DAYS: usize = 400;

impl<'f> Summary<'f> {
    /// The summary of `findings` (those with a kind; records kept by `--all` without one are left out).
    pub fn of(findings: &'f [Finding]) -> Summary<'f> {
        let findings: Vec<&Finding> = findings.iter().filter(|f| f.kind.is_some()).collect();
        let tally = |key: &dyn Fn(&Finding) -> String| {
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for f in &findings {
                *counts.entry(key(f)).or_default() += 1;
            }
            let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
            counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            counts
        };
        let unknown = |value: &Option<String>| value.clone().unwrap_or_else(|| "(unknown)".into());
        let mut by_severity = tally(&|f| unknown(&f.severity));
        by_severity.sort_by_key(|(s, _)| severity_rank(Some(s)));
        let by_service = tally(&|f| unknown(&f.service));
        let by_account = tally(&|f| format!("{} {}", f.cloud.as_str(), unknown(&f.account)));
        let by_actor = tally(&|f| unknown(&f.actor));

        let mut per_day: BTreeMap<jiff::civil::Date, (usize, usize)> = BTreeMap::new();
        let mut undated = 0;
        for f in &findings {
            match f.day() {
                Some(day) => {
                    let entry = per_day.entry(day).or_default();
                    if f.kind == Some(Kind::Drift) {
                        entry.0 += 1;
                    } else {
                        entry.1 += 1;
                    }
                }
                None => undated += 1,
            }
        }
        let mut days = Vec::new();
        if let (Some((&first, _)), Some((&last, _))) =
            (per_day.first_key_value(), per_day.last_key_value())
        {
            let mut day = first;
            let span = first
                .until(last)
                .map_or(0, |s| s.get_days().max(0) as usize);
            if span >= TIMELINE_MAX_DAYS {
                day = last
                    .checked_sub(jiff::Span::new().days(TIMELINE_MAX_DAYS as i64 - 1))
                    .unwrap_or(first);
            }
            while day <= last {
                let (d, u) = per_day.get(&day).copied().unwrap_or_default();
                days.push((day, d, u));
                match day.tomorrow() {
                    Ok(next) => day = next,
                    Err(_) => break,
                }
            }
        }
        let window = findings.iter().filter_map(|f| f.time.clone()).fold(
            None,
            |w: Option<(String, String)>, t| match w {
                None => Some((t.clone(), t)),
                Some((a, b)) => Some((a.min(t.clone()), b.max(t))),
            },
        );

        let mut drift: BTreeMap<String, Vec<&Finding>> = BTreeMap::new();
        let mut unmanaged: BTreeMap<(String, String), Vec<&Finding>> = BTreeMap::new();
        for f in &findings {
            match f.kind {
                Some(Kind::Drift) => drift
                    .entry(f.resource_address.clone().unwrap_or_default())
                    .or_default()
                    .push(f),
                _ => unmanaged
                    .entry((unknown(&f.resource_type), unknown(&f.resource_id)))
                    .or_default()
                    .push(f),
            }
        }
        let by_time = |list: &mut Vec<&Finding>| list.sort_by(|a, b| a.time.cmp(&b.time));
        let mut drift_groups: Vec<(String, Vec<&Finding>)> = drift.into_iter().collect();
        for (_, list) in &mut drift_groups {
            by_time(list);
        }
        let rank = |list: &[&Finding]| list.iter().map(|f| f.severity_rank()).min().unwrap_or(4);
        drift_groups.sort_by(|a, b| rank(&a.1).cmp(&rank(&b.1)).then_with(|| a.0.cmp(&b.0)));
        let mut unmanaged_groups: Vec<((String, String), Vec<&Finding>)> =
            unmanaged.into_iter().collect();
        for (_, list) in &mut unmanaged_groups {
            by_time(list);
        }
        let mut taken = std::collections::HashSet::new();
        let imports = unmanaged_groups
            .iter()
            .map(|((resource_type, resource_id), list)| {
                let id = list.iter().find_map(|f| f.import_id.as_deref())?;
                let base = identifier(resource_id);
                let mut name = base.clone();
                let mut n = 1;
                while !taken.insert((resource_type.clone(), name.clone())) {
                    n += 1;
                    name = format!("{base}_{n}");
                }
                Some(import_block(resource_type, &name, id))
            })
            .collect();
        Summary {
            drift: findings
                .iter()
                .filter(|f| f.kind == Some(Kind::Drift))
                .count(),
            unmanaged: findings
                .iter()
                .filter(|f| f.kind == Some(Kind::Unmanaged))
                .count(),
            by_severity,
            by_service,
            by_account,
            by_actor,
            days,
            undated,
            window,
            drift_groups,
            unmanaged_groups,
            imports,
            context: Vec::new(),
            partial: None,
        }
    }
}

/// The records read, as the reports' headers say it.
pub fn records_line(counts: &Counts) -> String {
    format!(
        "{} records ({} CloudTrail, {} GCP audit log): {} mutating calls covered by the catalog, {} on managed resources, {} drift, {} unmanaged, {} by Terraform",
        counts.records,
        counts.aws,
        counts.gcp,
        counts.covered,
        counts.managed,
        counts.drift,
        counts.unmanaged,
        counts.by_terraform
    )
}
