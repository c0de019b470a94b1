//! Issue 15: INFO `cross_shard_requests` (Shardis-only) counts the
//! requests that ran on another shard than their connection's; commands
//! whose keys live on the connection's own shard (`DEBUG SHARD`) never
//! hop.

mod common;

use common::{Conn, Server};

const SHARDS: usize = 4;

fn hops(c: &mut Conn) -> u64 {
    let info = common::bulk_payload(&c.cmd(&["INFO", "stats"]));
    let text = String::from_utf8(info).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("cross_shard_requests:"))
        .unwrap_or_else(|| panic!("no cross_shard_requests in {text}"))
        .trim()
        .parse()
        .unwrap()
}

/// `n` keys whose slot falls on `shard`.
fn keys_on(shard: usize, prefix: &str, n: usize) -> Vec<String> {
    (0..)
        .map(|i| format!("{prefix}{i}"))
        .filter(|k| shardis::slot::key_slot(k.as_bytes()) as usize % SHARDS == shard)
        .take(n)
        .collect()
}

/// Sends `cmds` pipelined (one write) and returns their replies.
fn pipeline(c: &mut Conn, cmds: &[Vec<&str>]) -> Vec<Vec<u8>> {
    let mut bytes = Vec::new();
    for cmd in cmds {
        bytes.extend(common::encode(cmd));
    }
    c.send_raw(&bytes);
    c.read_replies(cmds.len())
}

/// Single-slot commands of several kinds on keys `k` (one slot: `k[0]`
/// and a hash-tagged sibling), none of which is a miss that matters.
fn single_slot_cmds(k: &str) -> Vec<Vec<String>> {
    let tagged = format!("{{{k}}}:other");
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        s(&["SET", k, "v"]),
        s(&["GET", k]),
        s(&["APPEND", k, "w"]),
        s(&["EXPIRE", k, "1000"]),
        s(&["TTL", k]),
        s(&["MSET", k, "1", &tagged, "2"]),
        s(&["MGET", k, &tagged]),
        s(&["INCR", k]),
        s(&["DEL", k, &tagged]),
        s(&["EXISTS", k]),
    ]
}

fn as_refs(cmds: &[Vec<String>]) -> Vec<Vec<&str>> {
    cmds.iter()
        .map(|c| c.iter().map(String::as_str).collect())
        .collect()
}

#[test]
fn own_shard_commands_never_hop_and_others_count_exactly() {
    let server = Server::shardis(SHARDS, &["--enable-debug-command", "yes"]);
    let mut c = server.conn();
    let r = c.cmd(&["DEBUG", "SHARD"]);
    let own: usize = std::str::from_utf8(&r[1..r.len() - 2])
        .unwrap()
        .parse()
        .unwrap();
    assert!(own < SHARDS);
    let start = hops(&mut c);

    // Own shard: pipelined and one by one, in a transaction, then
    // connection-level commands (not counted by definition).
    let mine = keys_on(own, "hop:", 8);
    for k in &mine {
        let cmds = single_slot_cmds(k);
        for r in pipeline(&mut c, &as_refs(&cmds)) {
            assert_ne!(r[0], b'-', "{}", common::escape(&r));
        }
        for cmd in &cmds {
            let r = c.cmd(cmd);
            assert_ne!(r[0], b'-', "{}", common::escape(&r));
        }
    }
    let tx = [
        vec!["MULTI"],
        vec!["SET", mine[0].as_str(), "1"],
        vec!["INCR", mine[1].as_str()],
        vec!["EXEC"],
    ];
    let replies = pipeline(&mut c, &tx);
    assert_eq!(replies[3][0], b'*', "{}", common::escape(&replies[3]));
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(hops(&mut c), start, "own shard's commands hopped");

    // Other shards: each single-slot command counts once.
    let mut expected = start;
    for shard in (0..SHARDS).filter(|&s| s != own) {
        let theirs = keys_on(shard, "hop:", 2);
        for k in &theirs {
            let cmds = single_slot_cmds(k);
            for r in pipeline(&mut c, &as_refs(&cmds)) {
                assert_ne!(r[0], b'-', "{}", common::escape(&r));
            }
            expected += cmds.len() as u64;
            assert_eq!(hops(&mut c), expected, "pipelined, shard {shard}");
            // Mixed with own-shard requests in one batch: only the other
            // shard's count.
            let mixed = [
                vec!["GET", mine[0].as_str()],
                vec!["GET", k.as_str()],
                vec!["SET", mine[1].as_str(), "x"],
                vec!["SET", k.as_str(), "y"],
            ];
            pipeline(&mut c, &mixed);
            expected += 2;
            assert_eq!(hops(&mut c), expected, "mixed batch, shard {shard}");
        }
        // A command spanning own and another shard counts once, as does
        // an EXEC whose queue reaches another shard.
        let span = c.cmd(&["MSET", mine[0].as_str(), "1", theirs[0].as_str(), "2"]);
        assert_eq!(span, b"+OK\r\n");
        expected += 1;
        let tx = [
            vec!["MULTI"],
            vec!["SET", mine[0].as_str(), "1"],
            vec!["SET", theirs[1].as_str(), "2"],
            vec!["EXEC"],
        ];
        pipeline(&mut c, &tx);
        expected += 1;
        assert_eq!(hops(&mut c), expected, "MSET and EXEC, shard {shard}");
    }
}
