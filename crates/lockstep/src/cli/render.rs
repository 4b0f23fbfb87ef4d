//! `lockstep render`: prints the manifests an Application deploys (`NAME`), or what a local
//! directory renders to with options given on the command line (`--path DIR`, no cluster needed).
//! SOPS-encrypted objects must decrypt with the local key (`--decryption-key`) and are printed with
//! their encrypted values as `**SOPS**`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use lockstep_api::{
    Application, ApplicationDestination, ApplicationSource, ApplicationSourceDirectory, ApplicationSourceHelm,
    ApplicationSourceKustomize, ApplicationSpec, HelmParameter,
};
use lockstep_render::Manifest;

use crate::cli::local::{self, Origin, ToolArgs};
use crate::cli::{Cluster, ClusterArgs, block_on};

#[derive(Args)]
pub(crate) struct RenderArgs {
    /// The Application whose manifests to render; without it, `--path` is rendered on its own.
    /// `applicationset -f FILE` prints the Applications an ApplicationSet file generates.
    #[arg(required_unless_present_any = ["path", "chart"])]
    name: Option<String>,
    /// With `applicationset`: the ApplicationSet YAML file.
    #[arg(short = 'f', long, requires = "name")]
    file: Option<PathBuf>,
    /// With `applicationset`: a local checkout for a git generator's repository, as `URL=DIR` (repeatable).
    #[arg(long = "git", requires = "file")]
    git: Vec<String>,
    /// With NAME: a local checkout of the Application's repository. Without: the directory to render.
    #[arg(long, conflicts_with = "revision")]
    path: Option<PathBuf>,
    /// With NAME: the branch, tag or commit to render (default: the revision last compared). With
    /// `--chart`: the chart version or semver range (default: the latest version).
    #[arg(long)]
    revision: Option<String>,
    /// A Helm repository to render a chart from (with `--chart`, no cluster needed).
    #[arg(long, requires = "chart", conflicts_with_all = ["name", "path"])]
    repo: Option<String>,
    /// The chart of `--repo` to render, with the Helm options below.
    #[arg(long, requires = "repo")]
    chart: Option<String>,
    #[command(flatten)]
    options: RenderOptions,
    #[command(flatten)]
    tools: ToolArgs,
}

/// Render options for `--path` without an Application, named after Argo CD's CLI flags.
#[derive(Args, Clone, Debug, Default)]
pub(crate) struct RenderOptions {
    /// Read manifests in subdirectories too (directory sources).
    #[arg(long, conflicts_with = "name")]
    directory_recurse: bool,
    /// Only files matching this glob (directory sources).
    #[arg(long, conflicts_with = "name")]
    directory_include: Option<String>,
    /// Skip files matching this glob (directory sources).
    #[arg(long, conflicts_with = "name")]
    directory_exclude: Option<String>,
    /// Treat the directory as a Kustomize overlay even without a kustomization file.
    #[arg(long, conflicts_with_all = ["name", "helm"])]
    kustomize: bool,
    /// Treat the directory as a Helm chart.
    #[arg(long, conflicts_with = "name")]
    helm: bool,
    /// Helm values files, relative to the chart (repeatable).
    #[arg(long = "values", conflicts_with = "name")]
    values: Vec<String>,
    /// Helm `--set name=value` (repeatable).
    #[arg(long = "helm-set", conflicts_with = "name")]
    helm_set: Vec<String>,
    /// Helm release name (default: the directory's name).
    #[arg(long, conflicts_with = "name")]
    release_name: Option<String>,
    /// Namespace for objects that name none, and Helm's release namespace.
    #[arg(long, conflicts_with = "name")]
    dest_namespace: Option<String>,
}

pub(crate) fn run(args: RenderArgs, cluster: &ClusterArgs) -> anyhow::Result<ExitCode> {
    match (&args.name, &args.file) {
        (Some(word), Some(file)) if crate::cli::appset::is_set_word(word) => {
            return crate::cli::appset::render_file(file, &args.git);
        }
        (Some(_), Some(_)) => anyhow::bail!("-f FILE goes with `lockstep render applicationset`"),
        _ => {}
    }
    block_on(async {
        let manifests = match &args.name {
            Some(name) => {
                let cluster = Cluster::connect(cluster).await?;
                let app = cluster.app(name).await?;
                let origin = Origin::of(args.path.clone(), args.revision.clone());
                let snapshots = local::snapshots(&app, &origin, &args.tools).await?;
                local::render_masked(&app, &snapshots, &args.tools, Some(&cluster.client)).await?
            }
            None if args.chart.is_some() => {
                let mut app = application_for(Path::new(""), "", &args.options)?;
                app.metadata.name = args.options.release_name.clone().or_else(|| args.chart.clone());
                let source = app.spec.source.get_or_insert_with(Default::default);
                source.repo_url = args.repo.clone().unwrap_or_default();
                source.chart = args.chart.clone();
                source.target_revision = args.revision.clone();
                let snapshots = local::snapshots(&app, &Origin::Current, &args.tools).await?;
                local::render(&app, &snapshots, &args.tools, None).await?
            }
            None => {
                anyhow::ensure!(args.revision.is_none(), "--revision goes with NAME or --chart");
                let dir = args.path.clone().ok_or_else(|| anyhow::anyhow!("give NAME or --path DIR"))?;
                let dir = dir.canonicalize().map_err(|e| anyhow::anyhow!("reading {}: {e}", dir.display()))?;
                let root = repository_root(&dir);
                let relative = dir.strip_prefix(&root).unwrap_or(Path::new("")).to_string_lossy().into_owned();
                let app = application_for(&dir, &relative, &args.options)?;
                let snapshot = local::checkout("", &root)?;
                local::render_masked(&app, std::slice::from_ref(&snapshot), &args.tools, None).await?
            }
        };
        print!("{}", documents(&manifests)?);
        Ok(ExitCode::SUCCESS)
    })
}

/// The enclosing git working tree (so Kustomize may reach `../base`), else the directory itself.
fn repository_root(dir: &Path) -> PathBuf {
    dir.ancestors().find(|d| d.join(".git").exists()).unwrap_or(dir).to_path_buf()
}

/// An Application that renders `path` (relative to the repository root) with `options`, so a local
/// render goes through exactly the controller's render code.
fn application_for(dir: &Path, path: &str, options: &RenderOptions) -> anyhow::Result<Application> {
    let directory = (options.directory_recurse
        || options.directory_include.is_some()
        || options.directory_exclude.is_some())
    .then(|| ApplicationSourceDirectory {
        recurse: options.directory_recurse,
        include: options.directory_include.clone(),
        exclude: options.directory_exclude.clone(),
    });
    let helm_wanted =
        options.helm || !options.values.is_empty() || !options.helm_set.is_empty() || options.release_name.is_some();
    let helm = if helm_wanted {
        let parameters = options
            .helm_set
            .iter()
            .map(|set| {
                let (name, value) =
                    set.split_once('=').ok_or_else(|| anyhow::anyhow!("--helm-set {set:?}: expected name=value"))?;
                Ok(HelmParameter { name: name.into(), value: value.into(), force_string: false })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Some(ApplicationSourceHelm {
            value_files: options.values.clone(),
            parameters,
            release_name: options.release_name.clone(),
            ..Default::default()
        })
    } else {
        None
    };
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "local".into());
    let spec = ApplicationSpec {
        source: Some(ApplicationSource {
            repo_url: String::new(),
            path: Some(path.to_string()),
            directory,
            kustomize: options.kustomize.then(ApplicationSourceKustomize::default),
            helm,
            ..Default::default()
        }),
        destination: ApplicationDestination { namespace: options.dest_namespace.clone(), ..Default::default() },
        ..Default::default()
    };
    let mut app = Application::new(&name, spec);
    app.metadata.namespace = Some(options.dest_namespace.clone().unwrap_or_else(|| "default".into()));
    Ok(app)
}

/// The manifests as one multi-document YAML text.
pub(crate) fn documents(manifests: &[Manifest]) -> anyhow::Result<String> {
    let mut out = String::new();
    for manifest in manifests {
        out.push_str("---\n");
        out.push_str(&serde_yaml_ng::to_string(&manifest.object)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_become_the_application_source() {
        let options = RenderOptions {
            helm_set: vec!["image.tag=2".into()],
            values: vec!["prod.yaml".into()],
            dest_namespace: Some("web".into()),
            ..Default::default()
        };
        let app = application_for(Path::new("/repo/chart"), "chart", &options).unwrap();
        let source = app.spec.source.unwrap();
        let helm = source.helm.unwrap();
        assert_eq!((helm.parameters[0].name.as_str(), helm.parameters[0].value.as_str()), ("image.tag", "2"));
        assert_eq!(helm.value_files, vec!["prod.yaml"]);
        assert_eq!(source.path.as_deref(), Some("chart"));
        assert_eq!(app.spec.destination.namespace.as_deref(), Some("web"));
        assert!(
            application_for(Path::new("/x"), "", &RenderOptions { helm_set: vec!["bad".into()], ..Default::default() })
                .is_err()
        );
    }
}
