//! Who made a CloudTrail call: whether its user agent is Terraform's, how it was made (a person in the
//! console, an AWS service, a provisioning service acting for a principal, or some other SDK or CLI), and the
//! name behind it. Matching configured principals is the provider-neutral part, in [`crate::call`].

use super::Record;
use crate::call::ActorKind;
use memchr::memmem::Finder;
use std::borrow::Cow;
use std::sync::LazyLock;

/// Terraform's user agents: the AWS provider before v4 (`aws-sdk-go/1.x ... HashiCorp/1.0 Terraform/0.12.24`),
/// v4 and later (`APN/1.0 HashiCorp/1.0 Terraform/1.5.7 (+https://www.terraform.io) terraform-provider-aws/5.0.0`),
/// OpenTofu (`OpenTofu/1.6.0 ... terraform-provider-aws/...`), and S3's bracketed form (`[... Terraform/1.5.7 ...]`).
pub fn is_terraform_user_agent(user_agent: &str) -> bool {
    // Both marks share "erraform": one search finds the candidates, the bytes around each decide.
    static ERRAFORM: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("erraform"));
    let bytes = user_agent.as_bytes();
    occurrences(&ERRAFORM, bytes).any(|at| {
        let (before, after) = bytes.split_at(at);
        let after = &after["erraform".len()..];
        (before.ends_with(b"T") && after.starts_with(b"/"))
            || (before.ends_with(b"t") && after.starts_with(b"-provider-aws/"))
    })
}

/// How the call was made. Terraform first (it is what the caller asked to recognise), then AWS services
/// acting on their own, provisioning services acting for a principal, the console, and any other client.
///
/// Only what CloudTrail itself writes makes a caller an AWS service: `userIdentity.type` `AWSService`,
/// `userIdentity.invokedBy` naming a service, or a service-linked role as the session's issuer. The user agent
/// is a header the caller chooses: it can say "console" or "Terraform" (trusted only when configured), never
/// "AWS service", so a forged `ec2.amazonaws.com` is just another client.
pub fn actor_kind(record: &Record, by_terraform: bool) -> ActorKind {
    if by_terraform {
        return ActorKind::Terraform;
    }
    let identity = &record.user_identity;
    let invoked_by = identity.invoked_by.get().unwrap_or("");
    let service_linked_role = identity
        .session_context
        .as_ref()
        .and_then(|c| c.session_issuer.as_ref())
        .and_then(|i| i.arn.get())
        .is_some_and(is_service_linked_role);
    if identity.identity_type.get() == Some("AWSService") || service_linked_role {
        return ActorKind::AwsService;
    }
    // The console signs its calls in through signin.amazonaws.com and says so in `invokedBy`; a person.
    let console_invoked = is_console_host(invoked_by);
    if !invoked_by.is_empty() && !console_invoked {
        return if is_provisioning_service(invoked_by) {
            ActorKind::ProvisioningService
        } else {
            ActorKind::AwsService
        };
    }
    let user_agent = record.user_agent.get().unwrap_or("");
    if console_invoked
        || record.session_credential_from_console.0 == Some(true)
        || from_console(user_agent)
    {
        return ActorKind::Console;
    }
    if !user_agent.is_empty() {
        return ActorKind::SdkOrCli;
    }
    ActorKind::Unknown
}

/// A role that only an AWS service can assume and that only AWS creates: IAM reserves the path
/// `/aws-service-role/` (`arn:aws:iam::<account>:role/aws-service-role/<service>/<name>`).
fn is_service_linked_role(arn: &str) -> bool {
    arn.starts_with("arn:")
        && arn
            .split_once(":role/")
            .is_some_and(|(_, path)| path.starts_with("aws-service-role/"))
}

/// `invokedBy` values that mean the console: the sign-in service that console sessions call through, and the
/// console's own hosts.
fn is_console_host(invoked_by: &str) -> bool {
    matches!(
        invoked_by,
        "signin.amazonaws.com" | "console.amazonaws.com" | "console.aws.amazon.com"
    ) || invoked_by.ends_with(".console.aws.amazon.com")
}

/// Services that provision resources for the principal who asked them to: CloudFormation (and so CDK, SAM
/// and StackSets), Service Catalog, Elastic Beanstalk, Proton, the Serverless Application Repository,
/// OpsWorks. Their calls carry the principal's identity with the service in `invokedBy`, and what they change
/// is another tool's change to a Terraform-managed resource: drift, not an AWS service looking after itself.
const PROVISIONING_SERVICES: [&str; 6] = [
    "cloudformation.amazonaws.com",
    "servicecatalog.amazonaws.com",
    "elasticbeanstalk.amazonaws.com",
    "proton.amazonaws.com",
    "serverlessrepo.amazonaws.com",
    "opsworks.amazonaws.com",
];

fn is_provisioning_service(invoked_by: &str) -> bool {
    PROVISIONING_SERVICES.contains(&invoked_by)
}

/// The console's user agents, within a longer text: `console.amazonaws.com`, `console.ec2.amazonaws.com`,
/// `console.aws.amazon.com` (browsers through the console's own services), S3's `S3Console/...`, the sign-in
/// service's `signin.amazonaws.com`, and `AWS Internal`, which console calls carry (with
/// `sessionCredentialFromConsole`). A caller can write any of these: they only ever make a call a person's.
fn from_console(user_agent: &str) -> bool {
    static CONSOLE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("onsole"));
    let bytes = user_agent.as_bytes();
    user_agent == "AWS Internal"
        || user_agent.starts_with("signin.amazonaws.com")
        || occurrences(&CONSOLE, bytes).any(|at| {
            let (before, rest) = bytes.split_at(at);
            let rest = &rest["onsole".len()..];
            (before.ends_with(b"c")
                && (rest.starts_with(b".amazonaws.com")
                    || rest.starts_with(b".ec2.amazonaws.com")
                    || rest.starts_with(b".aws.amazon.com")))
                || (before.ends_with(b"S3C") && rest.starts_with(b"/"))
        })
}

/// Where `finder`'s needle occurs in `haystack` (overlapping ones too), with the finder borrowed: its own
/// iterator copies the searcher on every call.
fn occurrences<'h>(
    finder: &'h Finder<'static>,
    haystack: &'h [u8],
) -> impl Iterator<Item = usize> + 'h {
    let mut from = 0;
    std::iter::from_fn(move || {
        let at = from + finder.find(haystack.get(from..)?)?;
        from = at + 1;
        Some(at)
    })
}

/// The human (or service) behind the call, as well as CloudTrail tells it: the provisioning service acting for
/// a principal, the source identity a role session carries, an IAM user's name, an assumed role's session name (an SSO user's name for
/// `AWSReservedSSO_*` roles), a federated user's name, the invoking service, or `root`.
pub fn actor<'r>(record: &'r Record) -> Option<Cow<'r, str>> {
    let identity = &record.user_identity;
    // A provisioning service's change is the service's: the principal behind it is `ct.user.arn`.
    if let Some(service) = identity
        .invoked_by
        .get()
        .filter(|s| is_provisioning_service(s))
    {
        return Some(Cow::Borrowed(service));
    }
    if let Some(source) = identity
        .session_context
        .as_ref()
        .and_then(|c| c.source_identity.get())
        .filter(|s| !s.is_empty())
    {
        return Some(Cow::Borrowed(source));
    }
    let arn = identity.arn.get().unwrap_or("");
    match identity.identity_type.get().unwrap_or("") {
        "Root" => Some(Cow::Borrowed("root")),
        "IAMUser" => identity
            .user_name
            .get()
            .or_else(|| arn.rsplit_once('/').map(|(_, name)| name))
            .map(Cow::Borrowed),
        "AssumedRole" | "FederatedUser" => arn
            .rsplit_once('/')
            .map(|(_, session)| session)
            .filter(|s| !s.is_empty())
            .or_else(|| {
                identity
                    .principal_id
                    .get()
                    .and_then(|p| p.split_once(':'))
                    .map(|(_, s)| s)
            })
            .map(Cow::Borrowed),
        "AWSService" => identity.invoked_by.get().map(Cow::Borrowed),
        _ => identity
            .user_name
            .get()
            .or(identity.invoked_by.get())
            .or(identity.principal_id.get())
            .filter(|s| !s.is_empty())
            .map(Cow::Borrowed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::TerraformIdentity;

    fn record(json: &str) -> Record<'_> {
        Record::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn terraform_user_agents() {
        for ua in [
            "APN/1.0 HashiCorp/1.0 Terraform/1.1.2 (+https://www.terraform.io) terraform-provider-aws/3.76.1 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go/1.44.157 (go1.19.3; linux; amd64)",
            "aws-sdk-go/1.29.7 (go1.13.7; darwin; amd64) APN/1.0 HashiCorp/1.0 Terraform/0.12.24 (+https://www.terraform.io)",
            "[APN/1.0 HashiCorp/1.0 Terraform/1.5.7 (+https://www.terraform.io) terraform-provider-aws/5.31.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.24.0 os/linux lang/go#1.21.5 md/GOOS#linux md/GOARCH#amd64 api/s3#1.47.7]",
            "APN/1.0 HashiCorp/1.0 OpenTofu/1.6.0 (+https://opentofu.org) terraform-provider-aws/5.31.0",
        ] {
            assert!(is_terraform_user_agent(ua), "{ua}");
        }
        for ua in [
            "aws-cli/2.13.0 Python/3.11.4",
            "console.amazonaws.com",
            "Boto3/1.28 terraform",
        ] {
            assert!(!is_terraform_user_agent(ua), "{ua}");
        }
    }

    #[test]
    fn one_search_finds_what_the_plain_substring_tests_find() {
        for ua in [
            "",
            "Terraform",
            "Terraform/",
            "terraform/",
            "xterraform-provider-aws/5",
            "erraform/",
            "terraform-provider-aws",
            "Boto3 terraform Terraform/1.0",
            "console.amazonaws.com",
            "aws-internal/3 console.ec2.amazonaws.com",
            "console.",
            "consoleconsole.amazonaws.com",
            "signin.amazonaws.com",
            "Mozilla/5.0 console.aws.amazon.com",
            "[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.488]",
            "S3Console",
            "s3console/0.4",
            "AWS Internal",
            "AWS Internal ",
            "xsigninx.amazonaws.com",
        ] {
            assert_eq!(
                is_terraform_user_agent(ua),
                ua.contains("Terraform/") || ua.contains("terraform-provider-aws/"),
                "{ua}"
            );
            assert_eq!(
                from_console(ua),
                ua.contains("console.amazonaws.com")
                    || ua.contains("console.ec2.amazonaws.com")
                    || ua.contains("console.aws.amazon.com")
                    || ua.contains("S3Console/")
                    || ua.starts_with("signin.amazonaws.com")
                    || ua == "AWS Internal",
                "{ua}"
            );
        }
    }

    #[test]
    fn principals_match_caller_or_issuing_role() {
        let r = record(
            r#"{"userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/ci-terraform/run-42","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::1:role/ci-terraform"}}},"userAgent":"aws-cli/2"}"#,
        );
        assert!(
            TerraformIdentity::new(&["arn:aws:iam::*:role/ci-terraform"], false).is_terraform(&r)
        );
        assert!(
            TerraformIdentity::new(&["arn:aws:sts::1:assumed-role/ci-*/*"], false).is_terraform(&r)
        );
        assert!(!TerraformIdentity::new(&["arn:aws:iam::*:role/other"], true).is_terraform(&r));
    }

    #[test]
    fn user_agent_trust_is_configurable() {
        let r = record(r#"{"userAgent":"APN/1.0 HashiCorp/1.0 Terraform/1.5.7"}"#);
        assert!(TerraformIdentity::new::<&str>(&[], true).is_terraform(&r));
        assert!(!TerraformIdentity::new::<&str>(&[], false).is_terraform(&r));
    }

    #[test]
    fn kinds_and_names() {
        let console = record(
            r#"{"userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/AWSReservedSSO_Admin_abc/alice@example.com"},"sessionCredentialFromConsole":"true","userAgent":"Mozilla/5.0"}"#,
        );
        assert_eq!(actor_kind(&console, false), ActorKind::Console);
        assert_eq!(actor(&console).as_deref(), Some("alice@example.com"));

        let user = record(
            r#"{"userIdentity":{"type":"IAMUser","userName":"bob","arn":"arn:aws:iam::1:user/bob"},"userAgent":"aws-cli/2"}"#,
        );
        assert_eq!(actor_kind(&user, false), ActorKind::SdkOrCli);
        assert_eq!(actor(&user).as_deref(), Some("bob"));
        assert_eq!(actor_kind(&user, true), ActorKind::Terraform);

        let service = record(
            r#"{"userIdentity":{"type":"AWSService","invokedBy":"lambda.amazonaws.com"},"userAgent":"lambda.amazonaws.com"}"#,
        );
        assert_eq!(actor_kind(&service, false), ActorKind::AwsService);
        assert_eq!(actor(&service).as_deref(), Some("lambda.amazonaws.com"));

        let sourced = record(
            r#"{"userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/r/s","sessionContext":{"sourceIdentity":"carol"}}}"#,
        );
        assert_eq!(actor(&sourced).as_deref(), Some("carol"));
        assert_eq!(actor_kind(&sourced, false), ActorKind::Unknown);

        let linked = record(
            r#"{"userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/AWSServiceRoleForAutoScaling/AutoScaling","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::1:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"}}},"userAgent":"autoscaling.amazonaws.com"}"#,
        );
        assert_eq!(actor_kind(&linked, false), ActorKind::AwsService);

        // A forged service host in the user agent is a client like any other.
        let forged = record(
            r#"{"userIdentity":{"type":"IAMUser","userName":"mallory","arn":"arn:aws:iam::1:user/mallory"},"userAgent":"ec2.amazonaws.com"}"#,
        );
        assert_eq!(actor_kind(&forged, false), ActorKind::SdkOrCli);
        // A role whose name only looks like a service-linked role's path is not one.
        let lookalike = record(
            r#"{"userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/x/y","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::1:role/team/aws-service-role/x"}}}}"#,
        );
        assert_eq!(actor_kind(&lookalike, false), ActorKind::Unknown);

        let signin = record(
            r#"{"userIdentity":{"type":"IAMUser","userName":"dave","arn":"arn:aws:iam::1:user/dave","invokedBy":"signin.amazonaws.com"}}"#,
        );
        assert_eq!(actor_kind(&signin, false), ActorKind::Console);
        assert_eq!(actor(&signin).as_deref(), Some("dave"));

        let stack = record(
            r#"{"userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/dev/erin","invokedBy":"cloudformation.amazonaws.com"},"userAgent":"cloudformation.amazonaws.com"}"#,
        );
        assert_eq!(actor_kind(&stack, false), ActorKind::ProvisioningService);
        assert_eq!(
            actor(&stack).as_deref(),
            Some("cloudformation.amazonaws.com")
        );

        let forwarded = record(
            r#"{"userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/dev/erin","invokedBy":"ec2.amazonaws.com"}}"#,
        );
        assert_eq!(actor_kind(&forwarded, false), ActorKind::AwsService);

        let root = record(r#"{"userIdentity":{"type":"Root","arn":"arn:aws:iam::1:root"}}"#);
        assert_eq!(actor(&root).as_deref(), Some("root"));
    }
}
