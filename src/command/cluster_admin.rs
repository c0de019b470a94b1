//! CLUSTER subcommands that change the node's view: ADDSLOTS(RANGE)
//! DELSLOTS(RANGE) FLUSHSLOTS SETSLOT MEET FORGET REPLICATE FAILOVER
//! RESET SET-CONFIG-EPOCH BUMPEPOCH SAVECONFIG. Checks, order and error texts
//! as redis-server 7.0's clusterCommand.

use super::cluster::cluster_or_reply;
use super::util::{arg_i64, is, NOT_INTEGER, SYNTAX};
use crate::cluster::bus::{flags, NodeId};
use crate::cluster::node::Node;
use crate::cluster::setslot::{self, SetSlot};
use crate::cluster::state::{ClusterState, SaveNeed};
use crate::server::conn::Conn;
use crate::server::mesh;
use crate::slot::SLOTS;
use crate::sys::clock::unix_ms;
use futures::future::LocalBoxFuture;

fn text(a: &[u8]) -> String {
    String::from_utf8_lossy(a).into_owned()
}

/// getSlotOrReply.
fn slot_arg(a: &[u8]) -> Result<u16, String> {
    match arg_i64(a) {
        Some(n) if (0..SLOTS as i64).contains(&n) => Ok(n as u16),
        _ => Err("ERR Invalid or out of range slot".into()),
    }
}

/// Keys in db 0 on every shard.
async fn db0_size(conn: &Conn) -> usize {
    mesh::run_on_all(&conn.rt, |rt| rt.core.borrow().store.dbs[0].len())
        .await
        .iter()
        .sum()
}

async fn keys_in_slot(conn: &Conn, slot: u16) -> usize {
    let shard = conn.rt.shard_of_slot(slot);
    mesh::run_on(&conn.rt, shard, move |rt| {
        rt.core.borrow().store.dbs[0].count_in_slot(slot)
    })
    .await
}

/// checkSlotAssignmentsOrReply over `ranges`, then the change: all
/// arguments are checked before anything changes.
fn assign(st: &mut ClusterState, ranges: &[(u16, u16)], del: bool) -> Result<(), String> {
    let mut seen = vec![0u8; SLOTS];
    for &(a, b) in ranges {
        for s in a..=b {
            let owner = st.slots[s as usize];
            if del && owner.is_none() {
                return Err(format!("ERR Slot {s} is already unassigned"));
            } else if !del && owner.is_some() {
                return Err(format!("ERR Slot {s} is already busy"));
            }
            seen[s as usize] += 1;
            if seen[s as usize] == 2 {
                return Err(format!("ERR Slot {s} specified multiple times"));
            }
        }
    }
    let me = st.myself;
    for (s, &n) in seen.iter().enumerate() {
        if n > 0 {
            let s = s as u16;
            st.importing.remove(&s);
            st.set_slot(s, (!del).then_some(me));
        }
    }
    st.need_save(SaveNeed::Save);
    Ok(())
}

fn slots_command(
    conn: &mut Conn,
    args: Vec<Vec<u8>>,
    del: bool,
    ranged: bool,
) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let Some(c) = cluster_or_reply(conn) else {
            return;
        };
        let mut ranges = Vec::new();
        if ranged {
            if args.len() % 2 == 1 {
                let name = if del {
                    "delslotsrange"
                } else {
                    "addslotsrange"
                };
                return conn.out.error(&format!(
                    "ERR wrong number of arguments for 'cluster|{name}' command"
                ));
            }
            for pair in args[2..].chunks(2) {
                let (a, b) = match (slot_arg(&pair[0]), slot_arg(&pair[1])) {
                    (Ok(a), Ok(b)) => (a, b),
                    (Err(e), _) | (_, Err(e)) => return conn.out.error(&e),
                };
                if a > b {
                    return conn.out.error(&format!(
                        "ERR start slot number {a} is greater than end slot number {b}"
                    ));
                }
                ranges.push((a, b));
            }
        } else {
            for a in &args[2..] {
                match slot_arg(a) {
                    Ok(s) => ranges.push((s, s)),
                    Err(e) => return conn.out.error(&e),
                }
            }
        }
        let r = c.with(|st| assign(st, &ranges, del));
        reply_ok_or(conn, r);
    })
}

pub fn addslots(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    slots_command(conn, args, false, false)
}

pub fn delslots(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    slots_command(conn, args, true, false)
}

pub fn addslotsrange(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    slots_command(conn, args, false, true)
}

pub fn delslotsrange(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    slots_command(conn, args, true, true)
}

pub fn flushslots(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let Some(c) = cluster_or_reply(conn) else {
            return;
        };
        if db0_size(conn).await != 0 {
            return conn
                .out
                .error("ERR DB must be empty to perform CLUSTER FLUSHSLOTS.");
        }
        c.with(|st| {
            let me = st.myself;
            for s in 0..SLOTS as u16 {
                if st.slots[s as usize] == Some(me) {
                    st.set_slot(s, None);
                }
            }
            st.need_save(SaveNeed::Save);
        });
        conn.out.ok();
    })
}

pub fn bumpepoch(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let Some(c) = cluster_or_reply(conn) else {
            return;
        };
        let (bumped, epoch) = c.with(|st| {
            let b = st.bump_epoch_without_consensus();
            (b, st.me().config_epoch)
        });
        conn.out.simple(&format!(
            "{} {epoch}",
            if bumped { "BUMPED" } else { "STILL" }
        ));
    })
}

pub fn set_config_epoch(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let Some(c) = cluster_or_reply(conn) else {
            return;
        };
        let Some(epoch) = arg_i64(&args[2]) else {
            return conn.out.error(NOT_INTEGER);
        };
        let r = c.with(|st| {
            if epoch < 0 {
                return Err(format!("ERR Invalid config epoch specified: {epoch}"));
            }
            if st.nodes.len() > 1 {
                return Err("ERR The user can assign a config epoch only when the node does not know any other node.".into());
            }
            if st.me().config_epoch != 0 {
                return Err("ERR Node config epoch is already non-zero".into());
            }
            let epoch = epoch as u64;
            st.me_mut().config_epoch = epoch;
            crate::notice!("configEpoch set to {epoch} via CLUSTER SET-CONFIG-EPOCH");
            st.current_epoch = st.current_epoch.max(epoch);
            st.need_save(SaveNeed::Save);
            st.touch();
            Ok(())
        });
        reply_ok_or(conn, r);
    })
}

pub fn saveconfig(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let Some(c) = cluster_or_reply(conn) else {
            return;
        };
        match c.save_now() {
            Ok(()) => conn.out.ok(),
            Err(e) => conn
                .out
                .error(&format!("ERR error saving the cluster node config: {e}")),
        }
    })
}

/// "ERR unknown subcommand or wrong number of arguments for '<sub>'".
fn sub_syntax(conn: &mut Conn, sub: &[u8]) {
    conn.out.error(&format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLUSTER HELP.",
        text(sub)
    ));
}

pub fn meet(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let Some(c) = cluster_or_reply(conn) else {
            return;
        };
        if args.len() > 5 {
            return sub_syntax(conn, &args[1]);
        }
        let Some(port) = arg_i64(&args[3]) else {
            return conn.out.error(&format!(
                "ERR Invalid TCP base port specified: {}",
                text(&args[3])
            ));
        };
        let cport = match args.get(4) {
            Some(a) => match arg_i64(a) {
                Some(p) => p,
                None => {
                    return conn
                        .out
                        .error(&format!("ERR Invalid TCP bus port specified: {}", text(a)))
                }
            },
            None => port + 10000,
        };
        let ip: Option<std::net::IpAddr> = std::str::from_utf8(&args[2])
            .ok()
            .and_then(|s| s.parse().ok());
        let valid = |p: i64| (1..=65535).contains(&p);
        let (Some(ip), true, true) = (ip, valid(port), valid(cport)) else {
            return conn.out.error(&format!(
                "ERR Invalid node address specified: {}:{}",
                text(&args[2]),
                text(&args[3])
            ));
        };
        c.with(|st| start_handshake(st, &ip.to_string(), port as u16, cport as u16));
        conn.out.ok();
    })
}

/// clusterStartHandshake: a node with a random placeholder name that the
/// bus greets with MEET; nothing if a handshake to it is under way.
pub fn start_handshake(st: &mut ClusterState, ip: &str, port: u16, cport: u16) {
    let busy = st
        .nodes
        .values()
        .any(|n| n.in_handshake() && n.ip == ip && n.port == port && n.cport == cport);
    if busy {
        return;
    }
    let mut n = Node::new(NodeId::random(), flags::HANDSHAKE | flags::MEET, unix_ms());
    n.ip = ip.to_string();
    n.port = port;
    n.cport = cport;
    st.add_node(n);
}

/// `+OK`, or the error the change was refused with.
fn reply_ok_or(conn: &mut Conn, r: Result<(), String>) {
    match r {
        Ok(()) => conn.out.ok(),
        Err(e) => conn.out.error(&e),
    }
}

fn unknown_node(id: &[u8]) -> String {
    format!("ERR Unknown node {}", text(id))
}

pub fn forget(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let Some(c) = cluster_or_reply(conn) else {
            return;
        };
        let r = c.with(|st| -> Result<(), String> {
            let id = st
                .lookup(&args[2])
                .ok_or_else(|| unknown_node(&args[2]))?
                .id;
            if id == st.myself {
                return Err("ERR I tried hard but I can't forget myself...".into());
            }
            let me = st.me();
            if me.is_replica() && me.master == Some(id) {
                return Err("ERR Can't forget my master!".to_string());
            }
            st.blacklist.insert(id, unix_ms() + 60_000);
            st.del_node(&id);
            st.need_save(SaveNeed::Save);
            Ok(())
        });
        reply_ok_or(conn, r);
    })
}

pub fn replicate(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let Some(c) = cluster_or_reply(conn) else {
            return;
        };
        let keys = db0_size(conn).await;
        let r = c.with(|st| -> Result<(), String> {
            let n = st.lookup(&args[2]).ok_or_else(|| unknown_node(&args[2]))?;
            let id = n.id;
            if id == st.myself {
                return Err("ERR Can't replicate myself".into());
            }
            if n.is_replica() {
                return Err("ERR I can only replicate a master, not a replica.".into());
            }
            let me = st.me();
            if me.is_master() && (me.slot_count() != 0 || keys != 0) {
                return Err(
                    "ERR To set a master the node must be empty and without assigned slots.".into(),
                );
            }
            st.set_my_master(id);
            Ok(())
        });
        if r.is_ok() {
            // Start the replication link now, as `clusterSetMaster` does.
            crate::server::cluster_follow::sync(&conn.rt);
        }
        reply_ok_or(conn, r);
    })
}

/// CLUSTER FAILOVER [FORCE|TAKEOVER] (cluster/failover.rs runs it).
pub fn failover(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    use crate::cluster::failover::{manual_start, Manual};
    Box::pin(async move {
        let Some(c) = cluster_or_reply(conn) else {
            return;
        };
        let mode = match args.get(2) {
            None => Manual::Default,
            Some(a) if args.len() == 3 && is(a, "force") => Manual::Force,
            Some(a) if args.len() == 3 && is(a, "takeover") => Manual::Takeover,
            Some(_) => return conn.out.error(SYNTAX),
        };
        let r = c.with(|st| manual_start(st, mode, unix_ms()));
        if r.is_ok() && mode == Manual::Takeover {
            // Replication stops now, as `clusterFailoverReplaceYourMaster`.
            crate::server::cluster_follow::sync(&conn.rt);
        }
        reply_ok_or(conn, r);
    })
}

pub fn reset(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let Some(c) = cluster_or_reply(conn) else {
            return;
        };
        let hard = match args.get(2) {
            None => false,
            Some(a) if args.len() == 3 && is(a, "hard") => true,
            Some(a) if args.len() == 3 && is(a, "soft") => false,
            Some(_) => return conn.out.error(SYNTAX),
        };
        let keys = db0_size(conn).await;
        if c.read(|st| st.me().is_master()) && keys != 0 {
            return conn
                .out
                .error("ERR CLUSTER RESET can't be called with master nodes containing keys");
        }
        c.with(|st| st.reset(hard, unix_ms()));
        conn.out.ok();
    })
}

pub fn setslot(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let Some(c) = cluster_or_reply(conn) else {
            return;
        };
        if c.read(|st| st.me().is_replica()) {
            return conn.out.error(setslot::NOT_MASTER);
        }
        let slot = match slot_arg(&args[2]) {
            Ok(s) => s,
            Err(e) => return conn.out.error(&e),
        };
        let action = &args[3];
        let action =
            match args.len() {
                5 if is(action, "migrating") => SetSlot::Migrating(&args[4]),
                5 if is(action, "importing") => SetSlot::Importing(&args[4]),
                4 if is(action, "stable") => SetSlot::Stable,
                5 if is(action, "node") => SetSlot::Node(&args[4]),
                _ => return conn.out.error(
                    "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP",
                ),
            };
        let keys = keys_in_slot(conn, slot).await;
        let allow_migration = c.settings().allow_replica_migration;
        let r = c.with(|st| setslot::apply(st, slot, action, keys, allow_migration));
        reply_ok_or(conn, r);
    })
}
