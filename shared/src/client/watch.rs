//! People whose profiles the client shows: told to the node (`watch`,
//! again after every reconnect), which pushes their changes (`profile`);
//! those wait here until the app takes them.

use super::Chat;
use crate::frames::ClientFrame;
use crate::profile::{MAX_PROFILES_ASKED, Profile};

/// Pushed profiles kept until taken, at most (the newest win).
const MAX_PUSHED: usize = MAX_PROFILES_ASKED;

#[derive(Debug, Clone, Default)]
pub struct Watching {
    names: Vec<String>,
    pushed: Vec<Profile>,
}

impl Chat {
    /// Watches `names` (the first [`MAX_PROFILES_ASKED`]), in place of
    /// those before; told to the node now if connected, else on welcome.
    pub fn watch(&mut self, mut names: Vec<String>) {
        names.truncate(MAX_PROFILES_ASKED);
        if names == self.watching.names {
            return;
        }
        self.watching.names = names;
        if self.is_ready() {
            self.emit_watch();
        }
    }

    /// Told only for an account's session: a guest may not watch.
    pub(super) fn emit_watch(&mut self) {
        if !self.watching.names.is_empty() && self.token.is_some() {
            self.outgoing.push(ClientFrame::Watch { names: self.watching.names.clone() });
        }
    }

    pub(super) fn on_profile(&mut self, profile: Profile) {
        self.watching.pushed.retain(|p| p.name != profile.name);
        if self.watching.pushed.len() >= MAX_PUSHED {
            self.watching.pushed.remove(0);
        }
        self.watching.pushed.push(profile);
    }

    /// Profiles the node pushed since last asked.
    pub fn take_profiles(&mut self) -> Vec<Profile> {
        std::mem::take(&mut self.watching.pushed)
    }

    /// Whether pushed profiles wait to be taken.
    pub fn has_profiles(&self) -> bool {
        !self.watching.pushed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use crate::ServerFrame;
    use crate::client::Chat;
    use crate::frames::ClientFrame;
    use crate::profile::Profile;

    #[test]
    fn watched_names_are_told_on_every_welcome_and_pushes_wait_once_each() {
        let mut chat = Chat::new("ada", &["general".to_owned()], None);
        chat.token = Some("mc1.session".into());
        chat.watch(vec!["bob".into(), "carol".into()]);
        assert!(chat.take_outgoing().is_empty(), "not connected: told on welcome");
        let welcome = || ServerFrame::Welcome { v: 1, node: "n1".into(), name: "ada".into(), nodes: vec![] };
        chat.on_open();
        chat.on_frame(welcome(), 0);
        let watch = ClientFrame::Watch { names: vec!["bob".into(), "carol".into()] };
        assert!(chat.take_outgoing().contains(&watch));
        chat.watch(vec!["bob".into(), "carol".into()]);
        assert!(chat.take_outgoing().is_empty(), "the same names: nothing new to say");
        // A move to another node: told again.
        chat.on_closed(true);
        chat.on_open();
        chat.on_frame(welcome(), 1);
        assert!(chat.take_outgoing().contains(&watch));

        let bob = |display: &str| Profile {
            name: "bob".into(),
            fields: crate::profile::ProfileFields { display: display.into(), ..Default::default() },
            ..Default::default()
        };
        chat.on_frame(ServerFrame::Profile { profile: bob("Bob") }, 2);
        chat.on_frame(ServerFrame::Profile { profile: bob("Robert") }, 3);
        let got = chat.take_profiles();
        assert_eq!(got.len(), 1, "the newest per name");
        assert_eq!(got[0].fields.display, "Robert");
        assert!(chat.take_profiles().is_empty());
    }

    /// A guest's chat never asks (the node would refuse it).
    #[test]
    fn a_guest_does_not_watch() {
        let mut chat = Chat::new("guesty", &["general".to_owned()], None);
        chat.watch(vec!["bob".into()]);
        chat.on_open();
        chat.on_frame(ServerFrame::Welcome { v: 1, node: "n1".into(), name: "guesty".into(), nodes: vec![] }, 0);
        assert!(!chat.take_outgoing().iter().any(|f| matches!(f, ClientFrame::Watch { .. })));
    }
}
