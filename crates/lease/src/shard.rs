//! Sharding: with `--shards N --shard I` a replica set handles only the Applications whose
//! `namespace/name` hashes to `I` modulo `N`, so one large installation can be split across
//! processes, each shard electing its own leader.
//!
//! The hash is 64-bit FNV-1a over the UTF-8 bytes of `namespace/name`: stable across builds,
//! platforms and Rust versions (unlike `DefaultHasher`), so every replica of every version agrees on
//! which shard owns an Application, and so can a script.

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use lockstep_api::Application;
use lockstep_api::stable_hash::fnv1a64;
use thiserror::Error;

/// One shard out of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    index: u32,
    count: u32,
}

/// A shard index outside the number of shards, or no shards at all.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("shard {index} does not exist among {count} shards (shards are numbered 0 to N-1, N >= 1)")]
pub struct InvalidShard {
    /// The index asked for.
    pub index: u32,
    /// The number of shards asked for.
    pub count: u32,
}

impl Shard {
    /// Shard `index` of `count`.
    pub fn new(index: u32, count: u32) -> Result<Self, InvalidShard> {
        if count == 0 || index >= count {
            return Err(InvalidShard { index, count });
        }
        Ok(Self { index, count })
    }

    /// The only shard: handles every Application.
    pub fn single() -> Self {
        Self { index: 0, count: 1 }
    }

    /// This shard's index.
    pub fn index(self) -> u32 {
        self.index
    }

    /// How many shards there are.
    pub fn count(self) -> u32 {
        self.count
    }

    /// True when this shard handles the Application `namespace/name`.
    pub fn owns(self, namespace: &str, name: &str) -> bool {
        self.count <= 1 || shard_of(namespace, name, self.count) == self.index
    }

    /// True when this shard handles the Application `reference` points at.
    pub fn owns_ref(self, reference: &ObjectRef<Application>) -> bool {
        self.owns(reference.namespace.as_deref().unwrap_or_default(), &reference.name)
    }

    /// True when a watch event should reach this shard's cache: events about other shards'
    /// Applications are dropped before the cache, so it holds only this shard's share.
    pub fn keeps(self, event: &watcher::Event<Application>) -> bool {
        match event {
            watcher::Event::Apply(app) | watcher::Event::InitApply(app) | watcher::Event::Delete(app) => {
                self.owns(&app.namespace().unwrap_or_default(), &app.name_any())
            }
            watcher::Event::Init | watcher::Event::InitDone => true,
        }
    }
}

/// The shard (out of `count`) that owns the Application `namespace/name`.
pub fn shard_of(namespace: &str, name: &str, count: u32) -> u32 {
    let key = format!("{namespace}/{name}");
    let hash = fnv1a64(key.as_bytes());
    u32::try_from(hash % u64::from(count.max(1))).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_api::ApplicationSpec;

    #[test]
    fn every_application_has_exactly_one_shard_and_the_split_is_even_enough() {
        let shards: Vec<Shard> = (0..3).map(|i| Shard::new(i, 3).unwrap()).collect();
        let mut per_shard = [0usize; 3];
        for n in 0..300 {
            let name = format!("app-{n}");
            let owners: Vec<u32> = shards.iter().filter(|s| s.owns("team", &name)).map(|s| s.index()).collect();
            assert_eq!(owners.len(), 1, "{name}: {owners:?}");
            per_shard[owners[0] as usize] += 1;
        }
        assert!(per_shard.iter().all(|&n| n > 60), "{per_shard:?}");
    }

    #[test]
    fn the_namespace_is_part_of_the_key_and_one_shard_owns_everything() {
        assert_eq!(shard_of("a", "x", 1000), u32::try_from(fnv1a64(b"a/x") % 1000).unwrap());
        assert!(Shard::single().owns("any", "thing"));
        assert_eq!(Shard::new(2, 2), Err(InvalidShard { index: 2, count: 2 }));
        assert!(Shard::new(0, 0).is_err());
    }

    #[test]
    fn watch_events_of_other_shards_are_dropped() {
        let mut app = Application::new("x", ApplicationSpec::default());
        app.metadata.namespace = Some("a".into());
        let owner = shard_of("a", "x", 2);
        let mine = Shard::new(owner, 2).unwrap();
        let other = Shard::new(1 - owner, 2).unwrap();
        assert!(mine.keeps(&watcher::Event::Apply(app.clone())));
        assert!(!other.keeps(&watcher::Event::Apply(app.clone())));
        assert!(!other.keeps(&watcher::Event::Delete(app)));
        assert!(other.keeps(&watcher::Event::InitDone));
        assert!(mine.owns_ref(&ObjectRef::new("x").within("a")));
        assert!(!other.owns_ref(&ObjectRef::new("x").within("a")));
    }
}
