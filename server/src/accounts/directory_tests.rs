//! The directory's rules: any order gives one state; what ends sessions.

use super::*;

fn created(id: &str, name: &str, at: u64) -> AccountEvent {
    AccountEvent::Created { id: id.into(), name: name.into(), hash: "h0".into(), role: Role::Member, at }
}

fn session(account: &str, id: &str, issued: u64) -> Claims {
    Claims {
        kind: Kind::Session,
        account: account.into(),
        id: id.into(),
        issued,
        expires: issued + 1000,
        issuer: "n1".into(),
    }
}

#[test]
fn names_are_found_whatever_their_case_or_look() {
    let mut d = Directory::new();
    d.apply(created("a1", "Alice", 1));
    assert_eq!(d.by_name("alice").unwrap().id, "a1");
    assert_eq!(d.by_name("аlice").unwrap().id, "a1", "a Cyrillic а");
    assert!(d.by_name("bob").is_none());
}

#[test]
fn events_give_the_same_state_in_any_order() {
    let events = [
        created("a1", "alice", 1),
        AccountEvent::Password { id: "a1".into(), hash: "h2".into(), at: 20 },
        AccountEvent::Password { id: "a1".into(), hash: "h1".into(), at: 10 },
        AccountEvent::Role { id: "a1".into(), role: Role::Admin, at: 5 },
        AccountEvent::RevokeAll { id: "a1".into(), before: 15 },
        AccountEvent::TokenCreated { id: "a1".into(), token: "t1".into(), label: "bot".into(), at: 3 },
        AccountEvent::TokenRevoked { id: "a1".into(), token: "t1".into() },
    ];
    let mut states = Vec::new();
    for rotation in 0..events.len() {
        let mut d = Directory::new();
        for e in events.iter().cycle().skip(rotation).take(events.len()) {
            d.apply(e.clone());
        }
        for e in events.iter().rev() {
            d.apply(e.clone()); // and again, backwards: idempotent
        }
        states.push(d.get("a1").cloned());
    }
    assert!(states.windows(2).all(|w| w[0] == w[1]), "{states:#?}");
    let a = states[0].as_ref().unwrap();
    assert_eq!((a.hash.1.as_str(), a.role.1, a.revoke_before), ("h2", Role::Admin, 15));
    assert!(a.tokens["t1"].revoked);
}

#[test]
fn sessions_die_by_logout_by_revocation_and_by_expiry() {
    let mut d = Directory::new();
    d.apply(created("a1", "alice", 1));
    let s = session("a1", "s1", 100);
    assert!(d.check(&s, 200).is_ok());
    assert_eq!(d.check(&s, 1_200).err(), Some(Denied::Ended), "expired");
    assert_eq!(
        d.apply(AccountEvent::RevokeSession { session: "s1".into(), until: 1_100 }),
        [Revoked::Session("s1".into())]
    );
    assert_eq!(d.check(&s, 200).err(), Some(Denied::Ended), "logged out");
    let s2 = session("a1", "s2", 100);
    d.apply(AccountEvent::RevokeAll { id: "a1".into(), before: 150 });
    assert_eq!(d.check(&s2, 200).err(), Some(Denied::Ended), "password changed after it was issued");
    assert!(d.check(&session("a1", "s3", 160), 200).is_ok());
    assert_eq!(d.check(&session("nobody", "s4", 160), 200).err(), Some(Denied::Unknown));
}

/// "Do not disturb" stops pushes to every browser of the person; the
/// latest profile wins whatever the order the events come in.
#[test]
fn do_not_disturb_stops_pushes_and_the_latest_profile_wins() {
    use meshchat_shared::profile::{Availability, ProfileFields};
    let sub = |at| AccountEvent::PushSubscribed {
        id: "a1".into(),
        endpoint: "https://push.example/1".into(),
        p256dh: "p".into(),
        auth: "x".into(),
        key: "k".into(),
        preview: false,
        session: session("a1", "s1", 100),
        at,
    };
    let profile = |availability, at| AccountEvent::Profile {
        id: "a1".into(),
        profile: ProfileFields { availability, ..ProfileFields::default() },
        at,
    };
    for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
        let events = [sub(110), profile(Availability::Dnd, 120), profile(Availability::Active, 130)];
        let mut d = Directory::default();
        d.apply(created("a1", "ada", 100));
        for i in order {
            d.apply(events[i].clone());
        }
        assert_eq!(d.pushes("ada", "k", 200).len(), 1, "{order:?}: active again");
        d.apply(profile(Availability::Dnd, 140));
        assert!(d.pushes("ada", "k", 200).is_empty(), "{order:?}: do not disturb");
    }
}

/// Deactivation: every token of the account fails at once, connections
/// close, and the latest word wins in any order (deactivated on a tie).
#[test]
fn deactivation_ends_every_token_and_the_latest_word_wins() {
    let mut d = Directory::new();
    d.apply(created("a1", "alice", 1));
    let s = session("a1", "s1", 100);
    assert!(d.check(&s, 200).is_ok());
    let off = AccountEvent::Active { id: "a1".into(), active: false, at: 150 };
    assert_eq!(d.apply(off.clone()), [Revoked::Account { id: "a1".into(), before: u64::MAX }]);
    assert_eq!(d.check(&s, 200).err(), Some(Denied::Ended));
    assert_eq!(d.check(&session("a1", "s2", 300), 400).err(), Some(Denied::Ended), "new sessions too");
    let on = AccountEvent::Active { id: "a1".into(), active: true, at: 160 };
    let tie = AccountEvent::Active { id: "a1".into(), active: true, at: 150 };
    for order in [[&off, &on, &tie], [&on, &tie, &off], [&tie, &off, &on]] {
        let mut d = Directory::new();
        d.apply(created("a1", "alice", 1));
        for e in order {
            d.apply(e.clone());
        }
        assert!(d.get("a1").unwrap().active.1, "the later reactivation wins");
    }
    let mut d = Directory::new();
    d.apply(created("a1", "alice", 1));
    d.apply(tie.clone());
    d.apply(off.clone());
    assert!(!d.get("a1").unwrap().active.1, "deactivated wins a tie");
}

/// Sessions listed: begun, used, ended one by one or all at once,
/// expired; API tokens are not sessions.
#[test]
fn the_list_of_sessions_follows_starts_uses_and_ends() {
    let mut d = Directory::new();
    d.apply(created("a1", "alice", 1));
    let started = |session: &str, at| AccountEvent::SessionStarted {
        id: "a1".into(),
        session: session.into(),
        agent: "Firefox on Linux".into(),
        node: "n1".into(),
        at,
        expires: at + 1000,
    };
    // A use may arrive before the start it follows.
    d.apply(AccountEvent::SessionSeen { id: "a1".into(), session: "s1".into(), at: 500 });
    d.apply(started("s1", 100));
    d.apply(started("s2", 200));
    d.apply(started("s3", 300));
    d.apply(AccountEvent::TokenCreated { id: "a1".into(), token: "t1".into(), label: "bot".into(), at: 50 });
    d.apply(AccountEvent::SessionSeen { id: "a1".into(), session: "t1".into(), at: 600 });
    let live = |d: &Directory, now| -> Vec<(String, u64)> {
        let a = d.get("a1").unwrap();
        d.live_sessions(a, now).map(|(id, s)| (id.clone(), s.last)).collect()
    };
    assert_eq!(live(&d, 700), [("s1".into(), 500), ("s2".into(), 200), ("s3".into(), 300)]);
    d.apply(AccountEvent::RevokeSession { session: "s2".into(), until: 1200 });
    assert_eq!(live(&d, 700).len(), 2, "logged out");
    assert_eq!(live(&d, 1_250), [("s3".into(), 300)], "s1 expired");
    d.apply(AccountEvent::RevokeAll { id: "a1".into(), before: 301 });
    assert!(live(&d, 700).is_empty(), "a new password ends them all");
    d.prune(1_350);
    let a = d.get("a1").unwrap();
    assert_eq!(a.sessions.keys().collect::<Vec<_>>(), ["t1"], "expired sessions forgotten, the token's use kept");
}

#[test]
fn audit_entries_are_one_list_in_any_order_and_settings_take_the_latest() {
    let e =
        |at, action: &str| AccountEvent::Audit { by: "root".into(), action: action.into(), target: "bob".into(), at };
    let mut a = Directory::new();
    let mut b = Directory::new();
    for x in [e(3, "deactivate"), e(1, "role admin"), e(2, "invite")] {
        a.apply(x);
    }
    for x in [e(2, "invite"), e(3, "deactivate"), e(1, "role admin"), e(2, "invite")] {
        b.apply(x);
    }
    assert_eq!(a.audit(10), b.audit(10));
    let actions: Vec<String> = a.audit(2).into_iter().map(|x| x.action).collect();
    assert_eq!(actions, ["deactivate", "invite"], "newest first");
    let set =
        |r: &str, g, at| AccountEvent::Settings { registration: r.into(), guests: g, admins_need_two_factor: g, at };
    a.apply(set("invite", false, 20));
    a.apply(set("open", true, 10));
    assert_eq!(a.settings(), Some(("invite", false, false)));
}

#[test]
fn an_erased_account_keeps_its_name_and_nothing_else_in_any_order() {
    let erased = AccountEvent::Erased { id: "a1".into(), name: "bob".into(), at: 50 };
    let profile = |at| AccountEvent::Profile {
        id: "a1".into(),
        profile: ProfileFields { display: "Bobby".into(), ..ProfileFields::default() },
        at,
    };
    let password = AccountEvent::Password { id: "a1".into(), hash: "h9".into(), at: 60 };
    for order in [vec![profile(10), erased.clone(), profile(70), password.clone()], vec![erased.clone(), profile(10)]] {
        let mut d = Directory::new();
        d.apply(created("a1", "bob", 1));
        for e in order {
            d.apply(e);
        }
        let a = d.by_name("bob").unwrap();
        assert!(a.erased && !a.active.1 && a.hash.1.is_empty() && a.profile.1 == ProfileFields::default());
    }
    // After a restart its `created` is erased too: the name stays taken.
    let mut d = Directory::new();
    assert_eq!(d.apply(erased), vec![Revoked::Account { id: "a1".into(), before: u64::MAX }]);
    assert!(d.by_name("bob").is_some_and(|a| a.erased && a.hash.1.is_empty()));
}

/// Pictures set in any order, some applied twice (a node applies its own
/// as it writes it, then from its log): the latest is the picture, every
/// other one is replaced, and the picture itself never is.
#[test]
fn every_picture_but_the_latest_is_replaced_in_any_order() {
    let pic = |seq: u64| super::super::events::AvatarRef { origin: "n1".into(), seq, hash: format!("{seq:064}") };
    let set = |seq: Option<u64>, at: u64| AccountEvent::Avatar { id: "a1".into(), avatar: seq.map(pic), at };
    let orders = [
        vec![set(Some(1), 10), set(Some(1), 10), set(Some(2), 20), set(Some(3), 15), set(Some(2), 20)],
        vec![set(Some(2), 20), set(Some(3), 15), set(Some(1), 10), set(Some(2), 20)],
        vec![set(Some(3), 15), set(None, 12), set(Some(2), 20), set(Some(1), 10)],
    ];
    for events in orders {
        let mut d = Directory::new();
        d.apply(created("a1", "alice", 1));
        for e in events {
            d.apply(e);
        }
        let a = d.get("a1").unwrap();
        assert_eq!(a.avatar, (20, Some(pic(2))));
        let mut replaced: Vec<u64> = a.superseded.iter().map(|r| r.seq).collect();
        replaced.sort_unstable();
        assert_eq!(replaced, [1, 3]);
    }
}
