//! ApplicationSets on the command line: `lockstep get applicationsets`, `lockstep get
//! applicationset NAME` (its Applications with sync and health), and `lockstep render
//! applicationset -f FILE`, which prints the Applications a set would generate without a cluster
//! (for merge-request pipelines): list generators as written, git generators from local
//! checkouts given with `--git URL=DIR`, and the clusters generator as the local cluster alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt as _;
use kube::api::{Api, ListParams};
use lockstep_api::{ApplicationSet, ApplicationsSyncPolicy};
use lockstep_appset::generate::PendingTree;
use lockstep_appset::{ClusterInfo, GitTree, GitTrees, Inputs};

use crate::cli::get::Format;
use crate::cli::style::{Colour, Style};
use crate::cli::table::{age, render, truncate};
use crate::cli::{Cluster, ClusterArgs, block_on};

/// Whether `word` asks for ApplicationSets rather than naming an Application.
pub(crate) fn is_set_word(word: &str) -> bool {
    matches!(word, "applicationsets" | "applicationset" | "appsets" | "appset")
}

/// `lockstep get applicationsets` (all of the namespace) or `lockstep get applicationset NAME`.
pub(crate) fn get(
    name: Option<&str>,
    all_namespaces: bool,
    output: Format,
    cluster: &ClusterArgs,
) -> anyhow::Result<ExitCode> {
    block_on(async {
        let cluster = Cluster::connect(cluster).await?;
        let style = Style::detect();
        let now = Timestamp::now().as_second();
        let api: Api<ApplicationSet> = if all_namespaces {
            Api::all(cluster.client.clone())
        } else {
            Api::namespaced(cluster.client.clone(), &cluster.namespace)
        };
        if let Some(name) = name {
            let set = api.get(name).await.with_context(|| format!("reading ApplicationSet {name:?}"))?;
            let text = match output {
                Format::Json => serde_json::to_string_pretty(&set)? + "\n",
                Format::Yaml => serde_yaml_ng::to_string(&set)?,
                Format::Table | Format::Wide => detail(&set, style),
            };
            print!("{text}");
            return Ok(ExitCode::SUCCESS);
        }
        let mut sets = api.list(&ListParams::default()).await.context("listing ApplicationSets")?.items;
        sets.sort_by_key(|s| (s.namespace(), s.name_any()));
        match output {
            Format::Json => println!("{}", serde_json::to_string_pretty(&list(&sets))?),
            Format::Yaml => print!("{}", serde_yaml_ng::to_string(&list(&sets))?),
            _ if sets.is_empty() => eprintln!("No ApplicationSets found."),
            format => print!("{}", table(&sets, all_namespaces, format == Format::Wide, now, style)),
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn list(sets: &[ApplicationSet]) -> serde_json::Value {
    serde_json::json!({"apiVersion": "v1", "kind": "List", "items": sets})
}

fn ready(set: &ApplicationSet) -> Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    set.status.as_ref()?.conditions.iter().find(|c| c.type_ == lockstep_appset::status::READY)
}

/// NAME, APPLICATIONS, HEALTHY, READY, AGE, MESSAGE.
fn table(sets: &[ApplicationSet], namespaces: bool, wide: bool, now: i64, style: Style) -> String {
    let mut headers = vec!["NAME", "APPLICATIONS", "HEALTHY", "READY", "AGE", "MESSAGE"];
    if namespaces {
        headers.insert(0, "NAMESPACE");
    }
    let rows: Vec<Vec<String>> = sets
        .iter()
        .map(|set| {
            let status = set.status.clone().unwrap_or_default();
            let condition = ready(set);
            let colour = if condition.is_some_and(|c| c.status == "True") { Colour::Green } else { Colour::Red };
            let message = condition.map(|c| c.message.clone()).unwrap_or_default();
            let mut row = vec![
                set.name_any(),
                status.resources_count.unwrap_or(0).to_string(),
                status.healthy_count.unwrap_or(0).to_string(),
                style.paint(condition.map_or("Unknown", |c| c.status.as_str()), colour),
                set.metadata.creation_timestamp.as_ref().map_or("-".into(), |t| age(now - t.0.as_second())),
                if wide { message } else { truncate(&message, 60) },
            ];
            if namespaces {
                row.insert(0, set.namespace().unwrap_or_default());
            }
            row
        })
        .collect();
    render(&headers, &rows)
}

/// One set: its conditions, then its Applications with sync and health.
fn detail(set: &ApplicationSet, style: Style) -> String {
    let status = set.status.clone().unwrap_or_default();
    let mut out = format!("{:<16}{}/{}\n", "Name:", set.namespace().unwrap_or_default(), set.name_any());
    let policy = match lockstep_appset::set_plan::policy_of(set) {
        ApplicationsSyncPolicy::CreateOnly => "create-only",
        ApplicationsSyncPolicy::CreateUpdate => "create-update",
        ApplicationsSyncPolicy::CreateDelete => "create-delete",
        ApplicationsSyncPolicy::Sync => "sync",
    };
    out.push_str(&format!("{:<16}{policy}\n", "Policy:"));
    let count = status.resources_count.unwrap_or(0);
    out.push_str(&format!("{:<16}{count} ({} Healthy)\n", "Applications:", status.healthy_count.unwrap_or(0)));
    if !status.conditions.is_empty() {
        out.push_str("\nConditions:\n");
        let rows: Vec<Vec<String>> = status
            .conditions
            .iter()
            .map(|c| {
                let good = (c.type_ == "ErrorOccurred") != (c.status == "True");
                let colour = if good { Colour::Green } else { Colour::Red };
                vec![c.type_.clone(), style.paint(&c.status, colour), c.reason.clone(), c.message.clone()]
            })
            .collect();
        out.push_str(&render(&["TYPE", "STATUS", "REASON", "MESSAGE"], &rows));
    }
    if !status.resources.is_empty() {
        out.push_str("\nApplications:\n");
        let rows: Vec<Vec<String>> = status
            .resources
            .iter()
            .map(|r| {
                let health = r.health.as_ref().map(|h| h.status).unwrap_or_default();
                vec![r.name.clone(), style.sync(r.status), style.health(health)]
            })
            .collect();
        out.push_str(&render(&["NAME", "SYNC", "HEALTH"], &rows));
        if (status.resources.len() as i64) < count {
            out.push_str(&format!("... and {} more\n", count - status.resources.len() as i64));
        }
    }
    out
}

/// Local checkouts standing in for the repositories a set's git generators read.
struct LocalTrees(BTreeMap<String, PathBuf>);

impl GitTrees for LocalTrees {
    fn tree<'a>(&'a self, _namespace: &'a str, repo_url: &'a str, _revision: &'a str) -> PendingTree<'a> {
        Box::pin(async move {
            match self.0.get(repo_url) {
                Some(dir) => Ok(GitTree { root: dir.clone(), revision: "local".into() }),
                None => Err(format!("no local checkout given; pass --git {repo_url}=DIR")),
            }
        })
    }
}

/// `lockstep render applicationset -f FILE [--git URL=DIR]...`: the generated Applications as YAML.
pub(crate) fn render_file(file: &Path, git: &[String]) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut set: ApplicationSet =
        serde_yaml_ng::from_str(&text).with_context(|| format!("{} is not an ApplicationSet", file.display()))?;
    if set.metadata.namespace.is_none() {
        set.metadata.namespace = Some("default".into());
    }
    let mut trees = BTreeMap::new();
    for pair in git {
        let (url, dir) = pair.split_once('=').with_context(|| format!("--git {pair:?} is not URL=DIR"))?;
        trees.insert(url.to_string(), PathBuf::from(dir));
    }
    let trees = LocalTrees(trees);
    let local = [ClusterInfo {
        name: "in-cluster".into(),
        server: "https://kubernetes.default.svc".into(),
        ..Default::default()
    }];
    let namespace = set.namespace().unwrap_or_default();
    let inputs = Inputs { namespace: &namespace, clusters: &local, git: &trees, go_template: set.spec.go_template };
    let generated =
        block_on(async { Ok(lockstep_appset::generate::generate_all(&set.spec.generators, &inputs).await?) })?;
    let apps = lockstep_appset::template::render_all(&set, &generated)?;
    for app in &apps {
        print!("---\n{}", serde_yaml_ng::to_string(app)?);
    }
    eprintln!("{} Application(s) from ApplicationSet {}", apps.len(), set.name_any());
    Ok(ExitCode::SUCCESS)
}
