//! Machines as operators drive them.

use signet_api::admin::machine::{
    MachineAction, MachineActionRequest, MachineAnswer, MachinesAnswer,
};
use signet_api::route::admin as route;
use signet_proto::MachineId;

use crate::error::ClientError;
use crate::operator::OperatorClient;

/// Machines as operators drive them: `client.machines()`.
#[derive(Clone, Copy)]
pub struct Machines<'a> {
    /// The signed client every call goes through.
    pub(super) client: &'a OperatorClient,
}

impl OperatorClient {
    /// Calls on machines: listing, showing, and the approval and access actions.
    pub fn machines(&self) -> Machines<'_> {
        Machines { client: self }
    }
}

impl Machines<'_> {
    /// `GET /v1/admin/machines`.
    pub async fn list(&self) -> Result<MachinesAnswer, ClientError> {
        self.client.call("GET", route::MACHINES, &[]).await
    }

    /// `GET /v1/admin/machines/{id}`.
    pub async fn show(&self, id: &MachineId) -> Result<MachineAnswer, ClientError> {
        let path = super::path(route::MACHINE, &[("id", &id.to_string())]);
        self.client.call("GET", &path, &[]).await
    }

    /// `POST /v1/admin/machines/{id}/{action}` with the fields the action uses (an empty
    /// request sends no body); answers the machine as it is after.
    pub async fn act(
        &self,
        id: &MachineId,
        action: MachineAction,
        request: &MachineActionRequest,
    ) -> Result<MachineAnswer, ClientError> {
        let body = if *request == MachineActionRequest::default() {
            Vec::new()
        } else {
            super::body(request)?
        };
        let path = super::path(
            route::MACHINE_ACTION,
            &[("id", &id.to_string()), ("action", action.as_str())],
        );
        self.client.call("POST", &path, &body).await
    }
}
