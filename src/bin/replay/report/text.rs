//! `text`: one line per finding for people at a terminal: what the finding is, in which cloud, on what, by
//! whom, through which call (the line `tfdrift-replay` has always printed), control characters escaped.

use super::{Finding, Kind};

/// The finding's line; `None` for a record with no finding.
pub fn line(f: &Finding) -> Option<String> {
    let kind = match f.kind? {
        Kind::Drift => "DRIFT",
        Kind::Unmanaged => "UNMANAGED",
    };
    let read = |value: &Option<String>| value.clone().unwrap_or_default();
    let severity = f.severity.as_deref().unwrap_or("-");
    // The address is there exactly when a state holds the resource.
    let (what, id) = match &f.resource_address {
        Some(address) => (
            address.clone(),
            format!("{} {}", read(&f.resource_type), read(&f.resource_id)),
        ),
        None => (read(&f.resource_type), read(&f.resource_id)),
    };
    let mut line = format!(
        "{kind:<9} {severity:<8} {} {what} ({id}) {} by {} [{}] via {}",
        f.cloud.as_str(),
        f.change.as_deref().unwrap_or("-"),
        f.actor.as_deref().unwrap_or("?"),
        f.actor_kind.as_deref().unwrap_or("unknown"),
        f.call,
    );
    if !f.touched_attrs.is_empty() {
        line.push_str(&format!(
            "; attributes {} (changed: {})",
            f.touched_attrs.join(","),
            if f.changed_attrs.is_empty() {
                "none".to_owned()
            } else {
                f.changed_attrs.join(",")
            }
        ));
    }
    if let (Some(state), Some(serial)) = (&f.state, f.state_serial) {
        line.push_str(&format!("; state {state} serial {serial}"));
    }
    Some(visible(line))
}

/// The line with its control characters written as escapes (`\u{1b}`): a log's writer chooses names and ids,
/// and a terminal obeys the escape sequences it is sent. Lines of ordinary records are unchanged.
fn visible(line: String) -> String {
    if !line.chars().any(char::is_control) {
        return line;
    }
    line.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}
