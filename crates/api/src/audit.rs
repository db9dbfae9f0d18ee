//! The audit log's vocabulary, declared once: every action a record can name, and every reason
//! a refusal is recorded with.
//!
//! Records store these as text (`action`, and the reason in `detail`), and the audit routes
//! answer them as text, so a record written by an older or newer server still reads. New code
//! names them only through these enums, which makes a typo a compile error and gives operators
//! one list to filter and alert on (`docs/api.md` carries a copy that a test keeps equal).

use std::borrow::Cow;
use std::fmt;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::{PartialSchema, ToSchema};

/// Declares a text-valued vocabulary enum from rows of `Variant = "text";`, with `ALL`,
/// `as_str`, `parse`, `Display` and an OpenAPI string-enum schema, all from the same rows.
macro_rules! vocabulary {
    (
        $(#[$enum_doc:meta])*
        $name:ident, $schema_doc:literal {
            $( $(#[$doc:meta])* $variant:ident = $text:literal; )*
        }
    ) => {
        $(#[$enum_doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$doc])* $variant, )*
        }

        impl $name {
            /// Every value, in table order.
            pub const ALL: &'static [$name] = &[$(Self::$variant,)*];

            /// The stored text; never changes once published.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }

            /// The value a stored text names; `None` for text this table does not know.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(SchemaType::new(Type::String))
                    .description(Some($schema_doc))
                    .enum_values(Some(Self::ALL.iter().map(|v| v.as_str())))
                    .into()
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

vocabulary! {
    /// What an audit record is about (its `action`).
    AuditAction, "What an audit record is about. Records answer it as text, so a client must \
                  accept values this list does not yet name." {
        // Machines.
        /// A machine read a secret's value (or was refused one).
        SecretRead = "secret_read";
        /// A machine asked which secrets changed since it last read them.
        SecretPoll = "secret_poll";
        /// A machine read every secret it is granted, at once.
        SecretExport = "secret_export";
        /// A machine listed the secrets it may read.
        SecretList = "secret_list";
        /// A machine asked who it is.
        MachineWhoami = "machine_whoami";
        /// A signed machine request refused after it authenticated, or from a refused source.
        MachineRequestDenied = "machine_request_denied";
        /// A machine went over its request budget.
        MachineOverBudget = "machine_over_budget";
        /// A signed request (machine or operator) that did not authenticate.
        AuthFailure = "auth_failure";
        /// The aggregate of one source's further authentication failures in an interval.
        AuthFailures = "auth_failures";
        // Enrollment.
        /// A machine enrolled with the one-time bootstrap token.
        MachineEnrollBootstrap = "machine_enroll_bootstrap";
        /// A machine asked to enroll without a token, pending approval.
        MachineEnrollRequest = "machine_enroll_request";
        /// A machine enrolled with an enrollment token.
        MachineEnrollToken = "machine_enroll_token";
        /// The bootstrap token was (re)issued.
        BootstrapTokenCreate = "bootstrap_token_create";
        /// An enrollment token was created.
        EnrollmentTokenCreate = "enrollment_token_create";
        /// Enrollment tokens were listed.
        EnrollmentTokenList = "enrollment_token_list";
        /// An enrollment token was revoked.
        EnrollmentTokenRevoke = "enrollment_token_revoke";
        /// A workload enrolled with a platform token from a trusted OIDC issuer.
        MachineEnrollOidc = "machine_enroll_oidc";
        /// An OIDC issuer was trusted.
        IssuerCreate = "issuer_create";
        /// Trusted issuers were listed or one was shown.
        IssuerList = "issuer_list";
        /// A trusted issuer's settings were changed.
        IssuerUpdate = "issuer_update";
        /// A trusted issuer and its rules were removed.
        IssuerDelete = "issuer_delete";
        /// A rule was added under a trusted issuer.
        IssuerRuleCreate = "issuer_rule_create";
        /// A rule under a trusted issuer was removed.
        IssuerRuleDelete = "issuer_rule_delete";
        // Machines, as operators manage them.
        /// A machine was shown to an operator.
        MachineShow = "machine_show";
        /// A pending machine was approved.
        MachineApprove = "machine_approve";
        /// A pending machine was denied.
        MachineDeny = "machine_deny";
        /// A machine was revoked.
        MachineRevoke = "machine_revoke";
        /// A machine was disabled.
        MachineDisable = "machine_disable";
        /// A machine was enabled again.
        MachineEnable = "machine_enable";
        /// A machine was attached to a project.
        MachineAttach = "machine_attach";
        /// A machine was detached from a project.
        MachineDetach = "machine_detach";
        /// A machine's source networks were set.
        MachineCidrsSet = "machine_cidrs_set";
        /// A machine was granted a secret.
        GrantAdd = "grant_add";
        /// A machine's grant on a secret was removed.
        GrantRemove = "grant_remove";
        // Single sign-on for people (issue 14 §3).
        /// A person signed in to the dashboard through an SSO provider (`ok` or `denied` with
        /// the reason). `target` is the user, when known; `detail` names the provider.
        SsoLogin = "sso_login";
        /// `signet login --sso` registered an operator key through an SSO provider.
        SsoCliLogin = "sso_cli_login";
        /// A signed-in user linked a provider identity to their account.
        SsoLink = "sso_link";
        /// A user's provider identity was unlinked (by them, or with its provider's removal).
        SsoUnlink = "sso_unlink";
        /// A person confirmed a second factor through the provider (`amr`) for a step-up.
        SsoStepUp = "sso_step_up";
        /// An SSO sign-in created the user just in time.
        SsoUserCreate = "sso_user_create";
        /// An SSO sign-in changed the user's role or scope to what the mappings now give.
        SsoUserSync = "sso_user_sync";
        /// An owner trusted an SSO provider.
        SsoProviderCreate = "sso_provider_create";
        /// An owner changed an SSO provider's settings.
        SsoProviderUpdate = "sso_provider_update";
        /// An owner removed an SSO provider.
        SsoProviderDelete = "sso_provider_delete";
        /// An owner added a claim-to-role mapping.
        SsoMappingCreate = "sso_mapping_create";
        /// An owner removed a claim-to-role mapping.
        SsoMappingDelete = "sso_mapping_delete";
        // Keys and backups (issue 15 §2), as operators run them.
        /// A new root key generation became current; every project key is re-wrapped under
        /// it. `detail` names the old and new generations (`from=0 to=1`).
        RootKeyRotate = "root_key_rotate";
        /// A root key generation nothing refers to any more was retired: its sealed copy is
        /// gone from the store. `detail` names the generation (`generation=0`).
        RootKeyRetire = "root_key_retire";
        /// A project's key was replaced by a new one and every value sealed under it re-wrapped.
        /// `target` is the project; `detail` names the generations and the values re-wrapped
        /// (`from=0 to=1 values=12`).
        ProjectKeyRotate = "project_key_rotate";
        /// An encrypted backup was taken; `detail` holds the backup's manifest id. Appended
        /// just before the snapshot, so the backup holds it.
        BackupCreate = "backup_create";
        /// The store was restored from a backup; `detail` holds the backup's manifest id.
        BackupRestore = "backup_restore";
        // AI agents (issue 14 §2), as operators manage them.
        /// A pending machine was approved as an AI agent, with its scopes.
        AiAgentApprove = "ai_agent_approve";
        /// An AI agent's scopes or project allowlist were changed.
        AiAgentScopes = "ai_agent_scopes";
        /// AI agents were listed.
        AiAgentList = "ai_agent_list";
        /// An AI agent asked who it is.
        AiAgentWhoami = "ai_agent_whoami";
        // Projects and secrets, as operators manage them.
        /// A project was created.
        ProjectCreate = "project_create";
        /// A project was renamed.
        ProjectRename = "project_rename";
        /// CRITICAL: a machine read a canary secret, and its project was frozen. `actor_id` is
        /// the machine, `source_ip` its address, `target` the canary, `detail` the project.
        CanaryTriggered = "canary_triggered";
        /// An administrator lifted a project's freeze, with a fresh second factor.
        ProjectUnfreeze = "project_unfreeze";
        /// Projects were listed.
        ProjectList = "project_list";
        /// A project, with every secret in it, was moved to the trash.
        ProjectDelete = "project_delete";
        /// A secret was created.
        SecretCreate = "secret_create";
        /// A secret got a new version.
        SecretUpdate = "secret_update";
        /// A secret was rolled back to an earlier version.
        SecretRollback = "secret_rollback";
        /// A secret's value was regenerated as a new version (`trigger=manual|schedule|policy`).
        SecretRotate = "secret_rotate";
        /// A secret's rotation settings were set.
        SecretRotationSet = "secret_rotation_set";
        /// A secret's rotation settings were removed.
        SecretRotationClear = "secret_rotation_clear";
        /// A secret's rotation schedule was paused.
        SecretRotationPause = "secret_rotation_pause";
        /// A secret's rotation schedule was resumed.
        SecretRotationResume = "secret_rotation_resume";
        /// A secret was deleted.
        SecretDelete = "secret_delete";
        // Access policies.
        /// An access policy was created.
        PolicyCreate = "policy_create";
        /// An access policy's rules were replaced.
        PolicyUpdate = "policy_update";
        /// An access policy was deleted.
        PolicyDelete = "policy_delete";
        /// Access policies were listed or one was shown.
        PolicyList = "policy_list";
        /// A policy was bound to a secret, or a secret's policy was unbound.
        SecretPolicyBind = "secret_policy_bind";
        /// A secret's metadata was shown to an operator.
        SecretShow = "secret_show";
        /// A secret's versions were listed.
        SecretVersions = "secret_versions";
        /// An operator listed or searched a project's secrets.
        SecretQuery = "secret_query";
        // The trash.
        /// The trash was listed.
        TrashList = "trash_list";
        /// A secret or project came back from the trash.
        TrashRestore = "trash_restore";
        /// A secret or project was destroyed for good (by an operator, or by the server when
        /// its retention ran out: actor `system`).
        TrashPurge = "trash_purge";
        /// The trash retention setting changed.
        TrashRetentionSet = "trash_retention_set";
        // The vault.
        /// The vault's settings changed.
        VaultSettingsUpdate = "vault_settings_update";
        /// The vault's IP allowlist was turned on.
        IpAllowlistEnable = "ip_allowlist_enable";
        /// The vault's IP allowlist was turned off.
        IpAllowlistDisable = "ip_allowlist_disable";
        /// A network was added to the vault's IP allowlist.
        IpAllowlistAdd = "ip_allowlist_add";
        /// A network was removed from the vault's IP allowlist.
        IpAllowlistRemove = "ip_allowlist_remove";
        /// Request budgets were shown.
        RequestBudgets = "request_budgets";
        /// A request budget changed.
        RequestBudgetUpdate = "request_budget_update";
        /// The audit log was listed.
        AuditList = "audit_list";
        /// The audit chain was verified.
        AuditVerify = "audit_verify";
        /// A segment of the log was archived to a file and pruned from the live store.
        AuditArchive = "audit_archive";
        /// The archive checkpoints were listed.
        AuditCheckpoints = "audit_checkpoints";
        // Operators and users.
        /// An operator key was created.
        OperatorCreate = "operator_create";
        /// An operator key was revoked.
        OperatorRevoke = "operator_revoke";
        /// An operator key logged itself out.
        OperatorLogout = "operator_logout";
        /// A user signed in from the CLI and registered an operator key.
        OperatorCliLogin = "operator_cli_login";
        /// First-run setup created the owner.
        SetupOwner = "setup_owner";
        /// A user signed in (or failed to).
        UserLogin = "user_login";
        /// A user confirmed with a second factor (step-up).
        UserStepUp = "user_step_up";
        /// A user changed their password.
        UserPasswordChange = "user_password_change";
        /// A user was created.
        UserCreate = "user_create";
        /// An owner was created from the command line.
        UserCreateOwner = "user_create_owner";
        /// Users were listed.
        UserList = "user_list";
        /// A user's role changed.
        UserRoleSet = "user_role_set";
        /// A user was suspended.
        UserSuspend = "user_suspend";
        /// A suspended user was activated.
        UserActivate = "user_activate";
        /// A user was removed.
        UserRemove = "user_remove";
        /// An invitation was created.
        UserInvite = "user_invite";
        /// Invitations were listed.
        UserInviteList = "user_invite_list";
        /// An invitation was revoked.
        UserInviteRevoke = "user_invite_revoke";
        /// An invitation was accepted.
        UserInviteAccept = "user_invite_accept";
        /// A browser session opened.
        SessionOpen = "session_open";
        /// A browser session signed out.
        SessionLogout = "session_logout";
        /// A browser session was revoked.
        SessionRevoke = "session_revoke";
        /// A browser session confirmed with a second factor.
        SessionStepUp = "session_step_up";
        /// A browser session's cookie did not authenticate.
        SessionFailure = "session_failure";
        /// A passkey was registered.
        PasskeyRegister = "passkey_register";
        /// A passkey was renamed.
        PasskeyRename = "passkey_rename";
        /// A passkey was deleted.
        PasskeyDelete = "passkey_delete";
        /// A pending TOTP seed was confirmed by a right code from the authenticator (at
        /// enrollment, sign-in or step-up), or an enrollment's confirmation was refused
        /// (`reason=…`).
        TotpConfirm = "totp_confirm";
        // One-time share links.
        /// A share link was created.
        ShareCreate = "share_create";
        /// Share links were listed.
        ShareList = "share_list";
        /// A share link was opened (ok), or an attempt consumed it (denied).
        ShareOpen = "share_open";
        /// A share link was revoked.
        ShareRevoke = "share_revoke";
        // Managed database passwords and their sync agent.
        /// A secret was made managed, or its binding (connection, agent, poll interval)
        /// changed.
        SecretManagedSet = "secret_managed_set";
        /// A managed secret's rotation was made pending for its agent
        /// (`trigger=manual|schedule|policy rotation=…`).
        SecretRotationPending = "secret_rotation_pending";
        /// The agent fetched a managed secret's sync configuration (the database's admin
        /// credentials, and any pending value).
        SecretSyncConfig = "secret_sync_config";
        /// The agent confirmed a pending rotation: it is the live version.
        SecretRotationConfirmed = "secret_rotation_confirmed";
        /// The agent rejected a pending rotation (`error=…`): the live version stays.
        SecretRotationRejected = "secret_rotation_rejected";
        /// A managed secret's agent reported a health change (`status=healthy|error`).
        SecretAgentHeartbeat = "secret_agent_heartbeat";
        // Database connections and leased credentials.
        /// A database connection was registered.
        DbConnectionCreate = "db_connection_create";
        /// A database connection was changed.
        DbConnectionUpdate = "db_connection_update";
        /// A database connection was deleted.
        DbConnectionDelete = "db_connection_delete";
        /// Database connections were listed or shown.
        DbConnectionList = "db_connection_list";
        /// A database connection was tested (ok, or failed with a class).
        DbConnectionTest = "db_connection_test";
        /// A secret's lease settings were set.
        LeasedSecretSet = "leased_secret_set";
        /// A machine's read minted a lease (ok), or could not (failed, with a class).
        LeaseCreate = "lease_create";
        /// A lease was renewed.
        LeaseRenew = "lease_renew";
        /// A lease was revoked (`reason=expired`, `operator` or `machine_disabled`).
        LeaseRevoke = "lease_revoke";
        /// Leases were listed.
        LeaseList = "lease_list";
        // Change notifications.
        /// A machine opened a change-notification stream (`GET /v1/events`), or was refused
        /// one (`reason=stream_limit`). `detail` says where it resumed (`after=SEQ`).
        EventsOpen = "events_open";
        // Alerts and webhooks.
        /// A webhook was created (its HMAC secret shown once).
        WebhookCreate = "webhook_create";
        /// A webhook's name, URL or enabled flag changed.
        WebhookUpdate = "webhook_update";
        /// A webhook was deleted, with its deliveries.
        WebhookDelete = "webhook_delete";
        /// Webhooks or their delivery log were listed.
        WebhookList = "webhook_list";
        /// A test delivery was queued for a webhook.
        WebhookTest = "webhook_test";
        /// An alert rule was created.
        AlertRuleCreate = "alert_rule_create";
        /// An alert rule was deleted.
        AlertRuleDelete = "alert_rule_delete";
        /// Alert rules were listed.
        AlertRuleList = "alert_rule_list";
    }
}

vocabulary! {
    /// Why a request was refused, as a refusal's record gives it (`detail`, alone or as
    /// `reason=…`).
    DenialReason, "Why a request was refused. Records answer it as text, so a client must \
                   accept values this list does not yet name." {
        // Signed requests.
        /// The request line or path is malformed.
        MalformedRequest = "malformed_request";
        /// An authentication header is missing or malformed.
        MalformedHeaders = "malformed_headers";
        /// The timestamp is outside the ±300 s window.
        ClockWindow = "clock_window";
        /// The signature does not verify.
        BadSignature = "bad_signature";
        /// No such machine or operator key.
        UnknownPrincipal = "unknown_principal";
        /// The nonce was seen before.
        ReplayedNonce = "replayed_nonce";
        /// The nonce store could not be read or written.
        NonceStoreUnavailable = "nonce_store_unavailable";
        /// The store could not be read.
        StoreUnavailable = "store_unavailable";
        /// The source address is not on the vault's allowlist.
        IpAllowlist = "ip_allowlist";
        /// The source spent its failure budget.
        SourceThrottled = "source_throttled";
        /// The machine or source spent its request budget.
        RequestBudget = "request_budget";
        // Machine state.
        /// The machine awaits approval.
        MachinePending = "machine_pending";
        /// The machine was denied.
        MachineDenied = "machine_denied";
        /// The machine was revoked.
        MachineRevoked = "machine_revoked";
        /// The machine's lifetime ended.
        MachineExpired = "machine_expired";
        /// The machine is disabled.
        MachineDisabled = "machine_disabled";
        /// The source address is outside the machine's networks.
        MachineCidr = "machine_cidr";
        /// An AI agent's key on a machine route, or a machine's key on an agent route.
        PrincipalClass = "principal_class";
        /// The AI agent's scopes do not cover the action.
        AgentScope = "agent_scope";
        /// The machine is not attached to the secret's project.
        NotAttached = "not_attached";
        /// The machine has no grant on the secret.
        NoGrant = "no_grant";
        /// The secret does not exist.
        NotFound = "not_found";
        // The secret's access policy (one reason per axis).
        /// Outside the policy's time window.
        PolicyWindow = "policy_window";
        /// The source address is outside the policy's networks.
        PolicyCidr = "policy_cidr";
        /// The machine spent the policy's reads for this minute.
        PolicyRateMinute = "policy_rate_minute";
        /// The machine spent the policy's reads for this day.
        PolicyRateDay = "policy_rate_day";
        /// The co-signing machine has not read the secret recently enough.
        PolicyCosign = "policy_cosign";
        /// The policy's expiry has passed.
        PolicyExpired = "policy_expired";
        /// The policy's maximum number of reads is spent.
        PolicyMaxReads = "policy_max_reads";
        /// The project is frozen (a canary in it was read).
        ProjectFrozen = "project_frozen";
        // Operators and users.
        /// The operator key's lifetime ended.
        OperatorExpired = "operator_expired";
        /// The user behind the key or session is suspended or removed.
        UserInactive = "user_inactive";
        /// The user is suspended.
        UserSuspended = "user_suspended";
        /// Too many failed sign-ins: the account is locked for a while.
        AccountLocked = "account_locked";
        /// No account has this username or email.
        UnknownLogin = "unknown_login";
        /// The account a passkey belongs to no longer exists.
        UnknownUser = "unknown_user";
        /// The password is wrong.
        BadPassword = "bad_password";
        /// The TOTP or recovery code is wrong.
        BadSecondFactor = "bad_second_factor";
        /// The step-up code is wrong.
        BadStepUp = "bad_step_up";
        /// The action needs a recent second factor.
        StepUpRequired = "step_up_required";
        /// The setup code is wrong.
        BadCode = "bad_code";
        /// No such session.
        UnknownSession = "unknown_session";
        /// The session ended (signed out or revoked).
        SessionEnded = "session_ended";
        /// The session outlived its absolute lifetime.
        SessionExpired = "session_expired";
        /// The session was idle too long.
        SessionIdle = "session_idle";
        // Passkeys.
        /// No such passkey challenge (expired or used).
        UnknownChallenge = "unknown_challenge";
        /// The challenge belongs to another user.
        OtherUsersChallenge = "other_users_challenge";
        /// No such passkey.
        UnknownCredential = "unknown_credential";
        /// The assertion carries no user handle.
        NoUserHandle = "no_user_handle";
        /// The user handle names another user.
        UserHandleMismatch = "user_handle_mismatch";
        /// The assertion does not verify.
        BadAssertion = "bad_assertion";
        /// The attestation does not verify.
        BadAttestation = "bad_attestation";
        /// The authenticator's signature counter did not move forward: a cloned key.
        CounterRegressed = "counter_regressed";
        /// No user account behind the passkey.
        NoUserAccount = "no_user_account";
        // Enrollment.
        /// The enrollment token is unknown, used up, expired or revoked.
        BadToken = "bad_token";
        /// The token was already spent.
        TokenSpent = "token_spent";
        /// The vault named is not this one, or the source may not enroll.
        VaultOrIp = "vault_or_ip";
        /// The source address is outside the token's networks.
        SourceCidr = "source_cidr";
        /// Enrollment without a token is turned off.
        TokenlessDisabled = "tokenless_disabled";
        /// The vault requires a possession proof and none came.
        ProofRequired = "proof_required";
        /// The possession proof does not verify.
        BadProof = "bad_proof";
        /// The fingerprint an operator quoted to approve a machine is not the machine's.
        FingerprintMismatch = "fingerprint_mismatch";
        /// The host name does not match the token's pattern.
        HostnamePattern = "hostname_pattern";
        // Enrollment by platform (OIDC) token.
        /// The platform token is not a well-formed JWT, or is larger than the cap.
        MalformedToken = "malformed_token";
        /// No trusted issuer has the token's `iss`.
        WrongIssuer = "wrong_issuer";
        /// The token's `aud` does not contain the issuer's expected audience.
        WrongAudience = "wrong_audience";
        /// The token's `exp` (plus leeway) has passed.
        TokenExpired = "token_expired";
        /// The token's `nbf` or `iat` (less leeway) is still in the future.
        TokenNotYetValid = "token_not_yet_valid";
        /// The token was already used to enroll.
        TokenReplayed = "token_replayed";
        /// The token's `alg` is not one the issuer allows, or does not fit its key's type.
        BadAlgorithm = "bad_algorithm";
        /// The token names no `kid`, or one the issuer's key set does not hold.
        UnknownKid = "unknown_kid";
        /// The token's signature does not verify under the issuer's key.
        BadTokenSignature = "bad_token_signature";
        /// The token's claims match none of the issuer's rules.
        NoMatchingRule = "no_matching_rule";
        /// The issuer's discovery document or key set could not be fetched.
        IssuerUnavailable = "issuer_unavailable";
        // Single sign-on for people.
        /// The callback's `state` names no attempt, or one used or expired.
        SsoUnknownState = "sso_unknown_state";
        /// The attempt was started in another browser (its binding cookie is missing or
        /// differs): a forged callback.
        SsoBrowserMismatch = "sso_browser_mismatch";
        /// The callback's `iss` is not the attempt's provider (a mix-up).
        SsoIssuerMismatch = "sso_issuer_mismatch";
        /// The provider answered with an error (the person cancelled, or it refused).
        SsoProviderError = "sso_provider_error";
        /// The provider's token endpoint refused the code (used, expired, for another client,
        /// or a wrong PKCE verifier).
        SsoCodeRefused = "sso_code_refused";
        /// The ID token's `nonce` is not the attempt's.
        SsoNonceMismatch = "sso_nonce_mismatch";
        /// The ID token is for another client (`azp`).
        SsoWrongClient = "sso_wrong_client";
        /// The person's claims match none of the provider's mappings.
        SsoNoMapping = "sso_no_mapping";
        /// No linked user, and just-in-time creation is off.
        SsoNotLinked = "sso_not_linked";
        /// Just-in-time creation would take a username a local user already has.
        SsoUsernameTaken = "sso_username_taken";
        /// The vault requires SSO: password and passkey sign-in are for the break-glass owner.
        SsoRequired = "sso_required";
        /// The provider did not assert a second factor recent enough for a step-up.
        SsoNoSecondFactor = "sso_no_second_factor";
        /// The CLI's completion code or signature is wrong.
        SsoBadCompletion = "sso_bad_completion";
        /// The password hashing queue is full.
        HashQueueFull = "hash_queue_full";
        // One-time share links.
        /// The share link's passphrase was wrong; the link is destroyed.
        WrongPassphrase = "wrong_passphrase";
        /// The share link's lifetime ended; the link is erased.
        Expired = "expired";
        /// No share link has this id and secret part (nothing consumed).
        UnknownShare = "unknown_share";
        // Change notifications.
        /// The machine already holds as many open event streams as one may, or the server
        /// does.
        StreamLimit = "stream_limit";
        // Managed secrets.
        /// The machine is granted the secret but is not its sync agent.
        NotSyncAgent = "not_sync_agent";
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::{AuditAction, DenialReason};

    #[test]
    fn every_text_is_unique_snake_case_and_parses_back() {
        fn check(texts: impl Iterator<Item = &'static str>) -> usize {
            let mut seen = HashSet::new();
            for t in texts {
                assert!(seen.insert(t), "`{t}` is listed twice");
                assert!(
                    !t.is_empty() && t.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                    "`{t}` is not snake_case"
                );
            }
            seen.len()
        }
        check(AuditAction::ALL.iter().map(|a| a.as_str()));
        check(DenialReason::ALL.iter().map(|r| r.as_str()));
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::parse(a.as_str()), Some(*a));
        }
        for r in DenialReason::ALL {
            assert_eq!(DenialReason::parse(r.as_str()), Some(*r));
        }
        assert_eq!(AuditAction::parse("Secret_Read"), None);
        assert_eq!(DenialReason::parse(""), None);
    }
}
