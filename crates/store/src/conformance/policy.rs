//! Access policies: CRUD, bindings, the in-use rule, and exact counters.

use std::sync::Arc;

use signet_proto::{MachineId, PolicyId, ProjectId, SecretId};

use super::fixture::{add_machine, add_project, add_secret};
use crate::{
    Conflict, CounterAxis, CounterTake, PolicyRead, PolicyReadOutcome, PolicyRecord, Store,
    StoreError,
};

const NOW: i64 = 1_800_000_000_000;

fn record(project: &ProjectId, name: &str) -> PolicyRecord {
    PolicyRecord {
        id: PolicyId::generate(),
        project_id: project.clone(),
        name: name.to_owned(),
        rules: r#"{"perMinute":3}"#.to_owned(),
        created_ms: NOW,
        updated_ms: NOW,
    }
}

fn read(secret: &SecretId, machine: MachineId, takes: Vec<CounterTake>) -> PolicyRead {
    PolicyRead {
        secret: secret.clone(),
        machine,
        now_ms: NOW,
        cosign: None,
        takes,
    }
}

fn take(
    machine: Option<MachineId>,
    axis: CounterAxis,
    window: i64,
    cap: Option<u64>,
) -> CounterTake {
    CounterTake {
        machine,
        axis,
        window,
        cap,
    }
}

/// Policies round-trip by name within their project; names are unique per project only;
/// update replaces name and rules; each needs its rows.
pub async fn policies_round_trip_by_name(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let q = add_project(&store, "q").await;
    let b = record(&p.id, "b");
    let a = record(&p.id, "a");
    store.insert_policy(&b).await.unwrap();
    store.insert_policy(&a).await.unwrap();
    // The same name in another project is no conflict.
    store.insert_policy(&record(&q.id, "a")).await.unwrap();
    assert_eq!(
        store.insert_policy(&record(&p.id, "a")).await,
        Err(StoreError::Conflict(Conflict::PolicyName))
    );
    assert_eq!(
        store
            .insert_policy(&record(&ProjectId::generate(), "x"))
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.policies(&p.id).await.unwrap(),
        [(a.clone(), 0), (b.clone(), 0)]
    );
    assert_eq!(store.policy(&a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.policy(&PolicyId::generate()).await.unwrap(), None);

    store
        .update_policy(&a.id, "c", r#"{"perDay":1}"#, NOW + 5)
        .await
        .unwrap();
    let updated = PolicyRecord {
        name: "c".to_owned(),
        rules: r#"{"perDay":1}"#.to_owned(),
        updated_ms: NOW + 5,
        ..a.clone()
    };
    assert_eq!(store.policy(&a.id).await.unwrap(), Some(updated.clone()));
    assert_eq!(
        store.update_policy(&a.id, "b", "{}", NOW).await,
        Err(StoreError::Conflict(Conflict::PolicyName))
    );
    assert_eq!(
        store
            .update_policy(&PolicyId::generate(), "z", "{}", NOW)
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(store.policies(&p.id).await.unwrap(), [(b, 0), (updated, 0)]);
}

/// A binding shows in the read view (joined, no second query), is replaced or cleared, never
/// crosses projects, and keeps its policy from being deleted until it is gone.
pub async fn a_bound_policy_is_in_the_read_view_and_in_use(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let q = add_project(&store, "q").await;
    let s = add_secret(&store, &p.id, "s").await;
    let m = add_machine(&store, "m").await;
    let pol = record(&p.id, "pol");
    let other = record(&q.id, "other");
    store.insert_policy(&pol).await.unwrap();
    store.insert_policy(&other).await.unwrap();

    assert_eq!(
        store.read_view(&m.id, &s.id).await.unwrap().unwrap().policy,
        None
    );
    store.bind_policy(&s.id, Some(&pol.id)).await.unwrap();
    assert_eq!(
        store.read_view(&m.id, &s.id).await.unwrap().unwrap().policy,
        Some(pol.clone())
    );
    assert_eq!(
        store.secret_policy(&s.id).await.unwrap(),
        Some(pol.id.clone())
    );
    assert_eq!(store.policies(&p.id).await.unwrap(), [(pol.clone(), 1)]);

    // Another project's policy, an unknown one, an unknown secret: nothing changes.
    assert_eq!(
        store.bind_policy(&s.id, Some(&other.id)).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.bind_policy(&s.id, Some(&PolicyId::generate())).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store
            .bind_policy(&SecretId::generate(), Some(&pol.id))
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.secret_policy(&s.id).await.unwrap(),
        Some(pol.id.clone())
    );

    assert_eq!(
        store.delete_policy(&pol.id).await,
        Err(StoreError::Conflict(Conflict::PolicyInUse))
    );
    // A deleted secret still holds its binding: it may be restored.
    store.delete_secret(&s.id, NOW).await.unwrap();
    assert_eq!(
        store.delete_policy(&pol.id).await,
        Err(StoreError::Conflict(Conflict::PolicyInUse))
    );
    let t = add_secret(&store, &p.id, "t").await;
    store.bind_policy(&t.id, Some(&pol.id)).await.unwrap();
    store.bind_policy(&t.id, None).await.unwrap();
    assert_eq!(
        store.read_view(&m.id, &t.id).await.unwrap().unwrap().policy,
        None
    );
    assert_eq!(store.policy(&pol.id).await.unwrap(), Some(pol.clone()));
    assert_eq!(store.delete_policy(&other.id).await, Ok(()));
    assert_eq!(
        store.delete_policy(&other.id).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(store.policy(&other.id).await.unwrap(), None);
}

/// Counters: all takes or none, the index of the one at its cap, a new window starts again,
/// and co-sign needs the other machine's recorded read.
pub async fn counters_take_all_or_nothing(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let s = add_secret(&store, &p.id, "s").await;
    let m = add_machine(&store, "m").await.id;
    let other = add_machine(&store, "o").await.id;
    let takes = |window| {
        vec![
            take(Some(m), CounterAxis::Minute, window, Some(3)),
            take(Some(m), CounterAxis::Day, 0, Some(4)),
            take(None, CounterAxis::Version, 1, None),
        ]
    };
    for n in 1..=3 {
        assert_eq!(
            store
                .record_policy_read(&read(&s.id, m, takes(60)))
                .await
                .unwrap(),
            PolicyReadOutcome::Taken(vec![n, n, n])
        );
    }
    // The minute is spent: nothing is taken, the day and version counts do not move.
    assert_eq!(
        store
            .record_policy_read(&read(&s.id, m, takes(60)))
            .await
            .unwrap(),
        PolicyReadOutcome::AtCap(0)
    );
    // A new minute: the minute count starts again; the day is spent at its fourth read.
    assert_eq!(
        store
            .record_policy_read(&read(&s.id, m, takes(120)))
            .await
            .unwrap(),
        PolicyReadOutcome::Taken(vec![1, 4, 4])
    );
    assert_eq!(
        store
            .record_policy_read(&read(&s.id, m, takes(180)))
            .await
            .unwrap(),
        PolicyReadOutcome::AtCap(1)
    );
    // A cap of 0 refuses the first take.
    assert_eq!(
        store
            .record_policy_read(&read(
                &s.id,
                other,
                vec![take(None, CounterAxis::Total, 0, Some(0))]
            ))
            .await
            .unwrap(),
        PolicyReadOutcome::AtCap(0)
    );
    assert_eq!(store.last_policy_read(&m, &s.id).await.unwrap(), Some(NOW));
    assert_eq!(store.last_policy_read(&other, &s.id).await.unwrap(), None);

    // Co-sign: `other` has not read; then it reads; then its read is too old.
    let mut cosigned = read(&s.id, m, Vec::new());
    cosigned.cosign = Some((other, NOW - 1000));
    assert_eq!(
        store.record_policy_read(&cosigned).await.unwrap(),
        PolicyReadOutcome::NoCosign
    );
    store
        .record_policy_read(&read(&s.id, other, Vec::new()))
        .await
        .unwrap();
    assert_eq!(
        store.record_policy_read(&cosigned).await.unwrap(),
        PolicyReadOutcome::Taken(Vec::new())
    );
    cosigned.cosign = Some((other, NOW + 1));
    assert_eq!(
        store.record_policy_read(&cosigned).await.unwrap(),
        PolicyReadOutcome::NoCosign
    );
}

/// Racing takes against a cap: exactly the cap succeed, and the count ends at the cap.
pub async fn concurrent_takes_stop_exactly_at_the_cap(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let s = add_secret(&store, &p.id, "s").await;
    let m = add_machine(&store, "m").await.id;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = Arc::clone(&store);
        let r = read(
            &s.id,
            m,
            vec![
                take(Some(m), CounterAxis::Minute, 60, Some(5)),
                take(None, CounterAxis::Total, 0, Some(1000)),
            ],
        );
        tasks.push(tokio::spawn(
            async move { store.record_policy_read(&r).await },
        ));
    }
    let mut taken = Vec::new();
    for t in tasks {
        match t.await.unwrap().unwrap() {
            PolicyReadOutcome::Taken(counts) => taken.push(counts[0]),
            other => assert_eq!(other, PolicyReadOutcome::AtCap(0)),
        }
    }
    taken.sort_unstable();
    assert_eq!(taken, [1, 2, 3, 4, 5]);
    // The refused reads took nothing from the total either.
    assert_eq!(
        store
            .record_policy_read(&read(
                &s.id,
                m,
                vec![take(None, CounterAxis::Total, 0, Some(1000))]
            ))
            .await
            .unwrap(),
        PolicyReadOutcome::Taken(vec![6])
    );
}
