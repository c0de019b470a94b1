//! Executors, listeners, connections, the shard mesh and routing.
//!
//! `run` starts one glommio executor per data shard. Each joins the
//! channel mesh, opens its own listeners on the shared port, and serves
//! the connections the kernel hands it.

pub mod aof_replay;
pub mod blocked_redirect;
pub mod blocking;
mod bus_host;
pub mod client_mem;
pub mod clients;
pub mod cluster_follow;
pub mod conn;
pub mod ctx;
pub mod direct;
pub(crate) mod dispatch;
pub mod effects;
pub mod evict;
pub mod handover;
pub mod histogram;
mod input;
pub mod listen;
pub mod master_errors;
pub mod mesh;
pub mod monitor;
mod multishard;
pub mod notify;
pub mod observe;
pub mod order;
mod outbox;
pub mod pause;
mod persist_host;
pub mod probe;
pub mod protected;
pub mod pubsub;
mod redirect;
pub mod relisten;
mod repl_host;
mod requests;
pub mod route;
pub mod shard;
pub mod shard_lock;
pub mod shared;
pub mod shutdown;
pub mod slowlog;
mod snapshot_hook;
pub mod spec;
pub mod stream;
pub mod table;
pub mod tracking;
pub mod transaction;
pub mod unsent;

use crate::config::keys as conf;
use crate::config::Config;
use crate::sys::{cpus, log};
use glommio::channels::channel_mesh::MeshBuilder;
use glommio::{LocalExecutorBuilder, Placement};
use shard::ShardRt;
use shared::Shared;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use stream::{ClientListener, ClientStream};

/// Capacity of each shard-to-shard channel, in messages (each message
/// carries a whole batch of commands).
const MESH_CAPACITY: usize = 1024;

/// Runs the server until SHUTDOWN or a signal ends the process.
pub fn run(config: Config) -> Result<(), String> {
    probe::check_io_uring()?;
    let nshards = config.shard_count();
    // The cluster bus runs one more executor (cluster/control.rs).
    crate::sys::memlock::plan(nshards + usize::from(config.flag(conf::CLUSTER_ENABLED)))?;
    let cpus = cpus::affinity_cpus();
    // Pin only when every executor (shards + control) gets a core. A
    // cluster node usually shares its host with other nodes (the seed runs
    // three per host), each of which would pin to the same first cores:
    // cluster nodes float.
    let pin = !config.flag(conf::CLUSTER_ENABLED)
        && cpus.len() > nshards
        && cpus::cgroup_quota_cpus().is_none_or(|q| q > nshards);
    let listening = claim_listening(&config, nshards)?;
    let port = config.int(conf::PORT) as u16;
    // SAFETY: isatty only asks about descriptor 1.
    let tty = unsafe { libc::isatty(1) } == 1 && config.text(conf::LOGFILE).is_empty();
    log::banner(
        config.flag(conf::ALWAYS_SHOW_LOGO) || tty,
        if config.flag(conf::CLUSTER_ENABLED) {
            "cluster"
        } else {
            "standalone"
        },
        port,
        nshards,
    );
    // Load `dir/dbfilename` (cwd is `dir`) before any shard serves; each
    // shard installs its own keys below (persist/snapshot.rs).
    // With `appendonly yes` the AOF alone is loaded, as in Redis.
    let load_started = std::time::Instant::now();
    let (preload, aof_files, rdb_stats) = load_at_start(&config, nshards)?;
    let replica_at_start = !config.text(conf::REPLICAOF).is_empty();
    let loaded_from_disk = preload.is_some();
    let preload = Arc::new(std::sync::Mutex::new(preload));
    let policy = crate::persist::aof::log::FsyncPolicy::parse(&config.text(conf::APPENDFSYNC));
    cpus::set_control_cpus(if pin {
        cpus[nshards..].to_vec()
    } else {
        Vec::new()
    });
    crate::sys::connect::set_source(&config.text(conf::BIND_SOURCE_ADDR));
    let cluster = open_cluster(&config, &preload)?;
    let shared = Arc::new(Shared::new(config, nshards, pin, cluster));
    if let Some(stats) = &rdb_stats {
        crate::repl::rdb_info::restore(&*shared, stats, replica_at_start);
    }
    if let Some(c) = &shared.cluster {
        let weak = Arc::downgrade(&shared);
        let _ = c.on_promotion.set(Box::new(move || {
            if let Some(shared) = weak.upgrade() {
                crate::repl::replica::unset_master(&shared, "cluster failover");
            }
        }));
    }
    shared
        .aof
        .log
        .set_timestamps(shared.read_config(|c| c.flag(conf::AOF_TIMESTAMP_ENABLED)));
    if let Some(files) = aof_files {
        shared.aof.start(files, policy);
    }

    // Cluster mode: Pub/Sub between the shards and the bus executor.
    let (bus_pub_shards, bus_pub_control) = if shared.cluster.is_some() {
        let (shards, control) = crate::cluster::pubsub_link::channels(nshards);
        (shards.into_iter().map(Some).collect(), Some(control))
    } else {
        (Vec::new(), None)
    };
    let bus_pub_shards = Arc::new(std::sync::Mutex::new(bus_pub_shards));
    let mesh = MeshBuilder::full(nshards, MESH_CAPACITY);
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
    let (joined_tx, joined_rx) = mpsc::channel::<()>();
    // No shard serves before every shard has its keys: a multi-shard step
    // reads other shards' data directly (server/direct.rs).
    let installed = Arc::new(std::sync::Barrier::new(nshards));
    let mut handles = Vec::new();
    for i in 0..nshards {
        let placement = if pin {
            Placement::Fixed(cpus[i % cpus.len()])
        } else {
            Placement::Unbound
        };
        let (shared, mesh, listening, ready, preload, bus_pub) = (
            shared.clone(),
            mesh.clone(),
            listening.clone(),
            ready_tx.clone(),
            preload.clone(),
            bus_pub_shards.clone(),
        );
        let joined = joined_tx.clone();
        let installed = installed.clone();
        let builder = LocalExecutorBuilder::new(placement)
            .name(&format!("shard-{i}"))
            .io_memory(crate::sys::memlock::IO_MEMORY)
            .ring_depth(crate::sys::memlock::ring_depth());
        let h = builder
            .spawn(move || {
                serve_shard(ShardStart {
                    nshards,
                    shared,
                    mesh,
                    listening,
                    ready,
                    joined,
                    installed,
                    preload,
                    bus_pub,
                })
            })
            .map_err(|e| crate::sys::memlock::explain_executor_error(&e.to_string()))?;
        handles.push(h);
    }
    drop(ready_tx);
    drop(joined_tx);
    wait_for_mesh(&joined_rx, nshards)?;
    for _ in 0..nshards {
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err("a shard stopped during start-up".into()),
        }
    }
    if let Some(cluster) = shared.cluster.clone() {
        let bus_port = shared.read_config(crate::cluster::ClusterSettings::listen_bus_port);
        let bus_binds = crate::sys::bind_addr::bind_addrs(
            &shared.read_config(|c| c.text(conf::BIND)),
            bus_port,
        )?;
        listen::claim(&bus_binds)?;
        let ends = bus_pub_control.expect("cluster pubsub channels");
        let backlog = shared.read_config(|c| c.int(conf::TCP_BACKLOG) as i32);
        crate::cluster::control::start(shared.clone(), cluster, bus_binds, backlog, ends)?;
    }
    if loaded_from_disk {
        crate::notice!(
            "DB loaded from disk: {:.3} seconds",
            load_started.elapsed().as_secs_f64()
        );
    }
    crate::notice!(
        "Shardis {} started: {} shard(s), {}, port {}",
        env!("CARGO_PKG_VERSION"),
        nshards,
        if pin { "pinned" } else { "floating" },
        port
    );
    crate::notice!("Ready to accept connections");
    shared.serving.store(true, Ordering::Release);
    std::thread::spawn(move || probe::wait_for_signals(shared));
    for h in handles {
        let _ = h.join();
    }
    Ok(())
}

/// What one shard's thread starts from.
struct ShardStart {
    nshards: usize,
    shared: Arc<Shared>,
    mesh: MeshBuilder<mesh::Job, glommio::channels::channel_mesh::Full>,
    listening: Listening,
    /// Start-up's outcome for this shard (`run` waits for every shard's).
    ready: mpsc::Sender<Result<(), String>>,
    /// Said once the shard joined the mesh.
    joined: mpsc::Sender<()>,
    /// Every shard has installed its loaded keys.
    installed: Arc<std::sync::Barrier>,
    /// The keys loaded from disk, by shard.
    preload: Arc<std::sync::Mutex<Option<Vec<Vec<crate::persist::rdb::file::LoadedKey>>>>>,
    /// Cluster mode: this shard's Pub/Sub link to the bus executor.
    bus_pub: Arc<std::sync::Mutex<Vec<Option<crate::cluster::pubsub_link::ShardEnds>>>>,
}

/// One shard's thread: join the mesh, install its keys, start its tasks,
/// listen, then serve connections until the process ends.
async fn serve_shard(start: ShardStart) {
    let ShardStart {
        nshards,
        shared,
        mesh,
        listening,
        ready,
        joined,
        installed,
        preload,
        bus_pub,
    } = start;
    let (senders, mut receivers) = match crate::sys::ticker::with_ticker(mesh.join()).await {
        Ok(x) => x,
        Err(e) => {
            let _ = ready.send(Err(format!("joining the shard mesh failed: {e:?}")));
            return;
        }
    };
    let _ = joined.send(());
    // A shard's id is its place in the mesh: slots follow it.
    let id = senders.peer_id();
    let rt = Rc::new(ShardRt::new(id, nshards, shared, senders));
    // This shard's keys from the RDB file, if one was loaded.
    let keys = preload
        .lock()
        .ok()
        .and_then(|mut p| p.as_mut().map(|v| std::mem::take(&mut v[id])));
    if let Some(keys) = keys {
        let lru = rt.lru_clock();
        crate::persist::snapshot::install(&mut rt.core.borrow_mut().store, keys, lru);
    }
    installed.wait();
    for (_, rx) in receivers.streams() {
        crate::sys::exec::spawn(mesh::serve_peer(rt.clone(), rx)).detach();
    }
    crate::sys::exec::spawn(order::serve(rt.clone())).detach();
    notify::install(&rt);
    let ends = bus_pub
        .lock()
        .ok()
        .and_then(|mut v| v.get_mut(id).and_then(Option::take));
    if let Some(ends) = ends {
        pubsub::connect_bus(&rt, ends);
    }
    spawn_crons(&rt);
    let listeners = match open_listeners(id, &listening) {
        Ok(l) => l,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    for l in listeners {
        let tcp = l.tcp_fd();
        let task = crate::sys::exec::spawn(accept_loop(rt.clone(), l));
        match tcp {
            Some(fd) => rt.tcp_accepts.borrow_mut().push((task, fd)),
            None => {
                task.detach();
            }
        }
    }
    // The shard serves through its spawned tasks from here on.
    futures::future::pending::<()>().await;
}

/// The data on disk, each shard's keys apart: the AOF with `appendonly
/// yes` (and its files, which the log goes on appending to), else
/// `dbfilename` if it exists, with what loading it found (its
/// replication fields, the keys that had expired).
#[allow(clippy::type_complexity)]
fn load_at_start(
    config: &Config,
    nshards: usize,
) -> Result<
    (
        Option<Vec<Vec<crate::persist::rdb::file::LoadedKey>>>,
        Option<crate::persist::aof::files::AofFiles>,
        Option<crate::persist::rdb::file::LoadStats>,
    ),
    String,
> {
    if config.flag(conf::APPENDONLY) {
        let opened = aof_replay::open_at_start(config, nshards, 1 << 24)?;
        Ok((Some(opened.keys), Some(opened.files), None))
    } else {
        Ok(match load_rdb(config, nshards)? {
            Some(p) => (Some(p.per_shard), None, Some(p.stats)),
            None => (None, None, None),
        })
    }
}

/// Cluster mode: the node's cluster state (nodes.conf), refusing loaded
/// keys in slots it does not own, as Redis's verifyClusterConfigWithData.
fn open_cluster(
    config: &Config,
    preload: &std::sync::Mutex<Option<Vec<Vec<crate::persist::rdb::file::LoadedKey>>>>,
) -> Result<Option<Arc<crate::cluster::Cluster>>, String> {
    Ok(if config.flag(conf::CLUSTER_ENABLED) {
        let c = crate::cluster::Cluster::open(config)?;
        if let Some(keys) = preload.lock().unwrap().as_ref() {
            let keys = keys.iter().flatten();
            c.verify_data(keys.map(|k| (k.db, crate::slot::key_slot(&k.key))))?;
        }
        Some(Arc::new(c))
    } else {
        None
    })
}

/// Claims the client port on every bind address, the unix socket and, in
/// cluster mode, the bus port, before any listener serves: a node that
/// cannot have them all stops without answering anywhere.
fn claim_listening(config: &Config, nshards: usize) -> Result<Listening, String> {
    let port = config.int(conf::PORT) as u16;
    let backlog = config.int(conf::TCP_BACKLOG) as i32;
    // `port 0`: no TCP listener (the unix socket only), as in Redis.
    let binds = match port {
        0 => Vec::new(),
        _ => crate::sys::bind_addr::bind_addrs(&config.text(conf::BIND), port)?,
    };
    listen::claim(&binds)?;
    // Every shard's TCP sockets listen from here on, before the banner's
    // PID line and the data load: a client (or Redis's test harness, which
    // connects once it sees that line) waits in the backlog until its
    // shard serves, instead of being refused, as with redis-server, which
    // listens before it loads.
    let tcp = (0..nshards)
        .map(|_| listen::listen_all(&binds, port, backlog))
        .collect::<Result<Vec<_>, String>>()?;
    let unixsocket = config.text(conf::UNIXSOCKET);
    if !unixsocket.is_empty() {
        listen::claim_unix(&unixsocket)?;
    }
    let unixsocketperm = u32::from_str_radix(&config.text(conf::UNIXSOCKETPERM), 8).unwrap_or(0);
    if config.flag(conf::CLUSTER_ENABLED) {
        let bus_port = crate::cluster::ClusterSettings::listen_bus_port(config);
        listen::claim(&crate::sys::bind_addr::bind_addrs(
            &config.text(conf::BIND),
            bus_port,
        )?)?;
    }
    Ok(Listening {
        tcp: Arc::new(std::sync::Mutex::new(tcp)),
        unixsocket,
        unixsocketperm,
    })
}

/// A shard's own cron, and on shard 0 the node-wide tasks.
fn spawn_crons(rt: &Rc<ShardRt>) {
    let id = rt.id;
    crate::sys::exec::spawn(rt.clone().expire_cron()).detach();
    crate::sys::exec::spawn(client_mem::cron(rt.clone())).detach();
    if rt.shared.cluster.is_some() {
        // Waiters on slots this node stops serving get MOVED/CLUSTERDOWN.
        crate::sys::exec::spawn(blocked_redirect::cron(rt.clone())).detach();
    }
    if id == 0 {
        // The `replicaof` directive: follow that master.
        crate::repl::replica::start_from_config(rt);
        // `oom-score-adj` from the configuration, for the role just taken.
        let _ = crate::repl::oom::apply(&*rt.shared);
        // Cluster mode: replication follows the cluster's view.
        if rt.shared.cluster.is_some() {
            crate::sys::exec::spawn(cluster_follow::run(rt.clone())).detach();
        }
        // `save` rules, BGSAVE SCHEDULE, the save before exit.
        crate::sys::exec::spawn(crate::persist::bgsave::rules::cron(rt.clone())).detach();
        // auto-aof-rewrite-percentage / -min-size.
        crate::sys::exec::spawn(crate::persist::aof::rewrite::cron(rt.clone())).detach();
        // Replication: PING into the stream for replicas.
        crate::sys::exec::spawn(crate::repl::primary::cron(rt.clone())).detach();
    }
}

/// What every shard listens on, worked out once by `run`.
#[derive(Clone)]
struct Listening {
    /// One set of listening sockets per shard (every bind address), each
    /// shard takes one.
    tcp: Arc<std::sync::Mutex<Vec<Vec<std::os::fd::OwnedFd>>>>,
    unixsocket: String,
    unixsocketperm: u32,
}

/// Shard `id`'s listeners: every bind address on the shared port
/// (`SO_REUSEPORT`), and on shard 0 the unix socket; the error is the
/// line Redis logs before exiting.
fn open_listeners(id: usize, listening: &Listening) -> Result<Vec<ClientListener>, String> {
    let mut listeners = Vec::new();
    let Listening {
        tcp,
        unixsocket,
        unixsocketperm,
    } = listening;
    let fds = tcp
        .lock()
        .ok()
        .and_then(|mut t| t.pop())
        .unwrap_or_default();
    for fd in fds {
        listeners.push(ClientListener::tcp(fd));
    }
    // The unix socket: shard 0 accepts all its clients.
    if id == 0 && !unixsocket.is_empty() {
        let l = listen::listen_unix(unixsocket, *unixsocketperm)?;
        listeners.push(ClientListener::Unix(l, unixsocket.as_str().into()));
    }
    if listeners.is_empty() && id == 0 {
        return Err("Configured to not listen anywhere, exiting.".into());
    }
    Ok(listeners)
}

/// Reads `dbfilename` (relative to `dir`, the working directory) if it
/// exists; a bad file is a one-line start-up error.
fn load_rdb(
    config: &Config,
    nshards: usize,
) -> Result<Option<crate::persist::snapshot::Preload>, String> {
    use crate::persist::snapshot;
    let path = config.text(conf::DBFILENAME);
    let limits = crate::store::EncodingLimits::from_config(config);
    let databases = config.int(conf::DATABASES) as usize;
    let checksum = config.flag(conf::RDBCHECKSUM);
    let now = crate::sys::clock::unix_ms();
    let Some(p) = snapshot::load_file(&path, nshards, databases, &limits, checksum, now)? else {
        return Ok(None);
    };
    let st = &p.stats;
    let aux = |k: &str| {
        st.aux
            .iter()
            .find(|(n, _)| n == k.as_bytes())
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    };
    if let Some(v) = aux("redis-ver") {
        crate::notice!("Loading RDB produced by version {v}");
    }
    if st.empty > 0 {
        crate::warning!(
            "Done loading RDB, keys loaded: {}, keys expired: {}, empty keys skipped: {}.",
            st.loaded,
            st.expired,
            st.empty
        );
    } else {
        crate::notice!(
            "Done loading RDB, keys loaded: {}, keys expired: {}.",
            st.loaded,
            st.expired
        );
    }
    snapshot::LOAD_KEYS_LOADED.store(st.loaded, Ordering::Relaxed);
    snapshot::LOAD_KEYS_EXPIRED.store(st.expired, Ordering::Relaxed);
    // `key-load-delay` (tests): loading takes that long per key; nothing
    // is served yet, so the thread just sleeps.
    let delay = config.int(conf::KEY_LOAD_DELAY);
    std::thread::sleep(crate::persist::bgsave::shard::key_delay(
        delay,
        st.loaded + st.expired,
    ));
    Ok(Some(p))
}

async fn accept_loop(rt: Rc<ShardRt>, listener: ClientListener) {
    // Nothing is served before the whole node is up (the cluster bus
    // starts after the shards): a client that connected early waits.
    while !rt.shared.serving.load(Ordering::Acquire) {
        glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
    }
    loop {
        let stream = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                crate::warning!("Accepting client connection: {e}");
                glommio::timer::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let shared = &rt.shared;
        let settings = rt.settings();
        shared.total_connections.fetch_add(1, Ordering::Relaxed);
        if !stream.is_unix() {
            let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
            listen::set_keepalive(
                fd,
                shared.read_config(|c| c.int(conf::TCP_KEEPALIVE)) as i32,
            );
        }
        if let Some(reason) = refuse_reason(&rt, &stream, &settings) {
            shared.rejected_connections.fetch_add(1, Ordering::Relaxed);
            crate::sys::exec::spawn(async move {
                use futures::AsyncWriteExt;
                let mut stream = stream;
                let _ = stream.write_all(reason.as_bytes()).await;
                let _ = stream.close().await;
            })
            .detach();
            continue;
        }
        shared.connected_clients.fetch_add(1, Ordering::Relaxed);
        crate::sys::exec::spawn(conn::serve(rt.clone(), stream)).detach();
    }
}

/// Why a new connection is turned away, if it is (maxclients, protected
/// mode), as the error line Redis sends before closing.
fn refuse_reason(
    rt: &ShardRt,
    stream: &ClientStream,
    settings: &shard::Settings,
) -> Option<String> {
    if rt.shared.connected_clients.load(Ordering::Relaxed) >= settings.maxclients {
        return Some("-ERR max number of clients reached\r\n".into());
    }
    if settings.protected_mode && settings.requirepass.is_none() && !stream.is_local() {
        return Some(PROTECTED_MODE_ERROR.into());
    }
    None
}

const PROTECTED_MODE_ERROR: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Joining the shard mesh takes milliseconds. glommio's join could stall
/// for good on a loaded host (a lost wake-up, see `sys::ticker::with_ticker`,
/// which fixes it); should any stall remain, stop with a clear error
/// rather than hang silently, so a supervisor (or the caller) starts the
/// process again.
fn wait_for_mesh(joined: &mpsc::Receiver<()>, nshards: usize) -> Result<(), String> {
    const LIMIT: std::time::Duration = std::time::Duration::from_secs(10);
    let deadline = std::time::Instant::now() + LIMIT;
    for _ in 0..nshards {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match joined.recv_timeout(left) {
            Ok(()) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err("a shard stopped during start-up".into())
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(format!(
                    "the {nshards} shards did not finish joining their channel mesh within {}s (a glommio start-up stall); start the server again",
                    LIMIT.as_secs()
                ))
            }
        }
    }
    Ok(())
}
