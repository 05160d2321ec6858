use clap::Parser;

#[derive(Parser)]
#[command(
    name = "esm-controller",
    version,
    about = "Kubernetes controller for AWS Lambda event source mappings"
)]
enum Command {
    /// Print the CustomResourceDefinition YAML (or write it into a directory).
    Crd {
        /// Directory to write `lambda.esm-controller.dev_eventsourcemappings.yaml` into.
        #[arg(long)]
        output: Option<std::path::PathBuf>,
    },
}

fn main() -> std::process::ExitCode {
    match Command::parse() {
        Command::Crd { output } => {
            let yaml = esm_controller::api::crd_yaml();
            match output {
                None => print!("{yaml}"),
                Some(dir) => {
                    let path = dir.join("lambda.esm-controller.dev_eventsourcemappings.yaml");
                    if let Err(e) = std::fs::write(&path, yaml) {
                        eprintln!("cannot write {}: {e}", path.display());
                        return std::process::ExitCode::FAILURE;
                    }
                }
            }
            std::process::ExitCode::SUCCESS
        }
    }
}
