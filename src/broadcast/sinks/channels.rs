//! The channels file (`--channels FILE`, default `DATA/channels.toml`): each account's
//! endpoint and credentials, per broadcast.md.
//!
//! ```toml
//! [line."line-tw"]
//! token = "…"                           # channel access token
//! base_url = "http://127.0.0.1:8080"    # default https://api.line.me
//!
//! [whatsapp."+886223456789"]
//! token = "…"
//! phone_number_id = "106540352242922"
//! template = "spring_sale"              # {{…}} placeholders of the text fill its body parameters
//! language = "zh_TW"                    # default en_US
//!
//! [facebook."fb-shop-tw"]               # [instagram."…"] likewise
//! token = "…"
//!
//! [smtp]
//! url = "smtp://127.0.0.1:2525"
//! from = "shop@example.com"
//! subject = "News from the shop"        # default: the text's first line
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::Error;

/// Graph API version used for WhatsApp, Facebook and Instagram when none is given.
pub const GRAPH_VERSION: &str = "v23.0";

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channels {
    #[serde(default)]
    pub line: BTreeMap<String, LineAccount>,
    #[serde(default)]
    pub whatsapp: BTreeMap<String, WhatsappAccount>,
    #[serde(default)]
    pub facebook: BTreeMap<String, GraphAccount>,
    #[serde(default)]
    pub instagram: BTreeMap<String, GraphAccount>,
    pub smtp: Option<Smtp>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineAccount {
    pub token: String,
    #[serde(default = "line_base")]
    pub base_url: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsappAccount {
    pub token: String,
    pub phone_number_id: String,
    pub template: String,
    #[serde(default = "english")]
    pub language: String,
    #[serde(default = "graph_base")]
    pub base_url: String,
    #[serde(default = "graph_version")]
    pub version: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphAccount {
    pub token: String,
    #[serde(default = "graph_base")]
    pub base_url: String,
    #[serde(default = "graph_version")]
    pub version: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    pub url: String,
    pub from: String,
    pub subject: Option<String>,
}

fn line_base() -> String {
    "https://api.line.me".into()
}

fn graph_base() -> String {
    "https://graph.facebook.com".into()
}

fn graph_version() -> String {
    GRAPH_VERSION.into()
}

fn english() -> String {
    "en_US".into()
}

impl Channels {
    /// Reads a channels file; a missing file is an empty one when `optional`.
    pub fn read(path: &Path, optional: bool) -> Result<Channels, Error> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let channels: Channels =
                    toml::from_str(&text).map_err(|e| malformed(path, &text, &e))?;
                channels.check_urls(path)?;
                Ok(channels)
            }
            Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Channels::default())
            }
            Err(e) => Err(Error::io(
                format!("cannot read the channels file {}", path.display()),
                e,
            )),
        }
    }
}

impl Channels {
    /// Refuses a `base_url` that is not an http(s) URL with a host, naming the account:
    /// found here, before a job starts, not after it has retried every request.
    fn check_urls(&self, path: &Path) -> Result<(), Error> {
        let urls = (self.line.iter().map(|(a, l)| ("line", a, &l.base_url)))
            .chain(
                self.whatsapp
                    .iter()
                    .map(|(a, w)| ("whatsapp", a, &w.base_url)),
            )
            .chain(
                self.facebook
                    .iter()
                    .map(|(a, g)| ("facebook", a, &g.base_url)),
            )
            .chain(
                self.instagram
                    .iter()
                    .map(|(a, g)| ("instagram", a, &g.base_url)),
            );
        for (kind, account, url) in urls {
            if let Err(why) = check_base_url(url) {
                return Err(Error::Usage(format!(
                    "the channels file {}: [{kind}.\"{account}\"] base_url {why}: write it as \
                     http:// or https:// and a host, e.g. https://api.line.me",
                    path.display()
                )));
            }
        }
        Ok(())
    }
}

/// Why `url` cannot be a sink's base URL (the URL itself is not repeated: it may hold a
/// credential).
fn check_base_url(url: &str) -> Result<(), String> {
    let uri = ureq::http::Uri::try_from(url).map_err(|_| "is not a URL with a host".to_string())?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(host)) if !host.is_empty() => Ok(()),
        (Some(scheme @ ("http" | "https")), _) => {
            Err(format!("is not a URL with a host after {scheme}://"))
        }
        (Some(scheme), _) => Err(format!(
            "has the scheme {scheme}://, which reach does not send to"
        )),
        (None, _) => Err("is not a URL (no http:// or https://)".into()),
    }
}

/// A malformed channels file's error: where, and what is wrong, never the text there (it
/// may hold a token): the parser's own message would quote the line, and a value.
fn malformed(path: &Path, text: &str, e: &toml::de::Error) -> Error {
    let place = e.span().map_or(String::new(), |span| {
        let before = text.get(..span.start).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!(", line {line}, column {column}")
    });
    Error::Usage(format!(
        "the channels file {}{place} is malformed: {} (values are not shown: they may be secrets)",
        path.display(),
        without_quoted(e.message())
    ))
}

/// `text` with whatever stands between a pair of double quotes replaced by `…` (a lone
/// quote, as in "expected `\"`", stays).
fn without_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('"') {
        let Some(close) = rest[open + 1..].find('"') else {
            break;
        };
        out.push_str(&rest[..=open]);
        out.push_str("…\"");
        rest = &rest[open + close + 2..];
    }
    out.push_str(rest);
    out
}

/// Trims one trailing slash, so that `base_url` joins with paths.
pub fn join(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::{check_base_url, without_quoted};

    #[test]
    fn base_urls_are_http_urls_with_a_host() {
        for good in [
            "https://api.line.me",
            "http://127.0.0.1:8080/",
            "http://[::1]:9/x",
        ] {
            assert_eq!(check_base_url(good), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("not a url", "is not a URL"),
            ("ftp://files.example.com", "scheme ftp://"),
            ("api.line.me", "no http:// or https://"),
            ("", "is not a URL"),
            ("http://", "is not a URL with a host"),
        ] {
            let refused = check_base_url(bad).unwrap_err();
            assert!(refused.contains(why), "{bad}: {refused}");
        }
    }

    #[test]
    fn quoted_values_are_hidden_and_lone_quotes_kept() {
        assert_eq!(
            without_quoted("invalid type: string \"SECRET\", expected a map"),
            "invalid type: string \"…\", expected a map"
        );
        assert_eq!(without_quoted("expected `\"`"), "expected `\"`");
        assert_eq!(without_quoted("a \"x\" b \"y\" c"), "a \"…\" b \"…\" c");
    }
}
