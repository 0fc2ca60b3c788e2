//! The stream-settings actions: Enable/DisableEnhancedMonitoring, Start/StopStreamEncryption,
//! UpdateStreamMode, UpdateMaxRecordSize and UpdateStreamWarmThroughput.
//!
//! Each change is stored in the stream's metadata and reported by DescribeStream(Summary) as
//! Kinesis reports it, at once (Kinesis passes through UPDATING). What they cannot change here,
//! by design: enhanced metrics are not sent anywhere (there is no CloudWatch), records are not
//! encrypted at rest with the KMS key (there is no KMS; the key id is kept and reported), both
//! modes are served the same way, and records stay at most 1 MiB (the engines' limit).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::{
    error::KinesisError,
    registry::Entry,
    streams::{
        check_max_record_size, check_mode, stream_arn, stream_name, Empty, StreamModeInput,
        WarmThroughput,
    },
    validate::Checks,
    Call,
};

/// The shard-level metrics Kinesis names; `ALL` stands for every one.
pub const METRICS: [&str; 7] = [
    "IncomingBytes",
    "IncomingRecords",
    "OutgoingBytes",
    "OutgoingRecords",
    "WriteProvisionedThroughputExceeded",
    "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds",
];

/// Enable/DisableEnhancedMonitoring's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MonitoringInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    shard_level_metrics: Option<Vec<String>>,
}

/// Enable/DisableEnhancedMonitoring's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MonitoringOutput {
    stream_name: String,
    #[serde(rename = "StreamARN")]
    stream_arn: String,
    current_shard_level_metrics: Vec<String>,
    desired_shard_level_metrics: Vec<String>,
}

/// EnableEnhancedMonitoring (`enable`) or DisableEnhancedMonitoring: turns the named metrics
/// (or `ALL`) on or off, and answers the metrics before and after.
pub async fn monitoring(
    call: &Call<'_>,
    input: MonitoringInput,
    enable: bool,
) -> Result<MonitoringOutput, KinesisError> {
    let mut checks = Checks::new();
    let name = stream_name(&mut checks, &input.stream_name, &input.stream_arn);
    checks.required("shardLevelMetrics", &input.shard_level_metrics);
    if let Some(metrics) = &input.shard_level_metrics {
        checks.count(
            "shardLevelMetrics",
            Some(metrics.len()),
            || format!("[{}]", metrics.join(", ")),
            1,
            7,
        );
        let allowed: Vec<&str> = METRICS.iter().copied().chain(["ALL"]).collect();
        for (i, metric) in metrics.iter().enumerate() {
            checks.one_of(&format!("shardLevelMetrics.{}.member", i + 1), Some(metric), &allowed);
        }
    }
    checks.finish()?;
    let entry = call.registry().get(&name.unwrap_or_default())?;
    let named: BTreeSet<String> = input
        .shard_level_metrics
        .unwrap_or_default()
        .iter()
        .flat_map(|m| if m == "ALL" { METRICS.to_vec() } else { vec![m.as_str()] })
        .map(str::to_owned)
        .collect();
    let current = entry.meta().enhanced_metrics;
    let desired: BTreeSet<String> = if enable {
        current.union(&named).cloned().collect()
    } else {
        current.difference(&named).cloned().collect()
    };
    let stored = desired.clone();
    call.registry()
        .update(&entry, |meta| {
            meta.enhanced_metrics = stored;
            Ok(())
        })
        .await?;
    Ok(MonitoringOutput {
        stream_name: entry.name().to_owned(),
        stream_arn: crate::arn::stream(call, entry.name()),
        current_shard_level_metrics: current.into_iter().collect(),
        desired_shard_level_metrics: desired.into_iter().collect(),
    })
}

/// Start/StopStreamEncryption's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptionInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    encryption_type: Option<String>,
    key_id: Option<String>,
}

/// StartStreamEncryption (`start`) or StopStreamEncryption: records the KMS key (or its
/// removal), so that descriptions and puts report `EncryptionType` KMS (or NONE).
pub async fn encryption(
    call: &Call<'_>,
    input: EncryptionInput,
    start: bool,
) -> Result<Empty, KinesisError> {
    let mut checks = Checks::new();
    let name = stream_name(&mut checks, &input.stream_name, &input.stream_arn);
    checks.required("encryptionType", &input.encryption_type);
    checks.one_of("encryptionType", input.encryption_type.as_deref(), &["NONE", "KMS"]);
    checks.required("keyId", &input.key_id);
    checks.length("keyId", input.key_id.as_deref(), 1, 2048);
    checks.finish()?;
    if input.encryption_type.as_deref() != Some("KMS") {
        return Err(KinesisError::InvalidArgument(
            "Invalid EncryptionType. The only supported EncryptionType is KMS.".into(),
        ));
    }
    let entry = call.registry().get(&name.unwrap_or_default())?;
    let key = input.key_id.unwrap_or_default();
    call.registry()
        .update(&entry, |meta| {
            if !start && meta.encryption_key.is_none() {
                return Err(KinesisError::InvalidArgument(format!(
                    "Stream {} is not encrypted.",
                    entry.name()
                )));
            }
            meta.encryption_key = start.then_some(key);
            Ok(())
        })
        .await?;
    Ok(Empty {})
}

/// UpdateStreamMode's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamModeUpdateInput {
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    stream_mode_details: Option<StreamModeInput>,
    #[serde(rename = "WarmThroughputMiBps")]
    warm_throughput_mibps: Option<i64>,
}

/// The stream a required `StreamARN` names.
fn by_arn(
    call: &Call<'_>,
    checks: Checks,
    arn: &Option<String>,
) -> Result<std::sync::Arc<Entry>, KinesisError> {
    let mut checks = checks;
    checks.required("streamARN", arn);
    let name = arn.as_deref().and_then(|arn| stream_arn(&mut checks, "streamARN", arn));
    checks.finish()?;
    call.registry().get(&name.unwrap_or_default())
}

/// UpdateStreamMode: PROVISIONED or ON_DEMAND (at most [`crate::account::MAX_ON_DEMAND_STREAMS`]
/// of those), with an optional warm throughput for ON_DEMAND.
pub async fn update_mode(
    call: &Call<'_>,
    input: StreamModeUpdateInput,
) -> Result<Empty, KinesisError> {
    let mut checks = Checks::new();
    checks.required("streamModeDetails", &input.stream_mode_details);
    let mode = check_mode(&mut checks, input.stream_mode_details.as_ref()).map(str::to_owned);
    checks.range("warmThroughputMiBps", input.warm_throughput_mibps, 0, i64::from(i32::MAX));
    let entry = by_arn(call, checks, &input.stream_arn)?;
    let on_demand = mode.as_deref() == Some("ON_DEMAND");
    if on_demand && !entry.meta().on_demand {
        crate::account::check_on_demand_limit(call)?;
    }
    call.registry()
        .update(&entry, |meta| {
            meta.on_demand = on_demand;
            if let Some(mibps) = input.warm_throughput_mibps.filter(|_| on_demand) {
                meta.warm_throughput_mibps = Some(mibps as u32);
            }
            Ok(())
        })
        .await?;
    Ok(Empty {})
}

/// UpdateMaxRecordSize's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MaxRecordSizeInput {
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    #[serde(rename = "MaxRecordSizeInKiB")]
    max_record_size_kib: Option<i64>,
}

/// UpdateMaxRecordSize: the model's 1024 to 10240 KiB are checked; the engines store records
/// of up to 1024 KiB, so that is the one size taken (and already in effect).
pub async fn update_max_record_size(
    call: &Call<'_>,
    input: MaxRecordSizeInput,
) -> Result<Empty, KinesisError> {
    let mut checks = Checks::new();
    checks.required("maxRecordSizeInKiB", &input.max_record_size_kib);
    let (min, max) = crate::streams::MAX_RECORD_SIZE_KIB_RANGE;
    checks.range("maxRecordSizeInKiB", input.max_record_size_kib, min, max);
    by_arn(call, checks, &input.stream_arn)?;
    check_max_record_size(input.max_record_size_kib)?;
    Ok(Empty {})
}

/// UpdateStreamWarmThroughput's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WarmThroughputInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    #[serde(rename = "WarmThroughputMiBps")]
    warm_throughput_mibps: Option<i64>,
}

/// UpdateStreamWarmThroughput's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WarmThroughputOutput {
    #[serde(rename = "StreamARN")]
    stream_arn: String,
    stream_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    warm_throughput: Option<WarmThroughput>,
}

/// UpdateStreamWarmThroughput: the warm throughput of an ON_DEMAND stream, reached at once.
pub async fn update_warm_throughput(
    call: &Call<'_>,
    input: WarmThroughputInput,
) -> Result<WarmThroughputOutput, KinesisError> {
    let mut checks = Checks::new();
    let name = stream_name(&mut checks, &input.stream_name, &input.stream_arn);
    checks.required("warmThroughputMiBps", &input.warm_throughput_mibps);
    checks.range("warmThroughputMiBps", input.warm_throughput_mibps, 0, i64::from(i32::MAX));
    checks.finish()?;
    let entry = call.registry().get(&name.unwrap_or_default())?;
    let mibps = input.warm_throughput_mibps.unwrap_or_default() as u32;
    call.registry()
        .update(&entry, |meta| {
            if !meta.on_demand {
                return Err(KinesisError::InvalidArgument(format!(
                    "Stream {} is in PROVISIONED mode; warm throughput applies to ON_DEMAND streams only.",
                    entry.name()
                )));
            }
            meta.warm_throughput_mibps = Some(mibps);
            Ok(())
        })
        .await?;
    Ok(WarmThroughputOutput {
        stream_arn: crate::arn::stream(call, entry.name()),
        stream_name: entry.name().to_owned(),
        warm_throughput: WarmThroughput::of(&entry.meta()),
    })
}
