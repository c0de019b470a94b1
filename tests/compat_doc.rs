//! docs/compatibility.md's command table says what the server has: every
//! row marked implemented is in the server's COMMAND LIST (container
//! subcommands as `container|sub`), every row marked "not yet" is not.
//! A stale table (scripts/gen-compat.sh not run after a command landed)
//! fails here.

mod common;

use common::{bulk_items, Server};
use std::collections::HashSet;

#[test]
fn the_command_table_matches_command_list() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/compatibility.md"
    ))
    .unwrap();
    let server = Server::shardis(1, &[]);
    let mut c = server.conn();
    let have: HashSet<String> = bulk_items(&c.cmd(&["COMMAND", "LIST"]))
        .into_iter()
        .map(|n| String::from_utf8(n).unwrap().to_lowercase())
        .collect();
    let mut rows = 0;
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | COMMAND | group | status | planned in | summary |
        if cells.len() < 6 || !matches!(cells[3], "implemented" | "not yet") {
            continue;
        }
        rows += 1;
        let name = cells[1].to_lowercase().replacen(' ', "|", 1);
        let listed = have.contains(&name);
        assert_eq!(
            listed,
            cells[3] == "implemented",
            "docs/compatibility.md says {} is {}; run scripts/gen-compat.sh",
            cells[1],
            cells[3]
        );
    }
    assert!(rows > 300, "only {rows} command rows found");
}
