//! The state module against states written by other projects (`tests/data/tfstate`, see its README):
//! every file parses or is refused with a clear message, never a panic; addresses, lookups and
//! sensitivity on known resources; and a rough timing report (meaningful with `--release`).

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use tfdrift::state::{Index, InstanceStatus, KeyTable, Limits, State, StateError, parse};

/// The states written by other projects (see `tests/data/README.md`).
fn tfstate_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tfstate")
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn rel(p: &Path) -> String {
    p.strip_prefix(tfstate_dir())
        .unwrap_or(p)
        .display()
        .to_string()
}

fn load(rel_path: &str) -> State {
    let p = tfstate_dir().join(rel_path);
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    parse(rel_path, &bytes, &Limits::default()).unwrap_or_else(|e| panic!("{rel_path}: {e}"))
}

fn addresses(s: &State) -> Vec<&str> {
    s.instances.iter().map(|i| &*i.address).collect()
}

/// Every file: loaded, or refused for a stated reason; the deliberately broken ones are refused.
fn load_all() -> (Vec<Arc<State>>, BTreeMap<String, String>) {
    let mut files = Vec::new();
    files_under(&tfstate_dir(), &mut files);
    assert!(files.len() >= 190, "only {} files found", files.len());
    let mut loaded = Vec::new();
    let mut refused = BTreeMap::new();
    let mut panics = Vec::new();
    for f in &files {
        let name = rel(f);
        let bytes = std::fs::read(f).unwrap_or_else(|e| panic!("{name}: {e}"));
        match catch_unwind(AssertUnwindSafe(|| {
            parse(&name, &bytes, &Limits::default())
        })) {
            Ok(Ok(s)) => loaded.push(Arc::new(s)),
            Ok(Err(e)) => {
                refused.insert(name, e.to_string());
            }
            Err(_) => panics.push(name),
        }
    }
    assert!(panics.is_empty(), "parse panicked on {panics:?}");
    (loaded, refused)
}

#[test]
fn every_real_file_parses_or_is_refused_clearly() {
    let (loaded, refused) = load_all();
    let instances: usize = loaded.iter().map(|s| s.instances.len()).sum();
    let mut by_version = BTreeMap::new();
    for s in &loaded {
        *by_version.entry(s.format_version).or_insert(0) += 1;
    }
    println!(
        "loaded {} states ({instances} managed instances; by format version {by_version:?}), refused {}:",
        loaded.len(),
        refused.len()
    );
    let mut by_reason: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (file, msg) in &refused {
        println!("  {file}: {msg}");
        let reason = msg.split(':').next().unwrap_or(msg);
        by_reason.entry(reason).or_default().push(file);
    }
    for (reason, files) in &by_reason {
        println!("  {} x {reason}", files.len());
    }

    // What the folders hold that is not a state: empty files, git symlinks checked out as text files
    // naming their target, a deliberately corrupted file, and a v2 header without modules.
    let expected_refused = [
        "driftctl/pkg/iac/terraform/state/enumerator/testdata/edge_cases/terraform.tfstate/terraform.tfstate",
        "driftctl/pkg/iac/terraform/state/enumerator/testdata/states/lambda/lambda.tfstate",
        "driftctl/pkg/iac/terraform/state/enumerator/testdata/states/s3/terraform.tfstate",
        "driftctl/pkg/iac/terraform/state/enumerator/testdata/states/symlink.tfstate",
        "driftctl/pkg/iac/terraform/state/enumerator/testdata/states/terraform.tfstate",
        "driftctl/pkg/iac/terraform/state/testdata/v4/invalid.tfstate",
        "inframap/invalid_version_state.json",
        "tfstate-lookup/tfstate/roundtrip/v4-cbd.out.tfstate",
        "tfstate-lookup/tfstate/roundtrip/v4-foreach.out.tfstate",
        "tfstate-lookup/tfstate/roundtrip/v4-modules.out.tfstate",
        "tfstate-lookup/tfstate/roundtrip/v4-simple.out.tfstate",
    ];
    let got: Vec<&str> = refused.keys().map(String::as_str).collect();
    assert_eq!(got, expected_refused);
    for (file, msg) in &refused {
        let clear = msg.starts_with("not JSON: ") || msg.starts_with("not a Terraform state: ");
        assert!(clear, "{file}: unclear refusal {msg:?}");
    }
    assert_eq!(
        refused["inframap/invalid_version_state.json"],
        "not a Terraform state: no `resources` (format 4) or `modules` (formats 1 to 3) field"
    );
    assert_eq!(
        refused["driftctl/pkg/iac/terraform/state/enumerator/testdata/states/s3/terraform.tfstate"],
        "not JSON: the file is empty"
    );
    // A git symlink checked out as a file: recognised, and its content never quoted (a state file that is
    // not JSON may still hold secrets, and the message reaches logs).
    let symlink = &refused["tfstate-lookup/tfstate/roundtrip/v4-cbd.out.tfstate"];
    assert!(symlink.contains("symlink"), "{symlink}");
    assert!(!symlink.contains("v4-cbd"), "{symlink}");
    // The data README counts 191 parseable files: the JSON ones, among them inframap's
    // invalid_version_state.json, a v2 header with neither `modules` nor `resources`, which is refused
    // here as not a state.
    assert!(
        (186..=196).contains(&loaded.len()),
        "{} loaded",
        loaded.len()
    );
    assert_eq!(loaded.len(), 190);
}

#[test]
fn addresses_for_each_count_and_modules() {
    let s = load("tfstate-lookup/tfstate/test/terraform.tfstate");
    assert_eq!(s.format_version, 4);
    assert_eq!(
        addresses(&s),
        [
            "aws_acm_certificate.main",
            r#"module.logs.aws_cloudwatch_log_group.main["app"]"#,
            r#"module.logs.aws_cloudwatch_log_group.main["web"]"#,
            "aws_iam_role_policy_attachment.ec2[0]",
            "aws_iam_role_policy_attachment.ec2[1]",
            "module.webapp.module.ecs_task_roles.aws_iam_role.task_execution_role",
            "module.subnets.aws_subnet.main[0]",
            "module.subnets.aws_subnet.main[1]",
            r#"aws_iam_user.users["foo.bar"]"#,
            r#"aws_iam_user.users["hoge.fuga"]"#,
            r#"aws_iam_user.user["me"]"#,
        ]
    );
    let role = &s.instances[5];
    assert_eq!(&*role.module, "module.webapp.module.ecs_task_roles");
    assert_eq!(&*role.resource_type, "aws_iam_role");
    assert_eq!(role.status, InstanceStatus::Current);
    assert_eq!(
        role.string_attribute("arn").as_deref(),
        Some("arn:aws:iam::123456789012:role/task-execution-role")
    );

    let s = load("inframap/repeated_modules.json");
    let a = addresses(&s);
    for want in [
        "module.ec2_ubuntu_a[0].aws_instance.this[0]",
        "module.ec2_ubuntu_b[1].aws_instance.this[0]",
        "module.ec2_openvpn.module.bastion_sg.aws_security_group.this_name_prefix[0]",
        "module.vpc.aws_nat_gateway.this[0]",
    ] {
        assert!(a.contains(&want), "{want} not in {a:?}");
    }
    let ubuntu = s
        .instances
        .iter()
        .find(|i| &*i.address == "module.ec2_ubuntu_a[1].aws_instance.this[0]")
        .map(|i| (&*i.module, i.string_attribute("id")));
    assert_eq!(
        ubuntu,
        Some((
            "module.ec2_ubuntu_a[1]",
            Some("i-0bbdaaaca5cf61ef5".to_owned())
        ))
    );

    let s = load("inframap/aws_state_with_count.json");
    assert_eq!(
        addresses(&s),
        [
            "flexibleengine_blockstorage_volume_v2.PBbzj[0]",
            "flexibleengine_blockstorage_volume_v2.PBbzj[1]",
            "flexibleengine_compute_instance_v2.fllXa",
        ]
    );

    let s = load("inframap/multi_module_state.json");
    assert_eq!(
        addresses(&s),
        [
            "scaleway_instance_placement_group.infra",
            "module.kapsule.scaleway_k8s_cluster_beta.cluster",
            "module.node_pool.scaleway_k8s_pool_beta.nodes",
        ]
    );

    // v4 written by Terraform 0.12's upgrade of a legacy state: `attributes_flat`, for_each in a module.
    let s = load("tfstate-lookup/tfstate/roundtrip/v4-legacy-modules.in.tfstate");
    assert_eq!(
        addresses(&s),
        [
            "null_resource.bar",
            r#"module.modB.null_resource.bar["a"]"#,
            r#"module.modB.null_resource.bar["b"]"#,
            "module.modA.null_resource.resource",
        ]
    );
    assert_eq!(
        s.instances[0]
            .string_attribute("triggers.whaaat")
            .as_deref(),
        Some("0,1")
    );
    assert_eq!(
        s.instances[3]
            .attribute("triggers.input")
            .and_then(|v| v.as_str().map(str::to_owned))
            .as_deref(),
        Some("test")
    );
}

#[test]
fn legacy_formats() {
    let s = load("tfstate-lookup/tfstate/roundtrip/v1-simple.in.tfstate");
    assert_eq!(s.format_version, 1);
    assert_eq!(s.serial, 1);
    let mut a = addresses(&s);
    a.sort_unstable();
    assert_eq!(
        a,
        [
            "null_resource.bar",
            "null_resource.foo[0]",
            "null_resource.foo[1]"
        ]
    );

    let s = load("tfstate-lookup/tfstate/roundtrip/v3-grabbag.in.tfstate");
    assert_eq!(s.format_version, 3);
    assert_eq!(s.terraform_version.as_deref(), Some("0.11.1"));
    let a = addresses(&s);
    assert!(a.contains(&"module.child.null_resource.foo"), "{a:?}");
    assert!(a.contains(&"null_resource.bar[1]"), "{a:?}");

    let s = load("inframap/version_3_state.json");
    let alb = s
        .instances
        .iter()
        .find(|i| &*i.address == "module.cycloid.aws_alb.front");
    let alb = alb.unwrap_or_else(|| panic!("no aws_alb in {:?}", addresses(&s)));
    assert_eq!(&*alb.module, "module.cycloid");
    assert_eq!(alb.string_attribute("id").as_deref(), Some("123"));
    assert_eq!(
        alb.string_attribute("vpc_id").as_deref(),
        Some("vpc-5972c43f")
    );
    assert_eq!(
        alb.attribute("subnets"),
        Some(serde_json::json!([
            "subnet-08c11040",
            "subnet-4caca117",
            "subnet-e8f5368e"
        ]))
    );
    assert!(s.instances.iter().all(|i| !i.address.starts_with("data.")));
}

fn keys() -> KeyTable {
    KeyTable::new(&["id", "arn"])
        .with_type("aws_s3_bucket", &["id", "bucket", "arn"])
        .with_type("aws_iam_role", &["id", "name", "arn", "unique_id"])
        .with_type("aws_iam_user", &["id", "name", "arn", "unique_id"])
}

#[test]
fn index_over_real_states() {
    let (loaded, _) = load_all();
    let count: usize = loaded.iter().map(|s| s.instances.len()).sum();
    let index = Index::build(loaded, &keys());
    assert_eq!(index.instance_count(), count);

    // One bucket name, three types in one state; and the same bucket in three states.
    let full = "driftctl/pkg/iac/terraform/state/test/aws_s3_full/terraform.tfstate";
    for t in [
        "aws_s3_bucket",
        "aws_s3_bucket_notification",
        "aws_s3_bucket_policy",
    ] {
        let hits: Vec<_> = index.lookup(t, "bucket-martin-test-drift3").collect();
        assert_eq!(hits.len(), 1, "{t}");
        assert_eq!(&*hits[0].state.name, full);
        assert_eq!(&*hits[0].instance.resource_type, t);
        assert_eq!(hits[0].key, "id");
    }
    let states: Vec<&str> = index
        .lookup("aws_s3_bucket", "bucket-martin-test-drift")
        .map(|h| &*h.state.name)
        .collect();
    assert_eq!(states.len(), 3, "{states:?}");
    assert!(states.contains(&"driftctl/pkg/iac/terraform/state/test/source/terraform.tfstate"));
    let by_arn: Vec<_> = index
        .lookup_arn("arn:aws:s3:::bucket-martin-test-drift")
        .map(|h| (&*h.instance.resource_type, h.key))
        .collect();
    assert_eq!(by_arn, [("aws_s3_bucket", "arn"); 3]);
    // `bucket` equals `id` (and comes first among the attributes): one hit, under the key the spec
    // lists first.
    assert_eq!(
        index
            .lookup("aws_s3_bucket", "bucket-martin-test-drift2")
            .map(|h| h.key)
            .collect::<Vec<_>>(),
        ["id"]
    );

    // IAM: by name, by ARN; a role inside nested modules.
    let hits: Vec<_> = index
        .lookup("aws_iam_role", "task-execution-role")
        .collect();
    assert_eq!(
        hits.iter()
            .map(|h| &*h.instance.address)
            .collect::<Vec<_>>(),
        ["module.webapp.module.ecs_task_roles.aws_iam_role.task_execution_role"]
    );
    let hits: Vec<_> = index
        .lookup_arn("arn:aws:iam::123456789012:role/task-execution-role")
        .collect();
    assert_eq!(hits.len(), 1);
    assert_eq!(
        index
            .lookup(
                "aws_iam_role",
                "arn:aws:iam::123456789012:role/task-execution-role"
            )
            .map(|h| h.key)
            .collect::<Vec<_>>(),
        ["arn"]
    );
    // Data sources are not managed.
    assert_eq!(
        index
            .lookup_arn("arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/dev-dev1-app/d122c303215d2e0c")
            .count(),
        0
    );
    assert!(
        !index.manages_type("aws_lb_target_group")
            || index.lookup("aws_lb_target_group", "dev-dev1-app").count() == 0
    );
    assert!(!index.manages_type("aws_caller_identity"));
    assert!(!index.manages_type("terraform_remote_state"));

    // The same resources in the round-trip input and output files.
    let states: Vec<&str> = index
        .lookup("null_resource", "8212585058302700791")
        .map(|h| &*h.state.name)
        .collect();
    assert!(states.len() >= 2, "{states:?}");

    assert!(index.manages_type("aws_instance"));
    assert!(index.manages_type("google_compute_firewall"));
    let aws_types = index.types().filter(|t| t.starts_with("aws_")).count();
    println!("{aws_types} aws_* managed types in the index");
    assert!(aws_types >= 100, "{aws_types}");
}

#[test]
fn sensitive_on_real_states() {
    let s = load("driftctl/pkg/iac/terraform/state/test/module.iam_iam-user/terraform.tfstate");
    let key = &s.instances[0];
    assert_eq!(
        &*key.address,
        "module.iam_iam-user.aws_iam_access_key.this_no_pgp[0]"
    );
    assert!(key.sensitive_attrs.is_empty());
    assert!(key.is_sensitive("secret"));
    assert!(key.is_sensitive("ses_smtp_password_v4"));
    assert!(key.is_sensitive("encrypted_secret"));
    assert!(!key.is_sensitive("user"));
    assert!(!key.is_sensitive("status"));
}

#[test]
fn refusals_name_the_problem() {
    let e = |bytes: &[u8]| -> StateError {
        match parse("x", bytes, &Limits::default()) {
            Ok(_) => panic!("accepted {:?}", String::from_utf8_lossy(bytes)),
            Err(e) => e,
        }
    };
    assert!(matches!(e(b""), StateError::NotJson(_)));
    assert!(matches!(e(b"null"), StateError::NotState(_)));
    assert!(matches!(e(b"[]"), StateError::NotState(_)));
    assert!(matches!(e(b"{}"), StateError::NotState(_)));
    assert!(matches!(
        e(br#"{"version": 7, "resources": []}"#),
        StateError::UnsupportedVersion(7)
    ));
    assert!(matches!(e(b"\xff\xfe{}"), StateError::NotJson(_)));
}

/// A state shaped like Terraform's output: `n` instances of an EC2-like resource, a tenth of them in
/// modules with for_each, pretty-printed with two-space indentation.
fn synthetic_state(n: usize) -> String {
    let mut resources = Vec::new();
    let per_resource = 10;
    for r in 0..n.div_ceil(per_resource) {
        let module = if r % 10 == 0 {
            Some(format!("module.app[\"m{r}\"]"))
        } else {
            None
        };
        let mut instances = Vec::new();
        for k in 0..per_resource.min(n - r * per_resource) {
            let id = format!("i-{:017x}", r * per_resource + k);
            instances.push(serde_json::json!({
                "index_key": k,
                "schema_version": 1,
                "attributes": {
                    "ami": "ami-0123456789abcdef0",
                    "arn": format!("arn:aws:ec2:eu-west-1:123456789012:instance/{id}"),
                    "associate_public_ip_address": false,
                    "availability_zone": "eu-west-1a",
                    "cpu_core_count": 1,
                    "ebs_block_device": [],
                    "id": id,
                    "instance_type": "t3.micro",
                    "key_name": "deployer",
                    "metadata_options": [{"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 1}],
                    "private_ip": format!("10.0.{}.{}", (r / 250) % 250, r % 250),
                    "root_block_device": [{"delete_on_termination": true, "encrypted": true, "iops": 3000, "volume_size": 8, "volume_type": "gp3", "tags": {}}],
                    "security_groups": [],
                    "subnet_id": "subnet-0123456789abcdef0",
                    "tags": {"Name": format!("web-{r}-{k}"), "Team": "platform", "Env": "prod"},
                    "user_data": "0123456789abcdef0123456789abcdef01234567",
                    "vpc_security_group_ids": ["sg-0123456789abcdef0", "sg-0fedcba9876543210"]
                },
                "sensitive_attributes": [],
                "private": "eyJzY2hlbWFfdmVyc2lvbiI6IjEifQ==",
                "dependencies": ["aws_security_group.web", "aws_subnet.main"]
            }));
        }
        let mut res = serde_json::json!({
            "mode": "managed",
            "type": "aws_instance",
            "name": format!("web{r}"),
            "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
            "instances": instances,
        });
        if let (Some(m), Some(obj)) = (module, res.as_object_mut()) {
            obj.insert("module".into(), m.into());
        }
        resources.push(res);
    }
    let state = serde_json::json!({
        "version": 4,
        "terraform_version": "1.9.8",
        "serial": 1234,
        "lineage": "5b2b1c2e-0000-0000-0000-000000000000",
        "outputs": {},
        "resources": resources,
        "check_results": null
    });
    serde_json::to_string_pretty(&state).unwrap_or_default()
}

#[test]
fn timing_report() {
    let build = if cfg!(debug_assertions) {
        "debug build: run `cargo test --release --test data_checks -- --nocapture real_states::timing` for real numbers"
    } else {
        "release build"
    };
    println!("timing ({build}):");

    let mut files = Vec::new();
    files_under(&tfstate_dir(), &mut files);
    let biggest = files
        .iter()
        .filter_map(|f| Some((std::fs::metadata(f).ok()?.len(), f)))
        .max();
    if let Some((size, f)) = biggest {
        let bytes = std::fs::read(f).unwrap_or_default();
        let t = Instant::now();
        let s = parse("big", &bytes, &Limits::default());
        let parsed = t.elapsed();
        if let Ok(s) = s {
            let n = s.instances.len();
            let t = Instant::now();
            let index = Index::build(vec![Arc::new(s)], &keys());
            println!(
                "  biggest real state {} ({size} bytes, {n} instances): parse {parsed:?}, index {:?}",
                rel(f),
                t.elapsed()
            );
            assert_eq!(index.instance_count(), n);
        }
    }

    // A tenth of the size in debug builds, where the numbers mean little anyway.
    let n = if cfg!(debug_assertions) {
        5_000
    } else {
        50_000
    };
    let text = synthetic_state(n);
    let t = Instant::now();
    let s = parse("synthetic", text.as_bytes(), &Limits::default())
        .unwrap_or_else(|e| panic!("synthetic state refused: {e}"));
    let parsed = t.elapsed();
    assert_eq!(s.instances.len(), n);
    assert_eq!(
        &*s.instances[0].address,
        "module.app[\"m0\"].aws_instance.web0[0]"
    );
    let kept: usize = s.instances.iter().map(|i| i.attributes.get().len()).sum();
    let t = Instant::now();
    let index = Index::build(vec![Arc::new(s)], &keys());
    let indexed = t.elapsed();
    let t = Instant::now();
    let mut found = 0;
    for i in (0..n).step_by(7) {
        let id = format!("i-{i:017x}");
        found += index.lookup("aws_instance", &id).count();
    }
    let lookups = n.div_ceil(7);
    let looked = t.elapsed();
    assert_eq!(found, lookups);
    println!(
        "  synthetic state ({} MB, {n} instances, {} MB of attributes kept): parse {parsed:?}, index {indexed:?}, \
         {lookups} lookups {looked:?} (including formatting the ids)",
        text.len() / 1_000_000,
        kept / 1_000_000
    );
}
