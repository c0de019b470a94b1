//! DEBUG CLUSTERLINK KILL <to|from|all> <node-id>: drops bus links to or
//! from a node at once (Redis's freeClusterLink); the cron opens ours
//! again, as after a broken connection. Redis's tests use it to lose
//! messages on purpose.

use crate::cluster::pubsub_link::ToBus;
use crate::server::conn::Conn;

pub async fn kill(conn: &mut Conn, direction: &[u8], node: &[u8]) {
    let Some(cluster) = conn.rt.shared.cluster.clone() else {
        return conn
            .out
            .error("ERR Debug option only available for cluster mode enabled setup!");
    };
    let Some(id) = cluster.read(|st| st.lookup(node).map(|n| n.id)) else {
        let name = String::from_utf8_lossy(node);
        return conn.out.error(&format!("ERR Unknown node {name}"));
    };
    let (outbound, inbound) = match direction.to_ascii_lowercase().as_slice() {
        b"to" => (true, false),
        b"from" => (false, true),
        b"all" => (true, true),
        _ => {
            let d = String::from_utf8_lossy(direction);
            return conn.out.error(&format!("ERR Unknown direction {d}"));
        }
    };
    let tx = conn.rt.bus_out.borrow().clone();
    if let Some(tx) = tx {
        let _ = tx
            .send(ToBus::KillLink {
                node: id,
                outbound,
                inbound,
            })
            .await;
    }
    conn.out.ok();
}
