//! The cluster bus decoder, as a link drives it.
//!
//! The input is the bytes a peer sends on the bus port. It is cut into
//! frames with `frame_len` and each frame decoded, as cluster/control.rs
//! does. Checked: no panic; a frame length is at least the header; a
//! decoded message re-encodes to a frame of the same type that decodes
//! and re-encodes to the same bytes (what we read, we can forward).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shardis::cluster::bus::{frame_len, Message, HEADER_LEN};

fn check(frame: &[u8]) {
    let Ok(msg) = Message::decode(frame) else {
        return;
    };
    let again = msg.to_bytes();
    assert_eq!(frame_len(&again), Ok(Some(again.len())));
    // Encoding normalizes what the decoder keeps raw (an extension's
    // unused bytes, padding), so the decoded form may change once, but
    // the bytes we send may not.
    let back = Message::decode(&again).expect("a re-encoded message decodes");
    assert_eq!(back.type_code(), msg.type_code());
    assert_eq!(back.to_bytes(), again);
}

fuzz_target!(|data: &[u8]| {
    // The whole input as one frame: reaches the decoder's length checks
    // even when totlen disagrees with the input.
    check(data);
    let mut rest = data;
    loop {
        match frame_len(rest) {
            Ok(Some(len)) => {
                assert!(len >= HEADER_LEN);
                if rest.len() < len {
                    return;
                }
                check(&rest[..len]);
                rest = &rest[len..];
            }
            Ok(None) | Err(_) => return,
        }
    }
});
