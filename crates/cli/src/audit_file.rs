//! `signet audit verify --file`: checks audit device files offline (`docs/operations.md`,
//! "Audit devices"). Every line is a record with its chain link; the files are one stream.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use signet_core::ChainKey;
use signet_core::audit_device::{AuditLine, check_line};

use crate::output;

/// Where a check failed: the file, the line (from 1), and what was wrong.
struct Bad {
    file: PathBuf,
    line: u64,
    problem: String,
}

/// What a stream that passed held.
#[derive(Default)]
struct Summary {
    records: u64,
    first_seq: Option<u64>,
    last_seq: Option<u64>,
    /// Missing ranges, inclusive.
    gaps: Vec<(u64, u64)>,
}

/// A line parsed strictly: the record form, nothing else, no trailing bytes.
fn parse(line: &[u8]) -> Result<AuditLine, String> {
    serde_json::from_slice(line).map_err(|e| format!("does not parse as an audit record: {e}"))
}

/// The first record of a file, to put several files in chain order. `None` for an empty file.
fn first_seq(path: &Path) -> anyhow::Result<Option<u64>> {
    let mut r = std::io::BufReader::new(
        std::fs::File::open(path)
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?,
    );
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line)?;
    Ok(parse(line.strip_suffix(b"\n").unwrap_or(&line))
        .ok()
        .map(|l| l.seq))
}

/// Walks the files as one stream.
fn check(
    files: &[PathBuf],
    chain: Option<&ChainKey>,
    allow_gaps: bool,
) -> anyhow::Result<Result<Summary, Bad>> {
    let mut ordered = Vec::with_capacity(files.len());
    for f in files {
        ordered.push((first_seq(f)?, f.clone()));
    }
    // Files whose first line does not parse stay where they were given, so the error names it.
    ordered.sort_by_key(|(seq, _)| seq.unwrap_or(0));
    let mut sum = Summary::default();
    // The previous record's seq and hash.
    let mut prev: Option<(u64, String)> = None;
    for (_, path) in &ordered {
        let mut r = std::io::BufReader::new(std::fs::File::open(path)?);
        let mut n = 0u64;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            if r.read_until(b'\n', &mut buf)? == 0 {
                break;
            }
            n += 1;
            let bad = |problem: String| Bad {
                file: path.clone(),
                line: n,
                problem,
            };
            let Some(text) = buf.strip_suffix(b"\n") else {
                return Ok(Err(bad(
                    "the last line is cut short (no newline): a write was interrupted or the file truncated"
                        .to_owned(),
                )));
            };
            let l = match parse(text) {
                Ok(l) => l,
                Err(p) => return Ok(Err(bad(p))),
            };
            match &prev {
                None if l.seq == 1 && l.prev_hash != "0".repeat(64) => {
                    return Ok(Err(bad(
                        "record 1 does not start the chain (its prevHash is not zeros)".to_owned(),
                    )));
                }
                None => {}
                Some((seq, _)) if l.seq <= *seq => {
                    return Ok(Err(bad(format!(
                        "record {} comes after record {seq}: lines are out of order or repeated",
                        l.seq
                    ))));
                }
                Some((seq, hash)) if l.seq == seq + 1 && l.prev_hash != *hash => {
                    return Ok(Err(bad(format!(
                        "record {} does not link to record {seq} on the line before (one of \
                         the two was altered, or a line replaced)",
                        l.seq
                    ))));
                }
                Some((seq, _)) if l.seq == seq + 1 => {}
                Some((seq, _)) => {
                    if !allow_gaps {
                        return Ok(Err(bad(format!(
                            "records {}..={} are missing before record {} (a line was removed; \
                             pass --allow-gaps for a best-effort device)",
                            seq + 1,
                            l.seq - 1,
                            l.seq
                        ))));
                    }
                    sum.gaps.push((seq + 1, l.seq - 1));
                }
            }
            if let Some(chain) = chain
                && let Err(p) = check_line(chain, &l)
            {
                return Ok(Err(bad(p)));
            }
            sum.records += 1;
            sum.first_seq.get_or_insert(l.seq);
            sum.last_seq = Some(l.seq);
            prev = Some((l.seq, l.hash));
        }
    }
    Ok(Ok(sum))
}

/// Runs the check and prints its outcome; exits 1 on a broken stream, naming the first bad
/// line.
pub fn verify_files(
    files: &[PathBuf],
    chain: Option<&ChainKey>,
    allow_gaps: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    match check(files, chain, allow_gaps)? {
        Err(bad) => {
            if json {
                output::json(&serde_json::json!({
                    "ok": false,
                    "file": bad.file.display().to_string(),
                    "line": bad.line,
                    "problem": bad.problem,
                }))?;
            }
            eprintln!(
                "error: the audit file is broken at {}:{}: {}",
                bad.file.display(),
                bad.line,
                bad.problem
            );
            Ok(ExitCode::from(1))
        }
        Ok(sum) => {
            if json {
                output::json(&serde_json::json!({
                    "ok": true,
                    "records": sum.records,
                    "firstSeq": sum.first_seq,
                    "lastSeq": sum.last_seq,
                    "gaps": sum.gaps.iter().map(|(a, b)| [a, b]).collect::<Vec<_>>(),
                    "macsChecked": chain.is_some(),
                }))?;
            } else {
                let range = match (sum.first_seq, sum.last_seq) {
                    (Some(a), Some(b)) => format!("seq {a}..={b}"),
                    _ => "no records".to_owned(),
                };
                let mut lines = vec![format!(
                    "audit file ok: {} records, {range}, in {} file(s); {}",
                    sum.records,
                    files.len(),
                    if chain.is_some() {
                        "every MAC recomputed with the vault's audit key"
                    } else {
                        "links checked, MACs not (give --data-dir or --config to recompute them)"
                    }
                )];
                for (a, b) in &sum.gaps {
                    lines.push(format!(
                        "gap: records {a}..={b} are not in the file(s) (a best-effort device \
                         dropped them, or the device was not attached while they were written)"
                    ));
                }
                output::lines(lines)?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
