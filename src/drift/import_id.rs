//! `tfdrift.import_id`: the id Terraform's import takes for a resource no state holds, so that an alert about a
//! resource made by hand says how to adopt it.
//!
//! The form is data ([`crate::catalog::import_forms`]); this module fills it in. When the verdict finds no
//! state holding the call's resource, it keeps the few values the type's form names (the identifier that fits
//! the form's shape, a record member, the account or region), nothing for a type without a form; the id is
//! put together on the first read and kept for the other reads of the same event. A value the call does not
//! give means no id, never a guessed one.

use super::{Sections, Verdict};
use crate::call::Call;
use crate::catalog::import_forms::{ImportForm, Source};
use crate::catalog::{Change, Target};
use std::cell::OnceCell;
use std::sync::Arc;

/// The values of one form, kept when the verdict is made, and the id made from them on the first read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportSlot {
    pending: Option<Box<Pending>>,
    text: OnceCell<Option<String>>,
}

#[derive(Debug, Clone, PartialEq)]
struct Pending {
    form: Arc<ImportForm>,
    /// One per placeholder, in the form's order.
    values: Vec<Option<String>>,
}

impl ImportSlot {
    /// Keeps what `target`'s form needs from the call: `rendered` is the catalog's own import id for the
    /// target when it has one (then it alone may be `{id}`), `ids` the identifiers found for it, in order.
    pub(super) fn capture<C: Call>(
        target: &Target,
        rendered: Option<&str>,
        ids: &[String],
        sections: &Sections<'_, C>,
    ) -> ImportSlot {
        let Some(form) = &target.import_form else {
            return ImportSlot::default();
        };
        let values = form
            .sources()
            .map(|(_, source)| match source {
                Source::Id => {
                    // A target whose catalog entry says how its import id is made gives that or nothing: its
                    // bare identifier is not the whole id.
                    match &target.import_id {
                        Some(_) => rendered.filter(|id| form.fits(id)).map(str::to_owned),
                        None => ids.iter().find(|id| form.fits(id)).cloned(),
                    }
                }
                Source::Account => sections.call.account_id().map(str::to_owned),
                Source::Region => sections.call.region().map(str::to_owned),
                Source::Record(paths, shape) => paths.iter().find_map(|path| {
                    let root = sections.get(path.section()?)?;
                    let mut first = None;
                    path.identifiers_from(root, |id| {
                        if first.is_none() {
                            let text = id.to_string();
                            if shape.fits(&text) {
                                first = Some(text);
                            }
                        }
                    });
                    first
                }),
            })
            .collect();
        ImportSlot {
            pending: Some(Box::new(Pending {
                form: Arc::clone(form),
                values,
            })),
            text: OnceCell::new(),
        }
    }

    fn text(&self) -> Option<&str> {
        self.text
            .get_or_init(|| {
                let pending = self.pending.as_ref()?;
                pending.form.render(&pending.values)
            })
            .as_deref()
    }
}

/// The import id of the resource a verdict is about: only for a successful call that creates or changes a
/// resource no state holds (not one it deletes or detaches: after the call there is nothing to import), and
/// only when the type's form can be filled in.
pub fn of(verdict: &Verdict) -> Option<&str> {
    if verdict.managed != Some(false)
        || matches!(
            verdict.change,
            None | Some(Change::Delete) | Some(Change::Detach)
        )
    {
        return None;
    }
    verdict.import.text()
}

#[cfg(test)]
mod tests {
    //! The forms filled in from CloudTrail records of the shapes AWS's API references give (CreateTopic answers
    //! `topicArn`, CreateQueue `queueUrl`, CreateKey `keyMetadata.keyId` and `.arn`), against a state that
    //! manages each type but not the resource the record makes.

    use super::*;
    use crate::catalog::Catalog;
    use crate::drift::{Engine, Policy};
    use crate::state::{Index, Limits, Scope, Snapshot, parse};
    use serde_json::{Value, json};
    use std::time::SystemTime;

    const TYPES: &[&str] = &[
        "aws_sns_topic",
        "aws_sqs_queue",
        "aws_kms_key",
        "aws_kms_alias",
        "aws_s3_bucket",
        "aws_instance",
        "aws_security_group",
        "aws_iam_user",
    ];

    fn engine() -> Engine {
        let catalog = Catalog::with_extensions(&[]).expect("the embedded catalog");
        Engine::new(Arc::new(catalog), Policy::default())
    }

    fn snapshot(engine: &Engine) -> Snapshot {
        let resources: Vec<Value> = TYPES
            .iter()
            .map(|t| {
                json!({"mode": "managed", "type": t, "name": "held",
                       "instances": [{"attributes": {"id": format!("held-{t}")}}]})
            })
            .collect();
        let text = json!({"version": 4, "serial": 1, "resources": resources}).to_string();
        let mut state = parse("main", text.as_bytes(), &Limits::default()).expect("state");
        state.scope = Scope::infer(&state);
        Snapshot {
            index: Index::build(vec![Arc::new(state)], engine.catalog()),
            loaded_at: vec![SystemTime::now()],
        }
    }

    /// A successful call by a person with the AWS CLI.
    fn record(source: &str, name: &str, request: Value, response: Value) -> String {
        json!({
            "eventVersion": "1.09",
            "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE",
                             "arn": "arn:aws:iam::123456789012:user/alice", "accountId": "123456789012",
                             "userName": "alice"},
            "eventTime": "2026-11-30T09:12:44Z",
            "eventSource": source,
            "eventName": name,
            "awsRegion": "us-east-1",
            "sourceIPAddress": "203.0.113.7",
            "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.5.0",
            "requestParameters": request,
            "responseElements": response,
            "readOnly": false,
            "eventType": "AwsApiCall",
            "recipientAccountId": "123456789012"
        })
        .to_string()
    }

    fn import_id(record: &str) -> Option<String> {
        let engine = engine();
        let snapshot = snapshot(&engine);
        let verdict = engine.evaluate(record.as_bytes(), &snapshot);
        assert!(verdict.unmanaged, "{verdict:?}");
        // Read twice: the second read is the kept text.
        let first = of(&verdict).map(str::to_owned);
        assert_eq!(of(&verdict).map(str::to_owned), first);
        first
    }

    #[test]
    fn creates_of_the_common_services_give_the_documented_forms() {
        let arn = "arn:aws:sns:us-east-1:123456789012:alerts";
        let topic = record(
            "sns.amazonaws.com",
            "CreateTopic",
            json!({"name": "alerts"}),
            json!({"topicArn": arn}),
        );
        assert_eq!(import_id(&topic).as_deref(), Some(arn));
        let url = "https://sqs.us-east-1.amazonaws.com/123456789012/jobs";
        let queue = record(
            "sqs.amazonaws.com",
            "CreateQueue",
            json!({"queueName": "jobs"}),
            json!({"queueUrl": url}),
        );
        assert_eq!(import_id(&queue).as_deref(), Some(url));
        // A key by its id, not its ARN (the ARN holds a `/`, which no key id does).
        let key_id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        let key = record(
            "kms.amazonaws.com",
            "CreateKey",
            json!({"description": "app"}),
            json!({"keyMetadata": {"keyId": key_id,
                   "arn": format!("arn:aws:kms:us-east-1:123456789012:key/{key_id}")}}),
        );
        assert_eq!(import_id(&key).as_deref(), Some(key_id));
        let alias = record(
            "kms.amazonaws.com",
            "CreateAlias",
            json!({"aliasName": "alias/app", "targetKeyId": key_id}),
            Value::Null,
        );
        assert_eq!(import_id(&alias).as_deref(), Some("alias/app"));
        let bucket = record(
            "s3.amazonaws.com",
            "CreateBucket",
            json!({"bucketName": "acme-logs", "Host": "acme-logs.s3.amazonaws.com"}),
            Value::Null,
        );
        assert_eq!(import_id(&bucket).as_deref(), Some("acme-logs"));
        let instance = record(
            "ec2.amazonaws.com",
            "RunInstances",
            json!({"instanceType": "t3.micro"}),
            json!({"instancesSet": {"items": [{"instanceId": "i-0abc1234def567890"}]}}),
        );
        assert_eq!(import_id(&instance).as_deref(), Some("i-0abc1234def567890"));
    }

    #[test]
    fn an_identifier_of_another_shape_gives_no_id() {
        // A security group id that is none (a sanitised log's `vpc-1`), an IAM user name with a `/` (IAM
        // allows none), an identifier longer than any cloud's: no id, never a wrong one.
        let group = record(
            "ec2.amazonaws.com",
            "CreateSecurityGroup",
            json!({"groupName": "web"}),
            json!({"groupId": "vpc-1"}),
        );
        assert_eq!(import_id(&group), None);
        let user = record(
            "iam.amazonaws.com",
            "CreateUser",
            json!({"userName": "a/b"}),
            Value::Null,
        );
        assert_eq!(import_id(&user), None);
        let long = "u".repeat(MAX_ID + 1);
        let user = record(
            "iam.amazonaws.com",
            "CreateUser",
            json!({"userName": long}),
            Value::Null,
        );
        assert_eq!(import_id(&user), None);
    }

    const MAX_ID: usize = crate::catalog::import_forms::MAX_ID_BYTES;
}
