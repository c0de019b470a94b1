//! Shardis as a replica of a real redis-server 7.0 primary: full sync in
//! both RDB transfer forms, the live command stream (MULTI/EXEC,
//! expiring keys, several dbs, cross-shard keys), partial resync after a
//! broken link, READONLY / MASTERDOWN, INFO replication and ROLE, and
//! REPLICAOF NO ONE. Skipped when redis-server is not installed.

mod common;

use common::dataset::snapshot;
use common::repl::{info_field, wait_for, wait_synced};
use common::{bulk_items, escape, redis_available, Conn, Server};
use std::time::Duration;

const DBS: &[usize] = &[0, 1, 3, 9];

fn primary(diskless: bool) -> Server {
    Server::redis(&[
        "--repl-diskless-sync",
        if diskless { "yes" } else { "no" },
        "--repl-diskless-sync-delay",
        "0",
    ])
}

fn replica_of(shards: usize, primary: &Server) -> Server {
    let target = format!("127.0.0.1 {}", primary.port);
    Server::shardis(shards, &["--replicaof", &target])
}

fn text(reply: &[u8]) -> String {
    let s = String::from_utf8_lossy(reply).into_owned();
    match s.as_bytes().first() {
        Some(b'$') => s
            .split_once("\r\n")
            .map(|x| x.1)
            .unwrap_or("")
            .trim_end()
            .into(),
        _ => s.trim_end().to_string(),
    }
}

fn info_fields(c: &mut Conn, section: &str) -> Vec<String> {
    let info = text(&c.cmd(&["INFO", section]));
    info.lines()
        .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
        .collect()
}

fn keys(c: &mut Conn, db: usize) -> Vec<Vec<u8>> {
    c.cmd(&["SELECT", &db.to_string()]);
    let mut k = bulk_items(&c.cmd(&["KEYS", "*"]));
    k.sort();
    k
}

/// Every key of `DBS` on both sides: same names, same DUMP payload, TTL
/// on both or on neither.
fn assert_same_data(primary: &Server, replica: &Server) -> usize {
    let mut p = primary.conn();
    let mut r = replica.conn();
    let mut total = 0;
    for &db in DBS {
        let pk = keys(&mut p, db);
        let rk = keys(&mut r, db);
        assert_eq!(
            pk.iter().map(|k| escape(k)).collect::<Vec<_>>(),
            rk.iter().map(|k| escape(k)).collect::<Vec<_>>(),
            "db {db}: key sets differ"
        );
        for k in &pk {
            let pd = p.cmd(&[&b"DUMP"[..], k]);
            let rd = r.cmd(&[&b"DUMP"[..], k]);
            assert_eq!(
                escape(&pd),
                escape(&rd),
                "db {db} key {}: DUMP differs",
                escape(k)
            );
            let has_ttl = |c: &mut Conn| text(&c.cmd(&[&b"PTTL"[..], k])) != ":-1";
            assert_eq!(
                has_ttl(&mut p),
                has_ttl(&mut r),
                "db {db} key {}: TTL presence differs",
                escape(k)
            );
        }
        total += pk.len();
    }
    total
}

/// Keys of every type and encoding, TTLs, several dbs.
fn populate(c: &mut Conn, tag: &str) {
    for &db in DBS {
        c.cmd(&["SELECT", &db.to_string()]);
        let k = |n: &str| format!("{tag}:{db}:{n}");
        c.cmd(&["SET", &k("str"), "hello"]);
        c.cmd(&["SET", &k("int"), "12345"]);
        c.cmd(&["SET", &k("big"), &"x".repeat(5000)]);
        c.cmd(&["SET", &k("ttl"), "v", "EX", "1000"]);
        c.cmd(&["RPUSH", &k("list"), "a", "b", "c", "1", "2"]);
        let many: Vec<String> = (0..300).map(|i| format!("item-{i}")).collect();
        let mut a = vec!["RPUSH".to_string(), k("biglist")];
        a.extend(many.iter().cloned());
        c.cmd(&a);
        c.cmd(&["SADD", &k("intset"), "1", "2", "3", "100"]);
        c.cmd(&["SADD", &k("set"), "x", "y", "z"]);
        let mut a = vec!["SADD".to_string(), k("bigset")];
        a.extend(many.iter().cloned());
        c.cmd(&a);
        c.cmd(&["ZADD", &k("zset"), "1", "a", "2.5", "b", "-3", "c"]);
        let mut a = vec!["ZADD".to_string(), k("bigzset")];
        for (i, m) in many.iter().enumerate() {
            a.push(i.to_string());
            a.push(m.clone());
        }
        c.cmd(&a);
        c.cmd(&["HSET", &k("hash"), "f1", "v1", "f2", "2"]);
        let mut a = vec!["HSET".to_string(), k("bighash")];
        for m in &many {
            a.push(m.clone());
            a.push(m.clone());
        }
        c.cmd(&a);
        c.cmd(&["PEXPIRE", &k("hash"), "500000"]);
    }
    c.cmd(&["SELECT", "0"]);
}

/// Writes while linked: plain, MULTI/EXEC, cross-shard, several dbs,
/// deletes, and keys that expire on the primary.
fn live_writes(c: &mut Conn, tag: &str) {
    c.cmd(&["SELECT", "0"]);
    c.cmd(&["SET", &format!("{tag}:live"), "1"]);
    c.cmd(&["INCRBY", &format!("{tag}:live"), "41"]);
    c.cmd(&["MSET", "{a}x", "1", "{b}y", "2", "{c}z", "3"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", &format!("{tag}:tx1"), "a"]);
    c.cmd(&["LPUSH", &format!("{tag}:tx2"), "q", "r"]);
    c.cmd(&["ZINCRBY", &format!("{tag}:tx3"), "2", "m"]);
    c.cmd(&["DEL", &format!("{tag}:0:str")]);
    let exec = c.cmd(&["EXEC"]);
    assert!(exec.starts_with(b"*4"), "EXEC: {}", escape(&exec));
    c.cmd(&["SELECT", "3"]);
    c.cmd(&["HSET", &format!("{tag}:3:hash"), "f3", "v3"]);
    c.cmd(&["SREM", &format!("{tag}:3:set"), "x"]);
    c.cmd(&[
        "RENAME",
        &format!("{tag}:3:str"),
        &format!("{tag}:3:renamed"),
    ]);
    c.cmd(&["SET", &format!("{tag}:soon"), "gone", "PX", "150"]);
    c.cmd(&["EXPIRE", &format!("{tag}:3:list"), "100"]);
    c.cmd(&["SELECT", "9"]);
    c.cmd(&["FLUSHDB"]);
    c.cmd(&["SET", "after-flush", "1"]);
    c.cmd(&["SELECT", "0"]);
    c.cmd(&["SET", &format!("{tag}:soon0"), "gone", "PX", "150"]);
    std::thread::sleep(Duration::from_millis(300));
    // Touching them on the primary expires them there, which sends DEL.
    assert_eq!(c.cmd(&["GET", &format!("{tag}:soon0")]), b"$-1\r\n");
    c.cmd(&["SELECT", "3"]);
    assert_eq!(c.cmd(&["GET", &format!("{tag}:soon")]), b"$-1\r\n");
    c.cmd(&["SELECT", "0"]);
}

fn full_sync(shards: usize, diskless: bool) {
    if !redis_available() {
        return;
    }
    let p = primary(diskless);
    let mut pc = p.conn();
    populate(&mut pc, "pre");
    let r = replica_of(shards, &p);
    wait_synced(&p, &r);
    let n = assert_same_data(&p, &r);
    assert!(n > 40, "only {n} keys compared");
    // The transfer form the primary chose.
    let log = p.log_text();
    if diskless {
        assert!(log.contains("target: replicas sockets"), "{log}");
    } else {
        assert!(log.contains("target: disk"), "{log}");
    }
    live_writes(&mut pc, "live");
    wait_synced(&p, &r);
    assert_same_data(&p, &r);
    // WAIT makes the primary ask for an ACK (REPLCONF GETACK): the
    // replica's offset must cover every write.
    assert_eq!(pc.cmd(&["WAIT", "1", "5000"]), b":1\r\n");
    let mut rc = r.conn();
    assert_eq!(rc.cmd(&["GET", "live:live"]), b"$2\r\n42\r\n");
    assert_eq!(rc.cmd(&["EXISTS", "live:soon0"]), b":0\r\n");
}

#[test]
fn full_sync_diskless_one_shard() {
    full_sync(1, true);
}

#[test]
fn full_sync_disk_one_shard() {
    full_sync(1, false);
}

#[test]
fn full_sync_diskless_four_shards() {
    full_sync(4, true);
}

#[test]
fn full_sync_disk_four_shards() {
    full_sync(4, false);
}

fn stat(c: &mut Conn, name: &str) -> i64 {
    info_field(c, "stats", name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in INFO stats"))
}

/// A broken link resumes with PSYNC: the primary counts a partial sync,
/// not another full one, and the data is the same. The replica is made
/// one with the REPLICAOF command this time.
#[test]
fn partial_resync_after_link_break() {
    if !redis_available() {
        return;
    }
    let p = primary(true);
    let mut pc = p.conn();
    populate(&mut pc, "pre");
    let r = Server::shardis(4, &[]);
    let mut rc = r.conn();
    let reply = rc.cmd(&["REPLICAOF", "127.0.0.1", &p.port.to_string()]);
    assert_eq!(reply, b"+OK\r\n");
    wait_synced(&p, &r);
    let full = stat(&mut pc, "sync_full");
    let partial = stat(&mut pc, "sync_partial_ok");
    assert_eq!(full, 1);
    let killed = pc.cmd(&["CLIENT", "KILL", "TYPE", "replica"]);
    assert_eq!(killed, b":1\r\n");
    // Written while the link is down: comes from the backlog.
    live_writes(&mut pc, "gap");
    wait_synced(&p, &r);
    assert_eq!(stat(&mut pc, "sync_partial_ok"), partial + 1);
    assert_eq!(stat(&mut pc, "sync_full"), full);
    assert_same_data(&p, &r);
    // Twice, broken while the stream is in db 3: what follows has no
    // SELECT, the resumed link must still be in db 3.
    pc.cmd(&["SELECT", "3"]);
    pc.cmd(&["SET", "db3-before", "1"]);
    wait_synced(&p, &r);
    pc.cmd(&["CLIENT", "KILL", "TYPE", "replica"]);
    pc.cmd(&["SET", "again", "1"]);
    pc.cmd(&["SELECT", "0"]);
    wait_synced(&p, &r);
    assert_eq!(stat(&mut pc, "sync_partial_ok"), partial + 2);
    assert_eq!(stat(&mut pc, "sync_full"), full);
    assert_same_data(&p, &r);
    rc.cmd(&["SELECT", "3"]);
    assert_eq!(rc.cmd(&["GET", "again"]), b"$1\r\n1\r\n");
}

/// Writes to a read-only replica, and reads while the link is down with
/// replica-serve-stale-data no: the same reply bytes as a redis-server
/// replica.
#[test]
fn readonly_and_masterdown_errors_match_redis() {
    if !redis_available() {
        return;
    }
    let p = primary(true);
    let target = format!("127.0.0.1 {}", p.port);
    let theirs = Server::redis(&["--replicaof", &target]);
    let ours = replica_of(4, &p);
    wait_synced(&p, &theirs);
    wait_synced(&p, &ours);
    let mut t = theirs.conn();
    let mut o = ours.conn();
    let script: &[&[&str]] = &[
        &["SET", "k", "v"],
        &["INCR", "n"],
        &["DEL", "k"],
        &["GET", "k"],
        &["MULTI"],
        &["SET", "k", "v"],
        &["GET", "k"],
        &["EXEC"],
        &["MSET", "{a}1", "1", "{b}2", "2"],
        &["FLUSHALL"],
    ];
    for cmd in script {
        let a = t.cmd(cmd);
        let b = o.cmd(cmd);
        assert_eq!(escape(&a), escape(&b), "{cmd:?}");
    }
    assert!(escape(&o.cmd(&["SET", "k", "v"])).contains("READONLY"));

    // A master that is not there: the link stays down.
    let nowhere = common::free_port();
    let target = format!("127.0.0.1 {nowhere}");
    let stale = ["--replicaof", &target, "--replica-serve-stale-data", "no"];
    let theirs = Server::redis(&stale);
    let ours = Server::shardis(2, &stale);
    let mut t = theirs.conn();
    let mut o = ours.conn();
    for cmd in [
        &["GET", "k"][..],
        &["SET", "k", "v"],
        &["PING"],
        &["DBSIZE"],
        &["INFO", "nosuchsection"],
    ] {
        let a = t.cmd(cmd);
        let b = o.cmd(cmd);
        assert_eq!(escape(&a), escape(&b), "{cmd:?}");
    }
    assert!(escape(&o.cmd(&["GET", "k"])).contains("MASTERDOWN"));
}

/// INFO replication and ROLE of a shardis replica have the shape of a
/// redis-server replica's of the same primary.
#[test]
fn info_and_role_match_redis_replica() {
    if !redis_available() {
        return;
    }
    let p = primary(true);
    let mut pc = p.conn();
    pc.cmd(&["SET", "a", "1"]);
    let target = format!("127.0.0.1 {}", p.port);
    let theirs = Server::redis(&["--replicaof", &target]);
    let ours = replica_of(2, &p);
    wait_synced(&p, &theirs);
    wait_synced(&p, &ours);
    let mut t = theirs.conn();
    let mut o = ours.conn();
    assert_eq!(
        info_fields(&mut t, "replication"),
        info_fields(&mut o, "replication")
    );
    for field in [
        "role",
        "master_host",
        "master_port",
        "master_link_status",
        "master_sync_in_progress",
        "slave_repl_offset",
        "slave_read_repl_offset",
        "slave_priority",
        "slave_read_only",
        "master_replid",
        "master_repl_offset",
    ] {
        assert_eq!(
            info_field(&mut t, "replication", field),
            info_field(&mut o, "replication", field),
            "{field}"
        );
    }
    let role_t = t.cmd(&["ROLE"]);
    let role_o = o.cmd(&["ROLE"]);
    assert_eq!(escape(&role_t), escape(&role_o));
    assert!(
        role_o.starts_with(b"*5\r\n$5\r\nslave\r\n"),
        "{}",
        escape(&role_o)
    );

    // The master client: in CLIENT LIST with flag M on both; CLIENT KILL
    // TYPE master drops the link, which comes back with a partial resync.
    let master_line = |c: &mut Conn| -> String {
        text(&c.cmd(&["CLIENT", "LIST"]))
            .lines()
            .find(|l| l.contains(" flags=M "))
            .unwrap_or_else(|| panic!("no master client listed"))
            .to_string()
    };
    for c in [&mut t, &mut o] {
        let line = master_line(c);
        assert!(
            line.contains(&format!("addr=127.0.0.1:{} ", p.port)),
            "{line}"
        );
    }
    let partial = |pc: &mut Conn| -> u64 {
        let v = common::bulk_payload(&pc.cmd(&["INFO", "stats"]));
        String::from_utf8(v)
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("sync_partial_ok:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let before = partial(&mut pc);
    assert_eq!(o.cmd(&["CLIENT", "KILL", "TYPE", "master"]), b":1\r\n");
    wait_for("the link to come back", Duration::from_secs(10), || {
        partial(&mut pc) > before
            && info_field(&mut o, "replication", "master_link_status").as_deref() == Some("up")
    });
    master_line(&mut o);

    // The link down: both say so the same way.
    drop(pc);
    drop(p);
    wait_for("the link to drop", Duration::from_secs(10), || {
        info_field(&mut o, "replication", "master_link_status").as_deref() == Some("down")
            && info_field(&mut t, "replication", "master_link_status").as_deref() == Some("down")
    });
    assert_eq!(
        info_fields(&mut t, "replication"),
        info_fields(&mut o, "replication")
    );
    let role_t = text(&t.cmd(&["ROLE"]));
    let role_o = text(&o.cmd(&["ROLE"]));
    // connect / connecting, offset -1 on both.
    assert!(role_o.ends_with(":-1"), "{role_o}");
    assert!(role_t.ends_with(":-1"), "{role_t}");
}

/// REPLICAOF NO ONE: a writable primary with the same data, and the old
/// history kept as replid2; REPLICAOF to the same master again answers as
/// redis-server does.
#[test]
fn replicaof_no_one_promotes_keeping_data() {
    if !redis_available() {
        return;
    }
    let p = primary(false);
    let mut pc = p.conn();
    populate(&mut pc, "pre");
    let r = replica_of(4, &p);
    wait_synced(&p, &r);
    let mut rc = r.conn();
    let replid = info_field(&mut pc, "replication", "master_replid").unwrap();
    assert_eq!(
        info_field(&mut rc, "replication", "master_replid").as_deref(),
        Some(replid.as_str())
    );
    let same = rc.cmd(&["REPLICAOF", "127.0.0.1", &p.port.to_string()]);
    assert_eq!(same, b"+OK Already connected to specified master\r\n");
    assert_eq!(
        rc.cmd(&["REPLICAOF", "127.0.0.1", "notaport"]),
        b"-ERR Invalid master port\r\n"
    );
    let shown = rc.cmd(&["CONFIG", "GET", "replicaof"]);
    let want = format!("127.0.0.1 {}", p.port);
    assert_eq!(
        escape(&shown),
        escape(&common::encode(&["replicaof", want.as_str()]))
    );
    let offset = info_field(&mut rc, "replication", "master_repl_offset").unwrap();
    assert_eq!(rc.cmd(&["REPLICAOF", "NO", "ONE"]), b"+OK\r\n");
    assert_eq!(
        escape(&rc.cmd(&["CONFIG", "GET", "replicaof"])),
        escape(&common::encode(&["replicaof", ""]))
    );
    assert_eq!(
        info_field(&mut rc, "replication", "role").as_deref(),
        Some("master")
    );
    assert_eq!(
        info_field(&mut rc, "replication", "master_replid2").as_deref(),
        Some(replid.as_str())
    );
    let second: i64 = info_field(&mut rc, "replication", "second_repl_offset")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(second, offset.parse::<i64>().unwrap() + 1);
    assert_same_data(&p, &r);
    assert_eq!(rc.cmd(&["SET", "mine", "1"]), b"+OK\r\n");
    // The primary's later writes no longer arrive.
    pc.cmd(&["SET", "theirs", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(rc.cmd(&["EXISTS", "theirs"]), b":0\r\n");
    assert_eq!(rc.cmd(&["GET", "mine"]), b"$1\r\n1\r\n");
    let role = text(&rc.cmd(&["ROLE"]));
    assert!(role.starts_with("*3\r\n$6\r\nmaster"), "{role}");
}

/// masterauth (and masteruser) authenticate the link to a primary that
/// requires a password; a wrong one keeps the link down.
#[test]
fn masterauth_authenticates_the_link() {
    if !redis_available() {
        return;
    }
    let p = Server::redis(&["--requirepass", "s3cret", "--repl-diskless-sync-delay", "0"]);
    let mut pc = p.conn();
    assert_eq!(pc.cmd(&["AUTH", "s3cret"]), b"+OK\r\n");
    pc.cmd(&["SET", "secret-key", "1"]);
    let target = format!("127.0.0.1 {}", p.port);
    let wrong = Server::shardis(1, &["--replicaof", &target, "--masterauth", "nope"]);
    let good = Server::shardis(
        2,
        &[
            "--replicaof",
            &target,
            "--masterauth",
            "s3cret",
            "--masteruser",
            "default",
        ],
    );
    let mut g = good.conn();
    wait_for("the authenticated link", Duration::from_secs(10), || {
        info_field(&mut g, "replication", "master_link_status").as_deref() == Some("up")
    });
    assert_eq!(g.cmd(&["GET", "secret-key"]), b"$1\r\n1\r\n");
    let mut w = wrong.conn();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        info_field(&mut w, "replication", "master_link_status").as_deref(),
        Some("down")
    );
    assert_eq!(w.cmd(&["EXISTS", "secret-key"]), b":0\r\n");
}

/// With appendonly on, what the replica applied is in its own AOF: a
/// restart from that directory alone has the same data.
#[test]
fn replica_aof_keeps_the_applied_stream() {
    if !redis_available() {
        return;
    }
    let p = primary(true);
    let mut pc = p.conn();
    populate(&mut pc, "pre");
    let target = format!("127.0.0.1 {}", p.port);
    let r = Server::shardis(4, &["--replicaof", &target, "--appendonly", "yes"]);
    wait_synced(&p, &r);
    live_writes(&mut pc, "live");
    wait_synced(&p, &r);
    assert_same_data(&p, &r);
    let mut rc = r.conn();
    // Let the rewrite started by the full sync finish.
    wait_for("the AOF rewrite", Duration::from_secs(10), || {
        info_field(&mut rc, "persistence", "aof_rewrite_in_progress").as_deref() == Some("0")
    });
    pc.cmd(&["SET", "last", "write"]);
    wait_synced(&p, &r);
    // appendfsync everysec: give the log its second.
    std::thread::sleep(Duration::from_millis(1200));
    let dir = r.dir.clone();
    drop(rc);
    // Keep the directory: restart from it without a master.
    let copy_dir = common::TempDir::new("repl-aof-copy");
    let copy = copy_dir.0.clone();
    for entry in walk(&dir) {
        let rel = entry.strip_prefix(&dir).unwrap().to_path_buf();
        let to = copy.join(&rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &to).unwrap();
    }
    drop(r);
    let dir_arg = copy.display().to_string();
    let again = Server::shardis(4, &["--appendonly", "yes", "--dir", &dir_arg]);
    assert_same_data(&p, &again);
    assert_eq!(again.conn().cmd(&["GET", "last"]), b"$5\r\nwrite\r\n");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let path = e.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if !path.ends_with("server.log") {
            out.push(path);
        }
    }
    out
}

/// A replica keeps a key whose TTL passed until the master's DEL: reads
/// miss it, DBSIZE still counts it, as on a redis-server replica.
#[test]
fn expired_keys_wait_for_the_masters_del() {
    if !redis_available() {
        return;
    }
    let p = Server::redis(&[
        "--repl-diskless-sync-delay",
        "0",
        "--enable-debug-command",
        "yes",
    ]);
    let mut pc = p.conn();
    assert_eq!(pc.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), b"+OK\r\n");
    let target = format!("127.0.0.1 {}", p.port);
    let debug = ["--enable-debug-command", "yes"];
    let theirs = Server::redis(&["--replicaof", &target, debug[0], debug[1]]);
    let ours = Server::shardis(4, &["--replicaof", &target, debug[0], debug[1]]);
    wait_synced(&p, &theirs);
    wait_synced(&p, &ours);
    pc.cmd(&["SET", "short", "v", "PX", "200"]);
    pc.cmd(&["SET", "{short}2", "v", "PX", "200"]);
    pc.cmd(&["SET", "long", "v"]);
    wait_synced(&p, &theirs);
    wait_synced(&p, &ours);
    std::thread::sleep(Duration::from_millis(400));
    let mut t = theirs.conn();
    let mut o = ours.conn();
    let probes: &[&[&str]] = &[
        &["GET", "short"],
        &["EXISTS", "short", "long"],
        &["TTL", "short"],
        &["KEYS", "*"],
        &["DBSIZE"],
        &["GET", "short"],
        &["DBSIZE"],
    ];
    for cmd in probes {
        assert_eq!(escape(&t.cmd(cmd)), escape(&o.cmd(cmd)), "{cmd:?}");
    }
    assert_eq!(o.cmd(&["DBSIZE"]), b":3\r\n");
    // DEBUG OBJECT still finds it (Redis's dictFind: the suite's
    // "Replication of an expired key does not delete the expired key"
    // checks it is there).
    for c in [&mut t, &mut o] {
        let line = c.cmd(&["DEBUG", "OBJECT", "short"]);
        assert!(line.starts_with(b"+Value at:"), "{}", escape(&line));
    }
    // The primary expires them on access and sends DEL.
    assert_eq!(pc.cmd(&["GET", "short"]), b"$-1\r\n");
    assert_eq!(pc.cmd(&["GET", "{short}2"]), b"$-1\r\n");
    wait_synced(&p, &theirs);
    wait_synced(&p, &ours);
    assert_eq!(escape(&t.cmd(&["DBSIZE"])), escape(&o.cmd(&["DBSIZE"])));
    assert_eq!(o.cmd(&["DBSIZE"]), b":1\r\n");
}

/// Chained replication: a shardis replica passes its master's stream on
/// byte for byte, so a redis-server sub-replica has the top master's
/// offsets and data; promoted, the shardis node then takes the old master
/// back as a replica with a partial resync (PSYNC2: its history is the
/// master's, offset for offset).
fn chained(shards: usize) {
    let p = primary(true);
    let mut pc = p.conn();
    populate(&mut pc, "pre");
    let r = replica_of(shards, &p);
    wait_synced(&p, &r);
    let sub = Server::redis(&["--replicaof", &format!("127.0.0.1 {}", r.port)]);
    wait_synced(&r, &sub);
    live_writes(&mut pc, "live");
    wait_synced(&p, &r);
    wait_synced(&r, &sub);
    let mut sc = sub.conn();
    for field in ["master_replid", "master_repl_offset"] {
        assert_eq!(
            info_field(&mut pc, "replication", field),
            info_field(&mut sc, "replication", field),
            "shards {shards}: sub-replica's {field} is the top master's"
        );
    }
    // DUMP orders a hash-table set or hash as its own table does: compare
    // values (the shardis replica itself is DUMP-compared elsewhere).
    let same = |a: &Server, b: &Server| {
        let (x, y) = (snapshot(&mut a.conn()), snapshot(&mut b.conn()));
        assert!(x.len() > 40, "only {} keys", x.len());
        assert!(x == y, "shards {shards}: datasets differ");
    };
    same(&p, &sub);

    // Promote the shardis node; the old master follows it and continues.
    let mut rc = r.conn();
    assert_eq!(rc.cmd(&["REPLICAOF", "NO", "ONE"]), b"+OK\r\n");
    rc.cmd(&["SET", "after-promotion", "1"]);
    let (full, partial) = (stat(&mut rc, "sync_full"), stat(&mut rc, "sync_partial_ok"));
    assert_eq!(
        pc.cmd(&["REPLICAOF", "127.0.0.1", &r.port.to_string()]),
        b"+OK\r\n"
    );
    wait_synced(&r, &p);
    wait_synced(&r, &sub);
    assert_eq!(
        stat(&mut rc, "sync_full"),
        full,
        "shards {shards}: no full sync"
    );
    assert!(
        stat(&mut rc, "sync_partial_ok") > partial,
        "shards {shards}: partial resync"
    );
    assert_eq!(pc.cmd(&["GET", "after-promotion"]), b"$1\r\n1\r\n");
    same(&r, &p);
    same(&r, &sub);
}

#[test]
fn chained_replication_keeps_the_masters_offsets() {
    if !redis_available() {
        return;
    }
    for shards in [1, 4] {
        chained(shards);
    }
}
