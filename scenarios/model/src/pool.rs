//! How many goose users a real run starts: a closed loop's users, or the
//! pool that takes an open model's arrivals. Apart from the model (it reads
//! a bound) and from the runs (the memory estimate may read it too).

use crate::bounds::MAX_USERS;
use crate::model::{Load, Traffic};

/// Goose users of a real run: a closed loop's `users`; for an open
/// model its `pool`, or when unset four times the visits expected in
/// progress at the peak rate (a visit lasting its pages' think times
/// plus 200 ms a page for the answers), plus 16. A goose user is a task
/// and an HTTP client, so a generous pool costs little, while a tight
/// one drops visits when the server stalls briefly (Poisson arrivals
/// bunch up). At most [`MAX_USERS`].
pub fn goose_users(t: &Traffic) -> u32 {
    let pages = f64::from(t.pages_per_session);
    let (peak, visit_secs) = match &t.load {
        Load::Closed { users } => return *users,
        _ if t.pool.is_some() => return t.pool.unwrap_or(1),
        Load::Sessions { rate } | Load::Requests { rate } => (
            rate.peak(),
            pages * (t.think_time.mean().as_secs_f64() + 0.2),
        ),
        Load::Trace(r) => {
            let mut per_second = std::collections::HashMap::<u64, u32>::new();
            for q in &r.requests {
                *per_second.entry(q.at.0 / 1_000_000).or_default() += 1;
            }
            let peak = per_second.values().copied().max().unwrap_or(1);
            (f64::from(peak), 0.2)
        }
    };
    let in_progress = peak * visit_secs;
    ((in_progress * 4.0).ceil().min(f64::from(u32::MAX)) as u32)
        .saturating_add(16)
        .min(MAX_USERS)
}
