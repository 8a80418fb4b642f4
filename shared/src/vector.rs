//! Room vectors: "I hold every message of this room from `n1` up to seq 7".
//!
//! Because each origin numbers its messages of a room 1, 2, 3… without gaps
//! and nodes deliver them per origin in order, one number per origin
//! describes a whole prefix of the room. The same vector means the same set
//! of messages on every node, which is what lets a client resume anywhere.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::limits::{Invalid, validate_node_id};

/// Highest contiguous `seq` held per origin node. Absent means 0.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct RoomVector(BTreeMap<String, u64>);

// Zero entries are dropped on the way in, so that `{"n1":0}` equals `{}`.
impl<'de> Deserialize<'de> for RoomVector {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut map = BTreeMap::<String, u64>::deserialize(d)?;
        map.retain(|_, s| *s > 0);
        Ok(RoomVector(map))
    }
}

impl RoomVector {
    pub fn new() -> Self {
        Self::default()
    }

    /// The highest seq of `origin` held (0 when none).
    pub fn get(&self, origin: &str) -> u64 {
        self.0.get(origin).copied().unwrap_or(0)
    }

    /// Sets `origin`'s entry; 0 removes it so that equal sets compare equal.
    pub fn set(&mut self, origin: &str, seq: u64) {
        if seq == 0 {
            self.0.remove(origin);
        } else if let Some(v) = self.0.get_mut(origin) {
            *v = seq;
        } else {
            self.0.insert(origin.to_owned(), seq);
        }
    }

    /// Does this vector include message `seq` of `origin`?
    pub fn covers(&self, origin: &str, seq: u64) -> bool {
        seq <= self.get(origin)
    }

    /// Raises every entry to at least `other`'s.
    pub fn merge(&mut self, other: &RoomVector) {
        for (origin, &seq) in &other.0 {
            if seq > self.get(origin) {
                self.set(origin, seq);
            }
        }
    }

    /// True when this vector holds everything `other` holds.
    pub fn dominates(&self, other: &RoomVector) -> bool {
        other.0.iter().all(|(o, &s)| self.get(o) >= s)
    }

    /// How many messages `other` holds that this vector does not.
    pub fn missing_from(&self, other: &RoomVector) -> u64 {
        other.0.iter().map(|(o, &s)| s.saturating_sub(self.get(o))).sum()
    }

    /// Total number of messages the vector covers.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.values().all(|&s| s == 0)
    }

    /// `(origin, seq)` pairs in origin order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> + '_ {
        self.0.iter().map(|(o, &s)| (o.as_str(), s))
    }

    /// Every origin must be a valid node id; used on vectors clients send.
    pub fn validate(&self) -> Result<(), Invalid> {
        for origin in self.0.keys() {
            validate_node_id(origin)?;
        }
        Ok(())
    }
}

impl<S: Into<String>> FromIterator<(S, u64)> for RoomVector {
    fn from_iter<I: IntoIterator<Item = (S, u64)>>(iter: I) -> Self {
        let mut v = RoomVector::new();
        for (o, s) in iter {
            let o = o.into();
            v.set(&o, s);
        }
        v
    }
}

/// The query-string form of the long poll: `n1:7,n2:3` (empty for none).
impl fmt::Display for RoomVector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (o, s)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{o}:{s}")?;
        }
        Ok(())
    }
}

impl FromStr for RoomVector {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Invalid> {
        let bad = || Invalid::Other("since must look like n1:7,n2:3".into());
        let mut v = RoomVector::new();
        for part in s.split(',').filter(|p| !p.is_empty()) {
            let (origin, seq) = part.split_once(':').ok_or_else(bad)?;
            validate_node_id(origin)?;
            let seq: u64 = seq.parse().map_err(|_| bad())?;
            v.set(origin, seq.max(v.get(origin)));
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(pairs: &[(&str, u64)]) -> RoomVector {
        pairs.iter().map(|&(o, s)| (o, s)).collect()
    }

    #[test]
    fn covers_merge_dominates() {
        let mut a = v(&[("n1", 7), ("n2", 3)]);
        assert!(a.covers("n1", 7));
        assert!(!a.covers("n1", 8));
        assert!(!a.covers("n3", 1));
        let b = v(&[("n2", 5), ("n3", 1)]);
        assert!(!a.dominates(&b));
        assert_eq!(a.missing_from(&b), 3);
        a.merge(&b);
        assert_eq!(a, v(&[("n1", 7), ("n2", 5), ("n3", 1)]));
        assert!(a.dominates(&b));
        assert_eq!(a.total(), 13);
    }

    #[test]
    fn zero_entries_are_absent() {
        let a = v(&[("n1", 0)]);
        assert!(a.is_empty());
        assert_eq!(a, RoomVector::new());
        let parsed: RoomVector = serde_json::from_str(r#"{"n1":0}"#).unwrap();
        assert_eq!(parsed, RoomVector::new());
    }

    #[test]
    fn json_is_a_plain_object() {
        let a = v(&[("n1", 7), ("n2", 3)]);
        assert_eq!(serde_json::to_string(&a).unwrap(), r#"{"n1":7,"n2":3}"#);
        let back: RoomVector = serde_json::from_str(r#"{"n2":3,"n1":7}"#).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn query_form_round_trips() {
        let a = v(&[("n1", 7), ("n2", 3)]);
        assert_eq!(a.to_string(), "n1:7,n2:3");
        assert_eq!("n1:7,n2:3".parse::<RoomVector>().unwrap(), a);
        assert_eq!("".parse::<RoomVector>().unwrap(), RoomVector::new());
        assert!("n1".parse::<RoomVector>().is_err());
        assert!("n1:x".parse::<RoomVector>().is_err());
        assert!("N1:3".parse::<RoomVector>().is_err());
        assert!("n1:-3".parse::<RoomVector>().is_err());
    }
}
