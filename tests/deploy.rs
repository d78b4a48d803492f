//! What users deploy: `falco.yaml.example`, the Helm values in `deploy/helm/` and the Falcosidekick examples
//! in `deploy/falcosidekick/`. Offline checks only: the files parse, name the plugin as it names itself,
//! load the rules, pin the version being built, and their `init_config` is accepted by tfdrift's init through
//! the C ABI (with S3 pointed at a closed loopback port, so nothing leaves the machine). The Falcosidekick
//! examples read only fields the rules put in their outputs.

mod common;

use common::*;
use serde_json::{Map, Value, json};
use std::collections::HashSet;
use yaml_rust2::{Yaml, YamlLoader};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(file: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{file}")).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn yaml(file: &str) -> Yaml {
    let mut docs = YamlLoader::load_from_str(&read(file))
        .unwrap_or_else(|e| panic!("{file} is not YAML: {e}"));
    assert_eq!(docs.len(), 1, "{file}: one document");
    docs.remove(0)
}

/// A YAML value as JSON (what Falco hands a plugin as its `init_config` when it is YAML).
fn to_json(y: &Yaml) -> Value {
    match y {
        Yaml::String(s) => json!(s),
        Yaml::Integer(i) => json!(i),
        Yaml::Real(r) => json!(r.parse::<f64>().expect("a number")),
        Yaml::Boolean(b) => json!(b),
        Yaml::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Yaml::Hash(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.as_str().expect("string keys").to_owned(), to_json(v)))
                .collect::<Map<_, _>>(),
        ),
        Yaml::Null => Value::Null,
        other => panic!("unexpected YAML value {other:?}"),
    }
}

/// The plugin's own name, read through the C ABI.
fn plugin_name() -> String {
    let api = load_tfdrift();
    // SAFETY: get_name returns a static string.
    unsafe { text_of(api.get_name.unwrap()()) }.expect("a name")
}

/// The Falco configuration of a file: the file itself, or its `falco:` section (Helm values).
struct FalcoConfig {
    file: &'static str,
    falco: Yaml,
}

fn falco_configs() -> Vec<FalcoConfig> {
    vec![
        FalcoConfig {
            file: "falco.yaml.example",
            falco: yaml("falco.yaml.example"),
        },
        FalcoConfig {
            file: "deploy/helm/values.yaml",
            falco: yaml("deploy/helm/values.yaml")["falco"].clone(),
        },
    ]
}

impl FalcoConfig {
    fn plugin(&self, name: &str) -> &Yaml {
        self.falco["plugins"]
            .as_vec()
            .unwrap_or_else(|| panic!("{}: no plugins", self.file))
            .iter()
            .find(|p| p["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("{}: no plugin {name}", self.file))
    }
}

#[test]
fn every_deploy_file_parses() {
    let mut files = vec!["falco.yaml.example".to_owned()];
    for dir in ["deploy/helm", "deploy/falcosidekick"] {
        for entry in std::fs::read_dir(format!("{ROOT}/{dir}")).expect(dir) {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            files.push(format!("{dir}/{name}"));
        }
    }
    assert!(files.len() >= 5, "{files:?}");
    for file in files {
        if file.ends_with(".json") {
            serde_json::from_str::<Value>(&read(&file))
                .unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
        } else {
            assert!(yaml(&file).as_hash().is_some(), "{file}: a mapping");
        }
    }
}

#[test]
fn falco_configurations_load_both_plugins_and_the_rules() {
    let name = plugin_name();
    for config in falco_configs() {
        let file = config.file;
        let tfdrift = config.plugin(&name);
        assert!(
            tfdrift["library_path"]
                .as_str()
                .is_some_and(|p| p.ends_with("libtfdrift.so")),
            "{file}: library_path"
        );
        let cloudtrail = config.plugin("cloudtrail");
        assert!(
            cloudtrail["open_params"]
                .as_str()
                .is_some_and(|p| p.starts_with("sqs://")),
            "{file}: the cloudtrail plugin follows an SQS queue"
        );
        let loaded: Vec<&str> = config.falco["load_plugins"]
            .as_vec()
            .unwrap_or_else(|| panic!("{file}: load_plugins"))
            .iter()
            .filter_map(Yaml::as_str)
            .collect();
        assert_eq!(
            loaded,
            ["cloudtrail", name.as_str()],
            "{file}: load_plugins"
        );
        let rules: Vec<&str> = config.falco["rules_files"]
            .as_vec()
            .unwrap_or_else(|| panic!("{file}: rules_files"))
            .iter()
            .filter_map(Yaml::as_str)
            .collect();
        assert!(
            rules.iter().any(|r| r.ends_with("/tfdrift_rules.yaml")),
            "{file}: the rules are not loaded: {rules:?}"
        );
        assert_eq!(
            config.falco["json_output"].as_bool(),
            Some(true),
            "{file}: Falcosidekick reads JSON alerts"
        );
    }
}

#[test]
fn helm_values_run_cloud_only_with_falcosidekick_and_this_version() {
    let values = yaml("deploy/helm/values.yaml");
    assert_eq!(values["driver"]["enabled"].as_bool(), Some(false));
    assert_eq!(values["collectors"]["enabled"].as_bool(), Some(false));
    assert_eq!(values["controller"]["kind"].as_str(), Some("deployment"));
    assert_eq!(values["falcosidekick"]["enabled"].as_bool(), Some(true));
    let artifact = &values["falcoctl"]["config"]["artifact"];
    let allowed: Vec<&str> = artifact["allowedTypes"]
        .as_vec()
        .expect("allowedTypes")
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert!(allowed.contains(&"plugin") && allowed.contains(&"rulesfile"));
    let refs: Vec<&str> = artifact["install"]["refs"]
        .as_vec()
        .expect("falcoctl install refs")
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    // The artifacts scripts/package.sh makes for this version: a plugin and a rules file.
    let version = env!("CARGO_PKG_VERSION");
    for artifact in ["tfdrift", "tfdrift-rules"] {
        assert!(
            refs.iter()
                .any(|r| r.ends_with(&format!("/{artifact}:{version}"))),
            "no falcoctl ref to {artifact}:{version} in {refs:?}"
        );
    }
    assert!(refs.iter().any(|r| r.starts_with("cloudtrail:")));
    // The rules file falcoctl installs lands in /etc/falco under the name the rules tarball gives it.
    let rules: Vec<&str> = values["falco"]["rules_files"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert!(
        rules.contains(&"/etc/falco/tfdrift_rules.yaml"),
        "{rules:?}"
    );
}

/// An `init_config` made safe to start offline: S3 states pointed at a closed loopback port, and allowed to
/// start with no state loaded (the local paths of the examples do not exist here either).
fn offline(mut init: Value, port: u16) -> Value {
    init["require_state_on_start"] = json!(false);
    for state in init["states"].as_array_mut().expect("states") {
        if let Some(s3) = state.get_mut("s3") {
            s3["endpoint"] = json!(format!("http://127.0.0.1:{port}"));
        }
    }
    init
}

#[test]
fn the_example_init_configs_are_accepted_by_the_plugin() {
    test_environment();
    // A port nobody listens on: S3 requests fail at once, on this machine.
    let port = free_port();
    for config in falco_configs() {
        let init = to_json(&config.plugin(&plugin_name())["init_config"]);
        assert!(init.is_object(), "{}: init_config", config.file);
        let init = offline(init, port);
        if let Err(e) = start(&[], 1, 0, &init.to_string()) {
            panic!("{}: tfdrift refused its init_config: {e:#}", config.file);
        }
        // And init does check: the same configuration with a misspelt key is refused, naming it.
        let mut wrong = init.clone();
        wrong["refresh_intervall"] = json!(30);
        let error = init_error(&wrong.to_string());
        assert!(
            error.contains("refresh_intervall"),
            "{}: {error}",
            config.file
        );
    }
}

#[test]
fn the_helm_values_use_an_s3_state() {
    let values = yaml("deploy/helm/values.yaml");
    let config = FalcoConfig {
        file: "deploy/helm/values.yaml",
        falco: values["falco"].clone(),
    };
    let init = to_json(&config.plugin("tfdrift")["init_config"]);
    assert!(
        init["states"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["s3"]["bucket"].is_string()),
        "{init}"
    );
}

// ------------------------------------------------------------------------------------- Falcosidekick

/// Each rule's priority and the `%fields` of its output.
fn rule_outputs() -> Vec<(String, String, HashSet<String>)> {
    let rules = YamlLoader::load_from_str(&read("rules/tfdrift_rules.yaml")).unwrap();
    rules[0]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(|item| {
            let name = item["rule"].as_str()?;
            let output = item["output"].as_str().unwrap();
            let fields = output
                .split('%')
                .skip(1)
                .map(|w| {
                    w.chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
                        .collect::<String>()
                        .trim_end_matches('.')
                        .to_owned()
                })
                .collect();
            Some((
                name.to_owned(),
                item["priority"].as_str().unwrap().to_uppercase(),
                fields,
            ))
        })
        .collect()
}

/// Falco's priorities, most severe first; Falcosidekick's names are the same in lowercase (`informational`
/// is `info` there too).
fn rank(priority: &str) -> usize {
    let p = priority.to_uppercase();
    let p = if p == "INFO" {
        "INFORMATIONAL".into()
    } else {
        p
    };
    [
        "EMERGENCY",
        "ALERT",
        "CRITICAL",
        "ERROR",
        "WARNING",
        "NOTICE",
        "INFORMATIONAL",
        "DEBUG",
    ]
    .iter()
    .position(|x| *x == p)
    .unwrap_or_else(|| panic!("priority {priority}"))
}

#[test]
fn the_slack_message_reads_fields_every_rule_it_receives_outputs() {
    let slack = yaml("deploy/falcosidekick/slack.yaml");
    let template = slack["slack"]["messageformat"]
        .as_str()
        .expect("messageformat");
    let minimum = rank(slack["slack"]["minimumpriority"].as_str().unwrap());
    let used: Vec<&str> = template
        .split("index .OutputFields \"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .collect();
    assert!(used.iter().any(|f| f.starts_with("tfdrift.")), "{used:?}");
    let outputs = rule_outputs();
    assert!(outputs.iter().any(|(_, p, _)| rank(p) > minimum));
    for (rule, priority, fields) in &outputs {
        if rank(priority) <= minimum {
            for field in &used {
                assert!(
                    fields.contains(*field),
                    "Slack's message reads {field}, which rule {rule:?} ({priority}) does not output"
                );
            }
        }
    }
}

#[test]
fn loki_labels_are_fields_the_rules_output() {
    let outputs = rule_outputs();
    for (file, labels) in [
        (
            "deploy/falcosidekick/loki.yaml",
            yaml("deploy/falcosidekick/loki.yaml")["loki"]["extralabels"].clone(),
        ),
        (
            "deploy/helm/values.yaml",
            yaml("deploy/helm/values.yaml")["falcosidekick"]["config"]["loki"]["extralabels"]
                .clone(),
        ),
    ] {
        let labels = labels
            .as_str()
            .unwrap_or_else(|| panic!("{file}: extralabels"));
        for label in labels.split(',') {
            assert!(
                label.starts_with("tfdrift.") && outputs.iter().any(|(_, _, f)| f.contains(label)),
                "{file}: label {label} is no field of a rule's output"
            );
        }
    }
}

#[test]
fn the_sample_alert_matches_its_rule() {
    let alert: Value =
        serde_json::from_str(&read("deploy/falcosidekick/sample-alert.json")).unwrap();
    let rule = alert["rule"].as_str().unwrap();
    let (_, priority, fields) = rule_outputs()
        .into_iter()
        .find(|(name, _, _)| name == rule)
        .unwrap_or_else(|| panic!("no rule {rule}"));
    assert_eq!(alert["priority"].as_str().unwrap().to_uppercase(), priority);
    let sent: HashSet<String> = alert["output_fields"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        sent, fields,
        "the sample's output_fields and the rule's output"
    );
}
