//! The `qopy` binary: parse the command line, load the configuration, start logging, bind
//! the listener and hand over to `app::run` until SIGINT or SIGTERM.

use clap::Parser;
use qopy::cli::{Cli, Command};
use std::sync::Arc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = match cli.load_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("qopy: {e}");
            std::process::exit(2);
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config),
    }
}

fn serve(config: qopy::config::Config) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&config.log))
        .with_target(false)
        .init();
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(config.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("qopy: cannot listen on {}: {e}", config.listen);
                std::process::exit(1);
            }
        };
        let bound = listener.local_addr()?;
        println!("Qopy is serving. Open one of:");
        for url in qopy::net::urls(bound) {
            println!("  {url}");
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
