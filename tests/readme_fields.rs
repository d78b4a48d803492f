//! README.md's "Supported Fields" table is generated from the plugin's own field table and must be current.
//! Run with `TFDRIFT_BLESS=1` to rewrite it.

use falco_plugin::extract::ExtractPlugin;
use serde::Deserialize;
use tfdrift::plugin::TfDrift;

const START: &str = "<!-- README-PLUGIN-FIELDS -->";
const END: &str = "<!-- README-PLUGIN-FIELDS-END -->";

#[derive(Deserialize)]
struct Field {
    name: String,
    #[serde(rename = "type")]
    field_type: String,
    #[serde(rename = "isList")]
    is_list: bool,
    arg: Option<Arg>,
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

fn table() -> String {
    let json = <TfDrift as ExtractPlugin>::get_fields()
        .to_str()
        .expect("UTF-8 field table");
    let fields: Vec<Field> = serde_json::from_str(json).expect("the field table is JSON");
    let mut out = String::from("| Name | Type | Arg | Description |\n|---|---|---|---|\n");
    for f in fields {
        let ty = if f.is_list {
            format!("`{}` (list)", f.field_type)
        } else {
            format!("`{}`", f.field_type)
        };
        let arg = match f.arg {
            Some(a) if a.is_key => {
                if a.is_required {
                    "Key, Required"
                } else {
                    "Key"
                }
            }
            Some(a) if a.is_index => {
                if a.is_required {
                    "Index, Required"
                } else {
                    "Index"
                }
            }
            _ => "None",
        };
        let name = if arg.starts_with("Key") {
            format!("`{}[NAME]`", f.name)
        } else {
            format!("`{}`", f.name)
        };
        out.push_str(&format!(
            "| {name} | {ty} | {arg} | {} |\n",
            f.desc.replace('|', "\\|")
        ));
    }
    out
}

#[test]
fn readme_field_table_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let (head, rest) = readme
        .split_once(START)
        .expect("README has the fields start marker");
    let (_, tail) = rest
        .split_once(END)
        .expect("README has the fields end marker");
    let expected = format!("{head}{START}\n{}{END}{tail}", table());
    if std::env::var_os("TFDRIFT_BLESS").is_some() {
        std::fs::write(path, &expected).expect("README.md is writable");
        return;
    }
    assert!(
        readme == expected,
        "README.md's field table is out of date: run `TFDRIFT_BLESS=1 cargo test --test readme_fields`"
    );
}
