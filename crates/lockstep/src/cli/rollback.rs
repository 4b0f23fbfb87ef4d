//! `lockstep rollback NAME [ID]`: deploys a `status.history` entry again without touching git, by
//! the `lockstep.dev/rollback` annotation; automated sync of newer commits waits until
//! `lockstep rollback NAME --resume` (or, with `--until-commit`, the next commit). `--list` prints
//! the history with who asked for each sync.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use kube::api::{Patch, PatchParams};
use lockstep_api::{Application, ROLLBACK_ANNOTATION};

use crate::cli::wait::{annotate, token, until};
use crate::cli::{Cluster, ClusterArgs, block_on};
use crate::duration::parse_duration;

#[derive(Args)]
pub(crate) struct RollbackArgs {
    /// The Application.
    name: String,
    /// The history id to deploy (`lockstep rollback NAME --list`); default the entry before the
    /// deployed one.
    id: Option<i64>,
    /// End the rollback at the next new commit instead of waiting for `--resume`.
    #[arg(long, conflicts_with_all = ["resume", "list"])]
    until_commit: bool,
    /// End the rollback: automated sync deploys git's newest commit again.
    #[arg(long, conflicts_with_all = ["id", "list"])]
    resume: bool,
    /// Print the history (ids, revisions, who asked) and change nothing.
    #[arg(long, conflicts_with = "id")]
    list: bool,
    /// Wait until the controller has deployed the rollback (or, with `--resume`, ended it).
    #[arg(long)]
    wait: bool,
    /// How long to wait.
    #[arg(long, value_parser = parse_duration, default_value = "2m")]
    timeout: Duration,
}

pub(crate) fn run(args: RollbackArgs, cluster: &ClusterArgs) -> anyhow::Result<ExitCode> {
    block_on(async {
        let cluster = Cluster::connect(cluster).await?;
        let app = cluster.app(&args.name).await?;
        if args.list {
            print!("{}", history_table(&app));
            return Ok(ExitCode::SUCCESS);
        }
        if args.resume {
            let patch = serde_json::json!({"metadata": {"annotations": {ROLLBACK_ANNOTATION: null}}});
            cluster.apps().patch(&args.name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
            eprintln!("rollback ended; automated sync follows git again");
            if args.wait {
                until(&cluster, &args.name, args.timeout, |app| {
                    app.status.as_ref().is_none_or(|s| s.rollback.is_none()).then_some(())
                })
                .await?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        let value = request(args.id, args.until_commit, &token());
        annotate(&cluster, &args.name, ROLLBACK_ANNOTATION, &value).await?;
        eprintln!("rollback requested ({ROLLBACK_ANNOTATION}={value})");
        if !args.wait {
            return Ok(ExitCode::SUCCESS);
        }
        let deployed = until(&cluster, &args.name, args.timeout, |app| {
            let status = app.status.as_ref()?;
            let rollback = status.rollback.as_ref().filter(|r| r.request == value)?;
            let asked = format!("rollback {value}");
            let operation = status.operation_state.as_ref()?;
            let synced = status.sync.revision.as_deref() == Some(rollback.revision.as_str())
                && operation.sync_request.as_deref() == Some(asked.as_str())
                && operation.finished_at.is_some();
            synced.then(|| rollback.clone())
        })
        .await?;
        println!("rolled back to history entry {} ({})", deployed.id, crate::cli::local::short(&deployed.revision));
        Ok(ExitCode::SUCCESS)
    })
}

/// The annotation's value: the entry, a unique token (so the same entry can be asked for twice)
/// and how the rollback ends.
fn request(id: Option<i64>, until_commit: bool, token: &str) -> String {
    let entry = id.map_or_else(|| "previous".to_string(), |id| id.to_string());
    let until = if until_commit { ",until=commit" } else { "" };
    format!("{entry},token={token}{until}")
}

/// The history, newest last, with the rollback in force marked.
fn history_table(app: &Application) -> String {
    let status = app.status.clone().unwrap_or_default();
    let active = status.rollback.as_ref().filter(|r| r.active).map(|r| r.id);
    let deployed = status.history.last().map(|h| h.id);
    let mut rows = Vec::new();
    for entry in &status.history {
        let mark = match (Some(entry.id) == active, Some(entry.id) == deployed) {
            (true, _) => "rolled back to",
            (false, true) => "deployed",
            _ => "",
        };
        rows.push(vec![
            entry.id.to_string(),
            crate::cli::local::short(&entry.revision).to_string(),
            entry.deployed_at.0.to_string(),
            entry.initiated_by.clone().unwrap_or_default(),
            mark.to_string(),
        ]);
    }
    crate::cli::table::render(&["ID", "REVISION", "DEPLOYED", "INITIATED BY", ""], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_names_the_entry_a_token_and_how_it_ends() {
        assert_eq!(request(None, false, "t"), "previous,token=t");
        assert_eq!(request(Some(4), true, "t"), "4,token=t,until=commit");
    }
}
