//! The shape of a team's workspace for the capacity benchmark: who is in
//! which rooms, and where their messages go. Seeded, so every system of one
//! run gets the same people in the same rooms.
//!
//! Each person has about three direct conversations, two small rooms
//! (3–12 people), one team room (30–100) and one of the few large rooms
//! (about 1,500, so at least 1,000 once there are 1,000 people). A message
//! goes to a direct conversation 40 % of the time, a small room 30 %, the
//! team 25 %, the large room 5 %: most talk is small, as in a real chat.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Kind {
    Direct,
    Small,
    Team,
    Large,
}

impl Kind {
    /// How often a message goes to a room of this kind.
    const WEIGHTS: [(Kind, f64); 4] =
        [(Kind::Direct, 0.40), (Kind::Small, 0.30), (Kind::Team, 0.25), (Kind::Large, 0.05)];
}

#[derive(Debug, Clone)]
pub struct Room {
    pub kind: Kind,
    pub members: Vec<u32>,
}

#[derive(Debug, Clone)]
pub struct Workspace {
    pub rooms: Vec<Room>,
    /// Each person's rooms, by index into `rooms`.
    pub of: Vec<Vec<u32>>,
}

/// People per large room.
const LARGE: usize = 1_500;
const DIRECT_PER_PERSON: usize = 3;

impl Workspace {
    pub fn new(people: usize, seed: u64) -> Workspace {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut w = Workspace { rooms: Vec::new(), of: vec![Vec::new(); people] };
        if people < 2 {
            return w;
        }
        for _ in 0..people * DIRECT_PER_PERSON / 2 {
            let a = rng.random_range(0..people);
            let b = (a + rng.random_range(1..people)) % people;
            w.add(Kind::Direct, vec![a as u32, b as u32]);
        }
        for _ in 0..2 {
            w.partition(Kind::Small, 3..=12, &mut rng);
        }
        w.partition(Kind::Team, 30..=100, &mut rng);
        let large = people.div_ceil(LARGE);
        let mut order: Vec<u32> = (0..people as u32).collect();
        order.shuffle(&mut rng);
        for chunk in 0..large {
            w.add(Kind::Large, order.iter().copied().skip(chunk).step_by(large).collect());
        }
        w
    }

    fn add(&mut self, kind: Kind, members: Vec<u32>) {
        let r = self.rooms.len() as u32;
        for &m in &members {
            self.of[m as usize].push(r);
        }
        self.rooms.push(Room { kind, members });
    }

    /// Everyone into rooms of sizes drawn from `sizes` (the last may be
    /// smaller; one person left over joins the previous room).
    fn partition(&mut self, kind: Kind, sizes: std::ops::RangeInclusive<usize>, rng: &mut StdRng) {
        let mut order: Vec<u32> = (0..self.of.len() as u32).collect();
        order.shuffle(rng);
        let mut rest = &order[..];
        while !rest.is_empty() {
            let mut take = rng.random_range(sizes.clone()).min(rest.len());
            if rest.len() - take == 1 {
                take += 1;
            }
            self.add(kind, rest[..take].to_vec());
            rest = &rest[take..];
        }
    }

    /// Where `person`'s next message goes, drawn by the kinds' weights.
    pub fn pick(&self, person: u32, rng: &mut impl Rng) -> Option<u32> {
        let mine = &self.of[person as usize];
        let of_kind = |k: Kind| mine.iter().copied().filter(move |&r| self.rooms[r as usize].kind == k);
        let mut x = rng.random::<f64>();
        for (kind, w) in Kind::WEIGHTS {
            if x < w {
                let rooms: Vec<u32> = of_kind(kind).collect();
                if let Some(r) = rooms.get(rng.random_range(0..rooms.len().max(1))) {
                    return Some(*r);
                }
                break;
            }
            x -= w;
        }
        mine.get(rng.random_range(0..mine.len().max(1))).copied()
    }

    /// Deliveries a message makes on average (members but the sender),
    /// over the kinds' weights and each person's rooms.
    pub fn deliveries_per_message(&self) -> f64 {
        let mut rng = StdRng::seed_from_u64(7);
        let people = self.of.len() as u32;
        let samples = 20_000;
        let total: usize = (0..samples)
            .filter_map(|_| self.pick(rng.random_range(0..people.max(1)), &mut rng))
            .map(|r| self.rooms[r as usize].members.len() - 1)
            .sum();
        total as f64 / samples as f64
    }

    /// Rooms of each kind and their mean size, for the report.
    pub fn summary(&self) -> Vec<(Kind, usize, f64)> {
        Kind::WEIGHTS
            .iter()
            .map(|&(k, _)| {
                let sizes: Vec<usize> = self.rooms.iter().filter(|r| r.kind == k).map(|r| r.members.len()).collect();
                (k, sizes.len(), sizes.iter().sum::<usize>() as f64 / sizes.len().max(1) as f64)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workspace_is_shaped_like_a_team_chat() {
        let w = Workspace::new(3_000, 1);
        for (p, rooms) in w.of.iter().enumerate() {
            let kinds = |k| rooms.iter().filter(|&&r| w.rooms[r as usize].kind == k).count();
            assert_eq!(kinds(Kind::Small), 2, "person {p}");
            assert_eq!(kinds(Kind::Team), 1, "person {p}");
            assert_eq!(kinds(Kind::Large), 1, "person {p}");
        }
        for r in &w.rooms {
            let n = r.members.len();
            let ok = match r.kind {
                Kind::Direct => n == 2 && r.members[0] != r.members[1],
                Kind::Small => (3..=13).contains(&n),
                Kind::Team => (30..=101).contains(&n) || n < 30,
                Kind::Large => n >= 1_000,
            };
            assert!(ok, "{:?} of {n}", r.kind);
        }
        let direct = w.rooms.iter().filter(|r| r.kind == Kind::Direct).count();
        assert_eq!(direct, 4_500);
        // Only the last team room of a partition may be short.
        assert!(w.rooms.iter().filter(|r| r.kind == Kind::Team && r.members.len() < 30).count() <= 1);
    }

    #[test]
    fn messages_go_mostly_to_small_rooms_and_the_same_seed_makes_the_same_workspace() {
        let w = Workspace::new(3_000, 1);
        let mut rng = StdRng::seed_from_u64(3);
        let picks: Vec<Kind> =
            (0..10_000).filter_map(|i| w.pick(i % 3_000, &mut rng)).map(|r| w.rooms[r as usize].kind).collect();
        let share = |k| picks.iter().filter(|&&x| x == k).count() as f64 / picks.len() as f64;
        assert!((share(Kind::Direct) - 0.40).abs() < 0.03, "{}", share(Kind::Direct));
        assert!((share(Kind::Large) - 0.05).abs() < 0.02, "{}", share(Kind::Large));
        let d = w.deliveries_per_message();
        assert!((50.0..150.0).contains(&d), "{d}");
        let again = Workspace::new(3_000, 1);
        assert_eq!(again.of, w.of);
        assert_ne!(Workspace::new(3_000, 2).of, w.of);
    }
}
