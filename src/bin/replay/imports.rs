//! `--import-file`: Terraform `import` blocks (Terraform 1.5 and later, OpenTofu) for every resource made by
//! hand that the run found (`tfdrift.unmanaged` with an import id), once per resource, so that `terraform plan
//! -generate-config-out=generated.tf` can write their configuration.
//!
//! Everything in a block comes from the log, which the caller writes: the id is one HCL string whatever it
//! holds (quotes, backslashes, `${` and `%{`, control characters are escaped), the resource's name is a
//! Terraform identifier made from the id, and the comment above it is one line.

use super::view::View;
use std::collections::{BTreeSet, HashSet};
use std::io::Write;
use tfdrift::call::Call;
use tfdrift::drift::{Verdict, import_id};

/// The most bytes of a resource name made from an id.
const MAX_NAME_BYTES: usize = 64;

/// The most bytes of each value in a block's comment.
const MAX_COMMENT_VALUE_BYTES: usize = 200;

/// One resource to import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adoption {
    /// The Terraform resource type.
    pub resource_type: String,
    /// Its import id.
    pub id: String,
    /// The name in its address (`aws_iam_user.<name>`), unique among the type's.
    pub name: String,
    /// Where: the AWS account or Google Cloud project, and the region, as the record gives them.
    pub account: Option<String>,
    pub region: Option<String>,
    /// Who made it, how, when, through which call: for the comment.
    pub who: String,
    pub when: String,
    pub call: String,
}

/// The resources found so far, in the order first seen.
#[derive(Debug, Default)]
pub struct Imports {
    adoptions: Vec<Adoption>,
    /// (account, type, id) of every resource kept, to keep each once: the same id in two accounts (a user
    /// `admin` in each) is two resources.
    seen: HashSet<(Option<String>, String, String)>,
    /// (type, name) of every name given.
    names: HashSet<(String, String)>,
}

impl Imports {
    /// Keeps one resource (its `name` is given here), unless it is kept already; gives it a name no other of
    /// its type has.
    pub fn push(&mut self, mut adoption: Adoption) {
        let key = (
            adoption.account.clone(),
            adoption.resource_type.clone(),
            adoption.id.clone(),
        );
        if !self.seen.insert(key) {
            return;
        }
        let base = identifier(&adoption.id);
        let mut name = base.clone();
        let mut n = 1;
        while self
            .names
            .contains(&(adoption.resource_type.clone(), name.clone()))
        {
            n += 1;
            name = format!("{base}_{n}");
        }
        self.names
            .insert((adoption.resource_type.clone(), name.clone()));
        adoption.name = name;
        self.adoptions.push(adoption);
    }

    /// The resources kept.
    pub fn adoptions(&self) -> &[Adoption] {
        &self.adoptions
    }

    /// Writes the file: a header, then a block per resource.
    pub fn write(&self, out: &mut impl Write) -> std::io::Result<()> {
        writeln!(
            out,
            "# Resources made outside Terraform, found by tfdrift-replay: {} import block(s).",
            self.adoptions.len()
        )?;
        writeln!(
            out,
            "# Terraform 1.5 or later (or OpenTofu): `terraform plan -generate-config-out=generated.tf` writes \
             their configuration;"
        )?;
        writeln!(
            out,
            "# review it, then `terraform apply` imports them. Rename the resources as you like before that."
        )?;
        let accounts: BTreeSet<&str> = self
            .adoptions
            .iter()
            .filter_map(|a| a.account.as_deref())
            .collect();
        if accounts.len() > 1 {
            writeln!(
                out,
                "# They are in {} accounts or projects: import each into the configuration of its own (or add \
                 `provider = <provider>.<alias>` to its block).",
                accounts.len()
            )?;
        }
        for adoption in &self.adoptions {
            writeln!(out)?;
            let place = match (&adoption.account, &adoption.region) {
                (Some(account), Some(region)) => format!(" in {account} ({region})"),
                (Some(account), None) => format!(" in {account}"),
                (None, Some(region)) => format!(" in {region}"),
                (None, None) => String::new(),
            };
            writeln!(
                out,
                "# Created or changed{} by {} at {} through {}",
                comment(&place),
                comment(&adoption.who),
                comment(&adoption.when),
                comment(&adoption.call)
            )?;
            writeln!(
                out,
                "{}",
                import_block(&adoption.resource_type, &adoption.name, &adoption.id)
            )?;
        }
        Ok(())
    }
}

impl Adoption {
    /// The resource a verdict is about, when it is a finding of a resource made by hand whose import id is
    /// known (its name is given when it is kept, by [`Imports::push`]).
    pub fn of(verdict: &Verdict, view: &View) -> Option<Adoption> {
        if !verdict.unmanaged {
            return None;
        }
        let (Some(resource_type), Some(id)) =
            (verdict.unmatched_type.as_deref(), import_id::of(verdict))
        else {
            return None;
        };
        let (service, when, account, region) = match view {
            View::Aws(record) => (
                record.service(),
                record.time(),
                record.account_id(),
                record.region(),
            ),
            View::Gcp(entry) => (
                entry.service(),
                entry.time(),
                entry.account_id(),
                entry.region(),
            ),
        };
        let actor = verdict.actor.as_deref().unwrap_or("unknown");
        let kind = verdict.actor_kind.map_or("unknown", |k| k.as_str());
        Some(Adoption {
            resource_type: resource_type.to_owned(),
            id: id.to_owned(),
            name: String::new(),
            account: account.map(str::to_owned),
            region: region.map(str::to_owned),
            who: format!("{actor} ({kind})"),
            when: when.unwrap_or("an unknown time").to_owned(),
            call: format!("{service} {}", view.operation_name()),
        })
    }
}

/// A Terraform identifier made from an import id: the part that names the resource (an ARN's or a path's last
/// segment; `role` and `policy` of `role:policy`), lowercased, every character other than a letter, a digit,
/// `_` or `-` as `_`, prefixed with `_` unless it starts with a letter or `_`, at most [`MAX_NAME_BYTES`].
pub fn identifier(id: &str) -> String {
    let last = |s: &str| -> String {
        s.rsplit(['/', ':'])
            .find(|p| !p.is_empty())
            .unwrap_or(s)
            .to_owned()
    };
    let named =
        if id.starts_with("arn:") || id.starts_with("https://") || id.starts_with("projects/") {
            last(id)
        } else if let Some((owner, arn)) = id.split_once("/arn:") {
            // An attachment: the role, user or group, and the policy's name.
            format!("{owner}_{}", last(arn))
        } else {
            id.to_owned()
        };
    let mut name: String = named
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        name.insert(0, '_');
    }
    // Only ASCII is left, so any byte is a character boundary.
    name.truncate(MAX_NAME_BYTES);
    name
}

/// An import block: `import { to = TYPE.NAME id = "ID" }` (Terraform 1.5 and later, OpenTofu), the same in the
/// import file and in a report.
pub fn import_block(resource_type: &str, name: &str, id: &str) -> String {
    format!(
        "import {{\n  to = {resource_type}.{name}\n  id = {}\n}}",
        hcl_string(id)
    )
}

/// A quoted HCL string that holds `value` exactly: `\` and `"` escaped, control characters as escapes, and
/// the template sequences `${` and `%{` as `$${` and `%%{`, so that nothing in it is interpolated.
pub fn hcl_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A value as it may stand in a one-line comment: control characters (a newline would end the comment and
/// start configuration) as spaces, at most [`MAX_COMMENT_VALUE_BYTES`].
fn comment(value: &str) -> String {
    let mut out: String = value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if out.len() > MAX_COMMENT_VALUE_BYTES {
        let mut end = MAX_COMMENT_VALUE_BYTES;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses a file back with hcl-rs: every block is an `import` block with `to` and `id`; returns (to, id).
    fn parse_back(text: &str) -> Vec<(String, String)> {
        let body = hcl::parse(text).expect("the file is HCL");
        body.blocks()
            .map(|block| {
                assert_eq!(block.identifier(), "import");
                let attr = |key: &str| {
                    block
                        .body()
                        .attributes()
                        .find(|a| a.key() == key)
                        .unwrap_or_else(|| panic!("no {key}"))
                        .expr()
                        .clone()
                };
                let to = match attr("to") {
                    hcl::Expression::Traversal(t) => {
                        let hcl::Expression::Variable(root) = &t.expr else {
                            panic!("to: {t:?}")
                        };
                        let [hcl::TraversalOperator::GetAttr(name)] = t.operators.as_slice() else {
                            panic!("to: {t:?}")
                        };
                        format!("{}.{}", root.as_str(), name.as_str())
                    }
                    other => panic!("to is no address: {other:?}"),
                };
                // A string that holds escaped template sequences is a template with nothing to
                // interpolate: evaluated with no variables and no functions, it is the plain text, and any
                // real interpolation would fail.
                let id = match attr("id") {
                    hcl::Expression::String(s) => s,
                    template @ hcl::Expression::TemplateExpr(_) => {
                        use hcl::eval::Evaluate;
                        match template.evaluate(&hcl::eval::Context::new()) {
                            Ok(hcl::Value::String(s)) => s,
                            other => panic!("id is no plain string: {other:?}"),
                        }
                    }
                    other => panic!("id is no string: {other:?}"),
                };
                (to, id)
            })
            .collect()
    }

    fn file(imports: &Imports) -> String {
        let mut out = Vec::new();
        imports.write(&mut out).expect("write");
        String::from_utf8(out).expect("UTF-8")
    }

    fn adoption(resource_type: &str, id: &str) -> Adoption {
        Adoption {
            resource_type: resource_type.into(),
            id: id.into(),
            name: String::new(),
            account: Some("123456789012".into()),
            region: Some("us-east-1".into()),
            who: "alice (console)".into(),
            when: "2024-01-01T00:00:00Z".into(),
            call: "iam.amazonaws.com CreateUser".into(),
        }
    }

    fn push(imports: &mut Imports, resource_type: &str, id: &str) {
        imports.push(adoption(resource_type, id));
    }

    #[test]
    fn names_are_identifiers_and_never_collide() {
        let mut imports = Imports::default();
        for id in ["alice", "Alice", "alice", "a-lice", "alice_2", "ALICE"] {
            push(&mut imports, "aws_iam_user", id);
        }
        push(&mut imports, "aws_iam_role", "alice");
        push(&mut imports, "aws_s3_bucket", "2024.logs.example.com");
        push(&mut imports, "aws_iam_role_policy", "deploy:s3-write");
        push(
            &mut imports,
            "aws_iam_role_policy_attachment",
            "deploy/arn:aws:iam::aws:policy/ReadOnlyAccess",
        );
        push(
            &mut imports,
            "google_compute_network",
            "projects/p/global/networks/prod-vpc",
        );
        let names: Vec<String> = imports
            .adoptions()
            .iter()
            .map(|a| format!("{}.{}", a.resource_type, a.name))
            .collect();
        // `alice` twice is one resource; `Alice` lowercases onto `alice`, so takes `alice_2`; the real
        // `alice_2` then takes `alice_2_2`; the same name of another type is no collision.
        assert_eq!(
            names,
            [
                "aws_iam_user.alice",
                "aws_iam_user.alice_2",
                "aws_iam_user.a-lice",
                "aws_iam_user.alice_2_2",
                "aws_iam_user.alice_3",
                "aws_iam_role.alice",
                "aws_s3_bucket._2024_logs_example_com",
                "aws_iam_role_policy.deploy_s3-write",
                "aws_iam_role_policy_attachment.deploy_readonlyaccess",
                "google_compute_network.prod-vpc",
            ]
        );
        let text = file(&imports);
        let parsed = parse_back(&text);
        assert_eq!(parsed.len(), names.len());
        for ((to, id), adoption) in parsed.iter().zip(imports.adoptions()) {
            assert_eq!(*to, format!("{}.{}", adoption.resource_type, adoption.name));
            assert_eq!(*id, adoption.id);
        }
        let addresses: HashSet<&String> = parsed.iter().map(|(to, _)| to).collect();
        assert_eq!(addresses.len(), parsed.len(), "an address is given twice");
    }

    #[test]
    fn hostile_ids_stay_one_string() {
        let hostile = [
            "a\"b",
            "back\\slash\\",
            "${file(\"/etc/passwd\")}",
            "%{ if true }x%{ endif }",
            "line\nbreak = \"injected\"\n}\nimport {",
            "tab\there\r",
            "nul\u{0}bell\u{7}",
            "$${already}",
            "ünïcödé-名前",
            "\"",
            "$",
            "%",
        ];
        let mut imports = Imports::default();
        for id in hostile {
            imports.push(Adoption {
                who: "mallory\n}\nimport { to = aws_iam_user.x".into(),
                when: "2024-01-01T00:00:00Z\r\n".into(),
                account: Some("1\n}".into()),
                ..adoption("aws_iam_user", id)
            });
        }
        let text = file(&imports);
        let parsed = parse_back(&text);
        let ids: Vec<&str> = parsed.iter().map(|(_, id)| id.as_str()).collect();
        assert_eq!(ids, hostile, "{text}");
        // The comment stays one line: as many blocks as ids, and every line is a comment, a block's line or
        // empty.
        for line in text.lines() {
            assert!(
                line.is_empty()
                    || line.starts_with('#')
                    || line == "import {"
                    || line == "}"
                    || line.starts_with("  to = ")
                    || line.starts_with("  id = \""),
                "{line:?}"
            );
        }
        for (to, _) in &parsed {
            let name = to.strip_prefix("aws_iam_user.").expect("type");
            assert!(name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'));
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            );
        }
    }

    #[test]
    fn the_same_id_in_two_accounts_is_two_resources() {
        let mut imports = Imports::default();
        push(&mut imports, "aws_iam_user", "admin");
        imports.push(Adoption {
            account: Some("210987654321".into()),
            ..adoption("aws_iam_user", "admin")
        });
        push(&mut imports, "aws_iam_user", "admin");
        let names: Vec<&str> = imports
            .adoptions()
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(names, ["admin", "admin_2"]);
        let text = file(&imports);
        assert!(text.contains("in 2 accounts or projects"), "{text}");
        assert!(
            text.contains("# Created or changed in 210987654321 (us-east-1) by alice (console)")
        );
        assert_eq!(parse_back(&text).len(), 2);
    }

    #[test]
    fn hcl_escapes() {
        assert_eq!(hcl_string("a\"b"), r#""a\"b""#);
        assert_eq!(hcl_string("${x}"), r#""$${x}""#);
        assert_eq!(hcl_string("%{x}"), r#""%%{x}""#);
        assert_eq!(hcl_string("$x%y"), r#""$x%y""#);
        assert_eq!(hcl_string("\u{1}"), r#""\u0001""#);
    }

    #[test]
    fn an_empty_run_writes_a_file_with_no_block() {
        let text = file(&Imports::default());
        assert!(parse_back(&text).is_empty());
        assert!(text.contains("-generate-config-out"));
    }
}
