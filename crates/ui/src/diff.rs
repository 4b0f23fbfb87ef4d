//! The live-vs-git diff of an Application. Computing it needs the git cache and the renderers,
//! which the binary holds, so the binary supplies it as a [`DiffSource`] (the same code as
//! `lockstep diff`); this module only classifies the text's lines for display. Pure.

use futures::future::BoxFuture;
use lockstep_api::Application;

/// What a sync of an Application would change, object by object, as `lockstep diff` prints it
/// (Secret values masked), computed with the given client: the user's.
pub trait DiffSource: Send + Sync {
    /// The diff text of `app`, or why it could not be made.
    fn diff(&self, client: kube::Client, app: Application) -> BoxFuture<'_, Result<String, String>>;
}

/// How a line of the diff text is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKind {
    /// `changed  ConfigMap ns/a`: an object's heading.
    Object,
    /// `--- live/...`, `+++ git/...`.
    File,
    /// `@@ -1,3 +1,3 @@`.
    Hunk,
    /// A line only git has.
    Added,
    /// A line only the cluster has.
    Removed,
    /// Context, and the summary.
    Context,
}

impl LineKind {
    /// The CSS class of the line.
    pub fn class(self) -> &'static str {
        match self {
            Self::Object => "d-object",
            Self::File => "d-file",
            Self::Hunk => "d-hunk",
            Self::Added => "d-add",
            Self::Removed => "d-del",
            Self::Context => "d-ctx",
        }
    }
}

/// Each line of the diff text with how it is shown.
pub fn classify(text: &str) -> Vec<(LineKind, &str)> {
    const HEADINGS: [&str; 6] = ["created ", "changed ", "replaced", "pruned ", "failed ", "drifted "];
    text.lines()
        .map(|line| {
            let kind = if line.starts_with("--- ") || line.starts_with("+++ ") {
                LineKind::File
            } else if line.starts_with("@@") {
                LineKind::Hunk
            } else if line.starts_with('+') {
                LineKind::Added
            } else if line.starts_with('-') {
                LineKind::Removed
            } else if HEADINGS.iter().any(|h| line.starts_with(h)) {
                LineKind::Object
            } else {
                LineKind::Context
            };
            (kind, line)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_is_classified() {
        let text = "changed  ConfigMap ns/a\n--- live/ConfigMap/ns/a\n+++ git/ConfigMap/ns/a\n@@ -1,2 +1,2 @@\n data:\n-  k: '1'\n+  k: '2'\ncreated  ConfigMap ns/new\nfailed   ConfigMap ns/bad: forbidden\n1 created, 1 changed\n";
        let kinds: Vec<LineKind> = classify(text).into_iter().map(|(k, _)| k).collect();
        use LineKind::*;
        assert_eq!(kinds, [Object, File, File, Hunk, Context, Removed, Added, Object, Object, Context]);
    }
}
