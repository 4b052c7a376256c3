//! Generating the load: goose on a runtime of its own, with the CPU it
//! cost measured apart from the servers'.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::attack::attack;
use super::context::RunContext;
use super::error::RunError;
use super::options::Plan;
use super::procfs::{process_cpu, thread_cpu, thread_id};
use crate::report::Cpu;

/// What generating the load cost.
pub(super) struct Generated {
    /// How the attack ended.
    pub outcome: Result<(), RunError>,
    /// Wall time it took.
    pub elapsed: Duration,
    /// CPU, in cores: the generator's own threads and the whole process.
    pub cpu: Cpu,
}

/// Runs the attack on a runtime of its own (one worker thread) so the
/// generator's CPU can be told from the servers' (read per thread from /proc).
pub(super) async fn generate(host: String, plan: Plan, ctx: Arc<RunContext>) -> Generated {
    let process_before = process_cpu();
    let wall = Instant::now();
    let worker = std::thread::spawn(move || {
        let tids: Arc<Mutex<Vec<String>>> = Arc::default();
        let record = tids.clone();
        let own = thread_id();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("ttlab-loadgen")
            .on_thread_start(move || {
                if let Some(t) = thread_id() {
                    record.lock().expect("thread ids").push(t);
                }
            })
            .enable_all()
            .build();
        let Ok(runtime) = runtime else {
            return (
                Err(RunError::Goose(
                    "cannot start the load generator's runtime".to_owned(),
                )),
                Duration::ZERO,
            );
        };
        let outcome = runtime.block_on(Box::pin(attack(&host, plan, ctx)));
        // Read the threads' CPU before the runtime ends them.
        let mut cpu = Duration::ZERO;
        for t in tids.lock().expect("thread ids").iter().chain(own.as_ref()) {
            cpu += thread_cpu(t).unwrap_or_default();
        }
        drop(runtime);
        (outcome, cpu)
    });
    let joined = tokio::task::spawn_blocking(move || worker.join()).await;
    let elapsed = wall.elapsed();
    let (outcome, generator) = match joined {
        Ok(Ok(r)) => r,
        _ => (
            Err(RunError::Goose(
                "the load generator's thread panicked".to_owned(),
            )),
            Duration::ZERO,
        ),
    };
    let secs = elapsed.as_secs_f64().max(1e-9);
    let process = match (process_before, process_cpu()) {
        (Some(a), Some(b)) => b.saturating_sub(a).as_secs_f64() / secs,
        _ => 0.0,
    };
    Generated {
        outcome,
        elapsed,
        cpu: Cpu {
            generator: generator.as_secs_f64() / secs,
            process,
        },
    }
}
