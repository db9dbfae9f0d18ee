//! What every way of enrolling shares: who is asking to register, what the new machine is told,
//! and the per-source throttle. Below the enrollment services (tokens and tokenless requests in
//! `crate::enrollment`, platform tokens in `crate::issuer`), so that each can use them without
//! importing the other.

use std::collections::HashMap;
use std::sync::Mutex;

use signet_proto::MachineId;

use crate::address::ClientAddr;

/// Throttles tokenless requests per source address (fixed one-minute windows).
pub(crate) struct RequestLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<ClientAddr, (i64, u32)>>,
}

impl RequestLimiter {
    pub(crate) fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn allow(&self, ip: ClientAddr, now_ms: i64) -> bool {
        let window = now_ms.div_euclid(60_000);
        // A poisoned lock only means a panic elsewhere mid-update of plain counters.
        let mut w = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if w.len() > 100_000 {
            w.retain(|_, (win, _)| *win == window);
        }
        let entry = w.entry(ip.to_canonical()).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 += 1;
        entry.1 <= self.per_minute
    }
}

/// Who is asking to register.
#[derive(Debug, Clone)]
pub struct Registration<'a> {
    /// The raw public key, standard base64.
    pub public_key: &'a str,
    /// The hostname it reports.
    pub hostname: &'a str,
    /// An optional label; defaults to the hostname.
    pub name: Option<&'a str>,
    /// Where the request came from.
    pub source_ip: ClientAddr,
    /// The `proof` field: the new key's base64 signature over the proof string.
    pub proof: Option<&'a str>,
    /// The `timestamp` field the proof signs, Unix seconds.
    pub proof_timestamp: Option<i64>,
}

/// What the machine is told after registering.
#[derive(Debug, Clone)]
pub struct Registered {
    /// Its new id.
    pub machine_id: MachineId,
    /// Its name.
    pub machine_name: String,
    /// The vault.
    pub vault_id: signet_proto::VaultId,
    /// Where to send signed requests.
    pub api_url: String,
    /// `pending` or `approved`.
    pub status: &'static str,
    /// The key's fingerprint.
    pub fingerprint: String,
    /// When it stops authenticating (Unix ms), for ephemeral machines.
    pub expires_at: Option<i64>,
}
