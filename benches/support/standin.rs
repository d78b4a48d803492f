//! A stand-in for Falco's cloudtrail plugin (and the json plugin's `json.value`), for the rules-pack
//! benchmark: source `aws_cloudtrail`, one event per record, and the `ct.*`, `s3.*` and `json.value[...]`
//! fields that the cloudtrail plugin's own rules and tfdrift's read.
//!
//! It reads fields at least as fast as the real plugin, so that the baseline it gives is not slower than
//! Falco's and tfdrift's share of the time is not understated: like the real plugin (Go, `valyala/fastjson`),
//! it parses the whole record into a DOM once per event, on the first field asked, and answers every field of
//! that event from it; the DOM is sonic-rs's (SIMD), the fastest one measured in `benches/json.rs`. Field
//! semantics follow the real plugin's `extract.go` (falcosecurity/plugins, `plugins/cloudtrail`) for the
//! fields the rules read: a member that is absent has no value; `ct.error` is the `errorCode` member
//! whatever its type (a non-string reads as ""); `ct.readonly` is "true" or "false" when `readOnly` is
//! present, no value when it is not (docs/falco-facts.md); `ct.user` follows `getUser`.

use falco_plugin::FailureReason;
use falco_plugin::anyhow;
use falco_plugin::base::Plugin;
use falco_plugin::event::PluginEvent;
use falco_plugin::event::events::Event;
use falco_plugin::extract::{ExtractFieldInfo, ExtractPlugin, ExtractRequest, field};
use falco_plugin::source::{EventBatch, EventInput, SourcePlugin, SourcePluginInstance};
use falco_plugin::static_plugin;
use falco_plugin::tables::TablesInput;
use sonic_rs::{JsonContainerTrait, JsonValueTrait};
use std::ffi::{CStr, CString};
use tfdrift::plugin::event::CloudTrailRecord;

/// Init config: a JSON array of record texts, emitted in turn without end.
pub struct CloudTrailStandIn {
    records: Vec<Vec<u8>>,
    /// The event the DOM below was parsed from.
    parsed_for: Option<usize>,
    dom: Option<sonic_rs::Value>,
}

pub struct StandInInstance {
    next: usize,
}

impl Plugin for CloudTrailStandIn {
    const NAME: &'static CStr = c"cloudtrail-standin";
    const PLUGIN_VERSION: &'static CStr = c"0.0.1";
    const DESCRIPTION: &'static CStr =
        c"emits CloudTrail records and extracts the cloudtrail plugin's fields";
    const CONTACT: &'static CStr = c"tfdrift benchmarks";
    type ConfigType = String;

    fn new(_input: Option<&TablesInput>, config: String) -> anyhow::Result<Self> {
        let texts: Vec<String> = serde_json::from_str(&config)?;
        anyhow::ensure!(!texts.is_empty(), "no records");
        Ok(Self {
            records: texts.into_iter().map(String::into_bytes).collect(),
            parsed_for: None,
            dom: None,
        })
    }
}

impl SourcePlugin for CloudTrailStandIn {
    type Instance = StandInInstance;
    const EVENT_SOURCE: &'static CStr = c"aws_cloudtrail";
    const PLUGIN_ID: u32 = 2;
    type Event<'a> = Event<PluginEvent<&'a [u8]>>;

    fn open(&mut self, _params: Option<&str>) -> anyhow::Result<StandInInstance> {
        Ok(StandInInstance { next: 0 })
    }

    fn event_to_string(&mut self, event: &EventInput<Self::Event<'_>>) -> anyhow::Result<CString> {
        Ok(CString::new(event.event()?.params.event_data)?)
    }
}

impl SourcePluginInstance for StandInInstance {
    type Plugin = CloudTrailStandIn;

    fn next_batch(
        &mut self,
        plugin: &mut CloudTrailStandIn,
        batch: &mut EventBatch,
    ) -> anyhow::Result<()> {
        if plugin.records.is_empty() {
            return Err(anyhow::anyhow!("no records").context(FailureReason::Eof));
        }
        let record = &plugin.records[self.next % plugin.records.len()];
        self.next += 1;
        batch.add(Self::plugin_event(record))?;
        Ok(())
    }
}

/// A JSON value as the real plugins answer it: strings as they are, other scalars as their JSON text.
fn text_of(value: &sonic_rs::Value) -> Option<CString> {
    let text = match value.as_str() {
        Some(s) => s.to_owned(),
        None => sonic_rs::to_string(value).ok()?,
    };
    CString::new(text).ok()
}

/// A string member at `path`; no value when absent or not a string.
fn string_at(dom: &sonic_rs::Value, path: &[&str]) -> Option<CString> {
    let mut at = dom;
    for key in path {
        at = at.get(*key)?;
    }
    CString::new(at.as_str()?).ok()
}

impl CloudTrailStandIn {
    /// The event's DOM, parsed once per event.
    fn dom(&mut self, req: &ExtractRequest<Self>) -> anyhow::Result<Option<&sonic_rs::Value>> {
        let number = req.event.event_number();
        if self.parsed_for != Some(number) {
            let bytes = req.event.event()?.params.event_data.0;
            self.dom = sonic_rs::from_slice(bytes).ok();
            self.parsed_for = Some(number);
        }
        Ok(self.dom.as_ref())
    }

    fn path(
        &mut self,
        req: &ExtractRequest<Self>,
        path: &[&str],
    ) -> anyhow::Result<Option<CString>> {
        Ok(self.dom(req)?.and_then(|d| string_at(d, path)))
    }

    fn ct_id(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.path(&req, &["eventID"])
    }
    fn ct_name(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.path(&req, &["eventName"])
    }
    fn ct_src(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.path(&req, &["eventSource"])
    }
    fn ct_region(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.path(&req, &["awsRegion"])
    }
    fn ct_srcip(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.path(&req, &["sourceIPAddress"])
    }
    fn ct_useragent(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.path(&req, &["userAgent"])
    }
    fn ct_recipientaccountid(
        &mut self,
        req: ExtractRequest<Self>,
    ) -> anyhow::Result<Option<CString>> {
        self.path(&req, &["recipientAccountId"])
    }
    fn ct_user_identitytype(
        &mut self,
        req: ExtractRequest<Self>,
    ) -> anyhow::Result<Option<CString>> {
        self.path(&req, &["userIdentity", "type"])
    }
    fn ct_user_arn(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.path(&req, &["userIdentity", "arn"])
    }
    fn ct_user_principalid(
        &mut self,
        req: ExtractRequest<Self>,
    ) -> anyhow::Result<Option<CString>> {
        self.path(&req, &["userIdentity", "principalId"])
    }
    fn ct_request_username(
        &mut self,
        req: ExtractRequest<Self>,
    ) -> anyhow::Result<Option<CString>> {
        self.path(&req, &["requestParameters", "userName"])
    }
    fn ct_request_groupname(
        &mut self,
        req: ExtractRequest<Self>,
    ) -> anyhow::Result<Option<CString>> {
        self.path(&req, &["requestParameters", "groupName"])
    }
    fn ct_request_serialnumber(
        &mut self,
        req: ExtractRequest<Self>,
    ) -> anyhow::Result<Option<CString>> {
        self.path(&req, &["requestParameters", "serialNumber"])
    }
    fn ct_request_cluster(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.path(&req, &["requestParameters", "cluster"])
    }
    fn ct_request_servicename(
        &mut self,
        req: ExtractRequest<Self>,
    ) -> anyhow::Result<Option<CString>> {
        self.path(&req, &["requestParameters", "serviceName"])
    }
    fn ct_request_taskdefinition(
        &mut self,
        req: ExtractRequest<Self>,
    ) -> anyhow::Result<Option<CString>> {
        self.path(&req, &["requestParameters", "taskDefinition"])
    }
    fn ct_request_functionname(
        &mut self,
        req: ExtractRequest<Self>,
    ) -> anyhow::Result<Option<CString>> {
        self.path(&req, &["requestParameters", "functionName"])
    }
    fn ct_request_availabilityzone(
        &mut self,
        req: ExtractRequest<Self>,
    ) -> anyhow::Result<Option<CString>> {
        self.path(&req, &["requestParameters", "availabilityZone"])
    }
    fn ct_request_host(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.path(&req, &["requestParameters", "Host"])
    }
    fn ct_request_name(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.path(&req, &["requestParameters", "name"])
    }
    fn ct_request_policy(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.path(&req, &["requestParameters", "policy"])
    }
    fn ct_response_subnetid(
        &mut self,
        req: ExtractRequest<Self>,
    ) -> anyhow::Result<Option<CString>> {
        self.path(&req, &["responseElements", "subnetId"])
    }
    fn ct_response_reservationid(
        &mut self,
        req: ExtractRequest<Self>,
    ) -> anyhow::Result<Option<CString>> {
        self.path(&req, &["responseElements", "reservationId"])
    }
    fn s3_bucket(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.path(&req, &["requestParameters", "bucketName"])
    }
    fn s3_key(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.path(&req, &["requestParameters", "key"])
    }

    /// The `errorCode` member whatever its type: a non-string reads as "".
    fn ct_error(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        Ok(self.dom(&req)?.and_then(|d| {
            let code = d.get("errorCode")?;
            Some(CString::new(code.as_str().unwrap_or("")).unwrap_or_default())
        }))
    }

    /// "true" or "false" when `readOnly` is present; no value when it is not.
    fn ct_readonly(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        Ok(self.dom(&req)?.and_then(|d| {
            let flag = d.get("readOnly")?;
            Some(if flag.as_bool() == Some(true) {
                c"true".to_owned()
            } else {
                c"false".to_owned()
            })
        }))
    }

    /// The cloudtrail plugin's `getUser`.
    fn ct_user(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        Ok(self.dom(&req)?.and_then(|d| {
            let identity = d.get("userIdentity")?;
            let by = |path: &[&str]| string_at(identity, path);
            match identity.get("type")?.as_str()? {
                "Root" | "IAMUser" => by(&["userName"]),
                "AWSService" => by(&["invokedBy"]),
                "AssumedRole" => by(&["sessionContext", "sessionIssuer", "userName"])
                    .or_else(|| Some(c"AssumedRole".to_owned())),
                "AWSAccount" => Some(c"AWSAccount".to_owned()),
                "FederatedUser" => Some(c"FederatedUser".to_owned()),
                _ => Some(c"<unknown user type>".to_owned()),
            }
        }))
    }

    /// The json plugin's `json.value[<JSON pointer>]`: the value's text (a string as it is).
    fn json_value(
        &mut self,
        req: ExtractRequest<Self>,
        pointer: &CStr,
    ) -> anyhow::Result<Option<CString>> {
        let pointer = pointer.to_str()?.to_owned();
        Ok(self.dom(&req)?.and_then(|d| {
            let mut at = d;
            for token in pointer.split('/').skip(1) {
                at = if at.is_array() {
                    at.as_array()?.get(token.parse::<usize>().ok()?)?
                } else {
                    at.get(token)?
                };
            }
            text_of(at)
        }))
    }
}

impl ExtractPlugin for CloudTrailStandIn {
    type Event<'a> = Event<PluginEvent<CloudTrailRecord<'a>>>;
    type ExtractContext = ();

    const EXTRACT_FIELDS: &'static [ExtractFieldInfo<Self>] = &[
        field("ct.id", &Self::ct_id),
        field("ct.error", &Self::ct_error),
        field("ct.src", &Self::ct_src),
        field("ct.name", &Self::ct_name),
        field("ct.user", &Self::ct_user),
        field("ct.user.identitytype", &Self::ct_user_identitytype),
        field("ct.user.principalid", &Self::ct_user_principalid),
        field("ct.user.arn", &Self::ct_user_arn),
        field("ct.region", &Self::ct_region),
        field("ct.response.subnetid", &Self::ct_response_subnetid),
        field(
            "ct.response.reservationid",
            &Self::ct_response_reservationid,
        ),
        field(
            "ct.request.availabilityzone",
            &Self::ct_request_availabilityzone,
        ),
        field("ct.request.cluster", &Self::ct_request_cluster),
        field("ct.request.functionname", &Self::ct_request_functionname),
        field("ct.request.groupname", &Self::ct_request_groupname),
        field("ct.request.host", &Self::ct_request_host),
        field("ct.request.name", &Self::ct_request_name),
        field("ct.request.policy", &Self::ct_request_policy),
        field("ct.request.serialnumber", &Self::ct_request_serialnumber),
        field("ct.request.servicename", &Self::ct_request_servicename),
        field(
            "ct.request.taskdefinition",
            &Self::ct_request_taskdefinition,
        ),
        field("ct.request.username", &Self::ct_request_username),
        field("ct.srcip", &Self::ct_srcip),
        field("ct.useragent", &Self::ct_useragent),
        field("ct.readonly", &Self::ct_readonly),
        field("ct.recipientaccountid", &Self::ct_recipientaccountid),
        field("s3.bucket", &Self::s3_bucket),
        field("s3.key", &Self::s3_key),
        field("json.value", &Self::json_value),
    ];
}

static_plugin!(pub CLOUDTRAIL_STANDIN_API = CloudTrailStandIn);
