//! `json`: one object per finding and line, with every field of the table by name as Falco would give it
//! (`null`: no value), the record's own names under the fields of its cloud's plugin, and the finding's own
//! data (`finding.*`: when, where, from where, the import id).

use super::{Finding, View};
use serde_json::{Map, Value, json};
use tfdrift::drift::Verdict;
use tfdrift::fields;

/// Every field that takes no key, by name (`null`: no value), with the event's source (`evt.source`) and the
/// record's own name, service and id under the fields of its cloud's plugin (`ct.name`, `ct.src`, `ct.id`;
/// `gcp.methodName`, `gcp.serviceName`, `gcp.resourceName`, and the entry's `insertId`, which rules read as
/// `json.value[/insertId]`): what `--json` has always printed.
pub fn table(v: &Verdict, view: &View) -> Vec<(&'static str, Value)> {
    let mut table = Vec::with_capacity(fields::ALL.len() + 5);
    match view {
        View::Aws(record) => {
            table.push(("evt.source", json!(tfdrift::cloudtrail::EVENT_SOURCE)));
            table.push(("ct.name", json!(record.event_name())));
            table.push(("ct.src", json!(record.event_source())));
            table.push(("ct.id", json!(record.event_id.get())));
        }
        View::Gcp(entry) => {
            let payload = &entry.payload;
            table.push(("evt.source", json!(tfdrift::gcpaudit::EVENT_SOURCE)));
            table.push(("gcp.methodName", json!(payload.method_name.get())));
            table.push(("gcp.serviceName", json!(payload.service_name.get())));
            table.push(("gcp.resourceName", json!(payload.resource_name.get())));
            table.push(("json.value[/insertId]", json!(entry.insert_id.get())));
        }
    }
    for field in fields::ALL.iter().filter(|f| !f.is_keyed()) {
        table.push((field.name, json!(field.value(v))));
    }
    table
}

/// The finding as one JSON object.
pub fn object(finding: &Finding) -> Value {
    let mut object = Map::new();
    for (name, value) in &finding.table {
        object.insert((*name).into(), value.clone());
    }
    let mut put = |name: &str, value: Value| {
        object.insert(format!("finding.{name}"), value);
    };
    put("kind", json!(finding.kind.map(|k| k.as_str())));
    put("cloud", json!(finding.cloud.as_str()));
    put("time", json!(finding.time));
    put("account", json!(finding.account));
    put("region", json!(finding.region));
    put("service", json!(finding.service));
    put("call", json!(finding.call));
    put("event_id", json!(finding.event_id));
    put("source_ip", json!(finding.source_ip));
    put("user_agent", json!(finding.user_agent));
    put("import_id", json!(finding.import_id));
    Value::Object(object)
}
