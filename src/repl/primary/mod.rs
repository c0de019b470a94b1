//! The primary's side of replication: serving replicas.
