//! What the app tells a racer about passkeys and devices: whether this page can use passkeys
//! (and, if not, why the passkey buttons are missing), what went wrong in a ceremony, in plain
//! words, and which browser a device is. The browser calls themselves are in `crate::passkeys`.

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

/// A device's name for people, from the user agent the server labels it with:
/// "Chrome 156 on Linux". A label that is not a user agent is kept as it is.
pub fn device_name(label: &str) -> String {
    if !label.starts_with("Mozilla/") {
        return label.to_owned();
    }
    // Order matters: Edge and Opera say Chrome too, Chrome says Safari.
    const BROWSERS: [(&str, &str); 8] = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("FxiOS/", "Firefox"),
        ("HeadlessChrome/", "Chrome"),
        ("CriOS/", "Chrome"),
        ("Chrome/", "Chrome"),
        ("Version/", "Safari"),
    ];
    const SYSTEMS: [(&str, &str); 7] = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("CrOS", "ChromeOS"),
        ("Mac OS X", "macOS"),
        ("Windows", "Windows"),
        ("Linux", "Linux"),
    ];
    let browser = BROWSERS.iter().find_map(|(token, name)| {
        let rest = &label[label.find(token)? + token.len()..];
        let major: String = rest.chars().take_while(char::is_ascii_digit).collect();
        Some(if major.is_empty() { (*name).to_owned() } else { format!("{name} {major}") })
    });
    let system = SYSTEMS.iter().find(|(token, _)| label.contains(token)).map(|(_, name)| *name);
    match (browser, system) {
        (Some(browser), Some(system)) => format!("{browser} on {system}"),
        (Some(browser), None) => browser,
        (None, Some(system)) => format!("A browser on {system}"),
        (None, None) => "A browser".to_owned(),
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

    #[test]
    fn devices_are_named_by_browser_and_system() {
        let chromium = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                        HeadlessChrome/156.0.0.0 Safari/537.36";
        assert_eq!(device_name(chromium), "Chrome 156 on Linux");
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like \
                    Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0";
        assert_eq!(device_name(edge), "Edge 131 on Windows");
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 \
                      (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";
        assert_eq!(device_name(iphone), "Safari 18 on iPhone");
        let firefox = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:133.0) Gecko/20100101 \
                       Firefox/133.0";
        assert_eq!(device_name(firefox), "Firefox 133 on macOS");
        assert_eq!(device_name("Mozilla/5.0 (compatible)"), "A browser");
        assert_eq!(device_name("curl/8.5.0"), "curl/8.5.0");
    }
}
