//! `signet-seed`: fills an installation with many secrets, machines, audit records and nonces
//! for the scale benchmark (`scripts/bench-scale.sh`).
//!
//! Everything goes through the code the server runs, in-process, over the store the server
//! would open (`signet_server::install::open_for_seeding`): secrets are created by core's
//! secret service (encrypted under per-version data keys, each with its audit record),
//! memberships and grants by core's machine service; machines carry real Ed25519 public keys;
//! audit records are chained by the vault's chain key and appended through the store's journal
//! in large batches, so `signet audit verify` checks them like any other; nonces go through the
//! store's nonce set into its durable table. Run it on a stopped installation (after
//! `signet operator init`), then start the server on the same data folder.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Parser;
use signet_core::Signet;
use signet_core::address::ClientAddr;
use signet_core::principal::AuthedOperator;
use signet_core::secret::SecretInput;
use signet_proto::{MachineId, Nonce, ProjectId, SecretSeed};
use signet_server::config::RootKeySource;
use signet_server::install::{self, DB_FILE, DatabaseUrl};
use signet_store::{
    ActorKind, AuditChain, AuditEvent, AuditResult, EnrollMethod, JournalBatch, MachineKind,
    MachineRecord, MachineStatus, Role, Store,
};
use zeroize::Zeroizing;

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(
    name = "signet-seed",
    about = "Fills a stopped installation with secrets, machines, audit records and nonces"
)]
struct Args {
    /// The server's data folder (root key and signet.db), made by `signet operator init`.
    #[arg(long)]
    data_dir: PathBuf,
    /// Secrets to create, spread over projects of `--secrets-per-project`.
    #[arg(long, default_value_t = 1000)]
    secrets: usize,
    /// Secrets per project.
    #[arg(long, default_value_t = 10_000)]
    secrets_per_project: usize,
    /// Approved machines to register, each attached to one project.
    #[arg(long, default_value_t = 0)]
    machines: usize,
    /// Secrets granted to each machine (from its project).
    #[arg(long, default_value_t = 3)]
    grants_per_machine: usize,
    /// The audit log's length to reach: machine reads are appended until the head is here.
    #[arg(long, default_value_t = 0)]
    audit_records: u64,
    /// Unexpired nonces to leave in the replay cache, their expiries spread over one window.
    #[arg(long, default_value_t = 0)]
    nonces: u64,
    /// Concurrent creations (secrets, machines): enough to fill the store's group commits.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Events per journal batch (one transaction each).
    #[arg(long, default_value_t = 20_000)]
    batch: usize,
}

/// The clock window (`CLOCK_WINDOW_SECS`) plus core's second of slack: a nonce remembered now
/// is kept this long.
const NONCE_KEEP_MS: i64 = 301_000;

fn main() -> Result<()> {
    let args = Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?
        .block_on(run(args))
}

async fn run(args: Args) -> Result<()> {
    let started = Instant::now();
    let database = DatabaseUrl::Sqlite(args.data_dir.join(DB_FILE));
    if !args.data_dir.join(DB_FILE).exists() {
        bail!(
            "no installation in {}; run `signet operator init --data-dir {}` first",
            args.data_dir.display(),
            args.data_dir.display()
        );
    }
    let seeding = install::open_for_seeding(&args.data_dir, &database, &RootKeySource::DataDir)
        .await
        .context("open the installation")?;
    let signet = seeding.signet;
    let store = seeding.store;
    let (record, _seed) = signet
        .operators()
        .create_operator("seeder", true)
        .await
        .context("create the seeding operator")?;
    let op = Arc::new(AuthedOperator::key(
        record,
        Role::Owner,
        ClientAddr::Known([127, 0, 0, 1].into()),
    ));
    let mut timings = serde_json::Map::new();

    let t = Instant::now();
    let projects = create_projects(&signet, &op, &args).await?;
    let secrets = create_secrets(&signet, &op, &projects, &args).await?;
    timings.insert("secrets_s".into(), t.elapsed().as_secs_f64().into());

    let t = Instant::now();
    let machines = create_machines(&signet, &store, &op, &projects, &secrets, &args).await?;
    timings.insert("machines_s".into(), t.elapsed().as_secs_f64().into());

    let t = Instant::now();
    let head = |h: Option<signet_store::AuditHead>| h.map_or(0, |h| h.seq);
    let have = head(store.audit_head().await?);
    // One record is kept for last: its append is what makes the nonces below durable.
    let target = args.audit_records.max(have + 1);
    append_reads(
        &store,
        &seeding.chain,
        &machines,
        target - have - 1,
        args.batch,
    )
    .await?;
    timings.insert("audit_s".into(), t.elapsed().as_secs_f64().into());

    let t = Instant::now();
    remember_nonces(&store, &machines, args.nonces).await?;
    append_reads(&store, &seeding.chain, &machines, 1, 1).await?;
    timings.insert("nonces_s".into(), t.elapsed().as_secs_f64().into());

    let head = head(store.audit_head().await?);
    let db_bytes = std::fs::metadata(args.data_dir.join(DB_FILE)).map_or(0, |m| m.len());
    let out = serde_json::json!({
        "secrets": secrets.iter().map(Vec::len).sum::<usize>(),
        "projects": projects.len(),
        "machines": machines.len(),
        "audit_records": head,
        "nonces": args.nonces,
        "db_bytes": db_bytes,
        "timings": timings,
        "total_s": started.elapsed().as_secs_f64(),
    });
    println!("{out}");
    Ok(())
}

async fn create_projects(
    signet: &Signet,
    op: &AuthedOperator,
    args: &Args,
) -> Result<Vec<ProjectId>> {
    let per = args.secrets_per_project.max(1);
    let count = args.secrets.div_ceil(per).max(1);
    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        let p = signet
            .secrets()
            .create_project(op, &format!("seed-{i}"))
            .await
            .with_context(|| format!("create project seed-{i}"))?;
        ids.push(p.id);
    }
    Ok(ids)
}

/// Creates the secrets with `concurrency` workers; returns their ids per project.
async fn create_secrets(
    signet: &Arc<Signet>,
    op: &Arc<AuthedOperator>,
    projects: &[ProjectId],
    args: &Args,
) -> Result<Vec<Vec<String>>> {
    let per = args.secrets_per_project.max(1);
    let total = args.secrets;
    let workers = args.concurrency.max(1);
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..workers {
        let (signet, op, projects) = (signet.clone(), op.clone(), projects.to_vec());
        tasks.spawn(async move {
            let mut made = Vec::new();
            for i in (w..total).step_by(workers) {
                let project = i / per;
                let value =
                    Zeroizing::new(format!("seed-value-{i}-{}", Nonce::generate().as_str()));
                let v = signet
                    .secrets()
                    .create_secret(
                        &op,
                        projects[project].as_str(),
                        &format!("SEED_{i}"),
                        SecretInput::Value(value),
                    )
                    .await
                    .with_context(|| format!("create secret {i}"))?;
                made.push((project, v.id.as_str().to_owned()));
            }
            anyhow::Ok(made)
        });
    }
    let mut by_project = vec![Vec::new(); projects.len()];
    while let Some(done) = tasks.join_next().await {
        for (project, id) in done.context("secret worker")?? {
            by_project[project].push(id);
        }
    }
    Ok(by_project)
}

/// Registers approved machines with fresh Ed25519 keys, attaches each to a project and grants
/// it a few of that project's secrets.
async fn create_machines(
    signet: &Arc<Signet>,
    store: &Arc<dyn Store>,
    op: &Arc<AuthedOperator>,
    projects: &[ProjectId],
    secrets: &[Vec<String>],
    args: &Args,
) -> Result<Vec<(MachineId, Vec<String>)>> {
    let total = args.machines;
    let workers = args.concurrency.max(1);
    let grants = args.grants_per_machine;
    let now = signet.now_ms();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..workers {
        let (signet, store, op) = (signet.clone(), store.clone(), op.clone());
        let (projects, secrets) = (projects.to_vec(), secrets.to_vec());
        tasks.spawn(async move {
            let mut made = Vec::new();
            for i in (w..total).step_by(workers) {
                let project = i % projects.len();
                let m = MachineRecord {
                    id: MachineId::generate(),
                    name: format!("seed-{i}"),
                    hostname: format!("seed-{i}.example"),
                    public_key: SecretSeed::generate().public_key(),
                    status: MachineStatus::Approved,
                    enabled: true,
                    kind: MachineKind::Standard,
                    expires_ms: None,
                    enrolled_via: EnrollMethod::Bootstrap,
                    enrollment_token_id: None,
                    registered_ip: "127.0.0.1".into(),
                    allowed_cidrs: Vec::new(),
                    created_ms: now,
                    ai_agent: None,
                };
                store.insert_machine(&m).await.context("insert machine")?;
                let id = m.id.to_string();
                signet
                    .machines()
                    .set_membership(&op, &id, projects[project].as_str(), true)
                    .await
                    .context("attach machine")?;
                let pool = &secrets[project];
                let granted: Vec<String> = (0..grants.min(pool.len()))
                    .map(|g| pool[(i * grants + g) % pool.len()].clone())
                    .collect();
                if !granted.is_empty() {
                    signet
                        .machines()
                        .set_grants(&op, &id, &granted, true)
                        .await
                        .context("grant secrets")?;
                }
                made.push((m.id, granted));
            }
            anyhow::Ok(made)
        });
    }
    let mut all = Vec::with_capacity(total);
    while let Some(done) = tasks.join_next().await {
        all.extend(done.context("machine worker")??);
    }
    Ok(all)
}

/// Appends `count` machine-read records (as a served read writes them) in journal batches.
async fn append_reads(
    store: &Arc<dyn Store>,
    chain: &Arc<dyn AuditChain>,
    machines: &[(MachineId, Vec<String>)],
    count: u64,
    batch: usize,
) -> Result<()> {
    let batch = batch.max(1) as u64;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let mut done = 0u64;
    // One batch is being written while the next is built.
    let mut in_flight: Option<tokio::task::JoinHandle<Result<()>>> = None;
    while done < count {
        let n = batch.min(count - done);
        let events = (done..done + n)
            .map(|i| read_event(machines, i, now))
            .collect();
        if let Some(prev) = in_flight.take() {
            prev.await.context("journal task")??;
        }
        let (store, chain) = (store.clone(), chain.clone());
        in_flight = Some(tokio::spawn(async move {
            store
                .append_journal(
                    JournalBatch {
                        events,
                        read_marks: Vec::new(),
                    },
                    chain,
                )
                .await
                .map(drop)
                .context("append a journal batch")
        }));
        done += n;
    }
    if let Some(prev) = in_flight {
        prev.await.context("journal task")??;
    }
    Ok(())
}

fn read_event(machines: &[(MachineId, Vec<String>)], i: u64, now: i64) -> AuditEvent {
    let (actor, target) =
        match machines.get(usize::try_from(i).unwrap_or(0) % machines.len().max(1)) {
            Some((m, granted)) => (m.to_string(), granted.first().cloned().unwrap_or_default()),
            None => (String::new(), String::new()),
        };
    AuditEvent {
        ts_ms: now,
        actor_kind: ActorKind::Machine,
        actor_id: actor,
        action: "secret_read".into(),
        target,
        source_ip: "127.0.0.1".into(),
        result: AuditResult::Ok,
        detail: "version=1".into(),
        // No signed evidence: a seeded record was never asked for by a machine, and evidence
        // that did not verify would be a forgery `audit verify --signatures` rightly refuses.
        // A real read's record is about 168 bytes larger (BENCHMARKS.md, audit record size).
        evidence: None,
    }
}

/// Remembers `count` fresh nonces for the seeded machines, their expiries spread evenly over
/// the coming window as a server at a steady rate would have left them.
async fn remember_nonces(
    store: &Arc<dyn Store>,
    machines: &[(MachineId, Vec<String>)],
    count: u64,
) -> Result<()> {
    if count == 0 {
        return Ok(());
    }
    let principals: Vec<String> = if machines.is_empty() {
        vec![MachineId::generate().to_string()]
    } else {
        machines.iter().map(|(m, _)| m.to_string()).collect()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let step = NONCE_KEEP_MS as f64 / count as f64;
    for i in 0..count {
        let principal = &principals[usize::try_from(i).unwrap_or(0) % principals.len()];
        let expires = now + 1000 + (i as f64 * step) as i64;
        let fresh = store
            .remember_nonce(principal, Nonce::generate().as_str(), expires)
            .await
            .context("remember a nonce")?;
        if !fresh {
            bail!("a generated nonce was already remembered");
        }
    }
    Ok(())
}
