//! `incr` as a small state machine over conditional `UpdateItem`s: one request in the
//! common case, a second only to restart an expired counter DynamoDB has not removed
//! yet, or to give a TTL to a counter created without one.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use store_core::raw::validate;
use store_core::{Error, IncrOutcome, Result, Timestamp};

use crate::store::{DynamoStore, LIVE, malformed, n, new_version, number};

/// Rounds of the `incr` state machine before giving up under extreme contention.
const MAX_INCR_ROUNDS: usize = 16;

struct IncrStep {
    now: Timestamp,
    delta: i64,
    expires_at: Option<Timestamp>,
}

enum Attempt {
    Done(IncrOutcome),
    /// The condition failed; the item as it was (absent if there was none).
    Rejected(Option<HashMap<String, AttributeValue>>),
}

impl DynamoStore {
    /// See [`Store::incr`](store_core::Store::incr).
    pub(crate) async fn incr_counter(
        &self,
        namespace: &str,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> Result<IncrOutcome> {
        validate::incr(&self.capabilities, namespace, key, ttl)?;
        let mut keep_permanent = false;
        for _ in 0..MAX_INCR_ROUNDS {
            let now = Timestamp::now();
            let step = IncrStep {
                now,
                delta,
                expires_at: ttl.filter(|_| !keep_permanent).map(|ttl| now.add_ttl(ttl)),
            };
            match self.try_incr(namespace, key, &step).await? {
                Attempt::Done(outcome) => return Ok(outcome),
                Attempt::Rejected(old) => {
                    let old_entry = old
                        .as_ref()
                        .map(|item| self.entry_of(item, now))
                        .transpose()?
                        .flatten();
                    let Some(_live) = old_entry else {
                        // Missing (deleted meanwhile) or expired: start a new counter,
                        // replacing the expired item only if it is still expired.
                        if let Some(outcome) =
                            self.restart_counter(namespace, key, &step, ttl).await?
                        {
                            return Ok(outcome);
                        }
                        continue;
                    };
                    let item = old.unwrap_or_default();
                    let current = match item.get(&self.layout.value_attribute) {
                        Some(AttributeValue::N(s)) => s.parse::<i64>().ok(),
                        _ => None,
                    };
                    let Some(current) = current else {
                        return Err(Error::NotACounter);
                    };
                    if current.checked_add(delta).is_none() {
                        return Err(Error::CounterOverflow);
                    }
                    if ttl.is_some() && !item.contains_key(&self.layout.expires_at_attribute) {
                        // A permanent counter: it keeps having no expiry.
                        keep_permanent = true;
                    }
                }
            }
        }
        Err(Error::Backend {
            message: format!("incr gave up after {MAX_INCR_ROUNDS} rounds of contention"),
            source: None,
        })
    }

    /// One `UpdateItem`: add to a live counter (creating it, with its expiry, if absent),
    /// refusing expired items, non-numbers, overflow, and giving a TTL to an existing
    /// counter without one.
    async fn try_incr(&self, namespace: &str, key: &str, step: &IncrStep) -> Result<Attempt> {
        let mut update = String::from("SET #v = if_not_exists(#v, :zero) + :d, #ver = :ver");
        let mut condition =
            format!("{LIVE} AND (attribute_not_exists(#v) OR (attribute_type(#v, :ntype)");
        match step.delta.signum() {
            1 => condition.push_str(" AND #v <= :lim))"),
            -1 => condition.push_str(" AND #v >= :lim))"),
            _ => condition.push_str("))"),
        }
        let mut names = vec!["#v", "#ver", "#exp"];
        let mut request = self
            .client
            .update_item()
            .table_name(&*self.table)
            .set_key(Some(self.layout.item_key(namespace, key)))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":d", n(step.delta))
            .expression_attribute_values(":ver", n(new_version()))
            .expression_attribute_values(":now", n(step.now.as_millis()))
            .expression_attribute_values(":ntype", AttributeValue::S("N".into()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        match step.delta.signum() {
            1 => request = request.expression_attribute_values(":lim", n(i64::MAX - step.delta)),
            -1 => request = request.expression_attribute_values(":lim", n(i64::MIN - step.delta)),
            _ => {}
        }
        if let Some(at) = step.expires_at {
            update
                .push_str(", #exp = if_not_exists(#exp, :exp), #ttl = if_not_exists(#ttl, :ttls)");
            // The expiry is set only by the call that creates the counter.
            condition.push_str(" AND (attribute_not_exists(#v) OR attribute_exists(#exp))");
            names.push("#ttl");
            request = request
                .expression_attribute_values(":exp", n(at.as_millis()))
                .expression_attribute_values(":ttls", n(at.as_millis().div_ceil(1000)));
        }
        let sent = request
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(self.names(&names)))
            .send()
            .await;
        match sent {
            Ok(out) => {
                let item = out.attributes().cloned().unwrap_or_default();
                let value = number::<i64>(item.get(&self.layout.value_attribute))?
                    .ok_or_else(|| malformed("incr returned no value"))?;
                let expires_at =
                    number::<u64>(item.get(&self.layout.expires_at_attribute))?.map(Timestamp::from_millis);
                Ok(Attempt::Done(IncrOutcome { value, expires_at }))
            }
            Err(e) => match e.as_service_error() {
                Some(aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c)) => {
                    Ok(Attempt::Rejected(c.item().cloned()))
                }
                _ => Err(self.err(e)),
            },
        }
    }

    /// Replaces an absent or still-expired item with a new counter; `None` if someone
    /// else got there first (the caller tries again).
    async fn restart_counter(
        &self,
        namespace: &str,
        key: &str,
        step: &IncrStep,
        ttl: Option<Duration>,
    ) -> Result<Option<IncrOutcome>> {
        let expires_at = ttl.map(|ttl| step.now.add_ttl(ttl));
        let item = self.new_item(namespace, key, n(step.delta), new_version(), expires_at);
        let sent = self
            .client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk) OR #exp <= :now")
            .set_expression_attribute_names(Some(self.names(&["#pk", "#exp"])))
            .expression_attribute_values(":now", n(step.now.as_millis()))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(Some(IncrOutcome {
                value: step.delta,
                expires_at,
            })),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(self.err(e)),
        }
    }
}
