//! `signet audit`: read the hash-chained audit log, check that it is unbroken (and, offline,
//! that machines signed what their records say they asked), and archive it.

use std::collections::HashMap;
use std::process::ExitCode;

use signet_client::api::admin::audit::{ArchiveAnswer, AuditQueryRequest};
use signet_proto::PublicKey;
use signet_proto::archive::{ArchiveError, Checkpoint, Evidence, verify_segment};

use crate::identity::OperatorOpts;
use crate::output::{self, Table};

/// `signet audit`.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(flatten)]
    opts: OperatorOpts,
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AuditCommand {
    /// List records, newest first.
    List {
        /// At most this many records.
        #[arg(long)]
        limit: Option<u64>,
        /// Only this action.
        #[arg(long)]
        action: Option<String>,
        /// Only this actor (a machine or operator id).
        #[arg(long, value_name = "ID")]
        actor: Option<String>,
        /// Only this result.
        #[arg(long)]
        result: Option<String>,
        /// Only records older than this sequence number (to page back).
        #[arg(long, value_name = "SEQ")]
        before: Option<u64>,
        /// Only records from this time on: a date (`2026-12-01`, midnight UTC), a timestamp
        /// (`2026-12-01T10:00:00Z`; without an offset it is UTC), a duration ago (`90m`,
        /// `1h30m`, `7d`; a bare number like `90` is refused, it has no unit), or a Unix time in
        /// milliseconds (13 digits or more).
        #[arg(long, value_name = "WHEN", value_parser = parse_time)]
        since: Option<i64>,
        /// Only records before this time, in the same forms as `--since`.
        #[arg(long, value_name = "WHEN", value_parser = parse_time)]
        until: Option<i64>,
    },
    /// Recompute the hash chain; exits 1 when it is broken.
    Verify {
        /// Also check, offline with each machine's public key, that every record carrying a
        /// machine's signed evidence was signed by that machine, and that no read recorded
        /// since evidence was first kept lacks it.
        #[arg(long)]
        signatures: bool,
        /// Also verify the archived segments in this folder: each checkpoint signed with the
        /// server's archive key and naming the one before, each segment's bytes and links, and
        /// the live log continuing from the last one.
        #[arg(long, value_name = "DIR")]
        archive: Option<std::path::PathBuf>,
        /// Verify audit device files instead of the server's log, offline: each line parses,
        /// seqs increase, each line links to the one before, no record is missing (unless
        /// --allow-gaps). Several files (a rotated file and its successor, or a shell glob)
        /// are checked as one stream, taken in the order of their first records. With the root
        /// key (--data-dir or --config, as `signet server` takes them) every line's MAC is
        /// recomputed too.
        #[arg(long, value_name = "FILE", num_args = 1.., conflicts_with_all = ["signatures", "archive"])]
        file: Vec<std::path::PathBuf>,
        /// With --file: accept missing records (a best-effort device drops the records it
        /// could not write), listing them instead of failing.
        #[arg(long, requires = "file")]
        allow_gaps: bool,
        /// With --file: the server's data folder, whose root key recomputes the MACs.
        #[arg(long, env = "SIGNET_DATA_DIR", requires = "file")]
        data_dir: Option<std::path::PathBuf>,
        /// With --file: the server's config file (for root_key_file / root_key_env).
        #[arg(long, env = "SIGNET_CONFIG", requires = "file")]
        config: Option<std::path::PathBuf>,
        /// With --file: the server's database, if not the SQLite file in the data folder.
        #[arg(
            long,
            env = "SIGNET_DATABASE_URL",
            hide_env_values = true,
            requires = "file"
        )]
        database_url: Option<String>,
    },
    /// Archive every full segment of the log now (to the server's `audit_archive_dir`) and
    /// prune it from the live store.
    Archive,
}

/// A point in time, for `--since`/`--until`: see [`point_in_time`].
fn parse_time(s: &str) -> Result<i64, String> {
    point_in_time(s, signet_client::unix_now().saturating_mul(1000))
}

/// A point in time as Unix milliseconds: an RFC 3339 timestamp (`2026-12-01T10:00:00Z`), a date
/// and time without an offset or a date alone (`2026-12-01`, midnight), both read as UTC since
/// that is how `audit list` prints times, a duration ago (`90m`, `1h30m`, `7d`), or a Unix time
/// in milliseconds (13 digits or more, as `--json` prints them). Dates and durations are read
/// by jiff, the one date library of the workspace.
fn point_in_time(s: &str, now_ms: i64) -> Result<i64, String> {
    let refused = || {
        format!(
            "invalid time {s:?}: give a date (2026-12-01), a timestamp (2026-12-01T10:00:00Z), \
             a duration ago (90m, 1h30m, 7d) or Unix milliseconds"
        )
    };
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        // A short bare number has no unit: `--since 90` may mean minutes, days or seconds, and
        // guessing would filter the wrong window silently.
        return match s.parse::<i64>() {
            Ok(ms) if s.len() >= 13 => Ok(ms),
            _ if s.len() >= 13 => Err(refused()),
            _ => Err(format!(
                "{}; a bare number needs a unit ({s}m, {s}h, {s}d)",
                refused()
            )),
        };
    }
    // A date has a dash where no duration has one (a negative duration is refused anyway).
    if s.contains('-') {
        if let Ok(t) = s.parse::<jiff::Timestamp>() {
            return Ok(t.as_millisecond());
        }
        let civil = s.parse::<jiff::civil::DateTime>().or_else(|_| {
            s.parse::<jiff::civil::Date>()
                .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
        });
        if let Ok(t) = civil.and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC)) {
            return Ok(t.timestamp().as_millisecond());
        }
    }
    let secs = crate::duration::parse(s).map_err(|_| refused())?;
    let ago = i64::try_from(secs.saturating_mul(1000)).map_err(|_| "too long ago".to_owned())?;
    Ok(now_ms.saturating_sub(ago))
}

/// Runs an `audit` subcommand.
pub async fn run(args: AuditArgs, json: bool) -> anyhow::Result<ExitCode> {
    if let AuditCommand::Verify {
        file,
        allow_gaps,
        data_dir,
        config,
        database_url,
        ..
    } = &args.command
        && !file.is_empty()
    {
        let chain = file_chain_key(data_dir.as_deref(), config.as_deref(), database_url.clone())?;
        return crate::audit_file::verify_files(file, chain.as_ref(), *allow_gaps, json);
    }
    let client = args.opts.client()?;
    match args.command {
        AuditCommand::List {
            limit,
            action,
            actor,
            result,
            before,
            since,
            until,
        } => {
            let limit = limit
                .map(|n| u32::try_from(n).map_err(|_| anyhow::anyhow!("--limit {n} is too large")))
                .transpose()?;
            let query = AuditQueryRequest {
                limit,
                before_seq: before,
                actor_id: actor,
                action,
                result,
                since_ms: since,
                until_ms: until,
                ..AuditQueryRequest::default()
            };
            let r = client.audit().query(&query).await?;
            if json {
                output::json(&r)?;
            } else {
                let mut t = Table::new(&[
                    "SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "RESULT", "SOURCE",
                ]);
                for rec in &r.records {
                    let actor = format!(
                        "{}:{}",
                        output::cell(&rec.actor_kind),
                        output::cell(&rec.actor_id)
                    );
                    t.row(vec![
                        output::cell(&rec.seq),
                        output::at(rec.ts),
                        actor,
                        output::cell(&rec.action),
                        output::cell(&rec.target),
                        output::cell(&rec.result),
                        output::cell(&rec.source_ip),
                    ]);
                }
                t.print("no records")?;
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Archive => {
            // Each call answers after a few seconds of work; a long backlog takes several.
            let mut segments = Vec::new();
            loop {
                let r = client.audit().archive().await?;
                if !json {
                    output::lines(r.segments.iter().map(|c| {
                        format!(
                            "archived records {}..={} ({} records)",
                            c.first_seq, c.last_seq, c.records
                        )
                    }))?;
                }
                segments.extend(r.segments);
                if !r.more {
                    break;
                }
            }
            if json {
                output::json(&ArchiveAnswer {
                    segments,
                    more: false,
                })?;
            } else if segments.is_empty() {
                output::lines(["no full segment to archive".to_owned()])?;
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify {
            signatures,
            archive,
            ..
        } => {
            let keys = if signatures {
                Some(machine_keys(&client).await?)
            } else {
                None
            };
            let archived = match &archive {
                None => None,
                Some(dir) => match verify_archive(&client, dir, keys.as_ref()).await? {
                    Ok(summary) => Some(summary),
                    Err(problem) => {
                        eprintln!(
                            "error: the audit archive in {} fails: {problem}",
                            dir.display()
                        );
                        return Ok(ExitCode::from(1));
                    }
                },
            };
            let r = client.audit().verify().await?;
            if !r.ok {
                if json {
                    output::json(&r)?;
                }
                eprintln!(
                    "error: the audit chain is broken at seq {}: {}",
                    output::cell(&r.first_bad_seq),
                    output::cell(&r.problem)
                );
                return Ok(ExitCode::from(1));
            }
            let checked = if let Some(keys) = &keys {
                match verify_signatures(&client, keys).await? {
                    Ok(report) => Some(report),
                    Err(bad) => {
                        eprintln!(
                            "error: the audit record at seq {} fails its signature check: {}",
                            bad.seq, bad.problem
                        );
                        return Ok(ExitCode::from(1));
                    }
                }
            } else {
                None
            };
            if json {
                let mut v = serde_json::to_value(&r)?;
                if let (Some(c), Some(obj)) = (&checked, v.as_object_mut()) {
                    obj.insert("signed".to_owned(), c.signed.into());
                    obj.insert("unsigned".to_owned(), c.unsigned.into());
                }
                if let (Some(a), Some(obj)) = (&archived, v.as_object_mut()) {
                    obj.insert("archivedSegments".to_owned(), a.segments.into());
                    obj.insert("archivedRecords".to_owned(), a.records.into());
                }
                output::json(&v)?;
            } else {
                let mut lines = vec![format!(
                    "audit chain ok: {} records, head at seq {}",
                    output::cell(&r.records),
                    output::cell(&r.head_seq)
                )];
                if let Some(a) = &archived {
                    lines.push(format!(
                        "archive ok: {} segments, {} records, the live log continues from the last",
                        a.segments, a.records
                    ));
                }
                if let Some(c) = &checked {
                    lines.push(format!(
                        "machine signatures ok: {} records signed by their machine, {} machine \
                         records without evidence (written before it was kept, or refused \
                         before authentication)",
                        c.signed, c.unsigned
                    ));
                }
                output::lines(lines)?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The audit key from the root key the server at `data_dir` / `config` uses, for `--file`;
/// `None` when neither is given (links are checked, MACs are not).
fn file_chain_key(
    data_dir: Option<&std::path::Path>,
    config: Option<&std::path::Path>,
    database_url: Option<String>,
) -> anyhow::Result<Option<signet_core::ChainKey>> {
    if data_dir.is_none() && config.is_none() {
        return Ok(None);
    }
    let mut file = match config {
        Some(p) => signet_server::config::FileConfig::load(p)?,
        None => signet_server::config::FileConfig::default(),
    };
    file.data_dir = data_dir.map(ToOwned::to_owned).or(file.data_dir);
    file.database_url = database_url.or(file.database_url);
    // Nothing is served: only the key source is resolved.
    file.insecure_http = Some(true);
    let config = file.resolve()?;
    Ok(Some(signet_server::install::audit_chain_key(&config)?))
}

/// Records per page when walking the log for signatures.
const PAGE: u32 = 1000;

/// What `--signatures` found on a log that passed.
struct SignatureReport {
    /// Records whose evidence verified with their machine's key.
    signed: u64,
    /// Machine records without evidence.
    unsigned: u64,
}

/// The first record that failed `--signatures`.
struct BadRecord {
    seq: u64,
    problem: String,
}

/// Walks the whole log newest first and checks every record's machine evidence with the
/// machine's registered key (fetched once through the signed admin API), exactly as the server
/// checked the request: the signing string rebuilt from the stored fields, `verify_strict`.
///
/// A successful `secret_read` without evidence is a failure once any older record has some: a
/// server that keeps evidence writes it on every read, so only a forger leaves it out.
async fn verify_signatures(
    client: &signet_client::OperatorClient,
    keys: &MachineKeys,
) -> anyhow::Result<Result<SignatureReport, BadRecord>> {
    let mut report = SignatureReport {
        signed: 0,
        unsigned: 0,
    };
    // The newest successful read seen so far that carries no evidence.
    let mut unsigned_read: Option<u64> = None;
    let mut before = None;
    loop {
        let page = client
            .audit()
            .query(&AuditQueryRequest {
                limit: Some(PAGE),
                before_seq: before,
                ..AuditQueryRequest::default()
            })
            .await?
            .records;
        let Some(last) = page.last() else { break };
        before = Some(last.seq);
        for rec in &page {
            let Some(ev) = &rec.evidence else {
                if rec.actor_kind == "machine" {
                    report.unsigned += 1;
                    if rec.action == "secret_read" && rec.result == "ok" && unsigned_read.is_none()
                    {
                        unsigned_read = Some(rec.seq);
                    }
                }
                continue;
            };
            if let Some(seq) = unsigned_read {
                return Ok(Err(BadRecord {
                    seq,
                    problem: format!(
                        "a successful read without the machine's signed evidence, after record \
                         {} kept it",
                        rec.seq
                    ),
                }));
            }
            let bad = |problem: String| BadRecord {
                seq: rec.seq,
                problem,
            };
            if rec.actor_kind != "machine" {
                return Ok(Err(bad(format!(
                    "evidence on a record of a {} actor",
                    rec.actor_kind
                ))));
            }
            if let Err(problem) = check_evidence(keys, &rec.actor_id, &evidence(ev)) {
                return Ok(Err(bad(problem)));
            }
            report.signed += 1;
        }
    }
    Ok(Ok(report))
}

/// Every machine's registered public key by id, fetched once through the signed admin API.
type MachineKeys = HashMap<String, PublicKey>;

async fn machine_keys(client: &signet_client::OperatorClient) -> anyhow::Result<MachineKeys> {
    let mut keys = HashMap::new();
    for m in client.machines().list().await?.machines {
        // A key the server registered always parses; one that does not fails its records.
        if let Ok(k) = PublicKey::from_base64(&m.public_key) {
            keys.insert(m.id.to_string(), k);
        }
    }
    Ok(keys)
}

/// Checks one record's evidence with its machine's registered key (`signet_proto::archive`).
fn check_evidence(keys: &MachineKeys, machine: &str, ev: &Evidence) -> Result<(), String> {
    let key = keys
        .get(machine)
        .ok_or_else(|| format!("machine {machine} is not registered, so its key is unknown"))?;
    ev.verify(key)
        .map_err(|e| format!("machine {machine}: {e}"))
}

/// What `--archive` found in a folder that passed.
struct ArchiveSummary {
    segments: u64,
    records: u64,
}

/// Verifies every segment in `dir` in chain order, and that the server's checkpoints are
/// exactly the folder's (so the live log, which the server verifies from its newest
/// checkpoint, continues from the folder's last segment). `Err(problem)` names what failed.
async fn verify_archive(
    client: &signet_client::OperatorClient,
    dir: &std::path::Path,
    keys: Option<&MachineKeys>,
) -> anyhow::Result<Result<ArchiveSummary, String>> {
    let server = client.audit().checkpoints().await?;
    let archive_key = PublicKey::from_base64(&server.public_key)
        .map_err(|e| anyhow::anyhow!("the server's archive key does not parse: {e}"))?;
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("segment-") && n.ends_with(".checkpoint.json"))
        .collect();
    // The names are zero-padded, so this is chain order; the checkpoints' own ranges decide.
    names.sort();
    let mut prev_checkpoint = [0u8; 32];
    let mut prev_last_hash = [0u8; 32];
    let mut next = 1u64;
    let mut records = 0u64;
    let mut found = Vec::new();
    // Every checkpoint is read, signature-checked and matched with its file name before any
    // is chained, so a file moved out of place is named as such, not as the gap it leaves.
    let mut checkpoints = Vec::with_capacity(names.len());
    for name in &names {
        let cp: Checkpoint = match serde_json::from_slice(&std::fs::read(dir.join(name))?) {
            Ok(cp) => cp,
            Err(e) => return Ok(Err(format!("{name} does not parse: {e}"))),
        };
        let parts = match cp.verify(&archive_key) {
            Ok(p) => p,
            Err(e) => return Ok(Err(format!("{name}: {e}"))),
        };
        if *name != Checkpoint::file_name(cp.first_seq, cp.last_seq) {
            return Ok(Err(format!(
                "{name} holds the checkpoint of records {}..={} (a renamed or moved file)",
                cp.first_seq, cp.last_seq
            )));
        }
        checkpoints.push((name, cp, parts));
    }
    for (name, cp, parts) in checkpoints {
        if cp.first_seq != next {
            return Ok(Err(format!(
                "records {next}..={} are missing: the next segment starts at {} (a segment is missing or out of order)",
                cp.first_seq - 1,
                cp.first_seq
            )));
        }
        if parts.prev_checkpoint != prev_checkpoint {
            return Ok(Err(format!(
                "{name} does not name the previous segment's checkpoint (a segment was replaced)"
            )));
        }
        let segment = Checkpoint::segment_name(cp.first_seq, cp.last_seq);
        let file = match std::fs::File::open(dir.join(&segment)) {
            Ok(f) => std::io::BufReader::new(f),
            Err(e) => return Ok(Err(format!("{segment} cannot be opened: {e}"))),
        };
        let checked = verify_segment(file, &parts, &prev_last_hash, |r| {
            match (keys, &r.evidence) {
                (Some(keys), Some(ev)) => {
                    check_evidence(keys, &r.actor_id, ev).map_err(ArchiveError)
                }
                _ => Ok(()),
            }
        });
        if let Err(e) = checked {
            return Ok(Err(format!("{segment}: {e}")));
        }
        prev_checkpoint = parts.hash();
        prev_last_hash = parts.last_hash;
        next = cp.last_seq + 1;
        records += cp.records;
        found.push(cp);
    }
    let on_server: Vec<Checkpoint> = server.checkpoints.into_iter().map(checkpoint).collect();
    if found.len() < on_server.len() {
        return Ok(Err(format!(
            "the server has archived {} segments but the folder holds {}: segments from record {} are missing",
            on_server.len(),
            found.len(),
            next
        )));
    }
    if found.len() > on_server.len() || found != on_server {
        return Ok(Err(
            "the folder's checkpoints are not the ones the server recorded".to_owned(),
        ));
    }
    Ok(Ok(ArchiveSummary {
        segments: found.len() as u64,
        records,
    }))
}

/// The server's checkpoint in the file form.
fn checkpoint(c: signet_client::api::admin::audit::CheckpointAnswer) -> Checkpoint {
    Checkpoint {
        version: c.version,
        first_seq: c.first_seq,
        last_seq: c.last_seq,
        records: c.records,
        last_hash: c.last_hash,
        prev_checkpoint: c.prev_checkpoint,
        segment_sha256: c.segment_sha256,
        public_key: c.public_key,
        signature: c.signature,
    }
}

/// The listing's evidence in the archive's form (the same fields).
fn evidence(ev: &signet_client::api::admin::audit::AuditEvidenceAnswer) -> Evidence {
    Evidence {
        method: ev.method.clone(),
        path: ev.path.clone(),
        timestamp: ev.timestamp,
        nonce: ev.nonce.clone(),
        body_sha256: ev.body_sha256.clone(),
        signature: ev.signature.clone(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// 2026-12-07T12:00:00Z.
    const NOW: i64 = 1_796_644_800_000;

    #[test]
    fn since_and_until_read_dates_timestamps_durations_and_millis() {
        for (text, want) in [
            ("2026-12-01", 1_796_083_200_000),
            ("2026-12-01T10:00:00Z", 1_796_119_200_000),
            ("2026-12-01T11:00:00+01:00", 1_796_119_200_000),
            ("2026-12-01T10:00:00", 1_796_119_200_000),
            ("90m", NOW - 5_400_000),
            ("1h30m", NOW - 5_400_000),
            ("7d", NOW - 604_800_000),
            ("1796083200000", 1_796_083_200_000),
        ] {
            assert_eq!(point_in_time(text, NOW), Ok(want), "{text}");
        }
    }

    #[test]
    fn since_refuses_what_is_no_time() {
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-12-01T25:00:00Z",
            "-1h",
            "0s",
            "1 month",
            "90",
            "0",
            "179608320000",
        ] {
            let e = point_in_time(bad, NOW).unwrap_err();
            assert!(e.contains("2026-12-01"), "{bad}: {e}");
        }
        assert!(
            point_in_time("90", NOW)
                .unwrap_err()
                .contains("(90m, 90h, 90d)")
        );
    }
}
