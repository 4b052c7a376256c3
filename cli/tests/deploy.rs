//! `ttlab deploy k8s` and the container image, checked without a cluster or a
//! docker daemon: the rendered manifests against the Kubernetes schema (the
//! `kubernetes-validate` package's bundled OpenAPI-derived JSON schemas, strict:
//! an unknown field is an error), broken manifests refused by the same check,
//! the pods' command lines accepted by this `ttlab`, and the Dockerfile's
//! stages, user and binary path against what the manifests run.
//!
//! Needs `kubernetes-validate` and Python's `yaml` (its dependency) on PATH;
//! `scripts/test.sh` installs them when missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const TTLAB: &str = env!("CARGO_BIN_EXE_ttlab");
/// The oldest Kubernetes the manifests are meant for (Indexed Jobs are GA
/// from 1.24; 1.30 is the oldest minor release still commonly supported),
/// and the newest the validator bundles.
const K8S_VERSIONS: [&str; 2] = ["1.30.0", "1.37.0"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace holds cli/")
        .to_path_buf()
}

/// Fails the test unless the command exited 0, showing what it said on
/// stderr.
fn succeeded(out: &Output) {
    assert!(
        out.status.success(),
        "{} failed: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn render(extra: &[&str]) -> String {
    let out = Command::new(TTLAB)
        .current_dir(repo())
        .args(["deploy", "k8s", "--image", "registry.example/ttlab:1"])
        .args(extra)
        .output()
        .expect("ttlab runs");
    succeeded(&out);
    String::from_utf8(out.stdout).expect("YAML is UTF-8")
}

fn full() -> String {
    render(&[
        "--scenario",
        "scenarios/geo-segments.toml",
        "--name",
        "shop-load",
        "--target",
        "http://shop.default.svc:8080",
        "--workers",
        "4",
        "--sweep",
        "ttl=0s,5s,30s",
        "--storage-class",
        "nfs",
    ])
}

/// Runs the validator on `yaml`, strict, for one Kubernetes version.
fn validate(yaml: &str, version: &str) -> Output {
    let dir = tempdir();
    let file = dir.join("manifests.yaml");
    std::fs::write(&file, yaml).expect("write manifests");
    let out = Command::new("kubernetes-validate")
        .args(["--strict", "--no-warn", "-k", version])
        .arg(&file)
        .output()
        .expect("kubernetes-validate runs (scripts/test.sh installs it: pip install kubernetes-validate)");
    let _ = std::fs::remove_dir_all(&dir);
    out
}

fn tempdir() -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "ttlab-deploy-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The YAML stream's documents as JSON, read by `PyYAML` (what the validator reads with).
fn documents(yaml: &str) -> Vec<Value> {
    let dir = tempdir();
    let file = dir.join("m.yaml");
    std::fs::write(&file, yaml).expect("write");
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
        ])
        .arg(&file)
        .output()
        .expect("python3 runs");
    let _ = std::fs::remove_dir_all(&dir);
    succeeded(&out);
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn container(job: &Value) -> &Value {
    &job["spec"]["template"]["spec"]["containers"][0]
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|s| s.as_str().expect("a string").to_owned())
        .collect()
}

#[test]
fn rendered_manifests_pass_the_kubernetes_schema() {
    let minimal = render(&[
        "--scenario",
        "quickstart",
        "--target",
        "http://shop:8080",
        "--workers",
        "2",
        "--mocks",
        "http://mocks.example:7001",
        "--no-redis",
    ]);
    for (yaml, resources) in [(full(), 9), (minimal, 4)] {
        for version in K8S_VERSIONS {
            let out = validate(&yaml, version);
            let said = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "k8s {version}: {said}");
            // Every document was checked, none skipped as unknown.
            assert_eq!(
                said.matches(" passed for resource ").count(),
                resources,
                "{said}"
            );
        }
    }
}

#[test]
fn broken_manifests_fail_the_same_check() {
    let good = full();
    for (what, broken) in [
        (
            "a misspelt field",
            good.replacen("  completions: 4", "  completion: 4", 1),
        ),
        (
            "a wrong type",
            good.replacen("  parallelism: 4", "  parallelism: four", 1),
        ),
        (
            "a missing required field",
            good.replacen(
                "        - name: worker\n          image: ",
                "        - image: ",
                1,
            ),
        ),
    ] {
        assert_ne!(broken, good, "{what}: the test changed nothing");
        let out = validate(&broken, K8S_VERSIONS[1]);
        let said = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what} passed: {said}");
        assert!(
            said.contains("did not validate for resource job/shop-load-workers"),
            "{what}: {said}"
        );
    }
}

#[test]
fn the_workers_are_an_indexed_job_whose_pods_this_ttlab_accepts() {
    let docs = documents(&full());
    let workers = find(&docs, "Job", "shop-load-workers");
    assert_eq!(workers["spec"]["completionMode"], "Indexed");
    assert_eq!(workers["spec"]["completions"], 4);
    assert_eq!(workers["spec"]["parallelism"], 4);
    let c = container(workers);
    assert_eq!(strings(&c["command"]), ["/usr/local/bin/ttlab"]);
    let args = strings(&c["args"]);
    assert!(!args.iter().any(|a| a == "--worker-id"), "{args:?}");
    // In-cluster mocks, reached through their Service.
    let at = args.iter().position(|a| a == "--mocks").expect("--mocks");
    assert_eq!(args[at + 1], "http://shop-load-mocks:7001");
    find(&docs, "Service", "shop-load-mocks");
    find(&docs, "Service", "shop-load-redis");
    // The pod's command line as this ttlab reads it, the scenario where the
    // ConfigMap puts it: pod 4 of 4 is refused as --worker-id 4 would be,
    // which shows every flag parses and the id comes from the pod's index.
    let scenario = repo().join("scenarios/geo-segments.toml");
    let local: Vec<String> = args
        .iter()
        .map(|a| {
            if a == "/scenario/scenario.toml" {
                scenario.to_string_lossy().into_owned()
            } else {
                a.clone()
            }
        })
        .collect();
    let out = Command::new(TTLAB)
        .args(&local)
        .env("JOB_COMPLETION_INDEX", "4")
        .output()
        .expect("ttlab runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--worker-id 4 is not one of 0..4 (--workers 4)"),
        "{err}"
    );
    // The scenario in the ConfigMap is the file, byte for byte.
    let cm = find(&docs, "ConfigMap", "shop-load-scenario");
    assert_eq!(
        cm["data"]["scenario.toml"].as_str().expect("text"),
        std::fs::read_to_string(&scenario).expect("scenario")
    );
    // Non-root, as the image's USER.
    let pod = &workers["spec"]["template"]["spec"]["securityContext"];
    assert_eq!(pod["runAsNonRoot"], true);
    assert_eq!(pod["runAsUser"], 10001);
}

#[test]
fn the_merge_job_waits_for_every_worker_then_merges() {
    let docs = documents(&full());
    let merge = find(&docs, "Job", "shop-load-merge");
    let c = container(merge);
    assert_eq!(strings(&c["command"]), ["/bin/sh", "-c"]);
    let script = strings(&c["args"]).remove(0);
    let env: Vec<(String, String)> = c["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                e["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(env.contains(&("WORKERS".into(), "4".into())), "{env:?}");
    assert!(
        env.contains(&("REPORTS".into(), "/reports/shop-load".into())),
        "{env:?}"
    );
    // The script itself, run by sh against a folder of reports: with worker 2
    // missing it waits (killed after its first wait); with all four, it merges
    // the newest report of each worker (ttlab replaced by echo).
    let dir = tempdir();
    let workers = dir.join("workers");
    for (k, time) in [
        (0, "20261130T100000Z"),
        (1, "20261130T100000Z"),
        (3, "20261130T100000Z"),
        (0, "20261130T110000Z"),
    ] {
        let d = workers.join(format!("geo-segments-worker{k}of4-{time}"));
        std::fs::create_dir_all(&d).expect("dir");
        std::fs::write(d.join("report.json"), "{}").expect("report");
    }
    let script = script.replace("exec /usr/local/bin/ttlab merge", "echo merge");
    let run = |timeout: &str| {
        Command::new("timeout")
            .args([timeout, "sh", "-c", &script])
            .env("WORKERS", "4")
            .env("REPORTS", &dir)
            .output()
            .expect("sh runs")
    };
    let out = run("2");
    assert_eq!(out.status.code(), Some(124), "it did not wait");
    assert!(String::from_utf8_lossy(&out.stdout).contains("waiting for 1 of 4 workers' reports"));
    let d = workers.join("geo-segments-worker2of4-20261130T100000Z");
    std::fs::create_dir_all(&d).expect("dir");
    std::fs::write(d.join("report.json"), "{}").expect("report");
    let out = run("20");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    let w = workers.to_string_lossy();
    assert_eq!(
        said.trim(),
        format!(
            "merge {w}/geo-segments-worker0of4-20261130T110000Z/report.json {w}/geo-segments-worker1of4-20261130T100000Z/report.json {w}/geo-segments-worker2of4-20261130T100000Z/report.json {w}/geo-segments-worker3of4-20261130T100000Z/report.json -o {}/merged",
            dir.display()
        )
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_sweep_is_split_by_point_one_pod_each() {
    let docs = documents(&full());
    let sweep = find(&docs, "Job", "shop-load-sweep");
    assert_eq!(sweep["spec"]["completionMode"], "Indexed");
    assert_eq!(sweep["spec"]["completions"], 3);
    let args = strings(&container(sweep)["args"]);
    // Pod 1's command line, here: it simulates the second value only and
    // names its point in its folder.
    let dir = tempdir();
    let local: Vec<String> = args
        .iter()
        .map(|a| match a.as_str() {
            "/scenario/scenario.toml" => repo()
                .join("scenarios/geo-segments.toml")
                .to_string_lossy()
                .into_owned(),
            "/reports/shop-load/sweep" => dir.to_string_lossy().into_owned(),
            _ => a.clone(),
        })
        .collect();
    let out = Command::new(TTLAB)
        .args(&local)
        .env("JOB_COMPLETION_INDEX", "1")
        .output()
        .expect("ttlab runs");
    succeeded(&out);
    let folders: Vec<String> = std::fs::read_dir(&dir)
        .expect("reports")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(folders.len(), 1, "{folders:?}");
    assert!(
        folders[0].starts_with("geo-segments-sim-ttl-point1of3-"),
        "{folders:?}"
    );
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(&folders[0]).join("report.json")).expect("report"),
    )
    .expect("JSON");
    let points = report["sweep"]["points"].as_array().expect("points");
    assert_eq!(points.len(), 1);
    assert_eq!(points[0]["value"], "5s");
    // That point is the whole sweep's second point, exactly: a point's
    // simulation does not depend on the others.
    let whole = tempdir();
    let out = Command::new(TTLAB)
        .args(&local[..local.len() - 1])
        .arg(&whole)
        .env_remove("JOB_COMPLETION_INDEX")
        .output()
        .expect("ttlab runs");
    succeeded(&out);
    let folder = std::fs::read_dir(&whole)
        .expect("reports")
        .next()
        .expect("one report")
        .expect("entry")
        .path();
    let all: Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("report.json")).expect("report"))
            .expect("JSON");
    assert_eq!(all["sweep"]["points"].as_array().expect("points").len(), 3);
    assert_eq!(all["sweep"]["points"][1], points[0]);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&whole);
}

/// The instructions of the Dockerfile's stages, as (stage, instruction, rest),
/// continuation lines joined.
fn dockerfile() -> Vec<(usize, String, String)> {
    let text = std::fs::read_to_string(repo().join("deploy/Dockerfile")).expect("Dockerfile");
    let joined = text.replace("\\\n", " ");
    let mut stage = 0;
    let mut out = Vec::new();
    for line in joined.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (op, rest) = line.split_once(' ').unwrap_or((line, ""));
        let op = op.to_ascii_uppercase();
        if op == "FROM" {
            stage += 1;
        }
        out.push((stage, op, rest.trim().to_owned()));
    }
    out
}

#[test]
fn the_image_is_multi_stage_non_root_with_the_binary_the_manifests_run() {
    let ins = dockerfile();
    let froms: Vec<&str> = ins
        .iter()
        .filter(|(_, op, _)| op == "FROM")
        .map(|(_, _, r)| r.as_str())
        .collect();
    assert_eq!(froms.len(), 2, "{froms:?}");
    // Build: a Rust toolchain at least the workspace's rust-version.
    let (image, stage) = froms[0].split_once(" AS ").expect("a named build stage");
    assert_eq!(stage, "build");
    let version = image
        .strip_prefix("rust:")
        .and_then(|v| v.split('-').next())
        .expect("rust:<version>-…");
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).expect("Cargo.toml");
    let wanted = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .expect("rust-version")
        .trim_matches('"');
    let parse =
        |v: &str| -> Vec<u32> { v.split('.').map(|p| p.parse().expect("a number")).collect() };
    assert!(parse(version) >= parse(wanted), "rust {version} < {wanted}");
    assert!(ins.iter().any(|(s, op, r)| *s == 1
        && op == "RUN"
        && r.contains("cargo build --release --locked -p ttlab")));
    // Runtime: slim, the binary alone from the build stage, a numeric non-root user.
    assert!(
        froms[1].starts_with("debian:") && froms[1].contains("-slim"),
        "{}",
        froms[1]
    );
    let runtime: Vec<&(usize, String, String)> = ins.iter().filter(|(s, _, _)| *s == 2).collect();
    let copies: Vec<&str> = runtime
        .iter()
        .filter(|(_, op, _)| op == "COPY")
        .map(|(_, _, r)| r.as_str())
        .collect();
    assert_eq!(
        copies,
        ["--from=build /usr/local/bin/ttlab /usr/local/bin/ttlab"]
    );
    let user = runtime
        .iter()
        .rev()
        .find(|(_, op, _)| op == "USER")
        .map(|(_, _, r)| r.as_str())
        .expect("USER in the runtime stage");
    let uid: u32 = user
        .split(':')
        .next()
        .unwrap()
        .parse()
        .expect("a numeric uid, so runAsNonRoot can check it");
    assert_ne!(uid, 0);
    let entry = runtime
        .iter()
        .find(|(_, op, _)| op == "ENTRYPOINT")
        .map(|(_, _, r)| r.as_str())
        .expect("ENTRYPOINT");
    assert_eq!(entry, "[\"/usr/local/bin/ttlab\"]");
    // The manifests run that binary as that user.
    let docs = documents(&full());
    for job in ["shop-load-workers", "shop-load-sweep"] {
        let j = find(&docs, "Job", job);
        assert_eq!(strings(&container(j)["command"]), ["/usr/local/bin/ttlab"]);
        assert_eq!(
            j["spec"]["template"]["spec"]["securityContext"]["runAsUser"],
            uid
        );
    }
    // The context leaves out build output and git, and keeps what the crates embed.
    let ignore = std::fs::read_to_string(repo().join("deploy/Dockerfile.dockerignore"))
        .expect("dockerignore");
    let patterns: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for p in ["target", ".git", "**/node_modules"] {
        assert!(patterns.contains(&p), "{p} not ignored");
    }
    for kept in ["deploy/k8s", "scenarios", "cli", "Cargo.lock"] {
        assert!(
            !patterns
                .iter()
                .any(|p| kept.starts_with(p.trim_end_matches('/'))),
            "{kept} ignored"
        );
    }
}

/// Kills the served stack when the test ends, passed or not.
struct Stack(std::process::Child);

impl Drop for Stack {
    fn drop(&mut self) {
        let _ =
            ttlab_test_support::process::interrupt(&mut self.0, std::time::Duration::from_secs(10));
    }
}

/// Runs `n` workers with the pod's command line at once, pod K's index K.
fn run_workers(args: &[String], n: u32) {
    let workers: Vec<std::process::Child> = (0..n)
        .map(|k| {
            Command::new("timeout")
                .arg("60")
                .arg(TTLAB)
                .args(args)
                .env("JOB_COMPLETION_INDEX", k.to_string())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("a worker starts")
        })
        .collect();
    for w in workers {
        let out = w.wait_with_output().expect("a worker ends");
        succeeded(&out);
    }
}

/// `ttlab serve stack` of `scenario`'s ssr-edge, with its entry and
/// Personalize URLs.
fn start_stack(scenario: &str) -> (Stack, String, String) {
    use std::time::Duration;
    use ttlab_test_support::process::Lines;
    let mut child = Command::new(TTLAB)
        .args([
            "serve",
            "stack",
            "--scenario",
            scenario,
            "--arch",
            "ssr-edge",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve stack starts");
    let mut lines = Lines::of(child.stdout.take().expect("stdout"));
    let stack = Stack(child);
    let url = |line: String| line.split_whitespace().last().expect("a URL").to_owned();
    let entry = url(
        lines.wait_for_line(Duration::from_secs(20), "the entry URL", |l| {
            l.trim_start().starts_with("entry")
        }),
    );
    let mocks = url(
        lines.wait_for_line(Duration::from_secs(5), "the Personalize URL", |l| {
            l.trim_start().starts_with("Personalize")
        }),
    );
    (stack, entry, mocks)
}

#[test]
fn the_pods_commands_load_one_target_and_merge_on_one_machine() {
    // What the cluster would run, as processes here: one target with its
    // mocks (`serve stack`, ssr-edge), two workers with the worker pod's
    // command line and JOB_COMPLETION_INDEX 0 and 1 at once, then the merge
    // Job's script. The quickstart stretched to 10 s: the timeline starts with
    // the mocks, so a worker slow to start on a loaded machine still sends.
    let dir = tempdir();
    let scenario = dir.join("scenario.toml");
    let text =
        std::fs::read_to_string(repo().join("scenarios/quickstart.toml")).expect("quickstart");
    assert!(text.contains("duration = \"5s\""));
    std::fs::write(
        &scenario,
        text.replace("duration = \"5s\"", "duration = \"10s\""),
    )
    .expect("write");
    let scenario = scenario.to_string_lossy().into_owned();
    let (stack, entry, mocks) = start_stack(&scenario);
    let docs = documents(&render(&[
        "--scenario",
        &scenario,
        "--target",
        &entry,
        "--mocks",
        &mocks,
        "--workers",
        "2",
        "--no-redis",
    ]));
    let reports = dir.join("reports/ttlab");
    let local: Vec<String> = strings(&container(find(&docs, "Job", "ttlab-workers"))["args"])
        .into_iter()
        .map(|a| match a.as_str() {
            "/scenario/scenario.toml" => scenario.clone(),
            "/reports/ttlab/workers" => reports.join("workers").to_string_lossy().into_owned(),
            _ => a,
        })
        .collect();
    run_workers(&local, 2);
    drop(stack);
    let merge = container(find(&docs, "Job", "ttlab-merge"));
    let script = strings(&merge["args"])
        .remove(0)
        .replace("/usr/local/bin/ttlab", TTLAB);
    let out = Command::new("timeout")
        .args(["60", "sh", "-c", &script])
        .env("WORKERS", "2")
        .env("REPORTS", &reports)
        .output()
        .expect("sh runs");
    succeeded(&out);
    let read = |path: PathBuf| -> Value {
        serde_json::from_str(&std::fs::read_to_string(path).expect("report")).expect("JSON")
    };
    let folder = |d: PathBuf| -> Vec<PathBuf> {
        std::fs::read_dir(d)
            .expect("folder")
            .map(|e| e.expect("entry").path().join("report.json"))
            .collect()
    };
    let each: Vec<Value> = folder(reports.join("workers"))
        .into_iter()
        .map(read)
        .collect();
    assert_eq!(each.len(), 2);
    let merged = folder(reports.join("merged"));
    assert_eq!(merged.len(), 1);
    let merged = read(merged[0].clone());
    assert_eq!(merged["merged_workers"], 2);
    let requests = |r: &Value| {
        r["architectures"][0]["requests"]
            .as_u64()
            .expect("requests")
    };
    let sum: u64 = each.iter().map(requests).sum();
    assert!(
        each.iter().all(|r| requests(r) > 0),
        "a worker sent nothing"
    );
    assert_eq!(requests(&merged), sum);
    let _ = std::fs::remove_dir_all(&dir);
}
