//! A `Signet` over a real SQLite file in a temporary folder, on a [`ManualClock`], and the
//! people and machines tests populate it with. Each test binary wraps [`World`] with what only
//! its tests need (an owner of one kind or another) and derefs to it.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;

use signet_core::account::{NewOwner, OwnerEnrollment, Password};
use signet_core::auth::AuthedOperator;
use signet_core::enrollment::{EnrollmentSpec, Registration};
use signet_core::secret::SecretInput;
use signet_core::{Clock, CoreError, Signet, SignetConfig};
use signet_crypto::RootKey;
use signet_proto::{OperatorId, ProjectId, SecretId, SecretSeed, UserId};
use signet_store::{OperatorRecord, Role, Store, UserRecord, UserStatus};
use signet_store_sqlite::SqliteStore;
use zeroize::Zeroizing;

use crate::clock::ManualClock;
use crate::signing::{LOCAL, signed};

/// The password of every account a world makes: strong enough for the zxcvbn rule.
pub const PASSWORD: &str = "correct horse battery staple";

/// The operator route [`World::authenticate_key`] signs: any signed operator request would do.
const OPERATOR_PATH: &str = "/v1/admin/projects";

/// One vault on a fresh SQLite file, driven by a manual clock.
pub struct World {
    /// The service under test.
    pub signet: Signet,
    /// The same store `signet` runs on, for arranging records and checking what was written.
    pub store: Arc<dyn Store>,
    /// The clock `signet` reads.
    pub clock: Arc<ManualClock>,
    // Last, so the database file outlives the store's connections.
    dir: tempfile::TempDir,
}

/// Declares a test binary's own world: a struct holding the shared [`World`] as `kit` plus the
/// fields only its tests need, and derefing to the [`World`] so `w.signet`, `w.store`,
/// `w.clock` and `w.advance(..)` read as before.
///
/// ```ignore
/// signet_testkit::world_with! {
///     /// The shared world with the headless owner key acting.
///     struct World { op: AuthedOperator }
/// }
/// let kit = signet_testkit::World::sqlite().await;
/// let w = World { op: kit.owner_operator().await, kit };
/// ```
#[macro_export]
macro_rules! world_with {
    ($(#[$meta:meta])* $vis:vis struct $name:ident {
        $($(#[$fmeta:meta])* $field:ident : $ty:ty),* $(,)?
    }) => {
        $(#[$meta])*
        $vis struct $name {
            kit: $crate::World,
            $($(#[$fmeta])* $field: $ty,)*
        }

        impl ::std::ops::Deref for $name {
            type Target = $crate::World;
            fn deref(&self) -> &$crate::World {
                &self.kit
            }
        }
    };
}

/// How to open a [`World`]; `.await` it.
#[must_use = "a builder does nothing until awaited"]
pub struct WorldBuilder {
    config: SignetConfig,
}

impl World {
    /// A world on SQLite with the default config: `World::sqlite().await`.
    pub fn sqlite() -> WorldBuilder {
        WorldBuilder {
            config: SignetConfig::default(),
        }
    }

    /// The temporary folder holding the database file.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Moves the clock by `ms` (backwards when negative).
    pub fn advance(&self, ms: i64) {
        self.clock.advance(ms);
    }

    /// The clock's time.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The headless owner key `signet operator init` makes, as authentication hands it to core.
    pub async fn owner_operator(&self) -> AuthedOperator {
        let (rec, _seed) = self
            .signet
            .operators()
            .create_operator("owner", true)
            .await
            .expect("owner operator");
        AuthedOperator::key(rec, Role::Owner, LOCAL)
    }

    /// The first owner account, with [`PASSWORD`], as first-run setup makes it.
    pub async fn owner_user(&self, username: &str, email: &str) -> OwnerEnrollment {
        self.signet
            .accounts()
            .create_owner(NewOwner {
                username,
                email,
                password: Password::new(PASSWORD),
            })
            .await
            .expect("owner account")
    }

    /// A user with `role` (scoped to `projects` when given), written straight to the store.
    pub async fn user(
        &self,
        name: &str,
        role: Role,
        projects: Option<Vec<ProjectId>>,
    ) -> UserRecord {
        let user = UserRecord {
            id: UserId::generate(),
            username: name.to_owned(),
            email: format!("{name}@example.test"),
            display_name: name.to_owned(),
            password_hash: "unused".to_owned(),
            totp_sealed: None,
            totp_last_step: 0,
            totp_confirmed: false,
            role,
            projects,
            status: UserStatus::Active,
            failed_attempts: 0,
            locked_until_ms: None,
            created_ms: self.clock.now_ms(),
        };
        self.store.insert_user(&user).await.expect("user");
        user
    }

    /// A user and a CLI key of theirs valid for an hour, as `signet login` would leave them.
    pub async fn user_key(
        &self,
        name: &str,
        role: Role,
        projects: Option<Vec<ProjectId>>,
    ) -> UserKey {
        let user = self.user(name, role, projects).await;
        let now = self.clock.now_ms();
        let seed = SecretSeed::generate();
        let key = OperatorRecord {
            id: OperatorId::generate(),
            name: name.to_owned(),
            public_key: seed.public_key(),
            owner: false,
            disabled: false,
            created_ms: now,
            user_id: Some(user.id),
            expires_ms: Some(now + 3_600_000),
        };
        self.store
            .insert_operator(&key)
            .await
            .expect("operator key");
        UserKey {
            user: user.id,
            seed,
            key: key.id,
        }
    }

    /// One freshly signed operator request from key `id` (private half `seed`), through core's
    /// authenticator.
    pub async fn authenticate_key(
        &self,
        seed: &SecretSeed,
        id: &OperatorId,
    ) -> Result<AuthedOperator, CoreError> {
        let id = id.to_string();
        let mut parts = Vec::new();
        self.signet
            .auth()
            .authenticate_operator(&signed(
                seed,
                &id,
                OPERATOR_PATH,
                self.clock.now_ms(),
                &mut parts,
            ))
            .await
    }
}

impl WorldBuilder {
    /// Tells machines (and passkeys) that the vault's public URL is `url`.
    pub fn api_url(mut self, url: &str) -> Self {
        self.config.api_url = url.to_owned();
        self
    }

    /// Opens the world: a fresh root key, a fresh SQLite file, the clock at
    /// [`START_MS`](crate::clock::START_MS), no accounts yet.
    pub async fn open(self) -> World {
        let dir = tempfile::tempdir().expect("temporary folder");
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("signet.db")).expect("SQLite store"));
        let clock = Arc::new(ManualClock::default());
        let signet = Signet::open(
            store.clone(),
            RootKey::generate().expect("root key"),
            clock.clone(),
            self.config,
        )
        .await
        .expect("open signet");
        World {
            signet,
            store,
            clock,
            dir,
        }
    }
}

impl IntoFuture for WorldBuilder {
    type Output = World;
    type IntoFuture = Pin<Box<dyn Future<Output = World> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.open())
    }
}

/// A user and one CLI key of theirs.
pub struct UserKey {
    /// The user.
    pub user: UserId,
    /// The key's private half.
    pub seed: SecretSeed,
    /// The key's operator id.
    pub key: OperatorId,
}

/// An approved machine granted one secret, as an enrollment token leaves it.
pub struct GrantedMachine {
    /// The machine's private key.
    pub seed: SecretSeed,
    /// Its id, as it signs with.
    pub id: String,
    /// The project it is attached to.
    pub project: ProjectId,
    /// The secret it may read (its value is `v`).
    pub secret: SecretId,
    /// `/v1/secret/<secret>`, the path a signed read names.
    pub path: String,
}

/// Makes project `name` with secret `S` = `v`, and enrolls machine `name` with an enrollment
/// token for both (the machine lives `machine_ttl_secs`, core's default when `None`).
pub async fn granted_machine(
    signet: &Signet,
    op: &AuthedOperator,
    name: &str,
    machine_ttl_secs: Option<i64>,
) -> GrantedMachine {
    let project = signet
        .secrets()
        .create_project(op, name)
        .await
        .expect("project");
    let secret = signet
        .secrets()
        .create_secret(
            op,
            project.id.as_str(),
            "S",
            SecretInput::Value(Zeroizing::new("v".into())),
        )
        .await
        .expect("secret");
    let spec = EnrollmentSpec {
        project_ids: vec![project.id.to_string()],
        secret_ids: vec![secret.id.to_string()],
        machine_ttl_secs,
        ..Default::default()
    };
    let token = signet
        .enrollment()
        .issue_enrollment_token(op, &spec)
        .await
        .expect("enrollment token")
        .token
        .expect("a new token's text");
    let seed = SecretSeed::generate();
    let pk = seed.public_key().to_base64();
    let reg = Registration {
        public_key: &pk,
        hostname: name,
        name: None,
        source_ip: LOCAL,
        proof: None,
        proof_timestamp: None,
    };
    let enrolled = signet
        .enrollment()
        .enroll_with_enrollment_token(signet.vault_id().as_str(), &token, &reg)
        .await
        .expect("enroll");
    GrantedMachine {
        seed,
        id: enrolled.machine_id.to_string(),
        path: format!("/v1/secret/{}", secret.id),
        project: project.id,
        secret: secret.id,
    }
}
