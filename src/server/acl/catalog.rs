//! The commands ACL rules name: every spec entry of the table (containers
//! and their subcommands) gets a bit, in registration order, as Redis
//! gives each command an id. Categories come from the entries' `acl`
//! field plus the implicit ones their flags add.

use super::super::spec::{Acl as Category, CommandSpec, ACL_NAMES};
use super::super::table;
use std::collections::HashMap;
use std::sync::OnceLock;

/// One command known to ACL rules.
pub struct Entry {
    pub spec: &'static CommandSpec,
    pub categories: Category,
    /// Bits of the subcommands (empty for a plain command).
    pub children: Vec<usize>,
    /// The container's bit, for a subcommand.
    pub parent: Option<usize>,
}

pub struct Catalog {
    pub entries: Vec<Entry>,
    /// Bit by spec entry address: dispatch's lookup, on every request.
    by_spec: HashMap<usize, usize>,
}

/// The bit that only `+@all` sets: "may run commands added later", which
/// decides whether a description starts with `+@all` or `-@all`.
pub const FUTURE_BIT: usize = BITS - 1;
/// Room for every command's bit (Redis 7.0 has about 380) and FUTURE_BIT.
pub const BITS: usize = 1024;

static CATALOG: OnceLock<Catalog> = OnceLock::new();

pub fn catalog() -> &'static Catalog {
    CATALOG.get_or_init(|| {
        let mut entries = Vec::new();
        for &spec in &table::table().all {
            let at = entries.len();
            entries.push(Entry {
                spec,
                categories: spec.acl_categories(),
                children: Vec::new(),
                parent: None,
            });
            for sub in spec.subcommands {
                let child = entries.len();
                entries.push(Entry {
                    spec: sub,
                    categories: sub.acl_categories(),
                    children: Vec::new(),
                    parent: Some(at),
                });
                entries[at].children.push(child);
            }
        }
        assert!(entries.len() < FUTURE_BIT, "more commands than ACL bits");
        let by_spec = entries
            .iter()
            .enumerate()
            .map(|(bit, e)| (e.spec as *const CommandSpec as usize, bit))
            .collect();
        Catalog { entries, by_spec }
    })
}

impl Catalog {
    /// The bit of a command by its full name (`get`, `config|get`),
    /// any case.
    pub fn bit(&self, name: &[u8]) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.spec.name.as_bytes().eq_ignore_ascii_case(name))
    }

    /// The bit of a spec entry (the one dispatch resolved).
    pub fn bit_of(&self, spec: &CommandSpec) -> Option<usize> {
        self.by_spec
            .get(&(spec as *const CommandSpec as usize))
            .copied()
    }
}

/// A category by its name without `@`, as Redis's
/// ACLGetCommandCategoryFlagByName.
pub fn category(name: &[u8]) -> Option<Category> {
    ACL_NAMES
        .iter()
        .find(|(_, n)| n.as_bytes()[1..].eq_ignore_ascii_case(name))
        .map(|(c, _)| *c)
}

/// Category names without `@`, in Redis's order.
pub fn category_names() -> impl Iterator<Item = &'static str> {
    ACL_NAMES.iter().map(|(_, n)| &n[1..])
}
