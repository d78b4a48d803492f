//! The findings of a run and the reports made of them (`--format`): what one finding keeps of its record and
//! verdict ([`Finding`], owned, built where the record is read), and the sink that writes them ([`Report`]).
//!
//! `text`, `json` and `csv` stream: each finding is written as it comes and then dropped. `markdown` and `html`
//! are read by people and auditors, grouped by resource and summarised, so they keep the findings (without
//! the field table `json` needs) and write at the end. Every value a record's writer chose (user agents,
//! identifiers, actor names, request values in the diff) is escaped for the format it lands in; every value
//! comes from the field table, whose diff and summary are already redacted by the provider's schema.
//!
//! One file per format; [`summary`] makes what the aggregate formats show of the kept findings, and
//! [`terraform`] what they tell Terraform users to run (resolving drift both ways, import blocks).

mod csv;
mod html;
mod json;
mod markdown;
mod summary;
mod terraform;
mod text;

use super::output::Counts;
use super::view::{Cloud, View};
use serde_json::Value;
use std::io::Write;
use summary::{Summary, records_line};
use terraform::resolution;
use tfdrift::call::Call;
use tfdrift::drift::Verdict;
use tfdrift::fields;

/// The most bytes of a user agent a finding keeps: enough for any SDK's or console's, and a caller who writes
/// a megabyte of user agent costs the report no more than that.
pub const USER_AGENT_MAX_BYTES: usize = 256;

/// The report's format (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per finding, for people at a terminal.
    Text,
    /// One JSON object per finding and line, with every field (as `--json`).
    Json,
    /// A Markdown report: summary, findings, how to resolve each.
    Markdown,
    /// One self-contained HTML page: summary, timeline, changes per resource, how to resolve each.
    Html,
    /// Comma-separated values (RFC 4180) for spreadsheets, one finding per row.
    Csv,
}

/// What a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A successful change to a managed resource made outside Terraform (`tfdrift.drift`).
    Drift,
    /// A resource made or changed by hand that no state holds (`tfdrift.unmanaged`).
    Unmanaged,
}

impl Kind {
    /// The kind as reports name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Drift => "drift",
            Kind::Unmanaged => "unmanaged",
        }
    }
}

/// One finding: what every format needs of a record and its verdict, owned, so that it can cross threads and
/// outlive the record's bytes. Values come from the field table (`tfdrift::fields`) and from the record's
/// own members (when, where, from where); absent ones are `None`.
#[derive(Debug, Clone)]
pub struct Finding {
    /// Drift or unmanaged; `None` for a record with no finding (kept with `--all`).
    pub kind: Option<Kind>,
    /// The cloud whose log the record is from.
    pub cloud: Cloud,
    /// When the call was made (CloudTrail's `eventTime`, a LogEntry's `timestamp`), RFC 3339 as written.
    pub time: Option<String>,
    /// The account (CloudTrail's `recipientAccountId`, else the caller's) or Google Cloud project.
    pub account: Option<String>,
    /// The region (`awsRegion`) or location (the monitored resource's).
    pub region: Option<String>,
    /// The service (`eventSource`, `protoPayload.serviceName`).
    pub service: Option<String>,
    /// The call (`eventName`, `protoPayload.methodName`; empty when missing, as the text line prints it).
    pub call: String,
    /// The record's id (`eventID`, a LogEntry's `insertId`).
    pub event_id: Option<String>,
    /// Who made the call (`tfdrift.actor`).
    pub actor: Option<String>,
    /// How (`tfdrift.actor_kind`).
    pub actor_kind: Option<String>,
    /// From where: CloudTrail's `sourceIPAddress` (an address, or an AWS service's name), a LogEntry's
    /// `protoPayload.requestMetadata.callerIp`.
    pub source_ip: Option<String>,
    /// The user agent the caller wrote (`userAgent`, `callerSuppliedUserAgent`), at most
    /// [`USER_AGENT_MAX_BYTES`], whitespace trimmed.
    pub user_agent: Option<String>,
    /// `tfdrift.severity`.
    pub severity: Option<String>,
    /// `tfdrift.change`.
    pub change: Option<String>,
    /// `tfdrift.resource_address`: set when a state holds the resource.
    pub resource_address: Option<String>,
    /// `tfdrift.resource_type`.
    pub resource_type: Option<String>,
    /// `tfdrift.resource_id`.
    pub resource_id: Option<String>,
    /// `tfdrift.state`: the name of the state that holds the resource.
    pub state: Option<String>,
    /// `tfdrift.state_serial`.
    pub state_serial: Option<u64>,
    /// `tfdrift.touched_attrs`.
    pub touched_attrs: Vec<String>,
    /// `tfdrift.changed_attrs`.
    pub changed_attrs: Vec<String>,
    /// `tfdrift.summary` (redacted).
    pub summary: Option<String>,
    /// `tfdrift.diff` (JSON text, redacted).
    pub diff: Option<String>,
    /// For an unmanaged resource, the id `terraform import` takes for it; filled by the import ids' code
    /// (`tfdrift.import_id`), `None` until then.
    pub import_id: Option<String>,
    /// What `json` prints: the record's own names under its cloud's plugin's fields and every field of the
    /// table, as `--json` always printed them. Made only for `json`: every other format would drop it.
    table: Vec<(&'static str, Value)>,
}

// Findings are made where records are read and reported elsewhere: they cross threads.
const _: fn() = || {
    fn send<T: Send + 'static>() {}
    send::<Finding>();
};

impl Finding {
    /// The finding in a record's verdict, for a report in `format`: `None` when the verdict is neither drift
    /// nor unmanaged, unless `all`.
    pub fn new(verdict: &Verdict, view: &View, all: bool, format: Format) -> Option<Finding> {
        let kind = if verdict.drift {
            Some(Kind::Drift)
        } else if verdict.unmanaged {
            Some(Kind::Unmanaged)
        } else {
            None
        };
        if kind.is_none() && !all {
            return None;
        }
        let owned = |field: &fields::Field| field.str(verdict).map(str::to_owned);
        let list = |field: &fields::Field| {
            field
                .list(verdict)
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        let (time, account, region, service, event_id, source_ip, user_agent) = match view {
            View::Aws(record) => (
                record.time().map(str::to_owned),
                record.account_id().map(str::to_owned),
                record.region().map(str::to_owned),
                record.event_source.get().map(str::to_owned),
                record.event_id.get().map(str::to_owned),
                record.source_ip_address.get().map(str::to_owned),
                record.user_agent.get().map(trim_user_agent),
            ),
            View::Gcp(entry) => {
                let metadata = &entry.payload.request_metadata;
                (
                    entry.time().map(str::to_owned),
                    entry.account_id().map(str::to_owned),
                    entry.region().map(str::to_owned),
                    entry.payload.service_name.get().map(str::to_owned),
                    entry.insert_id.get().map(str::to_owned),
                    metadata.caller_ip.get().map(str::to_owned),
                    metadata
                        .caller_supplied_user_agent
                        .get()
                        .map(trim_user_agent),
                )
            }
        };
        Some(Finding {
            kind,
            cloud: view.cloud(),
            time,
            account,
            region,
            service,
            call: view.operation_name().to_owned(),
            event_id,
            actor: owned(&fields::ACTOR),
            actor_kind: owned(&fields::ACTOR_KIND),
            source_ip,
            user_agent: user_agent.filter(|ua| !ua.is_empty()),
            severity: owned(&fields::SEVERITY),
            change: owned(&fields::CHANGE),
            resource_address: owned(&fields::RESOURCE_ADDRESS),
            resource_type: owned(&fields::RESOURCE_TYPE),
            resource_id: owned(&fields::RESOURCE_ID),
            state: owned(&fields::STATE),
            state_serial: fields::STATE_SERIAL.u64(verdict),
            touched_attrs: list(&fields::TOUCHED_ATTRS),
            changed_attrs: list(&fields::CHANGED_ATTRS),
            summary: owned(&fields::SUMMARY),
            diff: owned(&fields::DIFF),
            import_id: None,
            // Every field as a JSON value, made only for the one format that prints it.
            table: if format == Format::Json {
                json::table(verdict, view)
            } else {
                Vec::new()
            },
        })
    }

    /// The severity's rank, most severe first (critical 0 ... low 3, none 4), for sorting.
    pub fn severity_rank(&self) -> usize {
        severity_rank(self.severity.as_deref())
    }

    /// The diff's entries: each changed attribute's path, the state's value and the requested one, as text
    /// (strings as they are, anything else as JSON). An entry of another shape (a Google IAM policy's
    /// `appeared`/`vanished` grants) reads as its JSON in `requested`.
    pub fn changes(&self) -> Vec<(String, String, String)> {
        let Some(Ok(Value::Object(diff))) = self.diff.as_deref().map(serde_json::from_str::<Value>)
        else {
            return Vec::new();
        };
        let show = |value: Option<&Value>| match value {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        diff.iter()
            .map(|(path, entry)| match entry {
                Value::Object(o) if o.contains_key("state") || o.contains_key("requested") => {
                    (path.clone(), show(o.get("state")), show(o.get("requested")))
                }
                other => (path.clone(), String::new(), other.to_string()),
            })
            .collect()
    }

    /// The day of the call (`YYYY-MM-DD`, UTC), when its time reads as RFC 3339.
    pub fn day(&self) -> Option<jiff::civil::Date> {
        let time: jiff::Timestamp = self.time.as_deref()?.parse().ok()?;
        Some(time.to_zoned(jiff::tz::TimeZone::UTC).date())
    }
}

/// The rank of a severity, most severe first.
pub fn severity_rank(severity: Option<&str>) -> usize {
    match severity {
        Some("critical") => 0,
        Some("high") => 1,
        Some("medium") => 2,
        Some("low") => 3,
        _ => 4,
    }
}

/// The severities, most severe first.
pub const SEVERITIES: [&str; 4] = ["critical", "high", "medium", "low"];

/// A user agent cut to [`USER_AGENT_MAX_BYTES`] (on a character boundary, `…` marking the cut) and trimmed.
fn trim_user_agent(agent: &str) -> String {
    let agent = agent.trim();
    if agent.len() <= USER_AGENT_MAX_BYTES {
        return agent.to_owned();
    }
    let mut end = USER_AGENT_MAX_BYTES - '…'.len_utf8();
    while !agent.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &agent[..end])
}

/// The writer of one run's report: streaming formats write each finding as it is added, the others keep them
/// for [`Report::finish`].
pub struct Report<W: Write> {
    format: Format,
    out: W,
    kept: Vec<Finding>,
    started: bool,
    /// What was read, as the run's caller describes it (the trail, the window asked): the aggregate reports'
    /// header.
    context: Vec<String>,
    /// Why the report is partial (the run was interrupted), when it is.
    partial: Option<String>,
}

impl<W: Write> Report<W> {
    /// A report in `format` to `out`.
    pub fn new(format: Format, out: W) -> Self {
        Report {
            format,
            out,
            kept: Vec::new(),
            started: false,
            context: Vec::new(),
            partial: None,
        }
    }

    /// Adds a line to the header of the markdown and html reports, saying what was read (`Trail
    /// s3://bucket/prefix, 2026-09-07 to 2026-12-06`); the other formats do not print it.
    // For the trail's run loop (issue 21, part 1: the bucket and window read), which is not in this module.
    pub fn describe(&mut self, line: impl Into<String>) {
        self.context.push(line.into());
    }

    /// Marks the report partial (the run was stopped before it read everything): markdown and html say so,
    /// with `why`, at their top.
    // For the run loop's Ctrl-C (issue 21, part 2), which is not in this module.
    pub fn mark_partial(&mut self, why: impl Into<String>) {
        self.partial = Some(why.into());
    }

    /// Adds a finding: written now (text, json, csv) or kept for the end (markdown, html).
    pub fn add(&mut self, mut finding: Finding) -> std::io::Result<()> {
        match self.format {
            Format::Text => {
                if let Some(line) = text::line(&finding) {
                    writeln!(self.out, "{line}")?;
                }
            }
            Format::Json => writeln!(self.out, "{}", json::object(&finding))?,
            Format::Csv => {
                if !self.started {
                    csv::header(&mut self.out)?;
                    self.started = true;
                }
                csv::row(&mut self.out, &finding)?;
            }
            Format::Markdown | Format::Html => {
                // Only the findings themselves are printed; the field table would double what is kept.
                finding.table = Vec::new();
                self.kept.push(finding);
            }
        }
        Ok(())
    }

    /// Writes what is left (the whole report for markdown and html, the header of an empty csv) and flushes;
    /// gives the output back.
    pub fn finish(mut self, counts: &Counts) -> std::io::Result<W> {
        match self.format {
            Format::Text | Format::Json => {}
            Format::Csv => {
                if !self.started {
                    csv::header(&mut self.out)?;
                }
            }
            Format::Markdown | Format::Html => {
                let mut summary = Summary::of(&self.kept);
                summary.context = std::mem::take(&mut self.context);
                summary.partial = self.partial.take();
                if self.format == Format::Markdown {
                    markdown::write(&mut self.out, &summary, counts)?;
                } else {
                    html::write(&mut self.out, &summary, counts)?;
                }
            }
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An unmanaged IAM user made by hand, with the import id the import ids' code would give it.
    fn unmanaged(id: &str, import_id: &str) -> Finding {
        Finding {
            kind: Some(Kind::Unmanaged),
            cloud: Cloud::Aws,
            time: Some("2024-08-01T13:33:28Z".into()),
            account: Some("229654561268".into()),
            region: Some("us-east-1".into()),
            service: Some("iam.amazonaws.com".into()),
            call: "CreateUser".into(),
            event_id: None,
            actor: Some("christophe".into()),
            actor_kind: Some("sdk_or_cli".into()),
            source_ip: None,
            user_agent: None,
            severity: Some("critical".into()),
            change: Some("create".into()),
            resource_address: None,
            resource_type: Some("aws_iam_user".into()),
            resource_id: Some(id.into()),
            state: None,
            state_serial: None,
            touched_attrs: Vec::new(),
            changed_attrs: Vec::new(),
            summary: None,
            diff: None,
            import_id: Some(import_id.into()),
            table: Vec::new(),
        }
    }

    #[test]
    fn import_blocks_never_share_an_address_and_stay_text() {
        let hostile = "x\"}\nresource \"aws_iam_user\" \"y\" {${file(\"/etc/passwd\")}<b>";
        let findings = [
            unmanaged("alice.b", "alice.b"),
            unmanaged("alice_b", "alice_b"),
            unmanaged("mallory", hostile),
        ];
        let summary = Summary::of(&findings);
        let blocks: Vec<&str> = summary
            .imports
            .iter()
            .flatten()
            .map(String::as_str)
            .collect();
        assert_eq!(
            blocks,
            [
                "import {\n  to = aws_iam_user.alice_b\n  id = \"alice.b\"\n}",
                "import {\n  to = aws_iam_user.alice_b_2\n  id = \"alice_b\"\n}",
                "import {\n  to = aws_iam_user.mallory\n  id = \"x\\\"}\\nresource \\\"aws_iam_user\\\" \\\"y\\\" {$${file(\\\"/etc/passwd\\\")}<b>\"\n}",
            ]
        );
        let mut html = Vec::new();
        html::write(&mut html, &summary, &Counts::default()).unwrap();
        let html = String::from_utf8(html).unwrap();
        assert!(html.contains("to = aws_iam_user.alice_b_2"), "{html}");
        assert!(
            html.contains("$${file(\\&quot;/etc/passwd\\&quot;)}&lt;b&gt;"),
            "{html}"
        );
        assert!(!html.contains("<b>\""), "{html}");
        let mut md = Vec::new();
        markdown::write(&mut md, &summary, &Counts::default()).unwrap();
        let md = String::from_utf8(md).unwrap();
        assert!(
            md.contains("```hcl\nimport {\n  to = aws_iam_user.mallory\n"),
            "{md}"
        );
    }

    #[test]
    fn a_partial_report_says_so_and_a_long_window_keeps_its_last_days() {
        let mut early = unmanaged("a", "a");
        early.time = Some("2020-01-01T00:00:00Z".into());
        let mut undated = unmanaged("b", "b");
        undated.time = Some("yesterday".into());
        let mut report = Report::new(Format::Html, Vec::new());
        for f in [early, unmanaged("c", "c"), undated] {
            report.add(f).unwrap();
        }
        report.describe("Trail s3://trail/<x>");
        report.mark_partial("interrupted <Ctrl-C>");
        let html = String::from_utf8(report.finish(&Counts::default()).unwrap()).unwrap();
        assert!(
            html.contains("<b>Partial report</b>: interrupted &lt;Ctrl-C&gt;."),
            "{html}"
        );
        assert!(html.contains("Trail s3://trail/&lt;x&gt;"), "{html}");
        assert!(
            html.contains(&format!(
                "{} days, at most 1 findings a day; 1 findings have no time",
                summary::TIMELINE_MAX_DAYS
            )),
            "{html}"
        );
        assert_eq!(html.matches("<rect class=\"day\"").count(), 1, "{html}");
        assert!(html.contains("2024-08-01: 1 unmanaged"), "{html}");
    }

    #[test]
    fn user_agents_are_cut_on_a_character() {
        let long = "é".repeat(300);
        let cut = trim_user_agent(&long);
        assert!(cut.len() <= USER_AGENT_MAX_BYTES, "{}", cut.len());
        assert!(cut.ends_with('…'));
        assert_eq!(trim_user_agent("  aws-cli/2 \n"), "aws-cli/2");
    }
}
