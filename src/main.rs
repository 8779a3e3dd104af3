//! The `qopy` binary: parse the command line; for the client subcommands (`send`, `get`,
//! `healthcheck`) hand over to `qopy::client`, for `restore` to `qopy::snapshots`; otherwise
//! load the configuration, start logging, bind the listener and hand over to `app::run` until
//! SIGINT or SIGTERM.

use clap::Parser;
use qopy::cli::{Cli, Command};
use std::sync::Arc;

/// mimalloc rather than glibc's allocator: a request allocates and frees many small buffers
/// across worker threads, where glibc's arenas spend their time in locks and consolidation.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match &cli.command {
        // The client commands talk to a server over HTTP; the server's configuration is
        // none of their business (and must not stop them when it is broken).
        Some(Command::Send(args)) if args.to.is_some() => {
            client_exit(qopy::client::dropbox::send_to(args))
        }
        Some(Command::Send(args)) => client_exit(qopy::client::upload::send(args).map(|link| {
            println!("{link}");
        })),
        Some(Command::Get(args)) => client_exit(qopy::client::download::get(args)),
        Some(Command::Receive(args)) => client_exit(qopy::client::dropbox::receive(args)),
        Some(Command::Healthcheck) => {
            // Docker reserves exit code 2, so every failure here is 1.
            let healthy = match cli.load_config() {
                Ok(config) => {
                    let tls = config.tls != qopy::config::TlsMode::Off;
                    qopy::client::healthcheck(qopy::client::health_address(config.listen), tls)
                }
                Err(e) => {
                    eprintln!("qopy: {e}");
                    false
                }
            };
            std::process::exit(if healthy { 0 } else { 1 });
        }
        Some(Command::Restore(_)) => match cli.load_config() {
            Ok(config) => std::process::exit(restore(&config)),
            Err(e) => {
                eprintln!("qopy: {e}");
                std::process::exit(2);
            }
        },
        None | Some(Command::Serve) => {}
    }
    let config = match cli.load_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("qopy: {e}");
            std::process::exit(2);
        }
    };
    serve(config)
}

/// Exits 0 on success; prints the error and exits 1 otherwise.
fn client_exit(result: Result<(), qopy::client::ClientError>) -> ! {
    match result {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("qopy: {e}");
            std::process::exit(1);
        }
    }
}

/// `qopy restore --from-s3`: the newest database snapshot in the bucket into an empty data
/// directory. Exits 0 when restored, 1 when it could not be (nothing was written then), 2 when
/// the configuration has no bucket.
fn restore(config: &qopy::config::Config) -> i32 {
    if config.blob_store != qopy::config::BlobStore::S3 {
        eprintln!(
            "qopy: restore --from-s3 needs the server's configuration with blob_store = \"s3\" (and its s3_* keys)"
        );
        return 2;
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("qopy: {e}");
            return 1;
        }
    };
    match rt.block_on(qopy::snapshots::restore(config)) {
        Ok(restored) => {
            for (name, why) in &restored.skipped {
                eprintln!("qopy: skipped damaged snapshot {name}: {why}");
            }
            println!("{}", restored.summary());
            0
        }
        Err(e) => {
            eprintln!("qopy: restore failed: {e}");
            1
        }
    }
}

fn serve(config: qopy::config::Config) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&config.log))
        .with_target(false)
        // Colour only on a terminal: a log file or a pipe gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.worker_threads())
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(config.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("qopy: cannot listen on {}: {e}", config.listen);
                std::process::exit(1);
            }
        };
        let bound = listener.local_addr()?;
        // Loaded here to print the fingerprint (and to make a self-signed certificate on the
        // first start); `run` loads the same files again.
        let tls = match qopy::tls::load(&config) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("qopy: cannot set up HTTPS: {e}");
                std::process::exit(1);
            }
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        println!("Qopy is serving. Open one of:");
        for url in qopy::net::urls_with_scheme(bound, scheme) {
            println!("  {url}");
        }
        if let Some(tls) = &tls {
            println!("TLS certificate SHA-256: {}", tls.fingerprint);
            if tls.mode == qopy::config::TlsMode::SelfSigned {
                println!(
                    "  (self-signed, {}: check this fingerprint when the browser warns)",
                    tls.cert_path.display()
                );
            }
        }
        println!("Data directory: {}", config.data_dir.display());
        if let Err(e) = qopy::app::run(
            config,
            listener,
            shutdown_signal(),
            Arc::new(qopy::clock::SystemClock),
        )
        .await
        {
            eprintln!("qopy: {e}");
            std::process::exit(1);
        }
        Ok(())
    })
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
