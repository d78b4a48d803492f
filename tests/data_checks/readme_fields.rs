//! The references generated from the plugin itself must be current: README.md's "Supported Fields" table and
//! docs/FIELDS.md (from the field table, `tfdrift::fields`, which the plugin's field list must match),
//! docs/CONFIGURATION.md (from the init schema Falco reads through the C ABI). Each is the text between two
//! markers; the rest of each file is written by hand. Run with `TFDRIFT_BLESS=1` to rewrite them.

use tfdrift_test_support as common;

use falco_plugin::extract::ExtractPlugin;
use serde::Deserialize;
use serde_json::Value;
use tfdrift::plugin::TfDrift;

#[derive(Deserialize)]
struct Field {
    name: String,
    #[serde(rename = "type")]
    field_type: String,
    #[serde(rename = "isList")]
    is_list: bool,
    arg: Option<Arg>,
    display: Option<String>,
    desc: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Arg {
    #[serde(default)]
    is_required: bool,
    #[serde(default)]
    is_key: bool,
    #[serde(default)]
    is_index: bool,
}

impl Field {
    fn type_text(&self) -> String {
        if self.is_list {
            format!("`{}` (list)", self.field_type)
        } else {
            format!("`{}`", self.field_type)
        }
    }

    fn arg_text(&self) -> &'static str {
        match &self.arg {
            Some(a) if a.is_key && a.is_required => "Key, Required",
            Some(a) if a.is_key => "Key",
            Some(a) if a.is_index && a.is_required => "Index, Required",
            Some(a) if a.is_index => "Index",
            _ => "None",
        }
    }

    /// The name as a rule writes it: `tfdrift.attr[NAME]` for a keyed field.
    fn usage(&self) -> String {
        if self.arg_text().starts_with("Key") {
            format!("{}[NAME]", self.name)
        } else {
            self.name.clone()
        }
    }
}

/// The fields as the plugin gives them to Falco.
fn plugin_fields() -> Vec<Field> {
    let json = <TfDrift as ExtractPlugin>::get_fields()
        .to_str()
        .expect("UTF-8 field table");
    serde_json::from_str(json).expect("the field table is JSON")
}

/// The fields of the table the plugin, the replay command and these references read.
fn fields() -> Vec<Field> {
    tfdrift::fields::ALL
        .iter()
        .map(|f| Field {
            name: f.name.to_owned(),
            field_type: f.type_name().to_owned(),
            is_list: f.is_list(),
            arg: f.is_keyed().then_some(Arg {
                is_required: true,
                is_key: true,
                is_index: false,
            }),
            display: Some(f.display.to_owned()),
            desc: f.description.to_owned(),
        })
        .collect()
}

#[test]
fn the_plugin_gives_falco_the_field_table() {
    let (plugin, table) = (plugin_fields(), fields());
    let names = |fields: &[Field]| fields.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&plugin), names(&table));
    for (p, t) in plugin.iter().zip(&table) {
        assert_eq!(
            (&p.field_type, p.is_list, p.arg_text(), &p.display, &p.desc),
            (&t.field_type, t.is_list, t.arg_text(), &t.display, &t.desc),
            "{}",
            p.name
        );
    }
}

/// README.md's table, in the shape of the falcosecurity plugins' READMEs.
fn table() -> String {
    let mut out = String::from("| Name | Type | Arg | Description |\n|---|---|---|---|\n");
    for f in fields() {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            f.usage(),
            f.type_text(),
            f.arg_text(),
            f.desc.replace('|', "\\|")
        ));
    }
    out
}

/// docs/FIELDS.md: one section per field, with its display name (what Falco's tools show).
fn field_reference() -> String {
    let mut out = String::new();
    for f in fields() {
        out.push_str(&format!(
            "### `{}`\n\n{} · {} · argument: {}\n\n{}\n\n",
            f.usage(),
            f.display.as_deref().unwrap_or(&f.name),
            f.type_text(),
            f.arg_text(),
            f.desc
        ));
    }
    out
}

/// The init schema tfdrift gives Falco, through the C ABI.
fn schema() -> Value {
    let api = common::load_tfdrift();
    let mut schema_type = 0u32;
    // SAFETY: the schema is a static string; schema_type is a valid pointer.
    let text = unsafe {
        common::text_of(api.get_init_schema.expect("get_init_schema")(
            &mut schema_type,
        ))
    }
    .expect("a schema");
    serde_json::from_str(&text).expect("the schema is JSON")
}

/// A schema node with its `$ref` followed (to `#/$defs/...`), keeping the referring node's description.
fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    match node["$ref"].as_str() {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/$defs/")
                .unwrap_or_else(|| panic!("a reference outside $defs: {reference}"));
            &root["$defs"][name]
        }
        None => node,
    }
}

/// The object a node describes, if any: itself, what it refers to, or the object variant of an optional
/// one (`anyOf: [{"$ref": ...}, {"type": "null"}]`).
fn object_of<'a>(root: &'a Value, node: &'a Value) -> Option<&'a Value> {
    let node = resolve(root, node);
    if node["properties"].is_object() {
        return Some(node);
    }
    node["anyOf"]
        .as_array()
        .or(node["oneOf"].as_array())?
        .iter()
        .find_map(|variant| object_of(root, variant))
}

fn type_of(root: &Value, node: &Value) -> String {
    let node = resolve(root, node);
    if let Some(any) = node["anyOf"].as_array().or(node["oneOf"].as_array()) {
        return any
            .iter()
            .filter(|n| n["type"] != "null")
            .map(|n| type_of(root, n))
            .collect::<Vec<_>>()
            .join(" or ");
    }
    let name = |t: &str| match t {
        "array" => format!(
            "list of {}",
            node.get("items")
                .map(|i| type_of(root, i))
                .unwrap_or_else(|| "values".into())
        ),
        "object"
            if node
                .get("additionalProperties")
                .is_some_and(Value::is_object) =>
        {
            format!("map of {}", type_of(root, &node["additionalProperties"]))
        }
        other => other.to_owned(),
    };
    match &node["type"] {
        Value::String(t) => name(t),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .map(name)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "any".into(),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

/// Rows for the properties of an object node, depth first: nested objects and lists of objects are
/// expanded under their key (`states[].s3.bucket`).
fn rows(root: &Value, node: &Value, prefix: &str, out: &mut Vec<String>) {
    let node = resolve(root, node);
    let required: Vec<&str> = node["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = node["properties"].as_object() else {
        return;
    };
    for (key, property) in properties {
        let path = format!("{prefix}{key}");
        let target = resolve(root, property);
        let description = property["description"]
            .as_str()
            .or(target["description"].as_str())
            .unwrap_or_else(|| panic!("the schema does not describe {path}"));
        let default = match property.get("default").or(target.get("default")) {
            _ if required.contains(&key.as_str()) => "(required)".to_owned(),
            Some(Value::Null) | None => "".to_owned(),
            Some(value) => format!("`{value}`"),
        };
        out.push(format!(
            "| `{path}` | {} | {default} | {} |",
            type_of(root, property),
            one_line(description)
        ));
        if let Some(object) = object_of(root, target) {
            rows(root, object, &format!("{path}."), out);
        } else if let Some(object) = target.get("items").and_then(|i| object_of(root, i)) {
            rows(root, object, &format!("{path}[]."), out);
        }
    }
}

fn config_reference() -> String {
    let schema = schema();
    let mut out = vec![
        "| key | type | default | meaning |".to_owned(),
        "|---|---|---|---|".to_owned(),
    ];
    rows(&schema, &schema, "", &mut out);
    out.join("\n") + "\n"
}

/// Checks (or, with `TFDRIFT_BLESS=1`, rewrites) the text between `<!-- {start} -->` and `<!-- {end} -->`
/// in a file of the repository.
fn check_generated(file: &str, (start, end): (&str, &str), generated: &str) {
    let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    let start = format!("<!-- {start} -->");
    let end = format!("<!-- {end} -->");
    let (head, rest) = text
        .split_once(&start)
        .unwrap_or_else(|| panic!("{file} has no {start} marker"));
    let (_, tail) = rest
        .split_once(&end)
        .unwrap_or_else(|| panic!("{file} has no {end} marker"));
    let expected = format!("{head}{start}\n{generated}{end}{tail}");
    if std::env::var_os("TFDRIFT_BLESS").is_some() {
        std::fs::write(&path, &expected).unwrap_or_else(|e| panic!("{file}: {e}"));
        return;
    }
    assert!(
        text == expected,
        "{file} is out of date with the plugin: run `TFDRIFT_BLESS=1 cargo test --test data_checks readme_fields::`"
    );
}

#[test]
fn readme_field_table_is_current() {
    // The marker pair Falco's plugin registry tooling looks for.
    check_generated(
        "README.md",
        ("README-PLUGIN-FIELDS", "/README-PLUGIN-FIELDS"),
        &table(),
    );
}

#[test]
fn field_reference_is_current() {
    check_generated(
        "docs/FIELDS.md",
        ("TFDRIFT-FIELDS", "TFDRIFT-FIELDS-END"),
        &field_reference(),
    );
}

#[test]
fn configuration_reference_is_current() {
    check_generated(
        "docs/CONFIGURATION.md",
        ("TFDRIFT-CONFIG", "TFDRIFT-CONFIG-END"),
        &config_reference(),
    );
}

#[test]
fn the_configuration_reference_documents_every_key() {
    // Every key of the schema, nested ones included, has a row (and so a description: `rows` refuses an
    // undescribed key). A few keys at every level that the reference must show.
    let reference = config_reference();
    for key in [
        "states",
        "states[].name",
        "states[].s3.bucket",
        "states[].s3.workspaces",
        "states[].http.url",
        "states[].hcp.token_env",
        "terraform.principals",
        "maintenance_windows[].time_zone",
        "refresh_interval",
    ] {
        assert!(
            reference.contains(&format!("| `{key}` |")),
            "the configuration reference has no row for {key}"
        );
    }
    assert!(reference.contains("| `states` | list of object | (required) |"));
    assert!(reference.contains("| `refresh_interval` | integer | `30` |"));
}
