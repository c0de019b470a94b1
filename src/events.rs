//! Keyspace notification facts (`notify-keyspace-events`): which classes
//! are on, the `__keyspace@D__:K` / `__keyevent@D__:E` messages an event
//! makes, and the events the store logs as it goes. Plain data that
//! handlers and the store produce; `server::notify` publishes it.

use crate::store::{Store, LOG_EXPIRED, LOG_MISS, LOG_NEW};

/// The class of an event (one flag letter each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Generic,
    String,
    List,
    Set,
    Hash,
    Zset,
    Expired,
    Evicted,
    Stream,
    Module,
    New,
    /// `m`: read lookups that miss (`keymiss`); not part of `A`.
    KeyMiss,
}

impl Class {
    const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

const KEYSPACE: u16 = 1 << 12;
const KEYEVENT: u16 = 1 << 13;
const KEY_MISS: u16 = Class::KeyMiss.bit();

/// The enabled classes and channels, from the canonical config text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Events(u16);

impl Events {
    /// Parses the canonical (already validated) flag letters.
    pub fn parse(text: &str) -> Events {
        let mut bits = 0u16;
        for c in text.chars() {
            bits |= match c {
                'A' => [
                    Class::Generic,
                    Class::String,
                    Class::List,
                    Class::Set,
                    Class::Hash,
                    Class::Zset,
                    Class::Expired,
                    Class::Evicted,
                    Class::Stream,
                    Class::Module,
                ]
                .iter()
                .fold(0, |b, c| b | c.bit()),
                'g' => Class::Generic.bit(),
                '$' => Class::String.bit(),
                'l' => Class::List.bit(),
                's' => Class::Set.bit(),
                'h' => Class::Hash.bit(),
                'z' => Class::Zset.bit(),
                'x' => Class::Expired.bit(),
                'e' => Class::Evicted.bit(),
                't' => Class::Stream.bit(),
                'd' => Class::Module.bit(),
                'n' => Class::New.bit(),
                'K' => KEYSPACE,
                'E' => KEYEVENT,
                'm' => KEY_MISS,
                _ => 0,
            };
        }
        // Without a channel kind nothing is ever published: treat as off
        // so that handlers pay one comparison.
        if bits & (KEYSPACE | KEYEVENT) == 0 {
            bits = 0;
        }
        Events(bits)
    }

    #[inline]
    pub fn is_off(self) -> bool {
        self.0 == 0
    }

    #[inline]
    pub fn wants(self, class: Class) -> bool {
        self.0 & class.bit() != 0
    }

    /// What the keyspace must log as it goes (lazy/active expiry, key
    /// creation and read misses happen deep in the store, where no context
    /// is at hand).
    pub fn key_log(self) -> u8 {
        let mut m = 0;
        if self.wants(Class::Expired) {
            m |= LOG_EXPIRED;
        }
        if self.wants(Class::New) {
            m |= LOG_NEW;
        }
        if self.wants(Class::KeyMiss) {
            m |= LOG_MISS;
        }
        m
    }

    /// Appends the messages for one event to `out`.
    pub fn messages(self, db: usize, event: &str, key: &[u8], out: &mut Vec<Note>) {
        if self.0 & KEYSPACE != 0 {
            let mut ch = format!("__keyspace@{db}__:").into_bytes();
            ch.extend_from_slice(key);
            out.push((ch, event.as_bytes().to_vec()));
        }
        if self.0 & KEYEVENT != 0 {
            let ch = format!("__keyevent@{db}__:{event}").into_bytes();
            out.push((ch, key.to_vec()));
        }
    }
}

/// One message to publish: (channel, payload).
pub type Note = (Vec<u8>, Vec<u8>);

/// The event of a `key_log` entry.
pub fn logged_event(kind: u8) -> (Class, &'static str) {
    match kind {
        LOG_NEW => (Class::New, "new"),
        LOG_MISS => (Class::KeyMiss, "keymiss"),
        _ => (Class::Expired, "expired"),
    }
}

/// Appends the events the store logged (`expired`, `new`, `keymiss`), in
/// order, to `out`, emptying the logs.
pub fn drain_logged(events: Events, store: &mut Store, out: &mut Vec<Note>) {
    for (i, db) in store.dbs.iter_mut().enumerate() {
        for (kind, key) in db.key_log.drain(..) {
            let (class, event) = logged_event(kind);
            if events.wants(class) {
                events.messages(i, event, &key, out);
            }
        }
    }
}

/// The events the store logged, outside any command context (active
/// expiry; the shard-side steps of commands that run on a connection,
/// such as SORT and the gathering of a multi-shard command).
pub fn logged_notes(events: Events, store: &mut Store) -> Vec<Note> {
    let mut out = Vec::new();
    drain_logged(events, store, &mut out);
    out
}

/// Sets the store's key logs for `events`, dropping anything logged
/// outside a command (as `ShardRt::exec` does), for code that looks keys
/// up outside a command context.
pub fn prepare_log(events: Events, store: &mut Store) {
    store.set_key_log(events.key_log());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_flags() {
        assert!(Events::parse("").is_off());
        assert!(Events::parse("A").is_off());
        let e = Events::parse("AKE");
        assert!(e.wants(Class::List) && e.wants(Class::Expired) && !e.wants(Class::New));
        assert!(!e.wants(Class::KeyMiss));
        let e = Events::parse("AKEm");
        assert!(e.wants(Class::KeyMiss) && e.key_log() & LOG_MISS != 0);
        assert!(Events::parse("m").is_off());
        let e = Events::parse("lK");
        assert!(e.wants(Class::List) && !e.wants(Class::Generic));
        let mut out = Vec::new();
        e.messages(3, "lpush", b"k", &mut out);
        assert_eq!(out, vec![(b"__keyspace@3__:k".to_vec(), b"lpush".to_vec())]);
    }
}
