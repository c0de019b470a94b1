//! Cluster mode's per-request check (MOVED / ASK / TRYAGAIN / CROSSSLOT /
//! CLUSTERDOWN), made on the connection's shard from its routing
//! snapshot: no lock, no cross-core hop. Only a slot that is open here
//! (migrating or importing) needs the owning shard to say which keys
//! exist before deciding.

use super::conn::Conn;
use super::mesh;
use super::route::Routed;
use super::shard::ShardRt;
use super::spec::{Behavior, CommandSpec, Flags};
use crate::cluster::routing::{Asker, ClientFlags, OpenSlot, Route};
use crate::resp::Out;
use crate::slot::key_slot;

/// Connection flags as they will be when each request of a batch runs:
/// the batch is planned before any of it runs, so ASKING / READONLY /
/// READWRITE / MULTI / EXEC earlier in the same read count.
pub struct Tracker {
    pub flags: ClientFlags,
    in_multi: bool,
}

impl Tracker {
    pub fn new(conn: &Conn) -> Tracker {
        Tracker {
            flags: conn.cluster,
            in_multi: conn.tx.in_multi(),
        }
    }

    /// After a request for `spec` (None: unknown) was planned, refused
    /// or not.
    pub fn after(&mut self, spec: Option<&CommandSpec>, refused: bool) {
        let does = |b| super::dispatch::behaves(spec, b);
        if !refused {
            if does(Behavior::SETS_READONLY) {
                self.flags.readonly = true;
            } else if does(Behavior::CLEARS_READONLY) {
                self.flags.readonly = false;
            } else if does(Behavior::STARTS_TRANSACTION) {
                self.in_multi = true;
            }
        }
        let ends_transaction = does(Behavior::ENDS_TRANSACTION);
        if does(Behavior::SETS_ASKING) && !refused {
            self.flags.asking = true;
        } else if !self.in_multi || ends_transaction {
            self.flags.asking = false;
        }
        if ends_transaction {
            self.in_multi = false;
        }
    }
}

fn asker(spec: &CommandSpec, flags: ClientFlags) -> Asker {
    Asker {
        asking: flags.asking,
        readonly: flags.readonly || spec.behavior.has(Behavior::REPLICA_SERVES),
        write: spec.is_write(),
        implies_asking: spec.flags.has(Flags::ASKING),
        runs_on_open_slot: spec.behavior.has(Behavior::OPEN_SLOT_LOCAL),
    }
}

/// The route for a request whose keys planning found (cluster mode).
pub fn route(
    conn: &Conn,
    spec: &CommandSpec,
    routed: &Routed,
    flags: ClientFlags,
) -> Option<Route> {
    if routed.keys().is_empty() {
        return None;
    }
    let who = asker(spec, flags);
    conn.rt.with_routing(|r| r.check(routed.slots(), who))
}

/// A script's call in cluster mode (Redis's scriptVerifyClusterState):
/// the slot of its keys when this node serves them (None: it has no
/// keys), else the script's error. `flags` are the caller's; `exists`
/// tells whether a key exists, for a slot open here.
pub fn script_call(
    rt: &ShardRt,
    spec: &CommandSpec,
    argv: &[&[u8]],
    flags: ClientFlags,
    exists: impl Fn(&[u8]) -> bool,
) -> Result<Option<u16>, String> {
    use crate::cluster::routing::{DOWN, DOWN_RO};
    let mut idx = Vec::new();
    spec.key_indexes(argv, &mut idx);
    let Some(&first) = idx.first() else {
        return Ok(None);
    };
    let who = asker(spec, flags);
    let refused = match rt.with_routing(|r| r.check(idx.iter().map(|&k| key_slot(argv[k])), who)) {
        None | Some(Route::Local) => None,
        Some(Route::Refuse(e)) => Some(e),
        Some(Route::Open(open)) => {
            let existing = idx.iter().filter(|&&i| exists(argv[i])).count();
            open.decide(existing, idx.len()).err()
        }
    };
    match refused {
        None => Ok(Some(key_slot(argv[first]))),
        Some(e) if e == DOWN_RO => Err(
            "Script attempted to execute a write command while the cluster is down and readonly"
                .into(),
        ),
        Some(e) if e == DOWN => {
            Err("Script attempted to execute a command while the cluster is down".into())
        }
        Some(_) => Err("Script attempted to access a non local key in a cluster node".into()),
    }
}

/// What a request was routed with: the slot table's version when its
/// batch was planned, and the connection's flags at that request.
#[derive(Clone, Copy)]
pub struct Planned {
    pub version: u64,
    pub flags: ClientFlags,
}

/// On the shard about to run a planned command (cluster mode): if the
/// slot table changed since planning, decide again here. A SETSLOT may
/// have opened or given away the slot meanwhile (a cross-shard hop or the
/// gate lies between the two), and a write let through then could create
/// a key in a slot whose keys were just migrated away; deciding and
/// running in one step on the owning shard is what Redis's single thread
/// guarantees. Err is the redirect to answer instead.
pub fn recheck(
    rt: &ShardRt,
    spec: &CommandSpec,
    argv: &[&[u8]],
    db: usize,
    planned: Planned,
    now_ms: u64,
) -> Result<(), String> {
    let Some(cluster) = rt.shared.cluster.as_ref() else {
        return Ok(());
    };
    if cluster.routing_version() == planned.version {
        return Ok(());
    }
    let mut idx = Vec::new();
    spec.key_indexes(argv, &mut idx);
    if idx.is_empty() {
        return Ok(());
    }
    let who = asker(spec, planned.flags);
    match rt.with_routing(|r| r.check(idx.iter().map(|&k| key_slot(argv[k])), who)) {
        None | Some(Route::Local) => Ok(()),
        Some(Route::Refuse(e)) => Err(e),
        Some(Route::Open(open)) => {
            let core = rt.core.borrow();
            let existing = idx
                .iter()
                .filter(|&&i| core.store.dbs[db].peek(argv[i], now_ms).is_some())
                .count();
            open.decide(existing, idx.len())
        }
    }
}

/// Runs a shard command whose slot is open here: the owning shard counts
/// which keys exist (expired ones count as missing; nothing is touched)
/// and either runs it or answers ASK / TRYAGAIN.
pub async fn run_open_slot(
    conn: &mut Conn,
    spec: &'static CommandSpec,
    argv: &[&[u8]],
    open: OpenSlot,
) {
    let rt = conn.rt.clone();
    let shard = rt.shard_of_slot(open.slot);
    if shard != rt.id {
        rt.note_hops(1);
    }
    let mut idx = Vec::new();
    spec.key_indexes(argv, &mut idx);
    let args: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
    let (db, resp3) = (conn.db, conn.out.resp3);
    let caller = super::tracking::caller(&conn.info, rt.id);
    let (bytes, refused) = mesh::run_on(&rt, shard, move |rt| {
        let mut clock = rt.clock();
        let existing = {
            let core = rt.core.borrow();
            idx.iter()
                .filter(|&&i| core.store.dbs[db].peek(&args[i], clock.now_ms).is_some())
                .count()
        };
        let mut out = Out::new(resp3);
        match open.decide(existing, idx.len()) {
            Ok(()) => {
                let argv: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
                let settings = rt.settings();
                rt.set_caller(caller);
                rt.exec(spec, &argv, db, &mut out, &mut clock, &settings);
                (out.buf, false)
            }
            Err(e) => {
                out.error(&e);
                (out.buf, true)
            }
        }
    })
    .await;
    super::tracking::after_command(&conn.info, Some(spec), conn.tx.in_multi());
    // A run command was counted by `exec`; a refusal is counted here.
    if refused {
        conn.rt.count_rejected(spec.name, &bytes);
    }
    conn.out.buf.extend_from_slice(&bytes);
}
