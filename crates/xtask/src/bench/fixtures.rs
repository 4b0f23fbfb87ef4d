//! What the scenarios deploy: git working copies pushed to the bench git server, and the objects
//! of one benchmark app (the shape Flux's own benchmark uses) or of a many-object app.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::gitserver::GitServer;
use crate::process;

/// A working copy whose commits are pushed to a bare repository of the git server.
pub struct Repo {
    dir: PathBuf,
    bare: PathBuf,
    /// The clone URL controllers use.
    pub url: String,
}

impl Repo {
    /// An empty working copy `<work>/<name>` for the server's `<name>.git`.
    pub fn create(server: &GitServer, work: &Path, name: &str) -> Result<Self> {
        let dir = work.join(name);
        if dir.exists() {
            fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let repo = Self { bare: server.bare(name)?, url: server.url(name), dir };
        repo.git(&["init", "-q", "-b", "main"])?;
        Ok(repo)
    }

    /// Writes a file of the working copy (creating directories).
    pub fn write(&self, path: &str, text: &str) -> Result<()> {
        let path = self.dir.join(path);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    }

    /// Removes a file or directory of the working copy.
    pub fn remove(&self, path: &str) -> Result<()> {
        let path = self.dir.join(path);
        let removed = if path.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
        removed.with_context(|| format!("removing {}", path.display()))
    }

    /// Commits everything, pushes `main` to the server and returns the commit's SHA.
    pub fn commit_and_push(&self, message: &str) -> Result<String> {
        self.git(&["add", "-A"])?;
        self.git(&["commit", "-q", "--allow-empty", "-m", message])?;
        let sha = self.git(&["rev-parse", "HEAD"])?;
        let bare = self.bare.display().to_string();
        self.git(&["push", "-q", "--force", &bare, "main:main"])?;
        Ok(sha)
    }

    /// Runs git in the working copy; returns its trimmed stdout.
    fn git(&self, args: &[&str]) -> Result<String> {
        let out = process::output(
            Command::new("git")
                .args([
                    "-c",
                    "user.name=lockstep bench",
                    "-c",
                    "user.email=bench@lockstep.dev",
                    "-c",
                    "commit.gpgsign=false",
                ])
                .args(args)
                .current_dir(&self.dir),
        )?;
        Ok(out.trim().to_owned())
    }
}

/// The name of benchmark app `i`, which also names its objects.
pub fn app_name(i: usize) -> String {
    format!("app-{i:04}")
}

/// The path in the fleet repository holding app `i`'s manifests.
pub fn app_path(i: usize) -> String {
    format!("apps/{}", app_name(i))
}

/// App `i`'s objects: a Deployment with 0 replicas, a ServiceAccount, a (headless) Service and an Ingress.
pub fn app_objects(i: usize) -> Vec<Value> {
    let name = app_name(i);
    let labels = json!({"app": name});
    vec![
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
               "spec": {"replicas": 0, "selector": {"matchLabels": labels},
                        "template": {"metadata": {"labels": labels},
                                     "spec": {"serviceAccountName": name,
                                              "containers": [{"name": "app", "image": "registry.invalid/bench/app:1.0.0",
                                                              "ports": [{"containerPort": 8080}]}]}}}}),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "labels": labels}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": labels},
               // Headless: the local control plane's service range (a /24) cannot hold 1,000 addresses.
               "spec": {"clusterIP": "None", "selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name, "labels": labels},
               "spec": {"rules": [{"host": format!("{name}.bench.local"),
                                   "http": {"paths": [{"path": "/", "pathType": "Prefix",
                                                       "backend": {"service": {"name": name, "port": {"number": 80}}}}]}}]}}),
    ]
}

/// ConfigMap `cm-NN` of the many-object app, holding `value`.
pub fn config_map(index: usize, value: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("cm-{index:02}")}, "data": {"value": value}})
}

/// A multi-document YAML file of `objects` (JSON is YAML).
pub fn to_yaml(objects: &[Value]) -> String {
    objects.iter().map(|o| format!("---\n{o}\n")).collect()
}

/// A repository holding apps `0..n`, each under [`app_path`]; returns it and its first commit.
pub fn fleet_repo(server: &GitServer, work: &Path, name: &str, n: usize) -> Result<(Repo, String)> {
    let repo = Repo::create(server, work, name)?;
    for i in 0..n {
        repo.write(&format!("{}/objects.yaml", app_path(i)), &to_yaml(&app_objects(i)))?;
    }
    let sha = repo.commit_and_push("fleet")?;
    Ok((repo, sha))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_objects_share_the_app_name() {
        let objects = app_objects(7);
        let kinds: Vec<&str> = objects.iter().filter_map(|o| o["kind"].as_str()).collect();
        assert_eq!(kinds, ["Deployment", "ServiceAccount", "Service", "Ingress"]);
        assert!(objects.iter().all(|o| o["metadata"]["name"] == "app-0007"));
        assert_eq!(objects[0]["spec"]["replicas"], 0);
        assert!(to_yaml(&objects).matches("---\n").count() == 4);
    }
}
