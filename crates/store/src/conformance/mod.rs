//! The conformance suite: one set of test bodies that every backend runs.
//!
//! Each body is `pub async fn name(store: Arc<dyn Store>)`, checks only what the trait docs
//! promise, and panics on failure. The bodies after the `;` in the list (export and import) need
//! two stores and are `pub async fn name(source: Arc<dyn Store>, target: Arc<dyn Store>)`; those
//! after the second `;` (a restart) are `pub async fn name(harness: &dyn Harness)`. A
//! backend runs them all from an integration test with
//!
//! ```ignore
//! signet_store::conformance_suite!(my_backend::fresh_test_store());
//! ```
//!
//! where the argument is an async expression evaluated once per test (twice, for a source and a
//! target, in the transfer bodies). It yields either an `Arc<dyn Store>` or any [`Harness`] that
//! owns extra state for the test's duration (a temporary database it deletes on success and keeps
//! on failure, say). The macro expands to one
//! `#[tokio::test]` per body, grouped in a module per noun (`machine::revoking_drops_...`), so the
//! test crate needs `tokio` as a dependency.
//!
//! Adding a body means adding it to the list in
//! [`conformance_suite!`](crate::conformance_suite); a unit test below fails if a
//! `pub async fn` is missing from the list. The generated modules are named after the nouns
//! (`audit`, `machine`, ...), so the test crate must not define modules of those names.
// Test bodies: a failed `unwrap` is a failed test, which is exactly what should happen.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::Store;

pub mod ai_agent;
pub mod alert;
pub mod audit;
pub mod budget;
pub mod canary;
pub mod census;
pub mod connection;
pub mod fixture;
pub mod invite;
pub mod issuer;
pub mod keyring;
pub mod lease;
pub mod machine;
pub mod managed;
pub mod network;
pub mod nonce;
pub mod operator;
pub mod passkey;
pub mod policy;
pub mod project;
pub mod project_key;
pub mod restart;
pub mod rotation;
pub mod secret;
pub mod session;
pub mod share;
pub mod sso;
pub mod stamp;
pub mod token;
pub mod transfer;
pub mod trash;
pub mod user;
pub mod vault;

/// [`Harness::reopen`]'s answer: the second store, once opened.
pub type Reopened<'a> = Pin<Box<dyn Future<Output = Option<Arc<dyn Store>>> + 'a>>;

/// What a backend's constructor expression yields: the store under test, plus anything that
/// must live until the test ends. It is dropped after the body returns or panics, so a `Drop`
/// impl can tell the two apart with [`std::thread::panicking`].
pub trait Harness {
    /// The store the test body receives.
    fn store(&self) -> Arc<dyn Store>;

    /// A second store over the same data, opened now: what a restarted process (SQLite) or
    /// another replica (PostgreSQL) starts from. `None` where the harness cannot open one; the
    /// bodies after the second `;` need it and fail without it.
    fn reopen(&self) -> Reopened<'_> {
        Box::pin(async { None })
    }
}

impl Harness for Arc<dyn Store> {
    fn store(&self) -> Arc<dyn Store> {
        Arc::clone(self)
    }
}

impl<T: Store + 'static> Harness for Arc<T> {
    fn store(&self) -> Arc<dyn Store> {
        Arc::clone(self) as Arc<dyn Store>
    }
}

/// Expands to one `#[tokio::test]` per conformance body, each on a fresh store from `$make`.
///
/// The `@` arms are internal: the list of bodies lives in exactly one place, and `@names` lets
/// this crate check the list against the functions it defines.
#[macro_export]
macro_rules! conformance_suite {
    (@names) => {
        $crate::conformance_suite!(@with (names))
    };
    (@with $mode:tt) => {
        $crate::conformance_suite! { @emit $mode;
            ai_agent {
                an_agent_profile_round_trips,
                only_a_pending_machine_becomes_an_agent,
                only_an_agent_profile_changes,
            }
            audit {
                an_empty_log_has_no_head,
                appends_chain_without_gaps,
                an_empty_batch_writes_nothing,
                concurrent_appenders_keep_one_chain,
                listing_filters_newest_first,
                listing_is_capped,
                range_pages_oldest_first,
                listing_filters_by_time,
                a_write_probe_commits_and_changes_nothing,
                an_audited_write_commits_with_its_record,
                a_refused_audited_write_leaves_no_record,
                an_audited_handle_carries_one_record,
                a_write_that_changes_nothing_records_nothing,
                audited_writes_and_appends_keep_one_chain,
                evidence_round_trips_and_is_linked,
                prune_with_checkpoint_is_atomic_and_idempotent,
                concurrent_archivers_archive_each_range_once,
            }
            budget {
                budgets_round_trip_and_clear,
                a_machine_budget_needs_the_machine,
            }
            canary {
                the_canary_flag_round_trips,
                a_freeze_shows_in_every_read_view,
                a_freeze_needs_the_project,
            }
            connection {
                connections_round_trip_by_name,
                a_bound_connection_is_in_use,
            }
            issuer {
                issuers_round_trip_with_unique_names_and_urls,
                rules_keep_their_order_and_their_issuer,
                a_platform_token_enrolls_once,
                concurrent_platform_token_enrollments_let_one_win,
            }
            keyring {
                the_keyring_starts_at_generation_zero_and_grows_by_one,
                rewrapping_moves_a_project_to_a_newer_generation,
                retirement_needs_an_older_generation_nothing_uses,
                a_seal_racing_a_rotation_lands_before_it_or_fails,
            }
            project_key {
                a_project_key_rotation_rewraps_every_kind_of_value,
                a_second_rotation_from_the_same_generation_loses,
                a_value_written_after_the_listing_is_rewrapped_in_the_commit,
                a_write_under_a_replaced_project_key_is_refused,
            }
            invite {
                invites_round_trip_newest_first,
                an_invite_is_accepted_once,
                expired_or_revoked_invites_create_nothing,
                concurrent_accepts_let_one_win,
            }
            lease {
                leases_round_trip_and_renew_up_to_the_maximum,
                a_due_lease_is_revoked_once,
                a_read_view_carries_the_lease_settings,
                a_machine_holds_one_reusable_lease_per_secret,
            }
            machine {
                machines_round_trip_newest_first,
                a_key_is_unique_across_machines_and_operators,
                transitions_need_the_expected_state,
                enabling_and_cidrs_need_the_machine,
                revoking_drops_grants_and_memberships,
                attach_and_grant_are_idempotent_and_need_both_rows,
                detach_drops_only_that_projects_grants,
                the_machine_lookup_carries_the_policy_stamp,
            }
            network {
                allowlist_round_trips_oldest_first,
                a_cidr_is_listed_once,
                removing_needs_the_entry,
            }
            nonce {
                a_nonce_is_fresh_once,
                an_expired_nonce_may_be_reused,
                sweeping_forgets_only_expired_nonces,
                concurrent_uses_of_one_nonce_admit_one,
                the_nonce_count_follows_inserts_and_sweeps,
            }
            operator {
                operators_round_trip_oldest_first,
                an_operator_key_is_unique,
                disabling_an_operator_is_final,
            }
            passkey {
                passkeys_round_trip_per_user,
                a_credential_is_registered_once_and_within_the_limit,
                concurrent_registrations_stop_at_the_limit,
                the_signature_counter_only_moves_forward,
                concurrent_uses_with_one_counter_admit_one,
                only_the_owner_renames_or_deletes,
                a_ceremony_is_taken_once_before_it_expires,
                concurrent_takes_of_a_ceremony_admit_one,
                sweeping_forgets_only_expired_ceremonies,
            }
            policy {
                policies_round_trip_by_name,
                a_bound_policy_is_in_the_read_view_and_in_use,
                counters_take_all_or_nothing,
                concurrent_takes_stop_exactly_at_the_cap,
            }
            managed {
                managed_binding_round_trip,
                a_pending_rotation_is_confirmed_or_rejected_once,
                a_due_managed_rotation_is_claimed_once,
                a_purged_managed_secret_takes_its_binding,
            }
            project {
                projects_round_trip_by_name,
                a_project_name_is_unique,
                a_project_is_renamed_to_a_free_name,
            }
            rotation {
                rotation_settings_round_trip,
                due_rotations_are_running_schedules_of_live_secrets,
                a_due_rotation_is_claimed_once,
            }
            secret {
                secrets_round_trip_with_their_first_version,
                a_live_secret_name_is_unique_per_project,
                a_secret_needs_its_project,
                versions_append_optimistically,
                a_version_keeps_which_fields_it_changed,
                concurrent_appends_on_one_version_let_one_win,
                concurrent_appends_are_told_the_version_they_wrote,
                appending_needs_a_live_secret,
                a_rollback_must_point_at_a_sealed_version,
                deleting_hides_a_secret_but_keeps_its_metadata,
                read_view_reports_attachment_and_grant,
                read_view_hides_missing_and_deleted_secrets,
                read_view_follows_a_rollback,
                granted_views_need_attachment_and_grant,
                poll_reports_each_watched_secret,
                poll_grants_deletion_only_to_the_granted,
                a_read_mark_is_replaced_by_the_next,
            }
            session {
                sessions_round_trip_by_token,
                touch_and_step_up_need_a_live_session,
                revocation_is_per_user_and_final,
                user_operators_lists_live_keys_of_that_user,
                a_password_hash_is_replaced,
            }
            alert {
                webhooks_and_rules_round_trip,
                the_cursor_moves_only_from_where_it_was_read,
                claims_are_exclusive_and_finished_by_their_holder,
                concurrent_claims_split_the_work,
            }
            share {
                shares_round_trip_newest_first,
                a_share_closes_once_and_is_erased,
                concurrent_closes_let_one_win,
                expired_shares_are_never_viewed_and_are_swept,
            }
            sso {
                providers_round_trip_and_delete_with_their_links,
                mappings_keep_their_order_and_their_provider,
                identities_link_once_and_users_come_with_their_link,
                an_attempt_is_taken_completed_and_finished_once,
                concurrent_takes_of_an_attempt_admit_one,
                sso_settings_change_together,
            }
            token {
                bootstrap_tokens_are_single_use,
                expired_or_unknown_bootstrap_tokens_are_refused,
                a_bootstrap_key_conflict_leaves_the_token_unspent,
                concurrent_bootstrap_redeems_let_one_win,
                enrollment_tokens_round_trip_newest_first,
                enrollment_redeem_counts_a_use_and_applies_the_grant,
                concurrent_enrollment_redeems_stop_at_max_uses,
                revoked_or_expired_enrollment_tokens_create_nothing,
                an_enrollment_key_conflict_uses_nothing,
            }
            trash {
                trashing_records_who_and_hides_from_machines,
                restore_keeps_versions_and_grants,
                purge_removes_everything,
                purge_due_selects_by_deletion_time,
                concurrent_purges_purge_and_audit_once,
                retention_defaults_and_changes,
            }
            user {
                users_round_trip_by_id_and_login,
                a_username_and_an_email_are_unique,
                the_first_user_is_created_once,
                a_user_is_added_with_their_codes,
                totp_steps_only_move_forward,
                totp_seeds_are_confirmed_once,
                failures_lock_an_account,
                recovery_codes_are_single_use,
                logins_list_newest_first,
                operator_keys_carry_their_user_and_expiry,
                scope_is_stored_and_replaced_with_the_role,
                the_last_active_owner_stays,
                removal_is_final_and_disables_keys,
            }
            stamp {
                every_access_change_moves_the_stamp,
                the_read_path_leaves_the_stamp,
                the_stamp_comes_with_the_nonce_and_the_lookup,
            }
            vault {
                a_fresh_store_has_no_vault,
                the_vault_is_created_once,
                vault_settings_change,
                enrollment_proof_requirement_changes,
                every_policy_write_advances_the_stamp,
            }
            census {
                live_counts_follow_sessions_keys_and_leases,
            }
            ;
            // Bodies that take two fresh stores: (source, target).
            transfer {
                round_trip_reads_the_same,
                import_refuses_a_store_that_is_not_empty,
                import_refuses_unknown_tables_and_columns,
                import_refuses_an_ill_typed_cell,
                export_is_stable,
            }
            ;
            // Bodies that take the harness, to open a second store over the same data.
            restart {
                stored_nonces_are_refused_by_a_store_opened_after_them,
            }
        }
    };
    (@emit (names);
        $($module:ident { $($test:ident),* $(,)? })*
        ;
        $($pair_module:ident { $($pair_test:ident),* $(,)? })*
        ;
        $($harness_module:ident { $($harness_test:ident),* $(,)? })*
    ) => {
        &[
            $($(concat!(stringify!($module), "::", stringify!($test)),)*)*
            $($(concat!(stringify!($pair_module), "::", stringify!($pair_test)),)*)*
            $($(concat!(stringify!($harness_module), "::", stringify!($harness_test)),)*)*
        ]
    };
    (@emit (tests $make:expr);
        $($module:ident { $($test:ident),* $(,)? })*
        ;
        $($pair_module:ident { $($pair_test:ident),* $(,)? })*
        ;
        $($harness_module:ident { $($harness_test:ident),* $(,)? })*
    ) => {
        $(
            mod $module {
                #[allow(unused_imports)]
                use super::*;
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $test() {
                        let harness = $make.await;
                        $crate::conformance::$module::$test($crate::conformance::Harness::store(&harness)).await;
                        drop(harness);
                    }
                )*
            }
        )*
        $(
            mod $pair_module {
                #[allow(unused_imports)]
                use super::*;
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $pair_test() {
                        // Two evaluations: two independent fresh stores.
                        let source = $make.await;
                        let target = $make.await;
                        $crate::conformance::$pair_module::$pair_test(
                            $crate::conformance::Harness::store(&source),
                            $crate::conformance::Harness::store(&target),
                        )
                        .await;
                        drop(target);
                        drop(source);
                    }
                )*
            }
        )*
        $(
            mod $harness_module {
                #[allow(unused_imports)]
                use super::*;
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $harness_test() {
                        let harness = $make.await;
                        $crate::conformance::$harness_module::$harness_test(&harness).await;
                        drop(harness);
                    }
                )*
            }
        )*
    };
    ($make:expr) => {
        $crate::conformance_suite!(@with (tests $make));
    };
}

#[cfg(test)]
mod tests {
    /// Every `pub async fn` of every suite module, read from the source.
    fn defined() -> Vec<String> {
        let sources = [
            ("ai_agent", include_str!("ai_agent.rs")),
            ("alert", include_str!("alert.rs")),
            ("audit", include_str!("audit.rs")),
            ("budget", include_str!("budget.rs")),
            ("canary", include_str!("canary.rs")),
            ("connection", include_str!("connection.rs")),
            ("invite", include_str!("invite.rs")),
            ("issuer", include_str!("issuer.rs")),
            ("keyring", include_str!("keyring.rs")),
            ("lease", include_str!("lease.rs")),
            ("machine", include_str!("machine.rs")),
            ("managed", include_str!("managed.rs")),
            ("network", include_str!("network.rs")),
            ("nonce", include_str!("nonce.rs")),
            ("operator", include_str!("operator.rs")),
            ("passkey", include_str!("passkey.rs")),
            ("policy", include_str!("policy.rs")),
            ("project", include_str!("project.rs")),
            ("project_key", include_str!("project_key.rs")),
            ("restart", include_str!("restart.rs")),
            ("rotation", include_str!("rotation.rs")),
            ("secret", include_str!("secret.rs")),
            ("session", include_str!("session.rs")),
            ("share", include_str!("share.rs")),
            ("sso", include_str!("sso.rs")),
            ("token", include_str!("token.rs")),
            ("transfer", include_str!("transfer.rs")),
            ("trash", include_str!("trash.rs")),
            ("user", include_str!("user.rs")),
            ("stamp", include_str!("stamp.rs")),
            ("vault", include_str!("vault.rs")),
            ("census", include_str!("census.rs")),
        ];
        let mut names = Vec::new();
        for (module, src) in sources {
            for line in src.lines() {
                if let Some(rest) = line.strip_prefix("pub async fn ") {
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    names.push(format!("{module}::{name}"));
                }
            }
        }
        names.sort();
        names
    }

    #[test]
    fn the_suite_lists_every_body() {
        let listed: &[&str] = crate::conformance_suite!(@names);
        let mut listed: Vec<String> = listed.iter().map(|s| s.to_string()).collect();
        listed.sort();
        assert_eq!(listed, defined());
    }
}
