//! The I/O side of leader election over a `coordination.k8s.io/v1` Lease: reads, creates, renews,
//! takes over and releases it as [`crate::decision`] decides, and publishes the outcome as a
//! [`Leadership`]. Every write carries the `resourceVersion` it was decided on, so two candidates
//! racing for an expired Lease cannot both win; a holder that cannot renew for the renew deadline
//! steps down before the lease duration runs out elsewhere.

use std::future::Future;
use std::time::Instant;

use futures::Stream;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, PostParams};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{debug, error, info, trace, warn};

use crate::LeaseSettings;
use crate::decision::{Observed, Step, decide, holder, next_spec, observe, released};
use crate::trouble::{self as lease_trouble, LeaseFailure, LogLimiter};

/// Whether this replica leads, and which term of leadership it is in: every gain starts a new term,
/// so a loss and a regain between two looks are not mistaken for one unbroken term.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Term {
    pub leading: bool,
    pub number: u64,
}

/// Whether this replica leads, as the election last decided; cheap to clone.
#[derive(Clone, Debug)]
pub struct Leadership {
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
pub struct Election {
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
