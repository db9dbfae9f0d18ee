//! Machines as operators drive them.

use signet_api::admin::machine::{
    MachineAction, MachineActionRequest, MachineAnswer, MachinesAnswer,
};
use signet_api::route::admin as route;
use signet_proto::MachineId;

use crate::error::ClientError;
use crate::operator::OperatorClient;

impl OperatorClient {
    /// `GET /v1/admin/machines`.
    pub async fn machines(&self) -> Result<MachinesAnswer, ClientError> {
        self.call("GET", route::MACHINES, &[]).await
    }

    /// `GET /v1/admin/machines/{id}`.
    pub async fn machine(&self, id: &MachineId) -> Result<MachineAnswer, ClientError> {
        let path = super::path(route::MACHINE, &[("id", &id.to_string())]);
        self.call("GET", &path, &[]).await
    }

    /// `POST /v1/admin/machines/{id}/{action}` with the fields the action uses (an empty
    /// request sends no body); answers the machine as it is after.
    pub async fn machine_action(
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
        self.call("POST", &path, &body).await
    }
}
