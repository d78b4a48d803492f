//! What the command prints: the tallies, one line per finding, or every field as JSON.

use crate::view::View;
use serde_json::{Map, Value, json};
use tfdrift::drift::Verdict;
use tfdrift::fields::{self, Field};

/// The tallies of a run, for the summary line.
#[derive(Default)]
pub struct Counts {
    pub records: usize,
    pub aws: usize,
    pub gcp: usize,
    pub unrecognised: usize,
    pub gcp_not_audit: usize,
    pub covered: usize,
    pub managed: usize,
    pub drift: usize,
    pub unmanaged: usize,
    pub by_terraform: usize,
}

impl Counts {
    pub fn add(&mut self, v: &Verdict) {
        self.covered += usize::from(v.covered);
        self.managed += usize::from(v.managed == Some(true));
        self.drift += usize::from(v.drift);
        self.unmanaged += usize::from(v.unmanaged);
        self.by_terraform += usize::from(v.by_terraform && v.covered);
    }
}

/// One line for people: what the finding is, in which cloud, on what, by whom, through which call.
pub fn to_line(v: &Verdict, view: &View) -> String {
    let read = |field: &Field| field.str(v).unwrap_or_default();
    let kind = if v.drift { "DRIFT" } else { "UNMANAGED" };
    let severity = fields::SEVERITY.str(v).unwrap_or("-");
    let (what, id) = match v.primary() {
        Some(_) => (
            read(&fields::RESOURCE_ADDRESS).to_owned(),
            format!(
                "{} {}",
                read(&fields::RESOURCE_TYPE),
                read(&fields::RESOURCE_ID)
            ),
        ),
        None => (
            read(&fields::RESOURCE_TYPE).to_owned(),
            read(&fields::RESOURCE_ID).to_owned(),
        ),
    };
    let mut line = format!(
        "{kind:<9} {severity:<8} {} {what} ({id}) {} by {} [{}] via {}",
        view.cloud().as_str(),
        fields::CHANGE.str(v).unwrap_or("-"),
        fields::ACTOR.str(v).unwrap_or("?"),
        fields::ACTOR_KIND.str(v).unwrap_or("unknown"),
        view.operation_name(),
    );
    let touched = fields::TOUCHED_ATTRS.list(v);
    if !touched.is_empty() {
        let changed = fields::CHANGED_ATTRS.list(v);
        line.push_str(&format!(
            "; attributes {} (changed: {})",
            touched.join(","),
            if changed.is_empty() {
                "none".to_owned()
            } else {
                changed.join(",")
            }
        ));
    }
    if let (Some(state), Some(serial)) = (fields::STATE.str(v), fields::STATE_SERIAL.u64(v)) {
        line.push_str(&format!("; state {state} serial {serial}"));
    }
    line
}

/// Every field that takes no key, by name, as Falco would give it (`null`: no value), with the event's source
/// (`evt.source`) and the record's own name, service and id under the fields of its cloud's plugin
/// (`ct.name`, `ct.src`, `ct.id`; `gcp.methodName`, `gcp.serviceName`, `gcp.resourceName`, and the entry's
/// `insertId`, which rules read as `json.value[/insertId]`).
pub fn to_json(v: &Verdict, view: &View) -> Value {
    let mut object = Map::new();
    match view {
        View::Aws(record) => {
            object.insert(
                "evt.source".into(),
                json!(tfdrift::cloudtrail::EVENT_SOURCE),
            );
            object.insert("ct.name".into(), json!(record.event_name()));
            object.insert("ct.src".into(), json!(record.event_source()));
            object.insert("ct.id".into(), json!(record.event_id.get()));
        }
        View::Gcp(entry) => {
            let payload = &entry.payload;
            object.insert("evt.source".into(), json!(tfdrift::gcpaudit::EVENT_SOURCE));
            object.insert("gcp.methodName".into(), json!(payload.method_name.get()));
            object.insert("gcp.serviceName".into(), json!(payload.service_name.get()));
            object.insert(
                "gcp.resourceName".into(),
                json!(payload.resource_name.get()),
            );
            object.insert("json.value[/insertId]".into(), json!(entry.insert_id.get()));
        }
    }
    for field in fields::ALL.iter().filter(|f| !f.is_keyed()) {
        object.insert(field.name.into(), json!(field.value(v)));
    }
    Value::Object(object)
}
