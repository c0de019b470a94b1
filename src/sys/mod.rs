//! What the process reads from and asks of the machine it runs on, below
//! every other layer but the leaf utilities: the wall clock, the cores it
//! may use, the log file and the crash report, locked memory for
//! io_uring, randomness, bind addresses, and tasks on a glommio executor.

pub mod bind_addr;
pub mod clock;
pub mod connect;
pub mod cpus;
pub mod crash;
pub mod errno;
pub mod exec;
pub mod latency;
pub mod log;
pub mod memlock;
pub mod oom;
pub mod pacer;
pub mod proc_title;
pub mod random;
pub mod sha1;
pub mod socket;
pub mod ticker;
