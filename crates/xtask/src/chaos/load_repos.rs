//! The load scenario's git side: repositories of Applications on the bench git server, and a
//! committer thread that changes one Application's ConfigMap per commit, round-robin over the
//! repositories, at a steady rate.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;

use crate::bench::fixtures::{Repo, to_yaml};
use crate::bench::gitserver::GitServer;

/// The name of load Application `i` (and the prefix of its objects' names).
pub fn app_name(i: usize) -> String {
    format!("load-{i:05}")
}

/// Which repository Application `i` of `repos` reads.
pub fn repo_of(i: usize, repos: usize) -> usize {
    i % repos.max(1)
}

/// Where Application `i`'s manifests live in its repository.
pub fn app_path(i: usize) -> String {
    format!("apps/{}", app_name(i))
}

/// Application `i`'s objects: a ConfigMap the commits change and one that stays.
fn objects(i: usize, value: &str) -> String {
    let name = app_name(i);
    to_yaml(&[
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("{name}-config")},
               "data": {"value": value}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("{name}-static")},
               "data": {"app": name}}),
    ])
}

/// The repositories and the commit each `main` points at.
pub struct Repos {
    repos: Vec<Repo>,
    apps: usize,
    /// Head commit of each repository, by index.
    pub heads: Arc<Mutex<Vec<String>>>,
}

impl Repos {
    /// `repos` repositories holding `apps` Applications between them, each pushed once.
    pub fn create(server: &GitServer, work: &Path, repos: usize, apps: usize) -> Result<Self> {
        let mut made = Vec::with_capacity(repos);
        let mut heads = Vec::with_capacity(repos);
        for r in 0..repos {
            let repo = Repo::create(server, work, &format!("load-{r:03}"))?;
            for i in (0..apps).filter(|i| repo_of(*i, repos) == r) {
                repo.write(&format!("{}/objects.yaml", app_path(i)), &objects(i, "0"))?;
            }
            heads.push(repo.commit_and_push("applications")?);
            made.push(repo);
        }
        Ok(Self { repos: made, apps, heads: Arc::new(Mutex::new(heads)) })
    }

    /// The clone URL of repository `r`.
    pub fn url(&self, r: usize) -> &str {
        &self.repos[r].url
    }

    /// How many repositories.
    pub fn len(&self) -> usize {
        self.repos.len()
    }

    /// Head commit per repository URL.
    pub fn heads_by_url(&self) -> BTreeMap<String, String> {
        let heads = self.heads.lock().unwrap_or_else(|p| p.into_inner());
        self.repos.iter().zip(heads.iter()).map(|(repo, head)| (repo.url.clone(), head.clone())).collect()
    }

    /// Commits at `per_minute` until `stop` is set, starting a thread; see [`Committer`].
    pub fn start_committing(self: &Arc<Self>, per_minute: u32, stop: Arc<AtomicBool>) -> Committer {
        let repos = self.clone();
        let thread = std::thread::spawn(move || repos.commit_until(per_minute, &stop));
        Committer { thread }
    }

    fn commit_until(&self, per_minute: u32, stop: &AtomicBool) -> CommitStats {
        let every = Duration::from_secs_f64(60.0 / f64::from(per_minute.max(1)));
        let started = Instant::now();
        let mut stats = CommitStats::default();
        let mut n: usize = 0;
        while !stop.load(Ordering::Relaxed) {
            let due = started + every * u32::try_from(n).unwrap_or(u32::MAX);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait.min(Duration::from_millis(200)));
                continue;
            }
            if Instant::now() > due + every {
                stats.late += 1;
            }
            let r = n % self.repos.len();
            // The commit's Application: one of this repository's, a different one each round.
            let apps_here: Vec<usize> = (0..self.apps).filter(|i| repo_of(*i, self.repos.len()) == r).collect();
            n += 1;
            let Some(&app) = apps_here.get((n / self.repos.len()) % apps_here.len().max(1)) else { continue };
            let repo = &self.repos[r];
            let pushed = repo
                .write(&format!("{}/objects.yaml", app_path(app)), &objects(app, &format!("commit-{n}")))
                .and_then(|()| repo.commit_and_push(&format!("commit {n}: {}", app_name(app))));
            match pushed {
                Ok(sha) => {
                    stats.commits += 1;
                    self.heads.lock().unwrap_or_else(|p| p.into_inner())[r] = sha;
                }
                Err(err) => {
                    stats.failures += 1;
                    eprintln!("chaos load: commit {n} failed: {err:#}");
                }
            }
        }
        stats
    }
}

/// What the committer did.
#[derive(Debug, Clone, Copy, Default)]
pub struct CommitStats {
    /// Commits pushed.
    pub commits: u64,
    /// Commits that failed (git errors).
    pub failures: u64,
    /// Commits pushed more than one interval late (the machine could not keep the rate).
    pub late: u64,
}

/// The committer thread.
pub struct Committer {
    thread: std::thread::JoinHandle<CommitStats>,
}

impl Committer {
    /// Waits for the thread (after its stop flag was set) and returns what it did.
    pub fn finish(self) -> CommitStats {
        self.thread.join().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applications_spread_evenly_over_repositories() {
        let per_repo: Vec<usize> = (0..5).map(|r| (0..5000).filter(|i| repo_of(*i, 5) == r).count()).collect();
        assert_eq!(per_repo, [1000; 5]);
        assert!(objects(7, "x").contains("load-00007-config") && objects(7, "x").contains("load-00007-static"));
    }
}
