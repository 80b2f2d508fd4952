//! TEMPORARY STUB (replaced by the real solver): brute force for tiny windows.
use crate::domain::{DriverId, Eta, RideId};
pub struct BatchRide {
    pub ride: RideId,
    pub waited_secs: f64,
    pub batches: u32,
    pub candidates: Vec<(DriverId, Eta)>,
}
pub struct BatchSettings {
    pub wait_weight: f64,
    pub max_batch_size: usize,
    pub max_batches: u32,
}
pub struct Assignment {
    pub ride: RideId,
    pub driver: DriverId,
    pub eta: Eta,
}
pub struct Solved {
    pub pairs: Vec<Assignment>,
    pub overflow: usize,
    pub unmatched: usize,
    pub components: usize,
    pub largest: usize,
}
pub fn solve(rides: &[BatchRide], settings: &BatchSettings) -> Solved {
    let mut taken = std::collections::HashSet::new();
    let mut pairs = Vec::new();
    let mut order: Vec<&BatchRide> = rides
        .iter()
        .filter(|r| r.batches >= settings.max_batches)
        .collect();
    order.sort_by(|a, b| b.waited_secs.total_cmp(&a.waited_secs));
    for r in order {
        if let Some((d, e)) = r
            .candidates
            .iter()
            .filter(|(d, _)| !taken.contains(d))
            .min_by_key(|(_, e)| e.seconds)
        {
            taken.insert(d.clone());
            pairs.push(Assignment {
                ride: r.ride.clone(),
                driver: d.clone(),
                eta: *e,
            });
        }
    }
    let rest: Vec<&BatchRide> = rides
        .iter()
        .filter(|r| r.batches < settings.max_batches)
        .collect();
    fn best(
        i: usize,
        rest: &[&BatchRide],
        taken: &mut std::collections::HashSet<DriverId>,
        w: f64,
    ) -> (usize, f64, Vec<(usize, usize)>) {
        if i == rest.len() {
            return (0, 0.0, vec![]);
        }
        let mut top = best(i + 1, rest, taken, w);
        for (j, (d, e)) in rest[i].candidates.iter().enumerate() {
            if taken.contains(d) {
                continue;
            }
            taken.insert(d.clone());
            let (n, c, mut p) = best(i + 1, rest, taken, w);
            taken.remove(d);
            let (n, c) = (n + 1, c + f64::from(e.seconds) - w * rest[i].waited_secs);
            if n > top.0 || (n == top.0 && c < top.1) {
                p.push((i, j));
                top = (n, c, p);
            }
        }
        top
    }
    if rest.len() > 8 {
        for r in rest {
            if let Some((d, e)) = r
                .candidates
                .iter()
                .filter(|(d, _)| !taken.contains(d))
                .min_by_key(|(_, e)| e.seconds)
            {
                taken.insert(d.clone());
                pairs.push(Assignment {
                    ride: r.ride.clone(),
                    driver: d.clone(),
                    eta: *e,
                });
            }
        }
        let unmatched = rides.len() - pairs.len();
        return Solved {
            pairs,
            overflow: 0,
            unmatched,
            components: 1,
            largest: rides.len(),
        };
    }
    let (_, _, chosen) = best(0, &rest, &mut taken, settings.wait_weight);
    for (i, j) in chosen {
        let (d, e) = &rest[i].candidates[j];
        pairs.push(Assignment {
            ride: rest[i].ride.clone(),
            driver: d.clone(),
            eta: *e,
        });
    }
    let unmatched = rides.len() - pairs.len();
    Solved {
        pairs,
        overflow: 0,
        unmatched,
        components: 1,
        largest: rides.len(),
    }
}
