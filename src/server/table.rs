//! The command table the server looks commands up in. The families
//! (`command`) register their specs once at start-up with [`install`];
//! the server only reads it, so it never names a command family.

use super::spec::{Behavior, CommandSpec};
use crate::config::{ConfigError, Rename};
use std::collections::HashMap;
use std::sync::OnceLock;

static TABLE: OnceLock<Table> = OnceLock::new();

/// Registers the command families (each a `&[CommandSpec]`); the first
/// call wins, later ones return the table already registered.
pub fn install(families: &[&'static [CommandSpec]]) -> &'static Table {
    TABLE.get_or_init(|| Table::new(families))
}

/// [`install`] with the config's `rename-command` lines applied, before
/// anything looks a command up (start-up). An unknown name is Redis's
/// start-up error.
pub fn install_renamed(
    families: &[&'static [CommandSpec]],
    renames: &[Rename],
) -> Result<&'static Table, ConfigError> {
    let mut renamed = Table::new(families);
    for r in renames {
        renamed.rename(&r.from, &r.to).map_err(|e| r.error(e))?;
    }
    if TABLE.set(renamed).is_err() && !renames.is_empty() {
        let first = &renames[0];
        return Err(first.error("the command table was registered before renaming".into()));
    }
    Ok(table())
}

/// All commands, by lower-case name.
pub struct Table {
    by_name: HashMap<&'static str, &'static CommandSpec, ahash::RandomState>,
    pub all: Vec<&'static CommandSpec>,
    /// Commands that end a batch, or have a subcommand that does
    /// (`Behavior::ENDS_BATCH`): the parser asks for every request, so it
    /// must not take a lookup.
    batch_enders: Vec<&'static str>,
}

impl Table {
    fn new(families: &[&'static [CommandSpec]]) -> Table {
        let mut by_name = HashMap::default();
        let mut all = Vec::new();
        for fam in families {
            for spec in fam.iter() {
                let prev = by_name.insert(spec.name, spec);
                assert!(prev.is_none(), "command {} registered twice", spec.name);
                all.push(spec);
            }
        }
        let batch_enders = all
            .iter()
            .filter(|s| {
                s.behavior.has(Behavior::ENDS_BATCH)
                    || s.subcommands
                        .iter()
                        .any(|c| c.behavior.has(Behavior::ENDS_BATCH))
            })
            .map(|s| s.name)
            .collect();
        Table {
            by_name,
            all,
            batch_enders,
        }
    }

    /// `rename-command from to`: the command answers to `to` only (to
    /// nothing when `to` is empty), as Redis's loader renames it in its
    /// command dict; COMMAND still shows its own name.
    fn rename(&mut self, from: &str, to: &str) -> Result<(), String> {
        let spec = self
            .by_name
            .remove(from.to_ascii_lowercase().as_str())
            .ok_or("No such command in rename-command")?;
        if !to.is_empty() {
            // Once per rename at start-up: the name lives as long as the table.
            let name: &'static str = Box::leak(to.to_ascii_lowercase().into_boxed_str());
            if self.by_name.insert(name, spec).is_some() {
                return Err("Target command name already exists".into());
            }
        }
        Ok(())
    }

    /// Whether command `name` has a subcommand that ends a batch (a cheap
    /// test before the lookup).
    #[inline]
    pub fn may_end_batch(&self, name: &[u8]) -> bool {
        self.batch_enders
            .iter()
            .any(|n| n.as_bytes().eq_ignore_ascii_case(name))
    }

    /// Case-insensitive lookup of a command name.
    #[inline]
    pub fn get(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        let mut buf = [0u8; 32];
        if name.len() > buf.len() {
            // Only a rename-command name can be this long.
            let lower = name.to_ascii_lowercase();
            return self.by_name.get(std::str::from_utf8(&lower).ok()?).copied();
        }
        for (d, s) in buf.iter_mut().zip(name) {
            *d = s.to_ascii_lowercase();
        }
        let lower = std::str::from_utf8(&buf[..name.len()]).ok()?;
        self.by_name.get(lower).copied()
    }

    /// A subcommand of `parent` by name, case-insensitively.
    pub fn sub(parent: &'static CommandSpec, name: &[u8]) -> Option<&'static CommandSpec> {
        parent.subcommands.iter().find(|s| {
            let sub = s.name.rsplit('|').next().unwrap_or(s.name);
            sub.as_bytes().eq_ignore_ascii_case(name)
        })
    }
}

/// The registered table. The process registers it before it serves
/// (`command::install`), so a missing table is a start-up bug.
#[inline]
pub fn table() -> &'static Table {
    TABLE
        .get()
        .expect("the command table is registered (command::install) before use")
}

/// The spec that governs `argv` (the subcommand of a container command),
/// or Redis's error for an unknown command or subcommand.
/// The command of `argv` (a subcommand if it names one), without the
/// error reply `resolve` builds.
pub fn lookup(argv: &[&[u8]]) -> Option<&'static CommandSpec> {
    let spec = table().get(argv[0])?;
    if spec.subcommands.is_empty() || argv.len() < 2 {
        return Some(spec);
    }
    Table::sub(spec, argv[1])
}

pub fn resolve(argv: &[&[u8]]) -> Result<&'static CommandSpec, Vec<u8>> {
    let Some(spec) = table().get(argv[0]) else {
        return Err(unknown_command(argv));
    };
    if spec.subcommands.is_empty() || argv.len() < 2 {
        return Ok(spec);
    }
    Table::sub(spec, argv[1]).ok_or_else(|| {
        let mut e = b"ERR unknown subcommand '".to_vec();
        e.extend_from_slice(c_truncated(argv[1], 128));
        e.extend_from_slice(format!("'. Try {} HELP.", spec.name.to_uppercase()).as_bytes());
        e
    })
}

/// `ERR unknown command 'x', with args beginning with: 'a' 'b' `, with
/// Redis's 128-character limits; the arguments' bytes as they came.
fn unknown_command(argv: &[&[u8]]) -> Vec<u8> {
    let mut args = Vec::new();
    for a in &argv[1..] {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        args.push(b'\'');
        args.extend_from_slice(c_truncated(a, room));
        args.extend_from_slice(b"' ");
    }
    let mut e = b"ERR unknown command '".to_vec();
    e.extend_from_slice(c_truncated(argv[0], 128));
    e.extend_from_slice(b"', with args beginning with: ");
    e.extend_from_slice(&args);
    e
}

/// At most `max` bytes of `b`, ending at a NUL as Redis's `%.*s` does.
fn c_truncated(b: &[u8], max: usize) -> &[u8] {
    let b = &b[..b.len().min(max)];
    match memchr::memchr(0, b) {
        Some(nul) => &b[..nul],
        None => b,
    }
}

/// Checks the argument count against a spec's arity.
#[inline]
pub fn arity_ok(spec: &CommandSpec, argc: usize) -> bool {
    let a = spec.arity;
    (a > 0 && argc as i32 == a) || (a < 0 && argc as i32 >= -a)
}
