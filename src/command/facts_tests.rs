//! The behaviour facts set on exactly the commands Redis 7.0.15 singles
//! out (by handler, in server.c and networking.c), and the shape facts
//! the server relies on.

use super::spec::BEHAVIOR_NAMES;
use super::{table, Behavior, CommandSpec, Flags, Handler, KeyFlags};

/// Every command and subcommand.
fn every_spec() -> Vec<&'static CommandSpec> {
    let mut all = Vec::new();
    for spec in &table().all {
        all.push(*spec);
        all.extend(spec.subcommands.iter());
    }
    all
}

/// The full names of the commands with behaviour `b`, sorted.
fn having(b: Behavior) -> Vec<&'static str> {
    let mut names: Vec<&str> = every_spec()
        .into_iter()
        .filter(|s| s.behavior.has(b))
        .map(|s| s.name)
        .collect();
    names.sort_unstable();
    names
}

fn sorted(mut names: Vec<&str>) -> Vec<&str> {
    names.sort_unstable();
    names
}

#[test]
fn subscribe_mode_is_redis_list() {
    // processCommand's RESP2 Pub/Sub check.
    assert_eq!(
        having(Behavior::SUBSCRIBE_MODE),
        sorted(vec![
            "ping",
            "subscribe",
            "ssubscribe",
            "unsubscribe",
            "sunsubscribe",
            "psubscribe",
            "punsubscribe",
            "quit",
            "reset",
        ])
    );
}

#[test]
fn not_queued_is_redis_list() {
    // processCommand: what runs at once in MULTI instead of QUEUED.
    assert_eq!(
        having(Behavior::NOT_QUEUED),
        sorted(vec!["exec", "discard", "multi", "watch", "quit", "reset"])
    );
}

#[test]
fn caching_window_kept_by_client_commands_only() {
    // resetClient: `prevcmd != clientCommand`, the handler of CLIENT and
    // of every CLIENT subcommand in 7.0.
    let client = table().get(b"client").expect("CLIENT");
    let mut expected: Vec<&str> = client.subcommands.iter().map(|s| s.name).collect();
    expected.push("client");
    assert!(expected.len() > 10, "CLIENT has its subcommands");
    assert_eq!(having(Behavior::KEEPS_CACHING), sorted(expected));
}

#[test]
fn single_command_facts() {
    let facts = [
        (Behavior::STARTS_TRANSACTION, vec!["multi"]),
        (Behavior::RUNS_TRANSACTION, vec!["exec"]),
        (Behavior::ENDS_TRANSACTION, vec!["discard", "exec"]),
        (Behavior::SETS_ASKING, vec!["asking"]),
        (Behavior::SETS_READONLY, vec!["readonly"]),
        (Behavior::CLEARS_READONLY, vec!["readwrite"]),
        // getNodeByQuery's is_pubsubshard.
        (
            Behavior::REPLICA_SERVES,
            vec!["spublish", "ssubscribe", "sunsubscribe"],
        ),
        // processCommand's deny_write_type check: writes and PING.
        (Behavior::MISCONF_REFUSED, vec!["ping"]),
        // getNodeByQuery: MIGRATE on a migrating or importing slot.
        (Behavior::OPEN_SLOT_LOCAL, vec!["migrate"]),
        // Redis 7.0 has no WAITAOF.
        (Behavior::WAITS, vec!["wait"]),
        (Behavior::OK_IN_EXEC, vec!["unwatch"]),
        (
            Behavior::ENDS_BATCH,
            vec!["client|pause", "client|reply", "replicaof", "slaveof"],
        ),
        // Redis's CMD_PROTECTED commands, by the directive guarding them.
        (Behavior::DEBUG_PROTECTED, vec!["debug"]),
        (
            Behavior::MODULE_PROTECTED,
            vec!["module|load", "module|loadex", "module|unload"],
        ),
    ];
    for (b, names) in facts {
        assert_eq!(having(b), names, "{:?}", name_of(b));
    }
}

fn name_of(b: Behavior) -> &'static str {
    BEHAVIOR_NAMES
        .iter()
        .find(|(bit, _)| *bit == b)
        .map_or("?", |(_, n)| *n)
}

#[test]
fn no_shard_commands_run_on_the_connection_without_keys() {
    // EXEC holds no shard for these: they must neither be shard
    // commands nor name keys nor write.
    let no_shard = having(Behavior::NO_SHARD);
    assert!(no_shard.contains(&"ping") && no_shard.contains(&"command|docs"));
    for spec in every_spec() {
        if spec.behavior.has(Behavior::NO_SHARD) {
            assert!(matches!(spec.handler, Handler::Conn(_)), "{}", spec.name);
            assert!(spec.keys.is_empty(), "{}", spec.name);
            assert!(!spec.flags.has(Flags::WRITE), "{}", spec.name);
        }
    }
}

#[test]
fn in_exec_hooks_only_on_connection_commands() {
    for spec in every_spec() {
        if spec.in_exec.is_some() {
            assert!(matches!(spec.handler, Handler::Conn(_)), "{}", spec.name);
        }
    }
}

#[test]
fn every_key_spec_has_one_access_kind() {
    // RO, RW, OW, RM: exactly one, none for a NOT_KEY spec (a sharded
    // channel), as in Redis's specs; WATCH and write tracking read it.
    let kinds = [KeyFlags::RO, KeyFlags::RW, KeyFlags::OW, KeyFlags::RM];
    for spec in every_spec() {
        for ks in spec.keys {
            let n = kinds.iter().filter(|k| ks.flags.has(**k)).count();
            let expected = usize::from(!ks.flags.has(KeyFlags::NOT_KEY));
            assert_eq!(n, expected, "{}: {:?}", spec.name, ks.flags);
        }
    }
}

#[test]
fn behavior_names_are_distinct_bits() {
    let mut seen = 0u32;
    for (bit, name) in BEHAVIOR_NAMES {
        assert_eq!(bit.0.count_ones(), 1, "{name}");
        assert_eq!(seen & bit.0, 0, "{name}");
        seen |= bit.0;
    }
}
