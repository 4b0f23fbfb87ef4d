//! Kubernetes errors as text a user reads. kube's own `Display` of an API error appends a `Debug`
//! dump of the `Status`, which is noise in logs, conditions and Events.

/// The API server's reason and message on one line (`NotFound: namespaces "x" not found`); other
/// errors (connection, TLS, decoding) as their own message.
pub fn one_line(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) => {
            let reason = if status.reason.is_empty() { format!("HTTP {}", status.code) } else { status.reason.clone() };
            if status.message.is_empty() { reason } else { format!("{reason}: {}", status.message) }
        }
        other => other.to_string(),
    }
}

/// The API server's message alone, as conditions quote it; other errors as their own message.
pub fn message(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => one_line(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api_error(code: u16, reason: &str, message: &str) -> kube::Error {
        let status = Status::failure(message, reason).with_code(code);
        kube::Error::Api(Box::new(status))
    }

    #[test]
    fn api_errors_are_reason_and_message_without_a_debug_dump() {
        let err = api_error(404, "NotFound", r#"namespaces "x" not found"#);
        assert_eq!(one_line(&err), r#"NotFound: namespaces "x" not found"#);
        assert_eq!(message(&err), r#"namespaces "x" not found"#);
        assert!(!err.to_string().starts_with("NotFound"), "kube's Display is what this replaces: {err}");
    }

    #[test]
    fn missing_parts_fall_back_to_the_code() {
        assert_eq!(one_line(&api_error(503, "", "")), "HTTP 503");
        assert_eq!(message(&api_error(503, "", "")), "HTTP 503");
        assert_eq!(one_line(&api_error(409, "Conflict", "")), "Conflict");
    }
}
