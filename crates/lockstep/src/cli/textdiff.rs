//! Unified diffs of two versions of an object, as YAML, with colour on a terminal. Pure.

use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use crate::cli::style::{Colour, Style};

/// Lines of context around each change.
const CONTEXT: usize = 3;

/// The object as YAML text (empty for `None`).
pub(crate) fn yaml(object: Option<&Value>) -> String {
    object.and_then(|o| serde_yaml_ng::to_string(o).ok()).unwrap_or_default()
}

/// A unified diff between `before` and `after` with `---`/`+++` headers named by `label`; empty
/// when the texts are equal.
pub(crate) fn unified(before: &str, after: &str, label: &str, style: Style) -> String {
    let diff = TextDiff::from_lines(before, after);
    let mut out = String::new();
    for hunk in diff.unified_diff().context_radius(CONTEXT).iter_hunks() {
        if out.is_empty() {
            out.push_str(&style.paint(&format!("--- live/{label}"), Colour::Red));
            out.push('\n');
            out.push_str(&style.paint(&format!("+++ git/{label}"), Colour::Green));
            out.push('\n');
        }
        out.push_str(&style.paint(&hunk.header().to_string(), Colour::Cyan));
        out.push('\n');
        for change in hunk.iter_changes() {
            let (sign, colour) = match change.tag() {
                ChangeTag::Delete => ('-', Some(Colour::Red)),
                ChangeTag::Insert => ('+', Some(Colour::Green)),
                ChangeTag::Equal => (' ', None),
            };
            let line = format!("{sign}{}", change.value().trim_end_matches('\n'));
            out.push_str(&colour.map_or_else(|| line.clone(), |c| style.paint(&line, c)));
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_changed_line_is_marked() {
        let before = yaml(Some(&json!({"spec": {"image": "nginx:1", "replicas": 1}})));
        let after = yaml(Some(&json!({"spec": {"image": "nginx:2", "replicas": 1}})));
        let text = unified(&before, &after, "Deployment/web", Style::default());
        let marked: Vec<&str> = text
            .lines()
            .filter(|l| (l.starts_with('-') || l.starts_with('+')) && !l.starts_with("---") && !l.starts_with("+++"))
            .collect();
        assert_eq!(marked, vec!["-  image: nginx:1", "+  image: nginx:2"]);
        assert!(text.starts_with("--- live/Deployment/web\n+++ git/Deployment/web\n@@"));
    }

    #[test]
    fn equal_texts_give_nothing_and_creation_is_all_added() {
        assert_eq!(unified("a: 1\n", "a: 1\n", "x", Style::default()), "");
        let created = unified("", "a: 1\n", "x", Style::default());
        assert!(created.ends_with("+a: 1\n"), "{created}");
    }
}
