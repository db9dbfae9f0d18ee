//! Access policies, and binding one to a secret.

use signet_api::admin::DeletedAnswer;
use signet_api::admin::policy::{
    BindPolicyRequest, CreatePolicyRequest, PoliciesAnswer, PolicyAnswer, PolicyRules,
    SecretPolicyAnswer, UpdatePolicyRequest,
};
use signet_api::route::admin as route;
use signet_proto::{PolicyId, ProjectId, SecretId};

use crate::error::ClientError;
use crate::operator::OperatorClient;

/// Access policies: `client.policies()`.
#[derive(Clone, Copy)]
pub struct Policies<'a> {
    /// The signed client every call goes through.
    pub(super) client: &'a OperatorClient,
}

impl OperatorClient {
    /// Calls on access policies.
    pub fn policies(&self) -> Policies<'_> {
        Policies { client: self }
    }
}

impl Policies<'_> {
    /// `GET /v1/admin/projects/{id}/policies`: a project's policies, by name.
    pub async fn list(&self, project: &ProjectId) -> Result<PoliciesAnswer, ClientError> {
        let path = super::path(route::PROJECT_POLICIES, &[("id", project.as_str())]);
        self.client.call("GET", &path, &[]).await
    }

    /// `POST /v1/admin/projects/{id}/policies`: creates a policy.
    pub async fn create(
        &self,
        project: &ProjectId,
        name: &str,
        rules: &PolicyRules,
    ) -> Result<PolicyAnswer, ClientError> {
        let body = super::body(&CreatePolicyRequest {
            name: name.to_owned(),
            rules: rules.clone(),
        })?;
        let path = super::path(route::PROJECT_POLICIES, &[("id", project.as_str())]);
        self.client.call("POST", &path, &body).await
    }

    /// `GET /v1/admin/projects/{id}/policies/{policy}`: one policy.
    pub async fn show(
        &self,
        project: &ProjectId,
        id: &PolicyId,
    ) -> Result<PolicyAnswer, ClientError> {
        let path = super::path(
            route::PROJECT_POLICY,
            &[("id", project.as_str()), ("policy", id.as_str())],
        );
        self.client.call("GET", &path, &[]).await
    }

    /// `POST /v1/admin/projects/{id}/policies/{policy}/update`: renames (`name` `None`: kept)
    /// and replaces the rules as a whole.
    pub async fn update(
        &self,
        project: &ProjectId,
        id: &PolicyId,
        name: Option<&str>,
        rules: &PolicyRules,
    ) -> Result<PolicyAnswer, ClientError> {
        let body = super::body(&UpdatePolicyRequest {
            name: name.map(str::to_owned),
            rules: rules.clone(),
        })?;
        let path = super::path(
            route::PROJECT_POLICY_UPDATE,
            &[("id", project.as_str()), ("policy", id.as_str())],
        );
        self.client.call("POST", &path, &body).await
    }

    /// `POST /v1/admin/projects/{id}/policies/{policy}/delete`: 409 `conflict`
    /// (`policy_in_use`) while a secret is bound to it.
    pub async fn delete(
        &self,
        project: &ProjectId,
        id: &PolicyId,
    ) -> Result<DeletedAnswer, ClientError> {
        let path = super::path(
            route::PROJECT_POLICY_DELETE,
            &[("id", project.as_str()), ("policy", id.as_str())],
        );
        self.client.call("POST", &path, &[]).await
    }

    /// `GET /v1/admin/secrets/{id}/policy`: the policy bound to a secret.
    pub async fn bound(&self, secret: &SecretId) -> Result<SecretPolicyAnswer, ClientError> {
        let path = super::path(route::SECRET_POLICY, &[("id", secret.as_str())]);
        self.client.call("GET", &path, &[]).await
    }

    /// `POST /v1/admin/secrets/{id}/policy`: binds `policy` (of the secret's project) to the
    /// secret, replacing any, or unbinds with `None`.
    pub async fn bind(
        &self,
        secret: &SecretId,
        policy: Option<&PolicyId>,
    ) -> Result<SecretPolicyAnswer, ClientError> {
        let body = super::body(&BindPolicyRequest {
            policy_id: policy.map(|p| p.to_string()),
        })?;
        let path = super::path(route::SECRET_POLICY, &[("id", secret.as_str())]);
        self.client.call("POST", &path, &body).await
    }
}
