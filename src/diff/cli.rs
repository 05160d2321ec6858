//! The reading side of `esm-controller diff`: manifests from files or stdin, the stored
//! resources from the cluster, the live mappings from Lambda. It writes nothing: the only
//! Kubernetes call is a GET of each resource (and one discovery GET), and the only Lambda calls
//! are GetEventSourceMapping and ListTags, each through a type ([`Cluster`], [`ReadLambda`])
//! that offers nothing else.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use read_only::{Cluster, ReadLambda};

use super::{Document, Read, Report, ResourceDiff, Skipped, Verdict};
use crate::plan::Observed;

/// How `diff` prints its report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Text,
    Json,
}

/// The command line of `esm-controller diff`.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Files, directories (their *.yaml, *.yml and *.json files, not recursively) or `-`.
    pub files: Vec<PathBuf>,
    pub namespace: Option<String>,
    pub output: Output,
    /// The controller's default region (`--region`), else the AWS SDK's.
    pub region: Option<String>,
    pub aws_endpoint_url: Option<String>,
}

/// Runs the diff and prints the report; returns the exit status (see [`super::exit_code`]).
pub async fn run(settings: Settings) -> u8 {
    match report(&settings).await {
        Ok(report) => {
            match settings.output {
                Output::Json => print!("{}", super::json(&report)),
                Output::Text => {
                    for s in &report.skipped {
                        let name = if s.name.is_empty() {
                            "(no name)"
                        } else {
                            &s.name
                        };
                        eprintln!(
                            "skipped {} {name} ({}): not a {}/v1alpha1 EventSourceMapping",
                            s.kind,
                            s.source,
                            crate::api::GROUP
                        );
                    }
                    print!("{}", super::text(&report));
                }
            }
            super::exit_code(&report)
        }
        Err(message) => {
            eprintln!("esm-controller diff: {message}");
            2
        }
    }
}

async fn report(settings: &Settings) -> Result<Report, String> {
    // Every manifest is read before anything is asked of the cluster.
    let mut documents = Vec::new();
    for file in &settings.files {
        documents.extend(read_manifests(file)?);
    }
    let mut report = Report::default();
    let mut mappings = Vec::new();
    for document in documents {
        match document {
            Document::Mapping { source, esm } => mappings.push((source, esm)),
            Document::Skipped {
                source,
                api_version,
                kind,
                name,
            } => report.skipped.push(Skipped {
                source,
                api_version,
                kind,
                name,
            }),
            Document::Invalid {
                source,
                namespace,
                name,
                message,
            } => {
                let namespace = namespace.or(settings.namespace.clone()).unwrap_or_default();
                let diff = ResourceDiff::new(&source, &namespace, &name, Verdict::Invalid);
                report.resources.push(diff.with_message(message));
            }
        }
    }
    if mappings.is_empty() {
        return Ok(report);
    }
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cluster = Cluster::connect().await?;
    let lambda = ReadLambda::new(settings).await;
    let now_epoch = jiff::Timestamp::now().as_second() as f64;
    for (source, mut esm) in mappings {
        let name = esm.metadata.name.clone().unwrap_or_default();
        let namespace = match super::namespace_of(
            &esm,
            settings.namespace.as_deref(),
            cluster.default_namespace(),
        ) {
            Ok(ns) => ns,
            Err(message) => {
                let ns = esm.metadata.namespace.clone().unwrap_or_default();
                let diff = ResourceDiff::new(&source, &ns, &name, Verdict::Error);
                report.resources.push(diff.with_message(message));
                continue;
            }
        };
        esm.metadata.namespace = Some(namespace.clone());
        let stored = cluster.get(&namespace, &name).await?;
        let prepared = match super::prepare(
            &source,
            &esm,
            stored.as_ref(),
            lambda.default_region.as_deref(),
            now_epoch,
        ) {
            Ok(prepared) => prepared,
            Err(answer) => {
                report.resources.push(*answer);
                continue;
            }
        };
        let observed = match &prepared.read {
            None => Observed::Nothing,
            Some(read) => match observe(&cluster, &lambda, read).await {
                Ok(observed) => observed,
                Err(message) => {
                    let mut diff = prepared.base.clone();
                    diff.action = Verdict::Error;
                    report.resources.push(diff.with_message(message));
                    continue;
                }
            },
        };
        report.resources.push(super::conclude(prepared, &observed));
    }
    Ok(report)
}

/// The recorded mapping, read in its account (its binding's role, or the own identity).
async fn observe(cluster: &Cluster, lambda: &ReadLambda, read: &Read) -> Result<Observed, String> {
    let role = match &read.account {
        Some(name) => Some(cluster.account(name).await?),
        None => None,
    };
    lambda.observe(read, role).await
}

/// The documents of a file, of each manifest file of a directory (sorted by name), or of
/// stdin (`-`).
fn read_manifests(path: &Path) -> Result<Vec<Document>, String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
        return super::parse("stdin", &text);
    }
    let shown = path.display();
    let metadata = std::fs::metadata(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if !metadata.is_dir() {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
        return super::parse(&shown.to_string(), &text);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| format!("cannot read directory {shown}: {e}"))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        })
        .collect();
    files.sort();
    let mut documents = Vec::new();
    for file in files {
        documents.extend(read_manifests(&file)?);
    }
    Ok(documents)
}

/// The only way this module reaches the cluster and Lambda: two types whose fields are private
/// here and whose methods only read.
mod read_only {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::{Read, Settings};
    use crate::plan::Observed;

    /// The cluster, for reading EventSourceMappings; nothing else is offered.
    pub(super) struct Cluster {
        client: kube::Client,
    }

    impl Cluster {
        /// Connects with the kubeconfig (or the in-cluster config) and checks that the CRD is
        /// served, so that a missing CRD is an error rather than "every resource is new".
        pub(super) async fn connect() -> Result<Self, String> {
            let mut config = kube::Config::infer().await.map_err(|e| {
                format!("cannot reach the Kubernetes API (KUBECONFIG or in-cluster config): {e}")
            })?;
            config.connect_timeout = Some(Duration::from_secs(10));
            config.read_timeout = Some(Duration::from_secs(30));
            let client = kube::Client::try_from(config)
                .map_err(|e| format!("cannot build the Kubernetes client: {e}"))?;
            let api_version = format!("{}/v1alpha1", crate::api::GROUP);
            match client.list_api_group_resources(&api_version).await {
                Ok(list)
                    if list
                        .resources
                        .iter()
                        .any(|r| r.name == "eventsourcemappings") =>
                {
                    Ok(Self { client })
                }
                Ok(_) => Err(format!(
                    "{api_version} serves no eventsourcemappings: is the EventSourceMapping CRD installed?"
                )),
                Err(kube::Error::Api(s)) if s.code == 404 => Err(format!(
                    "the EventSourceMapping CRD is not installed in this cluster ({api_version} is not served)"
                )),
                Err(e) => Err(format!("cannot reach the Kubernetes API: {e}")),
            }
        }

        pub(super) fn default_namespace(&self) -> &str {
            self.client.default_namespace()
        }

        /// The role of a LambdaAccount, as the controller would assume it.
        pub(super) async fn account(
            &self,
            name: &str,
        ) -> Result<crate::lambda::AccountRole, String> {
            let api: kube::Api<crate::api::LambdaAccount> = kube::Api::all(self.client.clone());
            match api.get_opt(name).await {
                Ok(Some(binding)) => Ok(crate::controller::accounts::role_of(&binding)),
                Ok(None) => Err(format!(
                    "LambdaAccount {name} (status.account) does not exist: the controller cannot reach this mapping either"
                )),
                Err(e) => Err(format!("cannot read lambdaaccount {name}: {e}")),
            }
        }

        /// The stored resource, `None` when there is none.
        pub(super) async fn get(
            &self,
            namespace: &str,
            name: &str,
        ) -> Result<Option<crate::api::EventSourceMapping>, String> {
            let api: kube::Api<crate::api::EventSourceMapping> =
                kube::Api::namespaced(self.client.clone(), namespace);
            api.get_opt(name)
                .await
                .map_err(|e| format!("cannot read eventsourcemapping {namespace}/{name}: {e}"))
        }
    }

    /// Lambda, for reading mappings and their tags; nothing else is offered. One client per
    /// region, made on first use, so a diff that only creates needs no AWS credentials.
    pub(super) struct ReadLambda {
        aws: crate::lambda::aws::AwsLambda,
        pub(super) default_region: Option<String>,
        lanes: tokio::sync::Mutex<
            BTreeMap<crate::lambda::LaneKey, std::sync::Arc<crate::lambda::aws::AwsLane>>,
        >,
    }

    impl ReadLambda {
        pub(super) async fn new(settings: &Settings) -> Self {
            let aws = crate::lambda::aws::AwsLambda::new(crate::lambda::aws::AwsSettings {
                endpoint_url: settings.aws_endpoint_url.clone(),
                default_region: settings.region.clone(),
                // The SDK's standard retries: there is no shared budget to feed here.
                max_attempts: None,
                session_name: crate::lambda::aws::session_name("diff"),
                session_length: None,
            })
            .await;
            let default_region = aws.default_region();
            Self {
                aws,
                default_region,
                lanes: Default::default(),
            }
        }

        async fn lane(
            &self,
            key: crate::lambda::LaneKey,
        ) -> std::sync::Arc<crate::lambda::aws::AwsLane> {
            use crate::lambda::Connect;
            let mut lanes = self.lanes.lock().await;
            lanes
                .entry(key.clone())
                .or_insert_with(|| std::sync::Arc::new(self.aws.connect(&key)))
                .clone()
        }

        /// The recorded mapping (with its tags when asked), or that it is gone; in the
        /// account of its binding (`role`) when it has one.
        pub(super) async fn observe(
            &self,
            read: &Read,
            role: Option<crate::lambda::AccountRole>,
        ) -> Result<Observed, String> {
            use crate::lambda::{ErrorKind, LambdaPort};
            let lane = self
                .lane(crate::lambda::LaneKey {
                    account: role,
                    region: read.region.clone(),
                })
                .await;
            let mapping = match lane.get_mapping(&read.uuid).await {
                Ok(mapping) => mapping,
                Err(e) if e.kind == ErrorKind::NotFound => {
                    return Ok(Observed::Gone {
                        uuid: read.uuid.clone(),
                    });
                }
                Err(e) => {
                    return Err(format!(
                        "cannot read mapping {} in {}: {e}",
                        read.uuid, read.region
                    ));
                }
            };
            let tags = match (&mapping.arn, read.tags) {
                (Some(arn), true) => Some(lane.list_tags(arn).await.map_err(|e| {
                    format!(
                        "cannot read the tags of mapping {} in {}: {e}",
                        read.uuid, read.region
                    )
                })?),
                _ => None,
            };
            Ok(Observed::Found { mapping, tags })
        }
    }
}
