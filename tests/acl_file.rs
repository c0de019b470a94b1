//! Users from files, against redis-server 7.0 and Shardis (shards 1 and
//! 4): the ACL file read at start-up, ACL SAVE and ACL LOAD (which
//! closes the connections of every user but `default`, and changes
//! nothing when the file has an error), and the `user` directive (with
//! CONFIG REWRITE writing the users back); a server given bad users
//! does not start.

mod common;

use common::{redis_available, scratch_dir, Kind, Server, SHARDIS_BIN};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const USERS: &str = "user alice on allcommands allkeys &* >alice\n\
                     user bob on -@all +@set +acl ~set* &* >bob\n\
                     user default on nopass ~* &* +@all\n";

/// What one server saw with the ACL file at `acl`: every reply, the
/// file's path replaced by `<file>`.
fn scenario(srv: &Server, acl: &Path) -> Vec<String> {
    let path = acl.display().to_string();
    let mut seen = Vec::new();
    let mut note = |r: Vec<u8>| seen.push(String::from_utf8_lossy(&r).replace(&path, "<file>"));
    let mut c = srv.conn();
    note(c.line("ACL LIST"));
    note(c.line("AUTH alice alice"));
    note(c.line("SET key value"));
    note(c.line("AUTH bob bob"));
    note(c.line("SADD set 1 2 3"));
    note(c.line("SET key value"));
    note(c.line("ACL SETUSER eve +get allkeys >eve on"));
    note(c.line("ACL SAVE"));
    note(std::fs::read(acl).unwrap());
    // A default-user connection stays through a load; bob's closes,
    // the loading one after its reply.
    let mut plain = srv.conn();
    note(plain.line("PING"));
    note(c.line("ACL LOAD"));
    note(c.read_until_closed(Duration::from_secs(5)));
    note(plain.line("PING"));
    let mut c = srv.conn();
    note(c.line("AUTH eve eve"));
    note(c.line("GET key"));
    note(c.line("SET key value"));
    // A file with errors changes nothing.
    note(c.line("AUTH default x"));
    let mut bad = std::fs::read_to_string(acl).unwrap();
    bad.push_str(
        "user alice on nopass ~* -@all\nuser x on +nosuchcommand -@nosuchcategory\n# a comment\n",
    );
    std::fs::write(acl, bad).unwrap();
    note(c.line("ACL LOAD"));
    note(c.line("ACL LIST"));
    note(c.line("ACL WHOAMI"));
    std::fs::remove_file(acl).unwrap();
    note(c.line("ACL LOAD"));
    seen
}

fn acl_file(tag: &str) -> std::path::PathBuf {
    let dir = scratch_dir(tag);
    let path = dir.join("users.acl");
    std::fs::write(&path, USERS).unwrap();
    path
}

fn compare(reference: &[String], got: &[String], what: &str) {
    for (i, (r, g)) in reference.iter().zip(got).enumerate() {
        assert_eq!(g, r, "step {i} at {what}");
    }
    assert_eq!(got.len(), reference.len(), "{what}");
}

#[test]
fn acl_file_load_and_save_like_redis() {
    if !redis_available() {
        return;
    }
    let acl = acl_file("acl-file-redis");
    let reference = scenario(&Server::redis(&["--aclfile", acl.to_str().unwrap()]), &acl);
    for shards in [1, 4] {
        let acl = acl_file("acl-file-shardis");
        let srv = Server::shardis(shards, &["--aclfile", acl.to_str().unwrap()]);
        compare(
            &reference,
            &scenario(&srv, &acl),
            &format!("shards {shards}"),
        );
    }
}

/// Users declared in the configuration: their rules hold, ACL LIST shows
/// them as Redis does, and CONFIG REWRITE writes them back so a restart
/// has them.
#[test]
fn user_directives_and_config_rewrite() {
    if !redis_available() {
        return;
    }
    let users = [
        "user default on nopass ~* &* +@all -flushdb",
        "user alice on >pw ~a* (+get ~b*) +@read",
    ];
    let run = |kind: Kind| -> Vec<String> {
        let dir = scratch_dir("acl-user-directive");
        let port = common::free_port();
        let conf = dir.join("node.conf");
        let mut text = format!(
            "port {port}\nbind 127.0.0.1\nsave \"\"\ndir {}\n",
            dir.display()
        );
        for u in users {
            text.push_str(u);
            text.push('\n');
        }
        std::fs::write(&conf, text).unwrap();
        let args = vec![conf.display().to_string()];
        let mut seen = Vec::new();
        for round in 0..2 {
            let srv = match kind {
                Kind::Shardis => Server::shardis_raw("shardis", &args, port).unwrap(),
                Kind::Redis => Server::redis_raw(&args, port),
            };
            let mut c = srv.conn();
            for line in [
                "ACL LIST",
                "FLUSHDB",
                "AUTH alice pw",
                "GET a1",
                "GET b1",
                "SET a1 x",
            ] {
                seen.push(String::from_utf8_lossy(&c.line(line)).into_owned());
            }
            if round == 0 {
                seen.push(String::from_utf8_lossy(&c.line("AUTH default x")).into_owned());
                seen.push(String::from_utf8_lossy(&c.line("CONFIG REWRITE")).into_owned());
                let rewritten = std::fs::read_to_string(&conf).unwrap();
                let lines: Vec<&str> = rewritten
                    .lines()
                    .filter(|l| l.starts_with("user "))
                    .collect();
                seen.push(lines.join("\n"));
            }
        }
        seen
    };
    let reference = run(Kind::Redis);
    compare(&reference, &run(Kind::Shardis), "user directives");
}

/// Bad users stop the server at start-up, saying why.
#[test]
fn bad_users_stop_the_server() {
    let dir = scratch_dir("acl-bad-users");
    let bad_file = dir.join("bad.acl");
    std::fs::write(&bad_file, "user alice on\nuser alice off\n").unwrap();
    let good_file = dir.join("good.acl");
    std::fs::write(&good_file, USERS).unwrap();
    let port = common::free_port().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--user", "foo", "--user", "foo"], "Duplicate user"),
        (vec!["--user", "foo", "on", "(+get"], "Unmatched parenthesis"),
        (vec!["--user", "foo", "on", "+nosuchcommand"], "Error loading ACL rule '+nosuchcommand' for the user named 'foo'"),
        (vec!["--aclfile", bad_file.to_str().unwrap()], "Aborting Redis startup because of ACL errors: WARNING: Duplicate user 'alice' found on line 2."),
        (
            vec!["--aclfile", good_file.to_str().unwrap(), "--user", "bob"],
            "please define either an ACL file or declare users directly in your redis.conf, but not both",
        ),
    ];
    for (args, want) in cases {
        let out = Command::new(SHARDIS_BIN)
            .args(["--port", &port, "--save", ""])
            .args(&args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} started");
        assert!(text.contains(want), "{args:?}: {text}");
    }
}
