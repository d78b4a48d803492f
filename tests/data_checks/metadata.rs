//! What Falco and falcoctl read about the plugin before any event, through the C ABI: name, version (Cargo's),
//! description, contact, the plugin API version it requires, and the init schema. The documents that state
//! them (README, the guide, the rules' `required_plugin_versions`, the packaging script) must agree.

use tfdrift_test_support as common;

use common::*;
use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(file: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{file}")).unwrap_or_else(|e| panic!("{file}: {e}"))
}

struct Metadata {
    name: String,
    version: String,
    required_api: String,
    description: String,
    contact: String,
}

fn metadata() -> Metadata {
    let api = load_tfdrift();
    // SAFETY: the plugin's getters return static strings.
    unsafe {
        Metadata {
            name: text_of(api.get_name.unwrap()()).unwrap(),
            version: text_of(api.get_version.unwrap()()).unwrap(),
            required_api: text_of(api.get_required_api_version.unwrap()()).unwrap(),
            description: text_of(api.get_description.unwrap()()).unwrap(),
            contact: text_of(api.get_contact.unwrap()()).unwrap(),
        }
    }
}

fn semver(version: &str) -> [u64; 3] {
    let parts: Vec<u64> = version
        .split('.')
        .map(|p| {
            p.parse()
                .unwrap_or_else(|_| panic!("{version} is not x.y.z"))
        })
        .collect();
    parts
        .try_into()
        .unwrap_or_else(|_| panic!("{version} is not x.y.z"))
}

#[test]
fn version_is_cargos_and_semantic() {
    let m = metadata();
    assert_eq!(m.version, env!("CARGO_PKG_VERSION"));
    semver(&m.version);
    assert_eq!(m.name, "tfdrift");
}

#[test]
fn required_plugin_api_is_the_one_documented() {
    let m = metadata();
    let [major, minor, _] = semver(&m.required_api);
    // Falco 0.41 loads plugin API 3.11: the SDK's default, the lowest that gives every capability used here.
    assert_eq!((major, minor), (3, 11), "required API {}", m.required_api);
    let stated = format!("plugin API {major}.{minor}");
    for doc in ["README.md", "docs/GUIDE.md"] {
        assert!(
            read(doc).contains(&stated),
            "{doc} does not state the required {stated}"
        );
    }
    // falcoctl checks it before installing the plugin artifact.
    assert!(
        read("scripts/package.sh").contains("plugin_api_version"),
        "package.sh does not declare the plugin API requirement"
    );
}

#[test]
fn description_and_contact_say_what_and_where() {
    let m = metadata();
    assert!(m.description.contains("Terraform") && m.description.contains("CloudTrail"));
    // Falco prints the description in `falco --list-plugins`: one sentence, no line breaks.
    assert!(!m.description.contains('\n') && m.description.len() < 250);
    assert!(
        m.contact.starts_with("https://"),
        "contact {:?} is no URL",
        m.contact
    );
}

#[test]
fn the_rules_require_a_version_this_plugin_satisfies() {
    // Falco refuses the rules when the loaded plugin is older than required_plugin_versions says; a rules
    // pack that requires a newer tfdrift than this one would never load.
    let rules = read("rules/tfdrift_rules.yaml");
    let required = rules
        .split("- name: tfdrift")
        .nth(1)
        .and_then(|rest| rest.split("version:").nth(1))
        .and_then(|rest| rest.lines().next())
        .map(|v| v.trim().to_owned())
        .expect("the rules require a tfdrift version");
    assert!(semver(&required) <= semver(env!("CARGO_PKG_VERSION")));
}

/// Every property of a schema node (following `$ref`s into `$defs`) with its path.
fn properties<'a>(
    root: &'a Value,
    node: &'a Value,
    path: &str,
    out: &mut Vec<(String, &'a Value)>,
) {
    let node = match node["$ref"].as_str() {
        Some(r) => &root["$defs"][r.trim_start_matches("#/$defs/")],
        None => node,
    };
    for variant in node["anyOf"].as_array().into_iter().flatten() {
        properties(root, variant, path, out);
    }
    if let Some(items) = node.get("items") {
        properties(root, items, &format!("{path}[]"), out);
    }
    for (key, property) in node["properties"].as_object().into_iter().flatten() {
        let path = format!("{path}.{key}");
        out.push((path.clone(), property));
        properties(root, property, &path, out);
    }
}

#[test]
fn every_key_of_the_init_schema_is_described() {
    let api = load_tfdrift();
    let mut schema_type = 0u32;
    // SAFETY: the schema is a static string; schema_type is a valid pointer.
    let schema = unsafe { text_of(api.get_init_schema.unwrap()(&mut schema_type)) }.unwrap();
    let schema: Value = serde_json::from_str(&schema).unwrap();
    let mut all = Vec::new();
    properties(&schema, &schema, "", &mut all);
    assert!(all.len() > 30, "only {} keys found", all.len());
    for (path, property) in &all {
        let described = property["description"].as_str().or_else(|| {
            property["$ref"].as_str().and_then(|r| {
                schema["$defs"][r.trim_start_matches("#/$defs/")]["description"].as_str()
            })
        });
        assert!(
            described.is_some_and(|d| d.trim().len() > 10),
            "{path} has no description in the schema Falco shows"
        );
    }
    // Unknown keys are refused, so a typo does not silently fall back to a default.
    assert_eq!(schema["additionalProperties"], Value::Bool(false));
}

// ------------------------------------------------------------------------ the repository stands alone

/// Every file of the repository that runs or builds something: sources, scripts, manifests, CI.
fn code_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            // Build output, git's own files, fuzzer output and the data itself are not code.
            if !matches!(
                name.as_str(),
                "target" | ".git" | "corpus" | "artifacts" | "data"
            ) {
                code_files(&path, out);
            }
        } else if name == "run"
            || [".rs", ".py", ".sh", ".toml", ".yaml", ".yml"]
                .iter()
                .any(|ext| name.ends_with(ext))
        {
            out.push(path);
        }
    }
}

#[test]
fn nothing_reads_data_from_outside_the_repository() {
    // A fresh clone has nothing beside it: a test, bench, fuzz seed or script that reads a folder next to the
    // checkout passes only where that folder happens to exist. The spellings a path beside the checkout takes
    // in Rust, Python and shell; built here so that this file does not match itself.
    let beside = ["shared"];
    let needles: Vec<String> = beside
        .iter()
        .flat_map(|dir| {
            [
                format!("../{dir}"),
                format!("{dir}/data"),
                format!("\"..\", \"{dir}\""),
                format!("parent / \"{dir}\""),
            ]
        })
        .collect();
    let mut files = Vec::new();
    code_files(std::path::Path::new(ROOT), &mut files);
    assert!(files.len() > 50, "only {} files found", files.len());
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for needle in &needles {
            assert!(
                !text.contains(needle.as_str()),
                "{} reads `{needle}`, outside the repository: copy the data into tests/data",
                file.display()
            );
        }
    }
}

#[test]
fn the_test_data_names_its_origin_and_licences() {
    // tests/data/README.md gives each folder's origin and licence; every licence it names is there, and every
    // top-level entry of tests/data is described.
    let readme = read("tests/data/README.md");
    let data = std::path::Path::new(ROOT).join("tests/data");
    let mut named = 0;
    for licence in readme.split("`licenses/").skip(1) {
        let file = licence.split('`').next().unwrap();
        assert!(
            data.join("licenses").join(file).is_file(),
            "tests/data/README.md names licenses/{file}, which is missing"
        );
        named += 1;
    }
    assert!(named >= 5, "only {named} licences named");
    for entry in std::fs::read_dir(&data).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name == "README.md" || name == "licenses" {
            continue;
        }
        assert!(
            readme.contains(&format!("`{name}")),
            "tests/data/{name} is not described in tests/data/README.md"
        );
    }
}

// ------------------------------------------------------------------------ the layers

/// A module's layer: a module may import only from layers below its own. Low to high: the JSON scanner; the
/// state index; the catalog; the provider-neutral call; the record view that makes one; the verdict; the
/// sources that feed the index; the field table and the configuration; the Falco adapter and the commands.
fn layer(module: &str) -> Option<u8> {
    Some(match module {
        "scan" => 0,
        "state" => 1,
        "catalog" => 2,
        "call" => 3,
        "cloudtrail" | "gcpaudit" => 4,
        "drift" => 5,
        "sources" => 6,
        "fields" | "config" => 7,
        "plugin" | "bin" => 8,
        _ => return None,
    })
}

/// Imports the layers allow by rank but the architecture does not: the sources feed the index and never ask
/// for a verdict; a command never depends on the Falco adapter.
const FORBIDDEN: &[(&str, &str)] = &[("sources", "drift"), ("bin", "plugin")];

/// The top-level modules a file names through `crate::` (or `tfdrift::`, from a command), with where, including
/// each of a grouped import (`use crate::{a::X, b::{Y, Z}}`, over several lines too). Comments are skipped.
fn named_modules(text: &str, in_binary: bool) -> Vec<(usize, String)> {
    let code: String = text
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("//") {
                ""
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let word = |text: &str| -> String {
        text.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    // In a binary, `crate::` is the binary itself (its own modules), and the library is `tfdrift::`.
    let prefixes: &[&str] = if in_binary {
        &["tfdrift::"]
    } else {
        &["crate::", "tfdrift::"]
    };
    for prefix in prefixes {
        for (at, _) in code.match_indices(prefix) {
            // `tfdrift::` inside a longer name (`libtfdrift::`) is not the crate.
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let line = code[..at].matches('\n').count() + 1;
            let rest = &code[at + prefix.len()..];
            let Some(group) = rest.strip_prefix('{') else {
                out.push((line, word(rest)));
                continue;
            };
            // The group's top-level items: the first word after `{` and after each comma at depth 0.
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        out.push((line, word(&group[start..i])));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push((line, word(&group[start..i])));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        }
    }
    out.retain(|(_, name)| !name.is_empty());
    out
}

fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_imports_from_a_layer_above_its_own() {
    let src = std::path::Path::new(ROOT).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    let mut checked = 0;
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap().as_os_str();
        let module = first.to_string_lossy().trim_end_matches(".rs").to_owned();
        if module == "lib" {
            continue;
        }
        let rank = layer(&module)
            .unwrap_or_else(|| panic!("src/{module} has no layer: add it to `layer`"));
        let text = std::fs::read_to_string(file).unwrap();
        for (line, target) in named_modules(&text, module == "bin") {
            if target == module {
                continue;
            }
            checked += 1;
            let target_rank = layer(&target).unwrap_or_else(|| {
                panic!("{}:{line}: `{target}` has no layer", relative.display())
            });
            let pair = (module.as_str(), target.as_str());
            if target_rank >= rank || FORBIDDEN.contains(&pair) {
                wrong.push(format!(
                    "src/{}:{line}: {module} imports {target}",
                    relative.display()
                ));
            }
        }
    }
    assert!(checked > 30, "only {checked} imports found");
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}
