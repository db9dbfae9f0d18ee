//! Alerts: webhooks and rules stored as given; the tailer's cursor moves only from where the
//! caller read it, with its deliveries or not at all; a `dedup` key enqueues once; claims are
//! exclusive and finished only by their holder.

use std::sync::Arc;

use signet_proto::{AlertRuleId, DeliveryId, OperatorId, WebhookId};

use super::fixture::NOW;
use crate::{
    AlertCursor, AlertRuleRecord, DeliveryOutcome, DeliveryRecord, DeliveryStatus, Store,
    StoreError, WebhookRecord,
};

/// A webhook with a sealed secret, created at `created_ms`.
pub(crate) fn webhook(created_ms: i64) -> WebhookRecord {
    WebhookRecord {
        id: WebhookId::generate(),
        name: format!("hook {created_ms}"),
        url: "https://hooks.example.com/signet".to_owned(),
        sealed_secret: Some(vec![7; 40]),
        enabled: true,
        created_by: OperatorId::generate(),
        created_ms,
        updated_ms: created_ms,
    }
}

/// A pending delivery to `webhook`, due at `due_ms`.
pub(crate) fn delivery(webhook: &WebhookId, dedup: Option<&str>, due_ms: i64) -> DeliveryRecord {
    DeliveryRecord {
        id: DeliveryId::generate(),
        webhook_id: webhook.clone(),
        rule_id: Some(AlertRuleId::generate()),
        event: "canary_triggered".to_owned(),
        severity: "critical".to_owned(),
        payload: r#"{"id":"x"}"#.to_owned(),
        dedup: dedup.map(str::to_owned),
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_attempt_ms: due_ms,
        claim_until_ms: None,
        last_status_code: None,
        last_error: None,
        last_duration_ms: None,
        created_ms: due_ms,
        updated_ms: due_ms,
    }
}

/// Webhooks and rules read back as stored, oldest first; updates keep the secret; deletes
/// are `NotFound` the second time, and a webhook's deliveries go with it.
pub async fn webhooks_and_rules_round_trip(store: Arc<dyn Store>) {
    let a = webhook(NOW);
    let b = WebhookRecord {
        sealed_secret: None,
        enabled: false,
        ..webhook(NOW + 1)
    };
    store.insert_webhook(&a).await.unwrap();
    store.insert_webhook(&b).await.unwrap();
    assert_eq!(store.webhooks().await.unwrap(), [a.clone(), b.clone()]);
    let renamed = WebhookRecord {
        name: "renamed".to_owned(),
        url: "https://other.example.com/x".to_owned(),
        sealed_secret: None,
        enabled: false,
        updated_ms: NOW + 5,
        ..a.clone()
    };
    store.update_webhook(&renamed).await.unwrap();
    let stored = store.webhooks().await.unwrap();
    assert_eq!(stored[0].name, "renamed");
    assert_eq!(stored[0].url, "https://other.example.com/x");
    assert!(!stored[0].enabled);
    assert_eq!(
        stored[0].sealed_secret, a.sealed_secret,
        "an update never touches the secret"
    );
    assert_eq!(
        store.update_webhook(&webhook(NOW)).await,
        Err(StoreError::NotFound)
    );

    let rule = AlertRuleRecord {
        id: AlertRuleId::generate(),
        name: "canaries".to_owned(),
        severity: "critical".to_owned(),
        spec: r#"{"kind":"actions","actions":["canary_triggered"]}"#.to_owned(),
        webhooks: vec![a.id.clone(), b.id.clone()],
        created_by: OperatorId::generate(),
        created_ms: NOW,
    };
    store.insert_alert_rule(&rule).await.unwrap();
    assert_eq!(
        store.alert_rules().await.unwrap(),
        std::slice::from_ref(&rule)
    );
    store.delete_alert_rule(&rule.id).await.unwrap();
    assert_eq!(
        store.delete_alert_rule(&rule.id).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(store.alert_rules().await.unwrap(), []);

    store
        .insert_delivery(&delivery(&a.id, None, NOW))
        .await
        .unwrap();
    store
        .insert_delivery(&delivery(&b.id, None, NOW))
        .await
        .unwrap();
    store.delete_webhook(&a.id).await.unwrap();
    assert_eq!(store.delete_webhook(&a.id).await, Err(StoreError::NotFound));
    let left = store.deliveries(100).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].webhook_id, b.id);
}

/// The cursor is created once, then moves only from the position the caller read; a lost
/// move writes none of its deliveries; a taken `dedup` is skipped, not an error.
pub async fn the_cursor_moves_only_from_where_it_was_read(store: Arc<dyn Store>) {
    let w = webhook(NOW);
    store.insert_webhook(&w).await.unwrap();
    assert_eq!(store.alert_cursor().await.unwrap(), None);
    let first = AlertCursor {
        next_seq: 5,
        state: "{}".to_owned(),
    };
    assert_eq!(store.advance_alerts(None, &first, &[]).await.unwrap(), 0);
    // A second "first" tailer lost the race.
    assert_eq!(
        store
            .advance_alerts(None, &first, &[delivery(&w.id, Some("a"), NOW)])
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(store.alert_cursor().await.unwrap(), Some(first.clone()));
    let next = AlertCursor {
        next_seq: 9,
        state: r#"{"b":1}"#.to_owned(),
    };
    let batch = [
        delivery(&w.id, Some("5:r:w"), NOW),
        delivery(&w.id, Some("6:r:w"), NOW),
    ];
    assert_eq!(
        store.advance_alerts(Some(5), &next, &batch).await.unwrap(),
        2
    );
    // A replica that read the old position finds it moved: nothing is written twice.
    let stale = [delivery(&w.id, Some("7:r:w"), NOW)];
    assert_eq!(
        store.advance_alerts(Some(5), &next, &stale).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(store.alert_cursor().await.unwrap(), Some(next.clone()));
    assert_eq!(store.deliveries(100).await.unwrap().len(), 2);
    // The same alert again (a burst window fired before) is skipped.
    let again = AlertCursor {
        next_seq: 12,
        state: "{}".to_owned(),
    };
    let dup = [
        delivery(&w.id, Some("5:r:w"), NOW),
        delivery(&w.id, Some("9:r:w"), NOW),
    ];
    assert_eq!(
        store.advance_alerts(Some(9), &again, &dup).await.unwrap(),
        1
    );
    assert_eq!(store.deliveries(100).await.unwrap().len(), 3);
}

/// Claims take due, unclaimed deliveries once each and count the attempt; a claim that ran
/// out can be taken again, and then only the new holder can finish it.
pub async fn claims_are_exclusive_and_finished_by_their_holder(store: Arc<dyn Store>) {
    let w = webhook(NOW);
    store.insert_webhook(&w).await.unwrap();
    let due = delivery(&w.id, Some("d1"), NOW);
    let later = delivery(&w.id, Some("d2"), NOW + 60_000);
    store.insert_delivery(&due).await.unwrap();
    store.insert_delivery(&later).await.unwrap();

    let claimed = store.claim_deliveries(NOW, NOW + 30_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, due.id);
    assert_eq!(claimed[0].attempts, 1);
    assert_eq!(claimed[0].claim_until_ms, Some(NOW + 30_000));
    // Claimed: nobody else gets it while the claim holds.
    assert_eq!(
        store
            .claim_deliveries(NOW + 1, NOW + 30_001, 10)
            .await
            .unwrap(),
        []
    );
    // The holder crashed; after its deadline another dispatcher takes it.
    let again = store
        .claim_deliveries(NOW + 30_000, NOW + 60_000, 1)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
    let retry = DeliveryOutcome {
        status: DeliveryStatus::Pending,
        next_attempt_ms: NOW + 90_000,
        status_code: Some(503),
        error: Some("status".to_owned()),
        duration_ms: 12,
        now_ms: NOW + 30_001,
    };
    // The first holder's late answer is refused: the claim is no longer its own.
    assert_eq!(
        store.finish_delivery(&due.id, NOW + 30_000, &retry).await,
        Err(StoreError::NotFound)
    );
    store
        .finish_delivery(&due.id, NOW + 60_000, &retry)
        .await
        .unwrap();
    let log = store.deliveries(10).await.unwrap();
    let row = log.iter().find(|d| d.id == due.id).unwrap();
    assert_eq!(row.status, DeliveryStatus::Pending);
    assert_eq!(row.last_status_code, Some(503));
    assert_eq!(row.last_error.as_deref(), Some("status"));
    assert_eq!(row.claim_until_ms, None);
    assert_eq!(row.next_attempt_ms, NOW + 90_000);

    let claimed = store
        .claim_deliveries(NOW + 90_000, NOW + 120_000, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2, "the retry and the later one are both due");
    for d in &claimed {
        let done = DeliveryOutcome {
            status: DeliveryStatus::Delivered,
            next_attempt_ms: d.next_attempt_ms,
            status_code: Some(204),
            error: None,
            duration_ms: 3,
            now_ms: NOW + 90_001,
        };
        store
            .finish_delivery(&d.id, NOW + 120_000, &done)
            .await
            .unwrap();
        // Finished: a second finish finds nothing pending.
        assert_eq!(
            store.finish_delivery(&d.id, NOW + 120_000, &done).await,
            Err(StoreError::NotFound)
        );
    }
    assert_eq!(
        store
            .claim_deliveries(NOW + 10_000_000, NOW + 10_030_000, 10)
            .await
            .unwrap(),
        []
    );
}

/// Concurrent dispatchers never claim the same delivery.
pub async fn concurrent_claims_split_the_work(store: Arc<dyn Store>) {
    let w = webhook(NOW);
    store.insert_webhook(&w).await.unwrap();
    for i in 0..20 {
        store
            .insert_delivery(&delivery(&w.id, Some(&format!("c{i}")), NOW))
            .await
            .unwrap();
    }
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                for _ in 0..10 {
                    mine.extend(
                        store
                            .claim_deliveries(NOW, NOW + 30_000, 3)
                            .await
                            .unwrap()
                            .into_iter()
                            .map(|d| d.id),
                    );
                }
                mine
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), n, "a delivery was claimed twice");
    assert_eq!(n, 20);
}
