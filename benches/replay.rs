//! Replay: `tfdrift-replay` over a trail of `.json.gz` files against `gzip -dc` over the same files, in one
//! run, in alternating rounds: from local files on every core and on one, and from moto's S3 on 127.0.0.1
//! (with the GETs alone, by curl, to show what moto itself serves). With `TFDRIFT_BENCH_S3S_FS` naming an
//! `s3s-fs` binary (a Rust S3-compatible server over a folder, which checks SigV4 signatures: `cargo install
//! s3s-fs --version 0.14.1 --features binary --locked`), the same trail from it too, in the same rounds: moto, a
//! Python process, takes a core of the two to serve the objects.
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
    MotoServer, TEST_AWS_SECRET, real_records, test_environment, types_state,
};

const BUCKET: &str = "bench-trail";
const ACCOUNT: &str = "123456789012";
/// What moto takes as an authenticated request (it checks no signature): the fake key of the tests.
const MOTO_AUTH: &str = "authorization: AWS4-HMAC-SHA256 Credential=AKIATFDRIFTTESTKEY00/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";
/// The tests' fake access key (`test_environment`), which s3s-fs is started with.
const ACCESS_KEY: &str = "AKIATFDRIFTTESTKEY00";

/// An s3s-fs server on 127.0.0.1 serving `root` (a folder per bucket), stopped when dropped.
struct S3sFs {
    child: std::process::Child,
    endpoint: String,
}

impl S3sFs {
    fn start(binary: &Path, root: &Path) -> S3sFs {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(binary)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", TEST_AWS_SECRET])
            .arg(root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed().as_secs() < 10,
                "s3s-fs did not listen on {port}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        S3sFs {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for S3sFs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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
    let state = types_state(&trail.dir);
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

    // The same objects from s3s-fs, when given: hard links of the trail's files in a folder named after the
    // bucket.
    let s3s_fs = std::env::var_os("TFDRIFT_BENCH_S3S_FS").map(|binary| {
        let root = trail.dir.with_file_name("replay-s3s-fs");
        let _ = std::fs::remove_dir_all(&root);
        for key in &trail.keys {
            let to = root.join(BUCKET).join(key);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::hard_link(trail.dir.join(key), &to)
                .or_else(|_| std::fs::copy(trail.dir.join(key), &to).map(|_| ()))
                .unwrap();
        }
        S3sFs::start(Path::new(&binary), &root)
    });

    let mut modes: Vec<&str> = vec![
        "gzip -dc",
        "replay, local",
        "replay, local, 1 thread",
        "replay, S3 (moto)",
        "moto's GETs alone (curl, 8 at a time)",
    ];
    let state = state.into_os_string();
    let local = trail.dir.join("AWSLogs").into_os_string();
    let bucket = std::ffi::OsString::from(format!("s3://{BUCKET}"));
    let endpoint = std::ffi::OsString::from(moto.endpoint());
    let os = |s: &'static str| std::ffi::OsStr::new(s);
    let gzip_args: Vec<&std::ffi::OsStr> = std::iter::once(os("-dc"))
        .chain(trail.files.iter().map(|f| f.as_os_str()))
        .collect();
    let curl = |auth: &[&'static str], urls: &'_ [String]| -> Vec<std::ffi::OsString> {
        let mut args: Vec<std::ffi::OsString> = ["-s", "-f", "--parallel", "--parallel-max", "8"]
            .iter()
            .chain(auth)
            .map(|a| a.into())
            .collect();
        for url in urls {
            args.extend(["-o".into(), "/dev/null".into(), url.into()]);
        }
        args
    };
    let moto_curl = curl(&["-H", MOTO_AUTH], &gets);
    let user = format!("{ACCESS_KEY}:{TEST_AWS_SECRET}");
    let s3s_endpoint = s3s_fs
        .as_ref()
        .map(|s| std::ffi::OsString::from(&s.endpoint));
    let s3s_curl = s3s_fs.as_ref().map(|server| {
        let urls: Vec<String> = trail
            .keys
            .iter()
            .map(|k| format!("{}/{BUCKET}/{k}", server.endpoint))
            .collect();
        let mut args = curl(
            &[
                "-H",
                "x-amz-content-sha256: UNSIGNED-PAYLOAD",
                "--aws-sigv4",
                "aws:amz:us-east-1:s3",
            ],
            &urls,
        );
        args.splice(0..0, ["--user".into(), user.clone().into()]);
        args
    });
    // The replay of the trail from an S3 server at `endpoint`.
    let from_s3 = |endpoint| {
        vec![
            os("--quiet"),
            os("--state"),
            &state,
            &bucket,
            os("--s3-region"),
            os("us-east-1"),
            os("--endpoint-url"),
            endpoint,
        ]
    };
    let mut runs: Vec<(&str, Vec<&std::ffi::OsStr>)> = vec![
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
        (replay, from_s3(&endpoint)),
        ("curl", moto_curl.iter().map(|a| a.as_os_str()).collect()),
    ];
    if let (Some(endpoint), Some(curl_args)) = (&s3s_endpoint, &s3s_curl) {
        modes.push("replay, S3 (s3s-fs)");
        runs.push((replay, from_s3(endpoint)));
        modes.push("s3s-fs's GETs alone (curl, 8 at a time)");
        runs.push(("curl", curl_args.iter().map(|a| a.as_os_str()).collect()));
    }
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
        "replay from S3 on loopback at least 0.8 of the local speed (moto)",
        format!(
            "{s3:.2} (moto serves the GETs alone, by curl, in {:.3} s: {:.2} of the local replay's time)",
            medians[4],
            medians[4] / medians[1]
        ),
        s3 >= 0.8,
    );
    if s3s_fs.is_some() {
        let fast = medians[1] / medians[5];
        report.target(
            "replay from S3 on loopback at least 0.8 of the local speed (s3s-fs)",
            format!(
                "{fast:.2} (s3s-fs serves the GETs alone, by curl, in {:.3} s: {:.2} of the local replay's time)",
                medians[6],
                medians[6] / medians[1]
            ),
            fast >= 0.8,
        );
    }
    report.finish();
}
