//! The composition root's [`Provisioner`]: core's database operations for leased secrets,
//! carried out with `signet-database` over sqlx. Core names only the trait; this is the one place
//! that joins it to a driver.

use async_trait::async_trait;
use signet_core::provision::{DbTarget, ProvisionError, Provisioner};
use signet_database::{DatabaseError, RoleName, Target, Tls};
use signet_store::TlsMode;

/// Provisions roles in real PostgreSQL servers.
#[derive(Debug, Default, Clone, Copy)]
pub struct PgProvisioner;

fn target(t: &DbTarget) -> Target {
    Target {
        host: t.host.clone(),
        port: t.port,
        database: t.database.clone(),
        user: t.user.clone(),
        password: t.password.clone(),
        tls: match t.tls {
            TlsMode::Disable => Tls::Disable,
            TlsMode::Prefer => Tls::Prefer,
            TlsMode::Require => Tls::Require,
            TlsMode::VerifyFull => Tls::VerifyFull,
        },
    }
}

fn class(e: DatabaseError) -> ProvisionError {
    ProvisionError { class: e.class() }
}

/// Core generates role names in the shape `signet-database` accepts; anything else is refused
/// before it could reach SQL.
fn role(name: &str) -> Result<RoleName, ProvisionError> {
    RoleName::parse(name).ok_or(ProvisionError { class: "role_name" })
}

#[async_trait]
impl Provisioner for PgProvisioner {
    async fn ping(&self, admin: &DbTarget) -> Result<(), ProvisionError> {
        signet_database::ping(&target(admin)).await.map_err(class)
    }

    async fn create_role(
        &self,
        admin: &DbTarget,
        name: &str,
        password: &str,
        valid_until_ms: i64,
        grants: &[String],
    ) -> Result<(), ProvisionError> {
        signet_database::create_role(
            &target(admin),
            &role(name)?,
            password,
            valid_until_ms,
            grants,
        )
        .await
        .map_err(class)
    }

    async fn set_valid_until(
        &self,
        admin: &DbTarget,
        name: &str,
        valid_until_ms: i64,
    ) -> Result<(), ProvisionError> {
        signet_database::set_valid_until(&target(admin), &role(name)?, valid_until_ms)
            .await
            .map_err(class)
    }

    async fn drop_role(&self, admin: &DbTarget, name: &str) -> Result<(), ProvisionError> {
        signet_database::drop_role(&target(admin), &role(name)?)
            .await
            .map_err(class)
    }

    async fn set_password(
        &self,
        admin: &DbTarget,
        name: &str,
        password: &str,
    ) -> Result<(), ProvisionError> {
        signet_database::set_password(&target(admin), &role(name)?, password)
            .await
            .map_err(class)
    }
}
