//! EVAL / EVALSHA (and their _RO forms) as one atomic step.
//!
//! A script runs synchronously from start to end while it holds the data
//! of every shard it may touch, the way EXEC holds its shards
//! (transaction.rs): in standalone mode Redis 7.0 lets a script reach keys
//! it did not declare, so with several shards it holds all of them.
//!
//! - One shard: the script runs on the shard's own thread, inside one
//!   step (`mesh::run_on` to itself), its commands through `ShardRt::exec`
//!   like a transaction's.
//! - Several shards: the connection's thread takes every shard's data
//!   lock (direct.rs) and runs each `redis.call` on the owner's data
//!   (`direct::run_one`, or `direct::gathered` for a command whose keys
//!   span shards). While a snapshot runs the locks are refused; the step
//!   then waits and tries again.
//!
//! Every write goes through the effects step; the script's writes reach
//! the AOF and replicas as one MULTI/EXEC block (one write alone: as is),
//! Redis 7.0's effects replication.

use super::cache;
use super::engine::{self, Calls, Invocation, What};
use crate::resp::Out;
use crate::server::acl::check::Denial;
use crate::server::conn::Conn;
use crate::server::dispatch::StateFacts;
use crate::server::observe::monitor_script;
use crate::server::route::Routed;
use crate::server::shard::{ExecClock, Settings, ShardRt};
use crate::server::spec::{CommandSpec, Flags, Handler};
use crate::server::tracking::Caller;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Commands run on the script's own shard's thread.
struct OnOwner<'a> {
    rt: &'a Rc<ShardRt>,
    clock: ExecClock,
    settings: Rc<Settings>,
    caller: Caller,
    /// The caller's connection, for connection-level commands (None in
    /// a transaction's step).
    conn: Option<&'a mut Conn>,
    /// The script called a read-only command.
    read: bool,
}

impl Calls for OnOwner<'_> {
    fn call(&mut self, argv: &[&[u8]], db: usize, resp3: bool) -> Vec<u8> {
        let spec = crate::server::table::lookup(argv).expect("checked");
        if let Handler::Conn(h) = spec.handler {
            return conn_call(self.conn.as_deref_mut(), &[], spec, h, argv, db, resp3);
        }
        let mut out = Out::new(resp3);
        self.read |= spec.flags.has(Flags::READONLY);
        self.rt.set_caller(untracked(self.caller));
        let (rt, clock, settings) = (self.rt, &mut self.clock, &self.settings);
        rt.as_queued(|| rt.exec(spec, argv, db, &mut out, clock, settings));
        out.buf
    }
    fn databases(&self) -> usize {
        self.settings.databases
    }
    fn state_refusal(&self, facts: StateFacts) -> Option<String> {
        script_call_refusal(self.rt, &self.settings, self.conn.as_deref(), facts)
    }
    fn acl_denial(&self, spec: &CommandSpec, argv: &[&[u8]], log: bool) -> Option<Denial> {
        acl_denial(self.conn.as_deref(), spec, argv, log)
    }
    fn cluster_slot(
        &self,
        spec: &CommandSpec,
        argv: &[&[u8]],
        db: usize,
    ) -> Result<Option<u16>, String> {
        let now = self.clock.now_ms;
        cluster_slot(self.rt, self.conn.as_deref(), spec, argv, |k| {
            self.rt.core.borrow().store.dbs[db].peek(k, now).is_some()
        })
    }
    fn home(&self) -> Option<(&ShardRt, u64)> {
        Some((self.rt, self.caller.id))
    }
    fn track_declared(&mut self, keys: &[&[u8]]) {
        if self.read && self.caller.track_reads && !keys.is_empty() {
            let keys = keys.iter().map(|k| k.to_vec());
            crate::server::tracking::remember(self.rt, self.caller, keys);
        }
    }
}

/// Commands run by this thread on locked shards' data.
struct Locked<'a> {
    rt: &'a Rc<ShardRt>,
    clock: ExecClock,
    settings: Rc<Settings>,
    caller: Caller,
    pokes: Vec<usize>,
    conn: Option<&'a mut Conn>,
    /// The script called a read-only command.
    read: bool,
}

impl Calls for Locked<'_> {
    fn call(&mut self, argv: &[&[u8]], db: usize, resp3: bool) -> Vec<u8> {
        let spec = crate::server::table::lookup(argv).expect("checked");
        let rt = self.rt;
        if let Handler::Conn(h) = spec.handler {
            // Every other shard's data is locked by this thread.
            let others: Vec<usize> = (0..rt.nshards).filter(|&s| s != rt.id).collect();
            return conn_call(self.conn.as_deref_mut(), &others, spec, h, argv, db, resp3);
        }
        let mut out = Out::new(resp3);
        self.read |= spec.flags.has(Flags::READONLY);
        let routed = Routed::of(rt, spec, argv);
        let (clock, settings, caller) = (&mut self.clock, &self.settings, untracked(self.caller));
        match routed.single_shard(rt.id) {
            Some(shard) => {
                if crate::server::direct::run_one(
                    rt, shard, spec, argv, db, &mut out, clock, settings, caller,
                ) {
                    self.pokes.push(shard);
                }
            }
            None => {
                let mut by_shard = routed.keys_by_shard(argv);
                if routed.reaches_every_shard() {
                    crate::server::direct::add_data_keys_locked(
                        rt,
                        spec,
                        argv,
                        &routed,
                        db,
                        &mut by_shard,
                    );
                }
                let p = crate::server::direct::gathered(
                    rt, spec, argv, &by_shard, db, &mut out, clock, settings, caller, true,
                );
                self.pokes.extend(p);
            }
        }
        out.buf
    }
    fn databases(&self) -> usize {
        self.settings.databases
    }
    fn state_refusal(&self, facts: StateFacts) -> Option<String> {
        script_call_refusal(self.rt, &self.settings, self.conn.as_deref(), facts)
    }
    fn acl_denial(&self, spec: &CommandSpec, argv: &[&[u8]], log: bool) -> Option<Denial> {
        acl_denial(self.conn.as_deref(), spec, argv, log)
    }
    fn cluster_slot(
        &self,
        spec: &CommandSpec,
        argv: &[&[u8]],
        db: usize,
    ) -> Result<Option<u16>, String> {
        let (rt, now) = (self.rt, self.clock.now_ms);
        cluster_slot(rt, self.conn.as_deref(), spec, argv, |k| {
            let shard = rt.shard_of_slot(crate::slot::key_slot(k));
            let core = rt.shared.cores[shard].borrow_mut_held();
            core.store.dbs[db].peek(k, now).is_some()
        })
    }
    fn home(&self) -> Option<(&ShardRt, u64)> {
        Some((self.rt, self.caller.id))
    }
    fn track_declared(&mut self, keys: &[&[u8]]) {
        if !(self.read && self.caller.track_reads) || keys.is_empty() {
            return;
        }
        // Each key's shard remembers it when it takes up its share.
        let rt = self.rt;
        let mut by_shard: std::collections::BTreeMap<usize, Vec<Vec<u8>>> = Default::default();
        for k in keys {
            let shard = rt.shard_of_slot(crate::slot::key_slot(k));
            by_shard.entry(shard).or_default().push(k.to_vec());
        }
        for (shard, keys) in by_shard {
            let mut core = rt.shared.cores[shard].borrow_mut_held();
            core.listeners = true;
            core.deferred.push(crate::server::effects::Deferred::Read {
                caller: self.caller,
                keys,
            });
            if shard != rt.id {
                self.pokes.push(shard);
            }
        }
    }
}

/// Cluster mode's check of a script's call; our master's scripts are
/// obeyed (Redis's mustObeyClient). Inside a transaction's step (no
/// connection at hand) the caller's ASKING / READONLY are not known.
fn cluster_slot(
    rt: &ShardRt,
    conn: Option<&Conn>,
    spec: &CommandSpec,
    argv: &[&[u8]],
    exists: impl Fn(&[u8]) -> bool,
) -> Result<Option<u16>, String> {
    if rt.shared.cluster.is_none() || conn.is_some_and(|c| c.from_master) {
        return Ok(None);
    }
    let flags = conn.map(|c| c.cluster).unwrap_or_default();
    crate::server::redirect::script_call(rt, spec, argv, flags, exists)
}

/// The caller as its script's commands run: their keys are not the
/// caller's reads (see `Calls::track_declared`), and MONITOR shows them
/// as the script's.
fn untracked(caller: Caller) -> Caller {
    Caller {
        track_reads: false,
        script: true,
        ..caller
    }
}

/// A connection-level command called by the script. Redis runs it on the
/// script's own client; here its handler runs on the caller's connection
/// with the script's db and protocol, its reply kept apart, to its end
/// at once (`mesh::run_in_script`): one that needs another shard's thread
/// waits for it (the script pauses on its stack, the node held for it);
/// one that would wait for anything else is answered with an error
/// instead. `locked`: the other shards whose data this thread holds.
#[allow(clippy::too_many_arguments)]
fn conn_call(
    conn: Option<&mut Conn>,
    locked: &[usize],
    spec: &'static CommandSpec,
    h: crate::server::spec::ConnFn,
    argv: &[&[u8]],
    db: usize,
    resp3: bool,
) -> Vec<u8> {
    let mut out = Out::new(resp3);
    let Some(conn) = conn else {
        out.error(&format!(
            "ERR Shardis does not run '{}' from scripts inside MULTI yet",
            spec.name
        ));
        return out.buf;
    };
    let started = Instant::now();
    // The script's client has no subscriptions of its own: messages for
    // the caller (a RESP3 subscriber publishing to its own channel) stay
    // in the caller's queue and reach it before the script's reply.
    let script_client = crate::server::pubsub::ConnPubsub::new(conn.info.clone());
    let caller_pubsub = std::mem::replace(&mut conn.pubsub, script_client);
    let caller_out = std::mem::replace(&mut conn.out, Out::new(resp3));
    let caller_db = std::mem::replace(&mut conn.db, db);
    let owned = argv.iter().map(|a| a.to_vec()).collect();
    // On its own stack the script can wait for other shards' threads.
    let pause = super::fiber::can_pause().then_some(super::fiber::pause as fn());
    let rt = conn.rt.clone();
    let ran = crate::server::mesh::run_in_script(&rt, locked, pause, h(conn, owned));
    if pause.is_some() {
        super::timeout::after_wait();
    }
    let reply = std::mem::replace(&mut conn.out, caller_out).buf;
    conn.db = caller_db;
    conn.pubsub = caller_pubsub;
    conn.pubsub.sub.drain_into(&mut conn.out);
    match ran {
        Ok(()) => {
            conn.rt
                .count_call(spec, argv, db, conn.info.id, started, &reply);
            reply
        }
        Err(other_shard) => {
            let why = if other_shard {
                "only with one shard so far"
            } else {
                "where it would wait"
            };
            out.error(&format!(
                "ERR Shardis runs '{}' from scripts {why}",
                spec.name
            ));
            out.buf
        }
    }
}

/// The caller's ACL verdict on a command its script calls (Redis checks
/// the script's client as the caller's user).
fn acl_denial(
    conn: Option<&Conn>,
    spec: &CommandSpec,
    argv: &[&[u8]],
    log: bool,
) -> Option<Denial> {
    let conn = conn?;
    let d = crate::server::acl::gate::denial(conn, spec, argv)?;
    if log {
        crate::server::acl::gate::log_denial(conn, spec, argv, d, "lua");
    }
    Some(d)
}

/// A script's call refused by the server's state (the caller's master
/// link is obeyed, as Redis's mustObeyClient).
fn script_call_refusal(
    rt: &ShardRt,
    settings: &Settings,
    conn: Option<&Conn>,
    facts: StateFacts,
) -> Option<String> {
    let from_master = conn.is_some_and(|c| c.from_master);
    crate::server::dispatch::node_refusal(&rt.shared, settings, from_master, facts)
}

/// Redis's scriptPrepareForRun: the server's state checked against what
/// the script declares, before it runs (inside EXEC too).
fn refused_before_run(rt: &ShardRt, p: &Prepared) -> Option<&'static str> {
    let f = p.flags;
    let settings = rt.settings();
    let shared = &rt.shared;
    let stale = crate::repl::replica::refusal(
        shared.as_ref(),
        false,
        true,
        false,
        settings.replica_read_only,
        settings.replica_serve_stale,
    )
    .is_some();
    if f.compat {
        return stale.then_some(crate::repl::replica::MASTERDOWN_ERR);
    }
    if stale && !f.allow_stale {
        return Some(
            "MASTERDOWN Link with MASTER is down, replica-serve-stale-data is set to 'no' and 'allow-stale' flag is not set on the script.",
        );
    }
    if f.no_writes {
        return None;
    }
    if shared.repl.replica.is_replica() && settings.replica_read_only {
        return Some("READONLY Can not run script with write flag on readonly replica");
    }
    crate::server::dispatch::lacks_good_replicas(shared, &settings)
        .then_some(crate::server::dispatch::NOREPLICAS)
}

/// What an EVAL needs once its arguments are checked.
pub(super) struct Prepared {
    /// Over `maxmemory` when it started.
    oom: bool,
    what: What,
    flags: cache::ScriptFlags,
    numkeys: usize,
}

/// Checks EVAL's arguments and finds (or compiles and caches) the script;
/// Err is the error reply.
pub(super) fn prepare(
    args: &[Vec<u8>],
    by_sha: bool,
    ro: bool,
    cluster: bool,
) -> Result<Prepared, String> {
    let numkeys =
        crate::resp::parse_i64(&args[2]).ok_or("ERR value is not an integer or out of range")?;
    if numkeys > (args.len() - 3) as i64 {
        return Err("ERR Number of keys can't be greater than number of args".into());
    }
    if numkeys < 0 {
        return Err("ERR Number of keys can't be negative".into());
    }
    let noscript = "NOSCRIPT No matching script. Please use EVAL.";
    let (sha, script) = if by_sha {
        if args[1].len() != 40 {
            return Err(noscript.into());
        }
        let script = cache::get(&args[1]).ok_or(noscript)?;
        let sha: [u8; 40] = args[1].to_ascii_lowercase().try_into().expect("40");
        (sha, script)
    } else {
        load(&args[1])?
    };
    let flags = script.flags;
    check_flags(flags, ro, cluster)?;
    Ok(Prepared {
        oom: false,
        what: What::Script { sha, script },
        flags,
        numkeys: numkeys as usize,
    })
}

/// The shebang (or function) flags' checks before a run
/// (scriptPrepareForRun).
fn check_flags(f: cache::ScriptFlags, ro: bool, cluster: bool) -> Result<(), String> {
    if !f.compat {
        if f.no_cluster && cluster {
            return Err("ERR Can not run script on cluster, 'no-cluster' flag is set.".into());
        }
        if !f.no_writes && ro {
            return Err("ERR Can not execute a script with write flag using *_ro command.".into());
        }
    }
    Ok(())
}

/// Checks FCALL's arguments and finds the function; Err is the error
/// reply.
pub(super) fn prepare_fcall(args: &[Vec<u8>], ro: bool, cluster: bool) -> Result<Prepared, String> {
    let found = super::library::find(&args[1]).ok_or("ERR Function not found")?;
    let numkeys = crate::resp::parse_i64(&args[2]).ok_or("ERR Bad number of keys provided")?;
    if numkeys > (args.len() - 3) as i64 {
        return Err("ERR Number of keys can't be greater than number of args".into());
    }
    if numkeys < 0 {
        return Err("ERR Number of keys can't be negative".into());
    }
    let flags = found.info().flags;
    check_flags(flags, ro, cluster)?;
    Ok(Prepared {
        oom: false,
        what: What::Function(found),
        flags,
        numkeys: numkeys as usize,
    })
}

/// SCRIPT LOAD and EVAL of a new body: checks and compiles it here, then
/// caches it for every shard. Err is the error reply.
pub fn load(body: &[u8]) -> Result<([u8; 40], std::sync::Arc<cache::Script>), String> {
    let sha = cache::sha1hex(body);
    if let Some(s) = cache::get(&sha) {
        return Ok((sha, s));
    }
    let script = cache::prepare(body).map_err(|e| format!("ERR {e}"))?;
    engine::compile(&sha, &script)?;
    Ok((sha, cache::insert(sha, script)))
}

/// EVAL, EVALSHA, EVAL_RO, EVALSHA_RO.
pub async fn eval(conn: &mut Conn, args: Vec<Vec<u8>>, by_sha: bool, ro: bool) {
    monitor_caller(conn, &args);
    let cluster = conn.rt.shared.cluster.is_some();
    match prepare(&args, by_sha, ro, cluster) {
        Ok(p) => run_prepared(conn, p, args, ro).await,
        Err(e) => conn.out.error(&e),
    }
}

/// FCALL, FCALL_RO.
pub async fn fcall(conn: &mut Conn, args: Vec<Vec<u8>>, ro: bool) {
    monitor_caller(conn, &args);
    let cluster = conn.rt.shared.cluster.is_some();
    match prepare_fcall(&args, ro, cluster) {
        Ok(p) => run_prepared(conn, p, args, ro).await,
        Err(e) => conn.out.error(&e),
    }
}

/// MONITOR's line of the caller's EVAL or FCALL, fed before its script
/// runs (the command's spec skips the usual feed after it ran).
fn monitor_caller(conn: &Conn, args: &[Vec<u8>]) {
    monitor_script(&conn.rt, conn.db, conn.info.id, args);
}

/// Runs a checked EVAL or FCALL as one atomic step.
async fn run_prepared(conn: &mut Conn, mut p: Prepared, args: Vec<Vec<u8>>, ro: bool) {
    let rt = conn.rt.clone();
    if let Some(e) = refused_before_run(&rt, &p) {
        return conn.out.error(e);
    }
    // Evicts first, as Redis before any command; a script with flags that
    // may write is refused while still over the limit, one without them
    // fails at its first write that may grow memory (engine.rs).
    p.oom = !crate::server::evict::admit_on_conn(&rt, true).await;
    let f = p.flags;
    if p.oom && !f.compat && !f.allow_oom && !f.no_writes {
        return conn.out.error(
            "OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'",
        );
    }
    let (db, resp3) = (conn.db, conn.out.resp3);
    let caller = crate::server::tracking::caller(&conn.info, rt.id);
    let (name, eval, from_master) = (watched_name(&p), is_eval(&p), conn.from_master);
    if rt.nshards == 1 {
        // The one shard is this thread's: the script runs here once its
        // gate is open, as `mesh::run_on` to itself would run it.
        rt.wait_gate().await;
        let reply = super::fiber::run(|| {
            let _watch = super::timeout::watch(&rt, &args, name, eval, from_master);
            run_on_owner(&rt, &p, &args, ro, db, resp3, caller, conn)
        })
        .await;
        return conn.out.raw(&reply);
    }
    let all: Vec<usize> = (0..rt.nshards).collect();
    let locked = loop {
        if let Some(l) = crate::server::direct::lock(&rt, &all).await {
            break l;
        }
        // A snapshot is running (or the shards stayed busy): wait.
        glommio::timer::sleep(Duration::from_millis(1)).await;
    };
    rt.shared.busy.set_script_locks(true);
    let mut calls = Locked {
        rt: &rt,
        clock: rt.clock(),
        settings: rt.settings(),
        caller,
        pokes: Vec::new(),
        conn: Some(&mut *conn),
        read: false,
    };
    let capturing = rt.begin_capture();
    let reply = super::fiber::run(|| {
        let _watch = super::timeout::watch(&rt, &args, name, eval, from_master);
        invoke(&p, &args, ro, db, resp3, &mut calls)
    })
    .await;
    if capturing {
        rt.shared.aof.log.append_records(&rt.end_capture(), true);
    }
    let mut pokes = std::mem::take(&mut calls.pokes);
    drop(calls);
    // Before the locks go: another script may take them at once.
    rt.shared.busy.set_script_locks(false);
    drop(locked);
    pokes.sort_unstable();
    pokes.dedup();
    conn.out.raw(&reply);
    crate::server::direct::after_step(&rt, pokes).await;
}

/// The name a busy script goes by (log, FUNCTION STATS): the SHA or the
/// function's name.
pub(super) fn watched_name(p: &Prepared) -> String {
    match &p.what {
        What::Script { sha, .. } => String::from_utf8_lossy(sha).into_owned(),
        What::Function(found) => found.info().name.clone(),
    }
}

/// EVAL / EVALSHA (and _RO), not FCALL.
pub(super) fn is_eval(p: &Prepared) -> bool {
    matches!(p.what, What::Script { .. })
}

pub(super) fn invoke(
    p: &Prepared,
    args: &[Vec<u8>],
    ro: bool,
    db: usize,
    resp3: bool,
    calls: &mut dyn Calls,
) -> Vec<u8> {
    let keys: Vec<&[u8]> = args[3..3 + p.numkeys]
        .iter()
        .map(|a| a.as_slice())
        .collect();
    let argv: Vec<&[u8]> = args[3 + p.numkeys..].iter().map(|a| a.as_slice()).collect();
    let inv = Invocation {
        what: p.what.clone(),
        keys: &keys,
        args: &argv,
        ro,
        db,
        client_resp3: resp3,
        oom: p.oom,
    };
    let reply = engine::run(&inv, calls);
    calls.track_declared(&keys);
    reply
}

/// The script in one step on this (the only) shard's thread.
#[allow(clippy::too_many_arguments)]
fn run_on_owner(
    rt: &Rc<ShardRt>,
    p: &Prepared,
    args: &[Vec<u8>],
    ro: bool,
    db: usize,
    resp3: bool,
    caller: Caller,
    conn: &mut Conn,
) -> Vec<u8> {
    let capturing = rt.begin_capture();
    rt.begin_unit();
    let mut calls = OnOwner {
        rt,
        clock: rt.clock(),
        settings: rt.settings(),
        caller,
        conn: Some(conn),
        read: false,
    };
    let reply = invoke(p, args, ro, db, resp3, &mut calls);
    if capturing {
        rt.shared.aof.log.append_records(&rt.end_capture(), true);
    }
    rt.end_unit();
    reply
}

/// EVAL inside EXEC: the transaction holds every shard. With one shard the
/// hold is this thread's, so the script runs here, its writes joining the
/// transaction's block.
pub async fn eval_in_exec(conn: &mut Conn, args: &[Vec<u8>], by_sha: bool, ro: bool) {
    monitor_caller(conn, args);
    let cluster = conn.rt.shared.cluster.is_some();
    let p = match prepare(args, by_sha, ro, cluster) {
        Ok(p) => p,
        Err(e) => return conn.out.error(&e),
    };
    in_exec_prepared(conn, p, args, ro).await
}

/// FCALL inside EXEC (see [`eval_in_exec`]).
pub async fn fcall_in_exec(conn: &mut Conn, args: &[Vec<u8>], ro: bool) {
    monitor_caller(conn, args);
    let cluster = conn.rt.shared.cluster.is_some();
    let p = match prepare_fcall(args, ro, cluster) {
        Ok(p) => p,
        Err(e) => return conn.out.error(&e),
    };
    in_exec_prepared(conn, p, args, ro).await
}

async fn in_exec_prepared(conn: &mut Conn, p: Prepared, args: &[Vec<u8>], ro: bool) {
    let rt = conn.rt.clone();
    if let Some(e) = refused_before_run(&rt, &p) {
        return conn.out.error(e);
    }
    if rt.nshards != 1 {
        return conn
            .out
            .error("ERR Shardis runs scripts inside MULTI only with one shard so far");
    }
    let (db, resp3) = (conn.db, conn.out.resp3);
    let caller = crate::server::tracking::caller(&conn.info, rt.id);
    let mut calls = OnOwner {
        rt: &rt,
        clock: rt.clock(),
        settings: rt.settings(),
        caller,
        conn: Some(&mut *conn),
        read: false,
    };
    let reply = invoke(&p, args, ro, db, resp3, &mut calls);
    drop(calls);
    conn.out.raw(&reply);
}

/// A script queued in MULTI, run by EXEC inside its step: on the only
/// shard's thread (`locked` false) or with every shard's data locked by
/// this thread. Its writes join the transaction's block. Returns the
/// reply and the shards to poke afterwards.
#[allow(clippy::too_many_arguments)]
pub fn in_step(
    rt: &Rc<ShardRt>,
    spec: &crate::server::spec::CommandSpec,
    args: &[Vec<u8>],
    db: usize,
    resp3: bool,
    caller: Caller,
    locked: bool,
) -> (Vec<u8>, Vec<usize>) {
    let (by_sha, ro) = kind(spec);
    monitor_script(rt, db, caller.id, args);
    let cluster = rt.shared.cluster.is_some();
    let prepared = if spec.name.starts_with("fcall") {
        prepare_fcall(args, ro, cluster)
    } else {
        prepare(args, by_sha, ro, cluster)
    };
    let p = match prepared {
        Ok(p) => p,
        Err(e) => {
            let mut out = Out::new(resp3);
            out.error(&e);
            return (out.buf, Vec::new());
        }
    };
    if let Some(e) = refused_before_run(rt, &p) {
        let mut out = Out::new(resp3);
        out.error(e);
        return (out.buf, Vec::new());
    }
    if locked {
        let mut calls = Locked {
            rt,
            clock: rt.clock(),
            settings: rt.settings(),
            caller,
            pokes: Vec::new(),
            conn: None,
            read: false,
        };
        let reply = invoke(&p, args, ro, db, resp3, &mut calls);
        (reply, calls.pokes)
    } else {
        let mut calls = OnOwner {
            rt,
            clock: rt.clock(),
            settings: rt.settings(),
            caller,
            conn: None,
            read: false,
        };
        (invoke(&p, args, ro, db, resp3, &mut calls), Vec::new())
    }
}

/// (by SHA, read-only) for EVAL, EVALSHA, EVAL_RO, EVALSHA_RO (and
/// FCALL, FCALL_RO).
pub(super) fn kind(spec: &crate::server::spec::CommandSpec) -> (bool, bool) {
    let name = spec.name;
    (name.starts_with("evalsha"), name.ends_with("_ro"))
}
