//! Named fault points for crash and fault tests.
//!
//! The points themselves are `fail::fail_point!` calls in the crates that own the code path
//! (core, store-sqlite, store-postgres). They compile to nothing unless the `failpoints` feature
//! is on, and only test builds turn it on (signet-cli's dev-dependencies), so a release binary
//! carries none of them and ignores `FAILPOINTS`.
//!
//! A test arms a point through the server's environment, for example
//! `FAILPOINTS=change_before_audit=return`; a point armed with `return` whose action is a crash
//! calls [`std::process::abort`], which is what `kill -9` at that instant would leave behind.

/// The armed fault points for the life of the process. Dropping it disarms them.
#[must_use = "the fault points are disarmed when this is dropped"]
pub struct Armed {
    #[cfg(feature = "failpoints")]
    _scenario: fail::FailScenario<'static>,
}

/// Arms the fault points named in `FAILPOINTS`: a no-op unless built with `failpoints`.
///
/// Called once by the binary before it serves; a malformed `FAILPOINTS` in a test build
/// panics at start (the `fail` crate's contract), which a test sees at once.
pub fn arm_from_env() -> Armed {
    Armed {
        #[cfg(feature = "failpoints")]
        _scenario: fail::FailScenario::setup(),
    }
}

/// Whether this build carries fault points (tests that need them skip themselves otherwise).
pub const COMPILED_IN: bool = cfg!(feature = "failpoints");
