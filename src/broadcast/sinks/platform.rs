//! [`Platform`]: each contact through its channel's own API, with the endpoints and
//! tokens of the channels file — LINE (idempotent: retry keys), WhatsApp, Facebook and
//! Instagram (Messenger), web (SMTP). Batch sizes, requests and default limits per
//! account, each the platform's published one (sources in docs/platforms.md):
//!
//! | channel | batch | a request | rate (requests/s) | in flight |
//! |---|---:|---|---:|---:|
//! | LINE | 5,000 | a multicast of ≤ 500 ids of one text; one id: a push | multicast 200, push 2,000 | 64 |
//! | WhatsApp | 50 | one recipient | 80 | 32 |
//! | Facebook | 50 | one recipient | 40 | 16 |
//! | Instagram | 50 | one recipient | 300 | 64 |
//! | web (SMTP) | 50 | one email | none | 8 connections |

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

use super::channels::Channels;
use super::http::Http;
use super::smtp::{CONNECTIONS, Mailer};
use super::{line, messenger, probe, whatsapp};
use crate::broadcast::{Delivery, Outgoing, Part, Sink};
use crate::model::Channel;

/// Sends through the platforms' APIs.
pub struct Platform {
    channels: Channels,
    http: Http,
    mailer: OnceLock<Result<Mailer, String>>,
    /// What probing each endpoint found (`None`: it answers), asked once a URL.
    probes: Mutex<BTreeMap<String, Option<String>>>,
}

impl Platform {
    pub fn new(channels: Channels) -> Platform {
        Platform {
            channels,
            http: Http::new(),
            mailer: OnceLock::new(),
            probes: Mutex::default(),
        }
    }

    /// The URL an account is sent to, and where the channels file names it.
    fn endpoint(&self, channel: Channel, account: &str) -> Option<(&str, String)> {
        let c = &self.channels;
        let url = match channel {
            Channel::Line => &c.line.get(account)?.base_url,
            Channel::Whatsapp => &c.whatsapp.get(account)?.base_url,
            Channel::Facebook => &c.facebook.get(account)?.base_url,
            Channel::Instagram => &c.instagram.get(account)?.base_url,
            Channel::Web => return Some((&c.smtp.as_ref()?.url, "[smtp] url".into())),
        };
        Some((url, format!("[{channel}.\"{account}\"] base_url")))
    }

    fn missing(kind: &str, account: &str) -> Delivery {
        Delivery::Failed(format!(
            "the channels file has no [{kind}.\"{account}\"] entry (endpoint and token)"
        ))
    }

    fn mail(&self, request: &Outgoing) -> Delivery {
        let Some(config) = &self.channels.smtp else {
            return Delivery::Failed("the channels file has no [smtp] section".into());
        };
        match self.mailer.get_or_init(|| Mailer::new(config)) {
            Ok(mailer) => mailer.send(request),
            Err(why) => Delivery::Stop {
                done: Vec::new(),
                why: why.clone(),
            },
        }
    }
}

impl Sink for Platform {
    fn idempotent(&self, channel: Channel) -> bool {
        channel == Channel::Line
    }

    fn batch_size(&self, channel: Channel) -> usize {
        match channel {
            Channel::Line => 10 * line::MULTICAST,
            _ => 50,
        }
    }

    fn unreachable(&self, channel: Channel, account: &str) -> Option<String> {
        let c = &self.channels;
        let named = match channel {
            Channel::Line => c.line.contains_key(account),
            Channel::Whatsapp => c.whatsapp.contains_key(account),
            Channel::Facebook => c.facebook.contains_key(account),
            Channel::Instagram => c.instagram.contains_key(account),
            Channel::Web => return c.smtp.is_none().then(|| "[smtp] section".to_string()),
        };
        (!named).then(|| format!("[{channel}.\"{account}\"]"))
    }

    fn unanswered(&self, channel: Channel, account: &str) -> Option<String> {
        let (url, place) = self.endpoint(channel, account)?;
        let mut probes = self.probes.lock().unwrap_or_else(|e| e.into_inner());
        let why = (probes.entry(url.to_string()))
            .or_insert_with(|| probe::unanswered(url))
            .clone()?;
        Some(format!(
            "{channel} account {account}: {why} (the {place} in the channels file); start \
             the service there or correct the URL, or send elsewhere with --sink"
        ))
    }

    fn default_rate(&self, channel: Channel, endpoint: &str) -> Option<f64> {
        match (channel, endpoint) {
            (Channel::Line, line::PUSH) => Some(2_000.0),
            (Channel::Line, _) => Some(200.0),
            (Channel::Whatsapp, _) => Some(80.0),
            (Channel::Facebook, _) => Some(40.0),
            (Channel::Instagram, _) => Some(300.0),
            (Channel::Web, _) => None,
        }
    }

    fn concurrency(&self, channel: Channel) -> usize {
        match channel {
            Channel::Line | Channel::Instagram => 64,
            Channel::Whatsapp => 32,
            Channel::Facebook => 16,
            Channel::Web => CONNECTIONS,
        }
    }

    fn split(&self, batch: &Outgoing) -> Vec<Part> {
        match batch.channel {
            Channel::Line => line::split(batch),
            _ => Part::each(batch),
        }
    }

    fn send(&self, request: &Outgoing) -> Delivery {
        let c = &self.channels;
        match request.channel {
            Channel::Line => match c.line.get(request.account) {
                Some(account) => line::send(&self.http, account, request),
                None => Self::missing("line", request.account),
            },
            Channel::Whatsapp => match c.whatsapp.get(request.account) {
                Some(account) => whatsapp::send(&self.http, account, request),
                None => Self::missing("whatsapp", request.account),
            },
            Channel::Facebook => match c.facebook.get(request.account) {
                Some(account) => messenger::send(&self.http, account, request),
                None => Self::missing("facebook", request.account),
            },
            Channel::Instagram => match c.instagram.get(request.account) {
                Some(account) => messenger::send(&self.http, account, request),
                None => Self::missing("instagram", request.account),
            },
            Channel::Web => self.mail(request),
        }
    }
}
