//! Stamps the binary with the commit it was built from and a build date, for `signet --version`
//! and `GET /v1/version`: `SIGNET_COMMIT` (`git rev-parse --short HEAD`) and `SIGNET_BUILD_DATE`
//! (`YYYY-MM-DD`, UTC). The date is `SOURCE_DATE_EPOCH`'s when set, else the commit's, never the
//! clock's, so two builds of one commit are the same bytes (reproducible builds).
//!
//! A source tarball made by `git archive` (a release download) has no `.git`: there `git
//! archive` itself wrote the commit and its date into `archive-stamp` (`export-subst` in
//! `.gitattributes`). A build that is given neither (a container build, whose context holds no
//! `.git`) can name the commit in `SIGNET_BUILD_COMMIT` and the date in `SOURCE_DATE_EPOCH`
//! (deploy/container/Containerfile takes both as build arguments). With none of these, both read
//! `unknown`; nothing here ever fails the build.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    watch_head(&manifest);

    println!("cargo:rerun-if-changed=archive-stamp");
    let stamp = archive_stamp(&manifest);
    // An expanded stamp wins over git: a tarball unpacked inside some other repository (a
    // distribution's packaging) must not take that repository's commit.
    println!("cargo:rerun-if-env-changed=SIGNET_BUILD_COMMIT");
    let given = std::env::var("SIGNET_BUILD_COMMIT")
        .ok()
        .map(|c| c.trim().to_owned())
        .filter(|c| c.len() >= 7 && c.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|c| c.chars().take(10).collect::<String>());
    let commit = given
        .or_else(|| stamp.as_ref().map(|(commit, _)| commit.clone()))
        .or_else(|| git(&manifest, &["rev-parse", "--short=10", "HEAD"]));
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .or_else(|| stamp.map(|(_, epoch)| epoch))
        .or_else(|| {
            git(&manifest, &["log", "-1", "--format=%ct", "HEAD"])
                .and_then(|s| s.parse::<i64>().ok())
        });
    println!(
        "cargo:rustc-env=SIGNET_COMMIT={}",
        commit.as_deref().unwrap_or("unknown")
    );
    println!(
        "cargo:rustc-env=SIGNET_BUILD_DATE={}",
        epoch.map_or_else(|| "unknown".to_owned(), utc_date)
    );
}

/// The commit (abbreviated as `git rev-parse --short=10` does) and its Unix time, as `git
/// archive` wrote them into `archive-stamp`; `None` in a checkout, where the file still holds its
/// unexpanded placeholders, or when it is missing or garbled.
fn archive_stamp(dir: &Path) -> Option<(String, i64)> {
    let text = std::fs::read_to_string(dir.join("archive-stamp")).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .map(str::trim)
    };
    let commit = field("commit")?;
    let epoch = field("date")?.parse::<i64>().ok()?;
    let hex = commit.len() >= 10 && commit.bytes().all(|b| b.is_ascii_hexdigit());
    hex.then(|| (commit[..10].to_owned(), epoch))
}

/// The trimmed output of `git ARGS` run in `dir`, if git ran and succeeded.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// Reruns this script when HEAD moves: a new commit changes the branch's ref file (or
/// `packed-refs`), a checkout changes `HEAD`. Only existing files are named, since cargo reruns
/// the script on every build for a missing one.
fn watch_head(dir: &Path) {
    let Some(git_dir) = git(dir, &["rev-parse", "--absolute-git-dir"]) else {
        return;
    };
    let git_dir = PathBuf::from(git_dir);
    let common = git(dir, &["rev-parse", "--git-common-dir"])
        .map(|c| {
            let c = PathBuf::from(c);
            if c.is_absolute() { c } else { dir.join(c) }
        })
        .unwrap_or_else(|| git_dir.clone());
    let mut watched = vec![git_dir.join("HEAD"), common.join("packed-refs")];
    if let Some(reference) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        watched.push(common.join(&reference));
        watched.push(git_dir.join(reference));
    }
    for path in watched.iter().filter(|p| p.is_file()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// `YYYY-MM-DD` of a Unix time, in UTC (Howard Hinnant's `civil_from_days`): a build script
/// has no date library, and this one needs no other dependency.
fn utc_date(epoch: i64) -> String {
    let z = epoch.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
