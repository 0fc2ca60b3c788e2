//! The account actions: DescribeLimits, DescribeAccountSettings, UpdateAccountSettings.
//!
//! Alleycat has one account ([`crate::ACCOUNT_ID`]). Its only setting, the minimum throughput
//! billing commitment, is kept (in `account.json`, see [`crate::registry`]) and reported as
//! Kinesis reports it; nothing is billed.

use serde::{Deserialize, Serialize};

use crate::{
    error::KinesisError,
    model::Timestamp,
    registry::{AccountMeta, MAX_SHARDS_PER_STREAM},
    validate::Checks,
    Call, ACCOUNT_ID,
};

/// The most streams in ON_DEMAND mode at once (Kinesis' default quota).
pub const MAX_ON_DEMAND_STREAMS: usize = 50;
/// How long a billing commitment lasts at least once turned on (Kinesis: 24 hours).
pub const MIN_COMMITMENT_MS: u64 = 24 * 60 * 60 * 1000;

/// No input fields.
#[derive(Debug, Deserialize)]
pub struct NoInput {}

/// DescribeLimits' output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeLimitsOutput {
    shard_limit: u32,
    open_shard_count: usize,
    on_demand_stream_count: usize,
    on_demand_stream_count_limit: usize,
}

/// DescribeLimits: the shard limit (here per stream: there is no account-wide one), the shards
/// open in all streams, and the ON_DEMAND streams and their limit.
pub async fn describe_limits(
    call: &Call<'_>,
    _input: NoInput,
) -> Result<DescribeLimitsOutput, KinesisError> {
    let streams = call.registry().list();
    let mut open_shard_count = 0;
    for entry in &streams {
        open_shard_count +=
            entry.stream().await.map_or(0, |s| s.shards().iter().filter(|s| s.is_open()).count());
    }
    Ok(DescribeLimitsOutput {
        shard_limit: MAX_SHARDS_PER_STREAM,
        open_shard_count,
        on_demand_stream_count: on_demand_streams(call),
        on_demand_stream_count_limit: MAX_ON_DEMAND_STREAMS,
    })
}

fn on_demand_streams(call: &Call<'_>) -> usize {
    call.registry().list().iter().filter(|e| e.meta().on_demand).count()
}

/// Refuses one more ON_DEMAND stream when [`MAX_ON_DEMAND_STREAMS`] exist.
pub fn check_on_demand_limit(call: &Call<'_>) -> Result<(), KinesisError> {
    let count = on_demand_streams(call);
    if count >= MAX_ON_DEMAND_STREAMS {
        return Err(KinesisError::LimitExceeded(format!(
            "This request would exceed the limit of {MAX_ON_DEMAND_STREAMS} streams in ON_DEMAND mode for the account {ACCOUNT_ID} in {}. Current count: {count}.",
            call.region
        )));
    }
    Ok(())
}

/// The billing commitment as Kinesis reports it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Commitment {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ended_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    earliest_allowed_end_at: Option<Timestamp>,
}

impl Commitment {
    /// The commitment `account` describes, at `now_ms`.
    fn of(account: &AccountMeta, now_ms: u64) -> Self {
        let started = account.commitment_started_ms;
        let earliest = started.map(|s| Timestamp(s + MIN_COMMITMENT_MS));
        let (status, ended_at) = match (started, account.commitment_ends_ms) {
            (None, _) => ("DISABLED", None),
            (Some(_), None) => ("ENABLED", None),
            (Some(_), Some(end)) if now_ms < end => {
                ("ENABLED_UNTIL_EARLIEST_ALLOWED_END", Some(Timestamp(end)))
            }
            (Some(_), Some(end)) => ("DISABLED", Some(Timestamp(end))),
        };
        Self {
            status,
            started_at: started.map(Timestamp),
            ended_at,
            earliest_allowed_end_at: earliest,
        }
    }
}

/// DescribeAccountSettings' and UpdateAccountSettings' output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountSettingsOutput {
    minimum_throughput_billing_commitment: Commitment,
}

/// DescribeAccountSettings: the billing commitment.
pub async fn describe_settings(
    call: &Call<'_>,
    _input: NoInput,
) -> Result<AccountSettingsOutput, KinesisError> {
    Ok(AccountSettingsOutput {
        minimum_throughput_billing_commitment: Commitment::of(
            &call.registry().account(),
            call.now_ms,
        ),
    })
}

/// UpdateAccountSettings' input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateSettingsInput {
    minimum_throughput_billing_commitment: Option<CommitmentInput>,
}

/// `MinimumThroughputBillingCommitment` in a request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CommitmentInput {
    status: Option<String>,
}

/// UpdateAccountSettings: turns the commitment on (from now) or off (at once after its first
/// 24 hours, else at their end: ENABLED_UNTIL_EARLIEST_ALLOWED_END until then).
pub async fn update_settings(
    call: &Call<'_>,
    input: UpdateSettingsInput,
) -> Result<AccountSettingsOutput, KinesisError> {
    let mut checks = Checks::new();
    checks.required(
        "minimumThroughputBillingCommitment",
        &input.minimum_throughput_billing_commitment,
    );
    let status = input.minimum_throughput_billing_commitment.as_ref().and_then(|c| {
        checks.required("minimumThroughputBillingCommitment.status", &c.status);
        c.status.as_deref()
    });
    checks.one_of("minimumThroughputBillingCommitment.status", status, &["ENABLED", "DISABLED"]);
    checks.finish()?;
    let enable = status == Some("ENABLED");
    let now = call.now_ms;
    let account = call
        .registry()
        .update_account(|account| {
            let running = account.commitment_started_ms.is_some()
                && account.commitment_ends_ms.is_none_or(|end| now < end);
            match (enable, running) {
                (true, true) => account.commitment_ends_ms = None,
                (true, false) => {
                    account.commitment_started_ms = Some(now);
                    account.commitment_ends_ms = None;
                }
                (false, true) => {
                    let earliest = account.commitment_started_ms.unwrap_or(now) + MIN_COMMITMENT_MS;
                    account.commitment_ends_ms.get_or_insert(now.max(earliest));
                }
                (false, false) => {}
            }
        })
        .await?;
    Ok(AccountSettingsOutput {
        minimum_throughput_billing_commitment: Commitment::of(&account, now),
    })
}
