//! `markdown`: the report as Markdown (GitHub's tables): the summary, the drift per resource with how to
//! resolve it both ways, then the resources made by hand with their import blocks.
//!
//! Every value is escaped for where it lands: in text and table cells, Markdown's punctuation is
//! backslash-escaped (so a value never starts a link, an emphasis, a code span or raw HTML, and `|` never
//! ends a cell) and line breaks become spaces; in a code block, the fence is longer than any run of
//! backticks in the block.

use super::{Counts, Summary, records_line, resolution};
use std::io::{self, Write};

/// Writes the whole report.
pub fn write(out: &mut impl Write, s: &Summary, counts: &Counts) -> io::Result<()> {
    let mut md = String::new();
    md.push_str("# Drift audit\n\n");
    if let Some(why) = &s.partial {
        md.push_str(&format!(
            "> **Partial report**: {}. Only the records read until then are in it.\n\n",
            text(why)
        ));
    }
    for line in &s.context {
        md.push_str(&format!("{}\n\n", text(line)));
    }
    if let Some((first, last)) = &s.window {
        md.push_str(&format!(
            "Changes made outside Terraform from {} to {}. ",
            text(first),
            text(last)
        ));
    }
    md.push_str(&format!("{}.\n\n", text(&records_line(counts))));
    md.push_str(&format!(
        "**{} drift** (changes to managed resources made outside Terraform), **{} unmanaged** (resources made \
         or changed by hand that no state holds).\n\n",
        s.drift, s.unmanaged
    ));

    md.push_str("## Summary\n\n");
    for (title, rows) in [
        ("Severity", &s.by_severity),
        ("Service", &s.by_service),
        ("Account", &s.by_account),
        ("Actor", &s.by_actor),
    ] {
        md.push_str(&format!("| {title} | Findings |\n|---|---:|\n"));
        for (name, count) in rows {
            md.push_str(&format!("| {} | {count} |\n", text(name)));
        }
        md.push('\n');
    }
    let dated: Vec<_> = s.days.iter().filter(|(_, d, u)| d + u > 0).collect();
    if !dated.is_empty() || s.undated > 0 {
        md.push_str("| Day (UTC) | Drift | Unmanaged |\n|---|---:|---:|\n");
        for (day, d, u) in dated {
            md.push_str(&format!("| {day} | {d} | {u} |\n"));
        }
        if s.undated > 0 {
            md.push_str(&format!("| (no time) | {} | |\n", s.undated));
        }
        md.push('\n');
    }

    md.push_str("## Drift\n\n");
    if s.drift_groups.is_empty() {
        md.push_str("No change to a managed resource was made outside Terraform.\n\n");
    }
    for (address, findings) in &s.drift_groups {
        let first = findings[0];
        md.push_str(&format!("### {}\n\n", text(address)));
        md.push_str(&format!(
            "{} {}, state {} serial {}.\n\n",
            text(first.resource_type.as_deref().unwrap_or("")),
            text(first.resource_id.as_deref().unwrap_or("")),
            text(first.state.as_deref().unwrap_or("?")),
            first
                .state_serial
                .map_or_else(|| "?".to_owned(), |n| n.to_string()),
        ));
        md.push_str("| When | Severity | Change | Who | From | Call | What changed |\n");
        md.push_str("|---|---|---|---|---|---|---|\n");
        for f in findings {
            // The summary says what a list gains and loses (`+tcp 22 cidr 0.0.0.0/0`), where the diff's
            // two whole values would leave the reader to compare them.
            let what = text(f.summary.as_deref().or(f.change.as_deref()).unwrap_or(""));
            md.push_str(&format!("{} {what} |\n", call_cells(f)));
        }
        let fix = resolution(address, findings.last().and_then(|f| f.change.as_deref()));
        md.push_str("\nAccept the change (keep it, and make the code say it):\n\n");
        md.push_str(&code_block("sh", &fix.accept.join("\n")));
        md.push_str("\nRevert it (put back what the code says):\n\n");
        md.push_str(&code_block("sh", &fix.revert.join("\n")));
        md.push('\n');
    }

    md.push_str("## Made by hand (unmanaged)\n\n");
    if s.unmanaged_groups.is_empty() {
        md.push_str("No resource of a type the states manage was made or changed by hand.\n\n");
    }
    for (((resource_type, resource_id), findings), import) in
        s.unmanaged_groups.iter().zip(&s.imports)
    {
        md.push_str(&format!(
            "### {} {}\n\n",
            text(resource_type),
            text(resource_id)
        ));
        md.push_str(
            "| When | Severity | Change | Who | From | Call |\n|---|---|---|---|---|---|\n",
        );
        for f in findings {
            md.push_str(&format!("{}\n", call_cells(f)));
        }
        md.push('\n');
        match import {
            Some(block) => {
                md.push_str(
                    "Adopt it into Terraform: add this block, then `terraform plan \
                     -generate-config-out=generated.tf` writes its configuration:\n\n",
                );
                md.push_str(&code_block("hcl", block));
            }
            None => md.push_str(
                "Adopt it into Terraform with an `import` block (Terraform 1.5 and later) and `terraform plan \
                 -generate-config-out=generated.tf`, or delete it if it should not exist.\n",
            ),
        }
        md.push('\n');
    }
    out.write_all(md.as_bytes())
}

/// The cells a finding's row begins with in both tables (when, severity, change, who, from, call), each
/// escaped, as `| a | b | ... |`.
fn call_cells(f: &super::Finding) -> String {
    format!(
        "| {} | {} | {} | {} | {} | {} |",
        text(f.time.as_deref().unwrap_or("")),
        text(f.severity.as_deref().unwrap_or("")),
        text(f.change.as_deref().unwrap_or("")),
        who(f.actor.as_deref(), f.actor_kind.as_deref()),
        from(f),
        text(&format!(
            "{} {}",
            f.service.as_deref().unwrap_or(""),
            f.call
        )),
    )
}

fn who(actor: Option<&str>, kind: Option<&str>) -> String {
    format!(
        "{} ({})",
        text(actor.unwrap_or("?")),
        text(kind.unwrap_or("unknown"))
    )
}

fn from(f: &super::Finding) -> String {
    let mut parts = Vec::new();
    if let Some(ip) = &f.source_ip {
        parts.push(text(ip));
    }
    parts.push(text(&format!(
        "{} {} {}",
        f.cloud.as_str(),
        f.account.as_deref().unwrap_or("?"),
        f.region.as_deref().unwrap_or("?")
    )));
    if let Some(agent) = &f.user_agent {
        parts.push(text(agent));
    }
    parts.join("<br>")
}

/// A value as Markdown text, for a paragraph or a table cell.
pub fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '!' | '#' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => out.push_str(&format!("\\\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// A fenced code block, its fence longer than any run of backticks inside.
pub fn code_block(language: &str, body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat((longest + 1).max(3));
    format!("{fence}{language}\n{body}\n{fence}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_never_become_markup() {
        assert_eq!(text("a|b"), r"a\|b");
        assert_eq!(text("`x`"), r"\`x\`");
        assert_eq!(text("<img src=x>"), r"\<img src=x\>");
        assert_eq!(text("[a](javascript:x)"), r"\[a\](javascript:x)");
        assert_eq!(text("a\nb\r\nc"), "a b  c");
        assert_eq!(text("\u{1b}["), r"\\u{1b}\[");
    }

    #[test]
    fn fences_outlast_the_body() {
        assert_eq!(code_block("sh", "a"), "```sh\na\n```\n");
        assert_eq!(code_block("", "a````b"), "`````\na````b\n`````\n");
    }
}
