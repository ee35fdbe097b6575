//! `advance` as conditional `UpdateItem`s: one request when the value is ahead of the
//! floor (a busy budget) or the advance is refused, two when it is at or behind the
//! floor (an idle or new one), never a loop that contention can make fail.
//!
//! DynamoDB's expressions cannot take a maximum, so the two cases are two requests, each
//! with a condition that holds or fails whatever other writers do in between:
//!
//! - *ahead*: `SET #v = #v + :d` if `#v > :floor AND #v <= :floor + headroom - delta`;
//!   failing, its `ALL_OLD` says whether the advance is refused (value past the bound:
//!   done, nothing written) or the value is at or behind the floor;
//! - *behind*: `SET #v = :floor + :d` if the item is missing, expired, or `#v <= :floor`;
//!   failing, the value moved ahead meanwhile, and *ahead* decides.
//!
//! The clock floor is this process's clock (DynamoDB's expressions have none): instances
//! whose clocks differ by `d` disagree by `d` on how far a budget has refilled.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use store_core::raw::validate;
use store_core::{Advance, Advanced, Clock, Error, Floor, Result, SystemClock, Timestamp};

use crate::store::{DynamoStore, LIVE, n, new_version, number};

/// Requests before giving up: ahead, behind, ahead again decides every case, unless the
/// clock floor passes the value between them; more is contention on a broken clock.
const ROUNDS: usize = 4;

type Item = HashMap<String, AttributeValue>;

enum Step {
    Done(Advanced),
    /// The value is at or behind the floor (or missing, or expired).
    Behind,
    /// The value moved ahead of the floor.
    Ahead,
}

impl DynamoStore {
    /// See [`Store::advance`](store_core::Store::advance).
    pub(crate) async fn advance_value(
        &self,
        namespace: &str,
        key: &str,
        advance: Advance,
    ) -> Result<Advanced> {
        validate::advance(&self.capabilities, namespace, key, &advance)?;
        let floor = match advance.floor {
            Floor::Value(value) => value,
            Floor::Clock => SystemClock.now_micros(),
        };
        let (Some(bound), Some(_)) = (
            floor.checked_add(advance.headroom),
            floor.checked_add(advance.delta),
        ) else {
            return Err(Error::InvalidArgument(
                "advance: the clock floor plus delta or headroom overflows a u64".into(),
            ));
        };
        if floor.saturating_add(advance.delta) > store_core::raw::MAX_ADVANCE_VALUE {
            // Even from the floor the new value would pass a counter's range.
            if advance.delta <= advance.headroom {
                return Err(Error::CounterOverflow);
            }
        }
        if advance.delta > advance.headroom {
            // Never written: a read.
            return self.read_advance(namespace, key, &advance, floor).await;
        }
        // Past `i64::MAX - delta` the sum would overflow a counter: the condition stops
        // there and the failure is reported as an overflow below.
        let max_start = (bound - advance.delta).min(
            store_core::raw::MAX_ADVANCE_VALUE
                - advance.delta.min(store_core::raw::MAX_ADVANCE_VALUE),
        );
        let mut next = Step::Ahead;
        for _ in 0..ROUNDS {
            next = match next {
                Step::Ahead => {
                    self.when_ahead(namespace, key, &advance, floor, max_start)
                        .await?
                }
                Step::Behind => self.when_behind(namespace, key, &advance, floor).await?,
                Step::Done(done) => return Ok(done),
            };
        }
        match next {
            Step::Done(done) => Ok(done),
            _ => Ok(Advanced {
                written: false,
                value: floor,
                floor,
                contended: true,
            }),
        }
    }

    /// `advance` with `delta > headroom`: never written, one `GetItem`.
    async fn read_advance(
        &self,
        namespace: &str,
        key: &str,
        advance: &Advance,
        floor: u64,
    ) -> Result<Advanced> {
        let out = self
            .get_item(namespace, key)
            .send()
            .await
            .map_err(|e| self.err(e))?;
        let current = self.live_value(out.item(), Timestamp::now())?;
        let (start, _) = advance.apply(current, floor);
        Ok(Advanced {
            written: false,
            value: start,
            floor,
            contended: false,
        })
    }

    /// The live numeric value of `item` at `now`: `None` when missing or expired,
    /// `NotACounter` when it is not a non-negative integer.
    fn live_value(&self, item: Option<&Item>, now: Timestamp) -> Result<Option<u64>> {
        let Some(item) = item else { return Ok(None) };
        let expires_at: Option<u64> = number(item.get(&self.layout.expires_at_attribute))?;
        if expires_at.is_some_and(|at| at <= now.as_millis()) {
            return Ok(None);
        }
        match item.get(&self.layout.value_attribute) {
            None => Ok(None),
            Some(AttributeValue::N(text)) => {
                store_core::raw::parse_value(text.as_bytes()).map(Some)
            }
            Some(_) => Err(Error::NotACounter),
        }
    }

    /// The request for a value ahead of the floor.
    async fn when_ahead(
        &self,
        namespace: &str,
        key: &str,
        advance: &Advance,
        floor: u64,
        max_start: u64,
    ) -> Result<Step> {
        let now = Timestamp::now();
        let condition =
            format!("attribute_type(#v, :ntype) AND #v > :floor AND #v <= :max AND {LIVE}");
        let sent = self
            .update(namespace, key, advance, now, "#v = #v + :d")
            .condition_expression(condition)
            .expression_attribute_values(":d", n(advance.delta))
            .expression_attribute_values(":floor", n(floor))
            .expression_attribute_values(":max", n(max_start))
            .expression_attribute_values(":ntype", AttributeValue::S("N".into()))
            .send()
            .await;
        match sent {
            Ok(out) => {
                let value = number::<u64>(
                    out.attributes()
                        .and_then(|a| a.get(&self.layout.value_attribute)),
                )?
                .ok_or_else(|| crate::store::malformed("advance returned no value"))?;
                Ok(Step::Done(Advanced {
                    written: true,
                    value,
                    floor,
                    contended: false,
                }))
            }
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    match self.live_value(failed.item(), now)? {
                        Some(value)
                            if value > floor
                                && value.saturating_add(advance.delta)
                                    > store_core::raw::MAX_ADVANCE_VALUE
                                && value.saturating_add(advance.delta)
                                    <= floor.saturating_add(advance.headroom) =>
                        {
                            Err(Error::CounterOverflow)
                        }
                        Some(value) if value > floor => Ok(Step::Done(Advanced {
                            written: false,
                            value,
                            floor,
                            contended: false,
                        })),
                        _ => Ok(Step::Behind),
                    }
                }
                _ => Err(self.err(e)),
            },
        }
    }

    /// The request for a value at or behind the floor, missing or expired.
    async fn when_behind(
        &self,
        namespace: &str,
        key: &str,
        advance: &Advance,
        floor: u64,
    ) -> Result<Step> {
        let now = Timestamp::now();
        let new = floor + advance.delta;
        let condition = format!(
            "attribute_not_exists(#v) OR NOT {LIVE} OR (attribute_type(#v, :ntype) AND #v <= :floor)"
        );
        let sent = self
            .update(namespace, key, advance, now, "#v = :new")
            .condition_expression(condition)
            .expression_attribute_values(":new", n(new))
            .expression_attribute_values(":floor", n(floor))
            .expression_attribute_values(":ntype", AttributeValue::S("N".into()))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(Step::Done(Advanced {
                written: true,
                value: new,
                floor,
                contended: false,
            })),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    // Live and not a number, or a number ahead of the floor now.
                    self.live_value(failed.item(), now)?;
                    Ok(Step::Ahead)
                }
                _ => Err(self.err(e)),
            },
        }
    }

    /// An `UpdateItem` that sets the value with `set_value`, a new version, and the
    /// advance's TTL (or removes the expiry), returning the new item or, on a failed
    /// condition, the old one.
    fn update(
        &self,
        namespace: &str,
        key: &str,
        advance: &Advance,
        now: Timestamp,
        set_value: &str,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        let mut update = format!("SET {set_value}, #ver = :ver");
        let mut request = self
            .client
            .update_item()
            .table_name(&*self.table)
            .set_key(Some(self.layout.item_key(namespace, key)))
            .expression_attribute_values(":ver", n(new_version()))
            .expression_attribute_values(":now", n(now.as_millis()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        match advance.ttl {
            Some(ttl) => {
                let at = now.add_ttl(ttl).as_millis();
                update.push_str(", #exp = :exp, #ttl = :ttls");
                request = request
                    .expression_attribute_values(":exp", n(at))
                    .expression_attribute_values(":ttls", n(at.div_ceil(1000)));
            }
            None => update.push_str(" REMOVE #ttl"),
        }
        // The expiry attribute is in the condition's `LIVE`; without a TTL it is removed
        // too, after the condition read it.
        if advance.ttl.is_none() {
            update.push_str(", #exp");
        }
        request
            .update_expression(update)
            .set_expression_attribute_names(Some(self.names(&["#v", "#ver", "#exp", "#ttl"])))
    }
}
