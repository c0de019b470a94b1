//! Running a batch of requests from one read: checks derived from each
//! command's spec, then routing to the owning shard. Commands for this
//! shard run inline; commands for other shards go out as one message per
//! shard; replies are written in request order.

use super::conn::Conn;
use super::mesh;
use super::multishard;
use super::redirect;
use super::route::Routed;
use super::shard::Settings;
use super::shared::Shared;
use super::spec::{Behavior, CommandSpec, Flags, Handler};
use super::table::{self, arity_ok};
use super::tracking::{self, Caller};
use super::transaction;
use crate::cluster::routing::Route;
use crate::resp::Out;
use std::time::Instant;

/// One shard's replies to a batch: the reply bytes and where each reply ends.
type ShardReplies = (Vec<u8>, Vec<usize>);

/// How one request of a batch is served.
enum Plan {
    /// Refused before running: the command (None: unknown) and the error
    /// reply.
    Refused(Option<&'static CommandSpec>, Vec<u8>),
    /// A shard command whose keys all live on `shard`.
    OnShard(&'static CommandSpec, usize),
    /// Needs the connection: runs alone, in order.
    Alone(&'static CommandSpec),
    /// A shard command whose keys span shards: runs alone, in order,
    /// through the multi-shard path, with the route planning found.
    Spread(&'static CommandSpec, Routed),
    /// Cluster mode, a slot open here: the owning shard decides (ASK,
    /// TRYAGAIN or run); runs alone, in order.
    OpenSlot(&'static CommandSpec, crate::cluster::routing::OpenSlot),
}

impl Plan {
    /// The command, if it is known.
    fn spec(&self) -> Option<&'static CommandSpec> {
        match self {
            Plan::Refused(spec, _) => *spec,
            Plan::OnShard(spec, _)
            | Plan::Alone(spec)
            | Plan::Spread(spec, _)
            | Plan::OpenSlot(spec, _) => Some(spec),
        }
    }
}

/// The name a refusal is counted under: the command's, or "unknown".
pub fn refused_name(spec: Option<&'static CommandSpec>) -> &'static str {
    spec.map_or("unknown", |s| s.name)
}

/// Whether a request's command (None: unknown) has behaviour `b`.
pub fn behaves(spec: Option<&CommandSpec>, b: Behavior) -> bool {
    spec.is_some_and(|s| s.behavior.has(b))
}

/// The requests of one read: all arguments flat, and where each request's
/// arguments start and end.
pub struct Batch<'a> {
    args: &'a [&'a [u8]],
    bounds: Vec<(usize, usize)>,
}

impl<'a> Batch<'a> {
    /// `argcs[i]` is the argument count of request i.
    pub fn new(args: &'a [&'a [u8]], argcs: &[usize]) -> Batch<'a> {
        Batch::reusing(args, argcs, Vec::new())
    }

    /// `new`, filling `bounds` (emptied first) rather than a new vector:
    /// a connection hands the same one to every batch
    /// ([`Batch::into_bounds`] gives it back).
    pub fn reusing(
        args: &'a [&'a [u8]],
        argcs: &[usize],
        mut bounds: Vec<(usize, usize)>,
    ) -> Batch<'a> {
        bounds.clear();
        let mut start = 0;
        bounds.extend(argcs.iter().map(|&n| {
            start += n;
            (start - n, start)
        }));
        Batch { args, bounds }
    }

    /// The bounds' vector, for the next batch.
    pub fn into_bounds(self) -> Vec<(usize, usize)> {
        self.bounds
    }

    pub fn len(&self) -> usize {
        self.bounds.len()
    }

    #[inline]
    pub fn get(&self, i: usize) -> &'a [&'a [u8]] {
        let (s, e) = self.bounds[i];
        &self.args[s..e]
    }
}

/// A connection's planning tables, kept between batches so a batch of
/// hits allocates nothing (`Conn.plans`).
#[derive(Default)]
pub struct PlanScratch {
    plans: Vec<Plan>,
    planned: Vec<Option<redirect::Planned>>,
    callers: Vec<Caller>,
}

/// Requests a batch's tables keep room for between batches.
const PLANS_KEPT: usize = 1024;

impl PlanScratch {
    fn settle(&mut self) {
        self.plans.clear();
        self.planned.clear();
        self.callers.clear();
        if self.plans.capacity() > PLANS_KEPT {
            self.plans.shrink_to(PLANS_KEPT);
            self.planned.shrink_to(PLANS_KEPT);
            self.callers.shrink_to(PLANS_KEPT);
        }
    }
}

/// Runs the batch's requests in order, appending the replies to `conn.out`.
pub async fn run_batch(conn: &mut Conn, cmds: &Batch<'_>) {
    // The planning tables are the connection's, reused batch after batch
    // (a batch run inside this one, if any, gets fresh ones).
    let mut scratch = std::mem::take(&mut conn.plans);
    run_batch_with(conn, cmds, &mut scratch).await;
    scratch.settle();
    conn.plans = scratch;
}

async fn run_batch_with(conn: &mut Conn, cmds: &Batch<'_>, scratch: &mut PlanScratch) {
    let PlanScratch {
        plans,
        planned,
        callers,
    } = scratch;
    if conn.rt.shared.repl.replica.loading.is_loading() && !conn.from_master {
        hold_while_loading_starts(conn).await;
    }
    // A write pause (server/pause.rs) holds writes of normal clients
    // here, before planning: once it ends they are routed afresh.
    let mut in_flight = if conn.from_master {
        None
    } else {
        let writes_refused =
            conn.settings.replica_read_only && conn.rt.shared.repl.replica.is_replica();
        Some(super::pause::WritePause::enter(&conn.rt, cmds, &conn.tx, writes_refused).await)
    };
    let mut routed = std::mem::take(&mut conn.routed);
    let mut tracker = redirect::Tracker::new(conn);
    // Read before planning: a change after it makes the executing shard
    // decide again (redirect::recheck).
    // The master link of a replica is never redirected (Redis skips the
    // cluster check for CLIENT_MASTER): its writes are for slots the
    // master serves.
    let version = match &conn.rt.shared.cluster {
        Some(c) if !conn.from_master => Some(c.routing_version()),
        _ => None,
    };
    for i in 0..cmds.len() {
        planned.push(version.map(|version| redirect::Planned {
            version,
            flags: tracker.flags,
        }));
        let p = plan(conn, cmds.get(i), &mut routed, tracker.flags);
        let (spec, refused) = (p.spec(), matches!(p, Plan::Refused(..)));
        if behaves(spec, Behavior::RUNS_TRANSACTION) {
            conn.tx.exec_asking = tracker.flags.asking;
        }
        tracker.after(spec, refused);
        plans.push(p);
    }
    conn.cluster = tracker.flags;
    conn.routed = routed;
    if let Some(f) = in_flight.as_mut() {
        let blocks = plans.iter().any(|p| match p {
            Plan::OnShard(spec, _)
            | Plan::Alone(spec)
            | Plan::Spread(spec, _)
            | Plan::OpenSlot(spec, _) => super::pause::may_block(spec),
            Plan::Refused(..) => false,
        });
        if blocks {
            f.leave();
        }
    }
    let mut i = 0;
    while i < cmds.len() {
        // Past the reply cap the connection closes unanswered.
        if conn.close || conn.out.over_cap() {
            return;
        }
        // PSYNC/SYNC made the connection a replica: what follows is the
        // replica's link's (repl/primary/session.rs), as Redis runs it
        // with the client flagged a replica.
        if conn.repl.start.is_some() {
            return hand_to_replica_link(conn, cmds, i);
        }
        // RESP2 subscribe mode (pubsub.rs): one request at a time, only
        // the Pub/Sub commands, PING, QUIT and RESET run.
        if conn.pubsub.restricted(conn.out.resp3) {
            match &plans[i] {
                Plan::Refused(spec, msg) => refuse(conn, *spec, msg),
                Plan::OnShard(spec, _)
                | Plan::Alone(spec)
                | Plan::Spread(spec, _)
                | Plan::OpenSlot(spec, _) => {
                    if spec.behavior.has(Behavior::SUBSCRIBE_MODE) {
                        Box::pin(run_alone(conn, spec, cmds.get(i))).await;
                    } else {
                        let msg = format!("ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context", spec.name);
                        refuse(conn, Some(spec), msg.as_bytes());
                    }
                }
            }
            i += 1;
            continue;
        }
        // In MULTI, requests are queued one by one (transaction.rs).
        if conn.tx.in_multi() {
            let planned = match &plans[i] {
                Plan::Refused(spec, msg) => transaction::Planned::Refused(*spec, msg),
                Plan::OnShard(spec, _)
                | Plan::Alone(spec)
                | Plan::Spread(spec, _)
                | Plan::OpenSlot(spec, _) => transaction::Planned::Spec(spec),
            };
            let spec = plans[i].spec();
            // A lowered tracking-table-max-keys applies before any command,
            // queued ones too (Redis's trackingLimitUsedSlots, #11715).
            // Its own invalidations precede the QUEUED reply.
            if tracking::over_limit(&conn.rt) {
                tracking::limit_keys_everywhere(&conn.rt).await;
                conn.pubsub.sub.drain_into(&mut conn.out);
            }
            Box::pin(transaction::handle(conn, planned, cmds.get(i))).await;
            tracking::after_command(&conn.info, spec, conn.tx.in_multi());
            i += 1;
            continue;
        }
        // A run of commands that can be batched.
        let start = i;
        // MULTI is `Alone`, so a group never runs past it.
        while i < cmds.len() && matches!(plans[i], Plan::OnShard(..) | Plan::Refused(..)) {
            i += 1;
        }
        if i > start {
            run_group(
                conn,
                cmds,
                start,
                &plans[start..i],
                &planned[start..i],
                callers,
            )
            .await;
        }
        if i < cmds.len() {
            match &plans[i] {
                // Boxed: the rare paths' futures would otherwise make every
                // connection's task as big as the biggest of them.
                Plan::Alone(spec) => Box::pin(run_alone(conn, spec, cmds.get(i))).await,
                Plan::Spread(spec, routed) => {
                    Box::pin(run_spread(conn, spec, cmds.get(i), routed)).await
                }
                Plan::OpenSlot(spec, open) => {
                    Box::pin(redirect::run_open_slot(
                        conn,
                        spec,
                        cmds.get(i),
                        open.clone(),
                    ))
                    .await
                }
                _ => {}
            }
            i += 1;
        }
    }
}

/// Keeps the batch's requests from `from` on, encoded again, for the
/// link of the replica this connection became.
fn hand_to_replica_link(conn: &mut Conn, cmds: &Batch<'_>, from: usize) {
    let mut out = Out::around(std::mem::take(&mut conn.repl.pending), false);
    for i in from..cmds.len() {
        let argv = cmds.get(i);
        out.array(argv.len());
        for a in argv {
            out.bulk(a);
        }
    }
    conn.repl.pending = out.buf;
}

pub const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";

/// min-replicas-to-write (Redis's checkGoodReplicasStatus): a primary
/// short of good replicas refuses writes.
pub fn lacks_good_replicas(shared: &Shared, settings: &Settings) -> bool {
    settings.min_replicas_to_write > 0
        && !shared.repl.replica.is_replica()
        && !crate::repl::primary::enough_replicas(
            shared,
            settings.min_replicas_to_write,
            settings.min_replicas_max_lag,
        )
}

/// What the server-state checks look at in a request (Redis's
/// processCommand: for EXEC, its queued commands decide).
#[derive(Clone, Copy)]
pub struct StateFacts {
    /// Writes (MISCONF, NOREPLICAS, READONLY).
    pub write: bool,
    /// Refused on MISCONF though not a write (PING in Redis 7.0).
    pub misconf_refused: bool,
    /// Lacks the `stale` flag (MASTERDOWN).
    pub deny_stale: bool,
    /// Lacks the `loading` flag (LOADING while a dataset loads).
    pub deny_loading: bool,
    /// Has the `no-async-loading` flag (LOADING while async loading).
    pub no_async_loading: bool,
}

impl StateFacts {
    /// What `spec` run with `argv` is, for these checks: its flags, or for
    /// a script that declares flags, what they make it (Redis's
    /// getCommandFlags).
    pub fn of(spec: &CommandSpec, argv: &[&[u8]]) -> StateFacts {
        let mut facts = StateFacts {
            write: spec.is_write(),
            misconf_refused: spec.behavior.has(Behavior::MISCONF_REFUSED),
            deny_stale: !spec.flags.has(Flags::STALE),
            deny_loading: !spec.flags.has(Flags::LOADING),
            no_async_loading: spec.flags.has(Flags::NO_ASYNC_LOADING),
        };
        if spec.behavior.has(Behavior::RUNS_SCRIPT) {
            if let Some(declared) = super::script::declared_flags(spec, argv) {
                facts.write = !declared.no_writes;
                facts.deny_stale = !declared.allow_stale;
            }
        }
        facts
    }

    /// A write and/or a command refused on a stale replica, nothing else
    /// (a script's calls).
    pub fn only(write: bool, deny_stale: bool) -> StateFacts {
        StateFacts {
            write,
            misconf_refused: false,
            deny_stale,
            deny_loading: false,
            no_async_loading: false,
        }
    }

    /// Either's facts (EXEC: any queued command's).
    pub fn or(self, other: StateFacts) -> StateFacts {
        StateFacts {
            write: self.write || other.write,
            misconf_refused: self.misconf_refused || other.misconf_refused,
            deny_stale: self.deny_stale || other.deny_stale,
            deny_loading: self.deny_loading || other.deny_loading,
            no_async_loading: self.no_async_loading || other.no_async_loading,
        }
    }
}

/// The refusals that depend on the server's state rather than on the
/// request alone, in processCommand's order: MISCONF, NOREPLICAS, a
/// replica's READONLY and MASTERDOWN, then LOADING. EXEC runs them again with its
/// queue's facts, since the state may change while queuing.
pub fn state_refusal(conn: &Conn, f: StateFacts) -> Option<String> {
    node_refusal(&conn.rt.shared, &conn.settings, conn.from_master, f)
}

/// [`state_refusal`] without a connection at hand (a script's calls):
/// `from_master` for what the master link sends.
pub fn node_refusal(
    shared: &Shared,
    settings: &Settings,
    from_master: bool,
    f: StateFacts,
) -> Option<String> {
    // Persistence failing (MISCONF): writes, and PING as in Redis 7.0;
    // never for a replica's master link.
    if !from_master && (f.write || f.misconf_refused) {
        if let Some(err) = crate::persist::health::write_refusal(shared) {
            return Some(err);
        }
    }
    // min-replicas-to-write: not enough replicas acknowledged lately.
    if f.write && !from_master && lacks_good_replicas(shared, settings) {
        return Some(NOREPLICAS.into());
    }
    // A replica: READONLY for writes, MASTERDOWN while the link is down
    // (repl/replica).
    if shared.repl.replica.is_replica() {
        let refused = crate::repl::replica::refusal(
            shared,
            f.write,
            f.deny_stale,
            from_master,
            settings.replica_read_only,
            settings.replica_serve_stale,
        );
        if refused.is_some() {
            return refused;
        }
    }
    // Loading a dataset: a replica its master's RDB, any node its own at
    // start-up (repl/replica/loading.rs).
    let loading = &shared.repl.replica.loading;
    if loading.refuses(!f.deny_loading, f.no_async_loading) {
        return Some(crate::repl::replica::LOADING_ERR.into());
    }
    None
}

/// A load just started: requests wait for its first events instead of
/// -LOADING, as with Redis (`Loading::holds_requests`).
async fn hold_while_loading_starts(conn: &Conn) {
    let shared = &conn.rt.shared;
    let interval = || {
        shared.read_config(|c| c.int(crate::config::keys::LOADING_PROCESS_EVENTS_INTERVAL_BYTES))
    };
    while shared.repl.replica.loading.holds_requests(interval()) {
        glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
    }
}

/// Checks a request as Redis's `processCommand` does, in the same order:
/// lookup, arity, authentication, ACL; then decides where it runs.
fn plan(
    conn: &Conn,
    argv: &[&[u8]],
    routed: &mut Routed,
    cluster: crate::cluster::routing::ClientFlags,
) -> Plan {
    let spec = match table::resolve(argv) {
        Ok(spec) => spec,
        Err(e) => {
            // As Redis's lookup that found no command: CLIENT LIST cmd=NULL.
            conn.info.last_cmd.set("NULL");
            return Plan::Refused(None, e);
        }
    };
    conn.info.last_cmd.set(spec.name);
    if !arity_ok(spec, argv.len()) {
        return Plan::Refused(
            Some(spec),
            format!("ERR wrong number of arguments for '{}' command", spec.name).into_bytes(),
        );
    }
    if let Some(e) = super::protected::refusal(conn, spec) {
        return Plan::Refused(Some(spec), e);
    }
    if conn.auth_required() && !spec.flags.has(Flags::NO_AUTH) {
        return Plan::Refused(Some(spec), b"NOAUTH Authentication required.".to_vec());
    }
    if let Some(e) = super::acl::gate::refusal(conn, spec, argv) {
        return Plan::Refused(Some(spec), e);
    }
    // Cluster mode: requests with keys go to the slot's owner (not the
    // master link's: a replica applies its master's stream as it is).
    let rt = &conn.rt;
    routed.fill(rt, spec, argv);
    if rt.shared.cluster.is_some() && !conn.from_master {
        match redirect::route(conn, spec, routed, cluster) {
            None | Some(Route::Local) => {}
            Some(Route::Refuse(e)) => return Plan::Refused(Some(spec), e.into_bytes()),
            Some(Route::Open(open)) => {
                if let Handler::Shard(_) = spec.handler {
                    return Plan::OpenSlot(spec, open);
                }
            }
        }
    }
    if let Some(err) = state_refusal(conn, StateFacts::of(spec, argv)) {
        return Plan::Refused(Some(spec), err.into_bytes());
    }
    // A busy script holds the node (script/busy.rs); our master's stream
    // waits for it at the shard's gate instead, as Redis leaves the
    // master's input unread.
    if !spec.flags.has(Flags::ALLOW_BUSY) && !conn.from_master {
        if let Some(err) = rt.shared.busy.refusal() {
            return Plan::Refused(Some(spec), err.as_bytes().to_vec());
        }
    }
    // A replica's link may not touch the keyspace (Redis 7.0: it is
    // exempt from client pauses, which this would let it abuse).
    if conn.info.repl_role.get() == Some("replica")
        && [Flags::WRITE, Flags::READONLY, Flags::MAY_REPLICATE]
            .iter()
            .any(|&f| spec.flags.has(f))
    {
        return Plan::Refused(
            Some(spec),
            b"ERR Replica can't interact with the keyspace".to_vec(),
        );
    }
    match spec.handler {
        Handler::Conn(_) => Plan::Alone(spec),
        Handler::Shard(_) => match routed.single_shard(rt.id) {
            Some(shard) => Plan::OnShard(spec, shard),
            None => Plan::Spread(spec, routed.clone()),
        },
    }
}

/// Runs a group of refused and single-shard commands: the batch's
/// requests from `start` on, one per plan; `callers` is scratch room.
async fn run_group(
    conn: &mut Conn,
    batch: &Batch<'_>,
    start: usize,
    plans: &[Plan],
    planned: &[Option<redirect::Planned>],
    callers: &mut Vec<Caller>,
) {
    let rt = conn.rt.clone();
    let local = rt.id;
    // Who runs each command (CLIENT CACHING applies to the next one).
    callers.clear();
    callers.extend(plans.iter().map(|p| {
        let caller = tracking::caller(&conn.info, local);
        tracking::after_command(&conn.info, p.spec(), false);
        caller
    }));
    let cmds = (start..start + plans.len()).map(|i| batch.get(i));
    let all_local = plans
        .iter()
        .all(|p| !matches!(p, Plan::OnShard(_, s) if *s != local));
    if all_local {
        // Refusals alone (-BUSY among them) touch no data: they are
        // answered while a busy script holds the gate.
        let only_refused =
            rt.shared.busy.is_active() && plans.iter().all(|p| matches!(p, Plan::Refused(..)));
        if !only_refused {
            rt.wait_gate().await;
        }
        // A pipeline's lookups: their cache misses overlap instead of
        // following one another (Db::prefetch).
        if plans.len() > 1 {
            let keys = (start..start + plans.len())
                .zip(plans)
                .filter_map(|(i, p)| match p {
                    Plan::OnShard(spec, _) => batch.get(i).get(spec.first_key_index()?).copied(),
                    _ => None,
                });
            rt.prefetch(conn.db, keys);
        }
        let mut clock = rt.clock();
        let settings = conn.settings.clone();
        for (((argv, p), caller), planned) in cmds.zip(plans).zip(callers.iter()).zip(planned) {
            match p {
                Plan::Refused(spec, msg) => refuse(conn, *spec, msg),
                Plan::OnShard(spec, _) => {
                    rt.set_caller(*caller);
                    let (db, out) = (conn.db, &mut conn.out);
                    exec_planned(&rt, spec, argv, db, out, &mut clock, &settings, *planned);
                }
                Plan::Alone(_) | Plan::Spread(..) | Plan::OpenSlot(..) => unreachable!(),
            }
        }
        return;
    }
    let cmds: Vec<&[&[u8]]> = cmds.collect();
    Box::pin(run_group_remote(conn, &cmds, plans, planned, callers)).await
}

/// `run_group` when some commands belong to other shards.
async fn run_group_remote(
    conn: &mut Conn,
    cmds: &[&[&[u8]]],
    plans: &[Plan],
    planned: &[Option<redirect::Planned>],
    callers: &[Caller],
) {
    let rt = conn.rt.clone();
    let local = rt.id;
    // Pack the commands for each remote shard into one message.
    let mut batches: Vec<Option<RemoteBatch>> = (0..rt.nshards).map(|_| None).collect();
    let mut hops = 0;
    for (((argv, p), caller), planned) in cmds.iter().zip(plans).zip(callers).zip(planned) {
        if let Plan::OnShard(spec, s) = p {
            if *s != local {
                hops += 1;
                batches[*s]
                    .get_or_insert_with(RemoteBatch::default)
                    .push(spec, argv, *caller, *planned);
            }
        }
    }
    rt.note_hops(hops);
    let db = conn.db;
    let futs = batches.into_iter().enumerate().filter_map(|(s, b)| {
        let b = b?;
        let rt = rt.clone();
        let out = conn.out.part();
        Some(async move { (s, mesh::run_on(&rt, s, move |rt| b.run(rt, db, out)).await) })
    });
    let remote = futures::future::join_all(futs);

    // Meanwhile run the local ones, each into its own slice of a buffer.
    let rt2 = conn.rt.clone();
    rt2.wait_gate().await;
    let mut local_out = conn.out.part();
    let mut local_ends = Vec::new();
    let mut clock = rt2.clock();
    let settings = conn.settings.clone();
    for (((argv, p), caller), planned) in cmds.iter().zip(plans).zip(callers).zip(planned) {
        match p {
            Plan::OnShard(spec, s) if *s == local => {
                // Past the reply cap the client is closed unanswered: the
                // rest of its pipeline does not run (as Redis frees it).
                if !local_out.over_cap() {
                    rt2.set_caller(*caller);
                    let out = &mut local_out;
                    exec_planned(&rt2, spec, argv, db, out, &mut clock, &settings, *planned);
                }
                local_ends.push(local_out.buf.len());
            }
            _ => {}
        }
    }
    let mut remote: Vec<(usize, ShardReplies)> = remote.await;

    // Assemble in request order.
    let mut cursors = vec![(0usize, 0usize); rt2.nshards]; // (reply index, byte offset)
    let mut lcur = (0usize, 0usize);
    for p in plans {
        match p {
            Plan::Refused(spec, msg) => refuse(conn, *spec, msg),
            Plan::OnShard(_, s) if *s == local => {
                let end = local_ends[lcur.0];
                conn.out.buf.extend_from_slice(&local_out.buf[lcur.1..end]);
                lcur = (lcur.0 + 1, end);
            }
            Plan::OnShard(_, s) => {
                let (_, (bytes, ends)) = remote
                    .iter_mut()
                    .find(|(rs, _)| rs == s)
                    .expect("reply from shard");
                let c = &mut cursors[*s];
                let end = ends[c.0];
                conn.out.buf.extend_from_slice(&bytes[c.1..end]);
                *c = (c.0 + 1, end);
            }
            Plan::Alone(_) | Plan::Spread(..) | Plan::OpenSlot(..) => unreachable!(),
        }
    }
}

fn refuse(conn: &mut Conn, spec: Option<&'static CommandSpec>, msg: &[u8]) {
    let start = conn.out.buf.len();
    if behaves(spec, Behavior::RUNS_TRANSACTION) {
        conn.out
            .error(&transaction::exec_rejected(&String::from_utf8_lossy(msg)));
    } else {
        conn.out.error_bytes(msg);
    }
    let reply = conn.out.buf[start..].to_vec();
    conn.rt.count_rejected(refused_name(spec), &reply);
}

/// Runs a command that needs the connection or several shards.
pub(super) async fn run_alone(conn: &mut Conn, spec: &'static CommandSpec, argv: &[&[u8]]) {
    match spec.handler {
        Handler::Conn(_) => run_unit(conn, spec, argv, None).await,
        Handler::Shard(_) => {
            let routed = Routed::of(&conn.rt, spec, argv);
            run_unit(conn, spec, argv, Some(&routed)).await
        }
    }
}

/// Runs a shard command whose keys span shards, on the route planned.
async fn run_spread(conn: &mut Conn, spec: &'static CommandSpec, argv: &[&[u8]], routed: &Routed) {
    run_unit(conn, spec, argv, Some(routed)).await
}

/// `run_alone`'s run and accounting; `routed` is given for shard commands.
async fn run_unit(
    conn: &mut Conn,
    spec: &'static CommandSpec,
    argv: &[&[u8]],
    routed: Option<&Routed>,
) {
    let started = Instant::now();
    let mark = conn.out.buf.len();
    match (spec.handler, routed) {
        (Handler::Conn(h), _) => {
            let owned = argv.iter().map(|a| a.to_vec()).collect();
            h(conn, owned).await;
        }
        (Handler::Shard(_), Some(routed)) => {
            let home = conn.rt.id;
            if routed.shards().iter().any(|&s| s != home) {
                conn.rt.note_hops(1);
            }
            multishard::run(conn, spec, argv, routed).await
        }
        (Handler::Shard(_), None) => unreachable!("{} planned without a route", spec.name),
    }
    tracking::after_command(&conn.info, Some(spec), conn.tx.in_multi());
    let (db, id) = (conn.db, conn.info.id);
    // CLIENT REPLY ON may have dropped replies before its own.
    let mark = mark.min(conn.out.buf.len());
    conn.rt
        .count_call(spec, argv, db, id, started, &conn.out.buf[mark..]);
}

/// Commands for one remote shard, packed into one allocation.
#[derive(Default)]
pub struct RemoteBatch {
    data: Vec<u8>,
    arg_ends: Vec<usize>,
    cmds: Vec<(
        &'static CommandSpec,
        usize,
        Caller,
        Option<redirect::Planned>,
    )>,
}

impl RemoteBatch {
    /// `planned`: cluster mode's routing at planning, re-checked on the
    /// target shard.
    pub fn push(
        &mut self,
        spec: &'static CommandSpec,
        argv: &[&[u8]],
        caller: Caller,
        planned: Option<redirect::Planned>,
    ) {
        for a in argv {
            self.data.extend_from_slice(a);
            self.arg_ends.push(self.data.len());
        }
        self.cmds.push((spec, argv.len(), caller, planned));
    }

    /// Runs on the target shard: every command in order into `out` (a
    /// part of the client's buffer), each reply's end offset recorded.
    pub fn run(self, rt: &super::shard::ShardRt, db: usize, mut out: Out) -> (Vec<u8>, Vec<usize>) {
        let mut ends = Vec::with_capacity(self.cmds.len());
        let mut argv: Vec<&[u8]> = Vec::new();
        let mut arg = 0;
        let mut start = 0;
        let mut clock = rt.clock();
        let settings = rt.settings();
        for (spec, argc, caller, planned) in &self.cmds {
            argv.clear();
            for _ in 0..*argc {
                let end = self.arg_ends[arg];
                argv.push(&self.data[start..end]);
                start = end;
                arg += 1;
            }
            // Past the reply cap the client is closed unanswered.
            if !out.over_cap() {
                rt.set_caller(*caller);
                exec_planned(
                    rt, spec, &argv, db, &mut out, &mut clock, &settings, *planned,
                );
            }
            ends.push(out.buf.len());
        }
        (out.buf, ends)
    }
}

/// Runs a planned shard command, unless the slot table changed since
/// planning and the fresh decision is a redirect (redirect::recheck).
#[allow(clippy::too_many_arguments)]
fn exec_planned(
    rt: &super::shard::ShardRt,
    spec: &'static CommandSpec,
    argv: &[&[u8]],
    db: usize,
    out: &mut Out,
    clock: &mut super::shard::ExecClock,
    settings: &super::shard::Settings,
    planned: Option<redirect::Planned>,
) {
    if let Some(planned) = planned {
        if let Err(e) = redirect::recheck(rt, spec, argv, db, planned, clock.now_ms) {
            let start = out.buf.len();
            out.error(&e);
            rt.count_rejected(spec.name, &out.buf[start..]);
            return;
        }
    }
    rt.exec(spec, argv, db, out, clock, settings);
}

/// Whether command `name` starts a transaction (Some(true): MULTI) or
/// ends one (Some(false): EXEC, DISCARD), by its spec; for the replica,
/// which counts a transaction's stream bytes once it ends.
pub fn transaction_edge(name: &[u8]) -> Option<bool> {
    let spec = table::table().get(name)?;
    if spec.behavior.has(Behavior::STARTS_TRANSACTION) {
        Some(true)
    } else if spec.behavior.has(Behavior::ENDS_TRANSACTION) {
        Some(false)
    } else {
        None
    }
}
