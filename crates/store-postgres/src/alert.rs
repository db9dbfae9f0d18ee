//! Webhooks, alert rules, the tailer's cursor and the delivery outbox. The cursor moves with a
//! conditional `UPDATE` (a second replica waits on the row lock, then matches nothing), in the
//! transaction that inserts the deliveries; claims take rows with `FOR UPDATE SKIP LOCKED`, so
//! two dispatchers never claim the same delivery.

use async_trait::async_trait;
use signet_proto::{AlertRuleId, DeliveryId, WebhookId};
use signet_store::{
    AlertCursor, AlertRuleRecord, AlertStore, DeliveryOutcome, DeliveryRecord, DeliveryStatus,
    StoreError, StoreResult, WebhookRecord,
};
use sqlx::postgres::PgRow;

use crate::PgStore;
use crate::error::{corrupt, db};
use crate::row::{col, id, id_list, name, opt_id, seq, seq_param, small, to_list};

macro_rules! webhook_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, name, url, sealed_secret, enabled, created_by, created_ms, updated_ms
             FROM webhooks ",
            $rest
        )
    };
}

/// The delivery columns [`delivery`] reads, in order.
macro_rules! delivery_columns {
    () => {
        "id, webhook_id, rule_id, event, severity, payload, dedup, status, attempts,
         next_attempt_ms, claim_until_ms, last_status_code, last_error, last_duration_ms,
         created_ms, updated_ms"
    };
}

fn webhook(row: &PgRow) -> StoreResult<WebhookRecord> {
    Ok(WebhookRecord {
        id: id(row, 0)?,
        name: col(row, 1)?,
        url: col(row, 2)?,
        sealed_secret: col(row, 3)?,
        enabled: col(row, 4)?,
        created_by: id(row, 5)?,
        created_ms: col(row, 6)?,
        updated_ms: col(row, 7)?,
    })
}

fn rule(row: &PgRow) -> StoreResult<AlertRuleRecord> {
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

fn delivery(row: &PgRow) -> StoreResult<DeliveryRecord> {
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
        attempts: small(row, 8)?,
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

/// The insert of one delivery; with `skip_taken`, a taken `dedup` inserts nothing.
fn insert_statement(
    d: &DeliveryRecord,
    skip_taken: bool,
) -> sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let sql = if skip_taken {
        "INSERT INTO webhook_deliveries (id, webhook_id, rule_id, event, severity, payload, dedup,
             status, attempts, next_attempt_ms, claim_until_ms, last_status_code, last_error,
             last_duration_ms, created_ms, updated_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
         ON CONFLICT (dedup) DO NOTHING"
    } else {
        "INSERT INTO webhook_deliveries (id, webhook_id, rule_id, event, severity, payload, dedup,
             status, attempts, next_attempt_ms, claim_until_ms, last_status_code, last_error,
             last_duration_ms, created_ms, updated_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    };
    sqlx::query(sql)
        .bind(d.id.to_string())
        .bind(d.webhook_id.as_str())
        .bind(d.rule_id.as_ref().map(|r| r.as_str()))
        .bind(&d.event)
        .bind(&d.severity)
        .bind(&d.payload)
        .bind(d.dedup.as_deref())
        .bind(d.status.as_str())
        .bind(i64::from(d.attempts))
        .bind(d.next_attempt_ms)
        .bind(d.claim_until_ms)
        .bind(d.last_status_code.map(i64::from))
        .bind(d.last_error.as_deref())
        .bind(d.last_duration_ms)
        .bind(d.created_ms)
        .bind(d.updated_ms)
}

#[async_trait]
impl AlertStore for PgStore {
    async fn insert_webhook(&self, w: &WebhookRecord) -> StoreResult<()> {
        self.execute(
            sqlx::query(
                "INSERT INTO webhooks (id, name, url, sealed_secret, enabled, created_by,
                     created_ms, updated_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(w.id.as_str())
            .bind(&w.name)
            .bind(&w.url)
            .bind(w.sealed_secret.as_deref())
            .bind(w.enabled)
            .bind(w.created_by.to_string())
            .bind(w.created_ms)
            .bind(w.updated_ms),
        )
        .await
        .map(drop)
    }

    async fn webhooks(&self) -> StoreResult<Vec<WebhookRecord>> {
        sqlx::query(webhook_select!("ORDER BY created_ms, id"))
            .fetch_all(self.pool())
            .await
            .map_err(db)?
            .iter()
            .map(webhook)
            .collect()
    }

    async fn update_webhook(&self, w: &WebhookRecord) -> StoreResult<()> {
        self.execute_found(
            sqlx::query(
                "UPDATE webhooks SET name = $2, url = $3, enabled = $4, updated_ms = $5
                 WHERE id = $1",
            )
            .bind(w.id.as_str())
            .bind(&w.name)
            .bind(&w.url)
            .bind(w.enabled)
            .bind(w.updated_ms),
        )
        .await
    }

    async fn delete_webhook(&self, webhook_id: &WebhookId) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM webhooks WHERE id = $1")
            .bind(webhook_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        crate::found(done)?;
        sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1")
            .bind(webhook_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        self.commit(tx).await
    }

    async fn insert_alert_rule(&self, r: &AlertRuleRecord) -> StoreResult<()> {
        self.execute(
            sqlx::query(
                "INSERT INTO alert_rules (id, name, severity, spec, webhooks, created_by,
                     created_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(r.id.as_str())
            .bind(&r.name)
            .bind(&r.severity)
            .bind(&r.spec)
            .bind(to_list(
                &r.webhooks.iter().map(|w| w.as_str()).collect::<Vec<_>>(),
            ))
            .bind(r.created_by.to_string())
            .bind(r.created_ms),
        )
        .await
        .map(drop)
    }

    async fn alert_rules(&self) -> StoreResult<Vec<AlertRuleRecord>> {
        sqlx::query(
            "SELECT id, name, severity, spec, webhooks, created_by, created_ms
             FROM alert_rules ORDER BY created_ms, id",
        )
        .fetch_all(self.pool())
        .await
        .map_err(db)?
        .iter()
        .map(rule)
        .collect()
    }

    async fn delete_alert_rule(&self, rule_id: &AlertRuleId) -> StoreResult<()> {
        self.execute_found(
            sqlx::query("DELETE FROM alert_rules WHERE id = $1").bind(rule_id.as_str()),
        )
        .await
    }

    async fn alert_cursor(&self) -> StoreResult<Option<AlertCursor>> {
        sqlx::query("SELECT next_seq, state FROM alert_cursor WHERE id = 1")
            .fetch_optional(self.pool())
            .await
            .map_err(db)?
            .map(|r| {
                Ok(AlertCursor {
                    next_seq: seq(&r, 0)?,
                    state: col(&r, 1)?,
                })
            })
            .transpose()
    }

    async fn advance_alerts(
        &self,
        expected: Option<u64>,
        next: &AlertCursor,
        deliveries: &[DeliveryRecord],
    ) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let moved = match expected {
            None => sqlx::query(
                "INSERT INTO alert_cursor (id, next_seq, state) VALUES (1, $1, $2)
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(seq_param(next.next_seq))
            .bind(&next.state),
            Some(at) => sqlx::query(
                "UPDATE alert_cursor SET next_seq = $2, state = $3
                 WHERE id = 1 AND next_seq = $1",
            )
            .bind(seq_param(at))
            .bind(seq_param(next.next_seq))
            .bind(&next.state),
        }
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if moved.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        let mut inserted = 0;
        for d in deliveries {
            let done = insert_statement(d, true)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            inserted += done.rows_affected();
        }
        self.commit(tx).await?;
        Ok(inserted)
    }

    async fn insert_delivery(&self, d: &DeliveryRecord) -> StoreResult<()> {
        self.execute(insert_statement(d, false)).await.map(drop)
    }

    async fn claim_deliveries(
        &self,
        now_ms: i64,
        claim_until_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        let mut tx = self.begin().await?;
        let rows = sqlx::query(concat!(
            "UPDATE webhook_deliveries SET claim_until_ms = $2, attempts = attempts + 1,
                 updated_ms = $1
             WHERE id IN (SELECT id FROM webhook_deliveries
                          WHERE status = 'pending' AND next_attempt_ms <= $1
                            AND (claim_until_ms IS NULL OR claim_until_ms <= $1)
                          ORDER BY next_attempt_ms, id LIMIT $3
                          FOR UPDATE SKIP LOCKED)
             RETURNING ",
            delivery_columns!()
        ))
        .bind(now_ms)
        .bind(claim_until_ms)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        self.commit(tx).await?;
        let mut claimed = rows.iter().map(delivery).collect::<StoreResult<Vec<_>>>()?;
        claimed.sort_by_key(|a| (a.next_attempt_ms, a.id));
        Ok(claimed)
    }

    async fn finish_delivery(
        &self,
        delivery_id: &DeliveryId,
        claim_until_ms: i64,
        o: &DeliveryOutcome,
    ) -> StoreResult<()> {
        self.execute_found(
            sqlx::query(
                "UPDATE webhook_deliveries SET status = $3, next_attempt_ms = $4,
                     claim_until_ms = NULL, last_status_code = $5, last_error = $6,
                     last_duration_ms = $7, updated_ms = $8
                 WHERE id = $1 AND status = 'pending' AND claim_until_ms = $2",
            )
            .bind(delivery_id.to_string())
            .bind(claim_until_ms)
            .bind(o.status.as_str())
            .bind(o.next_attempt_ms)
            .bind(o.status_code.map(i64::from))
            .bind(o.error.as_deref())
            .bind(o.duration_ms)
            .bind(o.now_ms),
        )
        .await
    }

    async fn deliveries(&self, limit: u32) -> StoreResult<Vec<DeliveryRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM webhook_deliveries ORDER BY created_ms DESC, id DESC LIMIT $1"
        ))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(db)?
        .iter()
        .map(delivery)
        .collect()
    }
}
