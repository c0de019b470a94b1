//! What the process reads from the machine it runs on, below every other
//! layer but the leaf utilities: the wall clock, the cores it may use,
//! the log file, and per-thread randomness.

pub mod clock;
pub mod cpus;
pub mod log;
pub mod random;
