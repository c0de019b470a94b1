//! The replica's side of replication: following a primary.
