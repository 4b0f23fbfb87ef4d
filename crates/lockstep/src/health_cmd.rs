//! `lockstep health -f FILE`: health of the objects in a file, offline.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use lockstep_engine::ResourceKey;

#[derive(Args)]
pub(crate) struct HealthArgs {
    /// A YAML or JSON file of objects (multi-document or a List); `-` for standard input.
    #[arg(short = 'f', long = "filename")]
    file: PathBuf,
    /// Print kstatus's result (Current, InProgress, Failed, Terminating) instead of Argo CD's health.
    #[arg(long)]
    kstatus: bool,
}

pub(crate) fn run(args: HealthArgs) -> anyhow::Result<()> {
    let name = args.file.display().to_string();
    let text = if name == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading standard input")?
    } else {
        std::fs::read_to_string(&args.file).with_context(|| format!("reading {name}"))?
    };
    let manifests = lockstep_render::parse_manifests(&name, &text)?;
    for manifest in manifests {
        let key = ResourceKey::of(&manifest.object);
        let place = match &key.namespace {
            Some(ns) => format!("{ns}/{}", key.name),
            None => key.name.clone(),
        };
        let (status, message) = if args.kstatus {
            let result = lockstep_health::kstatus(&manifest.object);
            (result.status.to_string(), result.message)
        } else {
            let health = lockstep_health::assess(&manifest.object);
            (health.status.to_string(), health.message.unwrap_or_default())
        };
        println!("{}\t{place}\t{status}\t{message}", key.kind);
    }
    Ok(())
}
