//! Webhooks, alert rules, the tailer's cursor and the delivery outbox. Every write runs on the
//! single writer, so the cursor's compare-and-set and a claim's conditional update cannot
//! interleave with another process's: SQLite serialises them on the file's write lock.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, Transaction, params};
use signet_proto::{AlertRuleId, DeliveryId, WebhookId};
use signet_store::{
    AlertCursor, AlertRuleRecord, AlertStore, DeliveryOutcome, DeliveryRecord, DeliveryStatus,
    StoreError, StoreResult, WebhookRecord,
};

use crate::SqliteStore;
use crate::error::{corrupt, db};
use crate::row::{col, id, id_list, name, opt_id, seq, seq_param, to_list};
use crate::statement::{all, exec, exec_found, one};

macro_rules! webhook_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, name, url, sealed_secret, enabled, created_by, created_ms, updated_ms
             FROM webhooks ",
            $rest
        )
    };
}

macro_rules! delivery_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, webhook_id, rule_id, event, severity, payload, dedup, status, attempts,
                    next_attempt_ms, claim_until_ms, last_status_code, last_error,
                    last_duration_ms, created_ms, updated_ms
             FROM webhook_deliveries ",
            $rest
        )
    };
}

fn webhook(row: &Row<'_>) -> StoreResult<WebhookRecord> {
    Ok(WebhookRecord {
        id: id(row, 0)?,
        name: col(row, 1)?,
        url: col(row, 2)?,
        sealed_secret: col(row, 3)?,
        enabled: col::<i64>(row, 4)? != 0,
        created_by: id(row, 5)?,
        created_ms: col(row, 6)?,
        updated_ms: col(row, 7)?,
    })
}

fn rule(row: &Row<'_>) -> StoreResult<AlertRuleRecord> {
    Ok(AlertRuleRecord {
        id: id(row, 0)?,
        name: col(row, 1)?,
        severity: col(row, 2)?,
        spec: col(row, 3)?,
        webhooks: id_list(row, 4)?,
        created_by: id(row, 5)?,
        created_ms: col(row, 6)?,
    })
}

fn delivery(row: &Row<'_>) -> StoreResult<DeliveryRecord> {
    let attempts: i64 = col(row, 8)?;
    let code: Option<i64> = col(row, 11)?;
    Ok(DeliveryRecord {
        id: id(row, 0)?,
        webhook_id: id(row, 1)?,
        rule_id: opt_id(row, 2)?,
        event: col(row, 3)?,
        severity: col(row, 4)?,
        payload: col(row, 5)?,
        dedup: col(row, 6)?,
        status: name(row, 7, DeliveryStatus::parse)?,
        attempts: u32::try_from(attempts).map_err(|_| corrupt("attempts"))?,
        next_attempt_ms: col(row, 9)?,
        claim_until_ms: col(row, 10)?,
        last_status_code: code
            .map(|c| u16::try_from(c).map_err(|_| corrupt("status code")))
            .transpose()?,
        last_error: col(row, 12)?,
        last_duration_ms: col(row, 13)?,
        created_ms: col(row, 14)?,
        updated_ms: col(row, 15)?,
    })
}

/// Inserts one delivery; with `skip_taken`, a taken `dedup` is not an error (answers false).
fn insert_delivery(
    tx: &Transaction<'_>,
    d: &DeliveryRecord,
    skip_taken: bool,
) -> StoreResult<bool> {
    let p = params![
        d.id.to_string(),
        d.webhook_id.as_str(),
        d.rule_id.as_ref().map(|r| r.as_str().to_owned()),
        d.event,
        d.severity,
        d.payload,
        d.dedup,
        d.status.as_str(),
        i64::from(d.attempts),
        d.next_attempt_ms,
        d.claim_until_ms,
        d.last_status_code.map(i64::from),
        d.last_error,
        d.last_duration_ms,
        d.created_ms,
        d.updated_ms
    ];
    let n = if skip_taken {
        exec(
            tx,
            "INSERT INTO webhook_deliveries (id, webhook_id, rule_id, event, severity, payload,
                 dedup, status, attempts, next_attempt_ms, claim_until_ms, last_status_code,
                 last_error, last_duration_ms, created_ms, updated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
             ON CONFLICT (dedup) DO NOTHING",
            p,
        )?
    } else {
        exec(
            tx,
            "INSERT INTO webhook_deliveries (id, webhook_id, rule_id, event, severity, payload,
                 dedup, status, attempts, next_attempt_ms, claim_until_ms, last_status_code,
                 last_error, last_duration_ms, created_ms, updated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            p,
        )?
    };
    Ok(n > 0)
}

#[async_trait]
impl AlertStore for SqliteStore {
    async fn insert_webhook(&self, w: &WebhookRecord) -> StoreResult<()> {
        let w = w.clone();
        self.write(move |tx| {
            exec(
                tx,
                "INSERT INTO webhooks (id, name, url, sealed_secret, enabled, created_by,
                     created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    w.id.as_str(),
                    w.name,
                    w.url,
                    w.sealed_secret,
                    i64::from(w.enabled),
                    w.created_by.to_string(),
                    w.created_ms,
                    w.updated_ms
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn webhooks(&self) -> StoreResult<Vec<WebhookRecord>> {
        self.read(|c| all(c, webhook_select!("ORDER BY created_ms, id"), [], webhook))
    }

    async fn update_webhook(&self, w: &WebhookRecord) -> StoreResult<()> {
        let w = w.clone();
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE webhooks SET name = ?2, url = ?3, enabled = ?4, updated_ms = ?5
                 WHERE id = ?1",
                params![
                    w.id.as_str(),
                    w.name,
                    w.url,
                    i64::from(w.enabled),
                    w.updated_ms
                ],
            )
        })
        .await
    }

    async fn delete_webhook(&self, webhook_id: &WebhookId) -> StoreResult<()> {
        let webhook_id = webhook_id.to_string();
        self.write(move |tx| {
            exec_found(tx, "DELETE FROM webhooks WHERE id = ?1", [&webhook_id])?;
            exec(
                tx,
                "DELETE FROM webhook_deliveries WHERE webhook_id = ?1",
                [&webhook_id],
            )
            .map(drop)
        })
        .await
    }

    async fn insert_alert_rule(&self, r: &AlertRuleRecord) -> StoreResult<()> {
        let r = r.clone();
        self.write(move |tx| {
            exec(
                tx,
                "INSERT INTO alert_rules (id, name, severity, spec, webhooks, created_by,
                     created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    r.id.as_str(),
                    r.name,
                    r.severity,
                    r.spec,
                    to_list(&r.webhooks.iter().map(|w| w.as_str()).collect::<Vec<_>>()),
                    r.created_by.to_string(),
                    r.created_ms
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn alert_rules(&self) -> StoreResult<Vec<AlertRuleRecord>> {
        self.read(|c| {
            all(
                c,
                "SELECT id, name, severity, spec, webhooks, created_by, created_ms
                 FROM alert_rules ORDER BY created_ms, id",
                [],
                rule,
            )
        })
    }

    async fn delete_alert_rule(&self, rule_id: &AlertRuleId) -> StoreResult<()> {
        let rule_id = rule_id.to_string();
        self.write(move |tx| exec_found(tx, "DELETE FROM alert_rules WHERE id = ?1", [&rule_id]))
            .await
    }

    async fn alert_cursor(&self) -> StoreResult<Option<AlertCursor>> {
        self.read(|c| {
            one(
                c,
                "SELECT next_seq, state FROM alert_cursor WHERE id = 1",
                [],
                |r| {
                    Ok(AlertCursor {
                        next_seq: seq(r, 0)?,
                        state: col(r, 1)?,
                    })
                },
            )
        })
    }

    async fn advance_alerts(
        &self,
        expected: Option<u64>,
        next: &AlertCursor,
        deliveries: &[DeliveryRecord],
    ) -> StoreResult<u64> {
        let next = next.clone();
        let deliveries = deliveries.to_vec();
        self.write(move |tx| {
            let moved = match expected {
                None => exec(
                    tx,
                    "INSERT INTO alert_cursor (id, next_seq, state) VALUES (1, ?1, ?2)
                     ON CONFLICT (id) DO NOTHING",
                    params![seq_param(next.next_seq), next.state],
                )?,
                Some(at) => exec(
                    tx,
                    "UPDATE alert_cursor SET next_seq = ?2, state = ?3
                     WHERE id = 1 AND next_seq = ?1",
                    params![seq_param(at), seq_param(next.next_seq), next.state],
                )?,
            };
            if moved == 0 {
                return Err(StoreError::NotFound);
            }
            let mut inserted = 0;
            for d in &deliveries {
                if insert_delivery(tx, d, true)? {
                    inserted += 1;
                }
            }
            Ok(inserted)
        })
        .await
    }

    async fn insert_delivery(&self, d: &DeliveryRecord) -> StoreResult<()> {
        let d = d.clone();
        self.write(move |tx| insert_delivery(tx, &d, false).map(drop))
            .await
    }

    async fn claim_deliveries(
        &self,
        now_ms: i64,
        claim_until_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        self.write(move |tx| {
            let due = all(
                tx,
                "SELECT id FROM webhook_deliveries
                 WHERE status = 'pending' AND next_attempt_ms <= ?1
                   AND (claim_until_ms IS NULL OR claim_until_ms <= ?1)
                 ORDER BY next_attempt_ms, id LIMIT ?2",
                params![now_ms, i64::from(limit)],
                |r| col::<String>(r, 0),
            )?;
            let mut claimed = Vec::with_capacity(due.len());
            for d in due {
                exec(
                    tx,
                    "UPDATE webhook_deliveries SET claim_until_ms = ?2, attempts = attempts + 1,
                         updated_ms = ?3
                     WHERE id = ?1",
                    params![d, claim_until_ms, now_ms],
                )?;
                let row = tx
                    .prepare_cached(delivery_select!("WHERE id = ?1"))
                    .and_then(|mut st| st.query_row([&d], |r| Ok(delivery(r))).optional())
                    .map_err(db)?;
                if let Some(row) = row {
                    claimed.push(row?);
                }
            }
            Ok(claimed)
        })
        .await
    }

    async fn finish_delivery(
        &self,
        delivery_id: &DeliveryId,
        claim_until_ms: i64,
        o: &DeliveryOutcome,
    ) -> StoreResult<()> {
        let delivery_id = delivery_id.to_string();
        let o = o.clone();
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE webhook_deliveries SET status = ?3, next_attempt_ms = ?4,
                     claim_until_ms = NULL, last_status_code = ?5, last_error = ?6,
                     last_duration_ms = ?7, updated_ms = ?8
                 WHERE id = ?1 AND status = 'pending' AND claim_until_ms = ?2",
                params![
                    delivery_id,
                    claim_until_ms,
                    o.status.as_str(),
                    o.next_attempt_ms,
                    o.status_code.map(i64::from),
                    o.error,
                    o.duration_ms,
                    o.now_ms
                ],
            )
        })
        .await
    }

    async fn deliveries(&self, limit: u32) -> StoreResult<Vec<DeliveryRecord>> {
        self.read(|c| {
            all(
                c,
                delivery_select!("ORDER BY created_ms DESC, rowid DESC LIMIT ?1"),
                [i64::from(limit)],
                delivery,
            )
        })
    }
}
