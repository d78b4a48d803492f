//! `html`: the report as one self-contained page (inline CSS, an inline SVG timeline, no script, nothing
//! loaded from anywhere): the summary by severity, service, account and actor, findings per day, every change
//! made outside Terraform per resource address (who, when, from where, what changed from what to what) with
//! how to resolve it both ways, then the resources made by hand with their import blocks.
//!
//! Every value is escaped ([`escape`]) wherever it lands, text or attribute: a log's writer chooses user
//! agents, names and request values, and a report that runs what they wrote would hand them the reader's
//! browser. The page's Content-Security-Policy allows no script and no load at all, so a value that slipped
//! through would still be inert (and Chromium would say so on its console, which the tests read).

use super::{Counts, Finding, SEVERITIES, Summary, records_line, resolution};
use std::fmt::Write as _;
use std::io::{self, Write};

const STYLE: &str = r#"
:root { --drift: #c0392b; --unmanaged: #d68910; --ink: #1c2833; --muted: #5d6d7e; --line: #d5d8dc; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: #f4f6f7; }
main { max-width: 1200px; margin: 0 auto; padding: 24px; }
h1 { margin: 0 0 4px; font-size: 26px; }
h2 { margin: 32px 0 12px; font-size: 20px; border-bottom: 2px solid var(--line); padding-bottom: 4px; }
h3 { margin: 0 0 4px; font-size: 16px; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; word-break: break-all; }
p.meta, .muted { color: var(--muted); }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 16px 0; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; min-width: 150px; }
.card b { display: block; font-size: 28px; }
.card.drift b { color: var(--drift); } .card.unmanaged b { color: var(--unmanaged); }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 12px; }
.panel, article { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; }
article { margin: 0 0 16px; }
article.drift { border-left: 4px solid var(--drift); } article.unmanaged { border-left: 4px solid var(--unmanaged); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 4px 6px; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
th { font-weight: 600; color: var(--muted); white-space: nowrap; }
td.n { text-align: right; width: 4em; }
.bar { display: inline-block; height: 8px; background: var(--drift); border-radius: 2px; vertical-align: middle; }
.sev { display: inline-block; white-space: nowrap; padding: 0 6px; border-radius: 3px; color: #fff; font-size: 12px; }
.sev-critical { background: #922b21; } .sev-high { background: #c0392b; } .sev-medium { background: #d68910; } .sev-low { background: #7f8c8d; } .sev-none { background: #aab7b8; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; }
pre { background: #f8f9f9; border: 1px solid var(--line); border-radius: 4px; padding: 8px; white-space: pre-wrap; overflow-wrap: anywhere; margin: 4px 0 8px; }
.diff td { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; }
.old { color: #922b21; } .new { color: #1e8449; }
.resolve { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; margin-top: 8px; }
.axis { display: flex; justify-content: space-between; color: var(--muted); font-size: 12px; }
.timeline svg { width: 100%; height: 130px; background: #fff; border: 1px solid var(--line); border-radius: 6px; }
.partial { background: #fdebd0; border: 1px solid var(--unmanaged); border-radius: 6px; padding: 8px 12px; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
"#;

/// Writes the whole page.
pub fn write(out: &mut impl Write, s: &Summary, counts: &Counts) -> io::Result<()> {
    let mut h = String::new();
    // Writing to a String cannot fail.
    let _ = page(&mut h, s, counts);
    out.write_all(h.as_bytes())
}

fn page(h: &mut String, s: &Summary, counts: &Counts) -> std::fmt::Result {
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
    );
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    h.push_str("<title>Drift audit</title>\n<style>");
    h.push_str(STYLE);
    h.push_str("</style>\n</head>\n<body>\n");
    writeln!(
        h,
        "<main id=\"report\" data-drift=\"{}\" data-unmanaged=\"{}\">",
        s.drift, s.unmanaged
    )?;
    h.push_str("<h1>Drift audit</h1>\n");
    if let Some(why) = &s.partial {
        writeln!(
            h,
            "<p class=\"partial\"><b>Partial report</b>: {}. Only the records read until then are in it.</p>",
            escape(why)
        )?;
    }
    for line in &s.context {
        writeln!(h, "<p class=\"meta context\">{}</p>", escape(line))?;
    }
    if let Some((first, last)) = &s.window {
        writeln!(
            h,
            "<p class=\"meta\">Changes made outside Terraform from <time>{}</time> to <time>{}</time>.</p>",
            escape(first),
            escape(last)
        )?;
    }
    writeln!(
        h,
        "<p class=\"meta\">{}.</p>",
        escape(&records_line(counts))
    )?;
    writeln!(
        h,
        "<div class=\"cards\"><div class=\"card drift\"><b>{}</b>drift: changes to managed resources made outside Terraform</div>\
         <div class=\"card unmanaged\"><b>{}</b>unmanaged: resources made or changed by hand that no state holds</div></div>",
        s.drift, s.unmanaged
    )?;

    h.push_str("<section id=\"summary\">\n<h2>Summary</h2>\n<div class=\"grid\">\n");
    for (title, rows) in [
        ("Severity", &s.by_severity),
        ("Service", &s.by_service),
        ("Account", &s.by_account),
        ("Actor", &s.by_actor),
    ] {
        tally(h, title, rows)?;
    }
    h.push_str("</div>\n</section>\n");

    timeline(h, s)?;

    h.push_str("<section id=\"drift\">\n<h2>Drift: changes outside Terraform, per resource</h2>\n");
    if s.drift_groups.is_empty() {
        h.push_str("<p>No change to a managed resource was made outside Terraform.</p>\n");
    }
    for (address, findings) in &s.drift_groups {
        drift_group(h, address, findings)?;
    }
    h.push_str("</section>\n");

    h.push_str("<section id=\"unmanaged\">\n<h2>Made by hand: resources no state holds</h2>\n");
    if s.unmanaged_groups.is_empty() {
        h.push_str("<p>No resource of a type the states manage was made or changed by hand.</p>\n");
    }
    for (((resource_type, resource_id), findings), import) in
        s.unmanaged_groups.iter().zip(&s.imports)
    {
        writeln!(
            h,
            "<article class=\"unmanaged\">\n<h3>{} {}</h3>",
            escape(resource_type),
            escape(resource_id)
        )?;
        calls(h, findings, false)?;
        match import {
            Some(block) => writeln!(
                h,
                "<p>Adopt it into Terraform: add this block, then <code>terraform plan -generate-config-out=generated.tf</code> writes its configuration.</p>\n<pre class=\"import\">{}</pre>",
                escape(block)
            )?,
            None => h.push_str(
                "<p>Adopt it into Terraform with an <code>import</code> block (Terraform 1.5 and later) and \
                 <code>terraform plan -generate-config-out=generated.tf</code>, or delete it if it should not exist.</p>\n",
            ),
        }
        h.push_str("</article>\n");
    }
    h.push_str("</section>\n");
    h.push_str("<footer>Made by tfdrift-replay from the log records it read; secrets are redacted by the provider's schema.</footer>\n");
    h.push_str("</main>\n</body>\n</html>\n");
    Ok(())
}

/// A table of counts with bars.
fn tally(h: &mut String, title: &str, rows: &[(String, usize)]) -> std::fmt::Result {
    let most = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1);
    writeln!(
        h,
        "<div class=\"panel\"><table class=\"tally\"><tr><th>{title}</th><th class=\"n\">Findings</th><th></th></tr>"
    )?;
    for (name, count) in rows {
        let name_cell = if title == "Severity" {
            severity_badge(Some(name))
        } else {
            escape(name)
        };
        writeln!(
            h,
            "<tr><td>{name_cell}</td><td class=\"n\">{count}</td><td><span class=\"bar\" style=\"width:{}%\"></span></td></tr>",
            count * 100 / most
        )?;
    }
    h.push_str("</table></div>\n");
    Ok(())
}

/// Findings per day as SVG bars: drift below, unmanaged stacked on it.
fn timeline(h: &mut String, s: &Summary) -> std::fmt::Result {
    h.push_str("<section id=\"timeline\" class=\"timeline\">\n<h2>Timeline (UTC)</h2>\n");
    if s.days.is_empty() {
        h.push_str("<p>No finding has a time.</p>\n</section>\n");
        return Ok(());
    }
    let most = s
        .days
        .iter()
        .map(|(_, d, u)| d + u)
        .max()
        .unwrap_or(1)
        .max(1);
    let width = 10 * s.days.len();
    let (top, height) = (10usize, 100usize);
    writeln!(
        h,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {} 115\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"Findings per day\">",
        width.max(10)
    )?;
    for (i, (day, drift, unmanaged)) in s.days.iter().enumerate() {
        let x = i * 10 + 1;
        let dh = drift * height / most;
        let uh = unmanaged * height / most;
        let base = top + height;
        if *drift > 0 {
            writeln!(
                h,
                "<rect class=\"day\" x=\"{x}\" y=\"{}\" width=\"8\" height=\"{dh}\" fill=\"#c0392b\"><title>{day}: {drift} drift</title></rect>",
                base - dh
            )?;
        }
        if *unmanaged > 0 {
            writeln!(
                h,
                "<rect class=\"day\" x=\"{x}\" y=\"{}\" width=\"8\" height=\"{uh}\" fill=\"#d68910\"><title>{day}: {unmanaged} unmanaged</title></rect>",
                base - dh - uh
            )?;
        }
    }
    let (first, last) = (s.days[0].0, s.days[s.days.len() - 1].0);
    writeln!(
        h,
        "<line x1=\"0\" y1=\"{0}\" x2=\"{width}\" y2=\"{0}\" stroke=\"#aab7b8\"/>\n</svg>",
        top + height
    )?;
    // The dates below the bars, in HTML: text inside a stretched SVG would be stretched with it.
    writeln!(
        h,
        "<div class=\"axis\"><time>{first}</time><time>{last}</time></div>"
    )?;
    writeln!(
        h,
        "<p class=\"muted\">{} days, at most {most} findings a day{}.</p>",
        s.days.len(),
        if s.undated > 0 {
            format!("; {} findings have no time", s.undated)
        } else {
            String::new()
        }
    )?;
    h.push_str("</section>\n");
    Ok(())
}

fn drift_group(h: &mut String, address: &str, findings: &[&Finding]) -> std::fmt::Result {
    let first = findings[0];
    writeln!(
        h,
        "<article class=\"drift\">\n<h3>{}</h3>\n<p class=\"meta\">{} <code>{}</code> in state <b>{}</b> serial {}</p>",
        escape(address),
        escape(first.resource_type.as_deref().unwrap_or("")),
        escape(first.resource_id.as_deref().unwrap_or("")),
        escape(first.state.as_deref().unwrap_or("?")),
        first
            .state_serial
            .map_or_else(|| "?".to_owned(), |n| n.to_string()),
    )?;
    calls(h, findings, true)?;
    let fix = resolution(address, findings.last().and_then(|f| f.change.as_deref()));
    writeln!(
        h,
        "<div class=\"resolve\"><div><b>Accept the change</b> (keep it, and make the code say it):<pre class=\"accept\">{}</pre></div>\
         <div><b>Revert it</b> (put back what the code says):<pre class=\"revert\">{}</pre></div></div>",
        escape(&fix.accept.join("\n")),
        escape(&fix.revert.join("\n"))
    )?;
    h.push_str("</article>\n");
    Ok(())
}

/// The calls on one resource: when, who, from where, which call, and (for drift) what changed.
fn calls(h: &mut String, findings: &[&Finding], changes: bool) -> std::fmt::Result {
    h.push_str("<table class=\"calls\"><tr><th>When</th><th>Severity</th><th>Who</th><th>From</th><th>Call</th>");
    if changes {
        h.push_str("<th>What changed</th>");
    }
    h.push_str("</tr>\n");
    for f in findings {
        let kind = f.kind.map_or("none", |k| k.as_str());
        writeln!(
            h,
            "<tr class=\"finding\" data-kind=\"{kind}\"><td><time>{}</time></td><td>{}</td><td>{} <span class=\"muted\">({})</span></td>\
             <td>{}<br><span class=\"muted\">{} {} {}</span>{}</td><td>{} <code>{}</code><br><span class=\"muted\">{} {}</span></td>",
            escape(f.time.as_deref().unwrap_or("")),
            severity_badge(f.severity.as_deref()),
            escape(f.actor.as_deref().unwrap_or("?")),
            escape(f.actor_kind.as_deref().unwrap_or("unknown")),
            escape(f.source_ip.as_deref().unwrap_or("")),
            f.cloud.as_str(),
            escape(f.account.as_deref().unwrap_or("?")),
            escape(f.region.as_deref().unwrap_or("?")),
            f.user_agent
                .as_deref()
                .map_or_else(String::new, |ua| format!(
                    "<br><span class=\"muted ua\">{}</span>",
                    escape(ua)
                )),
            escape(f.service.as_deref().unwrap_or("")),
            escape(&f.call),
            escape(f.change.as_deref().unwrap_or("")),
            escape(f.event_id.as_deref().unwrap_or("")),
        )?;
        if changes {
            // The summary says what a list gains and loses; the diff's values, state and requested, follow.
            write!(
                h,
                "<td><span class=\"summary\">{}</span>",
                escape(f.summary.as_deref().or(f.change.as_deref()).unwrap_or(""))
            )?;
            let entries = f.changes();
            if !entries.is_empty() {
                h.push_str(
                    "<details><summary>values: state → requested</summary><table class=\"diff\">",
                );
                for (path, state, requested) in entries {
                    writeln!(
                        h,
                        "<tr><td>{}</td><td class=\"old\">{}</td><td>→</td><td class=\"new\">{}</td></tr>",
                        escape(&path),
                        escape(&state),
                        escape(&requested)
                    )?;
                }
                h.push_str("</table></details>");
            }
            h.push_str("</td>");
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
    Ok(())
}

fn severity_badge(severity: Option<&str>) -> String {
    let class = severity
        .filter(|s| SEVERITIES.contains(s))
        .unwrap_or("none");
    format!(
        "<span class=\"sev sev-{class}\">{}</span>",
        escape(severity.unwrap_or("none"))
    )
}

/// Text for HTML, in an element or a quoted attribute: `&`, `<`, `>`, `"` and `'` as character references.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape(r#"<script>alert("x")</script>&'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"
        );
    }
}
