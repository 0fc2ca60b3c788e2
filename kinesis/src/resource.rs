//! A stream or a consumer named by its ARN: what tags and resource policies attach to, and
//! where consumer ARNs are looked up.

use std::{collections::BTreeMap, sync::Arc};

use crate::{
    arn::{self, ConsumerArn, Resource},
    error::KinesisError,
    registry::{ConsumerMeta, Entry},
    Call, ACCOUNT_ID,
};

/// A stream or one of its consumers.
#[derive(Debug)]
pub enum Target {
    /// A stream.
    Stream(Arc<Entry>),
    /// A registered consumer of the stream, by name.
    Consumer(Arc<Entry>, String),
}

/// The error for a consumer ARN that names no registered consumer.
pub fn consumer_not_found(arn: &str) -> KinesisError {
    KinesisError::ResourceNotFound(format!("Consumer {arn} under account {ACCOUNT_ID} not found."))
}

/// The consumer `parts` (of ARN `text`) names: its stream and its registration. A consumer
/// deregistered and registered again under the same name has a new ARN; the old one is not
/// found.
pub fn consumer(
    call: &Call<'_>,
    text: &str,
    parts: &ConsumerArn,
) -> Result<(Arc<Entry>, ConsumerMeta), KinesisError> {
    let entry = call.registry().get(&parts.stream).map_err(|_| consumer_not_found(text))?;
    let found = entry
        .meta()
        .consumers
        .get(&parts.name)
        .filter(|c| c.created_ms / 1000 == parts.created_s)
        .cloned()
        .ok_or_else(|| consumer_not_found(text))?;
    Ok((entry, found))
}

impl Target {
    /// The stream or consumer `text` (a valid resource ARN) names.
    pub fn find(call: &Call<'_>, text: &str) -> Result<Self, KinesisError> {
        match arn::parse(text) {
            Some(Resource::Stream(name)) => Ok(Self::Stream(call.registry().get(&name)?)),
            Some(Resource::Consumer(parts)) => {
                let (entry, _) = consumer(call, text, &parts)?;
                Ok(Self::Consumer(entry, parts.name))
            }
            None => Err(KinesisError::InvalidArgument(format!("{text} is not a Kinesis ARN."))),
        }
    }

    /// Its tags and resource policy now.
    pub fn read(&self) -> Result<(BTreeMap<String, String>, Option<String>), KinesisError> {
        match self {
            Self::Stream(entry) => {
                let meta = entry.meta();
                Ok((meta.tags, meta.policy))
            }
            Self::Consumer(entry, name) => {
                let meta = entry.meta();
                let consumer = meta.consumers.get(name).ok_or_else(|| gone(entry, name))?;
                Ok((consumer.tags.clone(), consumer.policy.clone()))
            }
        }
    }

    /// Changes its tags and policy with `change` (which may refuse), and stores them.
    pub async fn update(
        &self,
        call: &Call<'_>,
        change: impl FnOnce(
            &mut BTreeMap<String, String>,
            &mut Option<String>,
        ) -> Result<(), KinesisError>,
    ) -> Result<(), KinesisError> {
        match self {
            Self::Stream(entry) => {
                call.registry().update(entry, |meta| change(&mut meta.tags, &mut meta.policy)).await
            }
            Self::Consumer(entry, name) => {
                call.registry()
                    .update(entry, |meta| {
                        let consumer =
                            meta.consumers.get_mut(name).ok_or_else(|| gone(entry, name))?;
                        change(&mut consumer.tags, &mut consumer.policy)
                    })
                    .await
            }
        }
    }
}

/// A consumer deregistered while a call on it was in flight.
fn gone(entry: &Entry, name: &str) -> KinesisError {
    KinesisError::ResourceNotFound(format!(
        "Consumer {name} of stream {} under account {ACCOUNT_ID} not found.",
        entry.name()
    ))
}
