//! Who may log in, at run time: the credentials the config accepts, secrets rotated since
//! (a rotated client then accepts only its new secret, as after "regenerate secret" in an
//! admin UI), and every secret presented, counted per (principal, secret), so a test can show
//! that a worker stopped using a rotated secret.

use std::collections::HashMap;

use super::config::SimConfig;

#[derive(Debug, Default)]
pub(crate) struct Credentials {
    /// Principal → the only secret (or password) it accepts now.
    rotated: HashMap<String, String>,
    /// (principal, secret) → times presented, accepted or not.
    presented: HashMap<(String, String), u64>,
}

impl Credentials {
    /// Counts the attempt, then says whether `id` may log in with `secret`.
    pub(crate) fn check(&mut self, config: &SimConfig, id: &str, secret: &str) -> bool {
        *self
            .presented
            .entry((id.to_owned(), secret.to_owned()))
            .or_default() += 1;
        match self.rotated.get(id) {
            Some(only) => only == secret,
            None => config.accepts(id, secret),
        }
    }

    /// Whether a client `id` exists at all (a simulator open to any credentials knows every
    /// id): Genesys says "client not found" for an unknown one, "authentication failed" for
    /// a known one with the wrong secret.
    pub(crate) fn knows(&self, config: &SimConfig, id: &str) -> bool {
        self.rotated.contains_key(id)
            || config
                .clients
                .as_ref()
                .is_none_or(|clients| clients.contains_key(id))
    }

    /// From now on `id` accepts `secret` and nothing else.
    pub(crate) fn rotate(&mut self, id: &str, secret: &str) {
        self.rotated.insert(id.to_owned(), secret.to_owned());
    }

    /// How often `id` presented `secret` so far.
    pub(crate) fn presented(&self, id: &str, secret: &str) -> u64 {
        let key = (id.to_owned(), secret.to_owned());
        self.presented.get(&key).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotation_refuses_the_old_secret_and_every_attempt_is_counted() {
        let config = SimConfig::default();
        let mut c = Credentials::default();
        assert!(
            c.check(&config, "acme", "old"),
            "an open simulator accepts any secret"
        );
        c.rotate("acme", "new");
        assert!(!c.check(&config, "acme", "old"));
        assert!(c.check(&config, "acme", "new"));
        assert!(c.check(&config, "other", "old"), "only acme rotated");
        assert_eq!(c.presented("acme", "old"), 2);
        assert_eq!(c.presented("acme", "new"), 1);
        assert_eq!(c.presented("acme", "never"), 0);
    }
}
