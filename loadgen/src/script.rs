//! The visitor script: which visitor each goose user plays, which pages it
//! views and how long it thinks — reproducible from the seed.

use rand::{Rng, SeedableRng};
use rand_distr::Distribution;
use rand_distr::weighted::WeightedAliasIndex;
use rand_pcg::Pcg64Mcg;
use ttlab_scenarios::model::{PageIdx, Popularity, Scenario};
use ttlab_scenarios::world::VisitorIdx;
use ttlab_scenarios::{Micros, World};

/// Draws pages by the popularity model in constant time (Walker's alias
/// method, from `rand_distr`): one draw per page view of every run.
pub struct PagePicker {
    alias: WeightedAliasIndex<f64>,
}

impl PagePicker {
    /// For the scenario's pages (rank = index).
    pub fn new(scenario: &Scenario) -> Self {
        let n = scenario.content.pages.len();
        let weights: Vec<f64> = match scenario.traffic.popularity {
            Popularity::Uniform => vec![1.0; n],
            Popularity::Zipf { s } => (1..=n).map(|k| 1.0 / (k as f64).powf(s)).collect(),
        };
        PagePicker {
            alias: WeightedAliasIndex::new(weights).expect("a validated scenario has pages"),
        }
    }

    /// A page, drawn from `rng`.
    pub fn pick(&self, rng: &mut impl Rng) -> PageIdx {
        self.alias.sample(rng) as PageIdx
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
        let page = pages.pick(&mut self.rng);
        let think = t.think_time.sample(&mut self.rng);
        (self.visitor, page, think)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_draws_follow_the_weights() {
        let scenario = ttlab_scenarios::parse_str(
            "t.toml",
            r#"
[scenario]
name = "t"
seed = 1
duration = "1s"
[traffic]
visitors = 1
arrival_rate = 1.0
popularity = "zipf"
zipf_s = 1.0
[content]
[[content.entries]]
uid = "e"
content_type = "c"
[[content.page_sets]]
path = "/p/{i}"
count = 3
content_type = "p"
[[architectures]]
name = "ssr-nocache"
"#,
        )
        .expect("valid");
        let p = PagePicker::new(&scenario);
        let mut rng = Pcg64Mcg::seed_from_u64(3);
        let mut seen = [0u32; 3];
        let n = 110_000;
        for _ in 0..n {
            seen[p.pick(&mut rng) as usize] += 1;
        }
        // Weights 1, 1/2, 1/3 of 11/6: 6/11, 3/11, 2/11, within 1 point.
        for (k, want) in [6.0, 3.0, 2.0].iter().enumerate() {
            let got = f64::from(seen[k]) / f64::from(n);
            assert!((got - want / 11.0).abs() < 0.01, "page {k}: {got}");
        }
    }
}
