//! What one client address may make this node spend: connections, long
//! polls, HTTP writes, new rooms. Every limit is a flag with a generous
//! default; hitting one gets a clear error (`limit_reached` or
//! `rate_limited`), never a silent stall.
//!
//! Connection and poll counts are held by RAII [`Slot`]s, so a count can
//! never leak; rates are `governor`'s keyed GCRA limiters (one small state
//! per address, swept of idle addresses every minute).

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The limits, as configured.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Open connections (HTTP and WebSocket) in all.
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    /// Long polls waiting at once, per address.
    pub polls_per_ip: usize,
    /// HTTP writes and polls per second per address, and the burst allowed.
    pub http_rate: f64,
    pub http_burst: u32,
    /// Rooms an address may create per hour (a burst of that many at once).
    pub rooms_per_hour: u32,
    /// Rooms this node's clients may create, in all.
    pub max_rooms: usize,
    /// A request's headers must arrive within this.
    pub header_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 10_000,
            max_connections_per_ip: 1_000,
            polls_per_ip: 32,
            http_rate: 50.0,
            http_burst: 200,
            rooms_per_hour: 1_000,
            max_rooms: 1_000_000,
            header_timeout: Duration::from_secs(10),
        }
    }
}

/// Which count a slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Connection,
    Poll,
}

/// The shared counters and limiters.
pub struct Guard {
    pub limits: Limits,
    counts: Mutex<Counts>,
    writes: DefaultKeyedRateLimiter<IpAddr>,
    rooms: DefaultKeyedRateLimiter<IpAddr>,
    /// Room events (reactions, edits, read markers, moderation) per
    /// person, over all their connections and HTTP: each stays in the
    /// room's log on every node.
    events: DefaultKeyedRateLimiter<Arc<str>>,
    /// Woken when a connection or refusal lets go of its descriptor.
    freed: tokio::sync::Notify,
}

/// Descriptors the accept loop may hold past the connection cap: new
/// connections whose evicted idle one is still closing, and refusals being
/// answered. It waits rather than go past this, so a burst of accepts
/// (tokio polls up to 128 before it yields) cannot spend the reserve kept
/// for the store and the mesh.
pub const OVERSHOOT: usize = 16;

/// Room events one person may add per second, after a burst of [`EVENT_BURST`].
pub const EVENTS_PER_SEC: f64 = 10.0;
pub const EVENT_BURST: u32 = 100;

#[derive(Default)]
struct Counts {
    connections: usize,
    /// Refused connections not yet closed.
    refusing: usize,
    /// The most descriptors connections and refusals have held at once.
    most: usize,
    per_ip: HashMap<(Kind, IpAddr), usize>,
}

/// A held connection or poll; released when dropped.
pub struct Slot {
    guard: Arc<Guard>,
    kind: Kind,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.guard.lock();
        if self.kind == Kind::Connection {
            c.connections = c.connections.saturating_sub(1);
        }
        if let Some(n) = c.per_ip.get_mut(&(self.kind, self.ip)) {
            *n -= 1;
            if *n == 0 {
                c.per_ip.remove(&(self.kind, self.ip));
            }
        }
        drop(c);
        self.guard.freed.notify_waiters();
    }
}

/// A refused connection being answered; its descriptor counts until dropped.
pub struct Refusal {
    guard: Arc<Guard>,
}

impl Drop for Refusal {
    fn drop(&mut self) {
        self.guard.lock().refusing -= 1;
        self.guard.freed.notify_waiters();
    }
}

/// Which limit refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("this node has as many connections as it takes")]
    Connections,
    #[error("too many connections from this address")]
    ConnectionsPerIp,
    #[error("too many long polls from this address")]
    Polls,
    #[error("too many requests from this address; slow down")]
    Rate,
    #[error("this address has created as many rooms as it may this hour")]
    RoomsPerHour,
    #[error("this node holds as many rooms as it takes")]
    Rooms,
    #[error("too many reactions, edits and room changes at once; slow down")]
    Events,
}

fn quota(per_sec: f64, burst: u32) -> Quota {
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    let period = Duration::from_secs_f64(1.0 / per_sec.max(1e-6));
    Quota::with_period(period).unwrap_or_else(|| Quota::per_second(burst)).allow_burst(burst)
}

impl Guard {
    pub fn new(limits: Limits) -> Arc<Guard> {
        let writes = RateLimiter::keyed(quota(limits.http_rate, limits.http_burst));
        let per_hour = f64::from(limits.rooms_per_hour.max(1)) / 3600.0;
        let rooms = RateLimiter::keyed(quota(per_hour, limits.rooms_per_hour));
        let events = RateLimiter::keyed(quota(EVENTS_PER_SEC, EVENT_BURST));
        let freed = tokio::sync::Notify::new();
        Arc::new(Guard { limits, counts: Mutex::new(Counts::default()), writes, rooms, events, freed })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn take(self: &Arc<Self>, kind: Kind, ip: IpAddr, per_ip: usize) -> Result<Slot, Refused> {
        let mut c = self.lock();
        if kind == Kind::Connection && c.connections >= self.limits.max_connections {
            return Err(Refused::Connections);
        }
        let n = c.per_ip.entry((kind, ip)).or_default();
        if *n >= per_ip {
            return Err(if kind == Kind::Poll { Refused::Polls } else { Refused::ConnectionsPerIp });
        }
        *n += 1;
        if kind == Kind::Connection {
            c.connections += 1;
            c.held_one_more();
        }
        Ok(Slot { guard: self.clone(), kind, ip })
    }

    /// A new TCP connection from `ip`.
    pub fn connection(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Refused> {
        self.take(Kind::Connection, ip, self.limits.max_connections_per_ip)
    }

    /// A new TCP connection from `ip` past the total cap, because an idle one
    /// is being closed for it (its slot comes back in a moment).
    pub fn connection_for_evicted(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Refused> {
        let mut c = self.lock();
        let n = c.per_ip.entry((Kind::Connection, ip)).or_default();
        if *n >= self.limits.max_connections_per_ip {
            return Err(Refused::ConnectionsPerIp);
        }
        *n += 1;
        c.connections += 1;
        c.held_one_more();
        Ok(Slot { guard: self.clone(), kind: Kind::Connection, ip })
    }

    /// A long poll from `ip`, for as long as it waits.
    pub fn poll(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Refused> {
        self.take(Kind::Poll, ip, self.limits.polls_per_ip)
    }

    /// An HTTP write or poll from `ip`.
    pub fn write(&self, ip: IpAddr) -> Result<(), Refused> {
        self.writes.check_key(&ip).map_err(|_| Refused::Rate)
    }

    /// `ip` creates a room, this node already holding `rooms`.
    pub fn create_room(&self, ip: IpAddr, rooms: usize) -> Result<(), Refused> {
        if rooms >= self.limits.max_rooms {
            return Err(Refused::Rooms);
        }
        self.rooms.check_key(&ip).map_err(|_| Refused::RoomsPerHour)
    }

    /// `who` adds an event to a room (any path, any connection).
    pub fn event(&self, who: &Arc<str>) -> Result<(), Refused> {
        self.events.check_key(who).map_err(|_| Refused::Events)
    }

    /// A refused connection, counted while it is answered and closed.
    pub fn refusal(self: &Arc<Self>) -> Refusal {
        let mut c = self.lock();
        c.refusing += 1;
        c.held_one_more();
        Refusal { guard: self.clone() }
    }

    /// Returns once the accept loop may take another connection: fewer than
    /// [`OVERSHOOT`] past the cap and fewer than that many refusals closing.
    pub async fn room_to_accept(&self) {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            {
                let c = self.lock();
                if c.connections < self.limits.max_connections + OVERSHOOT && c.refusing < OVERSHOOT {
                    return;
                }
            }
            freed.await;
        }
    }

    /// The most descriptors connections and refusals have held at once.
    #[cfg(test)]
    pub fn most_held(&self) -> usize {
        self.lock().most
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.lock().connections
    }

    /// Forgets addresses whose limiters are back to full (run now and then).
    pub fn sweep(&self) {
        self.writes.retain_recent();
        self.rooms.retain_recent();
        self.events.retain_recent();
    }
}

impl Counts {
    fn held_one_more(&mut self) {
        self.most = self.most.max(self.connections + self.refusing);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn connections_are_counted_per_address_and_in_all_and_released() {
        let g = Guard::new(Limits { max_connections: 3, max_connections_per_ip: 2, ..Limits::default() });
        let a1 = g.connection(ip(1)).unwrap();
        let _a2 = g.connection(ip(1)).unwrap();
        assert_eq!(g.connection(ip(1)).err(), Some(Refused::ConnectionsPerIp));
        let _b1 = g.connection(ip(2)).unwrap();
        assert_eq!(g.connection(ip(3)).err(), Some(Refused::Connections));
        drop(a1);
        assert_eq!(g.connections(), 2);
        assert!(g.connection(ip(3)).is_ok());
    }

    #[test]
    fn polls_have_their_own_count() {
        let g = Guard::new(Limits { polls_per_ip: 1, max_connections_per_ip: 1, ..Limits::default() });
        let _c = g.connection(ip(1)).unwrap();
        let p = g.poll(ip(1)).unwrap();
        assert_eq!(g.poll(ip(1)).err(), Some(Refused::Polls));
        drop(p);
        assert!(g.poll(ip(1)).is_ok());
    }

    #[test]
    fn writes_and_rooms_are_rate_limited_per_address() {
        let g = Guard::new(Limits { http_rate: 1.0, http_burst: 3, rooms_per_hour: 2, ..Limits::default() });
        for _ in 0..3 {
            g.write(ip(1)).unwrap();
        }
        assert_eq!(g.write(ip(1)), Err(Refused::Rate));
        assert!(g.write(ip(2)).is_ok(), "another address has its own budget");
        g.create_room(ip(1), 0).unwrap();
        g.create_room(ip(1), 0).unwrap();
        assert_eq!(g.create_room(ip(1), 0), Err(Refused::RoomsPerHour));
        let capped = Guard::new(Limits { max_rooms: 10, ..Limits::default() });
        assert_eq!(capped.create_room(ip(1), 10), Err(Refused::Rooms));
    }
}
