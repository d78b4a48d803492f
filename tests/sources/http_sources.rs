//! The HTTP source (Terraform's `http` backend, GitLab) and the HCP Terraform source, against small servers on
//! 127.0.0.1 that speak just enough of those APIs: conditional GETs, basic and bearer authentication, the
//! workspace and state version documents, tags and pages, presigned download URLs on another origin. And the
//! rule that secrets stay out of errors and logs.

use tfdrift_test_support as common;

use common::*;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn bytes(state: &Value) -> Vec<u8> {
    serde_json::to_vec(state).expect("a state serialises")
}

fn basic(user: &str, password: &str) -> String {
    // RFC 4648 base64, enough for a test.
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}").into_bytes();
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    format!("Basic {out}")
}

/// What the fake `http` backend serves: the state's bytes and its ETag (none: a server without validators).
#[derive(Clone)]
struct Served {
    body: Vec<u8>,
    etag: Option<String>,
    truncate: bool,
}

fn http_backend(served: Arc<Mutex<Served>>, authorization: String) -> TestServer {
    TestServer::start(move |request| {
        if request.header("authorization") != Some(authorization.as_str()) {
            return TestReply::new(401).header("www-authenticate", "Basic realm=\"state\"");
        }
        if request.path() != "/api/v4/projects/42/terraform/state/production" {
            return TestReply::new(404);
        }
        let served = served.lock().expect("the served state").clone();
        if let Some(etag) = &served.etag
            && request.header("if-none-match") == Some(etag.as_str())
        {
            return TestReply::new(304).header("etag", etag);
        }
        let mut reply = TestReply::new(200).header("content-type", "application/json");
        if let Some(etag) = &served.etag {
            reply = reply.header("etag", etag);
        }
        reply.body = served.body;
        reply.truncate = served.truncate;
        reply
    })
}

fn http_config(server: &TestServer, auth: Value) -> Value {
    let mut http = json!({"url": server.url("/api/v4/projects/42/terraform/state/production")});
    if let (Some(http), Some(auth)) = (http.as_object_mut(), auth.as_object()) {
        for (k, v) in auth {
            http.insert(k.clone(), v.clone());
        }
    }
    json!({"states": [{"name": "gitlab", "http": http}], "refresh_interval": 1})
}

#[test]
fn http_backend_with_basic_auth_and_etags() {
    test_environment();
    let served = Arc::new(Mutex::new(Served {
        body: bytes(&security_group_state(1, "web")),
        etag: Some("\"v1\"".into()),
        truncate: false,
    }));
    let server = http_backend(Arc::clone(&served), basic("tfdrift", TEST_PASSWORD));
    let config = http_config(
        &server,
        json!({"username": "tfdrift", "password_env": TEST_PASSWORD_ENV}),
    );
    let mut capture = start_sg_capture(&config);
    assert_eq!(
        next_sg_answer(&mut capture),
        (
            Some("gitlab".into()),
            Some("aws_security_group.web".into()),
            Some(1)
        )
    );

    // Unchanged: conditional GETs answered 304, nothing parsed again.
    wait_for("conditional GETs", Duration::from_secs(10), || {
        server
            .requests()
            .iter()
            .filter(|r| r.header("if-none-match") == Some("\"v1\""))
            .count()
            >= 2
    });
    assert_eq!(metric(&mut capture, "state_loads"), 1);
    assert_eq!(metric(&mut capture, "refresh_failures"), 0);

    // Changed: swapped in.
    *served.lock().expect("the served state") = Served {
        body: bytes(&security_group_state(2, "web")),
        etag: Some("\"v2\"".into()),
        truncate: false,
    };
    until_answer(&mut capture, "serial 2", Duration::from_secs(10), |a| {
        a.2 == Some(2)
    });

    // A transfer cut short keeps serial 2.
    *served.lock().expect("the served state") = Served {
        body: bytes(&security_group_state(3, "web")),
        etag: Some("\"v3\"".into()),
        truncate: true,
    };
    let failures = metric(&mut capture, "refresh_failures");
    wait_for("a failure", Duration::from_secs(10), || {
        metric(&mut capture, "refresh_failures") > failures
    });
    until_answer(
        &mut capture,
        "still serial 2",
        Duration::from_secs(1),
        |a| a.2 == Some(2),
    );
    // Whole again: taken.
    served.lock().expect("the served state").truncate = false;
    until_answer(&mut capture, "serial 3", Duration::from_secs(10), |a| {
        a.2 == Some(3)
    });
}

#[test]
fn http_server_without_validators_is_not_parsed_again() {
    test_environment();
    let served = Arc::new(Mutex::new(Served {
        body: bytes(&security_group_state(1, "web")),
        etag: None,
        truncate: false,
    }));
    let token = format!("Bearer {TEST_TOKEN}");
    let server = http_backend(Arc::clone(&served), token);
    let config = http_config(&server, json!({"token_env": TEST_TOKEN_ENV}));
    let mut capture = start_sg_capture(&config);
    assert_eq!(next_sg_answer(&mut capture).2, Some(1));
    let checks = metric(&mut capture, "state_checks");
    wait_for("checks", Duration::from_secs(10), || {
        metric(&mut capture, "state_checks") >= checks + 2
    });
    assert_eq!(metric(&mut capture, "state_loads"), 1);
    served.lock().expect("the served state").body = bytes(&security_group_state(2, "web"));
    until_answer(&mut capture, "serial 2", Duration::from_secs(10), |a| {
        a.2 == Some(2)
    });
}

/// A workspace of the fake HCP Terraform.
struct FakeWorkspace {
    name: String,
    id: String,
    tags: Vec<String>,
    /// The current state version's id, and the state.
    version: Option<(String, Value)>,
}

type Workspaces = Arc<Mutex<Vec<FakeWorkspace>>>;

/// A fake HCP Terraform: the API on one origin, presigned downloads on another.
struct Hcp {
    api: TestServer,
    downloads: TestServer,
    workspaces: Workspaces,
    /// State versions whose next download stalls for three seconds before it is answered.
    stall: Arc<Mutex<Vec<String>>>,
}

fn hcp() -> Hcp {
    let workspaces: Workspaces = Arc::new(Mutex::new(Vec::new()));
    let stall: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let downloads = {
        let workspaces = Arc::clone(&workspaces);
        let stall = Arc::clone(&stall);
        TestServer::start(move |request| {
            let stalls = {
                let mut stall = stall.lock().expect("the stalls");
                let before = stall.len();
                stall.retain(|id| request.path() != format!("/archivist/{id}"));
                stall.len() != before
            };
            if stalls {
                std::thread::sleep(Duration::from_secs(3));
            }
            let all = workspaces.lock().expect("the workspaces");
            let found = all.iter().find_map(|w| {
                let (id, state) = w.version.as_ref()?;
                (request.path() == format!("/archivist/{id}")
                    && request.target.ends_with("?sig=presigned-signature"))
                .then(|| state.clone())
            });
            match found {
                Some(state) => {
                    let mut reply = TestReply::new(200);
                    reply.body = bytes(&state);
                    reply
                }
                None => TestReply::new(404),
            }
        })
    };
    let download_base = downloads.url("/archivist/");
    let api = {
        let workspaces = Arc::clone(&workspaces);
        TestServer::start(move |request| {
            if request.header("authorization") != Some(&format!("Bearer {TEST_TOKEN}")) {
                return TestReply::json(401, &json!({"errors": [{"status": "401"}]}));
            }
            let all = workspaces.lock().expect("the workspaces");
            let path = request.path();
            if let Some(name) = path.strip_prefix("/api/v2/organizations/acme/workspaces/") {
                return match all.iter().find(|w| w.name == name) {
                    Some(w) => TestReply::json(
                        200,
                        &json!({"data": {"id": w.id, "type": "workspaces", "attributes": {"name": w.name}}}),
                    ),
                    None => TestReply::json(404, &json!({"errors": [{"status": "404"}]})),
                };
            }
            if path == "/api/v2/organizations/acme/workspaces" {
                // search[tags]=a,b (encoded), one workspace a page.
                let query = request.target.split_once('?').map(|(_, q)| q).unwrap_or("");
                let param = |name: &str| {
                    query
                        .split('&')
                        .find_map(|p| p.strip_prefix(name))
                        .map(|v| v.replace("%2C", ",").replace("%2c", ","))
                };
                let tags: Vec<String> = param("search%5Btags%5D=")
                    .map(|t| t.split(',').map(str::to_owned).collect())
                    .unwrap_or_default();
                let page: usize = param("page%5Bnumber%5D=")
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(1);
                let matching: Vec<_> = all
                    .iter()
                    .filter(|w| tags.iter().all(|t| w.tags.contains(t)))
                    .collect();
                let data: Vec<Value> = matching
                    .get(page - 1)
                    .map(|w| {
                        vec![json!({"id": w.id, "type": "workspaces", "attributes": {"name": w.name}})]
                    })
                    .unwrap_or_default();
                let next = if page < matching.len() {
                    json!(page + 1)
                } else {
                    Value::Null
                };
                return TestReply::json(
                    200,
                    &json!({"data": data, "meta": {"pagination": {"current-page": page, "next-page": next}}}),
                );
            }
            if let Some(id) = path
                .strip_prefix("/api/v2/workspaces/")
                .and_then(|p| p.strip_suffix("/current-state-version"))
            {
                return match all
                    .iter()
                    .find(|w| w.id == id)
                    .and_then(|w| w.version.as_ref())
                {
                    Some((version, _)) => TestReply::json(
                        200,
                        &json!({"data": {"id": version, "type": "state-versions", "attributes": {
                            "serial": 1,
                            "hosted-state-download-url": format!("{download_base}{version}?sig=presigned-signature"),
                        }}}),
                    ),
                    None => TestReply::json(404, &json!({"errors": [{"status": "404"}]})),
                };
            }
            TestReply::json(404, &json!({"errors": [{"status": "404"}]}))
        })
    };
    Hcp {
        api,
        downloads,
        workspaces,
        stall,
    }
}

impl Hcp {
    fn set(&self, name: &str, id: &str, tags: &[&str], version: Option<(&str, Value)>) {
        let mut all = self.workspaces.lock().expect("the workspaces");
        all.retain(|w| w.name != name);
        all.push(FakeWorkspace {
            name: name.to_owned(),
            id: id.to_owned(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            version: version.map(|(v, s)| (v.to_owned(), s)),
        });
    }
}

#[test]
fn hcp_workspace_current_state_version() {
    test_environment();
    let hcp = hcp();
    hcp.set(
        "network",
        "ws-net",
        &[],
        Some(("sv-1", security_group_state(1, "web"))),
    );
    let config = json!({
        "states": [{"name": "hcp", "hcp": {
            "address": hcp.api.url(""), "organization": "acme", "workspace": "network",
            "token_env": TEST_TOKEN_ENV,
        }}],
        "refresh_interval": 1,
    });
    let mut capture = start_sg_capture(&config);
    assert_eq!(
        next_sg_answer(&mut capture),
        (
            Some("hcp".into()),
            Some("aws_security_group.web".into()),
            Some(1)
        )
    );
    // Unchanged version: the API is asked, nothing is downloaded again.
    let version_path = "/api/v2/workspaces/ws-net/current-state-version";
    wait_for("version checks", Duration::from_secs(10), || {
        hcp.api.count(version_path) >= 3
    });
    assert_eq!(hcp.downloads.count("/archivist/sv-1"), 1);
    assert_eq!(metric(&mut capture, "state_loads"), 1);
    // The workspace id is looked up once.
    assert_eq!(
        hcp.api
            .count("/api/v2/organizations/acme/workspaces/network"),
        1
    );
    // The token goes to the API only, never to the presigned download URL on another origin.
    assert!(
        hcp.downloads
            .requests()
            .iter()
            .all(|r| r.header("authorization").is_none())
    );

    hcp.set(
        "network",
        "ws-net",
        &[],
        Some(("sv-2", security_group_state(2, "web"))),
    );
    until_answer(&mut capture, "serial 2", Duration::from_secs(10), |a| {
        a.2 == Some(2)
    });
}

#[test]
fn hcp_workspaces_by_tags_over_pages() {
    test_environment();
    let hcp = hcp();
    let vpc = state_v4(
        1,
        vec![resource(
            "",
            "aws_vpc",
            "main",
            json!({"id": "vpc-0123456789abcdef0"}),
        )],
    );
    hcp.set(
        "net-prod",
        "ws-1",
        &["aws", "prod"],
        Some(("sv-a", security_group_state(3, "web"))),
    );
    hcp.set(
        "net-dev",
        "ws-2",
        &["aws", "dev"],
        Some(("sv-b", vpc.clone())),
    );
    hcp.set(
        "vpc-prod",
        "ws-3",
        &["aws", "prod"],
        Some(("sv-c", vpc.clone())),
    );
    hcp.set("empty-prod", "ws-4", &["aws", "prod"], None);
    let config = json!({
        "states": [{"name": "hcp", "hcp": {
            "address": hcp.api.url(""), "organization": "acme", "tags": ["aws", "prod"],
            "token_env": TEST_TOKEN_ENV,
        }}],
        "refresh_interval": 1,
    });
    let mut capture = start_sg_capture(&config);
    assert_eq!(
        next_sg_answer(&mut capture),
        (
            Some("hcp/net-prod".into()),
            Some("aws_security_group.web".into()),
            Some(3)
        )
    );
    // Two of the three prod workspaces have a state; the listing took three pages.
    assert_eq!(metric(&mut capture, "states_loaded"), 2);
    assert_eq!(metric(&mut capture, "refresh_failures"), 0);
    // A new tagged workspace is picked up.
    hcp.set("more-prod", "ws-5", &["aws", "prod"], Some(("sv-d", vpc)));
    wait_for("the new workspace", Duration::from_secs(10), || {
        metric(&mut capture, "states_loaded") == 3
    });
}

#[test]
fn hcp_a_poll_cut_short_loses_no_state_version() {
    // Two tagged workspaces; the second one's download stalls past the poll's time (poll_timeout 1 s) once.
    // The poll is given up; the first workspace's version, downloaded before the cut, must not be taken as
    // known: at the next poll both load.
    test_environment();
    let hcp = hcp();
    hcp.set(
        "a-net",
        "ws-1",
        &["aws"],
        Some(("sv-1", security_group_state(3, "web"))),
    );
    let vpc = state_v4(
        1,
        vec![resource(
            "",
            "aws_vpc",
            "main",
            json!({"id": "vpc-0123456789abcdef0"}),
        )],
    );
    hcp.set("b-vpc", "ws-2", &["aws"], Some(("sv-2", vpc)));
    hcp.stall.lock().unwrap().push("sv-2".into());
    let config = json!({
        "states": [{"name": "hcp", "hcp": {
            "address": hcp.api.url(""), "organization": "acme", "tags": ["aws"],
            "token_env": TEST_TOKEN_ENV,
        }}],
        "refresh_interval": 1,
        "poll_timeout": 1,
        "require_state_on_start": false,
    });
    let mut capture = start_sg_capture(&config);
    wait_for("both workspaces", Duration::from_secs(20), || {
        metric(&mut capture, "states_loaded") == 2
    });
    assert!(
        metric(&mut capture, "refresh_failures") >= 1,
        "the cut poll counts"
    );
    until_answer(
        &mut capture,
        "the first workspace answers",
        Duration::from_secs(5),
        |a| a.0.as_deref() == Some("hcp/a-net") && a.2 == Some(3),
    );
}

#[test]
fn secrets_stay_out_of_errors_and_logs() {
    test_environment();
    let hcp = hcp();
    hcp.set(
        "network",
        "ws-net",
        &[],
        Some(("sv-1", security_group_state(1, "web"))),
    );
    let served = Arc::new(Mutex::new(Served {
        body: bytes(&security_group_state(1, "web")),
        etag: None,
        truncate: false,
    }));
    let gitlab = http_backend(served, basic("tfdrift", "another-password"));

    // Refused credentials: the error names the variables, never their values.
    let config = json!({
        "states": [
            {"name": "gitlab", "http": {
                "url": gitlab.url("/api/v4/projects/42/terraform/state/production"),
                "username": "tfdrift", "password_env": TEST_PASSWORD_ENV}},
            {"name": "hcp", "hcp": {"address": hcp.api.url(""), "organization": "acme",
                "workspace": "network", "token_env": TEST_WRONG_TOKEN_ENV}},
        ],
    });
    let error = init_error(&config.to_string());
    assert!(
        error.contains("access denied") && error.contains(TEST_PASSWORD_ENV),
        "{error}"
    );
    assert!(error.contains("refused the token"), "{error}");
    for secret in [TEST_PASSWORD, TEST_WRONG_TOKEN, TEST_TOKEN] {
        assert!(!error.contains(secret), "{error}");
    }

    // The same through the replay command, with every log on: neither the secrets nor the presigned
    // download URL's signature appear.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let good = json!({
        "states": [
            {"name": "gitlab", "http": {
                "url": gitlab.url("/api/v4/projects/42/terraform/state/production"),
                "username": "tfdrift", "password_env": TEST_PASSWORD_ENV}},
            {"name": "hcp", "hcp": {"address": hcp.api.url(""), "organization": "acme",
                "workspace": "network", "token_env": TEST_TOKEN_ENV}},
            {"name": "bad-hcp", "hcp": {"address": hcp.api.url(""), "organization": "acme",
                "workspace": "network", "token_env": TEST_WRONG_TOKEN_ENV}},
        ],
    });
    let config_path = dir.path().join("config.json");
    std::fs::write(&config_path, good.to_string()).expect("write the config");
    let records = dir.path().join("records.json");
    std::fs::write(&records, format!("[{}]", source_sg_record())).expect("write the records");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tfdrift-replay"))
        .arg("--config")
        .arg(&config_path)
        .arg("--json")
        .arg(&records)
        .env("RUST_LOG", "trace")
        .output()
        .expect("run tfdrift-replay");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains("gitlab") && text.contains("bad-hcp"),
        "{text}"
    );
    for secret in [
        TEST_PASSWORD,
        TEST_WRONG_TOKEN,
        TEST_TOKEN,
        "presigned-signature",
        &basic("tfdrift", TEST_PASSWORD)["Basic ".len()..],
    ] {
        assert!(!text.contains(secret), "{secret} in: {text}");
    }
}

#[test]
fn an_over_limit_state_without_validators_is_not_downloaded_at_every_refresh() {
    // A server that gives neither ETag nor Last-Modified serves a state over max_state_bytes. It cannot be
    // told unchanged without being downloaded again; it is, but only after a pause (5 minutes, doubling),
    // not at every refresh (up to 512 MiB each time by default).
    test_environment();
    let served = Arc::new(Mutex::new(Served {
        body: bytes(&security_group_state(1, "web")),
        etag: None,
        truncate: false,
    }));
    let token = format!("Bearer {TEST_TOKEN}");
    let server = http_backend(Arc::clone(&served), token);
    let mut config = http_config(&server, json!({"token_env": TEST_TOKEN_ENV}));
    config["max_state_bytes"] = json!(64);
    config["require_state_on_start"] = json!(false);
    let mut capture = start_sg_capture(&config);
    assert_eq!(next_sg_answer(&mut capture), (None, None, None));
    let path = "/api/v4/projects/42/terraform/state/production";
    // Refreshes come every second: four of them pass.
    std::thread::sleep(Duration::from_secs(4));
    assert!(metric(&mut capture, "state_checks") + metric(&mut capture, "refresh_failures") >= 1);
    assert_eq!(server.count(path), 1, "downloaded again within the pause");
}

/// Set in the child process of [`a_declared_length_reserves_no_memory`].
const ALLOCATION_CHILD: &str = "TFDRIFT_TEST_ALLOCATION_CHILD";

#[test]
fn a_declared_length_reserves_no_memory() {
    // A server announces 12 GiB (under a raised max_state_bytes) and sends a few bytes. Were the announced
    // length reserved up front, the process would abort under a memory limit: an allocation failure is no
    // panic that a guard could catch. This test runs itself again under a 6 GiB address-space limit
    // (`prlimit --as`), where a 12 GiB reservation fails; the child must end well.
    if std::env::var_os(ALLOCATION_CHILD).is_some() {
        test_environment();
        let served = Arc::new(Mutex::new(Served {
            body: bytes(&security_group_state(1, "web")),
            etag: None,
            truncate: false,
        }));
        let token = format!("Bearer {TEST_TOKEN}");
        let authorization = token.clone();
        let server = TestServer::start(move |request| {
            if request.header("authorization") != Some(authorization.as_str()) {
                return TestReply::new(401);
            }
            let mut reply = TestReply::new(200);
            reply.body = served.lock().expect("the served state").body.clone();
            reply.declared_length = Some(12 << 30);
            reply
        });
        let mut config = http_config(&server, json!({"token_env": TEST_TOKEN_ENV}));
        config["states"][0]["http"]["url"] = json!(server.url("/state"));
        config["max_state_bytes"] = json!(16u64 << 30);
        config["require_state_on_start"] = json!(false);
        let mut capture = start_sg_capture(&config);
        assert_eq!(next_sg_answer(&mut capture), (None, None, None));
        assert!(metric(&mut capture, "refresh_failures") >= 1);
        return;
    }
    let exe = std::env::current_exe().expect("the test executable");
    let status = std::process::Command::new("prlimit")
        .arg(format!("--as={}", 6u64 << 30))
        .arg(exe)
        .args([
            "--exact",
            "http_sources::a_declared_length_reserves_no_memory",
            "--test-threads=1",
        ])
        .env(ALLOCATION_CHILD, "1")
        .status()
        .expect("prlimit (util-linux) runs the child");
    assert!(status.success(), "the child under the limit: {status}");
}
