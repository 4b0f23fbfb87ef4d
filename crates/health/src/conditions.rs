//! `.status.conditions`, read the way both upstreams decode it into a typed list.

use serde_json::Value;

use crate::json::{Res, strict, strict_array};

/// One entry of `.status.conditions`; absent fields are empty strings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Condition<'a> {
    pub type_: &'a str,
    pub status: &'a str,
    pub reason: &'a str,
    pub message: &'a str,
}

impl Condition<'_> {
    /// Whether the condition has this type and status.
    pub fn is(&self, type_: &str, status: &str) -> bool {
        self.type_ == type_ && self.status == status
    }
}

/// Reads a list of condition objects; a non-object entry or a non-string field is an error.
pub(crate) fn parse_list<'a>(items: &'a [Value], what: &str) -> Res<Vec<Condition<'a>>> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Null => Ok(Condition::default()),
            Value::Object(_) => {
                let field = |name: &str| -> Res<&'a str> {
                    match strict(item, &[name])? {
                        None => Ok(""),
                        Some(Value::String(s)) => Ok(s.as_str()),
                        Some(_) => Err(format!("{what}[{i}].{name} is not a string")),
                    }
                };
                Ok(Condition {
                    type_: field("type")?,
                    status: field("status")?,
                    reason: field("reason")?,
                    message: field("message")?,
                })
            }
            _ => Err(format!("{what}[{i}] is not an object")),
        })
        .collect()
}

/// The object's `.status.conditions`; absent is empty, malformed is an error.
pub(crate) fn status_conditions(obj: &Value) -> Res<Vec<Condition<'_>>> {
    let items = strict_array(obj, &["status", "conditions"])?;
    parse_list(items, ".status.conditions")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_conditions() {
        let obj = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}, null]}});
        let conds = status_conditions(&obj).expect("valid");
        assert_eq!(conds.len(), 2);
        assert!(conds[0].is("Ready", "True"));
        assert_eq!(conds[1], Condition::default());
    }

    #[test]
    fn rejects_malformed() {
        assert!(status_conditions(&json!({"status": "x"})).is_err());
        assert!(status_conditions(&json!({"status": {"conditions": {}}})).is_err());
        assert!(status_conditions(&json!({"status": {"conditions": [1]}})).is_err());
        assert!(status_conditions(&json!({"status": {"conditions": [{"type": 1}]}})).is_err());
        assert!(status_conditions(&json!({})).is_ok_and(|c| c.is_empty()));
    }
}
