//! Label selectors over string maps: cluster Secret labels, and generators' `selector` over
//! flattened parameters, with Kubernetes' semantics (every term must hold; an empty selector
//! matches everything).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Whether `labels` satisfy `selector`; an unknown operator is an error naming it.
pub fn matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> Result<bool, String> {
    for (key, value) in selector.match_labels.iter().flatten() {
        if labels.get(key) != Some(value) {
            return Ok(false);
        }
    }
    for expression in selector.match_expressions.iter().flatten() {
        let values = expression.values.as_deref().unwrap_or_default();
        let found = labels.get(&expression.key);
        let holds = match expression.operator.as_str() {
            "In" => found.is_some_and(|v| values.contains(v)),
            "NotIn" => found.is_none_or(|v| !values.contains(v)),
            "Exists" => found.is_some(),
            "DoesNotExist" => found.is_none(),
            other => return Err(format!("selector operator {other:?} is not In, NotIn, Exists or DoesNotExist")),
        };
        if !holds {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn expression(key: &str, operator: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: operator.into(),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        }
    }

    #[test]
    fn match_labels_and_every_operator() {
        let east = labels(&[("zone", "ccr"), ("tier", "core")]);
        let select = |match_labels: &[(&str, &str)], expressions: Vec<LabelSelectorRequirement>| LabelSelector {
            match_labels: Some(labels(match_labels)),
            match_expressions: Some(expressions),
        };
        assert!(matches(&LabelSelector::default(), &east).unwrap());
        assert!(matches(&select(&[("zone", "ccr")], vec![]), &east).unwrap());
        assert!(!matches(&select(&[("zone", "513")], vec![]), &east).unwrap());
        assert!(matches(&select(&[], vec![expression("zone", "In", &["ccr", "513"])]), &east).unwrap());
        assert!(!matches(&select(&[], vec![expression("zone", "NotIn", &["ccr"])]), &east).unwrap());
        assert!(matches(&select(&[], vec![expression("gpu", "NotIn", &["yes"])]), &east).unwrap());
        assert!(matches(&select(&[], vec![expression("tier", "Exists", &[])]), &east).unwrap());
        assert!(!matches(&select(&[], vec![expression("tier", "DoesNotExist", &[])]), &east).unwrap());
        assert!(matches(&select(&[], vec![expression("zone", "Gt", &[])]), &east).is_err());
    }
}
