//! What can go wrong while generating, each naming where: the generator (`generators[0].matrix…`),
//! the repository, the parameter set or the Application.

/// Why a set's generators yielded no parameter sets this pass.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum GenerateError {
    /// The generator's spec cannot be evaluated.
    #[error("{0}")]
    Invalid(String),
    /// A git generator's repository could not be read; nothing is deleted.
    #[error("repository {repo}: {message}")]
    Source {
        /// The repository URL.
        repo: String,
        /// Why it could not be read.
        message: String,
    },
    /// A cluster Secret the clusters generator selects cannot be read; nothing is deleted.
    #[error("cluster Secret {secret}: {message}")]
    Cluster {
        /// The Secret's name.
        secret: String,
        /// Why it cannot be read.
        message: String,
    },
    /// The error of a nested generator, with where it sits.
    #[error("{at}: {inner}")]
    At {
        /// The generator's position, such as `generators[1].matrix.generators[0]`.
        at: String,
        /// What went wrong there.
        inner: Box<GenerateError>,
    },
}

impl GenerateError {
    /// This error, placed inside `at`.
    pub fn within(self, at: impl Into<String>) -> Self {
        Self::At { at: at.into(), inner: Box::new(self) }
    }

    /// Whether a source could not be read (as opposed to a spec that is wrong).
    pub fn is_source(&self) -> bool {
        match self {
            Self::Source { .. } | Self::Cluster { .. } => true,
            Self::At { inner, .. } => inner.is_source(),
            Self::Invalid(_) => false,
        }
    }
}

/// Why the template could not be filled for one parameter set.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum TemplateError {
    /// The filled-in template is not a valid Application.
    #[error("parameter set {index}: the rendered Application is invalid: {message}")]
    Invalid {
        /// The parameter set's position.
        index: usize,
        /// What is wrong.
        message: String,
    },
    /// A Go template failed to parse or execute.
    #[error("parameter set {index}: {message}")]
    Template {
        /// The parameter set's position.
        index: usize,
        /// What is wrong.
        message: String,
    },
    /// Two parameter sets produce Applications of the same name.
    #[error("parameter sets {first} and {second} both generate Application {name:?}")]
    Duplicate {
        /// The name.
        name: String,
        /// The first set's position.
        first: usize,
        /// The second set's position.
        second: usize,
    },
}

/// Why a pass could not finish; it is retried.
#[derive(Debug, thiserror::Error)]
pub enum AppSetError {
    /// The status write was refused.
    #[error("writing the status of ApplicationSet {set}: {message}")]
    Status {
        /// The set's name.
        set: String,
        /// The API server's reason and message.
        message: String,
    },
}
