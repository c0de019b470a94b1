//! GEOADD: ZADD with each longitude,latitude pair turned into its score.

use super::geohash::score_of;
use super::units::lon_lat_or_reply;
use crate::command::util::{is, SYNTAX};
use crate::command::zsets::zadd_generic;
use crate::command::Ctx;

/// GEOADD key [NX|XX] [CH] longitude latitude member [...]
pub(super) fn geoadd(ctx: &mut Ctx, args: &[&[u8]]) {
    let (mut xx, mut nx) = (false, false);
    let mut first = 2;
    while first < args.len() {
        let a = args[first];
        if is(a, "nx") {
            nx = true;
        } else if is(a, "xx") {
            xx = true;
        } else if !is(a, "ch") {
            break;
        }
        first += 1;
    }
    if !(args.len() - first).is_multiple_of(3) || (xx && nx) {
        return ctx.out.error(SYNTAX);
    }
    // The ZADD Redis runs in its place, and propagates.
    let mut zadd: Vec<Vec<u8>> = Vec::with_capacity(first + (args.len() - first) / 3 * 2);
    zadd.push(b"zadd".to_vec());
    zadd.extend(args[1..first].iter().map(|a| a.to_vec()));
    for triple in args[first..].chunks(3) {
        let Some((lon, lat)) = lon_lat_or_reply(ctx.out, triple) else {
            return;
        };
        zadd.push(score_of(lon, lat).to_string().into_bytes());
        zadd.push(triple[2].to_vec());
    }
    let argv: Vec<&[u8]> = zadd.iter().map(|a| a.as_slice()).collect();
    zadd_generic(ctx, &argv, false);
    ctx.propagate_as(&argv);
}
