//! Terraform's address syntax: how a resource instance is named in plans, in `terraform state list`, and
//! in tfdrift's `tfdrift.resource_address` field. Owns the rendering of instance keys (HCL string quoting
//! included) and the reading of the legacy (v1–v3) resource keys and module paths.

use std::fmt::Write as _;

/// The key of one instance of a resource with `count` or `for_each`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceKey<'a> {
    /// `count`: `[0]`.
    Int(i64),
    /// `for_each`: `["blue"]`.
    Str(&'a str),
    /// A key of another JSON type, which Terraform itself would refuse; shown as written (`[true]`)
    /// rather than losing the instance.
    Raw(&'a str),
}

/// `module.a.aws_instance.web["blue"]`: `module` is `""` for the root module or a module instance address
/// (`module.a["x"].module.b`), which v4 states already store in Terraform syntax.
pub fn instance_address(
    module: &str,
    resource_type: &str,
    name: &str,
    key: Option<InstanceKey<'_>>,
) -> String {
    let mut out = resource_address(module, resource_type, name);
    if let Some(key) = key {
        push_key(&mut out, key);
    }
    out
}

/// The address of the resource as a whole (no instance key).
pub(crate) fn resource_address(module: &str, resource_type: &str, name: &str) -> String {
    let mut out = String::with_capacity(module.len() + resource_type.len() + name.len() + 16);
    if !module.is_empty() {
        out.push_str(module);
        out.push('.');
    }
    out.push_str(resource_type);
    out.push('.');
    out.push_str(name);
    out
}

pub(crate) fn push_key(out: &mut String, key: InstanceKey<'_>) {
    out.push('[');
    match key {
        InstanceKey::Int(i) => {
            let _ = write!(out, "{i}");
        }
        InstanceKey::Str(s) => hcl_quote(s, out),
        InstanceKey::Raw(s) => out.push_str(s),
    }
    out.push(']');
}

/// Appends `s` as an HCL quoted string, the way Terraform prints string instance keys: backslash escapes
/// for `"`, `\`, newline, carriage return and tab, `\uXXXX` / `\UXXXXXXXX` for other unprintable
/// characters, and `$${` / `%%{` so that the key cannot read as a template.
pub fn hcl_quote(s: &str, out: &mut String) {
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '$' | '%' => {
                out.push(c);
                if chars.peek() == Some(&'{') {
                    out.push(c);
                }
            }
            c if is_unprintable(c) => {
                let n = u32::from(c);
                if n < 0x10000 {
                    let _ = write!(out, "\\u{n:04x}");
                } else {
                    let _ = write!(out, "\\U{n:08x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Close to Go's `unicode.IsPrint`, which Terraform uses: control characters, and the space and format
/// characters other than U+0020 that would be invisible in an address.
fn is_unprintable(c: char) -> bool {
    c.is_control()
        || (c != ' ' && c.is_whitespace())
        || matches!(c, '\u{00ad}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}' | '\u{e0000}'..='\u{e007f}')
}

/// A resource key of a legacy (v1–v3) state: `aws_instance.web`, `aws_instance.web.0`, `data.aws_ami.x`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LegacyKey<'a> {
    pub data: bool,
    pub resource_type: &'a str,
    pub name: &'a str,
    pub index: Option<i64>,
}

pub(crate) fn parse_legacy_key(key: &str) -> Option<LegacyKey<'_>> {
    let (data, rest) = match key.strip_prefix("data.") {
        Some(rest) => (true, rest),
        None => (false, key),
    };
    let mut parts = rest.split('.');
    let resource_type = parts.next().filter(|s| !s.is_empty())?;
    let name = parts.next().filter(|s| !s.is_empty())?;
    let index = match parts.next() {
        None => None,
        Some(i) => Some(i.parse::<i64>().ok()?),
    };
    if parts.next().is_some() {
        return None;
    }
    Some(LegacyKey {
        data,
        resource_type,
        name,
        index,
    })
}

/// Appends one step of a legacy module path (`["root", "net", "subnets"]`, the `root` left out) to a
/// module address: `module.net.module.subnets`.
pub(crate) fn push_module_step(out: &mut String, name: &str) {
    if !out.is_empty() {
        out.push('.');
    }
    out.push_str("module.");
    out.push_str(name);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            instance_address("", "aws_instance", "web", None),
            "aws_instance.web"
        );
        assert_eq!(
            instance_address("", "aws_instance", "web", Some(InstanceKey::Int(0))),
            "aws_instance.web[0]"
        );
        assert_eq!(
            instance_address(
                "module.a",
                "aws_instance",
                "web",
                Some(InstanceKey::Str("blue"))
            ),
            r#"module.a.aws_instance.web["blue"]"#
        );
        assert_eq!(
            instance_address(r#"module.a["x"].module.b"#, "aws_s3_bucket", "logs", None),
            r#"module.a["x"].module.b.aws_s3_bucket.logs"#
        );
        assert_eq!(
            instance_address("", "t", "n", Some(InstanceKey::Raw("true"))),
            "t.n[true]"
        );
    }

    #[test]
    fn quoting() {
        let q = |s: &str| {
            let mut out = String::new();
            hcl_quote(s, &mut out);
            out
        };
        assert_eq!(q(""), r#""""#);
        assert_eq!(q("foo.bar"), r#""foo.bar""#);
        assert_eq!(q(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(q("a\nb\tc\rd"), r#""a\nb\tc\rd""#);
        assert_eq!(q("${x} %{y} $z %"), r#""$${x} %%{y} $z %""#);
        assert_eq!(q("\u{1}é日本"), "\"\\u0001é日本\"");
        assert_eq!(q("\u{e0001}"), "\"\\U000e0001\"");
    }

    #[test]
    fn legacy_keys() {
        assert_eq!(
            parse_legacy_key("aws_instance.web.3"),
            Some(LegacyKey {
                data: false,
                resource_type: "aws_instance",
                name: "web",
                index: Some(3)
            })
        );
        assert_eq!(
            parse_legacy_key("data.aws_ami.x").map(|k| (k.data, k.resource_type, k.index)),
            Some((true, "aws_ami", None))
        );
        assert_eq!(parse_legacy_key("aws_instance"), None);
        assert_eq!(parse_legacy_key("aws_instance.web.x"), None);
        assert_eq!(parse_legacy_key("aws_instance.web.0.1"), None);
        assert_eq!(parse_legacy_key(".web"), None);
    }

    fn legacy_module(path: &[&str]) -> String {
        let mut out = String::new();
        for step in path.iter().skip(1) {
            push_module_step(&mut out, step);
        }
        out
    }

    #[test]
    fn legacy_modules() {
        assert_eq!(legacy_module(&["root"]), "");
        assert_eq!(legacy_module(&["root", "net"]), "module.net");
        assert_eq!(legacy_module(&["root", "a", "b"]), "module.a.module.b");
        assert_eq!(legacy_module(&[]), "");
    }
}
