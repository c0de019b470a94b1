//! Typical application usage through the `redis` crate (a real client
//! library), against shardis with several shards.

mod common;

use common::Server;
use redis::{Commands, Connection};
use std::time::Duration;

fn client(server: &Server) -> Connection {
    let c = redis::Client::open(format!("redis://127.0.0.1:{}/", server.port)).expect("client");
    let conn = c
        .get_connection_with_timeout(Duration::from_secs(10))
        .expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    conn
}

#[test]
fn basic_commands() {
    let s = Server::shardis(4, &[]);
    let mut c = client(&s);
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
    let _: () = c.set("greeting", "hello").unwrap();
    let v: String = c.get("greeting").unwrap();
    assert_eq!(v, "hello");
    let missing: Option<String> = c.get("nosuch").unwrap();
    assert_eq!(missing, None);
    let bin: Vec<u8> = (0..=255).collect();
    let _: () = c.set(&b"bin\x00key"[..], &bin).unwrap();
    let back: Vec<u8> = c.get(&b"bin\x00key"[..]).unwrap();
    assert_eq!(back, bin);
    let n: i64 = c.exists(&["greeting", "nosuch", "greeting"]).unwrap();
    assert_eq!(n, 2);
    let n: i64 = c.del(&["greeting", "nosuch"]).unwrap();
    assert_eq!(n, 1);
    let err = c.get::<_, String>("nosuch").unwrap_err();
    assert_eq!(err.kind(), redis::ErrorKind::TypeError, "{err}");
    let err: redis::RedisError = redis::cmd("NOSUCHCOMMAND").query::<()>(&mut c).unwrap_err();
    assert!(err.to_string().contains("unknown command"), "{err}");
}

#[test]
fn pipelines() {
    let s = Server::shardis(4, &[]);
    let mut c = client(&s);
    let mut p = redis::pipe();
    for i in 0..200 {
        p.set(format!("p:{i}"), i).ignore();
    }
    for i in 0..200 {
        p.get(format!("p:{i}"));
    }
    let vals: Vec<i64> = p.query(&mut c).unwrap();
    assert_eq!(vals, (0..200).collect::<Vec<i64>>());

    let (a, b, n): (String, Option<String>, i64) = redis::pipe()
        .set("x", "1")
        .ignore()
        .get("x")
        .get("y")
        .exists(&["x", "y"])
        .query(&mut c)
        .unwrap();
    assert_eq!((a.as_str(), b, n), ("1", None, 1));
}

#[test]
fn mset_mget_across_shards() {
    for shards in [1, 4] {
        let s = Server::shardis(shards, &[]);
        let mut c = client(&s);
        let pairs: Vec<(String, String)> = (0..100)
            .map(|i| (format!("user:{i}"), format!("name-{i}")))
            .collect();
        let _: () = c.mset(&pairs).unwrap();
        let mut keys: Vec<String> = pairs.iter().map(|(k, _)| k.clone()).collect();
        keys.insert(50, "user:missing".into());
        let got: Vec<Option<String>> = c.mget(&keys).unwrap();
        let mut want: Vec<Option<String>> = pairs.iter().map(|(_, v)| Some(v.clone())).collect();
        want.insert(50, None);
        assert_eq!(got, want, "shards={shards}");
        // Overwrites are all-or-nothing visible through MGET too.
        let _: () = c.mset(&[("user:1", "x"), ("user:99", "y")]).unwrap();
        let got: Vec<String> = c.mget(&["user:99", "user:1"]).unwrap();
        assert_eq!(got, vec!["y", "x"]);
        let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
        assert_eq!(n, 100);
    }
}

#[test]
fn concurrent_incr_is_exact() {
    let s = Server::shardis(4, &[]);
    let threads = 4;
    let per_thread = 500;
    std::thread::scope(|scope| {
        for t in 0..threads {
            let s = &s;
            scope.spawn(move || {
                let mut c = client(s);
                for i in 0..per_thread {
                    let _: i64 = redis::cmd("INCR")
                        .arg("shared:counter")
                        .query(&mut c)
                        .unwrap();
                    let _: i64 = c.incr(format!("own:{t}"), 2).unwrap();
                    if i % 100 == 0 {
                        let _: i64 = c.decr("shared:down", 1).unwrap();
                    }
                }
            });
        }
    });
    let mut c = client(&s);
    let total: i64 = c.get("shared:counter").unwrap();
    assert_eq!(total, threads * per_thread);
    for t in 0..threads {
        let own: i64 = c.get(format!("own:{t}")).unwrap();
        assert_eq!(own, 2 * per_thread);
    }
    let down: i64 = c.get("shared:down").unwrap();
    assert_eq!(down, -threads * (per_thread / 100));
}

#[test]
fn expiry_with_set_ex() {
    let s = Server::shardis(4, &[]);
    let mut c = client(&s);
    let _: () = redis::cmd("SET")
        .arg("session:1")
        .arg("data")
        .arg("EX")
        .arg(1)
        .query(&mut c)
        .unwrap();
    let _: () = c.set_ex("session:3", "data", 1).unwrap(); // SETEX
    let _: () = redis::cmd("SET")
        .arg("session:2")
        .arg("data")
        .arg("PX")
        .arg(300)
        .query(&mut c)
        .unwrap();
    let _: () = c.set("forever", "data").unwrap();
    let v: Option<String> = c.get("session:1").unwrap();
    assert_eq!(v.as_deref(), Some("data"));
    std::thread::sleep(Duration::from_millis(1300));
    let got: Vec<Option<String>> = c
        .mget(&["session:1", "session:2", "session:3", "forever"])
        .unwrap();
    assert_eq!(got, vec![None, None, None, Some("data".to_string())]);
    let n: i64 = c.exists(&["session:1", "session:2", "session:3"]).unwrap();
    assert_eq!(n, 0);
}
