//! Who may call the server: bearer tokens (`--auth-token-file`) on every route but health, and
//! CORS (`--cors-origin`) so that pages on other origins may call it from a browser.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use tower_http::cors::{AllowOrigin, CorsLayer};

use emnist_data::setting::Setting;

use super::{ApiError, Shared};

/// The bearer tokens a server accepts, kept only as SHA-256 digests.
#[derive(Clone)]
pub struct Tokens {
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens({} accepted, not shown)", self.digests.len())
    }
}

fn digest(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

impl Tokens {
    /// Tokens from a file: one per line; blank lines and lines starting with `#` are skipped.
    pub fn read(path: &Path) -> Result<Tokens> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the token file `{}`", path.display()))?;
        Tokens::parse(&text).with_context(|| format!("in the token file `{}`", path.display()))
    }

    /// Tokens from the text of a token file.
    pub fn parse(text: &str) -> Result<Tokens> {
        let mut digests = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            if t.len() < 16 || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
                bail!("line {} is not a token: use at least 16 characters without spaces", i + 1);
            }
            digests.push(digest(t.as_bytes()));
        }
        if digests.is_empty() {
            bail!("it holds no token: write one per line (e.g. `openssl rand -hex 32`)");
        }
        Ok(Tokens { digests })
    }

    /// Whether `token` is one of them. Every accepted token is compared, in constant time per
    /// token, whichever matches: the time taken says nothing about the tokens.
    pub fn accepts(&self, token: &str) -> bool {
        let d = digest(token.as_bytes());
        let mut ok = 0u8;
        for t in &self.digests {
            let diff = t.iter().zip(&d).fold(0u8, |acc, (a, b)| acc | (a ^ b));
            ok |= u8::from(diff == 0);
        }
        std::hint::black_box(ok) == 1
    }

    /// Whether an `Authorization` header value carries an accepted bearer token. The scheme is
    /// case-insensitive (RFC 7235 §2.1: `Bearer`, `bearer`, `BEARER`), followed by one or more
    /// spaces and the token.
    pub fn authorizes(&self, authorization: Option<&[u8]>) -> Authorization {
        let Some(value) = authorization else { return Authorization::Missing };
        let Ok(value) = std::str::from_utf8(value) else { return Authorization::Invalid };
        let token = value
            .trim_start()
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token);
        match token {
            Some(t) if self.accepts(t.trim()) => Authorization::Granted,
            _ => Authorization::Invalid,
        }
    }
}

/// What an `Authorization` header amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authorization {
    Granted,
    Missing,
    Invalid,
}

impl Authorization {
    /// The message a refused caller reads.
    pub fn message(self) -> &'static str {
        match self {
            Authorization::Missing => "this server needs a token: send `Authorization: Bearer <token>`",
            _ => "the bearer token is not one this server accepts",
        }
    }
}

/// What answers without a token: health (probes carry none), the API description and the page
/// itself (static; what it calls needs the token).
pub fn exempt(method: &Method, path: &str) -> bool {
    matches!(path, "/v2/health/live" | "/v2/health/ready" | "/openapi.json") || (method == Method::GET && path == "/")
}

/// Refuses requests without an accepted bearer token with 401 and `WWW-Authenticate`.
pub async fn authorize(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let Some(tokens) = &state.tokens else { return next.run(req).await };
    if exempt(req.method(), req.uri().path()) {
        return next.run(req).await;
    }
    let verdict = tokens.authorizes(req.headers().get(header::AUTHORIZATION).map(HeaderValue::as_bytes));
    if verdict == Authorization::Granted {
        return next.run(req).await;
    }
    let challenge = match verdict {
        Authorization::Missing => r#"Bearer realm="emnist""#,
        _ => r#"Bearer realm="emnist", error="invalid_token""#,
    };
    let mut r =
        ApiError { status: axum::http::StatusCode::UNAUTHORIZED, message: verdict.message().into() }.into_response();
    r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    r
}

/// Checks `--cors-origin` values: `*`, or origins such as `https://app.example.com:8443`.
pub fn check_origins(origins: &[String]) -> Result<()> {
    for o in origins {
        if o == "*" {
            continue;
        }
        let rest = o.strip_prefix("https://").or_else(|| o.strip_prefix("http://"));
        let ok = rest.is_some_and(|r| !r.is_empty() && !r.contains('/') && !r.contains(char::is_whitespace));
        if !ok || HeaderValue::from_str(o).is_err() {
            bail!(
                "{} is not an origin: give `*` or scheme://host[:port], e.g. `http://localhost:8080`",
                Setting::CorsOrigin.given(o)
            );
        }
    }
    Ok(())
}

/// The CORS layer for `origins` (checked by [`check_origins`]); none: no CORS headers at all.
/// Preflights are answered here, before the token check (browsers send no credentials on them).
pub fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    let length = HeaderName::from_static(crate::protocol::kserve::HEADER_LENGTH);
    let id = super::request_id::HEADER;
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION, length.clone(), id.clone()])
            .expose_headers([length, header::RETRY_AFTER, header::WWW_AUTHENTICATE, id])
            .max_age(Duration::from_secs(600)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_read_one_per_line_and_compared_whole() {
        let t = Tokens::parse("# ops team\n0123456789abcdef0123\n\n  fedcba9876543210fedc  \n").unwrap();
        assert!(t.accepts("0123456789abcdef0123") && t.accepts("fedcba9876543210fedc"));
        assert!(!t.accepts("0123456789abcdef012") && !t.accepts("") && !t.accepts("0123456789abcdef01234"));
        assert_eq!(t.authorizes(Some(b"Bearer fedcba9876543210fedc")), Authorization::Granted);
        for scheme in ["bearer", "BEARER", "BeArEr"] {
            let value = format!("{scheme} fedcba9876543210fedc");
            assert_eq!(t.authorizes(Some(value.as_bytes())), Authorization::Granted, "{scheme}");
        }
        assert_eq!(t.authorizes(Some(b"Bearer   fedcba9876543210fedc")), Authorization::Granted);
        assert_eq!(t.authorizes(Some(b"Bearerfedcba9876543210fedc")), Authorization::Invalid);
        assert_eq!(t.authorizes(Some(b"Bear fedcba9876543210fedc")), Authorization::Invalid);
        assert_eq!(t.authorizes(Some(b"Basic fedcba9876543210fedc")), Authorization::Invalid);
        assert_eq!(t.authorizes(Some(b"Bearer nope")), Authorization::Invalid);
        assert_eq!(t.authorizes(Some(b"\xff\xfe")), Authorization::Invalid);
        assert_eq!(t.authorizes(None), Authorization::Missing);
        assert!(!format!("{t:?}").contains("0123"), "Debug never shows a token");
    }

    #[test]
    fn bad_token_files_are_refused() {
        assert!(Tokens::parse("").unwrap_err().to_string().contains("no token"));
        assert!(Tokens::parse("# only a comment\n").is_err());
        assert!(Tokens::parse("short\n").unwrap_err().to_string().contains("line 1"));
        assert!(Tokens::parse("0123456789abcdef 0123\n").is_err());
    }

    #[test]
    fn origins_are_checked() {
        assert!(check_origins(&["*".into(), "http://localhost:8080".into(), "https://app.example.com".into()]).is_ok());
        for bad in ["localhost:8080", "http://", "http://a.b/path", "ftp://x", "http://a b"] {
            assert!(check_origins(&[bad.to_string()]).is_err(), "{bad}");
        }
    }
}
