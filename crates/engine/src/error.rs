use thiserror::Error;

/// Why a kind could not be addressed. `NotServed` is an answer (no such kind, so no such objects);
/// `Lookup` is a failure to ask, after which nothing may be concluded about the kind's objects.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum KindError {
    /// Discovery answered that the kind is not served.
    #[error("no kind {kind} is served in {api_version} (is its CRD installed?)")]
    NotServed { api_version: String, kind: String },
    /// Discovery itself failed.
    #[error("looking up kind {kind} in {api_version}: {message}")]
    Lookup { api_version: String, kind: String, message: String, fault: Fault },
}

impl KindError {
    /// The kind of failure, for callers that decide on it.
    pub fn fault(&self) -> Fault {
        match self {
            Self::NotServed { .. } => Fault::Refused,
            Self::Lookup { fault, .. } => *fault,
        }
    }
}

/// Why one object could not be read, compared or written, classified so that callers decide on the
/// kind of failure rather than on the server's wording.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("{message}")]
pub struct ObjectError {
    /// What kind of failure it is.
    pub fault: Fault,
    /// The server's (or discovery's) own words.
    pub message: String,
}

/// The kinds of failure a sync tells apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// HTTP 403: the identity used may not do this.
    Forbidden,
    /// HTTP 409: the object changed between read and write.
    Conflict,
    /// The API server, or the way to it, failed (no connection, a timeout, 429, 5xx): this says
    /// nothing about the object or the revision, and may clear by itself.
    Unavailable,
    /// Everything else: the object or the request is refused (invalid, immutable, a kind not
    /// served), or the operation failed on its own terms (a Degraded wave, a hook, a timeout).
    Refused,
}

impl Fault {
    /// The fault of a failed Kubernetes request.
    pub fn of(err: &kube::Error) -> Self {
        match err {
            kube::Error::Api(status) => Self::of_code(status.code),
            kube::Error::HyperError(_)
            | kube::Error::Service(_)
            | kube::Error::ReadEvents(_)
            | kube::Error::HttpError(_)
            | kube::Error::SerdeError(_) => Self::Unavailable,
            _ => Self::Refused,
        }
    }

    /// The fault an HTTP status code stands for.
    pub fn of_code(code: u16) -> Self {
        match code {
            403 => Self::Forbidden,
            409 => Self::Conflict,
            408 | 429 | 500..=599 => Self::Unavailable,
            _ => Self::Refused,
        }
    }

    /// The fault of several failures taken together: a denial names the cause, and only when every
    /// failure is the API server's unavailability is the whole unavailable.
    pub fn of_all(faults: impl IntoIterator<Item = Fault>) -> Option<Self> {
        let faults: Vec<Fault> = faults.into_iter().collect();
        let first = *faults.first()?;
        if faults.contains(&Self::Forbidden) {
            return Some(Self::Forbidden);
        }
        Some(faults.iter().copied().find(|f| *f != Self::Unavailable).unwrap_or(first))
    }
}

impl ObjectError {
    /// A failure that is not a request's (a Degraded wave, a timeout, a hook, a bad object).
    pub fn refused(message: impl Into<String>) -> Self {
        Self { fault: Fault::Refused, message: message.into() }
    }

    /// A failed Kubernetes request, in the server's words.
    pub fn of(err: &kube::Error) -> Self {
        Self { fault: Fault::of(err), message: lockstep_api::kube_error::message(err) }
    }

    /// The same failure with its message rewritten (prefixed or explained).
    pub fn map_message(self, map: impl FnOnce(String) -> String) -> Self {
        Self { fault: self.fault, message: map(self.message) }
    }

    /// Whether it may clear by itself: the API server was unavailable.
    pub fn is_transient(&self) -> bool {
        self.fault == Fault::Unavailable
    }
}

impl From<KindError> for ObjectError {
    fn from(err: KindError) -> Self {
        Self { fault: err.fault(), message: err.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(Status::failure("m", "R").with_code(code)))
    }

    #[test]
    fn status_codes_map_to_faults() {
        assert_eq!(Fault::of(&api(403)), Fault::Forbidden);
        assert_eq!(Fault::of(&api(409)), Fault::Conflict);
        for code in [408, 429, 500, 503, 504] {
            assert_eq!(Fault::of(&api(code)), Fault::Unavailable, "{code}");
        }
        for code in [400, 404, 410, 422] {
            assert_eq!(Fault::of(&api(code)), Fault::Refused, "{code}");
        }
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert_eq!(Fault::of(&kube::Error::ReadEvents(io)), Fault::Unavailable);
        assert_eq!(Fault::of(&kube::Error::TlsRequired), Fault::Refused);
    }

    #[test]
    fn together_a_denial_wins_and_unavailable_needs_all() {
        use Fault::*;
        assert_eq!(Fault::of_all([]), None);
        assert_eq!(Fault::of_all([Unavailable, Unavailable]), Some(Unavailable));
        assert_eq!(Fault::of_all([Unavailable, Refused]), Some(Refused));
        assert_eq!(Fault::of_all([Conflict, Forbidden, Unavailable]), Some(Forbidden));
        assert_eq!(Fault::of_all([Unavailable, Conflict]), Some(Conflict));
    }

    #[test]
    fn an_object_error_shows_the_message_only() {
        let err = ObjectError::of(&api(503));
        assert_eq!(err.to_string(), "m");
        assert!(err.is_transient());
        assert!(!ObjectError::refused("bad").is_transient());
    }
}
