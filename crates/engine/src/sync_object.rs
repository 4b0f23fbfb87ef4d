//! Comparing and writing one object under the Application's options: kubectl take-over
//! ([`crate::migrate`]), ignored differences ([`crate::ignore`]) and replacing objects whose
//! immutable fields changed ([`crate::replace`]). Comparing reads and dry-runs only; every write
//! is [`Engine::write_one`]'s, made by the executor for what the plan decided.

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use lockstep_api::{DriftMode, FIELD_MANAGER};
use serde_json::Value;

use crate::drift;
use crate::engine::{Engine, RenderFacts, SyncOptions, Target};
use crate::error::ObjectError;
use crate::ignore;
use crate::key::ResourceKey;
use crate::migrate;
use crate::plan::{Action, Observation};
use crate::replace;
use crate::tracking::{AppRef, owner_of, tracking_id_of};
use crate::verified::desired_hash;
use crate::watched;

/// What comparing one object found, and how to write it if it differs.
pub(crate) struct Compared {
    /// What the comparison found.
    pub observation: Observation,
    /// The object to apply: git's, with ignored fields set to their live values and, under drift
    /// mode `warn`, drifted fields git did not change too ([`drift::preserve_drift`]).
    pub object: Value,
    /// Whether the object may be deleted and recreated when an immutable field blocks the apply.
    pub replace_allowed: bool,
    /// What the server's dry-run of the apply would store, when it answered.
    pub predicted: Option<Value>,
    /// Hash of git's object and the ignore rules, to remember the object once it is in sync.
    pub desired: u64,
    /// The live object carries kubectl's client-side apply, whose fields lockstep takes over
    /// before it applies.
    pub take_over: bool,
    /// The object's drift mode (its annotation, else the Application's).
    pub drift: DriftMode,
    /// Under drift mode `warn`: git changed, since the previous revision, fields the live object
    /// does not hold yet, so an apply (of those fields only) is due.
    pub git_change_due: bool,
}

impl Engine {
    /// Reads the live object and asks the server what applying git's object would store, comparing
    /// outside ignored fields. No dry-run is made for an object to be created by a sync (`apply`),
    /// one unchanged since it was last found in sync ([`crate::verified`]), or one that exists under
    /// drift mode `ignore`. Writes nothing.
    pub(crate) async fn compare_one(
        &self,
        api: &Api<DynamicObject>,
        target: &Target,
        options: &SyncOptions,
        facts: &RenderFacts,
        apply: bool,
    ) -> Compared {
        let replace_allowed = replace::replace_allowed(&options.sync_options, &target.object);
        let mut compared = Compared {
            observation: Observation::Drifted { live: None },
            object: target.object.clone(),
            replace_allowed,
            predicted: None,
            desired: desired_hash(&target.object, &options.ignore_differences),
            take_over: false,
            drift: DriftMode::Heal,
            git_change_due: false,
        };
        compared.drift = match drift::mode_of(&target.object, options.drift) {
            Ok(mode) => mode,
            Err(error) => return compared.with(Observation::Rejected(error)),
        };
        if let Some(live) = self.unchanged_in_sync(&options.app, &target.key, compared.desired) {
            return compared.with(Observation::InSync { live });
        }
        if let Some(live) = self.status_changed_in_sync(&options.app, target, compared.desired) {
            return compared.with(Observation::InSync { live });
        }
        if apply && self.known_absent(&options.app, &target.key) {
            // The apply that follows creates it, as after a read answering 404 (see below).
            return compared.with(Observation::Drifted { live: None });
        }
        let name = &target.key.name;
        let live = match self.read(api, name).await {
            Ok(live) => live,
            Err(err) => return compared.with(Observation::Rejected(err)),
        };
        if let Some(current) = &live {
            if let Some(owner) = tracking_id_of(current).and_then(owner_of).filter(|owner| *owner != options.app) {
                // An object whose Application no longer exists is orphaned, not shared: it is adopted.
                if self.application_exists(&owner).await {
                    let owner = format!("{}/{}", owner.namespace, owner.name);
                    return compared.with(Observation::Shared { owner, live: current.clone() });
                }
            }
            compared.take_over = migrate::upgrade(current, &target.object).is_some();
        }
        if let (DriftMode::Ignore, Some(current)) = (compared.drift, &live) {
            // Left alone after creation: what applying would change is never asked.
            return compared.with(Observation::Drifted { live: Some(current.clone()) });
        }
        if apply && live.is_none() {
            // Nothing to compare with: the apply that follows is both the server's check and its
            // answer, and fails with the same message a dry-run would have given.
            return compared.with(Observation::Drifted { live: None });
        }
        let desired = compared.desired;
        if let Some(current) = &live
            && !compared.take_over
            && self.verified.holds(&options.app, &target.key, desired, &target.object, current)
        {
            // Kept at the version just read, so that the next pass need not read it.
            self.verified.record(&options.app, &target.key, desired, &target.object, current);
            return compared.with(Observation::InSync { live: current.clone() });
        }
        let ignored = ignore::ignored_paths(&options.ignore_differences, &target.key, live.as_ref());
        compared.object = ignore::respect(&target.object, live.as_ref(), &ignored);
        // A heal of a revision that synced knows git changed nothing since: no drift is overwritten.
        let previous =
            if options.heal_only { None } else { drift::previous_of(&options.previous_objects, &target.key) };
        let warned = live.as_ref().filter(|_| compared.drift == DriftMode::Warn);
        if let Some(current) = warned {
            compared.git_change_due = drift::git_change_due(previous, &compared.object, current);
        }
        let params = PatchParams::apply(FIELD_MANAGER).force().dry_run();
        let predicted = match api.patch(name, &params, &Patch::Apply(&compared.object)).await {
            Ok(predicted) => serde_json::to_value(predicted).ok(),
            Err(kube::Error::Api(status))
                if status.code == 404
                    && target.key.namespace.as_ref().is_some_and(|ns| facts.namespaces.contains(ns)) =>
            {
                return compared.with(Observation::AwaitingNamespace);
            }
            Err(kube::Error::Api(status)) if replace::is_immutable(&status) && live.is_some() => {
                let error = replace::refusal(&status);
                return compared.with(Observation::Immutable { live: live.unwrap_or_default(), error });
            }
            Err(kube::Error::Api(status)) => return compared.with(Observation::Rejected(replace::refusal(&status))),
            Err(err) => return compared.with(Observation::Rejected(ObjectError::of(&err))),
        };
        compared.predicted = predicted.clone();
        if let Some(current) = warned {
            compared.object = drift::preserve_drift(previous, &compared.object, current);
        }
        let observation = Observation::of_dry_run(live, predicted.as_ref(), &ignored, compared.take_over);
        match &observation {
            Observation::InSync { live } => {
                self.verified.record(&options.app, &target.key, desired, &target.object, live)
            }
            _ => self.verified.forget(&options.app, &target.key),
        }
        compared.with(observation)
    }

    /// Carries out `action` (create, update or replace) with the compared object, first taking
    /// the fields of kubectl's client-side apply over when the comparison found them; an apply that
    /// an immutable field blocks (its dry-run was skipped) recreates the object when the options allow.
    pub(crate) async fn write_one(
        &self,
        api: &Api<DynamicObject>,
        target: &Target,
        compared: &Compared,
        action: Action,
    ) -> Result<Value, ObjectError> {
        let name = &target.key.name;
        if let (true, Some(live)) = (compared.take_over, compared.live()) {
            migrate::take_over(api, name, live, &target.object).await.map_err(|err| {
                ObjectError::of(&err)
                    .map_message(|m| format!("taking over the fields of kubectl's client-side apply: {m}"))
            })?;
        }
        let written = if action == Action::Replace {
            replace::recreate(api, name, compared.live_uid(), &compared.object).await?
        } else {
            let params = PatchParams::apply(FIELD_MANAGER).force();
            match api.patch(name, &params, &Patch::Apply(&compared.object)).await {
                Ok(applied) => applied,
                Err(kube::Error::Api(status)) if replace::is_immutable(&status) && compared.replace_allowed => {
                    replace::recreate(api, name, compared.live_uid(), &compared.object).await?
                }
                Err(kube::Error::Api(status)) => return Err(replace::refusal(&status)),
                Err(err) => return Err(ObjectError::of(&err)),
            }
        };
        let written = serde_json::to_value(written).map_err(|e| ObjectError::refused(e.to_string()))?;
        if compared.live().is_some() || migrate::upgrade(&written, &target.object).is_none() {
            return Ok(written);
        }
        // Created without a read, the object turned out to be kubectl's (client-side apply, not
        // watched): its fields are taken over now and git's object applied again, as a read first
        // would have done before the apply.
        let taking_over = |err: kube::Error| {
            ObjectError::of(&err).map_message(|m| format!("taking over the fields of kubectl's client-side apply: {m}"))
        };
        migrate::take_over(api, name, &written, &target.object).await.map_err(taking_over)?;
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let applied = match api.patch(name, &params, &Patch::Apply(&compared.object)).await {
            Ok(applied) => applied,
            Err(kube::Error::Api(status)) => return Err(replace::refusal(&status)),
            Err(err) => return Err(ObjectError::of(&err)),
        };
        serde_json::to_value(applied).map_err(|e| ObjectError::refused(e.to_string()))
    }

    /// Whether `key` is known not to exist without reading it: its kind's watch has listed and holds
    /// no such managed object, and this engine has not written or found it (a watch may lag behind
    /// this engine's own create).
    fn known_absent(&self, app: &AppRef, key: &ResourceKey) -> bool {
        self.versions.as_ref().is_some_and(|versions| versions.absent(key)) && !self.verified.knows(app, key)
    }

    /// The live copy of an object found in sync with `desired` that the watch of its kind reports
    /// unchanged since: no read is needed.
    fn unchanged_in_sync(&self, app: &AppRef, key: &ResourceKey, desired: u64) -> Option<Value> {
        let version = self.versions.as_ref()?.resource_version(key)?;
        self.verified.unchanged(app, key, desired, &version)
    }

    /// The live object found in sync with `desired` whose watch reports a change of its status
    /// only ([`watched::merged`]): the remembered copy with the watched status, kept at the watched
    /// version so the next pass need not ask again. `None` when the object is to be read.
    fn status_changed_in_sync(&self, app: &AppRef, target: &Target, desired: u64) -> Option<Value> {
        let watched = self.versions.as_ref()?.status(&target.key)?;
        let remembered = self.verified.remembered(app, &target.key, desired)?;
        let live = watched::merged(remembered, &target.object, &watched)?;
        self.verified.record(app, &target.key, desired, &target.object, &live);
        Some(live)
    }

    async fn read(&self, api: &Api<DynamicObject>, name: &str) -> Result<Option<Value>, ObjectError> {
        let live = api.get_opt(name).await.map_err(|err| ObjectError::of(&err))?;
        live.map(serde_json::to_value).transpose().map_err(|e| ObjectError::refused(e.to_string()))
    }
}

impl Compared {
    /// What was compared for an object that could not be prepared (its kind is not served): git's
    /// object as rendered, and what is known instead of a comparison.
    pub(crate) fn unprepared(object: Value, observation: Observation) -> Self {
        Self {
            observation,
            object,
            replace_allowed: false,
            predicted: None,
            desired: 0,
            take_over: false,
            drift: DriftMode::Heal,
            git_change_due: false,
        }
    }

    /// Whether a write of this comparison left drift in place (drift mode `warn`): the server's
    /// answer differs from what applying git's whole object would have stored.
    pub(crate) fn kept_drift(&self, written: &Value) -> bool {
        self.drift == DriftMode::Warn
            && self.predicted.as_ref().is_some_and(|git| crate::compare::differs(written, git))
    }

    /// The live object this comparison read, if any.
    pub(crate) fn live(&self) -> Option<&Value> {
        self.observation.live()
    }

    /// The uid of the live object this comparison read, if any.
    fn live_uid(&self) -> Option<String> {
        self.live()?.pointer("/metadata/uid")?.as_str().map(str::to_string)
    }

    fn with(mut self, observation: Observation) -> Self {
        self.observation = observation;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_write_under_warn_keeps_drift_only_when_it_stored_other_than_gits_object() {
        let live = Observation::Drifted { live: Some(json!({"data": {"k": "edited"}})) };
        let mut compared = Compared::unprepared(json!({}), live);
        compared.predicted = Some(json!({"metadata": {"resourceVersion": "1"}, "data": {"k": "git"}}));
        let kept = json!({"metadata": {"resourceVersion": "2"}, "data": {"k": "edited"}});
        let healed = json!({"metadata": {"resourceVersion": "2"}, "data": {"k": "git"}});
        assert!(!compared.kept_drift(&kept), "heal writes git's object");
        compared.drift = DriftMode::Warn;
        assert!(compared.kept_drift(&kept));
        assert!(!compared.kept_drift(&healed), "nothing drifted was left");
        compared.predicted = None;
        assert!(!compared.kept_drift(&kept), "a created object has no drift");
    }
}
