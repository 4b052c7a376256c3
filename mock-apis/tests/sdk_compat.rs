//! The official Contentstack JavaScript SDKs, pinned in
//! `mock-apis/sdk-tests/package.json`, driven against the mocks on loopback
//! by `sdk-tests/sdk.test.mjs` (node's test runner): the shipped quickstart
//! scenario's synthetic entries, and the stack export under
//! `tests/fixtures/export/` served by a second pair of mocks. Installs the
//! packages with `npm ci` first when they are missing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use ttlab_mock_apis::MockConfig;
use ttlab_scenarios::shipped;
use ttlab_scenarios::{ManualClock, Micros, World, parse_str};

fn sdk_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sdk-tests")
}

fn ensure_packages(dir: &Path) {
    if dir.join("node_modules/@contentstack/delivery-sdk").exists()
        && dir
            .join("node_modules/@contentstack/personalize-edge-sdk")
            .exists()
    {
        return;
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .output()
        .expect("npm must be installed to run the SDK compatibility suite (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "npm ci in {} failed:\n{}\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdks_accept_the_mocks() {
    let dir = sdk_dir();
    tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || ensure_packages(&dir)
    })
    .await
    .unwrap();

    let quickstart = shipped::get("quickstart").unwrap();
    let world = Arc::new(World::new(
        parse_str(quickstart.path, quickstart.source).unwrap(),
    ));
    let clock = Arc::new(ManualClock::at(Micros::ZERO));
    let mocks = ttlab_mock_apis::start(world.clone(), clock.clone(), MockConfig::default())
        .await
        .unwrap();
    let export = ttlab_mock_apis::start(common::export_world(), clock, MockConfig::default())
        .await
        .unwrap();

    let child = tokio::process::Command::new("node")
        .args(["--test", "--test-reporter=spec", "sdk.test.mjs"])
        .current_dir(&dir)
        .env("TTLAB_PERSONALIZE_URL", &mocks.personalize_url)
        .env("TTLAB_DELIVERY_URL", &mocks.delivery_url)
        .env("TTLAB_VISITOR_UID", world.uid(0).as_str())
        .env("TTLAB_EXPORT_DELIVERY_URL", &export.delivery_url)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), child)
        .await
        .expect("the SDK suite finishes within 2 minutes")
        .expect("node must be installed to run the SDK compatibility suite");
    mocks.shutdown().await;
    export.shutdown().await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the official SDKs rejected the mocks:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("pass 16"),
        "all 16 SDK tests ran:\n{stdout}"
    );
}
