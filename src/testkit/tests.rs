//! Tests of the testkit itself: the embedded engine, its sharing, and that nothing outlives the
//! process that started it (checked in child processes of this test binary).

use super::*;

#[tokio::test]
async fn endpoint_answers_list_tables() {
    let endpoint = endpoint().await.unwrap();
    assert!(endpoint.starts_with("http"), "{endpoint}");
    let client = sdk_client().await.unwrap();
    client.list_tables().send().await.unwrap();
    if is_embedded() {
        assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");
        assert_eq!(
            engine::started().unwrap().endpoint,
            endpoint,
            "the embedded engine is the endpoint"
        );
    }
}

#[tokio::test]
async fn the_embedded_engine_is_a_working_dynamodb() {
    // Tables made by one client are seen by another built from the same endpoint, and the table
    // a fresh_db makes is active and empty.
    let db = fresh_db().await.unwrap();
    let other = sdk_client().await.unwrap();
    let described = other
        .describe_table()
        .table_name(db.table())
        .send()
        .await
        .unwrap();
    let table = described.table().unwrap();
    assert_eq!(
        table.table_status(),
        Some(&aws_sdk_dynamodb::types::TableStatus::Active)
    );
    let scanned = other.scan().table_name(db.table()).send().await.unwrap();
    assert_eq!(scanned.count(), 0);
    // A DynamoDB error code comes back as the SDK's typed error.
    let missing = other
        .describe_table()
        .table_name(unique_name("missing-"))
        .send()
        .await
        .unwrap_err();
    assert!(
        missing
            .as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception()),
        "{missing:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_share_one_server() {
    let calls = (0..8).map(|_| tokio::spawn(endpoint()));
    let endpoints: Vec<String> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|joined| joined.unwrap().unwrap())
        .collect();
    assert!(endpoints.windows(2).all(|w| w[0] == w[1]), "{endpoints:?}");
    assert_eq!(endpoint().await.unwrap(), endpoints[0]);
}

#[tokio::test]
async fn request_counter_counts_transmitted_requests() {
    let counter = RequestCounter::new();
    let client = sdk_client_with(&counter).await.unwrap();
    assert_eq!(counter.count(), 0);
    client.list_tables().send().await.unwrap();
    assert_eq!(counter.count(), 1);

    // Clones share the count; attach() works on a hand-built config.
    let shared = counter.clone();
    let config = shared.attach(sdk_config().await.unwrap()).build();
    let other = aws_sdk_dynamodb::Client::from_conf(config);
    other.list_tables().send().await.unwrap();
    assert_eq!(counter.count(), 2);

    // A request rejected before the wire is not counted.
    let invalid = client.describe_table().send().await;
    assert!(invalid.is_err());
    assert_eq!(counter.count(), 2);
}

#[test]
fn unique_names_are_prefixed_lowercase_and_distinct() {
    let a = unique_name("t_");
    let b = unique_name("t_");
    assert_ne!(a, b);
    assert!(a.starts_with("t_"));
    assert_eq!(a.len(), 2 + 26);
    assert_eq!(a, a.to_lowercase());
}

/// Re-running this test binary as a child process, one test at a time.
mod helpers {
    use std::process::{Command, Stdio};

    use super::ENDPOINT_VAR;

    /// Tells a helper test it was started on purpose, and what to do.
    pub(super) const MODE_VAR: &str = "DYNABAO_TESTKIT_HELPER";

    /// This binary, running only the (ignored) helper test `name` of this module, with `mode`,
    /// and with `DYNAMODB_ENDPOINT` removed so the helper really starts the embedded engine.
    pub(super) fn command(name: &str, mode: &str) -> Command {
        let module = module_path!();
        // module_path!() starts with the crate name; test names do not.
        let module = module.split_once("::").map_or(module, |(_, rest)| rest);
        let module = module.trim_end_matches("::helpers");
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.arg(format!("{module}::{name}"))
            .args(["--exact", "--nocapture", "--ignored", "--test-threads=1"])
            .env(MODE_VAR, mode)
            .env_remove(ENDPOINT_VAR)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        cmd
    }
}

/// The engine must not outlive the process that started it, and must start no process of its
/// own. These run the `orphan_helper` test in a child process, which starts the engine, checks it
/// has no child process, and prints its endpoint; then they check that the endpoint answers while
/// the child lives and stops answering once the child exits normally or is SIGKILLed.
#[cfg(target_os = "linux")]
mod orphans {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Child;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use aws_sdk_dynamodb::config::retry::RetryConfig;
    use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};

    use super::super::{endpoint, ENDPOINT_VAR};
    use super::helpers;

    const ENDPOINT_LINE: &str = "DYNABAO_ENGINE_ENDPOINT=";

    /// Live processes whose parent is `parent`.
    fn children_of(parent: u32) -> Vec<u32> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // The fields after the parenthesised command name: state, then the parent's pid.
            let mut rest = stat
                .rsplit_once(')')
                .map(|(_, rest)| rest.split_whitespace())
                .into_iter()
                .flatten();
            let state = rest.next();
            let ppid = rest.next().and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(parent) && !matches!(state, Some("Z" | "X")) {
                found.push(pid);
            }
        }
        found
    }

    /// A client of `endpoint` that tries once and gives up quickly.
    fn quick_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("t", "t", None, None, "test"))
            .endpoint_url(endpoint)
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(Duration::from_secs(10))
                    .build(),
            )
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    async fn answers(endpoint: &str) -> bool {
        quick_client(endpoint).list_tables().send().await.is_ok()
    }

    /// Kills the helper process if the test ends early.
    struct ChildGuard(Child);

    impl Drop for ChildGuard {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// Starts the helper in `mode` and reads the engine's endpoint from its output.
    fn start_helper(mode: &str) -> (ChildGuard, String) {
        let mut child = ChildGuard(
            helpers::command("orphans::orphan_helper", mode)
                .spawn()
                .unwrap(),
        );
        let stdout = child.0.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Drain to the end even after the endpoint arrived: closing the pipe early would make
            // the helper's later output fail with EPIPE and the helper exit with an error.
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    // The harness prints "test <name> ... " without a newline first.
                    if let Some((_, endpoint)) = line.split_once(ENDPOINT_LINE) {
                        return (child, endpoint.trim().to_string());
                    }
                    seen.push(line);
                }
                Err(e) => panic!(
                    "helper gave no endpoint ({e}); its output:\n{}",
                    seen.join("\n")
                ),
            }
        }
    }

    fn wait_with_timeout(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "helper process did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    #[tokio::test]
    async fn engine_ends_with_its_process_when_it_exits() {
        let (mut child, endpoint) = start_helper("exit");
        let status = wait_with_timeout(&mut child.0, Duration::from_secs(60));
        assert!(status.success(), "helper failed: {status}");
        assert!(
            !answers(&endpoint).await,
            "the engine at {endpoint} outlived its process"
        );
    }

    #[tokio::test]
    async fn engine_ends_with_its_process_when_it_is_killed() {
        let (mut child, endpoint) = start_helper("hang");
        assert!(
            answers(&endpoint).await,
            "the engine at {endpoint} should answer while its process lives"
        );
        child.0.kill().unwrap(); // SIGKILL: no exit handlers, no destructors
        let _ = child.0.wait();
        assert!(
            !answers(&endpoint).await,
            "the engine at {endpoint} outlived its SIGKILLed process"
        );
    }

    /// Helper process: concurrent first calls start exactly one engine and no process; prints the
    /// endpoint, then returns (`exit`) or waits to be killed (`hang`).
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    #[ignore = "helper process, run by the orphan tests"]
    async fn orphan_helper() {
        let Ok(mode) = std::env::var(helpers::MODE_VAR) else {
            return;
        };
        assert!(std::env::var_os(ENDPOINT_VAR).is_none());
        let calls = (0..8).map(|_| tokio::spawn(endpoint()));
        let endpoints: Vec<String> = futures::future::join_all(calls)
            .await
            .into_iter()
            .map(|joined| joined.unwrap().unwrap())
            .collect();
        assert!(endpoints.windows(2).all(|w| w[0] == w[1]), "{endpoints:?}");
        assert!(answers(&endpoints[0]).await);
        assert_eq!(
            children_of(std::process::id()),
            Vec::<u32>::new(),
            "the engine runs in this process, with no child process"
        );
        println!("{ENDPOINT_LINE}{}", endpoints[0]);
        std::io::stdout().flush().unwrap();
        if mode == "hang" {
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
    }
}
