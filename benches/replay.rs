//! Replay: `tfdrift-replay` over a trail of `.json.gz` files against `gzip -dc` over the same files, in one
//! run, in alternating rounds: from local files on every core and on one, and from moto's S3 on 127.0.0.1
//! (with the GETs alone, by curl, to show what moto itself serves).
//!
//! The files are the real CloudTrail records of tests/data, written compact as CloudTrail writes them, all
//! of them in each file (`{"Records":[...]}`, about 100 KB gzipped), a few hundred files, under
//! `target/tmp/tfdrift-bench/replay/`. The state manages one resource of each type the records create, so
//! the run finds what a real one would (unmanaged changes) and prints it (to /dev/null).

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;
use support::Report;
use tfdrift_test_support::{
    MotoServer, real_records, resource, state_v4, test_environment, write_state,
};

const BUCKET: &str = "bench-trail";
const ACCOUNT: &str = "123456789012";
/// What moto takes as an authenticated request (it checks no signature): the fake key of the tests.
const MOTO_AUTH: &str = "authorization: AWS4-HMAC-SHA256 Credential=AKIATFDRIFTTESTKEY00/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";

struct Trail {
    dir: PathBuf,
    files: Vec<PathBuf>,
    keys: Vec<String>,
    records: u64,
    bytes: u64,
    raw_bytes: u64,
}

fn trail(files: usize) -> Trail {
    let dir = support::work_dir().join("replay");
    let _ = std::fs::remove_dir_all(&dir);
    let records: Vec<String> = real_records()
        .into_iter()
        .map(|r| serde_json::to_string(&r.value).expect("a record serialises"))
        .collect();
    let text = format!("{{\"Records\":[{}]}}", records.join(","));
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(text.as_bytes()).unwrap();
    let gz = encoder.finish().unwrap();
    let mut out = Trail {
        dir: dir.clone(),
        files: Vec::new(),
        keys: Vec::new(),
        records: 0,
        bytes: 0,
        raw_bytes: 0,
    };
    for n in 0..files {
        let day = 1 + n % 28;
        let (hour, minute) = ((n / 28) / 12 % 24, (n / 28) % 12 * 5);
        let key = format!(
            "AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2024/03/{day:02}/{ACCOUNT}_CloudTrail_us-east-1_202403{day:02}T{hour:02}{minute:02}Z_{n:016}.json.gz"
        );
        let path = dir.join(&key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &gz).unwrap();
        out.files.push(path);
        out.keys.push(key);
        out.records += records.len() as u64;
        out.bytes += gz.len() as u64;
        out.raw_bytes += text.len() as u64;
    }
    out.files.sort();
    out
}

fn state(dir: &Path) -> PathBuf {
    let types = [
        "aws_iam_user",
        "aws_iam_role",
        "aws_iam_access_key",
        "aws_iam_user_login_profile",
        "aws_iam_user_policy_attachment",
        "aws_iam_role_policy_attachment",
        "aws_lambda_function",
        "aws_s3_bucket",
        "aws_instance",
        "aws_security_group",
    ];
    let resources = types
        .iter()
        .map(|t| resource("", t, "kept", serde_json::json!({"id": "none"})))
        .collect();
    write_state(dir, "bench.tfstate", &state_v4(1, resources))
}

/// The seconds a command takes (wall clock) and the CPU seconds it uses (user and system, every thread; by
/// GNU time when it is installed, else 0), its output thrown away; it must succeed.
fn time(program: &str, args: &[&std::ffi::OsStr]) -> (f64, f64) {
    let gnu_time = Path::new("/usr/bin/time");
    let cpu_file = support::work_dir().join("replay-cpu.txt");
    let mut command = if gnu_time.exists() {
        let mut command = Command::new(gnu_time);
        command
            .args(["-f", "%U %S", "-o"])
            .arg(&cpu_file)
            .arg(program);
        command
    } else {
        Command::new(program)
    };
    command.args(args);
    let started = Instant::now();
    let output = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run the command");
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let cpu = std::fs::read_to_string(&cpu_file)
        .ok()
        .and_then(|text| {
            let mut parts = text.split_whitespace().map(|p| p.parse::<f64>().ok());
            Some(parts.next()?? + parts.next()??)
        })
        .unwrap_or(0.0);
    (seconds, cpu)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let smoke = support::smoke();
    let (files, rounds) = if smoke { (3, 1) } else { (300, 5) };
    test_environment();
    let trail = trail(files);
    let state = state(&trail.dir);
    let replay = env!("CARGO_BIN_EXE_tfdrift-replay");
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET);
    for key in &trail.keys {
        moto.put(BUCKET, key, &std::fs::read(trail.dir.join(key)).unwrap());
    }
    let gets: Vec<String> = trail
        .keys
        .iter()
        .map(|k| format!("{}/{BUCKET}/{k}", moto.endpoint()))
        .collect();

    let modes: [&str; 5] = [
        "gzip -dc",
        "replay, local",
        "replay, local, 1 thread",
        "replay, S3",
        "GETs alone (curl, 8 at a time)",
    ];
    let state = state.into_os_string();
    let local = trail.dir.join("AWSLogs").into_os_string();
    let bucket = std::ffi::OsString::from(format!("s3://{BUCKET}"));
    let endpoint = std::ffi::OsString::from(moto.endpoint());
    let os = |s: &'static str| std::ffi::OsStr::new(s);
    let gzip_args: Vec<&std::ffi::OsStr> = std::iter::once(os("-dc"))
        .chain(trail.files.iter().map(|f| f.as_os_str()))
        .collect();
    let mut curl_args: Vec<&std::ffi::OsStr> = [
        "-s",
        "-f",
        "--parallel",
        "--parallel-max",
        "8",
        "-H",
        MOTO_AUTH,
    ]
    .into_iter()
    .map(os)
    .collect();
    for url in &gets {
        curl_args.extend([os("-o"), os("/dev/null"), std::ffi::OsStr::new(url)]);
    }
    let runs: [(&str, Vec<&std::ffi::OsStr>); 5] = [
        ("gzip", gzip_args),
        (replay, vec![os("--quiet"), os("--state"), &state, &local]),
        (
            replay,
            vec![
                os("--quiet"),
                os("--threads"),
                os("1"),
                os("--state"),
                &state,
                &local,
            ],
        ),
        (
            replay,
            vec![
                os("--quiet"),
                os("--state"),
                &state,
                &bucket,
                os("--s3-region"),
                os("us-east-1"),
                os("--endpoint-url"),
                &endpoint,
            ],
        ),
        ("curl", curl_args),
    ];
    let mut seconds: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    for _ in 0..rounds {
        for (n, (program, args)) in runs.iter().enumerate() {
            let (wall, used) = time(program, args);
            seconds[n].push(wall);
            cpu[n].push(used);
        }
    }
    let medians: Vec<f64> = seconds.iter_mut().map(|s| median(s)).collect();
    let cpu: Vec<f64> = cpu.iter_mut().map(|s| median(s)).collect();

    let mut report = Report::new("replay");
    report.line(format!(
        "{files} files of {} records each ({:.1} MiB gzipped, {:.1} MiB of JSON, {} records), median of {rounds} alternating rounds:\n",
        trail.records / files as u64,
        trail.bytes as f64 / (1 << 20) as f64,
        trail.raw_bytes as f64 / (1 << 20) as f64,
        trail.records
    ));
    report.line(
        "| run | seconds | records/s | MiB/s of JSON | speed against `gzip -dc` | CPU seconds | CPU against `gzip -dc` |",
    );
    report.line("|---|---|---|---|---|---|---|");
    for ((mode, s), c) in modes.iter().zip(&medians).zip(&cpu) {
        report.line(format!(
            "| {mode} | {s:.3} | {:.0} | {:.0} | {:.2} | {c:.2} | {:.2} |",
            trail.records as f64 / s,
            trail.raw_bytes as f64 / (1 << 20) as f64 / s,
            medians[0] / s,
            c / cpu[0].max(1e-9)
        ));
    }
    report.line("");
    let local = medians[0] / medians[1];
    let one = medians[0] / medians[2];
    let s3 = medians[1] / medians[3];
    report.target(
        "replay from local files at least 1.6 times the speed of `gzip -dc` on 2 cores",
        format!("{local:.2} (one thread: {one:.2})"),
        local >= 1.6,
    );
    report.target(
        "replay from S3 on loopback at least 0.8 of the local speed",
        format!(
            "{s3:.2} (moto serves the GETs alone, by curl, in {:.3} s: {:.2} of the local replay's time)",
            medians[4],
            medians[4] / medians[1]
        ),
        s3 >= 0.8,
    );
    report.finish();
}
