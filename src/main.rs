use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use esm_controller::api::EventSourceMapping;
use esm_controller::controller::accounts::watch_accounts;
use esm_controller::controller::leader::{
    Elector, Leadership, LeaseSettings, LeaseTiming, WriteFence,
};
use esm_controller::controller::{self, Context, Settings, SweepSettings, WatchScope};
use esm_controller::http::{self, Readiness};
use esm_controller::lambda::aws::{AwsLambda, AwsSettings};
use esm_controller::lambda::{Budget, Budgeting, Guarding, Metering};
use esm_controller::telemetry::Metrics;
use esm_controller::telemetry::{self, LogFormat};
use kube::api::ListParams;
use kube::client::ClientBuilder;
use kube::{Api, Client};

#[derive(Parser)]
#[command(
    name = "esm-controller",
    version,
    about = "Kubernetes controller for AWS Lambda event source mappings"
)]
enum Command {
    /// Run the controller.
    Run(Box<RunArgs>),
    /// Print the CustomResourceDefinition YAML, or with --write update every committed copy
    /// (crds/ and the Helm chart).
    Crd {
        /// Write the committed copies under this repository root instead of printing.
        #[arg(long, value_name = "REPO_ROOT")]
        write: Option<std::path::PathBuf>,
    },
    /// Show what applying EventSourceMapping manifests would do in AWS Lambda, like
    /// `kubectl diff`: create, update (field: live → desired), no change, or refused at
    /// admission. Reads the cluster (kubeconfig) and Lambda (the AWS credential chain); writes
    /// to neither. Exit status: 0 no change, 1 changes, 2 refused, invalid or error.
    Diff(DiffArgs),
}

#[derive(clap::Args)]
struct DiffArgs {
    /// Manifest file, directory (its *.yaml, *.yml and *.json files; not recursive) or `-`
    /// for stdin. Repeatable.
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE|DIR|-",
        required = true
    )]
    filename: Vec<std::path::PathBuf>,
    /// Namespace for manifests that name none (default: the kubeconfig context's).
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// `text` for people (a pull request comment), `json` for tools.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    output: DiffOutput,
    /// The controller's default region, for resources without spec.region (default: the AWS
    /// SDK's, e.g. AWS_REGION). Give the controller's own --region.
    #[arg(long, env = "ESM_DEFAULT_REGION")]
    region: Option<String>,
    /// Lambda endpoint override, as for `run`. AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_LAMBDA
    /// are honoured too.
    #[arg(long, env = "ESM_AWS_ENDPOINT_URL")]
    aws_endpoint_url: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum DiffOutput {
    Text,
    Json,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Get mode: how often an in-sync mapping is re-checked for drift (e.g. 300s, 5m). In list
    /// mode the sweep re-checks every mapping instead, at --sweep-rate.
    #[arg(long, env = "ESM_RESYNC_PERIOD", default_value = "5m", value_parser = parse_duration)]
    resync_period: Duration,
    /// How often a stalled resource (missing function, invalid parameters, conflict) is re-checked.
    #[arg(long, env = "ESM_STALLED_RECHECK", default_value = "5m", value_parser = parse_duration)]
    stalled_recheck: Duration,
    /// Reconciles running at once in the whole process, across every watched namespace (never
    /// two on one resource).
    #[arg(long, env = "ESM_CONCURRENCY", default_value_t = 4)]
    concurrency: u16,
    /// Namespaces to watch (comma-separated); empty watches all namespaces.
    #[arg(long, env = "ESM_WATCH_NAMESPACES", value_delimiter = ',')]
    namespaces: Vec<String>,
    /// Only manage resources matching this label selector.
    #[arg(long, env = "ESM_LABEL_SELECTOR")]
    label_selector: Option<String>,
    /// Name of this cluster, written into each mapping's ownership tags. Give every cluster
    /// sharing an AWS account its own name.
    #[arg(long, env = "ESM_CLUSTER_NAME", default_value = "default")]
    cluster_name: String,
    /// Refuse the controller's own AWS identity: a resource must name a LambdaAccount in
    /// spec.accountRef or have a default one for its namespace, otherwise it stalls (NoAccount)
    /// without any AWS call. Off: such resources use the controller's own identity.
    #[arg(long, env = "ESM_REQUIRE_ACCOUNT_BINDING", default_value_t = false)]
    require_account_binding: bool,
    /// How long the credentials of a LambdaAccount's assumed role last (e.g. 1h, 30m); they
    /// are refreshed shortly before they expire. AWS accepts 15m up to the role's maximum
    /// session duration.
    #[arg(long, env = "ESM_ASSUME_ROLE_DURATION", default_value = "1h", value_parser = assume_role_duration)]
    assume_role_duration: Duration,
    /// Region for resources without spec.region (default: the AWS SDK's, e.g. AWS_REGION).
    #[arg(long, env = "ESM_DEFAULT_REGION")]
    region: Option<String>,
    /// Lambda endpoint override (emulators, VPC endpoints). AWS_ENDPOINT_URL and
    /// AWS_ENDPOINT_URL_LAMBDA are honoured too.
    #[arg(long, env = "ESM_AWS_ENDPOINT_URL")]
    aws_endpoint_url: Option<String>,
    /// How the controller reads Lambda: `list` (a shared sweep of ListEventSourceMappings pages
    /// feeds every reconcile) or `get` (one GetEventSourceMapping per resource and reconcile).
    #[arg(long, env = "ESM_OBSERVE", value_enum, default_value = "list")]
    observe: ObserveMode,
    /// List pages per second each lane's sweep spends (list mode), 0.01 to 15. A lane of P
    /// pages (100 mappings each) is swept every P / rate seconds, at least every
    /// --sweep-busy-interval: this is how quickly drift made outside Kubernetes is seen. The
    /// default, 1, is a fifteenth of Lambda's 15 requests/s per account and region, which every
    /// other tool in the account shares. During a long burst of writes, sweeps slow down to the
    /// budget's read share.
    #[arg(long, env = "ESM_SWEEP_RATE", default_value_t = 1.0, value_parser = sweep_rate)]
    sweep_rate: f64,
    /// The longest time between two sweeps of a lane (list mode), even when the lane has so
    /// many pages that --sweep-rate would allow fewer. Unset: as --sweep-rate allows.
    #[arg(long, env = "ESM_SWEEP_INTERVAL", value_parser = parse_duration)]
    sweep_interval: Option<Duration>,
    /// Interval of the List sweep while our own writes or busy mappings are settling.
    #[arg(long, env = "ESM_SWEEP_BUSY_INTERVAL", default_value = "2s", value_parser = parse_duration)]
    sweep_busy_interval: Duration,
    /// Lambda requests per second this controller may send per region, all calls together
    /// (Lambda allows 15/s per account and region, shared with every other tool); 0.1 to 1000.
    /// Writes go first; reads keep a fifteenth of the rate while writes wait.
    #[arg(long, env = "ESM_AWS_RATE_LIMIT", default_value_t = 8.0, value_parser = rate_limit)]
    aws_rate_limit: f64,
    /// Requests that may be sent at once after a quiet period; 1 to 1000 (default: the rate,
    /// at least 1).
    #[arg(long, env = "ESM_AWS_BURST", value_parser = burst)]
    aws_burst: Option<f64>,
    /// Address of the /healthz, /readyz and /metrics endpoint.
    #[arg(long, env = "ESM_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    http_addr: std::net::SocketAddr,
    /// Reconcile only while holding a Lease (required when running more than one replica).
    #[arg(long, env = "ESM_LEADER_ELECT", default_value_t = false)]
    leader_elect: bool,
    /// Namespace of the leader-election Lease (default: the pod's namespace).
    #[arg(long, env = "POD_NAMESPACE")]
    leader_election_namespace: Option<String>,
    /// Name of the leader-election Lease.
    #[arg(long, env = "ESM_LEADER_ELECTION_ID", default_value = "esm-controller")]
    leader_election_id: String,
    /// How long the Lease stays valid without renewal, in whole seconds: how long a standby
    /// waits after the leader's last renewal before it takes over.
    #[arg(long, env = "ESM_LEADER_ELECTION_LEASE_DURATION", default_value = "15s", value_parser = parse_duration)]
    leader_election_lease_duration: Duration,
    /// How long the leader goes on without renewing the Lease; then it makes no more AWS or
    /// Kubernetes writes and exits. Shorter than the lease duration.
    #[arg(long, env = "ESM_LEADER_ELECTION_RENEW_DEADLINE", default_value = "10s", value_parser = parse_duration)]
    leader_election_renew_deadline: Duration,
    /// How often the leader renews the Lease (and retries a failed renewal), and how often a
    /// standby tries to take it. Shorter than the renew deadline.
    #[arg(long, env = "ESM_LEADER_ELECTION_RETRY_PERIOD", default_value = "2s", value_parser = parse_duration)]
    leader_election_retry_period: Duration,
    /// Log line format: `text` for people, `json` (one object per line) for log pipelines.
    #[arg(long, env = "ESM_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Which log lines to print: error, warn, info, debug or trace, or a tracing filter such as
    /// `info,esm_controller=debug`. RUST_LOG, when set, wins over this flag.
    #[arg(long, env = "ESM_LOG_LEVEL", default_value = "info", value_parser = telemetry::check_filter)]
    log_level: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ObserveMode {
    List,
    Get,
}

/// Kubernetes API timeouts. kube waits for a response for ever by default, so one stalled
/// connection would hold a reconcile, or the start-up, indefinitely. Opening a connection:
const KUBE_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// From sending a request to its response headers. This covers watches too: the API server
/// answers a watch's headers at once and streams its events afterwards.
const KUBE_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// A socket read that makes no progress. It must outlast a quiet watch, which the watcher asks
/// the server to end after 290 s, with perhaps no event in between.
const KUBE_READ_TIMEOUT: Duration = Duration::from_secs(300);
/// A socket write that makes no progress (request bodies are small).
const KUBE_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// A budget above this is no budget at all: Lambda's quota is 15 requests/s, so a bigger number
/// is a typo (requests per minute, milliseconds), not a plan.
const MAX_BUDGET: f64 = 1000.0;

fn rate_limit(text: &str) -> Result<f64, String> {
    number_in_range(text, Budget::MIN_RATE, MAX_BUDGET)
}

/// "No ceiling" on the time between sweeps: a day, which no pace below 15 pages/s reaches
/// before an account would have over a million mappings.
const NO_SWEEP_CEILING: Duration = Duration::from_secs(24 * 3600);

/// From a second (emulators) to STS's 12-hour maximum.
fn assume_role_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if !(Duration::from_secs(1)..=Duration::from_secs(12 * 3600)).contains(&duration) {
        return Err("must be from 1s to 12h".into());
    }
    Ok(duration)
}

fn sweep_rate(text: &str) -> Result<f64, String> {
    number_in_range(text, 0.01, 15.0)
}

fn burst(text: &str) -> Result<f64, String> {
    number_in_range(text, Budget::MIN_BURST, MAX_BUDGET)
}

/// Clap puts the flag's name in front of the message.
fn number_in_range(text: &str, min: f64, max: f64) -> Result<f64, String> {
    let out_of_range = || format!("must be a number from {min} to {max}");
    let n: f64 = text.trim().parse().map_err(|_| out_of_range())?;
    // `!(..)` so that NaN is refused too.
    if !(min..=max).contains(&n) {
        return Err(out_of_range());
    }
    Ok(n)
}

/// The leader-election timing from the flags, refused at start-up when it could let two
/// replicas write at once.
fn lease_timing(args: &RunArgs) -> Result<LeaseTiming, String> {
    LeaseTiming::new(
        args.leader_election_lease_duration,
        args.leader_election_renew_deadline,
        args.leader_election_retry_period,
    )
    .map_err(|e| {
        format!(
            "--leader-election-lease-duration, --leader-election-renew-deadline, \
             --leader-election-retry-period: {e}"
        )
    })
}

/// A client on `config` (with the timeouts above) whose writes pass only while `leadership`
/// is current.
fn kube_client(config: kube::Config, leadership: Arc<Leadership>) -> Result<Client, String> {
    let builder = ClientBuilder::try_from(config)
        .map_err(|e| format!("cannot build the Kubernetes client: {e}"))?;
    Ok(builder
        .with_layer(&tower::timeout::TimeoutLayer::new(KUBE_REQUEST_TIMEOUT))
        .with_layer(&WriteFence::new(leadership))
        .build())
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 30s, 5m or 1h"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "ms" => return Ok(Duration::from_millis(n)),
        _ => return Err(format!("{text:?}: unit must be ms, s, m or h")),
    };
    Ok(Duration::from_secs(secs))
}

fn main() -> ExitCode {
    match Command::parse() {
        Command::Crd { write } => match write {
            None => {
                // A reader that stops early (`| grep -q`, `| head`) is not an error.
                use std::io::Write;
                let _ = std::io::stdout().write_all(esm_controller::api::crd_yaml().as_bytes());
                ExitCode::SUCCESS
            }
            Some(root) => write_crds(&root),
        },
        Command::Diff(args) => diff(args),
        Command::Run(args) => {
            telemetry::init(args.log_format, &args.log_level);
            telemetry::memory::tune();
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(run(*args)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(message) => {
                    tracing::error!("{message}");
                    eprintln!("esm-controller: {message}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Writes every CRD into each committed directory under `root`.
fn write_crds(root: &std::path::Path) -> ExitCode {
    for dir in esm_controller::api::CRD_DIRS {
        for (file, crd) in esm_controller::api::crds() {
            let path = root.join(dir).join(file);
            if let Err(e) = std::fs::write(&path, esm_controller::api::crd_yaml_of(&crd)) {
                eprintln!("cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

/// `esm-controller diff`: prints the report, exits 0, 1 or 2.
fn diff(args: DiffArgs) -> ExitCode {
    use esm_controller::diff::cli::{self, Output, Settings};
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let settings = Settings {
        files: args.filename,
        namespace: args.namespace,
        output: match args.output {
            DiffOutput::Text => Output::Text,
            DiffOutput::Json => Output::Json,
        },
        region: args.region,
        aws_endpoint_url: args.aws_endpoint_url,
    };
    ExitCode::from(runtime.block_on(cli::run(settings)))
}

/// The controller's life: connect to Kubernetes and AWS, serve health and metrics, win the
/// lease when electing, run until stopped or until leadership is lost.
async fn run(args: RunArgs) -> Result<(), String> {
    // One TLS provider for kube and the AWS SDK.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let timing = if args.leader_elect {
        Some(lease_timing(&args)?)
    } else {
        None
    };
    let kube_config = kube_config().await?;
    // Start-up checks and the elector. Not fenced: taking and renewing the Lease are the writes
    // that must pass while leadership is not current.
    let client = kube_client(kube_config.clone(), Arc::new(Leadership::unconditional()))?;
    check_crd(&client, args.namespaces.first()).await?;
    let lambda = aws_lambda(&args).await?;
    let settings = Settings {
        cluster_name: args.cluster_name.clone(),
        default_region: lambda.default_region(),
        resync: args.resync_period,
        stalled_recheck: args.stalled_recheck,
    };
    log_start(&args, &settings);

    let stopped = stop_on_signal();
    let metrics = Arc::new(Metrics::new());
    let readiness = Arc::new(Readiness::default());
    let listener = tokio::net::TcpListener::bind(args.http_addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.http_addr))?;
    let serving = http::serve(listener, metrics.clone(), readiness.clone(), stopped());
    tokio::spawn(serving);

    // The account bindings' and namespaces' caches are filled before the first resource
    // resolves its account, and before the lease is taken: a standby warms them too, and a
    // leader must not spend its renew deadline waiting for them. Their watches only read.
    let (accounts, bindings) = watch_accounts(&client, !args.require_account_binding).await;
    let elector = match timing {
        Some(timing) => {
            let elector = elector(&args, client, timing)?;
            // A standby replica is healthy and ready to take over.
            readiness.set_ready();
            tokio::select! {
                _ = elector.acquire() => {},
                _ = stopped() => return Ok(()),
            }
            Some(elector)
        }
        None => None,
    };
    // Without leader election, the operator runs one replica and every check passes.
    let leadership = match &elector {
        Some(elector) => elector.leadership(),
        None => Arc::new(Leadership::unconditional()),
    };
    // Each lane's calls are spent from the lane's own budget, then checked against leadership
    // (last, right before they are sent), then counted.
    let burst = args.aws_burst;
    let connector = Budgeting::new(
        Guarding::new(Metering::new(lambda, metrics.clone()), leadership.clone()),
        args.aws_rate_limit,
        burst.unwrap_or(args.aws_rate_limit.max(Budget::MIN_BURST)),
    );
    // Status, finalizer and Event writes are fenced like Lambda calls.
    let controller_client = kube_client(kube_config, leadership)?;
    let mut ctx = Context::new(controller_client, connector, settings)
        .with_metrics(metrics)
        .with_accounts(accounts);
    if args.observe == ObserveMode::List {
        ctx = ctx.with_sweeps(SweepSettings {
            // Without a ceiling, a lane is swept as often as its pace allows.
            interval: args.sweep_interval.unwrap_or(NO_SWEEP_CEILING),
            busy_interval: args.sweep_busy_interval,
            pages_per_second: Some(args.sweep_rate),
        });
    }
    let scope = WatchScope {
        namespaces: args.namespaces,
        label_selector: args.label_selector,
    };
    let controller = controller::run(
        Arc::new(ctx),
        scope,
        args.concurrency,
        readiness,
        Some(bindings),
        stopped(),
    );
    lead_until_done(controller, elector.as_ref()).await
}

/// The Kubernetes client configuration, with every request bounded in time.
async fn kube_config() -> Result<kube::Config, String> {
    let mut kube_config = kube::Config::infer().await.map_err(|e| {
        format!("cannot reach the Kubernetes API (in-cluster config or KUBECONFIG): {e}")
    })?;
    kube_config.connect_timeout = Some(KUBE_CONNECT_TIMEOUT);
    kube_config.read_timeout = Some(KUBE_READ_TIMEOUT);
    kube_config.write_timeout = Some(KUBE_WRITE_TIMEOUT);
    // Count the read timeout from each request, not from when its pooled connection went idle.
    kube_config.reset_reader_on_write = true;
    Ok(kube_config)
}

/// Fails clearly, not with watch errors, when the CRD is missing or RBAC forbids the list.
async fn check_crd(client: &Client, namespace: Option<&String>) -> Result<(), String> {
    let probe: Api<EventSourceMapping> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    match probe.list(&ListParams::default().limit(1)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Err("the EventSourceMapping CRD is not installed: kubectl apply --server-side -f crds/ (or install the Helm chart)".to_string()),
        Err(kube::Error::Api(s)) if s.code == 403 => Err(format!("not allowed to list eventsourcemappings.lambda.esm-controller.dev: {} (check the controller's RBAC)", s.message)),
        Err(other) => Err(format!("cannot list EventSourceMappings: {other}")),
    }?;
    let bindings: Api<esm_controller::api::LambdaAccount> = Api::all(client.clone());
    match bindings.list(&ListParams::default().limit(1)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Err("the LambdaAccount CRD is not installed: kubectl apply --server-side -f crds/ (or upgrade the Helm chart)".to_string()),
        Err(kube::Error::Api(s)) if s.code == 403 => Err(format!("not allowed to list lambdaaccounts.lambda.esm-controller.dev: {} (check the controller's RBAC)", s.message)),
        Err(other) => Err(format!("cannot list LambdaAccounts: {other}")),
    }
}

/// The AWS side, with credentials checked now rather than at the first reconcile.
async fn aws_lambda(args: &RunArgs) -> Result<AwsLambda, String> {
    let lambda = AwsLambda::new(AwsSettings {
        endpoint_url: args.aws_endpoint_url.clone(),
        default_region: args.region.clone(),
        // One rate governor: the shared budget sees every throttle, per-object backoff retries.
        max_attempts: Some(1),
        session_name: esm_controller::lambda::aws::session_name(&args.cluster_name),
        session_length: Some(args.assume_role_duration),
    })
    .await;
    lambda.check_credentials().await?;
    if lambda.default_region().is_none() {
        tracing::warn!(
            "no default AWS region (AWS_REGION or --region): every resource must set spec.region"
        );
    }
    Ok(lambda)
}

fn log_start(args: &RunArgs, settings: &Settings) {
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        cluster = settings.cluster_name,
        region = settings.default_region.as_deref().unwrap_or(""),
        resync_s = settings.resync.as_secs(),
        concurrency = args.concurrency,
        namespaces = ?args.namespaces,
        leader_elect = args.leader_elect,
        observe = ?args.observe,
        aws_rate_limit = args.aws_rate_limit,
        "starting esm-controller"
    );
}

/// Resolves when the process is asked to stop.
type Stopped = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + Sync>>;

/// One shutdown signal for everything (the HTTP server, the lease and the controller): each
/// call of the returned function gives a future that resolves on SIGTERM or Ctrl-C.
fn stop_on_signal() -> impl Fn() -> Stopped {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    move || {
        let mut rx = stop_rx.clone();
        Box::pin(async move {
            let _ = rx.wait_for(|stop| *stop).await;
        })
    }
}

fn elector(args: &RunArgs, client: Client, timing: LeaseTiming) -> Result<Elector, String> {
    let namespace = args
        .leader_election_namespace
        .clone()
        .ok_or("--leader-elect needs --leader-election-namespace (or POD_NAMESPACE)")?;
    let identity = std::env::var("POD_NAME")
        .unwrap_or_else(|_| format!("esm-controller-{}", std::process::id()));
    let lease = LeaseSettings::new(namespace, args.leader_election_id.clone(), identity);
    Ok(Elector::new(client, lease.with_timing(timing)))
}

/// Runs the controller; with an elector, only while the lease is held: losing it stops the
/// process, so that the pod restarts as a standby.
async fn lead_until_done(
    controller: impl std::future::Future<Output = ()>,
    elector: Option<&Elector>,
) -> Result<(), String> {
    let result = match elector {
        Some(elector) => tokio::select! {
            _ = controller => Ok(()),
            reason = elector.hold() => Err(format!(
                "stopping: lost leadership ({reason}); exiting so that the pod restarts as a standby"
            )),
        },
        None => {
            controller.await;
            Ok(())
        }
    };
    if let Some(elector) = elector {
        elector.release().await;
    }
    tracing::info!("stopped");
    result
}

/// SIGTERM (Kubernetes) or Ctrl-C: stop taking new work, let running reconciles finish.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutdown signal received; finishing running reconciles");
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn run_args(flags: &[&str]) -> Result<RunArgs, clap::Error> {
        let argv = ["esm-controller", "run"].iter().chain(flags);
        match Command::try_parse_from(argv)? {
            Command::Run(args) => Ok(*args),
            Command::Crd { .. } | Command::Diff(_) => unreachable!("parsed `run`"),
        }
    }

    #[test]
    fn budget_flags_outside_their_range_are_refused_naming_the_flag_and_range() {
        for (flag, value, range) in [
            ("--aws-rate-limit", "0", "from 0.1 to 1000"),
            ("--aws-rate-limit", "0.05", "from 0.1 to 1000"),
            ("--aws-rate-limit", "-3", "from 0.1 to 1000"),
            ("--aws-rate-limit", "1001", "from 0.1 to 1000"),
            ("--aws-rate-limit", "NaN", "from 0.1 to 1000"),
            ("--aws-rate-limit", "inf", "from 0.1 to 1000"),
            ("--aws-rate-limit", "fast", "from 0.1 to 1000"),
            ("--aws-burst", "0.5", "from 1 to 1000"),
            ("--aws-burst", "5000", "from 1 to 1000"),
        ] {
            let err = run_args(&[&format!("{flag}={value}")])
                .err()
                .unwrap_or_else(|| panic!("{flag}={value} was accepted"));
            assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
            let text = err.to_string();
            assert!(text.contains(flag), "{text}");
            assert!(text.contains(range), "{text}");
        }
    }

    #[test]
    fn log_levels_that_would_silently_log_nothing_are_refused() {
        for (bad, says) in [
            ("inf", "did you mean `info`"),
            ("debgu", "did you mean `debug`"),
            ("Warning", "did you mean `warn`"),
            ("esm_controller=debug,eror", "did you mean `error`"),
            ("info,esm_controller=verbose", "esm_controller=verbose"),
            ("", "the filter is empty"),
        ] {
            let err = run_args(&[&format!("--log-level={bad}")])
                .err()
                .unwrap_or_else(|| panic!("--log-level={bad} was accepted"));
            let text = err.to_string();
            assert!(text.contains("--log-level"), "{text}");
            assert!(text.contains(says), "{text}");
        }
    }

    #[test]
    fn log_filters_tracing_understands_are_kept_as_given() {
        for good in [
            "warn",
            "INFO",
            "info,esm_controller=debug",
            "esm_controller::lambda=trace",
            "esm_controller",
            "esm_controller=4",
            "warn,aws_smithy_runtime=off",
            "[reconcile]=debug",
            "info,",
        ] {
            let args = run_args(&[&format!("--log-level={good}")])
                .unwrap_or_else(|e| panic!("--log-level={good} was refused: {e}"));
            assert_eq!(args.log_level, good);
        }
    }

    #[test]
    fn budget_flags_inside_their_range_are_kept_as_given() {
        let args = run_args(&["--aws-rate-limit=2.5", "--aws-burst=4"]).unwrap();
        assert_eq!((args.aws_rate_limit, args.aws_burst), (2.5, Some(4.0)));
        let edges = run_args(&["--aws-rate-limit=0.1", "--aws-burst=1000"]).unwrap();
        assert_eq!((edges.aws_rate_limit, edges.aws_burst), (0.1, Some(1000.0)));
    }

    #[test]
    fn leader_election_timings_that_could_let_two_replicas_write_are_refused_at_start_up() {
        let args = run_args(&[]).unwrap();
        assert_eq!(lease_timing(&args), Ok(LeaseTiming::default()));
        let args = run_args(&[
            "--leader-election-lease-duration=8s",
            "--leader-election-renew-deadline=5s",
            "--leader-election-retry-period=500ms",
        ])
        .unwrap();
        assert!(lease_timing(&args).is_ok());
        let args = run_args(&[
            "--leader-election-lease-duration=10s",
            "--leader-election-renew-deadline=10s",
        ])
        .unwrap();
        let err = lease_timing(&args).unwrap_err();
        assert!(err.contains("--leader-election-renew-deadline"), "{err}");
        assert!(err.contains("shorter than the lease duration"), "{err}");
    }

    #[test]
    fn every_run_flag_has_help_text() {
        let command = Command::command();
        let run = command.find_subcommand("run").expect("run subcommand");
        for arg in run.get_arguments() {
            if matches!(arg.get_id().as_str(), "help" | "version") {
                continue;
            }
            assert!(
                arg.get_help().is_some(),
                "--{} has no help text",
                arg.get_id()
            );
        }
    }
}
