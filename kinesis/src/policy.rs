//! The resource-policy actions: PutResourcePolicy, GetResourcePolicy, DeleteResourcePolicy, on
//! a stream or a consumer. Policies are stored and returned as given; Alleycat has one set of
//! credentials and no IAM, so they grant and deny nothing here.

use serde::{Deserialize, Serialize};

use crate::{
    error::KinesisError, resource::Target, streams::Empty, tags::resource_arn, validate::Checks,
    Call,
};

/// The largest policy Kinesis accepts, characters (a resource policy's limit is 20 KiB).
pub const MAX_POLICY_CHARS: usize = 20 * 1024;

/// PutResourcePolicy's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutPolicyInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    policy: Option<String>,
}

/// PutResourcePolicy: attaches `Policy` (a JSON policy document) to a stream or a consumer,
/// replacing the one it had.
pub async fn put(call: &Call<'_>, input: PutPolicyInput) -> Result<Empty, KinesisError> {
    let mut checks = Checks::new();
    let arn = resource_arn(&mut checks, &input.resource_arn);
    checks.required("policy", &input.policy);
    checks.finish()?;
    let policy = input.policy.unwrap_or_default();
    let document: Option<serde_json::Value> = serde_json::from_str(&policy).ok();
    if !document.as_ref().is_some_and(serde_json::Value::is_object) {
        return Err(KinesisError::InvalidArgument(
            "The policy is not a valid JSON policy document.".into(),
        ));
    }
    if policy.chars().count() > MAX_POLICY_CHARS {
        return Err(KinesisError::LimitExceeded(format!(
            "The policy is longer than {MAX_POLICY_CHARS} characters."
        )));
    }
    let target = Target::find(call, &arn)?;
    target
        .update(call, |_, stored| {
            *stored = Some(policy);
            Ok(())
        })
        .await?;
    Ok(Empty {})
}

/// Get/DeleteResourcePolicy's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyOfInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
}

/// GetResourcePolicy's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetPolicyOutput {
    policy: String,
}

/// GetResourcePolicy: the policy attached, or `{}` when there is none.
pub async fn get(call: &Call<'_>, input: PolicyOfInput) -> Result<GetPolicyOutput, KinesisError> {
    let mut checks = Checks::new();
    let arn = resource_arn(&mut checks, &input.resource_arn);
    checks.finish()?;
    let (_, policy) = Target::find(call, &arn)?.read()?;
    Ok(GetPolicyOutput { policy: policy.unwrap_or_else(|| "{}".into()) })
}

/// DeleteResourcePolicy: removes the policy attached, if any.
pub async fn delete(call: &Call<'_>, input: PolicyOfInput) -> Result<Empty, KinesisError> {
    let mut checks = Checks::new();
    let arn = resource_arn(&mut checks, &input.resource_arn);
    checks.finish()?;
    Target::find(call, &arn)?
        .update(call, |_, stored| {
            *stored = None;
            Ok(())
        })
        .await?;
    Ok(Empty {})
}
