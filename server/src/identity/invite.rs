//! Invitations: with `--registration invite`, creating a racer takes a single-use code, handed
//! out as a link `<public-url>/?invite=<code>` by `alleycat invite` or `POST /api/invites`. The
//! code is a [`random_secret`](super::random_secret); the `invites` table keeps its SHA-256 and
//! when it was used, by whom.

use alleycat_ingest::db::Database;

/// The most invitations one command or request makes.
pub const MAX_INVITES: u32 = 1000;

/// Why invitations could not be made.
#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    /// Asked for none or too many.
    #[error("ask for 1 to {MAX_INVITES} invitations, not {0}")]
    Count(u32),
    /// The database failed.
    #[error("cannot store the invitations: {0}")]
    Database(#[from] alleycat_ingest::db::DbError),
    /// The OS gave no random bytes.
    #[error("no random bytes from the OS: {0}")]
    Random(#[from] std::io::Error),
}

/// Makes `count` unused invitations at `now_ms` and returns their links on `public_url`.
pub async fn create(
    db: &Database,
    public_url: &url::Url,
    count: u32,
    now_ms: u64,
) -> Result<Vec<String>, InviteError> {
    if !(1..=MAX_INVITES).contains(&count) {
        return Err(InviteError::Count(count));
    }
    let codes = (0..count).map(|_| super::random_secret()).collect::<Result<Vec<_>, _>>()?;
    let hashes: Vec<String> = codes.iter().map(|code| super::sha256_hex(code)).collect();
    db.add_invites(&hashes, now_ms).await?;
    Ok(codes.iter().map(|code| link(public_url, code)).collect())
}

/// The link that opens the app with `code` filled in.
pub fn link(public_url: &url::Url, code: &str) -> String {
    let mut link = public_url.clone();
    link.set_path("/");
    link.set_query(Some(&format!("invite={code}")));
    link.to_string()
}
