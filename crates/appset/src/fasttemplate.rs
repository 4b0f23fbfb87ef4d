//! Argo CD's default template syntax: `{{key}}` (spaces inside the braces allowed) is replaced by
//! the flattened parameter `key`; a tag naming no parameter is left exactly as written, as Argo
//! does, so that text meant for a later stage (a Helm value holding `{{ .Values.x }}`) survives.
//!
//! The syntax is one substitution with no functions or nesting, which is why it is a dozen lines
//! here rather than a template engine.

use std::collections::BTreeMap;

/// Replaces every `{{key}}` whose key is a parameter.
pub fn render(text: &str, params: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else { break };
        let tag = &rest[start + 2..start + 2 + len];
        out.push_str(&rest[..start]);
        match params.get(tag.trim()) {
            Some(value) if !tag.trim().is_empty() => out.push_str(value),
            _ => {
                out.push_str("{{");
                out.push_str(tag);
                out.push_str("}}");
            }
        }
        rest = &rest[start + 2 + len + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> BTreeMap<String, String> {
        [("name", "east"), ("path.basename", "tn1-eth0"), ("empty", "")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn replaces_known_keys_with_or_without_spaces() {
        assert_eq!(render("{{name}}-{{ path.basename }}", &params()), "east-tn1-eth0");
        assert_eq!(render("x{{empty}}y", &params()), "xy");
    }

    #[test]
    fn unknown_tags_and_unclosed_braces_stay_as_written() {
        assert_eq!(render("{{ .Values.image }}", &params()), "{{ .Values.image }}");
        assert_eq!(render("{{}} and {{ }}", &params()), "{{}} and {{ }}");
        assert_eq!(render("{{name} and {{name", &params()), "{{name} and {{name");
        assert_eq!(render("no tags", &params()), "no tags");
    }
}
