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

/// One goose user's place in the script, or one open-loop visit.
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
    /// An open-loop visit: it ends after its pages instead of starting the
    /// user's next session.
    open: bool,
    /// A replayed request's page, not drawn.
    page: Option<PageIdx>,
    rng: Pcg64Mcg,
}

impl Session {
    /// The script of goose user `user` of `users` (closed loop).
    pub fn new(world: &World, user: u32, users: u32) -> Self {
        let seed = world.scenario().seed ^ (u64::from(user) << 32) ^ 0x5e55_1011;
        Session {
            user,
            users,
            round: 0,
            left: 0,
            visitor: 0,
            open: false,
            page: None,
            rng: Pcg64Mcg::seed_from_u64(seed),
        }
    }

    /// Open-loop arrival number `index`: a visitor drawn from the
    /// population and `pages_per_session` pages, from the seed and the
    /// index alone, so every engine gives arrival `index` the same visit.
    pub fn open(world: &World, index: u64) -> Self {
        let t = &world.scenario().traffic;
        let seed = world.scenario().seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x0be5_5e55;
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        Session {
            user: 0,
            users: 1,
            round: 1,
            left: t.pages_per_session,
            visitor: rng.random_range(0..t.visitors.max(1)),
            open: true,
            page: None,
            rng,
        }
    }

    /// One replayed request: this visitor, this page, no think time.
    pub fn replayed(visitor: VisitorIdx, page: PageIdx) -> Self {
        Session {
            user: 0,
            users: 1,
            round: 1,
            left: 1,
            visitor,
            open: true,
            page: Some(page),
            rng: Pcg64Mcg::new(0),
        }
    }

    /// Page views left: an open visit is over at zero.
    pub fn left(&self) -> u32 {
        self.left
    }

    /// The next page view: starts a new session (the user's next visitor)
    /// when the current one is over. Returns (visitor, page, think time after).
    pub fn next(&mut self, world: &World, pages: &PagePicker) -> (VisitorIdx, PageIdx, Micros) {
        let t = &world.scenario().traffic;
        if self.left == 0 && !self.open {
            // User k plays visitors k, k + users, k + 2·users, … (a disjoint share).
            let share = (t.visitors.saturating_sub(self.user))
                .div_ceil(self.users)
                .max(1);
            self.visitor = (self.user + (self.round % share) * self.users) % t.visitors;
            self.round += 1;
            self.left = t.pages_per_session;
        }
        self.left = self.left.saturating_sub(1);
        if let Some(page) = self.page {
            return (self.visitor, page, Micros::ZERO);
        }
        let page = pages.pick(&mut self.rng);
        let think = if self.open && self.left == 0 {
            // The visit is over: nobody waits on its last think time.
            Micros::ZERO
        } else {
            t.think_time.sample(&mut self.rng)
        };
        (self.visitor, page, think)
    }
}

/// One load machine's share of the closed-loop users: worker `id` of `of`
/// plays the users `u` with `u % of == id`, each with the very script
/// ([`Session`]) it has in a single run, so the workers' scripts together
/// are the single run's script, each user on exactly one worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Share {
    id: u32,
    of: u32,
}

/// Why a worker's share is not one.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShareError {
    /// `--workers 0`.
    #[error("--workers must be at least 1")]
    NoWorkers,
    /// `--worker-id` out of range.
    #[error("--worker-id {id} is not one of 0..{of} (--workers {of}): worker ids go from 0 to {last}", last = of - 1)]
    IdOutOfRange {
        /// The id given.
        id: u32,
        /// Workers in all.
        of: u32,
    },
    /// More workers than users: some would have nothing to do.
    #[error(
        "--workers {of} is more than the scenario's {users} users: worker {id} would have no users; use at most {users} workers"
    )]
    NoUsers {
        /// This worker.
        id: u32,
        /// Workers in all.
        of: u32,
        /// The scenario's users.
        users: u32,
    },
}

impl Share {
    /// The whole run on one machine.
    pub const ALL: Share = Share { id: 0, of: 1 };

    /// Worker `id` of `of`.
    pub fn new(id: u32, of: u32) -> Result<Share, ShareError> {
        if of == 0 {
            return Err(ShareError::NoWorkers);
        }
        if id >= of {
            return Err(ShareError::IdOutOfRange { id, of });
        }
        Ok(Share { id, of })
    }

    /// This worker, `0..of`.
    pub fn id(self) -> u32 {
        self.id
    }

    /// Workers in all.
    pub fn of(self) -> u32 {
        self.of
    }

    /// How many of `users` this worker plays; an error when any worker of
    /// the set would play none (not only this one): such a set's reports
    /// could never be merged, so every worker refuses it before it runs.
    pub fn users(self, users: u32) -> Result<u32, ShareError> {
        if self.of > users {
            return Err(ShareError::NoUsers {
                id: users,
                of: self.of,
                users,
            });
        }
        Ok((users - self.id).div_ceil(self.of))
    }

    /// The run-wide user number of this worker's `index`-th goose user.
    pub fn user(self, index: u32) -> u32 {
        self.id + index * self.of
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_with_more_workers_than_users_is_refused_by_every_worker() {
        for id in [0, 2, 4] {
            let e = Share::new(id, 5).unwrap().users(3).unwrap_err();
            assert!(
                matches!(
                    e,
                    ShareError::NoUsers {
                        id: 3,
                        of: 5,
                        users: 3
                    }
                ),
                "worker {id}: {e}"
            );
        }
        assert_eq!(Share::new(2, 3).unwrap().users(3).unwrap(), 1);
        assert_eq!(Share::new(0, 3).unwrap().users(7).unwrap(), 3);
        assert_eq!(Share::new(2, 3).unwrap().users(7).unwrap(), 2);
    }

    #[test]
    fn the_workers_shares_are_disjoint_and_cover_every_user() {
        for users in 1..=9_u32 {
            for of in 1..=users {
                let mut seen = vec![0_u32; users as usize];
                for id in 0..of {
                    let share = Share::new(id, of).unwrap();
                    for i in 0..share.users(users).unwrap() {
                        let u = share.user(i);
                        assert_eq!(u % of, id);
                        seen[u as usize] += 1;
                    }
                }
                assert!(
                    seen.iter().all(|&n| n == 1),
                    "{users} users, {of}: {seen:?}"
                );
            }
        }
    }

    #[test]
    fn shares_that_are_not_one_say_why() {
        assert_eq!(Share::new(0, 0), Err(ShareError::NoWorkers));
        assert_eq!(
            Share::new(2, 2),
            Err(ShareError::IdOutOfRange { id: 2, of: 2 })
        );
        assert_eq!(
            Share::new(3, 4).unwrap().users(3),
            Err(ShareError::NoUsers {
                id: 3,
                of: 4,
                users: 3
            })
        );
        assert_eq!(
            Share::new(2, 2).unwrap_err().to_string(),
            "--worker-id 2 is not one of 0..2 (--workers 2): worker ids go from 0 to 1"
        );
    }

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
