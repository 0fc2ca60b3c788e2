//! AWS Signature Version 4 verification of `Authorization`-header requests.
//!
//! The client signs, and the server recomputes, this chain (AWS General Reference, "Signature
//! Version 4 signing process"):
//!
//! ```text
//! canonical request = METHOD \n URI \n QUERY \n HEADERS \n SIGNED_HEADERS \n hex(sha256(body))
//! string to sign    = AWS4-HMAC-SHA256 \n <X-Amz-Date> \n <date>/<region>/<service>/aws4_request
//!                     \n hex(sha256(canonical request))
//! signing key       = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")
//! signature         = hex(HMAC(signing key, string to sign))
//! ```
//!
//! URI is the path with each byte outside `A-Za-z0-9-._~/` percent-encoded (again); QUERY the
//! parameters sorted by name, then value, each encoded; HEADERS each signed header as
//! `name:value\n`, lower-cased, values trimmed with inner runs of spaces folded, repeated headers
//! joined by commas. Any region is accepted (Alleycat is regionless; ARNs echo it); the service
//! must be `kinesis`. The request time must be within [`MAX_CLOCK_SKEW_MS`] of the server's.
//!
//! Errors are Kinesis': no header is `MissingAuthenticationTokenException`, a malformed one
//! `IncompleteSignatureException`, an unknown key `UnrecognizedClientException`, a wrong
//! signature or a time outside the skew `InvalidSignatureException` (all HTTP 400).

use axum::http::{HeaderMap, Method, Uri};
use chrono::{NaiveDateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::error::KinesisError;

/// How far the request's time may be from the server's: 5 minutes, as AWS.
pub const MAX_CLOCK_SKEW_MS: u64 = 5 * 60 * 1000;
/// The service name in the credential scope.
pub const SERVICE: &str = "kinesis";

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The one access key the server accepts, and its secret.
#[derive(Clone)]
pub struct Credentials {
    /// The access key id (`AKIA…`-like, sent in the clear).
    pub access_key_id: String,
    /// The secret access key (never sent).
    pub secret_access_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// What a verified request was signed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The region of the credential scope.
    pub region: String,
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 …` header.
struct Authorization<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

fn parse_authorization(header: &str) -> Result<Authorization<'_>, KinesisError> {
    let incomplete = |what: &str| {
        KinesisError::IncompleteSignature(format!(
            "Authorization header requires '{what}' parameter. Authorization={header}"
        ))
    };
    let Some(rest) = header.strip_prefix(ALGORITHM) else {
        let algorithm = header.split_whitespace().next().unwrap_or_default();
        return Err(KinesisError::IncompleteSignature(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'"
        )));
    };
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split([',', ' ']).filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed_headers = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => {}
        }
    }
    let credential = credential.ok_or_else(|| incomplete("Credential"))?;
    let signed_headers = signed_headers.ok_or_else(|| incomplete("SignedHeaders"))?;
    let signature = signature.ok_or_else(|| incomplete("Signature"))?;
    let mut scope = credential.split('/');
    let (Some(access_key_id), Some(date), Some(region), Some(service), Some("aws4_request"), None) =
        (scope.next(), scope.next(), scope.next(), scope.next(), scope.next(), scope.next())
    else {
        return Err(KinesisError::IncompleteSignature(format!(
            "Credential should be scoped to a valid region, not '{credential}'."
        )));
    };
    Ok(Authorization { access_key_id, date, region, service, signed_headers, signature })
}

/// Checks the request's SigV4 signature against `credentials` at server time `now_ms`.
pub fn verify(
    credentials: &Credentials,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    now_ms: u64,
) -> Result<Signed, KinesisError> {
    let header = match headers.get(axum::http::header::AUTHORIZATION) {
        None => return Err(KinesisError::MissingAuthenticationToken),
        Some(value) => value.to_str().map_err(|_| {
            KinesisError::IncompleteSignature("The Authorization header is not ASCII.".into())
        })?,
    };
    let auth = parse_authorization(header)?;
    let amz_date = headers.get("x-amz-date").and_then(|v| v.to_str().ok()).ok_or_else(|| {
        KinesisError::IncompleteSignature(format!(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization={header}"
        ))
    })?;
    if auth.access_key_id != credentials.access_key_id {
        return Err(KinesisError::UnrecognizedClient);
    }
    let request_ms = NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ")
        .map(|t| Utc.from_utc_datetime(&t).timestamp_millis().max(0) as u64)
        .map_err(|_| {
            KinesisError::IncompleteSignature(format!(
                "Date must be in ISO-8601 'basic format'. Got '{amz_date}'. See http://en.wikipedia.org/wiki/ISO_8601"
            ))
        })?;
    if request_ms + MAX_CLOCK_SKEW_MS < now_ms {
        return Err(KinesisError::InvalidSignature(format!(
            "Signature expired: {amz_date} is now earlier than {} ({} - 5 min.)",
            basic(now_ms - MAX_CLOCK_SKEW_MS),
            basic(now_ms)
        )));
    }
    if request_ms > now_ms + MAX_CLOCK_SKEW_MS {
        return Err(KinesisError::InvalidSignature(format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + 5 min.)",
            basic(now_ms + MAX_CLOCK_SKEW_MS),
            basic(now_ms)
        )));
    }
    if !amz_date.starts_with(auth.date) || auth.date.len() != 8 {
        return Err(KinesisError::InvalidSignature(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{amz_date}'.",
            auth.date,
            amz_date.get(..8).unwrap_or(amz_date)
        )));
    }
    if auth.service != SERVICE {
        return Err(KinesisError::InvalidSignature(format!(
            "Credential should be scoped to correct service: '{SERVICE}'. "
        )));
    }
    let canonical = canonical_request(method, uri, headers, auth.signed_headers, body);
    let scope = format!("{}/{}/{}/aws4_request", auth.date, auth.region, auth.service);
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = signing_key(&credentials.secret_access_key, auth.date, auth.region, auth.service);
    let given = hex::decode(auth.signature).map_err(|_| mismatch())?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key");
    mac.update(string_to_sign.as_bytes());
    // verify_slice compares in constant time.
    mac.verify_slice(&given).map_err(|_| mismatch())?;
    Ok(Signed { region: auth.region.to_owned() })
}

/// Signs a request as an SDK does (for tests and tools that speak to the API): sets
/// `x-amz-date` and `authorization` over every header already in `headers`, for `region`.
pub fn sign(
    credentials: &Credentials,
    region: &str,
    method: &Method,
    uri: &Uri,
    headers: &mut HeaderMap,
    body: &[u8],
    now_ms: u64,
) {
    let amz_date = basic(now_ms);
    let date = amz_date[..8].to_owned();
    headers.insert("x-amz-date", amz_date.parse().expect("an ASCII date"));
    headers.remove(axum::http::header::AUTHORIZATION);
    let mut names: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let signed_headers = names.join(";");
    let canonical = canonical_request(method, uri, headers, &signed_headers, body);
    let scope = format!("{date}/{region}/{SERVICE}/aws4_request");
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = signing_key(&credentials.secret_access_key, &date, region, SERVICE);
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key");
    mac.update(string_to_sign.as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    let value = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        credentials.access_key_id
    );
    headers.insert(axum::http::header::AUTHORIZATION, value.parse().expect("an ASCII header"));
}

fn mismatch() -> KinesisError {
    KinesisError::InvalidSignature(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.".into(),
    )
}

fn basic(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .map_or_else(String::new, |t| t.format("%Y%m%dT%H%M%SZ").to_string())
}

/// The canonical request of the SigV4 process (see the module docs).
pub fn canonical_request(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    signed_headers: &str,
    body: &[u8],
) -> String {
    let path = if uri.path().is_empty() { "/" } else { uri.path() };
    let mut query: Vec<(String, String)> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (encode(&decode(k), false), encode(&decode(v), false))
        })
        .collect();
    query.sort();
    let query = query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let mut canonical_headers = String::new();
    for name in signed_headers.split(';') {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    format!(
        "{method}\n{}\n{query}\n{canonical_headers}\n{signed_headers}\n{}",
        encode(path, true),
        hex::encode(Sha256::digest(body))
    )
}

/// The key derived from the secret for one day, region and service.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let step = |key: &[u8], data: &str| {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
        mac.update(data.as_bytes());
        mac.finalize().into_bytes().to_vec()
    };
    let k_date = step(format!("AWS4{secret}").as_bytes(), date);
    let k_region = step(&k_date, region);
    let k_service = step(&k_region, service);
    step(&k_service, "aws4_request")
}

/// RFC 3986 percent-encoding of everything but unreserved characters (and `/` in paths).
fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Undoes percent-encoding (and `+` as space is not special in SigV4).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    /// 2015-08-30T12:36:00Z, the time of AWS's SigV4 test suite.
    const SUITE_MS: u64 = 1_440_938_160_000;

    fn suite_headers(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("host", "example.amazonaws.com".parse().unwrap());
        headers.insert("x-amz-date", "20150830T123600Z".parse().unwrap());
        headers.insert("authorization", authorization.parse().unwrap());
        headers
    }

    fn suite_signature(uri: &str) -> String {
        let headers = suite_headers("x");
        let canonical = canonical_request(
            &Method::GET,
            &uri.parse().unwrap(),
            &headers,
            "host;x-amz-date",
            b"",
        );
        let sts = format!(
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n{}",
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(&signing_key(
            SECRET,
            "20150830",
            "us-east-1",
            "service",
        ))
        .unwrap();
        mac.update(sts.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn signatures_match_the_aws_sigv4_test_suite() {
        // get-vanilla and get-vanilla-query-order-key-case from AWS's published suite.
        assert_eq!(
            suite_signature("/"),
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        assert_eq!(
            suite_signature("/?Param2=value2&Param1=value1"),
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        );
    }

    fn kinesis_request(secret: &str, amz_date: &str, body: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("host", "127.0.0.1:4567".parse().unwrap());
        headers.insert("x-amz-target", "Kinesis_20131202.ListStreams".parse().unwrap());
        let at = NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ").unwrap();
        let credentials =
            Credentials { access_key_id: "AKID".into(), secret_access_key: secret.into() };
        let now_ms = Utc.from_utc_datetime(&at).timestamp_millis() as u64;
        sign(
            &credentials,
            "eu-west-1",
            &Method::POST,
            &"/".parse().unwrap(),
            &mut headers,
            body,
            now_ms,
        );
        headers
    }

    fn credentials() -> Credentials {
        Credentials { access_key_id: "AKID".into(), secret_access_key: SECRET.into() }
    }

    fn check(headers: &HeaderMap, body: &[u8], now_ms: u64) -> Result<Signed, KinesisError> {
        verify(&credentials(), &Method::POST, &"/".parse().unwrap(), headers, body, now_ms)
    }

    #[test]
    fn a_correctly_signed_request_passes_and_names_its_region() {
        let headers = kinesis_request(SECRET, "20150830T123600Z", b"{}");
        assert_eq!(check(&headers, b"{}", SUITE_MS).unwrap().region, "eu-west-1");
    }

    #[test]
    fn a_changed_body_or_secret_is_an_invalid_signature() {
        let headers = kinesis_request(SECRET, "20150830T123600Z", b"{}");
        assert!(matches!(
            check(&headers, b"{ }", SUITE_MS),
            Err(KinesisError::InvalidSignature(_))
        ));
        let headers = kinesis_request("other secret", "20150830T123600Z", b"{}");
        assert!(matches!(check(&headers, b"{}", SUITE_MS), Err(KinesisError::InvalidSignature(_))));
    }

    #[test]
    fn unsigned_unknown_key_and_malformed_requests_get_their_own_errors() {
        assert_eq!(
            check(&HeaderMap::new(), b"", SUITE_MS),
            Err(KinesisError::MissingAuthenticationToken)
        );
        let mut headers = kinesis_request(SECRET, "20150830T123600Z", b"{}");
        let other = headers["authorization"].to_str().unwrap().replace("AKID/", "SOMEONE/");
        headers.insert("authorization", other.parse().unwrap());
        assert_eq!(check(&headers, b"{}", SUITE_MS), Err(KinesisError::UnrecognizedClient));
        headers.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/x/kinesis/aws4_request".parse().unwrap(),
        );
        assert!(matches!(
            check(&headers, b"{}", SUITE_MS),
            Err(KinesisError::IncompleteSignature(_))
        ));
    }

    #[test]
    fn a_request_outside_the_clock_skew_is_refused_either_way() {
        let headers = kinesis_request(SECRET, "20150830T123600Z", b"{}");
        assert!(check(&headers, b"{}", SUITE_MS + MAX_CLOCK_SKEW_MS).is_ok());
        let Err(KinesisError::InvalidSignature(late)) =
            check(&headers, b"{}", SUITE_MS + MAX_CLOCK_SKEW_MS + 1000)
        else {
            panic!("a late request must be refused");
        };
        assert!(
            late.starts_with(
                "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z"
            ),
            "{late}"
        );
        let Err(KinesisError::InvalidSignature(early)) =
            check(&headers, b"{}", SUITE_MS - MAX_CLOCK_SKEW_MS - 1000)
        else {
            panic!("an early request must be refused");
        };
        assert!(early.starts_with("Signature not yet current"), "{early}");
    }
}
