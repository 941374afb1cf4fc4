//! [`Identity`]: how a contact is named from outside — channel, account, external id.

use std::fmt;

use crate::model::Channel;

/// A contact's identity: (channel, account, external id).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity {
    pub channel: Channel,
    pub account: String,
    pub external_id: String,
}

impl Identity {
    /// An identity from its parts.
    pub fn new(channel: Channel, account: &str, external_id: &str) -> Identity {
        Identity {
            channel,
            account: account.to_string(),
            external_id: external_id.to_string(),
        }
    }
}

/// As the change stream names a contact: `{"channel", "account", "external_id"}`.
impl serde::Serialize for Identity {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = serializer.serialize_struct("Identity", 3)?;
        out.serialize_field("channel", &self.channel.to_string())?;
        out.serialize_field("account", &self.account)?;
        out.serialize_field("external_id", &self.external_id)?;
        out.end()
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.channel, self.account, self.external_id)
    }
}
