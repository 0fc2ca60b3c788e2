//! The app's pages by URL path. The server answers every path outside `/api` with the app, so
//! a path is a page: `/` the set-up screen and the ride, `/racers/<id>` a racer's page.

/// A page of the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The set-up screen (and the ride it starts).
    Home,
    /// Racer `id`'s page: their personal bests and past races.
    Racer(u64),
    /// A path that is no page.
    Unknown,
}

impl Route {
    /// The page at `path` (a location's pathname; a trailing slash is allowed).
    pub fn parse(path: &str) -> Self {
        let path = path.strip_suffix('/').filter(|p| !p.is_empty()).unwrap_or(path);
        match path.strip_prefix("/racers/") {
            _ if path == "/" || path.is_empty() || path == "/index.html" => Self::Home,
            Some(id) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => {
                id.parse().map_or(Self::Unknown, Self::Racer)
            }
            _ => Self::Unknown,
        }
    }

    /// The path of this page.
    pub fn path(self) -> String {
        match self {
            Self::Home | Self::Unknown => "/".to_owned(),
            Self::Racer(id) => format!("/racers/{id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_pages_and_back() {
        assert_eq!(Route::parse("/"), Route::Home);
        assert_eq!(Route::parse(""), Route::Home);
        assert_eq!(Route::parse("/racers/1042"), Route::Racer(1042));
        assert_eq!(Route::parse("/racers/1000001/"), Route::Racer(1_000_001));
        assert_eq!(Route::Racer(7).path(), "/racers/7");
        assert_eq!(Route::parse(&Route::Racer(7).path()), Route::Racer(7));
    }

    #[test]
    fn anything_else_is_no_page() {
        for path in [
            "/racers/",
            "/racers/seven",
            "/racers/-1",
            "/racers/1/2",
            "/nope",
            "/racers/99999999999999999999999",
        ] {
            assert_eq!(Route::parse(path), Route::Unknown, "{path}");
        }
    }
}
