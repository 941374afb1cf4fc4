//! [`Platform`]: each contact through its channel's own API, with the endpoints and
//! tokens of the channels file — LINE (idempotent: retry keys), WhatsApp, Facebook and
//! Instagram (Messenger), web (SMTP). Batch sizes and default rates per channel: LINE 500
//! ids a request, 200 requests/s; WhatsApp 50 a batch, 80 requests/s; Messenger 50, 100/s;
//! SMTP 50, 20/s.

use super::channels::Channels;
use super::http::Http;
use super::smtp::Mailer;
use super::{line, messenger, whatsapp};
use crate::broadcast::{Delivery, Outgoing, Sink};
use crate::model::Channel;

/// Sends through the platforms' APIs.
pub struct Platform {
    channels: Channels,
    http: Http,
    mailer: Option<Result<Mailer, String>>,
}

impl Platform {
    pub fn new(channels: Channels) -> Platform {
        Platform {
            channels,
            http: Http::new(),
            mailer: None,
        }
    }

    fn missing(kind: &str, account: &str) -> Delivery {
        Delivery::Failed(format!(
            "the channels file has no [{kind}.\"{account}\"] entry (endpoint and token)"
        ))
    }
}

impl Sink for Platform {
    fn idempotent(&self, channel: Channel) -> bool {
        channel == Channel::Line
    }

    fn batch_size(&self, channel: Channel) -> usize {
        match channel {
            Channel::Line => 500,
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

    fn default_rate(&self, channel: Channel) -> Option<f64> {
        Some(match channel {
            Channel::Line => 200.0,
            Channel::Whatsapp => 80.0,
            Channel::Facebook | Channel::Instagram => 100.0,
            Channel::Web => 20.0,
        })
    }

    fn send(&mut self, batch: &Outgoing) -> Delivery {
        match batch.channel {
            Channel::Line => match self.channels.line.get(batch.account) {
                Some(account) => line::send(&self.http, account, batch),
                None => Self::missing("line", batch.account),
            },
            Channel::Whatsapp => match self.channels.whatsapp.get(batch.account) {
                Some(account) => whatsapp::send(&self.http, account, batch),
                None => Self::missing("whatsapp", batch.account),
            },
            Channel::Facebook => match self.channels.facebook.get(batch.account) {
                Some(account) => messenger::send(&self.http, account, batch),
                None => Self::missing("facebook", batch.account),
            },
            Channel::Instagram => match self.channels.instagram.get(batch.account) {
                Some(account) => messenger::send(&self.http, account, batch),
                None => Self::missing("instagram", batch.account),
            },
            Channel::Web => {
                let Some(config) = &self.channels.smtp else {
                    return Delivery::Failed("the channels file has no [smtp] section".into());
                };
                match self.mailer.get_or_insert_with(|| Mailer::new(config)) {
                    Ok(mailer) => mailer.send(batch),
                    Err(why) => Delivery::Stop {
                        done: Vec::new(),
                        why: why.clone(),
                    },
                }
            }
        }
    }
}
