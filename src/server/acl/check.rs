//! Whether a user may run a command with these arguments: its command
//! bits, its key patterns per key spec (read/write from the spec's key
//! flags) and its channel rules, selector by selector (Redis's
//! ACLCheckAllUserCommandPerm).

use super::catalog::catalog;
use super::selector::Selector;
use super::user::User;
use crate::server::spec::{CommandSpec, Flags, KeyFlags};

/// Why a command was refused, with the offending argument's index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    Command,
    Key(usize),
    Channel(usize),
}

impl Denial {
    /// Redis's ACL_DENIED_* order: when no selector allows the command,
    /// the highest reason (then the latest argument) is reported.
    fn rank(self) -> (u8, usize) {
        match self {
            Denial::Command => (1, 0),
            Denial::Key(i) => (2, i),
            Denial::Channel(i) => (4, i),
        }
    }

    /// The error the refused command gets.
    pub fn error(self, spec: &CommandSpec) -> String {
        match self {
            Denial::Command => format!(
                "NOPERM this user has no permissions to run the '{}' command",
                spec.name
            ),
            Denial::Key(_) => {
                "NOPERM this user has no permissions to access one of the keys used as arguments"
                    .into()
            }
            Denial::Channel(_) => "NOPERM this user has no permissions to access one of the channels used as arguments".into(),
        }
    }
}

/// Checks `argv` (the command's full arguments) against every selector.
pub fn check(user: &User, spec: &CommandSpec, argv: &[&[u8]]) -> Result<(), Denial> {
    let mut worst = Denial::Command;
    for sel in &user.selectors {
        match check_selector(sel, spec, argv) {
            Ok(()) => return Ok(()),
            Err(d) if d.rank() > worst.rank() => worst = d,
            Err(_) => {}
        }
    }
    Err(worst)
}

/// Whether a selector that allows the command may read every key
/// (Redis's ACLUserCheckCmdWithUnrestrictedKeyAccess with
/// CMD_KEY_ACCESS): `allkeys`, or a `*` pattern with read access.
pub fn reads_every_key(user: &User, spec: &CommandSpec, argv: &[&[u8]]) -> bool {
    user.selectors.iter().any(|sel| {
        (sel.all_keys || sel.keys.iter().any(|k| k.read && k.pattern == b"*"))
            && check_selector(sel, spec, argv).is_ok()
    })
}

/// Whether a user is allowed everything: no check is needed.
pub fn unrestricted(user: &User) -> bool {
    let root = user.root();
    root.all_commands && root.all_keys && root.all_channels
}

fn check_selector(sel: &Selector, spec: &CommandSpec, argv: &[&[u8]]) -> Result<(), Denial> {
    if !sel.all_commands && !spec.flags.has(Flags::NO_AUTH) {
        let bit = catalog().bit_of(spec).ok_or(Denial::Command)?;
        if !sel.commands.get(bit) {
            let at = if spec.name.contains('|') { 2 } else { 1 };
            let allowed = sel.first_args.get(&bit).is_some_and(|args| {
                argv.get(at)
                    .is_some_and(|a| args.iter().any(|x| x.eq_ignore_ascii_case(a)))
            });
            if argv.len() < 2 || !allowed {
                return Err(Denial::Command);
            }
        }
    }
    if !sel.all_keys {
        let mut denied = None;
        spec.for_each_key(argv, |i, spec_at| {
            if denied.is_some() {
                return;
            }
            let mut flags = spec.keys[spec_at].flags;
            if flags.has(KeyFlags::NOT_KEY) {
                return;
            }
            if flags.has(KeyFlags::VARIABLE_FLAGS) {
                if let Some(decide) = spec.key_flags {
                    flags = decide(argv);
                }
            }
            if !key_allowed(sel, argv[i], flags) {
                denied = Some(Denial::Key(i));
            }
        });
        if let Some(d) = denied {
            return Err(d);
        }
    }
    if let (false, Some(ch)) = (sel.all_channels, spec.channels) {
        for i in ch.indexes(argv.len()) {
            let name = argv[i];
            if !subscription_allowed(&sel.channels, name, ch.pattern) {
                return Err(Denial::Channel(i));
            }
        }
    }
    Ok(())
}

/// A key against the selector's patterns: reading needs a pattern with
/// read access, inserting/updating/deleting one with write access.
fn key_allowed(sel: &Selector, key: &[u8], flags: KeyFlags) -> bool {
    let read = flags.has(KeyFlags::ACCESS);
    let write =
        flags.has(KeyFlags::INSERT) || flags.has(KeyFlags::UPDATE) || flags.has(KeyFlags::DELETE);
    sel.keys.iter().any(|k| {
        (k.read || !read) && (k.write || !write) && crate::glob::matches(&k.pattern, key, false)
    })
}

/// When an ACL change took channels away from a user: the channel
/// patterns it has now, against which its subscribers' subscriptions are
/// checked; None when every old channel is still allowed (Redis's
/// ACLKillPubsubClientsIfNeeded: all channels now, or the new patterns a
/// superset of the old).
pub fn revoked_channels(new: &User, old: &User) -> Option<Vec<Vec<u8>>> {
    if new.selectors.iter().any(|s| s.all_channels) {
        return None;
    }
    let upcoming: Vec<Vec<u8>> = new
        .selectors
        .iter()
        .flat_map(|s| s.channels.iter().cloned())
        .collect();
    let kept = old
        .selectors
        .iter()
        .all(|s| !s.all_channels && s.channels.iter().all(|c| upcoming.contains(c)));
    (!kept).then_some(upcoming)
}

/// A channel against channel rules: a pattern (PSUBSCRIBE's) must be one
/// of them literally, a channel match one.
pub fn subscription_allowed(upcoming: &[Vec<u8>], name: &[u8], is_pattern: bool) -> bool {
    upcoming.iter().any(|p| {
        if is_pattern {
            p.as_slice() == name
        } else {
            crate::glob::matches(p, name, false)
        }
    })
}
