//! The image's software bill of materials, CycloneDX 1.5 JSON: the Rust crates `lockstep` is built
//! from (the resolved normal-dependency graph `cargo metadata` reports for the package), the Go
//! modules of kustomize and helm (`go version -m`, which lists what the linker put in), and the
//! Debian packages the shared libraries in the image come from.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// One component of the bill of materials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// `application` or `library`.
    pub kind: &'static str,
    /// Name as its ecosystem spells it (crate name, Go module path, Debian package).
    pub name: String,
    /// Version as its ecosystem spells it.
    pub version: String,
    /// Package URL; also the component's `bom-ref`.
    pub purl: String,
    /// SPDX license expression, where the ecosystem records one.
    pub license: Option<String>,
}

/// The crates of a `cargo metadata` graph: components and, per crate, the crates it depends on.
#[derive(Debug, Default)]
pub struct Graph {
    /// Every component, keyed by purl.
    pub components: BTreeMap<String, Component>,
    /// purl → purls it depends on.
    pub depends_on: BTreeMap<String, BTreeSet<String>>,
}

impl Graph {
    /// Adds `other`'s components and edges.
    pub fn merge(&mut self, other: Graph) {
        self.components.extend(other.components);
        for (from, to) in other.depends_on {
            self.depends_on.entry(from).or_default().extend(to);
        }
    }
}

/// The package URL of a crate.
fn cargo_purl(name: &str, version: &str) -> String {
    format!("pkg:cargo/{name}@{version}")
}

/// The normal-dependency graph of workspace package `root` from `cargo metadata --format-version 1`
/// output (build and dev dependencies are not in the binary and are left out). Returns the graph
/// and the root's purl.
pub fn from_cargo_metadata(metadata: &Value, root: &str) -> Result<(Graph, String)> {
    let packages = metadata["packages"].as_array().context("cargo metadata has no packages")?;
    let by_id: BTreeMap<&str, &Value> = packages.iter().filter_map(|p| Some((p["id"].as_str()?, p))).collect();
    let nodes = metadata["resolve"]["nodes"].as_array().context("cargo metadata has no resolve graph")?;
    let nodes: BTreeMap<&str, &Value> = nodes.iter().filter_map(|n| Some((n["id"].as_str()?, n))).collect();
    let members = metadata["workspace_members"].as_array().context("cargo metadata has no workspace members")?;
    let root_id = members
        .iter()
        .filter_map(Value::as_str)
        .find(|id| by_id.get(id).is_some_and(|p| p["name"] == root))
        .with_context(|| format!("package {root} is not a workspace member"))?;
    let component = |id: &str| -> Result<Component> {
        let p = by_id.get(id).with_context(|| format!("package {id} missing from cargo metadata"))?;
        let (name, version) = (p["name"].as_str().unwrap_or_default(), p["version"].as_str().unwrap_or_default());
        Ok(Component {
            kind: if id == root_id { "application" } else { "library" },
            name: name.into(),
            version: version.into(),
            purl: cargo_purl(name, version),
            license: p["license"].as_str().map(str::to_owned),
        })
    };
    let mut graph = Graph::default();
    let mut queue = VecDeque::from([root_id]);
    let mut seen = BTreeSet::from([root_id]);
    while let Some(id) = queue.pop_front() {
        let from = component(id)?;
        let node = nodes.get(id).with_context(|| format!("package {id} missing from the resolve graph"))?;
        let edges = graph.depends_on.entry(from.purl.clone()).or_default();
        for dep in node["deps"].as_array().into_iter().flatten() {
            let normal = dep["dep_kinds"].as_array().into_iter().flatten().any(|k| k["kind"].is_null());
            let Some(pkg) = dep["pkg"].as_str() else { continue };
            if !normal {
                continue;
            }
            edges.insert(component(pkg)?.purl);
            if seen.insert(pkg) {
                queue.push_back(pkg);
            }
        }
        graph.components.insert(from.purl.clone(), from);
    }
    let root_purl = component(root_id)?.purl;
    Ok((graph, root_purl))
}

/// The Go modules linked into `binary` (its name in the image) from `go version -m` output: the
/// main module as an application depending on every other module and the standard library, with
/// `=>` replacements applied.
pub fn from_go_version(binary: &str, output: &str) -> Result<(Graph, String)> {
    let mut lines = output.lines();
    let first = lines.next().context("`go version -m` printed nothing")?;
    let go = first.rsplit(' ').next().filter(|v| v.starts_with("go")).context("no Go version in `go version -m`")?;
    let mut main = None;
    let mut modules: Vec<(String, String)> = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split('\t').map(str::trim).filter(|f| !f.is_empty()).collect();
        match fields.as_slice() {
            ["mod", path, version, ..] => main = Some(((*path).to_owned(), (*version).to_owned())),
            ["dep", path, version, ..] => modules.push(((*path).into(), (*version).into())),
            ["=>", path, version, ..] => match modules.last_mut() {
                Some(last) => *last = ((*path).into(), (*version).into()),
                None => bail!("`go version -m` has a replacement before any dependency: {line}"),
            },
            _ => {}
        }
    }
    let (path, version) = main.with_context(|| format!("`go version -m` of {binary} names no main module"))?;
    if modules.is_empty() {
        bail!("`go version -m` of {binary} lists no dependencies: was it built with module support?");
    }
    let stdlib = go.trim_start_matches("go");
    let app = Component {
        kind: "application",
        name: binary.into(),
        purl: format!("pkg:golang/{path}@{version}"),
        version,
        license: None,
    };
    let std = Component {
        kind: "library",
        name: "stdlib".into(),
        version: stdlib.into(),
        purl: format!("pkg:golang/stdlib@{stdlib}"),
        license: Some("BSD-3-Clause".into()),
    };
    let mut graph = Graph::default();
    let mut edges = BTreeSet::new();
    let libraries = modules.into_iter().map(|(path, version)| Component {
        kind: "library",
        purl: format!("pkg:golang/{path}@{version}"),
        name: path,
        version,
        license: None,
    });
    for component in libraries.chain([std]) {
        edges.insert(component.purl.clone());
        graph.components.insert(component.purl.clone(), component);
    }
    let purl = app.purl.clone();
    graph.depends_on.insert(purl.clone(), edges);
    graph.components.insert(purl.clone(), app);
    Ok((graph, purl))
}

/// A Debian package a file of the image comes from.
pub fn debian_component(package: &str, version: &str, arch: &str) -> Component {
    Component {
        kind: "library",
        name: package.into(),
        version: version.into(),
        purl: format!("pkg:deb/debian/{package}@{version}?arch={arch}"),
        license: None,
    }
}

/// What the bill of materials describes: the image itself.
#[derive(Debug, Clone)]
pub struct Subject {
    /// Image name (`lockstep`).
    pub name: String,
    /// Image version.
    pub version: String,
    /// The commit it was built from.
    pub revision: String,
    /// RFC 3339 time (the commit's), for the BOM's timestamp.
    pub created: String,
    /// The purls the image contains directly (the binaries and the base's packages).
    pub contains: Vec<String>,
}

/// The CycloneDX 1.5 document for `subject` over `graph`, components sorted by purl.
pub fn document(subject: &Subject, graph: &Graph) -> Value {
    let image_ref = format!("pkg:oci/{}@{}", subject.name, subject.version);
    let components: Vec<Value> = graph.components.values().map(component_json).collect();
    let mut dependencies: Vec<Value> = vec![json!({"ref": image_ref, "dependsOn": subject.contains})];
    dependencies.extend(graph.components.keys().map(|purl| {
        let on: Vec<&String> = graph.depends_on.get(purl).into_iter().flatten().collect();
        json!({"ref": purl, "dependsOn": on})
    }));
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "timestamp": subject.created,
            "tools": {"components": [{"type": "application", "name": "cargo xtask image", "version": env!("CARGO_PKG_VERSION")}]},
            "component": {
                "type": "container",
                "bom-ref": image_ref,
                "name": subject.name,
                "version": subject.version,
                "properties": [{"name": "org.opencontainers.image.revision", "value": subject.revision}],
            },
        },
        "components": components,
        "dependencies": dependencies,
    })
}

fn component_json(c: &Component) -> Value {
    let mut v = json!({"type": c.kind, "bom-ref": c.purl, "name": c.name, "version": c.version, "purl": c.purl});
    if let Some(license) = &c.license {
        v["licenses"] = json!([{"expression": license}]);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `cargo metadata` graph: app → lib (normal) → leaf; app → devonly (dev); lib → cc (build).
    fn metadata() -> Value {
        let pkg =
            |id: &str, name: &str, version: &str| json!({"id": id, "name": name, "version": version, "license": "MIT"});
        let dep =
            |pkg: &str, kind: Value| json!({"name": pkg, "pkg": pkg, "dep_kinds": [{"kind": kind, "target": null}]});
        let (app, lib, leaf, dev, cc) = ("path+file:///ws/app#0.1.0", "lib-1", "leaf-2", "devonly-1", "cc-1");
        json!({
            "packages": [pkg(app, "app", "0.1.0"), pkg(lib, "lib", "1.0.0"), pkg(leaf, "leaf", "2.0.0"),
                         pkg(dev, "devonly", "1.0.0"), pkg(cc, "cc", "1.2.0")],
            "workspace_members": [app],
            "resolve": {"nodes": [
                {"id": app, "deps": [dep(lib, Value::Null), dep(dev, json!("dev"))]},
                {"id": lib, "deps": [dep(leaf, Value::Null), dep(cc, json!("build"))]},
                {"id": leaf, "deps": []},
                {"id": dev, "deps": []},
                {"id": cc, "deps": []},
            ], "root": null},
        })
    }

    #[test]
    fn cargo_graph_keeps_normal_dependencies_only() {
        let (graph, root) = from_cargo_metadata(&metadata(), "app").unwrap();
        assert_eq!(root, "pkg:cargo/app@0.1.0");
        let purls: Vec<&str> = graph.components.keys().map(String::as_str).collect();
        assert_eq!(purls, ["pkg:cargo/app@0.1.0", "pkg:cargo/leaf@2.0.0", "pkg:cargo/lib@1.0.0"]);
        assert_eq!(graph.depends_on[&root], BTreeSet::from(["pkg:cargo/lib@1.0.0".to_owned()]));
        assert_eq!(graph.depends_on["pkg:cargo/lib@1.0.0"], BTreeSet::from(["pkg:cargo/leaf@2.0.0".to_owned()]));
        assert_eq!(graph.components[&root].kind, "application");
        assert_eq!(graph.components["pkg:cargo/leaf@2.0.0"].license.as_deref(), Some("MIT"));
        assert!(from_cargo_metadata(&metadata(), "nope").is_err());
    }

    const GO_VERSION: &str = "/target/tools/bin/helm: go1.26.8
\tpath\thelm.sh/helm/v3/cmd/helm
\tmod\thelm.sh/helm/v3\tv3.22.0\th1:abc=
\tdep\tgithub.com/a/b\tv1.0.0\th1:def=
\t=>\tgithub.com/a/b-fork\tv1.0.1\th1:ghi=
\tdep\tsigs.k8s.io/yaml\tv1.4.0\th1:jkl=
\tbuild\t-ldflags=-X helm.sh/helm/v3/internal/version.version=v3.22.0
";

    #[test]
    fn go_modules_with_replacements_and_the_standard_library() {
        let (graph, app) = from_go_version("helm", GO_VERSION).unwrap();
        assert_eq!(app, "pkg:golang/helm.sh/helm/v3@v3.22.0");
        let deps: Vec<&str> = graph.depends_on[&app].iter().map(String::as_str).collect();
        assert_eq!(
            deps,
            ["pkg:golang/github.com/a/b-fork@v1.0.1", "pkg:golang/sigs.k8s.io/yaml@v1.4.0", "pkg:golang/stdlib@1.26.8"]
        );
        assert_eq!(graph.components[&app].version, "v3.22.0");
        assert!(from_go_version("helm", "/x: go1.26.8\n\tpath\tx\n").is_err());
        assert!(from_go_version("helm", "/x: go1.26.8\n\tmod\tx\tv1\n").is_err());
    }

    #[test]
    fn document_is_cyclonedx_1_5_with_every_component_and_edge() {
        let (mut graph, cargo_root) = from_cargo_metadata(&metadata(), "app").unwrap();
        let (go, helm) = from_go_version("helm", GO_VERSION).unwrap();
        graph.merge(go);
        let libc = debian_component("libc6", "2.41-12", "amd64");
        graph.components.insert(libc.purl.clone(), libc.clone());
        let subject = Subject {
            name: "lockstep".into(),
            version: "0.1.0".into(),
            revision: "abc123".into(),
            created: "2026-12-03T10:00:00+00:00".into(),
            contains: vec![cargo_root.clone(), helm.clone(), libc.purl.clone()],
        };
        let doc = document(&subject, &graph);
        assert_eq!(doc["bomFormat"], "CycloneDX");
        assert_eq!(doc["specVersion"], "1.5");
        assert_eq!(doc["metadata"]["component"]["type"], "container");
        assert_eq!(doc["components"].as_array().unwrap().len(), graph.components.len());
        let refs: BTreeSet<&str> =
            doc["components"].as_array().unwrap().iter().map(|c| c["bom-ref"].as_str().unwrap()).collect();
        for dep in doc["dependencies"].as_array().unwrap() {
            for on in dep["dependsOn"].as_array().unwrap() {
                assert!(refs.contains(on.as_str().unwrap()), "dangling {on}");
            }
        }
        assert_eq!(doc["dependencies"][0]["dependsOn"].as_array().unwrap().len(), 3);
        assert_eq!(libc.purl, "pkg:deb/debian/libc6@2.41-12?arch=amd64");
    }
}
