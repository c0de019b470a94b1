//! CLUSTER and its subcommands, ASKING, READONLY, READWRITE: the command
//! table entries. Handlers: `cluster_view` (what the node knows) and
//! `cluster_admin` (what changes it).

use super::cluster_admin as admin;
use super::cluster_view as view;
use super::spec::{Acl, Behavior, CommandSpec, Flags, Handler};
use crate::cluster::Cluster;
use crate::server::conn::Conn;
use futures::future::LocalBoxFuture;
use std::sync::Arc;

const ADMIN_FLAGS: Flags = Flags::ADMIN
    .with(Flags::STALE)
    .with(Flags::NO_ASYNC_LOADING);
const ADMIN_ACL: Acl = Acl::ADMIN.with_bits(Acl::SLOW).with_bits(Acl::DANGEROUS);
const NONDET: &[&str] = &["nondeterministic_output"];

macro_rules! sub {
    ($name:expr, $arity:expr, $flags:expr, $acl:expr, $h:expr, $since:expr, $summary:expr $(, $tips:expr)?) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            acl: $acl,
            handler: Handler::Conn($h),
            $(tips: $tips,)?
            group: "cluster",
            since: $since,
            summary: $summary,
            complexity: "O(1)",
            ..CommandSpec::DEFAULT
        }
    };
}

pub static CLUSTER: CommandSpec = CommandSpec {
    name: "cluster",
    arity: -2,
    acl: Acl::SLOW,
    group: "cluster",
    since: "3.0.0",
    summary: "A container for cluster commands",
    complexity: "Depends on subcommand.",
    subcommands: SUBCOMMANDS,
    ..CommandSpec::DEFAULT
};

static SUBCOMMANDS: &[CommandSpec] = &[
    sub!(
        "cluster|addslots",
        -3,
        ADMIN_FLAGS,
        ADMIN_ACL,
        admin::addslots,
        "3.0.0",
        "Assign new hash slots to receiving node"
    ),
    sub!(
        "cluster|addslotsrange",
        -4,
        ADMIN_FLAGS,
        ADMIN_ACL,
        admin::addslotsrange,
        "7.0.0",
        "Assign new hash slots to receiving node"
    ),
    sub!(
        "cluster|bumpepoch",
        2,
        ADMIN_FLAGS,
        ADMIN_ACL,
        admin::bumpepoch,
        "3.0.0",
        "Advance the cluster config epoch",
        NONDET
    ),
    sub!(
        "cluster|count-failure-reports",
        3,
        Flags::ADMIN.with(Flags::STALE),
        ADMIN_ACL,
        view::count_failure_reports,
        "3.0.0",
        "Return the number of failure reports active for a given node",
        NONDET
    ),
    sub!(
        "cluster|countkeysinslot",
        3,
        Flags::STALE,
        Acl::SLOW,
        view::countkeysinslot,
        "3.0.0",
        "Return the number of local keys in the specified hash slot"
    ),
    sub!(
        "cluster|delslots",
        -3,
        ADMIN_FLAGS,
        ADMIN_ACL,
        admin::delslots,
        "3.0.0",
        "Set hash slots as unbound in receiving node"
    ),
    sub!(
        "cluster|delslotsrange",
        -4,
        ADMIN_FLAGS,
        ADMIN_ACL,
        admin::delslotsrange,
        "7.0.0",
        "Set hash slots as unbound in receiving node"
    ),
    sub!(
        "cluster|failover",
        -2,
        ADMIN_FLAGS,
        ADMIN_ACL,
        admin::failover,
        "3.0.0",
        "Forces a replica to perform a manual failover of its master."
    ),
    sub!(
        "cluster|flushslots",
        2,
        ADMIN_FLAGS,
        ADMIN_ACL,
        admin::flushslots,
        "3.0.0",
        "Delete a node's own slots information"
    ),
    sub!(
        "cluster|forget",
        3,
        ADMIN_FLAGS,
        ADMIN_ACL,
        admin::forget,
        "3.0.0",
        "Remove a node from the nodes table"
    ),
    sub!(
        "cluster|getkeysinslot",
        4,
        Flags::STALE,
        Acl::SLOW,
        view::getkeysinslot,
        "3.0.0",
        "Return local key names in the specified hash slot",
        NONDET
    ),
    sub!(
        "cluster|help",
        2,
        Flags::LOADING.with(Flags::STALE),
        Acl::SLOW,
        view::help,
        "5.0.0",
        "Show helpful text about the different subcommands"
    ),
    sub!(
        "cluster|info",
        2,
        Flags::STALE,
        Acl::SLOW,
        view::info,
        "3.0.0",
        "Provides info about Redis Cluster node state",
        NONDET
    ),
    sub!(
        "cluster|keyslot",
        3,
        Flags::STALE,
        Acl::SLOW,
        view::keyslot,
        "3.0.0",
        "Returns the hash slot of the specified key"
    ),
    CommandSpec {
        complexity: "O(N) where N is the total number of Cluster nodes",
        ..sub!(
            "cluster|links",
            2,
            Flags::STALE,
            Acl::SLOW,
            view::links,
            "7.0.0",
            "Returns a list of all TCP links to and from peer nodes in cluster",
            NONDET
        )
    },
    sub!(
        "cluster|meet",
        -4,
        ADMIN_FLAGS,
        ADMIN_ACL,
        admin::meet,
        "3.0.0",
        "Force a node cluster to handshake with another node"
    ),
    sub!(
        "cluster|myid",
        2,
        Flags::STALE,
        Acl::SLOW,
        view::myid,
        "3.0.0",
        "Return the node id"
    ),
    sub!(
        "cluster|nodes",
        2,
        Flags::STALE,
        Acl::SLOW,
        view::nodes,
        "3.0.0",
        "Get Cluster config for the node",
        NONDET
    ),
    sub!(
        "cluster|replicas",
        3,
        Flags::ADMIN.with(Flags::STALE),
        ADMIN_ACL,
        view::replicas,
        "5.0.0",
        "List replica nodes of the specified master node",
        NONDET
    ),
    sub!(
        "cluster|replicate",
        3,
        ADMIN_FLAGS,
        ADMIN_ACL,
        admin::replicate,
        "3.0.0",
        "Reconfigure a node as a replica of the specified master node"
    ),
    sub!(
        "cluster|reset",
        -2,
        Flags::ADMIN.with(Flags::NOSCRIPT).with(Flags::STALE),
        ADMIN_ACL,
        admin::reset,
        "3.0.0",
        "Reset a Redis Cluster node"
    ),
    sub!(
        "cluster|saveconfig",
        2,
        ADMIN_FLAGS,
        ADMIN_ACL,
        admin::saveconfig,
        "3.0.0",
        "Forces the node to save cluster state on disk"
    ),
    sub!(
        "cluster|set-config-epoch",
        3,
        ADMIN_FLAGS,
        ADMIN_ACL,
        admin::set_config_epoch,
        "3.0.0",
        "Set the configuration epoch in a new node"
    ),
    sub!(
        "cluster|setslot",
        -4,
        ADMIN_FLAGS,
        ADMIN_ACL,
        admin::setslot,
        "3.0.0",
        "Bind a hash slot to a specific node"
    ),
    sub!(
        "cluster|shards",
        2,
        Flags::STALE,
        Acl::SLOW,
        view::shards,
        "7.0.0",
        "Get array of cluster slots to node mappings",
        NONDET
    ),
    sub!(
        "cluster|slaves",
        3,
        Flags::ADMIN.with(Flags::STALE),
        ADMIN_ACL,
        view::replicas,
        "3.0.0",
        "List replica nodes of the specified master node",
        NONDET
    ),
    sub!(
        "cluster|slots",
        2,
        Flags::STALE,
        Acl::SLOW,
        view::slots,
        "3.0.0",
        "Get array of Cluster slot to node mappings",
        NONDET
    ),
];

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "asking",
        behavior: Behavior::SETS_ASKING,
        arity: 1,
        flags: Flags::FAST,
        acl: Acl::FAST.with_bits(Acl::CONNECTION),
        handler: Handler::Conn(flag_ok),
        group: "cluster",
        since: "3.0.0",
        summary: "Sent by cluster clients after an -ASK redirect",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "readonly",
        behavior: Behavior::SETS_READONLY,
        arity: 1,
        flags: Flags::LOADING.with(Flags::STALE).with(Flags::FAST),
        acl: Acl::FAST.with_bits(Acl::CONNECTION),
        handler: Handler::Conn(flag_ok),
        group: "cluster",
        since: "3.0.0",
        summary: "Enables read queries for a connection to a cluster replica node",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "readwrite",
        behavior: Behavior::CLEARS_READONLY,
        arity: 1,
        flags: Flags::LOADING.with(Flags::STALE).with(Flags::FAST),
        acl: Acl::FAST.with_bits(Acl::CONNECTION),
        handler: Handler::Conn(flag_ok),
        group: "cluster",
        since: "3.0.0",
        summary: "Disables read queries for a connection to a cluster replica node",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
];

pub const DISABLED: &str = "ERR This instance has cluster support disabled";

/// The node's cluster, or the error reply Redis gives when cluster mode
/// is off.
pub fn cluster_or_reply(conn: &mut Conn) -> Option<Arc<Cluster>> {
    let c = conn.rt.shared.cluster.clone();
    if c.is_none() {
        conn.out.error(DISABLED);
    }
    c
}

/// ASKING / READONLY / READWRITE: the flag itself is tracked while the
/// batch is planned (server/redirect.rs), so later requests of the same
/// read see it; here only the reply.
fn flag_ok(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        if cluster_or_reply(conn).is_some() {
            conn.out.ok();
        }
    })
}
