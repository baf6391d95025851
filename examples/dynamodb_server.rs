//! A standalone local DynamoDB for other tools (the AWS CLI, a second service, a shell session):
//! the engine the testkit embeds, [dynoxide](https://github.com/nubo-db/dynoxide) (MIT OR
//! Apache-2.0), served on a loopback port. No Java, no Docker.
//!
//! ```sh
//! cargo run --example dynamodb_server -- --port 8000                   # in memory
//! cargo run --example dynamodb_server -- --port 8000 --db-path dev.db  # kept in a SQLite file
//! export DYNAMODB_ENDPOINT=http://127.0.0.1:8000
//! ```
//!
//! `localstack/dynamodb-local.sh start | stop | status | endpoint` builds it and runs it in the
//! background. It listens on `127.0.0.1` only (it checks no credentials, so it is not offered to
//! other machines), prints `listening on http://127.0.0.1:PORT` once it accepts requests
//! (`--port 0` picks a free port), and stops on Ctrl-C or SIGTERM, letting running requests
//! finish.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

const USAGE: &str = "usage: dynamodb_server [--port PORT] [--db-path FILE]

  --port PORT     TCP port on 127.0.0.1 (default 8000; 0 picks a free one)
  --db-path FILE  keep the data in this SQLite file (default: in memory, gone on exit)";

/// What the command line asked for.
#[derive(Debug, PartialEq)]
struct Options {
    port: u16,
    db_path: Option<String>,
}

/// Parses `--port`, `--db-path` (also as `--name=value`) and `--help`. `Ok(None)` means help.
fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options {
        port: 8000,
        db_path: None,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (arg, None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(None),
            "--port" => {
                let port = value("--port")?;
                options.port = port.parse().map_err(|_| {
                    format!("--port must be a number from 0 to 65535, got {port:?}")
                })?;
            }
            "--db-path" => {
                let path = value("--db-path")?;
                if path.is_empty() {
                    return Err("--db-path must not be empty".into());
                }
                options.db_path = Some(path);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(options))
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn run(options: Options) -> Result<(), String> {
    let db = match &options.db_path {
        Some(path) => dynoxide::Database::new(path)
            .map_err(|e| format!("cannot open the database file {path}: {e}"))?,
        None => dynoxide::Database::memory()
            .map_err(|e| format!("cannot open an in-memory database: {e}"))?,
    };
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, options.port)))
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", options.port))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    let store = options.db_path.as_deref().unwrap_or("memory");
    println!(
        "listening on http://{addr} (dynoxide {}, store: {store})",
        dynoxide::PRODUCT_VERSION
    );
    dynoxide::server::serve_with_shutdown(listener, db, shutdown_signal()).await
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("dynamodb_server: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dynamodb_server: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn defaults_to_port_8000_in_memory() {
        assert_eq!(
            parse(args(&[])),
            Ok(Some(Options {
                port: 8000,
                db_path: None
            }))
        );
    }

    #[test]
    fn reads_both_options_in_both_spellings() {
        let want = Ok(Some(Options {
            port: 9001,
            db_path: Some("d.db".into()),
        }));
        assert_eq!(parse(args(&["--port", "9001", "--db-path", "d.db"])), want);
        assert_eq!(parse(args(&["--db-path=d.db", "--port=9001"])), want);
        assert_eq!(parse(args(&["--help"])), Ok(None));
    }

    #[test]
    fn rejects_bad_arguments() {
        assert!(parse(args(&["--port", "http"])).is_err());
        assert!(parse(args(&["--port", "70000"])).is_err());
        assert!(parse(args(&["--port"])).is_err());
        assert!(parse(args(&["--db-path="])).is_err());
        assert!(parse(args(&["--host", "0.0.0.0"])).is_err());
    }
}
