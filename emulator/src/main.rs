//! `esm-emulator`: the Lambda event source mapping emulator as a standalone HTTP server.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use esm_emulator::model::{Model, ModelConfig};
use tokio::net::TcpListener;

#[derive(Parser, Debug)]
#[command(
    name = "esm-emulator",
    about = "A faithful in-memory AWS Lambda event source mapping emulator (REST-JSON on HTTP)"
)]
struct Args {
    /// Address to listen on; port 0 picks a free port (see --port-file).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: String,
    /// Write the bound port to this file once listening (atomically, via rename).
    #[arg(long)]
    port_file: Option<PathBuf>,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    #[arg(long, default_value = "123456789012")]
    account: String,
    #[arg(long, default_value = "aws")]
    partition: String,
    /// Control-plane requests per second for all operations together; 0 = unlimited.
    #[arg(long, default_value_t = 15)]
    rate_limit: u32,
    /// Creating/Updating/Enabling/Disabling → stable, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    transition_delay_ms: u64,
    /// Deleting → gone, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    deleting_delay_ms: u64,
    /// Seed a function (repeatable); "name:alias" also seeds an alias.
    #[arg(long = "seed-function", value_name = "NAME")]
    seed_functions: Vec<String>,
    /// Seed an event source ARN (repeatable).
    #[arg(long = "seed-event-source", value_name = "ARN")]
    seed_event_sources: Vec<String>,
    /// Reject Creates whose EventSourceArn was not seeded.
    #[arg(long)]
    require_seeded_sources: bool,
    /// Maximum filters per mapping (Lambda's default quota is 5).
    #[arg(long, default_value_t = 5)]
    max_filters: usize,
    /// List page size cap.
    #[arg(long, default_value_t = 100)]
    page_size: usize,
    /// The shortest session STS grants (real STS: 900 s); lower it so that tests can make
    /// clients refresh assumed-role credentials within seconds.
    #[arg(long, default_value_t = esm_emulator::server::Options::default().sts_min_duration_seconds)]
    sts_min_duration_seconds: u32,
}

fn write_port_file(path: &Path, port: u16) -> std::io::Result<()> {
    // Write then rename, so a script polling for the file never reads it half-written.
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, format!("{port}\n"))?;
    std::fs::rename(&tmp, path)
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let config = ModelConfig {
        region: args.region,
        account: args.account,
        partition: args.partition,
        transition_delay: Duration::from_millis(args.transition_delay_ms),
        deleting_delay: Duration::from_millis(args.deleting_delay_ms),
        rate_limit_per_second: (args.rate_limit > 0).then_some(args.rate_limit),
        page_size: args.page_size.max(1),
        require_seeded_sources: args.require_seeded_sources,
        max_filters_per_mapping: args.max_filters,
        rng_seed: None,
    };
    let model = Model::new(config);
    for name in &args.seed_functions {
        model.seed_function(name);
    }
    for arn in &args.seed_event_sources {
        model.seed_event_source(arn);
    }
    let listener = TcpListener::bind(&args.addr).await?;
    let local = listener.local_addr()?;
    if let Some(path) = &args.port_file {
        write_port_file(path, local.port())?;
    }
    tracing::info!("esm-emulator listening on http://{local}");
    let options = esm_emulator::server::Options {
        sts_min_duration_seconds: args.sts_min_duration_seconds.max(1),
    };
    esm_emulator::server::serve_with(model, options, listener, shutdown_signal()).await?;
    Ok(())
}
