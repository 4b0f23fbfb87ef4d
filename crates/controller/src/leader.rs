//! Leader election over a `coordination.k8s.io/v1` Lease, so that of several replicas exactly one
//! reconciles and writes while the others keep their caches warm and wait.
//!
//! The protocol is client-go's: the holder renews the Lease every retry period; a candidate takes it
//! over when it has seen no change to it for a whole lease duration (measured on the candidate's own
//! clock from when it first saw the current record, so clock skew between replicas does not matter),
//! or at once when the holder released it. Every write carries the `resourceVersion` it was decided
//! on, so two candidates racing for an expired Lease cannot both win: the API server rejects the
//! second write with a conflict. A holder that cannot renew for the renew deadline steps down before
//! the lease duration runs out elsewhere, leaving a margin in which nobody writes.
//!
//! [`decide`], [`observe`], [`next_spec`] and [`released`] are the pure state machine; [`Election`]
//! does the I/O and publishes whether this replica leads as a [`Leadership`].

use std::future::Future;
use std::time::{Duration, Instant};

use futures::Stream;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, PostParams};
use thiserror::Error;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{debug, error, info, trace, warn};

use crate::lease_trouble::{self, LeaseFailure, LogLimiter};

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
    pub fn lease_name(base: &str, shard: crate::shard::Shard) -> String {
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

/// The Lease as this replica last read it, and since when (on this replica's clock) it has been unchanged.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Observed {
    pub spec: LeaseSpec,
    pub resource_version: Option<String>,
    /// When this exact record was first seen; a holder that renews changes the record.
    pub since: Instant,
}

/// Records a fresh read of the Lease: an unchanged record keeps the time it was first seen, any
/// change (a renewal, a new holder) restarts the clock.
pub(crate) fn observe(
    previous: Option<Observed>,
    spec: LeaseSpec,
    resource_version: Option<String>,
    now: Instant,
) -> Observed {
    let since = match previous {
        Some(previous) if previous.spec == spec => previous.since,
        _ => now,
    };
    Observed { spec, resource_version, since }
}

/// What to do with the Lease on this attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// There is no Lease: create it, holding it.
    Create,
    /// Nobody holds it, or its holder stopped renewing: take it over.
    Take,
    /// We hold it: renew it.
    Renew,
    /// Someone else holds it and renews it: wait.
    Follow { holder: String },
}

/// Decides the next step from the last read of the Lease. `default_duration` applies when the Lease
/// does not say how long it lasts.
pub(crate) fn decide(observed: Option<&Observed>, identity: &str, now: Instant, default_duration: Duration) -> Step {
    let Some(observed) = observed else {
        return Step::Create;
    };
    match holder(&observed.spec) {
        None => Step::Take,
        Some(holder) if holder == identity => Step::Renew,
        Some(holder) => {
            let duration = observed
                .spec
                .lease_duration_seconds
                .and_then(|s| u64::try_from(s).ok())
                .map(Duration::from_secs)
                .unwrap_or(default_duration);
            if now.saturating_duration_since(observed.since) >= duration {
                Step::Take
            } else {
                Step::Follow { holder: holder.to_string() }
            }
        }
    }
}

/// The holder, if any: an empty `holderIdentity` is a released Lease.
fn holder(spec: &LeaseSpec) -> Option<&str> {
    spec.holder_identity.as_deref().filter(|h| !h.is_empty())
}

/// The Lease spec to write for `step` (not [`Step::Follow`], which writes nothing).
pub(crate) fn next_spec(
    current: Option<&LeaseSpec>,
    step: &Step,
    identity: &str,
    now: Timestamp,
    duration: Duration,
) -> LeaseSpec {
    let seconds = i32::try_from(duration.as_secs()).unwrap_or(i32::MAX);
    match (step, current) {
        (Step::Renew, Some(current)) => LeaseSpec {
            holder_identity: Some(identity.to_string()),
            renew_time: Some(MicroTime(now)),
            lease_duration_seconds: Some(seconds),
            ..current.clone()
        },
        _ => LeaseSpec {
            holder_identity: Some(identity.to_string()),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            lease_duration_seconds: Some(seconds),
            lease_transitions: Some(match current {
                Some(current) => current.lease_transitions.unwrap_or(0).saturating_add(1),
                None => 0,
            }),
            ..Default::default()
        },
    }
}

/// The Lease spec that hands the Lease back: no holder, so candidates take it on their next try
/// instead of waiting out the lease duration.
pub(crate) fn released(current: &LeaseSpec, now: Timestamp) -> LeaseSpec {
    LeaseSpec {
        holder_identity: None,
        lease_duration_seconds: Some(1),
        renew_time: Some(MicroTime(now)),
        ..current.clone()
    }
}

/// Whether this replica leads, and which term of leadership it is in: every gain starts a new term,
/// so a loss and a regain between two looks are not mistaken for one unbroken term.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Term {
    pub leading: bool,
    pub number: u64,
}

/// Whether this replica leads, as the election last decided; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Leadership {
    term: watch::Receiver<Term>,
    trouble: watch::Receiver<Option<String>>,
}

impl Leadership {
    /// A replica that does not take part in elections: it always leads. Keep the sender alive as long
    /// as the leadership is used.
    pub fn always() -> (watch::Sender<Term>, Self) {
        let (tx, term) = watch::channel(Term { leading: true, number: 0 });
        (tx, Self { term, trouble: watch::channel(None).1 })
    }

    /// Why this replica can't take part in the election right now (the Lease can't be read or
    /// written), for `/readyz`; `None` while it leads or follows normally.
    pub fn trouble(&self) -> Option<String> {
        self.trouble.borrow().clone()
    }

    /// True while this replica leads.
    pub fn is_leading(&self) -> bool {
        self.term.borrow().leading
    }

    /// Resolves when the current term ends (never, once nobody can change it any more).
    pub fn lost(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut term = self.term.clone();
        let current = term.borrow_and_update().number;
        async move {
            if term.wait_for(|t| !t.leading || t.number != current).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Yields each time this replica starts a new term as leader.
    pub fn gained(&self) -> impl Stream<Item = ()> + Send + 'static {
        let mut term = self.term.clone();
        let seen = term.borrow_and_update().number;
        futures::stream::unfold((term, seen), |(mut term, seen)| async move {
            let number = match term.wait_for(|t| t.leading && t.number != seen).await {
                Ok(t) => t.number,
                Err(_) => return None,
            };
            Some(((), (term, number)))
        })
    }
}

/// A running election: renews or competes for the Lease until [`Election::stop`].
pub(crate) struct Election {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Election {
    /// Starts competing for the Lease; the returned [`Leadership`] starts as not leading.
    pub fn start(client: Client, settings: LeaseSettings) -> (Self, Leadership) {
        let (tx, term) = watch::channel(Term::default());
        let (trouble_tx, trouble) = watch::channel(None);
        let (stop, stopped) = oneshot::channel();
        let api: Api<Lease> = Api::namespaced(client.clone(), &settings.namespace);
        let namespaces: Api<Namespace> = Api::all(client);
        info!(lease = %format!("{}/{}", settings.namespace, settings.name), identity = %settings.identity, "leader election: competing");
        let elector = Elector { api, namespaces, settings, leading: tx, trouble: trouble_tx };
        let task = tokio::spawn(elector.run(stopped));
        (Self { stop, task }, Leadership { term, trouble })
    }

    /// Stops renewing and, if this replica leads, releases the Lease so another replica takes over at
    /// once. Call it after in-flight work has finished.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        if let Err(err) = self.task.await {
            warn!(%err, "leader election task failed");
        }
    }
}

/// The I/O side of the election.
struct Elector {
    api: Api<Lease>,
    namespaces: Api<Namespace>,
    settings: LeaseSettings,
    leading: watch::Sender<Term>,
    trouble: watch::Sender<Option<String>>,
}

/// What one attempt found.
enum Attempt {
    /// We hold the Lease (created, taken over or renewed).
    Holding,
    /// Someone else holds it, or won a race for it.
    NotHolding { holder: Option<String> },
}

impl Elector {
    fn is_leading(&self) -> bool {
        self.leading.borrow().leading
    }

    /// Starts a new term as leader.
    fn lead(&self) {
        self.leading.send_modify(|t| *t = Term { leading: true, number: t.number + 1 });
    }

    /// Ends the term; returns whether there was one.
    fn step_down(&self) -> bool {
        let mut was = false;
        self.leading.send_modify(|t| {
            was = t.leading;
            t.leading = false;
        });
        was
    }

    async fn run(self, mut stop: oneshot::Receiver<()>) {
        let mut observed: Option<Observed> = None;
        let mut last_renewal: Option<Instant> = None;
        let mut last_holder: Option<String> = None;
        let mut failures = 0u32;
        let mut limiter = LogLimiter::default();
        loop {
            let leading = self.is_leading();
            let budget = match (leading, last_renewal) {
                (true, Some(renewed)) => self.settings.renew_deadline.saturating_sub(renewed.elapsed()),
                _ => self.settings.renew_deadline,
            };
            let trouble = match tokio::time::timeout(budget, self.attempt(&mut observed)).await {
                Ok(Ok(Attempt::Holding)) => {
                    last_renewal = Some(Instant::now());
                    if !leading {
                        info!(lease = %self.settings.name, identity = %self.settings.identity, "leader election: leading");
                        self.lead();
                    }
                    None
                }
                Ok(Ok(Attempt::NotHolding { holder })) => {
                    if leading {
                        warn!(lease = %self.settings.name, holder = holder.as_deref().unwrap_or(""), "leader election: lost the lease to another replica; stopping work");
                        self.step_down();
                    }
                    if holder != last_holder {
                        info!(lease = %self.settings.name, holder = holder.as_deref().unwrap_or(""), "leader election: following");
                        last_holder = holder;
                    }
                    None
                }
                Ok(Err(err)) => self.mend(&err).await,
                Err(_) => Some(lease_trouble::lease_unusable(
                    &self.settings.namespace,
                    &self.settings.name,
                    &format!("no answer within {budget:?}"),
                )),
            };
            failures = if trouble.is_some() { failures.saturating_add(1) } else { 0 };
            self.report(trouble, &mut limiter);
            if self.is_leading() && last_renewal.is_none_or(|r| r.elapsed() >= self.settings.renew_deadline) {
                warn!(lease = %self.settings.name, "leader election: could not renew within the renew deadline; stopping work");
                self.step_down();
            }
            let delay = lease_trouble::retry_delay(self.settings.retry_period, failures, self.is_leading());
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = &mut stop => break,
            }
        }
        if self.step_down() {
            self.release().await;
        }
    }

    /// Mends what the election can mend after a failed attempt (a missing lease namespace is created
    /// when RBAC allows); returns what is still wrong, if anything.
    async fn mend(&self, err: &kube::Error) -> Option<String> {
        let namespace = &self.settings.namespace;
        match LeaseFailure::of(err, namespace) {
            LeaseFailure::NamespaceMissing => {
                let object = Namespace {
                    metadata: ObjectMeta { name: Some(namespace.clone()), ..Default::default() },
                    ..Default::default()
                };
                match self.namespaces.create(&PostParams::default(), &object).await {
                    Ok(_) => {
                        info!(namespace = %namespace, "leader election: created the missing lease namespace");
                        None
                    }
                    Err(kube::Error::Api(status)) if status.code == 409 => None,
                    Err(err) => Some(lease_trouble::namespace_not_creatable(namespace, &lease_trouble::one_line(&err))),
                }
            }
            LeaseFailure::Other(why) => Some(lease_trouble::lease_unusable(namespace, &self.settings.name, &why)),
        }
    }

    /// Publishes the current trouble for `/readyz` and logs it, rate-limited; logs the recovery once.
    fn report(&self, trouble: Option<String>, limiter: &mut LogLimiter) {
        match &trouble {
            Some(message) => {
                if let Some(held_back) = limiter.admit(message, Instant::now()) {
                    error!(lease = %self.settings.name, repeated = held_back, "leader election: {message}");
                }
            }
            None if self.trouble.borrow().is_some() => {
                info!(lease = %self.settings.name, "leader election: the lease works again");
                limiter.reset();
            }
            None => {}
        }
        self.trouble.send_if_modified(|current| {
            let changed = *current != trouble;
            *current = trouble;
            changed
        });
    }

    /// Reads the Lease and acts on it once.
    async fn attempt(&self, observed: &mut Option<Observed>) -> Result<Attempt, kube::Error> {
        let lease = self.api.get_opt(&self.settings.name).await?;
        let now = Instant::now();
        *observed =
            lease.map(|l| observe(observed.take(), l.spec.unwrap_or_default(), l.metadata.resource_version, now));
        let step = decide(observed.as_ref(), &self.settings.identity, now, self.settings.lease_duration);
        trace!(lease = %self.settings.name, ?step, "leader election");
        let current = observed.as_ref().map(|o| &o.spec);
        let spec = match &step {
            Step::Follow { holder } => return Ok(Attempt::NotHolding { holder: Some(holder.clone()) }),
            step => next_spec(current, step, &self.settings.identity, Timestamp::now(), self.settings.lease_duration),
        };
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.settings.name.clone()),
                namespace: Some(self.settings.namespace.clone()),
                resource_version: observed.as_ref().and_then(|o| o.resource_version.clone()),
                ..Default::default()
            },
            spec: Some(spec),
        };
        let written = match step {
            Step::Create => self.api.create(&PostParams::default(), &lease).await,
            _ => self.api.replace(&self.settings.name, &PostParams::default(), &lease).await,
        };
        match written {
            Ok(_) => Ok(Attempt::Holding),
            // Another replica wrote first (created it, or changed it since our read): it won this round.
            Err(kube::Error::Api(status)) if status.code == 409 => {
                debug!(lease = %self.settings.name, "leader election: lost a race for the lease");
                Ok(Attempt::NotHolding { holder: observed.as_ref().and_then(|o| holder(&o.spec)).map(str::to_string) })
            }
            Err(err) => Err(err),
        }
    }

    /// Hands the Lease back if we still hold it; a conflict means someone else already took it.
    async fn release(&self) {
        let result = async {
            let Some(mut lease) = self.api.get_opt(&self.settings.name).await? else {
                return Ok(false);
            };
            let spec = lease.spec.take().unwrap_or_default();
            if holder(&spec) != Some(self.settings.identity.as_str()) {
                return Ok(false);
            }
            lease.spec = Some(released(&spec, Timestamp::now()));
            self.api.replace(&self.settings.name, &PostParams::default(), &lease).await.map(|_| true)
        };
        match tokio::time::timeout(self.settings.renew_deadline, result).await {
            Ok(Ok(true)) => info!(lease = %self.settings.name, "leader election: released the lease"),
            Ok(Ok(false)) => {}
            Ok(Err(err)) => {
                let why = lease_trouble::one_line(&err);
                warn!(lease = %self.settings.name, "leader election: releasing the lease failed: {why}")
            }
            Err(_) => warn!(lease = %self.settings.name, "leader election: releasing the lease timed out"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DURATION: Duration = Duration::from_secs(15);

    fn held_by(holder: &str) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(15),
            lease_transitions: Some(3),
            renew_time: Some(MicroTime(Timestamp::from_second(100).unwrap())),
            ..Default::default()
        }
    }

    fn seen(spec: LeaseSpec, since: Instant) -> Observed {
        Observed { spec, resource_version: Some("1".into()), since }
    }

    #[test]
    fn no_lease_is_created_and_a_released_one_is_taken_at_once() {
        let now = Instant::now();
        assert_eq!(decide(None, "me", now, DURATION), Step::Create);
        let released = released(&held_by("other"), Timestamp::from_second(200).unwrap());
        assert_eq!(released.holder_identity, None);
        assert_eq!(decide(Some(&seen(released, now)), "me", now, DURATION), Step::Take);
        let empty = LeaseSpec { holder_identity: Some(String::new()), ..held_by("x") };
        assert_eq!(decide(Some(&seen(empty, now)), "me", now, DURATION), Step::Take);
    }

    #[test]
    fn the_holder_renews_and_others_follow_until_the_lease_runs_out() {
        let start = Instant::now();
        let observed = seen(held_by("other"), start);
        assert_eq!(decide(Some(&seen(held_by("me"), start)), "me", start, DURATION), Step::Renew);
        assert_eq!(
            decide(Some(&observed), "me", start + Duration::from_secs(14), DURATION),
            Step::Follow { holder: "other".into() }
        );
        assert_eq!(decide(Some(&observed), "me", start + DURATION, DURATION), Step::Take);
        let no_duration = LeaseSpec { lease_duration_seconds: None, ..held_by("other") };
        assert_eq!(
            decide(Some(&seen(no_duration, start)), "me", start + Duration::from_secs(5), Duration::from_secs(4)),
            Step::Take
        );
    }

    #[test]
    fn expiry_counts_from_when_the_record_last_changed_on_our_clock() {
        let start = Instant::now();
        let first = observe(None, held_by("other"), Some("1".into()), start);
        let unchanged =
            observe(Some(first.clone()), held_by("other"), Some("1".into()), start + Duration::from_secs(10));
        assert_eq!(unchanged.since, start);
        let renewed_spec =
            LeaseSpec { renew_time: Some(MicroTime(Timestamp::from_second(110).unwrap())), ..held_by("other") };
        let renewed = observe(Some(unchanged), renewed_spec, Some("2".into()), start + Duration::from_secs(12));
        assert_eq!(renewed.since, start + Duration::from_secs(12));
        assert_eq!(
            decide(Some(&renewed), "me", start + Duration::from_secs(20), DURATION),
            Step::Follow { holder: "other".into() }
        );
        assert_eq!(decide(Some(&renewed), "me", start + Duration::from_secs(27), DURATION), Step::Take);
    }

    #[test]
    fn taking_over_counts_a_transition_and_renewing_keeps_the_acquire_time() {
        let now = Timestamp::from_second(500).unwrap();
        let created = next_spec(None, &Step::Create, "me", now, DURATION);
        assert_eq!(created.holder_identity.as_deref(), Some("me"));
        assert_eq!(created.lease_transitions, Some(0));
        assert_eq!(created.lease_duration_seconds, Some(15));
        let taken = next_spec(Some(&held_by("other")), &Step::Take, "me", now, DURATION);
        assert_eq!(taken.lease_transitions, Some(4));
        assert_eq!(taken.acquire_time, Some(MicroTime(now)));
        let mine = LeaseSpec { acquire_time: Some(MicroTime(Timestamp::from_second(50).unwrap())), ..held_by("me") };
        let renewed = next_spec(Some(&mine), &Step::Renew, "me", now, DURATION);
        assert_eq!(renewed.acquire_time, mine.acquire_time);
        assert_eq!(renewed.renew_time, Some(MicroTime(now)));
        assert_eq!(renewed.lease_transitions, Some(3));
    }

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
        use crate::shard::Shard;
        assert_eq!(LeaseSettings::lease_name("lockstep-controller", Shard::single()), "lockstep-controller");
        let second = Shard::new(1, 2).unwrap();
        assert_eq!(LeaseSettings::lease_name("lockstep-controller", second), "lockstep-controller-shard-1");
    }

    #[tokio::test]
    async fn leadership_reports_losses_and_gains() {
        use futures::StreamExt;
        let (tx, term) = watch::channel(Term::default());
        let leadership = Leadership { term, trouble: watch::channel(None).1 };
        let mut gained = Box::pin(leadership.gained());
        assert!(!leadership.is_leading());
        tx.send_replace(Term { leading: true, number: 1 });
        assert_eq!(gained.next().await, Some(()));
        assert!(leadership.is_leading());
        let lost = leadership.lost();
        tx.send_replace(Term { leading: false, number: 1 });
        lost.await;
        // A loss and a regain between two looks still count as a new term.
        let lost = leadership.lost();
        tx.send_replace(Term { leading: true, number: 2 });
        lost.await;
        assert_eq!(gained.next().await, Some(()));
        drop(tx);
        assert_eq!(gained.next().await, None);
        let (_always, always) = Leadership::always();
        assert!(always.is_leading());
    }
}
