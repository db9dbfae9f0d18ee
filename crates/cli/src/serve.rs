//! PLACEHOLDER so the CLI compiles; the lead owns this file and will overwrite it with the
//! real `signet server` and `signet operator init`.

/// Arguments of `signet server` (placeholder).
#[derive(Debug, clap::Args)]
pub struct ServerArgs {}

/// Runs the server (placeholder).
pub async fn server(_args: ServerArgs) -> anyhow::Result<()> {
    anyhow::bail!("`signet server` is not built yet")
}

/// Arguments of `signet operator init` (placeholder).
#[derive(Debug, clap::Args)]
pub struct OperatorInitArgs {}

/// Creates the first operator identity (placeholder).
pub fn operator_init(_args: OperatorInitArgs) -> anyhow::Result<()> {
    anyhow::bail!("`signet operator init` is not built yet")
}
