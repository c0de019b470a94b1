//! Access control lists (Redis 7.0's ACL): the users, what each may run,
//! the check dispatch makes before a command runs, and the ACL log. The
//! users are the process's, shared by every shard thread; a connection
//! keeps its user's snapshot and refreshes it when any user changes.

pub mod catalog;
pub mod check;
pub mod describe;
pub mod file;
pub mod gate;
pub mod log;
pub mod password;
pub mod rules;
pub mod selector;
pub mod session;
pub mod user;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use user::User;

/// Every user by name (ordered as Redis's radix tree lists them).
pub struct Registry {
    users: RwLock<BTreeMap<Vec<u8>, Arc<User>>>,
    /// Bumped by every change, so sessions know to refresh.
    epoch: AtomicU64,
    /// The default user is `nopass` and `on`: nobody needs AUTH.
    default_open: AtomicBool,
    pub log: Mutex<log::Log>,
}

impl Registry {
    pub fn new(requirepass: Option<&[u8]>) -> Registry {
        let default = User::default_user(requirepass);
        let open = default.nopass && default.enabled;
        let mut users = BTreeMap::new();
        users.insert(b"default".to_vec(), Arc::new(default));
        Registry {
            users: RwLock::new(users),
            epoch: AtomicU64::new(1),
            default_open: AtomicBool::new(open),
            log: Mutex::new(log::Log::default()),
        }
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Whether a connection that never authenticated may run commands
    /// (Redis's authRequired is its negation).
    pub fn default_open(&self) -> bool {
        self.default_open.load(Ordering::Relaxed)
    }

    pub fn get(&self, name: &[u8]) -> Option<Arc<User>> {
        self.users.read().unwrap().get(name).cloned()
    }

    /// Every user, in name order.
    pub fn all(&self) -> Vec<Arc<User>> {
        self.users.read().unwrap().values().cloned().collect()
    }

    /// Changes a user (or creates it) with `edit`, which sees the
    /// current user or None; nothing changes when it fails.
    pub fn update<E>(
        &self,
        name: &[u8],
        edit: impl FnOnce(Option<&User>) -> Result<User, E>,
    ) -> Result<(), E> {
        let mut users = self.users.write().unwrap();
        let new = edit(users.get(name).map(|u| &**u))?;
        users.insert(name.to_vec(), Arc::new(new));
        self.changed(&users);
        Ok(())
    }

    /// Removes users; the names of those that existed.
    pub fn delete(&self, names: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let mut users = self.users.write().unwrap();
        let gone: Vec<Vec<u8>> = names
            .iter()
            .filter(|n| users.remove(n.as_slice()).is_some())
            .cloned()
            .collect();
        self.changed(&users);
        gone
    }

    /// Every user, as a load starts from.
    pub fn owned(&self) -> file::Users {
        let users = self.users.read().unwrap();
        users
            .iter()
            .map(|(n, u)| (n.clone(), (**u).clone()))
            .collect()
    }

    /// Replaces every user with a loaded set, whose default user is
    /// made fresh when it has none (Redis's ACLLoadFromFile: the old
    /// default user takes the new one's rules).
    pub fn replace(&self, mut loaded: file::Users) {
        loaded
            .entry(b"default".to_vec())
            .or_insert_with(|| User::default_user(None));
        let mut users = self.users.write().unwrap();
        *users = loaded.into_iter().map(|(n, u)| (n, Arc::new(u))).collect();
        self.changed(&users);
    }

    /// `requirepass` changed (CONFIG SET): the default user's password.
    pub fn set_requirepass(&self, pass: Option<&[u8]>) {
        let _ = self.update::<()>(b"default", |u| {
            let mut u = u.expect("the default user always exists").clone();
            u.set_requirepass(pass);
            Ok(u)
        });
    }

    fn changed(&self, users: &BTreeMap<Vec<u8>, Arc<User>>) {
        let open = users
            .get(&b"default"[..])
            .is_some_and(|d| d.nopass && d.enabled);
        self.default_open.store(open, Ordering::Relaxed);
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }
}
