//! A CloudTrail trail in S3, walked the way CloudTrail lays it out, and the time window of a run.
//!
//! A trail writes `<prefix>/AWSLogs/<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/<file>.json.gz`, and an
//! organisation trail `<prefix>/AWSLogs/<org-id>/<account>/CloudTrail/...`. The walk lists `AWSLogs/` with the
//! delimiter `/` for the accounts (and organisations' accounts), then each chosen account's regions, then only
//! the day folders that can hold records of the window, and drops, by the delivery time in each file's name,
//! the files at the window's edges that cannot: no object outside the window is ever read. Objects are handed
//! on as they are listed, so a window of any length costs no more memory than a page of a listing.
//!
//! A file's name is `<account>_CloudTrail_<region>_<yyyymmdd>T<hhmm>Z_<unique>.json.gz`, its time the minute
//! it was delivered; AWS documents that such a file "can contain records written at any point before that
//! time" (CloudTrail User Guide, "CloudTrail log file name format"). So a file delivered before the window's
//! start holds nothing of the window, but one delivered after its end may: files delivered up to
//! `--delivery-grace` after the end are read too, and their records outside the window dropped one by one.

use anyhow::{Context, bail};
use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::Region;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp, ToSpan, tz::TimeZone};
use std::time::Duration;

/// The most bytes one object may have: CloudTrail's files are a few MB at most; a bigger object in a trail
/// bucket is refused (the run fails, naming it) rather than held in memory.
pub const MAX_OBJECT_BYTES: u64 = 1 << 30;
/// Most pages (1,000 names each) of one listing of folders.
const MAX_FOLDER_PAGES: usize = 1_000;

/// `s3://<bucket>[/<prefix>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Uri {
    pub bucket: String,
    /// Empty, or ending with `/`.
    pub prefix: String,
}

impl S3Uri {
    /// The URI, if `text` is an `s3://` one (`Some(Err)`: one that names no bucket).
    pub fn parse(text: &str) -> Option<anyhow::Result<S3Uri>> {
        let rest = text.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Some(Err(anyhow::anyhow!("{text}: no bucket")));
        }
        let prefix = prefix.trim_matches('/');
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        Some(Ok(S3Uri {
            bucket: bucket.to_owned(),
            prefix,
        }))
    }

    /// Where CloudTrail's `AWSLogs/` is: under the prefix, or the prefix itself when it ends with it.
    fn logs(&self) -> String {
        if self.prefix.ends_with("AWSLogs/") {
            self.prefix.clone()
        } else {
            format!("{}AWSLogs/", self.prefix)
        }
    }
}

/// The time window of a run: records from `since` (included) to `until` (excluded).
#[derive(Debug, Clone, Copy, Default)]
pub struct Window {
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

impl Window {
    pub fn is_set(&self) -> bool {
        self.since.is_some() || self.until.is_some()
    }

    /// Whether a record's time (RFC 3339, as CloudTrail's `eventTime` and a LogEntry's `timestamp`) is in the
    /// window; `None` when it is no time.
    pub fn holds(&self, time: &str) -> Option<bool> {
        let time: Timestamp = time.parse().ok()?;
        Some(
            self.since.is_none_or(|since| time >= since)
                && self.until.is_none_or(|until| time < until),
        )
    }
}

/// A time on the command line: an RFC 3339 time (`2024-05-01T12:00:00Z`), a date (`2024-05-01`, its first
/// instant in UTC), or a duration back from `now` (`90d`, `12h`, `30m`, `2w`).
pub fn parse_time(text: &str, now: Timestamp) -> anyhow::Result<Timestamp> {
    let text = text.trim();
    if let Ok(back) = parse_duration(text) {
        return now
            .checked_sub(back)
            .with_context(|| format!("{text}: too far back"));
    }
    if let Ok(time) = text.parse::<Timestamp>() {
        return Ok(time);
    }
    if let Ok(date) = text.parse::<Date>() {
        return Ok(date.to_zoned(TimeZone::UTC)?.timestamp());
    }
    bail!("{text}: neither an RFC 3339 time, a date (YYYY-MM-DD) nor a duration (90d, 12h, 30m)")
}

/// A duration on the command line (`1d`, `12h`, `0m`): a whole number and a unit (s, m, h, d, w).
pub fn parse_duration(text: &str) -> anyhow::Result<SignedDuration> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = number
        .parse()
        .ok()
        .filter(|n| *n >= 0)
        .with_context(|| format!("{text}: not a duration (1d, 12h, 30m)"))?;
    let seconds = match unit {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3_600),
        "d" => n.checked_mul(86_400),
        "w" => n.checked_mul(7 * 86_400),
        _ => None,
    }
    .with_context(|| format!("{text}: not a duration (1d, 12h, 30m)"))?;
    Ok(SignedDuration::from_secs(seconds))
}

/// What to read of a trail.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// Accounts (12 digits) to read; empty: all.
    pub accounts: Vec<String>,
    /// Regions to read; empty: all.
    pub regions: Vec<String>,
    pub window: Window,
    /// How long after the window's end a file may still hold records of the window.
    pub grace: SignedDuration,
    /// The time the run started: the last day to list when the window has no end.
    pub now: Timestamp,
}

impl Filters {
    /// Whether a file delivered at `delivered` (minute precision) can hold records of the window.
    fn wants_delivery(&self, delivered: Timestamp) -> bool {
        // Delivered within the minute after the name's: its records are before the end of that minute.
        let after_since = self
            .window
            .since
            .is_none_or(|since| delivered + SignedDuration::from_mins(1) > since);
        let before_end = self.last_delivery().is_none_or(|end| delivered <= end);
        after_since && before_end
    }

    /// The latest delivery time a file of the window can have.
    fn last_delivery(&self) -> Option<Timestamp> {
        self.window
            .until
            .map(|until| until.checked_add(self.grace).unwrap_or(until))
    }

    /// The day folders of the window (UTC dates of delivery), or `None` when it has no start (list all).
    fn days(&self) -> Option<Vec<Date>> {
        let since = self.window.since?;
        let first = (since - SignedDuration::from_mins(1))
            .to_zoned(TimeZone::UTC)
            .date();
        // No file is delivered after the run starts (a day of margin for a clock behind S3's).
        let latest = self
            .now
            .checked_add(SignedDuration::from_hours(24))
            .unwrap_or(self.now);
        let last = self
            .last_delivery()
            .unwrap_or(self.now)
            .min(latest)
            .to_zoned(TimeZone::UTC)
            .date();
        let mut days = Vec::new();
        let mut day = first;
        while day <= last {
            days.push(day);
            match day.checked_add(1.day()) {
                Ok(next) => day = next,
                Err(_) => break,
            }
        }
        Some(days)
    }
}

/// The delivery time in a CloudTrail file's name (`<account>_CloudTrail_<region>_<yyyymmdd>T<hhmm>Z_...`).
pub fn delivery_time(key: &str) -> Option<Timestamp> {
    let name = key.rsplit('/').next()?;
    let stamp = name.split('_').nth(3)?;
    let bytes = stamp.as_bytes();
    if bytes.len() != 14 || bytes[8] != b'T' || bytes[13] != b'Z' {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<i16> {
        let part = stamp.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let date = Date::new(digits(0..4)?, digits(4..6)? as i8, digits(6..8)? as i8).ok()?;
    let time = jiff::civil::Time::new(digits(9..11)? as i8, digits(11..13)? as i8, 0, 0).ok()?;
    date.to_datetime(time)
        .to_zoned(TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// One object to read.
#[derive(Debug, Clone)]
pub struct Object {
    pub bucket: String,
    pub key: String,
}

impl std::fmt::Display for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, shown(&self.key))
    }
}

/// A name from a listing, for messages. Whoever writes to the bucket names its objects: control characters
/// (a terminal's escape sequences) are written escaped.
fn shown(name: &str) -> std::borrow::Cow<'_, str> {
    if !name.chars().any(char::is_control) {
        return name.into();
    }
    name.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

/// How to reach S3.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    /// Default: the SDK's (`AWS_REGION`, the profile).
    pub region: Option<String>,
    /// Another endpoint than AWS's (an S3-compatible store); `AWS_ENDPOINT_URL` works too.
    pub endpoint: Option<String>,
}

/// The S3 client: the SDK's default credential chain, over the hyper + rustls (ring) client the state
/// sources use.
pub async fn client(connection: &Connection) -> anyhow::Result<Client> {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(60))
        .operation_attempt_timeout(Duration::from_secs(300))
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .timeout_config(timeouts);
    if let Some(region) = &connection.region {
        loader = loader.region(Region::new(region.clone()));
    }
    let sdk = loader.load().await;
    if sdk.region().is_none() {
        bail!("no AWS region for the trail's bucket: --s3-region, or AWS_REGION");
    }
    let endpoint = connection
        .endpoint
        .clone()
        .or_else(|| std::env::var("AWS_ENDPOINT_URL_S3").ok())
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
        .filter(|e| !e.is_empty());
    let mut config = aws_sdk_s3::config::Builder::from(&sdk);
    if let Some(endpoint) = &endpoint {
        // S3-compatible stores answer on one host: the bucket goes in the path.
        config = config.endpoint_url(endpoint).force_path_style(true);
    }
    Ok(Client::from_conf(config.build()))
}

/// Reads one object whole (at most [`MAX_OBJECT_BYTES`]).
pub async fn get(client: &Client, object: &Object) -> anyhow::Result<Vec<u8>> {
    let output = client
        .get_object()
        .bucket(&object.bucket)
        .key(&object.key)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot read {object}: {}", DisplayErrorContext(&e)))?;
    let declared = output
        .content_length()
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0);
    if declared > MAX_OBJECT_BYTES {
        bail!("{object} is {declared} bytes, over the limit of {MAX_OBJECT_BYTES}");
    }
    // Sized by what the server says, within the limit; grown as the bytes come otherwise.
    let mut bytes = Vec::with_capacity(declared as usize);
    let mut body = output.body;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.with_context(|| format!("cannot read {object}"))?;
        if (bytes.len() + chunk.len()) as u64 > MAX_OBJECT_BYTES {
            bail!("{object} is over the limit of {MAX_OBJECT_BYTES} bytes");
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Walks the trail under `uri`, sending each object of the filters' accounts, regions and window to `out`, in
/// order (accounts, regions, days, names); the first failure is sent last.
pub async fn walk(
    client: Client,
    uri: S3Uri,
    filters: Filters,
    out: tokio::sync::mpsc::Sender<anyhow::Result<Object>>,
) {
    let walker = Walker {
        client,
        bucket: uri.bucket.clone(),
        filters,
        out: out.clone(),
    };
    if let Err(error) = walker.run(&uri).await {
        let _ = out.send(Err(error)).await;
    }
}

struct Walker {
    client: Client,
    bucket: String,
    filters: Filters,
    out: tokio::sync::mpsc::Sender<anyhow::Result<Object>>,
}

/// The walk stopped because nobody takes objects any more.
#[derive(Debug, thiserror::Error)]
#[error("stopped")]
struct Stopped;

impl Walker {
    async fn run(&self, uri: &S3Uri) -> anyhow::Result<()> {
        let logs = uri.logs();
        let top = self.folders(&logs).await?;
        if top.is_empty() {
            bail!(
                "no CloudTrail logs at s3://{}/{logs} (nothing under it)",
                self.bucket
            );
        }
        for name in top {
            if is_org_id(&name) {
                let org = format!("{logs}{name}/");
                for account in self.folders(&org).await? {
                    if is_account(&account) {
                        self.account(&format!("{org}{account}/"), &account).await?;
                    }
                }
            } else if is_account(&name) {
                self.account(&format!("{logs}{name}/"), &name).await?;
            } else {
                tracing::warn!(
                    "s3://{}/{}{}/ is neither an account nor an organisation: not read",
                    self.bucket,
                    shown(&logs),
                    shown(&name)
                );
            }
        }
        Ok(())
    }

    async fn account(&self, prefix: &str, account: &str) -> anyhow::Result<()> {
        if !self.filters.accounts.is_empty() && !self.filters.accounts.iter().any(|a| a == account)
        {
            return Ok(());
        }
        let trail = format!("{prefix}CloudTrail/");
        for region in self.folders(&trail).await? {
            if !self.filters.regions.is_empty() && !self.filters.regions.contains(&region) {
                continue;
            }
            let region = format!("{trail}{region}/");
            match self.filters.days() {
                Some(days) => {
                    for day in days {
                        let folder = format!(
                            "{region}{:04}/{:02}/{:02}/",
                            day.year(),
                            day.month(),
                            day.day()
                        );
                        self.objects(&folder).await?;
                    }
                }
                None => self.objects(&region).await?,
            }
        }
        Ok(())
    }

    /// The names of the folders right under `prefix` (listed with the delimiter `/`), in order.
    async fn folders(&self, prefix: &str) -> anyhow::Result<Vec<String>> {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_FOLDER_PAGES {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .delimiter("/")
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| self.cannot_list(prefix, &e))?;
            for common in page.common_prefixes() {
                if let Some(name) = common
                    .prefix()
                    .and_then(|p| p.strip_prefix(prefix))
                    .and_then(|p| p.strip_suffix('/'))
                    .filter(|p| !p.is_empty())
                {
                    names.push(name.to_owned());
                }
            }
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => return Ok(names),
            }
        }
        bail!(
            "s3://{}/{prefix} has more folders than {MAX_FOLDER_PAGES} pages of a listing",
            self.bucket
        )
    }

    /// Sends every log file under `prefix` that the window wants, a page of the listing at a time.
    async fn objects(&self, prefix: &str) -> anyhow::Result<()> {
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| self.cannot_list(prefix, &e))?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                if !(key.ends_with(".json.gz") || key.ends_with(".json")) {
                    tracing::warn!(
                        "s3://{}/{}: no CloudTrail log file: not read",
                        self.bucket,
                        shown(key)
                    );
                    continue;
                }
                // A name without CloudTrail's time is read (fail closed): its records are filtered one by one.
                if delivery_time(key).is_some_and(|t| !self.filters.wants_delivery(t)) {
                    continue;
                }
                let object = Object {
                    bucket: self.bucket.clone(),
                    key: key.to_owned(),
                };
                if self.out.send(Ok(object)).await.is_err() {
                    return Err(Stopped.into());
                }
            }
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => return Ok(()),
            }
        }
    }

    fn cannot_list(&self, prefix: &str, e: &impl std::error::Error) -> anyhow::Error {
        anyhow::anyhow!(
            "cannot list s3://{}/{}: {}",
            self.bucket,
            shown(prefix),
            DisplayErrorContext(e)
        )
    }
}

/// An AWS account id: 12 digits.
fn is_account(name: &str) -> bool {
    name.len() == 12 && name.bytes().all(|b| b.is_ascii_digit())
}

/// An AWS Organizations id: `o-` and 10 to 32 lowercase letters or digits.
fn is_org_id(name: &str) -> bool {
    name.strip_prefix("o-").is_some_and(|rest| {
        (10..=32).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn uris() {
        let uri = S3Uri::parse("s3://trail/org/logs/").unwrap().unwrap();
        assert_eq!(uri.bucket, "trail");
        assert_eq!(uri.logs(), "org/logs/AWSLogs/");
        let uri = S3Uri::parse("s3://trail").unwrap().unwrap();
        assert_eq!(uri.logs(), "AWSLogs/");
        let uri = S3Uri::parse("s3://trail/AWSLogs").unwrap().unwrap();
        assert_eq!(uri.logs(), "AWSLogs/");
        assert!(S3Uri::parse("s3:///x").unwrap().is_err());
        assert!(S3Uri::parse("/tmp/s3:/x").is_none());
        let object = Object {
            bucket: "b".into(),
            key: "AWSLogs/x\u{1b}[2Jy.json.gz".into(),
        };
        assert_eq!(object.to_string(), "s3://b/AWSLogs/x\\u{1b}[2Jy.json.gz");
    }

    #[test]
    fn times() {
        let now = t("2024-05-10T12:00:00Z");
        assert_eq!(parse_time("90d", now).unwrap(), t("2024-02-10T12:00:00Z"));
        assert_eq!(parse_time("12h", now).unwrap(), t("2024-05-10T00:00:00Z"));
        assert_eq!(parse_time("2w", now).unwrap(), t("2024-04-26T12:00:00Z"));
        assert_eq!(parse_time("30m", now).unwrap(), t("2024-05-10T11:30:00Z"));
        assert_eq!(
            parse_time("2024-01-31", now).unwrap(),
            t("2024-01-31T00:00:00Z")
        );
        assert_eq!(
            parse_time("2024-01-31T10:00:00+02:00", now).unwrap(),
            t("2024-01-31T08:00:00Z")
        );
        assert!(parse_time("yesterday", now).is_err());
        assert!(parse_time("3y", now).is_err());
        assert!(parse_time("99999999999999d", now).is_err());
        assert_eq!(
            parse_duration("1d").unwrap(),
            SignedDuration::from_hours(24)
        );
        assert_eq!(parse_duration("0m").unwrap(), SignedDuration::ZERO);
        assert!(parse_duration("2024-01-01").is_err());
        assert!(parse_duration("-1d").is_err());
        assert!(parse_duration("d").is_err());
    }

    #[test]
    fn file_names() {
        assert_eq!(
            delivery_time(
                "AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/01/111122223333_CloudTrail_us-east-2_20150801T0210Z_Mu0KsOhtH1ar15ZZ.json.gz"
            ),
            Some(t("2015-08-01T02:10:00Z"))
        );
        assert_eq!(
            delivery_time("x/111122223333_CloudTrail_us-east-2_2015080T0210Z_M.json.gz"),
            None
        );
        assert_eq!(
            delivery_time("x/111122223333_CloudTrail_us-east-2_20151301T0210Z_M.json.gz"),
            None
        );
        assert_eq!(delivery_time("x/other.json.gz"), None);
    }

    #[test]
    fn window_edges() {
        let filters = Filters {
            window: Window {
                since: Some(t("2024-03-02T00:00:00Z")),
                until: Some(t("2024-03-04T00:00:00Z")),
            },
            grace: SignedDuration::from_hours(1),
            now: t("2024-05-01T00:00:00Z"),
            ..Filters::default()
        };
        // Delivered 23:59 the day before: its records may be as late as 23:59:59.999, before the window.
        assert!(!filters.wants_delivery(t("2024-03-01T23:59:00Z")));
        assert!(filters.wants_delivery(t("2024-03-02T00:00:00Z")));
        // After the end, within the grace: may hold records of the window.
        assert!(filters.wants_delivery(t("2024-03-04T01:00:00Z")));
        assert!(!filters.wants_delivery(t("2024-03-04T01:01:00Z")));
        let days: Vec<String> = filters
            .days()
            .unwrap()
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert_eq!(
            days,
            ["2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04"]
        );
        let open = Filters {
            window: Window {
                since: Some(t("2024-04-30T10:00:00Z")),
                until: None,
            },
            now: t("2024-05-01T08:00:00Z"),
            ..Filters::default()
        };
        let days: Vec<String> = open.days().unwrap().iter().map(|d| d.to_string()).collect();
        assert_eq!(days, ["2024-04-30", "2024-05-01"]);
        assert!(Filters::default().days().is_none());
    }

    #[test]
    fn names_in_the_layout() {
        assert!(is_account("123456789012"));
        assert!(!is_account("12345678901a"));
        assert!(is_org_id("o-exampleorgid"));
        assert!(is_org_id("o-a1b2c3d4e5"));
        assert!(!is_org_id("o-short"));
        assert!(!is_org_id("o-UPPERCASE99"));
    }

    #[test]
    fn records_in_the_window() {
        let window = Window {
            since: Some(t("2024-03-02T00:00:00Z")),
            until: Some(t("2024-03-04T00:00:00Z")),
        };
        assert_eq!(window.holds("2024-03-02T00:00:00Z"), Some(true));
        assert_eq!(window.holds("2024-03-03T23:59:59.999999Z"), Some(true));
        assert_eq!(window.holds("2024-03-04T00:00:00Z"), Some(false));
        assert_eq!(window.holds("2024-03-01T23:59:59Z"), Some(false));
        assert_eq!(window.holds("March"), None);
    }
}
