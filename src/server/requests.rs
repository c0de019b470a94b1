//! A connection's requests between reads: the query buffer and the parse
//! tables of the complete requests in it (flat argument ranges and one
//! count per request), kept and reused batch after batch.

use super::client_mem;
use super::conn::{Conn, ReplyMode};
use super::input::QueryBuf;
use super::shard::ShardRt;
use crate::resp::{parse_command, Parsed, Progress, ProtocolError};

/// Arguments a connection's parse tables keep room for between batches.
const ARGS_KEPT: usize = 1024;

#[derive(Default)]
pub struct Requests {
    pub input: QueryBuf,
    /// The request at the front of `input`, if partly parsed.
    progress: Progress,
    /// Bytes the request still arriving needs (0: not known).
    pub need: usize,
    /// The arguments of the request being parsed.
    ranges: Vec<(usize, usize)>,
    /// Inline requests' arguments, as parsed.
    pub scratch: Vec<u8>,
    /// (start, end, inline) per argument of the parsed requests.
    pub args: Vec<(usize, usize, bool)>,
    /// Per parsed request, its argument count.
    pub argcs: Vec<usize>,
    /// Requests remain in the buffer that must be parsed before reading
    /// more (see `parse`).
    pub reparse: bool,
    /// Bytes that arrived while a blocking command waited.
    pub pending: Vec<u8>,
    /// The batch's argument slices and per-request bounds, kept empty
    /// between batches so their room is reused (`take_tables`).
    argv: Vec<&'static [u8]>,
    bounds: Vec<(usize, usize)>,
}

impl Requests {
    /// Parses every complete request in the buffer into `args`/`argcs`;
    /// returns where parsing stopped and the protocol error met, if any.
    /// Before AUTH the stricter limits apply request by request (an AUTH
    /// lifts them for what follows it in the same read), and REPLICAOF,
    /// CLIENT PAUSE and CLIENT REPLY end the batch, so parsing stops after each of them
    /// with `reparse` set.
    pub fn parse(&mut self, conn: &Conn) -> (usize, Option<ProtocolError>) {
        let buf = self.input.data();
        let filled = buf.len();
        let mut pos = 0;
        self.args.clear();
        self.argcs.clear();
        self.scratch.clear();
        let mut limits = conn.settings.parse;
        limits.authenticated = !conn.auth_required();
        while pos < filled {
            let parsed = parse_command(
                &buf[pos..],
                &limits,
                &mut self.progress,
                &mut self.ranges,
                &mut self.scratch,
            );
            match parsed {
                Ok(Parsed::Complete { consumed, inline }) => {
                    if !self.ranges.is_empty() {
                        let base = if inline { 0 } else { pos };
                        let ranges = self.ranges.iter();
                        self.args
                            .extend(ranges.map(|&(s, e)| (s + base, e + base, inline)));
                        self.argcs.push(self.ranges.len());
                    }
                    let bytes = if inline { &self.scratch } else { &buf[pos..] };
                    let pause = ends_batch(&self.ranges, bytes);
                    pos += consumed;
                    self.need = 0;
                    if !limits.authenticated || pause || conn.reply == ReplyMode::Skip {
                        self.reparse = pos < filled;
                        break;
                    }
                }
                Ok(Parsed::Incomplete { need }) => {
                    self.need = need;
                    break;
                }
                Err(e) => return (pos, Some(e)),
            }
        }
        (pos, None)
    }

    /// The (empty) vectors a batch's argument slices and bounds go in;
    /// give them back with `put_tables` once the batch ran.
    pub fn take_tables<'a>(&mut self) -> (Vec<&'a [u8]>, Vec<(usize, usize)>) {
        // `&'static [u8]` is a `&'a [u8]`: the empty vector is taken as is.
        (
            std::mem::take(&mut self.argv),
            std::mem::take(&mut self.bounds),
        )
    }

    /// Keeps a batch's vectors for the next one, emptied (a huge batch's
    /// are let go, as `settle` does with the parse tables); `argv` has
    /// gone through [`forget_borrows`].
    pub fn put_tables(&mut self, argv: Vec<&'static [u8]>, mut bounds: Vec<(usize, usize)>) {
        self.argv = argv;
        shrink_scratch(&mut self.argv, ARGS_KEPT);
        bounds.clear();
        shrink_scratch(&mut bounds, ARGS_KEPT);
        self.bounds = bounds;
    }

    /// After a batch ran: gives a huge request's tables back, keeps the
    /// unparsed tail from `end` on, then what arrived while blocked.
    pub fn settle(&mut self, end: usize, rt: &ShardRt, conn: &Conn) {
        // Redis's query buffer outgrows its 16 KiB reads only for a big
        // argument (PROTO_MBULK_BIG_ARG), read whole into it; a request of
        // many small arguments is parsed as it arrives and leaves it
        // small. Ours holds a request whole: such a request's buffer goes
        // back to one read's size at once, not at the cron's next look.
        let small_args_only = self.input.capacity() > BIG_ARG
            && !self.args.is_empty()
            && self.args.iter().all(|&(s, e, _)| e - s < BIG_ARG);
        // As Redis frees a big argv with its command: only a usual
        // batch's worth stays with the connection.
        shrink_scratch(&mut self.args, ARGS_KEPT);
        if self.progress.is_fresh() {
            // (A request still arriving keeps its parsed part here.)
            shrink_scratch(&mut self.ranges, ARGS_KEPT);
        }
        shrink_scratch(&mut self.argcs, ARGS_KEPT);
        shrink_scratch(&mut self.scratch, ARGS_KEPT * 16);

        self.input.consume(end);
        if small_args_only && self.input.len() <= super::input::CHUNK {
            self.input.shrink_to(super::input::CHUNK);
        }
        if !self.pending.is_empty() {
            self.input.append(&self.pending);
            rt.core.borrow_mut().stats.net_input_bytes += self.pending.len() as u64;
            self.pending = Vec::new();
            self.reparse = true;
        }
        // Under maxmemory-clients an announced argument gets its whole
        // buffer at once, as Redis's greedy big-argument read does, so its
        // memory counts (and evicts) as soon as the request announces it,
        // not only once it has arrived.
        let evict_limit = conn.settings.client_mem_limit;
        if evict_limit > 0 && self.need > self.input.capacity() && client_mem::evictable(&conn.info)
        {
            let room = evict_limit.min(conn.settings.query_buffer_limit);
            self.input.reserve(self.need.min(room));
        }
        conn.info.qbuf.set(self.query_len());
        conn.info.mem.qbuf_alloc.set(self.input.capacity());
        conn.info.mem.qbuf_need.set(self.need);
    }

    /// CLIENT LIST `qbuf`: the bytes received and not yet run, except
    /// that a big argument still arriving counts from its data on, as
    /// Redis trims its query buffer to such an argument
    /// (PROTO_MBULK_BIG_ARG) and moves the earlier ones to argv.
    fn query_len(&self) -> usize {
        let len = self.input.len();
        match self.progress.arriving_bulk() {
            Some((start, bulk)) if bulk >= BIG_ARG && len >= start => len - start,
            _ => len,
        }
    }
}

/// Redis's PROTO_MBULK_BIG_ARG.
const BIG_ARG: usize = 32 * 1024;

/// Empties `v` and keeps its room for slices of any lifetime. The
/// collect runs in place (the standard library reuses a vector's buffer
/// when collecting its own `into_iter` into elements of the same size and
/// alignment), so no allocation happens; tests/alloc_free.rs checks it.
pub fn forget_borrows(mut v: Vec<&[u8]>) -> Vec<&'static [u8]> {
    v.clear();
    v.into_iter().map(|_| -> &'static [u8] { &[] }).collect()
}

/// Empties `v` and lets its memory go if it holds room for more than
/// `kept` items.
fn shrink_scratch<T>(v: &mut Vec<T>, kept: usize) {
    if v.capacity() > kept {
        v.clear();
        v.shrink_to(kept);
    }
}

/// Whether the request whose arguments are `ranges` of `bytes` ends the
/// batch (REPLICAOF, CLIENT PAUSE, CLIENT REPLY: `Behavior::ENDS_BATCH`).
fn ends_batch(ranges: &[(usize, usize)], bytes: &[u8]) -> bool {
    let arg = |i: usize| ranges.get(i).map(|&(s, e)| &bytes[s..e]);
    let Some(name) = arg(0) else {
        return false;
    };
    if !super::table::table().may_end_batch(name) {
        return false;
    }
    let spec = match arg(1) {
        Some(sub) => super::table::lookup(&[name, sub]),
        None => super::table::lookup(&[name]),
    };
    spec.is_some_and(|spec| spec.behavior.has(super::spec::Behavior::ENDS_BATCH))
}
