//! The image and the seed's six-node cluster in containers, end to end:
//! scripts/docker-cluster-test.sh (what it checks is listed there). It
//! needs Docker, docker-compose and redis-cli; without them it is skipped
//! with the reason printed.

use std::process::Command;

#[test]
fn seed_cluster_in_docker() {
    let out = Command::new("scripts/docker-cluster-test.sh")
        .env("SHARDIS_BIN", env!("CARGO_BIN_EXE_shardis-server"))
        .output()
        .expect("run scripts/docker-cluster-test.sh");
    let log = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => eprintln!("{log}"),
        // The script's "skipped: <reason>" line says why.
        Some(77) => eprintln!("{log}"),
        _ => panic!(
            "scripts/docker-cluster-test.sh failed ({}):\n{}{log}",
            out.status,
            String::from_utf8_lossy(&out.stdout)
        ),
    }
}
