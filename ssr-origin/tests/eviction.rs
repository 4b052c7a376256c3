//! The bounded store's eviction policies under the independent reference
//! model (IRM: each request draws a key independently, Zipf popularity).
//!
//! - LRU against Che's approximation and FIFO against its FIFO/RANDOM
//!   counterpart (the characteristic-time formulas), within 1 percentage
//!   point of hit rate.
//! - CLOCK, SIEVE and S3-FIFO against straightforward references written
//!   here (`VecDeque`/`Vec` based): the same hit on every request of the
//!   same sequence.
//! - W-TinyLFU against a reference with exact frequencies (a map) aged on
//!   the same schedule: the store's count-min sketch only over-estimates a
//!   key's frequency when keys share counters, so admission decisions can
//!   differ on near-ties; the hit rates must agree within 1 point (0.4 apart
//!   when written).
//!
//! The store is driven as a layer drives it: a lookup, and a put on a miss.

use std::collections::{HashMap, VecDeque};

use ttlab_scenarios::Micros;
use ttlab_ssr_origin::cache::{Bounds, CacheKey, Eviction, MemoryStore, PutOutcome, Stored};

/// Distinct keys, cache size, Zipf exponent, requests (after warm-up).
const N: usize = 2_000;
const C: usize = 200;
const ALPHA: f64 = 0.8;
const WARM: usize = 20_000;
const REQUESTS: usize = 200_000;

fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Popularity of rank `i` (0-based): proportional to 1 / (i + 1)^alpha.
fn zipf(n: usize, alpha: f64) -> Vec<f64> {
    let w: Vec<f64> = (1..=n).map(|i| (i as f64).powf(-alpha)).collect();
    let total: f64 = w.iter().sum();
    w.into_iter().map(|x| x / total).collect()
}

/// `len` ranks drawn independently from `p` (inverse CDF), seeded.
fn irm_trace(p: &[f64], len: usize, seed: u64) -> Vec<u32> {
    let mut cdf = Vec::with_capacity(p.len());
    let mut acc = 0.0;
    for x in p {
        acc += x;
        cdf.push(acc);
    }
    let mut s = seed;
    (0..len)
        .map(|_| {
            let u = (splitmix(&mut s) >> 11) as f64 / (1u64 << 53) as f64 * acc;
            cdf.partition_point(|&c| c < u).min(p.len() - 1) as u32
        })
        .collect()
}

/// A rank's key: spread over all 128 bits, as page keys are hashes.
fn key(rank: u32) -> CacheKey {
    let mut s = u64::from(rank) ^ 0x5eed;
    let lo = splitmix(&mut s);
    let hi = splitmix(&mut s);
    CacheKey(u128::from(hi) << 64 | u128::from(lo))
}

fn entry() -> Stored<u32> {
    Stored {
        value: 0,
        stored_at: Micros(0),
        fetched_at: Micros(0),
        tags: ttlab_ssr_origin::cache::Tags::new(),
        size: 1,
    }
}

/// Hit (true) or miss for every request of `trace` on a store of `C`
/// entries evicting by `eviction`.
fn store_hits(eviction: Eviction, trace: &[u32]) -> Vec<bool> {
    let store: MemoryStore<u32> = MemoryStore::new(Bounds {
        max_entries: Some(C as u64),
        max_bytes: None,
        eviction,
    });
    trace
        .iter()
        .map(|&r| {
            let k = key(r);
            let hit = store.get_now(k).is_some();
            if !hit {
                let put = store.put_now(k, entry());
                assert!(matches!(put, PutOutcome::Stored { evicted: 0 | 1 }));
            }
            assert!(store.len() <= C);
            hit
        })
        .collect()
}

fn hit_rate(hits: &[bool]) -> f64 {
    let measured = &hits[WARM..];
    measured.iter().filter(|h| **h).count() as f64 / measured.len() as f64
}

/// Bisection for the characteristic time `t` where `occupancy(t) = C`.
fn characteristic_time(occupancy: impl Fn(f64) -> f64) -> f64 {
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    while occupancy(hi) < C as f64 {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = f64::midpoint(lo, hi);
        if occupancy(mid) < C as f64 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Che's approximation for LRU: a key is cached if requested within the
/// characteristic time `T`, where `sum_i (1 - e^{-p_i T}) = C`.
fn che_lru(p: &[f64]) -> f64 {
    let t = characteristic_time(|t| p.iter().map(|q| 1.0 - (-q * t).exp()).sum());
    p.iter().map(|q| q * (1.0 - (-q * t).exp())).sum()
}

/// FIFO (and RANDOM) under IRM: occupancy `p_i T / (1 + p_i T)`, with
/// `sum_i p_i T / (1 + p_i T) = C`.
fn fifo_random(p: &[f64]) -> f64 {
    let t = characteristic_time(|t| p.iter().map(|q| q * t / (1.0 + q * t)).sum());
    p.iter().map(|q| q * (q * t / (1.0 + q * t))).sum()
}

#[test]
fn lru_and_fifo_match_their_characteristic_time_approximations() {
    let p = zipf(N, ALPHA);
    let trace = irm_trace(&p, WARM + REQUESTS, 1);
    let lru = hit_rate(&store_hits(Eviction::Lru, &trace));
    let fifo = hit_rate(&store_hits(Eviction::Fifo, &trace));
    let (che, fr) = (che_lru(&p), fifo_random(&p));
    eprintln!("LRU {lru:.4} (Che {che:.4}); FIFO {fifo:.4} (FIFO/RANDOM {fr:.4})");
    assert!(
        (lru - che).abs() <= 0.01,
        "LRU hit rate {lru:.4}, Che's approximation {che:.4}"
    );
    assert!(
        (fifo - fr).abs() <= 0.01,
        "FIFO hit rate {fifo:.4}, FIFO/RANDOM approximation {fr:.4}"
    );
    // The two formulas differ by more than the tolerance here, so each
    // check tells the policies apart.
    assert!(che - fr > 0.02, "Che {che:.4}, FIFO {fr:.4}");
}

/// CLOCK: a FIFO of keys with a reference bit; the oldest with its bit set
/// is cleared and goes to the back.
fn ref_clock(trace: &[u32]) -> Vec<bool> {
    let mut q: VecDeque<u32> = VecDeque::new();
    let mut bit: HashMap<u32, bool> = HashMap::new();
    trace
        .iter()
        .map(|&k| {
            if let Some(b) = bit.get_mut(&k) {
                *b = true;
                return true;
            }
            if q.len() == C {
                loop {
                    let v = q.pop_front().unwrap();
                    if bit[&v] {
                        bit.insert(v, false);
                        q.push_back(v);
                    } else {
                        bit.remove(&v);
                        break;
                    }
                }
            }
            q.push_back(k);
            bit.insert(k, false);
            false
        })
        .collect()
}

/// SIEVE: keys oldest first; the hand walks from old to new, clearing
/// visited bits, and evicts the first unvisited; it then rests on the
/// evicted key's newer neighbour (or starts again at the oldest).
fn ref_sieve(trace: &[u32]) -> Vec<bool> {
    let mut v: Vec<(u32, bool)> = Vec::new();
    let mut hand: Option<usize> = None;
    trace
        .iter()
        .map(|&k| {
            if let Some(e) = v.iter_mut().find(|e| e.0 == k) {
                e.1 = true;
                return true;
            }
            if v.len() == C {
                let mut i = hand.unwrap_or(0);
                while v[i].1 {
                    v[i].1 = false;
                    i = (i + 1) % v.len();
                }
                v.remove(i);
                hand = (i < v.len()).then_some(i);
            }
            v.push((k, false));
            false
        })
        .collect()
}

/// S3-FIFO: a small FIFO (a tenth of the cache), a main FIFO, a ghost of
/// keys evicted from the small one (as many as the cache holds).
fn ref_s3fifo(trace: &[u32]) -> Vec<bool> {
    let mut small: VecDeque<u32> = VecDeque::new();
    let mut main: VecDeque<u32> = VecDeque::new();
    let mut ghost: VecDeque<u32> = VecDeque::new();
    let mut freq: HashMap<u32, u8> = HashMap::new();
    trace
        .iter()
        .map(|&k| {
            if let Some(f) = freq.get_mut(&k) {
                *f = (*f + 1).min(3);
                return true;
            }
            if freq.len() == C {
                loop {
                    let total = small.len() + main.len();
                    if !small.is_empty() && (small.len() * 10 >= total || main.is_empty()) {
                        let v = small.pop_front().unwrap();
                        if freq[&v] > 0 {
                            freq.insert(v, 0);
                            main.push_back(v);
                            continue;
                        }
                        freq.remove(&v);
                        ghost.retain(|g| *g != v);
                        ghost.push_back(v);
                        while ghost.len() > (total - 1).max(1) {
                            ghost.pop_front();
                        }
                        break;
                    }
                    let v = main.pop_front().unwrap();
                    if freq[&v] > 0 {
                        *freq.get_mut(&v).unwrap() -= 1;
                        main.push_back(v);
                        continue;
                    }
                    freq.remove(&v);
                    break;
                }
            }
            if let Some(at) = ghost.iter().position(|g| *g == k) {
                ghost.remove(at);
                main.push_back(k);
            } else {
                small.push_back(k);
            }
            freq.insert(k, 0);
            false
        })
        .collect()
}

/// W-TinyLFU with exact frequencies: an LRU window (a hundredth of the
/// cache), a segmented LRU (probation, protected up to four fifths; filled
/// from the window when the cache first fills); a window candidate
/// displaces the main victim only when more frequent.
/// Every request counts; counts cap at 15 and halve every `period`.
fn ref_tinylfu(trace: &[u32], period: u64) -> Vec<bool> {
    let mut window: VecDeque<u32> = VecDeque::new();
    let mut probation: VecDeque<u32> = VecDeque::new();
    let mut protected: VecDeque<u32> = VecDeque::new();
    let mut counts: HashMap<u32, u8> = HashMap::new();
    let mut added = 0;
    let take = |q: &mut VecDeque<u32>, k: u32| {
        let at = q.iter().position(|x| *x == k)?;
        q.remove(at)
    };
    trace
        .iter()
        .map(|&k| {
            let c = counts.entry(k).or_insert(0);
            *c = (*c + 1).min(15);
            added += 1;
            if added == period {
                added = 0;
                for c in counts.values_mut() {
                    *c /= 2;
                }
            }
            if take(&mut window, k).is_some() {
                window.push_back(k);
                return true;
            }
            if take(&mut probation, k).is_some() {
                protected.push_back(k);
                if protected.len() * 5 > (probation.len() + protected.len()) * 4 {
                    let d = protected.pop_front().unwrap();
                    probation.push_back(d);
                }
                return true;
            }
            if take(&mut protected, k).is_some() {
                protected.push_back(k);
                return true;
            }
            let total = window.len() + probation.len() + protected.len();
            if total == C {
                if probation.is_empty() && protected.is_empty() {
                    while window.len() > 1 && window.len() * 100 > total {
                        probation.push_back(window.pop_front().unwrap());
                    }
                }
                let f = |x: &u32| counts.get(x).copied().unwrap_or(0);
                let main_victim = probation.front().or(protected.front()).copied();
                if !window.is_empty() && (window.len() * 100 > total || main_victim.is_none()) {
                    let cand = window.pop_front().unwrap();
                    if let Some(v) = main_victim
                        && f(&cand) > f(&v)
                    {
                        probation.push_back(cand);
                        take(&mut probation, v).or_else(|| take(&mut protected, v));
                    }
                } else {
                    let v = main_victim.unwrap();
                    take(&mut probation, v).or_else(|| take(&mut protected, v));
                }
            }
            window.push_back(k);
            false
        })
        .collect()
}

#[test]
fn clock_sieve_and_s3fifo_make_the_references_decisions() {
    let p = zipf(N, ALPHA);
    let trace = irm_trace(&p, 60_000, 2);
    for (eviction, reference) in [
        (Eviction::Clock, ref_clock(&trace)),
        (Eviction::Sieve, ref_sieve(&trace)),
        (Eviction::S3Fifo, ref_s3fifo(&trace)),
    ] {
        let got = store_hits(eviction, &trace);
        let first = got.iter().zip(&reference).position(|(a, b)| a != b);
        assert_eq!(first, None, "{eviction}: first disagreement at request");
        // The comparison has teeth: the policies differ from FIFO here.
        assert_ne!(got, store_hits(Eviction::Fifo, &trace), "{eviction}");
    }
}

#[test]
fn w_tinylfu_is_within_its_sketchs_error_of_exact_frequencies() {
    let p = zipf(N, ALPHA);
    let trace = irm_trace(&p, 100_000, 3);
    let period = 10 * (C.max(64) as u64).next_power_of_two();
    let got = hit_rate(&store_hits(Eviction::WTinyLfu, &trace));
    let want = hit_rate(&ref_tinylfu(&trace, period));
    assert!(
        (got - want).abs() <= 0.01,
        "W-TinyLFU {got:.4}, exact-frequency reference {want:.4}"
    );
    // Frequency-based admission beats recency under IRM: the check tells
    // W-TinyLFU from LRU.
    let lru = hit_rate(&store_hits(Eviction::Lru, &trace));
    assert!(got > lru + 0.02, "W-TinyLFU {got:.4}, LRU {lru:.4}");
}

/// Each policy keeps the store's own guarantees: both bounds, byte
/// accounting, purge by tag.
#[test]
fn every_policy_keeps_the_bounds_and_purges_by_tag() {
    for eviction in Eviction::ALL {
        let s: MemoryStore<u32> = MemoryStore::new(Bounds {
            max_entries: Some(50),
            max_bytes: Some(1_000),
            eviction,
        });
        let mut seed = 9;
        for i in 0..5_000u32 {
            let r = (splitmix(&mut seed) % 300) as u32;
            let size = 1 + (splitmix(&mut seed) % 60) as u32;
            if s.get_now(key(r)).is_none() {
                let e = Stored {
                    size,
                    tags: [r % 7].into_iter().collect(),
                    stored_at: Micros(u64::from(i)),
                    fetched_at: Micros(u64::from(i)),
                    ..entry()
                };
                s.put_now(key(r), e);
            }
            assert!(s.len() <= 50 && s.bytes() <= 1_000, "{eviction}");
        }
        let before = s.len();
        let purged = s.purge_now(3, Micros(10_000));
        assert!(purged > 0, "{eviction}: some entry carried tag 3");
        assert_eq!(s.len(), before - purged, "{eviction}");
        let left = (0..300u32).filter(|r| s.get_now(key(*r)).is_some()).count();
        assert_eq!(left, s.len(), "{eviction}");
        assert!(
            (0..300u32)
                .filter(|r| r % 7 == 3)
                .all(|r| s.get_now(key(r)).is_none())
        );
    }
}

/// The servers' layers take the scenario's policy: every caching layer of a
/// real run (origin, CDN, edge) is made by `page_layer`, whose store is the
/// one tested above.
#[test]
fn a_servers_layer_stores_with_the_scenarios_policy() {
    use std::sync::Arc;
    use ttlab_scenarios::SystemClock;
    use ttlab_scenarios::model::CacheOptions;
    for eviction in Eviction::ALL {
        let options = CacheOptions {
            max_entries: Some(10),
            eviction,
            ..CacheOptions::default()
        };
        let mut registry = prometheus_client::registry::Registry::default();
        let layer = ttlab_ssr_origin::origin::page_layer(
            &options,
            Arc::new(SystemClock::starting_now()),
            &mut registry,
            "origin",
            "eviction-test",
        )
        .unwrap();
        let bounds = layer.store().memory().expect("a memory store").bounds();
        assert_eq!(bounds.eviction, eviction);
        assert_eq!(bounds.max_entries, Some(10));
    }
}
