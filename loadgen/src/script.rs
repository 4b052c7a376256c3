//! The visitor script: which visitor each goose user plays, which pages it
//! views and how long it thinks — reproducible from the seed.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use ttlab_scenarios::model::{PageIdx, Popularity, Scenario};
use ttlab_scenarios::world::VisitorIdx;
use ttlab_scenarios::{Micros, World};

/// Cumulative page weights for the popularity model.
pub struct PagePicker {
    cdf: Vec<f64>,
}

impl PagePicker {
    /// For the scenario's pages (rank = index).
    pub fn new(scenario: &Scenario) -> Self {
        let n = scenario.content.pages.len();
        let weights: Vec<f64> = match scenario.traffic.popularity {
            Popularity::Uniform => vec![1.0; n],
            Popularity::Zipf { s } => (1..=n).map(|k| 1.0 / (k as f64).powf(s)).collect(),
        };
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        let cdf = weights
            .iter()
            .map(|w| {
                acc += w / total;
                acc
            })
            .collect();
        PagePicker { cdf }
    }

    /// A page for a uniform draw `u` in [0, 1).
    pub fn pick(&self, u: f64) -> PageIdx {
        self.cdf
            .partition_point(|c| *c <= u)
            .min(self.cdf.len() - 1) as PageIdx
    }
}

/// One goose user's place in the script.
#[derive(Clone)]
pub struct Session {
    user: u32,
    users: u32,
    /// Sessions this user has started.
    round: u32,
    /// Page views left in the current session.
    left: u32,
    /// The visitor of the current session.
    pub visitor: VisitorIdx,
    rng: Pcg64Mcg,
}

impl Session {
    /// The script of goose user `user` of `users`.
    pub fn new(world: &World, user: u32, users: u32) -> Self {
        let seed = world.scenario().seed ^ (u64::from(user) << 32) ^ 0x5e55_1011;
        Session {
            user,
            users,
            round: 0,
            left: 0,
            visitor: 0,
            rng: Pcg64Mcg::seed_from_u64(seed),
        }
    }

    /// The next page view: starts a new session (the user's next visitor)
    /// when the current one is over. Returns (visitor, page, think time after).
    pub fn next(&mut self, world: &World, pages: &PagePicker) -> (VisitorIdx, PageIdx, Micros) {
        let t = &world.scenario().traffic;
        if self.left == 0 {
            // User k plays visitors k, k + users, k + 2·users, … (a disjoint share).
            let share = (t.visitors.saturating_sub(self.user))
                .div_ceil(self.users)
                .max(1);
            self.visitor = (self.user + (self.round % share) * self.users) % t.visitors;
            self.round += 1;
            self.left = t.pages_per_session;
        }
        self.left -= 1;
        let page = pages.pick(self.rng.random());
        let think = t.think_time.sample(&mut self.rng);
        (self.visitor, page, think)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_prefers_low_ranks() {
        let p = PagePicker {
            cdf: vec![0.5, 0.8, 1.0],
        };
        assert_eq!(p.pick(0.0), 0);
        assert_eq!(p.pick(0.49), 0);
        assert_eq!(p.pick(0.5), 1);
        assert_eq!(p.pick(0.99), 2);
        assert_eq!(p.pick(1.0), 2);
    }
}
