//! `tfdrift-replay s3://bucket/prefix` over a CloudTrail trail laid out as CloudTrail lays it out, in moto's
//! S3 on 127.0.0.1 (with fake keys), behind a proxy here that records every request: an account's trail and
//! an organisation trail's, several regions and days, `.json.gz` files of real records (tests/data) whose
//! `eventTime` is set before the file's delivery time, as AWS documents ("a log file delivered at a specific
//! time can contain records written at any point before that time", CloudTrail log file name format).
//!
//! The window (`--since`/`--until`), `--account` and `--region` must keep every object outside them from
//! being read (no GET reaches the server), and the findings must be those of the same files replayed from a
//! local folder. Also: Ctrl-C mid-run gives a partial report and exit code 130, and progress lines go to
//! standard error when it is not a terminal. Needs moto (`scripts/test.sh` installs it): without it these
//! tests fail, they do not skip.

use tfdrift_test_support as common;

use common::{MotoServer, real_records, test_environment, types_state, wait_for};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BUCKET: &str = "trail";
const PREFIX: &str = "org-logs";
const ACCOUNT: &str = "111111111111";
const MEMBER: &str = "222222222222";
const ORG: &str = "o-exampleorg1";
const OTHER_ACCOUNT: &str = "333333333333";
const REGIONS: [&str; 3] = ["ap-south-1", "eu-west-1", "us-east-1"];

fn replay() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tfdrift-replay"));
    command.env("RUST_LOG", "warn");
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn succeeded(output: &Output) {
    assert!(
        output.status.success(),
        "tfdrift-replay failed:\n{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

fn summary(output: &Output) -> String {
    text(&output.stderr)
        .lines()
        .rfind(|l| l.contains(" records ("))
        .unwrap_or_else(|| panic!("no summary in: {}", text(&output.stderr)))
        .to_owned()
}

/// A CloudTrail log file's name.
fn file_name(account: &str, region: &str, delivered: &str, n: usize) -> String {
    // delivered: YYYYMMDDTHHMMZ
    format!("{account}_CloudTrail_{region}_{delivered}_{n:016}.json.gz")
}

fn gzip(records: &[Value]) -> Vec<u8> {
    let text = json!({ "Records": records }).to_string();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap()
}

/// One object of the trail.
struct TrailObject {
    key: String,
    bytes: Vec<u8>,
    /// Whether the run over the window must read it.
    read: bool,
    /// Its records' times.
    times: Vec<String>,
}

/// The trail: for each account (one of its own, one of an organisation, one left out by `--account`) and
/// region, files delivered across 2024-03-01..06; the window is [2024-03-02, 2024-03-04) with the default
/// grace of a day, and `--region` leaves out ap-south-1.
fn trail_objects() -> Vec<TrailObject> {
    let values: Vec<Value> = real_records().into_iter().map(|r| r.value).collect();
    let mut records = values.into_iter().cycle();
    // (delivered, records' time, read): files delivered before the window's start (not read), at its start
    // (read: they may hold records of the window; these hold none), inside, just after its end with records
    // from inside it (a late delivery), within the grace, and after it (not read).
    let files = [
        ("20240301T1200Z", "2024-03-01T11:55:00Z", false),
        ("20240301T2359Z", "2024-03-01T23:58:10Z", false),
        ("20240302T0000Z", "2024-03-01T23:59:30Z", true),
        ("20240302T1200Z", "2024-03-02T11:55:00Z", true),
        ("20240303T1200Z", "2024-03-03T11:55:00Z", true),
        ("20240304T0010Z", "2024-03-03T23:59:00Z", true),
        ("20240304T1200Z", "2024-03-04T11:55:00Z", true),
        ("20240305T1200Z", "2024-03-05T11:55:00Z", false),
        ("20240306T1200Z", "2024-03-06T11:55:00Z", false),
    ];
    let mut objects = Vec::new();
    let accounts = [
        (format!("{PREFIX}/AWSLogs/{ACCOUNT}"), ACCOUNT, true),
        (format!("{PREFIX}/AWSLogs/{ORG}/{MEMBER}"), MEMBER, true),
        (
            format!("{PREFIX}/AWSLogs/{OTHER_ACCOUNT}"),
            OTHER_ACCOUNT,
            false,
        ),
    ];
    let mut n = 0;
    for (root, account, wanted_account) in &accounts {
        for region in REGIONS {
            for (delivered, time, in_window) in files {
                let day = format!(
                    "{}/{}/{}",
                    &delivered[0..4],
                    &delivered[4..6],
                    &delivered[6..8]
                );
                n += 1;
                let key = format!(
                    "{root}/CloudTrail/{region}/{day}/{}",
                    file_name(account, region, delivered, n)
                );
                let batch: Vec<Value> = (0..9)
                    .map(|_| {
                        let mut record = records.next().unwrap();
                        record["eventTime"] = json!(time);
                        record
                    })
                    .collect();
                objects.push(TrailObject {
                    key,
                    bytes: gzip(&batch),
                    read: in_window && *wanted_account && region != "ap-south-1",
                    times: vec![time.to_owned(); batch.len()],
                });
            }
        }
    }
    // What is beside the log files in a trail's bucket: digests (never read), and a folder that is no account.
    objects.push(TrailObject {
        key: format!(
            "{PREFIX}/AWSLogs/{ACCOUNT}/CloudTrail-Digest/us-east-1/2024/03/02/{ACCOUNT}_CloudTrail-Digest_us-east-1_trail_us-east-1_20240302T120000Z.json.gz"
        ),
        bytes: gzip(&[]),
        read: false,
        times: Vec::new(),
    });
    objects.push(TrailObject {
        key: format!("{PREFIX}/AWSLogs/notes/readme.json"),
        bytes: b"{}".to_vec(),
        read: false,
        times: Vec::new(),
    });
    objects
}

/// A proxy on 127.0.0.1 in front of moto that records the request line of every request (the SDK's GETs
/// have no body, so each request is its header block).
struct RecordingProxy {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

impl RecordingProxy {
    fn start(upstream: u16) -> RecordingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let recorded = Arc::clone(&recorded);
                let (mut client_read, mut server_write) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || {
                    let mut pending = Vec::new();
                    let mut buffer = [0u8; 16 * 1024];
                    loop {
                        let n = match client_read.read(&mut buffer) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        pending.extend_from_slice(&buffer[..n]);
                        while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&pending[..end]).into_owned();
                            if let Some(line) = head.lines().next() {
                                recorded.lock().unwrap().push(line.to_owned());
                            }
                            pending.drain(..end + 4);
                        }
                        if server_write.write_all(&buffer[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = server_write.shutdown(std::net::Shutdown::Write);
                });
                let (mut server_read, mut client_write) = (server, client);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut server_read, &mut client_write);
                    let _ = client_write.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        RecordingProxy { port, requests }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// The keys of the objects the requests read (GETs that are no listing), as the path names them.
fn objects_read(requests: &[String]) -> BTreeSet<String> {
    requests
        .iter()
        .filter_map(|line| {
            let mut parts = line.split(' ');
            let (method, target) = (parts.next()?, parts.next()?);
            let path = target.split('?').next()?;
            let query = target.split_once('?').map_or("", |(_, q)| q);
            (method == "GET" && !query.contains("list-type")).then(|| {
                path.strip_prefix(&format!("/{BUCKET}/"))
                    .unwrap_or(path)
                    .to_owned()
            })
        })
        .filter(|key| !key.is_empty())
        .collect()
}

/// Writes the objects to `dir` under their keys.
fn write_local(dir: &Path, objects: &[&TrailObject]) {
    for object in objects {
        let path = dir.join(&object.key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &object.bytes).unwrap();
    }
}

const WINDOW: [&str; 4] = ["--since", "2024-03-02", "--until", "2024-03-04T00:00:00Z"];

#[test]
fn a_window_of_a_trail_reads_only_its_objects_and_finds_what_a_local_replay_finds() {
    test_environment();
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET);
    let objects = trail_objects();
    for object in &objects {
        moto.put(BUCKET, &object.key, &object.bytes);
    }
    let proxy = RecordingProxy::start(moto.port);
    let dir = tempfile::tempdir().unwrap();
    let state = types_state(dir.path());

    let output = replay()
        .arg("--state")
        .arg(&state)
        .arg(format!("s3://{BUCKET}/{PREFIX}/"))
        .args(WINDOW)
        .args(["--account", ACCOUNT, "--account", MEMBER])
        .args(["--region", "us-east-1", "--region", "eu-west-1"])
        .args([
            "--s3-region",
            "us-east-1",
            "--endpoint-url",
            &proxy.endpoint(),
        ])
        .args(["--concurrency", "3", "--progress-interval", "0.01"])
        .output()
        .unwrap();
    succeeded(&output);

    // Every object of the window was read, and not one outside it.
    let requests = proxy.requests();
    let expected: BTreeSet<String> = objects
        .iter()
        .filter(|o| o.read)
        .map(|o| o.key.clone())
        .collect();
    assert_eq!(expected.len(), 2 * 2 * 5);
    assert_eq!(objects_read(&requests), expected, "{requests:#?}");
    // Not even listed: the account left out, the region left out, the days after the grace.
    for never in [
        OTHER_ACCOUNT,
        "ap-south-1",
        "2024%2F03%2F06",
        "2024/03/06",
        "CloudTrail-Digest",
    ] {
        assert!(
            !requests.iter().any(|r| r.contains(never)),
            "{never} was asked for: {requests:#?}"
        );
    }

    // The records judged are those of the objects read whose time is in the window.
    let in_window = objects
        .iter()
        .filter(|o| o.read)
        .flat_map(|o| &o.times)
        .filter(|t| t.as_str() >= "2024-03-02T00:00:00Z" && t.as_str() < "2024-03-04T00:00:00Z")
        .count();
    let outside = objects
        .iter()
        .filter(|o| o.read)
        .map(|o| o.times.len())
        .sum::<usize>()
        - in_window;
    let line = summary(&output);
    assert!(
        line.starts_with(&format!("{in_window} records ({in_window} CloudTrail")),
        "{line}"
    );
    assert!(line.contains(" from 20 files"), "{line}");
    assert!(
        line.contains(&format!(
            "; {outside} records outside --since/--until skipped"
        )),
        "{line}"
    );

    // The same files from a local folder, in the same order: the same findings, line for line.
    let local = dir.path().join("local");
    write_local(
        &local,
        &objects.iter().filter(|o| o.read).collect::<Vec<_>>(),
    );
    let from_disk = replay()
        .arg("--state")
        .arg(&state)
        .arg(&local)
        .args(WINDOW)
        .arg("--quiet")
        .output()
        .unwrap();
    succeeded(&from_disk);
    let findings = text(&output.stdout);
    assert!(findings.lines().count() > 0, "no finding: {line}");
    assert!(
        findings.lines().all(|l| l.starts_with("UNMANAGED")),
        "{findings}"
    );
    assert_eq!(findings, text(&from_disk.stdout));
    assert_eq!(line, summary(&from_disk));

    // Progress lines, standard error being no terminal.
    assert!(
        text(&output.stderr)
            .lines()
            .any(|l| l.starts_with("progress: ")),
        "{}",
        text(&output.stderr)
    );

    // The whole trail, with no filter: every log file (not the digest, nor what is no account) is read.
    let all = replay()
        .arg("--state")
        .arg(&state)
        .arg(format!("s3://{BUCKET}/{PREFIX}"))
        .args([
            "--s3-region",
            "us-east-1",
            "--endpoint-url",
            &proxy.endpoint(),
            "--quiet",
        ])
        .output()
        .unwrap();
    succeeded(&all);
    assert!(
        summary(&all).contains(&format!(" from {} files", 3 * 3 * 9)),
        "{}",
        summary(&all)
    );
    assert!(text(&all.stdout).lines().count() > findings.lines().count());
}

/// A bucket with no trail, or a bucket that does not exist: an error, never an empty report.
#[test]
fn no_trail_is_an_error() {
    test_environment();
    let moto = MotoServer::start();
    moto.create_bucket("empty");
    let dir = tempfile::tempdir().unwrap();
    let state = types_state(dir.path());
    for uri in ["s3://empty/logs", "s3://no-such-bucket"] {
        let output = replay()
            .arg("--state")
            .arg(&state)
            .arg(uri)
            .args([
                "--s3-region",
                "us-east-1",
                "--endpoint-url",
                &moto.endpoint(),
            ])
            .output()
            .unwrap();
        assert!(!output.status.success(), "{uri}: {}", text(&output.stderr));
        assert!(
            text(&output.stderr).contains("AWSLogs/"),
            "{uri}: {}",
            text(&output.stderr)
        );
    }
}

/// Ctrl-C while an input is still being read (a FIFO nobody finishes writing): the inputs read before are
/// reported, the summary says the report is partial, and the exit code is 130.
#[test]
fn ctrl_c_gives_a_partial_report() {
    let dir = tempfile::tempdir().unwrap();
    let state = types_state(dir.path());
    let first = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/cloudtrail/stratus-red-team/aws.persistence.iam-create-admin-user.json");
    let fifo = dir.path().join("z-slow.json");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());

    let alone = replay()
        .arg("--state")
        .arg(&state)
        .arg(&first)
        .arg("--quiet")
        .output()
        .unwrap();
    succeeded(&alone);
    assert!(!alone.stdout.is_empty());

    let mut child = replay()
        .arg("--state")
        .arg(&state)
        .arg(&first)
        .arg(&fifo)
        .args(["--progress-interval", "0.05"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Opening the FIFO for writing waits for the command to open it for reading.
    let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    writer
        .write_all(b"{\"Records\": [{\"eventVersion\": ")
        .unwrap();
    let stderr = Arc::new(Mutex::new(String::new()));
    {
        let stderr = Arc::clone(&stderr);
        let mut pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                stderr
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
    }
    wait_for("the first file read", Duration::from_secs(60), || {
        stderr.lock().unwrap().contains("progress: 1/2 objects")
    });
    let signal = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(signal.success());
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let status = child.wait().unwrap();
    drop(writer);
    // The reader thread ends with the pipe.
    wait_for("standard error closed", Duration::from_secs(10), || {
        stderr.lock().unwrap().contains(" records (")
    });
    let stderr = stderr.lock().unwrap().clone();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert_eq!(stdout, text(&alone.stdout));
    assert!(
        stderr.contains("interrupted: the report is partial"),
        "{stderr}"
    );
    let line = stderr.lines().rfind(|l| l.contains(" records (")).unwrap();
    assert!(line.contains(" from 1 files"), "{line}");
    assert_eq!(line, summary(&alone));
}
