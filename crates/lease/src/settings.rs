//! How a replica takes part in the election, and the timings that keep two replicas from leading at once.

use std::time::Duration;

use thiserror::Error;

use crate::Shard;

/// How a replica takes part in the election.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseSettings {
    /// Namespace of the Lease (the controller's namespace by default).
    pub namespace: String,
    /// Name of the Lease; each shard has its own.
    pub name: String,
    /// This replica's identity, written as `holderIdentity`; unique among live replicas.
    pub identity: String,
    /// How long candidates wait without seeing a renewal before they take the Lease over.
    pub lease_duration: Duration,
    /// How long the holder keeps trying to renew before it steps down.
    pub renew_deadline: Duration,
    /// How often candidates try to acquire and the holder renews.
    pub retry_period: Duration,
}

/// Settings that would let two replicas lead at once, or never let one lead.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum InvalidLeaseSettings {
    /// The holder would still count itself leader after others may take over.
    #[error("the renew deadline ({renew_deadline:?}) must be shorter than the lease duration ({lease_duration:?})")]
    DeadlineNotBelowDuration { renew_deadline: Duration, lease_duration: Duration },
    /// The holder would miss its own deadline between two renewals.
    #[error("the retry period ({retry_period:?}) must be shorter than the renew deadline ({renew_deadline:?})")]
    RetryNotBelowDeadline { retry_period: Duration, renew_deadline: Duration },
    /// A Lease counts whole seconds.
    #[error("the lease duration must be at least one second")]
    DurationTooShort,
    /// A Lease needs a name and a namespace, and the holder an identity.
    #[error("the lease name, namespace and identity must not be empty")]
    Empty,
}

impl LeaseSettings {
    /// The Lease a replica set competes for: `base`, or `base-shard-I` when Applications are split
    /// over more than one shard, so every shard elects its own leader.
    pub fn lease_name(base: &str, shard: Shard) -> String {
        if shard.count() > 1 { format!("{base}-shard-{}", shard.index()) } else { base.to_string() }
    }

    /// Checks the timings the way client-go does: retry < renew deadline < lease duration.
    pub fn validate(&self) -> Result<(), InvalidLeaseSettings> {
        if self.name.is_empty() || self.namespace.is_empty() || self.identity.is_empty() {
            return Err(InvalidLeaseSettings::Empty);
        }
        if self.lease_duration < Duration::from_secs(1) {
            return Err(InvalidLeaseSettings::DurationTooShort);
        }
        if self.renew_deadline >= self.lease_duration {
            return Err(InvalidLeaseSettings::DeadlineNotBelowDuration {
                renew_deadline: self.renew_deadline,
                lease_duration: self.lease_duration,
            });
        }
        if self.retry_period >= self.renew_deadline {
            return Err(InvalidLeaseSettings::RetryNotBelowDeadline {
                retry_period: self.retry_period,
                renew_deadline: self.renew_deadline,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timings_must_leave_a_margin() {
        let good = LeaseSettings {
            namespace: "ns".into(),
            name: "lockstep-controller".into(),
            identity: "pod_1".into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        };
        assert_eq!(good.validate(), Ok(()));
        let deadline = LeaseSettings { renew_deadline: Duration::from_secs(15), ..good.clone() };
        assert!(matches!(deadline.validate(), Err(InvalidLeaseSettings::DeadlineNotBelowDuration { .. })));
        let retry = LeaseSettings { retry_period: Duration::from_secs(10), ..good.clone() };
        assert!(matches!(retry.validate(), Err(InvalidLeaseSettings::RetryNotBelowDeadline { .. })));
        let unnamed = LeaseSettings { identity: String::new(), ..good };
        assert_eq!(unnamed.validate(), Err(InvalidLeaseSettings::Empty));
    }

    #[test]
    fn each_shard_has_its_own_lease() {
        use Shard;
        assert_eq!(LeaseSettings::lease_name("lockstep-controller", Shard::single()), "lockstep-controller");
        let second = Shard::new(1, 2).unwrap();
        assert_eq!(LeaseSettings::lease_name("lockstep-controller", second), "lockstep-controller-shard-1");
    }
}
