//! `ttlab deploy k8s`: Kubernetes manifests that run ttlab past one machine.
//!
//! The manifests are templates in `deploy/k8s/` (readable, and diffable as
//! YAML) filled here, so the command line that renders them checks the
//! scenario, the sweep and the flags with the same code as `run` and `sim`.
//! Every value put into a template is written as a JSON string, which is also
//! a YAML string: no value can break out of its place.

use std::process::ExitCode;

use crate::args::DeployK8sArgs;
use crate::exit::EXIT_BAD_INPUT;

/// Where the image puts the binary (deploy/Dockerfile); the manifests run it.
pub const BINARY: &str = "/usr/local/bin/ttlab";

const COMMON: &str = include_str!("../../../deploy/k8s/common.yaml");
const REDIS: &str = include_str!("../../../deploy/k8s/redis.yaml");
const MOCKS: &str = include_str!("../../../deploy/k8s/mocks.yaml");
const WORKERS: &str = include_str!("../../../deploy/k8s/workers.yaml");
const SWEEP: &str = include_str!("../../../deploy/k8s/sweep.yaml");

/// Ports of the in-cluster mocks (the Service's, and `serve mocks`' own).
/// Where the pods see the scenario (the `ConfigMap`'s mount).
const SCENARIO_FILE: &str = "/scenario/scenario.toml";

const PERSONALIZE_PORT: u16 = 7001;
const DELIVERY_PORT: u16 = 7002;

/// The merge Job's wait: every worker's newest report, then `ttlab merge`.
/// POSIX sh, as the runtime image (Debian slim) has it.
const MERGE_SCRIPT: &str = r#"set -eu
while :; do
  set --
  missing=0
  k=0
  while [ "$k" -lt "$WORKERS" ]; do
    r=$(ls -d "$REPORTS"/workers/*-worker"$k"of"$WORKERS"-*/report.json 2>/dev/null | sort | tail -n 1)
    if [ -n "$r" ]; then set -- "$@" "$r"; else missing=$((missing + 1)); fi
    k=$((k + 1))
  done
  [ "$missing" -eq 0 ] && break
  echo "waiting for $missing of $WORKERS workers' reports in $REPORTS/workers"
  sleep 10
done
exec /usr/local/bin/ttlab merge "$@" -o "$REPORTS/merged"
"#;

const POD_SECURITY: &str = "        runAsNonRoot: true
        runAsUser: 10001
        runAsGroup: 10001
        fsGroup: 10001
        seccompProfile:
          type: RuntimeDefault";

const CONTAINER_SECURITY: &str = "            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: [ALL]";

/// Prints the manifests for the flags, or says why not (exit 2).
pub fn k8s(args: &DeployK8sArgs) -> anyhow::Result<ExitCode> {
    match render(args) {
        Ok(yaml) => {
            print!("{yaml}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(EXIT_BAD_INPUT))
        }
    }
}

fn json(text: &str) -> String {
    serde_json::to_string(text).expect("a string serialises")
}

fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).expect("strings serialise")
}

/// The manifests as one YAML stream, documents separated by `---`.
fn render(args: &DeployK8sArgs) -> Result<String, String> {
    let path = args.scenario.as_str();
    let (shown, scenario) = super::scenario_or_exit(path)
        .map_err(|_| format!("{path} is not a valid scenario (see above)"))?;
    // The file's own text (comments and all), or a shipped scenario's.
    let text = match ttlab_scenarios::shipped::get(path) {
        Some(s) if !std::path::Path::new(path).exists() => s.source.to_owned(),
        _ => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the scenario {path}: {e}"))?,
    };
    if args.target.is_none() && args.sweep.is_none() {
        return Err(
            "nothing to deploy: give --target URL --workers N (load workers), --sweep OPTION=V1,V2,… (a split sweep), or both"
                .to_owned(),
        );
    }
    let name = args.name.as_str();
    let storage_class = args.storage_class.as_deref().map_or(String::new(), |c| {
        format!("  storageClassName: {}", json(c))
    });
    let mounts = "            - name: scenario
              mountPath: /scenario
              readOnly: true
            - name: reports
              mountPath: /reports
            - name: tmp
              mountPath: /tmp";
    let volumes = format!(
        "        - name: scenario
          configMap:
            name: {name}-scenario
        - name: reports
          persistentVolumeClaim:
            claimName: {name}-reports
        - name: tmp
          emptyDir: {{}}"
    );
    let fill = |template: &str, extra: &[(&str, String)]| -> String {
        let mut out = template
            .replace("{{NAME}}", name)
            .replace("{{IMAGE}}", &json(&args.image))
            .replace("{{BINARY}}", BINARY)
            .replace("{{POD_SECURITY}}", POD_SECURITY)
            .replace("{{CONTAINER_SECURITY}}", CONTAINER_SECURITY)
            .replace("{{MOUNTS}}", mounts)
            .replace("{{VOLUMES}}", &volumes);
        for (key, value) in extra {
            out = out.replace(&format!("{{{{{key}}}}}"), value);
        }
        out
    };
    let mut docs = vec![fill(
        COMMON,
        &[("SCENARIO", json(&text)), ("STORAGE_CLASS", storage_class)],
    )];
    // An empty STORAGE_CLASS leaves an empty line: harmless, but drop it.
    docs[0] = docs[0].replace("\n\n", "\n");
    if !args.no_redis {
        docs.push(fill(REDIS, &[]));
    }
    if let (Some(target), Some(workers)) = (&args.target, args.workers) {
        worker_docs(args, &scenario, &shown, target, workers, &fill, &mut docs)?;
    }
    if let Some(spec) = &args.sweep {
        let sweep = super::sim::parse_sweep(spec)?;
        let sweep_args: Vec<String> = vec![
            "sim".into(),
            SCENARIO_FILE.into(),
            "--sweep".into(),
            spec.clone(),
            "--no-tui".into(),
            "--quiet".into(),
            "--out".into(),
            format!("/reports/{name}/sweep"),
        ];
        docs.push(fill(
            SWEEP,
            &[
                ("POINTS", sweep.len().to_string()),
                ("SWEEP_ARGS", json_list(&sweep_args)),
            ],
        ));
    }
    Ok(docs.join("---\n"))
}

/// Fills a template: its text and the placeholders beyond the common ones.
type Fill<'a> = dyn Fn(&str, &[(&str, String)]) -> String + 'a;

/// The load workers' Indexed Job, its merge Job, and the mocks unless given.
fn worker_docs(
    args: &DeployK8sArgs,
    scenario: &ttlab_scenarios::Scenario,
    shown: &str,
    target: &str,
    workers: u32,
    fill: &Fill<'_>,
    docs: &mut Vec<String>,
) -> Result<(), String> {
    let name = args.name.as_str();
    // The same checks as `ttlab run --workers N` makes before it starts.
    let users = ttlab_scenarios::pool::goose_users(&scenario.traffic);
    let share =
        ttlab_loadgen::script::Share::new(0, workers).map_err(|e| format!("{shown}: {e}"))?;
    share.users(users).map_err(|e| format!("{shown}: {e}"))?;
    if args.page_views == Some(0) {
        return Err("--page-views must be at least 1".to_owned());
    }
    super::run::page_views_fit(scenario, args.page_views, shown)?;
    let mocks = match &args.mocks {
        Some(url) => url.clone(),
        None => {
            docs.push(fill(
                MOCKS,
                &[(
                    "MOCKS_ARGS",
                    json_list(&[
                        "serve".into(),
                        "mocks".into(),
                        "--scenario".into(),
                        SCENARIO_FILE.into(),
                        "--host".into(),
                        "0.0.0.0".into(),
                        "--personalize-port".into(),
                        PERSONALIZE_PORT.to_string(),
                        "--delivery-port".into(),
                        DELIVERY_PORT.to_string(),
                    ]),
                )],
            ));
            format!("http://{name}-mocks:{PERSONALIZE_PORT}")
        }
    };
    let mut worker_args: Vec<String> = vec![
        "run".into(),
        SCENARIO_FILE.into(),
        "--target".into(),
        target.to_owned(),
        "--mocks".into(),
        mocks,
        "--workers".into(),
        workers.to_string(),
        "--no-tui".into(),
        "--out".into(),
        format!("/reports/{name}/workers"),
    ];
    if let Some(n) = args.page_views {
        worker_args.extend(["--page-views".into(), n.to_string()]);
    }
    // Time for pods to start, the run (every architecture in turn is one
    // target here), and slack; a run bounded by page views may take longer.
    let deadline = scenario.duration.as_secs_f64().ceil() as u64 * 2 + 1800;
    docs.push(fill(
        WORKERS,
        &[
            ("WORKERS", workers.to_string()),
            ("WORKER_ARGS", json_list(&worker_args)),
            ("MERGE_SCRIPT", json(MERGE_SCRIPT)),
            ("MERGE_DEADLINE", deadline.to_string()),
        ],
    ));
    Ok(())
}
