//! What consumer-group reads and claims log in their place (Redis's
//! streamPropagateXCLAIM, streamPropagateGroupID,
//! streamPropagateConsumerCreation): commands that replay the PEL and
//! group changes idempotently on replicas and from the AOF.

use crate::store::stream::{Group, Nack, StreamId};

/// `XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID
/// LASTID last`: `id` as the caller spelled it (XCLAIM logs its own
/// argument).
pub fn xclaim(key: &[u8], group: &[u8], id: &[u8], n: &Nack, last: StreamId) -> Vec<Vec<u8>> {
    vec![
        b"XCLAIM".to_vec(),
        key.to_vec(),
        group.to_vec(),
        n.consumer.clone(),
        b"0".to_vec(),
        id.to_vec(),
        b"TIME".to_vec(),
        n.delivery_time.to_string().into_bytes(),
        b"RETRYCOUNT".to_vec(),
        n.delivery_count.to_string().into_bytes(),
        b"FORCE".to_vec(),
        b"JUSTID".to_vec(),
        b"LASTID".to_vec(),
        last.to_bytes(),
    ]
}

/// `XGROUP SETID key group last ENTRIESREAD n`.
pub fn setid(key: &[u8], group: &[u8], g: &Group) -> Vec<Vec<u8>> {
    vec![
        b"XGROUP".to_vec(),
        b"SETID".to_vec(),
        key.to_vec(),
        group.to_vec(),
        g.last_id.to_bytes(),
        b"ENTRIESREAD".to_vec(),
        g.entries_read.to_string().into_bytes(),
    ]
}

/// `XGROUP CREATECONSUMER key group consumer`.
pub fn create_consumer(key: &[u8], group: &[u8], consumer: &[u8]) -> Vec<Vec<u8>> {
    vec![
        b"XGROUP".to_vec(),
        b"CREATECONSUMER".to_vec(),
        key.to_vec(),
        group.to_vec(),
        consumer.to_vec(),
    ]
}
