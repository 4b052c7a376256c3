//! Real runs of the team's own app (`[app]`), played by the tiny app of
//! `ttlab-test-support`: started per architecture in a process group of its
//! own, pointed at that architecture's mocks, judged through ttlab's CDN or
//! edge or as-is by its content tokens; an app that exits at once, or never
//! answers, fails the run with its output; and after every run, whichever
//! way it ended, no process of the app's group is left.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ttlab_loadgen::run::{Quiet, RunError, RunOptions, run_with, running_members};
use ttlab_reports::{ArchReport, Report};
use ttlab_scenarios::{World, parse_str};
use ttlab_test_support::process::fresh_dir;
use ttlab_test_support::{ScenarioToml, tiny_app};

/// Real runs one at a time: two runs on two cores would measure each other.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Closed-loop users of the site's runs.
const USERS: u64 = 6;

/// A site of two pages, each rendering two entries, one of which varies by
/// a 50/50 test, and the entry both pages share published at 2 s (caches
/// purge on it); the app's `[app]` table is `app`.
fn site(name: &str, archs: &[(&str, &str)], app: &str, env: &str) -> Arc<World> {
    let mut s = ScenarioToml::new(name, 11, "4s")
        .traffic_lines(&format!(
            "visitors = 60\nusers = {USERS}\nthink_time = \"100ms\""
        ))
        .ab("0", &[("0", 50), ("1", 50)])
        .entry("hero", "hero", &["0"])
        .entry("about", "page", &[])
        .entry("footer", "footer", &[])
        .page("/", &["hero", "footer"])
        .page("/about", &["about", "footer"])
        .publish("footer", "2s")
        .table("cache", "purge_on_publish = true")
        .table("app", app);
    if !env.is_empty() {
        s = s.table("app.env", env);
    }
    for (arch, extra) in archs {
        s = s.arch_with(arch, extra);
    }
    let toml = s.build();
    Arc::new(World::new(
        parse_str("app.toml", &toml).unwrap_or_else(|e| panic!("{e}\n{toml}")),
    ))
}

fn command(args: &str) -> String {
    format!("command = \"'{}' {args}\"", tiny_app().display())
}

async fn run_in(world: &Arc<World>, logs: &Path) -> Result<Report, RunError> {
    let _one = ONE_AT_A_TIME.lock().await;
    let opts = RunOptions {
        app_logs: Some(logs.to_path_buf()),
        ..RunOptions::default()
    };
    let archs = world.scenario().architectures.clone();
    run_with(world.clone(), &archs, &opts, &Quiet).await
}

fn arch<'a>(r: &'a Report, name: &str) -> &'a ArchReport {
    r.architectures
        .iter()
        .find(|a| a.name == name)
        .unwrap_or_else(|| panic!("no {name} in the report"))
}

/// The process group ttlab noted in an app's log.
fn group_of(log: &Path) -> i32 {
    let text = std::fs::read_to_string(log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    text.lines()
        .find_map(|l| {
            l.strip_prefix("[ttlab] process group ")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no process group noted in {}:\n{text}", log.display()))
}

/// No process of the group noted in `log` runs any more.
fn assert_group_gone(log: &Path) {
    let g = group_of(log);
    assert_eq!(
        running_members(g),
        Some(0),
        "processes of the app's group {g} outlived the run"
    );
}

/// The value of `env NAME=value` in the tiny app's log.
fn env_in(log: &str, name: &str) -> String {
    log.lines()
        .find_map(|l| l.strip_prefix(&format!("env {name}=")))
        .unwrap_or_else(|| panic!("the app did not get {name}:\n{log}"))
        .to_owned()
}

/// Every answer judged by its tokens, whoever rendered it.
fn assert_judged(report: &Report) {
    // A CDN keyed by URL alone serves one visitor's variant to others,
    // whoever renders the page; keys that hold the visitor or the variants
    // do not, nor does the app alone.
    let shared = arch(report, "ssr-cdn-shared");
    assert!(shared.class("wrong_variant") > 0, "{shared:?}");
    for name in ["ssr-cdn-user", "ssr-edge", "as-is"] {
        let a = arch(report, name);
        assert!(a.requests > 50, "{name}: {} requests", a.requests);
        assert_eq!(a.class("wrong_variant"), 0, "{name}");
        assert_eq!(a.class("error"), 0, "{name}");
        // The publish purges the caches' pages of the shared entry (found
        // by the content tokens in the app's pages); only answers in the
        // moment the webhook takes may still carry the old version.
        assert_eq!(
            a.class("fresh") + a.class("stale_content"),
            a.requests,
            "{name}"
        );
        assert!(a.class("stale_content") <= USERS, "{name}");
    }
    for name in ["ssr-cdn-shared", "ssr-cdn-user", "ssr-edge"] {
        let purged = arch(report, name)
            .layer
            .as_ref()
            .map_or(0, |l| l.counts.purged);
        assert!(purged > 0, "{name}: the publish purged the app's pages");
    }
}

/// The calls each architecture's own mocks counted, and the layers' counts.
fn assert_counted(report: &Report) {
    // Counted on each architecture's own mocks. Behind a CDN the app asks
    // Personalize once per page it renders (each request ttlab's layer
    // sent it) and Delivery for the page's two entries.
    for name in ["ssr-cdn-shared", "ssr-cdn-user"] {
        let a = arch(report, name);
        let layer = a.layer.as_ref().expect("the CDN's counters");
        assert!(
            layer.counts.hits > 0,
            "{name}: the CDN stores the app's pages"
        );
        assert!(
            a.origin.requests > 0 && a.origin.requests < a.requests,
            "{name}"
        );
        assert!(
            a.origin.personalize_calls.abs_diff(a.origin.requests) <= USERS,
            "{name}: {:?}",
            a.origin
        );
        assert!(
            a.origin.delivery_calls.abs_diff(2 * a.origin.requests) <= 2 * USERS,
            "{name}"
        );
        assert!(a.known_offload().is_some_and(|o| o > 0.0), "{name}");
        assert_eq!(
            a.known_renders(),
            None,
            "{name}: an app's renders are not seen"
        );
    }
    // The edge asks Personalize for every request and passes the variants
    // in the app's own parameter (`pv`): the app asks none itself. Under
    // policy = "http" it follows the app's s-maxage.
    let edge = arch(report, "ssr-edge");
    assert!(
        edge.origin.personalize_calls.abs_diff(edge.requests) <= USERS,
        "the edge alone calls Personalize: {:?} for {} requests",
        edge.origin,
        edge.requests
    );
    assert!(
        edge.layer
            .as_ref()
            .expect("the edge's counters")
            .counts
            .hits
            > 0
    );
    // As-is: the app for every request; what it was sent is not seen.
    let alone = arch(report, "as-is");
    assert!(alone.layer.is_none());
    assert_eq!(alone.known_offload(), None);
    assert!(alone.origin.personalize_calls.abs_diff(alone.requests) <= USERS);
    assert!(alone.origin.delivery_calls.abs_diff(2 * alone.requests) <= 2 * USERS);
    assert!(
        alone
            .warnings
            .iter()
            .any(|w| w.contains("ttlab sees no origin requests")),
        "{:?}",
        alone.warnings
    );
}

/// Each app's log in the report's folder, its environment, its group gone.
fn assert_logged(report: &Report, logs: &Path) {
    // Each architecture's app wrote its own log into the report's folder;
    // it got the template map rendered for that architecture's mocks; and
    // no process of its group is left.
    let mut ports = Vec::new();
    for a in &report.architectures {
        let app = a.app.as_ref().expect("the app's part of the report");
        assert_eq!(
            app.log.as_deref(),
            Some(format!("app-{}.log", a.name).as_str())
        );
        assert_eq!(app.requests_seen, a.name != "as-is");
        let log = logs.join(app.log.as_ref().unwrap());
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains("tiny_app pid"), "{text}");
        assert_eq!(env_in(&text, "CONTENTSTACK_API_KEY"), "blt-ttlab-api-key");
        assert_eq!(env_in(&text, "CONTENTSTACK_ENVIRONMENT"), "production");
        let port = env_in(&text, "TTLAB_DELIVERY_PORT");
        assert_eq!(
            env_in(&text, "CONTENTSTACK_DELIVERY"),
            format!("127.0.0.1:{port} (en-us)")
        );
        assert_eq!(env_in(&text, "CONTENTSTACK_BRACES"), "{literal}");
        assert_eq!(
            app.url,
            format!("http://127.0.0.1:{}", env_in(&text, "PORT"))
        );
        ports.push(port);
        assert_group_gone(&log);
    }
    ports.dedup();
    assert_eq!(ports.len(), 4, "each architecture has mocks of its own");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_behind_ttlabs_cdn_or_edge_or_alone_is_judged_by_its_tokens() {
    let world = site(
        "own-app",
        &[
            ("ssr-cdn-shared", ""),
            ("ssr-cdn-user", ""),
            ("ssr-edge", "cache = { policy = \"http\" }"),
            ("as-is", ""),
        ],
        &format!(
            "{}\nready = \"/health\"\nvariant_param = \"pv\"",
            command("")
        ),
        "TINY_APP_PAGES = \"/=hero:hero,footer:footer;/about=page:about,footer:footer\"\n\
         TINY_APP_VARIANT_PARAM = \"pv\"\n\
         TINY_APP_CACHE_CONTROL = \"public, s-maxage=30\"\n\
         CONTENTSTACK_API_KEY = \"{api_key}\"\n\
         CONTENTSTACK_ENVIRONMENT = \"{environment}\"\n\
         CONTENTSTACK_DELIVERY = \"{delivery_host}:{delivery_port} ({locale})\"\n\
         CONTENTSTACK_BRACES = \"{{literal}}\"",
    );
    let logs = fresh_dir("app-runs");
    let report = run_in(&world, &logs).await.expect("the run");
    for a in &report.architectures {
        println!(
            "{}: {} requests, wrong {}, error {}, fresh {}, origin {:?}, layer {:?}, warnings {:?}",
            a.name,
            a.requests,
            a.class("wrong_variant"),
            a.class("error"),
            a.class("fresh"),
            a.origin,
            a.layer
                .as_ref()
                .map(|l| (l.counts.hits, l.counts.misses, l.counts.bypass)),
            a.warnings
        );
    }

    assert_judged(&report);
    assert_counted(&report);
    assert_logged(&report, &logs);
    let _ = std::fs::remove_dir_all(&logs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_that_exits_at_once_fails_the_run_with_its_output() {
    let world = site(
        "app-exits",
        &[("ssr-edge", ""), ("as-is", "")],
        &command("--exit-at-once 'tiny_app: cannot reach the database'"),
        "",
    );
    let logs = fresh_dir("app-exits");
    let started = Instant::now();
    let err = run_in(&world, &logs).await.expect_err("the app exited");
    let message = err.to_string();
    println!("{message}");
    assert!(matches!(err, RunError::App(_)), "{err:?}");
    assert!(
        message.contains("exited (exit status: 3) before it answered http://127.0.0.1:"),
        "{message}"
    );
    assert!(
        message.contains("  | tiny_app: cannot reach the database"),
        "{message}"
    );
    let log = logs.join("app-ssr-edge.log");
    assert!(message.contains(&log.display().to_string()), "{message}");
    assert!(
        !logs.join("app-as-is.log").exists(),
        "no architecture starts after a failed one"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_group_gone(&log);
    let _ = std::fs::remove_dir_all(&logs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_that_never_answers_fails_after_its_ready_timeout() {
    let world = site(
        "app-silent",
        &[("ssr-cdn-user", "")],
        &format!("{}\nready_timeout = \"2s\"", command("--never-answer")),
        "",
    );
    let logs = fresh_dir("app-silent");
    let started = Instant::now();
    let err = run_in(&world, &logs)
        .await
        .expect_err("the app never answered");
    let took = started.elapsed();
    let message = err.to_string();
    println!("{message} ({took:?})");
    assert!(
        message.contains("did not answer http://127.0.0.1:"),
        "{message}"
    );
    assert!(
        message.contains("/ within 2s (ready_timeout; last try: nothing accepted the connection)"),
        "{message}"
    );
    assert!(message.contains("  | tiny_app: warming up"), "{message}");
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert_group_gone(&logs.join("app-ssr-cdn-user.log"));
    let _ = std::fs::remove_dir_all(&logs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_that_ignores_sigterm_is_killed_after_the_grace() {
    // The shell and everything it starts ignore SIGTERM; a child of the
    // shell runs beside it in the group.
    let world = site(
        "app-stubborn",
        &[("as-is", "")],
        &format!(
            "command = \"trap '' TERM; sleep 600 & '{}' --never-answer\"\nready_timeout = \"1s\"",
            tiny_app().display()
        ),
        "",
    );
    let logs = fresh_dir("app-stubborn");
    let started = Instant::now();
    let err = run_in(&world, &logs).await.expect_err("never answered");
    let took = started.elapsed();
    println!("{err} ({took:?})");
    let log = logs.join("app-as-is.log");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("still running 5 s after SIGTERM: SIGKILL"),
        "{text}"
    );
    assert!(
        took >= Duration::from_secs(6),
        "1 s to time out, 5 s of grace: {took:?}"
    );
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert_group_gone(&log);
    let _ = std::fs::remove_dir_all(&logs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_dropped_part_way_stops_the_apps_group() {
    // As on Ctrl-C past goose, or an error unwinding the run: the run's
    // future is dropped while the app runs.
    let world = site(
        "app-dropped",
        &[("ssr-edge", "")],
        &format!("{}\nready_timeout = \"60s\"", command("--never-answer")),
        "",
    );
    let logs = fresh_dir("app-dropped");
    let log = logs.join("app-ssr-edge.log");
    let app_up = async {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !std::fs::read_to_string(&log).is_ok_and(|t| t.contains("warming up")) {
            assert!(Instant::now() < deadline, "the app never started");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::select! {
        r = run_in(&world, &logs) => panic!("the run ended first: {:?}", r.map(|_| ())),
        () = app_up => {}
    }
    assert_group_gone(&log);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("[ttlab] stopped (the run ended early)"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&logs);
}
