//! The options of GEORADIUS, GEORADIUSBYMEMBER, their _RO forms,
//! GEOSEARCH and GEOSEARCHSTORE, parsed in Redis's order (geo.c's
//! georadiusGeneric) so the same error wins.

use super::geohash::decode_score;
use super::search::{Shape, ShapeKind};
use super::units::{box_or_reply, lon_lat_or_reply, radius_or_reply};
use crate::command::util::{arg_i64, is, NOT_INTEGER, SYNTAX};
use crate::resp::Out;
use crate::store::zset::ZSet;

/// Which command form is parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// GEORADIUS key lon lat radius unit ...
    Radius { store_allowed: bool },
    /// GEORADIUSBYMEMBER key member radius unit ...
    ByMember { store_allowed: bool },
    /// GEOSEARCH key ...
    Search,
    /// GEOSEARCHSTORE dst key ...
    SearchStore,
}

impl Form {
    fn store_allowed(self) -> bool {
        matches!(
            self,
            Form::Radius {
                store_allowed: true
            } | Form::ByMember {
                store_allowed: true
            }
        )
    }

    fn is_search(self) -> bool {
        matches!(self, Form::Search | Form::SearchStore)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    None,
    Asc,
    Desc,
}

/// A parsed request. `shape` is None only when the source key is missing
/// (the reply is then empty).
#[derive(Debug)]
pub struct Request<'a> {
    pub shape: Option<Shape>,
    pub store: Option<&'a [u8]>,
    pub store_dist: bool,
    pub with_dist: bool,
    pub with_hash: bool,
    pub with_coord: bool,
    pub sort: Sort,
    pub any: bool,
    /// 0: no limit.
    pub count: usize,
}

const NO_MEMBER: &str = "ERR could not decode requested zset member";

/// The member's position in `z`, or None after the error reply.
fn member_position(out: &mut Out, z: &ZSet, member: &[u8]) -> Option<(f64, f64)> {
    let pos = z.score(member).and_then(decode_score);
    if pos.is_none() {
        out.error(NO_MEMBER);
    }
    pos
}

/// Parses `args` for `form` over the source zset `z` (None: missing);
/// None after an error reply.
pub fn parse<'a>(
    out: &mut Out,
    form: Form,
    args: &[&'a [u8]],
    z: Option<&ZSet>,
) -> Option<Request<'a>> {
    let mut center = None;
    let mut size = None;
    let base = match form {
        Form::Radius { .. } => {
            center = Some(lon_lat_or_reply(out, &args[2..4])?);
            let (r, unit) = radius_or_reply(out, &args[4..6])?;
            size = Some((ShapeKind::Radius(r), unit));
            6
        }
        Form::ByMember { .. } => {
            // A missing key still parses the options (for the reply shape)
            // but not the radius.
            if let Some(z) = z {
                center = Some(member_position(out, z, args[2])?);
                let (r, unit) = radius_or_reply(out, &args[3..5])?;
                size = Some((ShapeKind::Radius(r), unit));
            }
            5
        }
        Form::Search => 2,
        Form::SearchStore => 3,
    };
    let mut req = Request {
        shape: None,
        store: (form == Form::SearchStore).then(|| args[1]),
        store_dist: false,
        with_dist: false,
        with_hash: false,
        with_coord: false,
        sort: Sort::None,
        any: false,
        count: 0,
    };
    let (mut from_member, mut from_lonlat, mut by_radius, mut by_box) =
        (false, false, false, false);
    let mut i = base;
    while i < args.len() {
        let a = args[i];
        let left = args.len() - i - 1;
        if is(a, "withdist") {
            req.with_dist = true;
        } else if is(a, "withhash") {
            req.with_hash = true;
        } else if is(a, "withcoord") {
            req.with_coord = true;
        } else if is(a, "any") {
            req.any = true;
        } else if is(a, "asc") {
            req.sort = Sort::Asc;
        } else if is(a, "desc") {
            req.sort = Sort::Desc;
        } else if is(a, "count") && left >= 1 {
            let Some(n) = arg_i64(args[i + 1]) else {
                out.error(NOT_INTEGER);
                return None;
            };
            if n <= 0 {
                out.error("ERR COUNT must be > 0");
                return None;
            }
            req.count = n as usize;
            i += 1;
        } else if (is(a, "store") || is(a, "storedist")) && left >= 1 && form.store_allowed() {
            req.store = Some(args[i + 1]);
            req.store_dist = is(a, "storedist");
            i += 1;
        } else if is(a, "storedist") && form == Form::SearchStore {
            req.store_dist = true;
        } else if is(a, "frommember") && left >= 1 && form.is_search() && !from_lonlat {
            if let Some(z) = z {
                center = Some(member_position(out, z, args[i + 1])?);
            }
            from_member = true;
            i += 1;
        } else if is(a, "fromlonlat") && left >= 2 && form.is_search() && !from_member {
            center = Some(lon_lat_or_reply(out, &args[i + 1..i + 3])?);
            from_lonlat = true;
            i += 2;
        } else if is(a, "byradius") && left >= 2 && form.is_search() && !by_box {
            let (r, unit) = radius_or_reply(out, &args[i + 1..i + 3])?;
            size = Some((ShapeKind::Radius(r), unit));
            by_radius = true;
            i += 2;
        } else if is(a, "bybox") && left >= 3 && form.is_search() && !by_radius {
            let (width, height, unit) = box_or_reply(out, &args[i + 1..i + 4])?;
            size = Some((ShapeKind::Box { width, height }, unit));
            by_box = true;
            i += 3;
        } else {
            out.error(SYNTAX);
            return None;
        }
        i += 1;
    }
    if req.store.is_some() && (req.with_dist || req.with_hash || req.with_coord) {
        let what = if form == Form::SearchStore {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        out.error(&format!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        ));
        return None;
    }
    if form.is_search() {
        let name = String::from_utf8_lossy(args[0]);
        if !(from_member || from_lonlat) {
            out.error(&format!(
                "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
            ));
            return None;
        }
        if !(by_radius || by_box) {
            out.error(&format!(
                "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
            ));
            return None;
        }
    }
    if req.any && req.count == 0 {
        out.error("ERR the ANY argument requires COUNT argument");
        return None;
    }
    if let (Some(center), Some((kind, to_meters))) = (center, size) {
        req.shape = Some(Shape {
            center,
            to_meters,
            kind,
        });
    }
    Some(req)
}
