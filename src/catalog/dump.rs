//! The catalog as the library parsed it, as JSON: what `tfdrift-replay --dump-catalog` prints.
//!
//! The catalog check and the coverage report (`scripts/check_catalog.py`, `scripts/coverage.py`) compare the
//! catalog with the AWS API models and the provider schema. They read this dump rather than the TOML files,
//! so that paths, defaults, severities and the names the library derives (a request member's attribute, an
//! event name without its version suffix) are the library's own, never a second implementation of its rules.

use super::path::Path;
use super::{
    Call, Catalog, CatalogError, FileDoc, ImpliedValue, ServiceDoc, snake_case,
    strip_version_suffix,
};
use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The embedded catalog, file by file, and how the library resolves each of `names` (see [`dump`]).
pub fn dump_embedded(names: &[&str]) -> Result<Value, CatalogError> {
    dump(super::embedded::EMBEDDED, names)
}

/// `files` as the library reads them: the whole catalog is loaded first (so a dump is only made of a
/// catalog the library accepts), then each file's calls are built as loading builds them, kept per file
/// and in file order (a call another file replaces is still listed, so a checker can see it).
///
/// `names` are resolved as the library resolves them at run time: `attribute`, the Terraform attribute a
/// request member of that name sets automatically; `event_name`, the name without a CloudTrail version
/// suffix, as lookups strip it.
pub fn dump<N: AsRef<str>, T: AsRef<str>>(
    files: &[(N, T)],
    names: &[&str],
) -> Result<Value, CatalogError> {
    let catalog = Catalog::from_files(files)?;
    // `build_call` adds join attributes to the keys it is given; the merged keys are the catalog's below.
    let mut scratch_keys = BTreeMap::new();
    let mut out = Vec::with_capacity(files.len());
    for (file, text) in files {
        let (file, text) = (file.as_ref(), text.as_ref());
        let doc = FileDoc::parse(file, text)?;
        let mut calls = Vec::with_capacity(doc.calls.len());
        if let Some(service) = &doc.service {
            for call in doc.calls {
                // `ignore` only feeds `explicit_params` once built: kept here so each name can be checked.
                let ignore = call.ignore.clone();
                let call = Catalog::build_call(file, service, call, &mut scratch_keys)?;
                calls.push(CallDump {
                    name_without_version: strip_version_suffix(&call.name).to_owned(),
                    call,
                    ignore,
                });
            }
        }
        out.push(FileDump {
            file,
            service: doc.service,
            keys: doc.keys,
            id_prefixes: doc.id_prefixes,
            auto_attrs_ignore: doc.auto_attrs.map(|a| a.ignore).unwrap_or_default(),
            calls,
        });
    }
    let keys: BTreeMap<&str, &[Box<str>]> = catalog
        .keys
        .iter()
        .map(|(t, attrs)| (&**t, &**attrs))
        .collect();
    let resolved: Map<String, Value> = names
        .iter()
        .map(|&name| {
            let value = json!({
                "attribute": snake_case(name),
                "event_name": strip_version_suffix(name),
            });
            (name.to_owned(), value)
        })
        .collect();
    Ok(json!({
        "files": out,
        "keys": keys,
        "default_keys": catalog.default_keys,
        "id_prefixes": catalog.id_prefixes,
        "ignored_params": catalog.ignored_params,
        "names": resolved,
    }))
}

/// One catalog file: its own tables as written, and its calls as built.
#[derive(Serialize)]
struct FileDump<'a> {
    file: &'a str,
    service: Option<ServiceDoc>,
    keys: BTreeMap<String, Vec<String>>,
    id_prefixes: BTreeMap<String, Vec<String>>,
    auto_attrs_ignore: Vec<String>,
    calls: Vec<CallDump>,
}

/// A call as built, with the name lookups use and its `ignore` list as written.
#[derive(Serialize)]
struct CallDump {
    #[serde(flatten)]
    call: Call,
    name_without_version: String,
    ignore: Vec<String>,
}

/// A target's parts as `{"path": [steps], "attr": ...}`.
pub(super) fn parts<S: Serializer>(parts: &[(Path, Box<str>)], s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Part<'a> {
        path: &'a Path,
        attr: &'a str,
    }
    s.collect_seq(parts.iter().map(|(path, attr)| Part { path, attr }))
}

/// An implied value with its attribute's path, as the catalog checker reads it.
impl Serialize for ImpliedValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut value = s.serialize_struct("ImpliedValue", 3)?;
        value.serialize_field("attr", &self.attr)?;
        value.serialize_field("path", &Path::parse(&self.attr).ok())?;
        value.serialize_field("value", &self.value)?;
        value.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dumps_calls_per_file_with_resolved_names() {
        let ec2 = r#"
[service]
name = "ec2"
event_source = "ec2.amazonaws.com"
severity = "medium"
[keys]
aws_security_group = ["id", "name"]
[[call]]
name = "RevokeSecurityGroupIngress"
change = "modify"
ignore = ["dryRun"]
targets = [{ type = "aws_security_group", id = ["requestParameters.groupId"], import_id = "{requestParameters.groupId}_x" }]
[call.attrs]
"requestParameters.ipPermissions.items[]" = { attr = "ingress", as = "security_group_rules", op = "remove" }
"#;
        let common = "[auto_attrs]\nignore = [\"applyImmediately\"]\n[id_prefixes]\n\"sg-\" = [\"aws_security_group\"]\n";
        let files = [("common.toml", common), ("ec2.toml", ec2)];
        let dump = dump(&files, &["dBInstanceClass", "UpdateFunctionCode20150331v2"]).unwrap();
        assert_eq!(dump["files"][0]["service"], Value::Null);
        assert_eq!(
            dump["files"][0]["auto_attrs_ignore"],
            json!(["applyImmediately"])
        );
        let call = &dump["files"][1]["calls"][0];
        assert_eq!(call["severity"], "medium", "the service's");
        assert_eq!(call["auto_attrs"], true);
        assert_eq!(
            call["explicit_params"],
            json!(["groupId", "ipPermissions", "dryRun"])
        );
        assert_eq!(
            call["targets"][0]["ids"],
            json!([["requestParameters", "groupId"]])
        );
        assert_eq!(
            call["targets"][0]["import_id"],
            json!([{ "path": ["requestParameters", "groupId"] }, { "text": "_x" }])
        );
        let attr = &call["attrs"][0];
        assert_eq!(
            attr["from"],
            json!(["requestParameters", "ipPermissions", "items"])
        );
        assert_eq!(
            (&attr["kind"], &attr["op"]),
            (&json!("security_group_rules"), &json!("remove"))
        );
        assert_eq!(dump["keys"]["aws_security_group"], json!(["id", "name"]));
        assert_eq!(
            dump["names"]["dBInstanceClass"]["attribute"],
            "db_instance_class"
        );
        assert_eq!(
            dump["names"]["UpdateFunctionCode20150331v2"]["event_name"],
            "UpdateFunctionCode"
        );
    }

    #[test]
    fn refuses_what_the_library_refuses() {
        let bad = "[service]\nname = \"x\"\nevent_source = \"x\"\nseverity = \"huge\"\n";
        assert!(dump(&[("x.toml", bad)], &[]).is_err());
    }

    #[test]
    fn the_embedded_catalog_dumps() {
        let dump = dump_embedded(&[]).unwrap();
        let calls: usize = dump["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["calls"].as_array().unwrap().len())
            .sum();
        assert_eq!(calls, Catalog::embedded().unwrap().calls().len());
    }
}
