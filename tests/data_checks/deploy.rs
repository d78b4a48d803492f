//! What users deploy: `falco.yaml.example`, the Helm values in `deploy/helm/` and the Falcosidekick examples
//! in `deploy/falcosidekick/`. Offline checks only: the files parse, name the plugin as it names itself,
//! load the rules, pin the version being built, and their `init_config` is accepted by tfdrift's init through
//! the C ABI (with S3 pointed at a closed loopback port, so nothing leaves the machine). The Falcosidekick
//! examples read only fields the rules put in their outputs. And the points of issue 17: the Helm values use
//! keys the charts have, deliver alerts whatever the release name, and are hardened; the IAM policy has what
//! the cloudtrail plugin calls; the SQS settings fit the documented topology; the PrometheusRule reads
//! metrics tfdrift reports; `scripts/package.sh` pushes one `--depends-on` per dependency and floating tags.

use tfdrift_test_support as common;

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
    // Every folder of deploy/: the Helm values, Falcosidekick, the IAM policy, the PrometheusRule.
    let mut dirs: Vec<String> = std::fs::read_dir(format!("{ROOT}/deploy"))
        .expect("deploy/")
        .map(|e| format!("deploy/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    dirs.sort();
    for dir in [
        "deploy/aws",
        "deploy/falcosidekick",
        "deploy/helm",
        "deploy/prometheus",
    ] {
        assert!(dirs.iter().any(|d| d == dir), "no {dir} in {dirs:?}");
    }
    for dir in &dirs {
        for entry in std::fs::read_dir(format!("{ROOT}/{dir}")).expect(dir) {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            files.push(format!("{dir}/{name}"));
        }
    }
    assert!(files.len() >= 8, "{files:?}");
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

#[test]
fn the_gcp_helm_values_run_gcpaudit_and_tfdrift_with_workload_identity() {
    // deploy/helm/values-gcp.yaml: the chart's keys, the gcpaudit plugin on a subscription (its ID alone, in
    // init_config.project_id), tfdrift with a gcs state, the GCP rules artifact of this version, and the
    // Kubernetes service account bound to a Google one. tfdrift's init is not run on it here: the gcs
    // source is not in this branch.
    let values = yaml("deploy/helm/values-gcp.yaml");
    let mut paths = Vec::new();
    leaf_paths(&values, "", &mut paths);
    let unknown: Vec<&String> = paths
        .iter()
        .filter(|p| !chart_has(FALCO_CHART_9_1_0_KEYS, p))
        .collect();
    assert!(
        unknown.is_empty(),
        "keys the chart does not have: {unknown:?}"
    );
    assert_eq!(values["driver"]["enabled"].as_bool(), Some(false));
    assert_eq!(values["falco"]["plugins_hostinfo"].as_bool(), Some(false));
    let account = values["serviceAccount"]["annotations"]["iam.gke.io/gcp-service-account"]
        .as_str()
        .expect("the Workload Identity annotation");
    assert!(account.ends_with(".iam.gserviceaccount.com"), "{account}");
    let config = FalcoConfig {
        file: "deploy/helm/values-gcp.yaml",
        falco: values["falco"].clone(),
    };
    let gcpaudit = config.plugin("gcpaudit");
    assert_eq!(gcpaudit["library_path"].as_str(), Some("libgcpaudit.so"));
    let subscription = gcpaudit["open_params"].as_str().unwrap_or("");
    assert!(
        !subscription.is_empty() && !subscription.contains('/'),
        "open_params is the subscription ID alone: {subscription:?}"
    );
    assert!(gcpaudit["init_config"]["project_id"].as_str().is_some());
    let tfdrift = to_json(&config.plugin(&plugin_name())["init_config"]);
    assert!(
        tfdrift["states"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["gcs"]["bucket"].is_string()),
        "{tfdrift}"
    );
    let loaded: Vec<&str> = config.falco["load_plugins"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert_eq!(loaded, ["gcpaudit", plugin_name().as_str()]);
    let rules: Vec<&str> = config.falco["rules_files"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert!(
        rules.contains(&"/etc/falco/tfdrift_gcp_rules.yaml"),
        "{rules:?}"
    );
    assert!(
        !rules.contains(&"/etc/falco/tfdrift_rules.yaml"),
        "{rules:?}"
    );
    let refs: Vec<&str> = values["falcoctl"]["config"]["artifact"]["install"]["refs"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    let version = env!("CARGO_PKG_VERSION");
    for artifact in ["tfdrift", "tfdrift-gcp-rules"] {
        assert!(
            refs.iter()
                .any(|r| r.ends_with(&format!("/{artifact}:{version}"))),
            "no falcoctl ref to {artifact}:{version} in {refs:?}"
        );
    }
    // The gcpaudit release the GCP rules require, or a floating tag that includes it.
    assert!(refs.contains(&"gcpaudit:0.8"), "{refs:?}");
    assert!(read("rules/tfdrift_gcp_rules.yaml").contains("- name: gcpaudit\n    version: 0.8.1"));
}

#[test]
fn the_guide_sets_up_google_cloud_as_the_gcp_values_expect() {
    let guide = read("docs/GUIDE.md");
    let section = guide
        .split("\n## Google Cloud\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("a Google Cloud section");
    // The sink keeps Admin Activity entries of the gcpaudit walkthrough's services and of the four it leaves
    // out, and the state bucket's Data Access writes, which are off by default.
    let filter = section
        .split("```\n(logName=")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the sink filter");
    for service in [
        "cloudsql",
        "logging",
        "iam",
        "compute",
        "pubsub",
        "cloudkms",
        "cloudfunctions",
        "storage",
        "cloudresourcemanager",
        "bigquery",
        "container",
        "run",
        "dns",
        "secretmanager",
    ] {
        assert!(
            filter.contains(&format!(
                "protoPayload.serviceName=\"{service}.googleapis.com\""
            )),
            "the filter leaves out {service}"
        );
    }
    assert!(filter.contains("cloudaudit.googleapis.com%2Factivity"));
    assert!(filter.contains("cloudaudit.googleapis.com%2Fdata_access"));
    // Google's service agents reach tfdrift, which classifies them: the filter does not drop them.
    assert!(!filter.contains("service-"), "{filter}");
    assert!(section.contains("DATA_WRITE"));
    for role in [
        "roles/pubsub.subscriber",
        "roles/storage.objectViewer",
        "roles/pubsub.publisher",
    ] {
        assert!(section.contains(role), "the guide does not grant {role}");
    }
    // The Kubernetes service account the guide binds is the one the chart creates for the release the
    // guide installs, in the namespace it uses.
    let values = yaml("deploy/helm/values-gcp.yaml");
    let release = section
        .split("helm install ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a helm install");
    let account = helm_fullname(release, "falco", None);
    assert!(
        section.contains(&format!(".svc.id.goog[falco/{account}]")),
        "the guide binds another Kubernetes account than {account}"
    );
    assert!(
        read("deploy/helm/values-gcp.yaml").contains(&format!("[falco/{account}]")),
        "values-gcp.yaml names another Kubernetes account than {account}"
    );
    let gsa = values["serviceAccount"]["annotations"]["iam.gke.io/gcp-service-account"]
        .as_str()
        .unwrap();
    assert!(section.contains(&format!("GSA={gsa}")), "{gsa}");
    // The subscription and project the values name are the ones the guide creates.
    let falco = FalcoConfig {
        file: "deploy/helm/values-gcp.yaml",
        falco: values["falco"].clone(),
    };
    let gcpaudit = falco.plugin("gcpaudit");
    let subscription = gcpaudit["open_params"].as_str().unwrap();
    assert!(section.contains(&format!("subscriptions create {subscription} ")));
    let project = gcpaudit["init_config"]["project_id"].as_str().unwrap();
    assert!(section.contains(&format!("PROJECT={project}")));
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

// ------------------------------------------------------------------------------------- issue 17

/// The values of the falcosecurity/falco chart 9.1.0 that `deploy/helm/values.yaml` sets, as its values.yaml
/// and templates/_helpers.tpl name them (falcosecurity/charts, charts/falco). `.*` marks a free-form map the
/// chart copies as it is. The `falco.*` keys are falco.yaml's, which the chart writes out; the
/// `falcosidekick.*` keys below `falcosidekick.enabled` are the falcosidekick subchart's (0.12.x, the
/// dependency of chart 9.x).
const FALCO_CHART_9_1_0_KEYS: &[&str] = &[
    "driver.enabled",
    "collectors.enabled",
    "controller.kind",
    "controller.deployment.replicas",
    "resources.requests.cpu",
    "resources.requests.memory",
    "resources.limits.cpu",
    "resources.limits.memory",
    "nodeSelector.*",
    "serviceAccount.create",
    "serviceAccount.annotations.*",
    "extra.env",
    "extra.args",
    "extra.initContainers",
    "falcoctl.artifact.install.enabled",
    "falcoctl.artifact.install.env",
    "falcoctl.artifact.install.envFrom",
    "falcoctl.artifact.install.args",
    "falcoctl.artifact.follow.enabled",
    "falcoctl.config.indexes",
    "falcoctl.config.artifact.allowedTypes",
    "falcoctl.config.artifact.install.resolveDeps",
    "falcoctl.config.artifact.install.refs",
    "metrics.enabled",
    "metrics.interval",
    "metrics.outputRule",
    "metrics.pluginsMetricsEnabled",
    "metrics.resourceUtilizationEnabled",
    "serviceMonitor.create",
    "falco.plugins",
    "falco.load_plugins",
    "falco.rules_files",
    "falco.plugins_hostinfo",
    "falco.json_output",
    "falco.json_include_output_property",
    "falco.json_include_tags_property",
    "falco.http_output.enabled",
    "falco.http_output.url",
    "falcosidekick.enabled",
    "falcosidekick.fullfqdn",
    "falcosidekick.listenPort",
    // The falcosidekick subchart.
    "falcosidekick.fullnameOverride",
    "falcosidekick.config.extraEnv",
    "falcosidekick.config.customfields",
    "falcosidekick.config.bracketreplacer",
    "falcosidekick.config.slack.webhookurl",
    "falcosidekick.config.slack.channel",
    "falcosidekick.config.slack.username",
    "falcosidekick.config.slack.outputformat",
    "falcosidekick.config.slack.minimumpriority",
    "falcosidekick.config.slack.messageformat",
    "falcosidekick.config.loki.hostport",
    "falcosidekick.config.loki.endpoint",
    "falcosidekick.config.loki.tenant",
    "falcosidekick.config.loki.extralabels",
    "falcosidekick.config.loki.minimumpriority",
    "falcosidekick.config.prometheus.extralabels",
    // Falcosidekick's own key (its docs/outputs/loki.md), which the falcosidekick chart versions read for
    // this test do not turn into LOKI_FORMAT: the values set that variable in extraEnv as well.
    "falcosidekick.config.loki.format",
];

/// The paths of a YAML document's leaves (scalars and lists), through its maps.
fn leaf_paths(y: &Yaml, prefix: &str, out: &mut Vec<String>) {
    match y {
        Yaml::Hash(map) => {
            for (k, v) in map {
                let key = k.as_str().expect("string keys");
                let path = if prefix.is_empty() {
                    key.to_owned()
                } else {
                    format!("{prefix}.{key}")
                };
                leaf_paths(v, &path, out);
            }
        }
        _ => out.push(prefix.to_owned()),
    }
}

fn chart_has(keys: &[&str], path: &str) -> bool {
    keys.iter().any(|k| match k.strip_suffix(".*") {
        Some(open) => path.starts_with(&format!("{open}.")),
        None => *k == path,
    })
}

#[test]
fn helm_values_use_keys_of_the_falco_chart_9_1_0() {
    let mut paths = Vec::new();
    leaf_paths(&yaml("deploy/helm/values.yaml"), "", &mut paths);
    assert!(paths.len() > 40, "{paths:?}");
    let unknown: Vec<&String> = paths
        .iter()
        .filter(|p| !chart_has(FALCO_CHART_9_1_0_KEYS, p))
        .collect();
    assert!(
        unknown.is_empty(),
        "keys the chart does not have: {unknown:?}"
    );
    // The check does catch a misspelt key, and a key put at the wrong level.
    assert!(!chart_has(FALCO_CHART_9_1_0_KEYS, "falco.pluginsHostinfo"));
    assert!(!chart_has(FALCO_CHART_9_1_0_KEYS, "plugins_hostinfo"));
    assert!(!chart_has(FALCO_CHART_9_1_0_KEYS, "nodeSelector"));
    // A second top-level key of the same name would silently replace the first (the old `extra:` did).
    let text = read("deploy/helm/values.yaml");
    let mut top = HashSet::new();
    for line in text.lines() {
        if let Some(key) = line
            .split_once(':')
            .map(|(k, _)| k)
            .filter(|k| k.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
        {
            assert!(top.insert(key), "top-level key {key} twice in the values");
        }
    }
}

/// Helm's usual full name of a chart's objects, as the falco and falcosidekick charts define it: the override
/// if set, else the release name if it contains the chart's name, else `<release>-<chart>`; 63 characters at
/// most, no trailing dash.
fn helm_fullname(release: &str, chart: &str, fullname_override: Option<&str>) -> String {
    let name = match fullname_override.filter(|o| !o.is_empty()) {
        Some(o) => o.to_owned(),
        None if release.contains(chart) => release.to_owned(),
        None => format!("{release}-{chart}"),
    };
    name.chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned()
}

/// Where Falco posts its alerts (the falco chart's `falcosidekick.url` helper), and the Service the
/// falcosidekick subchart creates, for a release name.
fn falco_url_and_sidekick_service(values: &Yaml, release: &str) -> (String, String) {
    let url = match values["falco"]["http_output"]["url"]
        .as_str()
        .filter(|u| !u.is_empty())
    {
        Some(url) => url.to_owned(),
        None => format!(
            "http://{}-falcosidekick:{}",
            helm_fullname(release, "falco", values["fullnameOverride"].as_str()),
            values["falcosidekick"]["listenPort"]
                .as_str()
                .filter(|p| !p.is_empty())
                .unwrap_or("2801")
        ),
    };
    let service = helm_fullname(
        release,
        "falcosidekick",
        values["falcosidekick"]["fullnameOverride"].as_str(),
    );
    (url, service)
}

/// The Service name and port a URL posts to.
fn host_and_port(url: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let authority = rest.split('/').next().unwrap();
    let (host, port) = authority.split_once(':').unwrap_or((authority, "80"));
    (host.to_owned(), port.to_owned())
}

#[test]
fn alerts_reach_falcosidekick_whatever_the_release_name() {
    let values = yaml("deploy/helm/values.yaml");
    // The release names the docs use, and the chart's conventional one.
    let mut releases = vec!["falco".to_owned()];
    for doc in ["README.md", "docs/GUIDE.md", "deploy/helm/values.yaml"] {
        for after in read(doc).split("helm install ").skip(1) {
            let name = after.split_whitespace().next().unwrap().to_owned();
            if !name.contains('/') && !releases.contains(&name) {
                releases.push(name);
            }
        }
    }
    assert!(
        releases.iter().any(|r| r == "tfdrift"),
        "the docs install the release tfdrift: {releases:?}"
    );
    for release in &releases {
        let (url, service) = falco_url_and_sidekick_service(&values, release);
        let (host, port) = host_and_port(&url);
        assert_eq!(
            (host.as_str(), port.as_str()),
            (service.as_str(), "2801"),
            "release {release}: Falco posts to {url}, Falcosidekick's Service is {service}:2801"
        );
    }
    // The model reproduces the fault the values avoid: without the two settings, the release "tfdrift"
    // posts to a Service that does not exist, and "falco" happens to work.
    let mut bare = values.clone();
    if let Yaml::Hash(falco) = &mut bare["falco"] {
        falco.remove(&Yaml::String("http_output".into()));
    }
    if let Yaml::Hash(sidekick) = &mut bare["falcosidekick"] {
        sidekick.remove(&Yaml::String("fullnameOverride".into()));
    }
    let (url, service) = falco_url_and_sidekick_service(&bare, "tfdrift");
    assert_eq!(url, "http://tfdrift-falco-falcosidekick:2801");
    assert_eq!(service, "tfdrift-falcosidekick");
    let (url, service) = falco_url_and_sidekick_service(&bare, "falco");
    assert_eq!(host_and_port(&url).0, service);
}

/// The actions and resources of an IAM policy document.
fn policy_actions(policy: &Value) -> (HashSet<String>, HashSet<String>) {
    let mut actions = HashSet::new();
    let mut resources = HashSet::new();
    for statement in policy["Statement"].as_array().expect("Statement") {
        assert_eq!(statement["Effect"], "Allow");
        for (key, set) in [("Action", &mut actions), ("Resource", &mut resources)] {
            match &statement[key] {
                Value::String(s) => {
                    set.insert(s.clone());
                }
                Value::Array(items) => {
                    set.extend(items.iter().map(|i| i.as_str().unwrap().to_owned()))
                }
                other => panic!("{key}: {other}"),
            }
        }
    }
    (actions, resources)
}

#[test]
fn the_iam_policy_allows_what_the_plugins_call() {
    let policy: Value = serde_json::from_str(&read("deploy/aws/iam-policy.json")).unwrap();
    let (actions, resources) = policy_actions(&policy);
    for action in [
        // The cloudtrail plugin: opening the queue (Falco exits without it), reading and deleting messages.
        "sqs:GetQueueUrl",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        // The log files, and their KMS key when the trail encrypts them.
        "s3:GetObject",
        "kms:Decrypt",
        // tfdrift: workspace discovery (`workspaces: "*"` in the values).
        "s3:ListBucket",
    ] {
        assert!(actions.contains(action), "the policy lacks {action}");
    }
    // The queue of the policy is the queue of the values.
    let values = yaml("deploy/helm/values.yaml");
    let config = FalcoConfig {
        file: "deploy/helm/values.yaml",
        falco: values["falco"].clone(),
    };
    let queue = config.plugin("cloudtrail")["open_params"]
        .as_str()
        .unwrap()
        .strip_prefix("sqs://")
        .unwrap()
        .to_owned();
    assert!(
        resources
            .iter()
            .any(|r| r.starts_with("arn:aws:sqs:") && r.ends_with(&format!(":{queue}"))),
        "no policy statement for the queue {queue}: {resources:?}"
    );
    // The guide shows the same policy.
    let guide = read("docs/GUIDE.md");
    let shown: Vec<Value> = guide
        .split("```json\n")
        .skip(1)
        .filter_map(|block| serde_json::from_str(block.split("```").next().unwrap()).ok())
        .filter(|v: &Value| v.get("Statement").is_some())
        .collect();
    assert_eq!(shown.len(), 1, "one IAM policy in docs/GUIDE.md");
    assert_eq!(
        policy_actions(&shown[0]),
        (actions, resources),
        "docs/GUIDE.md and deploy/aws/iam-policy.json differ"
    );
}

#[test]
fn the_sqs_settings_fit_a_queue_fed_by_the_trail_sns_notifications() {
    for config in falco_configs() {
        let init = &config.plugin("cloudtrail")["init_config"];
        // The trail's own SNS notifications: useS3SNS, which is for S3 event notifications sent through
        // SNS, would find no log file in them.
        assert_eq!(
            init["useS3SNS"].as_bool(),
            Some(false),
            "{}: useS3SNS",
            config.file
        );
        assert_eq!(
            init["sqsDelete"].as_bool(),
            Some(true),
            "{}: sqsDelete",
            config.file
        );
    }
    // The topology that cannot work is advised nowhere, and the one that works is spelt out.
    for file in [
        "deploy/helm/values.yaml",
        "falco.yaml.example",
        "docs/GUIDE.md",
    ] {
        let text = read(file);
        for wrong in ["S3 -> SQS", "S3 → SQS", "S3 notifications"] {
            assert!(!text.contains(wrong), "{file} still says {wrong:?}");
        }
        assert!(
            text.contains("at most once"),
            "{file}: sqsDelete is at most once"
        );
    }
    let guide = read("docs/GUIDE.md");
    for needed in [
        "Raw message delivery must be off",
        "received SQS message that was not a SNS Notification",
        "`useS3SNS: true`",
    ] {
        assert!(guide.contains(needed), "docs/GUIDE.md: {needed:?}");
    }
}

/// The metrics tfdrift reports, from the plugin's source.
fn tfdrift_metrics() -> HashSet<String> {
    let source = read("src/plugin/mod.rs");
    let metrics: HashSet<String> = source
        .split("MetricLabel::new(c\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .collect();
    assert!(metrics.contains("states_loaded"), "{metrics:?}");
    metrics
}

#[test]
fn metrics_are_on_and_the_prometheus_rule_reads_tfdrift_metrics() {
    let values = yaml("deploy/helm/values.yaml");
    assert_eq!(values["metrics"]["enabled"].as_bool(), Some(true));
    assert_eq!(
        values["metrics"]["pluginsMetricsEnabled"].as_bool(),
        Some(true)
    );
    let rule = yaml("deploy/prometheus/tfdrift-rules.yaml");
    assert_eq!(
        rule["apiVersion"].as_str(),
        Some("monitoring.coreos.com/v1")
    );
    assert_eq!(rule["kind"].as_str(), Some("PrometheusRule"));
    let known = tfdrift_metrics();
    let mut used = HashSet::new();
    let mut stale_threshold = None;
    for group in rule["spec"]["groups"].as_vec().expect("groups") {
        for alert in group["rules"].as_vec().expect("rules") {
            let name = alert["alert"].as_str().expect("alert");
            let expr = alert["expr"].as_str().expect("expr");
            assert!(
                alert["annotations"]["summary"].as_str().is_some(),
                "{name}: summary"
            );
            for part in expr.split("falcosecurity_plugins_tfdrift_").skip(1) {
                let metric: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                let metric = metric
                    .strip_suffix("_total")
                    .unwrap_or_else(|| panic!("{name}: {expr}: Falco names them _total"));
                assert!(
                    known.contains(metric),
                    "{name}: tfdrift reports no {metric}"
                );
                used.insert(metric.to_owned());
                if metric == "seconds_since_refresh_max" {
                    stale_threshold = expr
                        .split('>')
                        .nth(1)
                        .and_then(|t| t.trim().parse::<u64>().ok());
                }
            }
        }
    }
    for metric in [
        "states_loaded",
        "seconds_since_refresh_max",
        "refresh_failures",
    ] {
        assert!(used.contains(metric), "no alert on {metric}: {used:?}");
    }
    // A state is stale only after several refresh intervals.
    let config = FalcoConfig {
        file: "deploy/helm/values.yaml",
        falco: values["falco"].clone(),
    };
    let interval = config.plugin("tfdrift")["init_config"]["refresh_interval"]
        .as_i64()
        .unwrap() as u64;
    let threshold = stale_threshold.expect("a threshold on seconds_since_refresh_max");
    assert!(
        threshold >= 4 * interval,
        "{threshold} s for a {interval} s refresh"
    );
    // The guide quotes the log line tfdrift writes when it starts with no state.
    let line = "no Terraform state loaded yet";
    assert!(read("src/sources/reload.rs").contains(line));
    assert!(read("docs/GUIDE.md").contains(line));
}

/// One `falcoctl registry push` command of push.sh, its continuation lines joined.
fn push_commands() -> Vec<String> {
    let out = std::process::Command::new("bash")
        .arg(format!("{ROOT}/scripts/package.sh"))
        .args(["--print-push", "3.11.0"])
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap().replace(" \\\n", " ");
    text.lines()
        .filter(|l| l.starts_with("falcoctl registry push "))
        .map(str::to_owned)
        .collect()
}

/// The values of every `--flag value` of a command.
fn flag_values<'a>(command: &'a str, flag: &str) -> Vec<&'a str> {
    let words: Vec<&str> = command.split_whitespace().collect();
    words
        .windows(2)
        .filter(|w| w[0] == flag)
        .map(|w| w[1].trim_matches('"'))
        .collect()
}

#[test]
fn package_pushes_one_depends_on_per_dependency_and_floating_tags() {
    let commands = push_commands();
    // The plugin, and a rules artifact per rules file: each file depends on its own source plugin, so the
    // GCP rules are not a package that pulls in the cloudtrail plugin, nor the reverse.
    assert_eq!(commands.len(), 3, "{commands:?}");
    let plugin = commands
        .iter()
        .find(|c| c.contains("--type plugin"))
        .unwrap();
    let version = env!("CARGO_PKG_VERSION");
    let [major, minor, _]: [&str; 3] = version.split('.').collect::<Vec<_>>().try_into().unwrap();
    let floating: HashSet<String> = [
        version.to_owned(),
        format!("{major}.{minor}"),
        major.to_owned(),
        "latest".to_owned(),
    ]
    .into();
    assert_eq!(
        flag_values(plugin, "--requires"),
        ["plugin_api_version:3.11.0"]
    );
    for (artifact, file) in [
        ("tfdrift-rules", "rules/tfdrift_rules.yaml"),
        ("tfdrift-gcp-rules", "rules/tfdrift_gcp_rules.yaml"),
    ] {
        let rules = commands
            .iter()
            .find(|c| c.contains(&format!("/ruleset/{artifact}:{version} --type rulesfile")))
            .unwrap_or_else(|| panic!("no push of {artifact}: {commands:?}"));
        assert!(
            rules.ends_with(&format!(" {artifact}-{version}.tar.gz")),
            "{rules}"
        );
        for command in [plugin, rules] {
            let tags: HashSet<String> = flag_values(command, "--tag")
                .into_iter()
                .map(str::to_owned)
                .collect();
            assert_eq!(tags, floating, "{command}");
        }
        // The rules' requirements, read from the rules file: each dependency in a flag of its own (`a|b` in
        // one flag means a or b), and the engine version.
        let rules_file = YamlLoader::load_from_str(&read(file)).unwrap();
        let items = rules_file[0].as_vec().unwrap();
        let required: HashSet<String> = items
            .iter()
            .find_map(|i| i["required_plugin_versions"].as_vec())
            .expect("required_plugin_versions")
            .iter()
            .map(|p| {
                format!(
                    "{}:{}",
                    p["name"].as_str().unwrap(),
                    p["version"].as_str().unwrap()
                )
            })
            .collect();
        assert!(required.len() >= 2, "{file}: {required:?}");
        let depends: Vec<&str> = flag_values(rules, "--depends-on");
        assert!(
            depends.iter().all(|d| !d.contains('|')),
            "alternatives, not dependencies: {depends:?}"
        );
        assert_eq!(
            depends
                .iter()
                .map(|d| d.to_string())
                .collect::<HashSet<_>>(),
            required,
            "{rules}"
        );
        let engine = items
            .iter()
            .find_map(|i| i["required_engine_version"].as_i64())
            .expect("required_engine_version");
        assert_eq!(
            flag_values(rules, "--requires"),
            [format!("engine_version_semver:0.{engine}.0").as_str()]
        );
    }
    // And the old, wrong claims are gone.
    let script = read("scripts/package.sh");
    assert!(!script.contains("Debian 12, the base of falcosecurity/falco"));
    assert!(
        !script.contains("checks plugin_api_version against the running Falco before installing")
    );
}

/// Falcosidekick's configuration keys the examples use, per output, as its config_example.yaml and
/// docs/outputs/{slack,loki,prometheus}.md name them (falcosecurity/falcosidekick 2.x; the falcosidekick chart
/// read beside them ships 2.29.0).
const FALCOSIDEKICK_KEYS: &[(&str, &[&str])] = &[
    (
        "slack",
        &[
            "webhookurl",
            "channel",
            "footer",
            "icon",
            "username",
            "outputformat",
            "minimumpriority",
            "messageformat",
        ],
    ),
    (
        "loki",
        &[
            "hostport",
            "user",
            "apikey",
            "tenant",
            "format",
            "endpoint",
            "extralabels",
            "customheaders",
            "minimumpriority",
            "mutualtls",
            "checkcert",
        ],
    ),
    ("prometheus", &["extralabels"]),
];

/// The labels and top-level keys of Falcosidekick's own events, which a custom field of the same name
/// overwrites.
const FALCOSIDEKICK_OWN: &[&str] = &[
    "source", "rule", "priority", "tags", "hostname", "time", "uuid", "output",
];

#[test]
fn falcosidekick_examples_use_its_keys_and_spare_its_labels() {
    for file in [
        "deploy/falcosidekick/slack.yaml",
        "deploy/falcosidekick/loki.yaml",
        "deploy/falcosidekick/prometheus.yaml",
    ] {
        let config = yaml(file);
        for (key, value) in config.as_hash().unwrap() {
            let key = key.as_str().unwrap();
            match key {
                "customfields" => {
                    let fields = value
                        .as_hash()
                        .unwrap_or_else(|| panic!("{file}: customfields is a map in config.yaml"));
                    for name in fields.keys() {
                        let name = name.as_str().unwrap();
                        assert!(
                            !FALCOSIDEKICK_OWN.contains(&name),
                            "{file}: customfields.{name} overwrites Falcosidekick's own {name}"
                        );
                    }
                }
                "bracketreplacer" => assert!(value.as_str().is_some_and(|v| !v.is_empty())),
                output => {
                    let known = FALCOSIDEKICK_KEYS
                        .iter()
                        .find(|(o, _)| *o == output)
                        .unwrap_or_else(|| panic!("{file}: no Falcosidekick key {output}"))
                        .1;
                    for k in value.as_hash().unwrap().keys() {
                        let k = k.as_str().unwrap();
                        assert!(
                            known.contains(&k),
                            "{file}: {output}.{k} is no Falcosidekick key"
                        );
                    }
                }
            }
        }
    }
    assert_eq!(
        yaml("deploy/falcosidekick/loki.yaml")["loki"]["format"].as_str(),
        Some("json")
    );
    // The Helm form: customfields as `key:value` pairs, Loki as JSON, brackets replaced, the Slack webhook
    // from a Secret.
    let values = yaml("deploy/helm/values.yaml");
    let config = &values["falcosidekick"]["config"];
    let customfields = config["customfields"].as_str().expect("a string in Helm");
    for pair in customfields.split(',') {
        let (name, value) = pair.split_once(':').expect("key:value");
        assert!(!value.is_empty());
        assert!(
            !FALCOSIDEKICK_OWN.contains(&name),
            "customfields {name} overwrites Falcosidekick's own {name}"
        );
    }
    assert!(
        config["bracketreplacer"]
            .as_str()
            .is_some_and(|v| !v.is_empty())
    );
    assert_eq!(config["loki"]["format"].as_str(), Some("json"));
    assert!(
        config["slack"]["webhookurl"].is_badvalue()
            || config["slack"]["webhookurl"].as_str() == Some(""),
        "no webhook in the values"
    );
    let env = config["extraEnv"].as_vec().expect("extraEnv");
    let var = |name: &str| {
        env.iter()
            .find(|e| e["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("no {name} in falcosidekick.config.extraEnv"))
    };
    assert!(
        var("SLACK_WEBHOOKURL")["valueFrom"]["secretKeyRef"]["name"]
            .as_str()
            .is_some()
    );
    assert_eq!(var("LOKI_FORMAT")["value"].as_str(), Some("json"));
}

#[test]
fn prometheus_labels_are_fields_the_rules_output() {
    let outputs = rule_outputs();
    for (file, labels) in [
        (
            "deploy/falcosidekick/prometheus.yaml",
            yaml("deploy/falcosidekick/prometheus.yaml")["prometheus"]["extralabels"].clone(),
        ),
        (
            "deploy/helm/values.yaml",
            yaml("deploy/helm/values.yaml")["falcosidekick"]["config"]["prometheus"]["extralabels"]
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

/// tfdrift's list fields, from docs/FIELDS.md.
fn list_fields() -> HashSet<String> {
    let fields = read("docs/FIELDS.md");
    let mut lists = HashSet::new();
    let mut current = None;
    for line in fields.lines() {
        if let Some(name) = line.strip_prefix("### `") {
            current = Some(name.trim_end_matches('`').to_owned());
        } else if line.contains("(list)") {
            lists.insert(current.clone().expect("a field heading"));
        }
    }
    assert!(lists.contains("tfdrift.changed_attrs"), "{lists:?}");
    lists
}

#[test]
fn the_sample_alert_sends_list_fields_as_arrays() {
    let alert: Value =
        serde_json::from_str(&read("deploy/falcosidekick/sample-alert.json")).unwrap();
    let lists = list_fields();
    let fields = alert["output_fields"].as_object().unwrap();
    assert!(
        fields.keys().any(|k| lists.contains(k)),
        "no list field in the sample"
    );
    for (name, value) in fields {
        assert_eq!(
            value.is_array(),
            lists.contains(name),
            "{name}: Falco sends list fields, and only them, as JSON arrays"
        );
    }
}

/// A Kubernetes memory quantity in bytes (Mi and Gi only).
fn bytes(quantity: &str) -> u64 {
    let (n, unit) = quantity.split_at(quantity.len() - 2);
    let n: u64 = n.parse().unwrap_or_else(|_| panic!("{quantity}"));
    match unit {
        "Mi" => n << 20,
        "Gi" => n << 30,
        _ => panic!("{quantity}"),
    }
}

#[test]
fn helm_values_are_hardened() {
    let values = yaml("deploy/helm/values.yaml");
    // No host /proc mount: Pod Security baseline and restricted, Fargate.
    assert_eq!(values["falco"]["plugins_hostinfo"].as_bool(), Some(false));
    // Explicit resources, above the chart's default limit of 1 GiB, which is Falco's alone.
    let limit = bytes(values["resources"]["limits"]["memory"].as_str().unwrap());
    let request = bytes(values["resources"]["requests"]["memory"].as_str().unwrap());
    assert!(limit > 1 << 30 && request <= limit, "{limit} {request}");
    // amd64 nodes: the plugin artifact is pushed for linux/amd64.
    assert_eq!(
        values["nodeSelector"]["kubernetes.io/arch"].as_str(),
        Some("amd64")
    );
    assert!(
        push_commands()
            .iter()
            .any(|c| flag_values(c, "--platform") == ["linux/amd64"])
    );
    // Registry credentials from a Secret.
    let env_from = values["falcoctl"]["artifact"]["install"]["envFrom"]
        .as_vec()
        .expect("falcoctl.artifact.install.envFrom");
    assert!(
        env_from
            .iter()
            .any(|e| e["secretRef"]["name"].as_str().is_some())
    );
    // The HCP token from a Secret, beside AWS_REGION (one `extra:` key).
    let env = values["extra"]["env"].as_vec().expect("extra.env");
    assert!(env.iter().any(|e| e["name"].as_str() == Some("AWS_REGION")));
    let token = env
        .iter()
        .find(|e| e["name"].as_str() == Some("TFE_TOKEN"))
        .expect("TFE_TOKEN");
    assert!(
        token["valueFrom"]["secretKeyRef"]["name"]
            .as_str()
            .is_some()
    );
    assert!(token["value"].is_badvalue(), "no token in the values");
    // The guide says how to size the pod, with the factor the values were sized with.
    let guide = read("docs/GUIDE.md");
    assert!(guide.contains("1.75 times") && guide.contains("1 GiB"));
    assert!(read("deploy/helm/values.yaml").contains("1.75 times"));
}

#[test]
fn the_guide_records_each_decision_of_issue_17() {
    let guide = read("docs/GUIDE.md");
    let decisions = guide
        .split("## Deployment decisions")
        .nth(1)
        .expect("a Deployment decisions section");
    for item in [1, 2, 3, 4, 6, 7, 9, 10, 11] {
        assert!(
            decisions.contains(&format!("\n{item}. **")),
            "no decision for item {item}"
        );
    }
    // Item 11: the image.
    assert!(guide.contains("Wolfi"));
    assert!(!guide.contains("Falco's image is Debian 12"));
    // Item 6: what installs where, and what checks.
    assert!(guide.contains("does not check"));
    assert!(!guide.contains("falcoctl refuses to\ninstall tfdrift"));
    // Item 7: the alternative is gone from the values, and the guide says so.
    assert!(!read("deploy/helm/values.yaml").contains("initContainers"));
    assert!(guide.contains("#### Without falcoctl"));
}
