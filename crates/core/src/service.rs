//! The front door shared by every request: opens the vault and hands out the per-area
//! services, which all work over one shared [`Context`].

use std::sync::Arc;

use signet_crypto::RootKey;
use signet_proto::{SecretId, VaultId};
use signet_store::{Change, Store};

use crate::account::{Accounts, HashGate, LOGIN_ATTEMPTS_PER_SOURCE_PER_MINUTE};
use crate::ai_agent::AiAgents;
use crate::alert::Alerts;
use crate::audit::AuditLog;
use crate::auth::{Auth, KeyCache};
use crate::budget::{BudgetState, Budgets};
use crate::chain::ChainKey;
use crate::clock::Clock;
use crate::connection::Connections;
use crate::context::{Context, SignetConfig};
use crate::enrollment::Enrollment;
use crate::events::{Events, Hub};
use crate::failures::Failures;
use crate::invite::Invites;
use crate::issuer::Issuers;
use crate::keyring::Keyring;
use crate::lease::Leases;
use crate::machine::Machines;
use crate::managed::Managed;
use crate::metrics::Metrics;
use crate::network::{Network, PolicyCache};
use crate::operator::Operators;
use crate::passkey::{Passkeys, RelyingParty};
use crate::policy::Policies;
use crate::read::Reads;
use crate::readiness::Readiness;
use crate::registration::RequestLimiter;
use crate::root_rotation::Keys;
use crate::rotation::Rotation;
use crate::secret::Secrets;
use crate::session::Sessions;
use crate::share::Shares;
use crate::sso::Sso;
use crate::stamped::StampedCache;
use crate::trash::Trash;
use crate::user::Users;
use crate::vault::{self, OpenError, VaultSettings};
use crate::webhook::Webhooks;

/// The business layer: one per process, shared by all requests. Each area's rules are a
/// service reached through an accessor (`signet.secrets()`, `signet.machines()`, ...).
pub struct Signet {
    /// What the services share.
    cx: Arc<Context>,
    /// The last readiness answer (`/readyz`).
    readiness: Readiness,
    accounts: Accounts,
    ai_agents: AiAgents,
    alerts: Alerts,
    audit: AuditLog,
    auth: Auth,
    budgets: Budgets,
    enrollment: Enrollment,
    events: Events,
    invites: Invites,
    keys: Keys,
    leases: Leases,
    machines: Machines,
    managed: Managed,
    network: Network,
    operators: Operators,
    passkeys: Passkeys,
    policies: Policies,
    reads: Reads,
    rotation: Rotation,
    secrets: Secrets,
    sessions: Sessions,
    shares: Shares,
    sso: Sso,
    trash: Trash,
    users: Users,
    vault: VaultSettings,
    webhooks: Webhooks,
}

/// Policy rotations waiting for the task below; past this, a request is dropped and the next
/// read past N asks again.
const POLICY_ROTATION_QUEUE: usize = 64;

/// Runs the rotations access policies make due (`crate::policy::rotation_due`), one at a time.
/// The task holds the context only weakly between requests, so it ends when the `Signet` that
/// owns the queue's sender is dropped.
fn spawn_policy_rotations(
    cx: std::sync::Weak<Context>,
    mut due: tokio::sync::mpsc::Receiver<(SecretId, u32)>,
) {
    tokio::spawn(async move {
        while let Some((secret, version)) = due.recv().await {
            let Some(cx) = cx.upgrade() else { break };
            let reads = Reads::new(cx.clone());
            let rotation = Rotation {
                cx: cx.clone(),
                reads: reads.clone(),
                secrets: Secrets { cx, reads },
            };
            rotation.rotate_after_reads(&secret, version).await;
        }
    });
}

impl Signet {
    /// Opens the vault in `store` (creating it on a fresh store) and checks that `root` is the
    /// key its data was written under.
    pub async fn open(
        store: Arc<dyn Store>,
        root: RootKey,
        clock: Arc<dyn Clock>,
        config: SignetConfig,
    ) -> Result<Self, OpenError> {
        let vault = vault::open_or_create(store.as_ref(), &root, clock.now_ms()).await?;
        let policy = PolicyCache::load(store.as_ref())
            .await
            .map_err(OpenError::Store)?;
        let (rotations_due, due) = tokio::sync::mpsc::channel(POLICY_ROTATION_QUEUE);
        let cx = Arc::new(Context {
            rotations_due,
            chain: Arc::new(ChainKey::new(root.audit_key())),
            store,
            root: Keyring::new(root, &vault.id),
            vault: vault.id,
            clock: clock.clone(),
            failures: Failures::new(config.auth_failures, clock.clone()),
            config,
            stamped: StampedCache::default(),
            metrics: Metrics::default(),
            devices: crate::audit_device::AuditDevices::default(),
        });
        let network = Network {
            cx: cx.clone(),
            policy,
        };
        let budgets = Budgets {
            cx: cx.clone(),
            state: Arc::new(BudgetState::new(clock)),
        };
        let accounts = Accounts {
            cx: cx.clone(),
            hashes: Arc::new(HashGate::new()),
            login_limiter: Arc::new(RequestLimiter::new(LOGIN_ATTEMPTS_PER_SOURCE_PER_MINUTE)),
        };
        let passkeys = Passkeys {
            cx: cx.clone(),
            accounts: accounts.clone(),
            rp: Arc::new(RelyingParty::from_api_url(&cx.config.api_url)),
        };
        let reads = Reads::new(cx.clone());
        let secrets = Secrets {
            cx: cx.clone(),
            reads: reads.clone(),
        };
        spawn_policy_rotations(Arc::downgrade(&cx), due);
        let dispatch_wake = Arc::new(tokio::sync::Notify::new());
        // The alert tailer reads the audit log as soon as any process appends to it (the same
        // change feed the event hub follows), not only on its interval.
        let tail_wake = Arc::new(tokio::sync::Notify::new());
        let woken = tail_wake.clone();
        let _ = cx.store.watch(Arc::new(move |change: Change| {
            if matches!(change, Change::Audit | Change::Resumed) {
                woken.notify_one();
            }
        }));
        let audit = AuditLog { cx: cx.clone() };
        let auth = Auth {
            cx: cx.clone(),
            keys: Arc::new(KeyCache::default()),
            network: network.clone(),
            budgets: budgets.clone(),
        };
        let machines = Machines { cx: cx.clone() };
        let rotation = Rotation {
            cx: cx.clone(),
            reads: reads.clone(),
            secrets: secrets.clone(),
        };
        let issuers = Issuers::new(cx.clone(), network.clone());
        let sessions = Sessions {
            cx: cx.clone(),
            accounts: accounts.clone(),
            passkeys: passkeys.clone(),
            setup: Arc::default(),
        };
        // Providers' documents are fetched by the workload issuers' fetcher, set once.
        let sso = Sso::new(cx.clone(), sessions.clone(), issuers.fetcher.clone());
        let ai_agents = AiAgents {
            cx: cx.clone(),
            auth: auth.clone(),
            secrets: secrets.clone(),
            machines: machines.clone(),
            rotation: rotation.clone(),
            audit: audit.clone(),
        };
        Ok(Self {
            ai_agents,
            alerts: Alerts {
                cx: cx.clone(),
                wake: tail_wake,
                dispatch_wake: dispatch_wake.clone(),
            },
            webhooks: Webhooks {
                cx: cx.clone(),
                dispatch: Arc::default(),
                wake: dispatch_wake,
            },
            readiness: Readiness::default(),
            audit,
            auth,
            enrollment: Enrollment {
                cx: cx.clone(),
                network: network.clone(),
                limiter: Arc::new(RequestLimiter::new(cx.config.tokenless_requests_per_minute)),
                issuers,
            },
            events: Events {
                hub: Hub::new(&cx),
                cx: cx.clone(),
                network: network.clone(),
            },
            invites: Invites {
                cx: cx.clone(),
                accounts: accounts.clone(),
            },
            keys: Keys { cx: cx.clone() },
            leases: Leases {
                cx: cx.clone(),
                connections: Connections { cx: cx.clone() },
            },
            machines,
            managed: Managed {
                cx: cx.clone(),
                reads: reads.clone(),
                secrets: secrets.clone(),
            },
            operators: Operators { cx: cx.clone() },
            policies: Policies { cx: cx.clone() },
            rotation,
            secrets,
            sessions,
            sso,
            shares: Shares {
                cx: cx.clone(),
                accounts: accounts.clone(),
            },
            trash: Trash { cx: cx.clone() },
            users: Users {
                cx: cx.clone(),
                accounts: accounts.clone(),
            },
            vault: VaultSettings {
                cx: cx.clone(),
                network: network.clone(),
            },
            accounts,
            budgets,
            network,
            passkeys,
            reads,
            cx,
        })
    }

    /// The vault this installation serves.
    pub fn vault_id(&self) -> &VaultId {
        &self.cx.vault
    }

    /// The public base URL.
    pub fn api_url(&self) -> &str {
        &self.cx.config.api_url
    }

    /// Current time, Unix ms.
    pub fn now_ms(&self) -> i64 {
        self.cx.now_ms()
    }

    /// Whether the store answers reads and takes the audit log's writes (for `/readyz`);
    /// bounded and cached, see [`crate::readiness`].
    pub async fn ready(&self) -> bool {
        self.readiness.check(self.cx.store.as_ref()).await
    }

    /// Forgets expired nonces and WebAuthn ceremonies; run periodically. Returns how many rows
    /// went.
    pub async fn sweep(&self) -> crate::CoreResult<u64> {
        let nonces = self.cx.store.sweep_nonces(self.now_ms()).await?;
        Ok(nonces + self.passkeys.sweep_ceremonies().await? + self.sso.sweep().await?)
    }

    /// Owner and user accounts, sign-in, CLI login keys, logout.
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// Alert rules and the audit tailer that enqueues their deliveries.
    pub fn alerts(&self) -> &Alerts {
        &self.alerts
    }

    /// The audit log: listing, verification, aggregated failure records.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// Authentication of signed requests.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// Request budgets per machine.
    pub fn budgets(&self) -> &Budgets {
        &self.budgets
    }

    /// Tokens and enrollment.
    pub fn enrollment(&self) -> &Enrollment {
        &self.enrollment
    }

    /// Change notifications for machines (`GET /v1/events`).
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// Invitations.
    pub fn invites(&self) -> &Invites {
        &self.invites
    }

    /// Leased secrets, leases, and the reaper's tick.
    pub fn leases(&self) -> &Leases {
        &self.leases
    }

    /// Machine lifecycle for operators.
    pub fn machines(&self) -> &Machines {
        &self.machines
    }

    /// Managed database passwords: the operator's binding and the sync agent's routes.
    pub fn managed(&self) -> &Managed {
        &self.managed
    }

    /// The vault IP allowlist.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// Headless operator keys.
    pub fn operators(&self) -> &Operators {
        &self.operators
    }

    /// Passkeys (WebAuthn).
    pub fn passkeys(&self) -> &Passkeys {
        &self.passkeys
    }

    /// Machine reads.
    pub fn reads(&self) -> &Reads {
        &self.reads
    }

    /// Rotation settings, manual rotation and the scheduler's tick.
    pub fn rotation(&self) -> &Rotation {
        &self.rotation
    }

    /// Projects, secrets and versions.
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// Access policies: CRUD and binding to secrets.
    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    /// Browser sessions, setup and the account page.
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// One-time share links.
    pub fn shares(&self) -> &Shares {
        &self.shares
    }

    /// The trash: deleted secrets and projects, restore, purge, retention.
    pub fn trash(&self) -> &Trash {
        &self.trash
    }

    /// Managing other users.
    pub fn users(&self) -> &Users {
        &self.users
    }

    /// The vault's settings.
    pub fn vault(&self) -> &VaultSettings {
        &self.vault
    }

    /// Webhooks, test deliveries, the delivery log and the dispatcher.
    pub fn webhooks(&self) -> &Webhooks {
        &self.webhooks
    }
}

impl AiAgents {
    /// The AI agents' service of `signet`: their routes and the operators' management of them
    /// (`AiAgents::of(&signet)`; an associated function rather than one more accessor on
    /// `Signet`, which keeps under the workspace's 30-method limit).
    pub fn of(signet: &Signet) -> &AiAgents {
        &signet.ai_agents
    }
}

impl Metrics {
    /// The counters of `signet`, and the store's beneath it, for a scrape (`Metrics::of(&signet)`;
    /// an associated function rather than one more accessor on `Signet`, which keeps under the
    /// workspace's 30-method limit).
    pub fn of(signet: &Signet) -> (&Metrics, &dyn signet_store::Instrumented) {
        (&signet.cx.metrics, signet.cx.store.as_ref())
    }

    /// Counts the browser sessions, CLI keys and leases live now in the whole store (every
    /// replica's), by core's rules (a session idle for [`crate::session::SESSION_IDLE_MS`] is
    /// over), and keeps the count for the scrape ([`Metrics::live`]). One query; the server runs
    /// it every [`crate::metrics::LIVE_COUNT_EVERY`], never in a scrape.
    pub async fn count_live(signet: &Signet) -> crate::CoreResult<signet_store::LiveCounts> {
        let now = signet.now_ms();
        let store: &dyn signet_store::Instrumented = signet.cx.store.as_ref();
        let counts = store
            .live_counts(now, now - crate::session::SESSION_IDLE_MS)
            .await?;
        signet.cx.metrics.set_live(counts, now);
        Ok(counts)
    }
}

impl Sso {
    /// Single sign-on for people: providers, mappings and sign-in through them.
    pub fn of(signet: &Signet) -> &Sso {
        &signet.sso
    }
}

impl Keys {
    /// Root key rotation and retirement (`crate::keyring`; `Keys::of(&signet)`, an associated
    /// function rather than one more accessor on `Signet`, which keeps under the workspace's
    /// 30-method limit).
    pub fn of(signet: &Signet) -> &Keys {
        &signet.keys
    }
}
