//! Init, destroy and init again in one process, as Falco does on hot reload, through the C ABI of the built
//! `libtfdrift.so`: no thread is left behind (counted in /proc/self/task), memory does not grow from cycle
//! to cycle (resident set in /proc/self/statm), and the reload thread stops promptly even in the middle of a
//! slow download, cycle after cycle.
//! A test binary of its own (not in tests/plugin): it measures the whole process, which no other test
//! may share.
//!
//! The record is a real one (stratus-red-team, Apache-2.0, see tests/data/README.md).

use tfdrift_test_support as common;

use common::*;
use serde_json::json;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The tests of this file count the process's threads: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .count()
}

/// One hot-reload cycle: init, a few events answered, destroy.
fn cycle(config: &str) {
    let mut capture = start(&[source_sg_record()], 20, 0, config).expect("tfdrift starts");
    while let Some(event) = next(&mut capture) {
        let fields = extract_all(
            &mut capture,
            &event,
            &[
                "tfdrift.managed",
                "tfdrift.resource_address",
                "tfdrift.diff",
            ],
        );
        assert_eq!(fields.bool("tfdrift.managed"), Some(true));
    }
    drop(capture);
}

#[test]
fn init_destroy_init_leaks_no_thread_and_no_memory() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let path = write_state(dir.path(), "sg.tfstate", &security_group_state(1, "web"));
    let config = config(&[("main", &path)], json!({"refresh_interval": 1}));
    // Warm-up: what a process allocates once (the library's statics, the allocator's arenas).
    for _ in 0..5 {
        cycle(&config);
    }
    let threads_before = threads();
    let rss_before = rss();
    let cycles = 60;
    for _ in 0..cycles {
        cycle(&config);
    }
    let threads_after = threads();
    let rss_after = rss();
    eprintln!(
        "lifecycle: {cycles} init/destroy cycles: threads {threads_before} -> {threads_after}, resident {} KiB -> {} KiB",
        rss_before / 1024,
        rss_after / 1024
    );
    assert_eq!(threads_after, threads_before, "a thread outlived destroy");
    // A leak of the index, catalog or reload thread's runtime per cycle would be megabytes each time.
    assert!(
        rss_after < rss_before + 16 * 1024 * 1024,
        "resident memory grew from {} KiB to {} KiB over {cycles} cycles",
        rss_before / 1024,
        rss_after / 1024
    );
}

#[test]
fn destroy_in_the_middle_of_a_slow_download_is_prompt_cycle_after_cycle() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // A loopback HTTP backend: even-numbered connections get the state, odd ones a state that trickles a
    // byte every 100 ms (for a minute at most) after announcing 100 MB.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let port = listener.local_addr().expect("an address").port();
    let state = serde_json::to_vec(&security_group_state(1, "web")).unwrap();
    let trickles = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = std::sync::Arc::clone(&trickles);
    let cycles = 3;
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for (n, stream) in listener.incoming().take(2 * cycles).enumerate() {
            let Ok(mut stream) = stream else { return };
            let state = state.clone();
            let started = std::sync::Arc::clone(&started);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                if n % 2 == 0 {
                    let head = format!(
                        "HTTP/1.1 200 OK\r\netag: \"v{n}\"\r\ncontent-length: {}\r\n\r\n",
                        state.len()
                    );
                    let _ = stream.write_all(head.as_bytes());
                    let _ = stream.write_all(&state);
                    return;
                }
                let _ = stream.write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\netag: \"v{n}\"\r\ncontent-length: 100000000\r\n\r\n{{"
                    )
                    .as_bytes(),
                );
                started.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                for _ in 0..600 {
                    if stream.write_all(b" ").is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            });
        }
    });
    let config = json!({
        "states": [{"name": "net", "http": {"url": format!("http://127.0.0.1:{port}/state")}}],
        "refresh_interval": 1,
    });
    for round in 1..=cycles {
        let mut capture = start_sg_capture(&config);
        assert_eq!(next_sg_answer(&mut capture).2, Some(1), "round {round}");
        wait_for("the slow download", Duration::from_secs(10), || {
            trickles.load(std::sync::atomic::Ordering::SeqCst) >= round
        });
        std::thread::sleep(Duration::from_millis(300));
        let stopping = Instant::now();
        drop(capture);
        assert!(
            stopping.elapsed() < Duration::from_secs(3),
            "round {round}: stopping took {:?}",
            stopping.elapsed()
        );
    }
}
