//! Tests of the testkit itself. Java starts take ~2-3 s each, so this file starts at most three:
//! one shared by the in-process tests, one in each orphan test's child process.

use std::process::Command;

use super::*;

fn using_local_server() -> bool {
    !matches!(std::env::var_os(ENDPOINT_VAR), Some(v) if !v.is_empty())
}

#[tokio::test]
async fn endpoint_answers_list_tables() {
    let endpoint = endpoint().await.unwrap();
    assert!(endpoint.starts_with("http"), "{endpoint}");
    let client = sdk_client().await.unwrap();
    client.list_tables().send().await.unwrap();
    if using_local_server() {
        let pid = local_pid().expect("a local server was started");
        assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");
        let port: u16 = endpoint.rsplit(':').next().unwrap().parse().unwrap();
        assert!(local::answers_list_tables(port));
        #[cfg(target_os = "linux")]
        assert!(orphans::is_running_java(pid));
        let _ = pid;
    }
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

/// The cache folder must be the one `localstack/dynamodb-local.sh` computes, for every mix of
/// variables. Checked in child processes (this test binary and the sourced script), so this
/// process's environment is never modified.
#[cfg(unix)]
#[test]
fn cache_dir_matches_the_launcher_script() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/localstack/dynamodb-local.sh");
    let cases: [&[(&str, &str)]; 5] = [
        &[("DYNABAO_CACHE_DIR", "/c/root"), ("XDG_CACHE_HOME", "/x")],
        &[("DYNABAO_CACHE_DIR", ""), ("XDG_CACHE_HOME", "/x")],
        &[("XDG_CACHE_HOME", "/x")],
        &[("XDG_CACHE_HOME", "")],
        &[],
    ];
    for vars in cases {
        let with_vars = |cmd: &mut Command| {
            cmd.env_remove("DYNABAO_CACHE_DIR")
                .env_remove("XDG_CACHE_HOME")
                .env("HOME", "/home/someone");
            for (name, value) in vars {
                cmd.env(name, value);
            }
        };
        let mut script_cmd = Command::new("bash");
        script_cmd
            .arg("-c")
            .arg(format!("source '{script}' && printf '%s' \"$CACHE_DIR\""));
        with_vars(&mut script_cmd);
        let from_script = script_cmd.output().unwrap();
        assert!(from_script.status.success(), "{from_script:?}");

        let mut rust_cmd = helpers::command("cache_dir_helper", "print");
        with_vars(&mut rust_cmd);
        let from_rust = rust_cmd.output().unwrap();
        assert!(from_rust.status.success(), "{from_rust:?}");
        let from_rust = String::from_utf8(from_rust.stdout).unwrap();
        let from_rust = from_rust
            .lines()
            // The harness prints "test <name> ... " without a newline before the helper's output.
            .find_map(|line| line.split_once("DYNABAO_CACHE=").map(|(_, dir)| dir))
            .unwrap_or_else(|| panic!("no cache line in {from_rust}"));

        assert_eq!(
            from_rust,
            String::from_utf8(from_script.stdout).unwrap(),
            "{vars:?}"
        );
    }
}

/// Helper process for `cache_dir_matches_the_launcher_script`: prints the cache folder.
#[test]
#[ignore = "helper process, run by cache_dir_matches_the_launcher_script"]
fn cache_dir_helper() {
    if std::env::var_os(helpers::MODE_VAR).is_none() {
        return;
    }
    println!("DYNABAO_CACHE={}", local::cache_dir().unwrap().display());
}

/// Re-running this test binary as a child process, one test at a time.
mod helpers {
    use std::process::{Command, Stdio};

    use super::ENDPOINT_VAR;

    /// Tells a helper test it was started on purpose, and what to do.
    pub(super) const MODE_VAR: &str = "DYNABAO_TESTKIT_HELPER";

    /// This binary, running only the (ignored) helper test `name` of this module, with `mode`,
    /// and with `DYNAMODB_ENDPOINT` removed so the helper really launches DynamoDB Local.
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

/// The server must not outlive the process that started it. These run the `orphan_helper` test in
/// a child process, which starts DynamoDB Local and prints java's pid, then check that java is
/// gone after the child exits normally or is SIGKILLed.
#[cfg(target_os = "linux")]
mod orphans {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Child, Command};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use super::super::{endpoint, local_pid};
    use super::helpers;

    const PID_LINE: &str = "DYNABAO_JAVA_PID=";

    /// Whether `pid` is a live (not zombie) DynamoDB Local.
    pub(super) fn is_running_java(pid: u32) -> bool {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        // The state follows the parenthesised command name, which may itself contain spaces.
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim().chars().next());
        if matches!(state, Some('Z' | 'X') | None) {
            return false;
        }
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|cmdline| String::from_utf8_lossy(&cmdline).contains("DynamoDBLocal.jar"))
            .unwrap_or(false)
    }

    /// Live DynamoDB Local processes whose parent is `parent`.
    fn java_children_of(parent: u32) -> Vec<u32> {
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
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(parent) && is_running_java(pid) {
                found.push(pid);
            }
        }
        found
    }

    fn gone_within(pid: u32, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if !is_running_java(pid) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        !is_running_java(pid)
    }

    /// Kills the helper process if the test ends early.
    struct ChildGuard(Child);

    impl Drop for ChildGuard {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// Kills a java the testkit failed to kill, so a failing test leaves nothing behind.
    struct JavaGuard(u32);

    impl Drop for JavaGuard {
        fn drop(&mut self) {
            if is_running_java(self.0) {
                let _ = Command::new("kill")
                    .args(["-KILL", &self.0.to_string()])
                    .status();
            }
        }
    }

    /// Starts the helper in `mode` and reads java's pid from its output.
    fn start_helper(mode: &str) -> (ChildGuard, JavaGuard) {
        let mut child = ChildGuard(
            helpers::command("orphans::orphan_helper", mode)
                .spawn()
                .unwrap(),
        );
        let stdout = child.0.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Drain to the end even after the pid arrived: closing the pipe early would make the
            // helper's later output fail with EPIPE and the helper exit with an error.
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
                    if let Some((_, pid)) = line.split_once(PID_LINE) {
                        let pid: u32 = pid.trim().parse().unwrap();
                        return (child, JavaGuard(pid));
                    }
                    seen.push(line);
                }
                Err(e) => panic!(
                    "helper gave no java pid ({e}); its output:\n{}",
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

    #[test]
    fn local_server_dies_when_its_process_exits() {
        let (mut child, java) = start_helper("exit");
        let status = wait_with_timeout(&mut child.0, Duration::from_secs(60));
        assert!(status.success(), "helper failed: {status}");
        assert!(
            gone_within(java.0, Duration::from_secs(10)),
            "DynamoDB Local (pid {}) outlived its process",
            java.0
        );
    }

    #[test]
    fn local_server_dies_when_its_process_is_killed() {
        let (mut child, java) = start_helper("hang");
        assert!(
            is_running_java(java.0),
            "java should run while its process lives"
        );
        child.0.kill().unwrap(); // SIGKILL: no exit handlers, no destructors
        let _ = child.0.wait();
        assert!(
            gone_within(java.0, Duration::from_secs(10)),
            "DynamoDB Local (pid {}) outlived its SIGKILLed process",
            java.0
        );
    }

    /// Helper process: concurrent first calls start exactly one server; prints java's pid, then
    /// returns (`exit`) or waits to be killed (`hang`).
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    #[ignore = "helper process, run by the orphan tests"]
    async fn orphan_helper() {
        let Ok(mode) = std::env::var(helpers::MODE_VAR) else {
            return;
        };
        let calls = (0..8).map(|_| tokio::spawn(endpoint()));
        let endpoints: Vec<String> = futures::future::join_all(calls)
            .await
            .into_iter()
            .map(|joined| joined.unwrap().unwrap())
            .collect();
        assert!(endpoints.windows(2).all(|w| w[0] == w[1]), "{endpoints:?}");
        let pid = local_pid().unwrap();
        assert_eq!(java_children_of(std::process::id()), vec![pid]);
        println!("{PID_LINE}{pid}");
        std::io::stdout().flush().unwrap();
        if mode == "hang" {
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
    }
}
