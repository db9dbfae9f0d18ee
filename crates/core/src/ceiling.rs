//! The benchmark's ceiling (issue 13, BENCHMARKS.md): what a signed read costs when it does only
//! the signature's work.
//!
//! [`Ceiling::verify`] runs the same header parsing, clock window, SHA-256 of the body and
//! `verify_strict` as [`Auth::authenticate_machine`] (through the same functions), with the
//! machine's key from an in-memory map filled from the store once per machine. It skips the
//! failure budget, the allowlist, the nonce, the machine's state and CIDRs, the read view,
//! decryption and the audit record: everything a read does besides proving who signed it. The
//! server reaches it only under the hidden `bench_ceiling` setting, which it refuses on any
//! address but loopback, so a benchmark can measure full reads against it in the same run.

use dashmap::DashMap;
use signet_proto::{MachineId, PublicKey};

use crate::auth::{Auth, SignedRequest, parse};
use crate::{CoreError, CoreResult};

/// Machine keys by id, read from the store at most once per machine; the signature check of
/// [`Auth`] with nothing else.
pub struct Ceiling {
    auth: Auth,
    /// Never invalidated: a benchmark's machines do not change keys. Bounded by the machines
    /// that exist (an unknown id is not remembered).
    keys: DashMap<MachineId, PublicKey>,
}

impl Auth {
    /// The benchmark's ceiling over this authenticator's clock, store and parsed-key cache.
    pub fn ceiling(&self) -> Ceiling {
        Ceiling {
            auth: self.clone(),
            keys: DashMap::new(),
        }
    }
}

impl Ceiling {
    /// Checks the request's headers, window and signature against the claimed machine's key.
    /// Every failure is [`CoreError::Unauthenticated`] (or `Unavailable` if the store cannot be
    /// read), as on the real path; nothing is audited, counted or remembered.
    pub async fn verify(&self, req: &SignedRequest<'_>) -> CoreResult<()> {
        let parsed = parse(req).map_err(|_| CoreError::Unauthenticated)?;
        let id = MachineId::parse(req.principal_id.unwrap_or_default())
            .map_err(|_| CoreError::Unauthenticated)?;
        let cached = self.keys.get(&id).map(|k| k.clone());
        let key = match cached {
            Some(k) => k,
            None => {
                let machine = self
                    .auth
                    .cx
                    .store
                    .machine(&id)
                    .await
                    .map_err(|_| CoreError::Unavailable)?
                    .ok_or(CoreError::Unauthenticated)?;
                self.keys.insert(id, machine.public_key.clone());
                machine.public_key
            }
        };
        self.auth
            .check_signature(&key, &parsed, req.body)
            .map(drop)
            .map_err(|_| CoreError::Unauthenticated)
    }
}
