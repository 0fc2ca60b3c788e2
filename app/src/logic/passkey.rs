//! What the app tells a racer about passkeys: whether this page can use them (and, if not, why
//! the passkey buttons are missing), and what went wrong in a ceremony, in plain words. The
//! browser calls themselves are in `crate::passkeys`.

/// Why this page cannot use passkeys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsupported {
    /// The page is not a secure context (plain HTTP on another machine's address).
    InsecurePage,
    /// The page's address is an IP address, which no passkey can be made for.
    IpAddress,
    /// The browser has no WebAuthn (`PublicKeyCredential`).
    NoWebAuthn,
    /// The browser has WebAuthn but not its JSON helpers (`parseCreationOptionsFromJSON`).
    OldBrowser,
}

impl Unsupported {
    /// The sentence shown where the passkey buttons would be.
    pub fn message(self) -> &'static str {
        match self {
            Self::InsecurePage => {
                "Passkeys need a secure page: open Alleycat over HTTPS (or on localhost on this \
                 computer)."
            }
            Self::IpAddress => {
                "Passkeys need the server's name, not an IP address: open Alleycat at its name \
                 (for example localhost on this computer)."
            }
            Self::NoWebAuthn => "This browser has no passkeys (WebAuthn).",
            Self::OldBrowser => {
                "This browser's passkeys are too old for Alleycat: update it (Chrome or Edge 129, \
                 Firefox 119, Safari 18 or newer)."
            }
        }
    }
}

/// What the page offers, from what it is: a secure context, served at `hostname`, in a
/// browser that has `PublicKeyCredential` and its JSON helpers.
pub fn support(
    secure_context: bool,
    hostname: &str,
    has_webauthn: bool,
    has_json_helpers: bool,
) -> Result<(), Unsupported> {
    if !has_webauthn {
        return Err(Unsupported::NoWebAuthn);
    }
    if !secure_context {
        return Err(Unsupported::InsecurePage);
    }
    if is_ip_address(hostname) {
        return Err(Unsupported::IpAddress);
    }
    if !has_json_helpers {
        return Err(Unsupported::OldBrowser);
    }
    Ok(())
}

/// Whether a URL's hostname is an IPv4 or IPv6 address rather than a name.
fn is_ip_address(hostname: &str) -> bool {
    let bare = hostname.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>().is_ok()
}

/// Which ceremony failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ceremony {
    /// Adding a passkey (`navigator.credentials.create`).
    Add,
    /// Signing in with one (`navigator.credentials.get`).
    SignIn,
}

/// The sentence for a browser's refusal, from its `DOMException` name (`NotAllowedError`, …)
/// and message.
pub fn browser_error(ceremony: Ceremony, name: &str, message: &str) -> String {
    match (name, ceremony) {
        // Also a timeout, and Chromium's answer when no authenticator is there to ask.
        ("NotAllowedError", Ceremony::Add) => {
            "No passkey was added: it was cancelled, timed out, or this device has no way to \
             keep one."
                .into()
        }
        ("NotAllowedError", Ceremony::SignIn) => {
            "Not signed in: it was cancelled, timed out, or this device has no passkey for \
             Alleycat."
                .into()
        }
        ("InvalidStateError", Ceremony::Add) => {
            "This device already keeps a passkey for your racer.".into()
        }
        ("AbortError", _) => "The passkey request was stopped.".into(),
        ("SecurityError", _) => {
            "The browser refused the passkey for this address: open Alleycat at the address \
             its server was set up with (its public URL)."
                .into()
        }
        ("NotSupportedError", _) => {
            "This device's authenticators do not support the kind of passkey Alleycat asks \
             for."
                .into()
        }
        _ if message.is_empty() => format!("The passkey request failed ({name})."),
        _ => format!("The passkey request failed: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passkeys_need_webauthn_a_secure_page_and_a_name() {
        assert_eq!(support(true, "localhost", true, true), Ok(()));
        assert_eq!(support(true, "alleycat.example", true, true), Ok(()));
        assert_eq!(support(true, "localhost", false, false), Err(Unsupported::NoWebAuthn));
        assert_eq!(support(false, "192.168.1.10", true, true), Err(Unsupported::InsecurePage));
        assert_eq!(support(true, "127.0.0.1", true, true), Err(Unsupported::IpAddress));
        assert_eq!(support(true, "[::1]", true, true), Err(Unsupported::IpAddress));
        assert_eq!(support(true, "localhost", true, false), Err(Unsupported::OldBrowser));
    }

    #[test]
    fn browser_refusals_are_worded_for_the_ceremony() {
        assert!(browser_error(Ceremony::Add, "NotAllowedError", "").starts_with("No passkey"));
        assert!(browser_error(Ceremony::SignIn, "NotAllowedError", "").starts_with("Not signed"));
        assert!(browser_error(Ceremony::Add, "InvalidStateError", "").contains("already"));
        assert_eq!(
            browser_error(Ceremony::SignIn, "UnknownError", "The device broke."),
            "The passkey request failed: The device broke."
        );
        assert_eq!(
            browser_error(Ceremony::SignIn, "UnknownError", ""),
            "The passkey request failed (UnknownError)."
        );
    }
}
