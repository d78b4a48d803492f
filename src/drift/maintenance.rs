//! Maintenance windows: weekly windows in a time zone, and one-off ranges. A change made inside one is still
//! reported (`tfdrift.in_maintenance` says so), and rules decide whether to stay silent.
//!
//! The time that counts is the record's `eventTime`, not the clock: a replay of old logs judges each call by
//! when it was made.

use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// A window that repeats every week.
#[derive(Debug, Clone)]
pub struct Weekly {
    /// Shown in `tfdrift.maintenance_window`.
    pub name: String,
    /// The days the window starts on.
    pub days: Vec<Weekday>,
    /// When it starts, on each of its days.
    pub start: Time,
    /// When `end` is not after `start`, the window runs past midnight into the next day.
    pub end: Time,
    /// The zone `start` and `end` are read in.
    pub time_zone: TimeZone,
}

/// A window that happens once.
#[derive(Debug, Clone)]
pub struct OneOff {
    /// Shown in `tfdrift.maintenance_window`.
    pub name: String,
    /// When it starts.
    pub from: Timestamp,
    /// When it ends (excluded).
    pub to: Timestamp,
}

/// Every configured window.
#[derive(Debug, Clone, Default)]
pub struct Windows {
    /// The windows that repeat every week.
    pub weekly: Vec<Weekly>,
    /// The windows that happen once.
    pub one_off: Vec<OneOff>,
}

impl Windows {
    /// Whether no window is configured.
    pub fn is_empty(&self) -> bool {
        self.weekly.is_empty() && self.one_off.is_empty()
    }

    /// The name of the window an instant falls in, if any.
    pub fn window_at(&self, at: Timestamp) -> Option<&str> {
        if let Some(window) = self.one_off.iter().find(|w| w.from <= at && at < w.to) {
            return Some(&window.name);
        }
        self.weekly
            .iter()
            .find(|w| w.contains(at))
            .map(|w| w.name.as_str())
    }
}

impl Weekly {
    fn contains(&self, at: Timestamp) -> bool {
        let local = at.to_zoned(self.time_zone.clone());
        let (day, time) = (local.weekday(), local.time());
        let overnight = self.end <= self.start;
        if !overnight {
            return self.days.contains(&day) && self.start <= time && time < self.end;
        }
        // Overnight: the evening part on a listed day, or the morning part on the day after one.
        let yesterday = local
            .date()
            .checked_sub(1.day())
            .map(|d| d.weekday())
            .unwrap_or(day);
        (self.days.contains(&day) && time >= self.start)
            || (self.days.contains(&yesterday) && time < self.end)
    }
}

/// Parses a day name: `mon`, `Monday`, ... (case-insensitive).
pub fn parse_weekday(text: &str) -> Option<Weekday> {
    let lower = text.trim().to_ascii_lowercase();
    let day = match lower.get(..3)? {
        "mon" => Weekday::Monday,
        "tue" => Weekday::Tuesday,
        "wed" => Weekday::Wednesday,
        "thu" => Weekday::Thursday,
        "fri" => Weekday::Friday,
        "sat" => Weekday::Saturday,
        "sun" => Weekday::Sunday,
        _ => return None,
    };
    let full = format!("{day:?}").to_ascii_lowercase();
    (lower.len() == 3 || lower == full).then_some(day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn windows() -> Windows {
        Windows {
            weekly: vec![Weekly {
                name: "weekend patching".into(),
                days: vec![Weekday::Saturday],
                start: Time::constant(22, 0, 0, 0),
                end: Time::constant(2, 0, 0, 0),
                time_zone: TimeZone::get("Europe/Paris").unwrap(),
            }],
            one_off: vec![OneOff {
                name: "migration".into(),
                from: at("2026-12-01T00:00:00Z"),
                to: at("2026-12-03T00:00:00Z"),
            }],
        }
    }

    #[test]
    fn weekly_windows_run_in_their_time_zone_and_past_midnight() {
        let w = windows();
        // Saturday 2026-11-21, 22:30 in Paris (UTC+1) is 21:30 UTC.
        assert_eq!(
            w.window_at(at("2026-11-21T21:30:00Z")),
            Some("weekend patching")
        );
        // Sunday 01:30 in Paris is still in it; 02:30 is not.
        assert_eq!(
            w.window_at(at("2026-11-22T00:30:00Z")),
            Some("weekend patching")
        );
        assert_eq!(w.window_at(at("2026-11-22T01:30:00Z")), None);
        // Saturday 21:30 in Paris is before it starts.
        assert_eq!(w.window_at(at("2026-11-21T20:30:00Z")), None);
        // Friday night is not Saturday night.
        assert_eq!(w.window_at(at("2026-11-20T21:30:00Z")), None);
        // Summer time: Saturday 2026-07-04 22:30 in Paris (UTC+2) is 20:30 UTC.
        assert_eq!(
            w.window_at(at("2026-07-04T20:30:00Z")),
            Some("weekend patching")
        );
    }

    #[test]
    fn one_off_windows() {
        let w = windows();
        assert_eq!(w.window_at(at("2026-12-02T12:00:00Z")), Some("migration"));
        assert_eq!(
            w.window_at(at("2026-12-03T00:00:00Z")),
            None,
            "the end is excluded"
        );
        assert!(!w.is_empty());
        assert!(
            Windows::default()
                .window_at(at("2026-12-02T12:00:00Z"))
                .is_none()
        );
    }

    #[test]
    fn day_names() {
        assert_eq!(parse_weekday("sat"), Some(Weekday::Saturday));
        assert_eq!(parse_weekday("Saturday"), Some(Weekday::Saturday));
        assert_eq!(parse_weekday("SUN"), Some(Weekday::Sunday));
        assert_eq!(parse_weekday("satur"), None);
        assert_eq!(parse_weekday("x"), None);
    }
}
