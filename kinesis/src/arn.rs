//! The ARNs Kinesis names its resources with, made and read in one place.
//!
//! ```text
//! stream    arn:aws:kinesis:<region>:<account>:stream/<stream>
//! consumer  arn:aws:kinesis:<region>:<account>:stream/<stream>/consumer/<consumer>:<created, epoch s>
//! ```
//!
//! The region is the caller's (Alleycat has none of its own) and is not checked on the way in;
//! the account is [`ACCOUNT_ID`]. A consumer ARN's creation second ties it to one registration,
//! so the ARN of a deregistered consumer does not name a later one of the same name.

use crate::{validate::is_name, Call, ACCOUNT_ID};

/// The model pattern of stream ARNs.
pub const STREAM_ARN_PATTERN: &str = "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+";
/// The model pattern of consumer ARNs.
pub const CONSUMER_ARN_PATTERN: &str =
    "^(arn):aws.*:kinesis:.*:\\d{12}:.*stream\\/[a-zA-Z0-9_.-]+\\/consumer\\/[a-zA-Z0-9_.-]+:[0-9]+";
/// The model pattern of resource ARNs (a stream's or a consumer's).
pub const RESOURCE_ARN_PATTERN: &str = "arn:aws.*:kinesis:.*:\\d{12}:.*stream/\\S+";

/// What an ARN names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// A stream, by name.
    Stream(String),
    /// A consumer of a stream.
    Consumer(ConsumerArn),
}

/// The parts of a consumer ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerArn {
    /// The stream it reads.
    pub stream: String,
    /// The consumer's name.
    pub name: String,
    /// Its registration time, epoch seconds.
    pub created_s: u64,
}

/// A stream's ARN in the caller's region.
pub fn stream(call: &Call<'_>, name: &str) -> String {
    format!("arn:aws:kinesis:{}:{ACCOUNT_ID}:stream/{name}", call.region)
}

/// A consumer's ARN in the caller's region.
pub fn consumer(call: &Call<'_>, stream: &str, name: &str, created_ms: u64) -> String {
    format!("{}/consumer/{name}:{}", self::stream(call, stream), created_ms / 1000)
}

/// The resource part (`stream/...`) of a Kinesis ARN, if `arn` is one.
fn resource_part(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (prefix, partition, service) = (parts.next()?, parts.next()?, parts.next()?);
    let (_region, account, resource) = (parts.next()?, parts.next()?, parts.next()?);
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    (prefix == "arn" && partition.starts_with("aws") && service == "kinesis" && account_ok)
        .then_some(resource)?
        .strip_prefix("stream/")
}

/// Reads a stream or consumer ARN; `None` when it is neither.
pub fn parse(arn: &str) -> Option<Resource> {
    let rest = resource_part(arn)?;
    match rest.split_once("/consumer/") {
        None => is_name(rest).then(|| Resource::Stream(rest.to_owned())),
        Some((stream, consumer)) => {
            let (name, created) = consumer.rsplit_once(':')?;
            let created_s =
                created.parse().ok().filter(|_| created.bytes().all(|b| b.is_ascii_digit()))?;
            (is_name(stream) && is_name(name)).then(|| {
                Resource::Consumer(ConsumerArn {
                    stream: stream.to_owned(),
                    name: name.to_owned(),
                    created_s,
                })
            })
        }
    }
}

/// Whether `arn` is a stream ARN.
pub fn is_stream(arn: &str) -> bool {
    matches!(parse(arn), Some(Resource::Stream(_)))
}

/// Whether `arn` is a consumer ARN.
pub fn is_consumer(arn: &str) -> bool {
    matches!(parse(arn), Some(Resource::Consumer(_)))
}

/// Whether `arn` is a stream or consumer ARN.
pub fn is_resource(arn: &str) -> bool {
    parse(arn).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_and_consumer_arns_read_back_and_others_do_not() {
        assert_eq!(
            parse("arn:aws:kinesis:eu-west-1:000000000000:stream/s.1"),
            Some(Resource::Stream("s.1".into()))
        );
        assert_eq!(
            parse("arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/c-1:1700000000"),
            Some(Resource::Consumer(ConsumerArn {
                stream: "s".into(),
                name: "c-1".into(),
                created_s: 1_700_000_000
            }))
        );
        for bad in [
            "arn:aws:kinesis:us-east-1:0000:stream/s",
            "arn:aws:sqs:us-east-1:000000000000:stream/s",
            "arn:aws:kinesis:us-east-1:000000000000:table/s",
            "arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/c",
            "arn:aws:kinesis:us-east-1:000000000000:stream/a b",
            "stream/s",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
