//! The retry policy of both mail queues, the outbox of single e-mails ([`super::outbox`]) and
//! the campaign ledger (`campaigns::sending`): when to try again, and when to stop trying.

use chrono::Duration;

use crate::config::{CampaignSettings, MailWorkerSettings};

/// The longest delay between two attempts: one hour.
const MAX_DELAY_SECONDS: i64 = 3600;

/// How a queue retries a message refused for a passing reason (a 4xx reply, a timeout, a lost
/// connection): after `n` failed attempts it waits base, 2×base, 4×base… (at most
/// `max_doublings` doublings, and never more than an hour), and the `max_attempts`-th failed
/// attempt fails the message for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first delay, in seconds.
    pub base_seconds: i64,
    /// Attempts before a message fails.
    pub max_attempts: i32,
    /// How many times the delay may double before it stops growing.
    pub max_doublings: u32,
}

impl RetryPolicy {
    /// The outbox's policy (`mail.worker`): 30 s, 1 min, 2 min… with the default base, the
    /// delay doubling at most 7 times.
    pub fn outbox(settings: &MailWorkerSettings) -> RetryPolicy {
        RetryPolicy {
            base_seconds: settings.retry_base_seconds,
            max_attempts: settings.max_attempts,
            max_doublings: 7,
        }
    }

    /// The campaign ledger's policy (`campaigns`), the delay doubling at most 15 times.
    pub fn campaigns(settings: &CampaignSettings) -> RetryPolicy {
        RetryPolicy {
            base_seconds: settings.retry_base_seconds,
            max_attempts: settings.max_attempts,
            max_doublings: 15,
        }
    }

    /// The delay before the next attempt after `attempts` failed ones: base, 2×base, 4×base…
    /// capped at one hour.
    pub fn delay(&self, attempts: i32) -> Duration {
        let doublings = u32::try_from(attempts.max(1) - 1)
            .unwrap_or(0)
            .min(self.max_doublings);
        Duration::seconds(
            self.base_seconds
                .saturating_mul(1_i64 << doublings)
                .min(MAX_DELAY_SECONDS),
        )
    }

    /// Whether a message refused for a passing reason at its `attempts`-th attempt fails for
    /// good instead of being tried again.
    pub fn gives_up(&self, attempts: i32) -> bool {
        attempts >= self.max_attempts
    }

    /// Whether a message claimed `attempts` times was claimed more often than it may be tried:
    /// each claim ended without an outcome (a crash, a panic), and a poison message fails
    /// instead of being claimed again forever.
    pub fn abandons(&self, attempts: i32) -> bool {
        attempts > self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use super::RetryPolicy;

    fn policy(base_seconds: i64, max_doublings: u32) -> RetryPolicy {
        RetryPolicy {
            base_seconds,
            max_attempts: 8,
            max_doublings,
        }
    }

    #[test]
    fn the_outbox_delay_doubles_and_is_capped() {
        let outbox = |base, attempts| policy(base, 7).delay(attempts).num_seconds();
        assert_eq!(outbox(30, 1), 30);
        assert_eq!(outbox(30, 2), 60);
        assert_eq!(outbox(30, 3), 120);
        assert_eq!(outbox(30, 20), 3600);
        assert_eq!(outbox(2, 3), 8);
        // Seven doublings at most.
        assert_eq!(outbox(2, 20), 256);
    }

    #[test]
    fn the_campaign_delay_doubles_from_the_base_and_is_capped() {
        let campaigns = |base, attempts| policy(base, 15).delay(attempts).num_seconds();
        assert_eq!(campaigns(60, 1), 60);
        assert_eq!(campaigns(60, 2), 120);
        assert_eq!(campaigns(60, 10), 3600);
        assert_eq!(campaigns(0, 5), 0);
        assert_eq!(campaigns(2, 20), 3600);
    }

    #[test]
    fn a_message_fails_at_the_last_attempt_and_is_abandoned_past_it() {
        let p = policy(30, 7);
        assert!(!p.gives_up(7));
        assert!(p.gives_up(8));
        assert!(!p.abandons(8));
        assert!(p.abandons(9));
    }
}
