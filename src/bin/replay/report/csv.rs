//! `csv`: one row per finding for spreadsheets, as RFC 4180 writes it (every cell quoted, quotes doubled,
//! rows ended by CRLF). A cell that a spreadsheet would read as a formula (it starts with `=`, `+`, `-`, `@`,
//! a tab or a carriage return) is prefixed with `'`, as OWASP advises against CSV injection: the log's writer
//! chooses user agents, names and request values.

use super::Finding;
use std::io::{self, Write};

/// The columns, in order.
pub const COLUMNS: [&str; 24] = [
    "time",
    "cloud",
    "account",
    "region",
    "service",
    "call",
    "event_id",
    "actor",
    "actor_kind",
    "source_ip",
    "user_agent",
    "kind",
    "severity",
    "change",
    "resource_address",
    "resource_type",
    "resource_id",
    "state",
    "state_serial",
    "touched_attrs",
    "changed_attrs",
    "summary",
    "diff",
    "import_id",
];

/// The header row.
pub fn header(out: &mut impl Write) -> io::Result<()> {
    write_row(out, COLUMNS.iter().map(|c| (*c).to_owned()))
}

/// The finding's row.
pub fn row(out: &mut impl Write, f: &Finding) -> io::Result<()> {
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let cells = [
        text(&f.time),
        f.cloud.as_str().to_owned(),
        text(&f.account),
        text(&f.region),
        text(&f.service),
        f.call.clone(),
        text(&f.event_id),
        text(&f.actor),
        text(&f.actor_kind),
        text(&f.source_ip),
        text(&f.user_agent),
        f.kind.map(|k| k.as_str()).unwrap_or_default().to_owned(),
        text(&f.severity),
        text(&f.change),
        text(&f.resource_address),
        text(&f.resource_type),
        text(&f.resource_id),
        text(&f.state),
        f.state_serial.map(|s| s.to_string()).unwrap_or_default(),
        f.touched_attrs.join(" "),
        f.changed_attrs.join(" "),
        text(&f.summary),
        text(&f.diff),
        text(&f.import_id),
    ];
    write_row(out, cells.into_iter())
}

fn write_row(out: &mut impl Write, cells: impl Iterator<Item = String>) -> io::Result<()> {
    let mut line = String::new();
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            line.push(',');
        }
        line.push_str(&cell_text(&cell));
    }
    line.push_str("\r\n");
    out.write_all(line.as_bytes())
}

/// One cell: guarded against formulas, quoted.
pub fn cell_text(value: &str) -> String {
    let guard = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    format!(
        "\"{}{}\"",
        if guard { "'" } else { "" },
        value.replace('"', "\"\"")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_never_formulas() {
        assert_eq!(cell_text("plain"), "\"plain\"");
        assert_eq!(cell_text("a,\"b\"\nc"), "\"a,\"\"b\"\"\nc\"");
        assert_eq!(cell_text("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        for start in ["+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(cell_text(start).starts_with("\"'"), "{start}");
        }
        assert_eq!(cell_text(""), "\"\"");
    }
}
