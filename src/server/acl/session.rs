//! A connection's user: its name, and a snapshot of its rules refreshed
//! whenever the registry changed since.

use super::user::User;
use super::Registry;
use std::cell::RefCell;
use std::sync::Arc;

pub struct Session {
    /// Empty for an internal client (the master link): no user, no
    /// ACL checks, as Redis's `c->user == NULL`.
    name: Vec<u8>,
    /// (registry epoch, the user then; None once it was deleted).
    cached: RefCell<(u64, Option<Arc<User>>)>,
}

impl Session {
    /// A new connection's: the default user.
    pub fn new() -> Session {
        Session {
            name: b"default".to_vec(),
            cached: RefCell::new((0, None)),
        }
    }

    /// The master link's: runs anything.
    pub fn internal() -> Session {
        Session {
            name: Vec::new(),
            cached: RefCell::new((0, None)),
        }
    }

    pub fn is_internal(&self) -> bool {
        self.name.is_empty()
    }

    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// Switches to another user (AUTH, HELLO AUTH, RESET).
    pub fn set(&mut self, name: &[u8]) {
        if self.name != name {
            self.name = name.to_vec();
            *self.cached.get_mut() = (0, None);
        }
    }

    /// Runs `f` on the user's current rules (None for an internal
    /// client) without touching the shared user's reference count, which
    /// every shard's requests would otherwise bounce between cores.
    pub fn with_user<R>(&self, registry: &Registry, f: impl FnOnce(Option<&User>) -> R) -> R {
        if self.is_internal() {
            return f(None);
        }
        self.refresh(registry);
        let cached = self.cached.borrow();
        f(cached.1.as_deref())
    }

    /// A deleted user's connections (closing) fall back to `default`.
    fn refresh(&self, registry: &Registry) {
        let epoch = registry.epoch();
        let mut cached = self.cached.borrow_mut();
        if cached.0 != epoch {
            let user = registry
                .get(&self.name)
                .or_else(|| registry.get(b"default"));
            *cached = (epoch, user);
        }
    }
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}
