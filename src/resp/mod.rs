//! The Redis wire protocol: request parsing and reply writing.
//!
//! This module knows nothing of the engine: it turns bytes into argument
//! ranges and typed replies into bytes (RESP2 or RESP3), and nothing else.

mod inline;
pub use inline::{split_inline as split_args, split_words};
mod parser;
mod reply;
mod repr;
mod writer;
pub use reply::{array_items, int_value, reply_len};
pub use repr::{repr, repr_string};

pub use parser::{parse_command, parse_i64, size_to_hold, Limits, Parsed, Progress, ProtocolError};
pub use writer::{bulk_len, fmt_double, fmt_g, push_i64, reply_cap, set_reply_cap, Out};
