//! Failover as Redis 7.0 does it: the replica's election
//! (`clusterHandleSlaveFailover`, `clusterGetSlaveRank`), a master's vote
//! (`clusterSendFailoverAuthIfNeeded`), counting the acks, the winner
//! taking its master's place (`clusterFailoverReplaceYourMaster`), and
//! the replica's side of CLUSTER FAILOVER [FORCE|TAKEOVER] (MFSTART, the
//! paused master's offset, `clusterHandleManualFailover`), and the
//! master's side of a default manual failover: MFSTART from one of my
//! replicas pauses client writes (the bus cron applies the pause, see
//! `server/pause.rs`) and, once the pause has settled, PINGs that replica
//! every cron tick with PAUSED and my frozen offset, until my slots are
//! taken or `mf_end` passes.
//!
//! Pure logic on [`ClusterState`], like `gossip`: what to send comes back
//! as [`Outgoing`]. The replication stream itself follows the cluster's
//! view of who my master is (`server::cluster_follow`): promotion here only changes the
//! view, and the follower stops the link and shifts the replication id.

use super::bus::{flags, Body, Header, Message, NodeId};
use super::gossip::{self, Outgoing};
use super::state::{ClusterState, SaveNeed};
use super::ClusterSettings;
use crate::slot::SLOTS;

/// This node's replication as the election needs it, refreshed by the
/// bus cron from the replica side's state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplView {
    /// The offset PING/PONG headers carry: a replica's processed offset
    /// (`replicationGetSlaveOffset`), a master's `master_repl_offset`.
    pub offset: u64,
    /// How old a replica's data is (ms): since the last byte from the
    /// master when the link is up, else since it went down. None: the
    /// link never completed a sync in this process, the data is not
    /// worth electing.
    pub data_age: Option<u64>,
}

impl ReplView {
    /// Reads the replica side's state (the shared replication state).
    pub fn read(repl: &crate::repl::Repl, now: u64) -> ReplView {
        let st = &repl.replica;
        if !st.is_replica() {
            let offset = repl.identity.lock().unwrap().offset.max(0) as u64;
            return ReplView {
                offset,
                data_age: None,
            };
        }
        let inner = st.inner.lock().unwrap();
        let offset = if inner.linked {
            inner.reploff
        } else if let Some((_, off)) = &inner.cached {
            *off
        } else {
            0
        };
        let connected = st.link_state() == crate::repl::replica::LinkState::Connected;
        let data_age = if connected && inner.linked {
            Some(now.saturating_sub(inner.last_io_ms))
        } else if inner.down_since_ms != 0 {
            Some(now.saturating_sub(inner.down_since_ms))
        } else {
            None
        };
        ReplView {
            offset: offset.max(0) as u64,
            data_age,
        }
    }
}

/// Why no election runs now (logged once per change, as
/// `clusterLogCantFailover`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CantFailover {
    #[default]
    None,
    DataAge,
    NeverSynced,
    WaitingDelay,
    Expired,
    WaitingVotes,
}

/// The replica's election (Redis's `failover_auth_*` fields).
#[derive(Clone, Debug, Default)]
pub struct Election {
    /// When the election starts (or started), ms; 0: never.
    pub auth_time: u64,
    /// Votes received for `auth_epoch`.
    pub auth_count: usize,
    /// FAILOVER_AUTH_REQUEST sent for this attempt.
    pub auth_sent: bool,
    pub auth_rank: usize,
    /// The epoch of the request sent.
    pub auth_epoch: u64,
    pub cant: CantFailover,
    /// When `cant` was last logged.
    pub cant_logged: u64,
    /// Manual failover: when it times out (0: none running).
    pub mf_end: u64,
    /// Manual failover: the election may start (FORCE, or the paused
    /// master's offset was reached).
    pub mf_can_start: bool,
    /// Manual failover: my master's offset in its first PAUSED message.
    pub mf_master_offset: Option<u64>,
    /// Manual failover: MFSTART is to be sent to my master (by the cron).
    pub mf_send_start: bool,
    /// Master side: the replica that sent MFSTART (`mf_slave`).
    pub mf_replica: Option<NodeId>,
    /// Master side: client writes are paused and settled, so my offset
    /// in `repl` is final: headers carry PAUSED.
    pub mf_paused: bool,
}

/// `CLUSTER_MF_TIMEOUT`.
pub const MF_TIMEOUT: u64 = 5000;

/// How CLUSTER FAILOVER was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Manual {
    Default,
    Force,
    Takeover,
}

/// CLUSTER FAILOVER [FORCE|TAKEOVER] on a replica (checks and error
/// texts as `clusterCommand`). TAKEOVER promotes at once (the caller
/// broadcasts); the others arm the manual failover the cron runs.
pub fn manual_start(st: &mut ClusterState, mode: Manual, now: u64) -> Result<(), String> {
    let me = st.me();
    if me.is_master() {
        return Err("ERR You should send CLUSTER FAILOVER to a replica".into());
    }
    let Some(master) = me.master.and_then(|m| st.nodes.get(&m)) else {
        return Err("ERR I'm a replica but my master is unknown to me".into());
    };
    if mode == Manual::Default && (master.has(flags::FAIL) || !master.link_up) {
        return Err("ERR Master is down or failed, please use CLUSTER FAILOVER FORCE".into());
    }
    reset_manual(st);
    st.election.mf_end = now + MF_TIMEOUT;
    match mode {
        Manual::Takeover => {
            crate::warning!("Taking over the master (user request).");
            st.bump_epoch_without_consensus();
            promote(st);
            st.broadcast_pong = true;
        }
        Manual::Force => {
            crate::warning!("Forced failover user request accepted.");
            st.election.mf_can_start = true;
        }
        Manual::Default => {
            crate::warning!("Manual failover user request accepted.");
            st.election.mf_send_start = true;
        }
    }
    Ok(())
}

/// SIGTERM handover (`server::handover`): the replica a master serving
/// slots asks to take over before it exits: reachable on the bus, not
/// failing, allowed to fail over, with an address, most data first.
pub fn handover_candidate(st: &ClusterState) -> Result<&super::node::Node, &'static str> {
    let me = st.me();
    if !me.is_master() || me.slot_count() == 0 {
        return Err("not a master serving slots");
    }
    st.replicas_of(&st.myself)
        .into_iter()
        .filter(|n| {
            n.link_up
                && !n.failing()
                && !n.has(flags::NOFAILOVER)
                && !n.ip.is_empty()
                && n.port != 0
        })
        .max_by_key(|n| n.repl_offset)
        .ok_or("no replica reachable on the cluster bus")
}

/// `resetManualFailover` (the replica's part).
pub(super) fn reset_manual(st: &mut ClusterState) {
    let e = &mut st.election;
    e.mf_end = 0;
    e.mf_can_start = false;
    e.mf_master_offset = None;
    e.mf_send_start = false;
    e.mf_replica = None;
    e.mf_paused = false;
}

/// MFSTART from `sender`: accepted only from one of my replicas while I
/// am a master (as `clusterProcessPacket`).
/// True when accepted.
pub fn mf_start(st: &mut ClusterState, sender: &NodeId, now: u64) -> bool {
    let me = st.me();
    let mine = st
        .nodes
        .get(sender)
        .is_some_and(|n| n.is_replica() && n.master == Some(st.myself));
    if !me.is_master() || !mine {
        return false;
    }
    reset_manual(st);
    st.election.mf_end = now + MF_TIMEOUT;
    st.election.mf_replica = Some(*sender);
    crate::warning!("Manual failover requested by replica {}.", sender.as_str());
    true
}

/// What the bus cron does for the master side of a manual failover.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MasterManual {
    /// Client writes paused until then; None: no pause wanted.
    pub pause_until: Option<u64>,
    /// PING this replica now (with PAUSED once settled).
    pub ping: Option<NodeId>,
}

/// The master side, every cron tick (after `cron`, which times the
/// manual failover out). `settled`: the write pause was on and no client
/// write in flight when `repl` was read.
pub fn master_cron(st: &mut ClusterState, settled: bool) -> MasterManual {
    let Some(replica) = st.election.mf_replica else {
        return MasterManual::default();
    };
    if st.election.mf_end == 0 || !st.me().is_master() {
        // Timed out, or my slots were taken: writes resume (and are
        // redirected to the new owner).
        reset_manual(st);
        return MasterManual::default();
    }
    if settled && !st.election.mf_paused {
        st.election.mf_paused = true;
        crate::warning!(
            "Writes paused for the manual failover at replication offset {}.",
            st.repl.offset
        );
    }
    MasterManual {
        // As Redis, the pause outlasts the failover's timeout (it ends
        // when the failover is reset).
        pause_until: Some(st.election.mf_end + MF_TIMEOUT),
        ping: Some(replica),
    }
}

/// A message from my master with PAUSED set: during a manual failover,
/// its offset is the one to reach before the election.
pub fn note_paused_master(st: &mut ClusterState, sender: &NodeId, mflags: u8, offset: u64) {
    let me = st.me();
    if mflags & flags::PAUSED == 0
        || !me.is_replica()
        || me.master != Some(*sender)
        || st.election.mf_end == 0
        || st.election.mf_master_offset.is_some()
    {
        return;
    }
    st.election.mf_master_offset = Some(offset);
    crate::warning!("Received replication offset for paused master manual failover: {offset}");
}

/// `manualFailoverCheckTimeout` and `clusterHandleManualFailover`.
fn manual_cron(st: &mut ClusterState, now: u64) {
    let e = &mut st.election;
    if e.mf_end == 0 {
        return;
    }
    if e.mf_end < now {
        crate::warning!("Manual failover timed out.");
        reset_manual(st);
        return;
    }
    if e.mf_can_start || e.mf_replica.is_some() {
        return;
    }
    if e.mf_master_offset == Some(st.repl.offset) {
        e.mf_can_start = true;
        crate::warning!("All master replication stream processed, manual failover can start.");
    }
}

/// `clusterGetSlaveRank`: how many other replicas of my master (able to
/// fail over) have a greater replication offset than mine.
pub fn rank(st: &ClusterState) -> usize {
    let me = st.me();
    let Some(master) = me.master else {
        return 0;
    };
    let mine = st.repl.offset;
    st.replicas_of(&master)
        .iter()
        .filter(|n| n.id != st.myself && !n.has(flags::NOFAILOVER) && n.repl_offset > mine)
        .count()
}

/// A FAILOVER_AUTH_REQUEST from `sender`: the vote to send back, if this
/// master grants it (`clusterSendFailoverAuthIfNeeded`). Runs after the
/// header's currentEpoch was adopted.
pub fn vote(
    st: &mut ClusterState,
    s: &ClusterSettings,
    request: &Header,
    now: u64,
) -> Option<Message> {
    let me = st.me();
    if me.is_replica() || me.slot_count() == 0 {
        return None;
    }
    let sender = request.sender;
    let node = st.nodes.get(&sender)?;
    if request.current_epoch < st.current_epoch {
        crate::warning!(
            "Failover auth denied to {}: reqEpoch ({}) < curEpoch({})",
            sender.as_str(),
            request.current_epoch,
            st.current_epoch
        );
        return None;
    }
    if st.last_vote_epoch == st.current_epoch {
        crate::warning!(
            "Failover auth denied to {}: already voted for epoch {}",
            sender.as_str(),
            st.current_epoch
        );
        return None;
    }
    let force_ack = request.mflags & flags::FORCEACK != 0;
    let master = node.master.and_then(|m| st.nodes.get(&m));
    let master = match master {
        Some(m) if !node.is_master() && (m.has(flags::FAIL) || force_ack) => m,
        _ => {
            let why = if node.is_master() {
                "it is a master node"
            } else if master.is_none() {
                "I don't know its master"
            } else {
                "its master is up"
            };
            crate::warning!("Failover auth denied to {}: {why}", sender.as_str());
            return None;
        }
    };
    let master_id = master.id;
    if master.voted_time != 0 && now.saturating_sub(master.voted_time) < s.node_timeout * 2 {
        crate::warning!(
            "Failover auth denied to {}: can't vote about this master before {} milliseconds",
            sender.as_str(),
            (s.node_timeout * 2).saturating_sub(now.saturating_sub(master.voted_time))
        );
        return None;
    }
    for slot in 0..SLOTS as u16 {
        if !request.myslots.get(slot) || st.not_claimed.get(slot) {
            continue;
        }
        let Some(owner) = st.slots[slot as usize].and_then(|o| st.nodes.get(&o)) else {
            continue;
        };
        if owner.config_epoch <= request.config_epoch {
            continue;
        }
        crate::warning!(
            "Failover auth denied to {}: slot {slot} epoch ({}) > reqEpoch ({})",
            sender.as_str(),
            owner.config_epoch,
            request.config_epoch
        );
        return None;
    }
    st.last_vote_epoch = st.current_epoch;
    if let Some(m) = st.nodes.get_mut(&master_id) {
        m.voted_time = now;
    }
    st.need_save(SaveNeed::SaveFsync);
    crate::warning!(
        "Failover auth granted to {} for epoch {}",
        sender.as_str(),
        st.current_epoch
    );
    Some(Message {
        header: gossip::header(st, s),
        body: Body::FailoverAuthAck,
    })
}

/// A FAILOVER_AUTH_ACK: counted when it comes from a master serving
/// slots and is for my current election.
pub fn count_ack(st: &mut ClusterState, sender: &NodeId, sender_current_epoch: u64) {
    let Some(n) = st.nodes.get(sender) else {
        return;
    };
    if n.is_master() && n.slot_count() > 0 && sender_current_epoch >= st.election.auth_epoch {
        st.election.auth_count += 1;
    }
}

fn log_cant(st: &mut ClusterState, why: CantFailover, now: u64) {
    // As Redis: a reason is logged when it changes, or every 10 s.
    if st.election.cant == why && now.saturating_sub(st.election.cant_logged) < 10_000 {
        return;
    }
    st.election.cant = why;
    st.election.cant_logged = now;
    let msg = match why {
        CantFailover::None => return,
        CantFailover::DataAge => "Disconnected from master for longer than allowed. Please check the 'cluster-replica-validity-factor' configuration option.",
        CantFailover::NeverSynced => "Never synchronized with my master: not starting an election.",
        CantFailover::WaitingDelay => "Waiting the delay before I can start a new failover.",
        CantFailover::Expired => "Failover attempt expired.",
        CantFailover::WaitingVotes => "Waiting for votes, but majority still not reached.",
    };
    crate::notice!("Currently unable to failover: {msg}");
}

/// `clusterHandleSlaveFailover`, from the 100 ms cron.
pub fn cron(
    st: &mut ClusterState,
    s: &ClusterSettings,
    now: u64,
    random: &mut impl FnMut() -> u64,
) -> Vec<Outgoing> {
    let mut out = Vec::new();
    manual_cron(st, now);
    let me = st.me();
    let master = me.master.and_then(|m| st.nodes.get(&m));
    let Some(master) = master.filter(|_| me.is_replica()) else {
        st.election.cant = CantFailover::None;
        return out;
    };
    let master_id = master.id;
    if std::mem::take(&mut st.election.mf_send_start) {
        out.push(Outgoing::To(
            master_id,
            Message {
                header: gossip::header(st, s),
                body: Body::MfStart,
            },
        ));
        return out;
    }
    let master = &st.nodes[&master_id];
    let manual = st.election.mf_end != 0 && st.election.mf_can_start;
    // A manual failover runs whatever the master's state and
    // cluster-replica-no-failover.
    let automatic_ok = master.has(flags::FAIL) && !s.replica_no_failover;
    if !(manual || automatic_ok) || master.slot_count() == 0 {
        st.election.cant = CantFailover::None;
        return out;
    }
    let quorum = st.size / 2 + 1;
    let auth_timeout = (s.node_timeout * 2).max(2000);
    let retry_time = auth_timeout * 2;

    // Is my data recent enough to be elected? (A manual failover does
    // not ask.)
    match st.repl.data_age {
        _ if manual => {}
        None => {
            log_cant(st, CantFailover::NeverSynced, now);
            return out;
        }
        Some(mut age) => {
            if age > s.node_timeout {
                age -= s.node_timeout;
            }
            if s.replica_validity_factor != 0
                && age > s.repl_ping_period * 1000 + s.node_timeout * s.replica_validity_factor
            {
                log_cant(st, CantFailover::DataAge, now);
                return out;
            }
        }
    }

    // The previous attempt is over: schedule a new one.
    let auth_age = now as i64 - st.election.auth_time as i64;
    if auth_age > retry_time as i64 {
        // A manual failover starts at once, as if ranked first.
        let rank = if st.election.mf_end != 0 { 0 } else { rank(st) };
        let e = &mut st.election;
        e.auth_time = if e.mf_end != 0 {
            now
        } else {
            now + 500 + random() % 500 + rank as u64 * 1000
        };
        e.auth_count = 0;
        e.auth_sent = false;
        e.auth_rank = rank;
        crate::warning!(
            "Start of election delayed for {} milliseconds (rank #{rank}, offset {}).",
            e.auth_time - now,
            st.repl.offset
        );
        // Tell the other replicas of my master my offset.
        let pong = gossip::ping(st, s, flags::TYPE_PONG, random);
        for r in st.replicas_of(&master_id) {
            if r.id != st.myself {
                out.push(Outgoing::To(r.id, pong.clone()));
            }
        }
        return out;
    }

    // Offsets learned meanwhile may make my rank worse: wait more.
    if !st.election.auth_sent && st.election.mf_end == 0 {
        let new_rank = rank(st);
        if new_rank > st.election.auth_rank {
            let added = (new_rank - st.election.auth_rank) as u64 * 1000;
            st.election.auth_time += added;
            st.election.auth_rank = new_rank;
            crate::warning!(
                "Replica rank updated to #{new_rank}, added {added} milliseconds of delay."
            );
        }
    }
    if now < st.election.auth_time {
        log_cant(st, CantFailover::WaitingDelay, now);
        return out;
    }
    if now - st.election.auth_time > auth_timeout {
        log_cant(st, CantFailover::Expired, now);
        return out;
    }
    if !st.election.auth_sent {
        st.current_epoch += 1;
        st.election.auth_epoch = st.current_epoch;
        st.election.auth_sent = true;
        crate::warning!(
            "Starting a failover election for epoch {}.",
            st.current_epoch
        );
        st.need_save(SaveNeed::SaveFsync);
        st.touch();
        let mut header = gossip::header(st, s);
        if st.election.mf_end != 0 {
            header.mflags |= flags::FORCEACK;
        }
        out.push(Outgoing::Broadcast(Message {
            header,
            body: Body::FailoverAuthRequest,
        }));
        return out;
    }
    if st.election.auth_count >= quorum {
        crate::warning!("Failover election won: I'm the new master.");
        if st.me().config_epoch < st.election.auth_epoch {
            let e = st.election.auth_epoch;
            st.me_mut().config_epoch = e;
            crate::warning!("configEpoch set to {e} after successful failover");
        }
        out.extend(replace_my_master(st, s, random));
    } else {
        log_cant(st, CantFailover::WaitingVotes, now);
    }
    out
}

/// `clusterFailoverReplaceYourMaster`: I become a master serving my old
/// master's slots, and tell everyone at once.
pub fn replace_my_master(
    st: &mut ClusterState,
    s: &ClusterSettings,
    random: &mut impl FnMut() -> u64,
) -> Vec<Outgoing> {
    if !promote(st) {
        return Vec::new();
    }
    vec![Outgoing::Broadcast(gossip::ping(
        st,
        s,
        flags::TYPE_PONG,
        random,
    ))]
}

/// The state part of `clusterFailoverReplaceYourMaster`; false when I am
/// not a replica of a known master.
fn promote(st: &mut ClusterState) -> bool {
    let me = st.myself;
    let Some(old) = st.me().master.filter(|_| st.me().is_replica()) else {
        return false;
    };
    st.set_as_master(&me);
    for slot in 0..SLOTS as u16 {
        if st.slots[slot as usize] == Some(old) {
            st.set_slot(slot, Some(me));
            st.not_claimed.clear(slot);
        }
    }
    st.election = Election::default();
    st.need_save(SaveNeed::SaveFsync);
    st.touch();
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::node::Node;

    fn id(c: u8) -> NodeId {
        NodeId([c; 40])
    }

    fn settings() -> ClusterSettings {
        ClusterSettings {
            node_timeout: 3000,
            require_full_coverage: true,
            allow_reads_when_down: false,
            preferred_hostname: false,
            announce_ip: String::new(),
            announce_hostname: String::new(),
            port: 7000,
            bus_port: 17000,
            allow_replica_migration: true,
            migration_barrier: 1,
            link_sendbuf_limit: 0,
            replica_validity_factor: 10,
            replica_no_failover: false,
            repl_ping_period: 10,
        }
    }

    /// Me (a) master of slots 0..100 with epoch 1; b master of 100..200
    /// (epoch 2) failed; c replica of b.
    fn cluster() -> ClusterState {
        let mut st = ClusterState::fresh(id(b'a'), 1);
        st.me_mut().config_epoch = 1;
        let mut b = Node::new(id(b'b'), flags::MASTER | flags::FAIL, 1);
        b.config_epoch = 2;
        st.add_node(b);
        st.add_node(Node::new(id(b'c'), flags::SLAVE, 1));
        st.set_as_replica(&id(b'c'), id(b'b'));
        for s in 0..100 {
            st.set_slot(s, Some(id(b'a')));
        }
        for s in 100..200 {
            st.set_slot(s, Some(id(b'b')));
        }
        st.current_epoch = 2;
        st.update_state(100_000, false, 3000);
        st
    }

    fn request(st: &ClusterState, epoch: u64) -> Header {
        let mut h = gossip::header(st, &settings());
        h.sender = id(b'c');
        h.current_epoch = epoch;
        h.config_epoch = 2;
        h.slaveof = Some(id(b'b'));
        h.myslots = st.nodes[&id(b'b')].slots.clone();
        h
    }

    #[test]
    fn one_vote_per_epoch_and_per_master_window() {
        let mut st = cluster();
        st.current_epoch = 3;
        let h = request(&st, 3);
        assert!(vote(&mut st, &settings(), &h, 10_000).is_some());
        assert_eq!(st.last_vote_epoch, 3);
        assert_eq!(st.save, SaveNeed::SaveFsync);
        // Same epoch again: refused.
        assert!(vote(&mut st, &settings(), &h, 10_001).is_none());
        // A newer epoch but within 2 × node timeout of the last vote.
        st.current_epoch = 4;
        let h = request(&st, 4);
        assert!(vote(&mut st, &settings(), &h, 12_000).is_none());
        st.current_epoch = 5;
        let h = request(&st, 5);
        assert!(vote(&mut st, &settings(), &h, 16_001).is_some());
    }

    #[test]
    fn refuses_old_epoch_live_master_and_stale_slots() {
        let mut st = cluster();
        st.current_epoch = 3;
        let h = request(&st, 2);
        assert!(
            vote(&mut st, &settings(), &h, 10_000).is_none(),
            "old epoch"
        );
        let h = request(&st, 3);
        st.nodes.get_mut(&id(b'b')).unwrap().flags &= !flags::FAIL;
        assert!(
            vote(&mut st, &settings(), &h, 10_000).is_none(),
            "master up"
        );
        let mut forced = h.clone();
        forced.mflags |= flags::FORCEACK;
        assert!(
            vote(&mut st, &settings(), &forced, 10_000).is_some(),
            "forceack"
        );
        let mut st = cluster();
        st.current_epoch = 3;
        let mut h = request(&st, 3);
        h.myslots.set(5); // mine, epoch 1 > claimed... claim with epoch 0:
        h.config_epoch = 0;
        assert!(
            vote(&mut st, &settings(), &h, 10_000).is_none(),
            "stale claim"
        );
    }

    #[test]
    fn replica_elects_itself_after_the_delay_and_quorum() {
        // Me (c) replica of failed b; a and d masters vote.
        let mut st = ClusterState::fresh(id(b'c'), 1);
        for (n, f) in [
            (b'a', flags::MASTER),
            (b'b', flags::MASTER | flags::FAIL),
            (b'd', flags::MASTER),
        ] {
            st.add_node(Node::new(id(n), f, 1));
        }
        st.nodes.get_mut(&id(b'b')).unwrap().config_epoch = 2;
        for s in 0..SLOTS as u16 {
            let owner = [b'a', b'b', b'd'][(s as usize * 3) / SLOTS];
            st.set_slot(s, Some(id(owner)));
        }
        st.set_my_master(id(b'b'));
        st.update_state(100_000, false, 3000);
        assert_eq!(st.size, 3);
        let s = settings();
        let mut rnd = || 7u64;
        // Never synced: no election.
        assert!(cron(&mut st, &s, 100_000, &mut rnd).is_empty());
        assert_eq!(st.election.auth_time, 0);
        st.repl = ReplView {
            offset: 50,
            data_age: Some(3500),
        };
        let out = cron(&mut st, &s, 100_000, &mut rnd);
        assert!(out.is_empty(), "no other replica to tell");
        assert_eq!(st.election.auth_time, 100_507);
        assert!(cron(&mut st, &s, 100_400, &mut rnd).is_empty());
        let out = cron(&mut st, &s, 100_600, &mut rnd);
        assert!(
            matches!(&out[..], [Outgoing::Broadcast(m)] if m.body == Body::FailoverAuthRequest)
        );
        assert_eq!(st.election.auth_epoch, 1);
        count_ack(&mut st, &id(b'a'), 1);
        assert!(cron(&mut st, &s, 100_700, &mut rnd).is_empty());
        count_ack(&mut st, &id(b'd'), 1);
        let out = cron(&mut st, &s, 100_800, &mut rnd);
        assert_eq!(out.len(), 1);
        assert!(st.me().is_master());
        assert_eq!(st.me().config_epoch, 1);
        assert_eq!(st.me().slot_count(), SLOTS - 2 * 5461 - 1);
        assert_eq!(st.nodes[&id(b'b')].slot_count(), 0);
        assert_eq!(st.save, SaveNeed::SaveFsync);
    }

    #[test]
    fn rank_counts_replicas_ahead() {
        let mut st = ClusterState::fresh(id(b'c'), 1);
        st.add_node(Node::new(id(b'b'), flags::MASTER, 1));
        st.set_my_master(id(b'b'));
        for (n, off) in [(b'd', 10u64), (b'e', 100), (b'f', 200)] {
            let mut r = Node::new(id(n), flags::SLAVE, 1);
            r.master = Some(id(b'b'));
            r.repl_offset = off;
            st.add_node(r);
        }
        st.nodes.get_mut(&id(b'f')).unwrap().flags |= flags::NOFAILOVER;
        st.repl.offset = 50;
        assert_eq!(rank(&st), 1);
        st.repl.offset = 0;
        assert_eq!(rank(&st), 2);
    }

    #[test]
    fn data_too_old_or_no_failover_prevents_the_election() {
        let orphan = || {
            let mut st = ClusterState::fresh(id(b'c'), 1);
            st.add_node(Node::new(id(b'b'), flags::MASTER | flags::FAIL, 1));
            st.set_slot(1, Some(id(b'b')));
            st.set_my_master(id(b'b'));
            st.update_state(100_000, false, 3000);
            st.repl.data_age = Some(3000 + 10_000 + 30_001);
            st
        };
        let mut s = settings();
        let mut rnd = || 0u64;
        let mut st = orphan();
        assert!(cron(&mut st, &s, 100_000, &mut rnd).is_empty());
        assert_eq!(st.election.cant, CantFailover::DataAge);
        s.replica_validity_factor = 0;
        cron(&mut st, &s, 100_000, &mut rnd);
        assert_eq!(st.election.auth_time, 100_500);
        let mut st = orphan();
        s.replica_no_failover = true;
        cron(&mut st, &s, 100_000, &mut rnd);
        assert_eq!(st.election.auth_time, 0);
    }

    #[test]
    fn manual_failover_waits_for_the_paused_offset_then_asks_with_forceack() {
        let mut st = ClusterState::fresh(id(b'c'), 1);
        st.add_node(Node::new(id(b'a'), flags::MASTER, 1));
        st.add_node(Node::new(id(b'b'), flags::MASTER, 1));
        for s in 0..SLOTS as u16 {
            st.set_slot(s, Some(id(if s < 8000 { b'a' } else { b'b' })));
        }
        st.set_my_master(id(b'b'));
        st.update_state(100_000, false, 3000);
        let s = settings();
        let mut rnd = || 0u64;
        assert!(
            manual_start(&mut st, Manual::Default, 100_000).is_err(),
            "no link"
        );
        st.nodes.get_mut(&id(b'b')).unwrap().link_up = true;
        manual_start(&mut st, Manual::Default, 100_000).unwrap();
        let out = cron(&mut st, &s, 100_100, &mut rnd);
        assert!(
            matches!(&out[..], [Outgoing::To(to, m)] if *to == id(b'b') && m.body == Body::MfStart)
        );
        st.repl.offset = 90;
        note_paused_master(&mut st, &id(b'a'), flags::PAUSED, 100);
        assert_eq!(st.election.mf_master_offset, None, "not my master");
        note_paused_master(&mut st, &id(b'b'), flags::PAUSED, 100);
        assert!(cron(&mut st, &s, 100_200, &mut rnd).is_empty());
        assert!(!st.election.mf_can_start);
        st.repl.offset = 100;
        cron(&mut st, &s, 100_300, &mut rnd);
        assert!(st.election.mf_can_start);
        assert_eq!(st.election.auth_time, 100_300, "no delay");
        let out = cron(&mut st, &s, 100_400, &mut rnd);
        assert!(matches!(&out[..], [Outgoing::Broadcast(m)]
            if m.body == Body::FailoverAuthRequest && m.header.mflags & flags::FORCEACK != 0));
        // Times out after 5 s.
        cron(&mut st, &s, 105_400, &mut rnd);
        assert_eq!(st.election.mf_end, 0);
        // TAKEOVER: at once, no votes.
        manual_start(&mut st, Manual::Takeover, 106_000).unwrap();
        assert!(st.me().is_master());
        assert_eq!(st.me().slot_count(), SLOTS - 8000);
        assert!(st.broadcast_pong);
        assert!(st.me().config_epoch > 0);
        assert!(manual_start(&mut st, Manual::Force, 106_000).is_err());
    }

    #[test]
    fn master_pauses_on_mfstart_from_its_replica_until_timeout_or_demotion() {
        // Me (b) master of slots 8000..; c my replica, d a's replica.
        let mut st = ClusterState::fresh(id(b'b'), 1);
        st.add_node(Node::new(id(b'a'), flags::MASTER, 1));
        st.add_node(Node::new(id(b'c'), flags::SLAVE, 1));
        st.add_node(Node::new(id(b'd'), flags::SLAVE, 1));
        st.set_as_replica(&id(b'c'), id(b'b'));
        st.set_as_replica(&id(b'd'), id(b'a'));
        for s in 0..SLOTS as u16 {
            st.set_slot(s, Some(id(if s < 8000 { b'a' } else { b'b' })));
        }
        st.update_state(100_000, false, 3000);
        let s = settings();
        let mut rnd = || 0u64;
        assert!(!mf_start(&mut st, &id(b'd'), 100_000));
        assert_eq!(st.election.mf_end, 0, "not my replica");
        assert_eq!(master_cron(&mut st, true), MasterManual::default());
        assert!(mf_start(&mut st, &id(b'c'), 100_000));
        assert_eq!(st.election.mf_end, 100_000 + MF_TIMEOUT);
        // First tick: pause, ping, but not settled: no PAUSED yet.
        let m = master_cron(&mut st, false);
        assert_eq!(m.pause_until, Some(100_000 + 2 * MF_TIMEOUT));
        assert_eq!(m.ping, Some(id(b'c')));
        assert_eq!(gossip::header(&st, &s).mflags & flags::PAUSED, 0);
        st.repl.offset = 777;
        master_cron(&mut st, true);
        let h = gossip::header(&st, &s);
        assert_eq!((h.mflags & flags::PAUSED, h.offset), (flags::PAUSED, 777));
        // The replica side's cron leaves a master's failover running...
        cron(&mut st, &s, 101_000, &mut rnd);
        assert!(master_cron(&mut st, true).pause_until.is_some());
        // ...until it times out: the pause ends.
        cron(&mut st, &s, 105_001, &mut rnd);
        assert_eq!(master_cron(&mut st, true), MasterManual::default());
        assert_eq!(gossip::header(&st, &s).mflags & flags::PAUSED, 0);
        // Demoted (my slots taken): the pause ends too.
        mf_start(&mut st, &id(b'c'), 110_000);
        assert!(master_cron(&mut st, true).pause_until.is_some());
        st.set_as_replica(&id(b'b'), id(b'c'));
        assert_eq!(master_cron(&mut st, true), MasterManual::default());
        assert_eq!(st.election.mf_replica, None);
    }
}
