//! Executors, listeners, connections, the shard mesh and routing.
//!
//! `run` starts one glommio executor per data shard. Each joins the
//! channel mesh, opens its own listeners on the shared port, and serves
//! the connections the kernel hands it.

pub mod acl;
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
mod replica_link;
mod requests;
pub mod route;
pub mod script;
pub mod shard;
pub mod shard_lock;
pub mod shared;
pub mod shutdown;
pub mod slowlog;
mod snapshot_hook;
pub mod spec;
mod startup_load;
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
    let load_config = config.clone();
    let replica_at_start = !config.text(conf::REPLICAOF).is_empty();
    let policy = crate::persist::aof::log::FsyncPolicy::parse(&config.text(conf::APPENDFSYNC));
    cpus::set_control_cpus(if pin {
        cpus[nshards..].to_vec()
    } else {
        Vec::new()
    });
    crate::sys::connect::set_source(&config.text(conf::BIND_SOURCE_ADDR));
    let cluster = open_cluster(&config)?;
    let shared = Arc::new(Shared::new(config, nshards, pin, cluster));
    acl::file::load_at_startup(&shared)?;
    script::DEPRECATED_API.store(
        shared.read_config(|c| c.flag(conf::LUA_ENABLE_DEPRECATED_API)),
        std::sync::atomic::Ordering::Relaxed,
    );
    // With data to load, loading from here until every shard has its
    // keys: the shards serve meanwhile, refusing what needs the data
    // (startup_load.rs). Without, they serve once the node is up.
    if startup_load::has_data(&load_config) {
        shared.repl.replica.loading.start(false, None);
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
    let handoff = Arc::new(startup_load::Handoff::default());
    let mut handles = Vec::new();
    for i in 0..nshards {
        let placement = if pin {
            Placement::Fixed(cpus[i % cpus.len()])
        } else {
            Placement::Unbound
        };
        let (shared, mesh, listening, ready, handoff, bus_pub) = (
            shared.clone(),
            mesh.clone(),
            listening.clone(),
            ready_tx.clone(),
            handoff.clone(),
            bus_pub_shards.clone(),
        );
        let joined = joined_tx.clone();
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
                    handoff,
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
    // Clients are served from here; a signal stops a load (without a
    // save: nothing is loaded to save, shutdown.rs).
    let sh = shared.clone();
    std::thread::spawn(move || probe::wait_for_signals(sh));
    // Load `dir/dbfilename` (cwd is `dir`), or with `appendonly yes` the
    // AOF alone, as in Redis; each shard installs its own keys.
    let load_started = std::time::Instant::now();
    crate::alloc::mark_startup();
    let key_load_delay = || shared.read_config(|c| c.int(conf::KEY_LOAD_DELAY));
    let loaded = startup_load::load_at_start(
        &load_config,
        nshards,
        &shared.repl.replica.loading,
        &key_load_delay,
    )?;
    let loaded_from_disk = loaded.keys.is_some();
    if let (Some(c), Some(keys)) = (&shared.cluster, &loaded.keys) {
        let keys = keys.iter().flatten();
        c.verify_data(keys.map(|k| (k.db, crate::slot::key_slot(&k.key))))?;
    }
    if let Some(stats) = &loaded.rdb_stats {
        crate::repl::rdb_info::restore(&*shared, stats, replica_at_start);
    }
    if let Some(files) = loaded.aof_files {
        shared.aof.start(files, policy);
    }
    handoff.hand(loaded.keys);
    handoff.wait_installed(nshards);
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
    // Loading ends once the whole node is up (the cluster bus too).
    shared.repl.replica.loading.stop();
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
    /// The keys loaded from disk, by shard, once loaded.
    handoff: Arc<startup_load::Handoff>,
    /// Cluster mode: this shard's Pub/Sub link to the bus executor.
    bus_pub: Arc<std::sync::Mutex<Vec<Option<crate::cluster::pubsub_link::ShardEnds>>>>,
}

/// One shard's thread: join the mesh, start its tasks, listen, serve
/// connections (answering -LOADING until the load ends), install its keys
/// once loaded, then start its crons.
async fn serve_shard(start: ShardStart) {
    let ShardStart {
        nshards,
        shared,
        mesh,
        listening,
        ready,
        joined,
        handoff,
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
    // The crons act on the data (expiry, saves) or start replication: not
    // before it is loaded and the node is up, as Redis's serverCron does
    // not run while loading.
    let crons_rt = rt.clone();
    crate::sys::exec::spawn(async move {
        handoff.install(&crons_rt).await;
        while !crons_rt.shared.serving.load(Ordering::Acquire) {
            glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
        }
        spawn_crons(&crons_rt);
    })
    .detach();
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

/// Cluster mode: the node's cluster state (nodes.conf); `run` checks the
/// loaded keys against it (Redis's verifyClusterConfigWithData).
fn open_cluster(config: &Config) -> Result<Option<Arc<crate::cluster::Cluster>>, String> {
    Ok(if config.flag(conf::CLUSTER_ENABLED) {
        Some(Arc::new(crate::cluster::Cluster::open(config)?))
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

async fn accept_loop(rt: Rc<ShardRt>, listener: ClientListener) {
    // Clients are served during the start-up load (-LOADING, above all)
    // or once the whole node is up (the cluster bus starts after the
    // shards): until then a client that connected waits in the backlog.
    while !rt.shared.serving.load(Ordering::Acquire) && !rt.shared.repl.replica.loading.flags().0 {
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
    // Redis's protected mode: only while the default user has no password
    // (requirepass or ACL SETUSER default >pass).
    let default_nopass = rt.shared.acl.get(b"default").is_some_and(|d| d.nopass);
    if settings.protected_mode && default_nopass && !stream.is_local() {
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
