//! Additional authenticated data: which row a ciphertext belongs to.

/// Binds a sealed value and its data key to one version of one secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretAad<'a> {
    /// The vault id.
    pub vault: &'a str,
    /// The project id.
    pub project: &'a str,
    /// The secret id.
    pub secret: &'a str,
    /// The version whose ciphertext this is.
    pub version: u32,
}

/// Binds a one-time share's sealed value and its data key to one share of one vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareAad<'a> {
    /// The vault id.
    pub vault: &'a str,
    /// The share id.
    pub share: &'a str,
}

impl ShareAad<'_> {
    pub(crate) fn bytes(&self, label: &str) -> Vec<u8> {
        encode(label, &[self.vault, self.share], None)
    }
}

/// What kind of project-sealed record (not a secret version) a [`RecordAad`] names. Each kind
/// is its own label, so a ciphertext of one kind never opens as another even if ids collided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// A database connection's admin password.
    ConnectionPassword,
    /// A lease's role password.
    LeasePassword,
}

impl RecordKind {
    pub(crate) const fn label(self) -> &'static str {
        match self {
            Self::ConnectionPassword => "connection-password",
            Self::LeasePassword => "lease-password",
        }
    }
}

/// Binds a value sealed under a project key that is not a secret version (a database
/// connection's admin password, a lease's password) to its kind and its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordAad<'a> {
    /// The vault id.
    pub vault: &'a str,
    /// The project id.
    pub project: &'a str,
    /// Which kind of record.
    pub kind: RecordKind,
    /// The record's id.
    pub id: &'a str,
}

impl RecordAad<'_> {
    pub(crate) fn bytes(&self, label: &str) -> Vec<u8> {
        encode(
            label,
            &[self.kind.label(), self.vault, self.project, self.id],
            None,
        )
    }
}

/// Length-prefixed encoding, so that no two different tuples encode to the same bytes.
pub(crate) fn encode(label: &str, parts: &[&str], version: Option<u32>) -> Vec<u8> {
    let mut out = Vec::with_capacity(96);
    for p in std::iter::once(&label).chain(parts.iter()) {
        out.extend_from_slice(&(p.len() as u32).to_be_bytes());
        out.extend_from_slice(p.as_bytes());
    }
    if let Some(v) = version {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out
}

impl SecretAad<'_> {
    pub(crate) fn bytes(&self, label: &str) -> Vec<u8> {
        encode(
            label,
            &[self.vault, self.project, self.secret],
            Some(self.version),
        )
    }
}
