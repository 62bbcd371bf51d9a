//! Integration tests of training: `emnist train` (which execs `emnist-train`), the library loop,
//! and exports of trained models checked against tch.

#[path = "../../../emnist/tests/it/common.rs"]
mod common;
mod cuda;
mod export;
mod train;
mod tune;

use common::emnist_cmd;

#[test]
fn emnist_version_reports_the_trainer_and_what_libtorch_sees() {
    let out = emnist_cmd().arg("--version").env_remove("LD_LIBRARY_PATH").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("libtorch 2.13") && text.contains("CPU threads"), "{text}");
}
